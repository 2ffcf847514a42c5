"""read_metadata: generator text and XMP digital source types inside PNG, JPEG, WebP and TIFF."""

from __future__ import annotations

import builtins
import json
import os
import random
import struct
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from provenance.detect import Signal, credentials_unreadable, metadata_unread
from provenance.detect.metadata import EXTENSIONS, MAX_PAYLOAD_BYTES, read_metadata
from provenance.origins import Evidence, Origin

AI = Origin.TRAINED_ALGORITHMIC_MEDIA

A1111_PARAMETERS = (
    "matte painting of a castle on a sea cliff, volumetric light, café sign\n"
    "Negative prompt: blurry, lowres\n"
    "Steps: 28, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 6.5, Seed: 1234567890, "
    'Size: 1024x576, Model hash: 31e35c80fc, Model: sd_xl_base_1.0, Lora hashes: "grain: a1b2, '
    'detail: c3d4", Version: v1.10.1'
)
FORGE_VERSION = "f2.0.1v1.10.1-previous-313-g8a042934"

COMFY_PROMPT = {
    "3": {
        "class_type": "KSampler",
        "inputs": {
            "seed": 42,
            "steps": 20,
            "cfg": 8,
            "sampler_name": "euler",
            "scheduler": "normal",
            "denoise": 1,
            "model": ["4", 0],
            "positive": ["6", 0],
            "negative": ["7", 0],
            "latent_image": ["5", 0],
        },
    },
    "4": {
        "class_type": "CheckpointLoaderSimple",
        "inputs": {"ckpt_name": "dreamshaper_8.safetensors"},
    },
    "5": {
        "class_type": "EmptyLatentImage",
        "inputs": {"width": 512, "height": 512, "batch_size": 1},
    },
    "6": {
        "class_type": "CLIPTextEncode",
        "inputs": {"text": "a foggy harbour at dawn", "clip": ["4", 1]},
    },
    "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "watermark", "clip": ["4", 1]}},
    "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
    "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "ComfyUI", "images": ["8", 0]}},
}
COMFY_WORKFLOW = {
    "last_node_id": 9,
    "last_link_id": 9,
    "nodes": [
        {"id": 4, "type": "CheckpointLoaderSimple", "widgets_values": ["flux1-dev.safetensors"]},
        {"id": 3, "type": "KSampler", "widgets_values": [42, "fixed", 20, 8, "euler", "normal", 1]},
        {"id": 9, "type": "SaveImage", "widgets_values": ["ComfyUI"]},
    ],
    "links": [[1, 4, 0, 3, 0, "MODEL"]],
    "version": 0.4,
}

MIDJOURNEY_DESCRIPTION = (
    "lighthouse in a storm --ar 16:9 --v 6.1 Job ID: a7421d2f-b262-44f9-977c-ac23e9c7d3e3"
)

IPTC = "cv.iptc.org/newscodes/digitalsourcetype/"


# --- builders -------------------------------------------------------------------------------


def _picture(size: tuple[int, int] = (32, 16)) -> Image.Image:
    return Image.frombytes("RGB", size, random.Random(7).randbytes(size[0] * size[1] * 3))


def write_png(path: Path, text: dict[str, str] | None = None, **itxt: str) -> Path:
    """A PNG with tEXt chunks (`text`) and compressed iTXt chunks (`itxt`), made by Pillow."""
    info = PngInfo()
    for key, value in (text or {}).items():
        info.add_text(key, value)
    for key, value in itxt.items():
        info.add_itxt(key, value, zip=True)
    _picture().save(path, format="PNG", pnginfo=info)
    return path


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def add_before_iend(path: Path, *chunks: bytes) -> Path:
    """Append chunks after the image data, where some tools write their text."""
    data = path.read_bytes()
    iend = data.rindex(b"IEND") - 4
    path.write_bytes(data[:iend] + b"".join(chunks) + data[iend:])
    return path


def user_comment_exif(comment: bytes, endian: str = "<") -> Image.Exif:
    exif = Image.Exif()
    exif.endian = endian
    exif[0x8769] = {0x9286: comment}
    return exif


def xmp_packet(value: str, form: str = "attribute", tool: str | None = None) -> bytes:
    """An XMP packet declaring `value` as Iptc4xmpExt:DigitalSourceType in one of its RDF forms."""
    creator = f' xmp:CreatorTool="{tool}"' if tool else ""
    if form == "attribute":
        body = f'<rdf:Description rdf:about=""{creator} Iptc4xmpExt:DigitalSourceType="{value}"/>'
    elif form == "element":
        body = (
            f'<rdf:Description rdf:about=""{creator}>'
            f"<Iptc4xmpExt:DigitalSourceType>{value}</Iptc4xmpExt:DigitalSourceType>"
            "</rdf:Description>"
        )
    else:
        body = (
            f'<rdf:Description rdf:about=""{creator}>'
            f'<Iptc4xmpExt:DigitalSourceType rdf:resource="{value}"/></rdf:Description>'
        )
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"'
        ' xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"'
        ' xmlns:xmp="http://ns.adobe.com/xap/1.0/">'
        f"{body}</rdf:RDF></x:xmpmeta>"
        '<?xpacket end="w"?>'
    ).encode()


def save_with_xmp(path: Path, packet: bytes) -> Path:
    """Embed an XMP packet the way each container carries it."""
    suffix = path.suffix.lower()
    if suffix == ".png":
        info = PngInfo()
        info.add_itxt("XML:com.adobe.xmp", packet.decode())
        _picture().save(path, pnginfo=info)
    elif suffix in (".jpg", ".webp"):
        _picture().save(path, xmp=packet)  # JPEG APP1, WebP "XMP " chunk
    else:
        _picture().save(path, tiffinfo={700: packet})
    return path


BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{i} "{(f"&lol{i - 1};" if i > 1 else "&lol;") * 10}">' for i in range(1, 10)
    )
    + ']><x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF'
    ' xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"'
    ' xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/">'
    '<rdf:Description Iptc4xmpExt:DigitalSourceType="&lol9;"/></rdf:RDF></x:xmpmeta>'
).encode()


def only(signals: list[Signal], source: str) -> Signal:
    """The one signal, checked for what every signal must be."""
    assert [s.source for s in signals] == [source], signals
    signal = signals[0]
    assert signal.evidence is Evidence.EMBEDDED
    assert signal.summary
    json.dumps(signal.detail)
    return signal


# --- AUTOMATIC1111 and its forks ---------------------------------------------------------------


def test_a1111_png_parameters(tmp_path: Path) -> None:
    signal = only(
        read_metadata(str(write_png(tmp_path / "a.png", {"parameters": A1111_PARAMETERS}))), "a1111"
    )
    assert signal.origin is AI
    assert signal.tool == "AUTOMATIC1111"
    assert signal.detail == {
        "model": "sd_xl_base_1.0",
        "model_hash": "31e35c80fc",
        "sampler": "DPM++ 2M",
        "steps": 28,
        "seed": 1234567890,
        "version": "v1.10.1",
        "prompt": "matte painting of a castle on a sea cliff, volumetric light, café sign",
        "carrier": "png-text",
    }


def test_forge_is_told_apart_by_its_version(tmp_path: Path) -> None:
    text = A1111_PARAMETERS.replace("Version: v1.10.1", f"Version: {FORGE_VERSION}")
    signal = only(read_metadata(write_png(tmp_path / "f.png", {"parameters": text})), "forge")
    assert (signal.tool, signal.origin, signal.detail["version"]) == ("Forge", AI, FORGE_VERSION)


def test_fooocus_in_a1111_scheme(tmp_path: Path) -> None:
    text = A1111_PARAMETERS.replace("Version: v1.10.1", "Version: Fooocus v2.5.5")
    path = write_png(tmp_path / "f.png", {"parameters": text, "fooocus_scheme": "a1111"})
    signal = only(read_metadata(path), "fooocus")
    assert (signal.tool, signal.origin) == ("Fooocus", AI)
    assert signal.detail["model"] == "sd_xl_base_1.0"


FOOOCUS_JSON = {
    "prompt": "a red fox in snow",
    "negative_prompt": "",
    "base_model": "juggernautXL_v8Rundiffusion",
    "base_model_hash": "aeb7e9e689",
    "sampler": "dpmpp_2m_sde_gpu",
    "steps": 30,
    "seed": "12345",
    "version": "Fooocus v2.5.5",
}


def test_fooocus_in_its_own_json_scheme(tmp_path: Path) -> None:
    path = write_png(
        tmp_path / "f.png", {"parameters": json.dumps(FOOOCUS_JSON), "fooocus_scheme": "fooocus"}
    )
    signal = only(read_metadata(path), "fooocus")
    assert signal.tool == "Fooocus"
    assert signal.detail["model"] == "juggernautXL_v8Rundiffusion"
    assert (signal.detail["steps"], signal.detail["seed"]) == (30, 12345)
    assert signal.detail["prompt"] == "a red fox in snow"


def test_prompt_excerpt_is_short(tmp_path: Path) -> None:
    text = "word " * 500 + "\nSteps: 20, Sampler: Euler a, Seed: 1, Model: m"
    signal = only(read_metadata(write_png(tmp_path / "long.png", {"parameters": text})), "a1111")
    assert len(signal.detail["prompt"]) <= 200


def test_compressed_and_after_idat_text_chunks_are_read(tmp_path: Path) -> None:
    itxt = write_png(tmp_path / "itxt.png", parameters=A1111_PARAMETERS)
    assert only(read_metadata(itxt), "a1111").detail["seed"] == 1234567890

    ztxt = add_before_iend(
        write_png(tmp_path / "late.png"),
        png_chunk(
            b"zTXt",
            b"parameters\x00\x00" + zlib.compress(A1111_PARAMETERS.encode("latin-1", "replace")),
        ),
    )
    assert only(read_metadata(ztxt), "a1111").detail["model"] == "sd_xl_base_1.0"


# --- ComfyUI -----------------------------------------------------------------------------------


def test_comfyui_prompt_and_workflow(tmp_path: Path) -> None:
    path = write_png(
        tmp_path / "c.png",
        {"prompt": json.dumps(COMFY_PROMPT), "workflow": json.dumps(COMFY_WORKFLOW)},
    )
    signal = only(read_metadata(path), "comfyui")
    assert (signal.tool, signal.origin) == ("ComfyUI", AI)
    assert signal.detail == {
        "graphs": ["prompt", "workflow"],
        "node_count": 7,
        "checkpoints": ["dreamshaper_8.safetensors", "flux1-dev.safetensors"],
        "sampler": "euler",
        "steps": 20,
        "seed": 42,
        "prompt": "a foggy harbour at dawn",
        "carrier": "png-text",
    }


def test_a_comfyui_workflow_without_its_prompt_graph_is_its_own_inferred_signal(
    tmp_path: Path,
) -> None:
    # A screenshot of the node editor exported with its workflow is not a generated image:
    # the signal is inferred, and says a TD settles it.
    (signal,) = read_metadata(
        write_png(tmp_path / "w.png", {"workflow": json.dumps(COMFY_WORKFLOW)})
    )
    assert (signal.source, signal.evidence, signal.origin) == (
        "comfyui-workflow",
        Evidence.INFERRED,
        AI,
    )
    assert signal.detail["node_count"] == 3
    assert signal.detail["checkpoints"] == ["flux1-dev.safetensors"]
    assert "without the prompt graph" in signal.summary and "a TD settles" in signal.summary


def test_a1111_parameters_beside_a_comfyui_graph_are_both_reported(tmp_path: Path) -> None:
    path = write_png(
        tmp_path / "saver.png",
        {"parameters": A1111_PARAMETERS, "prompt": json.dumps(COMFY_PROMPT)},
    )
    comfyui, a1111 = read_metadata(path)
    assert (comfyui.source, a1111.source) == ("comfyui", "a1111")
    assert comfyui.detail["a1111_parameters"] is True
    assert a1111.detail["seed"] == 1234567890


def test_comfyui_webp_exif(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x010F] = "Prompt:" + json.dumps(COMFY_PROMPT)
    exif[0x010E] = "Workflow:" + json.dumps(COMFY_WORKFLOW)
    path = tmp_path / "c.webp"
    _picture().save(path, exif=exif)
    signal = only(read_metadata(path), "comfyui")
    assert signal.detail["carrier"] == "exif"
    assert signal.detail["graphs"] == ["prompt", "workflow"]


@pytest.mark.parametrize(
    "text",
    [
        {"prompt": "a cat on a windowsill"},
        {"prompt": '{"text": "a cat"}'},
        {"prompt": '{"3": {"inputs": {}}}'},
        {"prompt": "[1, 2, 3]"},
        {"workflow": '{"nodes": []}'},
        {"workflow": '{"nodes": [{"name": "x"}]}'},
        {"prompt": '{"3": {"class_type": "KSampler", "inputs": {}'},
    ],
    ids=[
        "plain",
        "json-object",
        "no-class-type",
        "json-list",
        "empty-workflow",
        "not-nodes",
        "truncated-json",
    ],
)
def test_prompt_chunk_that_is_not_a_comfyui_graph_says_nothing(
    tmp_path: Path, text: dict[str, str]
) -> None:
    assert read_metadata(write_png(tmp_path / "p.png", text)) == []


# --- InvokeAI, NovelAI, Midjourney -------------------------------------------------------------

INVOKEAI_METADATA = {
    "generation_mode": "txt2img",
    "positive_prompt": "a brutalist library",
    "seed": 77,
    "steps": 30,
    "scheduler": "euler",
    "model": {"name": "Juggernaut XL v9", "base": "sdxl", "type": "main"},
    "app_version": "5.6.0",
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            {
                "invokeai_metadata": json.dumps(INVOKEAI_METADATA),
                "invokeai_graph": json.dumps({"id": "g", "nodes": {"a": {}, "b": {}}, "edges": []}),
            },
            {"model": "Juggernaut XL v9", "seed": 77, "version": "5.6.0", "node_count": 2},
        ),
        (
            {"invokeai_graph": json.dumps({"id": "g", "nodes": {"a": {}}, "edges": []})},
            {"node_count": 1},
        ),
        (
            {
                "sd-metadata": json.dumps(
                    {
                        "model": "stable diffusion",
                        "model_weights": "stable-diffusion-1.5",
                        "model_hash": "cc6cb27103",
                        "app_id": "invoke-ai/InvokeAI",
                        "app_version": "2.2.4",
                        "image": {
                            "prompt": [{"prompt": "banana sushi", "weight": 1.0}],
                            "steps": 50,
                            "seed": 42,
                            "sampler": "k_lms",
                        },
                    }
                )
            },
            {"model": "stable-diffusion-1.5", "prompt": "banana sushi", "seed": 42},
        ),
        (
            {"Dream": '"banana sushi" -s 50 -S 3357757885 -W 512 -H 512 -C 7.5 -A k_lms'},
            {"prompt": "banana sushi", "seed": 3357757885},
        ),
    ],
    ids=["metadata-and-graph", "graph", "sd-metadata", "dream"],
)
def test_invokeai(tmp_path: Path, text: dict[str, str], expected: dict[str, Any]) -> None:
    signal = only(read_metadata(write_png(tmp_path / "i.png", text)), "invokeai")
    assert (signal.tool, signal.origin) == ("InvokeAI", AI)
    assert {key: signal.detail.get(key) for key in expected} == expected


def test_novelai(tmp_path: Path) -> None:
    comment = {
        "prompt": "1girl, library",
        "steps": 28,
        "seed": 2210,
        "sampler": "k_euler_ancestral",
        "scale": 5,
    }
    path = write_png(
        tmp_path / "n.png",
        {
            "Title": "NovelAI generated image",
            "Description": "1girl, library",
            "Software": "NovelAI",
            "Source": "NovelAI Diffusion V4.5 4BDE2A90",
            "Generation time": "4.52",
            "Comment": json.dumps(comment),
        },
    )
    signal = only(read_metadata(path), "novelai")
    assert (signal.tool, signal.origin) == ("NovelAI", AI)
    assert signal.detail["model"] == "NovelAI Diffusion V4.5 4BDE2A90"
    assert (signal.detail["seed"], signal.detail["steps"]) == (2210, 28)
    assert signal.detail["generation_time"] == "4.52"


def test_midjourney_with_xmp(tmp_path: Path) -> None:
    info = PngInfo()
    info.add_text("Description", MIDJOURNEY_DESCRIPTION)
    info.add_text("Author", "peterkaminski")
    info.add_itxt("XML:com.adobe.xmp", xmp_packet(f"http://{IPTC}trainedAlgorithmicMedia").decode())
    path = tmp_path / "mj.png"
    _picture().save(path, pnginfo=info)
    xmp, midjourney = read_metadata(path)
    assert (xmp.source, xmp.origin) == ("xmp", AI)
    assert (midjourney.source, midjourney.tool, midjourney.origin) == (
        "midjourney",
        "Midjourney",
        AI,
    )
    assert midjourney.detail == {
        "job_id": "a7421d2f-b262-44f9-977c-ac23e9c7d3e3",
        "author": "peterkaminski",
        "prompt": "lighthouse in a storm --ar 16:9 --v 6.1",
        "carrier": "png-text",
    }


@pytest.mark.parametrize(
    "text",
    [
        {
            "Software": "GIMP 2.10.36",
            "Comment": "Created with GIMP",
            "Description": "plate cleanup",
        },
        {"Software": "GIMP", "Title": "sh010 roto", "Author": "comp"},
        {"Description": "Render of sh020 Job ID: 4711, farm node 12", "Author": "deadline"},
        {"Description": "A castle matte painting for sh030"},
        {"Software": "Adobe Photoshop 25.0", "parameters": "exposure 1.5, gamma 2.2"},
        {"parameters": "Steps: many, Sampler: none"},
        {"parameters": "Steps: 3, Exposure: 1.5, Gamma: 2.2"},
        {"Dream": "a good night's sleep"},
        {"sd-metadata": '{"camera": "ARRI"}'},
    ],
    ids=[
        "gimp",
        "gimp-plain",
        "render-farm-job",
        "description",
        "photoshop",
        "not-a1111",
        "steps-only",
        "dream-word",
        "sd-metadata-other",
    ],
)
def test_ordinary_text_says_nothing(tmp_path: Path, text: dict[str, str]) -> None:
    assert read_metadata(write_png(tmp_path / "plain.png", text)) == []


# --- EXIF UserComment ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("comment", "endian"),
    [
        (b"ASCII\x00\x00\x00" + A1111_PARAMETERS.encode(), "<"),
        (b"UNICODE\x00" + A1111_PARAMETERS.encode("utf-16-le"), "<"),
        (b"UNICODE\x00" + A1111_PARAMETERS.encode("utf-16-be"), ">"),
        # piexif writes UTF-16BE whatever the block's byte order: the bytes decide.
        (b"UNICODE\x00" + A1111_PARAMETERS.encode("utf-16-be"), "<"),
        (b"UNICODE\x00" + A1111_PARAMETERS.encode("utf-16-le"), ">"),
        (b"UNICODE\x00" + A1111_PARAMETERS.encode("utf-16"), ">"),
        (b"\x00" * 8 + A1111_PARAMETERS.encode(), "<"),
        (A1111_PARAMETERS.encode(), ">"),
    ],
    ids=[
        "ascii",
        "unicode-le",
        "unicode-be",
        "unicode-be-in-ii",
        "unicode-le-in-mm",
        "unicode-bom",
        "undefined",
        "no-prefix",
    ],
)
@pytest.mark.parametrize("suffix", [".jpg", ".webp"])
def test_a1111_exif_user_comment(tmp_path: Path, comment: bytes, endian: str, suffix: str) -> None:
    path = tmp_path / f"a{suffix}"
    _picture().save(path, exif=user_comment_exif(comment, endian))
    signal = only(read_metadata(path), "a1111")
    assert signal.detail["carrier"] == "exif"
    assert signal.detail["seed"] == 1234567890
    assert signal.detail["prompt"].endswith("café sign")


def test_fooocus_exif_in_ifd0(tmp_path: Path) -> None:
    """Fooocus sets UserComment, Software and MakerNote on the first IFD through Pillow."""
    exif = Image.Exif()
    text = A1111_PARAMETERS.replace("café", "cafe").replace(
        "Version: v1.10.1", "Version: Fooocus v2.5.5"
    )
    exif[0x9286] = text
    exif[0x0131] = "Fooocus v2.5.5"
    exif[0x927C] = "a1111"
    path = tmp_path / "f.jpg"
    _picture().save(path, exif=exif)
    signal = only(read_metadata(path), "fooocus")
    assert (signal.tool, signal.detail["carrier"]) == ("Fooocus", "exif")


def test_camera_exif_says_nothing(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x010F] = "ARRI"
    exif[0x0110] = "ALEXA 35"
    exif[0x0131] = "ARRIRAW Converter"
    exif[0x010E] = "A001C003_230101_R1AB"
    exif[0x8769] = {0x9286: b"ASCII\x00\x00\x00Take 3, circled", 0x927C: b"\x01\x02" * 400}
    path = tmp_path / "still.jpg"
    _picture().save(path, exif=exif)
    assert read_metadata(path) == []


# --- XMP -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["http", "https"])
@pytest.mark.parametrize("suffix", [".jpg", ".png", ".webp", ".tif"])
def test_xmp_digital_source_type(tmp_path: Path, suffix: str, scheme: str) -> None:
    packet = xmp_packet(f"{scheme}://{IPTC}trainedAlgorithmicMedia", tool="Adobe Firefly")
    signal = only(read_metadata(save_with_xmp(tmp_path / f"x{suffix}", packet)), "xmp")
    assert (signal.origin, signal.tool) == (AI, "Adobe Firefly")
    assert signal.detail["digital_source_type"] == f"{scheme}://{IPTC}trainedAlgorithmicMedia"


@pytest.mark.parametrize(
    ("value", "form", "origin"),
    [
        (
            f"http://{IPTC}compositeWithTrainedAlgorithmicMedia",
            "element",
            Origin.COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA,
        ),
        (f"https://{IPTC}digitalCapture", "resource", Origin.DIGITAL_CAPTURE),
        ("algorithmicallyEnhanced", "attribute", Origin.ALGORITHMICALLY_ENHANCED),
        (
            "http://c2pa.org/digitalsourcetype/trainedAlgorithmicData",
            "attribute",
            Origin.TRAINED_ALGORITHMIC_DATA,
        ),
    ],
)
def test_xmp_forms_and_codes(tmp_path: Path, value: str, form: str, origin: Origin) -> None:
    signal = only(read_metadata(save_with_xmp(tmp_path / "x.jpg", xmp_packet(value, form))), "xmp")
    assert signal.origin is origin
    assert signal.tool is None


@pytest.mark.parametrize(
    "value",
    [f"http://{IPTC}inventedHere", "ai", "unknown", "http://example.com/trainedAlgorithmicMedia"],
)
def test_xmp_unknown_code_is_noted_without_origin(tmp_path: Path, value: str) -> None:
    signal = only(read_metadata(save_with_xmp(tmp_path / "x.png", xmp_packet(value))), "xmp")
    assert signal.origin is None
    assert signal.detail == {"digital_source_type": value, "recognised": False}


def test_xmp_without_digital_source_type_says_nothing(tmp_path: Path) -> None:
    packet = xmp_packet("x").replace(
        b' Iptc4xmpExt:DigitalSourceType="x"', b' xmp:CreatorTool="Nuke 15.1"'
    )
    assert read_metadata(save_with_xmp(tmp_path / "x.jpg", packet)) == []


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_xmp_entity_bomb_is_refused_quickly(tmp_path: Path, suffix: str) -> None:
    path = save_with_xmp(tmp_path / f"bomb{suffix}", BILLION_LAUGHS)
    started = time.perf_counter()
    assert read_metadata(path) == []
    assert time.perf_counter() - started < 2


# --- hostile and unrelated files -------------------------------------------------------------------


def test_inflation_bomb_is_skipped_and_the_rest_still_read(tmp_path: Path) -> None:
    bomb = zlib.compress(b"{" * (MAX_PAYLOAD_BYTES * 4), 9)
    path = add_before_iend(
        write_png(tmp_path / "bomb.png"),
        png_chunk(b"zTXt", b"prompt\x00\x00" + bomb),
        png_chunk(b"iTXt", b"workflow\x00\x01\x00\x00\x00" + bomb),
        png_chunk(b"tEXt", b"parameters\x00" + A1111_PARAMETERS.encode("latin-1", "replace")),
    )
    started = time.perf_counter()
    signals = read_metadata(path)
    assert time.perf_counter() - started < 2
    # The bombs are not read, and the file says so: what they hold is unknown.
    assert [s.source for s in signals] == ["a1111", "metadata"]
    unread = signals[1]
    assert unread.origin is None and unread.detail["metadata_unread"] == [
        "compressed text inflating past 8 MiB",
        "compressed text inflating past 8 MiB",
    ]


def xmp_itxt(packet: bytes) -> bytes:
    """An uncompressed iTXt chunk holding an XMP packet."""
    return png_chunk(b"iTXt", b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + packet)


def test_an_xmp_packet_padded_past_the_limit_is_reported_unread(tmp_path: Path) -> None:
    generated = xmp_packet("http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia")
    # Within the limit, whitespace padding (as XMP writers leave) is read through.
    within = add_before_iend(
        write_png(tmp_path / "within.png"), xmp_itxt(generated + b" " * (7 << 20))
    )
    assert [(s.source, s.origin) for s in read_metadata(within)] == [
        ("xmp", Origin.TRAINED_ALGORITHMIC_MEDIA)
    ]
    padded = add_before_iend(
        write_png(tmp_path / "padded.png"), xmp_itxt(generated + b" " * (20 << 20))
    )
    (signal,) = read_metadata(padded)
    assert (signal.source, signal.origin) == ("metadata", None)
    assert signal.detail["metadata_unread"] == ["a PNG iTXt chunk of 20.0 MiB"]
    assert "8 MiB a text chunk, EXIF value or XMP packet" in signal.summary
    assert credentials_unreadable(signal.detail) is None
    assert metadata_unread(signal.detail) == (
        "a PNG iTXt chunk of 20.0 MiB (limits: 8 MiB a text chunk, EXIF value or XMP packet; "
        "32 MiB of metadata a file; 65,536 chunks)"
    )


def test_metadata_past_the_limit_of_a_file_is_reported_unread(tmp_path: Path) -> None:
    chunk = png_chunk(b"tEXt", b"comment\x00" + b"x" * (7 << 20))
    path = add_before_iend(write_png(tmp_path / "many.png"), *[chunk] * 5)
    (signal,) = read_metadata(path)
    assert signal.detail["metadata_unread"] == ["a PNG tEXt chunk of 7.0 MiB"]


@pytest.mark.parametrize("length", [0x7FFFFFF0, 0xFFFFFFF0])
def test_huge_declared_chunk(tmp_path: Path, length: int) -> None:
    path = write_png(tmp_path / "huge.png")
    data = path.read_bytes()
    at = data.index(b"IDAT") - 4
    path.write_bytes(data[:at] + struct.pack(">I", length) + b"tEXtparameters\x00Steps: 1")
    assert read_metadata(path) == []


def test_truncated_png(tmp_path: Path) -> None:
    path = write_png(tmp_path / "t.png", {"parameters": A1111_PARAMETERS})
    data = path.read_bytes()
    # Cut inside the text chunk: nothing. Cut in the image data after it: the text is whole.
    (tmp_path / "cut-text.png").write_bytes(data[: data.index(b"Steps:")])
    assert read_metadata(tmp_path / "cut-text.png") == []
    (tmp_path / "cut-idat.png").write_bytes(data[: data.index(b"IDAT") + 20])
    assert [s.source for s in read_metadata(tmp_path / "cut-idat.png")] == ["a1111"]
    (tmp_path / "header-only.png").write_bytes(data[:20])
    assert read_metadata(tmp_path / "header-only.png") == []


@pytest.mark.parametrize("suffix", sorted(EXTENSIONS))
@pytest.mark.parametrize(
    "prefix",
    [
        b"",
        b"\x89PNG\r\n\x1a\n",
        b"\xff\xd8\xff\xe1",
        b"RIFF\xff\xff\xff\xffWEBP",
        b"II*\x00",
        b"MM\x00+",
    ],
    ids=["random", "png", "jpeg", "webp", "tiff", "bigtiff"],
)
def test_random_bytes(tmp_path: Path, suffix: str, prefix: bytes) -> None:
    path = tmp_path / f"noise{suffix}"
    path.write_bytes(prefix + random.Random(suffix).randbytes(64 << 10))
    assert read_metadata(path) == []


def test_empty_missing_and_directory(tmp_path: Path) -> None:
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "folder.png").mkdir()
    for name in ("empty.png", "missing.jpg", "folder.png"):
        assert read_metadata(tmp_path / name) == []


def test_other_extensions_are_not_opened(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_png(tmp_path / "plate.exr", {"parameters": A1111_PARAMETERS})
    touched: list[object] = []

    def spy(real: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            touched.append(args[0])
            return real(*args, **kwargs)

        return call

    monkeypatch.setattr(builtins, "open", spy(builtins.open))
    monkeypatch.setattr(os, "stat", spy(os.stat))
    assert read_metadata(path) == []
    assert read_metadata(tmp_path / "notes.txt") == []
    assert touched == []


def test_content_decides_the_container_and_paths_may_be_bytes(tmp_path: Path) -> None:
    """A WebP saved as .PNG (common in downloads), passed as a bytes path."""
    path = tmp_path / "download.PNG"
    _picture().save(
        path,
        format="WEBP",
        exif=user_comment_exif(b"ASCII\x00\x00\x00" + A1111_PARAMETERS.encode()),
    )
    assert only(read_metadata(os.fsencode(path)), "a1111").tool == "AUTOMATIC1111"


def test_tiff_image_description_of_a_vfx_tool_says_nothing(tmp_path: Path) -> None:
    path = tmp_path / "frame.1001.tif"
    _picture().save(path, tiffinfo={270: "Nuke write node Write1, sh010 comp v012", 305: "Nuke"})
    assert read_metadata(path) == []


# --- generators added for real files made by others -------------------------------------------
# (Every family's fixtures are read in tests/detect/test_detect_generators.py; these check the details.)


def test_swarmui_details(tmp_path: Path) -> None:
    from ..generator_fixtures import fixture_named

    path = fixture_named("swarm_webp").build(tmp_path, None)  # type: ignore[arg-type]
    signal = only(read_metadata(path), "swarmui")
    assert (signal.tool, signal.detail["carrier"]) == ("SwarmUI", "exif")
    assert signal.detail["model"] == "OfficialStableDiffusion/sd_xl_base_1.0"
    assert (signal.detail["seed"], signal.detail["version"]) == (1458273629, "0.9.5.0")


def test_novelai_webp_reads_its_model_from_the_software_tag_and_its_v4_prompt(
    tmp_path: Path,
) -> None:
    from ..generator_fixtures import make_novelai_webp_software_tag

    path = make_novelai_webp_software_tag(tmp_path, None)  # type: ignore[arg-type]
    signal = only(read_metadata(path), "novelai")
    assert signal.detail["model"] == "NovelAI Diffusion V4.5 4BDE2A90"
    assert (signal.detail["prompt"], signal.detail["seed"]) == ("1girl, library", 2210)


def test_easy_diffusion_model_is_named_without_its_path(tmp_path: Path) -> None:
    from ..generator_fixtures import make_easydiffusion_png

    signal = only(read_metadata(make_easydiffusion_png(tmp_path, None)), "easydiffusion")  # type: ignore[arg-type]
    assert signal.detail["model"] == "sd-v1-5.safetensors"
    assert signal.detail["steps"] == 25


def test_draw_things_prompt_comes_from_its_xmp_json(tmp_path: Path) -> None:
    from ..generator_fixtures import make_drawthings_jpeg

    signal = only(read_metadata(make_drawthings_jpeg(tmp_path, None)), "drawthings")  # type: ignore[arg-type]
    assert (signal.detail["carrier"], signal.detail["prompt"]) == (
        "xmp",
        "a koi pond under cherry trees",
    )
    assert signal.detail["seed"] == 3318420931


def test_ppdiffusers_is_told_from_plain_diffusers_by_its_keywords(tmp_path: Path) -> None:
    from ..generator_fixtures import make_diffusers_chunks, make_ppdiffusers_png

    paddle = only(read_metadata(make_ppdiffusers_png(tmp_path, None)), "ppdiffusers")  # type: ignore[arg-type]
    plain = only(read_metadata(make_diffusers_chunks(tmp_path, None)), "diffusers")  # type: ignore[arg-type]
    assert (paddle.tool, paddle.detail["model"]) == ("PPDiffusers", "SG161222/RealVisXL_V3.0")
    assert (plain.tool, plain.detail["steps"]) == ("diffusers", 30)


def test_stability_matrix_reports_every_generator_it_wrote_for(tmp_path: Path) -> None:
    from ..generator_fixtures import make_stability_matrix_png

    signals = read_metadata(make_stability_matrix_png(tmp_path, None))  # type: ignore[arg-type]
    assert sorted(s.source for s in signals) == ["a1111", "comfyui", "stability-matrix"]


@pytest.mark.parametrize(
    "text",
    [
        {"prompt": "a cat on a windowsill", "seed": "4"},
        {"Software": "Novel Editor 2.1", "Comment": '{"prompt": "chapter one"}'},
        {"parameters": '{"prompt": "castle", "exposure": 1.5}'},
        {"parameters": '{"software": "Resolve", "Prompt": "grade"}'},
        {"parameters-json": "[1, 2]"},
    ],
    ids=["prompt-and-seed", "novel-editor", "json-without-settings", "json-software", "not-json"],
)
def test_look_alikes_of_the_new_formats_say_nothing(tmp_path: Path, text: dict[str, str]) -> None:
    assert read_metadata(write_png(tmp_path / "plain.png", text)) == []


def test_an_xmp_user_comment_of_a_dcc_says_nothing(tmp_path: Path) -> None:
    packet = (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        b'<rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" '
        b'xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:CreatorTool="Adobe Photoshop 25.0">'
        b"<exif:UserComment><rdf:Alt><rdf:li>Take 3, circled</rdf:li></rdf:Alt></exif:UserComment>"
        b"</rdf:Description></rdf:RDF></x:xmpmeta>"
    )
    assert read_metadata(save_with_xmp(tmp_path / "still.jpg", packet)) == []


# --- A1111 "stealth" parameters ----------------------------------------------------------------


def test_stealth_parameters_survive_the_text_chunks_being_stripped(tmp_path: Path) -> None:
    from ..generator_fixtures import stealth_image

    original = tmp_path / "gen.png"
    info = PngInfo()
    info.add_text("parameters", A1111_PARAMETERS)
    stealth_image(A1111_PARAMETERS, compressed=True).save(original, pnginfo=info)
    assert only(read_metadata(original), "a1111").detail["carrier"] == "png-text"
    stripped = tmp_path / "stripped.png"
    with Image.open(original) as image:
        image.save(stripped)  # a re-save drops the text chunks, not the pixels
    assert b"parameters" not in stripped.read_bytes()
    signal = only(read_metadata(stripped), "a1111")
    assert signal.detail["carrier"] == "png-alpha-lsb"
    assert signal.detail["seed"] == 1234567890


def _layout(path: Path) -> tuple[Any, bytes]:
    from provenance.detect.stealth import PngLayout

    data = path.read_bytes()
    offset, idat, header = 8, [], b""
    while offset < len(data):
        length, kind = struct.unpack(">I4s", data[offset : offset + 8])
        if kind == b"IHDR":
            header = data[offset + 8 : offset + 21]
        elif kind == b"IDAT":
            idat.append((offset + 8, length))
        offset += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    return PngLayout(width, height, depth, colour, bool(interlace), tuple(idat)), data


@pytest.mark.parametrize("alpha", ["opaque", "noise"])
def test_a_large_png_without_stealth_costs_a_few_rows(tmp_path: Path, alpha: str) -> None:
    from provenance.detect.stealth import read_stealth

    size = (4096, 2160)
    if alpha == "opaque":
        image = Image.new("RGBA", size, (40, 60, 80, 255))
    else:
        rng = random.Random(3)
        image = Image.frombytes("RGBA", size, rng.randbytes(size[0] * size[1] * 4))
    path = tmp_path / "big.png"
    image.save(path, compress_level=0)  # stored: the image data is the size of its pixels
    layout, data = _layout(path)
    asked: list[int] = []

    def read(offset: int, count: int) -> bytes:
        asked.append(count)
        return data[offset : offset + count]

    assert read_stealth(read, layout, MAX_PAYLOAD_BYTES) is None
    # The first rows only: a chunk or three of the image data (Pillow writes 64 KiB chunks).
    assert len(asked) <= 3 < len(layout.idat), (asked, len(layout.idat))


def test_a_stealth_payload_that_cannot_be_read_is_still_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from provenance.detect import stealth

    from ..generator_fixtures import hide_in_alpha, stealth_image

    picture = Image.frombytes("RGBA", (64, 64), random.Random(5).randbytes(64 * 64 * 4))
    lying = hide_in_alpha(picture, b"stealth_pnginfo", b"")  # a zero length
    lying.save(tmp_path / "lying.png")
    signal = only(read_metadata(tmp_path / "lying.png"), "stealth-pnginfo")
    assert signal.origin is AI and "payload length of 0 bits" in signal.summary

    stealth_image(A1111_PARAMETERS, compressed=True).save(tmp_path / "big.png")
    monkeypatch.setattr(stealth, "MAX_DECODED_BYTES", 1000)
    signal = only(read_metadata(tmp_path / "big.png"), "stealth-pnginfo")
    assert signal.detail["problem"] == "an image too large to decode for it"


def test_a_truncated_stealth_png_keeps_its_text_chunks(tmp_path: Path) -> None:
    from ..generator_fixtures import stealth_image

    path = tmp_path / "cut.png"
    info = PngInfo()
    info.add_text("parameters", A1111_PARAMETERS)
    stealth_image("x" * 3000, compressed=False, size=(300, 300)).save(path, pnginfo=info)
    data = path.read_bytes()
    idat = data.index(b"IDAT")
    path.write_bytes(data[: idat + 400])  # the text chunk sits before the image data
    assert only(read_metadata(path), "a1111").detail["carrier"] == "png-text"


def test_stealth_magic_in_a_png_without_alpha_is_not_looked_for(tmp_path: Path) -> None:
    path = tmp_path / "rgb.png"
    Image.new("RGB", (300, 300), (1, 1, 1)).save(path)
    assert read_metadata(path) == []

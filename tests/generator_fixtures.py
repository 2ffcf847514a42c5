"""Files as each generator family writes them, made here from the formats' public descriptions.

`FAMILIES` registers every fixture under the family docs/detection.md's quality table names, with
the signal sources a reader must report for it; tests/detect/test_detect_generators.py reads each one,
and checks the table's fixture counts against this registry. The layouts follow what the
generators and the readers that document them (sd-prompt-reader, sd-metadata, the
stealth-pnginfo extension) describe: keyword names, EXIF tags, JSON keys.
"""

from __future__ import annotations

import functools
import gzip
import json
import random
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from .c2pa_fixtures import (
    IPTC,
    ThrowawayCA,
    created_manifest,
    image_bytes,
    write_adobe_files,
    write_composite,
    write_signed,
)
from .detect.test_detect_metadata import (
    A1111_PARAMETERS,
    COMFY_PROMPT,
    COMFY_WORKFLOW,
    FOOOCUS_JSON,
    FORGE_VERSION,
    INVOKEAI_METADATA,
    MIDJOURNEY_DESCRIPTION,
    user_comment_exif,
    write_png,
)

Builder = Callable[[Path, ThrowawayCA], Path]


@dataclass(frozen=True)
class Fixture:
    family: str
    name: str
    build: Builder
    sources: tuple[str, ...]
    """The signal sources a reader must report for the file (others may come too)."""


FAMILIES: dict[str, list[Fixture]] = {}


def fixture(family: str, *sources: str) -> Callable[[Builder], Builder]:
    """Register a builder of `family` (made into its folder, created if need be)."""

    def register(build: Builder) -> Builder:
        @functools.wraps(build)
        def made(folder: Path, ca: ThrowawayCA) -> Path:
            folder.mkdir(parents=True, exist_ok=True)
            return build(folder, ca)

        FAMILIES.setdefault(family, []).append(
            Fixture(family, build.__name__.removeprefix("make_"), made, sources)
        )
        return made

    return register


def _picture(size: tuple[int, int] = (48, 32), mode: str = "RGB", seed: str = "g") -> Image.Image:
    channels = len(mode)
    noise = random.Random(seed).randbytes(size[0] * size[1] * channels)
    return Image.frombytes(mode, size, noise)


def _exif(**tags: Any) -> Image.Exif:
    """EXIF with IFD0 tags by number (`t010e=...`) and an Exif IFD UserComment (`comment`)."""
    exif = Image.Exif()
    for key, value in tags.items():
        if key.startswith("t"):
            exif[int(key[1:], 16)] = value
    if "comment" in tags:
        exif[0x8769] = {0x9286: tags["comment"]}
    return exif


def _save(folder: Path, name: str, image: Image.Image | None = None, **options: Any) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    (image or _picture(seed=name)).save(path, **options)
    return path


def _parameters(folder: Path, name: str, payload: dict[str, Any] | str) -> Path:
    """A PNG `parameters` chunk, or (.jpg, .webp) an EXIF UserComment as A1111 writes it."""
    text = payload if isinstance(payload, str) else json.dumps(payload)
    if name.endswith(".png"):
        return write_png(folder / name, {"parameters": text})
    return _save(folder, name, exif=user_comment_exif(_unicode(text), "<"))


def _unicode(text: str) -> bytes:
    """EXIF UserComment as A1111 writes it through piexif: "UNICODE\\0" and UTF-16BE."""
    return b"UNICODE\x00" + text.encode("utf-16-be")


# --- AUTOMATIC1111 and forks ----------------------------------------------------------------

FORGE_PARAMETERS = A1111_PARAMETERS.replace("Version: v1.10.1", f"Version: {FORGE_VERSION}")


@fixture("AUTOMATIC1111", "a1111")
def make_a1111_png_itxt(folder: Path, ca: ThrowawayCA) -> Path:
    return write_png(folder / "a1111_itxt.png", parameters=A1111_PARAMETERS)


@fixture("Fooocus", "fooocus")
def make_fooocus_a1111_scheme(folder: Path, ca: ThrowawayCA) -> Path:
    text = A1111_PARAMETERS.replace("Version: v1.10.1", "Version: Fooocus v2.5.5")
    return write_png(folder / "fooocus_a1111.png", {"parameters": text, "fooocus_scheme": "a1111"})


@fixture("Fooocus", "fooocus")
def make_fooocus_json_scheme(folder: Path, ca: ThrowawayCA) -> Path:
    text = {"parameters": json.dumps(FOOOCUS_JSON), "fooocus_scheme": "fooocus"}
    return write_png(folder / "fooocus_json.png", text)


@fixture("Fooocus", "fooocus")
def make_fooocus_jpeg(folder: Path, ca: ThrowawayCA) -> Path:
    """Fooocus sets UserComment, Software and MakerNote (the scheme) on IFD0 through Pillow."""
    exif = _exif(t9286=json.dumps(FOOOCUS_JSON), t0131="Fooocus v2.5.5", t927c="fooocus")
    return _save(folder, "fooocus.jpg", exif=exif)


RUINED_FOOOCUS = {
    "Prompt": "an abandoned greenhouse, moss",
    "Negative": "",
    "steps": 30,
    "cfg": 8,
    "width": 1152,
    "height": 896,
    "seed": 881,
    "sampler_name": "dpmpp_2m_sde_gpu",
    "scheduler": "karras",
    "base_model_name": "sd_xl_base_1.0_0.9vae.safetensors",
    "base_model_hash": "e6bb9ea85b",
    "loras": [],
    "software": "RuinedFooocus",
}


# --- ComfyUI ------------------------------------------------------------------------------


@fixture("ComfyUI", "comfyui")
def make_comfyui_png(folder: Path, ca: ThrowawayCA) -> Path:
    text = {"prompt": json.dumps(COMFY_PROMPT), "workflow": json.dumps(COMFY_WORKFLOW)}
    return write_png(folder / "comfy.png", text)


@fixture("ComfyUI", "comfyui")
def make_comfyui_jpeg_user_comment_graph(folder: Path, ca: ThrowawayCA) -> Path:
    """The bare API graph in UserComment, as Civitai-bound save nodes write it."""
    comment = json.dumps(COMFY_PROMPT).encode()
    return _save(folder, "comfy_graph.jpg", exif=user_comment_exif(comment, "<"))


@fixture("ComfyUI", "comfyui")
def make_comfyui_jpeg_user_comment_bundle(folder: Path, ca: ThrowawayCA) -> Path:
    comment = json.dumps({"prompt": COMFY_PROMPT, "workflow": COMFY_WORKFLOW}).encode()
    return _save(folder, "comfy_bundle.jpg", exif=user_comment_exif(comment, "<"))


@fixture("ComfyUI", "comfyui")
def make_comfyui_jpeg_prompt_text(folder: Path, ca: ThrowawayCA) -> Path:
    comment = ("Prompt: " + json.dumps(COMFY_PROMPT)).encode()
    return _save(folder, "comfy_prompt.jpg", exif=user_comment_exif(comment, ">"))


@fixture("ComfyUI", "comfyui")
def make_comfyui_webp_make_and_description(folder: Path, ca: ThrowawayCA) -> Path:
    """ComfyUI's own WebP saver: "Workflow:" in ImageDescription, "Prompt:" in Make."""
    exif = _exif(
        t010f="Prompt:" + json.dumps(COMFY_PROMPT), t010e="Workflow:" + json.dumps(COMFY_WORKFLOW)
    )
    return _save(folder, "comfy.webp", exif=exif)


@fixture("ComfyUI", "comfyui")
def make_comfyui_jpeg_save_image_extended(folder: Path, ca: ThrowawayCA) -> Path:
    """Save Image Extended: "Workflow: " and "Prompt: " (with a space) in the same two tags."""
    exif = _exif(
        t010f="Prompt: " + json.dumps(COMFY_PROMPT), t010e="Workflow: " + json.dumps(COMFY_WORKFLOW)
    )
    return _save(folder, "comfy_extended.jpg", exif=exif)


@fixture("ComfyUI workflow only", "comfyui-workflow")
def make_comfyui_workflow_png(folder: Path, ca: ThrowawayCA) -> Path:
    return write_png(folder / "editor.png", {"workflow": json.dumps(COMFY_WORKFLOW)})


@fixture("ComfyUI workflow only", "comfyui-workflow")
def make_comfyui_workflow_webp(folder: Path, ca: ThrowawayCA) -> Path:
    exif = _exif(t010e="Workflow:" + json.dumps(COMFY_WORKFLOW))
    return _save(folder, "editor.webp", exif=exif)


# --- InvokeAI, NovelAI, Midjourney ----------------------------------------------------------


@fixture("InvokeAI", "invokeai")
def make_invokeai_metadata(folder: Path, ca: ThrowawayCA) -> Path:
    return write_png(folder / "invoke.png", {"invokeai_metadata": json.dumps(INVOKEAI_METADATA)})


@fixture("InvokeAI", "invokeai")
def make_invokeai_graph(folder: Path, ca: ThrowawayCA) -> Path:
    graph = {"id": "g", "nodes": {"a": {}, "b": {}}, "edges": []}
    return write_png(folder / "invoke_graph.png", {"invokeai_graph": json.dumps(graph)})


@fixture("InvokeAI", "invokeai")
def make_invokeai_sd_metadata(folder: Path, ca: ThrowawayCA) -> Path:
    legacy = {
        "model_weights": "stable-diffusion-1.5",
        "app_id": "invoke-ai/InvokeAI",
        "app_version": "2.2.4",
        "image": {"prompt": [{"prompt": "banana sushi"}], "steps": 50, "seed": 42},
    }
    return write_png(folder / "invoke_legacy.png", {"sd-metadata": json.dumps(legacy)})


@fixture("InvokeAI", "invokeai")
def make_invokeai_dream(folder: Path, ca: ThrowawayCA) -> Path:
    dream = '"banana sushi" -s 50 -S 3357757885 -W 512 -H 512 -C 7.5 -A k_lms'
    return write_png(folder / "dream.png", {"Dream": dream})


NOVELAI_COMMENT = {
    "prompt": "1girl, library",
    "steps": 28,
    "seed": 2210,
    "sampler": "k_euler_ancestral",
    "scale": 5,
    "noise_schedule": "karras",
    "v4_prompt": {"caption": {"base_caption": "1girl, library", "char_captions": []}},
}
NOVELAI_CHUNKS = {
    "Title": "NovelAI generated image",
    "Description": "1girl, library",
    "Software": "NovelAI",
    "Source": "NovelAI Diffusion V4.5 4BDE2A90",
    "Generation time": "4.52",
    "Comment": json.dumps(NOVELAI_COMMENT),
}


@fixture("NovelAI", "novelai")
def make_novelai_png(folder: Path, ca: ThrowawayCA) -> Path:
    return write_png(folder / "nai.png", NOVELAI_CHUNKS)


@fixture("NovelAI", "novelai")
def make_novelai_webp_software_tag(folder: Path, ca: ThrowawayCA) -> Path:
    """EXIF Software "NovelAI Diffusion V4.5 ..." with the Comment JSON as UserComment."""
    exif = _exif(
        t0131="NovelAI Diffusion V4.5 4BDE2A90", comment=json.dumps(NOVELAI_COMMENT).encode()
    )
    return _save(folder, "nai_tag.webp", exif=exif)


@fixture("NovelAI", "novelai")
def make_novelai_stealth(folder: Path, ca: ThrowawayCA) -> Path:
    """NovelAI's alpha-channel copy: stealth_pngcomp holding the bundled text chunks."""
    payload = gzip.compress(json.dumps(NOVELAI_CHUNKS).encode())
    image = hide_in_alpha(_picture((256, 192), "RGBA", "nai"), b"stealth_pngcomp", payload)
    return _save(folder, "nai_stealth.png", image)


@fixture("Midjourney", "midjourney")
def make_midjourney_png(folder: Path, ca: ThrowawayCA) -> Path:
    text = {"Description": MIDJOURNEY_DESCRIPTION, "Author": "peterkaminski"}
    return write_png(folder / "mj.png", text)


@fixture("Midjourney", "midjourney")
def make_midjourney_jpeg(folder: Path, ca: ThrowawayCA) -> Path:
    return _save(folder, "mj.jpg", exif=_exif(t010e=MIDJOURNEY_DESCRIPTION, t013b="peterkaminski"))


# --- SwarmUI, diffusers, PPDiffusers, Draw Things, Easy Diffusion, Stability Matrix -----------

SWARMUI = {
    "sui_image_params": {
        "prompt": "a lighthouse keeper's cottage, dusk",
        "negativeprompt": "",
        "model": "OfficialStableDiffusion/sd_xl_base_1.0",
        "seed": 1458273629,
        "steps": 20,
        "cfgscale": 7,
        "sampler": "euler",
        "scheduler": "normal",
        "width": 1024,
        "height": 1024,
        "swarm_version": "0.9.5.0",
    },
    "sui_extra_data": {"date": "2026-03-02", "prep_time": "0.01 sec", "generation_time": "4 sec"},
}


HF_SPACE = {
    "prompt": "a watercolour harbour",
    "negative_prompt": "lowres",
    "resolution": "1024 x 1024",
    "guidance_scale": 7,
    "num_inference_steps": 28,
    "style_preset": "(None)",
    "seed": 2024,
    "sampler": "Euler a",
    "Model": "Animagine XL 3.1",
    "Model hash": "e3c47aedb0",
}


@fixture("Hugging Face Spaces / diffusers", "diffusers")
def make_diffusers_chunks(folder: Path, ca: ThrowawayCA) -> Path:
    """A diffusers script saving its call's arguments one text chunk each."""
    text = {
        "prompt": "a foggy quay at dawn",
        "negative_prompt": "blurry",
        "num_inference_steps": "30",
        "guidance_scale": "7.5",
        "seed": "42",
        "model": "stabilityai/stable-diffusion-xl-base-1.0",
    }
    return write_png(folder / "diffusers.png", text)


@fixture("PaddleNLP / PPDiffusers", "ppdiffusers")
def make_ppdiffusers_png(folder: Path, ca: ThrowawayCA) -> Path:
    """PaddleNLP's PPDiffusers web UI: its `metadata` dict, one tEXt chunk per key."""
    text = {
        "pipe": "SG161222/RealVisXL_V3.0",
        "prompt": "a tea house in the mountains",
        "negative_prompt": "",
        "guidance_scale": "5",
        "scheduler_type": "ddpm",
        "num_inference_steps": "50",
        "type_to_img": "text",
        "height": "1024",
        "width": "1024",
        "seed": "1234",
    }
    return write_png(folder / "paddle.png", text)


DRAW_THINGS = {
    "c": "a koi pond under cherry trees",
    "uc": "",
    "model": "sd_xl_base_1.0_f16.ckpt",
    "sampler": "DPM++ 2M Karras",
    "scale": 5,
    "seed": 3318420931,
    "steps": 30,
    "strength": 1,
    "size": "1024x1024",
}


def _drawthings_xmp() -> bytes:
    from xml.sax.saxutils import escape

    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:exif="http://ns.adobe.com/exif/1.0/" xmlns:xmp="http://ns.adobe.com/xap/1.0/" '
        'xmp:CreatorTool="Draw Things">'
        f'<dc:description><rdf:Alt><rdf:li xml:lang="x-default">{escape(DRAW_THINGS["c"])}'
        "</rdf:li></rdf:Alt></dc:description>"
        f'<exif:UserComment><rdf:Alt><rdf:li xml:lang="x-default">{escape(json.dumps(DRAW_THINGS))}'
        "</rdf:li></rdf:Alt></exif:UserComment>"
        '</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
    ).encode()


@fixture("Draw Things", "drawthings")
def make_drawthings_png(folder: Path, ca: ThrowawayCA) -> Path:
    info = PngInfo()
    info.add_itxt("XML:com.adobe.xmp", _drawthings_xmp().decode())
    return _save(folder, "drawthings.png", pnginfo=info)


@fixture("Draw Things", "drawthings")
def make_drawthings_jpeg(folder: Path, ca: ThrowawayCA) -> Path:
    return _save(folder, "drawthings.jpg", xmp=_drawthings_xmp())


EASY_DIFFUSION = {
    "prompt": "a cosy reading nook, rain outside",
    "negative_prompt": "",
    "seed": "3046115137",
    "use_stable_diffusion_model": "C:\\EasyDiffusion\\models\\stable-diffusion\\sd-v1-5.safetensors",
    "clip_skip": "False",
    "use_vae_model": "",
    "sampler_name": "euler_a",
    "width": "512",
    "height": "512",
    "num_inference_steps": "25",
    "guidance_scale": "7.5",
}


@fixture("Easy Diffusion", "easydiffusion")
def make_easydiffusion_png(folder: Path, ca: ThrowawayCA) -> Path:
    return write_png(folder / "easy.png", EASY_DIFFUSION)


@fixture("Easy Diffusion", "easydiffusion")
def make_easydiffusion_jpeg(folder: Path, ca: ThrowawayCA) -> Path:
    comment = json.dumps(EASY_DIFFUSION).encode()
    return _save(folder, "easy.jpg", exif=user_comment_exif(b"ASCII\x00\x00\x00" + comment, "<"))


@fixture("Easy Diffusion", "easydiffusion")
def make_easydiffusion_webp_capitalised(folder: Path, ca: ThrowawayCA) -> Path:
    """Its other key style: "Prompt", "Stable Diffusion model", "Steps"..."""
    settings = {
        "Prompt": "a cosy reading nook",
        "Seed": 7,
        "Stable Diffusion model": "sd-v1-5",
        "Sampler": "euler_a",
        "Steps": 25,
    }
    comment = json.dumps(settings).encode()
    return _save(folder, "easy.webp", exif=user_comment_exif(comment, "<"))


@fixture("Stability Matrix", "stability-matrix", "a1111", "comfyui")
def make_stability_matrix_png(folder: Path, ca: ThrowawayCA) -> Path:
    """Its own `parameters-json` and `smproj`, beside A1111 text and the ComfyUI graph it ran."""
    params = {
        "PositivePrompt": "a rainy neon alley",
        "NegativePrompt": "",
        "Width": 1024,
        "Height": 1024,
        "Seed": 99,
        "Steps": 28,
        "CfgScale": 6,
        "Sampler": "DPM++ 2M",
        "ModelName": "sd_xl_base_1.0",
        "ModelHash": "31e35c80fc",
    }
    text = {
        "parameters": A1111_PARAMETERS,
        "parameters-json": json.dumps(params),
        "smproj": json.dumps({"Version": 1, "ProjectType": "Inference"}),
        "prompt": json.dumps(COMFY_PROMPT),
    }
    return write_png(folder / "matrix.png", text)


# --- A1111 "stealth" parameters in the alpha channel ------------------------------------------


def hide_in_alpha(image: Image.Image, magic: bytes, payload: bytes) -> Image.Image:
    """`image` with magic, 32-bit length (in bits) and payload in its alpha LSBs, column by
    column, as the stealth-pnginfo extension writes them."""
    bits = np.unpackbits(
        np.frombuffer(magic + struct.pack(">I", len(payload) * 8) + payload, np.uint8)
    )
    mode = image.mode
    pixels = np.array(image.convert("RGBA" if mode != "LA" else "LA"))
    height, width = pixels.shape[:2]
    if len(bits) > width * height:
        raise ValueError("the payload does not fit")
    alpha = pixels[:, :, -1].T.copy().ravel()  # column by column
    alpha[: len(bits)] = (alpha[: len(bits)] & 0xFE) | bits
    pixels[:, :, -1] = alpha.reshape(width, height).T
    return Image.fromarray(pixels, "LA" if mode == "LA" else "RGBA")


def stealth_image(
    text: str, compressed: bool, size: tuple[int, int] = (256, 192), mode: str = "RGBA"
) -> Image.Image:
    payload = gzip.compress(text.encode()) if compressed else text.encode()
    magic = b"stealth_pngcomp" if compressed else b"stealth_pnginfo"
    return hide_in_alpha(_picture(size, mode, f"stealth{size}{mode}"), magic, payload)


@fixture("A1111 stealth (alpha channel)", "a1111")
def make_stealth_pnginfo(folder: Path, ca: ThrowawayCA) -> Path:
    return _save(folder, "stealth_info.png", stealth_image(A1111_PARAMETERS, compressed=False))


@fixture("A1111 stealth (alpha channel)", "a1111")
def make_stealth_pngcomp(folder: Path, ca: ThrowawayCA) -> Path:
    return _save(folder, "stealth_comp.png", stealth_image(A1111_PARAMETERS, compressed=True))


@fixture("A1111 stealth (alpha channel)", "a1111")
def make_stealth_short_image(folder: Path, ca: ThrowawayCA) -> Path:
    """Fewer rows than the header's 152 bits: the header runs into the next columns."""
    image = stealth_image(A1111_PARAMETERS, compressed=True, size=(640, 40))
    return _save(folder, "stealth_wide.png", image)


@fixture("A1111 stealth (alpha channel)", "a1111")
def make_stealth_gray_alpha(folder: Path, ca: ThrowawayCA) -> Path:
    image = stealth_image(A1111_PARAMETERS, compressed=True, size=(200, 180), mode="LA")
    return _save(folder, "stealth_la.png", image)


@fixture("A1111 stealth (alpha channel)", "forge")
def make_stealth_forge_big(folder: Path, ca: ThrowawayCA) -> Path:
    """A 2K frame: its payload is read in bands."""
    image = stealth_image(FORGE_PARAMETERS, compressed=False, size=(2048, 1080))
    return _save(folder, "stealth_2k.png", image)


# --- C2PA producers (signed with the tests' throwaway CA) -------------------------------------


def _signed(
    folder: Path,
    ca: ThrowawayCA,
    name: str,
    source_type: str,
    agent: Any,
    generator: str,
    mime: str = "image/jpeg",
) -> Path:
    image_format = "PNG" if mime == "image/png" else "JPEG"
    manifest = created_manifest(name, IPTC + source_type, agent, generator=generator)
    return write_signed(folder / name, ca, manifest, image_bytes(name, image_format), mime)


@fixture("Adobe Firefly / Photoshop (C2PA)", "c2pa")
def make_firefly_parameters(folder: Path, ca: ThrowawayCA) -> Path:
    return write_adobe_files(folder / "adobe_a", ca).firefly_png


@fixture("Adobe Firefly / Photoshop (C2PA)", "c2pa")
def make_photoshop_generative_fill(folder: Path, ca: ThrowawayCA) -> Path:
    return write_adobe_files(folder / "adobe_b", ca).fill_jpeg


@fixture("Adobe Firefly / Photoshop (C2PA)", "c2pa")
def make_photoshop_with_a_firefly_ingredient(folder: Path, ca: ThrowawayCA) -> Path:
    return write_adobe_files(folder / "adobe_c", ca).composite_jpeg


@fixture("Adobe Firefly / Photoshop (C2PA)", "c2pa")
def make_firefly_action_field(folder: Path, ca: ThrowawayCA) -> Path:
    return _signed(
        folder, ca, "firefly_field.jpg", "trainedAlgorithmicMedia", "Adobe Firefly", "Adobe Firefly"
    )


@fixture("OpenAI, Google, Runway and others (C2PA)", "c2pa")
def make_openai_style(folder: Path, ca: ThrowawayCA) -> Path:
    agent = {"name": "DALL-E", "version": "3"}
    return _signed(
        folder, ca, "openai.png", "trainedAlgorithmicMedia", agent, "ChatGPT", "image/png"
    )


@fixture("OpenAI, Google, Runway and others (C2PA)", "c2pa")
def make_google_style(folder: Path, ca: ThrowawayCA) -> Path:
    return _signed(folder, ca, "gemini.jpg", "trainedAlgorithmicMedia", "Google Imagen", "Google")


@fixture("OpenAI, Google, Runway and others (C2PA)", "c2pa")
def make_runway_composite(folder: Path, ca: ThrowawayCA) -> Path:
    generated = _signed(folder, ca, "runway_el.jpg", "trainedAlgorithmicMedia", "Gen-3", "Runway")
    return write_composite(
        folder / "runway_comp.jpg",
        ca,
        {"name": "Nuke", "version": "15.1"},
        ("plate.jpg", image_bytes("plate"), "image/jpeg"),
        ("runway_el.jpg", generated.read_bytes(), "image/jpeg"),
    )


@fixture("XMP DigitalSourceType", "xmp")
def make_xmp_trained(folder: Path, ca: ThrowawayCA) -> Path:
    from .detect.test_detect_metadata import save_with_xmp, xmp_packet

    return save_with_xmp(folder / "xmp.jpg", xmp_packet(IPTC + "trainedAlgorithmicMedia"))


@fixture("XMP DigitalSourceType", "xmp")
def make_xmp_composite(folder: Path, ca: ThrowawayCA) -> Path:
    from .detect.test_detect_metadata import save_with_xmp, xmp_packet

    value = "https://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia"
    return save_with_xmp(folder / "xmp.png", xmp_packet(value, form="resource"))


def _in_parameters(
    folder: Path, ca: ThrowawayCA, *, name: str, payload: dict[str, Any] | str
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return _parameters(folder, name, payload)


# The generators that write one payload in PNG `parameters` and (JPEG, WebP) EXIF UserComment;
# NovelAI's WebP bundles its text chunks there as one JSON object.
_IN_PARAMETERS: list[tuple[str, str, str, dict[str, Any] | str]] = [
    ("AUTOMATIC1111", "a1111", "a1111.png", A1111_PARAMETERS),
    ("AUTOMATIC1111", "a1111", "a1111.jpg", A1111_PARAMETERS),
    ("AUTOMATIC1111", "a1111", "a1111.webp", A1111_PARAMETERS),
    ("Forge", "forge", "forge.png", FORGE_PARAMETERS),
    ("Forge", "forge", "forge.jpg", FORGE_PARAMETERS),
    ("RuinedFooocus", "ruinedfooocus", "ruined.png", RUINED_FOOOCUS),
    ("RuinedFooocus", "ruinedfooocus", "ruined.jpg", RUINED_FOOOCUS),
    ("SwarmUI", "swarmui", "swarm.png", SWARMUI),
    ("SwarmUI", "swarmui", "swarm.jpg", SWARMUI),
    ("SwarmUI", "swarmui", "swarm.webp", SWARMUI),
    ("Hugging Face Spaces / diffusers", "diffusers", "space.png", HF_SPACE),
    ("Hugging Face Spaces / diffusers", "diffusers", "space.jpg", HF_SPACE),
    ("NovelAI", "novelai", "nai_bundle.webp", NOVELAI_CHUNKS),
]
for _family, _source, _name, _payload in _IN_PARAMETERS:
    FAMILIES.setdefault(_family, []).append(
        Fixture(
            _family,
            _name.replace(".", "_"),
            functools.partial(_in_parameters, name=_name, payload=_payload),
            (_source,),
        )
    )


def fixture_named(name: str) -> Fixture:
    (found,) = [f for f in all_fixtures() if f.name == name]
    return found


def all_fixtures() -> list[Fixture]:
    return [f for fixtures in FAMILIES.values() for f in fixtures]

"""Reading C2PA content credentials: real files signed offline by a throwaway CA, and hand-made stores."""

from __future__ import annotations

import io
import json
import random
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import c2pa  # type: ignore[import-untyped]
import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from provenance.detect import Signal, credentials_unreadable
from provenance.detect.c2pa import (
    TRUST_ANCHORS_ENV,
    read_c2pa,
    sidecar_candidates,
    signal_from_manifest_store,
)
from provenance.errors import ProvenanceError
from provenance.origins import Evidence, Origin

from ..c2pa_fixtures import (
    IPTC,
    LEAF_NAME,
    REMOTE_MANIFEST_URL,
    AdobeFiles,
    C2paFiles,
    ThrowawayCA,
    created_manifest,
    image_bytes,
    make_test_ca,
    sign,
    write_adobe_files,
    write_c2pa_files,
    write_cawg_identity,
    write_invalid_algorithmic_media,
    write_prerelease,
    write_remote_manifest,
    write_signed,
    write_unsupported_algorithm,
)

DETAIL_KEYS = {
    "validation_state",
    "validation_failures",
    "manifest",
    "title",
    "claim_generator",
    "signer",
    "digital_source_types",
    "actions",
    "ingredients",
    "ai_ingredients",
    "sidecar",
}


@pytest.fixture(scope="session")
def ca() -> ThrowawayCA:
    return make_test_ca()


@pytest.fixture(scope="session")
def files(tmp_path_factory: pytest.TempPathFactory, ca: ThrowawayCA) -> C2paFiles:
    return write_c2pa_files(tmp_path_factory.mktemp("c2pa"), ca)


def only(signals: list[Signal]) -> Signal:
    assert len(signals) == 1, signals
    return signals[0]


def copy(source: Path, folder: Path, name: str | None = None) -> Path:
    target = folder / (name or source.name)
    shutil.copyfile(source, target)
    return target


def cut_short(source: Path, folder: Path, length: int) -> Path:
    """A copy of `source` holding only its first `length` bytes."""
    truncated = folder / f"truncated{source.suffix}"
    truncated.write_bytes(source.read_bytes()[:length])
    return truncated


def flip_bytes_near_the_end(path: Path) -> None:
    """Corrupt the image data (the manifest sits at the start), keeping the file parseable."""
    data = bytearray(path.read_bytes())
    for offset in (len(data) - 40, len(data) - 41):
        data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


# --- the signed cases ----------------------------------------------------------------------


def test_ai_created_jpeg_reads_as_signed_ai_with_its_agent(files: C2paFiles) -> None:
    signal = only(read_c2pa(files.ai_jpeg))

    assert signal.source == "c2pa"
    assert signal.origin is Origin.TRAINED_ALGORITHMIC_MEDIA
    assert signal.evidence is Evidence.EMBEDDED_SIGNED
    assert signal.tool == "Adobe Firefly"
    assert signal.summary == (
        f'C2PA (Valid) by "Adobe Firefly" signed by {LEAF_NAME}: trainedAlgorithmicMedia'
    )
    detail = signal.detail
    assert set(detail) >= DETAIL_KEYS
    assert detail["validation_state"] == "Valid"
    assert detail["validation_failures"] == ["signingCredential.untrusted"]
    assert detail["claim_generator"] == {"name": "Adobe Firefly", "version": "1.0"}
    assert detail["signer"]["common_name"] == LEAF_NAME
    assert detail["signer"]["issuer"] == "Provenance Tests"
    assert detail["digital_source_types"] == [IPTC + "trainedAlgorithmicMedia"]
    assert detail["actions"] == [
        {
            "action": "c2pa.created",
            "source_type": "trainedAlgorithmicMedia",
            "agent": "Adobe Firefly",
        }
    ]
    assert detail["sidecar"] is False
    assert signal.ingredients == ()


def test_read_accepts_bytes_paths(files: C2paFiles) -> None:
    signal = only(read_c2pa(bytes(files.ai_jpeg)))
    assert signal.origin is Origin.TRAINED_ALGORITHMIC_MEDIA


def test_an_ai_ingredient_makes_a_composite_and_titles_become_lineage_hints(
    files: C2paFiles,
) -> None:
    signal = only(read_c2pa(files.composite_jpeg))

    assert signal.origin is Origin.COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA
    assert signal.evidence is Evidence.EMBEDDED_SIGNED
    assert signal.ingredients == ("plate_v001.jpg", "sky_gen.jpg")
    # The tool is the one that made the AI part; the compositing app is in the actions.
    assert signal.tool == "Adobe Firefly"
    assert signal.summary.endswith(
        'compositeWithTrainedAlgorithmicMedia (AI ingredient "sky_gen.jpg")'
    )
    detail = signal.detail
    assert detail["ai_ingredients"] == ["sky_gen.jpg"]
    assert [(i["title"], i["relationship"], i["origin"]) for i in detail["ingredients"]] == [
        ("plate_v001.jpg", "parentOf", None),
        ("sky_gen.jpg", "componentOf", "trainedAlgorithmicMedia"),
    ]
    assert [a["action"] for a in detail["actions"]] == ["c2pa.opened", "c2pa.placed"]
    assert {a["agent"] for a in detail["actions"]} == {"Nuke 15.1"}
    assert detail["digital_source_types"] == []


def test_actions_v2_with_an_agent_object_and_an_https_source_type(files: C2paFiles) -> None:
    signal = only(read_c2pa(files.v2_png))

    assert signal.origin is Origin.TRAINED_ALGORITHMIC_MEDIA
    assert signal.evidence is Evidence.EMBEDDED_SIGNED
    assert signal.tool == "Runway Gen-3"
    assert signal.detail["actions"][0]["agent"] == "Runway Gen-3 3.0"
    assert signal.detail["digital_source_types"] == [
        "https://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
    ]


@pytest.mark.parametrize(
    ("name", "origin", "tool"),
    [
        ("human_jpeg", Origin.DIGITAL_CREATION, "Photoshop 25.0"),
        ("capture_jpeg", Origin.DIGITAL_CAPTURE, "Leica M11 firmware 2.0"),
    ],
)
def test_a_non_ai_source_type_gives_that_origin(
    files: C2paFiles, name: str, origin: Origin, tool: str
) -> None:
    signal = only(read_c2pa(getattr(files, name)))

    assert signal.origin is origin
    assert signal.evidence is Evidence.EMBEDDED_SIGNED
    assert signal.tool == tool
    assert signal.summary.endswith(f": {origin.value}")


def test_adobes_generative_ai_assertion_outweighs_a_digital_creation_action(
    files: C2paFiles,
) -> None:
    signal = only(read_c2pa(files.adobe_jpeg))

    assert signal.origin is Origin.TRAINED_ALGORITHMIC_MEDIA
    assert signal.tool == "Adobe Photoshop"
    assert "com.adobe.generative-ai" in [a["action"] for a in signal.detail["actions"]]


def test_a_tampered_ai_image_is_invalid_but_still_says_ai(files: C2paFiles, tmp_path: Path) -> None:
    tampered = copy(files.ai_jpeg, tmp_path)
    flip_bytes_near_the_end(tampered)

    signal = only(read_c2pa(tampered))

    assert signal.detail["validation_state"] == "Invalid"
    assert signal.evidence is Evidence.EMBEDDED
    assert signal.origin is Origin.TRAINED_ALGORITHMIC_MEDIA
    assert "assertion.dataHash.mismatch" in signal.detail["validation_failures"]
    assert signal.summary.startswith("C2PA (Invalid)")


def test_a_tampered_human_image_vouches_for_nothing(files: C2paFiles, tmp_path: Path) -> None:
    tampered = copy(files.human_jpeg, tmp_path)
    flip_bytes_near_the_end(tampered)

    signal = only(read_c2pa(tampered))

    assert signal.origin is None
    assert signal.evidence is Evidence.EMBEDDED
    assert signal.detail["ignored_origin"] == "digitalCreation"
    assert "does not validate" in signal.summary


def test_a_pillow_resave_strips_the_manifest(files: C2paFiles, tmp_path: Path) -> None:
    resaved = tmp_path / "resaved.jpg"
    with Image.open(files.ai_jpeg) as image:
        image.save(resaved)
    assert read_c2pa(resaved) == []


@pytest.mark.parametrize(
    ("image_format", "mime", "suffix"),
    [("WEBP", "image/webp", ".webp"), ("TIFF", "image/tiff", ".tif"), ("GIF", "image/gif", ".gif")],
)
def test_a_manifest_embedded_in_other_image_types_is_read(
    ca: ThrowawayCA, tmp_path: Path, image_format: str, mime: str, suffix: str
) -> None:
    signed = write_signed(
        tmp_path / f"gen{suffix}",
        ca,
        created_manifest(f"gen{suffix}", IPTC + "trainedAlgorithmicMedia", "Gen"),
        image_bytes("other types", image_format),
        mime,
    )

    signal = only(read_c2pa(signed))

    assert signal.origin is Origin.TRAINED_ALGORITHMIC_MEDIA
    assert signal.evidence is Evidence.EMBEDDED_SIGNED


def test_no_manifest_gives_nothing(files: C2paFiles) -> None:
    assert read_c2pa(files.plain_jpeg) == []


# --- sidecars ------------------------------------------------------------------------------


def test_an_exr_frame_is_read_through_its_sidecar(files: C2paFiles) -> None:
    signal = only(read_c2pa(files.exr_with_sidecar))

    assert signal.source == "c2pa-sidecar"
    assert signal.origin is Origin.TRAINED_ALGORITHMIC_MEDIA
    assert signal.evidence is Evidence.EMBEDDED_SIGNED
    assert signal.tool == "Gen Plate"
    assert signal.detail["validation_state"] == "Valid"
    assert signal.detail["sidecar"] is True
    assert signal.detail["sidecar_path"] == str(files.exr_with_sidecar.with_suffix(".c2pa"))
    assert signal.summary.startswith("C2PA sidecar (Valid)")


def test_a_sidecar_named_after_the_full_file_name_is_found(
    files: C2paFiles, tmp_path: Path
) -> None:
    exr = copy(files.exr_with_sidecar, tmp_path, "shot.0001.exr")
    copy(files.exr_with_sidecar.with_suffix(".c2pa"), tmp_path, "shot.0001.exr.c2pa")

    assert sidecar_candidates(exr) == (
        str(tmp_path / "shot.0001.c2pa"),
        str(tmp_path / "shot.0001.exr.c2pa"),
    )
    signal = only(read_c2pa(exr))
    assert signal.origin is Origin.TRAINED_ALGORITHMIC_MEDIA
    assert signal.detail["sidecar_path"] == str(tmp_path / "shot.0001.exr.c2pa")


def test_a_frame_changed_after_signing_makes_its_sidecar_invalid(
    files: C2paFiles, tmp_path: Path
) -> None:
    exr = copy(files.exr_with_sidecar, tmp_path)
    copy(files.exr_with_sidecar.with_suffix(".c2pa"), tmp_path)
    flip_bytes_near_the_end(exr)

    signal = only(read_c2pa(exr))

    assert signal.detail["validation_state"] == "Invalid"
    assert signal.evidence is Evidence.EMBEDDED
    assert "assertion.dataHash.mismatch" in signal.detail["validation_failures"]


def test_a_jpeg_can_carry_its_manifest_in_a_sidecar(ca: ThrowawayCA, tmp_path: Path) -> None:
    jpeg = tmp_path / "plate.jpg"
    jpeg.write_bytes(image_bytes("sidecar jpeg"))
    _, store = sign(
        ca,
        created_manifest("plate.jpg", IPTC + "digitalCapture", "Cam"),
        jpeg.read_bytes(),
        "image/jpeg",
        sidecar=True,
    )
    (tmp_path / "plate.jpg.c2pa").write_bytes(store)

    signal = only(read_c2pa(jpeg))

    assert signal.source == "c2pa-sidecar"
    assert signal.origin is Origin.DIGITAL_CAPTURE
    assert signal.evidence is Evidence.EMBEDDED_SIGNED


def test_an_embedded_manifest_and_a_sidecar_are_both_reported(
    files: C2paFiles, tmp_path: Path, ca: ThrowawayCA
) -> None:
    jpeg = copy(files.human_jpeg, tmp_path)
    # The Builder binds a sidecar to the asset with its embedded manifest taken out, so this
    # sidecar does not validate against the file as it is: only the reporting is tested here.
    _, store = sign(
        ca,
        created_manifest("paint.jpg", IPTC + "compositeSynthetic", "Comp Bot"),
        jpeg.read_bytes(),
        "image/jpeg",
        sidecar=True,
    )
    (tmp_path / "paint.c2pa").write_bytes(store)

    signals = read_c2pa(jpeg)

    assert [(s.source, s.origin) for s in signals] == [
        ("c2pa", Origin.DIGITAL_CREATION),
        ("c2pa-sidecar", Origin.COMPOSITE_SYNTHETIC),
    ]


def test_a_c2pa_file_is_not_read_as_an_asset(files: C2paFiles) -> None:
    assert read_c2pa(files.exr_with_sidecar.with_suffix(".c2pa")) == []


# --- trust ---------------------------------------------------------------------------------


def test_the_test_root_as_trust_anchor_makes_the_signer_trusted(files: C2paFiles) -> None:
    trusted = only(read_c2pa(files.ai_jpeg, trust_anchors=files.ca.root_pem))
    untrusted = only(read_c2pa(files.ai_jpeg))

    assert trusted.detail["validation_state"] == "Trusted"
    assert trusted.evidence is Evidence.EMBEDDED_SIGNED
    assert "signingCredential.untrusted" not in trusted.detail["validation_failures"]
    assert trusted.summary.startswith("C2PA (Trusted)")
    assert untrusted.detail["validation_state"] == "Valid"


def test_another_root_does_not_make_the_signer_trusted(files: C2paFiles) -> None:
    stranger = make_test_ca()
    signal = only(read_c2pa(files.ai_jpeg, trust_anchors=stranger.root_pem))
    assert signal.detail["validation_state"] == "Valid"


def test_trust_anchors_come_from_the_environment(
    files: C2paFiles, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    anchors = tmp_path / "anchors.pem"
    anchors.write_bytes(files.ca.root_pem)
    monkeypatch.setenv(TRUST_ANCHORS_ENV, str(anchors))

    assert only(read_c2pa(files.ai_jpeg)).detail["validation_state"] == "Trusted"
    assert only(read_c2pa(files.exr_with_sidecar)).detail["validation_state"] == "Trusted"


def test_unreadable_trust_anchors_are_a_configuration_error(
    files: C2paFiles, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TRUST_ANCHORS_ENV, str(tmp_path / "missing.pem"))
    with pytest.raises(ProvenanceError, match=TRUST_ANCHORS_ENV):
        read_c2pa(files.ai_jpeg)
    with pytest.raises(ProvenanceError, match="not PEM"):
        read_c2pa(files.ai_jpeg, trust_anchors=b"not a certificate")
    damaged = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    with pytest.raises(ProvenanceError, match="not PEM"):
        read_c2pa(files.ai_jpeg, trust_anchors=files.ca.root_pem + damaged)


# --- malformed files: never raise ------------------------------------------------------------


def test_a_jpeg_cut_short_in_its_pixels_is_invalid_and_still_says_ai(
    files: C2paFiles, tmp_path: Path
) -> None:
    length = files.ai_jpeg.stat().st_size - 200
    signal = only(read_c2pa(cut_short(files.ai_jpeg, tmp_path, length)))

    assert signal.detail["validation_state"] == "Invalid"
    assert signal.evidence is Evidence.EMBEDDED
    assert signal.origin is Origin.TRAINED_ALGORITHMIC_MEDIA
    assert "assertion.dataHash.mismatch" in signal.detail["validation_failures"]


def test_a_jpeg_cut_short_in_its_header_is_unreadable_but_its_ai_type_is_legible(
    files: C2paFiles, tmp_path: Path
) -> None:
    length = files.ai_jpeg.read_bytes().index(b"trainedAlgorithmicMedia") + 100
    signal = only(read_c2pa(cut_short(files.ai_jpeg, tmp_path, length)))

    assert signal.detail["validation_state"] == "Invalid"
    assert signal.evidence is Evidence.EMBEDDED
    assert signal.origin is Origin.TRAINED_ALGORITHMIC_MEDIA
    assert "could not be parsed" in signal.detail["error"]
    assert "legible" in signal.summary


def test_a_jpeg_cut_short_before_any_source_type_has_no_origin(
    files: C2paFiles, tmp_path: Path
) -> None:
    length = files.ai_jpeg.read_bytes().index(b"jumdc2pa") + 100
    signal = only(read_c2pa(cut_short(files.ai_jpeg, tmp_path, length)))

    assert signal.detail["validation_state"] == "Invalid"
    assert signal.origin is None


def test_a_truncated_plain_jpeg_gives_nothing(files: C2paFiles, tmp_path: Path) -> None:
    assert read_c2pa(cut_short(files.plain_jpeg, tmp_path, 500)) == []


def test_random_bytes_named_jpg_give_nothing(tmp_path: Path) -> None:
    fake = tmp_path / "noise.jpg"
    fake.write_bytes(random.Random("noise").randbytes(64 * 1024))
    assert read_c2pa(fake) == []


def test_a_garbage_sidecar_is_an_invalid_signal(tmp_path: Path) -> None:
    exr = tmp_path / "plate.exr"
    exr.write_bytes(b"\x76\x2f\x31\x01" + bytes(2000))
    (tmp_path / "plate.c2pa").write_bytes(b"this is not JUMBF at all" * 10)

    signal = only(read_c2pa(exr))

    assert signal.source == "c2pa-sidecar"
    assert signal.origin is None
    assert signal.evidence is Evidence.EMBEDDED
    assert signal.detail["validation_state"] == "Invalid"


def test_an_empty_sidecar_is_an_invalid_signal(tmp_path: Path) -> None:
    exr = tmp_path / "plate.exr"
    exr.write_bytes(bytes(100))
    (tmp_path / "plate.exr.c2pa").write_bytes(b"")

    signal = only(read_c2pa(exr))
    assert signal.detail["error"] == "the sidecar is empty"


def test_a_missing_file_gives_nothing_even_beside_a_sidecar(
    files: C2paFiles, tmp_path: Path
) -> None:
    assert read_c2pa(tmp_path / "gone.jpg") == []
    copy(files.exr_with_sidecar.with_suffix(".c2pa"), tmp_path, "gone.c2pa")
    assert read_c2pa(tmp_path / "gone.exr") == []


@pytest.mark.parametrize(("image_format", "mime"), [("JPEG", "image/jpeg"), ("PNG", "image/png")])
def test_a_remote_manifest_is_not_fetched(
    ca: ThrowawayCA, tmp_path: Path, image_format: str, mime: str
) -> None:
    context = c2pa.Context.from_dict({"builder": {"thumbnail": {"enabled": False}}})
    try:
        with c2pa.Builder(
            created_manifest("r", IPTC + "digitalCapture", None), context=context
        ) as builder:
            builder.set_no_embed()
            builder.set_remote_url("http://127.0.0.1:9/never.c2pa")
            signed = io.BytesIO()
            with ca.signer() as signer:
                builder.sign(signer, mime, io.BytesIO(image_bytes("r", image_format)), signed)
    finally:
        context.close()
    remote = tmp_path / f"remote.{image_format.lower()}"
    remote.write_bytes(signed.getvalue())

    signal = only(read_c2pa(remote))

    assert signal.origin is None
    assert signal.detail["validation_state"] == "Invalid"
    assert "http://127.0.0.1:9/never.c2pa" in signal.detail["error"]
    assert signal.detail["unreadable"] == "remote-manifest"
    assert signal.detail["remote_url"] == "http://127.0.0.1:9/never.c2pa"
    assert credentials_unreadable(signal.detail) == (
        "the manifest is remote and reading never fetches it: http://127.0.0.1:9/never.c2pa"
    )


def refuse_to_read(*args: Any, **kwargs: Any) -> None:
    raise AssertionError("a c2pa.Reader was built for a file that cannot hold a manifest")


def test_an_unsupported_type_never_reaches_the_reader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(c2pa, "Reader", refuse_to_read)
    exr = tmp_path / "noise.exr"
    exr.write_bytes(image_bytes("exr"))
    dpx = tmp_path / "frame.dpx"
    dpx.write_bytes(bytes(64))

    assert read_c2pa(exr) == []
    assert read_c2pa(dpx) == []


def test_jpeg_and_png_without_a_manifest_segment_never_reach_the_reader(
    files: C2paFiles, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    png = tmp_path / "plain.png"
    with Image.open(io.BytesIO(image_bytes("png", "PNG"))) as image:
        xmp = PngInfo()
        xmp.add_itxt("XML:com.adobe.xmp", '<x:xmpmeta xmlns:x="adobe:ns:meta/"/>')
        image.save(png, pnginfo=xmp)
    with_exif = tmp_path / "exif.jpg"
    exif = Image.Exif()
    exif[0x010F] = "Camera maker"
    with Image.open(files.plain_jpeg) as image:
        image.save(with_exif, exif=exif, progressive=True)
    monkeypatch.setattr(c2pa, "Reader", refuse_to_read)

    assert read_c2pa(files.plain_jpeg) == []
    assert read_c2pa(png) == []
    assert read_c2pa(with_exif) == []


def test_a_jpeg_with_a_broken_segment_length_gives_nothing(tmp_path: Path) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0\x00\x00" + bytes(100))
    assert read_c2pa(broken) == []


def test_every_detail_is_json(files: C2paFiles, tmp_path: Path) -> None:
    garbage = tmp_path / "g.exr"
    garbage.write_bytes(bytes(10))
    (tmp_path / "g.c2pa").write_bytes(b"junk")
    paths = [files.ai_jpeg, files.composite_jpeg, files.v2_png, files.exr_with_sidecar, garbage]
    for path in paths:
        for signal in read_c2pa(path):
            assert json.loads(json.dumps(signal.detail)) == signal.detail


def test_threads_read_the_same_answers(files: C2paFiles) -> None:
    paths = [files.ai_jpeg, files.composite_jpeg, files.v2_png, files.exr_with_sidecar] * 4
    with ThreadPoolExecutor(4) as pool:
        origins = list(pool.map(lambda p: only(read_c2pa(p)).origin, paths))
    assert origins == [only(read_c2pa(p)).origin for p in paths]


# --- C2PA as Adobe writes it: the source type in an action's field, its parameters, ingredients


@pytest.fixture(scope="session")
def adobe(tmp_path_factory: pytest.TempPathFactory, ca: ThrowawayCA) -> AdobeFiles:
    return write_adobe_files(tmp_path_factory.mktemp("adobe"), ca)


def test_firefly_with_the_source_type_only_in_the_action_parameters(adobe: AdobeFiles) -> None:
    signal = only(read_c2pa(adobe.firefly_png))
    assert (signal.origin, signal.evidence, signal.tool) == (
        Origin.TRAINED_ALGORITHMIC_MEDIA,
        Evidence.EMBEDDED_SIGNED,
        "Adobe Firefly",
    )
    assert signal.detail["digital_source_types"] == [IPTC + "trainedAlgorithmicMedia"]
    assert signal.detail["actions"][0]["source_type"] == "trainedAlgorithmicMedia"
    assert "no digital source type" not in signal.summary


def test_generative_fill_with_the_source_type_in_an_edit_action_parameters(
    adobe: AdobeFiles,
) -> None:
    signal = only(read_c2pa(adobe.fill_jpeg))
    assert signal.origin is Origin.COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA
    assert signal.detail["actions"] == [
        {
            "action": "c2pa.edited",
            "source_type": "compositeWithTrainedAlgorithmicMedia",
            "agent": "Adobe Photoshop 26.0",
        }
    ]


def test_an_ingredient_whose_manifest_says_ai_only_in_its_parameters_makes_a_composite(
    adobe: AdobeFiles,
) -> None:
    signal = only(read_c2pa(adobe.composite_jpeg))
    assert signal.origin is Origin.COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA
    assert signal.detail["ai_ingredients"] == ["firefly.png"]
    assert signal.detail["digital_source_types"] == []  # the composite's own actions say nothing


def test_a_generative_type_in_the_parameters_is_not_hidden_by_the_field(
    adobe: AdobeFiles,
) -> None:
    signal = only(read_c2pa(adobe.field_and_parameters_jpeg))
    assert signal.origin is Origin.TRAINED_ALGORITHMIC_MEDIA
    assert signal.detail["digital_source_types"] == [
        IPTC + "digitalCapture",
        IPTC + "trainedAlgorithmicMedia",
    ]


@pytest.mark.parametrize("key", ["com.adobe.digitalSourceType", "digitalSourceType"])
def test_parameters_carry_a_source_type_under_either_key(key: str) -> None:
    action = {
        "action": "c2pa.created",
        "softwareAgent": "Gen",
        "parameters": {key: IPTC + "compositeSynthetic"},
    }
    signal = signal_from_manifest_store(store(("m", [actions(action)], [])))
    assert signal.origin is Origin.COMPOSITE_SYNTHETIC


# --- credentials that are there but cannot be read -------------------------------------------


def test_a_remote_manifest_names_its_url(ca: ThrowawayCA, tmp_path: Path) -> None:
    signal = only(read_c2pa(write_remote_manifest(tmp_path / "remote.jpg", ca)))
    assert (signal.detail["unreadable"], signal.detail["remote_url"]) == (
        "remote-manifest",
        REMOTE_MANIFEST_URL,
    )
    assert REMOTE_MANIFEST_URL in signal.summary and "not fetched" in signal.summary


def test_a_signature_algorithm_the_reader_does_not_support(ca: ThrowawayCA, tmp_path: Path) -> None:
    signal = only(read_c2pa(write_unsupported_algorithm(tmp_path / "alg.jpg", ca)))
    assert signal.detail["unreadable"] == "unsupported-algorithm"
    assert "algorithm.unsupported" in signal.detail["validation_failures"]
    # An Invalid manifest that says AI still counts as AI.
    assert (signal.origin, signal.evidence) == (Origin.TRAINED_ALGORITHMIC_MEDIA, Evidence.EMBEDDED)
    assert credentials_unreadable(signal.detail) == (
        "the signature uses an algorithm the reader does not support"
    )


def test_a_prerelease_manifest_is_unreadable_and_its_ai_type_still_legible(
    ca: ThrowawayCA, tmp_path: Path
) -> None:
    signal = only(read_c2pa(write_prerelease(tmp_path / "old.jpg", ca)))
    assert signal.detail["unreadable"] == "prerelease"
    assert "prerelease" in signal.detail["error"]
    assert signal.origin is Origin.TRAINED_ALGORITHMIC_MEDIA


def test_a_readable_manifest_is_not_unreadable(files: C2paFiles, tmp_path: Path) -> None:
    assert credentials_unreadable(only(read_c2pa(files.ai_jpeg)).detail) is None
    tampered = copy(files.ai_jpeg, tmp_path)
    flip_bytes_near_the_end(tampered)
    assert credentials_unreadable(only(read_c2pa(tampered)).detail) is None


def test_algorithmic_media_in_an_invalid_manifest_is_kept_like_a_generative_type(
    ca: ThrowawayCA, tmp_path: Path
) -> None:
    signal = only(read_c2pa(write_invalid_algorithmic_media(tmp_path / "old_gen.jpg", ca)))
    assert signal.detail["validation_state"] == "Invalid"
    assert signal.origin is Origin.ALGORITHMIC_MEDIA
    assert "ignored_origin" not in signal.detail


def test_algorithmic_media_legible_in_an_unparseable_store_is_kept() -> None:
    from provenance.detect.c2pa_manifest_store import unreadable_signal

    signal = unreadable_signal(
        "broken", sidecar=None, legible=b"..digitalsourcetype/algorithmicMedia.."
    )
    assert signal.origin is Origin.ALGORITHMIC_MEDIA


def test_a_cawg_identity_assertion_is_not_decoded(ca: ThrowawayCA, tmp_path: Path) -> None:
    # Decoding it would resolve the issuer's did:web host and, offline, fail the manifest.
    signal = only(read_c2pa(write_cawg_identity(tmp_path / "id.jpg", ca, "cawg-test.invalid")))
    assert (signal.origin, signal.detail["validation_state"]) == (
        Origin.TRAINED_ALGORITHMIC_MEDIA,
        "Valid",
    )
    assert not any(code.startswith("cawg.") for code in signal.detail["validation_failures"])


# --- the pure core: hand-made manifest stores ------------------------------------------------


def store(
    *manifests: tuple[str, list[dict[str, Any]], list[dict[str, Any]]],
    state: str = "Valid",
) -> dict[str, Any]:
    """A store whose first manifest is active; each is (label, assertions, ingredients)."""
    return {
        "active_manifest": manifests[0][0],
        "manifests": {
            label: {"label": label, "assertions": assertions, "ingredients": ingredients}
            for label, assertions, ingredients in manifests
        },
        "validation_state": state,
    }


def actions(*entries: dict[str, Any], label: str = "c2pa.actions") -> dict[str, Any]:
    return {"label": label, "data": {"actions": list(entries)}}


def created(source_type: str, agent: Any = None) -> dict[str, Any]:
    action: dict[str, Any] = {"action": "c2pa.created", "digitalSourceType": source_type}
    if agent is not None:
        action["softwareAgent"] = agent
    return action


def ingredient(title: str, manifest: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"title": title, "relationship": "componentOf"}
    if manifest is not None:
        entry["active_manifest"] = manifest
    return entry


@pytest.mark.parametrize(
    ("source_type", "origin"),
    [
        (IPTC + "trainedAlgorithmicMedia", Origin.TRAINED_ALGORITHMIC_MEDIA),
        (IPTC + "compositeSynthetic", Origin.COMPOSITE_SYNTHETIC),
        (
            "https://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia",
            Origin.COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA,
        ),
        (IPTC + "algorithmicMedia", Origin.ALGORITHMIC_MEDIA),
        (
            "http://c2pa.org/digitalsourcetype/trainedAlgorithmicData",
            Origin.TRAINED_ALGORITHMIC_DATA,
        ),
        (
            "https://c2pa.org/digitalsourcetype/trainedAlgorithmicData",
            Origin.TRAINED_ALGORITHMIC_DATA,
        ),
    ],
)
def test_source_types_in_either_scheme_map_to_origins(source_type: str, origin: Origin) -> None:
    signal = signal_from_manifest_store(store(("m", [actions(created(source_type, "Gen"))], [])))
    assert signal.origin is origin
    assert signal.tool == "Gen"


def test_v1_actions_with_a_string_agent_and_v2_with_an_indexed_agent() -> None:
    v1 = store(("m", [actions(created(IPTC + "trainedAlgorithmicMedia", "Gen 1"))], []))
    v2 = store(
        (
            "m",
            [
                {
                    "label": "c2pa.actions.v2__1",
                    "data": {
                        "actions": [
                            {**created(IPTC + "trainedAlgorithmicMedia"), "softwareAgentIndex": 0}
                        ],
                        "softwareAgents": [{"name": "Gen", "version": "2"}],
                    },
                }
            ],
            [],
        )
    )
    assert signal_from_manifest_store(v1).tool == "Gen 1"
    v2_signal = signal_from_manifest_store(v2)
    assert v2_signal.tool == "Gen"
    assert v2_signal.detail["actions"][0]["agent"] == "Gen 2"


def test_no_source_type_informs_without_an_origin() -> None:
    signal = signal_from_manifest_store(
        store(("m", [actions({"action": "c2pa.color_adjustments", "softwareAgent": "Nuke"})], []))
    )
    assert signal.origin is None
    assert signal.evidence is Evidence.EMBEDDED_SIGNED
    assert signal.tool == "Nuke"
    assert signal.summary.endswith("no digital source type")


def test_c2pa_empty_source_type_is_no_origin() -> None:
    signal = signal_from_manifest_store(
        store(("m", [actions(created("http://c2pa.org/digitalsourcetype/empty"))], []))
    )
    assert signal.origin is None


def test_own_generative_actions_outweigh_an_ai_ingredient() -> None:
    signal = signal_from_manifest_store(
        store(
            (
                "m",
                [actions(created(IPTC + "trainedAlgorithmicMedia", "Gen"))],
                [ingredient("a", "i")],
            ),
            ("i", [actions(created(IPTC + "compositeSynthetic", "Other"))], []),
        )
    )
    assert signal.origin is Origin.TRAINED_ALGORITHMIC_MEDIA
    assert signal.tool == "Gen"
    assert signal.detail["ai_ingredients"] == ["a"]


def test_an_ai_grandchild_ingredient_is_found() -> None:
    signal = signal_from_manifest_store(
        store(
            ("m", [actions(created(IPTC + "digitalCreation"))], [ingredient("comp", "c")]),
            ("c", [actions(created(IPTC + "composite"))], [ingredient("gen", "g")]),
            ("g", [actions(created(IPTC + "trainedAlgorithmicMedia", "Gen"))], []),
        )
    )
    assert signal.origin is Origin.COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA
    assert signal.tool == "Gen"
    assert signal.detail["ingredients"][0]["origin"] == "compositeWithTrainedAlgorithmicMedia"


def test_ingredient_cycles_end() -> None:
    signal = signal_from_manifest_store(
        store(
            ("a", [actions(created(IPTC + "digitalCreation"))], [ingredient("b", "b")]),
            ("b", [], [ingredient("a", "a"), ingredient("b", "b")]),
        )
    )
    assert signal.origin is Origin.DIGITAL_CREATION
    assert signal.ingredients == ("b",)


def test_an_ingredient_without_a_manifest_is_only_a_hint() -> None:
    signal = signal_from_manifest_store(
        store(("m", [actions(created(IPTC + "digitalCapture"))], [ingredient("plate.dpx")]))
    )
    assert signal.origin is Origin.DIGITAL_CAPTURE
    assert signal.ingredients == ("plate.dpx",)


def test_a_store_without_its_active_manifest_is_invalid() -> None:
    signal = signal_from_manifest_store({"active_manifest": "x", "manifests": {}})
    assert signal.origin is None
    assert signal.evidence is Evidence.EMBEDDED
    assert signal.detail["validation_state"] == "Invalid"


def test_unknown_source_types_are_kept_in_the_detail_only() -> None:
    signal = signal_from_manifest_store(
        store(("m", [actions(created("http://example.com/madeUpType"))], []))
    )
    assert signal.origin is None
    assert signal.detail["digital_source_types"] == ["http://example.com/madeUpType"]

"""What files say about themselves, in the ledger: signals recorded at ingest as claims beside
what the artist declared, disagreements blocked until a TD settles them, and copies of
generated images caught by their perceptual prints at ingest and at sweep."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo
from provenance.cli.render_audit import audit_problem_text

from provenance import Ledger, ProvenanceError
from provenance.audit.differences import RowDifference, differing_rows
from provenance.policy import load_policy

from ..audit.test_audit import drop_guards, raw
from ..builders import write_exr_sequence, write_image
from ..c2pa_fixtures import (
    REMOTE_MANIFEST_URL,
    C2paFiles,
    ThrowawayCA,
    make_test_ca,
    write_c2pa_files,
    write_invalid_algorithmic_media,
    write_prerelease,
    write_remote_manifest,
    write_unsupported_algorithm,
)
from ..conftest import Cli
from .test_perceptual import ai_image, human_image

A1111 = (
    "a matte painting of a castle at dusk, volumetric light\n"
    "Negative prompt: blurry\n"
    "Steps: 30, Sampler: DPM++ 2M Karras, CFG scale: 7, Seed: 1234, Size: 1024x576, "
    "Model hash: 31e35c80fc, Model: sd_xl_base_1.0, Version: v1.9.4"
)


@pytest.fixture(scope="module")
def ca() -> ThrowawayCA:
    return make_test_ca()


@pytest.fixture
def signed(tmp_path_factory: pytest.TempPathFactory, ca: ThrowawayCA) -> C2paFiles:
    return write_c2pa_files(tmp_path_factory.mktemp("signed"), ca)


def _generated_png(path: Path, index: int = 0) -> Path:
    """A generator's output as AUTOMATIC1111 saves it: the prompt and settings in a text chunk."""
    path.parent.mkdir(parents=True, exist_ok=True)
    info = PngInfo()
    info.add_text("parameters", A1111)
    ai_image(index).save(path, pnginfo=info)
    return path


def _copy(source: Path, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return target


def _rules(report) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted({f.rule for f in report.verdict.findings})


def test_an_undeclared_generated_image_is_caught_at_ingest(ledger: Ledger, workspace: Path) -> None:
    _generated_png(workspace / "elements" / "castle_v001.png")
    report = ledger.ingest(["elements"], origin="human", by="carol")
    assert [
        (
            name.decode().rsplit("/", 1)[-1],
            "a1111" in signal.summary.lower() or "automatic" in signal.summary.lower(),
        )
        for name, signal in report.signals
    ] == [("castle_v001.png", True)]
    card = ledger.show("elements/castle_v001.png")
    assert card.disputed and card.generative and card.status == "temporary"
    assert [(s.source, s.evidence, s.origin.alias if s.origin else None) for s in card.signals] == [
        ("a1111", "embedded", "ai")
    ]
    assert sorted((c.claimed_by, c.evidence) for c in card.claims) == [
        ("a1111", "embedded"),
        ("carol", "declared"),
    ]
    swept = ledger.sweep(workspace / "elements")
    assert _rules(swept) == ["genai-unapproved", "origin-disputed"]
    disputed = next(f for f in swept.verdict.findings if f.rule == "origin-disputed")
    assert "The files themselves say: ai (embedded" in disputed.message


def test_a_td_settles_the_disagreement_and_the_approval_follows(
    ledger: Ledger, workspace: Path
) -> None:
    _generated_png(workspace / "elements" / "castle_v001.png")
    ledger.add_tool("Stable Diffusion XL", generative=True, trains_on_inputs="no", secured="yes")
    ledger.ingest(["elements"], origin="human", by="carol")
    ledger.tag(
        "elements/castle_v001.png",
        origin="ai",
        tool="Stable Diffusion XL",
        note="the PNG carries its A1111 prompt",
        resolve=True,
    )
    swept = ledger.sweep(workspace / "elements")
    assert _rules(swept) == ["genai-unapproved"]
    ledger.approve("elements/castle_v001.png", ref="NFX-77 email", by="jane (studio)")
    assert ledger.sweep(workspace / "elements").verdict.clean


def test_a_signed_generated_image_declares_itself(
    ledger: Ledger, workspace: Path, signed: C2paFiles
) -> None:
    _copy(signed.ai_jpeg, workspace / "elements" / "firefly_sky.jpg")
    ledger.ingest(["elements"])  # nobody declared anything
    card = ledger.show("elements/firefly_sky.jpg")
    assert (card.origin.alias, card.disputed, card.status) == ("ai", False, "temporary")
    (signal,) = card.signals
    assert (signal.source, signal.evidence, signal.tool) == (
        "c2pa",
        "embedded-signed",
        "Adobe Firefly",
    )
    assert signal.detail["validation_state"] in ("Valid", "Trusted")
    assert _rules(ledger.sweep(workspace / "elements")) == ["genai-unapproved"]


def test_a_signed_camera_image_agrees_with_its_declaration(
    ledger: Ledger, workspace: Path, signed: C2paFiles
) -> None:
    _copy(signed.capture_jpeg, workspace / "plates" / "still.jpg")
    ledger.ingest(["plates"], origin="capture", by="alice")
    card = ledger.show("plates/still.jpg")
    assert (card.origin.alias, card.disputed) == ("capture", False)
    assert ledger.sweep(workspace / "plates").verdict.clean


def test_a_tampered_signed_image_still_says_ai_but_not_signed(
    ledger: Ledger, workspace: Path, signed: C2paFiles
) -> None:
    target = _copy(signed.ai_jpeg, workspace / "elements" / "sky.jpg")
    data = bytearray(target.read_bytes())
    data[-200] ^= 0xFF
    target.write_bytes(bytes(data))
    ledger.ingest(["elements"], origin="human")
    (signal,) = ledger.show("elements/sky.jpg").signals
    assert (signal.evidence, signal.detail["validation_state"]) == ("embedded", "Invalid")
    assert ledger.show("elements/sky.jpg").disputed


def test_an_exr_sequence_is_read_through_its_first_frames_sidecar(
    ledger: Ledger, workspace: Path, signed: C2paFiles
) -> None:
    frames = write_exr_sequence(workspace / "elements", "sky_gen", range(1001, 1004))
    # The signed fixture frame (with its sidecar) becomes the sequence's first frame.
    sidecar = signed.exr_with_sidecar.with_suffix(".c2pa")
    shutil.copyfile(signed.exr_with_sidecar, frames[0])
    shutil.copyfile(sidecar, frames[0].with_suffix(".c2pa"))
    ledger.ingest(["elements/sky_gen.####.exr"], origin="human")
    card = ledger.show("elements/sky_gen.####.exr")
    assert [s.source for s in card.signals] == ["c2pa-sidecar"]
    assert card.disputed


def test_signals_are_recorded_once(ledger: Ledger, workspace: Path) -> None:
    _generated_png(workspace / "elements" / "castle_v001.png")
    first = ledger.ingest(["elements"], origin="human", by="carol")
    time.sleep(0.01)
    again = ledger.ingest(["elements"], origin="human", by="carol")
    assert (len(first.signals), first.claims_added) == (1, 2)
    assert (len(again.signals), again.claims_added) == (0, 0)
    assert len(ledger.show("elements/castle_v001.png").claims) == 2


def test_a_reencoded_copy_of_generated_material_is_caught_at_sweep(
    ledger: Ledger, workspace: Path
) -> None:
    ledger.add_tool("Runway Gen-4", generative=True, trains_on_inputs="no", secured="yes")
    source = workspace / "elements" / "sky_gen_v001.png"
    source.parent.mkdir(parents=True)
    ai_image(3).save(source)
    ledger.ingest(["elements"], origin="ai", tool="Runway Gen-4", by="bob")
    disguised = workspace / "delivery" / "plate_cleanup_v002.jpg"
    disguised.parent.mkdir()
    with Image.open(source) as image:
        image.convert("RGB").resize((image.width * 3 // 4, image.height * 3 // 4)).save(
            disguised, quality=75
        )
    write_image(workspace / "delivery" / "unrelated.png", seed="x")
    report = ledger.sweep(workspace / "delivery")
    near = [f for f in report.verdict.findings if f.rule == "near-ai-copy"]
    assert [f.files for f in near] == [(str(disguised),)]
    assert "elements/sky_gen_v001.png" in near[0].message
    assert "perceptual distance" in near[0].message


def test_a_copy_ingested_as_human_is_flagged_until_a_td_settles_it(
    ledger: Ledger, workspace: Path
) -> None:
    ledger.add_tool("Runway Gen-4", generative=True, trains_on_inputs="no", secured="yes")
    ai_image(5).save(_parent(workspace / "elements" / "matte_gen.png"))
    ledger.ingest(["elements"], origin="ai", tool="Runway Gen-4")
    with Image.open(workspace / "elements" / "matte_gen.png") as image:
        image.convert("L").convert("RGB").save(
            _parent(workspace / "comp" / "matte.jpg"), quality=85
        )
    human_image(7).save(_parent(workspace / "comp" / "roto.png"))
    ledger.ingest(["comp"], origin="human", by="carol")
    card = ledger.show("comp/matte.jpg")
    assert [s.source for s in card.signals] == ["perceptual"]
    assert ledger.show("comp/roto.png").signals == []
    swept = ledger.sweep(workspace / "comp")
    assert _rules(swept) == ["near-ai-copy"]
    ledger.tag(
        "comp/matte.jpg", origin="human", note="repainted by hand from the plate", resolve=True
    )
    assert ledger.sweep(workspace / "comp").verdict.clean


def test_show_lists_the_signals(run: Cli, ledger: Ledger, workspace: Path) -> None:
    _generated_png(workspace / "elements" / "castle_v001.png")
    ledger.ingest(["elements"], origin="human")
    text = run("show", "elements/castle_v001.png")
    assert text.exit_code == 0
    assert "signals" in text.output and "a1111 [embedded]" in text.output
    shown = run("show", "elements/castle_v001.png", "--json")
    import json

    signals = json.loads(shown.output)["signals"]
    assert [(s["source"], s["origin"], s["evidence"]) for s in signals] == [
        ("a1111", "ai", "embedded")
    ]


def _parent(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def test_a_file_first_seen_by_a_sweep_is_read_when_it_is_ingested(
    ledger: Ledger, workspace: Path
) -> None:
    # The sweep fingerprints the untracked file into the stat cache; the ingest then trusts
    # the cache and hashes nothing, and must still read what the file says.
    ledger.racy_window_ns = 20_000_000
    _generated_png(workspace / "incoming" / "castle_v002.png")
    time.sleep(0.05)
    assert "untracked" in _rules(ledger.sweep(workspace / "incoming"))
    report = ledger.ingest(["incoming"], origin="human")
    assert report.files_read == 0
    assert [s.source for s in ledger.show("incoming/castle_v002.png").signals] == ["a1111"]


def test_a_signal_deleted_outside_provenance_is_caught_by_the_audit(
    ledger: Ledger, workspace: Path, db_url: str, backend: str
) -> None:
    _generated_png(workspace / "elements" / "castle_v001.png")
    ledger.ingest(["elements"], origin="human", by="carol")
    assert ledger.audit_verify().ok
    # An insider hides what the file said: drop the guard, delete the signal and its claim.
    raw(
        db_url,
        [
            *drop_guards(backend, "signals", "claims"),
            "DELETE FROM signals",
            "DELETE FROM claims WHERE evidence = 'embedded'",
        ],
    )
    assert not ledger.show("elements/castle_v001.png").disputed
    deleted = {
        (row.table, row.how, row.values["evidence"])
        for row in differing_rows(ledger.audit_verify().problems)
        if isinstance(row, RowDifference)
    }
    assert deleted == {("signals", "removed", "embedded"), ("claims", "removed", "embedded")}
    problems = [audit_problem_text(p) for p in ledger.audit_verify().problems]
    assert any(p.startswith("signal a1111 (embedded)") and "deleted" in p for p in problems)
    assert any("claim that" in p and "a1111" in p and "deleted" in p for p in problems)


def test_a_trust_list_that_cannot_be_used_stops_an_ingest_before_it_starts(
    ledger: Ledger, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Plain images carry no manifest: the misconfiguration must show anyway, at once.
    write_image(workspace / "plates" / "still.png", seed="s")
    monkeypatch.setenv("PROVENANCE_C2PA_TRUST_ANCHORS", str(workspace / "missing.pem"))
    with pytest.raises(ProvenanceError, match=r"cannot be read.*PEM file"):
        ledger.ingest(["plates"], origin="capture")
    (workspace / "anchors.pem").write_text("not a certificate\n")
    monkeypatch.setenv("PROVENANCE_C2PA_TRUST_ANCHORS", str(workspace / "anchors.pem"))
    with pytest.raises(ProvenanceError, match="are not PEM certificates"):
        ledger.sweep(workspace / "plates")
    monkeypatch.delenv("PROVENANCE_C2PA_TRUST_ANCHORS")
    assert ledger.ingest(["plates"], origin="capture").asset_count == 1


# --- disagreements that are not about generated material -------------------------------------


def _with_xmp(path: Path, source_type: str) -> Path:
    """A file whose XMP declares an IPTC digital source type, as a camera app or a DCC writes it."""
    from .test_detect_metadata import save_with_xmp, xmp_packet

    path.parent.mkdir(parents=True, exist_ok=True)
    packet = xmp_packet(f"http://cv.iptc.org/newscodes/digitalsourcetype/{source_type}")
    save_with_xmp(path, packet)
    return path


@pytest.mark.parametrize("source_type", ["digitalCapture", "softwareImage"])
def test_a_human_file_whose_xmp_says_another_non_generative_origin_only_warns(
    ledger: Ledger, workspace: Path, source_type: str
) -> None:
    _with_xmp(workspace / "paint" / "cleanup_v001.png", source_type)
    ledger.ingest(["paint"], origin="human", by="carol")
    card = ledger.show("paint/cleanup_v001.png")
    assert (card.disputed, card.differs, card.generative) == (False, True, False)
    swept = ledger.sweep(workspace / "paint")
    assert not swept.verdict.blocked
    (finding,) = swept.verdict.findings
    assert (finding.rule, finding.severity.value) == ("origin-differs", "warn")
    assert "none of them generative" in finding.message
    assert f"{source_type} (embedded" in finding.message or "xmp" in finding.message
    # A TD settles it like any disagreement: the warning goes, the record stays.
    ledger.tag("paint/cleanup_v001.png", origin="human", note="repainted by hand", resolve=True)
    assert ledger.sweep(workspace / "paint").verdict.clean
    assert len(ledger.show("paint/cleanup_v001.png").claims) == 3


def test_a_human_file_whose_signed_manifest_says_camera_only_warns(
    ledger: Ledger, workspace: Path, signed: C2paFiles
) -> None:
    _copy(signed.capture_jpeg, workspace / "paint" / "still.jpg")
    ledger.ingest(["paint"], origin="human", by="carol")
    swept = ledger.sweep(workspace / "paint")
    assert [(f.rule, f.blocks) for f in swept.verdict.findings] == [("origin-differs", False)]


def test_a_difference_still_blocks_when_any_side_is_generative_or_unknown(
    ledger: Ledger, workspace: Path, signed: C2paFiles
) -> None:
    # The vendor's variants: the same disagreement, with a generated or an unknown side.
    _copy(signed.ai_jpeg, workspace / "a" / "sky.jpg")
    _with_xmp(workspace / "b" / "sky.png", "compositeWithTrainedAlgorithmicMedia")
    _with_xmp(workspace / "c" / "sky.png", "digitalCapture")
    ledger.ingest(["a", "b"], origin="capture", by="vendor")
    ledger.ingest(["c"], origin="unknown", by="vendor")
    for folder in ("a", "b", "c"):
        rules = {f.rule: f.blocks for f in ledger.sweep(workspace / folder).verdict.findings}
        assert rules.get("origin-disputed") is True, (folder, rules)
        assert "origin-differs" not in rules


def test_show_says_claims_differ(run: Cli, ledger: Ledger, workspace: Path) -> None:
    _with_xmp(workspace / "paint" / "cleanup_v001.png", "digitalCapture")
    ledger.ingest(["paint"], origin="human")
    assert (
        "(DIFFERS: claims disagree, none generative)"
        in run("show", "paint/cleanup_v001.png").output
    )
    import json

    shown = json.loads(run("show", "paint/cleanup_v001.png", "--json").output)
    assert (shown["disputed"], shown["differs"]) == (False, True)
    swept = run("sweep", "paint", expect=3)
    assert "WARN  origin-differs: paint/cleanup_v001.png" in swept.output


def test_a_policy_may_make_a_difference_block(
    ledger: Ledger, workspace: Path, tmp_path: Path
) -> None:
    _with_xmp(workspace / "paint" / "cleanup_v001.png", "digitalCapture")
    ledger.ingest(["paint"], origin="human")
    strict = tmp_path / "strict.toml"
    strict.write_text('name = "strict"\n[rules]\norigin-differs = "block"\n')
    swept = ledger.sweep(workspace / "paint", policy=load_policy(strict))
    assert [(f.rule, f.blocks) for f in swept.verdict.findings] == [("origin-differs", True)]


# --- metadata too large to read ----------------------------------------------------------------


def test_an_xmp_padded_past_the_read_limit_is_a_warning_not_silence(
    ledger: Ledger, workspace: Path, run: Cli
) -> None:
    from .test_detect_metadata import add_before_iend, write_png, xmp_itxt, xmp_packet

    generated = xmp_packet("http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia")
    padded = workspace / "elements" / "sky.png"
    padded.parent.mkdir()
    add_before_iend(write_png(padded), xmp_itxt(generated + b" " * (20 << 20)))
    incoming = workspace / "incoming"
    incoming.mkdir()
    shutil.copy(padded, incoming / "sky_copy.png")
    (incoming / "sky_copy.png").write_bytes((incoming / "sky_copy.png").read_bytes() + b"\0")
    ledger.ingest(["elements"], origin="human", by="carol")
    (signal,) = ledger.show("elements/sky.png").signals
    assert signal.source == "metadata" and "20.0 MiB" in signal.summary
    (finding,) = ledger.sweep(workspace / "elements").verdict.findings
    assert (finding.rule, finding.severity.value) == ("metadata-unread", "warn")
    assert "a PNG iTXt chunk of 20.0 MiB" in finding.message and "8 MiB" in finding.message
    # An untracked file says the same at sweep, beside its untracked finding.
    rules = {f.rule: f.blocks for f in ledger.sweep(incoming).verdict.findings}
    assert rules == {"untracked": True, "metadata-unread": False}
    swept = run("sweep", "elements", expect=3)
    assert "WARN  metadata-unread: elements/sky.png" in swept.stdout
    # A TD who looked at it with another tool settles it.
    ledger.tag("elements/sky.png", origin="human", note="exiftool: no source type", resolve=True)
    assert ledger.sweep(workspace / "elements").verdict.clean


# --- credentials that cannot be read ---------------------------------------------------------


def test_a_remote_manifest_is_a_warning_naming_its_url(
    ledger: Ledger, workspace: Path, ca: ThrowawayCA, tmp_path: Path
) -> None:
    write_remote_manifest(workspace / "elements" / "sky.jpg", ca)
    ledger.ingest(["elements"], origin="human", by="carol")
    (signal,) = ledger.show("elements/sky.jpg").signals
    assert signal.detail["remote_url"] == REMOTE_MANIFEST_URL
    swept = ledger.sweep(workspace / "elements")
    assert not swept.verdict.blocked
    (finding,) = swept.verdict.findings
    assert (finding.rule, finding.severity.value) == ("credentials-unreadable", "warn")
    assert REMOTE_MANIFEST_URL in finding.message and "remote" in finding.message
    # A studio may refuse what it cannot check.
    strict = tmp_path / "strict.toml"
    strict.write_text('[rules]\ncredentials-unreadable = "block"\n')
    assert ledger.sweep(workspace / "elements", policy=load_policy(strict)).verdict.blocked
    # A TD who checked the manifest settles it.
    ledger.tag("elements/sky.jpg", origin="human", note="vendor sent the manifest", resolve=True)
    assert ledger.sweep(workspace / "elements").verdict.clean


def test_an_untracked_file_with_unreadable_credentials_is_reported_at_sweep(
    ledger: Ledger, workspace: Path, ca: ThrowawayCA
) -> None:
    write_prerelease(workspace / "incoming" / "old.jpg", ca)
    write_remote_manifest(workspace / "incoming" / "far.jpg", ca)
    findings = ledger.sweep(workspace / "incoming").verdict.findings
    unreadable = {
        f.files[0].rsplit("/", 1)[-1]: f.message
        for f in findings
        if f.rule == "credentials-unreadable"
    }
    assert "prerelease" in unreadable["old.jpg"]
    assert REMOTE_MANIFEST_URL in unreadable["far.jpg"]
    # The prerelease manifest's AI type is still legible: that blocks on its own.
    assert any(f.rule == "embedded-ai" and f.files[0].endswith("old.jpg") for f in findings)


def test_an_unverifiable_ai_manifest_still_counts_as_ai(
    ledger: Ledger, workspace: Path, ca: ThrowawayCA
) -> None:
    write_unsupported_algorithm(workspace / "elements" / "sky.jpg", ca)
    ledger.ingest(["elements"], origin="human", by="carol")
    assert ledger.show("elements/sky.jpg").disputed
    rules = {f.rule: f.blocks for f in ledger.sweep(workspace / "elements").verdict.findings}
    assert rules == {
        "origin-disputed": True,
        "genai-unapproved": True,
        "credentials-unreadable": False,
    }


def test_algorithmic_media_in_an_invalid_manifest_is_recorded(
    ledger: Ledger, workspace: Path, ca: ThrowawayCA
) -> None:
    write_invalid_algorithmic_media(workspace / "elements" / "noise.jpg", ca)
    ledger.ingest(["elements"], origin="human", by="carol")
    card = ledger.show("elements/noise.jpg")
    assert [c.origin.value for c in card.claims] == ["digitalCreation", "algorithmicMedia"]
    assert card.differs
    assert [f.rule for f in ledger.sweep(workspace / "elements").verdict.findings] == [
        "origin-differs"
    ]


# --- generator metadata the ledger records -----------------------------------------------------


def test_a_comfyui_workflow_without_its_prompt_is_disputed_until_a_td_settles_it(
    ledger: Ledger, workspace: Path
) -> None:
    from ..generator_fixtures import make_comfyui_workflow_png

    make_comfyui_workflow_png(workspace / "boards", None)  # type: ignore[arg-type]
    ledger.ingest(["boards"], origin="human", by="carol")
    card = ledger.show("boards/editor.png")
    assert [(s.source, s.evidence) for s in card.signals] == [("comfyui-workflow", "inferred")]
    assert card.disputed
    disputed = next(
        f
        for f in ledger.sweep(workspace / "boards").verdict.findings
        if f.rule == "origin-disputed"
    )
    assert "ai (inferred: ComfyUI workflow" in disputed.message
    assert (
        "a screenshot of the node editor" in disputed.message and "TD settles" in disputed.message
    )
    ledger.tag("boards/editor.png", origin="human", note="a screenshot of the graph", resolve=True)
    assert ledger.sweep(workspace / "boards").verdict.clean


def test_every_generator_a_file_carries_is_recorded(ledger: Ledger, workspace: Path) -> None:
    from ..generator_fixtures import make_stability_matrix_png, make_stealth_pngcomp

    make_stability_matrix_png(workspace / "elements", None)  # type: ignore[arg-type]
    make_stealth_pngcomp(workspace / "elements", None)  # type: ignore[arg-type]
    report = ledger.ingest(["elements"])
    assert sorted((name.decode().rsplit("/", 1)[-1], s.source) for name, s in report.signals) == [
        ("matrix.png", "a1111"),
        ("matrix.png", "comfyui"),
        ("matrix.png", "stability-matrix"),
        ("stealth_comp.png", "a1111"),
    ]
    stealth = ledger.show("elements/stealth_comp.png")
    assert (stealth.origin.alias, stealth.signals[0].detail["carrier"]) == ("ai", "png-alpha-lsb")


def test_prints_of_the_old_algorithm_are_recomputed_by_db_reprint(
    run: Cli, ledger: Ledger, workspace: Path
) -> None:
    """A ledger upgraded from whole-frame prints (dct64.1) keeps them but never compares them:
    `db reprint` reads each image where it was seen, if its bytes still match, and prints it."""
    from sqlalchemy import delete, update

    from provenance.store.engine import write_session
    from provenance.store.models import PerceptualPrint

    ledger.add_tool("Runway Gen-4", generative=True, trains_on_inputs="no", secured="yes")
    ai_image(3).save(_parent(workspace / "elements" / "sky_gen.png"))
    ai_image(4).save(_parent(workspace / "elements" / "moved_gen.png"))
    ledger.ingest(["elements"], origin="ai", tool="Runway Gen-4")
    with write_session(ledger.engine) as session:
        session.execute(delete(PerceptualPrint).where(PerceptualPrint.region != "whole"))
        session.execute(update(PerceptualPrint).values(algorithm="dct64.1", detail=None))
    (workspace / "elements" / "moved_gen.png").unlink()
    copy = workspace / "delivery" / "sky_flipped.jpg"
    with Image.open(workspace / "elements" / "sky_gen.png") as image:
        image.transpose(Image.Transpose.FLIP_LEFT_RIGHT).convert("RGB").save(
            _parent(copy), quality=90
        )
    assert "near-ai-copy" not in _rules(ledger.sweep(workspace / "delivery"))
    shown = run("db", "reprint", "--json")
    assert shown.exit_code == 0, shown.output
    report = json.loads(shown.output)
    assert report["reprinted"] == 1 and len(report["missing"]) == 1
    assert "near-ai-copy" in _rules(ledger.sweep(workspace / "delivery"))


def test_near_ai_copy_findings_give_every_match_as_fields_in_json(
    run: Cli, ledger: Ledger, workspace: Path
) -> None:
    """sweep, ingest and finalize --json: matched asset and version, distance, threshold,
    which print matched; every generated asset holding the matched bytes, not the first."""
    ledger.add_tool("Runway Gen-4", generative=True, trains_on_inputs="no", secured="yes")
    source = _parent(workspace / "elements" / "sky_gen_v001.png")
    ai_image(3).save(source)
    _copy(source, workspace / "elements" / "sky_gen_alt.png")
    ledger.ingest(["elements"], origin="ai", tool="Runway Gen-4")
    with Image.open(source) as image:
        width, height = image.size
        cropped = image.convert("RGB").crop((width // 10, 0, width, height))
        cropped.save(_parent(workspace / "delivery" / "plate_v002.jpg"), quality=90)
    swept = run("sweep", "delivery", "--json", expect=3)
    findings = [f for f in json.loads(swept.output)["findings"] if f["rule"] == "near-ai-copy"]
    assert len(findings) == 1
    matches = findings[0]["details"]["matches"]
    assert sorted(m["asset"].rsplit("/", 2)[-2:] for m in matches) == [
        ["elements", "sky_gen_alt.png"],
        ["elements", "sky_gen_v001.png"],
    ]
    for match in matches:
        assert match["version"] == 1 and match["threshold"] == 8
        assert 0 <= match["distance"] <= 8 and match["detail_distance"] <= 48
        assert match["region"].startswith("crop-left") and match["mirrored"] is False
        assert "on the left" in match["matched"]
    finalized = run("finalize", "delivery", "--name", "EP1", "--json", expect=3)
    final = [f for f in json.loads(finalized.output)["findings"] if f["rule"] == "near-ai-copy"]
    assert final[0]["details"] == findings[0]["details"]
    ingested = run("ingest", "delivery", "--origin", "human", "--json")
    assert ingested.exit_code == 0, ingested.output
    signals = [s for s in json.loads(ingested.output)["signals"] if s["source"] == "perceptual"]
    assert [len(s["detail"]["matches"]) for s in signals] == [2]
    assert signals[0]["detail"]["matches"][0]["region"].startswith("crop-left")
    after = json.loads(run("sweep", "delivery", "--json", expect=3).output)["findings"]
    held = [f for f in after if f["rule"] == "near-ai-copy"]
    assert len(held) == 1 and len(held[0]["details"]["matches"]) == 2


def test_an_image_that_cannot_be_printed_is_said_in_json(
    run: Cli, ledger: Ledger, workspace: Path
) -> None:
    Image.new("RGB", (320, 200), (30, 30, 30)).save(_parent(workspace / "in" / "black.png"))
    (workspace / "in" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    ingested = json.loads(run("ingest", "in", "--origin", "human", "--json").output)
    assert sorted((u["asset"].rsplit("/", 1)[-1], u["problem"]) for u in ingested["unprinted"]) == [
        ("black.png", "blank: one flat colour"),
        ("broken.png", "cannot be decoded"),
    ]
    Image.new("RGB", (320, 200), (200, 10, 10)).save(_parent(workspace / "out" / "red.png"))
    swept = json.loads(run("sweep", "out", "--json", expect=3).output)
    said = [f for f in swept["findings"] if f["rule"] == "no-print"]
    assert [(f["severity"], [p.rsplit("/", 1)[-1] for p in f["files"]]) for f in said] == [
        ("warn", ["red.png"])
    ]
    assert "blank: one flat colour" in said[0]["message"]

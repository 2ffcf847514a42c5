"""Decisions on the carried-over list (issue 18), each pinned by a test."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from provenance import Ledger

from ..builders import write_bytes, write_sequence
from ..conftest import Cli


def test_show_of_a_single_file_prints_the_digest_xxhsum_prints(
    run: Cli, ledger: Ledger, workspace: Path
) -> None:
    path = write_bytes(workspace / "plates" / "p.exr", 4096, seed="plate")
    write_sequence(workspace / "comp", "c", range(1001, 1004), seed="comp")
    ledger.ingest(["plates", "comp"], origin="capture")
    reference = subprocess.run(
        ["xxhsum", "-H2", str(path)], capture_output=True, text=True, check=True
    ).stdout.split()[0]
    shown = run("show", "plates/p.exr").stdout
    assert f"  digest    xxh3-128:{reference} (the file's; xxhsum -H2 prints it)" in shown
    card = json.loads(run("show", "plates/p.exr", "--json").stdout)
    assert card["file_digest"] == f"xxh3-128:{reference}"
    assert card["asset"]["digest"] != card["file_digest"]  # (the version's aggregate)
    sequence = run("show", "comp/c.####.tif").stdout
    assert "(of its 3 members, in order)" in sequence


def test_show_lists_the_likeness_a_version_uses_and_its_consent(
    run: Cli, ledger: Ledger, workspace: Path
) -> None:
    write_bytes(workspace / "double.exr", 64, seed="double")
    ledger.ingest(["double.exr"], origin="human", likeness=["Ana Torres"])
    assert "  likeness  Ana Torres: NO CONSENT on record" in run("show", "double.exr").stdout
    ledger.add_consent("ana torres", scope="S01 ep 101", ref="form 88")
    assert (
        "  likeness  Ana Torres: consent S01 ep 101 (form 88)" in run("show", "double.exr").stdout
    )
    card = json.loads(run("show", "double.exr", "--json").stdout)
    (mark,) = card["likeness"]
    assert mark["performer"] == "Ana Torres" and mark["consents"][0]["ref"] == "form 88"


def _a1111_png(path: Path) -> Path:
    from PIL import Image, PngImagePlugin

    path.parent.mkdir(parents=True, exist_ok=True)
    info = PngImagePlugin.PngInfo()
    info.add_text(
        "parameters",
        "a castle\nNegative prompt: blurry\nSteps: 30, Sampler: Euler a, CFG scale: 7, "
        "Seed: 1, Size: 64x36, Model: sd_xl_base_1.0",
    )
    Image.new("RGB", (64, 36), (90, 60, 40)).save(path, pnginfo=info)
    return path


def test_a_signals_tool_is_the_registered_tool_of_that_name(
    run: Cli, ledger: Ledger, workspace: Path
) -> None:
    _a1111_png(workspace / "a" / "castle.png")
    ledger.ingest(["a"])
    # Unregistered: shown by the name the file gave it.
    shown = run("show", "a/castle.png").stdout
    assert "ai with AUTOMATIC1111 (unregistered) by a1111 (embedded)" in shown
    # Registered (generative, not vetted): the claim names it, and its vetting counts.
    ledger.add_tool("AUTOMATIC1111", generative=True)
    _a1111_png(workspace / "b" / "castle2.png")
    ledger.ingest(["b"])
    card = json.loads(run("show", "b/castle2.png", "--json").stdout)
    (claim,) = [c for c in card["claims"] if c["claimed_by"] == "a1111"]
    assert (claim["tool"], claim["unregistered_tool"]) == ("AUTOMATIC1111", None)
    rules = {f.rule for f in ledger.sweep(workspace / "b").verdict.findings}
    assert {"genai-unapproved", "genai-tool-risk"} <= rules

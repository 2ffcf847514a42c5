"""What a new user meets: an artist told their claim is disputed, a delivered copy looked up by
its content, names suggested that are free, summaries that read as sentences, a command that
says what it wrote, and shell completion."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image, PngImagePlugin

from provenance import Ledger
from provenance.ledger import next_free_name

from ..builders import write_bytes, write_sequence
from ..conftest import Cli

A1111 = (
    "a castle on a cliff at dusk, matte painting\n"
    "Negative prompt: blurry\n"
    "Steps: 30, Sampler: DPM++ 2M Karras, CFG scale: 7, Seed: 1234, Size: 64x36, "
    "Model: sd_xl_base_1.0"
)


@pytest.fixture
def vetted(run: Cli) -> Cli:
    run("tools", "add", "Runway Gen-4", "--vendor", "Runway", "--generative",
        "--trains-on-inputs", "no", "--secured", "yes")  # fmt: skip
    return run


# -- an artist is told their claim is disputed -----------------------------------------------


def test_an_artist_is_told_when_the_file_says_otherwise(vetted: Cli, workspace: Path) -> None:
    matte = workspace / "matte" / "castle_dmp_v001.png"
    matte.parent.mkdir()
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", A1111)
    Image.new("RGB", (64, 36), (90, 60, 40)).save(matte, pnginfo=info)
    done = vetted("ingest", "matte/", "--origin", "human")
    assert (
        "DISPUTED matte/castle_dmp_v001.png v1: claimed as human, ai, but its files say ai"
        in done.stdout
    )
    assert (
        "it blocks delivery until a TD settles it: `provenance tag matte/castle_dmp_v001.png "
        "--origin X --resolve --note WHY`" in done.stdout
    )
    document = json.loads(vetted("ingest", "matte/", "--origin", "human", "--json").stdout)
    (note,) = document["disputed"]
    assert note["asset"].endswith("castle_dmp_v001.png") and note["blocks_delivery"]
    assert any("a1111" in said.lower() or "automatic" in said.lower() for said in note["files_say"])
    assert note["fix"].startswith("`provenance tag ")


def test_an_artist_is_told_when_the_bytes_are_recorded_as_generated(
    vetted: Cli, workspace: Path
) -> None:
    write_bytes(workspace / "elements" / "gen.abc", 300, seed="generated geometry")
    vetted("ingest", "elements/gen.abc", "--origin", "ai", "--tool", "Runway Gen-4")
    shutil.copy(workspace / "elements/gen.abc", workspace / "mine.abc")
    done = json.loads(vetted("ingest", "mine.abc", "--origin", "human", "--json").stdout)
    (note,) = done["disputed"]
    assert note["same_bytes_as"] == [
        {"asset": str(workspace / "elements" / "gen.abc"), "version": 1, "origin": "ai"}
    ]
    # A plain ingest of new bytes is told nothing.
    write_bytes(workspace / "other.abc", 300, seed="my own")
    assert (
        json.loads(vetted("ingest", "other.abc", "--origin", "human", "--json").stdout)["disputed"]
        == []
    )


# -- a delivered copy can be looked up --------------------------------------------------------


def test_show_lineage_and_history_find_a_delivered_copy_by_its_bytes(
    vetted: Cli, workspace: Path
) -> None:
    write_sequence(workspace / "elements", "sky", range(1001, 1003), seed="sky")
    write_sequence(workspace / "comp", "c", range(1001, 1003), seed="comp")
    vetted("ingest", "elements/", "--origin", "ai", "--tool", "Runway Gen-4")
    vetted("ingest", "comp/", "--origin", "human", "--from", "elements/sky.####.tif")
    shutil.copytree(workspace / "comp", workspace / "delivery")
    shown = vetted("show", "delivery/c.1002.tif").stdout
    assert shown.startswith("delivery/c.1002.tif is not recorded at its path: read to hash it")
    assert "comp/c.####.tif v1, frame 1002  (shown below)" in shown
    card = json.loads(vetted("show", "delivery/c.1002.tif", "--json").stdout)
    assert card["read_as"]["holders"][0]["frame"] == 1002
    assert card["asset"]["path"].endswith("comp/c.####.tif") and card["frame"] == 1002
    lineage = vetted("lineage", "delivery/c.1001.tif").stdout
    assert "is not recorded at its path" in lineage and "elements/sky.####.tif" in lineage
    history = json.loads(vetted("history", "delivery/c.1001.tif", "--json").stdout)
    assert history["read_as"]["path"].endswith("delivery/c.1001.tif") and history["events"]
    # Bytes nobody holds: said plainly.
    write_bytes(workspace / "delivery" / "new.exr", 64, seed="new")
    missing = vetted("show", "delivery/new.exr", expect=1)
    assert "no recorded asset holds its bytes" in missing.stderr


# -- a name suggested is a free one --------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "taken", "free"),
    [
        ("EP103_VFX_v001", set(), "EP103_VFX_v002"),
        ("EP103_VFX_v001", {"EP103_VFX_v002", "EP103_VFX_v003"}, "EP103_VFX_v004"),
        ("EP103_VFX_v009", set(), "EP103_VFX_v010"),
        ("EP103_VFX_v1", set(), "EP103_VFX_v2"),
        ("EP103", set(), "EP103_v002"),
    ],
)
def test_the_next_free_name(name: str, taken: set[str], free: str) -> None:
    assert next_free_name(name, taken.__contains__) == free


def test_finalizing_under_a_used_name_suggests_the_next_free_one(
    vetted: Cli, workspace: Path
) -> None:
    write_bytes(workspace / "plates" / "p.exr", 64, seed="plate")
    vetted("ingest", "plates/", "--origin", "capture")
    shutil.copytree(workspace / "plates", workspace / "d1")
    shutil.copytree(workspace / "plates", workspace / "d2")
    vetted("finalize", "d1", "--name", "EP103_VFX_v001")
    refused = vetted("finalize", "d2", "--name", "EP103_VFX_v001", expect=1)
    assert "the next free one is 'EP103_VFX_v002'" in refused.stderr


# -- summaries read as sentences -------------------------------------------------------------------


def test_summaries_say_one_file_not_one_files(vetted: Cli, workspace: Path) -> None:
    write_bytes(workspace / "plates" / "p.exr", 64, seed="plate")
    ingested = vetted("ingest", "plates/", "--origin", "capture").stdout
    assert "1 asset (1 new, 0 changed, 0 unchanged), 1 file (" in ingested
    assert "read 1 file," in ingested and "1 claim and 0 lineage links added" in ingested
    swept = vetted("sweep", "plates").stdout
    assert "1 file, 1 asset, 0 blocking findings, 0 warnings (policy netflix-2025)" in swept


# -- audit export says what it wrote ----------------------------------------------------------------


def test_audit_export_says_what_it_wrote(vetted: Cli, workspace: Path, tmp_path: Path) -> None:
    target = tmp_path / "events.jsonl"
    done = vetted("audit", "export", "-o", str(target))
    events = target.read_text().splitlines()
    size = target.stat().st_size
    assert done.stdout.startswith(f"Exported {len(events)} events (")
    assert str(target) in done.stdout and done.stderr == ""
    assert f"{size} B" in done.stdout or "KiB" in done.stdout
    to_stdout = vetted("audit", "export")
    assert [json.loads(line)["schema"] for line in to_stdout.stdout.splitlines()] == [
        "Event.1"
    ] * len(events)
    assert "to standard output" in to_stdout.stderr


# -- shell completion --------------------------------------------------------------------------------


def _provenance() -> str:
    found = shutil.which("provenance", path=os.path.dirname(sys.executable))
    assert found is not None, "the provenance command is installed beside this interpreter"
    return found


@pytest.mark.parametrize(("shell", "marker"), [("bash", "complete -o"), ("zsh", "#compdef"),
                                               ("fish", "complete --no-files")])  # fmt: skip
def test_the_completion_script_is_produced(shell: str, marker: str, tmp_path: Path) -> None:
    done = subprocess.run(
        [_provenance()],
        env={**os.environ, "_PROVENANCE_COMPLETE": f"{shell}_source"},
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0 and marker in done.stdout, done.stderr


def test_completion_completes_commands(tmp_path: Path) -> None:
    done = subprocess.run(
        [_provenance()],
        env={
            **os.environ,
            "_PROVENANCE_COMPLETE": "bash_complete",
            "COMP_WORDS": "provenance sw",
            "COMP_CWORD": "1",
        },
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert "plain,sweep" in done.stdout.splitlines()


def test_ledger_api_accepts_the_same_file_read_as_in_python(
    ledger: Ledger, workspace: Path
) -> None:
    write_bytes(workspace / "plates" / "p.exr", 64, seed="plate")
    ledger.ingest(["plates"], origin="capture")
    shutil.copytree(workspace / "plates", workspace / "copy")
    card = ledger.show(str(workspace / "copy" / "p.exr"))
    assert card.read_as is not None and card.asset.name.endswith("plates/p.exr")

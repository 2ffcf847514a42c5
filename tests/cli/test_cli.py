"""The command line as artists, TDs and auditors use it: exit codes, text, JSON documents."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from pathlib import Path

import pytest
from provenance.cli.render import change_text, history_text, history_what

from provenance.origins import Origin
from provenance.records import (
    ApprovalRecorded,
    ClaimRecorded,
    DeliveredHolding,
    DeliveryFinalized,
    EdgeRecorded,
    HistoryEntry,
    LikenessRecorded,
    VersionRecorded,
)

from ..builders import write_image, write_sequence
from ..conftest import Cli


def make_show(workspace: Path) -> None:
    write_sequence(workspace / "plates", "sh010_plate", range(1001, 1006), seed="plate")
    write_sequence(workspace / "elements", "sky_gen_v001", range(1001, 1006), seed="sky")
    write_sequence(workspace / "comp", "sh010_comp_v003", range(1001, 1006), seed="comp")
    write_image(workspace / "concept" / "moodboard.png", seed="mood")


def test_the_issue_walkthrough(run: Cli, workspace: Path) -> None:
    make_show(workspace)
    run("tools", "add", "Runway Gen-4", "--vendor", "Runway", "--generative",
        "--trains-on-inputs", "no", "--secured", "yes")  # fmt: skip
    run("ingest", "plates/", "--origin", "capture", "--by", "alice")
    run("ingest", "elements/sky_gen_v001.####.tif", "--origin", "ai", "--tool", "Runway Gen-4",
        "--by", "bob")  # fmt: skip
    run("ingest", "concept/moodboard.png", "--origin", "human")
    run("ingest", "comp/sh010_comp_v003.####.tif", "--origin", "human", "--tool", "Nuke@15.1",
        "--by", "carol", "--from", "plates/sh010_plate.####.tif",
        "--from", "elements/sky_gen_v001.####.tif", "--ref", "concept/moodboard.png")  # fmt: skip
    run("tag", "elements/sky_gen_v001.####.tif", "--origin", "ai", "--tool", "Runway Gen-4",
        "--note", "retag after review")  # fmt: skip

    card = run("show", "comp/sh010_comp_v003.1001.tif").stdout
    assert "human with Nuke@15.1 by carol" in card
    assert "contains" in card and "sky_gen_v001.####.tif" in card
    assert "references" in card and "moodboard.png" in card

    up = run("lineage", "comp/sh010_comp_v003.####.tif", "--up").stdout
    assert "[contains]" in up and "[references]" in up
    down = run("lineage", "plates/sh010_plate.####.tif", "--down").stdout
    assert "sh010_comp_v003.####.tif" in down

    history = run("history", "elements/sky_gen_v001.####.tif").stdout
    assert "retag after review" in history and "sha256:" in history


def test_every_read_command_speaks_json_with_a_schema(run: Cli, workspace: Path) -> None:
    make_show(workspace)
    run("ingest", "plates", "--origin", "capture")
    run("ingest", "comp", "--origin", "human", "--from", "plates/sh010_plate.####.tif")
    documents = {
        "IngestReport.1": run("ingest", "plates", "--json").stdout,
        "AssetCard.1": run("show", "plates/sh010_plate.1002.tif", "--json").stdout,
        "Lineage.1": run("lineage", "comp/sh010_comp_v003.####.tif", "--json").stdout,
        "History.1": run("history", "plates/sh010_plate.####.tif", "--json").stdout,
        "Tools.1": run("tools", "list", "--json").stdout,
        "SchemaState.1": run("db", "current", "--json").stdout,
    }
    for schema, text in documents.items():
        document = json.loads(text)
        assert document["schema"] == schema
    card = json.loads(documents["AssetCard.1"])
    assert card["frame"] == 1002 and card["origin"] == "capture"
    assert card["frames"] == "1001-1005"
    lineage = json.loads(documents["Lineage.1"])
    assert lineage["root"]["links"][0]["edge"] == "contains"


def test_usage_errors_exit_2_and_library_errors_exit_1(run: Cli) -> None:
    assert run("ingest", expect=2).exit_code == 2
    assert run("show", "--bogus", "x", expect=2).exit_code == 2
    result = run("show", "nothing.png", expect=1)
    assert result.stderr.startswith("Error: ") and "provenance ingest" in result.stderr
    result = run("tools", "add", "x", "--secured", "maybe", expect=2)
    assert "maybe" in result.stderr
    for blank in ("", "  "):
        result = run("finalize", ".", "--name", blank, expect=2)
        assert "--name EP101_VFX_v003" in result.stderr


def test_traceback_flag_shows_the_stack(run: Cli) -> None:
    result = run("--traceback", "show", "nothing.png", expect=1)
    assert "Traceback" in result.stderr
    assert "Traceback" not in run("show", "nothing.png", expect=1).stderr


def test_ingest_prints_a_summary_and_no_progress_when_piped(run: Cli, workspace: Path) -> None:
    make_show(workspace)
    result = run("ingest", "plates")
    assert "1 asset (1 new, 0 changed, 0 unchanged), 5 files (5 new" in result.stdout
    assert "GB/s" in result.stdout
    assert result.stderr == ""


def test_tools_registry(run: Cli) -> None:
    run("tools", "add", "Runway Gen-4", "--vendor", "Runway", "--generative",
        "--trains-on-inputs", "no", "--secured", "yes")  # fmt: skip
    # Registering again with the same facts is a no-op; with other facts it is refused.
    run("tools", "add", "runway gen-4", "--vendor", "Runway", "--generative",
        "--trains-on-inputs", "no", "--secured", "yes")  # fmt: skip
    clash = run("tools", "add", "Runway Gen-4", "--generative", expect=1)
    assert "tools set" in clash.stderr
    run("tools", "set", "Runway Gen-4", "--secured", "no")
    shown = json.loads(run("tools", "show", "RUNWAY GEN-4", "--json").stdout)
    assert shown["secured"] == "no" and shown["generative"] is True
    listed = json.loads(run("tools", "list", "--json").stdout)
    assert [t["name"] for t in listed["tools"]] == ["Runway Gen-4"]
    unknown = run("tools", "show", "Runway", expect=1)
    assert "Did you mean 'Runway Gen-4'" in unknown.stderr


def test_link_after_the_fact(run: Cli, workspace: Path) -> None:
    make_show(workspace)
    run("ingest", "plates", "comp", "concept")
    run("link", "comp/sh010_comp_v003.####.tif", "--from", "plates/sh010_plate.1001.tif",
        "--ref", "concept/moodboard.png")  # fmt: skip
    card = json.loads(run("show", "comp/sh010_comp_v003.####.tif", "--json").stdout)
    assert sorted(p["edge"] for p in card["parents"]) == ["contains", "references"]
    cycle = run("link", "plates/sh010_plate.####.tif", "--from", "comp/sh010_comp_v003.1001.tif",
                expect=1)  # fmt: skip
    assert "cycle" in cycle.stderr
    missing = run("link", "comp/sh010_comp_v003.####.tif", "--from", "nope.exr", expect=1)
    assert "not in the ledger" in missing.stderr


def test_init_is_idempotent_and_discovered_upward(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from provenance.cli import cli

    from ..conftest import make_runner

    show = tmp_path / "show"
    (show / "deep" / "er").mkdir(parents=True)
    write_image(show / "deep" / "er" / "a.png")
    for name in ("PROVENANCE_DB", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    runner = make_runner()
    monkeypatch.chdir(show)
    assert runner.invoke(cli, ["init"]).exit_code == 0
    assert runner.invoke(cli, ["init"]).exit_code == 0
    monkeypatch.chdir(show / "deep" / "er")
    result = runner.invoke(cli, ["ingest", "a.png", "--json"])
    assert result.exit_code == 0, result.output
    assert (show / ".provenance" / "ledger.db").exists()
    assert not (show / "deep" / "er" / ".provenance").exists()


def test_history_sentences_are_built_from_the_changes() -> None:
    """The library returns data; the CLI says it in the sentences the docs quote."""
    sky, comp = "/show/elements/sky.####.exr", "/show/comp/sh010.####.exr"
    ai = Origin.TRAINED_ALGORITHMIC_MEDIA
    claim = ClaimRecorded(1, "alice", ai, "declared", False, "Runway Gen-4", note="vendor says")
    held = (
        DeliveredHolding(1, comp, 1, f"contains {sky} v1"),
        DeliveredHolding(2, sky, 2, "itself"),
    )
    sentences = [
        (VersionRecorded(2, 24, "xxh3-128:ab"), "recorded version 2 (24 files, xxh3-128:ab)"),
        (VersionRecorded(1, 1, "xxh3-128:cd"), "recorded version 1 (1 file, xxh3-128:cd)"),
        (claim, 'alice claimed ai with Runway Gen-4 on version 1 [declared] ("vendor says")'),
        (
            ClaimRecorded(3, "td", Origin.DIGITAL_CREATION, "declared", True, "Nuke", "15.1"),
            "td resolved as human with Nuke@15.1 on version 3 [declared]",
        ),
        (
            ClaimRecorded(1, "bob", Origin.DIGITAL_CAPTURE, "declared", False, None, "15.1"),
            "bob claimed capture on version 1 [declared]",
        ),
        (EdgeRecorded(comp, 1, "contains", sky, 1), f"{comp} v1 contains {sky} v1"),
        (
            ApprovalRecorded(1, "xxh3-128:ab", "jane", "NFX-1234", covers_tool_risk=True),
            "approved version 1 (xxh3-128:ab) by jane: NFX-1234, covering tool risk",
        ),
        (
            ApprovalRecorded(1, "xxh3-128:ab", "jane", "NFX-1234", covers_tool_risk=False),
            "approved version 1 (xxh3-128:ab) by jane: NFX-1234",
        ),
        (LikenessRecorded(1, "Ana Lima"), "version 1 uses the likeness of Ana Lima"),
        (
            DeliveryFinalized("EP101", 25, held),
            f"finalized EP101 (25 files): delivers version 1 in {comp} v1 (contains {sky} v1); "
            f"version 2 as {sky} v2",
        ),
    ]
    for change, sentence in sentences:
        assert change_text(change) == sentence
    at = dt.datetime(2026, 12, 7, 0, 10, 45, tzinfo=dt.timezone.utc)
    entry = HistoryEntry(7, "claim", "root", "vm", at, "sha256:00", (claim, sentences[-2][0]))
    what = (
        'alice claimed ai with Runway Gen-4 on version 1 [declared] ("vendor says"); '
        "version 1 uses the likeness of Ana Lima"
    )
    assert history_what(entry) == what
    assert list(history_text([entry])) == [
        "#7 2026-12-07 00:10:45 UTC claim by root@vm",
        f"    {what}",
        "    sha256:00",
    ]
    assert history_what(replace(entry, changes=())) == ""

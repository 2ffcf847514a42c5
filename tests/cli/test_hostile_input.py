"""Hostile input: each case gets an `Error:` line naming the fix (or output that cannot be forged),
no traceback, and nothing recorded wrongly."""

from __future__ import annotations

import json
import os
import resource
import shutil
import sqlite3
import time
from pathlib import Path

import pytest

from provenance import Ledger, ProvenanceError
from provenance.deliveries import MAX_RANGE_FRAMES, read_delivery
from provenance.ledger import schema_status, upgrade_ledger
from provenance.policy import load_policy
from provenance.store.models import Deliverable, Event

from ..builders import write_bytes, write_image, write_sequence
from ..conftest import Cli, row_counts
from ..unprivileged import provenance

FRAMES = range(1001, 1004)


@pytest.fixture
def plates(ledger: Ledger, workspace: Path) -> Ledger:
    """Three recorded camera frames under shots/, and what a pull list needs beside them."""
    write_sequence(workspace / "shots", "sh010_plate", FRAMES, ext="png", seed="plate")
    ledger.ingest(["shots"], origin="capture", by="alice")
    return ledger


def pull_list(workspace: Path, body: str, name: str = "pull.csv") -> Path:
    path = workspace / name
    path.write_text(body, encoding="utf-8")
    return path


def assert_refused_and_nothing_recorded(run: Cli, ledger: Ledger, delivery: str, said: str) -> str:
    """`sweep` and `finalize` both refuse with an Error naming `said`; nothing is recorded."""
    before = row_counts(ledger, Event, Deliverable)
    for args in (["sweep", delivery], ["finalize", delivery, "--name", "EP101_v001"]):
        result = run(*args, expect=1)
        assert result.stderr.startswith("Error: ") and said in result.stderr, result.stderr
        assert "Traceback" not in result.stderr and result.stdout == ""
    assert row_counts(ledger, Event, Deliverable) == before
    return result.stderr


# -- CSV pull lists -----------------------------------------------------------------------------


def test_an_unterminated_quote_is_refused_naming_its_line(
    run: Cli, plates: Ledger, workspace: Path
) -> None:
    # Today's failure: every row after the quote vanished into one field and the sweep was clean.
    write_image(workspace / "gen" / "sky_gen.png", seed="sky")
    pull_list(
        workspace,
        "Filename,Relative Path,Submitting For\n"
        'sh010_plate.####.png,"shots,FINAL\n'
        "sky_gen.png,gen,FINAL\n",
    )
    error = assert_refused_and_nothing_recorded(run, plates, "pull.csv", "Line 2 of")
    assert "never closed" in error and 'Close the quote (")' in error
    # A quote closed on a later line swallows the rows between: refused the same way.
    pull_list(
        workspace,
        "Filename,Relative Path,Submitting For\n"
        'sh010_plate.####.png,"shots,FINAL\n'
        'sky_gen.png,gen",FINAL\n'
        "sh010_plate.####.png,shots,FINAL\n",
    )
    error = assert_refused_and_nothing_recorded(run, plates, "pull.csv", "Line 2 of")
    assert "runs on to line 3" in error


def test_an_absurd_frame_range_is_refused_with_its_row(
    run: Cli, plates: Ledger, workspace: Path
) -> None:
    for text in ("1-3000000000", "1-30000000", f"1-{MAX_RANGE_FRAMES + 1}", "1100-1001"):
        pull_list(
            workspace,
            "Filename,Relative Path,Submitting For,Frame Range\n"
            "sh010_plate.####.png,shots,WIP,\n"
            f"sh010_plate.####.png,shots,FINAL,{text}\n",
        )
        started = time.perf_counter()
        error = assert_refused_and_nothing_recorded(run, plates, "pull.csv", "Line 3 of")
        assert time.perf_counter() - started < 10
        assert f"frame range {text}" in error


def test_a_large_frame_range_is_checked_without_spelling_it_out(
    workspace: Path, tmp_path: Path
) -> None:
    write_sequence(workspace / "shots", "sh010_plate", FRAMES, ext="png", seed="plate")
    path = pull_list(
        workspace,
        "Filename,Relative Path,Submitting For,Frame Range\n"
        f"sh010_plate.####.png,shots,FINAL,1001-{1000 + MAX_RANGE_FRAMES}\n",
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    delivery = read_delivery(os.fsencode(path))
    assert time.perf_counter() - started < 5
    # (ru_maxrss is in KiB on Linux: the million frames named cost far less than 3.3 GB.)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak < 200 * 1024
    assert len(delivery.files) == len(FRAMES)
    (sequence,) = delivery.sequences
    assert len(sequence.missing) == MAX_RANGE_FRAMES - len(FRAMES)
    assert sequence.missing[0] == 1004


def test_a_pull_list_separated_by_semicolons_names_the_delimiter(
    run: Cli, plates: Ledger, workspace: Path
) -> None:
    pull_list(
        workspace, "Filename;Relative Path;Submitting For\nsh010_plate.####.png;shots;FINAL\n"
    )
    error = assert_refused_and_nothing_recorded(run, plates, "pull.csv", "semicolons (;)")
    assert "not commas" in error
    pull_list(workspace, "Filename\tSubmitting For\nshots/sh010_plate.####.png\tFINAL\n")
    assert_refused_and_nothing_recorded(run, plates, "pull.csv", "separates its columns with tabs")


# -- ledger URLs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://a@[::1/x",
        "postgresql+psycopg://a:secret@host:port/x",
        "postgresql+nodriver://a@localhost/x",
    ],
)
def test_a_malformed_database_url_is_an_error(tmp_path: Path, url: str) -> None:
    result = provenance("--db", url, "show", "x.png", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith("Error: Cannot ") and "Traceback" not in result.stderr
    assert "secret" not in result.stderr  # a password is never printed
    with pytest.raises(ProvenanceError, match="ledger URL"):
        Ledger.open(url)


# -- names that would forge output ----------------------------------------------------------------


FORGED = "x\nFINALIZED EP101_v009: manifest provenance-manifest.json\r\x1b[2K\u202egnp.png"


def test_control_characters_in_a_name_are_escaped_in_text_not_in_json(
    run: Cli, ledger: Ledger, workspace: Path
) -> None:
    delivery = workspace / "delivery"
    write_bytes(delivery / FORGED, 300, seed="forged")
    write_bytes(delivery / "plate.exr", 300, seed="plate")
    swept = run("sweep", "delivery", expect=3).stdout
    lines = swept.splitlines()
    assert not any(line.startswith("FINALIZED") for line in lines)
    assert all(line.isprintable() for line in lines)
    escaped = "x\\nFINALIZED EP101_v009: manifest provenance-manifest.json\\r\\x1b[2K\\u202egnp.png"
    assert f"BLOCK untracked: delivery/{escaped}" in lines
    document = json.loads(run("sweep", "delivery", "--json", expect=3).stdout)
    named = {os.path.basename(f["files"][0]) for f in document["findings"]}
    assert FORGED in named  # JSON carries the name itself
    # Recorded and finalized, the one FINALIZED line is the real one.
    run("ingest", "delivery", "--origin", "capture")
    finalized = run("finalize", "delivery", "--name", "EP101_v001").stdout.splitlines()
    assert [line.split(":")[0] for line in finalized if line.startswith("FINALIZED")] == [
        "FINALIZED EP101_v001"
    ]
    assert all(line.isprintable() for line in finalized)
    shown = run("show", f"delivery/{FORGED}").stdout.splitlines()
    assert shown[0] == f"delivery/{escaped}"
    history = run("history", f"delivery/{FORGED}").stdout
    assert all(line.isprintable() for line in history.splitlines())
    for reporting in (
        ("deliverables", "--contains", f"delivery/{FORGED}"),
        ("report", "delivery", "EP101_v001"),
        ("report", "delivery", "delivery"),
        ("report", "disclosure"),
        ("roots",),
    ):
        text = run(*reporting).stdout
        assert text and all(line.isprintable() for line in text.splitlines()), reporting
    assert escaped in run("report", "delivery", "EP101_v001").stdout
    missing = run("show", "delivery/nope\nFINALIZED", expect=1).stderr
    assert all(line.isprintable() for line in missing.splitlines())


# -- a ledger in a folder that cannot be written ---------------------------------------------------


def test_read_commands_work_on_a_ledger_in_a_read_only_folder(tmp_path: Path) -> None:
    show = tmp_path / "show"
    write_image(show / "plates" / "a.png", seed="a")
    write_image(show / "comp" / "c.png", seed="c")
    with Ledger.create(None, cwd=show) as ledger:
        ledger.ingest(["plates"], origin="capture")
        ledger.ingest(["comp"], origin="human", contains=["plates/a.png"])
    shutil.copytree(show / "comp", show / "delivery")
    folder = show / ".provenance"
    assert sorted(p.name for p in folder.iterdir()) == ["ledger.db"]  # (checkpointed on close)
    folder.chmod(0o555)
    (folder / "ledger.db").chmod(0o444)
    try:
        results = {
            command: provenance(*command.split(), cwd=show)
            for command in (
                "show comp/c.png",
                "lineage comp/c.png",
                "history comp/c.png",
                "sweep delivery",
                "show comp/c.png --json",
                "audit verify",
                "report disclosure",
                "ingest delivery --origin ai",
            )
        }
    finally:
        folder.chmod(0o755)
        (folder / "ledger.db").chmod(0o644)
    for command, result in results.items():
        if command.startswith("ingest"):
            assert result.returncode == 1 and "cannot be written" in result.stderr, result.stderr
        else:
            assert result.returncode == 0, (command, result.stderr)
            assert "Traceback" not in result.stderr
    assert "origin    human" in results["show comp/c.png"].stdout
    assert "plates/a.png" in results["lineage comp/c.png"].stdout
    assert "0 blocking findings" in results["sweep delivery"].stdout
    connection = sqlite3.connect(folder / "ledger.db")
    try:
        assert connection.execute("SELECT count(*) FROM assets").fetchone() == (2,)
    finally:
        connection.close()


# -- the public API takes str, bytes and Path, and raises only ProvenanceError ---------------------


@pytest.mark.parametrize("form", [str, Path, os.fsencode])
def test_every_path_argument_takes_str_bytes_and_path(
    form: type, db_url: str, workspace: Path, tmp_path: Path
) -> None:
    def given(path: Path) -> object:
        return form(str(path))

    write_image(workspace / "plates" / "a.png", seed="a")
    write_image(workspace / "comp" / "c.png", seed="c")
    db = db_url if db_url.startswith("postgresql") else given(Path(db_url))
    Ledger.create(db, cwd=given(workspace)).close()
    key, checkpoints = tmp_path / "keys" / "studio.pem", tmp_path / "checkpoints"
    with Ledger.open(db, cwd=given(workspace)) as ledger:
        ledger.ingest(given(Path("plates")), origin="capture")  # one path, not a list
        ledger.ingest([given(workspace / "comp")], origin="human")
        ledger.link(given(Path("comp/c.png")), contains=[given(workspace / "plates" / "a.png")])
        ledger.tag(given(Path("comp/c.png")), origin="human", note="checked", resolve=True)
        assert ledger.show(given(Path("comp/c.png"))).asset.name.endswith("comp/c.png")
        assert ledger.lineage(given(Path("comp/c.png"))).children
        assert ledger.history(given(Path("comp/c.png")))
        ledger.approve(given(Path("comp/c.png")), ref="NFX-1", by="jane")
        shutil.copytree(workspace / "comp", workspace / "delivery")
        assert ledger.sweep(given(workspace / "delivery")).verdict.clean
        key.parent.mkdir()
        with pytest.raises(ProvenanceError, match="No key at"):
            ledger.checkpoint(key=given(key))
        path, _ = ledger.checkpoint(folder=given(checkpoints))
        assert path.parent == checkpoints
        assert ledger.checkpoints_folder(given(checkpoints)) == checkpoints
        assert ledger.audit_verify(folder=given(checkpoints)).ok
        report = ledger.finalize(
            given(workspace / "delivery"), "EP101_v001", checkpoints=given(checkpoints)
        )
        assert report.finalized
        assert ledger.verify("EP101_v001", given(workspace / "delivery")).ok
        policy = workspace / "studio.toml"
        policy.write_text('name = "studio"\n')
        assert load_policy(given(policy)).name == "studio"
    assert schema_status(db, cwd=given(workspace))[1].current is not None
    assert upgrade_ledger(db, cwd=given(workspace))[2].current is not None


def test_wrong_types_are_provenance_errors(ledger: Ledger, workspace: Path) -> None:
    write_image(workspace / "a.png")
    for call in (
        lambda: Ledger.open(cwd=5),  # type: ignore[arg-type]
        lambda: Ledger.open(db=3.5),  # type: ignore[arg-type]
        lambda: ledger.ingest([None]),  # type: ignore[list-item]
        lambda: ledger.sweep(7),  # type: ignore[arg-type]
        lambda: ledger.show(None),  # type: ignore[arg-type]
        lambda: ledger.checkpoints_folder(1),  # type: ignore[arg-type]
        lambda: ledger.audit_verify(key=2),  # type: ignore[arg-type]
        lambda: load_policy(4),  # type: ignore[arg-type]
    ):
        with pytest.raises(ProvenanceError, match="must be a str, bytes or a path"):
            call()
    # Paths that are there but are not what they should be: errors that say so, never OSError.
    not_a_folder = workspace / "not_a_folder"
    not_a_folder.write_text("x")
    with pytest.raises(ProvenanceError, match="Cannot write the checkpoint"):
        ledger.checkpoint(folder=not_a_folder)
    with pytest.raises(ProvenanceError, match="checkpoint key"):
        ledger.audit_verify(key=workspace)  # a folder, not a key
    with pytest.raises(ProvenanceError, match="checkpoint key"):
        ledger.checkpoint(key=workspace)
    # A str cwd (a publish hook's usual call) works, and a missing folder is a ProvenanceError.
    with pytest.raises(ProvenanceError):
        Ledger.open(cwd=str(workspace.parent / "no" / "such" / "show"))

"""Bad input: each case gives a clear message that names the fix, and nothing half-written."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from provenance import Ledger
from provenance.errors import (
    BadPattern,
    NotALedger,
    TargetNotFound,
    UnknownOrigin,
    UnknownTool,
)
from provenance.fingerprint import Hasher
from provenance.ingest import Ingester, batches
from provenance.store import queries
from provenance.store.engine import read_session, write_session
from provenance.store.events import unit_of_work_event
from provenance.store.models import Asset, AssetVersion, Claim, Content, Event, Location, Member

from ..builders import write_bytes, write_image, write_sequence
from ..conftest import Cli, row_counts
from ..unprivileged import provenance

TABLES = (Event, Asset, AssetVersion, Member, Content, Location, Claim)


def test_missing_path_is_refused_and_nothing_recorded(ledger: Ledger, workspace: Path) -> None:
    write_image(workspace / "real.png")
    before = row_counts(ledger, *TABLES)
    with pytest.raises(TargetNotFound, match="does not exist"):
        ledger.ingest(["real.png", "plates/nope.exr"])
    assert row_counts(ledger, *TABLES) == before


def test_missing_path_on_the_cli_exits_1(run: Cli) -> None:
    result = run("ingest", "nope/", expect=1)
    assert "does not exist" in result.stderr and "Traceback" not in result.stderr


def test_zero_frame_pattern(ledger: Ledger, workspace: Path, run: Cli) -> None:
    write_sequence(workspace / "comp", "a", [1001, 1002])
    before = row_counts(ledger, *TABLES)
    with pytest.raises(BadPattern, match="0 frames"):
        ledger.ingest(["comp/b.####.tif"])
    assert row_counts(ledger, *TABLES) == before
    assert "0 frames" in run("ingest", "comp/b.####.tif", expect=1).stderr


def test_empty_file(ledger: Ledger, workspace: Path) -> None:
    (workspace / "empty.txt").write_bytes(b"")
    report = ledger.ingest(["empty.txt"])
    assert report.files_new == 1
    assert report.assets[0].digest.startswith("xxh3-128:")
    card = ledger.show("empty.txt")
    assert card.total_size == 0


def test_unknown_origin_and_tool_change_nothing(ledger: Ledger, workspace: Path, run: Cli) -> None:
    write_image(workspace / "a.png")
    before = row_counts(ledger, *TABLES)
    with pytest.raises(UnknownOrigin, match="Did you mean"):
        ledger.ingest(["a.png"], origin="humen")
    with pytest.raises(UnknownTool, match="tools add"):
        ledger.ingest(["a.png"], origin="ai", tool="Midjourney")
    assert row_counts(ledger, *TABLES) == before
    result = run("ingest", "a.png", "--origin", "generated", expect=1)
    assert "Unknown origin 'generated'" in result.stderr


def test_symlinks_are_recorded_as_links_and_never_followed(
    ledger: Ledger, workspace: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere"
    write_image(outside / "secret.png")
    write_image(workspace / "plates" / "a.png")
    (workspace / "plates" / "alias.png").symlink_to("a.png")
    (workspace / "plates" / "escape").symlink_to(outside)
    (workspace / "plates" / "loop").symlink_to(workspace / "plates")
    report = ledger.ingest(["plates"])
    assert report.assets_new == 1
    assert report.links == 3
    assert [os.path.basename(p) for p in report.escaping_links] == [b"escape"]
    with read_session(ledger.engine) as session:
        kinds = dict(session.execute(select(Location.path, Location.kind)).all())
    assert sum(1 for k in kinds.values() if k == "symlink") == 3
    assert not any(b"secret" in path for path in kinds)


def test_specials_are_skipped_and_reported(ledger: Ledger, workspace: Path, run: Cli) -> None:
    folder = workspace / "odd"
    write_image(folder / "a.png")
    os.mkfifo(folder / "pipe")
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(folder / "sock"))
        result = run("ingest", "odd", "--json")
    finally:
        server.close()
    report = json.loads(result.stdout)
    assert report["ok"] is True
    assert sorted((s["reason"], s["detail"]) for s in report["skipped"]) == [
        ("special", "fifo"),
        ("special", "socket"),
    ]
    assert report["assets"]["new"] == 1


def test_non_utf8_names_round_trip_exactly(ledger: Ledger, workspace: Path) -> None:
    name = b"plate_caf\xe9.png"
    raw = os.path.join(os.fsencode(workspace), name)
    write_image(Path(os.fsdecode(raw)))
    report = ledger.ingest([workspace])
    assert [ref.path for ref in report.assets] == [raw]
    card = ledger.show(os.fsdecode(raw))
    assert card.asset.path == raw
    assert "\\xe9" in card.asset.name
    with read_session(ledger.engine) as session:
        paths = list(session.execute(select(Location.path)).scalars())
    assert any(p.endswith(name) for p in paths)


def test_a_file_deleted_mid_walk_is_reported_as_vanished(ledger: Ledger, workspace: Path) -> None:
    write_image(workspace / "a.png", seed=1)
    write_image(workspace / "b.png", seed=2)
    batch = next(batches([os.fsencode(workspace)]))
    (workspace / "b.png").unlink()  # listed and stat'ed, gone before it is read
    with write_session(ledger.engine) as session, Hasher(1) as hasher:
        roots = queries.ensure_roots(session, ledger.workspace)
        with unit_of_work_event(session, "ingest", {}) as unit:
            ingester = Ingester(session, roots, unit, hasher)
            ingester._ingest_batch(batch)
    report = ingester.report
    assert [(os.path.basename(s.path), s.reason) for s in report.skipped] == [
        (b"b.png", "vanished")
    ]
    assert report.ok
    assert [os.path.basename(r.path) for r in report.assets] == [b"a.png"]


def test_not_a_ledger(tmp_path: Path, workspace: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(NotALedger, match="not a SQLite database"):
        Ledger.open(str(junk), cwd=workspace)
    other = tmp_path / "other.db"
    connection = sqlite3.connect(other)
    connection.execute("CREATE TABLE shots (id INTEGER)")
    connection.commit()
    connection.close()
    with pytest.raises(NotALedger, match="not a provenance ledger"):
        Ledger.open(str(other), cwd=workspace)
    with pytest.raises(Exception, match="not a provenance ledger"):
        Ledger.create(str(other), cwd=workspace)


def test_missing_ledger_names_init(tmp_path: Path) -> None:
    cli = Cli(str(tmp_path / "nowhere" / "ledger.db"), tmp_path)
    result = cli("show", "x.png", expect=1)
    assert "provenance --db" in result.stderr and "init" in result.stderr
    assert not (tmp_path / "nowhere").exists()


def test_unreadable_file_is_reported_the_rest_recorded_exit_1(tmp_path: Path) -> None:
    show = tmp_path / "show"
    write_image(show / "plates" / "a.png", seed=1)
    write_image(show / "plates" / "b.png", seed=2)
    locked = write_image(show / "plates" / "locked.png", seed=3)
    init = provenance("init", cwd=show)
    assert init.returncode == 0, init.stderr
    locked.chmod(0o000)
    try:
        result = provenance("ingest", "plates", "--json", cwd=show)
    finally:
        locked.chmod(0o644)
    assert result.returncode == 1, result.stderr
    assert "locked.png" in result.stderr and "could not be read" in result.stderr
    report = json.loads(result.stdout)
    assert [s["reason"] for s in report["skipped"]] == ["unreadable"]
    assert report["assets"]["new"] == 2
    assert provenance("show", "plates/a.png", "--json", cwd=show).returncode == 0
    missing = provenance("show", "plates/locked.png", cwd=show)
    assert missing.returncode == 1 and "not in the ledger" in missing.stderr


def test_ledger_on_a_read_only_path(tmp_path: Path) -> None:
    show = tmp_path / "show"
    write_image(show / "a.png")
    Ledger.create(None, cwd=show).close()
    ledger_dir = show / ".provenance"
    ledger_dir.chmod(0o555)
    for path in ledger_dir.iterdir():
        path.chmod(0o444)
    try:
        result = provenance("ingest", "a.png", cwd=show)
    finally:
        ledger_dir.chmod(0o755)
        for path in ledger_dir.iterdir():
            path.chmod(0o644)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "cannot be written" in result.stderr or "Cannot open the ledger" in result.stderr, (
        result.stderr
    )
    connection = sqlite3.connect(ledger_dir / "ledger.db")
    try:
        assert connection.execute("SELECT count(*) FROM assets").fetchone() == (0,)
    finally:
        connection.close()


def test_ingesting_twice_adds_no_duplicate_rows(ledger: Ledger, workspace: Path) -> None:
    ledger.racy_window_ns = 50_000_000
    write_sequence(workspace / "plates", "p", range(1, 6))
    write_bytes(workspace / "notes.bin", 5000)
    time.sleep(0.1)
    first = ledger.ingest(["."], origin="capture", by="alice")
    after_first = row_counts(ledger, *TABLES)
    second = ledger.ingest(["."], origin="capture", by="alice")
    after_second = row_counts(ledger, *TABLES)
    assert first.assets_new == 2 and second.assets_unchanged == 2
    assert second.files_read == 0 and second.bytes_read == 0
    assert after_second == after_first | {"events": after_first["events"] + 1}

"""Crash safety: an ingest killed with SIGKILL at random moments leaves a sound ledger of whole assets."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .builders import write_bytes

KILLS = 20


def build_tree(top: Path) -> int:
    """About 2,000 files: sequences and single files in 20 folders. Returns the asset count."""
    assets = 0
    for folder in range(20):
        base = top / f"shot{folder:03d}"
        for frame in range(1001, 1061):
            write_bytes(base / f"plate.{frame}.dpx", 2048 + frame % 7, seed=f"{folder}")
        assets += 1
        for single in range(40):
            write_bytes(base / f"ref_{single}_v001.png", 1024 + single, seed=f"{folder}")
            assets += 1
    return assets


def ingest(ledger: Path, tree: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "provenance", "--db", str(ledger), "ingest", str(tree), "--json"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def fresh_ledger(ledger: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(str(ledger) + suffix).unlink(missing_ok=True)
    subprocess.run(
        [sys.executable, "-m", "provenance", "--db", str(ledger), "init"],
        check=True,
        capture_output=True,
    )


def check_whole(ledger: Path) -> int:
    """The ledger is sound and every recorded asset version has all its members. Returns assets."""
    connection = sqlite3.connect(ledger)
    try:
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert connection.execute("PRAGMA foreign_key_check").fetchall() == []
        partial = connection.execute(
            "SELECT v.id FROM asset_versions v LEFT JOIN members m ON m.version_id = v.id "
            "GROUP BY v.id HAVING count(m.position) != v.member_count"
        ).fetchall()
        assert partial == []
        orphans = connection.execute(
            "SELECT a.id FROM assets a LEFT JOIN asset_versions v "
            "ON v.asset_id = a.id AND v.number = a.latest_version WHERE v.id IS NULL"
        ).fetchall()
        assert orphans == []
        return int(connection.execute("SELECT count(*) FROM assets").fetchone()[0])
    finally:
        connection.close()


@pytest.mark.slow
def test_sigkill_at_random_moments_leaves_whole_assets(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    expected_assets = build_tree(tree)
    ledger = tmp_path / "ledger.db"
    fresh_ledger(ledger)
    started = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "provenance", "--version"], check=True, capture_output=True
    )
    startup = time.monotonic() - started
    started = time.monotonic()
    full = ingest(ledger, tree)
    full.wait(timeout=300)
    duration = time.monotonic() - started
    assert full.returncode == 0
    fresh_ledger(ledger)  # each kill below lands somewhere inside a first ingest
    rng = random.Random(20261126)
    seen_counts = set()
    for _ in range(KILLS):
        process = ingest(ledger, tree)
        # Mostly after the interpreter has started, where the ledger is being written.
        time.sleep(rng.uniform(startup * 0.8, duration * 1.05))
        process.kill()
        process.wait()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # any hashing workers left behind
        count = check_whole(ledger)
        assert count in (0, expected_assets)  # one transaction: nothing or everything
        seen_counts.add(count)
        if count == expected_assets:
            fresh_ledger(ledger)  # finished before the kill: start over for the next one
    assert 0 in seen_counts  # at least some kills landed before the commit
    rerun = subprocess.run(
        [sys.executable, "-m", "provenance", "--db", str(ledger), "ingest", str(tree)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert rerun.returncode == 0, rerun.stderr
    assert check_whole(ledger) == expected_assets

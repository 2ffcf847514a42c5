"""Crash safety: an ingest killed with SIGKILL at random moments leaves a sound ledger of whole
assets; a finalize killed at random moments leaves a ledger that verifies and nothing that
blocks its retry."""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy

from provenance import Ledger, ProvenanceError

from ..builders import age, write_bytes

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


# -- a finalize killed at random moments ---------------------------------------------------------

FINALIZE_KILLS = 100
EXECUTED_EVERY = 10
"""Every tenth kill is of `python -m provenance finalize` started afresh (interpreter start-up
included); the others of the same command forked from this process with its modules imported,
so that they cost no start-up and land where the work is."""
PHASES = (
    "before staging",
    "staged, not committed",
    "committed, manifest not in place",
    "manifest in place, no checkpoint",
    "finished",
)


def finalize_args(db_url: str, delivery: Path, name: str) -> list[str]:
    return ["--db", db_url, "finalize", str(delivery), "--name", name, "--json"]


class Forked:
    """A forked child, waited for as a Popen is."""

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def wait(self) -> int:
        return os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1])


Started = Callable[[str, Path, str], "subprocess.Popen[bytes] | Forked"]


def executed_finalize(db_url: str, delivery: Path, name: str) -> subprocess.Popen[bytes]:
    """`python -m provenance finalize ...` in a session of its own."""
    return subprocess.Popen(
        [sys.executable, "-m", "provenance", *finalize_args(db_url, delivery, name)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def forked_finalize(db_url: str, delivery: Path, name: str) -> Forked:
    """The same command run by `provenance.cli` in a forked child, in a session of its own."""
    from provenance.cli import cli

    pid = os.fork()
    if pid:
        return Forked(pid)
    code = 1
    try:
        os.setsid()
        quiet = os.open(os.devnull, os.O_RDWR)
        for stream in (0, 1, 2):
            os.dup2(quiet, stream)
        # (Not the test runner's capture; the child never returns to close it.)
        sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115
        try:
            cli.main(args=finalize_args(db_url, delivery, name), prog_name="provenance")
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    finally:
        os._exit(code)  # (no clean-up of what this child inherited from the test process)


def kill_session(process: subprocess.Popen[bytes] | Forked) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # the command and any workers it started
    process.wait()


def staged_leftovers(*folders: Path) -> list[Path]:
    return [p for f in folders for p in f.iterdir() if p.name.startswith(".provenance-manifest.")]


def phase_of(ledger: Ledger, name: str, delivery: Path, checkpoints_before: int) -> str:
    """Where a killed finalize of `name` stopped, as the ledger and the disk show it."""
    from provenance.store.engine import read_session
    from provenance.store.models import Deliverable

    with read_session(ledger.engine) as session:
        recorded = session.execute(
            sqlalchemy.select(Deliverable.id).where(Deliverable.name == name)
        ).first()
    if recorded is None:
        return PHASES[1] if staged_leftovers(delivery, delivery.parent) else PHASES[0]
    manifest = delivery / "provenance-manifest.json"
    try:
        in_place = json.loads(manifest.read_bytes())["name"] == name
    except (OSError, ValueError):
        in_place = False
    if not in_place:
        return PHASES[2]
    checkpoints = len(list(ledger.checkpoints_folder().glob("*.json")))
    return PHASES[3] if checkpoints == checkpoints_before else PHASES[4]


class KillWindow:
    """When to kill a run: anywhere from `low` on, or (every other kill) late in the work, with
    the end of the work learnt from the kills that came too late."""

    def __init__(self, low: float, duration: float) -> None:
        self.low = low
        self.finished = [duration]
        self.before = [low]

    def pick(self, rng: random.Random, late: bool) -> float:
        high = min(self.finished[-8:]) * 1.02
        low = max(self.before[-8:]) * 0.95 if late else self.low
        return rng.uniform(min(low, high * 0.9), high)

    def learn(self, moment: float, phase: str) -> None:
        if phase == PHASES[4]:
            self.finished.append(moment)
        elif phase == PHASES[0]:
            self.before.append(moment)


def timed(start: Started, db_url: str, delivery: Path, name: str) -> float:
    started = time.monotonic()
    assert start(db_url, delivery, name).wait() == 0
    return time.monotonic() - started


@pytest.mark.slow
def test_sigkill_during_finalize_leaves_nothing_that_blocks_a_retry(
    ledger: Ledger, db_url: str, workspace: Path
) -> None:
    delivery = workspace / "delivery"
    for index in range(6):
        write_bytes(delivery / "plates" / f"plate.{1001 + index}.dpx", 3000, seed="kill")
    age(p for p in delivery.rglob("*") if p.is_file())
    ledger.ingest([delivery], origin="capture")
    started = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "provenance", "--version"], check=True, capture_output=True
    )
    startup = time.monotonic() - started
    # (The first runs of a fresh ledger and interpreter are the slowest: the middle of three.)
    executed = sorted(timed(executed_finalize, db_url, delivery, f"WARM_E{n}") for n in range(3))
    forked = sorted(timed(forked_finalize, db_url, delivery, f"WARM_F{n}") for n in range(3))
    windows: dict[Started, KillWindow] = {
        executed_finalize: KillWindow(startup * 0.8, executed[1]),
        forked_finalize: KillWindow(0.0, forked[1]),
    }
    rng = random.Random(20261208)
    phases: Counter[str] = Counter()
    retried: Counter[str] = Counter()
    began = time.monotonic()
    for kill in range(1, FINALIZE_KILLS + 1):
        name = f"KILL_{kill:03d}"
        checkpoints_before = len(list(ledger.checkpoints_folder().glob("*.json")))
        start: Started = executed_finalize if kill % EXECUTED_EVERY == 0 else forked_finalize
        window = windows[start]
        moment = window.pick(rng, late=kill % 2 == 0)
        started = time.monotonic()
        process = start(db_url, delivery, name)
        time.sleep(max(0.0, moment - (time.monotonic() - started)))
        kill_session(process)
        phase = phase_of(ledger, name, delivery, checkpoints_before)
        window.learn(moment, phase)
        phases[phase] += 1
        audited = ledger.audit_verify()
        assert audited.ok, (
            kill,
            phase,
            audited.problems,
            [c.problem for c in audited.checkpoints],
            audited.notes,
        )
        try:
            # (The retry judges the delivery as a sweep would: nothing may block it.)
            report = ledger.finalize(delivery, name)
            assert report.finalized, (kill, phase, report.verdict.findings)
            retried["finalized"] += 1
        except ProvenanceError as exc:
            assert "already final" in str(exc), (kill, phase, exc)
            assert phase in PHASES[2:], (kill, phase)
            # The manifest missing is what `verify` says; the checkpoint missing, it does not.
            assert ledger.verify(name).ok is (phase != PHASES[2])
            written = ledger.write_manifest(name)
            assert written.written is (phase == PHASES[2])
            assert written.checkpoint_written is (phase in PHASES[2:4])
            retried["already final: manifest write"] += 1
        assert ledger.verify(name).ok, (kill, phase)
        assert staged_leftovers(delivery, delivery.parent) == [], (kill, phase)
    assert ledger.audit_verify().ok
    print(
        f"\n{FINALIZE_KILLS} kills of `provenance finalize` on {ledger.engine.dialect.name} in "
        f"{time.monotonic() - began:.0f} s (a run: {forked[1]:.2f} s forked, {executed[1]:.2f} s "
        f"executed, start-up {startup:.2f} s): "
        + ", ".join(f"{phases[p]} {p}" for p in PHASES)
        + f"; retries: {dict(retried)}"
    )
    assert phases[PHASES[0]] + phases[PHASES[1]] > 0 and sum(phases[p] for p in PHASES[2:]) > 0

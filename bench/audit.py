"""Audit benchmark: how long `audit verify` takes on a ledger of 100,000 events.

    .venv/bin/python bench/audit.py                # 100,000 events on SQLite
    .venv/bin/python bench/audit.py --events 20000 # a smoke run
    .venv/bin/python bench/audit.py --pg URL       # also on a PostgreSQL database (must be empty)

The events are real ledger events (tool changes, with a correct hash chain) written in bulk;
a checkpoint is taken halfway, then more events are appended, and `Ledger.audit_verify`
recomputes the chain, checks the state against the events and proves the checkpoint
consistent with the log. The peer, measured in the same run, is the floor of that work: one
SHA-256 over every event's canonical form in a plain Python loop, with the rows already in
memory. Nothing is asserted: the table prints seconds and the ratio.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

from provenance import Ledger
from provenance.store.events import GENESIS_HASH, canonical_event, event_hash
from provenance.store.models import Event


def fill(ledger: Ledger, count: int) -> list[tuple[str, str, str, dt.datetime, str]]:
    """Append `count` tool-change events after the ledger's own, in one transaction."""
    with ledger.engine.begin() as connection:
        last = connection.execute(sa.select(Event.hash).order_by(Event.id.desc()).limit(1)).scalar()
        previous = last or GENESIS_HASH
        rows = []
        kept = []
        start = dt.datetime.now(dt.timezone.utc)
        for index in range(count):
            at = start + dt.timedelta(microseconds=index)
            payload = json.dumps(
                {"tool": "Bench Tool", "changes": {"secured": "yes" if index % 2 else "no"}},
                sort_keys=True,
                separators=(",", ":"),
            )
            digest = event_hash(canonical_event("tool.set", "bench", "host", at, payload, previous))
            rows.append(
                {
                    "kind": "tool.set",
                    "actor": "bench",
                    "host": "host",
                    "at": at,
                    "payload": payload,
                    "prev_hash": previous,
                    "hash": digest,
                }
            )
            kept.append(("tool.set", "bench", "host", at, payload))
            previous = digest
        for start_index in range(0, len(rows), 5000):
            connection.execute(sa.insert(Event), rows[start_index : start_index + 5000])
    return kept


def floor_seconds(rows: list[tuple[str, str, str, dt.datetime, str]]) -> float:
    started = time.perf_counter()
    previous = GENESIS_HASH
    for kind, actor, host, at, payload in rows:
        previous = (
            "sha256:"
            + hashlib.sha256(canonical_event(kind, actor, host, at, payload, previous)).hexdigest()
        )
    return time.perf_counter() - started


def measure(url: str, events: int, work: Path) -> tuple[float, float, int]:
    ledger = Ledger.create(url, cwd=work)
    try:
        half = fill(ledger, events // 2)
        ledger.checkpoint(key=None, folder=work / "checkpoints")
        rest = fill(ledger, events - events // 2)
        started = time.perf_counter()
        report = ledger.audit_verify(folder=work / "checkpoints")
        seconds = time.perf_counter() - started
        if not report.ok:
            raise SystemExit(f"the untouched ledger did not verify: {report.problems[:3]}")
        return seconds, floor_seconds(half + rest), report.size
    finally:
        ledger.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument(
        "--pg", metavar="URL", help="also measure on this (empty) PostgreSQL database"
    )
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="provenance-audit-bench-") as folder:
        work = Path(folder)
        os.environ.setdefault("XDG_CONFIG_HOME", str(work / "config"))
        targets = [("sqlite", str(work / ".provenance" / "ledger.db"))]
        if options.pg:
            targets.append(("postgresql", options.pg))
        print(f"{'ledger':<12} {'events':>8} {'verify s':>9} {'floor s':>8} {'ratio':>6}")
        for name, url in targets:
            seconds, floor, size = measure(url, options.events, work)
            print(f"{name:<12} {size:>8} {seconds:>9.2f} {floor:>8.2f} {seconds / floor:>6.1f}")


if __name__ == "__main__":
    main()

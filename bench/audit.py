"""Audit benchmark: how long `audit verify` takes on 100,000 events, and after a 100,000-file ingest.

    .venv/bin/python bench/audit.py                # both, on SQLite
    .venv/bin/python bench/audit.py --events 20000 --files 10000   # a smoke run
    .venv/bin/python bench/audit.py --pg URL       # also on a PostgreSQL database (must be empty)

Events: real ledger events (changes to one registered tool, each committing the tool's row as
`tools set` does, with a correct hash chain) written in bulk; a checkpoint is taken halfway,
then more events are appended, and `Ledger.audit_verify` recomputes the chain, rebuilds the
state from the events and compares it with the tables, and proves the checkpoint consistent
with the log. The peer, measured in the same run, is the floor of that work: one SHA-256 over
every event's canonical form in a plain Python loop, with the rows already in memory.

Finalize: on the same ledger, `Ledger.finalize` of a delivery of 100 frames of 100 kB
ingested before the events: its wall time, and how long it held the write lock (its locked
write, timed from inside). Its audit of the log is made while the frames are read; nothing is
committed meanwhile, so under the lock it checks the delivery and records it without auditing
the log again. The peer is `audit verify` above (what the lock was held for when the audit ran
under it).

Files: the worst case for an event's commitment, `Ledger.ingest` of 100,000 small files that are
each an asset of their own, with a claim each (--origin): one event commits to 200,000 rows. With
--lineage each also gets a lineage edge (--contains), 300,000 rows (slow: the ingest checks
each new edge for a cycle with a query of its own). Printed: the ingest's wall time, its
event's payload size, how long reading its rows back takes (what the commitment adds to the
ingest, measured again after it), and `audit verify` on the ledger after it, with the same
floor.

Nothing is asserted: the tables print seconds, sizes and ratios.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from provenance import Ledger, schemas
from provenance.fingerprint import RACY_WINDOW_NS
from provenance.store.events import GENESIS_HASH, canonical_event, event_hash
from provenance.store.models import Event, Tool
from provenance.store.rows import committed_rows, read_rows

TOOL = "Bench Tool"


def fill(ledger: Ledger, count: int) -> list[tuple[str, str, str, dt.datetime, str]]:
    """Append `count` changes of the tool TOOL after the ledger's own events, in one transaction."""
    with ledger.engine.begin() as connection:
        last = connection.execute(sa.select(Event.hash).order_by(Event.id.desc()).limit(1)).scalar()
        previous = last or GENESIS_HASH
        (tool,) = read_rows(connection)["tools"].popitem()[1]
        rows = []
        kept = []
        start = dt.datetime.now(dt.timezone.utc)
        for index in range(count):
            at = start + dt.timedelta(microseconds=index)
            secured = "yes" if index % 2 else "no"
            tool = (*tool[:7], secured, tool[8])
            payload = json.dumps(
                {
                    "tool": TOOL,
                    "changes": {"secured": secured},
                    "rows": {"schema": schemas.ROWS_INLINE, "tools": [tool]},
                },
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
        connection.execute(sa.update(Tool).values(secured=tool[7]))
    return kept


def reset_database(url: str) -> None:
    """Empty the PostgreSQL database the events run used, for the ingest run."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP SCHEMA public CASCADE")
        connection.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()


def floor_seconds(rows: list[tuple[str, str, str, dt.datetime, str]]) -> float:
    started = time.perf_counter()
    previous = GENESIS_HASH
    for kind, actor, host, at, payload in rows:
        previous = (
            "sha256:"
            + hashlib.sha256(canonical_event(kind, actor, host, at, payload, previous)).hexdigest()
        )
    return time.perf_counter() - started


def timed_verify(ledger: Ledger, checkpoints: Path) -> tuple[float, int]:
    """(seconds, events) of `audit verify` on a ledger nothing tampered with."""
    started = time.perf_counter()
    report = ledger.audit_verify(folder=checkpoints)
    seconds = time.perf_counter() - started
    if not report.ok:
        from provenance.cli.render_audit import audit_problem_text

        found = "; ".join(audit_problem_text(p) for p in report.problems[:3])
        raise SystemExit(f"the untouched ledger did not verify: {found}")
    return seconds, report.size


def measure(url: str, events: int, work: Path) -> tuple[float, float, int, float, float]:
    """(verify s, floor s, events, finalize s, write lock held s) on a ledger of `events`."""
    work.mkdir(parents=True, exist_ok=True)
    delivery = work / "delivery"
    make_frames(delivery)
    ledger = Ledger.create(url, cwd=work)
    try:
        ledger.add_tool(TOOL)
        ledger.ingest([str(delivery)], origin="capture", by="bench")
        half = fill(ledger, events // 2)
        ledger.checkpoint(key=None, folder=work / "checkpoints")
        rest = fill(ledger, events - events // 2)
        seconds, size = timed_verify(ledger, work / "checkpoints")
        finalize, held = timed_finalize(ledger, delivery, work / "checkpoints")
        return seconds, floor_seconds(half + rest), size, finalize, held
    finally:
        ledger.close()


FRAMES = 100
FRAME_BYTES = 100_000


def make_frames(folder: Path) -> None:
    """A delivery of FRAMES frames of FRAME_BYTES random bytes (one comp sequence)."""
    folder.mkdir(parents=True, exist_ok=True)
    for frame in range(1001, 1001 + FRAMES):
        (folder / f"sh010_comp_v001.{frame}.exr").write_bytes(os.urandom(FRAME_BYTES))
    time.sleep(RACY_WINDOW_NS / 1e9 + 0.5)  # past the stat cache's racy window


def timed_finalize(ledger: Ledger, delivery: Path, checkpoints: Path) -> tuple[float, float]:
    """(seconds, seconds the write lock was held) of a finalize of `delivery` (its audit of the
    log is made while the frames are read, and stands under the lock: nothing is committed
    meanwhile). The lock is timed as the finalize's locked write, from its start to its end."""
    import provenance.facade.delivering as delivering

    held: list[float] = []
    locked_write = delivering.write_session

    @contextlib.contextmanager
    def timed_write(*args: Any, **kwargs: Any) -> Iterator[Any]:
        started = time.perf_counter()
        try:
            with locked_write(*args, **kwargs) as session:
                yield session
        finally:
            held.append(time.perf_counter() - started)

    delivering.write_session = timed_write  # type: ignore[assignment]
    try:
        started = time.perf_counter()
        report = ledger.finalize(str(delivery), f"BENCH_{time.time_ns()}", checkpoints=checkpoints)
        seconds = time.perf_counter() - started
    finally:
        delivering.write_session = locked_write  # type: ignore[assignment]
    if not report.finalized:
        raise SystemExit(f"the bench delivery was not finalized: {report.verdict.findings[:3]}")
    return seconds, max(held)


def make_files(folder: Path, count: int) -> None:
    """`count` small files, 1,000 a folder, named as a show names its single files; and
    concept.png beside `folder`, the parent that --lineage gives each of them."""
    for index in range(count):
        shot = folder / f"sq{index // 10_000:03d}" / f"sh{index // 1000:04d}" / "comp"
        if index % 1000 == 0:
            shot.mkdir(parents=True, exist_ok=True)
        (shot / f"sh{index // 1000:04d}_comp_{index:06d}_main.json").write_bytes(b"%d\n" % index)
    (folder.parent / "concept.png").write_bytes(b"concept art")


def measure_ingest(
    url: str, work: Path, tree: Path, lineage: bool
) -> tuple[float, int, float, float, float]:
    """(ingest s, event payload bytes, rows read back s, verify s, floor s) of a fresh ledger."""
    ledger = Ledger.create(url, cwd=work)
    try:
        concept = str(tree.parent / "concept.png")
        ledger.ingest([concept], origin="human", by="bench")
        started = time.perf_counter()
        report = ledger.ingest(
            [str(tree)], origin="human", by="bench", contains=[concept] if lineage else []
        )
        seconds = time.perf_counter() - started
        with ledger.engine.connect() as connection:
            payload = connection.execute(
                sa.select(Event.payload).where(Event.id == report.event_id)
            ).scalar_one()
            started = time.perf_counter()
            committed_rows(connection, report.event_id)
            read_back = time.perf_counter() - started
            events = connection.execute(
                sa.select(Event.kind, Event.actor, Event.host, Event.at, Event.payload).order_by(
                    Event.id
                )
            ).all()
        verify, _ = timed_verify(ledger, work / "checkpoints")
        floor = floor_seconds([tuple(e) for e in events])
        return seconds, len(payload.encode()), read_back, verify, floor
    finally:
        ledger.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument(
        "--files", type=int, default=100_000, help="files of the ingest (0: leave it out)"
    )
    parser.add_argument("--lineage", action="store_true", help="a lineage edge for every file")
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
        print(
            f"{'ledger':<12} {'events':>8} {'verify s':>9} {'floor s':>8} {'ratio':>6}   "
            f"{'finalize s':>10} {'locked s':>9} {'locked/verify':>13}"
        )
        for name, url in targets:
            seconds, floor, size, finalize, held = measure(url, options.events, work / name)
            print(
                f"{name:<12} {size:>8} {seconds:>9.2f} {floor:>8.2f} {seconds / floor:>6.1f}   "
                f"{finalize:>10.2f} {held:>9.2f} {held / seconds:>13.2f}"
            )
        if not options.files:
            return
        tree = work / "show" / "renders"
        make_files(tree, options.files)
        time.sleep(RACY_WINDOW_NS / 1e9 + 0.5)  # past the stat cache's racy window
        print()
        print(
            f"{'ledger':<12} {'files':>8} {'ingest s':>9} {'event kB':>9} {'rows s':>7} "
            f"{'verify s':>9} {'floor s':>8} {'ratio':>6}"
        )
        for name, url in targets:
            if name == "sqlite":
                url = str(work / "show" / ".provenance" / "ledger.db")
            else:
                reset_database(url)
            ingest, size, rows, verify, floor = measure_ingest(
                url, work / "show", tree, options.lineage
            )
            print(
                f"{name:<12} {options.files:>8} {ingest:>9.2f} {size / 1e3:>9.1f} {rows:>7.2f} "
                f"{verify:>9.2f} {floor:>8.2f} {verify / floor:>6.1f}"
            )


if __name__ == "__main__":
    main()

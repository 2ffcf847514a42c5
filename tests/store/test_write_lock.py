"""The write lock and the snapshot a finalize judges in, on each backend, with two real writers."""

from __future__ import annotations

import threading
import time

from sqlalchemy import text

from provenance import Ledger
from provenance.store.engine import write_session

TOOLS = text("SELECT count(*) FROM tools")


def _add_tool_while_holding_the_lock(
    ledger: Ledger, locked: threading.Event, hold_s: float
) -> None:
    with write_session(ledger.engine) as session:
        session.execute(TOOLS)  # (SQLite's BEGIN IMMEDIATE runs with the first statement)
        locked.set()
        time.sleep(hold_s)
        session.execute(
            text(
                "INSERT INTO tools (name, key, vendor, generative, trains_on_inputs, secured, "
                "created_at, event_id) SELECT 'Late tool', 'late tool', NULL, false, 'unknown', "
                "'unknown', CURRENT_TIMESTAMP, max(id) FROM events"
            )
        )


def test_a_snapshot_write_waits_for_the_writer_before_it_and_sees_its_commit(
    ledger: Ledger,
) -> None:
    # The snapshot a finalize judges in is taken once the write lock is held: a writer that
    # held the lock first is committed, and seen, before the finalize reads anything.
    ledger.add_tool("Nuke", generative=False)  # (an event for the late tool to name)
    with write_session(ledger.engine) as session:
        before = session.execute(TOOLS).scalar_one()
    locked = threading.Event()
    writer = threading.Thread(target=_add_tool_while_holding_the_lock, args=(ledger, locked, 0.5))
    writer.start()
    assert locked.wait(5)
    started = time.perf_counter()
    with write_session(ledger.engine, snapshot=True) as session:
        seen = session.execute(TOOLS).scalar_one()
        waited = time.perf_counter() - started
    writer.join()
    assert waited > 0.3
    assert seen == before + 1


def test_a_writer_waits_for_a_snapshot_write(ledger: Ledger) -> None:
    # ... and while a finalize holds it, no other writer of ours gets in.
    finished: list[float] = []

    def write() -> None:
        with write_session(ledger.engine) as session:
            session.execute(TOOLS)
            finished.append(time.perf_counter())

    with write_session(ledger.engine, snapshot=True) as session:
        session.execute(TOOLS)
        other = threading.Thread(target=write)
        other.start()
        time.sleep(0.4)
        released = time.perf_counter()
        assert finished == []
    other.join(10)
    assert finished and finished[0] >= released

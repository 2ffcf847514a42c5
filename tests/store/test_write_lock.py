"""The write lock and the snapshot a finalize judges in, on each backend, with two real writers."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import text

from provenance import Ledger
from provenance.errors import ProvenanceError
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


def test_a_finalize_whose_connection_dies_leaves_the_write_lock_free(postgres: str) -> None:
    # A finalize's lock is its session's, and PostgreSQL connections are pooled. When its
    # connection dies mid-way (a server restart, a DBA's pg_terminate_backend), the finalize
    # fails with the ledger's own error, and the next writer gets in at once.
    from ..conftest import _fresh_pg_database

    url = _fresh_pg_database(postgres)
    with Ledger.create(url) as ledger:
        with (
            pytest.raises(ProvenanceError, match="Cannot use the ledger"),
            write_session(ledger.engine, snapshot=True) as session,
        ):
            session.execute(TOOLS)
            pid = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
            with ledger.engine.connect() as other:
                other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            session.execute(TOOLS)  # the server has closed this session
        started = time.perf_counter()
        with write_session(ledger.engine) as session:
            session.execute(TOOLS)
        assert time.perf_counter() - started < 5

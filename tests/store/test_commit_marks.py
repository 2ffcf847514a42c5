"""Whether anything was committed to the ledger between two moments: the comparison of
PostgreSQL snapshots, and the marks on both backends (a finalize that relies on them is tested
in tests/audit/test_audit.py)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from provenance import Ledger
from provenance.store.commit_marks import (
    NEWER_IDS_LISTED,
    PgSnapshot,
    committed_between,
    read_mark,
)
from provenance.store.engine import read_session


@pytest.mark.parametrize(
    ("earlier", "later", "committed"),
    [
        # Nothing assigned, nothing ended.
        ("100:100:", "100:100:", False),
        # A transaction running at both moments (ours waits for nobody's commit).
        ("100:105:100,104", "100:105:100,104", False),
        # New transactions began and are still running: nothing of theirs is visible.
        ("100:100:", "100:103:100,101,102", False),
        # One that was running ended.
        ("100:105:100,104", "101:105:104", True),
        ("100:105:100,104", "100:105:100", True),
        # A transaction began and ended between the two.
        ("100:100:", "101:101:", True),
        ("100:100:", "100:102:100", True),
        # Of two that began, one ended.
        ("100:100:", "100:102:101", True),
    ],
)
def test_a_transaction_that_ended_between_two_snapshots_is_seen(
    earlier: str, later: str, committed: bool
) -> None:
    assert committed_between(earlier, later) is committed


def test_many_ids_assigned_meanwhile_count_as_a_commit_without_being_listed() -> None:
    running = ",".join(str(x) for x in range(100, 100 + NEWER_IDS_LISTED + 1))
    assert committed_between("100:100:", f"100:{100 + NEWER_IDS_LISTED + 1}:{running}")


def test_a_snapshot_sees_what_ended_before_it() -> None:
    snapshot = PgSnapshot.parse("100:105:100,103")
    assert snapshot.sees(99)
    assert snapshot.sees(101)
    assert not snapshot.sees(100)
    assert not snapshot.sees(103)
    assert not snapshot.sees(105)


def test_the_mark_moves_with_a_commit_by_anyone_and_only_then(ledger: Ledger, db_url: str) -> None:
    # The mark a finalize takes when its audit ahead reads the ledger, and again under its lock.
    # (SQLite's data version is a connection's own: it is asked twice of the same connection.)
    engine = ledger.engine
    ledger.add_tool("Nuke", secured="no")
    with engine.connect() as watcher:

        def mark() -> str | int:
            with Session(watcher) as session:
                value = read_mark(session)
                session.rollback()
            return value

        def moved(earlier: str | int, later: str | int) -> bool:
            if isinstance(earlier, str):
                return committed_between(earlier, str(later))
            return earlier != later

        first = mark()
        with read_session(engine) as session:
            session.execute(sa.text("SELECT count(*) FROM events")).scalar_one()
        second = mark()
        assert not moved(first, second)
        # A shell's commit, outside the library.
        url = db_url if "://" in db_url else f"sqlite:///{db_url}"
        shell = sa.create_engine(url, poolclass=sa.pool.NullPool)
        with shell.begin() as connection:
            connection.exec_driver_sql("UPDATE tools SET secured = 'yes'")
        shell.dispose()
        assert moved(second, mark())

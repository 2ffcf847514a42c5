"""Whether anything was committed to the ledger between two moments, by anyone: one of our
writers, another process, a DBA's shell.

A finalize audits the ledger while its delivery is read, then takes the write lock: if nothing
was committed in between, what the audit verified is what the locked write reads, and the
audit need not run again under the lock (`provenance.audit.ahead`). So the mark must see every
commit, not only ours:

- SQLite: `PRAGMA data_version`, asked twice on the same connection, differs when any other
  connection (of any process) committed in between. It is SQLite's own change counter: a
  shell's commit moves it as ours do. (A byte-level edit of the file bypasses SQLite and every
  lock it has, here as anywhere; the next audit finds what it changed.)
- PostgreSQL: the transaction snapshot (`txid_current_snapshot()`: the oldest transaction still
  running, the next to be assigned, those running between). A transaction that writes is
  assigned an id; one that ended between two snapshots is visible to the later and not to the
  earlier. Transactions of other databases on the same server count too: the answer may be
  "changed" when the ledger did not change (the audit then runs again), never the reverse.
"""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import text
from sqlalchemy.orm import Session

__all__ = [
    "PgSnapshot",
    "committed_between",
    "read_mark",
]


class PgSnapshot(NamedTuple):
    xmin: int
    xmax: int
    running: frozenset[int]

    @classmethod
    def parse(cls, value: str) -> PgSnapshot:
        """`xmin:xmax:xip,xip,...` as txid_current_snapshot() writes it."""
        xmin, xmax, running = value.split(":")
        return cls(int(xmin), int(xmax), frozenset(int(x) for x in running.split(",") if x))

    def sees(self, xid: int) -> bool:
        """Whether the transaction `xid` had ended when the snapshot was taken."""
        return xid < self.xmin or (xid < self.xmax and xid not in self.running)


NEWER_IDS_LISTED = 100_000
"""Past this many transaction ids assigned between two snapshots, they are not gone through
one by one: something was committed (all of them still running is not worth telling apart)."""


def committed_between(earlier: str, later: str) -> bool:
    """Whether a transaction ended between two PostgreSQL snapshots (committed or rolled back:
    the two are not told apart), `later` taken after `earlier`."""
    before = PgSnapshot.parse(earlier)
    after = PgSnapshot.parse(later)
    if any(after.sees(xid) for xid in before.running):
        return True
    newer = after.xmax - before.xmax
    if newer <= 0:
        return False
    if newer > NEWER_IDS_LISTED or newer > len(after.running):
        return True
    return any(after.sees(xid) for xid in range(before.xmax, after.xmax))


def read_mark(session: Session) -> str | int:
    """The session's mark: on PostgreSQL, the snapshot of its (REPEATABLE READ) transaction;
    on SQLite, its connection's data version. Run it as the transaction's first statement,
    so that the mark describes what the transaction reads."""
    if session.get_bind().dialect.name == "postgresql":
        return str(session.execute(text("SELECT txid_current_snapshot()::text")).scalar_one())
    return int(session.execute(text("PRAGMA data_version")).scalar_one())

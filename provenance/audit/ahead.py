"""A finalize's audit, made while its delivery is read rather than under the write lock.

The audit reads the whole log and every table: on a ledger of 100,000 events it takes longer
than hashing a small delivery, and a finalize held the write lock (every other writer of the
studio waiting) for all of it. Made ahead, in a thread of its own beside the hashing, it holds
for the locked write only if nothing at all was committed since its snapshot: the locked write
checks that first (`store.commit_marks`), and audits again, as before, when anything was.
The checkpoints on disk are checked under the lock all the same (a few files).

On SQLite the locked write is made on the very connection that read the audit: the data
version that says whether anything was committed is a connection's own, and a connection reads
the file it opened. A ledger file replaced meanwhile (another file moved to its path) would
otherwise be judged by a new connection on an audit of the old one; it is refused instead.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

from provenance.audit.verification import LogCheck, check_log
from provenance.errors import ProvenanceError
from provenance.keys import Pins
from provenance.store.commit_marks import committed_between, read_mark

__all__ = ["AuditAhead"]


class AuditAhead:
    """The audit of the log, started at once in a thread of its own (a context manager: leaving
    it stops the audit if still running and lets its connection go)."""

    def __init__(self, engine: Engine, pins: Pins | None, provisional: str | None) -> None:
        self._engine = engine
        self._stop = threading.Event()
        # One thread: the audit, then letting its connection go. (The finalize's locked write
        # uses that connection in between, never at the same time.)
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="provenance-audit-ahead")
        self._connection: Connection | None = None
        self._lent = False
        """SQLite: whether `writer()` gave the locked write the audit's connection."""
        self._file: tuple[str, tuple[int, int]] | None = None
        """SQLite: the ledger file's path, and which file (device, inode) the connection opened."""
        self._future = self._thread.submit(self._audit, pins, provisional)

    def __enter__(self) -> AuditAhead:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        try:
            self._thread.submit(self._let_go).result()
        finally:
            self._thread.shutdown(wait=True)

    def wait(self) -> None:
        """Until the audit ahead is over (call it before taking the lock: waiting for it under
        the lock would keep the other writers waiting too)."""
        self._future.result()

    def writer(self) -> Connection | None:
        """On SQLite, the connection that read the audit, for the locked write to be made on
        (None on PostgreSQL, or when the audit ahead could not connect). Refused when the ledger
        file is no longer the one that connection opened."""
        if self._file is None or self._connection is None:
            return None
        path, opened = self._file
        if _identity(path) != opened:
            raise ProvenanceError(
                f"The ledger file {path} was replaced while this finalize read the delivery (another "
                "file is at its path now), so nothing was recorded. Find out who replaced it; "
                "`provenance audit verify` checks the file now in place, then finalize again."
            )
        self._lent = True
        return self._connection

    def confirmed(self, session: Session) -> LogCheck | None:
        """The audit made ahead, if it still holds for `session`, the finalize's locked write
        (whose first statement this must be; on SQLite, made on `writer()`): its log verified
        (anything it found wrong is found again under the lock) and nothing committed since it
        read the ledger. None when the audit must run again under the lock."""
        made = self._future.result()
        if made is None:
            return None
        log, mark = made
        if log.problems:
            return None
        now = read_mark(session)
        if isinstance(mark, str):
            return None if committed_between(mark, str(now)) else log
        # SQLite: the data version of the same connection, asked again now that the lock is
        # held (no one else can commit until this write is over). Another connection's data
        # version says nothing about this one's: without the audit's connection, audit again.
        return log if self._lent and now == mark else None

    def _audit(
        self, pins: Pins | None, provisional: str | None
    ) -> tuple[LogCheck, str | int] | None:
        sqlite = self._engine.dialect.name == "sqlite"
        path = self._engine.url.database if sqlite else None
        before = _identity(path) if path else None
        try:
            connection = self._engine.connect()
        except Exception:
            return None
        if sqlite:
            # Kept for the locked write (`writer`); on PostgreSQL the snapshot says it all.
            self._connection = connection
            if path and before is not None and _identity(path) == before:
                # (The file at the path did not change while the connection opened it.)
                self._file = (path, before)
        else:
            connection.execution_options(isolation_level="REPEATABLE READ")
        try:
            with Session(connection) as session:
                mark = read_mark(session)  # (the transaction begins: the audit reads this)
                log = check_log(session, pins, provisional, self._stop)
                session.rollback()
        except Exception:
            # Stopped, or anything else: the audit under the lock runs, as it would have, and
            # meets whatever went wrong here on its own terms.
            return None
        finally:
            if not sqlite:
                connection.close()
        return log, mark

    def _let_go(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def _identity(path: str) -> tuple[int, int] | None:
    try:
        found = os.stat(path)
    except OSError:
        return None
    return found.st_dev, found.st_ino

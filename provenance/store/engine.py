"""Engines and transactions: ledger URLs, SQLite pragmas, BEGIN IMMEDIATE for writes, schema checks."""

from __future__ import annotations

import functools
import os
import random
import re
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import ParamSpec, TypeVar

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, DBAPIError, OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from provenance.errors import LedgerNotFound, LedgerReadOnly, NotALedger, ProvenanceError

__all__ = [
    "BUSY_TIMEOUT_MS",
    "LEDGER_DIR",
    "LEDGER_FILE",
    "LedgerLocation",
    "changed_tables",
    "create_ledger_engine",
    "locate_ledger",
    "parse_ledger_url",
    "read_session",
    "retry_conflicts",
    "table_names",
    "translate_db_errors",
    "write_session",
]


LEDGER_DIR = ".provenance"
LEDGER_FILE = "ledger.db"
BUSY_TIMEOUT_MS = 60_000


@dataclass(frozen=True)
class LedgerLocation:
    """Where a ledger lives and which folder its paths are relative to."""

    url: URL
    root: bytes
    """Absolute folder that stored paths are relative to: the workspace, or `/`."""

    @property
    def display_url(self) -> str:
        """The URL with any password hidden, safe for output and logs."""
        return self.url.render_as_string(hide_password=True)

    @property
    def sqlite_path(self) -> Path | None:
        if self.url.get_backend_name() != "sqlite" or not self.url.database:
            return None
        if self.url.database == ":memory:":
            return None
        return Path(self.url.database)


def parse_ledger_url(value: str) -> LedgerLocation:
    """A `--db` value: a SQLAlchemy URL, or a plain path to a SQLite file."""
    if "://" not in value:
        path = Path(value).expanduser().absolute()
        return LedgerLocation(URL.create("sqlite", database=str(path)), _root_for_sqlite(path))
    try:
        url = make_url(value)
        # (The port is parsed when it is first read: `[::1/x` is read as host `[`, port `:1`.)
        url.port  # noqa: B018
    except (ArgumentError, ValueError) as exc:
        why = f"its port is not a number ({exc})" if isinstance(exc, ValueError) else str(exc)
        raise ProvenanceError(
            f"Cannot read the ledger URL {_hide_password(value)!r}: {why}. Use a path to a "
            "SQLite file or a URL such as sqlite:///path/ledger.db or "
            "postgresql+psycopg://user@host:5432/db (an IPv6 host in brackets: [::1])."
        ) from None
    backend = url.get_backend_name()
    if backend == "sqlite":
        if url.database and url.database != ":memory:":
            path = Path(url.database).expanduser().absolute()
            url = url.set(database=str(path))
            return LedgerLocation(url, _root_for_sqlite(path))
        return LedgerLocation(url, b"/")
    if backend in ("postgresql", "postgres"):
        if url.drivername in ("postgresql", "postgres"):
            url = url.set(drivername="postgresql+psycopg")
        return LedgerLocation(url, b"/")
    raise ProvenanceError(
        f"Unsupported ledger database {backend!r}. Use SQLite (a file path) or PostgreSQL "
        "(postgresql+psycopg://...)."
    )


def _hide_password(text: str) -> str:
    """A URL that may not parse, with whatever stands where its password would be hidden."""
    return re.sub(r"(://[^/@]*?:)[^/@]*@", r"\1***@", text)


def _root_for_sqlite(path: Path) -> bytes:
    # A ledger inside a `.provenance` folder belongs to the workspace that holds the folder;
    # anywhere else it stores absolute paths.
    if path.parent.name == LEDGER_DIR:
        return os.fsencode(path.parent.parent)
    return b"/"


def discover_ledger(start: Path) -> LedgerLocation | None:
    """Look for `.provenance/ledger.db` in `start` and each of its parents, like git does."""
    here = start.absolute()
    for folder in (here, *here.parents):
        candidate = folder / LEDGER_DIR / LEDGER_FILE
        if candidate.is_file():
            return parse_ledger_url(str(candidate))
    return None


def locate_ledger(db: str | None, cwd: Path | None = None) -> LedgerLocation:
    """`--db`, else `PROVENANCE_DB`, else `DATABASE_URL`, else the nearest `.provenance/`."""
    for value in (db, os.environ.get("PROVENANCE_DB"), os.environ.get("DATABASE_URL")):
        if value:
            return parse_ledger_url(value)
    found = discover_ledger(cwd or Path.cwd())
    if found is None:
        raise LedgerNotFound(
            f"No ledger found in {cwd or Path.cwd()} or any folder above it. Run `provenance init` "
            "in the folder of your show (or pass --db / set PROVENANCE_DB)."
        )
    return found


def create_ledger_engine(location: LedgerLocation) -> Engine:
    """An engine with the pragmas and begin modes the ledger relies on."""
    url = location.url
    if url.get_backend_name() == "sqlite":
        path = location.sqlite_path
        if path is not None and _read_only_folder(path):
            return _snapshot_engine(path)
        engine = create_engine(
            url,
            poolclass=NullPool,
            # A finalize writes on the connection its audit read in another thread
            # (`audit.ahead`); no connection is ever used by two threads at once.
            connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        )
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    try:
        return create_engine(url, pool_pre_ping=True)
    except (ArgumentError, ImportError) as exc:
        raise ProvenanceError(
            f"Cannot use the ledger URL {location.display_url!r} ({exc}). A PostgreSQL ledger "
            "needs postgresql+psycopg://... and psycopg: pip install 'provenance[postgres]'."
        ) from None


def _read_only_folder(path: Path) -> bool:
    """A ledger file in a folder this process cannot write (an archive, a read-only mount)."""
    return path.is_file() and not os.access(path.parent, os.W_OK)


def _snapshot_engine(path: Path) -> Engine:
    """An engine that reads a ledger in a read-only folder as it stands.

    SQLite cannot open a WAL ledger whose folder it cannot write (it would make the `-shm`
    file), not even to read. When no `-wal` file holds commits the main file lacks, the file is
    all there is, and SQLite reads it as immutable; every write is refused as read-only."""
    wal = Path(f"{path}-wal")
    shm = Path(f"{path}-shm")
    if wal.exists() and wal.stat().st_size and not shm.exists():
        raise LedgerReadOnly(
            f"The ledger {path} is in a folder that cannot be written, and its {wal.name} file "
            "holds commits that only a writer can fold in. Open it once where it can be "
            "written (or copy the folder somewhere writable), then read it here."
        )
    immutable = not wal.exists() or not wal.stat().st_size
    uri = f"{path.as_uri()}?{'immutable=1' if immutable else 'mode=ro'}"

    def connect() -> sqlite3.Connection:
        return sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000)

    engine = create_engine("sqlite://", creator=connect, poolclass=NullPool)
    event.listen(engine, "connect", _sqlite_on_connect_read_only)
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _sqlite_on_connect_read_only(dbapi_connection: sqlite3.Connection, _record: object) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA query_only = ON")
    finally:
        cursor.close()


def _sqlite_on_connect(dbapi_connection: sqlite3.Connection, _record: object) -> None:
    # Hand transaction control to us (pysqlite's own BEGIN is deferred and too late).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        try:
            mode = cursor.execute("PRAGMA journal_mode").fetchone()
            if mode and str(mode[0]).lower() != "wal":
                cursor.execute("PRAGMA journal_mode = WAL")
        except sqlite3.OperationalError:
            # A read-only ledger cannot switch modes; reads still work, writes are refused later.
            pass
        cursor.execute("PRAGMA synchronous = NORMAL")
    finally:
        cursor.close()


def _sqlite_on_begin(connection: Connection) -> None:
    # Writers take the write lock up front so two writers never deadlock on lock upgrade.
    mode = "BEGIN IMMEDIATE" if connection.get_execution_options().get("ledger_write") else "BEGIN"
    connection.exec_driver_sql(mode)


# Serialization failures and deadlocks: the transaction did nothing and may simply run again.
RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})
RETRIES = 5

T = TypeVar("T")
P = ParamSpec("P")


def retry_conflicts(work: Callable[P, T]) -> Callable[P, T]:
    """Run a unit of work again (with backoff) when the database aborted it as a conflict.

    Writers already serialize on the ledger's write lock, so this is a safety net for what
    the lock does not cover (a DBA's own session, a future finer-grained lock). SQLite's
    'database is locked' past the busy timeout is retried the same way.
    """

    @functools.wraps(work)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        for attempt in range(RETRIES):
            try:
                return work(*args, **kwargs)
            except OperationalError as exc:
                code = getattr(exc.orig, "sqlstate", None)
                locked = "database is locked" in str(exc.orig)
                if (code not in RETRYABLE_SQLSTATES and not locked) or attempt == RETRIES - 1:
                    raise
                time.sleep(min(2.0, 0.05 * 2**attempt) * (1 + random.random()))
        raise AssertionError("unreachable")

    return wrapper


# The key of the PostgreSQL advisory lock that serializes writers (ASCII "provenan").
WRITE_LOCK_KEY = 0x70726F76656E616E


@contextmanager
def write_session(
    engine: Engine, snapshot: bool = False, connection: Connection | None = None
) -> Iterator[Session]:
    """One unit of work that writes: committed on success, rolled back on any error.

    Writers are serialized, as SQLite's BEGIN IMMEDIATE does, so that the event chain never
    forks and version numbers never collide. On PostgreSQL a transaction-scoped advisory lock
    does the same; readers are never blocked. After a PostgreSQL commit that changed a table
    by a good part of its rows, that table's planner statistics are refreshed (`refresh_stats`).

    With `snapshot`, every statement of the unit of work reads the database as it was when the
    first one ran, whatever is committed meanwhile: a finalize judges exactly the history its
    audit verified. SQLite gives this to every writer (BEGIN IMMEDIATE keeps all others out,
    a DBA's shell included). On PostgreSQL a DBA's session takes none of our locks and may
    commit between two statements of a READ COMMITTED transaction, so the unit of work runs
    REPEATABLE READ, its snapshot taken after the write lock is held (`_writer_bind`), and
    after every table of the ledger is held against TRUNCATE and DDL (`_hold_tables`).

    `connection`: a SQLite connection to write on, rather than a new one (a finalize writes on
    the connection its audit read).
    """
    postgres = engine.dialect.name == "postgresql"
    with (
        translate_db_errors(engine),
        _writer_bind(engine, postgres and snapshot, connection) as bind,
        Session(bind, expire_on_commit=False) as session,
    ):
        with session.begin():
            if postgres and not snapshot:
                session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": WRITE_LOCK_KEY})
            elif postgres:
                _hold_tables(session)
            before = table_changes(session) if postgres else {}
            yield session
            grown = changed_tables(session, before) if postgres else []
        if grown:
            refresh_stats(session, grown)


def _hold_tables(session: Session) -> None:
    """Hold every table of the ledger (ACCESS SHARE, what any read takes) until the transaction
    ends, before its snapshot is taken (a LOCK statement does not take it).

    A snapshot protects from rows committed after it, not from TRUNCATE, which PostgreSQL does
    not version: a snapshot taken before a truncation reads the table empty. A DBA who emptied
    `lineage` between the snapshot and the check's first read of it would have a comp made from
    generated plates judged on its own. Held, the tables make TRUNCATE, DROP TRIGGER and every
    other DDL wait until the unit of work is over; one committed before is seen by the audit."""
    from provenance.store.models import Base

    names = ", ".join(table.name for table in Base.metadata.sorted_tables)
    session.execute(text(f"LOCK TABLE {names} IN ACCESS SHARE MODE"))


@contextmanager
def _writer_bind(
    engine: Engine, session_locked: bool, connection: Connection | None = None
) -> Iterator[Engine | Connection]:
    """What a unit of work that writes is bound to: the engine (its transaction takes the write
    lock), the SQLite `connection` given (likewise), or, for a PostgreSQL snapshot, a
    connection holding the lock at session scope.

    A REPEATABLE READ transaction takes its snapshot at its first statement: were that the
    transaction-scoped lock, the snapshot would predate the writers the lock waited for. So
    the lock is the session-scoped one (the same key: writers of either kind exclude each
    other), taken before the transaction begins and released after it ends. A connection that
    cannot say it released the lock is closed, never pooled: closing releases it."""
    if not session_locked:
        yield (connection or engine).execution_options(ledger_write=True)
        return
    with engine.connect() as locked:
        try:
            locked.execute(text("SELECT pg_advisory_lock(:key)"), {"key": WRITE_LOCK_KEY})
            locked.commit()
            locked.execution_options(isolation_level="REPEATABLE READ")
            yield locked
        finally:
            _release_write_lock(locked)


def _release_write_lock(connection: Connection) -> None:
    try:
        connection.rollback()
        connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": WRITE_LOCK_KEY})
        connection.commit()
    except Exception:
        # (A connection lost mid-way, say.) Invalidated, it is closed, never pooled, and the
        # server drops a closed session's locks: the unit of work's own outcome stands.
        connection.invalidate()


STATS_FRACTION = 0.1
"""A table whose rows one transaction changed by this fraction of those it held (or more) gets
fresh planner statistics right after the commit, as autovacuum's default would only later."""
STATS_MIN_ROWS = 1000
"""... and by at least this many rows: a few rows do not move a plan."""

_TABLE_CHANGES = text(
    "SELECT x.relname, x.n_tup_ins + x.n_tup_upd + x.n_tup_del, c.reltuples "
    "FROM pg_stat_xact_user_tables x JOIN pg_class c ON c.oid = x.relid "
    "WHERE x.schemaname = current_schema()"
)


def table_changes(session: Session) -> dict[str, tuple[int, float]]:
    """Each table's rows inserted, updated or deleted by this backend and not yet reported to the
    statistics collector, and the planner's estimate of its rows.

    (The counts include earlier transactions of the same connection not yet flushed, which no
    flush changes while a transaction is open: the difference between two readings in one
    transaction is what it did.)"""
    return {
        str(name): (int(changes), float(rows))
        for name, changes, rows in session.execute(_TABLE_CHANGES)
    }


def changed_tables(session: Session, before: Mapping[str, tuple[int, float]]) -> list[str]:
    """The tables this PostgreSQL transaction changed by STATS_FRACTION of their rows or more."""
    grown = []
    for name, (changes, rows) in table_changes(session).items():
        done = changes - before.get(name, (0, 0.0))[0]
        if done >= max(STATS_MIN_ROWS, STATS_FRACTION * max(rows, 0.0)):
            grown.append(name)
    return sorted(grown)


def refresh_stats(session: Session, tables: list[str]) -> None:
    """ANALYZE these tables, in a transaction of its own, through the ledger's function (the roles
    do not own the tables). A sweep right after a big ingest otherwise plans its queries for the
    tables as statistics last saw them (empty, say): 26 s instead of 0.5 s for a delivery of
    20,000 frames (bench/ledger_scale.py). Best effort: the write is committed already, and
    stale statistics only make the next reads slower."""
    try:
        with session.begin():
            session.execute(text("SELECT provenance_analyze(:tables)"), {"tables": tables})
    except DBAPIError:
        pass


@contextmanager
def read_session(engine: Engine) -> Iterator[Session]:
    """One unit of work that only reads."""
    with (
        translate_db_errors(engine),
        Session(engine, expire_on_commit=False) as session,
        session.begin(),
    ):
        yield session


@contextmanager
def translate_db_errors(engine: Engine | None = None) -> Iterator[None]:
    """Turn driver errors a user can act on into ProvenanceErrors that name the fix (`engine`,
    when given, lets a SQLite disk error say whether the disk is full)."""
    try:
        yield
    except OperationalError as exc:
        raise _translate(exc, engine) from exc
    except DatabaseError as exc:
        message = str(exc.orig) if exc.orig is not None else str(exc)
        if getattr(exc.orig, "sqlstate", None) == "42501":
            raise LedgerReadOnly(
                f"Your database role may not do this ({message.splitlines()[0]}). Artists may "
                "ingest, tag and link; TDs may also approve, record consent and finalize; "
                "auditors only read. Ask the studio's ledger admin for the role you need."
            ) from exc
        if "file is not a database" in message or "malformed" in message:
            raise NotALedger(
                f"The ledger file is not a SQLite database or is damaged ({message}). "
                "Point --db at a provenance ledger, or create one with `provenance init`."
            ) from exc
        raise


FULL_DISK_BYTES = 1 << 20
"""Free space under which a SQLite "disk I/O error" is taken to be a full disk (SQLite reports
a write that found no space in its write-ahead log so)."""


def _full_disk(engine: Engine | None) -> bool:
    database = engine.url.database if engine is not None else None
    if engine is None or engine.dialect.name != "sqlite" or not database:
        return False
    try:
        status = os.statvfs(os.path.dirname(os.path.abspath(database)))
    except OSError:
        return False
    return status.f_bavail * status.f_frsize < FULL_DISK_BYTES


def _translate(
    exc: OperationalError, engine: Engine | None = None
) -> ProvenanceError | OperationalError:
    message = str(exc.orig) if exc.orig is not None else str(exc)
    lowered = message.lower()
    if "readonly" in lowered or "read-only" in lowered or "read only" in lowered:
        return LedgerReadOnly(
            f"The ledger cannot be written ({message}). Check the permissions of the ledger file "
            "and its folder (SQLite writes a -wal and -shm file beside it), or use a writable copy."
        )
    if "unable to open database" in lowered:
        return LedgerNotFound(
            f"Cannot open the ledger ({message}). Check that the folder exists and is readable, "
            "or create a ledger with `provenance init`."
        )
    if "file is not a database" in lowered:
        return NotALedger(
            f"The ledger file is not a SQLite database ({message}). Point --db at a provenance "
            "ledger, or create one with `provenance init`."
        )
    first = message.strip().splitlines()[0] if message.strip() else type(exc).__name__
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if (
        "disk is full" in lowered
        or "no space left" in lowered
        or "could not extend file" in lowered
        or sqlstate in ("53100", "53200")  # disk_full, out_of_memory
        or ("disk i/o error" in lowered and _full_disk(engine))
    ):
        return ProvenanceError(
            f"The disk holding the ledger is full ({first}). Nothing was recorded by this "
            "command: free space on that disk (or move the ledger to a larger one) and run it "
            "again."
        )
    if "locked" in lowered or sqlstate in RETRYABLE_SQLSTATES:
        return exc
    if isinstance(exc.orig, sqlite3.Error):
        return ProvenanceError(
            f"Cannot use the ledger ({first}). Nothing was recorded by this command. Check the "
            "ledger file (--db / PROVENANCE_DB), its folder, and the disk it is on (full, or "
            "failing)."
        )
    return ProvenanceError(
        f"Cannot use the ledger ({first}). Check --db / PROVENANCE_DB, that the database "
        "server is up, and your credentials (~/.pgpass, PGSERVICE)."
    )


def table_names(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())

"""Appending events: one a unit of work, committing to the rows it wrote, hash-chained (SHA-256 of
its canonical form) to the one before it."""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from provenance.store.models import Event
from provenance.store.rows import EventRows, LineDigests, committed_rows

__all__ = [
    "GENESIS_HASH",
    "UnitOfWork",
    "canonical_event",
    "current_actor",
    "event_hash",
    "unit_of_work_event",
]


GENESIS_HASH = "sha256:" + "0" * 64


def current_actor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid:{os.getuid()}" if hasattr(os, "getuid") else "unknown"


def current_host() -> str:
    return socket.gethostname()


def canonical_event(
    kind: str, actor: str, host: str, at: dt.datetime, payload: str, prev_hash: str
) -> bytes:
    document = {
        "kind": kind,
        "actor": actor,
        "host": host,
        "at": at.astimezone(dt.timezone.utc).isoformat(),
        "payload": payload,
        "prev": prev_hash,
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def event_hash(canonical: bytes) -> str:
    return "sha256:" + hashlib.sha256(canonical).hexdigest()


@dataclass
class UnitOfWork:
    """One change to the ledger in progress: its event's id and time are known before its rows
    are written, and its event is appended when it completes."""

    kind: str
    event_id: int
    at: dt.datetime
    """The event's time; every row the unit writes carries it as its `created_at`."""
    payload: dict[str, Any]
    hash: str | None = None
    """The event's hash, once the unit completed."""
    changed_ids: dict[str, set[int]] = field(default_factory=dict)
    """Rows changed in place (only tools change), by table: committed to beside the new rows."""
    written: dict[str, EventRows] = field(default_factory=dict)
    """Canonical rows (store.rows) of tables this unit's writer alone writes, fed as it writes
    them, in table order: committed to without reading them back, and without holding them
    past INLINE_ROWS (an ingest's versions)."""
    lines: dict[str, LineDigests] = field(default_factory=dict)
    """Digests of child tables (store.rows.DIGESTS) the writer fed as it wrote them, in order
    (an ingest's members): hashed as they come, so memory stays flat."""

    def changed(self, table: str, row_id: int) -> None:
        """Note a row that this unit changed in place (rows it inserts are found by their event id)."""
        self.changed_ids.setdefault(table, set()).add(row_id)


@contextmanager
def unit_of_work_event(
    session: Session, kind: str, payload: dict[str, Any]
) -> Iterator[UnitOfWork]:
    """Write one event's rows inside the caller's write-locked transaction, then the event.

    The event id is reserved first, every row is written with it, and the event is appended
    last with the rows it wrote in its payload (`rows`, see store.rows): the event commits to
    exactly what its unit of work wrote, so the state can be rebuilt from the events alone.
    The rows' references to the event are checked at commit. If the body raises, no event is
    appended (and the caller's transaction rolls back). Units do not nest.
    """
    if session.info.get(_OPEN_UNIT) is not None:
        raise RuntimeError(
            f"a {kind} event was started inside the unit of work of a "
            f"{session.info[_OPEN_UNIT].kind} event; finish one before starting the next"
        )
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        # The id comes from the sequence and the time from the server's clock: the function that
        # appends the event (schema 0010) refuses any other.
        event_id, at = connection.execute(
            select(
                func.nextval(func.pg_get_serial_sequence("events", "id")), func.clock_timestamp()
            )
        ).one()
        at = at.astimezone(dt.timezone.utc)
        # Only the references to events are deferrable (schema 0005).
        connection.exec_driver_sql("SET CONSTRAINTS ALL DEFERRED")
    else:
        # The writer holds SQLite's write lock (BEGIN IMMEDIATE): the next id is its own.
        last = connection.execute(select(func.max(Event.id))).scalar()
        event_id = (last or 0) + 1
        at = dt.datetime.now(dt.timezone.utc)
        connection.exec_driver_sql("PRAGMA defer_foreign_keys = ON")
    unit = UnitOfWork(kind, int(event_id), at, dict(payload))
    session.info[_OPEN_UNIT] = unit
    try:
        yield unit
        session.flush()
    finally:
        del session.info[_OPEN_UNIT]
    rows = committed_rows(connection, unit.event_id, unit.changed_ids, unit.written, unit.lines)
    body = {**unit.payload, "rows": rows}
    unit.hash = _insert_event(session, unit.event_id, kind, unit.at, body)


_OPEN_UNIT = "provenance_unit_of_work"


def _insert_event(
    session: Session, event_id: int, kind: str, at: dt.datetime, payload: dict[str, Any]
) -> str:
    who = current_actor()
    host = current_host()
    if session.get_bind().dialect.name == "postgresql":
        # On a shared ledger the database role is who acted (the OS account may be shared or
        # spoofed); the OS user is kept beside it. The roles may not write `events`: the
        # ledger's own function appends the event, hashing it as below under the chain's lock,
        # with the logged-in role as its actor.
        body = _payload_text({**payload, "os_user": who})
        return str(
            session.execute(
                text("SELECT provenance_append_event(:id, :kind, :host, :at, :payload)"),
                {"id": event_id, "kind": kind, "host": host, "at": at, "payload": body},
            ).scalar_one()
        )
    prev = session.execute(select(Event.hash).order_by(Event.id.desc()).limit(1)).scalar()
    prev_hash = prev or GENESIS_HASH
    body = _payload_text(payload)
    digest = event_hash(canonical_event(kind, who, host, at, body, prev_hash))
    session.execute(
        insert(Event).values(
            id=event_id,
            kind=kind,
            actor=who,
            host=host,
            at=at,
            payload=body,
            prev_hash=prev_hash,
            hash=digest,
        )
    )
    return digest


def _payload_text(payload: dict[str, Any]) -> str:
    """The payload as the canonical form hashes it: compact JSON, keys sorted, non-ASCII kept."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

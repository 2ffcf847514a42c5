"""Appending events: each one hash-chained (SHA-256 of its canonical form) to the one before it."""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import json
import os
import socket
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from provenance.store.models import Event

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


def append_event(
    session: Session, kind: str, payload: dict[str, Any], actor: str | None = None
) -> int:
    """Append one event inside the caller's (write-locked) transaction and return its id."""
    prev = session.execute(select(Event.hash).order_by(Event.id.desc()).limit(1)).scalar()
    prev_hash = prev or GENESIS_HASH
    at = dt.datetime.now(dt.timezone.utc)
    who = actor or current_actor()
    if session.get_bind().dialect.name == "postgresql":
        # On a shared ledger the database role is who acted (the OS account may be shared or
        # spoofed); the OS user is kept beside it.
        payload = {**payload, "os_user": who}
        who = str(session.execute(text("SELECT session_user")).scalar_one())
    host = current_host()
    body = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    digest = event_hash(canonical_event(kind, who, host, at, body, prev_hash))
    return session.execute(
        insert(Event)
        .values(
            kind=kind, actor=who, host=host, at=at, payload=body, prev_hash=prev_hash, hash=digest
        )
        .returning(Event.id)
    ).scalar_one()

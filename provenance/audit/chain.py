"""The chain of events: each event's hash over its canonical form and the one before it, the
Merkle leaves a checkpoint signs, and every event as a JSON document for an auditor's tools.

The chain (each event's SHA-256 over its canonical form and the previous hash) shows whether a
row was edited or removed from the middle. It cannot show a truncated tail or a chain recomputed
from scratch: signed checkpoints kept outside the database can (`audit.checkpoints`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from provenance import merkle, schemas
from provenance.store.events import GENESIS_HASH, canonical_event, event_hash
from provenance.store.models import Event
from provenance.store.rows import digested_tables, table_rows

__all__ = [
    "ChainState",
    "event_payload",
    "export_events",
    "iter_events",
    "read_chain",
]


@dataclass
class ChainState:
    """What the event log adds up to now."""

    size: int
    leaves: list[bytes]
    """Merkle leaf hashes of the events, in order."""
    ledger_id: str
    """The hash of the first event: names this ledger in its checkpoints."""
    problems: list[str] = field(default_factory=list)

    @property
    def root(self) -> bytes:
        return merkle.root(self.leaves)

    def appended(self, event_hash: str) -> ChainState:
        """The chain with one more event (the one just written), without reading the log."""
        leaves = [*self.leaves, merkle.leaf_hash(event_hash.encode())]
        return ChainState(len(leaves), leaves, self.ledger_id or event_hash, list(self.problems))


_EVENT_COLUMNS = select(
    Event.id, Event.kind, Event.actor, Event.host, Event.at, Event.payload, Event.prev_hash,
    Event.hash,
)  # fmt: skip


def iter_events(session: Session, batch: int = 5000) -> Iterator[Any]:
    """Every event (a row with the columns of `Event`), oldest first, a page at a time."""
    last = 0
    connection = session.connection()  # plain rows: no ORM bookkeeping a row
    while True:
        rows = connection.execute(
            _EVENT_COLUMNS.where(Event.id > last).order_by(Event.id).limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].id


def read_chain(session: Session, each: Callable[[Any], None] | None = None) -> ChainState:
    """Recompute every event's hash and link; collect the Merkle leaves.

    `each` is shown every event on the way (so that one pass over the log serves the audit).
    """
    leaves: list[bytes] = []
    problems: list[str] = []
    previous = GENESIS_HASH
    ledger_id = ""
    for event in iter_events(session):
        if each is not None:
            each(event)
        recomputed = event_hash(
            canonical_event(
                event.kind, event.actor, event.host, event.at, event.payload, event.prev_hash
            )
        )
        if event.prev_hash != previous:
            problems.append(
                f"event #{event.id} ({event.kind}) does not follow the event before it: an event "
                "was removed or reordered"
            )
        if recomputed != event.hash:
            problems.append(
                f"event #{event.id} ({event.kind}, {event.at.isoformat()}) was changed after it "
                "was written: its content no longer matches its hash"
            )
        if not ledger_id:
            ledger_id = event.hash
        leaves.append(merkle.leaf_hash(event.hash.encode()))
        previous = event.hash
    return ChainState(len(leaves), leaves, ledger_id, problems)


def event_payload(text: str) -> dict[str, Any]:
    try:
        document = json.loads(text)
    except ValueError:
        return {}  # the chain shows the edit
    return document if isinstance(document, dict) else {}


def export_events(session: Session) -> Iterator[dict[str, Any]]:
    """Every event as a JSON-ready document, oldest first, for an auditor's own tools.

    A table the event committed to by count and digest (more than INLINE_ROWS rows) comes
    beside the payload, in `digested_rows`, as the table holds it: the auditor checks it against
    the digest, and the state can still be rebuilt from the export alone.
    """
    connection = session.connection()
    for event in iter_events(session):
        payload = json.loads(event.payload)
        document = {
            "schema": schemas.EVENT,
            "id": event.id,
            "kind": event.kind,
            "actor": event.actor,
            "host": event.host,
            "at": event.at.isoformat(),
            "payload": payload,
            "prev_hash": event.prev_hash,
            "hash": event.hash,
        }
        digested = digested_tables(payload.get("rows") if isinstance(payload, dict) else None)
        if digested:
            document["digested_rows"] = {
                table: [list(row) for _event, row in table_rows(connection, table, event.id)]
                for table in digested
            }
        yield document

"""The audit in one pass over the log: recompute the chain, rebuild the state from the events and
compare it with the tables, follow the key events, and check every stored checkpoint.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from provenance.audit.chain import ChainState, event_payload, read_chain
from provenance.audit.checkpoints import (
    CheckpointCheck,
    check_checkpoint,
    read_checkpoint,
    stored_checkpoints,
)
from provenance.audit.differences import AuditProblem
from provenance.audit.legacy import LEGACY_CHECKED
from provenance.audit.rebuilt_state import EventFacts, check_state
from provenance.keys import KEY_KINDS, KeyBook, KeyRing, Pins
from provenance.store.models import Event
from provenance.store.rows import StateBuilder

__all__ = [
    "AuditReport",
    "AuditStopped",
    "LogCheck",
    "audit",
    "check_log",
    "read_key_ring",
    "with_checkpoints",
]


@dataclass
class AuditReport:
    size: int
    root: str
    ledger_id: str
    chain_problems: list[AuditProblem]
    """What the chain, the state rebuilt from the events and the key events show (checkpoints
    apart): each a sentence, or a differing row as data (`audit.differences`)."""
    checkpoints: list[CheckpointCheck]
    seconds: float
    notes: list[str] = field(default_factory=list)
    """What an auditor should know that is not a problem (events older than row commitments)."""
    chain: ChainState | None = field(default=None, repr=False, compare=False)
    """The chain as recomputed (a checkpoint is made from it, without reading the log again)."""
    keys: KeyRing = field(default_factory=KeyRing)
    """The checkpoint keys the ledger trusts (its key events), as checked."""

    @property
    def ok(self) -> bool:
        return not self.chain_problems and all(c.problem is None for c in self.checkpoints)

    @property
    def problems(self) -> list[AuditProblem]:
        """Everything that does not verify, checkpoints last (`differing_rows` picks the rows)."""
        found = list(self.chain_problems)
        found += [f"checkpoint {c.path.name}: {c.problem}" for c in self.checkpoints if c.problem]
        return found


@dataclass
class LogCheck:
    """What the log itself shows: the chain recomputed, the state rebuilt from the events and
    compared with the tables, the key events followed (the checkpoints apart)."""

    state: ChainState
    problems: list[AuditProblem]
    notes: list[str]
    keys: KeyRing
    seconds: float


class AuditStopped(Exception):
    """An audit stopped half-way because its caller no longer needs it (`check_log`'s `stop`)."""


def audit(
    session: Session, folder: Path, pins: Pins | None = None, provisional: str | None = None
) -> AuditReport:
    """Recompute the chain, compare the state rebuilt from the events with the tables, follow
    the key events, and check every stored checkpoint against the chain and the keys.

    `pins`: the studio's keys given outside the database. `provisional`: the key a finalize or
    checkpoint is about to pin as the ledger's first, when it pins none yet.
    """
    return with_checkpoints(check_log(session, pins, provisional), folder, provisional)


def check_log(
    session: Session,
    pins: Pins | None = None,
    provisional: str | None = None,
    stop: threading.Event | None = None,
) -> LogCheck:
    """The audit of the log, without the checkpoints (see `audit`). With `stop`, it raises
    AuditStopped soon after `stop` is set."""
    started = time.perf_counter()
    builder = StateBuilder(keep_legacy=LEGACY_CHECKED)
    book = KeyBook(pins)
    facts: dict[int, EventFacts] = {}
    first: list[str] = []

    def each(event: Any) -> None:
        if stop is not None and stop.is_set():
            raise AuditStopped
        facts[event.id] = EventFacts(event.kind, event.at)
        payload = event_payload(event.payload)
        builder.add(event.id, event.kind, payload)
        if not first:
            first.append(event.hash)
        book.add(event.id, len(facts), event.kind, payload, event.prev_hash, first[0])

    state = read_chain(session, each)
    if stop is not None and stop.is_set():
        raise AuditStopped
    state_check = check_state(session, builder.result(), facts)
    keys = book.result()
    notes = list(state_check.notes)
    if not keys.pinned and keys.pins is None and provisional is None:
        notes.append(
            "this ledger trusts no checkpoint key yet: the first `provenance audit checkpoint` "
            "or `finalize` pins its key (or `provenance audit keys add --key KEY`)"
        )
    return LogCheck(
        state,
        [*state.problems, *state_check.problems, *keys.problems],
        notes,
        keys,
        time.perf_counter() - started,
    )


def with_checkpoints(log: LogCheck, folder: Path, provisional: str | None = None) -> AuditReport:
    """The audit's report: what the log shows, and every checkpoint stored in `folder` checked
    against the chain and the keys."""
    started = time.perf_counter()
    problems = list(log.problems)
    try:
        stored = stored_checkpoints(folder)
    except OSError as exc:
        stored = []
        problems.append(
            f"the checkpoints folder {folder} cannot be read ({exc.strerror}): its checkpoints "
            "were not checked"
        )
    state = log.state
    checks = [
        check_checkpoint(path, read_checkpoint(path), state, log.keys, provisional)
        for path in stored
    ]
    return AuditReport(
        state.size,
        state.root.hex(),
        state.ledger_id,
        problems,
        checks,
        log.seconds + time.perf_counter() - started,
        list(log.notes),
        state,
        log.keys,
    )


def read_key_ring(session: Session, pins: Pins | None = None) -> KeyRing:
    """The keys the ledger trusts, from its key events alone (without reading the whole log)."""
    book = KeyBook(pins)
    connection = session.connection()
    first = connection.execute(select(Event.hash).order_by(Event.id).limit(1)).scalar()
    rows = connection.execute(
        select(Event.id, Event.kind, Event.payload, Event.prev_hash)
        .where(Event.kind.in_(KEY_KINDS))
        .order_by(Event.id)
    ).all()
    for event_id, kind, payload, prev_hash in rows:
        position = connection.execute(
            select(func.count()).select_from(Event).where(Event.id <= event_id)
        ).scalar_one()
        book.add(event_id, int(position), kind, event_payload(payload), prev_hash, first or "")
    return book.result()

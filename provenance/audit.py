"""The tamper-evident log: recompute the event chain, Merkle checkpoints signed with Ed25519, verify.

The chain (each event's SHA-256 over its canonical form and the previous hash) shows whether a
row was edited or removed from the middle. It cannot show a truncated tail or a chain recomputed
from scratch: signed checkpoints kept outside the database can. A checkpoint is the number of
events and the RFC 9162 Merkle root over their hashes; a later log must extend it, which a
consistency proof shows.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import operator
import os
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import Connection, func, select
from sqlalchemy.orm import Session

from provenance import atomic, merkle, schemas
from provenance.errors import ProvenanceError
from provenance.fingerprint import aggregate_digest
from provenance.keys import KEY_KINDS, KeyBook, KeyRing, Pins, public_hex
from provenance.origins import Origin
from provenance.records import display_path
from provenance.store.events import GENESIS_HASH, canonical_event, event_hash
from provenance.store.models import (
    Approval,
    AssetVersion,
    Claim,
    Consent,
    Deliverable,
    Event,
    LineageEdge,
    Tool,
)
from provenance.store.queries import chunked
from provenance.store.rows import (
    COLUMNS,
    LineDigests,
    RebuiltState,
    Row,
    RowsDigest,
    StateBuilder,
    child_lines,
    digested_tables,
    read_rows,
    table_rows,
)

__all__ = [
    "AuditReport",
    "ChainState",
    "audit",
    "export_events",
    "make_checkpoint",
    "read_key_ring",
    "stored_checkpoints",
    "write_checkpoint",
]


# ---------------------------------------------------------------------------------------------
# The chain


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


# ---------------------------------------------------------------------------------------------
# Checkpoints


def _signed_body(document: Mapping[str, Any]) -> bytes:
    body = {k: v for k, v in document.items() if k != "signature"}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def make_checkpoint(state: ChainState, key: Ed25519PrivateKey) -> dict[str, Any]:
    if state.size == 0:
        raise ProvenanceError("The ledger has no events yet: nothing to checkpoint.")
    document: dict[str, Any] = {
        "schema": schemas.CHECKPOINT,
        "ledger": state.ledger_id,
        "size": state.size,
        "root": state.root.hex(),
        "at": dt.datetime.now(dt.timezone.utc).isoformat(),
        "public_key": public_hex(key.public_key()),
    }
    document["signature"] = key.sign(_signed_body(document)).hex()
    return document


def write_checkpoint(folder: Path, document: dict[str, Any]) -> Path:
    """Keep a checkpoint as its own file (never overwritten): `<ledger>-<size>-<time>.json`."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = document["at"].replace(":", "").replace("-", "").replace(".", "").split("+")[0]
    name = f"{document['ledger'][7:23]}-{document['size']:012d}-{stamp}.json"
    path = folder / name
    # Written whole (a killed process leaves no checkpoint cut short, which would fail every
    # later audit), under a name that must be free: a checkpoint is never overwritten.
    atomic.write_new(path, (json.dumps(document, indent=2) + "\n").encode("utf-8"))
    return path


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint file's document, every field of the right type."""

    ledger: str
    size: int
    root: bytes
    at: str
    public_key: str
    signature: bytes
    document: Mapping[str, Any] = field(repr=False)
    """The whole document, as signed."""


MAX_CHECKPOINT_BYTES = 64 * 1024
"""A checkpoint is a few hundred bytes: a file past this is not one (and is not read whole)."""

_CHECKPOINT_FIELDS: tuple[tuple[str, str, Callable[[object], bool]], ...] = (
    ("ledger", "the hash of an event (sha256: and 64 hex digits)",
     lambda v: isinstance(v, str) and re.fullmatch(r"sha256:[0-9a-f]{64}", v) is not None),
    ("size", "a whole number of events (1 or more)",
     lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1),
    ("root", "a Merkle root (64 hex digits)",
     lambda v: isinstance(v, str) and re.fullmatch(r"[0-9a-f]{64}", v) is not None),
    ("at", "a time in ISO 8601", lambda v: isinstance(v, str) and _is_iso_time(v)),
    ("public_key", "an Ed25519 public key (64 hex digits)",
     lambda v: isinstance(v, str) and re.fullmatch(r"[0-9a-f]{64}", v) is not None),
    ("signature", "an Ed25519 signature (128 hex digits)",
     lambda v: isinstance(v, str) and re.fullmatch(r"[0-9a-f]{128}", v) is not None),
)  # fmt: skip


def _is_iso_time(text: str) -> bool:
    try:
        dt.datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def read_checkpoint(path: Path) -> Checkpoint | str:
    """The checkpoint in a file, or a sentence saying why the file is not one."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_CHECKPOINT_BYTES + 1)
    except OSError as exc:
        return f"cannot be read ({exc.strerror})"
    if len(data) > MAX_CHECKPOINT_BYTES:
        return (
            f"is not a checkpoint: it is larger than {MAX_CHECKPOINT_BYTES // 1024} KiB (a "
            "checkpoint is a few hundred bytes)"
        )
    try:
        document = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        return "is not a checkpoint: it is not UTF-8 text"
    except json.JSONDecodeError as exc:
        return (
            f"is not a checkpoint: it is not valid JSON ({exc.msg}: line {exc.lineno}, column "
            f"{exc.colno}): it was cut short or damaged"
        )
    except (ValueError, RecursionError):
        return "is not a checkpoint: it is not JSON this version of provenance can read"
    if not isinstance(document, dict):
        return f"is not a checkpoint: it holds a JSON {_json_type(document)}, not an object"
    if document.get("schema") != schemas.CHECKPOINT:
        return (
            f"is not a checkpoint: its schema is {_shown(document.get('schema'))}, not "
            f"{schemas.CHECKPOINT!r}"
        )
    wrong = [
        f"it has no {name}"
        if name not in document
        else f"its {name} is {_shown(document[name])}, not {want}"
        for name, want, valid in _CHECKPOINT_FIELDS
        if name not in document or not valid(document[name])
    ]
    if wrong:
        return "is not a checkpoint: " + "; ".join(wrong)
    return Checkpoint(
        document["ledger"],
        document["size"],
        bytes.fromhex(document["root"]),
        document["at"],
        document["public_key"],
        bytes.fromhex(document["signature"]),
        document,
    )


def _shown(value: object) -> str:
    """A JSON value as the file has it (cut short when long)."""
    try:
        text = json.dumps(value, ensure_ascii=True)
    except (ValueError, TypeError, RecursionError):
        text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _json_type(value: object) -> str:
    if isinstance(value, list):
        return "list"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    return "number"


@dataclass(frozen=True)
class CheckpointCheck:
    path: Path
    size: int
    at: str
    problem: str | None
    checked: bool = True
    """Compared with the log (its signature verifies with the key it names)."""
    key: str | None = None
    """The public key it names (hex), when it is a checkpoint."""


def check_checkpoint(
    path: Path,
    found: Checkpoint | str,
    state: ChainState,
    keys: KeyRing,
    provisional: str | None = None,
) -> CheckpointCheck:
    """Is this checkpoint genuine, does the current log extend it, and is its key trusted?

    Every genuine checkpoint is compared with the log, whatever its key: it can only ever show
    that history changed. Then only a key the ledger trusts (`keys`; `provisional`, the key
    about to be pinned first) vouches for it: another key's checkpoint is itself a problem."""
    if isinstance(found, str):
        return CheckpointCheck(path, 0, "?", found, checked=False)
    size, at = found.size, found.at

    def fail(problem: str, checked: bool = True) -> CheckpointCheck:
        return CheckpointCheck(path, size, at, problem, checked, found.public_key)

    if found.ledger != state.ledger_id:
        return fail(
            "it was taken of a ledger whose first event differs from this one's: history was "
            "rewritten from the start (or the checkpoint belongs to another ledger)",
            checked=False,
        )
    try:
        public = Ed25519PublicKey.from_public_bytes(bytes.fromhex(found.public_key))
        public.verify(found.signature, _signed_body(found.document))
    except (InvalidSignature, ValueError):
        return fail("its signature does not verify: the checkpoint file was altered", False)
    if size > state.size:
        return fail(
            f"it saw {size} events but the ledger now holds {state.size}: events were removed "
            "from the end of the log"
        )
    proof = merkle.consistency_proof(state.leaves, size) if size < state.size else []
    if not merkle.verify_consistency(size, state.size, found.root, state.root, proof):
        if size == state.size:
            return fail(
                f"the log's root differs from the one signed for its {size} events: history was rewritten"
            )
        return fail(
            f"the log of {state.size} events does not extend the {size} events this checkpoint "
            "signed: history before it was rewritten"
        )
    untrusted = keys.checkpoint_problem(found.public_key, size, provisional)
    if untrusted is not None:
        return fail(untrusted)
    return CheckpointCheck(path, size, at, None, True, found.public_key)


@dataclass
class AuditReport:
    size: int
    root: str
    ledger_id: str
    chain_problems: list[str]
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
    def problems(self) -> list[str]:
        found = list(self.chain_problems)
        found += [f"checkpoint {c.path.name}: {c.problem}" for c in self.checkpoints if c.problem]
        return found


def audit(
    session: Session, folder: Path, pins: Pins | None = None, provisional: str | None = None
) -> AuditReport:
    """Recompute the chain, compare the state rebuilt from the events with the tables, follow
    the key events, and check every stored checkpoint against the chain and the keys.

    `pins`: the studio's keys given outside the database. `provisional`: the key a finalize or
    checkpoint is about to pin as the ledger's first, when it pins none yet.
    """
    started = time.perf_counter()
    builder = StateBuilder(keep_legacy=LEGACY_CHECKED)
    book = KeyBook(pins)
    facts: dict[int, _EventFacts] = {}
    first: list[str] = []

    def each(event: Any) -> None:
        facts[event.id] = _EventFacts(event.kind, event.at)
        payload = _payload(event.payload)
        builder.add(event.id, event.kind, payload)
        if not first:
            first.append(event.hash)
        book.add(event.id, len(facts), event.kind, payload, event.prev_hash, first[0])

    state = read_chain(session, each)
    state_check = check_state(session, builder.result(), facts)
    keys = book.result()
    state.problems.extend(state_check.problems)
    state.problems.extend(keys.problems)
    try:
        stored = stored_checkpoints(folder)
    except OSError as exc:
        stored = []
        state.problems.append(
            f"the checkpoints folder {folder} cannot be read ({exc.strerror}): its checkpoints "
            "were not checked"
        )
    checks = [
        check_checkpoint(path, read_checkpoint(path), state, keys, provisional) for path in stored
    ]
    notes = list(state_check.notes)
    if not keys.pinned and keys.pins is None and provisional is None:
        notes.append(
            "this ledger trusts no checkpoint key yet: the first `provenance audit checkpoint` "
            "or `finalize` pins its key (or `provenance audit keys add --key KEY`)"
        )
    return AuditReport(
        state.size,
        state.root.hex(),
        state.ledger_id,
        state.problems,
        checks,
        time.perf_counter() - started,
        notes,
        state,
        keys,
    )


def stored_checkpoints(folder: Path) -> list[Path]:
    """Every checkpoint file in the folder (the folder belongs to one ledger: a checkpoint naming
    another first event is itself a finding, since rewriting event #1 must not hide them)."""
    if not folder.is_dir():
        return []
    names = os.listdir(folder)  # (glob would hide a folder that cannot be read)
    return sorted(
        folder / name for name in names if name.endswith(".json") and not (folder / name).is_dir()
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
        book.add(event_id, int(position), kind, _payload(payload), prev_hash, first or "")
    return book.result()


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


# ---------------------------------------------------------------------------------------------
# State against events: every event commits to the rows its unit of work wrote (store.rows), so
# the state rebuilt from the events alone must be the tables, row for row.

LEGACY_WRITES: dict[str, frozenset[str]] = {
    "ingest": frozenset({"asset_versions", "claims", "lineage", "likenesses"}),
    "claim": frozenset({"claims", "likenesses"}),
    "claim.resolve": frozenset({"claims", "likenesses"}),
    "link": frozenset({"lineage"}),
    "approve": frozenset({"approvals"}),
    "consent": frozenset({"consents"}),
    "tool.add": frozenset({"tools"}),
    "finalize": frozenset({"deliverables"}),
}
"""Which tables events written before row commitments could write, by kind."""

LEGACY_CHECKED = ("ingest", "claim", "claim.resolve", "approve")
"""Kinds of those events whose claims and approvals the old rules compare with their payloads."""

KEYS: dict[str, tuple[str, ...]] = {
    "tools": ("id",),
    "asset_versions": ("id",),
    "claims": ("version_id",),
    "lineage": ("child_id", "parent_id"),
    "approvals": ("version_id",),
    "consents": ("performer_key",),
    "likenesses": ("version_id", "performer_key"),
    "deliverables": ("id",),
    "signals": ("version_id", "source"),
    "roots": ("id",),
}
"""What names a row in a sentence: a row added and a row gone with the same key were changed."""

MOST_PER_GROUP = 20
"""Sentences about one table of one event; past this, how many more is said."""


@dataclass
class StateCheck:
    problems: list[str]
    notes: list[str]


@dataclass(frozen=True)
class _EventFacts:
    kind: str
    at: dt.datetime


def _payload(text: str) -> dict[str, Any]:
    try:
        document = json.loads(text)
    except ValueError:
        return {}  # the chain shows the edit
    return document if isinstance(document, dict) else {}


def check_state(
    session: Session, rebuilt: RebuiltState, events: dict[int, _EventFacts]
) -> StateCheck:
    """Compare the state rebuilt from the events alone (`rebuilt`) with the tables."""
    connection = session.connection()
    actual = read_rows(connection)
    names = _Names(actual, rebuilt)
    problems = list(rebuilt.unreadable)
    unvouched: dict[str, set[int]] = {}
    for table in COLUMNS:
        found, unvouched[table] = _check_digested(table, rebuilt, actual[table], events)
        problems += found
        problems += _compare_table(table, rebuilt, actual[table], events, names)
    problems += _check_times(connection, rebuilt.committed, events)
    problems += _check_members(
        connection, rebuilt, actual, events, names, unvouched["asset_versions"]
    )
    problems += _check_deliverable_files(connection, rebuilt, actual, events)
    notes = []
    legacy = set(rebuilt.legacy)
    if legacy:
        problems += _legacy_checks(session, rebuilt.legacy_payloads)
        notes.append(
            f"written before row commitments ({len(legacy)} events): their rows are checked by "
            "the old rules"
        )
    return StateCheck(problems, notes)


def _check_digested(
    table: str,
    rebuilt: RebuiltState,
    found: dict[int, list[Row]],
    events: dict[int, _EventFacts],
) -> tuple[list[str], set[int]]:
    """The rows of events that committed to this table by count and digest, against the table.

    Returns the problems, and the events whose rows the table no longer holds as committed (the
    rows of the others are vouched for by the digest, and stand in for the event's own)."""
    problems: list[str] = []
    failed: set[int] = set()
    for event_id, committed in sorted(rebuilt.digested[table].items()):
        present = found.get(event_id, [])
        digest = RowsDigest()
        for row in present:
            digest.add(row)
        if (digest.count, digest.sha256()) == (committed.count, committed.sha256):
            continue
        failed.add(event_id)
        problems.append(
            f"the {table.replace('_', ' ')} recorded by event #{event_id} "
            f"({events[event_id].kind}) are not the rows it committed to ({committed.count:,} "
            f"committed, {digest.count:,} present): changed, added or removed outside provenance"
        )
    return problems, failed


def _compare_table(
    table: str,
    rebuilt: RebuiltState,
    found: dict[int, list[Row]],
    events: dict[int, _EventFacts],
    names: _Names,
) -> list[str]:
    problems: list[str] = []
    expected = rebuilt.rows[table]
    digested = rebuilt.digested[table]  # compared whole by _check_digested
    key = operator.itemgetter(*[COLUMNS[table].index(column) for column in KEYS[table]])
    for event_id in sorted((set(expected) | set(found)) - set(digested)):
        recorded = expected.get(event_id, [])
        present = found.get(event_id, [])
        event = events.get(event_id)
        if event_id not in rebuilt.committed and not recorded:
            # Rows of an event without commitments: only where they point can be judged.
            if event is None:
                why = "which does not exist"
            elif table not in LEGACY_WRITES.get(event.kind, frozenset()):
                why = f"a {event.kind} event, which records no {table.replace('_', ' ')}"
            else:
                continue
            say = functools.partial(_sentence, table, event_id, why, rebuilt, events, names)
            problems += _capped([("added", row, None) for row in present], say)
            continue
        recorded_count, present_count = Counter(recorded), Counter(present)
        if recorded_count == present_count:
            continue
        # A row gone and a row added with the same key are one row changed.
        gone: dict[object, list[Row]] = {}
        for row in (recorded_count - present_count).elements():
            gone.setdefault(key(row), []).append(row)
        differences: list[tuple[str, Row, Row | None]] = []
        for row in (present_count - recorded_count).elements():
            twins = gone.get(key(row))
            differences.append(("changed", twins.pop(), row) if twins else ("added", row, None))
        differences.sort(key=lambda difference: difference[0])  # added, then changed
        differences += [("missing", row, None) for rows in gone.values() for row in rows]
        kind = event.kind if event is not None else "which does not exist"
        say = functools.partial(_sentence, table, event_id, kind, rebuilt, events, names)
        problems += _capped(differences, say)
    return problems


def _sentence(
    table: str,
    event_id: int,
    kind: str,
    rebuilt: RebuiltState,
    events: dict[int, _EventFacts],
    names: _Names,
    difference: tuple[str, Row, Row | None],
) -> str:
    """One difference between a table and its events, as an auditor reads it."""
    what, row, present = difference
    if what == "added":
        return (
            f"{names.describe(table, row)} is not recorded by any event: inserted outside "
            f"provenance (it names event #{event_id}, {kind})"
        )
    if what == "missing":
        return (
            f"{names.describe(table, row)}, recorded by event #{event_id} ({kind}), is missing: "
            "deleted outside provenance"
        )
    assert present is not None
    changes = "; ".join(
        f"{column} is {now!r}, the event says {then!r}"
        for column, then, now in zip(COLUMNS[table], row, present, strict=True)
        if then != now
    )
    last = rebuilt.last_recorded.get((table, row[0]), event_id)
    when = f"event #{last} ({events[last].kind})" if last in events else f"event #{event_id}"
    return f"{names.describe(table, row)} was changed after {when} recorded it: {changes}"


def _capped(
    differences: Sequence[tuple[str, Row, Row | None]],
    say: Callable[[tuple[str, Row, Row | None]], str],
) -> list[str]:
    """The first MOST_PER_GROUP sentences (made only when shown), then how many more."""
    shown = [say(difference) for difference in differences[:MOST_PER_GROUP]]
    if len(differences) > MOST_PER_GROUP:
        shown.append(f"... and {len(differences) - MOST_PER_GROUP} more like these")
    return shown


def _check_times(
    connection: Connection, committed: set[int], events: dict[int, _EventFacts]
) -> list[str]:
    """Every row an event recorded carries the event's time as its `created_at`."""
    problems = []
    for table, model in _TIMED.items():
        for event_id, first, last in connection.execute(
            select(model.event_id, func.min(model.created_at), func.max(model.created_at))
            .group_by(model.event_id)
            .order_by(model.event_id)
        ):
            event = events.get(event_id)
            if event_id in committed and event is not None and not first == last == event.at:
                problems.append(
                    f"the time of {table.replace('_', ' ')} recorded by event #{event_id} "
                    f"({event.kind}) was changed outside provenance: each must be the event's "
                    f"time, {event.at.isoformat()}"
                )
    return problems


_TIMED: dict[str, Any] = {
    "asset_versions": AssetVersion,
    "claims": Claim,
    "lineage": LineageEdge,
    "approvals": Approval,
    "consents": Consent,
    "deliverables": Deliverable,
}


def _check_members(
    connection: Connection,
    rebuilt: RebuiltState,
    actual: dict[str, dict[int, list[Row]]],
    events: dict[int, _EventFacts],
    names: _Names,
    unvouched: set[int],
) -> list[str]:
    """Each version's frames add up to its digest, count and size; each event's to its digest.

    The versions of `unvouched` events (whose version rows no longer match their digest, already
    reported) are not summed: what they must add up to is not known."""
    digests = LineDigests()
    # What each version's frames add up to: (digest, count, size). The lines come in version
    # order, so one version's frames are held at a time.
    seen: dict[int, tuple[str, int, int]] = {}
    current: int | None = None
    frames: list[tuple[int | None, str]] = []
    total = 0
    for event_id, line in child_lines(connection, "members"):
        version_id, _position, frame, digest, size = line
        if version_id != current:
            if current is not None:
                seen[current] = (aggregate_digest(frames), len(frames), total)
            current, frames, total = version_id, [], 0
        frames.append((frame, digest))
        total += size
        digests.add(event_id, line)
    if current is not None:
        seen[current] = (aggregate_digest(frames), len(frames), total)
    nothing = (aggregate_digest([]), 0, 0)
    problems = []
    flagged: set[int] = set()
    # What each version's frames must add up to: as its event listed it (a version row edited
    # in the table is reported as such), else as the table has it: vouched for by its event's
    # digest, or written before row commitments.
    recorded = {
        version_id: sums
        for version_id, sums in _version_sums(actual).items()
        if sums[0] not in unvouched
    }
    recorded.update(_version_sums(rebuilt.rows))
    for version_id, (event_id, digest, count, size) in recorded.items():
        if seen.get(version_id, nothing) != (digest, count, size):
            flagged.add(event_id)
            problems.append(
                f"the frames of {names.version(version_id)} no longer add up to its digest, "
                "count and size: a member was changed, added or removed outside provenance"
            )
    found = digests.result()
    for event_id, members_digest in rebuilt.digests["members"].items():
        if found.get(event_id) != members_digest and event_id not in flagged:
            problems.append(
                f"the members of the asset versions recorded by event #{event_id} "
                f"({events[event_id].kind}) differ from what it recorded: changed, added or "
                "removed outside provenance"
            )
    return problems


def _version_sums(rows: dict[str, dict[int, list[Row]]]) -> dict[int, Row]:
    """version id -> (event id, digest, member count, total size)."""
    return {
        row[0]: (event_id, row[5], row[6], row[7])
        for event_id, versions in rows["asset_versions"].items()
        for row in versions
    }


def _check_deliverable_files(
    connection: Connection,
    rebuilt: RebuiltState,
    actual: dict[str, dict[int, list[Row]]],
    events: dict[int, _EventFacts],
) -> list[str]:
    """Each deliverable holds as many files as it says, and each event's the files it recorded."""
    digests = LineDigests()
    counts: dict[int, int] = {}
    for event_id, line in child_lines(connection, "deliverable_files"):
        counts[line[0]] = counts.get(line[0], 0) + 1
        digests.add(event_id, line)
    problems = []
    counted: set[int] = set()
    for event_id, rows in actual["deliverables"].items():
        for row in rows:
            deliverable = dict(zip(COLUMNS["deliverables"], row, strict=True))
            held = counts.get(deliverable["id"], 0)
            if held != deliverable["file_count"]:
                counted.add(event_id)
                problems.append(
                    f"deliverable {deliverable['name']!r} holds {held} files but was finalized "
                    f"with {deliverable['file_count']}: files were added or removed outside "
                    "provenance"
                )
    found = digests.result()
    for event_id, recorded in rebuilt.digests["deliverable_files"].items():
        if found.get(event_id) != recorded and event_id not in counted:
            names = [repr(row[1]) for row in rebuilt.rows["deliverables"].get(event_id, [])]
            problems.append(
                f"the files of deliverable {', '.join(names)} differ from what event #{event_id} "
                f"({events[event_id].kind}) recorded: changed outside provenance"
            )
    return problems


class _Names:
    """How sentences name asset versions and tools: as the tables have them, else as the events
    do. (Looked up only when there is something to say.)"""

    def __init__(self, actual: dict[str, dict[int, list[Row]]], rebuilt: RebuiltState) -> None:
        self._sources = (actual, rebuilt.rows)
        self._rows: dict[str, dict[int, Row]] | None = None

    def _row(self, table: str, row_id: object) -> Row | None:
        if self._rows is None:
            self._rows = {
                name: {
                    row[0]: row
                    for source in reversed(self._sources)
                    for rows in source[name].values()
                    for row in rows
                }
                for name in ("asset_versions", "tools")
            }
        return self._rows[table].get(row_id) if isinstance(row_id, int) else None

    def version(self, version_id: object) -> str:
        row = self._row("asset_versions", version_id)
        if row is None:
            return f"asset version #{version_id}"
        return f"{_shown_path(row[1], row[2])} v{row[4]}"

    def tool(self, tool_id: object) -> str | None:
        row = self._row("tools", tool_id)
        return str(row[2]) if row is not None else None

    def describe(self, table: str, row: Row) -> str:
        """A row as an auditor reads it."""
        values = dict(zip(COLUMNS[table], row, strict=True))
        if table == "tools":
            return f"tool {values['name']!r}"
        if table == "asset_versions":
            return f"asset version {self.version(values['id'])} ({values['digest']})"
        if table == "claims":
            tool = self.tool(values["tool_id"])
            made = f" made with {tool}" if tool else ""
            resolving = "resolving claim" if values["resolves"] else "claim"
            return (
                f"{resolving} that {self.version(values['version_id'])} is "
                f"{_origin_alias(values['origin'])}{made}, by {values['claimed_by']} "
                f"({values['evidence']})"
            )
        if table == "lineage":
            return (
                f"lineage edge {self.version(values['child_id'])} \u2190 "
                f"{self.version(values['parent_id'])} ({values['kind']})"
            )
        if table == "approvals":
            return (
                f"approval {values['ref']!r} by {values['approved_by']} of "
                f"{self.version(values['version_id'])}"
            )
        if table == "consents":
            return f"consent of {values['performer']} ({values['ref']!r})"
        if table == "likenesses":
            return f"likeness of {values['performer']} on {self.version(values['version_id'])}"
        if table == "signals":
            return (
                f"signal {values['source']} ({values['evidence']}) in "
                f"{self.version(values['version_id'])}: {values['summary']}"
            )
        if table == "roots":
            return f"root {_shown_path(None, values['name'])}"
        return f"deliverable {values['name']!r}"


def _shown_path(root: object, pattern: object) -> str:
    def shown(text: object) -> str:
        if isinstance(text, str) and text.startswith("\x00"):
            try:
                return display_path(bytes.fromhex(text[1:]))
            except ValueError:
                pass
        return str(text)

    if root == "/":
        return "/" + shown(pattern)
    return shown(pattern)


def _origin_alias(code: object) -> str:
    try:
        return Origin(code).alias
    except ValueError:
        return repr(code)


# -- events written before row commitments: the old rules ---------------------------------------


def _legacy_checks(session: Session, events: dict[int, tuple[str, dict[str, Any]]]) -> list[str]:
    """Claims and approvals of events without row commitments, against their payload fields."""
    legacy = sorted(events)
    problems = _legacy_claim_checks(session, events, legacy)
    return problems + _legacy_approval_checks(session, events, legacy)


def _legacy_claim_checks(
    session: Session, events: dict[int, tuple[str, dict[str, Any]]], legacy: list[int]
) -> list[str]:
    """Each claim of these events against its event's payload; and each claim event's claim."""
    problems: list[str] = []
    tool_names = dict(session.execute(select(Tool.id, Tool.name)).all())
    claims_per_event: dict[int, int] = {}
    claims = [
        claim
        for chunk in chunked(legacy)
        for claim in session.execute(select(Claim).where(Claim.event_id.in_(chunk))).scalars()
    ]
    for claim in sorted(claims, key=lambda c: c.id):
        claims_per_event[claim.event_id] = claims_per_event.get(claim.event_id, 0) + 1
        kind, payload = events[claim.event_id]
        if kind not in ("ingest", "claim", "claim.resolve"):
            continue  # reported as a row in a table its event does not write
        tool = tool_names.get(claim.tool_id) if claim.tool_id is not None else None
        mismatches = _claim_mismatches(claim, kind, payload, tool)
        if mismatches:
            problems.append(
                f"claim #{claim.id} (event #{claim.event_id}) was changed: " + "; ".join(mismatches)
            )
    for event_id, (kind, _) in events.items():
        if kind in ("claim", "claim.resolve") and claims_per_event.get(event_id, 0) != 1:
            problems.append(f"the claim recorded by event #{event_id} ({kind}) is missing")
    return problems


def _claim_mismatches(
    claim: Claim, kind: str, payload: dict[str, Any], tool: str | None
) -> list[str]:
    """How a claim row differs from the payload of the event that recorded it (`kind`);
    `tool` is the name of the claim's tool."""
    recorded_origin = payload.get("origin")
    recorded_tool = payload.get("tool")
    recorded_version = None
    if recorded_tool is not None and "@" in recorded_tool:
        recorded_tool, _, recorded_version = recorded_tool.rpartition("@")
    mismatches = []
    if claim.resolves != (kind == "claim.resolve"):
        mismatches.append("its resolving flag differs from the event's")
    if (recorded_version or None) != (claim.tool_version or None) and recorded_tool:
        mismatches.append("its tool version differs from the event's")
    if recorded_origin != claim.origin:
        mismatches.append(f"origin {claim.origin!r} but the event says {recorded_origin!r}")
    if payload.get("by") != claim.claimed_by:
        mismatches.append(f"by {claim.claimed_by!r} but the event says {payload.get('by')!r}")
    if (payload.get("note") or None) != (claim.note or None):
        mismatches.append("its note differs from the event's")
    if recorded_tool is not None and (tool or "").casefold() != recorded_tool.casefold():
        mismatches.append(f"tool {tool!r} but the event says {recorded_tool!r}")
    if kind != "ingest" and payload.get("version_id") != claim.version_id:
        mismatches.append("it is attached to another asset version than the event says")
    return mismatches


def _legacy_approval_checks(
    session: Session, events: dict[int, tuple[str, dict[str, Any]]], legacy: list[int]
) -> list[str]:
    """Each approval of these events against its event's payload; and each approve event's
    approval."""
    problems: list[str] = []
    approvals_per_event: dict[int, int] = {}
    for approval in (
        approval
        for chunk in chunked(legacy)
        for approval in session.execute(
            select(Approval).where(Approval.event_id.in_(chunk))
        ).scalars()
    ):
        approvals_per_event[approval.event_id] = approvals_per_event.get(approval.event_id, 0) + 1
        kind, payload = events[approval.event_id]
        recorded = (
            payload.get("version_id"),
            payload.get("digest"),
            payload.get("ref"),
            payload.get("by"),
            bool(payload.get("covers_tool_risk")),
        )
        actual = (
            approval.version_id,
            approval.digest,
            approval.ref,
            approval.approved_by,
            approval.covers_tool_risk,
        )
        if kind == "approve" and recorded != actual:
            problems.append(
                f"approval #{approval.id} (event #{approval.event_id}) does not match the event "
                "that recorded it"
            )
    for event_id, (kind, _) in events.items():
        if kind == "approve" and approvals_per_event.get(event_id, 0) != 1:
            problems.append(f"the approval recorded by event #{event_id} is missing")
    return problems

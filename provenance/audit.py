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
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import Connection, func, select
from sqlalchemy.orm import Session

from provenance import merkle
from provenance.errors import ProvenanceError
from provenance.fingerprint import aggregate_digest
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

CHECKPOINT_SCHEMA = "Checkpoint.1"
EVENT_EXPORT_SCHEMA = "Event.1"
KEY_FILE = "checkpoint-ed25519.pem"


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
# Keys and checkpoints


def default_key_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "provenance" / KEY_FILE


def configured_key_path(path: Path | None) -> Path:
    """`--key`, else $PROVENANCE_CHECKPOINT_KEY (a studio-wide key), else the user's config folder."""
    if path is not None:
        return path
    studio = os.environ.get("PROVENANCE_CHECKPOINT_KEY")
    return Path(studio) if studio else default_key_path()


def trusted_public_key(path: Path | None) -> str | None:
    """The public half of the configured key, without creating one (verifying needs no secret)."""
    key_path = configured_key_path(path)
    if not key_path.exists():
        if path is not None or os.environ.get("PROVENANCE_CHECKPOINT_KEY"):
            raise ProvenanceError(
                f"No key at {key_path}. Give the path of the checkpoint key (its private or "
                "public half in PEM)."
            )
        return None
    data = key_path.read_bytes()
    try:
        if b"PUBLIC KEY" in data:
            public = serialization.load_pem_public_key(data)
            if isinstance(public, Ed25519PublicKey):
                return public_hex(public)
        else:
            private = serialization.load_pem_private_key(data, password=None)
            if isinstance(private, Ed25519PrivateKey):
                return public_hex(private.public_key())
    except (ValueError, TypeError):
        pass
    raise ProvenanceError(
        f"{key_path} is not an Ed25519 key in PEM. Point --key at the checkpoint key (its "
        "private or public half)."
    )


def load_or_create_key(path: Path | None) -> tuple[Ed25519PrivateKey, Path]:
    """The signing key (see configured_key_path); created (0600) on first use."""
    explicit = path is not None or bool(os.environ.get("PROVENANCE_CHECKPOINT_KEY"))
    key_path = configured_key_path(path)
    if key_path.exists():
        try:
            loaded = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        except (ValueError, TypeError) as exc:
            raise ProvenanceError(
                f"{key_path} is not an unencrypted Ed25519 private key in PEM ({exc}). Point "
                "--key at the checkpoint key, or move this file away to make a new one."
            ) from None
        if not isinstance(loaded, Ed25519PrivateKey):
            raise ProvenanceError(f"{key_path} holds a key that is not Ed25519. Use --key.")
        return loaded, key_path
    if explicit:
        raise ProvenanceError(
            f"No key at {key_path}. Give the path of an existing checkpoint key, or leave out "
            "--key (and PROVENANCE_CHECKPOINT_KEY) to use, and on first use create, the one in "
            "your config folder."
        )
    key = Ed25519PrivateKey.generate()
    key_path.parent.mkdir(parents=True, exist_ok=True)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    descriptor = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)
    return key, key_path


def public_hex(key: Ed25519PublicKey) -> str:
    raw: bytes = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return raw.hex()


def _signed_body(document: dict[str, Any]) -> bytes:
    body = {k: v for k, v in document.items() if k != "signature"}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def make_checkpoint(state: ChainState, key: Ed25519PrivateKey) -> dict[str, Any]:
    if state.size == 0:
        raise ProvenanceError("The ledger has no events yet: nothing to checkpoint.")
    document: dict[str, Any] = {
        "schema": CHECKPOINT_SCHEMA,
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
    with open(path, "x", encoding="utf-8") as handle:
        json.dump(document, handle, indent=2)
        handle.write("\n")
    return path


@dataclass(frozen=True)
class CheckpointCheck:
    path: Path
    size: int
    at: str
    problem: str | None
    checked: bool = True
    """False when it is signed by a key other than the trusted one, so it vouches for nothing."""


def check_checkpoint(
    path: Path, document: dict[str, Any], state: ChainState, trusted_key: str | None
) -> CheckpointCheck:
    """Is this signed checkpoint genuine, and does the current log extend it?"""
    size = int(document.get("size", 0))
    at = str(document.get("at", "?"))

    def fail(problem: str) -> CheckpointCheck:
        return CheckpointCheck(path, size, at, problem)

    if document.get("schema") != CHECKPOINT_SCHEMA:
        return fail("not a provenance checkpoint")
    if document.get("ledger") != state.ledger_id:
        return fail(
            "it was taken of a ledger whose first event differs from this one's: history was "
            "rewritten from the start (or the checkpoint belongs to another ledger)"
        )
    if trusted_key is None or document.get("public_key") != trusted_key:
        # Not a failure: anyone can write a checkpoint with a key of their own, and skipping it
        # hides nothing. Only checkpoints of the trusted key vouch for history.
        return CheckpointCheck(path, size, at, None, checked=False)
    try:
        public = Ed25519PublicKey.from_public_bytes(bytes.fromhex(document["public_key"]))
        public.verify(bytes.fromhex(document["signature"]), _signed_body(document))
    except (InvalidSignature, ValueError, KeyError):
        return fail("its signature does not verify: the checkpoint file was altered")
    if size > state.size:
        return fail(
            f"it saw {size} events but the ledger now holds {state.size}: events were removed "
            "from the end of the log"
        )
    old_root = bytes.fromhex(document["root"])
    proof = merkle.consistency_proof(state.leaves, size) if size < state.size else []
    if not merkle.verify_consistency(size, state.size, old_root, state.root, proof):
        if size == state.size:
            return fail(
                f"the log's root differs from the one signed for its {size} events: history was rewritten"
            )
        return fail(
            f"the log of {state.size} events does not extend the {size} events this checkpoint "
            "signed: history before it was rewritten"
        )
    return CheckpointCheck(path, size, at, None)


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

    @property
    def ok(self) -> bool:
        return not self.chain_problems and all(c.problem is None for c in self.checkpoints)

    @property
    def problems(self) -> list[str]:
        found = list(self.chain_problems)
        found += [f"checkpoint {c.path.name}: {c.problem}" for c in self.checkpoints if c.problem]
        return found


def audit(session: Session, folder: Path, trusted: str | None) -> AuditReport:
    """Recompute the chain, compare the state rebuilt from the events with the tables, and check
    every stored checkpoint against the chain.

    `trusted` is the public key (hex) whose checkpoints vouch for history.
    """
    started = time.perf_counter()
    builder = StateBuilder(keep_legacy=LEGACY_CHECKED)
    facts: dict[int, _EventFacts] = {}

    def each(event: Any) -> None:
        facts[event.id] = _EventFacts(event.kind, event.at)
        builder.add(event.id, event.kind, _payload(event.payload))

    state = read_chain(session, each)
    state_check = check_state(session, builder.result(), facts)
    state.problems.extend(state_check.problems)
    checks = []
    for path, document in stored_checkpoints(folder, state.ledger_id):
        checks.append(check_checkpoint(path, document, state, trusted))
    return AuditReport(
        state.size,
        state.root.hex(),
        state.ledger_id,
        state.problems,
        checks,
        time.perf_counter() - started,
        state_check.notes,
        state,
    )


def stored_checkpoints(folder: Path, ledger_id: str) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Every checkpoint in the folder (the folder belongs to one ledger: a checkpoint naming
    another first event is itself a finding, since rewriting event #1 must not hide them)."""
    if not folder.is_dir():
        return
    for path in sorted(folder.glob("*.json")):
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            document = {}
        yield path, document if isinstance(document, dict) else {}


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
            "schema": EVENT_EXPORT_SCHEMA,
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
    problems: list[str] = []
    tool_names = dict(session.execute(select(Tool.id, Tool.name)).all())
    claims_per_event: dict[int, int] = {}
    legacy = sorted(events)
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
        recorded_origin = payload.get("origin")
        tool = tool_names.get(claim.tool_id) if claim.tool_id is not None else None
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
        if mismatches:
            problems.append(
                f"claim #{claim.id} (event #{claim.event_id}) was changed: " + "; ".join(mismatches)
            )
    for event_id, (kind, _) in events.items():
        if kind in ("claim", "claim.resolve") and claims_per_event.get(event_id, 0) != 1:
            problems.append(f"the claim recorded by event #{event_id} ({kind}) is missing")
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

"""The tamper-evident log: recompute the event chain, Merkle checkpoints signed with Ed25519, verify.

The chain (each event's SHA-256 over its canonical form and the previous hash) shows whether a
row was edited or removed from the middle. It cannot show a truncated tail or a chain recomputed
from scratch: signed checkpoints kept outside the database can. A checkpoint is the number of
events and the RFC 9162 Merkle root over their hashes; a later log must extend it, which a
consistency proof shows.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from provenance import merkle
from provenance.errors import ProvenanceError
from provenance.store.events import GENESIS_HASH, canonical_event, event_hash
from provenance.store.models import Approval, Claim, Event, Tool

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


def iter_events(session: Session, batch: int = 5000) -> Iterator[Event]:
    last = 0
    while True:
        rows = list(
            session.execute(select(Event).where(Event.id > last).order_by(Event.id).limit(batch))
            .scalars()
            .all()
        )
        if not rows:
            return
        yield from rows
        last = rows[-1].id
        session.expunge_all()


def read_chain(session: Session) -> ChainState:
    """Recompute every event's hash and link; collect the Merkle leaves."""
    leaves: list[bytes] = []
    problems: list[str] = []
    previous = GENESIS_HASH
    ledger_id = ""
    for event in iter_events(session):
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

    @property
    def ok(self) -> bool:
        return not self.chain_problems and all(c.problem is None for c in self.checkpoints)

    @property
    def problems(self) -> list[str]:
        found = list(self.chain_problems)
        found += [f"checkpoint {c.path.name}: {c.problem}" for c in self.checkpoints if c.problem]
        return found


def audit(session: Session, folder: Path, trusted: str | None) -> AuditReport:
    """Recompute the chain and check every stored checkpoint against it.

    `trusted` is the public key (hex) whose checkpoints vouch for history.
    """
    started = time.perf_counter()
    state = read_chain(session)
    state.problems.extend(check_state(session))
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
    """Every event as a JSON-ready document, oldest first, for an auditor's own tools."""
    for event in iter_events(session):
        yield {
            "schema": EVENT_EXPORT_SCHEMA,
            "id": event.id,
            "kind": event.kind,
            "actor": event.actor,
            "host": event.host,
            "at": event.at.isoformat(),
            "payload": json.loads(event.payload),
            "prev_hash": event.prev_hash,
            "hash": event.hash,
        }


# ---------------------------------------------------------------------------------------------
# State against events: the rows that say what things are must agree with the events that
# made them, so that relabelling a claim with plain SQL shows.


def check_state(session: Session) -> list[str]:
    """Compare claims and approvals with the events that recorded them."""
    problems: list[str] = []
    events = {
        event_id: (kind, json.loads(payload))
        for event_id, kind, payload in session.execute(
            select(Event.id, Event.kind, Event.payload).where(
                Event.kind.in_(["ingest", "claim", "claim.resolve", "approve"])
            )
        )
    }
    tool_names = dict(session.execute(select(Tool.id, Tool.name)).all())
    claims_per_event: dict[int, int] = {}
    for claim in session.execute(select(Claim).order_by(Claim.id)).scalars():
        claims_per_event[claim.event_id] = claims_per_event.get(claim.event_id, 0) + 1
        kind, payload = events.get(claim.event_id, ("", {}))
        if kind not in ("ingest", "claim", "claim.resolve"):
            problems.append(f"claim #{claim.id} points at no event that records claims")
            continue
        recorded_origin = payload.get("origin")
        tool = tool_names.get(claim.tool_id) if claim.tool_id is not None else None
        recorded_tool = payload.get("tool")
        recorded_version = None
        if recorded_tool is not None and "@" in recorded_tool:
            recorded_tool, _, recorded_version = recorded_tool.rpartition("@")
        mismatches = []
        if claim.resolves != (kind == "claim.resolve"):
            mismatches.append("its resolving flag differs from the event's")
        if claim.evidence != "declared" and kind in ("ingest", "claim", "claim.resolve"):
            mismatches.append(f"evidence {claim.evidence!r} but the event recorded a declaration")
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
    for approval in session.execute(select(Approval)).scalars():
        approvals_per_event[approval.event_id] = approvals_per_event.get(approval.event_id, 0) + 1
        kind, payload = events.get(approval.event_id, ("", {}))
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
        if kind != "approve" or recorded != actual:
            problems.append(
                f"approval #{approval.id} (event #{approval.event_id}) does not match the event "
                "that recorded it"
            )
    for event_id, (kind, _) in events.items():
        if kind == "approve" and approvals_per_event.get(event_id, 0) != 1:
            problems.append(f"the approval recorded by event #{event_id} is missing")
    return problems

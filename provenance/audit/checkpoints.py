"""Checkpoints: the number of events and the RFC 9162 Merkle root over their hashes, signed with
Ed25519 and kept as files outside the database; reading one back, and checking it against the
log (a later log must extend it, which a consistency proof shows) and the keys the ledger trusts.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from provenance import atomic, merkle, schemas
from provenance.audit.chain import ChainState
from provenance.errors import ProvenanceError
from provenance.keys import KeyRing, public_hex

__all__ = [
    "MAX_CHECKPOINT_BYTES",
    "Checkpoint",
    "CheckpointCheck",
    "check_checkpoint",
    "make_checkpoint",
    "read_checkpoint",
    "stored_checkpoints",
    "write_checkpoint",
]


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


def stored_checkpoints(folder: Path) -> list[Path]:
    """Every checkpoint file in the folder (the folder belongs to one ledger: a checkpoint naming
    another first event is itself a finding, since rewriting event #1 must not hide them)."""
    if not folder.is_dir():
        return []
    names = os.listdir(folder)  # (glob would hide a folder that cannot be read)
    return sorted(
        folder / name for name in names if name.endswith(".json") and not (folder / name).is_dir()
    )

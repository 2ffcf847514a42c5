"""The tamper-evident log: checkpoints signed and checked, the keys trusted, the events exported."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from provenance.errors import AuditFailed, CheckpointKeyMissing, ProvenanceError
from provenance.paths import PathArg, as_path
from provenance.store.engine import read_session, write_session
from provenance.store.events import unit_of_work_event
from provenance.store.models import Event

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from provenance.audit.chain import ChainState
    from provenance.audit.verification import AuditReport
    from provenance.keys import KeyChange, Pins, SigningKey, TrustedKeys
    from provenance.ledger import Ledger

__all__ = [
    "audit_verify",
    "checkpoint",
    "checkpoint_signer",
    "checkpoints_folder",
    "export_events",
    "retire_key",
    "rotate_key",
    "signing_chain",
    "trust_key",
    "trusted_keys",
]


def checkpoints_folder(ledger: Ledger, folder: PathArg | None) -> Path:
    if folder is not None:
        return as_path(folder, "the checkpoints folder")
    if os.environ.get("PROVENANCE_CHECKPOINTS"):
        return Path(os.environ["PROVENANCE_CHECKPOINTS"])
    sqlite = ledger.location.sqlite_path
    if sqlite is not None:
        return sqlite.parent / "checkpoints"
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "share"
    )
    # Named for the database, not for its contents: rewriting history must not move it.
    url = ledger.location.url
    name = f"{url.host or 'local'}-{url.port or ''}-{url.database or 'default'}"
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    return Path(base) / "provenance" / "checkpoints" / safe


def checkpoint(
    ledger: Ledger, key: PathArg | None, folder: PathArg | None
) -> tuple[Path, dict[str, Any]]:
    from provenance.audit.checkpoints import make_checkpoint, write_checkpoint
    from provenance.audit.verification import audit
    from provenance.keys import studio_pins

    pins = studio_pins()
    signing_key, first_key = checkpoint_signer(ledger, key, pins)
    where = ledger.checkpoints_folder(folder)
    if first_key is None:
        # Only reads: the history it signs is one snapshot, and no writer waits for it.
        with read_session(_snapshot_engine(ledger.engine)) as session:
            report = audit(session, where, pins)
            if not report.ok:
                raise AuditFailed(report)
            chain = signing_chain(session, signing_key, report)
    else:
        with write_session(ledger.engine) as session:
            report = audit(session, where, pins, first_key)
            if not report.ok:
                raise AuditFailed(report)
            chain = signing_chain(session, signing_key, report)
    document = make_checkpoint(chain, signing_key.key)
    with _os_errors(f"write the checkpoint into {where}"):
        return write_checkpoint(where, document), document


def audit_verify(ledger: Ledger, key: PathArg | None, folder: PathArg | None) -> AuditReport:
    from provenance.audit.verification import audit
    from provenance.keys import pins_from

    with _os_errors("read the checkpoint key"):
        pins = pins_from(_key_path(key))
    where = ledger.checkpoints_folder(folder)
    with read_session(_snapshot_engine(ledger.engine)) as session:
        return audit(session, where, pins)


def checkpoint_signer(
    ledger: Ledger, key: PathArg | None, pins: Pins | None
) -> tuple[SigningKey, str | None]:
    """The key to sign checkpoints with, checked (before any work) against the keys the
    ledger trusts; and its public key when it is to be pinned as the ledger's first."""
    from provenance.audit.verification import read_key_ring
    from provenance.keys import signing_key

    with read_session(ledger.engine) as session:
        ring = read_key_ring(session, pins)
    with _os_errors("read or create the checkpoint key"):
        signing = signing_key(ring, _key_path(key))
    return signing, None if ring.pinned else signing.public


def trusted_keys(ledger: Ledger, key: Path | None) -> TrustedKeys:
    from provenance.audit.verification import read_key_ring
    from provenance.keys import local_key_status, studio_pins

    pins = studio_pins()
    with read_session(ledger.engine) as session:
        ring = read_key_ring(session, pins)
    return local_key_status(ring, key)


def trust_key(ledger: Ledger, public: str | Path | None, key: Path | None) -> KeyChange:
    from provenance.audit.verification import read_key_ring
    from provenance.keys import public_hex, read_public_key, require_key_change, studio_pins

    signer = _change_signer(key)
    signer_public = public_hex(signer.public_key())
    new = read_public_key(public) if public is not None else signer_public
    with write_session(ledger.engine) as session:
        ring = read_key_ring(session, studio_pins())
        require_key_change(ring, signer_public, trust=[new])
        return _append_key_change(session, signer, "key.trust", [new], [])


def retire_key(ledger: Ledger, which: str, key: Path | None) -> KeyChange:
    from provenance.audit.verification import read_key_ring
    from provenance.keys import find_trusted, public_hex, require_key_change, studio_pins

    signer = _change_signer(key)
    with write_session(ledger.engine) as session:
        ring = read_key_ring(session, studio_pins())
        retired = find_trusted(ring, which)
        require_key_change(ring, public_hex(signer.public_key()), retire=[retired])
        return _append_key_change(session, signer, "key.retire", [], [retired])


def rotate_key(ledger: Ledger, public: str | Path, key: Path | None) -> KeyChange:
    from provenance.audit.verification import read_key_ring
    from provenance.keys import public_hex, read_public_key, require_key_change, studio_pins

    signer = _change_signer(key)
    signer_public = public_hex(signer.public_key())
    new = read_public_key(public)
    with write_session(ledger.engine) as session:
        ring = read_key_ring(session, studio_pins())
        require_key_change(ring, signer_public, trust=[new], retire=[signer_public])
        return _append_key_change(session, signer, "key.rotate", [new], [signer_public])


def _snapshot_engine(engine: Engine) -> Engine:
    # The audit compares several tables with the events: on PostgreSQL they must all be read
    # from one snapshot, or a commit landing between two queries looks like tampering.
    # (SQLite's read transaction is a snapshot already.)
    if engine.dialect.name == "postgresql":
        return engine.execution_options(isolation_level="REPEATABLE READ")
    return engine


def export_events(ledger: Ledger) -> Iterator[dict[str, Any]]:
    from provenance.audit.chain import export_events

    with read_session(ledger.engine) as session:
        yield from export_events(session)


def signing_chain(session: Session, signer: SigningKey, trail: AuditReport) -> ChainState:
    """The chain a checkpoint by `signer` signs: the audited one, after pinning `signer` as the
    ledger's first key when it trusts none yet (in the caller's write transaction; a key made
    for it is saved then, before the commit)."""
    from provenance.keys import require_key_change

    assert trail.chain is not None
    if trail.keys.pinned:
        require_key_change(trail.keys, signer.public)  # the keys may have changed since
        return trail.chain
    require_key_change(trail.keys, signer.public, trust=[signer.public])
    change = _append_key_change(session, signer.key, "key.trust", [signer.public], [])
    signer.save()
    return trail.chain.appended(change.event_hash)


def _append_key_change(
    session: Session,
    signer: Ed25519PrivateKey,
    kind: str,
    trust: Sequence[str],
    retire: Sequence[str],
) -> KeyChange:
    """Append a key event signed by `signer` (checked by the caller), in its write transaction."""
    from provenance.keys import KeyChange, key_change_payload

    first, last = (
        session.execute(select(Event.hash).order_by(order).limit(1)).scalar_one()
        for order in (Event.id, Event.id.desc())
    )
    payload = key_change_payload(signer, first, last, kind, trust, retire)
    with unit_of_work_event(session, kind, payload) as unit:
        pass
    assert unit.hash is not None
    return KeyChange(
        kind, unit.event_id, unit.hash, list(trust), list(retire), payload["signed_by"]
    )


def _change_signer(key: Path | None) -> Ed25519PrivateKey:
    """The private key that signs a key change: it must exist (none is created for this)."""
    from provenance.keys import configured_key_path, read_private_key

    path = configured_key_path(key)
    if not path.exists():
        raise CheckpointKeyMissing(
            f"No private key at {path}. A change of the trusted keys is signed by a key the "
            "ledger trusts already (or, for the first, by the key itself): give its path with "
            "--key."
        )
    return read_private_key(path)


@contextlib.contextmanager
def _os_errors(doing: str) -> Iterator[None]:
    """An OSError of the public API as a ProvenanceError saying what could not be done."""
    try:
        yield
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        raise ProvenanceError(
            f"Cannot {doing}: {exc.strerror or exc}{where}. Check the path and its permissions."
        ) from None


def _key_path(key: PathArg | None) -> Path | None:
    return as_path(key, "the checkpoint key") if key is not None else None

"""A finalized deliverable against its delivery now (verify), and its manifest written again."""

from __future__ import annotations

import contextlib
import difflib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from provenance.errors import ProvenanceError, TargetNotFound
from provenance.facade.delivering import check_unlocked
from provenance.facade.places import roots_for_reading
from provenance.paths import PathArg
from provenance.records import FileChange, ManifestReport, VerifyReport, display_path
from provenance.store import queries
from provenance.store.engine import read_session
from provenance.store.models import Deliverable, DeliverableFile

if TYPE_CHECKING:
    from provenance.deliveries import DeliveryKind
    from provenance.ledger import Ledger
    from provenance.manifests import KeptManifest

__all__ = ["verify", "write_manifest"]


def verify(
    ledger: Ledger, name: str, delivery: PathArg | None, workers: int | None, quick: bool
) -> VerifyReport:
    from provenance.fingerprint import Hasher
    from provenance.policy import DEFAULT_POLICY

    with read_session(ledger.engine) as session:
        row = _finalized_row(session, name)
        roots = roots_for_reading(ledger, session)
        if delivery is not None:
            source = roots.localize(delivery, ledger.cwd)
        else:
            source = roots.source_here(row.source)
        owners = queries.manifest_owners(session)
        recorded = {
            path: digest
            for path, digest in session.execute(
                select(DeliverableFile.path, DeliverableFile.digest).where(
                    DeliverableFile.deliverable_id == row.id
                )
            )
        }
        finalized_at = row.created_at
    with Hasher(workers, yield_to_writer=False) as hasher:
        check = check_unlocked(ledger, source, DEFAULT_POLICY, hasher, read_all=not quick)
    home = check.delivery.home
    now = {os.path.relpath(e.path, home): e.digest for e in check.entries}
    # The ASC MHL history an `export mhl` wrote into the delivery is not a delivered file.
    with read_session(ledger.engine) as session:
        histories = queries.recorded_mhl_files(session)
    now = {
        path: digest
        for path, digest in now.items()
        if not (path.startswith(b"ascmhl/") and path not in recorded and digest in histories)
    }
    missing = {os.path.relpath(p, home) for p in check.delivery.missing}
    added = [FileChange(display_path(p), None, now[p]) for p in sorted(now) if p not in recorded]
    removed = [
        FileChange(display_path(p), recorded[p], None)
        for p in sorted(recorded)
        if p not in now or p in missing
    ]
    changed = [
        FileChange(display_path(p), recorded[p], now[p])
        for p in sorted(now)
        if p in recorded and recorded[p] != now[p]
    ]
    manifest = check.delivery.manifest_at
    state = _manifest_state(manifest, name, owners)
    return VerifyReport(
        name,
        source,
        finalized_at,
        len(recorded),
        added,
        removed,
        changed,
        files_read=check.files_read,
        files_cached=check.files_cached,
        manifest=manifest,
        manifest_state=state,
        leftovers=[f.path for f in check.delivery.leftovers],
    )


def write_manifest(
    ledger: Ledger, name: str, delivery: PathArg | None, checkpoints: PathArg | None
) -> ManifestReport:
    from provenance.deliveries import Delivery, DeliveryKind
    from provenance.fingerprint import hash_file
    from provenance.manifests import (
        KeptManifest,
        clear_leftovers,
        install,
        manifest_digest,
        remove_leftovers,
        stage_manifest,
    )

    with read_session(ledger.engine) as session:
        row = _finalized_row(session, name)
        kept = queries.kept_manifest(session, row.id)
        owners = queries.manifest_owners(session)
        roots = roots_for_reading(ledger, session)
        if delivery is not None:
            source = roots.localize(delivery, ledger.cwd)
        else:
            source = roots.source_here(row.source)
    recorded = {digest for digest, owner in owners.items() if owner.name == name}
    if kept is None:
        raise ProvenanceError(
            f"{name!r} was finalized before provenance kept manifests in the ledger (schema "
            "0011): its manifest cannot be written again. Its files, digests and verdict are "
            f"in the ledger: `provenance verify {name}` checks the delivery against them."
        )
    digest, body = kept
    if body is None or digest not in recorded or manifest_digest(body) != digest:
        raise ProvenanceError(
            f"The manifest the ledger keeps for {name!r} is not the one its finalize "
            "recorded: the ledger was changed. Run `provenance audit verify`, and restore "
            "the ledger from a backup checked against your checkpoints."
        )
    target = Delivery(DeliveryKind(row.kind), source, _home(DeliveryKind(row.kind), source))
    final = target.manifest_at
    state = _manifest_state(final, name, owners)
    if state == "later":
        held = owners[hash_file(final).digest or ""]
        raise ProvenanceError(
            f"{display_path(final)} holds the manifest of {held.name!r}, a later finalize "
            f"of this delivery; writing {name!r}'s would replace it. To write {name!r}'s "
            "into a copy of the delivery, give the copy: `provenance manifest write "
            f"{name} COPY`."
        )
    written = state != "present"
    if written:
        try:
            install(stage_manifest(target, body, by_finalize=False))
        except OSError as exc:
            raise ProvenanceError(
                f"Cannot put the manifest in place at {display_path(final)} "
                f"({exc.strerror}). Make the folder writable and run this again."
            ) from None
    checkpoint_path, checkpoint_written = _keep_checkpoint(
        ledger, KeptManifest(name, body, digest), checkpoints
    )
    return ManifestReport(
        name,
        final,
        digest,
        len(body),
        written,
        checkpoint_path,
        checkpoint_written,
        remove_leftovers(os.path.dirname(final)) + clear_leftovers(target),
    )


def _finalized_row(session: Session, name: str) -> Deliverable:
    row = session.execute(select(Deliverable).where(Deliverable.name == name)).scalar()
    if row is None:
        known = list(session.execute(select(Deliverable.name)).scalars())
        close = difflib.get_close_matches(name, known, n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise TargetNotFound(
            f"No finalized deliverable is named {name!r}.{hint} "
            "`provenance finalize DELIVERY --name NAME` records one."
        )
    return row


def _keep_checkpoint(
    ledger: Ledger, kept: KeptManifest, checkpoints: PathArg | None
) -> tuple[Path | None, bool]:
    """The checkpoint a manifest carries, kept in the checkpoints folder unless it is there:
    (its file, whether it was written now)."""
    from provenance.audit.checkpoints import stored_checkpoints, write_checkpoint

    document = kept.checkpoint
    if document is None:
        return None, False
    folder = ledger.checkpoints_folder(checkpoints)
    for path in stored_checkpoints(folder):
        with contextlib.suppress(OSError, ValueError):
            stored = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(stored, dict) and stored.get("signature") == document.get("signature"):
                return path, False
    try:
        return write_checkpoint(folder, document), True
    except OSError as exc:
        raise ProvenanceError(
            f"The manifest of {kept.name} is in place, but its checkpoint could not be "
            f"written to {folder} ({exc.strerror}). Make the folder writable and run this "
            "again."
        ) from None


def _manifest_state(path: bytes, name: str, owners: dict[str, queries.ManifestOwner]) -> str:
    """What stands where deliverable `name`'s manifest belongs (see `VerifyReport`)."""
    from provenance.fingerprint import hash_file

    held = hash_file(path).digest if os.path.lexists(path) else None
    if held is None:
        return "missing"
    owner = owners.get(held)
    if owner is None:
        return "changed"  # (judged as a file of the delivery: `added`)
    if owner.name == name:
        return "present"
    ours = max((o.event_id for o in owners.values() if o.name == name), default=0)
    # A later finalize of the same delivery replaced it; an earlier one's means this one's
    # never reached its place (a finalize killed after its commit).
    return "later" if owner.event_id > ours else "earlier"


def _home(kind: DeliveryKind, source: bytes) -> bytes:
    """The folder a delivery's manifest goes to (see `deliveries.Delivery.home`)."""
    from provenance.deliveries import DeliveryKind

    return source if kind is DeliveryKind.FOLDER else os.path.dirname(source)

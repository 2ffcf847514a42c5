"""Checking and finalizing a delivery: sweep, finalize with its manifest, the stat-cache refresh."""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from provenance.collector import cyclic_gc_paused
from provenance.errors import AuditFailed, LedgerReadOnly, ProvenanceError
from provenance.facade.auditing import checkpoint_signer, signing_chain
from provenance.facade.places import local_paths, placed_here, roots_for_reading
from provenance.paths import PathArg
from provenance.records import SweepReport, display_path
from provenance.store import queries
from provenance.store.engine import read_session, write_session
from provenance.store.events import UnitOfWork, unit_of_work_event
from provenance.store.queries import MANIFEST_EVENT, keep_manifest

if TYPE_CHECKING:
    from provenance.audit.ahead import AuditAhead
    from provenance.audit.verification import AuditReport
    from provenance.deliveries import Delivery
    from provenance.farm import Readings
    from provenance.finalizer import DeliveryCheck, Reading
    from provenance.fingerprint import Hasher
    from provenance.ingest import Progress
    from provenance.keys import Pins
    from provenance.ledger import Ledger
    from provenance.manifests import StagedManifest
    from provenance.policy import Finding, Policy
    from provenance.stat_cache import CacheRefresh
    from provenance.strong import StrongReading

__all__ = [
    "check_unlocked",
    "finalize",
    "next_free_name",
    "record_readings",
    "refresh_cache",
    "sweep",
]


@cyclic_gc_paused()
def sweep(
    ledger: Ledger,
    delivery: PathArg,
    policy: Policy | None,
    workers: int | None,
    progress: Progress | None,
    readings: Readings | None,
) -> SweepReport:
    from provenance.detect.trust import configured_anchors
    from provenance.fingerprint import Hasher
    from provenance.policy import DEFAULT_POLICY

    source = local_paths(ledger, delivery)[0]
    configured_anchors()
    with Hasher(workers, yield_to_writer=False) as hasher:
        if readings:
            with contextlib.suppress(LedgerReadOnly):  # (a cache: an auditor sweeps too)
                ledger.record_readings(readings)
        check = check_unlocked(
            ledger, source, policy or DEFAULT_POLICY, hasher, progress, prior=readings
        )
    return _sweep_report(check)


def check_unlocked(
    ledger: Ledger,
    source: bytes,
    policy: Policy,
    hasher: Hasher,
    progress: Progress | None = None,
    read_all: bool = False,
    prior: Readings | None = None,
) -> DeliveryCheck:
    """A delivery check in a read transaction (reading every byte when `read_all`, trusting
    only `prior` when given, else trusting the stat cache and seals), then a best-effort
    stat-cache refresh."""
    from provenance.finalizer import check_delivery

    if read_all:
        prior = {}
    with read_session(ledger.engine) as session:
        check = check_delivery(
            session, roots_for_reading(ledger, session), source, policy, hasher,
            ledger.racy_window_ns, progress, prior=prior,
        )  # fmt: skip
    refresh_cache(ledger, check.refresh)
    return check


def record_readings(ledger: Ledger, readings: Readings) -> None:
    from provenance.stat_cache import record_readings as record

    with write_session(ledger.engine) as session:
        roots = queries.ensure_roots(session, ledger.workspace)
        record(session, roots, readings)


def refresh_cache(ledger: Ledger, refresh: CacheRefresh) -> None:
    """Record what a check had to read. Best effort: a read-only role, or a writer that
    recorded the same paths meanwhile, only means the next check reads them again."""
    from provenance.finalizer import record_cache

    if not (refresh.fresh or refresh.copied):
        return
    with (
        contextlib.suppress(LedgerReadOnly, IntegrityError),
        write_session(ledger.engine) as session,
    ):
        roots = queries.ensure_roots(session, ledger.workspace)
        record_cache(session, roots, refresh)


@cyclic_gc_paused()
def finalize(
    ledger: Ledger,
    delivery: PathArg,
    name: str,
    policy: Policy | None,
    workers: int | None,
    progress: Progress | None,
    key: PathArg | None,
    checkpoints: PathArg | None,
    strong: str | None,
    readings: Readings | None,
) -> SweepReport:
    from provenance.audit.ahead import AuditAhead
    from provenance.audit.checkpoints import make_checkpoint
    from provenance.detect.trust import configured_anchors
    from provenance.finalizer import check_delivery, record_cache, record_deliverable
    from provenance.fingerprint import Hasher
    from provenance.keys import studio_pins
    from provenance.manifests import discard, manifest_body, stage_manifest
    from provenance.policy import DEFAULT_POLICY
    from provenance.strong import strong_algorithm

    name = name.strip()
    if not name:
        raise ProvenanceError("A deliverable needs --name (e.g. EP101_VFX_v003).")
    source = local_paths(ledger, delivery)[0]
    configured_anchors()
    pins = studio_pins()
    signing_key, first_key = checkpoint_signer(ledger, key, pins)
    folder = ledger.checkpoints_folder(checkpoints)
    staged: StagedManifest | None = None
    algorithm = strong_algorithm(strong) if strong else None
    try:
        # (Before the audit ahead starts: a commit after it makes the audit run again.)
        _keep_farm_readings(ledger, readings, algorithm)
        with (
            Hasher(workers, yield_to_writer=False) as hasher,
            AuditAhead(ledger.engine, pins, first_key) as ahead,
        ):
            reading, strong_reading = _read_delivery_unlocked(
                ledger, source, hasher, algorithm, readings, progress
            )
            ahead.wait()
            with (
                _keeping_reading(ledger, reading),
                write_session(ledger.engine, snapshot=True, connection=ahead.writer()) as session,
            ):
                trail = _audit_under_lock(session, ahead, folder, pins, first_key)
                if not trail.ok:
                    raise AuditFailed(trail)
                _refuse_final_name(session, name)
                roots = queries.ensure_roots(session, ledger.workspace)
                chosen = policy or DEFAULT_POLICY
                check = check_delivery(
                    session, roots, source, chosen, hasher, ledger.racy_window_ns,
                    prior=reading.prior,
                )  # fmt: skip
                check.files_read += reading.files_read
                check.bytes_read += reading.bytes_read
                # The reading outside the lock and what the check read again, in this write.
                record_cache(session, roots, check.refresh, earlier=reading.refresh)
                settled: dict[bytes, str] = {}
                if strong_reading is not None:
                    settled = _settle_strong(
                        session, check, strong_reading, chosen, ledger.racy_window_ns
                    )
                if check.verdict.blocked or not check.file_count:
                    refusal = _refusal_payload(name, source, chosen, check)
                    with unit_of_work_event(session, "finalize.refused", refusal) as refused:
                        pass
                    return _sweep_report(check, name=name, event_id=refused.event_id)
                payload = _finalize_payload(name, source, chosen, check, roots, algorithm)
                chain = signing_chain(session, signing_key, trail)
                with unit_of_work_event(session, "finalize", payload) as unit:
                    record_deliverable(session, name, check, unit, roots.recorded_source(source))
                event_id = unit.event_id
                assert unit.hash is not None
                event_hash = unit.hash
                # The checkpoint of this moment (including the finalize event itself) travels
                # in the manifest, so the deliverable can be checked against the log years on.
                checkpoint = make_checkpoint(chain.appended(event_hash), signing_key.key)
                document = _finalized_manifest(
                    name, check, unit, event_hash, checkpoint, algorithm, settled
                )
                staged = stage_manifest(check.delivery, manifest_body(document))
                _keep_staged_manifest(session, name, staged, algorithm)
        final, staged = staged, None
        removed = _put_in_place(name, final, folder, checkpoint, check.delivery)
        return _sweep_report(
            check,
            name=name,
            finalized=True,
            manifest=final.final,
            event_id=event_id,
            event_hash=event_hash,
            removed=removed,
        )
    finally:
        if staged is not None:
            discard(staged)


@contextlib.contextmanager
def _keeping_reading(ledger: Ledger, reading: Reading) -> Iterator[None]:
    """A finalize refused before its check (the audit failed, the name is taken) or failing
    after it rolls its write back: the reading it made is kept all the same, in a write of its
    own, so that the next try does not read every byte again for the stat cache's sake. (A
    finalize that commits keeps the reading in its own write: `record_cache`'s `earlier`.)"""
    try:
        yield
    except Exception:
        with contextlib.suppress(ProvenanceError, SQLAlchemyError):
            refresh_cache(ledger, reading.refresh)
        raise


def _audit_under_lock(
    session: Session,
    ahead: AuditAhead,
    folder: Path,
    pins: Pins | None,
    first_key: str | None,
) -> AuditReport:
    """The audit a finalize judges by, under its write lock (`session`, which this must start):
    the one made ahead while the delivery was read, if nothing was committed since, with the
    checkpoints checked now; else the whole audit again, on what the lock holds."""
    from provenance.audit.verification import audit, with_checkpoints

    log = ahead.confirmed(session)
    if log is not None:
        return with_checkpoints(log, folder, first_key)
    return audit(session, folder, pins, first_key)


def _keep_farm_readings(ledger: Ledger, readings: Readings | None, algorithm: str | None) -> None:
    """A farm job's readings, kept in the stat cache (a finalize with a strong digest reads
    every byte itself, and keeps what it read)."""
    if readings is not None and algorithm is None:
        with contextlib.suppress(LedgerReadOnly):  # (a cache)
            ledger.record_readings(readings)


def _read_delivery_unlocked(
    ledger: Ledger,
    source: bytes,
    hasher: Hasher,
    algorithm: str | None,
    readings: Readings | None,
    progress: Progress | None,
) -> tuple[Reading, StrongReading | None]:
    """A finalize's reading of every byte of its delivery, outside the lock, trusting no row
    of the ledger (a stat-cache row is a cache any writer could forge): the locked check
    trusts only these readings, for files whose stat has not moved since, and reads the
    rest. A farm job's readings (`readings`) are the finalize's own reading, done by its
    shards; with a strong `algorithm`, every byte is read here all the same."""
    from provenance.finalizer import Reading, read_every_file
    from provenance.stat_cache import CacheRefresh
    from provenance.strong import read_delivery_strong

    if algorithm is not None:
        strong_reading = read_delivery_strong(source, hasher, algorithm, progress)
        reading = Reading(
            strong_reading.prior,
            strong_reading.refresh,
            strong_reading.files_read,
            strong_reading.bytes_read,
        )
        return reading, strong_reading
    if readings is not None:
        return Reading(readings, CacheRefresh([], {}, time.time_ns()), 0, 0), None
    with read_session(ledger.engine) as session:
        reading = read_every_file(
            session, roots_for_reading(ledger, session), source, hasher,
            ledger.racy_window_ns, progress,
        )  # fmt: skip
    return reading, None


def _put_in_place(
    name: str,
    staged: StagedManifest,
    folder: Path,
    checkpoint: dict[str, Any],
    delivery: Delivery,
) -> list[bytes]:
    """After a finalize's commit: its manifest into place, its checkpoint kept, the
    leftovers of killed finalizes removed. The deliverable is final whatever fails here;
    the error says so and names the command that finishes the job."""
    from provenance.audit.checkpoints import write_checkpoint
    from provenance.manifests import clear_leftovers, install

    try:
        install(staged)
    except OSError as exc:
        raise ProvenanceError(
            f"{name} is final, but its manifest could not be put in place at "
            f"{display_path(staged.final)} ({exc.strerror}). Once it can be written, "
            f"`provenance manifest write {name}` writes it (and its checkpoint)."
        ) from None
    try:
        write_checkpoint(folder, checkpoint)
    except OSError as exc:
        raise ProvenanceError(
            f"{name} is final and its manifest is in place, but its checkpoint could not be "
            f"written to {folder} ({exc.strerror}). Once it can be, `provenance manifest "
            f"write {name}` writes it."
        ) from None
    return clear_leftovers(delivery)


def _sweep_report(
    check: DeliveryCheck,
    name: str | None = None,
    finalized: bool = False,
    manifest: bytes | None = None,
    event_id: int | None = None,
    event_hash: str | None = None,
    removed: list[bytes] | None = None,
) -> SweepReport:
    return SweepReport(
        delivery_kind=check.delivery.kind.value,
        source=check.delivery.source,
        verdict=check.verdict,
        files=check.file_count,
        assets=check.verdict.assets,
        files_read=check.files_read,
        bytes_read=check.bytes_read,
        files_cached=check.files_cached,
        seconds=check.seconds,
        ignored_rows=check.delivery.ignored_rows,
        name=name,
        finalized=finalized,
        manifest=manifest,
        event_id=event_id,
        event_hash=event_hash,
        leftovers=[f.path for f in check.delivery.leftovers] if removed is None else removed,
        leftovers_removed=removed is not None,
    )


def _refuse_final_name(session: Session, name: str) -> None:
    """A finalize under a name already final is refused: its error names the next free one."""
    from provenance.finalizer import deliverable_exists

    if deliverable_exists(session, name):
        free = next_free_name(name, lambda n: deliverable_exists(session, n))
        raise ProvenanceError(
            f"A deliverable named {name!r} is already final. Give this one a new "
            f"version name (the next free one is {free!r}), or `provenance "
            f"verify {name}` the existing one (`provenance manifest write "
            f"{name}` writes its manifest and checkpoint again if they are missing)."
        )


_VERSION_SUFFIX = re.compile(r"^(?P<stem>.*?[_.-]?v)(?P<number>\d+)$", re.IGNORECASE)


def next_free_name(name: str, taken: Callable[[str], bool]) -> str:
    """The next version of a deliverable's name that is not `taken`: `EP103_VFX_v001` gives
    `EP103_VFX_v002` (padding kept), a name without a version gives `NAME_v002`."""
    match = _VERSION_SUFFIX.match(name)
    if match is None:
        stem, number, width = f"{name}_v", 1, 3
    else:
        stem, digits = match.group("stem"), match.group("number")
        number, width = int(digits), len(digits)
    while True:
        number += 1
        candidate = f"{stem}{number:0{width}d}"
        if not taken(candidate):
            return candidate


def _settle_strong(
    session: Session,
    check: DeliveryCheck,
    strong_reading: StrongReading,
    policy: Policy,
    racy_window_ns: int,
) -> dict[bytes, str]:
    """The strong digest of each file of a finalize's check (path -> digest), from its strong
    reading; the approvals whose strong digests its bytes differ from go into the verdict."""
    from provenance.strong import settle_strong

    settled = settle_strong(
        strong_reading, [(e.path, e.digest) for e in check.entries], racy_window_ns
    )
    check.verdict.findings += _strong_findings(session, check, settled, policy)
    return settled


def _strong_findings(
    session: Session, check: DeliveryCheck, settled: dict[bytes, str], policy: Policy
) -> list[Finding]:
    """`approval-bytes-differ`: delivered versions whose bytes an approval's strong digest does
    not describe (`strong.approval_mismatches`)."""
    from provenance.store.exports import approval_strong_digests
    from provenance.strong import approval_mismatches

    delivered: dict[int, list[tuple[int | None, str]]] = {}
    for entry in check.entries:
        version_id = entry.resolution.recorded_as
        if version_id is not None:
            delivered.setdefault(version_id, []).append(
                (entry.resolution.frame, settled[entry.path])
            )
    versions = {v: judged.version for v, judged in check.judged.items()}
    return approval_mismatches(
        versions, delivered, approval_strong_digests(session, delivered), policy
    )


def _refusal_payload(
    name: str, source: bytes, policy: Policy, check: DeliveryCheck
) -> dict[str, Any]:
    """The `finalize.refused` event's payload: the rules that blocked the delivery."""
    return {
        "name": name,
        "delivery": display_path(source),
        "policy": policy.record_name,
        "policy_digest": policy.digest,
        "blocking": sorted({f.rule for f in check.verdict.findings if f.blocks}),
        "files": check.file_count,
    }


def _finalize_payload(
    name: str,
    source: bytes,
    policy: Policy,
    check: DeliveryCheck,
    roots: queries.RootMap,
    algorithm: str | None,
) -> dict[str, Any]:
    """The `finalize` event's payload: the policy it was judged by (a custom policy's changes
    whole), the roots placed on this machine, the strong digest's algorithm."""
    from provenance.policy import policy_changes

    payload = {
        "name": name,
        "delivery": display_path(source),
        "policy": policy.record_name,
        "policy_digest": policy.digest,
        "policy_changes": {r: s.value for r, s in policy_changes(policy).items()},
        "files": check.file_count,
        **placed_here(roots),
    }
    if policy.custom:
        payload["policy_changes"] = policy.document()["changes"]
    if algorithm is not None:
        payload["strong"] = algorithm
    return payload


def _finalized_manifest(
    name: str,
    check: DeliveryCheck,
    unit: UnitOfWork,
    event_hash: str,
    checkpoint: dict[str, Any],
    algorithm: str | None,
    settled: dict[bytes, str],
) -> dict[str, Any]:
    """The manifest of a finalize (`unit`): its files, their strong digests, its checkpoint."""
    from provenance.finalizer import manifest_document
    from provenance.strong import add_strong_digests

    finalized_at = unit.at.isoformat()
    document = manifest_document(name, check, unit.event_id, event_hash, finalized_at)
    if algorithm is not None:
        add_strong_digests(document, check.delivery.home, algorithm, settled)
    document["checkpoint"] = checkpoint
    return document


def _keep_staged_manifest(
    session: Session, name: str, staged: StagedManifest, algorithm: str | None
) -> None:
    """Record a finalize's staged manifest, in its transaction. Its bytes are recorded: the one
    file a later sweep of this delivery may leave out (anything else at that name is judged
    like any other file); and kept, to be written again if it never reaches its place."""
    from provenance.strong import manifest_strong_digest

    written: dict[str, Any] = {
        "name": name,
        "path": display_path(staged.final),
        "digest": staged.digest,
        "size": staged.size,
    }
    if algorithm is not None:
        written["strong_digest"] = manifest_strong_digest(staged.temp, algorithm)
    with unit_of_work_event(session, MANIFEST_EVENT, written):
        keep_manifest(session, name, staged.body, staged.digest)

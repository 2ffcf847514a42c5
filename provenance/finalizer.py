"""The pre-delivery sweep and the finalizer: read a delivery, resolve it, apply the policy, record.

Functions here work inside the caller's write transaction (the Ledger facade opens it); the
write lock it holds is what keeps a concurrent re-tag or approval from slipping between the
check and the mark.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from provenance.deliveries import Delivery, manifest_path, read_delivery
from provenance.errors import ProvenanceError
from provenance.fingerprint import Hasher
from provenance.ingest import CacheRefresh, Ingester
from provenance.policy import AssetFacts, FileFacts, Policy, Verdict, evaluate
from provenance.policy import SequenceFacts as PolicySequence
from provenance.records import display_path
from provenance.scan import StatFingerprint
from provenance.store.events import UnitOfWork
from provenance.store.facts import Delivered, Resolution, asset_facts, file_facts, resolve_delivered
from provenance.store.models import Deliverable, DeliverableFile
from provenance.store.queries import RootMap, asset_refs

MANIFEST_SCHEMA = "DeliveryManifest.1"

Progress = Callable[[int, int, int], None]


@dataclass(frozen=True)
class DeliveredEntry:
    path: bytes
    digest: str
    size: int
    resolution: Resolution


@dataclass
class DeliveryCheck:
    """What the sweep found: the verdict, and every file with the asset it resolved to."""

    delivery: Delivery
    verdict: Verdict
    entries: list[DeliveredEntry]
    facts: dict[int, AssetFacts]
    files: list[FileFacts]
    refresh: CacheRefresh
    """What had to be read: for the stat cache (recorded by the caller when it may write)."""
    files_read: int = 0
    bytes_read: int = 0
    seconds: float = 0.0
    names: dict[int, str] = field(default_factory=dict)


def check_delivery(
    session: Session,
    roots: RootMap,
    source: bytes,
    policy: Policy,
    hasher: Hasher,
    racy_window_ns: int,
    progress: Progress | None = None,
) -> DeliveryCheck:
    """Read, fingerprint (through the stat cache), resolve and judge a delivery. Writes nothing."""
    started = time.perf_counter()
    delivery, digests, refresh, cache = _fingerprint_delivery(
        session, roots, source, hasher, racy_window_ns, progress
    )
    delivered = [Delivered(f.path, digests[f.path][0]) for f in delivery.files if f.path in digests]
    resolutions = resolve_delivered(session, roots, delivered)
    versions = {r.version_id for r in resolutions if r.version_id is not None}
    ambiguous = {v for r in resolutions for v, _, _ in r.ambiguous}
    facts = asset_facts(session, roots, versions)
    names = {v: ref.name for v, ref in asset_refs(session, roots, versions | ambiguous).items()}
    files = file_facts(delivered, resolutions, facts, names)
    files += [FileFacts(display_path(path), None, problem="missing") for path in delivery.missing]
    files += [
        FileFacts(display_path(s.path), None, problem=f"{s.reason}: {s.detail}".rstrip(": "))
        for s in cache.report.skipped
    ]
    files += [
        FileFacts(display_path(s.path), None, problem=f"{s.reason.value} {s.detail}".strip())
        for s in delivery.skipped
    ]
    sequences = [PolicySequence(display_path(s.pattern), s.missing) for s in delivery.sequences]
    verdict = evaluate(files, sequences, policy)
    entries = [
        DeliveredEntry(item.path, item.digest, digests[item.path][1].size, resolution)
        for item, resolution in zip(delivered, resolutions, strict=True)
    ]
    return DeliveryCheck(
        delivery=delivery,
        verdict=verdict,
        entries=entries,
        facts=facts,
        files=files,
        refresh=refresh,
        files_read=cache.report.files_read,
        bytes_read=cache.report.bytes_read,
        seconds=time.perf_counter() - started,
        names=names,
    )


def warm_cache(
    session: Session,
    roots: RootMap,
    source: bytes,
    hasher: Hasher,
    racy_window_ns: int,
    progress: Progress | None = None,
) -> CacheRefresh:
    """Fingerprint a delivery's files (reading only what the stat cache cannot vouch for)."""
    return _fingerprint_delivery(session, roots, source, hasher, racy_window_ns, progress)[2]


def _fingerprint_delivery(
    session: Session,
    roots: RootMap,
    source: bytes,
    hasher: Hasher,
    racy_window_ns: int,
    progress: Progress | None,
) -> tuple[Delivery, dict[bytes, tuple[str, StatFingerprint]], CacheRefresh, Ingester]:
    delivery = read_delivery(source)
    cache = Ingester(session, roots, None, hasher, racy_window_ns=racy_window_ns)
    digests, refresh = cache.fingerprint_files(delivery.files)
    if progress is not None:
        progress(len(delivery.files), cache.report.bytes_total, cache.report.bytes_read)
    return delivery, digests, refresh, cache


def record_cache(
    session: Session, roots: RootMap, refresh: CacheRefresh, hasher: Hasher, racy_window_ns: int
) -> None:
    """Keep what a check had to read in the stat cache (a cache of where bytes were seen)."""
    if refresh.fresh:
        Ingester(session, roots, None, hasher, racy_window_ns=racy_window_ns).record_cache(refresh)


def deliverable_exists(session: Session, name: str) -> bool:
    return (
        session.execute(select(Deliverable.id).where(Deliverable.name == name)).first() is not None
    )


def record_deliverable(session: Session, name: str, check: DeliveryCheck, unit: UnitOfWork) -> int:
    """Freeze a delivery that passed: every path with its digest and the asset it resolved to."""
    delivery = check.delivery
    deliverable_id = session.execute(
        insert(Deliverable)
        .values(
            name=name,
            source=delivery.source,
            kind=delivery.kind.value,
            policy_name=check.verdict.policy.name,
            policy_digest=check.verdict.policy.digest,
            file_count=len(check.entries),
            warnings=sum(1 for f in check.verdict.findings if not f.blocks),
            created_at=unit.at,
            event_id=unit.event_id,
        )
        .returning(Deliverable.id)
    ).scalar_one()
    rows = []
    for position, entry in enumerate(check.entries):
        if entry.resolution.version_id is None:
            raise ProvenanceError(
                f"{display_path(entry.path)} resolved to no asset; a delivery that passed the "
                "policy must not hold one. Report this as a bug."
            )
        rows.append(
            {
                "deliverable_id": deliverable_id,
                "position": position,
                "path": os.path.relpath(entry.path, delivery.home),
                "digest": entry.digest,
                "size": entry.size,
                "version_id": entry.resolution.version_id,
                "frame": entry.resolution.frame,
            }
        )
    if rows:
        session.execute(insert(DeliverableFile), rows)
    return deliverable_id


def manifest_document(
    name: str, check: DeliveryCheck, event_id: int, event_hash: str, finalized_at: str
) -> dict[str, Any]:
    """The manifest written beside a finalized delivery: every file, its digest, origin, tool, approvals."""
    files = []
    for entry in check.entries:
        version_id = entry.resolution.version_id
        assert version_id is not None
        facts = check.facts[version_id]
        tools = sorted({t.name for s in facts.generative_sources for t in s.tools})
        files.append(
            {
                "path": display_path(os.path.relpath(entry.path, check.delivery.home)),
                "digest": entry.digest,
                "size": entry.size,
                "asset": facts.name,
                "version": facts.version,
                "asset_digest": facts.digest,
                "frame": entry.resolution.frame,
                "origin": facts.origin.alias,
                "origin_code": facts.origin.value,
                "generative_tools": tools,
                "approvals": list(facts.approvals),
            }
        )
    return {
        "schema": MANIFEST_SCHEMA,
        "name": name,
        "finalized_at": finalized_at,
        "delivery": {
            "kind": check.delivery.kind.value,
            "source": display_path(check.delivery.source),
        },
        "policy": {"name": check.verdict.policy.name, "digest": check.verdict.policy.digest},
        "ledger_event": {"id": event_id, "hash": event_hash},
        "warnings": [
            {"rule": f.rule, "asset": f.asset, "message": f.message}
            for f in check.verdict.findings
            if not f.blocks
        ],
        "files": files,
    }


def stage_manifest(delivery: Delivery, document: dict[str, Any]) -> tuple[bytes, bytes]:
    """Write the manifest to a temporary file beside its final name; returns (temp, final)."""
    home = delivery.home
    final = manifest_path(delivery.kind, delivery.source, home)
    try:
        handle, temp = tempfile.mkstemp(prefix=b".provenance-manifest.", dir=home)
    except OSError as exc:
        raise ProvenanceError(
            f"Cannot write the manifest into {display_path(home)} ({exc.strerror}); nothing was "
            "finalized. Make the folder writable and finalize again."
        ) from None
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        json.dump(document, stream, indent=2, ensure_ascii=False)
        stream.write("\n")
    # mkstemp makes the file private; a manifest is for whoever receives the delivery.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(temp, 0o666 & ~umask)
    return temp, final

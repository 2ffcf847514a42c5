"""The pre-delivery sweep and the finalizer: read a delivery, resolve it, apply the policy, record.

Functions here work inside the caller's write transaction (the Ledger facade opens it); the
write lock it holds is what keeps a concurrent re-tag or approval from slipping between the
check and the mark.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, NamedTuple, TypeAlias, overload

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from provenance import schemas
from provenance.deliveries import (
    DeliveredSequence,
    Delivery,
    read_delivery,
    rescan_folder,
)
from provenance.detect import credentials_unreadable, metadata_unread
from provenance.detect.sniff import could_carry
from provenance.errors import ProvenanceError
from provenance.fingerprint import Hasher, hash_file, is_cache_trusted
from provenance.manifests import is_leftover
from provenance.obligations import Judged
from provenance.policy import Policy, Verdict, evaluate
from provenance.records import display_path
from provenance.resolution import FileFacts
from provenance.resolution import SequenceFacts as PolicySequence
from provenance.scan import Skipped, SkipReason, StatFingerprint
from provenance.stat_cache import CacheRefresh, StatCache, record_refresh
from provenance.store import bulk
from provenance.store.events import UnitOfWork
from provenance.store.ledger_facts import ledger_facts
from provenance.store.locations import cached_locations
from provenance.store.models import Deliverable, DeliverableFile
from provenance.store.queries import RootMap, recorded_manifests
from provenance.store.resolving import (
    Delivered,
    Resolution,
    file_facts,
    highest_version_id,
    resolve_delivered,
)
from provenance.store.rows import LineDigests, path_text
from provenance.store.seals import (
    CopiedFolder,
    Seal,
    SealedFiles,
    expand_sealed,
    load_seals,
    sealed_for_reading,
    write_copy_seals,
)
from provenance.store.signals import PrintedFile, find_near_ai, near_ai_signal
from provenance.unseen import read_unseen

__all__ = [
    "DeliveryCheck",
    "Reading",
    "check_delivery",
    "deliverable_exists",
    "manifest_document",
    "read_every_file",
    "record_cache",
    "record_deliverable",
    "relative_to",
]


Progress = Callable[[int, int, int], None]
Prior: TypeAlias = Mapping[bytes, tuple[str, StatFingerprint, int]]
"""What a run read itself: path -> (digest, stat after reading, when the reading began)."""


class DeliveredEntry(NamedTuple):
    path: bytes
    digest: str
    size: int
    resolution: Resolution


@dataclass
class DeliveryCheck:
    """What the sweep found: the verdict, and every file with the asset it resolved to."""

    delivery: Delivery
    verdict: Verdict
    checked: list[DeliveredEntry]
    """The files checked one by one (not in a sealed folder)."""
    sealed: SealedFiles
    """The files of sealed folders, vouched for in bulk."""
    files: list[FileFacts]
    """The facts of the files checked one by one (a sealed folder's are its assets')."""
    refresh: CacheRefresh
    """What had to be read: for the stat cache (recorded by the caller when it may write)."""
    files_read: int = 0
    bytes_read: int = 0
    files_cached: int = 0
    """Files whose digests the ledger's stat cache or a seal vouched for, unread (a sweep's
    shortcut; a finalize and a verify read every file)."""
    seconds: float = 0.0

    @property
    def judged(self) -> dict[int, Judged]:
        """What each delivered version answers for."""
        return self.verdict.judged

    @property
    def file_count(self) -> int:
        return len(self.checked) + len(self.sealed.paths)

    @functools.cached_property
    def entries(self) -> list[DeliveredEntry]:
        """Every delivered file, in path order (made on demand: a sweep needs only the count)."""
        sealed = self.sealed
        entries = self.checked + [
            DeliveredEntry(path, digest, size, Resolution(version_id, frame))
            for path, digest, size, version_id, frame in zip(
                sealed.paths,
                sealed.digests,
                sealed.sizes,
                sealed.version_ids,
                sealed.frames,
                strict=True,
            )
        ]
        entries.sort(key=lambda entry: entry.path)
        return entries


def check_delivery(
    session: Session,
    roots: RootMap,
    source: bytes,
    policy: Policy,
    hasher: Hasher,
    racy_window_ns: int,
    progress: Progress | None = None,
    prior: Prior | None = None,
) -> DeliveryCheck:
    """Read, fingerprint, resolve and judge a delivery. Writes nothing.

    Without `prior`, the ledger's stat cache and seals vouch for files they know unchanged (a
    sweep). With it, they are not consulted: a file is read unless `prior` (what this run read
    itself, `read_every_file`) vouches for it; an empty `prior` reads every file."""
    started = time.perf_counter()
    delivery, digests, refresh, cache, sealed = _fingerprint_delivery(
        session, roots, source, hasher, racy_window_ns, progress, prior
    )
    delivered, whole, spans = _delivered(delivery, digests)
    # (The content ids it looks up go to the stat-cache refresh, which need not look again.)
    copies: list[range] = []
    # (Read before resolving: see `unseen.read_unseen`.)
    as_of = highest_version_id(session)
    resolutions = resolve_delivered(
        session, roots, delivered, refresh.content_ids, list(whole.values()), copies, spans
    )
    refresh = replace(
        refresh,
        copied=refresh.copied
        + _copied_folders(
            delivery, whole, copies, resolutions, digests, refresh, racy_window_ns, as_of
        ),
    )
    versions = {r.version_id for r in resolutions if r.version_id is not None}
    versions.update(v for r in resolutions for v in r.holders)
    versions.update(sealed.version_ids)
    ledger = ledger_facts(session, roots, versions)
    files = _with_file_signals(
        session, roots, file_facts(delivered, resolutions), delivered, resolutions
    )
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
    verdict = evaluate(files, sequences, policy, ledger, _vouched_groups(sealed))
    checked = [
        DeliveredEntry(item.path, item.digest, digests[item.path][1].size, resolution)
        for item, resolution in zip(delivered, resolutions, strict=True)
    ]
    return DeliveryCheck(
        delivery=delivery,
        verdict=verdict,
        checked=checked,
        sealed=sealed,
        files=files,
        refresh=refresh,
        files_read=cache.report.files_read,
        bytes_read=cache.report.bytes_read,
        files_cached=cache.trusted_files + sealed.vouched,
        seconds=time.perf_counter() - started,
    )


def _delivered(
    delivery: Delivery, digests: dict[bytes, tuple[str, StatFingerprint]]
) -> tuple[list[Delivered], dict[int, range], list[range]]:
    """The delivered files that have a digest (in delivery order); where among them lie the
    assets all of whose files do (by the asset's index in `delivery.asset_spans`); and where
    every asset of several files lies (the context of its frames)."""
    delivered: list[Delivered] = []
    whole: dict[int, range] = {}
    spans: list[range] = []
    files = delivery.files
    for asset, (start, stop) in enumerate(delivery.asset_spans):
        first = len(delivered)
        delivered.extend(
            Delivered(f.path, digests[f.path][0], f.frame)
            for f in files[start:stop]
            if f.path in digests  # (one that could not be read is reported, not resolved)
        )
        read = range(first, len(delivered))
        if read and len(read) == stop - start:
            whole[asset] = read
        if len(read) > 1:
            spans.append(read)
    return delivered, whole, spans


def _copied_folders(
    delivery: Delivery,
    whole: dict[int, range],
    copies: list[range],
    resolutions: list[Resolution],
    digests: dict[bytes, tuple[str, StatFingerprint]],
    refresh: CacheRefresh,
    racy_window_ns: int,
    as_of: int,
) -> list[CopiedFolder]:
    """The delivered folders all of whose assets were resolved as exact copies, and that hold
    nothing else: the stat cache keeps each as one seal, not a row a file."""
    if not copies:
        return []
    copied = set(copies)
    holes = {s.pattern: s.missing for s in delivery.sequences}
    found: list[CopiedFolder] = []
    for read in delivery.folders:
        spans = [whole.get(asset) for asset in read.spans]
        if not (read.complete and spans) or any(
            span is None or span not in copied for span in spans
        ):
            continue
        paths = [
            f.path for a in read.spans for f in delivery.files[slice(*delivery.asset_spans[a])]
        ]
        cached = refresh.cached
        recorded_ns = min(
            [refresh.recorded_ns, *(cached[p].recorded_ns for p in paths if p in cached)]
        )
        if read.newest_ns >= recorded_ns - racy_window_ns:
            continue  # (a file changed within the racy window may change again unseen)
        cut = len(read.folder)
        assets = []
        for asset, kind, span in zip(read.spans, read.kinds, spans, strict=True):
            assert span is not None
            version_id = resolutions[span.start].version_id
            assert version_id is not None
            pattern = delivery.asset_patterns[asset]
            assets.append((version_id, pattern[cut:], kind.value, holes.get(pattern, ())))
        found.append(
            CopiedFolder(
                read.folder,
                read.listing,
                recorded_ns,
                tuple(assets),
                len(paths),
                sum(digests[p][1].size for p in paths),
                as_of,
            )
        )
    return found


def _with_file_signals(
    session: Session,
    roots: RootMap,
    files: list[FileFacts],
    delivered: list[Delivered],
    resolutions: list[Resolution],
) -> list[FileFacts]:
    """Read what the files the ledger does not vouch for (untracked, changed) say about
    themselves. Files the ledger holds had theirs read when they were recorded: a warm sweep
    reads nothing."""
    unvouched = [
        index
        for index, resolution in enumerate(resolutions)
        if (resolution.version_id is None and not resolution.holders) or resolution.changed
    ]
    unvouched = [i for i in unvouched if could_carry(delivered[i].path)]
    if not unvouched:
        return files
    from provenance.detect.files import detect_files  # numpy, Pillow, c2pa: on first use

    detections = detect_files([delivered[i].path for i in unvouched])
    matches = find_near_ai(
        session,
        roots,
        {
            i: PrintedFile(d.path, d.prints)
            for i, d in zip(unvouched, detections, strict=True)
            if d.prints is not None and d.prints.queries
        },
    )
    result = list(files)
    for index, detection in zip(unvouched, detections, strict=True):
        generated = tuple(
            s.summary for s in detection.signals if s.origin is not None and s.origin.generative
        )
        near = matches.get(index, [])
        problem = detection.unprintable
        unreadable = tuple(
            r for r in (credentials_unreadable(s.detail) for s in detection.signals) if r
        )
        unread = tuple(r for r in (metadata_unread(s.detail) for s in detection.signals) if r)
        if generated or near or problem or unreadable or unread:
            result[index] = files[index]._replace(
                signals=generated,
                near_ai=(near_ai_signal(near).summary,) if near else (),
                near_ai_matches=tuple(match.fields() for match in near),
                unprintable=problem,
                unreadable_credentials=unreadable,
                metadata_unread=unread,
            )
    return result


class _DisplayPaths(Sequence[str]):
    """Paths shown to people, decoded only when a finding lists them."""

    def __init__(self, paths: list[bytes]) -> None:
        self._paths = paths

    def __len__(self) -> int:
        return len(self._paths)

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...

    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        if isinstance(index, slice):
            return [display_path(p) for p in self._paths[index]]
        return display_path(self._paths[index])


def _vouched_groups(sealed: SealedFiles) -> list[tuple[int, Sequence[str]]]:
    """The files of sealed folders, by version: each is its version's recorded, unchanged
    member."""
    by_version: dict[int, list[bytes]] = {}
    for path, version_id in zip(sealed.paths, sealed.version_ids, strict=True):
        by_version.setdefault(version_id, []).append(path)
    return [(v, _DisplayPaths(paths)) for v, paths in by_version.items()]


@dataclass(frozen=True)
class Reading:
    """Every file of a delivery, read (`read_every_file`)."""

    prior: Prior
    refresh: CacheRefresh
    files_read: int
    bytes_read: int


def read_every_file(
    session: Session,
    roots: RootMap,
    source: bytes,
    hasher: Hasher,
    racy_window_ns: int,
    progress: Progress | None = None,
) -> Reading:
    """Read every byte of a delivery, trusting no row of the ledger: what a finalize (before
    it takes the write lock) and a verify establish for themselves."""
    _, digests, refresh, cache, _ = _fingerprint_delivery(
        session, roots, source, hasher, racy_window_ns, progress, prior={}
    )
    recorded_ns = refresh.recorded_ns
    prior = {path: (digest, stat, recorded_ns) for path, (digest, stat) in digests.items()}
    return Reading(prior, refresh, cache.report.files_read, cache.report.bytes_read)


def _fingerprint_delivery(
    session: Session,
    roots: RootMap,
    source: bytes,
    hasher: Hasher,
    racy_window_ns: int,
    progress: Progress | None,
    prior: Prior | None = None,
) -> tuple[
    Delivery, dict[bytes, tuple[str, StatFingerprint]], CacheRefresh, StatCache, SealedFiles
]:
    source = os.path.abspath(source)
    cache = StatCache(session, roots, hasher, racy_window_ns, prior=prior)
    seals: dict[bytes, Seal] = {}
    is_folder = os.path.isdir(source)
    # The ledger's caches (seals, the stat cache, a never-seen folder's copies resolved in
    # bulk) only when no `prior` says what to trust.
    if is_folder and prior is None:
        seals = load_seals(session.connection(), roots, [source.rstrip(b"/") + b"/"])
        if not seals and cache.holds_nothing_under(source):
            return _fingerprint_unseen(session, source, cache, hasher, racy_window_ns, progress)
    stream = cache.stream(source if is_folder and prior is None else None)
    delivery = read_delivery(
        source, sealed_for_reading(seals, racy_window_ns), lambda d: stream.take(d.files)
    )
    manifests = recorded_manifests(session)
    manifest_at = delivery.manifest_at

    def recorded_manifest(path: bytes, digest: str) -> bool:
        return path == manifest_at and digest in manifests

    sealed = expand_sealed(session, roots, delivery.sealed, recorded_manifest)
    for folder in sealed.fallback:
        # The seal did not name exactly the files the folder holds: read it the usual way.
        delivery.add_folder(rescan_folder(folder, source))
    delivery.sequences += [DeliveredSequence(p, missing) for p, missing in sealed.sequences]
    stream.take(delivery.files, final=True)
    digests, refresh = stream.finish()
    files, read = _settle_manifest(delivery, digests, manifests, prior, racy_window_ns)
    more_files, more = _settle_leftovers(delivery, digests, prior, racy_window_ns)
    report = cache.report  # (as the workers count the files they read)
    report.files_read += files + more_files
    report.bytes_read += read + more
    report.bytes_total += read + more
    if progress is not None:
        progress(len(delivery.files), cache.report.bytes_total, cache.report.bytes_read)
    return delivery, digests, refresh, cache, sealed


def _settle_manifest(
    delivery: Delivery,
    digests: dict[bytes, tuple[str, StatFingerprint]],
    manifests: frozenset[str],
    prior: Prior | None,
    racy_window_ns: int,
) -> tuple[int, int]:
    """The file at the delivery's own manifest path is left out only when its bytes are a
    manifest a finalize recorded; anything else there ships, and is judged. Returns the files
    and bytes that had to be read here."""
    held = delivery.manifest
    if held is None:
        return 0, 0
    size = _digest_of(delivery, held.path, held.stat, digests, prior, racy_window_ns)
    if size is None:
        delivery.manifest = None
        return 0, 0
    if digests[held.path][0] not in manifests:
        delivery.judge_manifest()
    return int(size > 0), size


def _settle_leftovers(
    delivery: Delivery,
    digests: dict[bytes, tuple[str, StatFingerprint]],
    prior: Prior | None,
    racy_window_ns: int,
) -> tuple[int, int]:
    """Files named like a staged manifest are left out only when each is a killed finalize's
    leftover (`manifests.is_leftover`); anything else so named ships, and is judged. Returns
    the files and bytes that had to be read here."""
    files = read = 0
    for leftover in list(delivery.leftovers):
        if is_leftover(leftover.path):
            continue
        size = _digest_of(delivery, leftover.path, leftover.stat, digests, prior, racy_window_ns)
        if size is None:
            delivery.leftovers.remove(leftover)
            continue
        files += int(size > 0)
        read += size
        delivery.judge_leftover(leftover)
    return files, read


def _digest_of(
    delivery: Delivery,
    path: bytes,
    stat: StatFingerprint,
    digests: dict[bytes, tuple[str, StatFingerprint]],
    prior: Prior | None,
    racy_window_ns: int,
) -> int | None:
    """Make sure `digests` holds a set-aside file's digest (what this run read of it already,
    else reading it now). Returns the bytes read (0 when none had to be), None when it cannot
    be read (it is then listed as skipped)."""
    earlier = prior.get(path) if prior is not None else None
    if earlier is not None and is_cache_trusted(earlier[1], earlier[2], stat, racy_window_ns):
        digests[path] = (earlier[0], stat)
    if path in digests:
        return 0
    read = hash_file(path)
    if read.digest is None or read.stat is None:
        delivery.skipped.append(Skipped(path, read.skip or SkipReason.UNREADABLE, read.detail))
        return None
    digests[path] = (read.digest, read.stat)
    return read.stat.size


def _fingerprint_unseen(
    session: Session,
    source: bytes,
    cache: StatCache,
    hasher: Hasher,
    racy_window_ns: int,
    progress: Progress | None,
) -> tuple[
    Delivery, dict[bytes, tuple[str, StatFingerprint]], CacheRefresh, StatCache, SealedFiles
]:
    """`_fingerprint_delivery` of a folder the ledger holds nothing under (see `unseen`)."""
    unseen = read_unseen(session, source, hasher, racy_window_ns, progress)
    report = cache.report
    report.files_read = report.files_new = unseen.files_read
    report.bytes_read = unseen.bytes_read
    report.bytes_total = unseen.bytes_total
    report.skipped.extend(unseen.skipped)
    refresh = CacheRefresh(unseen.fresh, {}, unseen.recorded_ns, copied=unseen.copied)
    delivery = unseen.delivery
    _settle_manifest(delivery, unseen.digests, recorded_manifests(session), None, racy_window_ns)
    _settle_leftovers(delivery, unseen.digests, None, racy_window_ns)
    delivery.sequences += [DeliveredSequence(p, missing) for p, missing in unseen.copies.sequences]
    if progress is not None:
        files = len(delivery.files) + len(unseen.copies.paths)
        progress(files, report.bytes_total, report.bytes_read)
    return delivery, unseen.digests, refresh, cache, unseen.copies


def record_cache(
    session: Session, roots: RootMap, refresh: CacheRefresh, earlier: CacheRefresh | None = None
) -> None:
    """Keep what a check had to read in the stat cache (a cache of where bytes were seen): a
    folder of exact copies as one seal, any other file as its own location.

    `earlier` is a reading made before this check (a finalize's reading outside the lock),
    kept in the same write: each file as of the last reading of it, with the time that reading
    began (the racy rule judges a row by when its file was read)."""
    if earlier is not None:
        again = {r.path for r in refresh.fresh}
        kept = [r for r in earlier.fresh if r.path not in again]
        # The rows as they are now, under the lock (another writer may have recorded some
        # of these paths since the reading): the check looked most of them up already.
        cached = dict(refresh.cached)
        unknown = [r.path for r in kept if r.path not in cached]
        if unknown:
            cached.update(cached_locations(session.connection(), roots, unknown))
        if kept or earlier.copied:
            _record_refresh(session, roots, replace(earlier, fresh=kept, cached=cached))
    _record_refresh(session, roots, refresh)


def _record_refresh(session: Session, roots: RootMap, refresh: CacheRefresh) -> None:
    sealed = write_copy_seals(session.connection(), roots, refresh.copied)
    fresh = refresh.fresh
    if sealed:
        fresh = [r for r in fresh if r.path[: r.path.rfind(b"/") + 1] not in sealed]
    if fresh:
        record_refresh(session, roots, replace(refresh, fresh=fresh))


def deliverable_exists(session: Session, name: str) -> bool:
    return (
        session.execute(select(Deliverable.id).where(Deliverable.name == name)).first() is not None
    )


def relative_to(path: bytes, home: bytes) -> bytes:
    """`os.path.relpath(path, home)`, without its cost (25 us) for the usual path under `home`."""
    prefix = home.rstrip(b"/") + b"/"
    rest = path[len(prefix) :]
    if path.startswith(prefix) and not _DOTS.intersection(rest.split(b"/")):
        return rest
    return os.path.relpath(path, home)


_DOTS = frozenset({b"", b".", b".."})


def record_deliverable(
    session: Session, name: str, check: DeliveryCheck, unit: UnitOfWork, source: bytes | None = None
) -> int:
    """Freeze a delivery that passed: every path with its digest and the asset it resolved to.

    `source` is where it was read, as the ledger records it (`RootMap.recorded_source`)."""
    delivery = check.delivery
    deliverable_id = session.execute(
        insert(Deliverable)
        .values(
            name=name,
            source=delivery.source if source is None else source,
            kind=delivery.kind.value,
            policy_name=check.verdict.policy.record_name,
            policy_digest=check.verdict.policy.digest,
            file_count=check.file_count,
            warnings=sum(1 for f in check.verdict.findings if not f.blocks),
            created_at=unit.at,
            event_id=unit.event_id,
        )
        .returning(Deliverable.id)
    ).scalar_one()
    rows = []
    # The event commits to the files as they are written (not read back to be hashed).
    lines = unit.lines.setdefault("deliverable_files", LineDigests())
    for position, entry in enumerate(check.entries):
        version_id = entry.resolution.recorded_as
        if version_id is None:
            raise ProvenanceError(
                f"{display_path(entry.path)} resolved to no asset; a delivery that passed the "
                "policy must not hold one. Report this as a bug."
            )
        path = relative_to(entry.path, delivery.home)
        row = (deliverable_id, position, path, entry.digest, entry.size, version_id)
        rows.append((*row, entry.resolution.frame))
        lines.add(unit.event_id, (*row[:2], path_text(path), *row[3:], entry.resolution.frame))
    bulk.insert_rows(
        session.connection(),
        bulk.table_of(DeliverableFile),
        ("deliverable_id", "position", "path", "digest", "size", "version_id", "frame"),
        rows,
    )
    return deliverable_id


def manifest_document(
    name: str, check: DeliveryCheck, event_id: int, event_hash: str, finalized_at: str
) -> dict[str, Any]:
    """The manifest written beside a finalized delivery: every file, its digest, origin, tool, approvals."""
    files = []
    for entry in check.entries:
        resolution = entry.resolution
        version_id = resolution.recorded_as
        assert version_id is not None
        judged = check.judged[version_id]
        version = judged.version
        covering = [a.ref for a in judged.approvals] + [
            a.ref for s in judged.sources for a in s.covered_by
        ]
        document: dict[str, Any] = {
            "path": display_path(relative_to(entry.path, check.delivery.home)),
            "digest": entry.digest,
            "size": entry.size,
            "asset": version.name,
            "version": version.number,
            "asset_digest": version.digest,
            "frame": resolution.frame,
            "origin": judged.origin.alias,
            "origin_code": judged.origin.value,
            "generative_tools": sorted(judged.generative_tools),
            "approvals": list(dict.fromkeys(covering)),
        }
        others = [check.judged[h].version for h in resolution.holders if h != version_id]
        if others:
            document["also_held_by"] = [{"asset": o.name, "version": o.number} for o in others]
        files.append(document)
    return {
        "schema": schemas.DELIVERY_MANIFEST,
        "name": name,
        "finalized_at": finalized_at,
        "delivery": {
            "kind": check.delivery.kind.value,
            "source": display_path(check.delivery.source),
        },
        "policy": check.verdict.policy.document(),
        "ledger_event": {"id": event_id, "hash": event_hash},
        "warnings": [
            {"rule": f.rule, "asset": f.asset, "message": f.message, "fix": f.fix}
            for f in check.verdict.findings
            if not f.blocks
        ],
        "files": files,
    }

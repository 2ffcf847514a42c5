"""The ingest: scanned files to contents, locations, asset versions, claims and lineage, in one transaction.

Data flows one way: scan (listing and stat) -> stat-cache decision -> hash what changed ->
write the batch. Batches of a few thousand files keep memory flat on trees of any size; the
caller's transaction makes the whole run atomic. While the workers hash one batch, this process
scans the next one and writes the one before: the three stages overlap.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import json
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from sqlalchemy import Connection, bindparam, func, insert, select, tuple_
from sqlalchemy.orm import Session

from provenance.detect import Signal
from provenance.detect.sniff import could_carry, worth_reading
from provenance.errors import LineageCycle
from provenance.fingerprint import (
    Hasher,
    HashJob,
    HashResult,
    aggregate_digest,
    is_cache_trusted,
)
from provenance.origins import Evidence, Origin
from provenance.records import IngestReport, SkippedFile, display_path, pack_folder
from provenance.scan import (
    LEDGER_FOLDERS,
    RACY_WINDOW_NS,
    AssetKind,
    DirectoryScan,
    ScannedAsset,
    ScannedFile,
    ScannedLink,
    Sealed,
    SkipReason,
    StatFingerprint,
    looks_like_pattern,
    scan_folder,
    scan_target,
)
from provenance.store import bulk, cache
from provenance.store.events import UnitOfWork
from provenance.store.facts import latest_in_folder
from provenance.store.models import (
    Asset,
    AssetVersion,
    Claim,
    Content,
    EdgeKind,
    Likeness,
    LineageEdge,
    Location,
    LocationKind,
    Member,
)
from provenance.store.queries import RootMap, ancestors, chunked, folder_bounds
from provenance.store.rows import EventRows, LineDigests, path_text
from provenance.store.seals import (
    COPY_INTENT,
    PLAIN_INTENT,
    CopiedFolder,
    Seal,
    SealedAssets,
    drop_folders,
    drop_for_versions,
    load_sealed_assets,
    load_seals,
    write_seals,
)
from provenance.store.signals import PrintedFile, find_near_ai, near_ai_signal, record_signals

if TYPE_CHECKING:
    from provenance.detect.files import Detection

__all__ = [
    "SQLITE_CACHE_KIB",
    "STREAM_BATCH",
    "CacheRefresh",
    "ClaimSpec",
    "Ingester",
    "ParentSpec",
    "Progress",
    "add_claims",
    "add_edges",
    "add_likeness",
    "batches",
]


BATCH_FILES = 4096
BATCH_BYTES = 2 << 30
BATCH_SEALED_FILES = 32768
"""A file of a sealed folder costs its batch only its name and its share of the seal's packed
assets (about 110 bytes on a million tiny files), and large batches read seals in few queries:
an unchanged re-ingest of 100,000 files spent 22 ms reading seals in batches of 4,096 files,
11 ms in batches of 32,768."""
# A fingerprint pass (a sweep) hands the workers files this many at a time as the walk finds them.
STREAM_BATCH = 4096
SQLITE_CACHE_KIB = 64 << 10

Progress = Callable[[int, int, int], None]
"""Called with (files seen, bytes seen, bytes read) as batches complete."""


@dataclass(frozen=True)
class ClaimSpec:
    """A claim to attach to every asset version an ingest (or tag) touches."""

    origin: Origin
    tool_id: int | None
    tool_version: str | None
    claimed_by: str
    evidence: Evidence = Evidence.DECLARED
    note: str | None = None
    resolves: bool = False
    detail: str | None = None
    """What the claim rests on, for auditors (an ASC MHL's creator, tool, date and hash)."""


@dataclass(frozen=True)
class ParentSpec:
    version_id: int
    kind: EdgeKind


@dataclass
class _Batch:
    scans: list[DirectoryScan] = field(default_factory=list)
    sealed: dict[bytes, SealedAssets] = field(default_factory=dict)
    """What the seals of the batch's sealed folders recorded (`Ingester._open_seals`)."""
    files: int = 0
    bytes: int = 0
    sealed_files: int = 0
    """Files of the batch's sealed folders: not fingerprinted, but the batch holds their names
    and reads their seals, so they end batches too (uncounted, an unchanged tree was walked
    into one batch holding every name in it)."""

    def add(self, scan: DirectoryScan) -> None:
        self.scans.append(scan)
        if scan.sealed:
            self.sealed_files += len(scan.names)
            return
        self.files += scan.file_count
        self.bytes += sum(m.stat.size for a in scan.assets for m in a.members)

    @property
    def full(self) -> bool:
        return (
            self.files >= BATCH_FILES
            or self.sealed_files >= BATCH_SEALED_FILES
            or self.bytes >= BATCH_BYTES
        )


def batches(targets: Sequence[bytes], sealed: Sealed | None = None) -> Iterator[_Batch]:
    batch = _Batch()
    for target in targets:
        for scan in scan_target(target, sealed, LEDGER_FOLDERS):
            batch.add(scan)
            if batch.full:
                yield batch
                batch = _Batch()
    if batch.scans:
        yield batch


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def targets_overlap(targets: Sequence[bytes]) -> bool:
    """Could two targets yield the same path (one folder inside another, two patterns in one folder)?"""
    bases = []
    for target in targets:
        target = os.path.abspath(target)
        if not os.path.lexists(target) and looks_like_pattern(os.fsdecode(target)):
            target = os.path.dirname(target)
        bases.append(target.rstrip(b"/") + b"/")
    return any(
        a.startswith(b) or b.startswith(a)
        for index, a in enumerate(bases)
        for b in bases[index + 1 :]
    )


_LOCATION_FACTS = ("content_id", "size", "mtime_ns", "ctime_ns", "inode", "device", "recorded_ns")
"""A location's columns after its content, in the order of StatFingerprint's fields."""


# The lookups of every batch, built once (see bulk.select_in).
_LOCATIONS = (
    select(
        Location.path,
        Location.id,
        Content.digest,
        Location.size,
        Location.mtime_ns,
        Location.ctime_ns,
        Location.inode,
        Location.device,
        Location.recorded_ns,
    )
    .outerjoin(Content, Content.id == Location.content_id)
    .where(Location.root_id == bindparam("root"))
)
_LOCATIONS_IN_FOLDER = _LOCATIONS.where(
    Location.path >= bindparam("low"), Location.path < bindparam("high")
)
# Folders with at least this many paths to look up are read whole, with one range query.
_RANGE_MIN_FILES = 32
_CONTENTS = select(Content.digest, Content.id)
_LATEST_VERSIONS = (
    select(Asset.pattern, Asset.id, AssetVersion.id, AssetVersion.digest, AssetVersion.number)
    .join(
        AssetVersion,
        (AssetVersion.asset_id == Asset.id) & (AssetVersion.number == Asset.latest_version),
    )
    .where(Asset.root_id == bindparam("root"))
)


@contextlib.contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Pause Python's cycle collector for the run, as Mercurial does while it reads its dirstate.

    An ingest makes a few objects a file and keeps them for a batch or two, so they survive
    into the oldest generation and trigger full collections of the whole heap: on 100,000
    files, 14 of them took 1.3 s of a 4 s re-ingest. The ingest makes no reference cycles, and
    reference counting frees everything it drops.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


class _Cached(NamedTuple):
    location_id: int
    digest: str | None
    stat: StatFingerprint
    recorded_ns: int


@dataclass
class _Pending:
    """Files being hashed: scanned, looked up in the stat cache, not yet written."""

    assets: list[ScannedAsset]
    size: int
    cached: dict[bytes, _Cached]
    trusted: dict[bytes, tuple[str, StatFingerprint]]
    """Files the stat cache vouches for: path -> (digest, stat)."""
    job: HashJob | None
    recorded_ns: int
    """Taken before any file of the batch is read, so that the racy rule errs on the safe side."""


@dataclass(frozen=True)
class CacheRefresh:
    """Files a fingerprint pass had to read, to be recorded in the stat cache when allowed."""

    fresh: list[HashResult]
    cached: dict[bytes, _Cached]
    recorded_ns: int
    content_ids: dict[str, int] = field(default_factory=dict)
    """Ids of contents the check already looked up (digest -> id): not looked up again."""
    copied: list[CopiedFolder] = field(default_factory=list)
    """Delivered folders of exact copies, to be sealed as such (`seals.write_copy_seals`)."""


class FingerprintStream:
    """A fingerprint pass that starts hashing while the files are still being found.

    `take` is handed the growing list of files a walk has found so far; every STREAM_BATCH new
    files are looked up in the stat cache and the ones it cannot vouch for go to the hashing
    workers at once, so the workers hash the first folders while the walk lists the rest. Hand
    whole folders at a time: the stat cache reads a folder with one range query.
    """

    def __init__(self, ingester: Ingester) -> None:
        self._ingester = ingester
        self._taken = 0
        self._pending: list[_Pending] = []

    def take(self, files: Sequence[ScannedFile], final: bool = False) -> None:
        """Start on the files of `files` not taken yet, once there are enough of them (or all
        of them when `final`)."""
        if len(files) - self._taken < (1 if final else STREAM_BATCH):
            return
        new = list(files[self._taken :])
        self._taken = len(files)
        self._pending.append(self._ingester._start([ScannedAsset(AssetKind.FILE, b"", new)]))

    def finish(self) -> tuple[dict[bytes, tuple[str, StatFingerprint]], CacheRefresh]:
        """Every file's digest and fingerprint, and what had to be read (for `record_cache`)."""
        digests: dict[bytes, tuple[str, StatFingerprint]] = {}
        fresh: list[HashResult] = []
        cached: dict[bytes, _Cached] = {}
        # The earliest start errs on the safe side of the racy rule for every file.
        recorded_ns = min((p.recorded_ns for p in self._pending), default=time.time_ns())
        # The workers take chunks from the first batch on: this thread hashes from the last.
        for pending in reversed(self._pending):
            if pending.job is not None:
                pending.job.hash_unstarted()
        for pending in self._pending:
            found, read = self._ingester._collect(pending)
            digests.update(found)
            fresh.extend(read)
            cached.update(pending.cached)
        self._pending = []
        return digests, CacheRefresh(fresh, cached, recorded_ns)


@dataclass(slots=True)
class _AssetPlan:
    """What one complete asset becomes: an unchanged version, or a new one (of a new asset or not)."""

    asset: ScannedAsset
    root_id: int
    relative: bytes
    aggregate: str
    members: list[tuple[int | None, str, int]]
    """(frame, digest, size) in frame order."""
    asset_id: int | None
    number: int
    version_id: int | None
    previous_version_id: int | None = None
    """The version this one supersedes: its lineage and likeness carry over."""


class Ingester:
    """One ingest run inside the caller's write transaction."""

    def __init__(
        self,
        session: Session,
        roots: RootMap,
        unit: UnitOfWork | None,
        hasher: Hasher,
        claim: ClaimSpec | None = None,
        parents: Sequence[ParentSpec] = (),
        progress: Progress | None = None,
        racy_window_ns: int = RACY_WINDOW_NS,
        detect: bool = True,
        intent: str | None = None,
        prior: Mapping[bytes, tuple[str, StatFingerprint, int]] | None = None,
        scene_lineage: bool = False,
    ) -> None:
        self.session = session
        self.scene_lineage = scene_lineage
        """The parents came from the render's scene, which says everything it reads: a new
        version carries none of its predecessor's `contains` edges."""
        self.prior = prior
        """When set, the only readings trusted (path -> (digest, stat, when it was read)): a
        finalize or verify trusts what this very run read, never a row of the ledger (which
        any writer could forge). Empty: every file is read."""
        self.trusted_files = 0
        """Files whose digests the ledger's stat cache vouched for (not read)."""
        self.claimed: set[int] = set()
        """Versions this run claimed, or whose files carried signals: their claims may now
        disagree."""
        self.holding_known: set[int] = set()
        """New versions holding bytes the ledger held before (a copy of generated material?)."""
        self._known_contents: set[int] = set()
        self.intent = intent
        """What this ingest declares (`seals.intent_digest`); None: use and write no seals."""
        self._seals: dict[bytes, Seal] = {}
        self._detections: dict[bytes, Detection | Literal[False]] = {}
        """What the workers read from files as they hashed them, until their versions are written."""
        self.racy_window_ns = racy_window_ns
        self.roots = roots
        self.unit = unit
        """The ingest's unit of work; None for a fingerprint pass that records only the stat cache."""
        self.hasher = hasher
        self.claim = claim
        self.parents = list(parents)
        self.progress = progress
        self.report = IngestReport(event_id=unit.event_id if unit is not None else 0)
        self.detect = detect
        """Read embedded provenance and perceptual fingerprints of new versions."""
        self._seen_files = 0
        self._seen_bytes = 0
        self._new_folders: tuple[bytes, ...] = ()
        """Folders (ending in `/`) the ledger held nothing under: nothing there to look up."""
        self._walked: tuple[bytes, ...] = ()
        """The folder targets (ending in `/`) whose walks may find sealed folders."""

    @property
    def _connection(self) -> Connection:
        # Core statements on the session's connection: same transaction, no ORM bookkeeping.
        return self.session.connection()

    def run(self, targets: Sequence[bytes]) -> IngestReport:
        with _cyclic_gc_paused():
            return self._run(targets)

    def _run(self, targets: Sequence[bytes]) -> IngestReport:
        started = time.perf_counter()
        connection = self._connection
        if connection.dialect.name == "sqlite":
            # The digest indexes take rows at random places: with SQLite's default 2 MiB page
            # cache their pages spill and are read again (versions went from 10 to 6.7 us a row).
            connection.exec_driver_sql(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
        # Batch N is written once batch N+1 is scanned and handed to the workers. Targets that
        # overlap could list a path in both, and N+1 must then see what N wrote: one at a time.
        overlap = targets_overlap(targets)
        sealed: Sealed | None = None
        if not overlap:
            self._new_folders = self._unknown_folders(targets)
            if self.intent is not None:
                self._walked = tuple(
                    os.path.abspath(t).rstrip(b"/") + b"/" for t in targets if os.path.isdir(t)
                )
                self._seals = load_seals(connection, self.roots, self._walked)
                sealed = self._is_sealed
        pending: tuple[_Batch, _Pending] | None = None
        for batch in batches(targets, sealed):
            if self._seals:
                batch = self._open_seals(batch)
            if overlap and pending is not None:
                self._finish(*pending)
                pending = None
            prepared = (batch, self._prepare(batch))
            if pending is not None:
                self._finish(*pending)
            pending = prepared
        if pending is not None:
            self._finish(*pending)
        self.report.seconds = time.perf_counter() - started
        return self.report

    def _is_sealed(self, folder: bytes, listing: str, newest_ns: int) -> bool:
        seal = self._seals.get(folder)
        return (
            seal is not None
            and seal.holds(listing, newest_ns, self.racy_window_ns)
            and seal.intent != COPY_INTENT  # (a sweep's: the folder was never ingested as it is)
            and (self.intent == PLAIN_INTENT or seal.intent == self.intent)
        )

    def _open_seals(self, batch: _Batch) -> _Batch:
        """The batch with what its sealed folders' seals recorded. A folder whose seal cannot
        be read here (packed on a machine of the other byte order) is scanned again, the usual
        way.

        Read a batch at a time, not with the seals: a million files' seals hold about 50 MB of
        packed assets, which the report needs only once it reaches their folders.
        """
        folders = [scan.folder for scan in batch.scans if scan.sealed and scan.folder is not None]
        if not folders:
            return batch
        found = load_sealed_assets(self._connection, self.roots, folders)
        # (A seal cannot vanish during the walk while writers are serialized; if one did,
        # reading its folder would still be right.)
        unreadable = {f for f in folders if f not in found or not found[f].readable}
        if not unreadable:
            batch.sealed = found
            return batch
        opened = _Batch(sealed=found)
        for scan in batch.scans:
            if scan.sealed and scan.folder in unreadable:
                top = next(t for t in self._walked if scan.folder.startswith(t))
                scan = scan_folder(scan.folder, top, skip=LEDGER_FOLDERS)[0]
            opened.add(scan)
        return opened

    # -- one batch -----------------------------------------------------------------------------

    def _ingest_batch(self, batch: _Batch) -> None:
        self._finish(batch, self._prepare(batch))

    def _prepare(self, batch: _Batch) -> _Pending:
        return self._start([asset for scan in batch.scans for asset in scan.assets])

    def fingerprint_stream(self, top: bytes | None = None) -> FingerprintStream:
        """A fingerprint pass over files given as they are found (see FingerprintStream); when
        they all lie under the folder `top`, a `top` the ledger holds nothing under (a fresh
        copy) is not looked up in the stat cache at all."""
        if top is not None:
            self._new_folders = self._unknown_folders([top])
        return FingerprintStream(self)

    def record_cache(self, refresh: CacheRefresh) -> None:
        """Record what a fingerprint pass had to read as locations (a fresher stat cache)."""
        fresh = refresh.fresh
        known = refresh.content_ids
        content_ids = self._content_ids(
            {r.digest: r.stat.size for r in fresh if r.digest and r.stat and r.digest not in known}
        )
        content_ids.update(known)
        self._record_locations(fresh, refresh.cached, refresh.recorded_ns, content_ids)

    def record_readings(self, readings: Mapping[bytes, tuple[str, StatFingerprint, int]]) -> None:
        """Record files read elsewhere (path -> (digest, stat, when the reading began): a farm's
        shards) as locations, as if this pass had read them."""
        cached = self._cached_locations(list(readings))
        by_time: dict[int, list[HashResult]] = {}
        for path, (digest, stat, recorded_ns) in readings.items():
            by_time.setdefault(recorded_ns, []).append(HashResult(path, digest, stat))
        for recorded_ns, fresh in sorted(by_time.items()):
            self.record_cache(CacheRefresh(fresh, cached, recorded_ns))

    def holds_nothing_under(self, folder: bytes) -> bool:
        """The ledger has no location or asset under `folder` (a fresh copy, say)."""
        return bool(self._unknown_folders([folder]))

    def _unknown_folders(self, targets: Sequence[bytes]) -> tuple[bytes, ...]:
        """The folder targets that no location or asset of the ledger lies under (a new delivery)."""
        unknown = []
        connection = self._connection
        for target in targets:
            folder = os.path.abspath(target).rstrip(b"/") + b"/"
            if not os.path.isdir(folder):
                continue
            root_id, prefix = self.roots.split_folder(folder)
            known = False
            for model, column in ((Location, Location.path), (Asset, Asset.pattern)):
                query = select(model.id).where(model.root_id == root_id)
                if prefix:
                    low, high = folder_bounds(prefix)
                    query = query.where(column >= low, column < high)
                known = known or connection.execute(query.limit(1)).first() is not None
            if not known:
                unknown.append(folder)
        return tuple(unknown)

    def _start(self, assets: list[ScannedAsset]) -> _Pending:
        """Decide from the stat cache what must be read, and start hashing it."""
        files = [member for asset in assets for member in asset.members]
        new = self._new_folders
        cached = self._cached_locations([f.path for f in files if not f.path.startswith(new)])
        trusted: dict[bytes, tuple[str, StatFingerprint]] = {}
        to_hash: list[tuple[bytes, int]] = []
        window = self.racy_window_ns
        prior = self.prior
        for scanned in files:
            entry: _Cached | None
            if prior is None:
                entry = cached.get(scanned.path)
            else:
                read = prior.get(scanned.path)
                entry = None if read is None else _Cached(0, *read)
            if (
                entry is not None
                and entry.digest is not None
                and is_cache_trusted(entry.stat, entry.recorded_ns, scanned.stat, window)
            ):
                trusted[scanned.path] = (entry.digest, scanned.stat)
            else:
                to_hash.append((scanned.path, scanned.stat.size))
        if prior is None:
            self.trusted_files += len(trusted)
        recorded_ns = time.time_ns()
        detect = self._to_detect(assets, to_hash) if self.detect and to_hash else frozenset()
        job = self.hasher.submit(to_hash, detect) if to_hash else None
        size = sum(f.stat.size for f in files)
        return _Pending(assets, size, cached, trusted, job, recorded_ns)

    def _to_detect(
        self, assets: list[ScannedAsset], to_hash: list[tuple[bytes, int]]
    ) -> frozenset[bytes]:
        """The files the workers also read the detectors on, right after hashing them: the first
        member of each asset, when it is read anyway and is of a type some detector reads."""
        hashed = {path for path, _ in to_hash}
        sidecars = {path for path in hashed if path.endswith(b".c2pa")}
        firsts = (asset.members[0].path for asset in assets if asset.members)
        return frozenset(p for p in firsts if p in hashed and worth_reading(p, sidecars))

    def _finish(self, batch: _Batch, pending: _Pending) -> None:
        """Wait for the batch's digests and write it."""
        for scan in batch.scans:
            self.report.skipped.extend(
                SkippedFile(s.path, s.reason.value, s.detail) for s in scan.skipped
            )
            if scan.sealed:
                assert scan.folder is not None
                self._report_sealed(scan.folder, batch.sealed[scan.folder])
        digests, fresh = self._collect(pending)
        plans = self._plan_assets(pending.assets, digests)
        wanted = {r.digest: r.stat.size for r in fresh if r.digest and r.stat}
        for plan in plans:
            if plan.version_id is None:
                wanted.update((digest, size) for _, digest, size in plan.members)
        content_ids = self._content_ids(wanted)
        self._record_locations(fresh, pending.cached, pending.recorded_ns, content_ids)
        self._record_links([link for scan in batch.scans for link in scan.links])
        self._record_assets(plans, content_ids)
        self._detections.clear()  # read for versions that turned out unchanged
        if self.intent is not None:
            self._reseal(batch, plans, pending.recorded_ns)
        self._seen_files += batch.files
        self._seen_bytes += batch.bytes
        if self.progress is not None:
            self.progress(self._seen_files, self._seen_bytes, self.report.bytes_read)

    def _report_sealed(self, folder: bytes, seal: SealedAssets) -> None:
        report = self.report
        before = len(report.assets)
        report.assets.add_packed(folder, seal.refs)  # `_open_seals` checked their byte order
        report.assets_unchanged += len(report.assets) - before
        report.files_unchanged += seal.file_count
        report.bytes_total += seal.byte_count
        if seal.holes != "{}":
            report.holes.update(json.loads(seal.holes))
        self._seen_files += seal.file_count
        self._seen_bytes += seal.byte_count

    def _reseal(self, batch: _Batch, plans: list[_AssetPlan], recorded_ns: int) -> None:
        """Seal the folders of the batch that were recorded whole; drop the seals of every
        other folder an asset of the batch lies in (a file or pattern target changed it)."""
        assert self.intent is not None
        planned = {id(plan.asset): plan for plan in plans}
        sealing: list[tuple[bytes, Seal, SealedAssets]] = []
        dropping: list[bytes] = []
        for scan in batch.scans:
            if scan.sealed:
                continue
            if scan.folder is None:
                dropping.extend(a.pattern.rpartition(b"/")[0] + b"/" for a in scan.assets)
                continue
            seal = self._seal_of(scan, planned, recorded_ns)
            if seal is None:
                dropping.append(scan.folder)
            else:
                sealing.append((scan.folder, *seal))
        connection = self._connection
        drop_folders(connection, self.roots, [*dropping, *(folder for folder, *_ in sealing)])
        write_seals(connection, self.roots, sealing)

    def _seal_of(
        self, scan: DirectoryScan, planned: dict[int, _AssetPlan], recorded_ns: int
    ) -> tuple[Seal, SealedAssets] | None:
        """The seal of a folder recorded whole, or None when it cannot have one."""
        assert scan.folder is not None and scan.listing is not None and self.intent is not None
        if scan.links or scan.skipped or scan.newest_ns >= recorded_ns - self.racy_window_ns:
            return None
        refs = []
        holes: dict[str, list[int]] = {}
        files = size = 0
        cut = len(scan.folder)
        for asset in scan.assets:
            plan = planned.get(id(asset))
            if plan is None:
                return None  # not recorded whole: a file could not be read
            assert plan.asset_id is not None and plan.version_id is not None
            refs.append(
                (
                    plan.asset_id,
                    plan.version_id,
                    plan.number,
                    asset.pattern[cut:],
                    asset.kind.value,
                    plan.aggregate,
                )
            )
            files += len(asset.members)
            size += sum(m.stat.size for m in asset.members)
            if asset.holes:
                holes[display_path(asset.pattern)] = asset.holes
        # The seal stands for the folder's assets: any other asset recorded there (a frame
        # once ingested by name, an old pattern) would be resolved differently file by file.
        root_id, prefix = self.roots.split_folder(scan.folder)
        if not prefix:
            return None  # the top of a root has no range of its own to check
        if not scan.folder.startswith(self._new_folders):
            # (A folder the ledger held nothing under before this run holds no other asset.)
            recorded = latest_in_folder(self._connection, root_id, prefix)
            made = sorted((name, version) for _, version, _, name, *_ in refs)
            if sorted(recorded.items()) != made:
                return None
        packed = pack_folder(refs)
        if packed is None:
            return None
        return (
            Seal(scan.listing, recorded_ns, self.intent),
            SealedAssets(files, size, packed, json.dumps(holes)),
        )

    def _collect(
        self, pending: _Pending
    ) -> tuple[dict[bytes, tuple[str, StatFingerprint]], list[HashResult]]:
        """Every file's digest and fingerprint, and the files that had to be read."""
        report = self.report
        digests = pending.trusted
        report.files_unchanged += len(digests)
        report.bytes_total += pending.size
        fresh: list[HashResult] = []
        if pending.job is None:
            return digests, fresh
        cached = pending.cached
        for result in pending.job.results():
            if result.digest is None or result.stat is None:
                reason = result.skip or SkipReason.UNREADABLE
                report.skipped.append(SkippedFile(result.path, reason.value, result.detail))
                continue
            report.files_read += 1
            report.bytes_read += result.stat.size
            entry = cached.get(result.path)
            if entry is None:
                report.files_new += 1
            elif entry.digest == result.digest:
                report.files_unchanged += 1
            else:
                report.files_changed += 1
            digests[result.path] = (result.digest, result.stat)
            fresh.append(result)
            if result.detection is not None:  # a Detection, or NOTHING_TO_READ
                self._detections[result.path] = result.detection
        return digests, fresh

    def _cached_locations(self, paths: list[bytes]) -> dict[bytes, _Cached]:
        """What the stat cache holds for each path: a folder of many paths in one range query
        (its rows come back in index order), the rest by name."""
        by_folder: dict[bytes, list[bytes]] = {}
        for path in paths:
            by_folder.setdefault(path.rpartition(b"/")[0], []).append(path)
        by_root: dict[int, dict[bytes, bytes]] = {}
        found: dict[bytes, _Cached] = {}
        connection = self._connection
        for folder, members in by_folder.items():
            root_id, prefix = self.roots.split_folder(folder)
            if len(members) < _RANGE_MIN_FILES or not prefix:
                named = by_root.setdefault(root_id, {})
                for path in members:
                    named[prefix + path[len(folder) + 1 :]] = path
                continue
            wanted = set(members)
            base = folder + b"/"
            cut = len(prefix)
            low, high = folder_bounds(prefix)
            in_folder = connection.execute(
                _LOCATIONS_IN_FOLDER, {"root": root_id, "low": low, "high": high}
            ).all()
            for relative, loc_id, digest, size, mtime, ctime, inode, device, recorded in in_folder:
                path = base + relative[cut:]
                if path in wanted:
                    found[path] = _Cached(
                        loc_id, digest, StatFingerprint(size, mtime, ctime, inode, device), recorded
                    )
        for root_id, relatives in by_root.items():
            rows = bulk.select_in(
                connection, _LOCATIONS, Location.path, list(relatives), {"root": root_id}
            )
            for relative, loc_id, digest, size, mtime, ctime, inode, device, recorded in rows:
                found[relatives[relative]] = _Cached(
                    loc_id, digest, StatFingerprint(size, mtime, ctime, inode, device), recorded
                )
        return found

    # -- writes --------------------------------------------------------------------------------

    def _content_ids(self, pairs: dict[str, int]) -> dict[str, int]:
        """Ids for (digest -> size), inserting the digests the ledger has not seen."""
        connection = self._connection
        found = bulk.select_in(connection, _CONTENTS, Content.digest, list(pairs))
        ids = dict(found)
        self._known_contents.update(ids.values())
        missing = [d for d in pairs if d not in ids]
        if missing:
            new_ids = bulk.allocate_ids(connection, bulk.table_of(Content), len(missing))
            bulk.insert_rows(
                connection,
                bulk.table_of(Content),
                ("id", "digest", "size"),
                [(i, d, pairs[d]) for i, d in zip(new_ids, missing, strict=True)],
            )
            ids.update(zip(missing, new_ids, strict=True))
        return ids

    def _record_locations(
        self,
        fresh: list[HashResult],
        cached: dict[bytes, _Cached],
        recorded_ns: int,
        content_ids: dict[str, int],
    ) -> None:
        rows: list[tuple[object, ...]] = []
        kind = LocationKind.FILE.value
        for result in fresh:
            digest, stat = result.digest, result.stat
            assert digest is not None and stat is not None
            entry = cached.get(result.path)
            root_id, relative = self.roots.split(result.path)
            rows.append(
                (
                    entry.location_id if entry is not None else None,
                    root_id,
                    relative,
                    kind,
                    content_ids[digest],
                    None,
                    *stat,
                    recorded_ns,
                )
            )
        cache.write_locations(self._connection, rows)

    def _record_links(self, links: list[ScannedLink]) -> None:
        if not links:
            return
        self.report.links += len(links)
        self.report.escaping_links.extend(link.path for link in links if link.escapes)
        recorded_ns = time.time_ns()
        split = [self.roots.split(link.path) for link in links]
        known: dict[tuple[int, bytes], int] = {}
        for chunk in chunked(split):
            for root_id, relative, location_id in self._connection.execute(
                select(Location.root_id, Location.path, Location.id).where(
                    tuple_(Location.root_id, Location.path).in_(chunk)
                )
            ):
                known[(root_id, relative)] = location_id
        rows: list[tuple[object, ...]] = [
            (
                known.get((root_id, relative)),
                root_id,
                relative,
                LocationKind.SYMLINK.value,
                None,
                link.target,
                *link.stat,
                recorded_ns,
            )
            for link, (root_id, relative) in zip(links, split, strict=True)
        ]
        cache.write_locations(self._connection, rows)

    def _plan_assets(
        self, assets: list[ScannedAsset], digests: dict[bytes, tuple[str, StatFingerprint]]
    ) -> list[_AssetPlan]:
        """The complete assets of a batch, each with its aggregate and what the ledger holds."""
        complete: list[tuple[ScannedAsset, list[tuple[int | None, str, int]], int, bytes]] = []
        split = self.roots.split
        for asset in assets:
            members: list[tuple[int | None, str, int]] = []
            for member in asset.members:
                found = digests.get(member.path)
                if found is None:
                    # Only whole assets are recorded: a sequence with an unreadable frame
                    # waits until every frame can be read.
                    break
                members.append((member.frame, found[0], found[1].size))
            else:
                complete.append((asset, members, *split(asset.pattern)))
        new = self._new_folders
        existing = self._existing_assets(
            [(root, relative) for a, _, root, relative in complete if not a.pattern.startswith(new)]
        )
        plans = []
        for asset, members, root_id, relative in complete:
            aggregate = aggregate_digest((frame, digest) for frame, digest, _ in members)
            current = existing.get((root_id, relative))
            if current is None:
                plan = _AssetPlan(asset, root_id, relative, aggregate, members, None, 1, None)
            elif current[2] == aggregate:
                plan = _AssetPlan(
                    asset, root_id, relative, aggregate, members, current[0], current[3], current[1]
                )
            else:
                plan = _AssetPlan(
                    asset,
                    root_id,
                    relative,
                    aggregate,
                    members,
                    current[0],
                    current[3] + 1,
                    None,
                    previous_version_id=current[1],
                )
            plans.append(plan)
        return plans

    def _record_assets(self, plans: list[_AssetPlan], content_ids: dict[str, int]) -> None:
        if not plans:
            return
        unit = self.unit
        if unit is None:
            raise RuntimeError("assets are recorded only inside an ingest's unit of work")
        connection = self._connection
        report = self.report
        now = bulk.driver_value(connection, bulk.table_of(Asset).c.created_at, unit.at)
        # New assets, then the new versions of new and changed ones: one statement each, with
        # ids taken up front so that nothing needs to be read back.
        created = [p for p in plans if p.asset_id is None]
        asset_ids = bulk.allocate_ids(connection, bulk.table_of(Asset), len(created))
        for plan, asset_id in zip(created, asset_ids, strict=True):
            plan.asset_id = asset_id
        bulk.insert_rows(
            connection,
            bulk.table_of(Asset),
            ("id", "root_id", "pattern", "kind", "latest_version", "created_at"),
            [(p.asset_id, p.root_id, p.relative, p.asset.kind.value, 1, now) for p in created],
        )
        changed = [p for p in plans if p.version_id is None and p.number > 1]
        bulk.update_rows(
            connection,
            bulk.table_of(Asset),
            "id",
            ("latest_version",),
            [(p.asset_id, p.number) for p in changed],
        )
        versioned = [p for p in plans if p.version_id is None]
        version_ids = bulk.allocate_ids(connection, bulk.table_of(AssetVersion), len(versioned))
        for plan, version_id in zip(versioned, version_ids, strict=True):
            plan.version_id = version_id
        bulk.insert_rows(
            connection,
            bulk.table_of(AssetVersion),
            (
                "id",
                "asset_id",
                "number",
                "digest",
                "member_count",
                "total_size",
                "created_at",
                "event_id",
            ),
            [
                (
                    p.version_id,
                    p.asset_id,
                    p.number,
                    p.aggregate,
                    len(p.members),
                    sum(size for _, _, size in p.members),
                    now,
                    unit.event_id,
                )
                for p in versioned
            ],
        )
        bulk.insert_rows(
            connection,
            bulk.table_of(Member),
            ("version_id", "position", "frame", "content_id"),
            [
                (p.version_id, position, frame, content_ids[digest])
                for p in versioned
                for position, (frame, digest, _) in enumerate(p.members)
            ],
        )
        self._commit_to(versioned)
        touched: list[int] = []
        for plan in plans:
            assert plan.asset_id is not None and plan.version_id is not None
            touched.append(plan.version_id)
        known = self._known_contents
        self.holding_known.update(
            p.version_id
            for p in versioned
            if p.version_id is not None and any(content_ids[d] in known for _, d, _ in p.members)
        )

        carry_over(
            self.session,
            [
                (p.previous_version_id, p.version_id)
                for p in changed
                if p.previous_version_id is not None and p.version_id is not None
            ],
            unit,
            stated=[p.version_id for p in self.parents],
            contains=not self.scene_lineage,
        )
        report.assets_new += len(created)
        report.assets_changed += len(changed)
        report.assets_unchanged += len(plans) - len(versioned)
        for plan in plans:
            asset = plan.asset
            assert plan.asset_id is not None and plan.version_id is not None
            holes = asset.holes
            if holes:
                report.holes[display_path(asset.pattern)] = holes
            report.assets.add(
                plan.asset_id,
                plan.version_id,
                plan.number,
                asset.pattern,
                asset.kind.value,
                plan.aggregate,
            )
        if self.claim is not None:
            report.claims_added += len(
                add_claims(self.session, touched, self.claim, unit, skip_repeats=True)
            )
            self.claimed.update(touched)
        if self.parents:
            report.edges_added += add_edges(self.session, touched, self.parents, unit)
        if self.detect:
            sidecars = {
                member.path
                for plan in plans
                if plan.asset.pattern.endswith(b".c2pa")
                for member in plan.asset.members
            }
            self._record_detections(versioned, content_ids, sidecars)

    def _record_detections(
        self, versioned: list[_AssetPlan], content_ids: dict[str, int], sidecars: set[bytes]
    ) -> None:
        """Read what each new version's files say about themselves, and record it.

        A sequence is read at its first frame: generators and signers mark every frame alike,
        and decoding thousands of frames for one fingerprint would cost more than the hashing.
        """
        if not versioned:
            return
        # Loaded on first use: the readers bring numpy, Pillow and the c2pa library, which a
        # command that reads no file (show, history, tag) should not wait for.
        versioned = [p for p in versioned if worth_reading(p.asset.members[0].path, sidecars)]
        firsts = [plan.asset.members[0].path for plan in versioned]
        # Read by the workers as they hashed; a version made of files the stat cache vouched
        # for (fingerprinted by an earlier sweep) is read here.
        read = {path: self._detections.pop(path) for path in firsts if path in self._detections}
        missing = [path for path in firsts if path not in read and could_carry(path)]
        if missing:
            from provenance.detect.files import detect_files  # numpy, Pillow, c2pa: first use

            read.update(zip(missing, detect_files(missing, self.hasher.workers), strict=True))
        versioned = [plan for plan, path in zip(versioned, firsts, strict=True) if read.get(path)]
        if not versioned:
            return
        from provenance.store.perceptual import record_prints  # numpy: on first use

        detections = [
            entry for plan in versioned if (entry := read[plan.asset.members[0].path]) is not False
        ]
        printed = [
            (plan, content_ids[plan.members[0][1]], detection)
            for plan, detection in zip(versioned, detections, strict=True)
            if detection.prints is not None
        ]
        record_prints(self.session, [(c, d.prints.stored) for _, c, d in printed if d.prints])
        matches = find_near_ai(
            self.session,
            self.roots,
            {
                c: PrintedFile(d.path, d.prints)
                for _, c, d in printed
                if d.prints and d.prints.stored
            },
        )
        self.report.unprinted.extend(
            (plan.asset.pattern, problem)
            for plan, _, detection in printed
            if (problem := detection.unprintable) is not None
        )
        found: list[tuple[int, Signal]] = []
        for plan, detection in zip(versioned, detections, strict=True):
            assert plan.version_id is not None
            found.extend((plan.version_id, signal) for signal in detection.signals)
            near = [
                match
                for match in matches.get(content_ids[plan.members[0][1]], [])
                if match.version_id != plan.version_id
            ]
            if near:
                found.append((plan.version_id, near_ai_signal(near)))
        assert self.unit is not None
        claimed = record_signals(self.session, found, self.unit.event_id, self.unit.at)
        self.claimed.update(version_id for version_id, _ in found)
        self.report.claims_added += len(claimed)
        patterns = {plan.version_id: plan.asset.pattern for plan in versioned}
        self.report.signals.extend((patterns[version_id], signal) for version_id, signal in found)

    def _commit_to(self, versioned: list[_AssetPlan]) -> None:
        """Hand the ingest event the canonical rows of the versions and members just written
        (it would otherwise read them back: a second of a 100,000-file ingest), a batch at a
        time: past INLINE_ROWS versions, only their count and digest are kept."""
        assert self.unit is not None
        roots = self.roots
        root_text = {
            root_id: path_text(roots.name_of(root_id)) for root_id in {p.root_id for p in versioned}
        }
        unit = self.unit
        versions = unit.written.get("asset_versions")
        if versions is None:
            versions = unit.written["asset_versions"] = EventRows("asset_versions")
        members = unit.lines.setdefault("members", LineDigests())
        event_id = unit.event_id
        for plan in versioned:
            versions.add(
                (
                    plan.version_id,
                    root_text[plan.root_id],
                    path_text(plan.relative),
                    plan.asset.kind.value,
                    plan.number,
                    plan.aggregate,
                    len(plan.members),
                    sum(size for _, _, size in plan.members),
                )
            )
            for position, (frame, digest, size) in enumerate(plan.members):
                members.add(event_id, (plan.version_id, position, frame, digest, size))

    def _existing_assets(
        self, patterns: Iterable[tuple[int, bytes]]
    ) -> dict[tuple[int, bytes], tuple[int, int, str, int]]:
        """(root, pattern) -> (asset id, latest version id, its digest, its number)."""
        by_root: dict[int, list[bytes]] = {}
        for root_id, relative in patterns:
            by_root.setdefault(root_id, []).append(relative)
        found: dict[tuple[int, bytes], tuple[int, int, str, int]] = {}
        connection = self._connection
        for root_id, relatives in by_root.items():
            for pattern, asset_id, version_id, digest, number in bulk.select_in(
                connection, _LATEST_VERSIONS, Asset.pattern, relatives, {"root": root_id}
            ):
                found[(root_id, pattern)] = (asset_id, version_id, digest, number)
        return found


# ---------------------------------------------------------------------------------------------
# Claims and edges, shared by ingest, tag and link


def add_claims(
    session: Session,
    version_ids: Sequence[int],
    claim: ClaimSpec,
    unit: UnitOfWork,
    skip_repeats: bool,
) -> list[int]:
    """Add `claim` to each version (dropping the seals of their folders). Returns the versions
    that got it.

    With `skip_repeats`, a version whose newest claim already says exactly this gets none:
    ingesting the same tree twice adds no rows.
    """
    wanted = (
        claim.origin.value,
        claim.tool_id,
        claim.tool_version,
        claim.claimed_by,
        claim.evidence.value,
        claim.note,
        claim.resolves,
    )
    targets = list(version_ids)
    if skip_repeats:
        latest = _latest_claims(session, targets, claim.claimed_by)
        targets = []
        for version_id in version_ids:
            if latest.get(version_id) == wanted:
                continue
            latest[version_id] = wanted  # as it is once this claim is added
            targets.append(version_id)
    if not targets:
        return []
    session.connection().execute(
        insert(Claim),
        [
            {
                "version_id": version_id,
                "origin": claim.origin.value,
                "tool_id": claim.tool_id,
                "tool_version": claim.tool_version,
                "claimed_by": claim.claimed_by,
                "evidence": claim.evidence.value,
                "detail": claim.detail,
                "note": claim.note,
                "resolves": claim.resolves,
                "created_at": unit.at,
                "event_id": unit.event_id,
            }
            for version_id in targets
        ],
    )
    drop_for_versions(session, targets)
    return targets


def _latest_claims(
    session: Session, version_ids: Sequence[int], claimant: str
) -> dict[int, tuple[Any, ...]]:
    """Each version's newest claim declared by `claimant`, as the tuple `add_claims` compares.

    The same claimant's: a publish hook repeating its declaration after a TD's resolving claim
    says nothing new, and must not reopen what the TD settled (a changed declaration does)."""
    latest: dict[int, tuple[Any, ...]] = {}
    connection = session.connection()
    for chunk in chunked(sorted(set(version_ids))):
        # Declared claims only: the signals a file carried are claims too, and must not make
        # the same declaration look new on the next ingest.
        newest = (
            select(func.max(Claim.id))
            .where(
                Claim.version_id.in_(chunk),
                Claim.evidence == Evidence.DECLARED.value,
                Claim.claimed_by == claimant,
            )
            .group_by(Claim.version_id)
        )
        for version_id, *facts in connection.execute(
            select(
                Claim.version_id,
                Claim.origin,
                Claim.tool_id,
                Claim.tool_version,
                Claim.claimed_by,
                Claim.evidence,
                Claim.note,
                Claim.resolves,
            ).where(Claim.id.in_(newest))
        ):
            latest[version_id] = tuple(facts)
    return latest


def add_edges(
    session: Session, child_ids: Sequence[int], parents: Sequence[ParentSpec], unit: UnitOfWork
) -> int:
    """Link each child to each parent, refusing cycles; an edge that exists already is kept.

    A few statements whatever the number of parents (a render read from a scene has hundreds):
    one walk up from all the parents for the cycle check, one look-up of the children's edges,
    one insert.
    """
    wanted = list(dict.fromkeys((p.version_id, p.kind.value) for p in parents))
    if not wanted or not child_ids:
        return 0
    parent_ids = {version_id for version_id, _ in wanted}
    above = ancestors(session, parent_ids) | parent_ids
    if any(child_id in above for child_id in child_ids):
        raise LineageCycle(
            "That link would make an asset its own ancestor (a lineage cycle). "
            "Check which asset was made from which; nothing was recorded."
        )
    children = list(dict.fromkeys(child_ids))
    existing: set[tuple[int, int, str]] = set()
    for chunk in chunked(children):
        existing.update(
            (child, parent, kind)
            for child, parent, kind in session.execute(
                select(LineageEdge.child_id, LineageEdge.parent_id, LineageEdge.kind).where(
                    LineageEdge.child_id.in_(chunk)
                )
            )
        )
    new = [
        (child_id, parent_id, kind)
        for child_id in children
        for parent_id, kind in wanted
        if (child_id, parent_id, kind) not in existing
    ]
    if new:
        session.execute(
            insert(LineageEdge),
            [
                {
                    "child_id": child_id,
                    "parent_id": parent_id,
                    "kind": kind,
                    "created_at": unit.at,
                    "event_id": unit.event_id,
                }
                for child_id, parent_id, kind in new
            ],
        )
    drop_for_versions(session, list(dict.fromkeys(child_id for child_id, _, _ in new)))
    return len(new)


def carry_over(
    session: Session,
    pairs: Sequence[tuple[int, int]],
    unit: UnitOfWork,
    stated: Sequence[int] = (),
    contains: bool = True,
) -> None:
    """A new version of an asset inherits what it was made from and whose likeness it uses.

    New bytes at the same name are almost always a re-render of the same thing: dropping the
    old version's `contains` edges would let a comp that still holds a generated sky pass as
    plain human work. A re-render made after a parent changed cannot be assumed to use the
    parent's old bytes: each carried edge points at its parent asset's latest version now.
    What the ingest states wins: no edge is carried to an asset one of the `stated` parent
    versions belongs to (the user or the scene named the version), and none of the `contains`
    edges when `contains` is false (a scene says everything the render reads). Claims and
    approvals do not carry over: they are about exact bytes.
    """
    if not pairs:
        return
    successor = dict(pairs)
    connection = session.connection()
    stated_assets = set(_asset_ids(connection, stated).values())
    for chunk in chunked(list(successor)):
        edges = [
            (child, parent, kind)
            for child, parent, kind in connection.execute(
                select(LineageEdge.child_id, LineageEdge.parent_id, LineageEdge.kind).where(
                    LineageEdge.child_id.in_(chunk)
                )
            )
            if contains or kind != EdgeKind.CONTAINS.value
        ]
        parents = sorted({parent for _, parent, _ in edges})
        assets = _asset_ids(connection, parents)
        latest: dict[int, int] = dict(
            bulk.select_in(
                connection,
                select(AssetVersion.id, _LATEST_OF_ASSET.scalar_subquery()),
                AssetVersion.id,
                parents,
            )
        )
        carried = {
            (successor[child], latest[parent], kind)
            for child, parent, kind in edges
            if assets[parent] not in stated_assets
        }
        for child, parent, kind in sorted(carried):
            session.execute(
                insert(LineageEdge).values(
                    child_id=child,
                    parent_id=parent,
                    kind=kind,
                    created_at=unit.at,
                    event_id=unit.event_id,
                )
            )
        marks = session.execute(
            select(Likeness.version_id, Likeness.performer).where(Likeness.version_id.in_(chunk))
        ).all()
        add_likeness_pairs(session, [(successor[v], p) for v, p in marks], unit)


def _asset_ids(connection: Connection, version_ids: Sequence[int]) -> dict[int, int]:
    return dict(
        bulk.select_in(
            connection,
            select(AssetVersion.id, AssetVersion.asset_id),
            AssetVersion.id,
            sorted(set(version_ids)),
        )
    )


_latest_version = bulk.table_of(AssetVersion).alias("latest_version")
_LATEST_OF_ASSET = (
    select(_latest_version.c.id)
    .join(Asset, Asset.id == _latest_version.c.asset_id)
    .where(
        _latest_version.c.asset_id == AssetVersion.asset_id,
        _latest_version.c.number == Asset.latest_version,
    )
)


def add_likeness_pairs(
    session: Session, pairs: Sequence[tuple[int, str]], unit: UnitOfWork
) -> None:
    for version_id, performer in pairs:
        add_likeness(session, [version_id], [performer], unit)


def add_likeness(
    session: Session, version_ids: Sequence[int], performers: Sequence[str], unit: UnitOfWork
) -> None:
    """Mark versions as using these performers' likeness (kept once per version and performer)."""
    marked: list[int] = []
    for performer in dict.fromkeys(p.strip() for p in performers if p.strip()):
        key = performer.casefold()
        for version_id in dict.fromkeys(version_ids):
            exists = session.execute(
                select(Likeness.version_id).where(
                    Likeness.version_id == version_id, Likeness.performer_key == key
                )
            ).first()
            if exists is None:
                session.execute(
                    insert(Likeness).values(
                        version_id=version_id,
                        performer_key=key,
                        performer=performer,
                        event_id=unit.event_id,
                    )
                )
                marked.append(version_id)
    drop_for_versions(session, marked)

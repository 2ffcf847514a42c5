"""The stat cache: when a file need not be read again, and what a pass that read files leaves
for the next one.

As DVC keeps its `state` apart from hashing, this module decides and `store.locations` holds the
rows. A file is trusted, its digest taken from the ledger unread, only when its stat fingerprint
has not moved since it was recorded and it was last changed comfortably before that (the racy
rule, `fingerprint.is_cache_trusted`); every other file goes to the hashing workers. A finalize
or a verify hands a `prior` (what that very run read itself) and then trusts no row of the
ledger. Ingest, sweep, finalize and a scene's lineage all fingerprint through `StatCache`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from provenance.fingerprint import Hasher, HashJob, HashResult, is_cache_trusted
from provenance.records import IngestReport, SkippedFile
from provenance.scan import (
    RACY_WINDOW_NS,
    AssetKind,
    ScannedAsset,
    ScannedFile,
    SkipReason,
    StatFingerprint,
)
from provenance.store.locations import (
    Cached,
    cached_locations,
    content_ids,
    holds_anything_under,
    write_files,
)
from provenance.store.queries import RootMap
from provenance.store.seals import CopiedFolder

if TYPE_CHECKING:
    from provenance.detect.files import Detection

__all__ = [
    "STREAM_BATCH",
    "CacheRefresh",
    "FingerprintStream",
    "Pending",
    "StatCache",
    "ToDetect",
    "record_readings",
    "record_refresh",
]


# A fingerprint pass (a sweep) hands the workers files this many at a time as the walk finds them.
STREAM_BATCH = 4096

ToDetect = Callable[[list[ScannedAsset], list[tuple[bytes, int]]], frozenset[bytes]]
"""Given a batch's assets and the (path, size) of the files to be read, the files the workers
also read the detectors on."""


@dataclass
class Pending:
    """Files being hashed: scanned, looked up in the stat cache, not yet collected."""

    assets: list[ScannedAsset]
    size: int
    cached: dict[bytes, Cached]
    trusted: dict[bytes, tuple[str, StatFingerprint]]
    """Files the stat cache vouches for: path -> (digest, stat)."""
    job: HashJob | None
    recorded_ns: int
    """Taken before any file of the batch is read, so that the racy rule errs on the safe side."""


@dataclass(frozen=True)
class CacheRefresh:
    """Files a fingerprint pass had to read, to be recorded in the stat cache when allowed."""

    fresh: list[HashResult]
    cached: dict[bytes, Cached]
    recorded_ns: int
    content_ids: dict[str, int] = field(default_factory=dict)
    """Ids of contents the check already looked up (digest -> id): not looked up again."""
    copied: list[CopiedFolder] = field(default_factory=list)
    """Delivered folders of exact copies, to be sealed as such (`seals.write_copy_seals`)."""


class StatCache:
    """Fingerprints files inside the caller's transaction: what the stat cache vouches for is
    taken from it, the rest is handed to the hashing workers (`start`) and collected
    (`collect`), counted into `report`."""

    def __init__(
        self,
        session: Session,
        roots: RootMap,
        hasher: Hasher,
        racy_window_ns: int = RACY_WINDOW_NS,
        prior: Mapping[bytes, tuple[str, StatFingerprint, int]] | None = None,
        report: IngestReport | None = None,
        to_detect: ToDetect | None = None,
    ) -> None:
        self.session = session
        self.roots = roots
        self.hasher = hasher
        self.racy_window_ns = racy_window_ns
        self.prior = prior
        """When set, the only readings trusted (path -> (digest, stat, when it was read)): a
        finalize or verify trusts what this very run read, never a row of the ledger (which
        any writer could forge). Empty: every file is read."""
        self.report = report if report is not None else IngestReport()
        """Where the files trusted, read, new, changed and skipped are counted."""
        self.to_detect = to_detect
        self.trusted_files = 0
        """Files whose digests the ledger's stat cache vouched for (not read)."""
        self.detections: dict[bytes, Detection | Literal[False]] = {}
        """What the workers read from files (`to_detect`) as they hashed them, until taken."""
        self.new_folders: tuple[bytes, ...] = ()
        """Folders (ending in `/`) the ledger held nothing under: nothing there to look up."""

    @property
    def _connection(self) -> Connection:
        # Core statements on the session's connection: same transaction, no ORM bookkeeping.
        return self.session.connection()

    def unknown_folders(self, targets: Sequence[bytes]) -> tuple[bytes, ...]:
        """The folder targets that no location or asset of the ledger lies under (a new delivery)."""
        unknown = []
        connection = self._connection
        for target in targets:
            folder = os.path.abspath(target).rstrip(b"/") + b"/"
            if not os.path.isdir(folder):
                continue
            if not holds_anything_under(connection, self.roots, folder):
                unknown.append(folder)
        return tuple(unknown)

    def holds_nothing_under(self, folder: bytes) -> bool:
        """The ledger has no location or asset under `folder` (a fresh copy, say)."""
        return bool(self.unknown_folders([folder]))

    def stream(self, top: bytes | None = None) -> FingerprintStream:
        """A fingerprint pass over files given as they are found (see FingerprintStream); when
        they all lie under the folder `top`, a `top` the ledger holds nothing under (a fresh
        copy) is not looked up in the stat cache at all."""
        if top is not None:
            self.new_folders = self.unknown_folders([top])
        return FingerprintStream(self)

    def start(self, assets: list[ScannedAsset]) -> Pending:
        """Decide from the stat cache what must be read, and start hashing it."""
        files = [member for asset in assets for member in asset.members]
        new = self.new_folders
        cached = cached_locations(
            self._connection, self.roots, [f.path for f in files if not f.path.startswith(new)]
        )
        trusted: dict[bytes, tuple[str, StatFingerprint]] = {}
        to_hash: list[tuple[bytes, int]] = []
        window = self.racy_window_ns
        prior = self.prior
        for scanned in files:
            entry: Cached | None
            if prior is None:
                entry = cached.get(scanned.path)
            else:
                read = prior.get(scanned.path)
                entry = None if read is None else Cached(0, *read)
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
        to_detect = self.to_detect
        detect = to_detect(assets, to_hash) if to_detect is not None and to_hash else frozenset()
        job = self.hasher.submit(to_hash, detect) if to_hash else None
        size = sum(f.stat.size for f in files)
        return Pending(assets, size, cached, trusted, job, recorded_ns)

    def collect(
        self, pending: Pending
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
                self.detections[result.path] = result.detection
        return digests, fresh


class FingerprintStream:
    """A fingerprint pass that starts hashing while the files are still being found.

    `take` is handed the growing list of files a walk has found so far; every STREAM_BATCH new
    files are looked up in the stat cache and the ones it cannot vouch for go to the hashing
    workers at once, so the workers hash the first folders while the walk lists the rest. Hand
    whole folders at a time: the stat cache reads a folder with one range query.
    """

    def __init__(self, cache: StatCache) -> None:
        self._cache = cache
        self._taken = 0
        self._pending: list[Pending] = []

    def take(self, files: Sequence[ScannedFile], final: bool = False) -> None:
        """Start on the files of `files` not taken yet, once there are enough of them (or all
        of them when `final`)."""
        if len(files) - self._taken < (1 if final else STREAM_BATCH):
            return
        new = list(files[self._taken :])
        self._taken = len(files)
        self._pending.append(self._cache.start([ScannedAsset(AssetKind.FILE, b"", new)]))

    def finish(self) -> tuple[dict[bytes, tuple[str, StatFingerprint]], CacheRefresh]:
        """Every file's digest and fingerprint, and what had to be read (for `record_refresh`)."""
        digests: dict[bytes, tuple[str, StatFingerprint]] = {}
        fresh: list[HashResult] = []
        cached: dict[bytes, Cached] = {}
        # The earliest start errs on the safe side of the racy rule for every file.
        recorded_ns = min((p.recorded_ns for p in self._pending), default=time.time_ns())
        # The workers take chunks from the first batch on: this thread hashes from the last.
        for pending in reversed(self._pending):
            if pending.job is not None:
                pending.job.hash_unstarted()
        for pending in self._pending:
            found, read = self._cache.collect(pending)
            digests.update(found)
            fresh.extend(read)
            cached.update(pending.cached)
        self._pending = []
        return digests, CacheRefresh(fresh, cached, recorded_ns)


def record_refresh(session: Session, roots: RootMap, refresh: CacheRefresh) -> None:
    """Record what a fingerprint pass had to read as locations (a fresher stat cache)."""
    connection = session.connection()
    fresh = refresh.fresh
    known = refresh.content_ids
    ids = content_ids(
        connection,
        {r.digest: r.stat.size for r in fresh if r.digest and r.stat and r.digest not in known},
    )
    ids.update(known)
    write_files(connection, roots, fresh, refresh.cached, refresh.recorded_ns, ids)


def record_readings(
    session: Session, roots: RootMap, readings: Mapping[bytes, tuple[str, StatFingerprint, int]]
) -> None:
    """Record files read elsewhere (path -> (digest, stat, when the reading began): a farm's
    shards) as locations, as if a pass here had read them."""
    cached = cached_locations(session.connection(), roots, list(readings))
    by_time: dict[int, list[HashResult]] = {}
    for path, (digest, stat, recorded_ns) in readings.items():
        by_time.setdefault(recorded_ns, []).append(HashResult(path, digest, stat))
    for recorded_ns, fresh in sorted(by_time.items()):
        record_refresh(session, roots, CacheRefresh(fresh, cached, recorded_ns))

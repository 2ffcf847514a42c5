"""A folder delivery the ledger has never seen, read by the hashing workers a folder at a time.

Nothing under a fresh copy of a delivery is in the stat cache: every file must be read. Walked
here, this process would list, stat and group every file, then resolve each one, while the
workers only hash; on two cores it was the bottleneck (a cold sweep of 100,000 files spent
1.4 s in the walk alone). Here this process lists only folders. Each worker lists, stats,
groups and hashes whole folders, and sends back each asset's frames, digests and aggregate
digest. A folder all of whose assets are exact copies of recorded assets' latest versions is
then vouched for as a whole, as a sealed folder is (and sealed as copies by the cache refresh);
any other folder becomes the usual per-file delivery, with the digests already read.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

from sqlalchemy.orm import Session

from provenance.deliveries import Delivery, DeliveryKind
from provenance.fingerprint import (
    CHUNKS_PER_WORKER,
    PARALLEL_MIN_FILES,
    THREADED_MIN_AVERAGE,
    HashedFolder,
    Hasher,
    HashResult,
    hash_folders,
)
from provenance.records import SkippedFile
from provenance.scan import (
    AssetKind,
    DirectoryScan,
    ScannedAsset,
    ScannedFile,
    SkipReason,
    StatFingerprint,
    holes_of,
)
from provenance.store.resolving import copied_versions, highest_version_id
from provenance.store.seals import CopiedFolder, SealedFiles

__all__ = ["read_unseen"]


@dataclass
class UnseenDelivery:
    """A never-seen folder delivery, read: what `finalizer` needs of any delivery it reads."""

    delivery: Delivery
    """The folders that were not copies, file by file."""
    digests: dict[bytes, tuple[str, StatFingerprint]] = field(default_factory=dict)
    """Of the files of `delivery`."""
    fresh: list[HashResult] = field(default_factory=list)
    """The files of `delivery` that were read (for the stat cache)."""
    copies: SealedFiles = field(default_factory=SealedFiles)
    """The files of the folders of copies, vouched for by asset."""
    copied: list[CopiedFolder] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    files_read: int = 0
    bytes_read: int = 0
    bytes_total: int = 0
    recorded_ns: int = 0


def read_unseen(
    session: Session,
    top: bytes,
    hasher: Hasher,
    racy_window_ns: int,
    progress: Callable[[int, int, int], None] | None = None,
) -> UnseenDelivery:
    """Read the folder delivery `top` (absolute), which the ledger holds nothing under;
    `progress(files, bytes, bytes read)` is called as each chunk of folders is read."""
    folders = _folders_under(top)
    chunks = _chunks(folders, hasher.workers)
    # Read before the copies are looked up: a version recorded meanwhile is above it, and so
    # checked by every sweep that reads the seals (writers are serialized: ids are in order).
    as_of = highest_version_id(session)
    # Taken before any file is read: the racy rule errs on the safe side.
    recorded_ns = time.time_ns()
    job = hasher.call(
        functools.partial(hash_folders, top=top), chunks, large_files=_large_files(folders)
    )
    read = UnseenDelivery(Delivery(DeliveryKind.FOLDER, top, top), recorded_ns=recorded_ns)
    settled_before = recorded_ns - racy_window_ns
    files = size = 0
    # Each chunk of folders is settled as it comes back (its copies looked up while the workers
    # read the next ones), in the order of the walk.
    for done in job.each():
        candidates = [
            f for f in done if _may_be_copies(f, settled_before, read.delivery.manifest_at)
        ]
        copies = copied_versions(
            session.connection(),
            {a.aggregate for f in candidates for a in f.assets if a.aggregate},
        )
        chosen = {id(f) for f in candidates if _all_copied(f, copies)}
        for folder in done:
            if id(folder) in chosen:
                _add_copies(read, folder, copies, as_of)
            else:
                _add_file_by_file(read, folder)
        if progress is not None:
            files += sum(len(folder.digests) for folder in done)
            size += sum(sum(folder.numbers[0::5]) for folder in done)
            progress(files, size, size)
    return read


def _folders_under(top: bytes) -> list[tuple[bytes, int]]:
    """(folder, entries that are not folders) of every folder of the tree, in the order a walk
    yields them (`scan.walk_folder`): depth first, in name order, not following links."""
    found: list[tuple[bytes, int]] = []
    stack = [top]
    while stack:
        folder = stack.pop()
        subfolders: list[bytes] = []
        others = 0
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    try:
                        is_folder = entry.is_dir(follow_symlinks=False)
                    except OSError:
                        is_folder = False
                    if not is_folder:
                        others += 1
                    else:  # (every folder: hidden ones and `.provenance` ship too)
                        subfolders.append(entry.path)
        except OSError:
            pass  # the worker's listing reports it
        found.append((folder, others))
        stack.extend(sorted(subfolders, reverse=True))
    return found


SIZE_SAMPLE = 32
"""Files whose size is looked at to tell frames from small files (`_large_files`)."""


def _large_files(folders: list[tuple[bytes, int]]) -> bool:
    """Are the files of the tree frame-sized (THREADED_MIN_AVERAGE on average), by the first
    file of each of its first folders? Reading those releases the GIL: threads, which start
    at once, read them as fast as worker processes would."""
    sizes: list[int] = []
    for folder, count in folders:
        if len(sizes) >= SIZE_SAMPLE:
            break
        if not count:
            continue
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    if entry.is_file(follow_symlinks=False):
                        sizes.append(entry.stat(follow_symlinks=False).st_size)
                        break
        except OSError:
            continue
    return bool(sizes) and sum(sizes) >= THREADED_MIN_AVERAGE * len(sizes)


def _chunks(folders: list[tuple[bytes, int]], workers: int) -> list[list[bytes]]:
    """Whole folders, about the same number of files a chunk, enough chunks to balance (one
    chunk, read here, when there are too few files to be worth starting workers)."""
    total = sum(count for _, count in folders)
    if total < PARALLEL_MIN_FILES:
        return [[folder for folder, _ in folders]]
    limit = max(1, total // (workers * CHUNKS_PER_WORKER))
    chunks: list[list[bytes]] = []
    current: list[bytes] = []
    files = 0
    for folder, count in folders:
        current.append(folder)
        files += count
        if files >= limit:
            chunks.append(current)
            current, files = [], 0
    if current:
        chunks.append(current)
    return chunks


def _may_be_copies(folder: HashedFolder, settled_before_ns: int, manifest: bytes) -> bool:
    """Could a seal stand for the folder: every entry a file of an asset, each read as listed,
    none of them changed within the racy window, and not the delivery's own manifest (which
    the finalizer settles on its own)?"""
    prefix = folder.folder or b""
    return (
        folder.folder is not None
        and folder.listing is not None
        and bool(folder.assets)
        and folder.stable
        and not (folder.skipped or folder.links)
        and folder.newest_ns < settled_before_ns
        and all(a.aggregate is not None for a in folder.assets)
        and not any(
            a.kind is AssetKind.FILE and prefix + a.names[0] == manifest for a in folder.assets
        )
    )


def _all_copied(folder: HashedFolder, copies: dict[str, tuple[int, int]]) -> bool:
    for asset in folder.assets:
        found = copies.get(asset.aggregate or "")
        if found is None or found[1] != len(asset.names):
            return False  # (the length differs only if two member lists shared a digest)
    return True


def _add_copies(
    read: UnseenDelivery,
    folder: HashedFolder,
    copies: dict[str, tuple[int, int]],
    as_of: int,
) -> None:
    prefix = folder.folder
    assert prefix is not None and folder.listing is not None
    sealed = read.copies
    refs: list[tuple[int, bytes, str, tuple[int, ...]]] = []
    at = 0
    size = 0
    for asset in folder.assets:
        version_id, _ = copies[asset.aggregate or ""]
        count = len(asset.names)
        sizes = folder.numbers[at * 5 : (at + count) * 5 : 5]
        sealed.paths.extend([prefix + name for name in asset.names])
        # (Every file of a copied folder has its digest: its assets' aggregates were made.)
        sealed.digests.extend(cast("list[str]", folder.digests[at : at + count]))
        sealed.sizes.extend(sizes)
        sealed.version_ids.extend([version_id] * count)
        sealed.frames.extend(asset.frames)
        size += sum(sizes)
        at += count
        holes = tuple(holes_of(asset.kind, asset.frames))
        if asset.kind is not AssetKind.FILE:
            sealed.sequences.append((asset.pattern, holes))
        refs.append((version_id, asset.pattern[len(prefix) :], asset.kind.value, holes))
    read.bytes_total += size
    read.files_read += at
    read.bytes_read += size
    read.copied.append(
        CopiedFolder(
            prefix, folder.listing, read.recorded_ns, tuple(refs), at, size, copied_as_of=as_of
        )
    )


def _add_file_by_file(read: UnseenDelivery, folder: HashedFolder) -> None:
    """The folder as the usual walk makes it, with the digests the worker read."""
    scan = DirectoryScan(
        skipped=list(folder.skipped),
        links=list(folder.links),
        folder=folder.folder,
        listing=folder.listing,
        newest_ns=folder.newest_ns,
    )
    prefix = folder.folder or b""
    index = at = 0
    for asset in folder.assets:
        members: list[ScannedFile] = []
        for name, frame in zip(asset.names, asset.frames, strict=True):
            path = prefix + name
            failure = folder.failed.get(index)
            index += 1
            if failure is not None:
                result, listed = failure
                members.append(ScannedFile(path, listed, frame))
                read.bytes_total += listed.size
                reason = result.skip or SkipReason.UNREADABLE
                read.skipped.append(SkippedFile(path, reason.value, result.detail))
                continue
            stat = StatFingerprint._make(folder.numbers[at : at + 5])
            at += 5
            members.append(ScannedFile(path, stat, frame))
            digest = folder.digests[index - 1]
            assert digest is not None
            read.digests[path] = (digest, stat)
            read.fresh.append(HashResult(path, digest, stat))
            read.files_read += 1
            read.bytes_read += stat.size
            read.bytes_total += stat.size
        scan.assets.append(ScannedAsset(asset.kind, asset.pattern, members))
    read.delivery.add_folder(scan)

"""Content fingerprints at disk speed: xxh3-128 in reused buffers across processes, and stat-cache decisions.

Pure: takes paths and stat results, returns digests; never touches the ledger.
"""

from __future__ import annotations

import enum
import errno
import multiprocessing
import os
import stat
import sys
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass

import xxhash

from provenance.scan import SkipReason, StatFingerprint

ALGORITHM = "xxh3-128"
BUFFER_SIZE = 1 << 20
UNSTABLE_RETRIES = 3
# A file whose mtime or ctime is this close to the moment its fingerprint was recorded may
# have changed again within the same clock tick without its stat changing ("racy git").
# Two seconds covers FAT; NFS and SMB tick once a second; local filesystems much finer.
RACY_WINDOW_NS = 2_000_000_000
# Below these, starting worker processes costs more than it saves.
PARALLEL_MIN_FILES = 64
PARALLEL_MIN_BYTES = 256 << 20
CHUNK_MAX_FILES = 256
CHUNK_MAX_BYTES = 128 << 20


def format_digest(raw_hex: str) -> str:
    return f"{ALGORITHM}:{raw_hex}"


class Fate(str, enum.Enum):
    HASHED = "hashed"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class HashResult:
    path: bytes
    digest: str | None
    """`xxh3-128:<32 hex>`, or None when the file could not be hashed."""
    stat: StatFingerprint | None
    """The fingerprint of the bytes that were hashed (taken from the open file)."""
    skip: SkipReason | None = None
    detail: str = ""


def aggregate_digest(members: Iterable[tuple[int | None, str]]) -> str:
    """The digest of an asset version: its members' digests in frame order.

    Reordering frames, or moving a digest to another frame number, gives a different digest.
    """
    hasher = xxhash.xxh3_128()
    for frame, digest in members:
        hasher.update(b"-" if frame is None else str(frame).encode())
        hasher.update(b"=")
        hasher.update(digest.encode())
        hasher.update(b"\n")
    return format_digest(hasher.hexdigest())


def is_cache_trusted(
    cached: StatFingerprint,
    recorded_ns: int,
    current: StatFingerprint,
    racy_window_ns: int = RACY_WINDOW_NS,
) -> bool:
    """May a re-scan reuse the digest recorded for `cached` without reading the file?

    Only when nothing in the fingerprint moved, and the file was last modified comfortably
    before the fingerprint was recorded: a write within the same timestamp tick as the
    recording would leave the stat unchanged (the racy case).
    """
    if cached != current:
        return False
    last_change = max(current.mtime_ns, current.ctime_ns)
    return last_change + racy_window_ns < recorded_ns


# ---------------------------------------------------------------------------------------------
# Hashing one file


_buffer: bytearray | None = None


def _get_buffer() -> bytearray:
    global _buffer
    if _buffer is None:
        _buffer = bytearray(BUFFER_SIZE)
    return _buffer


def _same_bytes(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_size, a.st_mtime_ns, a.st_ctime_ns, a.st_ino) == (
        b.st_size,
        b.st_mtime_ns,
        b.st_ctime_ns,
        b.st_ino,
    )


def hash_file(path: bytes) -> HashResult:
    """Hash one regular file, retrying while it changes under us; never follows a link or opens a FIFO."""
    buffer = _get_buffer()
    view = memoryview(buffer)
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    flags |= getattr(os, "O_BINARY", 0)
    for _attempt in range(UNSTABLE_RETRIES):
        try:
            fd = os.open(path, flags)
        except FileNotFoundError:
            return HashResult(path, None, None, SkipReason.VANISHED)
        except PermissionError as exc:
            return HashResult(path, None, None, SkipReason.UNREADABLE, exc.strerror or "")
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                return HashResult(path, None, None, SkipReason.SPECIAL, "became a symlink")
            return HashResult(path, None, None, SkipReason.UNREADABLE, exc.strerror or "")
        try:
            before = os.fstat(fd)
            if not stat.S_ISREG(before.st_mode):
                return HashResult(path, None, None, SkipReason.SPECIAL, "not a regular file")
            hasher = xxhash.xxh3_128()
            readinto = _readinto(fd)
            while True:
                count = readinto(buffer)
                if not count:
                    break
                hasher.update(view[:count])
            after = os.fstat(fd)
            try:
                on_disk = os.lstat(path)
            except FileNotFoundError:
                return HashResult(path, None, None, SkipReason.VANISHED)
        except OSError as exc:
            return HashResult(path, None, None, SkipReason.UNREADABLE, exc.strerror or "")
        finally:
            os.close(fd)
        if _same_bytes(before, after) and _same_bytes(after, on_disk):
            return HashResult(path, format_digest(hasher.hexdigest()), StatFingerprint.of(after))
    return HashResult(
        path, None, None, SkipReason.UNSTABLE, f"changed while hashed {UNSTABLE_RETRIES} times"
    )


def _readinto(fd: int) -> Callable[[bytearray], int]:
    # os.readinto arrived in Python 3.14; before it, a FileIO around the descriptor does the same.
    native = getattr(os, "readinto", None)
    if native is not None:
        return lambda buf: int(native(fd, buf))
    stream = open(fd, "rb", buffering=0, closefd=False)  # noqa: SIM115
    return lambda buf: stream.readinto(buf) or 0


def hash_chunk(paths: Sequence[bytes]) -> list[HashResult]:
    return [hash_file(path) for path in paths]


# ---------------------------------------------------------------------------------------------
# Hashing many files


class Hasher:
    """Hashes batches of files, in worker processes when the batch is worth it.

    Processes rather than threads: xxhash only releases the GIL for inputs over 64 KiB, so
    threads do not scale over many small files. Use as a context manager so workers stop.
    """

    def __init__(self, workers: int | None = None) -> None:
        self.workers = max(1, workers if workers is not None else (os.cpu_count() or 1))
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> Hasher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def hash_files(self, files: Sequence[tuple[bytes, int]]) -> list[HashResult]:
        """Hash (path, expected size) pairs; results come back in the same order."""
        total = sum(size for _, size in files)
        parallel = self.workers > 1 and (
            len(files) >= PARALLEL_MIN_FILES or total >= PARALLEL_MIN_BYTES
        )
        if not parallel or len(files) < 2:
            return hash_chunk([path for path, _ in files])
        pool = self._ensure_pool()
        futures: list[Future[list[HashResult]]] = [
            pool.submit(hash_chunk, chunk) for chunk in _chunks(files, self.workers)
        ]
        results: list[HashResult] = []
        for future in futures:
            results.extend(future.result())
        return results

    def _ensure_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=_mp_context())
        return self._pool


def _mp_context() -> multiprocessing.context.BaseContext:
    # forkserver: forking a big host process (a DCC, a test runner with threads) is unsafe,
    # and spawn pays a full interpreter start per worker.
    if sys.platform.startswith("linux") or sys.platform == "darwin":
        return multiprocessing.get_context("forkserver")
    return multiprocessing.get_context("spawn")


def _chunks(files: Sequence[tuple[bytes, int]], workers: int) -> list[list[bytes]]:
    """Split into chunks small enough to balance the workers and big enough to amortize the IPC."""
    total = sum(size for _, size in files)
    per_worker_bytes = max(1, total // (workers * 4))
    byte_limit = min(CHUNK_MAX_BYTES, max(per_worker_bytes, 1 << 20))
    count_limit = min(CHUNK_MAX_FILES, max(8, len(files) // (workers * 4)))
    chunks: list[list[bytes]] = []
    current: list[bytes] = []
    current_bytes = 0
    for path, size in files:
        current.append(path)
        current_bytes += size
        if len(current) >= count_limit or current_bytes >= byte_limit:
            chunks.append(current)
            current, current_bytes = [], 0
    if current:
        chunks.append(current)
    return chunks

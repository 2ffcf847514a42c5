"""Content fingerprints at disk speed: xxh3-128 in reused buffers across processes, and the racy rule.

Pure: takes paths and stat results, returns digests; never touches the ledger. The racy rule
(`is_cache_trusted`) is applied by `provenance.stat_cache`, the farm and a finalize's own readings.
"""

from __future__ import annotations

import enum
import errno
import multiprocessing
import os
import stat
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any, Generic, NamedTuple, TypeAlias, TypeVar

import xxhash

from provenance.detect.sniff import could_carry
from provenance.scan import (
    RACY_WINDOW_NS,
    AssetKind,
    ScannedLink,
    Skipped,
    SkipReason,
    StatFingerprint,
    scan_folder,
)

__all__ = [
    "ALGORITHM",
    "BUFFER_SIZE",
    "CHUNKS_PER_WORKER",
    "NOTHING_TO_READ",
    "PARALLEL_MIN_FILES",
    "RACY_WINDOW_NS",
    "THREADED_MIN_AVERAGE",
    "WORKER_NICENESS",
    "HashJob",
    "HashResult",
    "HashedFolder",
    "Hasher",
    "aggregate_digest",
    "format_digest",
    "hash_chunk",
    "hash_chunk_packed",
    "hash_file",
    "hash_folders",
    "is_cache_trusted",
    "unpack_results",
]


ALGORITHM = "xxh3-128"
BUFFER_SIZE = 1 << 20
UNSTABLE_RETRIES = 3
# Below these, starting worker processes costs more than it saves.
PARALLEL_MIN_FILES = 64
PARALLEL_MIN_BYTES = 256 << 20
# Chunks are what a worker (or this process, see HashJob) takes at a time: enough of them that
# three hashers finish together, big enough that the pickling round trip is noise.
CHUNKS_PER_WORKER = 8
CHUNK_MAX_FILES = 512
CHUNK_MAX_BYTES = 64 << 20
# How much lower than the writer's the hashing workers' scheduling priority is (see
# _yield_to_writer): at 10, Linux gives the writer about ten times their share of a core.
WORKER_NICENESS = 10
# Batches of files this big on average are hashed by threads (see Hasher).
THREADED_MIN_AVERAGE = 256 << 10

_Item = TypeVar("_Item")
_Result = TypeVar("_Result")
_Packed = TypeVar("_Packed")


def format_digest(raw_hex: str) -> str:
    return f"{ALGORITHM}:{raw_hex}"


class Fate(str, enum.Enum):
    HASHED = "hashed"
    SKIPPED = "skipped"


NOTHING_TO_READ = False
"""`HashResult.detection` of a file asked for whose bytes no detector parses."""


class HashResult(NamedTuple):
    """One file's digest, or why it has none. A NamedTuple: one is pickled back per file."""

    path: bytes
    digest: str | None
    """`xxh3-128:<32 hex>`, or None when the file could not be hashed."""
    stat: StatFingerprint | None
    """The fingerprint of the bytes that were hashed (unchanged from opening to the end of reading)."""
    skip: SkipReason | None = None
    detail: str = ""
    detection: Any = None
    """What the file says about itself (`provenance.detect.files.Detection`), when it was asked
    for: read right after hashing, by the same worker, while the file is in the page cache;
    NOTHING_TO_READ when its first bytes showed no reader could parse it."""


def aggregate_digest(members: Iterable[tuple[int | None, str]]) -> str:
    """The digest of an asset version: its members' digests in frame order.

    Reordering frames, or moving a digest to another frame number, gives a different digest.
    """
    # One `frame=digest` line a member (`-` for no frame), hashed in one call.
    text = "".join(
        f"{'-' if frame is None else frame}={digest}\n" for frame, digest in members
    ).encode()
    return format_digest(xxhash.xxh3_128_hexdigest(text))


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


_buffers = threading.local()
_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_BINARY", 0)
    | getattr(os, "O_CLOEXEC", 0)
)


def _get_buffer() -> memoryview:
    buffer: memoryview | None = getattr(_buffers, "buffer", None)
    if buffer is None:
        buffer = _buffers.buffer = memoryview(bytearray(BUFFER_SIZE))
    return buffer


def _same_bytes(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_size, a.st_mtime_ns, a.st_ctime_ns, a.st_ino, a.st_dev) == (
        b.st_size,
        b.st_mtime_ns,
        b.st_ctime_ns,
        b.st_ino,
        b.st_dev,
    )


def hash_file(path: bytes) -> HashResult:
    """Hash one regular file, retrying while it changes under us; never follows a link or opens a FIFO."""
    buffer = _get_buffer()
    for _attempt in range(UNSTABLE_RETRIES):
        try:
            fd = os.open(path, _OPEN_FLAGS)
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
            digest = _read_digest(fd, buffer, before.st_size)
            try:
                on_disk = os.lstat(path)
            except FileNotFoundError:
                return HashResult(path, None, None, SkipReason.VANISHED)
        except OSError as exc:
            return HashResult(path, None, None, SkipReason.UNREADABLE, exc.strerror or "")
        finally:
            os.close(fd)
        # The path still names the file that was read (same device and inode), and its size
        # and times did not move while it was read: the digest is of the bytes it holds.
        if _same_bytes(before, on_disk):
            return HashResult(path, format_digest(digest), StatFingerprint.of(on_disk))
    return HashResult(
        path, None, None, SkipReason.UNSTABLE, f"changed while hashed {UNSTABLE_RETRIES} times"
    )


def _read_digest(fd: int, buffer: memoryview, size: int) -> str:
    """The xxh3-128 hex digest of what `fd` holds from where it is to its end; `size` is what
    fstat said it holds (the caller checks afterwards that it did not change)."""
    readinto = _readinto(fd)
    if size < len(buffer):
        # Most files fit the buffer: ask for one byte more than the file holds, so that a
        # short read says the end was reached without a further read returning nothing.
        wanted = size + 1
        filled = 0
        while filled < wanted:
            count = readinto(buffer[filled:wanted])
            if not count:
                return xxhash.xxh3_128_hexdigest(buffer[:filled])
            filled += count
            if filled == size:
                return xxhash.xxh3_128_hexdigest(buffer[:filled])
        # It grew since fstat: read the rest the long way (the caller sees the change).
    else:
        filled = 0
    hasher = xxhash.xxh3_128(buffer[:filled])
    while True:
        count = readinto(buffer)
        if not count:
            return hasher.hexdigest()
        hasher.update(buffer[:count])


def _readinto(fd: int) -> Callable[[memoryview], int]:
    # os.readinto arrived in Python 3.14, os.readv is POSIX; elsewhere a FileIO does the same.
    native = getattr(os, "readinto", None)
    if native is not None:
        return lambda buf: int(native(fd, buf))
    readv = getattr(os, "readv", None)
    if readv is not None:
        return lambda buf: int(readv(fd, (buf,)))
    stream = open(fd, "rb", buffering=0, closefd=False)  # noqa: SIM115
    return lambda buf: stream.readinto(buf) or 0


def hash_chunk(paths: Sequence[bytes], detect: frozenset[bytes] = frozenset()) -> list[HashResult]:
    """Hash each path; read what the files in `detect` say about themselves too."""
    if not detect:
        return [hash_file(path) for path in paths]
    results = []
    buffer = _get_buffer()
    for path in paths:
        result = hash_file(path)
        if path in detect and result.digest is not None and result.stat is not None:
            # A file smaller than the buffer was read into it from its start: its first bytes
            # are there, no need to open it again to sniff them.
            size = result.stat.size
            head = bytes(buffer[: min(size, 16)]) if size < len(buffer) else None
            if could_carry(path, head):
                # Loaded in the worker on first use: numpy, Pillow and the c2pa library.
                from provenance.detect.files import detect_file

                result = result._replace(detection=detect_file(path))
            else:
                result = result._replace(detection=NOTHING_TO_READ)
        results.append(result)
    return results


PackedResults: TypeAlias = "tuple[list[str | None], list[int], list[int], dict[int, HashResult]]"
"""A chunk's results as a worker sends them back (see `hash_chunk_packed`)."""


def hash_chunk_packed(
    paths: Sequence[bytes], detect: frozenset[bytes] = frozenset()
) -> PackedResults:
    """`hash_chunk`, packed for the trip back from a worker process: each file's digest (None
    for the others), the five numbers of the stat fingerprints one after another, the indexes
    of the files whose first bytes showed nothing to read (NOTHING_TO_READ), and whole the
    other results (a file skipped, or read by the detectors).

    Pickling a HashResult with its StatFingerprint took 5 us, more than hashing a 10 KiB file;
    these lists take 0.5 us a file, and the paths are not sent back at all.
    """
    digests: list[str | None] = []
    numbers: list[int] = []
    nothing_to_read: list[int] = []
    whole: dict[int, HashResult] = {}
    for index, result in enumerate(hash_chunk(paths, detect)):
        detection = result.detection
        if result.stat is None or (detection is not None and detection is not NOTHING_TO_READ):
            whole[index] = result
            digests.append(None)
            continue
        digests.append(result.digest)
        numbers.extend(result.stat)
        if detection is NOTHING_TO_READ:
            nothing_to_read.append(index)
    return digests, numbers, nothing_to_read, whole


def unpack_results(paths: Sequence[bytes], packed: PackedResults) -> list[HashResult]:
    """The HashResults of the chunk `paths` from what `hash_chunk_packed` sent back."""
    digests, numbers, nothing_to_read, whole = packed
    make_result, make_stat = HashResult._make, StatFingerprint._make
    results = []
    at = 0
    for index, (path, digest) in enumerate(zip(paths, digests, strict=True)):
        if digest is None:
            results.append(whole[index])
            continue
        results.append(make_result((path, digest, make_stat(numbers[at : at + 5]), None, "", None)))
        at += 5
    for index in nothing_to_read:
        results[index] = results[index]._replace(detection=NOTHING_TO_READ)
    return results


# ---------------------------------------------------------------------------------------------
# Hashing whole folders


class HashedAsset(NamedTuple):
    kind: AssetKind
    pattern: bytes
    names: list[bytes]
    """Its files' names, in frame order."""
    frames: list[int | None]
    aggregate: str | None
    """Its digest (`fingerprint.aggregate_digest`), None when a file could not be hashed."""


class HashedFolder(NamedTuple):
    """One folder as a worker read it, packed for the trip back: no object a file."""

    folder: bytes | None
    """Ending in `/`; None when it could not be listed (see `skipped`)."""
    listing: str | None
    newest_ns: int
    assets: list[HashedAsset]
    digests: list[str | None]
    """Each file's digest, the assets' files one after another (None: see `failed`)."""
    numbers: list[int]
    """The five numbers of the stat fingerprint of each file with a digest."""
    failed: dict[int, tuple[HashResult, StatFingerprint]]
    """By file index: why it has no digest, and its stat fingerprint from the listing."""
    skipped: list[Skipped]
    links: list[ScannedLink]
    stable: bool
    """Every file was hashed as it was listed (the same size, times and inode)."""


def hash_folders(folders: list[bytes], top: bytes) -> list[HashedFolder]:
    """Run in a worker: list, stat, group and hash each folder of a walk of `top` (see
    `provenance.unseen`)."""
    return [_hash_folder(folder, top) for folder in folders]


def _hash_folder(folder: bytes, top: bytes) -> HashedFolder:
    buffer = _get_buffer()
    digests_by_name: dict[bytes, str | None] = {}

    def read(name: bytes, folder_fd: int) -> os.stat_result | None:
        # Opened by name in the open folder, never through a link: the stat of the open file is
        # what the listing records, and the digest is of the bytes that stat describes.
        try:
            fd = os.open(name, _OPEN_FLAGS, dir_fd=folder_fd)
        except OSError:
            return None
        try:
            opened = os.fstat(fd)
            if not stat.S_ISREG(opened.st_mode):
                return None
            digests_by_name[name] = _digest_of_open(fd, opened, buffer)
            return opened
        except OSError:
            return None
        finally:
            os.close(fd)

    scan, _ = scan_folder(folder, top, read=read)
    prefix = scan.folder or b""
    cut = len(prefix)
    assets: list[HashedAsset] = []
    digests: list[str | None] = []
    numbers: list[int] = []
    failed: dict[int, tuple[HashResult, StatFingerprint]] = {}
    stable = True
    for asset in scan.assets:
        names: list[bytes] = []
        frames: list[int | None] = []
        read_members: list[tuple[int | None, str]] = []
        for member in asset.members:
            name = member.path[cut:]
            names.append(name)
            frames.append(member.frame)
            digest = digests_by_name.get(name)
            if digest is not None:
                numbers.extend(member.stat)
                read_members.append((member.frame, digest))
                digests.append(digest)
                continue
            # Not read as listed (it changed while read, or could not be opened): the long way,
            # which says why.
            result = hash_file(member.path)
            if result.digest is None or result.stat is None:
                failed[len(digests)] = (result, member.stat)
            else:
                numbers.extend(result.stat)
                read_members.append((member.frame, result.digest))
            stable = False
            digests.append(result.digest)
        aggregate = aggregate_digest(read_members) if len(read_members) == len(names) else None
        assets.append(HashedAsset(asset.kind, asset.pattern, names, frames, aggregate))
    return HashedFolder(
        scan.folder,
        scan.listing,
        scan.newest_ns,
        assets,
        digests,
        numbers,
        failed,
        scan.skipped,
        scan.links,
        stable,
    )


def _digest_of_open(fd: int, opened: os.stat_result, buffer: memoryview) -> str | None:
    """The digest of the regular file open as `fd`, whose stat was `opened`: None when its size
    or times moved while it was read (the caller then takes the long way, `hash_file`)."""
    size = opened.st_size
    if size < len(buffer):
        # One read of one byte more than the file holds: a short read is its end.
        data = os.read(fd, size + 1)
        if len(data) != size:
            return None
        digest = xxhash.xxh3_128_hexdigest(data)
    else:
        digest = _read_digest(fd, buffer, size)
    if not _same_bytes(opened, os.fstat(fd)):
        return None
    return format_digest(digest)


# ---------------------------------------------------------------------------------------------
# Hashing many files


class _ChunkJob(Generic[_Item, _Result, _Packed]):
    """Chunks of work, done by the worker processes and by the calling thread together;
    `results()` waits for them, in the order they were given.

    The calling thread works too: while it waits, it takes the chunks no worker has started,
    from the back, as the workers take them from the front; and until worker processes run (a
    new process takes a tenth of a second to start, half a second under a main module that
    imports SQLAlchemy) it is the only one working, so a batch never waits for them.
    """

    def __init__(self, chunks: list[list[_Item]]) -> None:
        self._chunks = chunks
        self._futures: list[Future[_Packed] | None] = [None] * len(chunks)
        self._done_here: list[list[_Result] | None] = [None] * len(chunks)
        self._handed = 0
        """Chunks before this one went to the workers."""
        self._kept = len(chunks)
        """Chunks from this one on are done here."""
        self._lock = threading.Lock()
        self._hasher: Hasher | None = None

    def _submit(self, pool: Executor, chunk: list[_Item]) -> Future[_Packed]:
        raise NotImplementedError

    def _here(self, chunk: list[_Item]) -> list[_Result]:
        raise NotImplementedError

    def _unpack(self, chunk: list[_Item], packed: _Packed) -> list[_Result]:
        raise NotImplementedError

    def _hand_over(self, pool: Executor) -> None:
        with self._lock:
            while self._handed < self._kept:
                self._futures[self._handed] = self._submit(pool, self._chunks[self._handed])
                self._handed += 1

    def hash_unstarted(self) -> None:
        """Do here, from the last, the chunks no worker has started (`results` then waits for
        the others)."""
        while (index := self._take_last()) is not None:
            self._done_here[index] = self._here(self._chunks[index])

    def _take_last(self) -> int | None:
        """The last chunk no worker has started, now to be done here."""
        with self._lock:
            if self._kept == 0:
                return None
            future = self._futures[self._kept - 1]
            if future is not None and not future.cancel():
                return None  # a worker started it, and so every chunk before it
            self._kept -= 1
            return self._kept

    def each(self) -> Iterator[list[_Result]]:
        """Each chunk's results in order, as soon as it is done (to show progress); between
        chunks this thread does, from the last, the chunks no worker has started."""
        for index, chunk in enumerate(self._chunks):
            while self._done_here[index] is None:
                future = self._futures[index]
                if future is not None and future.done():
                    break
                taken = self._take_last()
                if taken is None:
                    break  # every chunk left is a worker's: wait for this one
                self._done_here[taken] = self._here(self._chunks[taken])
            done = self._done_here[index]
            if done is None:
                future = self._futures[index]
                assert future is not None
                done = self._unpack(chunk, future.result())
            yield done
        if self._hasher is not None:
            self._hasher._dismiss(self)

    def results(self) -> list[_Result]:
        """Every chunk's results, in order: this thread first does every chunk no worker has
        started (the workers' own then come back while it works)."""
        self.hash_unstarted()
        return [result for done in self.each() for result in done]


class HashJob(_ChunkJob[bytes, HashResult, PackedResults]):
    """Files being hashed (see `_ChunkJob`)."""

    def __init__(self, chunks: list[list[bytes]], detect: frozenset[bytes] = frozenset()) -> None:
        super().__init__(chunks)
        self._detecting = detect

    def _detect(self, chunk: list[bytes]) -> frozenset[bytes]:
        """The paths of a chunk to run the detectors on (only those travel to the worker)."""
        if not self._detecting:
            return frozenset()
        return frozenset(path for path in chunk if path in self._detecting)

    def _submit(self, pool: Executor, chunk: list[bytes]) -> Future[PackedResults]:
        return pool.submit(hash_chunk_packed, chunk, self._detect(chunk))

    def _here(self, chunk: list[bytes]) -> list[HashResult]:
        return hash_chunk(chunk, self._detect(chunk))

    def _unpack(self, chunk: list[bytes], packed: PackedResults) -> list[HashResult]:
        return unpack_results(chunk, packed)


class CallJob(_ChunkJob[_Item, _Result, list[_Result]]):
    """Chunks handed whole to a function that reads and hashes what they name (a module-level
    function, or a partial of one: it travels to the workers by name)."""

    def __init__(
        self, work: Callable[[list[_Item]], list[_Result]], chunks: list[list[_Item]]
    ) -> None:
        super().__init__(chunks)
        self._work = work

    def _submit(self, pool: Executor, chunk: list[_Item]) -> Future[list[_Result]]:
        return pool.submit(self._work, chunk)

    def _here(self, chunk: list[_Item]) -> list[_Result]:
        return self._work(chunk)

    def _unpack(self, chunk: list[_Item], packed: list[_Result]) -> list[_Result]:
        return packed


class Hasher:
    """Hashes batches of files, in worker processes when the batch is worth it.

    Processes rather than threads: xxhash only releases the GIL for inputs over 64 KiB, so
    threads do not scale over many small files. Big files are the exception: reading and
    hashing a megabyte releases the GIL, so threads in this process scale there (measured 1.9x
    on two cores) and start at once, where a process pool takes 0.1 to 0.5 s to start and then
    hashed 2.4 GB of frames at 10 GB/s against 14 for the threads. Use as a context manager so
    workers stop.
    """

    def __init__(self, workers: int | None = None, yield_to_writer: bool = True) -> None:
        self.workers = max(1, workers if workers is not None else (os.cpu_count() or 1))
        self.yield_to_writer = yield_to_writer
        """Workers run at a lower priority than this process (see `_yield_to_writer`): for
        a run whose writer is its critical path (an ingest). A run that only reads (a sweep,
        a finalize's reading, a farm shard) waits on its workers: they run at its own
        priority, as a reference program would on a shared machine."""
        self._pool: ProcessPoolExecutor | None = None
        self._threads: ThreadPoolExecutor | None = None
        self._starting: threading.Thread | None = None
        self._start_error: BaseException | None = None
        self._waiting: list[_ChunkJob[Any, Any, Any]] = []
        """Jobs whose chunks go to the workers once they run."""
        self._lock = threading.Lock()

    def __enter__(self) -> Hasher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._starting is not None:
            self._starting.join()
            self._starting = None
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._threads is not None:
            self._threads.shutdown(wait=True, cancel_futures=True)
            self._threads = None

    def worker_pids(self) -> list[int]:
        """The process ids of the hashing workers running now (waiting for a pool that is
        starting); none when no batch has needed them or they could not start."""
        starting = self._starting
        if starting is not None:
            starting.join()
        pool = self._pool
        # (The executor keeps its processes by id; it has no public way to list them.)
        return sorted(pool._processes or {}) if pool is not None else []

    def hash_files(self, files: Sequence[tuple[bytes, int]]) -> list[HashResult]:
        """Hash (path, expected size) pairs; results come back in the same order."""
        return self.submit(files).results()

    def submit(
        self, files: Sequence[tuple[bytes, int]], detect: frozenset[bytes] = frozenset()
    ) -> HashJob:
        """Start hashing (path, expected size) pairs in the workers and return at once; the
        files in `detect` are also read by the detectors (`HashResult.detection`)."""
        total = sum(size for _, size in files)
        parallel = self.workers > 1 and (
            len(files) >= PARALLEL_MIN_FILES or total >= PARALLEL_MIN_BYTES
        )
        if not parallel or len(files) < 2:
            return HashJob([[path for path, _ in files]], detect)
        job = HashJob(_chunks(files, self.workers), detect)
        if total >= THREADED_MIN_AVERAGE * len(files):
            job._hand_over(self._thread_pool())
        else:
            self._enlist(job)
        return job

    def call(
        self,
        work: Callable[[list[_Item]], list[_Result]],
        chunks: list[list[_Item]],
        large_files: bool = False,
    ) -> CallJob[_Item, _Result]:
        """Start `work` on each chunk in the worker processes (and here, see `_ChunkJob`), and
        return at once; in threads of this process when the chunks' files are `large_files`
        (their reading and hashing release the GIL, and threads start at once)."""
        job = CallJob(work, chunks)
        if self.workers > 1 and len(chunks) > 1:
            if large_files:
                job._hand_over(self._thread_pool())
            else:
                self._enlist(job)
        return job

    def _thread_pool(self) -> ThreadPoolExecutor:
        if self._threads is None:
            self._threads = ThreadPoolExecutor(self.workers, "provenance-hash")
        return self._threads

    def _enlist(self, job: _ChunkJob[Any, Any, Any]) -> None:
        job._hasher = self
        with self._lock:
            pool = self._pool
            if pool is None:
                if self._start_error is not None:
                    return  # no workers: this process hashes every chunk
                self._waiting.append(job)
                if self._starting is None:
                    self._start_in_background()
                return
        job._hand_over(pool)

    def _dismiss(self, job: _ChunkJob[Any, Any, Any]) -> None:
        with self._lock:
            if job in self._waiting:
                self._waiting.remove(job)

    def _start_in_background(self) -> None:
        # Meanwhile this process hashes alone (see HashJob).
        self._starting = threading.Thread(
            target=self._start_pool, name="provenance-hasher-start", daemon=True
        )
        self._starting.start()

    def _start_pool(self) -> None:
        pool: ProcessPoolExecutor | None = None
        try:
            pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=_mp_context(),
                initializer=_yield_to_writer if self.yield_to_writer else None,
            )
            pool.submit(int)  # starts the worker processes now
        except Exception as exc:
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)
            # Workers that cannot start (no /dev/shm, a sandbox): this process hashes alone.
            with self._lock:
                self._start_error = exc
                self._waiting = []
            return
        with self._lock:
            self._pool = pool
            waiting, self._waiting = self._waiting, []
        for job in waiting:
            job._hand_over(pool)


def _yield_to_writer() -> None:
    """Run in each hashing worker as it starts: lower its scheduling priority."""
    # The process that started the workers writes the ledger, alone, and is the critical path
    # of a many-small-files ingest; the workers have slack (a batch is hashed while the one
    # before it is written). On as many cores as workers, equal priority made them take turns
    # with the writer.
    os.nice(WORKER_NICENESS)


def _mp_context() -> multiprocessing.context.BaseContext:
    # forkserver: forking a big host process (a DCC, a test runner with threads) is unsafe,
    # and spawn pays a full interpreter start per worker.
    if sys.platform.startswith("linux") or sys.platform == "darwin":
        context = multiprocessing.get_context("forkserver")
        # The server imports this module once, before it forks any worker: each worker then
        # starts with it loaded, instead of importing it (70 ms of a core each, measured here).
        # The main module stays preloaded too, as by default. (No effect once the server runs.)
        context.set_forkserver_preload(["__main__", __name__])
        return context
    return multiprocessing.get_context("spawn")


def _chunks(files: Sequence[tuple[bytes, int]], workers: int) -> list[list[bytes]]:
    """Split into chunks small enough to balance the workers and big enough to amortize the IPC."""
    total = sum(size for _, size in files)
    per_chunk_bytes = total // (workers * CHUNKS_PER_WORKER)
    byte_limit = min(CHUNK_MAX_BYTES, max(per_chunk_bytes, 1 << 20))
    count_limit = min(CHUNK_MAX_FILES, max(8, len(files) // (workers * CHUNKS_PER_WORKER)))
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

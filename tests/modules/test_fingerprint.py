"""Hashing and stat-cache decisions (pure, no database)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import xxhash

from provenance.fingerprint import (
    BUFFER_SIZE,
    NOTHING_TO_READ,
    WORKER_NICENESS,
    Hasher,
    aggregate_digest,
    hash_chunk,
    hash_chunk_packed,
    hash_file,
    is_cache_trusted,
    unpack_results,
)
from provenance.scan import SkipReason, StatFingerprint

from ..builders import require, write_bytes


def test_digest_is_xxh3_128_with_its_algorithm(tmp_path: Path) -> None:
    path = write_bytes(tmp_path / "a.bin", 3 << 20)
    result = hash_file(os.fsencode(path))
    assert result.digest == "xxh3-128:" + xxhash.xxh3_128(path.read_bytes()).hexdigest()
    assert result.stat is not None and result.stat.size == 3 << 20


@pytest.mark.parametrize(
    "size", [1, BUFFER_SIZE - 1, BUFFER_SIZE, BUFFER_SIZE + 1, 3 * BUFFER_SIZE]
)
def test_digest_is_right_on_both_sides_of_the_buffer_size(tmp_path: Path, size: int) -> None:
    # Files smaller than the buffer are read in one call that must come back short; the rest
    # are streamed.
    path = write_bytes(tmp_path / "a.bin", size, seed=size)
    result = hash_file(os.fsencode(path))
    assert result.digest == "xxh3-128:" + xxhash.xxh3_128(path.read_bytes()).hexdigest()


def test_digest_matches_xxhsum_h2(tmp_path: Path) -> None:
    require(shutil.which("xxhsum") is not None, "xxhsum (Debian package xxhash) is not installed")
    path = write_bytes(tmp_path / "a.bin", 100_000)
    out = subprocess.run(["xxhsum", "-H2", str(path)], capture_output=True, text=True, check=True)
    assert hash_file(os.fsencode(path)).digest == "xxh3-128:" + out.stdout.split()[0]


def test_empty_file_has_a_digest(tmp_path: Path) -> None:
    path = tmp_path / "empty"
    path.write_bytes(b"")
    assert hash_file(os.fsencode(path)).digest == "xxh3-128:99aa06d3014798d86001c324468d497f"


def test_vanished_file_is_reported(tmp_path: Path) -> None:
    gone = hash_file(os.fsencode(tmp_path / "gone"))
    assert (gone.digest, gone.skip) == (None, SkipReason.VANISHED)


def test_a_file_that_keeps_changing_is_reported_unstable(tmp_path: Path) -> None:
    # A sparse gigabyte takes long enough to read that the writer surely runs during each try.
    path = tmp_path / "growing.exr"
    with open(path, "wb") as handle:
        handle.truncate(1 << 30)
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys\n"
            "with open(sys.argv[1], 'ab', buffering=0) as f:\n"
            "    while True: f.write(b'x' * 512)",
            str(path),
        ]
    )
    try:
        deadline = time.monotonic() + 10
        while path.stat().st_size == 1 << 30 and time.monotonic() < deadline:
            time.sleep(0.01)
        result = hash_file(os.fsencode(path))
    finally:
        writer.kill()
        writer.wait()
    assert (result.digest, result.skip) == (None, SkipReason.UNSTABLE)
    assert "changed while hashed" in result.detail


def test_a_symlink_is_never_hashed_through(tmp_path: Path) -> None:
    target = write_bytes(tmp_path / "t", 10)
    (tmp_path / "link").symlink_to(target)
    result = hash_file(os.fsencode(tmp_path / "link"))
    assert result.digest is None and result.skip is SkipReason.SPECIAL


def test_parallel_hashing_matches_serial(tmp_path: Path) -> None:
    paths = [write_bytes(tmp_path / f"f{i}", 1000 + i * 7, seed=i) for i in range(200)]
    files = [(os.fsencode(p), p.stat().st_size) for p in paths]
    with Hasher(workers=2) as hasher:
        parallel = hasher.hash_files(files)
    serial = [hash_file(path) for path, _ in files]
    assert [r.digest for r in parallel] == [r.digest for r in serial]
    assert [r.path for r in parallel] == [path for path, _ in files]


def test_results_packed_by_a_worker_unpack_to_the_same_results(tmp_path: Path) -> None:
    plain = [write_bytes(tmp_path / f"f{i}", 100 * i, seed=i) for i in range(3)]
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    png = tmp_path / "read.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)  # read by the detectors
    fake = write_bytes(tmp_path / "fake.png", 200, seed=9)  # its first bytes are no PNG's
    files = (plain[0], fifo, plain[1], tmp_path / "gone", png, fake, plain[2])
    paths = [os.fsencode(p) for p in files]
    detect = frozenset({os.fsencode(png), os.fsencode(fake)})
    expected = hash_chunk(paths, detect)
    assert [r.skip for r in expected] == [
        None, SkipReason.SPECIAL, None, SkipReason.VANISHED, None, None, None
    ]  # fmt: skip
    assert expected[4].detection not in (None, NOTHING_TO_READ)
    assert expected[5].detection is NOTHING_TO_READ
    assert unpack_results(paths, hash_chunk_packed(paths, detect)) == expected


def test_hashing_workers_yield_the_cores_to_the_writer(tmp_path: Path) -> None:
    # The process that writes the ledger is the critical path of a many-small-files ingest.
    paths = [write_bytes(tmp_path / f"f{i}", 1000, seed=i) for i in range(400)]
    files = [(os.fsencode(p), p.stat().st_size) for p in paths]
    own = os.getpriority(os.PRIO_PROCESS, 0)
    wanted = min(19, own + WORKER_NICENESS)
    with Hasher(workers=2) as hasher:
        hasher.hash_files(files)
        workers = hasher.worker_pids()
        assert workers
        assert os.getpid() not in workers
        # A worker lowers its priority as it starts, before it takes any chunk; one that the
        # pool has just forked may still be starting.
        deadline = time.monotonic() + 60
        priorities = {pid: os.getpriority(os.PRIO_PROCESS, pid) for pid in workers}
        while set(priorities.values()) != {wanted} and time.monotonic() < deadline:
            time.sleep(0.05)
            priorities = {pid: os.getpriority(os.PRIO_PROCESS, pid) for pid in workers}
        assert set(priorities.values()) == {wanted}
    assert os.getpriority(os.PRIO_PROCESS, 0) == own


def test_workers_of_a_run_that_only_reads_keep_its_priority(tmp_path: Path) -> None:
    # A sweep waits on its workers: niced, they would lose the cores to every other program of
    # a shared machine while nothing of the sweep's own needs them.
    paths = [write_bytes(tmp_path / f"f{i}", 1000, seed=i) for i in range(400)]
    files = [(os.fsencode(p), p.stat().st_size) for p in paths]
    own = os.getpriority(os.PRIO_PROCESS, 0)
    with Hasher(workers=2, yield_to_writer=False) as hasher:
        hasher.hash_files(files)
        workers = hasher.worker_pids()
        assert workers
        time.sleep(0.2)  # (time for an initializer to have run, had there been one)
        assert {os.getpriority(os.PRIO_PROCESS, pid) for pid in workers} == {own}


def fingerprint(mtime_ns: int, ctime_ns: int | None = None, size: int = 10) -> StatFingerprint:
    return StatFingerprint(size, mtime_ns, ctime_ns if ctime_ns is not None else mtime_ns, 7, 1)


def test_cache_is_trusted_only_outside_the_racy_window() -> None:
    second = 1_000_000_000
    old = fingerprint(100 * second)
    assert is_cache_trusted(old, recorded_ns=110 * second, current=old, racy_window_ns=2 * second)
    # Modified within the window before recording: a same-tick rewrite would look unchanged.
    racy = fingerprint(109 * second)
    assert not is_cache_trusted(
        racy, recorded_ns=110 * second, current=racy, racy_window_ns=2 * second
    )
    # ctime counts too: `touch -d` can put mtime in the past while the bytes are new.
    restamped = fingerprint(100 * second, ctime_ns=109 * second)
    assert not is_cache_trusted(
        restamped, recorded_ns=110 * second, current=restamped, racy_window_ns=2 * second
    )


def test_any_stat_change_distrusts_the_cache() -> None:
    second = 1_000_000_000
    cached = fingerprint(100 * second)
    for current in (
        fingerprint(100 * second, size=11),
        fingerprint(101 * second),
        StatFingerprint(10, 100 * second, 100 * second, 8, 1),
        StatFingerprint(10, 100 * second, 100 * second, 7, 2),
    ):
        assert not is_cache_trusted(cached, 200 * second, current)


def test_aggregate_digest_depends_on_frame_order() -> None:
    a, b = "xxh3-128:" + "a" * 32, "xxh3-128:" + "b" * 32
    assert aggregate_digest([(1, a), (2, b)]) != aggregate_digest([(1, b), (2, a)])
    assert aggregate_digest([(1, a), (2, b)]) != aggregate_digest([(1, a), (3, b)])
    assert aggregate_digest([(1, a)]) == aggregate_digest([(1, a)])

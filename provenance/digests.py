"""Several digests of a file in one read: the ledger's xxh3-128 beside the ones other systems
ask for (ASC MHL's md5, sha1, xxh64, xxh3 and c4; SHA-256 or BLAKE3 as a collision-resistant
record of approved and delivered bytes).

Pure: takes paths, returns digests; never touches the ledger. Each digest carries its
algorithm (`sha256:<hex>`), as the ledger's own do (`xxh3-128:<hex>`).
"""

from __future__ import annotations

import functools
import hashlib
import os
import stat
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple, Protocol

import xxhash

from provenance.errors import ProvenanceError
from provenance.fingerprint import ALGORITHM as LEDGER_ALGORITHM
from provenance.fingerprint import Hasher
from provenance.scan import StatFingerprint

__all__ = [
    "STRONG_ALGORITHMS",
    "FileDigests",
    "aggregate",
    "check_algorithms",
    "digest_bytes",
    "digest_file",
    "digest_files",
    "value_bytes",
]


BUFFER_SIZE = 1 << 20
STRONG_ALGORITHMS = ("sha256", "blake3")
"""Collision-resistant digests an approval or a finalize manifest may carry (`--strong`)."""

_C4_CHARSET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_C4_LENGTH = 90


class _Digest(Protocol):
    def update(self, data: Any, /) -> None: ...


class _C4:
    """A C4 ID (SMPTE ST 2114): SHA-512 in base 58, 90 characters starting `c4`."""

    def __init__(self) -> None:
        self._sha = hashlib.sha512()

    def update(self, data: Any) -> None:
        self._sha.update(data)

    def hexdigest(self) -> str:
        value = int.from_bytes(self._sha.digest(), "big")
        text = ""
        while value:
            value, remainder = divmod(value, 58)
            text = _C4_CHARSET[remainder] + text
        return "c4" + text.rjust(_C4_LENGTH - 2, "1")


def _blake3() -> Any:
    try:
        import blake3  # the Rust implementation: several GB/s, released GIL
    except ImportError:
        raise ProvenanceError(
            "BLAKE3 digests need the blake3 package: `pip install 'provenance[strong]'` (or "
            "`pip install blake3`), or use --strong sha256."
        ) from None
    return blake3.blake3(max_threads=1)


_MAKERS: dict[str, Callable[[], Any]] = {
    LEDGER_ALGORITHM: xxhash.xxh3_128,
    "sha256": hashlib.sha256,
    "blake3": _blake3,
    "md5": hashlib.md5,
    "sha1": hashlib.sha1,
    # xxhash gives the canonical (big-endian) form, the one ASC MHL and delivery specs mean.
    "xxh64be": xxhash.xxh64,
    "xxh3-64": xxhash.xxh3_64,
    "c4": _C4,
}
ALGORITHMS = tuple(_MAKERS)


def check_algorithms(names: Iterable[str]) -> tuple[str, ...]:
    """The algorithms named, in order and once each; an unknown name is an error naming the
    known ones."""
    wanted = tuple(dict.fromkeys(names))
    unknown = [name for name in wanted if name not in _MAKERS]
    if unknown:
        raise ProvenanceError(
            f"Unknown digest algorithm {', '.join(map(repr, unknown))}: use "
            f"{', '.join(ALGORITHMS)}."
        )
    if "blake3" in wanted:
        _blake3()  # (an error now, not in a worker process)
    return wanted


def tagged(algorithm: str, value: str) -> str:
    """A digest with its algorithm: `sha256:<hex>`."""
    return f"{algorithm}:{value}"


class FileDigests(NamedTuple):
    """One file's digests (algorithm -> bare value), or why it has none."""

    path: bytes
    digests: dict[str, str] | None
    stat: StatFingerprint | None
    """The stat of the bytes that were read (unchanged from opening to the end of reading)."""
    problem: str = ""

    def tagged(self, algorithm: str) -> str:
        assert self.digests is not None
        return tagged(algorithm, self.digests[algorithm])


_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def digest_file(path: bytes, algorithms: Sequence[str]) -> FileDigests:
    """Read a regular file once, feeding every algorithm; the file must not change while read
    (its size, times and inode, before and after). Never follows a link."""
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        return FileDigests(path, None, None, exc.strerror or str(exc))
    try:
        before = os.fstat(fd)
        if not stat.S_ISREG(before.st_mode):
            return FileDigests(path, None, None, "not a regular file")
        states = [(name, _MAKERS[name]()) for name in algorithms]
        updates = [state.update for _, state in states]
        buffer = memoryview(bytearray(BUFFER_SIZE))
        stream = open(fd, "rb", buffering=0, closefd=False)  # noqa: SIM115
        while True:
            count = stream.readinto(buffer)
            if not count:
                break
            chunk = buffer[:count]
            for update in updates:
                update(chunk)
        after = os.lstat(path)
    except OSError as exc:
        return FileDigests(path, None, None, exc.strerror or str(exc))
    finally:
        os.close(fd)
    fingerprint = StatFingerprint.of(before)
    if StatFingerprint.of(after) != fingerprint:
        return FileDigests(path, None, None, "changed while it was read")
    return FileDigests(path, {name: state.hexdigest() for name, state in states}, fingerprint, "")


def digest_chunk(paths: Sequence[bytes], algorithms: Sequence[str]) -> list[FileDigests]:
    """`digest_file` of each path (run in a hashing worker)."""
    return [digest_file(path, algorithms) for path in paths]


def digest_files(
    hasher: Hasher,
    paths: Sequence[bytes],
    algorithms: Sequence[str],
    progress: Callable[[int, int], None] | None = None,
) -> list[FileDigests]:
    """`digest_file` of every path, in the hasher's worker processes; results in the given
    order. `progress(files done, bytes done)` after each chunk."""
    work = functools.partial(digest_chunk, algorithms=tuple(algorithms))
    chunks = [list(paths[start : start + 64]) for start in range(0, len(paths), 64)]
    results: list[FileDigests] = []
    done_bytes = 0
    for chunk in hasher.call(work, chunks).each():
        results.extend(chunk)
        done_bytes += sum(r.stat.size for r in chunk if r.stat is not None)
        if progress is not None:
            progress(len(results), done_bytes)
    return results


def aggregate(algorithm: str, members: Iterable[tuple[int | None, str]]) -> str:
    """An asset version's digest by another algorithm: its members' digests (tagged) in frame
    order, one `frame=digest` line each, as `fingerprint.aggregate_digest` does for xxh3-128."""
    text = "".join(f"{'-' if frame is None else frame}={digest}\n" for frame, digest in members)
    state = _MAKERS[algorithm]()
    state.update(text.encode())
    return tagged(algorithm, state.hexdigest())


def digest_bytes(algorithm: str, data: bytes) -> str:
    """The bare digest of `data` by one algorithm."""
    state = _MAKERS[algorithm]()
    state.update(data)
    return str(state.hexdigest())


def value_bytes(algorithm: str, value: str) -> bytes:
    """The bytes a bare digest stands for: hex, or a C4 ID's 64 bytes."""
    if algorithm != "c4":
        return bytes.fromhex(value)
    number = 0
    for character in value[2:]:
        number = number * 58 + _C4_CHARSET.index(character)
    return number.to_bytes(64, "big")

"""Collision-resistant digests (SHA-256 or BLAKE3) beside the ledger's xxh3-128: for an approval
(`approve --strong`) and for a finalize's manifest (`finalize --strong`), computed in the same
read as xxh3-128.

xxh3-128 identifies content at disk speed and catches every accidental change, but it is not
built to resist a second file deliberately crafted to have the same digest. A strong digest
binds an approval to the bytes that were approved, and a manifest to the bytes delivered, so
that such a file is told apart: a finalize with `--strong` refuses a delivered version whose
bytes an approval's strong digest does not describe (`approval-bytes-differ`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from provenance.deliveries import read_delivery
from provenance.digests import (
    STRONG_ALGORITHMS,
    FileDigests,
    aggregate,
    check_algorithms,
    digest_file,
    digest_files,
)
from provenance.errors import ProvenanceError
from provenance.fingerprint import ALGORITHM, Hasher, is_cache_trusted
from provenance.obligations import VersionFacts
from provenance.policy import Finding, Policy, Severity
from provenance.records import display_path
from provenance.scan import StatFingerprint
from provenance.stat_cache import CacheRefresh

__all__ = [
    "RULE",
    "StrongReading",
    "add_strong_digests",
    "approval_mismatches",
    "manifest_strong_digest",
    "read_delivery_strong",
    "settle_strong",
    "strong_algorithm",
]


RULE = "approval-bytes-differ"


def strong_algorithm(name: str) -> str:
    """A collision-resistant algorithm a person named (sha256 or blake3)."""
    if name not in STRONG_ALGORITHMS:
        raise ProvenanceError(
            f"--strong takes {' or '.join(STRONG_ALGORITHMS)}, not {name!r}: xxh3-128 is the "
            "ledger's own digest; the strong one is collision-resistant."
        )
    return check_algorithms([name])[0]


@dataclass(frozen=True)
class StrongReading:
    """Every file of a delivery read once for xxh3-128 and a strong digest (`finalize
    --strong`): what `finalizer.check_delivery` is given as `prior`, and the strong digests."""

    prior: dict[bytes, tuple[str, StatFingerprint, int]]
    refresh: CacheRefresh
    files_read: int
    bytes_read: int
    strong: dict[bytes, tuple[str, StatFingerprint]]
    """path -> (strong digest, the stat of the bytes it is of)."""
    algorithm: str


def read_delivery_strong(
    source: bytes,
    hasher: Hasher,
    algorithm: str,
    progress: Callable[[int, int, int], None] | None = None,
) -> StrongReading:
    """Read every file of a delivery once, for both digests (outside the write lock, trusting
    no row of the ledger, as `finalizer.read_every_file` does)."""
    recorded_ns = time.time_ns()
    delivery = read_delivery(source)
    paths = [f.path for f in delivery.files]
    if delivery.manifest is not None:
        paths.append(delivery.manifest.path)
    found = digest_files(
        hasher,
        paths,
        [ALGORITHM, algorithm],
        None if progress is None else lambda files, size: progress(files, size, size),
    )
    prior = {}
    strong = {}
    total = 0
    for item in found:
        if item.digests is None or item.stat is None:
            continue  # (the check reads it again and says why it cannot)
        prior[item.path] = (item.tagged(ALGORITHM), item.stat, recorded_ns)
        strong[item.path] = (item.tagged(algorithm), item.stat)
        total += item.stat.size
    return StrongReading(
        prior, CacheRefresh([], {}, recorded_ns), len(prior), total, strong, algorithm
    )


def settle_strong(
    reading: StrongReading, delivered: Iterable[tuple[bytes, str]], racy_window_ns: int
) -> dict[bytes, str]:
    """The strong digest of each delivered file (path, the xxh3-128 the check settled on): from
    the reading when the check trusted that reading too (the file has not moved since, and did
    not change within the racy window before it), else read again now (under the write lock),
    and then its xxh3-128 must be the one the check recorded."""
    settled = {}
    for path, digest in delivered:
        earlier = reading.strong.get(path)
        try:
            now = StatFingerprint.of(os.lstat(path))
        except OSError:
            now = None
        if (
            earlier is not None
            and now is not None
            and reading.prior[path][0] == digest
            and is_cache_trusted(earlier[1], reading.prior[path][2], now, racy_window_ns)
        ):
            settled[path] = earlier[0]
            continue
        again: FileDigests = digest_file(path, [ALGORITHM, reading.algorithm])
        if again.digests is None or again.tagged(ALGORITHM) != digest:
            raise ProvenanceError(
                f"{display_path(path)} changed while the delivery was finalized: nothing was "
                "marked final. Finalize again when it has stopped changing."
            )
        settled[path] = again.tagged(reading.algorithm)
    return settled


def approval_mismatches(
    versions: Mapping[int, VersionFacts],
    delivered: Mapping[int, Sequence[tuple[int | None, str]]],
    approvals: Mapping[int, Sequence[tuple[str, str]]],
    policy: Policy,
) -> list[Finding]:
    """A delivered version, delivered whole, that an approval covers by a strong digest of the
    same algorithm, must have the bytes that digest describes. `delivered`: version -> (frame,
    strong digest) of each of its delivered files; `approvals`: version -> (ref, strong digest)
    of its approvals that carry one."""
    severity = policy.severity(RULE)
    if severity is Severity.OFF:
        return []
    found = []
    for version_id, recorded in approvals.items():
        files = delivered.get(version_id)
        version = versions.get(version_id)
        if not files or version is None or len(files) != version.members:
            continue  # (a part of it delivered: its digest cannot be compared)
        members = sorted(files, key=lambda f: (f[0] is None, f[0] or 0))
        for ref, strong in recorded:
            algorithm = strong.partition(":")[0]
            if files[0][1].partition(":")[0] != algorithm:
                continue
            now = aggregate(algorithm, members)
            if now != strong:
                found.append(
                    Finding(
                        RULE,
                        severity,
                        version.name,
                        (),
                        f"{version.label} is delivered with bytes whose {algorithm} ({now}) is "
                        f"not the one approval {ref} recorded ({strong}), though their xxh3-128 "
                        "is: a file crafted to collide with the approved one.",
                        "Deliver the approved bytes; investigate how these were made. Nothing "
                        "approved these bytes.",
                        {
                            "version": version.number,
                            "approval": ref,
                            "recorded": strong,
                            "now": now,
                        },
                    )
                )
    return found


def add_strong_digests(
    document: dict[str, Any], home: bytes, algorithm: str, strong: Mapping[bytes, str]
) -> None:
    """Each file of a manifest document gains its strong digest (under the algorithm's name)."""
    document["strong_algorithm"] = algorithm
    for item in document["files"]:
        path = os.path.join(home, os.fsencode(item["path"]))
        item[algorithm] = strong[path]


def manifest_strong_digest(path: bytes, algorithm: str) -> str:
    """The strong digest of a manifest as written (what the `finalize.manifest` event records
    beside its xxh3-128)."""
    found = digest_file(path, [algorithm])
    if found.digests is None:
        raise ProvenanceError(f"Cannot read the manifest just written ({found.problem}).")
    return found.tagged(algorithm)

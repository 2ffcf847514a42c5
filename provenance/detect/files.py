"""Run every detector over a file (`detect_file`), or over many in threads (`detect_files`): the
C2PA and metadata readers, the installed plug-ins (`provenance.detect.plugins`), the prints.

An ingest has its hashing workers call `detect_file` right after hashing each asset's first
member (`fingerprint.hash_chunk`); the threads serve what they did not read (a version made of
files the stat cache vouched for) and a sweep's untracked or changed files. The readers spend
much of their time in C and Rust (Pillow's decoders, numpy, the c2pa library through ctypes),
which release the GIL."""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from provenance.detect import Signal
from provenance.detect.c2pa import read_c2pa
from provenance.detect.metadata import read_metadata
from provenance.detect.perceptual import ImagePrints, image_prints
from provenance.detect.plugins import plugin_signals

__all__ = ["Detection", "detect_file", "detect_files"]


# Below this many files a pool costs more than it saves.
_POOL_MIN_FILES = 4


@dataclass(frozen=True)
class Detection:
    """What one file says about itself, and its perceptual prints (None: not an image type)."""

    path: bytes
    signals: tuple[Signal, ...]
    prints: ImagePrints | None
    """What the ledger records and what the file is looked up by; or why it has no print."""

    @property
    def unprintable(self) -> str | None:
        """Why an image has no print ("blank: one flat colour", "cannot be decoded" ...)."""
        return self.prints.problem if self.prints is not None else None


def detect_file(path: bytes) -> Detection:
    signals = (*read_c2pa(path), *read_metadata(path), *plugin_signals(path))
    return Detection(path, signals, image_prints(path))


def detect_files(paths: Sequence[bytes], workers: int | None = None) -> list[Detection]:
    """Detections in the order of `paths`."""
    if len(paths) < _POOL_MIN_FILES:
        return [detect_file(path) for path in paths]
    threads = max(1, min(workers or os.cpu_count() or 1, len(paths)))
    with ThreadPoolExecutor(threads, "provenance-detect") as pool:
        return list(pool.map(detect_file, paths))

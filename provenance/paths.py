"""Path arguments of the public API: a str, bytes (a name that is not UTF-8) or a PathLike."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TypeAlias

from provenance.errors import ProvenanceError

__all__ = ["PathArg", "as_bytes", "as_path", "as_target"]


PathArg: TypeAlias = "str | bytes | os.PathLike[str] | os.PathLike[bytes]"
"""A path as the public API takes it: text, bytes (a name that is not UTF-8), or a Path."""


def as_path(value: PathArg, what: str = "a path") -> Path:
    """A path argument of the public API as a Path (a name that is not UTF-8 round-trips)."""
    return Path(os.fsdecode(_fspath(value, what)))


def as_bytes(value: PathArg, what: str = "a path") -> bytes:
    """A path argument of the public API as bytes, as the library handles paths."""
    return os.fsencode(_fspath(value, what))


def as_target(value: PathArg, what: str = "a target") -> str:
    """A target (a path, a pattern or a digest) of the public API as text."""
    return os.fsdecode(_fspath(value, what))


def _fspath(value: object, what: str) -> str | bytes:
    try:
        path: str | bytes = os.fspath(value)  # type: ignore[call-overload]
    except TypeError:
        raise ProvenanceError(
            f"{what[:1].upper()}{what[1:]} must be a str, bytes or a path (pathlib.Path), not "
            f"{type(value).__name__}."
        ) from None
    return path

"""Detectors a studio plugs in: callables registered under the `provenance.detectors` entry point
group, handed every image file an ingest or a sweep reads, returning signals.

For what no built-in reader can see (invisible watermarks such as SynthID or TrustMark need the
vendor's detector or model weights; an in-house classifier). A plug-in's signals are held to
what a plug-in may say: their source is `plugin:<entry point name>`, their evidence at most
`embedded` (never signed, never declared), their detail JSON; a plug-in that raises, or returns
something else than signals, gives a signal without origin that says so.
"""

from __future__ import annotations

import functools
import importlib.metadata
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from PIL import Image

from provenance.detect import Signal
from provenance.detect.sniff import READABLE_TYPES
from provenance.origins import Evidence

__all__ = [
    "ENTRY_POINT_GROUP",
    "DetectorInput",
    "image_extensions",
    "installed_detectors",
    "plugin_signals",
]


ENTRY_POINT_GROUP = "provenance.detectors"
SOURCE_PREFIX = "plugin:"
_MAX_SOURCE_CHARS = 40  # the signals table's column
_MAX_TEXT_CHARS = 500
_ALLOWED_EVIDENCE = (Evidence.EMBEDDED, Evidence.INFERRED)


@dataclass(frozen=True)
class DetectorInput:
    """The image handed to a plug-in."""

    path: bytes

    def open(self) -> Image.Image:
        """The image, opened with Pillow (decoded when its pixels are first used)."""
        return Image.open(os.fsdecode(self.path))


Detector = Callable[[DetectorInput], "Signal | Iterable[Signal] | None"]


@functools.lru_cache(maxsize=1)
def installed_detectors() -> tuple[tuple[str, Detector], ...]:
    """(entry point name, detector) of every installed plug-in, by name; loaded once a process.
    One that cannot be loaded is kept as a detector that reports why."""
    found: list[tuple[str, Detector]] = []
    for entry in sorted(
        importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name
    ):
        try:
            detector = entry.load()
        except Exception as exc:
            detector = _cannot_load(exc)
        found.append((entry.name, detector))
    return tuple(found)


@functools.lru_cache(maxsize=1)
def image_extensions() -> frozenset[bytes]:
    """The types handed to plug-ins: those Pillow opens that a sweep reads (not PostScript,
    which Pillow renders by running Ghostscript)."""
    registered = {e.lower().encode() for e in Image.registered_extensions()}
    return frozenset(registered & READABLE_TYPES)


def plugin_signals(path: bytes) -> list[Signal]:
    """What the installed plug-ins say about an image file (none for any other type)."""
    detectors = installed_detectors()
    if not detectors or os.path.splitext(path)[1].lower() not in image_extensions():
        return []
    subject = DetectorInput(path)
    signals: list[Signal] = []
    for name, detect in detectors:
        try:
            result = detect(subject)
            signals.extend(_held_to_rules(name, result))
        except Exception as exc:
            signals.append(_failed(name, f"{type(exc).__name__}: {exc}"))
    return signals


def _held_to_rules(name: str, result: object) -> list[Signal]:
    if result is None:
        return []
    returned = [result] if isinstance(result, Signal) else list(_iterable(result))
    held = []
    for signal in returned:
        if not isinstance(signal, Signal):
            return [_failed(name, f"returned {type(signal).__name__}, not a Signal")]
        held.append(
            replace(
                signal,
                source=(SOURCE_PREFIX + name)[:_MAX_SOURCE_CHARS],
                evidence=signal.evidence
                if signal.evidence in _ALLOWED_EVIDENCE
                else Evidence.INFERRED,
                summary=str(signal.summary)[:_MAX_TEXT_CHARS] or f"{name} found something",
                tool=str(signal.tool)[:_MAX_TEXT_CHARS] if signal.tool else None,
                detail=_json_detail(signal.detail),
                ingredients=(),
            )
        )
    return held


def _json_detail(detail: object) -> dict[str, Any]:
    value = json.loads(json.dumps(detail, default=str))
    return value if isinstance(value, dict) else {"value": value}


def _iterable(result: object) -> Iterable[Any]:
    if isinstance(result, (str, bytes)) or not isinstance(result, Iterable):
        return [result]
    return result


def _failed(name: str, why: str) -> Signal:
    return Signal(
        source=(SOURCE_PREFIX + name)[:_MAX_SOURCE_CHARS],
        origin=None,
        evidence=Evidence.INFERRED,
        summary=f"detector plug-in {name} failed: {why}"[:_MAX_TEXT_CHARS],
        detail={"failed": why[:_MAX_TEXT_CHARS]},
    )


def _cannot_load(exc: Exception) -> Detector:
    def report(_: DetectorInput) -> None:
        raise RuntimeError(f"it cannot be loaded ({type(exc).__name__}: {exc})")

    return report

"""Delivered files as resolved against the ledger: the rows the policy judges (`FileFacts`,
`SequenceFacts`), and how a frame whose bytes many assets hold is told apart by the rest of its
sequence (`pick_by_context`).

Pure: the store builds these rows and the policy reads them, and neither needs the other for it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

__all__ = ["FileFacts", "SequenceFacts", "pick_by_context"]


class FileFacts(NamedTuple):
    """One delivered file, as resolved against the ledger."""

    path: str
    digest: str | None
    version: int | None = None
    """The asset version it is (by its path, its bytes, or its sequence's other frames)."""
    frame: int | None = None
    changed: bool = False
    """It stands where `version` has other bytes (`recorded_digest`), or none."""
    recorded_digest: str | None = None
    holders: tuple[int, ...] = ()
    """Several assets hold its bytes and nothing picked one: it answers to each of them."""
    problem: str | None = None
    """Why there is no digest: `missing`, or why the file could not be read."""
    signals: tuple[str, ...] = ()
    """For a file the ledger does not hold as it is: the generation it says it came from."""
    near_ai: tuple[str, ...] = ()
    """For a file the ledger does not hold as it is: generated material it looks like."""
    unreadable_credentials: tuple[str, ...] = ()
    """For a file the ledger does not hold as it is: why its content credentials could not
    be read."""
    near_ai_matches: tuple[Mapping[str, Any], ...] = ()
    """`near_ai` as fields (asset, version, distance, threshold, which print matched)."""
    unprintable: str | None = None
    """For such a file that is an image: why it has no perceptual print."""
    metadata_unread: tuple[str, ...] = ()
    """For a file the ledger does not hold as it is: what its metadata held that was too large
    to read, with the limits."""


@dataclass(frozen=True)
class SequenceFacts:
    """A delivered sequence and the frames missing inside the range the delivery names."""

    pattern: str
    missing: tuple[int, ...]


def pick_by_context(resolved: Sequence[int | None], spans: Iterable[range]) -> dict[int, int]:
    """file index -> the version most of its delivered sequence's resolved frames resolve to.

    A black frame or a slate is held by many assets; which one a delivered frame is, is what
    the rest of its sequence says (`resolved[i]`: the version file i resolved to on its own,
    None when its bytes and path did not settle it)."""
    picks: dict[int, int] = {}
    for span in spans:
        if len(span) < 2:
            continue
        counts = Counter(v for v in (resolved[i] for i in span) if v is not None)
        if not counts:
            continue
        version, count = counts.most_common(1)[0]
        if count * 2 > sum(counts.values()):
            picks.update(dict.fromkeys(span, version))
    return picks

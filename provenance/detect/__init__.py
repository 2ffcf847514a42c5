"""What files say about themselves: content credentials, XMP, generator metadata.

Every reader returns `Signal`s and never raises on a malformed file: a file that
cannot be parsed carries no signal (a stripped file carries nothing either, which
is why a missing signal never counts as evidence of human work).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from provenance.origins import Evidence, Origin

__all__ = [
    "DETAIL_DISTANCE",
    "METADATA_UNREAD",
    "NEAR_AI_DISTANCE",
    "PRINT_BITS",
    "UNREADABLE",
    "UNREADABLE_REASONS",
    "Signal",
    "credentials_unreadable",
    "metadata_unread",
]


PRINT_BITS = 64
"""The width of a perceptual print (`provenance.detect.perceptual`)."""
NEAR_AI_DISTANCE = 8
"""A file whose print is within this many bits of a known AI asset's print (and within
DETAIL_DISTANCE of its detail print) is flagged `near-ai-copy`.

Chosen on the corpus of tests/detect/test_perceptual.py (its docstring has the numbers): within 8
bits, 99% of single disguises are caught (93% of 5% crops, the hardest) and no unrelated
image comes near an AI image (the nearest of 800 was 12 bits away). 10 bits would catch 96%
of crops, but leave two bits of margin to the unrelated images instead of four, and widen
the index's probe radius from 2 to 3 bits (7 times the probes). Distances between prints are
even: the median split sets exactly 32 bits of each."""
DETAIL_DISTANCE = 48
"""... and within this many of the 255 bits of its detail print (after alignment).

Chosen on the corpus of tests/detect/test_perceptual.py: disguised copies measure 0-30 bits from
their source (mirrored, re-encoded and graded copies 0-8), unrelated photograph-like
pictures whose 64-bit prints came within 8 bits measure 64 or more; random pairs 127."""


@dataclass(frozen=True)
class Signal:
    """One piece of provenance found inside a file (or in its `.c2pa` sidecar)."""

    source: str
    """Which reader found it: "c2pa", "c2pa-sidecar", "xmp", a generator's reader ("a1111",
    "comfyui", "novelai", "swarmui" ...: docs/detection.md lists them), "perceptual", or
    "plugin:<name>" for a detector plug-in."""
    origin: Origin | None
    """The origin the signal implies; None when it only informs (a valid manifest with no AI action)."""
    evidence: Evidence
    """EMBEDDED_SIGNED for a C2PA manifest whose signature validates; INFERRED for what is
    guessed (a perceptual match, a ComfyUI workflow without its prompt, a plug-in may say so);
    EMBEDDED otherwise."""
    summary: str
    """One line a person reads in `provenance show`."""
    tool: str | None = None
    """The generator or software agent named by the file, if any ("Adobe Firefly", "ComfyUI")."""
    detail: dict[str, Any] = field(default_factory=dict)
    """JSON-serialisable facts: claim generator, signer, validation state, action list, prompt excerpt ..."""
    ingredients: tuple[str, ...] = ()
    """Titles of C2PA ingredients: hints for lineage, never lineage themselves."""


UNREADABLE = "unreadable"
"""The detail key of a C2PA signal whose credentials are there but could not be read."""
UNREADABLE_REASONS = {
    "remote-manifest": "the manifest is remote and reading never fetches it",
    "prerelease": "the manifest is in a prerelease C2PA format the reader refuses",
    "unsupported-algorithm": "the signature uses an algorithm the reader does not support",
    "unparseable": "the manifest store cannot be parsed",
}
"""Why credentials could not be read, by the value of `detail["unreadable"]`."""


METADATA_UNREAD = "metadata_unread"
"""The detail key of the `metadata` signal of a file whose metadata was too large to read (a list
of what was not read); `"limits"` names the limits."""


def metadata_unread(detail: Mapping[str, Any]) -> str | None:
    """What a file's metadata held that was too large to read, with the limits, or None: what
    the policy's `metadata-unread` rule reports."""
    unread = detail.get(METADATA_UNREAD)
    if not isinstance(unread, list) or not unread:
        return None
    limits = detail.get("limits")
    said = f" (limits: {limits})" if isinstance(limits, str) and limits else ""
    return "; ".join(str(item) for item in unread) + said


def credentials_unreadable(detail: Mapping[str, Any]) -> str | None:
    """Why a signal's content credentials could not be read (naming a remote manifest's URL),
    or None when they were read: what the policy's `credentials-unreadable` rule reports."""
    kind = detail.get(UNREADABLE)
    if not isinstance(kind, str):
        return None
    reason = UNREADABLE_REASONS.get(kind, kind)
    url = detail.get("remote_url")
    if isinstance(url, str) and url:
        return f"{reason}: {url}"
    error = detail.get("error")
    if kind == "unparseable" and isinstance(error, str) and error:
        return f"{reason} ({error})"
    return reason

"""How much of a file the metadata readers read, and how much of what they read a signal keeps.

Every size `provenance.detect.metadata` reads is capped: one text chunk, EXIF value or XMP
packet, the sum of a file's metadata after inflation, the chunks walked; and every string put
into a signal's detail is clipped to an excerpt.
"""

from __future__ import annotations

__all__ = [
    "EXCERPT_CHARS",
    "MAX_CHUNKS",
    "MAX_PAYLOAD_BYTES",
    "MAX_TOTAL_BYTES",
    "clip",
    "excerpt",
    "metadata_limits",
]


MAX_PAYLOAD_BYTES = 8 << 20
"""Largest single text chunk, EXIF value or XMP packet read, stored or inflated (ComfyUI graphs
run to a few hundred KiB; larger ones are skipped, not truncated)."""

MAX_TOTAL_BYTES = 32 << 20
"""Largest sum of metadata read from one file, after inflation."""

MAX_CHUNKS = 1 << 16
"""Chunks, segments or IFD entries walked before giving up on the rest of a file."""

EXCERPT_CHARS = 200
"""Longest prompt excerpt (and longest string of any kind) put into a signal's detail."""


def metadata_limits() -> str:
    """The limits, as a finding names them."""
    return (
        f"{MAX_PAYLOAD_BYTES >> 20} MiB a text chunk, EXIF value or XMP packet; "
        f"{MAX_TOTAL_BYTES >> 20} MiB of metadata a file; {MAX_CHUNKS:,} chunks"
    )


def clip(value: object) -> str | None:
    if value is None:
        return None
    return str(value).strip()[:EXCERPT_CHARS] or None


def excerpt(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    return clip(" ".join(value.split()))

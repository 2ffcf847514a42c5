"""Which files are worth handing to the detectors, decided without loading them.

The readers bring numpy, Pillow and the c2pa library (a fifth of a second to import) and cost
tens of microseconds a file even when they find nothing. Most files of a show (scene files,
caches, geometry) carry nothing they read, and a frame that is not what its name says cannot be
parsed by them either: these are settled here, by name and by the first bytes, which the
hashing worker has just read anyway.
"""

from __future__ import annotations

import os
from collections.abc import Collection

SIDECAR = b".c2pa"

# Types some reader looks inside: images Pillow decodes (perceptual prints, XMP, generator
# chunks), OpenEXR frames (prints, sidecars), and what the C2PA library reads.
READABLE_TYPES = frozenset(
    {
        # images
        b".png", b".jpg", b".jpeg", b".jpe", b".jfif", b".tif", b".tiff", b".webp", b".gif",
        b".bmp", b".dib", b".tga", b".psd", b".dds", b".dpx", b".exr", b".hdr", b".jp2",
        b".j2k", b".jpx", b".jpf", b".qoi", b".ppm", b".pgm", b".pbm", b".pnm", b".sgi",
        b".rgb", b".rgba", b".bw", b".pcx", b".ico", b".avif", b".heic", b".heif",
        # C2PA containers beyond images
        b".mov", b".mp4", b".m4v", b".m4a", b".wav", b".mp3", b".pdf", b".svg", b".arw",
        b".nef", b".dng",
    }
)  # fmt: skip

# How the readable types start. A file that starts as none of these holds nothing a reader
# could parse (random bytes named .exr, a truncated frame).
_MAGIC = (
    b"\xff\xd8\xff",  # JPEG
    b"\x89PNG\r\n\x1a\n",
    b"GIF8",
    b"II*\x00",  # TIFF (and DNG, NEF, ARW)
    b"MM\x00*",
    b"BM",
    b"8BPS",  # Photoshop
    b"SDPX",  # DPX
    b"XPDS",
    b"DDS ",
    b"#?RADIANCE",
    b"#?RGBE",
    b"\x76\x2f\x31\x01",  # OpenEXR
    b"\x00\x00\x00\x0cjP  ",  # JPEG 2000
    b"\xff\x4f\xff\x51",
    b"qoif",
    b"%PDF",
    b"ID3",  # MP3
    b"\xff\xfb",
    b"<?xml",
    b"<svg",
    b"\x01\xda",  # SGI
    b"P1", b"P2", b"P3", b"P4", b"P5", b"P6",  # netpbm
    b"\x00\x00\x01\x00",  # ICO
)  # fmt: skip
_BMFF_BOXES = frozenset({b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"uuid"})


def worth_reading(path: bytes, sidecars: Collection[bytes]) -> bool:
    """Whether any reader would look inside `path`: its type is one they read, or a `.c2pa`
    sidecar for it is among `sidecars`."""
    stem, dot, suffix = path.rpartition(b".")
    extension = (dot + suffix).lower() if dot and b"/" not in suffix else b""
    if extension == SIDECAR:
        return False
    if extension in READABLE_TYPES:
        return True
    if not sidecars:
        return False
    return (stem if extension else path) + SIDECAR in sidecars or path + SIDECAR in sidecars


def starts_like_readable(head: bytes) -> bool:
    """Whether a file's first bytes are those of a type some reader parses."""
    if head.startswith(_MAGIC):
        return True
    if head[:4] == b"RIFF" and head[8:12] in (b"WEBP", b"WAVE", b"AVI "):
        return True
    return head[4:8] in _BMFF_BOXES or (head[:2] == b"\x00\x00" and head[4:8] == b"ftyp")


def has_sidecar(path: bytes) -> bool:
    stem = os.path.splitext(path)[0]
    return os.path.isfile(stem + SIDECAR) or os.path.isfile(path + SIDECAR)


def could_carry(path: bytes) -> bool:
    """Whether the file starts as a type some reader parses, or has a `.c2pa` sidecar."""
    try:
        with open(path, "rb", buffering=0) as handle:
            head = handle.read(16)
    except OSError:
        return False
    return starts_like_readable(head) or has_sidecar(path)

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

__all__ = [
    "BMFF_FIRST_BOXES",
    "READABLE_TYPES",
    "SIDECAR",
    "could_carry",
    "sidecar_paths",
    "starts_like_readable",
    "worth_reading",
]


SIDECAR = b".c2pa"

# Types some reader looks inside: what Pillow decodes (perceptual prints, XMP, generator
# chunks), OpenEXR frames (prints, sidecars), and what the C2PA library reads. A test holds this
# to the readers' own lists, so that a type they learn is not left out here.
READABLE_TYPES = frozenset(
    {
        # images
        b".png", b".apng", b".jpg", b".jpeg", b".jpe", b".jfif", b".tif", b".tiff", b".webp",
        b".gif", b".bmp", b".dib", b".tga", b".psd", b".dds", b".dpx", b".exr", b".hdr",
        b".jp2", b".j2k", b".j2c", b".jpc", b".jpx", b".jpf", b".jxl", b".qoi", b".ppm",
        b".pgm", b".pbm", b".pnm", b".pfm", b".sgi", b".rgb", b".rgba", b".bw", b".pcx",
        b".ico", b".cur", b".icns", b".avif", b".avifs", b".heic", b".heif", b".xbm", b".xpm",
        b".blp", b".bufr", b".dcx", b".emf", b".wmf", b".fit", b".fits", b".flc", b".fli",
        b".ftc", b".ftu", b".gbr", b".grib", b".h5", b".hdf", b".icb", b".iim", b".im",
        b".msp", b".pcd", b".pxr", b".ras", b".vda", b".vst",
        # what the C2PA library reads beyond images
        b".mov", b".qt", b".mp4", b".mpg4", b".m4v", b".m4a", b".avi", b".mpg", b".mpeg",
        b".mp1", b".mp2", b".mpga", b".mpega", b".svgz", b".hif",
        b".wav", b".mp3", b".flac", b".pdf", b".svg", b".arw", b".nef", b".dng", b".zip",
        b".epub", b".oxps", b".docx", b".docm", b".xlsx", b".xlsm", b".pptx", b".pptm",
        b".odt", b".ott", b".ods", b".ots", b".odp", b".otp", b".odg", b".otg",
    }
)  # fmt: skip

# The types whose files start with one of the marks below. A file of one of these types that
# starts with none of them (random bytes named .exr, a truncated frame) holds nothing a reader
# could parse; other types (FITS, XBM ...) are left to the readers.
SNIFFED_TYPES = frozenset(
    {
        b".png", b".jpg", b".jpeg", b".jpe", b".jfif", b".tif", b".tiff", b".webp", b".gif",
        b".bmp", b".psd", b".dpx", b".exr", b".hdr", b".mov", b".qt", b".mp4", b".m4v",
        b".m4a", b".avif", b".heic", b".heif", b".wav", b".pdf",
    }
)  # fmt: skip

# How the readable types start.
_MAGIC = (
    b"\xff\xd8\xff",  # JPEG
    b"\x89PNG\r\n\x1a\n",
    b"GIF8",
    b"II*\x00",  # TIFF (and DNG, NEF, ARW)
    b"MM\x00*",
    b"II+\x00",  # BigTIFF
    b"MM\x00+",
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
BMFF_FIRST_BOXES = frozenset({b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"uuid"})


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


def starts_like_readable(head: bytes, extension: bytes) -> bool:
    """Whether a file's first bytes could be those of a type some reader parses: they are one of
    the marks above (whatever the name says: a PNG renamed .jpg still reads), or its type
    (lower-case, with its dot) has no mark checked here."""
    if head.startswith(_MAGIC) or head[4:8] in BMFF_FIRST_BOXES:
        return True
    if head[:4] == b"RIFF" and head[8:12] in (b"WEBP", b"WAVE", b"AVI "):
        return True
    return extension not in SNIFFED_TYPES


def sidecar_paths(path: bytes) -> tuple[bytes, ...]:
    """Where a `.c2pa` sidecar for `path` may sit: `name.c2pa`, then `name.ext.c2pa`."""
    stem, extension = os.path.splitext(path)
    return (stem + SIDECAR, path + SIDECAR) if extension else (path + SIDECAR,)


def has_sidecar(path: bytes) -> bool:
    return any(os.path.isfile(candidate) for candidate in sidecar_paths(path))


def could_carry(path: bytes, head: bytes | None = None) -> bool:
    """Whether the file starts as a type some reader parses, or has a `.c2pa` sidecar. `head`:
    its first 16 bytes, when the caller has them (the hashing just read them)."""
    if head is None:
        try:
            with open(path, "rb", buffering=0) as handle:
                head = handle.read(16)
        except OSError:
            return False
    extension = os.path.splitext(path)[1].lower()
    return starts_like_readable(head, extension) or has_sidecar(path)

"""Perceptual prints: 64 bits of how an image looks, that survive re-encoding, resizing, small crops and grades.

Pure: reads one file, returns ints; never touches the ledger and never raises on a bad file
(a file that cannot be decoded, or shows nothing but a flat colour, has no print).

The print is a DCT hash (the family of pHash): the luma, area-averaged down to 32 x 32,
tapered at its borders, goes through a 2-D DCT; the 64 lowest frequencies after the DC term
(in zig-zag order) each give one bit, set when the coefficient is above their median. Over
the grades of a colourist (gamma, contrast, saturation, tint, to grayscale) and re-encodes the
low frequencies keep their order, so few bits flip. A crop moves every frequency's phase, so a
file being looked up is also printed as if it were a crop (`ImagePrints.as_crop`): placed in a
frame 5% larger at nine positions, the margin filled with its mean; one of the nine is close
to the print of the uncropped frame. The border taper keeps that made-up margin (and the
strip a crop removes) from weighing on the low frequencies. Measured on the corpus of
tests/test_perceptual.py; the numbers are in its module docstring.

Prints are kept as signed 64-bit integers, what a PostgreSQL BIGINT holds: the unsigned
64-bit pattern u is stored as u - 2**64 when its top bit is set (`to_signed`); `hamming` and
`bands` take either form.
"""

from __future__ import annotations

import functools
import itertools
import math
import os
from dataclasses import dataclass
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt
from PIL import Image

from provenance.detect import NEAR_AI_DISTANCE, PRINT_BITS

__all__ = ["NEAR_AI_DISTANCE", "PRINT_BITS", "ImagePrints", "image_prints", "perceptual_print"]

Array = npt.NDArray[np.float64]
PathArg = bytes | str | os.PathLike[str] | os.PathLike[bytes]
"""A path as the scanner gives it (bytes), or as a person or a DCC hook does."""

BANDS = 3
"""The index cuts a print into 3 bands of 22, 21 and 21 bits (see `bands`)."""
BAND_WIDTHS = (22, 21, 21)
BAND_OFFSETS = (0, 22, 43)
MASK = (1 << PRINT_BITS) - 1

SIDE = 32
"""The luma is area-averaged down to SIDE x SIDE before the DCT."""
WORKING_AREA = 128 * 128
"""Pixels kept when decoding (JPEG draft, then integer box reduction): the 32 x 32 cells are
averaged exactly from them, so more buys nothing that the corpus measures; fewer keeps each
matrix product below the size at which OpenBLAS hands it to threads (which cost 15 times
more than the product itself on a busy machine)."""
TAPER = 0.1
"""Share of each border that is faded out (raised cosine) before the DCT."""
CROP = 0.05
"""The crop a lookup allows for: the file is also printed as 95% (each axis) of a frame."""
CROP_POSITIONS = (0.0, 0.5, 1.0)
"""Where the file may sit in that frame, horizontally and vertically (3 x 3 positions)."""
FLAT_RMS = 0.5
"""Below this root mean square of the 64 coefficients (8-bit levels) a frame is flat: no print.
A smooth frame with a standard deviation of s levels measures about 4 s; film grain on black
averages out to a few hundredths."""

# Formats Pillow may open for a print: all it can read except EPS, which runs Ghostscript.
_REFUSED_FORMATS = frozenset({"EPS"})


@dataclass(frozen=True)
class ImagePrints:
    """The print of a file, and its prints as if it were a crop of a larger frame."""

    value: int
    """What the ledger stores (signed 64-bit)."""
    as_crop: tuple[int, ...]
    """Looked up, never stored: the file placed in a frame 5% larger at 3 x 3 positions."""

    @property
    def lookups(self) -> tuple[int, ...]:
        """Every print to look up for this file: its own first."""
        return (self.value, *self.as_crop)


def perceptual_print(path: PathArg) -> int | None:
    """The print of an image file (signed 64-bit), or None when it is not one or has no content."""
    luma = read_luma(path)
    return None if luma is None else print_of_luma(luma)


def image_prints(path: PathArg) -> ImagePrints | None:
    """The print of an image file and its prints as a crop, decoding it once."""
    luma = read_luma(path)
    return None if luma is None else prints_of_luma(luma)


def print_of_luma(luma: npt.NDArray[Any]) -> int | None:
    """The print of a luma array (any size; levels of 0-255 for the flatness test)."""
    centred, height, width = _centred(luma)
    return _print(_area_weights(height, height, 0.0), centred, _area_weights(width, width, 0.0))


def prints_of_luma(luma: npt.NDArray[Any]) -> ImagePrints | None:
    """The print of a luma array and its prints as a crop."""
    centred, height, width = _centred(luma)
    value = _print(_area_weights(height, height, 0.0), centred, _area_weights(width, width, 0.0))
    if value is None:
        return None
    rows = [_area_weights(height, height / (1 - CROP), at) for at in CROP_POSITIONS]
    cols = [_area_weights(width, width / (1 - CROP), at) for at in CROP_POSITIONS]
    as_crop = (_print(row, centred, col) for row, col in itertools.product(rows, cols))
    return ImagePrints(value, tuple(found for found in as_crop if found is not None))


def hamming(a: int, b: int) -> int:
    """Bits that differ between two prints (signed or unsigned)."""
    return ((a ^ b) & MASK).bit_count()


def to_signed(value: int) -> int:
    """The unsigned 64-bit pattern as the signed integer a BIGINT column holds."""
    value &= MASK
    return value - (1 << PRINT_BITS) if value >> (PRINT_BITS - 1) else value


def to_unsigned(value: int) -> int:
    return value & MASK


def bands(value: int) -> tuple[int, ...]:
    """The print cut into its BANDS bands (band 0 holds the lowest bits).

    Frequency i (lowest first) is in band i % 3: every band spans the low and the higher
    frequencies alike, so no band is the one that crops and grades disturb most, nor the one
    on which unrelated images agree most. Three bands rather than four: the pigeonhole radius
    at NEAR_AI_DISTANCE is 2 either way (8 // 3 == 8 // 4), and 21-bit bands return 32 times
    fewer candidates a probe than 16-bit ones (measured in bench/perceptual.py).
    """
    unsigned = value & MASK
    return tuple(
        (unsigned >> offset) & ((1 << width) - 1)
        for offset, width in zip(BAND_OFFSETS, BAND_WIDTHS, strict=True)
    )


def probe_radius(max_distance: int) -> int:
    """Pigeonhole: prints within max_distance agree within this many bits on at least one band."""
    return max(0, max_distance) // BANDS


def band_probes(band: int, band_value: int, radius: int) -> list[int]:
    """Every value of band `band` within `radius` bits of `band_value`, itself first."""
    return [band_value ^ flip for flip in _flips(BAND_WIDTHS[band], radius)]


@functools.cache
def _flips(width: int, radius: int) -> tuple[int, ...]:
    return tuple(
        sum(1 << bit for bit in bits)
        for count in range(radius + 1)
        for bits in itertools.combinations(range(width), count)
    )


# -- the hash -----------------------------------------------------------------------------------


def _dct_rows(count: int, n: int) -> Array:
    """The first `count` rows of the orthonormal DCT-II matrix of size n."""
    k = np.arange(count)[:, None]
    x = np.arange(n)[None, :]
    matrix = np.cos(np.pi * (2 * x + 1) * k / (2 * n)) * np.sqrt(2 / n)
    matrix[0] /= np.sqrt(2)
    rows: Array = matrix
    return rows


def _zigzag(count: int) -> list[tuple[int, int]]:
    """The `count` lowest frequencies after DC: by u + v, then nearest the diagonal."""
    cells = [(u, v) for u in range(SIDE) for v in range(SIDE) if 0 < u + v <= 12]
    cells.sort(key=lambda c: (c[0] + c[1], abs(c[0] - c[1]), c))
    return cells[:count]


_FREQUENCIES = _zigzag(PRINT_BITS)
_ROWS = np.array([u for u, _ in _FREQUENCIES])
_COLS = np.array([v for _, v in _FREQUENCIES])
# Frequency i (lowest first) is bit i // BANDS of band i % BANDS.
_BIT_VALUES = [1 << (BAND_OFFSETS[i % BANDS] + i // BANDS) for i in range(PRINT_BITS)]


def _taper() -> Array:
    t = (np.arange(SIDE) + 0.5) / SIDE
    edge = np.clip(np.minimum(t, 1 - t) / TAPER, 0.0, 1.0)
    window: Array = 0.5 - 0.5 * np.cos(np.pi * edge)
    return window


# DCT rows of the tapered 32-sample axis: the window is separable, so it folds into them.
_ANALYSIS: Array = _dct_rows(max(max(_ROWS), max(_COLS)) + 1, SIDE) * _taper()[None, :]


@functools.lru_cache(maxsize=256)
def _area_weights(size: int, frame: float, position: float) -> Array:
    """(SIDE, size) weights: the mean of each of SIDE equal cells of a frame `frame` pixels long,
    in which the `size` pixels of the image start at `position` * (frame - size); pixels
    outside the image count as 0 (the mean, once the luma is centred)."""
    start = position * (frame - size)
    cell = frame / SIDE
    lo = np.arange(SIDE)[:, None] * cell - start
    pixel = np.arange(size)[None, :]
    overlap = np.minimum(lo + cell, pixel + 1) - np.maximum(lo, pixel)
    weights: Array = _ANALYSIS @ (np.clip(overlap, 0.0, None) / cell)
    weights.setflags(write=False)
    return weights


def _centred(luma: npt.NDArray[Any]) -> tuple[Array, int, int]:
    # Centred, the margin of a frame made larger for a crop is the mean: zeros.
    centred: Array = np.asarray(luma, dtype=np.float64)
    centred = centred - centred.mean()
    height, width = centred.shape
    return centred, height, width


def _print(rows: Array, centred: Array, cols: Array) -> int | None:
    # `rows` and `cols` already hold the area average, the taper and the DCT of their axis.
    coefficients = (rows @ centred @ cols.T)[_ROWS, _COLS]
    if float(np.sqrt(np.mean(coefficients**2))) < FLAT_RMS:
        return None
    above = coefficients > np.median(coefficients)
    return to_signed(sum(bit for bit, on in zip(_BIT_VALUES, above, strict=True) if on))


# -- decoding -----------------------------------------------------------------------------------


@functools.cache
def _pillow_formats() -> tuple[tuple[str, ...], frozenset[bytes]]:
    """The formats Pillow may open here, and the file extensions that name them."""
    Image.init()
    formats = tuple(sorted(set(Image.OPEN) - _REFUSED_FORMATS))
    extensions = frozenset(
        os.fsencode(ext.lower())
        for ext, name in Image.registered_extensions().items()
        if name in formats
    )
    return formats, extensions


def is_printable(path: PathArg) -> bool:
    """Whether the extension names an image format that has prints (decided without reading)."""
    extension = os.path.splitext(os.fsencode(path))[1].lower()
    return extension == b".exr" or extension in _pillow_formats()[1]


def read_luma(path: PathArg) -> npt.NDArray[np.float32] | None:
    """The luma of an image at a reduced size, in 8-bit levels; None for anything else."""
    extension = os.path.splitext(os.fsencode(path))[1].lower()
    try:
        if extension == b".exr":
            return _exr_luma(path)
        formats, extensions = _pillow_formats()
        if extension not in extensions:
            return None
        # Opened once: its first bytes choose the formats, then Pillow reads it from the start.
        with open(os.fsencode(path), "rb") as handle:
            wanted = _formats_to_try(handle.read(16), extension, formats)
            handle.seek(0)
            return _pillow_luma(handle, wanted)
    except Exception:
        # Hostile and broken files raise anything (struct.error, IndexError, MemoryError ...
        # from the plugins): a file that cannot be decoded has no print.
        return None


# The leading bytes of the formats images usually arrive in. A file is tried as the format its
# extension names and, when its bytes start like another of these (a PNG renamed .jpg), as that
# one too; trying all of Pillow's 40-odd formats on every unreadable file costs 0.1-0.4 ms.
_MAGIC = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF8", "GIF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"BM", "BMP"),
    (b"8BPS", "PSD"),
    (b"SDPX", "DPX"),
    (b"XPDS", "DPX"),
    (b"DDS ", "DDS"),
    (b"#?RADIANCE", "HDR"),
    (b"\x00\x00\x00\x0cjP  ", "JPEG2000"),
    (b"\xff\x4f\xff\x51", "JPEG2000"),
)


def _formats_to_try(head: bytes, extension: bytes, formats: tuple[str, ...]) -> tuple[str, ...]:
    own = Image.registered_extensions().get(os.fsdecode(extension))
    sniffed = [name for magic, name in _MAGIC if head.startswith(magic)]
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        sniffed.append("WEBP")
    wanted = [name for name in (own, *sniffed) if name is not None and name in formats]
    return tuple(dict.fromkeys(wanted))


_HIGH_DEPTH_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I", "F"})


def _pillow_luma(stream: BinaryIO, formats: tuple[str, ...]) -> npt.NDArray[np.float32] | None:
    if not formats:
        return None
    # Past Image.MAX_IMAGE_PIXELS, Pillow warns that the image may be a decompression bomb
    # (past twice that it raises, which read_luma turns into None); it is not decoded here
    # either way. Silencing that warning would take catch_warnings, which is not thread-safe.
    with Image.open(stream, formats=formats) as image:
        if Image.MAX_IMAGE_PIXELS and image.width * image.height > Image.MAX_IMAGE_PIXELS:
            return None
        if image.format == "JPEG":
            # Decode at 1/2, 1/4 or 1/8 size straight from the DCT, luma only.
            factor = _reduction(*image.size)
            image.draft("L", (-(-image.width // factor), -(-image.height // factor)))
        factor = _reduction(*image.size)
        if image.mode in _HIGH_DEPTH_MODES:
            return _reduce(_high_depth_luma(image), factor)
        if image.mode not in ("L", "LA", "RGB", "RGBA"):
            image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
        if factor > 1:
            image = image.reduce(factor)
        if image.mode != "L":
            image = image.convert("L")
        return np.asarray(image, dtype=np.float32)


def _reduction(width: int, height: int) -> int:
    """The integer factor that brings an image to about WORKING_AREA pixels, keeping at least
    SIDE on its short side."""
    factor = math.ceil(math.sqrt(width * height / WORKING_AREA))
    return max(1, min(factor, min(width, height) // SIDE))


def _high_depth_luma(image: Image.Image) -> npt.NDArray[np.float32]:
    """16-bit and 32-bit integer or float pixels (one channel), brought to 8-bit levels."""
    values = np.asarray(image).astype(np.float32)
    if image.mode == "F":
        return values * 255.0
    return values / 257.0


def _reduce(values: npt.NDArray[np.float32], factor: int) -> npt.NDArray[np.float32]:
    """Box-average blocks of factor x factor (Pillow's reduce: 3 times numpy's reshape-mean)."""
    if factor <= 1:
        return values
    contiguous = np.ascontiguousarray(values, dtype=np.float32)
    height, width = contiguous.shape
    # frombuffer shares the array's memory: fromarray would copy it first.
    image = Image.frombuffer("F", (width, height), contiguous, "raw", "F", 0, 1)
    return np.asarray(image.reduce(factor), dtype=np.float32)


def _exr_luma(path: PathArg) -> npt.NDArray[np.float32] | None:
    try:
        import OpenEXR  # type: ignore[import-not-found]
    except ImportError:
        return None
    # Through a Python stream, so that paths which are not UTF-8 open too.
    with open(path, "rb") as stream:
        if stream.read(4) != b"\x76\x2f\x31\x01":  # not an OpenEXR file: no print
            return None
        stream.seek(0)
        with OpenEXR.File(stream, header_only=True) as header_only:
            (left, top), (right, bottom) = header_only.header()["dataWindow"]
        pixels = (int(right) - int(left) + 1) * (int(bottom) - int(top) + 1)
        if pixels <= 0 or (Image.MAX_IMAGE_PIXELS and pixels > Image.MAX_IMAGE_PIXELS):
            return None
        stream.seek(0)
        with OpenEXR.File(stream, separate_channels=True) as image:
            channels = {name: channel.pixels for name, channel in image.channels().items()}
    names = ("R", "G", "B") if all(name in channels for name in "RGB") else ("Y",)
    if names[0] not in channels:
        return None
    height, width = channels[names[0]].shape
    factor = _reduction(width, height)
    # Averaged in linear light, then shown as a viewer would: clamped and sRGB-encoded.
    shown = [_display(_reduce(channels[name].astype(np.float32), factor)) for name in names]
    if len(shown) == 1:
        return shown[0]
    red, green, blue = shown
    # The weights of Pillow's RGB to L, so that the EXR and an 8-bit copy of it agree.
    luma: npt.NDArray[np.float32] = 0.299 * red + 0.587 * green + 0.114 * blue
    return luma


def _display(linear: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Scene-linear values as 8-bit levels on an sRGB display: clamped to [0, 1], then encoded.

    Measured against a log2 curve: an EXR made by linearising an sRGB image prints within
    6 bits of the image this way (2 on average), within 12 (5 on average) through log2.
    """
    value = np.clip(np.nan_to_num(linear, nan=0.0, posinf=1.0, neginf=0.0), 0.0, 1.0)
    encoded = np.where(value <= 0.0031308, 12.92 * value, 1.055 * np.power(value, 1 / 2.4) - 0.055)
    levels: npt.NDArray[np.float32] = (encoded * 255.0).astype(np.float32)
    return levels

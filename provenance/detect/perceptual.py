"""Perceptual prints: how an image looks, in prints that survive re-encoding, resizing, grades,
mirroring, letterboxing, one-sided crops and overlays, and that tell unrelated pictures apart.

Pure: reads one file, returns dataclasses; never touches the ledger and never raises on a bad
file (a file that cannot be decoded, or shows nothing but one colour, has no print, and says why).

The method, `ALGORITHM` (recorded with every stored print, so that a later change can tell its
own prints from older ones and recompute them):

1. **What a viewer sees.** The luma at a reduced size (JPEG decoded at 1/2-1/8 scale, others
   box-reduced), an image with alpha composited on black and, separately, on white: a picture
   that lives in its alpha channel shows on one or the other.
2. **Borders removed.** Rows and columns at the edges that hold one constant colour (black, white
   or any other: letterbox, pillarbox, a frame put round the picture) are trimmed, and the
   picture inside them printed as one more region ("borderless"), on the stored file and on
   the file looked up alike. It is an addition, not a replacement: a smooth sky can pass for a
   border by a few rows, and trimming it differently in a copy would misalign every print.
3. **Regions.** The frame is printed whole and through twelve regions: the frame less 5% and
   less 10% on each side (a one-sided crop of the copy is then a whole frame of its own) and the four thirds
   at its edges (an overlay on 10% of a frame leaves at least one third untouched). Each region
   is averaged into 32 x 32 cells from a summed-area table, so a region costs microseconds.
4. **Two prints per region.** A 64-bit DCT hash (the family of pHash, Zauner 2010): the cells,
   tapered at their borders, through a 2-D DCT; each of the 64 lowest frequencies after the DC
   term gives one bit, set above their median. It is what the ledger indexes (three bands,
   probed within `NEAR_AI_DISTANCE` bits). And a 255-bit detail print made the way Meta's PDQ
   makes its 256 bits (64 x 64 cells, the 16 x 16 lowest DCT frequencies, a median split):
   photographs of the same composition (two valleys under two skies) agree on the 64 lowest
   frequencies far more often than on 255, so a match must also be within `DETAIL_DISTANCE`
   of the detail print, measured after a small alignment search (+-2% shift and scale).
5. **Looking up.** A file is looked up by the 64-bit prints of its whole frame, of its mirror
   image, and of its four thirds (`ImagePrints.queries`): the whole frame against the stored
   whole frames and one-sided crops, each third against the same third.

Why not PDQ itself (`pdqhash`): measured on the quality corpus of tests/detect/test_perceptual.py,
PDQ with its eight dihedral variants catches mirrored copies, re-encodes and grades, but no
letterboxed or 10%-cropped copy and 18% of overlaid ones; its 256-bit hash at its distance of
31 would need a 16-band index probing twice as many rows. Its detail-print construction is
kept, as a verification of the 64-bit match, computed on the same regions.

Prints are kept as signed 64-bit integers, what a PostgreSQL BIGINT holds: the unsigned
64-bit pattern u is stored as u - 2**64 when its top bit is set (`to_signed`); `hamming` and
`bands` take either form.
"""

from __future__ import annotations

import functools
import itertools
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt
from PIL import Image

from provenance.detect import DETAIL_DISTANCE, NEAR_AI_DISTANCE, PRINT_BITS

__all__ = [
    "ALGORITHM",
    "BANDS",
    "BAND_WIDTHS",
    "DESCRIBED",
    "DETAIL_BITS",
    "DETAIL_DISTANCE",
    "NEAR_AI_DISTANCE",
    "PRINT_BITS",
    "REGIONS",
    "ImagePrints",
    "QueryPrint",
    "StoredPrint",
    "band_probes",
    "bands",
    "hamming",
    "image_prints",
    "is_a_third",
    "is_printable",
    "perceptual_print",
    "probe_radius",
    "to_signed",
    "to_unsigned",
    "verify",
]


Array = npt.NDArray[np.float64]
PathArg = bytes | str | os.PathLike[str] | os.PathLike[bytes]
"""A path as the scanner gives it (bytes), or as a person or a DCC hook does."""

ALGORITHM = "dct64.2"
"""Recorded with every stored print. "dct64.1" was the whole-frame print alone, without border
trimming, regions or detail prints: such prints are never compared with these."""

BANDS = 3
"""The index cuts a print into 3 bands of 22, 21 and 21 bits (see `bands`)."""
BAND_WIDTHS = (22, 21, 21)
BAND_OFFSETS = (0, 22, 43)
MASK = (1 << PRINT_BITS) - 1

SIDE = 32
"""A region is area-averaged into SIDE x SIDE cells for its 64-bit print."""
DETAIL_SIDE = 64
"""... and into DETAIL_SIDE x DETAIL_SIDE cells for its detail print."""
DETAIL_FREQUENCIES = 16
"""The detail print takes the DETAIL_FREQUENCIES x DETAIL_FREQUENCIES lowest frequencies, less DC."""
DETAIL_BITS = DETAIL_FREQUENCIES**2 - 1
WORKING_AREA = 128 * 128
"""Pixels kept when decoding (JPEG draft, then integer box reduction): the cells are averaged
exactly from them, so more buys nothing that the corpus measures; fewer keeps each matrix
product below the size at which OpenBLAS hands it to threads (which cost 15 times more than
the product itself on a busy machine)."""
TAPER = 0.1
"""Share of each border that is faded out (raised cosine) before the DCT."""
FLAT_RMS = 0.5
"""Below this root mean square of the 64 coefficients (8-bit levels) a frame is flat: no print.
A smooth frame with a standard deviation of s levels measures about 4 s; film grain on black
averages out to a few hundredths."""
BORDER_TOLERANCE = 8.0
"""An edge row or column is border while no cell of it is further than this (8-bit levels)
from the colour of the outermost one."""
MIN_PICTURE = 8
"""Trimming never leaves fewer rows or columns than this (of the reduced frame)."""
ALIGNMENT = (-0.02, 0.0, 0.02)
"""The detail print of a matched region is also taken shifted and scaled by these shares of
its size (27 tries): a crop rarely falls exactly on a region's edge."""

# Formats Pillow may open for a print: all it can read except EPS, which runs Ghostscript.
_REFUSED_FORMATS = frozenset({"EPS"})

# -- the regions --------------------------------------------------------------------------------

_THIRD = 1 / 3
REGIONS: dict[str, tuple[float, float, float, float]] = {
    "whole": (0.0, 1.0, 0.0, 1.0),
    "crop-left-5": (0.0, 1.0, 0.05, 1.0),
    "crop-right-5": (0.0, 1.0, 0.0, 0.95),
    "crop-top-5": (0.05, 1.0, 0.0, 1.0),
    "crop-bottom-5": (0.0, 0.95, 0.0, 1.0),
    "crop-left": (0.0, 1.0, 0.1, 1.0),
    "crop-right": (0.0, 1.0, 0.0, 0.9),
    "crop-top": (0.1, 1.0, 0.0, 1.0),
    "crop-bottom": (0.0, 0.9, 0.0, 1.0),
    "third-left": (0.0, 1.0, 0.0, _THIRD),
    "third-right": (0.0, 1.0, 1 - _THIRD, 1.0),
    "third-top": (0.0, _THIRD, 0.0, 1.0),
    "third-bottom": (1 - _THIRD, 1.0, 0.0, 1.0),
}
"""Each stored region as (top, bottom, left, right), in shares of the trimmed frame."""
BORDERLESS = "borderless"
"""The whole frame less its constant borders: stored and looked up only when it has some."""
QUERY_REGIONS = ("whole", "third-left", "third-right", "third-top", "third-bottom")


def is_a_third(region: str) -> bool:
    """A print of a third of the frame (`third-top@white` too): a match of it says less than
    one of the whole picture, whose other regions are crops of it."""
    return region.split("@", 1)[0].startswith("third-")


_FRAMES = (
    "whole",
    "crop-left-5",
    "crop-right-5",
    "crop-top-5",
    "crop-bottom-5",
    "crop-left",
    "crop-right",
    "crop-top",
    "crop-bottom",
    BORDERLESS,
)
COMPARED: dict[str, tuple[str, ...]] = {
    "whole": _FRAMES,
    BORDERLESS: _FRAMES,
    **{third: (third,) for third in QUERY_REGIONS[1:]},
}
"""Which stored regions a query region is compared with."""
DESCRIBED = {
    "whole": "the whole frame",
    "crop-left-5": "the frame less 5% on the left (a crop)",
    "crop-right-5": "the frame less 5% on the right (a crop)",
    "crop-top-5": "the frame less 5% at the top (a crop)",
    "crop-bottom-5": "the frame less 5% at the bottom (a crop)",
    "crop-left": "the frame less 10% on the left (a crop)",
    "crop-right": "the frame less 10% on the right (a crop)",
    "crop-top": "the frame less 10% at the top (a crop)",
    "crop-bottom": "the frame less 10% at the bottom (a crop)",
    BORDERLESS: "the picture inside its borders",
    "third-left": "the left third (the rest differs: an overlay or an edit)",
    "third-right": "the right third (the rest differs: an overlay or an edit)",
    "third-top": "the top third (the rest differs: an overlay or an edit)",
    "third-bottom": "the bottom third (the rest differs: an overlay or an edit)",
}
BACKGROUNDS = ("black", "white")
"""An image with alpha is seen over black and over white; an opaque one is the same on both."""


@dataclass(frozen=True)
class StoredPrint:
    """One region of a file as the ledger keeps it."""

    region: str
    """A key of REGIONS, with "@white" when the view is the image over white."""
    value: int
    """The 64-bit print (signed)."""
    detail: bytes
    """The detail print: DETAIL_BITS bits, packed big-endian into 32 bytes."""


@dataclass(frozen=True)
class QueryPrint:
    """One 64-bit print a file is looked up by."""

    region: str
    """A key of QUERY_REGIONS."""
    mirrored: bool
    background: str
    value: int

    @property
    def compared_with(self) -> tuple[str, ...]:
        return COMPARED[self.region]


@dataclass(frozen=True)
class ImagePrints:
    """What a file holds for the ledger (`stored`) and what it is looked up by (`queries`), or
    why it has neither (`problem`)."""

    stored: tuple[StoredPrint, ...]
    queries: tuple[QueryPrint, ...]
    borders: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    """Shares of the frame trimmed as border (top, bottom, left, right), in its first view."""
    problem: str | None = None
    """Why the image has no print: "cannot be decoded", "too large ...", "blank ..."."""

    @property
    def value(self) -> int | None:
        """The 64-bit print of the whole frame (over black), or None."""
        return self.stored[0].value if self.stored else None

    @property
    def lookups(self) -> tuple[int, ...]:
        """Every 64-bit print to look up for this file."""
        return tuple(query.value for query in self.queries)


def perceptual_print(path: PathArg) -> int | None:
    """The 64-bit print of an image file's whole frame (signed), or None when it has none."""
    prints = image_prints(path)
    return None if prints is None else prints.value


def image_prints(path: PathArg) -> ImagePrints | None:
    """Every print of an image file, decoding it once; None when the file is not an image type."""
    if not is_printable(path):
        return None
    views = read_views(path)
    if isinstance(views, str):
        return ImagePrints((), (), problem=views)
    return prints_of_views(views)


def prints_of_luma(luma: npt.NDArray[Any]) -> ImagePrints:
    """The prints of one luma array (any size; levels of 0-255 for the flatness test)."""
    return prints_of_views((("black", np.asarray(luma, dtype=np.float64)),))


def prints_of_views(views: Sequence[tuple[str, npt.NDArray[Any]]]) -> ImagePrints:
    stored: list[StoredPrint] = []
    queries: list[QueryPrint] = []
    borders: tuple[float, float, float, float] | None = None
    for background, luma in views:
        frame = _Frame(luma)
        inside, trimmed = _Frame.trimmed(luma)
        if borders is None:
            borders = trimmed
        suffix = "" if background == "black" else "@" + background
        for region, box in REGIONS.items():
            value = frame.print(box)
            if value is not None:
                stored.append(StoredPrint(region + suffix, value, frame.detail(box)))
        whole = REGIONS["whole"]
        if any(trimmed) and (value := inside.print(whole)) is not None:
            stored.append(StoredPrint(BORDERLESS + suffix, value, inside.detail(whole)))
        if not stored:
            continue
        for region in QUERY_REGIONS:
            value = frame.print(REGIONS[region])
            if value is not None:
                queries.append(QueryPrint(region, False, background, value))
        if (value := frame.mirrored().print(whole)) is not None:
            queries.append(QueryPrint("whole", True, background, value))
        if any(trimmed) and (value := inside.print(whole)) is not None:
            queries.append(QueryPrint(BORDERLESS, False, background, value))
    if not stored:
        blank = "blank: one flat colour" + (
            " on black and on white backgrounds" if len(views) > 1 else ""
        )
        return ImagePrints((), (), problem=blank)
    return ImagePrints(tuple(stored), tuple(_unique(queries)), borders or (0.0, 0.0, 0.0, 0.0))


def _unique(queries: Iterable[QueryPrint]) -> list[QueryPrint]:
    # An opaque image is the same over black and white: its second view adds nothing.
    seen: set[tuple[str, bool, int]] = set()
    kept = []
    for query in queries:
        key = (query.region, query.mirrored, query.value)
        if key not in seen:
            seen.add(key)
            kept.append(query)
    return kept


def verify(path: PathArg, pairs: Sequence[tuple[QueryPrint, bytes]]) -> list[int | None]:
    """The detail distance of each (query print, stored detail print) pair, the query's region
    aligned within ALIGNMENT; None when the file no longer reads as an image.

    The file is decoded again: only files whose 64-bit prints found candidates get here. The
    query's region is the stored region's content: a whole frame matched to a stored crop is
    that crop, a third matched to the same third is that third.
    """
    views = read_views(path)
    if isinstance(views, str):
        return [None] * len(pairs)
    frames: dict[tuple[str, bool, bool], _Frame] = {}
    for background, luma in views:
        frame = _Frame(luma)
        frames[background, False, False] = frame
        frames[background, True, False] = frame.mirrored()
        frames[background, False, True] = _Frame.trimmed(luma)[0]
    distances: list[int | None] = []
    for query, detail in pairs:
        seen = frames.get((query.background, query.mirrored, query.region == BORDERLESS))
        if seen is None:
            distances.append(None)
            continue
        wanted = int.from_bytes(detail, "big")
        distances.append(
            min(detail_distance(d, wanted) for d in seen.aligned_details(REGIONS["whole"]))
            if query.region == BORDERLESS
            else min(
                detail_distance(d, wanted) for d in seen.aligned_details(REGIONS[query.region])
            )
        )
    return distances


def detail_distance(a: int, b: int) -> int:
    return (a ^ b).bit_count()


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


# -- the hashes ---------------------------------------------------------------------------------


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


def _taper(side: int) -> Array:
    t = (np.arange(side) + 0.5) / side
    edge = np.clip(np.minimum(t, 1 - t) / TAPER, 0.0, 1.0)
    taper: Array = 0.5 - 0.5 * np.cos(np.pi * edge)
    return taper


_FREQUENCIES = _zigzag(PRINT_BITS)
_ROWS = np.array([u for u, _ in _FREQUENCIES])
_COLS = np.array([v for _, v in _FREQUENCIES])
# Frequency i (lowest first) is bit i // BANDS of band i % BANDS.
_BIT_VALUES = np.array(
    [1 << (BAND_OFFSETS[i % BANDS] + i // BANDS) for i in range(PRINT_BITS)], dtype=np.uint64
)
# DCT rows of the tapered axis: the taper is separable, so it folds into them.
_ANALYSIS: Array = _dct_rows(int(max(max(_ROWS), max(_COLS))) + 1, SIDE) * _taper(SIDE)[None, :]
_DETAIL_ANALYSIS: Array = _dct_rows(DETAIL_FREQUENCIES, DETAIL_SIDE) * _taper(DETAIL_SIDE)[None, :]
_DETAIL_KEPT = np.ones((DETAIL_FREQUENCIES, DETAIL_FREQUENCIES), dtype=bool)
_DETAIL_KEPT[0, 0] = False

Box = tuple[float, float, float, float]


class _Frame:
    """A luma frame as a summed-area table: any region's cell means in a few microseconds.

    The integral of a piecewise-constant image is piecewise bilinear, so interpolating the
    table bilinearly at fractional cell edges gives the exact area average; a region that
    reaches outside the frame has its outside filled with the mean of its inside.
    """

    def __init__(self, luma: npt.NDArray[Any]) -> None:
        self.luma: Array = np.asarray(luma, dtype=np.float64)
        self.height, self.width = self.luma.shape
        table = np.zeros((self.height + 1, self.width + 1))
        table[1:, 1:] = np.cumsum(np.cumsum(self.luma, axis=0), axis=1)
        self.table = table

    @classmethod
    def trimmed(cls, luma: npt.NDArray[Any]) -> tuple[_Frame, tuple[float, float, float, float]]:
        """The frame less its constant borders, and the shares trimmed (top, bottom, left, right)."""
        top, bottom, left, right = _borders(luma)
        height, width = luma.shape
        inside = np.ascontiguousarray(luma[top : height - bottom, left : width - right])
        return cls(inside), (top / height, bottom / height, left / width, right / width)

    def mirrored(self) -> _Frame:
        return _Frame(np.ascontiguousarray(self.luma[:, ::-1]))

    def cells(self, box: Box, side: int) -> Array:
        """side x side cell means of the region, centred on the mean of its inside."""
        top, bottom, left, right = box
        ys = np.linspace(top * self.height, bottom * self.height, side + 1)
        xs = np.linspace(left * self.width, right * self.width, side + 1)
        inside_y = np.clip(ys, 0, self.height)
        inside_x = np.clip(xs, 0, self.width)
        integral = self._integral(inside_y, inside_x)
        sums = integral[1:, 1:] - integral[:-1, 1:] - integral[1:, :-1] + integral[:-1, :-1]
        covered = np.outer(np.diff(inside_y), np.diff(inside_x))
        cell_area = (ys[1] - ys[0]) * (xs[1] - xs[0])
        total = float(covered.sum())
        mean = float(sums.sum()) / total if total > 0 else 0.0
        centred: Array = (sums - covered * mean) / cell_area
        return centred

    def _integral(self, ys: Array, xs: Array) -> Array:
        table = self.table
        y0 = np.minimum(np.floor(ys).astype(np.intp), table.shape[0] - 2)
        x0 = np.minimum(np.floor(xs).astype(np.intp), table.shape[1] - 2)
        fy = (ys - y0)[:, None]
        fx = (xs - x0)[None, :]
        top = table[np.ix_(y0, x0)] * (1 - fx) + table[np.ix_(y0, x0 + 1)] * fx
        below = table[np.ix_(y0 + 1, x0)] * (1 - fx) + table[np.ix_(y0 + 1, x0 + 1)] * fx
        result: Array = top * (1 - fy) + below * fy
        return result

    def print(self, box: Box) -> int | None:
        """The 64-bit print of a region (signed), or None when it is flat."""
        cells = self.cells(box, SIDE)
        coefficients = (_ANALYSIS @ cells @ _ANALYSIS.T)[_ROWS, _COLS]
        if float(np.sqrt(np.mean(coefficients**2))) < FLAT_RMS:
            return None
        above = coefficients > np.median(coefficients)
        return to_signed(int(np.bitwise_or.reduce(_BIT_VALUES[above], initial=np.uint64(0))))

    def detail(self, box: Box) -> bytes:
        """The detail print of a region, packed into 32 bytes."""
        return self._detail_bits(box).to_bytes(32, "big")

    def _detail_bits(self, box: Box) -> int:
        cells = self.cells(box, DETAIL_SIDE)
        coefficients = (_DETAIL_ANALYSIS @ cells @ _DETAIL_ANALYSIS.T)[_DETAIL_KEPT]
        above = coefficients > np.median(coefficients)
        return int.from_bytes(np.packbits(above).tobytes(), "big") >> 1

    def aligned_details(self, box: Box) -> list[int]:
        """The detail print of the region shifted and scaled by ALIGNMENT (itself first)."""
        top, bottom, left, right = box
        centre_y, centre_x = (top + bottom) / 2, (left + right) / 2
        half_y, half_x = (bottom - top) / 2, (right - left) / 2
        found = [self._detail_bits(box)]
        for dy, dx, scale in itertools.product(ALIGNMENT, ALIGNMENT, ALIGNMENT):
            if dy == dx == scale == 0.0:
                continue
            cy, cx = centre_y + dy * 2 * half_y, centre_x + dx * 2 * half_x
            hy, hx = half_y * (1 + scale), half_x * (1 + scale)
            found.append(self._detail_bits((cy - hy, cy + hy, cx - hx, cx + hx)))
        return found


def _borders(luma: npt.NDArray[Any]) -> tuple[int, int, int, int]:
    """Rows at the top and bottom, columns at the left and right, that are border."""
    height, width = luma.shape
    top = _border_run(luma)
    bottom = _border_run(luma[::-1])
    left = _border_run(luma.T)
    right = _border_run(luma.T[::-1])
    if height - top - bottom < MIN_PICTURE:
        top = bottom = 0
    if width - left - right < MIN_PICTURE:
        left = right = 0
    return top, bottom, left, right


def _border_run(lines: npt.NDArray[Any]) -> int:
    """How many lines from the first are within BORDER_TOLERANCE of the first line's colour."""
    colour = float(np.median(lines[0]))
    far = np.abs(lines - colour).max(axis=1) > BORDER_TOLERANCE
    return int(np.argmax(far)) if far.any() else len(lines)


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


View = tuple[str, npt.NDArray[np.float32]]
"""A background ("black" or "white") and the luma of the image seen over it."""

UNDECODABLE = "cannot be decoded"


def read_luma(path: PathArg) -> npt.NDArray[np.float32] | None:
    """The luma of an image at a reduced size (over black), in 8-bit levels; None for anything
    that cannot be read as an image."""
    views = read_views(path)
    return None if isinstance(views, str) else views[0][1]


def read_views(path: PathArg) -> list[View] | str:
    """What a viewer sees of an image, at a reduced size: over black and, when it has alpha,
    over white too; or why it cannot be seen (a problem a person reads)."""
    extension = os.path.splitext(os.fsencode(path))[1].lower()
    try:
        if extension == b".exr":
            return _exr_luma(path)
        formats, extensions = _pillow_formats()
        if extension not in extensions:
            return UNDECODABLE
        # Opened once: its first bytes choose the formats, then Pillow reads it from the start.
        with open(os.fsencode(path), "rb") as handle:
            wanted = _formats_to_try(handle.read(16), extension, formats)
            handle.seek(0)
            return _pillow_views(handle, wanted)
    except Image.DecompressionBombError:
        return _too_large()
    except Exception:
        # Hostile and broken files raise anything (struct.error, IndexError, MemoryError ...
        # from the plugins): a file that cannot be decoded has no print.
        return UNDECODABLE


def _too_large() -> str:
    return f"too large to decode safely (over {Image.MAX_IMAGE_PIXELS:,} pixels)"


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


def _pillow_views(stream: BinaryIO, formats: tuple[str, ...]) -> list[View] | str:
    if not formats:
        return UNDECODABLE
    # Past Image.MAX_IMAGE_PIXELS, Pillow warns that the image may be a decompression bomb
    # (past twice that it raises); it is not decoded here either way. Silencing that warning
    # would take catch_warnings, which is not thread-safe.
    with Image.open(stream, formats=formats) as image:
        if Image.MAX_IMAGE_PIXELS and image.width * image.height > Image.MAX_IMAGE_PIXELS:
            return _too_large()
        if image.format == "JPEG":
            # Decode at 1/2, 1/4 or 1/8 size straight from the DCT, luma only (a JPEG has no
            # alpha). A 6768 x 8544 JPEG is read at 1/8: 900 x 1100 samples.
            factor = _reduction(*image.size)
            image.draft("L", (-(-image.width // factor), -(-image.height // factor)))
        factor = _reduction(*image.size)
        if image.mode in _HIGH_DEPTH_MODES:
            return [("black", _reduce(_high_depth_luma(image), factor))]
        alpha = "A" in image.getbands() or "transparency" in image.info
        if image.mode not in ("L", "LA", "RGB", "RGBA"):
            image = image.convert("RGBA" if alpha else "RGB")
        if not alpha:
            # Reduced before the conversion to luma: both passes then touch 1/factor^2 of it.
            if factor > 1:
                image = image.reduce(factor)
            return [("black", np.asarray(image.convert("L"), dtype=np.float32))]
        # Premultiplied, then box-reduced: what a viewer's compositing then downscaling shows,
        # in two passes over the full-size pixels (a 6768 x 8544 RGBA image holds 230 MB).
        if image.mode != "RGBA":
            image = image.convert("RGBA")
        premultiplied = image.convert("RGBa")
        if factor > 1:
            premultiplied = premultiplied.reduce(factor)
        pixels = np.asarray(premultiplied, dtype=np.float32)
    over_black = pixels[..., 0] * 0.299 + pixels[..., 1] * 0.587 + pixels[..., 2] * 0.114
    over_white = over_black + (255.0 - pixels[..., 3])
    return [("black", over_black), ("white", over_white)]


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


def _exr_luma(path: PathArg) -> list[View] | str:
    try:
        import OpenEXR  # type: ignore[import-not-found]
    except ImportError:
        return "cannot be decoded: the openexr package is not installed"
    # Through a Python stream, so that paths which are not UTF-8 open too.
    with open(path, "rb") as stream:
        if stream.read(4) != b"\x76\x2f\x31\x01":  # not an OpenEXR file: no print
            return UNDECODABLE
        stream.seek(0)
        with OpenEXR.File(stream, header_only=True) as header_only:
            (left, top), (right, bottom) = header_only.header()["dataWindow"]
        pixels = (int(right) - int(left) + 1) * (int(bottom) - int(top) + 1)
        if pixels <= 0:
            return UNDECODABLE
        if Image.MAX_IMAGE_PIXELS and pixels > Image.MAX_IMAGE_PIXELS:
            return _too_large()
        stream.seek(0)
        with OpenEXR.File(stream, separate_channels=True) as image:
            channels = {name: channel.pixels for name, channel in image.channels().items()}
    names = ("R", "G", "B") if all(name in channels for name in "RGB") else ("Y",)
    if names[0] not in channels:
        return "cannot be decoded: no R, G, B or Y channel"
    height, width = channels[names[0]].shape
    factor = _reduction(width, height)
    # Averaged in linear light, then shown as a viewer would: clamped and sRGB-encoded.
    shown = [_display(_reduce(channels[name].astype(np.float32), factor)) for name in names]
    if len(shown) == 1:
        return [("black", shown[0])]
    red, green, blue = shown
    # The weights of Pillow's RGB to L, so that the EXR and an 8-bit copy of it agree.
    luma: npt.NDArray[np.float32] = 0.299 * red + 0.587 * green + 0.114 * blue
    return [("black", luma)]


def _display(linear: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Scene-linear values as 8-bit levels on an sRGB display: clamped to [0, 1], then encoded.

    Measured against a log2 curve: an EXR made by linearising an sRGB image prints within
    6 bits of the image this way (2 on average), within 12 (5 on average) through log2.
    """
    value = np.clip(np.nan_to_num(linear, nan=0.0, posinf=1.0, neginf=0.0), 0.0, 1.0)
    encoded = np.where(value <= 0.0031308, 12.92 * value, 1.055 * np.power(value, 1 / 2.4) - 0.055)
    levels: npt.NDArray[np.float32] = (encoded * 255.0).astype(np.float32)
    return levels

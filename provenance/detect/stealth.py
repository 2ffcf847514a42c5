"""AUTOMATIC1111's "stealth" metadata: generation parameters hidden in a PNG's alpha channel.

The stealth-pnginfo extension (and NovelAI) write, in the least significant bit of each alpha
value, column by column (x outer, y inner), most significant bit first: the 15-byte magic
`stealth_pnginfo` (plain UTF-8 text follows) or `stealth_pngcomp` (gzip follows), a 32-bit
big-endian length in bits, then the payload. The text chunks can be stripped; these bits stay.

Reading is bounded: only 8-bit RGBA or gray+alpha PNGs that are not interlaced are looked at,
and the header sits in the first 152 rows of the first column, which is read as the rows are
inflated, 8 at a time, until its bits stop spelling a magic: an image without one costs the
inflating of its first rows (most stop at the first byte). To read the payload, every row is inflated but only
its first columns (as many as the payload fills) are decoded, by Pillow, in bands: each band a
small PNG of its own whose first, unfiltered row is the previous band's last. Memory stays
near a band whatever the image size; a payload in an image of more than `MAX_DECODED_BYTES` of
rows is not read, and the magic alone is reported.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
from PIL import Image

__all__ = ["PngLayout", "Stealth", "read_stealth"]


MAGIC = {b"stealth_pnginfo": False, b"stealth_pngcomp": True}
"""The magic, and whether the payload after it is gzip-compressed."""
HEADER_BITS = 15 * 8 + 32
MAX_DECODED_BYTES = 256 << 20
"""Most bytes of rows decoded to reach a payload (an 8192x8192 RGBA image is 256 MiB)."""
_BAND_BYTES = 4 << 20
_IDAT_READ = 1 << 20
_CHANNELS = {6: 4, 4: 2}  # PNG colour type -> samples per pixel: RGBA, gray + alpha
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class PngLayout:
    """What the chunk walk learnt of a PNG: its header and where its image data lies."""

    width: int
    height: int
    bit_depth: int
    colour_type: int
    interlaced: bool
    idat: tuple[tuple[int, int], ...]
    """(offset, length) of each IDAT chunk's data, in order."""

    @property
    def has_alpha_bytes(self) -> bool:
        return (
            self.bit_depth == 8
            and self.colour_type in _CHANNELS
            and not self.interlaced
            and self.width > 0
            and self.height > 0
            and bool(self.idat)
        )


@dataclass(frozen=True)
class Stealth:
    """Stealth metadata found: its payload as text, or None with the reason it was not read."""

    compressed: bool
    text: str | None
    problem: str | None = None


Read = Callable[[int, int], bytes]
"""Positioned reads over the file: (offset, count) -> bytes."""


def read_stealth(read: Read, png: PngLayout, max_payload: int) -> Stealth | None:
    """The stealth metadata of a PNG, or None when it carries none (or cannot: no alpha)."""
    if not png.has_alpha_bytes:
        return None
    if png.height >= HEADER_BITS:
        bits = _first_column_header(read, png)
        if bits is None:
            return None
    else:
        columns = -(-HEADER_BITS // png.height)
        header = _column_major_bits(_lsb_columns(read, png, png.height, columns))
        bits = np.packbits(header[:HEADER_BITS]).tobytes()
    compressed = MAGIC.get(bits[:15])
    if compressed is None:
        return None
    (length,) = struct.unpack(">I", bits[15:19])
    if length == 0 or length % 8 or length // 8 > max_payload:
        return Stealth(compressed, None, f"a payload length of {length} bits")
    total = HEADER_BITS + length
    columns = -(-total // png.height)
    if columns > png.width:
        return Stealth(compressed, None, "a payload longer than the image holds")
    if png.height * (1 + png.width * _CHANNELS[png.colour_type]) > MAX_DECODED_BYTES:
        return Stealth(compressed, None, "an image too large to decode for it")
    payload = np.packbits(
        _column_major_bits(_lsb_columns(read, png, png.height, columns))[HEADER_BITS:total]
    ).tobytes()
    if compressed:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            payload = inflater.decompress(payload, max_payload)
        except zlib.error:
            return Stealth(compressed, None, "a gzip payload that does not inflate")
        if inflater.unconsumed_tail:
            return Stealth(compressed, None, "a payload that inflates past the limit")
    return Stealth(compressed, payload.decode("utf-8", "replace"))


def _first_column_header(read: Read, png: PngLayout) -> bytes | None:
    """The header bytes from the first column's alpha LSBs, or None as soon as they stop
    spelling a magic (most images: after the first 8 rows).

    The first pixel of a row depends only on the first pixel of the row above, whatever the
    row's filter (there is no left neighbour): its alpha byte is unfiltered here directly."""
    channels = _CHANNELS[png.colour_type]
    stride = 1 + png.width * channels
    alpha = channels  # the offset of the first pixel's alpha byte in a filtered row
    above = 0
    bits: list[int] = []
    for rows in _filtered_rows(read, png, HEADER_BITS, stride, per_band=8):
        for start in range(0, len(rows), stride):
            kind, value = rows[start], rows[start + alpha]
            if kind in (2, 4):  # Up, Paeth (whose predictor is the byte above here)
                value = (value + above) & 0xFF
            elif kind == 3:  # Average of the left (0) and the above
                value = (value + above // 2) & 0xFF
            elif kind > 4:
                return None
            above = value
            bits.append(value & 1)
        prefix = np.packbits(np.array(bits[: len(bits) - len(bits) % 8], np.uint8)).tobytes()
        if not any(magic.startswith(prefix[:15]) for magic in MAGIC):
            return None
    if len(bits) < HEADER_BITS:
        return None
    return np.packbits(np.array(bits, np.uint8)).tobytes()


def _column_major_bits(lsb: np.ndarray) -> np.ndarray:
    """The bits of a (rows, columns) array read column by column."""
    return np.ascontiguousarray(lsb.T).ravel()


def _lsb_columns(read: Read, png: PngLayout, rows: int, columns: int) -> np.ndarray:
    """The alpha LSBs of the first `rows` rows and `columns` columns, as a uint8 array."""
    bands = [band & 1 for band in _alpha_bands(read, png, rows, columns)]
    return np.concatenate(bands) if bands else np.zeros((0, columns), np.uint8)


def _alpha_bands(read: Read, png: PngLayout, rows: int, columns: int) -> Iterator[np.ndarray]:
    """The alpha channel of the first `rows` rows and `columns` columns, a band at a time.

    Unfiltering the first bytes of a row needs only the first bytes of the row above (the
    filters look left and up, never right): the rows are cut to their first `columns` pixels
    before Pillow decodes them, so the cost of decoding follows the columns read, not the width.
    """
    channels = _CHANNELS[png.colour_type]
    stride = 1 + png.width * channels  # a filter byte, then the row
    kept = 1 + columns * channels
    per_band = max(1, _BAND_BYTES // stride)
    previous = bytes(kept - 1)
    done = 0
    for raw in _filtered_rows(read, png, rows, stride, per_band):
        count = len(raw) // stride
        cut = np.frombuffer(raw, np.uint8).reshape(count, stride)[:, :kept].tobytes()
        decoded = _decode_band(png, columns, count + 1, b"\x00" + previous + cut)
        previous = decoded[-1].tobytes()
        done += count
        yield decoded[1:, :, channels - 1]
    if done < rows:
        raise ValueError("the image data ends before its last row")


def _filtered_rows(
    read: Read, png: PngLayout, rows: int, stride: int, per_band: int
) -> Iterator[bytes]:
    """The inflated (still filtered) first `rows` rows of the image data, `per_band` rows at a
    time; fewer when the data ends early."""
    inflater = zlib.decompressobj()
    chunks = (
        (offset + start, min(_IDAT_READ, length - start))
        for offset, length in png.idat
        for start in range(0, length, _IDAT_READ)
    )
    remaining = rows * stride
    while remaining:
        band = bytearray()
        wanted = min(per_band * stride, remaining)
        while len(band) < wanted:
            data = inflater.unconsumed_tail
            if not data:
                position = next(chunks, None)
                if position is None or inflater.eof:
                    break
                data = read(*position)
            # Never inflate more than is wanted: the data may be a bomb.
            band += inflater.decompress(data, wanted - len(band))
        whole = len(band) - len(band) % stride
        if whole:
            yield bytes(band) if whole == len(band) else bytes(band[:whole])
        if whole < wanted:
            return
        remaining -= wanted


def _decode_band(png: PngLayout, width: int, rows: int, filtered: bytes) -> np.ndarray:
    """Decode filtered rows `width` pixels wide with Pillow, as a PNG of their own."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, rows, 8, png.colour_type, 0, 0, 0)
    data = (
        _PNG_SIGNATURE
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(filtered, 0))
        + chunk(b"IEND", b"")
    )
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        pixels = np.asarray(image)
    return pixels.reshape(rows, width, _CHANNELS[png.colour_type])

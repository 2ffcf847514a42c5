"""Reading the metadata out of an image's container: PNG text chunks, JPEG segments, WebP chunks,
the TIFF structure of TIFF files and of EXIF blocks, and XMP packets.

`read_payloads` walks the container itself (Pillow's lazy open stops PNG text at the first
IDAT, reads a whole WebP into memory, and loads every IFD0 tag of a TIFF: a layered Photoshop
TIFF keeps its layers there) and returns what the file carries, before interpretation: text
chunks, EXIF text fields, XMP packets and a PNG's stealth parameters, within the limits of
`provenance.detect.metadata_limits`. `parse_xmp` reads one XMP packet.
"""

from __future__ import annotations

import os
import stat
import struct
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import IO, Any

from defusedxml import ElementTree as SafeElementTree  # type: ignore[import-untyped]

from provenance.detect.metadata_limits import (
    MAX_CHUNKS,
    MAX_PAYLOAD_BYTES,
    MAX_TOTAL_BYTES,
    clip,
)
from provenance.detect.stealth import PngLayout, Stealth, read_stealth

__all__ = ["Payloads", "Xmp", "parse_xmp", "read_payloads"]


_HEAD_BYTES = 64 << 10

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_TEXT_CHUNKS = frozenset({b"tEXt", b"zTXt", b"iTXt"})
_XMP_KEYWORD = "XML:com.adobe.xmp"
_JPEG_XMP_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"
_EXIF_HEADER = b"Exif\x00\x00"

_IPTC_EXT_NS = "http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
_XMP_NS = "http://ns.adobe.com/xap/1.0/"
_RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_DIGITAL_SOURCE_TYPE = f"{{{_IPTC_EXT_NS}}}DigitalSourceType"
_CREATOR_TOOL = f"{{{_XMP_NS}}}CreatorTool"
_RDF_RESOURCE = f"{{{_RDF_NS}}}resource"
_EXIF_USER_COMMENT = "{http://ns.adobe.com/exif/1.0/}UserComment"
_DC_DESCRIPTION = "{http://purl.org/dc/elements/1.1/}description"
_MAX_UNREAD_NOTED = 4


def _mib(size: int) -> str:
    return f"{size / (1 << 20):.1f} MiB"


@dataclass
class Payloads:
    """The metadata one file carries, before interpretation."""

    text: dict[str, str] = field(default_factory=dict)
    """PNG text chunks by keyword (the first of each)."""
    exif: list[dict[str, str]] = field(default_factory=list)
    """The text fields of each EXIF block, named as in `_EXIF_TEXT_TAGS`."""
    xmp: list[bytes] = field(default_factory=list)
    stealth: Stealth | None = None
    """Parameters hidden in a PNG's alpha channel."""
    budget: int = MAX_TOTAL_BYTES
    unread: list[str] = field(default_factory=list)
    """What was not read for being over a limit, described ("an XMP packet of 20.0 MiB")."""

    def take(self, size: int, what: str) -> bool:
        """Reserve `size` bytes of the file's allowance for `what`; False (and `what` noted as
        unread) when it is larger than one payload may be, or than what is left."""
        if size > MAX_PAYLOAD_BYTES or size > self.budget:
            self.skip(what, size)
            return False
        self.budget -= size
        return True

    def skip(self, what: str, size: int | None = None) -> None:
        """Note `what` as unread for being over a limit (`size` bytes when known)."""
        if len(self.unread) < _MAX_UNREAD_NOTED:
            self.unread.append(f"{what} of {_mib(size)}" if size is not None else what)


class _Source:
    """Positioned reads over a file or a byte string, served from one read of its head."""

    def __init__(self, head: bytes, size: int, file: IO[bytes] | None = None) -> None:
        self._head = head
        self._file = file
        self.size = size

    @classmethod
    def of_file(cls, file: IO[bytes], size: int) -> _Source:
        return cls(file.read(_HEAD_BYTES), size, file)

    @classmethod
    def of_bytes(cls, data: bytes) -> _Source:
        return cls(data, len(data))

    def read(self, offset: int, count: int) -> bytes:
        """Up to `count` bytes at `offset` (fewer at the end of the data)."""
        end = offset + count
        if end <= len(self._head) or self._file is None:
            return self._head[offset:end]
        self._file.seek(offset)
        return self._file.read(count)


def read_payloads(path: str | bytes | os.PathLike[str] | os.PathLike[bytes]) -> Payloads | None:
    status = os.stat(path)
    if not stat.S_ISREG(status.st_mode):
        return None  # opening a FIFO would block the ingest
    with open(path, "rb", buffering=0) as file:
        source = _Source.of_file(file, status.st_size)
        head = source.read(0, 16)
        # The content decides the container: a WebP saved as .png is common in downloads.
        if head.startswith(_PNG_SIGNATURE):
            return _read_png(source)
        if head.startswith(b"\xff\xd8\xff"):
            return _read_jpeg(source)
        if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
            return _read_webp(source)
        if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
            found = Payloads()
            _read_tiff(source, found)
            return found
    return None


# --- containers -------------------------------------------------------------------------


def _read_png(source: _Source) -> Payloads:
    found = Payloads()
    offset = len(_PNG_SIGNATURE)
    ihdr = b""
    idat: list[tuple[int, int]] = []
    # Text chunks may follow the IDAT chunks, so the walk goes on to IEND; it reads chunk
    # headers only, seeking over image data.
    for _ in range(MAX_CHUNKS):
        header = source.read(offset, 8)
        if len(header) < 8:
            break
        length, kind = struct.unpack(">I4s", header)
        start = offset + 8
        offset = start + length + 4  # data and CRC
        if kind == b"IEND" or length > 0x7FFFFFFF:
            break
        if kind == b"IHDR" and not ihdr:
            ihdr = source.read(start, min(length, 13))
        elif kind == b"IDAT" and start + length <= source.size:
            idat.append((start, length))
        if kind not in _PNG_TEXT_CHUNKS and kind != b"eXIf":
            continue
        if start + length > source.size:
            break  # truncated
        if not found.take(length, f"a PNG {kind.decode('latin-1')} chunk"):
            continue
        data = source.read(start, length)
        if kind == b"eXIf":
            _read_exif_block(data, found)
            continue
        entry = _png_text(kind, data, found)
        if entry is None:
            continue
        keyword, value = entry
        if keyword == _XMP_KEYWORD:
            found.xmp.append(value)
        else:
            found.text.setdefault(keyword, _decode_text(value, kind != b"iTXt"))
    else:
        found.skip(f"the chunks past the first {MAX_CHUNKS:,}")
    if len(ihdr) == 13 and idat:
        width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", ihdr)
        layout = PngLayout(width, height, depth, colour, interlace != 0, tuple(idat))
        try:
            found.stealth = read_stealth(source.read, layout, MAX_PAYLOAD_BYTES)
        except Exception:
            # Pixels that do not decode hide nothing we can read; the text read stands.
            found.stealth = None
    return found


def _png_text(kind: bytes, data: bytes, found: Payloads) -> tuple[str, bytes] | None:
    """The keyword and (inflated) text bytes of a tEXt, zTXt or iTXt chunk."""
    keyword, separator, rest = data.partition(b"\x00")
    if not separator or not 1 <= len(keyword) <= 79:
        return None
    name = keyword.decode("latin-1")
    if kind == b"tEXt":
        return name, rest
    if kind == b"zTXt":
        if rest[:1] != b"\x00":
            return None
        inflated = _inflate(rest[1:], found)
        return None if inflated is None else (name, inflated)
    if len(rest) < 2:
        return None
    compressed, method = rest[0], rest[1]
    _language, separator, rest = rest[2:].partition(b"\x00")
    _translated, separator2, text = rest.partition(b"\x00")
    if not (separator and separator2):
        return None
    if not compressed:
        return name, text
    if method != 0:
        return None
    inflated = _inflate(text, found)
    return None if inflated is None else (name, inflated)


def _inflate(data: bytes, found: Payloads) -> bytes | None:
    """Inflate a zlib stream, or None when it is corrupt or would exceed the caps (a bomb)."""
    inflater = zlib.decompressobj()
    try:
        text = inflater.decompress(data, MAX_PAYLOAD_BYTES)
    except zlib.error:
        return None
    if inflater.unconsumed_tail:
        found.skip(f"compressed text inflating past {MAX_PAYLOAD_BYTES >> 20} MiB")
        return None
    if not found.take(len(text), "inflated text"):
        return None
    return text


def _read_jpeg(source: _Source) -> Payloads:
    found = Payloads()
    offset = 2
    for _ in range(MAX_CHUNKS):
        header = source.read(offset, 4)
        if len(header) < 2 or header[0] != 0xFF:
            break
        marker = header[1]
        if marker == 0xFF:  # fill byte
            offset += 1
            continue
        if marker in (0xD9, 0xDA):  # EOI, SOS: metadata segments come before the scan
            break
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # no length field
            offset += 2
            continue
        if len(header) < 4:
            break
        (length,) = struct.unpack(">H", header[2:])
        if length < 2:
            break
        if marker == 0xE1 and found.take(length - 2, "a JPEG APP1 segment"):
            data = source.read(offset + 4, length - 2)
            if data.startswith(_EXIF_HEADER) and not found.exif:
                _read_exif_block(data, found)
            elif data.startswith(_JPEG_XMP_HEADER):
                found.xmp.append(data[len(_JPEG_XMP_HEADER) :])
        offset += 2 + length
    else:
        found.skip(f"the chunks past the first {MAX_CHUNKS:,}")
    return found


def _read_webp(source: _Source) -> Payloads:
    found = Payloads()
    (riff_size,) = struct.unpack("<I", source.read(4, 4))
    end = min(source.size, 8 + riff_size)
    offset = 12
    for _ in range(MAX_CHUNKS):
        if offset + 8 > end:
            break
        kind, length = struct.unpack("<4sI", source.read(offset, 8))
        start = offset + 8
        offset = start + length + (length & 1)
        if kind not in (b"EXIF", b"XMP "):
            continue
        if start + length > end:
            break
        if not found.take(length, f"a WebP {kind.decode('latin-1').strip()} chunk"):
            continue
        data = source.read(start, length)
        if kind == b"XMP ":
            found.xmp.append(data)
        else:
            _read_exif_block(data, found)
    else:
        found.skip(f"the chunks past the first {MAX_CHUNKS:,}")
    return found


# --- TIFF structure (TIFF files and the EXIF blocks of the other containers) --------------

_IMAGE_DESCRIPTION = 0x010E
_MAKE = 0x010F
_MODEL = 0x0110
_SOFTWARE = 0x0131
_ARTIST = 0x013B
_XMP_TAG = 0x02BC
_EXIF_IFD = 0x8769
_USER_COMMENT = 0x9286
_MAKER_NOTE = 0x927C

_EXIF_TEXT_TAGS = {
    _IMAGE_DESCRIPTION: "ImageDescription",
    _MAKE: "Make",
    _MODEL: "Model",
    _SOFTWARE: "Software",
    _ARTIST: "Artist",
    _USER_COMMENT: "UserComment",
    _MAKER_NOTE: "MakerNote",
}
# Fooocus writes its scheme name into MakerNote; a camera's MakerNote is binary and large.
_TAG_LIMITS = {_MAKER_NOTE: 64}
_TEXT_TYPES = frozenset({1, 2, 7, 129})  # BYTE, ASCII, UNDEFINED, UTF-8
_POINTER_TYPES = {4: "L", 13: "L", 16: "Q", 18: "Q"}  # LONG, IFD, LONG8, IFD8


@dataclass(frozen=True)
class _Tiff:
    source: _Source
    order: str
    """struct byte order: "<" or ">"."""
    big: bool

    @classmethod
    def parse(cls, source: _Source) -> tuple[_Tiff, int] | None:
        """The layout and first IFD offset, from a TIFF header at the start of `source`."""
        head = source.read(0, 16)
        order = {b"II": "<", b"MM": ">"}.get(head[:2])
        if order is None or len(head) < 8:
            return None
        (version,) = struct.unpack(order + "H", head[2:4])
        if version == 42:
            return cls(source, order, False), struct.unpack(order + "I", head[4:8])[0]
        if version == 43 and len(head) == 16:
            return cls(source, order, True), struct.unpack(order + "Q", head[8:16])[0]
        return None

    def entries(self, offset: int, wanted: Iterable[int], found: Payloads) -> dict[int, Any]:
        """The wanted tags of the IFD at `offset`: bytes for text types, int for pointers."""
        wanted = frozenset(wanted)
        count_format, entry_format = ("Q", "HHQ8s") if self.big else ("H", "HHI4s")
        count_size = struct.calcsize(count_format)
        entry_size = struct.calcsize(entry_format)
        raw = self.source.read(offset, count_size)
        if len(raw) < count_size:
            return {}
        (count,) = struct.unpack(self.order + count_format, raw)
        count = min(count, MAX_CHUNKS)
        table = self.source.read(offset + count_size, count * entry_size)
        values: dict[int, Any] = {}
        for index in range(len(table) // entry_size):
            tag, kind, number, inline = struct.unpack_from(
                self.order + entry_format, table, index * entry_size
            )
            if tag not in wanted or tag in values:
                continue
            if kind in _POINTER_TYPES and number == 1:
                size = struct.calcsize(_POINTER_TYPES[kind])
                values[tag] = struct.unpack(self.order + _POINTER_TYPES[kind], inline[:size])[0]
            elif kind in _TEXT_TYPES:
                if number > _TAG_LIMITS.get(tag, MAX_PAYLOAD_BYTES):
                    if tag not in _TAG_LIMITS:  # (a camera's binary MakerNote is no news)
                        found.skip(f"TIFF tag {tag}", number)
                    continue
                if number <= len(inline):
                    values[tag] = inline[:number]
                    continue
                (at,) = struct.unpack(self.order + ("Q" if self.big else "I"), inline)
                if at + number > self.source.size or not found.take(number, f"TIFF tag {tag}"):
                    continue
                values[tag] = self.source.read(at, number)
        return values


def _read_tiff(source: _Source, found: Payloads) -> None:
    """Add the XMP packet and EXIF text fields of the TIFF structure in `source`."""
    parsed = _Tiff.parse(source)
    if parsed is None:
        return
    tiff, first = parsed
    tags = tiff.entries(first, [*_EXIF_TEXT_TAGS, _XMP_TAG, _EXIF_IFD], found)
    exif_offset = tags.pop(_EXIF_IFD, None)
    if isinstance(exif_offset, int):
        for tag, value in tiff.entries(exif_offset, [_USER_COMMENT, _MAKER_NOTE], found).items():
            tags.setdefault(tag, value)
    xmp = tags.pop(_XMP_TAG, None)
    if isinstance(xmp, bytes):
        found.xmp.append(xmp)
    fields: dict[str, str] = {}
    for tag, value in tags.items():
        if not isinstance(value, bytes):
            continue
        text = (
            _decode_user_comment(value, tiff.order)
            if tag == _USER_COMMENT
            else _decode_text(value.rstrip(b"\x00"), latin1=False)
        )
        if text.strip():
            fields[_EXIF_TEXT_TAGS[tag]] = text
    if fields:
        found.exif.append(fields)


def _read_exif_block(data: bytes, found: Payloads) -> None:
    """An EXIF block is a TIFF structure; some writers keep JPEG's "Exif\\0\\0" before it."""
    _read_tiff(_Source.of_bytes(data.removeprefix(_EXIF_HEADER)), found)


def _decode_user_comment(value: bytes, order: str) -> str:
    """EXIF UserComment: an 8-byte character-code prefix, then the text.

    A1111 writes "UNICODE\\0" and UTF-16 big-endian (piexif); the standard says the byte order
    of the EXIF block, so the order is read from the bytes and the block's order breaks ties.
    Some writers (Fooocus through Pillow) leave the prefix out.
    """
    prefix, body = value[:8], value[8:]
    if prefix == b"UNICODE\x00":
        return _decode_utf16(body, order).rstrip("\x00")
    if prefix == b"JIS\x00\x00\x00\x00\x00":
        return body.decode("shift_jis", "replace").rstrip("\x00")
    if prefix in (b"ASCII\x00\x00\x00", b"\x00" * 8):
        return _decode_text(body.rstrip(b"\x00"), latin1=False)
    return _decode_text(value.rstrip(b"\x00"), latin1=False)


def _decode_utf16(body: bytes, order: str) -> str:
    if body[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return body.decode("utf-16", "replace")
    sample = body[:4096]
    zeros_even = sample[0::2].count(0)
    zeros_odd = sample[1::2].count(0)
    # Latin text in UTF-16 has a zero high byte in every code unit: it shows which half it is.
    big_endian = zeros_even > zeros_odd if zeros_even != zeros_odd else order == ">"
    return body.decode("utf-16-be" if big_endian else "utf-16-le", "replace")


def _decode_text(value: bytes, latin1: bool) -> str:
    """Text from a PNG tEXt/zTXt (Latin-1 by the standard) or an iTXt/EXIF value (UTF-8)."""
    if latin1:
        # Some tools write UTF-8 into tEXt despite the standard; it decodes cleanly if so.
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return value.decode("latin-1")
    return value.decode("utf-8", "replace")


# --- XMP packets -------------------------------------------------------------------------


@dataclass(frozen=True)
class Xmp:
    """What one XMP packet says: source types, the creator tool, and generator fields."""

    types: list[str]
    tool: str | None
    fields: dict[str, str]
    """`CreatorTool`, `UserComment` (exif:UserComment, where Draw Things writes its JSON) and
    `Description` (dc:description), named as generators' keywords."""


def parse_xmp(packet: bytes) -> Xmp:
    """The DigitalSourceType values, the first CreatorTool and the generator fields of a packet."""
    packet = packet.strip(b"\x00 \t\r\n")
    if not packet or len(packet) > MAX_PAYLOAD_BYTES:
        return Xmp([], None, {})
    try:
        # An XMP packet never needs a DTD: refusing it refuses entity expansion bombs.
        root = SafeElementTree.fromstring(packet, forbid_dtd=True)
    except (SyntaxError, ValueError):  # ParseError, and defusedxml's refusals
        return Xmp([], None, {})
    found: dict[str, list[str]] = {
        _DIGITAL_SOURCE_TYPE: [],
        _CREATOR_TOOL: [],
        _EXIF_USER_COMMENT: [],
        _DC_DESCRIPTION: [],
    }
    for element in root.iter():
        for name, values in found.items():
            if value := element.get(name):
                values.append(value.strip())
        if element.tag == _DIGITAL_SOURCE_TYPE:
            found[_DIGITAL_SOURCE_TYPE].append(
                (element.get(_RDF_RESOURCE) or "".join(element.itertext())).strip()
            )
        elif element.tag in found:
            # Simple text, or an rdf:Alt of language alternatives: the first is taken.
            found[element.tag].append("".join(element.itertext()).strip())
    tool = next((clip(t) for t in found[_CREATOR_TOOL] if t), None)
    fields = {
        keyword: value
        for keyword, key in (
            ("CreatorTool", _CREATOR_TOOL),
            ("UserComment", _EXIF_USER_COMMENT),
            ("Description", _DC_DESCRIPTION),
        )
        if (value := next((v for v in found[key] if v), None))
    }
    types = [t for t in dict.fromkeys(found[_DIGITAL_SOURCE_TYPE]) if t]
    return Xmp(types, tool, fields)

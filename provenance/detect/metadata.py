"""What image files say about their own making: XMP digital source types and generator metadata.

`read_metadata` reads PNG text chunks, EXIF (ImageDescription, Make, Model, Software, Artist,
UserComment, MakerNote) and XMP packets of PNG, JPEG, WebP and TIFF files, and the "stealth"
parameters A1111 and NovelAI hide in a PNG's alpha channel (`provenance.detect.stealth`). It
turns what AUTOMATIC1111, Forge, Fooocus, RuinedFooocus, ComfyUI, InvokeAI, NovelAI, Midjourney,
SwarmUI, diffusers pipelines (Hugging Face Spaces), PPDiffusers (PaddleNLP), Draw Things, Easy
Diffusion and Stability Matrix write there, and any IPTC `DigitalSourceType` an XMP packet
declares, into `Signal`s: every generator whose metadata a file carries is reported, each once.

It runs on every file an ingest hashes, so it decides by extension before touching the file,
walks the containers itself (Pillow's lazy open stops PNG text at the first IDAT, reads a whole
WebP into memory, and loads every IFD0 tag of a TIFF: a layered Photoshop TIFF keeps its layers
there), and decodes pixels only for the stealth check of an 8-bit PNG with alpha, a few rows of
it unless the check finds its magic. Every size it reads is capped.
"""

from __future__ import annotations

import json
import os
import re
import stat
import struct
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import IO, Any

from defusedxml import ElementTree as SafeElementTree  # type: ignore[import-untyped]

from provenance.detect import METADATA_UNREAD, Signal
from provenance.detect.stealth import PngLayout, Stealth, read_stealth
from provenance.origins import Evidence, Origin, origin_of_code

__all__ = ["EXTENSIONS", "MAX_PAYLOAD_BYTES", "read_metadata"]


EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff"})
"""File extensions `read_metadata` looks inside (compared lower-case); any other gives []."""

MAX_PAYLOAD_BYTES = 8 << 20
"""Largest single text chunk, EXIF value or XMP packet read, stored or inflated (ComfyUI graphs
run to a few hundred KiB; larger ones are skipped, not truncated)."""

MAX_TOTAL_BYTES = 32 << 20
"""Largest sum of metadata read from one file, after inflation."""

MAX_CHUNKS = 1 << 16
"""Chunks, segments or IFD entries walked before giving up on the rest of a file."""

EXCERPT_CHARS = 200
"""Longest prompt excerpt (and longest string of any kind) put into a signal's detail."""

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
_MAX_DECLARED_TYPES = 8
_MAX_UNREAD_NOTED = 4


def _mib(size: int) -> str:
    return f"{size / (1 << 20):.1f} MiB"


def metadata_limits() -> str:
    """The limits, as a finding names them."""
    return (
        f"{MAX_PAYLOAD_BYTES >> 20} MiB a text chunk, EXIF value or XMP packet; "
        f"{MAX_TOTAL_BYTES >> 20} MiB of metadata a file; {MAX_CHUNKS:,} chunks"
    )


_GENERATED = Origin.TRAINED_ALGORITHMIC_MEDIA


def read_metadata(path: str | bytes | os.PathLike[str] | os.PathLike[bytes]) -> list[Signal]:
    """The provenance signals a PNG, JPEG, WebP or TIFF file carries in its own metadata.

    One `xmp` signal per distinct IPTC digital source type an XMP packet declares (origin None
    when the code is not one we know), then at most one signal per generator whose text the
    file carries (`a1111`, `forge`, `fooocus`, `comfyui`, `invokeai`, `novelai`, `midjourney`),
    each with origin trainedAlgorithmicMedia. Never raises: another extension, an unreadable
    or malformed file, or a file without such metadata gives [].
    """
    if os.path.splitext(os.fsdecode(path))[1].lower() not in EXTENSIONS:
        return []
    try:
        found = _read_payloads(path)
        return _interpret(found) if found is not None else []
    except Exception:
        # Hostile bytes can trip any parser in an unforeseen way, and a file that cannot be
        # read carries no signal: the caller must never lose an ingest to one bad file.
        return []


@dataclass
class _Payloads:
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


def _read_payloads(path: str | bytes | os.PathLike[str] | os.PathLike[bytes]) -> _Payloads | None:
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
            found = _Payloads()
            _read_tiff(source, found)
            return found
    return None


# --- containers -------------------------------------------------------------------------


def _read_png(source: _Source) -> _Payloads:
    found = _Payloads()
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


def _png_text(kind: bytes, data: bytes, found: _Payloads) -> tuple[str, bytes] | None:
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


def _inflate(data: bytes, found: _Payloads) -> bytes | None:
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


def _read_jpeg(source: _Source) -> _Payloads:
    found = _Payloads()
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


def _read_webp(source: _Source) -> _Payloads:
    found = _Payloads()
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

    def entries(self, offset: int, wanted: Iterable[int], found: _Payloads) -> dict[int, Any]:
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


def _read_tiff(source: _Source, found: _Payloads) -> None:
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


def _read_exif_block(data: bytes, found: _Payloads) -> None:
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


# --- interpretation -----------------------------------------------------------------------


def _interpret(found: _Payloads) -> list[Signal]:
    signals: list[Signal] = []
    declared: set[str] = set()
    carriers = [(found.text, "png-text")] if found.text else []
    carriers += [(_exif_as_text(fields), "exif") for fields in found.exif]
    for packet in found.xmp:
        xmp = _parse_xmp(packet)
        signals.extend(_xmp_signals(xmp, declared))
        if xmp.fields:
            carriers.append((xmp.fields, "xmp"))
    generators: dict[str, Signal] = {}
    for fields, carrier in carriers:
        for signal in _generator_signals(fields, carrier):
            generators.setdefault(signal.source, signal)
    if found.stealth is not None:
        hidden = found.stealth.text
        stealthy = _generator_signals(_stealth_fields(hidden), _STEALTH) if hidden else []
        for signal in stealthy or [_stealth_signal(found.stealth)]:
            generators.setdefault(signal.source, signal)
    return signals + list(generators.values()) + _unread_signals(found)


def _unread_signals(found: _Payloads) -> list[Signal]:
    """A signal that the file holds metadata too large to read: whatever it says is unknown (an
    XMP packet padded past the limit would otherwise hide its DigitalSourceType unseen)."""
    if not found.unread:
        return []
    what = "; ".join(found.unread)
    return [
        Signal(
            source="metadata",
            origin=None,
            evidence=Evidence.EMBEDDED,
            summary=f"metadata too large to read: {what} (limits: {metadata_limits()})",
            detail={METADATA_UNREAD: list(found.unread), "limits": metadata_limits()},
        )
    ]


@dataclass(frozen=True)
class _Xmp:
    """What one XMP packet says: source types, the creator tool, and generator fields."""

    types: list[str]
    tool: str | None
    fields: dict[str, str]
    """`CreatorTool`, `UserComment` (exif:UserComment, where Draw Things writes its JSON) and
    `Description` (dc:description), named as generators' keywords."""


def _xmp_signals(xmp: _Xmp, declared: set[str]) -> list[Signal]:
    """One signal per digital source type the packet declares that `declared` lacks."""
    types, tool = xmp.types, xmp.tool
    signals = []
    for value in types:
        if value in declared or len(declared) >= _MAX_DECLARED_TYPES:
            continue
        declared.add(value)
        origin = _declared_origin(value)
        detail: dict[str, Any] = {"digital_source_type": _clip(value)}
        if tool:
            detail["creator_tool"] = tool
        if origin is None:
            detail["recognised"] = False
            summary = (
                f"XMP declares a digital source type this tool does not know: {_clip(value)!r}"
            )
        else:
            summary = f"XMP declares {origin.value}" + (f" (creator tool {tool})" if tool else "")
        signals.append(
            Signal(
                source="xmp",
                origin=origin,
                evidence=Evidence.EMBEDDED,
                summary=summary,
                tool=tool,
                detail=detail,
            )
        )
    return signals


def _parse_xmp(packet: bytes) -> _Xmp:
    """The DigitalSourceType values, the first CreatorTool and the generator fields of a packet."""
    packet = packet.strip(b"\x00 \t\r\n")
    if not packet or len(packet) > MAX_PAYLOAD_BYTES:
        return _Xmp([], None, {})
    try:
        # An XMP packet never needs a DTD: refusing it refuses entity expansion bombs.
        root = SafeElementTree.fromstring(packet, forbid_dtd=True)
    except (SyntaxError, ValueError):  # ParseError, and defusedxml's refusals
        return _Xmp([], None, {})
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
    tool = next((_clip(t) for t in found[_CREATOR_TOOL] if t), None)
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
    return _Xmp(types, tool, fields)


def _declared_origin(value: str) -> Origin | None:
    """The origin an IPTC code or URI (http or https) names; None for anything else."""
    origin = origin_of_code(value)
    return None if origin is Origin.UNKNOWN else origin


def _exif_as_text(exif: Mapping[str, str]) -> dict[str, str]:
    """EXIF fields renamed to the PNG keywords the generators use for the same payload."""
    fields: dict[str, str] = {}
    comment = exif.get("UserComment")
    if comment:
        fields["parameters"] = comment  # A1111, Forge and Fooocus in JPEG and WebP
    for name, keyword in (("Software", "Software"), ("ImageDescription", "Description")):
        if exif.get(name):
            fields[keyword] = exif[name]
    if exif.get("Artist"):
        fields["Author"] = exif["Artist"]
    scheme = exif.get("MakerNote", "").strip().lower()
    if scheme in ("fooocus", "a1111"):
        fields["fooocus_scheme"] = scheme
    # ComfyUI's WebP writers put "Prompt:{...}" into Make and "Workflow:{...}" into
    # ImageDescription; other save nodes put {"prompt": ..., "workflow": ...} into UserComment.
    for name in ("Make", "ImageDescription", "Model", "UserComment"):
        match = re.match(r"\s*(prompt|workflow)\s*:\s*(?=\{)", exif.get(name, ""), re.IGNORECASE)
        if match:
            fields.setdefault(match[1].lower(), exif[name][match.end() :])
    bundle = _json_object(comment)
    if bundle:
        for key in ("prompt", "workflow"):
            value = bundle.get(key)
            if isinstance(value, dict):
                fields.setdefault(key, json.dumps(value))
            elif isinstance(value, str) and value.lstrip().startswith("{"):
                fields.setdefault(key, value)
        if _comfy_api_graph(comment) is not None:  # the bare API graph, as some save nodes write it
            fields.setdefault("prompt", comment or "")
        fields.update(_png_keywords_in(bundle))
    return fields


# NovelAI's WebP (and its alpha-channel stealth copy) carry its PNG text chunks as one JSON
# object: {"Software": "NovelAI", "Comment": "{...}", "Source": ..., "Generation time": ...}.
_BUNDLED_KEYWORDS = ("Software", "Comment", "Source", "Title", "Description", "Generation time")


def _png_keywords_in(bundle: Mapping[str, Any]) -> dict[str, str]:
    """The PNG text chunks a JSON object carries, when it is such a bundle."""
    if not isinstance(bundle.get("Comment"), (str, dict)) or not isinstance(
        bundle.get("Software"), str
    ):
        return {}
    found = {}
    for key in _BUNDLED_KEYWORDS:
        value = bundle.get(key)
        if isinstance(value, str):
            found[key] = value
        elif isinstance(value, dict):
            found[key] = json.dumps(value)
    return found


_STEALTH = "png-alpha-lsb"


def _stealth_fields(text: str) -> dict[str, str]:
    """What a stealth payload says, named as the PNG keywords: A1111's `parameters` text, or
    NovelAI's bundle of text chunks."""
    bundle = _json_object(text)
    keywords = _png_keywords_in(bundle) if bundle else {}
    return keywords or {"parameters": text}


def _stealth_signal(stealth: Stealth) -> Signal:
    """Stealth metadata no generator's reader recognises (or that could not be read): its magic
    is only ever written by the Stable Diffusion web UIs and NovelAI."""
    magic = "stealth_pngcomp" if stealth.compressed else "stealth_pnginfo"
    said = f"not read: {stealth.problem}" if stealth.problem else _excerpt(stealth.text) or "empty"
    return _generated(
        "stealth-pnginfo",
        "Stable Diffusion web UI (stealth-pnginfo)",
        f"Generation parameters hidden in the alpha channel ({magic}), {said}",
        {"magic": magic, "problem": stealth.problem, "prompt": _excerpt(stealth.text)},
        _STEALTH,
    )


def _generator_signals(fields: Mapping[str, str], carrier: str) -> list[Signal]:
    """Every generator whose metadata `fields` carries: one file may hold several (a ComfyUI
    graph beside A1111-style `parameters`, Stability Matrix's own chunk beside both)."""
    detectors: list[Callable[[Mapping[str, str], str], Signal | None]] = [
        _comfyui,
        _invokeai,
        _novelai,
        _midjourney,
        _swarmui,
        _ruinedfooocus,
        _diffusers,
        _drawthings,
        _easydiffusion,
        _stability_matrix,
        _a1111_family,
    ]
    return [signal for detect in detectors if (signal := detect(fields, carrier)) is not None]


def _generated(
    source: str,
    tool: str,
    summary: str,
    detail: dict[str, Any],
    carrier: str,
    evidence: Evidence = Evidence.EMBEDDED,
) -> Signal:
    detail = {key: value for key, value in detail.items() if value not in (None, "", [])}
    detail["carrier"] = carrier
    return Signal(
        source=source,
        origin=_GENERATED,
        evidence=evidence,
        summary=summary,
        tool=tool,
        detail=detail,
    )


@dataclass(frozen=True)
class _Keys:
    """Where a generator's settings keep the model, sampler ...: the first key present wins."""

    model: tuple[str, ...] = ()
    model_hash: tuple[str, ...] = ()
    sampler: tuple[str, ...] = ()
    steps: tuple[str, ...] = ("steps",)
    seed: tuple[str, ...] = ("seed",)
    version: tuple[str, ...] = ()
    prompt: tuple[str, ...] = ("prompt",)


def _settings_signal(
    source: str,
    tool: str,
    what: str,
    settings: Mapping[str, Any],
    keys: _Keys,
    carrier: str,
    model: str | None = None,
) -> Signal:
    """A generator's signal from the settings it recorded (`model` when found otherwise)."""

    def first(names: tuple[str, ...]) -> Any:
        return next((settings[n] for n in names if settings.get(n) not in (None, "")), None)

    model = model or _clipped_scalar(first(keys.model))
    detail = {
        "model": model,
        "model_hash": _clipped_scalar(first(keys.model_hash)),
        "sampler": _clipped_scalar(first(keys.sampler)),
        "steps": _number(first(keys.steps)),
        "seed": _number(first(keys.seed)),
        "version": _clipped_scalar(first(keys.version)),
        "prompt": _excerpt(first(keys.prompt)),
    }
    summary = f"{tool} {what}" + (f" (model {model})" if model else "")
    return _generated(source, tool, summary, detail, carrier)


# AUTOMATIC1111 and its forks -------------------------------------------------------------

_FORGE_VERSION = re.compile(r"f\d+\.\d")
_A1111_LINE_CHARS = 64 << 10


def _a1111_family(fields: Mapping[str, str], carrier: str) -> Signal | None:
    text = fields.get("parameters")
    if not text:
        return None
    scheme = fields.get("fooocus_scheme")
    software = fields.get("Software", "")
    as_json = _json_object(text)
    if as_json is not None:
        if _RUINED_FOOOCUS in str(as_json.get("software", "")):
            return None  # a fork with its own reader, `_ruinedfooocus`
        version = _clipped_scalar(as_json.get("version")) or ""
        if scheme or version.startswith("Fooocus") or software.startswith("Fooocus"):
            return _fooocus_json(as_json, carrier)
        return None
    parsed = _parse_a1111(text)
    if parsed is None:
        return None
    prompt, params = parsed
    version = params.get("Version", "")
    if scheme or version.startswith("Fooocus") or software.startswith("Fooocus"):
        source, tool = "fooocus", "Fooocus"
    elif _FORGE_VERSION.match(version):
        source, tool = "forge", "Forge"
    else:
        source, tool = "a1111", "AUTOMATIC1111"
    settings = {**params, "Raw prompt": params.get("Raw prompt") or prompt}
    return _settings_signal(source, tool, "generation parameters", settings, _A1111_KEYS, carrier)


_A1111_KEYS = _Keys(
    model=("Model",),
    model_hash=("Model hash",),
    sampler=("Sampler",),
    steps=("Steps",),
    seed=("Seed",),
    version=("Version",),
    prompt=("Raw prompt",),
)


def _fooocus_json(metadata: dict[str, Any], carrier: str) -> Signal:
    return _settings_signal(
        "fooocus", "Fooocus", "generation parameters", metadata, _FOOOCUS_KEYS, carrier
    )


_FOOOCUS_KEYS = _Keys(
    model=("base_model",),
    model_hash=("base_model_hash",),
    sampler=("sampler",),
    version=("version",),
)


def _parse_a1111(text: str) -> tuple[str, dict[str, str]] | None:
    """The prompt and the `Key: value` settings of A1111 `parameters`, or None if not that format.

    The settings are the last line that starts with "Steps:"; the prompt is everything before
    it up to "Negative prompt:".
    """
    lines = text.strip().splitlines()
    for index in range(len(lines) - 1, -1, -1):
        if lines[index].lstrip().startswith("Steps:"):
            break
    else:
        return None
    params = _a1111_settings(lines[index][:_A1111_LINE_CHARS])
    # Every A1111-family writer records the sampler and seed next to the step count.
    if not params.get("Steps", "").isdigit() or not {"Sampler", "Seed"} & params.keys():
        return None
    prompt: list[str] = []
    for line in lines[:index]:
        if line.startswith("Negative prompt:"):
            break
        prompt.append(line)
    return "\n".join(prompt).strip(), params


_QUOTED = re.compile(r'"(?:\\.|[^\\"])*"')


def _a1111_settings(line: str) -> dict[str, str]:
    """`Steps: 20, Sampler: Euler a, Lora hashes: "a: 1, b: 2"` as a dict, in linear time."""
    params: dict[str, str] = {}
    position = 0
    while position < len(line):
        colon = line.find(":", position)
        if colon < 0:
            break
        key = line[position:colon].strip()
        position = colon + 1
        while line.startswith(" ", position):
            position += 1
        quoted = _QUOTED.match(line, position)
        if quoted:
            try:
                value = json.loads(quoted[0])
            except ValueError:
                value = quoted[0][1:-1]
            comma = line.find(",", quoted.end())
        else:
            comma = line.find(",", position)
            value = line[position : comma if comma >= 0 else len(line)].strip()
        position = len(line) if comma < 0 else comma + 1
        if key:
            params.setdefault(key, str(value))
    return params


# ComfyUI -----------------------------------------------------------------------------------

_SAMPLER_INPUTS: dict[str, tuple[str, ...]] = {
    "sampler": ("sampler_name",),
    "steps": ("steps",),
    "seed": ("seed", "noise_seed"),
}
_MODEL_INPUTS = ("ckpt_name", "unet_name")


def _comfyui(fields: Mapping[str, str], carrier: str) -> Signal | None:
    graph = _comfy_api_graph(fields.get("prompt"))
    workflow = _comfy_workflow(fields.get("workflow"))
    if graph is None and workflow is None:
        return None
    checkpoints: list[str] = []
    detail: dict[str, Any] = {"graphs": []}
    if graph is not None:
        detail["graphs"].append("prompt")
        detail["node_count"] = len(graph)
        for node in graph.values():
            inputs = node["inputs"]
            checkpoints += [inputs[k] for k in _MODEL_INPUTS if isinstance(inputs.get(k), str)]
        detail.update(_comfy_sampling(graph))
    if workflow is not None:
        detail["graphs"].append("workflow")
        detail.setdefault("node_count", len(workflow))
        for node in workflow:
            kind = node["type"]
            values = node.get("widgets_values")
            if ("CheckpointLoader" in kind or kind == "UNETLoader") and isinstance(values, list):
                checkpoints += [v for v in values[:1] if isinstance(v, str)]
    detail["checkpoints"] = [_clip(name) for name in dict.fromkeys(checkpoints)][:10]
    if _parse_a1111(fields.get("parameters", "")) is not None:
        detail["a1111_parameters"] = True
    using = f" (checkpoint {', '.join(detail['checkpoints'])})" if detail["checkpoints"] else ""
    if graph is None:
        # A node graph without the prompt it ran: an image ComfyUI generated whose prompt was
        # stripped, or a screenshot of the node editor exported with its workflow.
        return _generated(
            "comfyui-workflow",
            "ComfyUI",
            f"ComfyUI workflow, {detail['node_count']} nodes{using}, without the prompt graph "
            "a generated image carries: a generated image or a screenshot of the node editor; "
            "a TD settles which",
            detail,
            carrier,
            Evidence.INFERRED,
        )
    return _generated(
        "comfyui", "ComfyUI", f"ComfyUI graph, {detail['node_count']} nodes{using}", detail, carrier
    )


def _comfy_api_graph(text: str | None) -> dict[str, dict[str, Any]] | None:
    """The API graph (`{"3": {"class_type": "KSampler", "inputs": {...}}, ...}`), or None."""
    graph = _json_object(text)
    if not graph:
        return None
    for node in graph.values():
        if not (
            isinstance(node, dict)
            and isinstance(node.get("class_type"), str)
            and isinstance(node.get("inputs"), dict)
        ):
            return None
    return graph


def _comfy_workflow(text: str | None) -> list[dict[str, Any]] | None:
    """The nodes of a UI workflow (`{"nodes": [{"id": 4, "type": ...}], "links": ...}`), or None."""
    workflow = _json_object(text)
    nodes = workflow.get("nodes") if workflow else None
    if not isinstance(nodes, list) or not nodes:
        return None
    for node in nodes:
        if not (isinstance(node, dict) and "id" in node and isinstance(node.get("type"), str)):
            return None
    return nodes


def _comfy_sampling(graph: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Sampler, steps, seed and positive prompt of the first sampler node with literal inputs."""
    for node in graph.values():
        inputs = node["inputs"]
        if "steps" not in inputs or "positive" not in inputs:
            continue
        found: dict[str, Any] = {}
        for name, keys in _SAMPLER_INPUTS.items():
            for key in keys:
                value = inputs.get(key)
                if isinstance(value, (str, int)) and not isinstance(value, bool):
                    found[name] = _clip(value) if isinstance(value, str) else value
                    break
        link = inputs.get("positive")
        if isinstance(link, list) and link:
            source = graph.get(str(link[0]))
            text = source["inputs"].get("text") if source else None
            found["prompt"] = _excerpt(text)
        return found
    return {}


# InvokeAI, NovelAI, Midjourney -----------------------------------------------------------

_DREAM_OPTION = re.compile(r"\s-(?:S|s)\s?\d+")
_DREAM_SEED = re.compile(r"\s-S\s?(\d+)")


def _invokeai(fields: Mapping[str, str], carrier: str) -> Signal | None:
    metadata = _json_object(fields.get("invokeai_metadata"))
    graph = _json_object(fields.get("invokeai_graph"))
    nodes = graph.get("nodes") if graph else None
    legacy = _json_object(fields.get("sd-metadata"))
    if legacy is not None and not (
        isinstance(legacy.get("image"), dict) or "invoke" in str(legacy.get("app_id", ""))
    ):
        legacy = None
    dream = fields.get("Dream", "")
    if not _DREAM_OPTION.search(dream):
        dream = ""
    if metadata is None and not isinstance(nodes, (dict, list)) and legacy is None and not dream:
        return None
    detail: dict[str, Any] = {}
    if metadata is not None:
        _merge(detail, _invokeai_metadata(metadata))
    if isinstance(nodes, (dict, list)):
        detail["node_count"] = len(nodes)
    if legacy is not None:
        _merge(detail, _invokeai_legacy(legacy))
    if dream:
        seed = _DREAM_SEED.search(dream)
        prompt = dream.split('"')[1] if dream.lstrip().startswith('"') else dream
        _merge(detail, {"seed": int(seed[1]) if seed else None, "prompt": _excerpt(prompt)})
    model = detail.get("model")
    summary = "InvokeAI generation metadata" + (f" (model {model})" if model else "")
    return _generated("invokeai", "InvokeAI", summary, detail, carrier)


def _invokeai_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    """InvokeAI 3 and later: `invokeai_metadata`."""
    model = metadata.get("model")
    if isinstance(model, dict):
        model = model.get("name") or model.get("model_name")
    return {
        "model": _clipped_scalar(model),
        "sampler": _clipped_scalar(metadata.get("scheduler")),
        "steps": _number(metadata.get("steps")),
        "seed": _number(metadata.get("seed")),
        "version": _clipped_scalar(metadata.get("app_version")),
        "generation_mode": _clipped_scalar(metadata.get("generation_mode")),
        "prompt": _excerpt(metadata.get("positive_prompt")),
    }


def _invokeai_legacy(legacy: dict[str, Any]) -> dict[str, Any]:
    """InvokeAI 2: `sd-metadata`."""
    image = legacy.get("image")
    image = image if isinstance(image, dict) else {}
    prompt = image.get("prompt")
    if isinstance(prompt, list) and prompt and isinstance(prompt[0], dict):
        prompt = prompt[0].get("prompt")
    return {
        "model": _clipped_scalar(legacy.get("model_weights")),
        "model_hash": _clipped_scalar(legacy.get("model_hash")),
        "sampler": _clipped_scalar(image.get("sampler")),
        "steps": _number(image.get("steps")),
        "seed": _number(image.get("seed")),
        "version": _clipped_scalar(legacy.get("app_version")),
        "prompt": _excerpt(prompt),
    }


def _merge(detail: dict[str, Any], more: Mapping[str, Any]) -> None:
    """Fill the keys `detail` has no value for."""
    for key, value in more.items():
        if detail.get(key) is None:
            detail[key] = value


def _novelai(fields: Mapping[str, str], carrier: str) -> Signal | None:
    # "NovelAI" in PNGs; "NovelAI Diffusion V4.5 ..." in the EXIF Software tag of its WebPs.
    software = fields.get("Software", "").strip()
    if not software.lower().startswith("novelai"):
        return None
    comment = _json_object(fields.get("Comment")) or _json_object(fields.get("parameters")) or {}
    model = _clip(fields.get("Source")) or (_clip(software) if software != "NovelAI" else None)
    caption = comment.get("v4_prompt")
    caption = caption.get("caption") if isinstance(caption, dict) else None
    base = caption.get("base_caption") if isinstance(caption, dict) else None
    detail = {
        "model": model,
        "sampler": _clipped_scalar(comment.get("sampler")),
        "steps": _number(comment.get("steps")),
        "seed": _number(comment.get("seed")),
        "generation_time": _clip(fields.get("Generation time")),
        "prompt": _excerpt(comment.get("prompt") or base or fields.get("Description")),
    }
    summary = "NovelAI image" + (f" ({model})" if model else "")
    return _generated("novelai", "NovelAI", summary, detail, carrier)


# A render farm's "Job ID: 4711" is not Midjourney's: Midjourney's job IDs are UUIDs.
_MIDJOURNEY_JOB = re.compile(
    r"Job ID:\s*([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\b", re.IGNORECASE
)


def _midjourney(fields: Mapping[str, str], carrier: str) -> Signal | None:
    description = fields.get("Description", "")
    job = _MIDJOURNEY_JOB.search(description)
    if job is None:
        return None
    detail = {
        "job_id": job[1].lower(),
        "author": _clip(fields.get("Author")),
        "prompt": _excerpt(description[: job.start()]),
    }
    return _generated("midjourney", "Midjourney", f"Midjourney job {job[1]}", detail, carrier)


# SwarmUI, RuinedFooocus, diffusers and PPDiffusers, Draw Things, Easy Diffusion, Stability Matrix


def _swarmui(fields: Mapping[str, str], carrier: str) -> Signal | None:
    """`parameters` (PNG) or EXIF UserComment (JPEG, WebP): {"sui_image_params": {...}}."""
    params = _json_object(fields.get("parameters"))
    image = params.get("sui_image_params") if params else None
    if not isinstance(image, dict):
        return None
    keys = _Keys(model=("model",), sampler=("sampler",), version=("swarm_version",))
    return _settings_signal("swarmui", "SwarmUI", "generation parameters", image, keys, carrier)


_RUINED_FOOOCUS = "RuinedFooocus"


def _ruinedfooocus(fields: Mapping[str, str], carrier: str) -> Signal | None:
    """`parameters` JSON with `"software": "RuinedFooocus"`."""
    params = _json_object(fields.get("parameters"))
    if not params or _RUINED_FOOOCUS not in str(params.get("software", "")):
        return None
    keys = _Keys(
        model=("base_model_name",),
        model_hash=("base_model_hash",),
        sampler=("sampler_name",),
        prompt=("Prompt",),
    )
    return _settings_signal(
        "ruinedfooocus", _RUINED_FOOOCUS, "generation parameters", params, keys, carrier
    )


_DIFFUSERS_SETTINGS = ("num_inference_steps", "guidance_scale")
_PADDLE_KEYWORDS = ("pipe", "scheduler_type", "type_to_img")
_EASY_DIFFUSION_MODEL = ("use_stable_diffusion_model", "Stable Diffusion model")


def _diffusers(fields: Mapping[str, str], carrier: str) -> Signal | None:
    """Pipelines built on diffusers: a Hugging Face Space's `parameters` JSON (prompt,
    resolution, guidance_scale, num_inference_steps, Model ...), or one text chunk per call
    argument, as scripts and PaddleNLP's PPDiffusers web UI save them (prompt, negative_prompt,
    num_inference_steps, guidance_scale, seed; PPDiffusers adds pipe and scheduler_type)."""
    params = _json_object(fields.get("parameters"))
    if (
        params is not None
        and isinstance(params.get("prompt"), str)
        and ({*_DIFFUSERS_SETTINGS, "resolution"} & params.keys())
        and not {"software", "sui_image_params", *_EASY_DIFFUSION_MODEL} & params.keys()
    ):
        keys = _Keys(
            model=("Model",),
            model_hash=("Model hash",),
            sampler=("sampler",),
            steps=("num_inference_steps",),
        )
        what = "pipeline parameters (Hugging Face Space)"
        return _settings_signal("diffusers", "diffusers", what, params, keys, carrier)
    prompt = fields.get("prompt", "")
    if (
        not prompt.strip()
        or prompt.lstrip().startswith("{")
        or not any(fields.get(key, "").strip() for key in _DIFFUSERS_SETTINGS)
        or any(key in fields for key in _EASY_DIFFUSION_MODEL)
    ):
        return None
    paddle = any(key in fields for key in _PADDLE_KEYWORDS)
    keys = _Keys(
        model=("pipe", "model"),
        sampler=("scheduler_type", "scheduler"),
        steps=("num_inference_steps",),
    )
    tool = "PPDiffusers" if paddle else "diffusers"
    source = "ppdiffusers" if paddle else "diffusers"
    return _settings_signal(source, tool, "pipeline arguments", fields, keys, carrier)


def _drawthings(fields: Mapping[str, str], carrier: str) -> Signal | None:
    """XMP with `xmp:CreatorTool` "Draw Things" and its settings as JSON in `exif:UserComment`
    (`c` is the prompt)."""
    settings = _json_object(fields.get("UserComment")) or _json_object(fields.get("parameters"))
    named = fields.get("CreatorTool", fields.get("Software", "")).startswith("Draw Things")
    own_json = settings is not None and "c" in settings and {"sampler", "seed"} <= settings.keys()
    if not (named or own_json):
        return None
    keys = _Keys(model=("model",), sampler=("sampler",), prompt=("c",))
    return _settings_signal(
        "drawthings", "Draw Things", "generation settings", settings or {}, keys, carrier
    )


def _easydiffusion(fields: Mapping[str, str], carrier: str) -> Signal | None:
    """One text chunk per setting (PNG), or JSON in EXIF UserComment (JPEG, WebP), naming the
    model as `use_stable_diffusion_model` (or `Stable Diffusion model`)."""
    settings: Mapping[str, Any] = fields
    if not any(key in fields for key in _EASY_DIFFUSION_MODEL):
        params = _json_object(fields.get("parameters"))
        if params is None or not any(key in params for key in _EASY_DIFFUSION_MODEL):
            return None
        settings = params
    path = _clipped_scalar(
        next((settings[k] for k in _EASY_DIFFUSION_MODEL if settings.get(k)), None)
    )
    model = path.replace("\\", "/").rsplit("/", 1)[-1] if path else None
    keys = _Keys(
        sampler=("sampler_name", "Sampler"),
        steps=("num_inference_steps", "Steps"),
        seed=("seed", "Seed"),
        prompt=("prompt", "Prompt"),
    )
    return _settings_signal(
        "easydiffusion", "Easy Diffusion", "generation settings", settings, keys, carrier, model
    )


def _stability_matrix(fields: Mapping[str, str], carrier: str) -> Signal | None:
    """Its own `parameters-json` chunk (and `smproj`, the project), beside the A1111-style
    `parameters` and ComfyUI `prompt` it also writes."""
    params = _json_object(fields.get("parameters-json"))
    if params is None and "smproj" not in fields:
        return None
    keys = _Keys(
        model=("ModelName",),
        model_hash=("ModelHash",),
        sampler=("Sampler",),
        steps=("Steps",),
        seed=("Seed",),
        prompt=("PositivePrompt",),
    )
    return _settings_signal(
        "stability-matrix", "Stability Matrix", "generation parameters", params or {}, keys, carrier
    )


# --- small helpers ------------------------------------------------------------------------


def _json_object(text: str | None) -> dict[str, Any] | None:
    if not text or not text.lstrip().startswith("{"):
        return None
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _clip(value: object) -> str | None:
    if value is None:
        return None
    return str(value).strip()[:EXCERPT_CHARS] or None


def _clipped_scalar(value: object) -> str | None:
    """A setting written as text or a number, as text clipped to an excerpt; None otherwise."""
    return _clip(value) if isinstance(value, (str, int, float)) else None


def _excerpt(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    return _clip(" ".join(value.split()))


def _number(value: object) -> int | str | None:
    """An integer setting (steps, seed) as int; anything else clipped to text."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    text = _clip(value)
    if text is not None and text.isdigit() and len(text) < 40:
        return int(text)
    return text

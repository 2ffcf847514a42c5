"""C2PA content credentials: the manifest store embedded in a file or in its `.c2pa` sidecar, read into `Signal`s.

`read_c2pa` opens the file; `signal_from_manifest_store` is the pure core that turns the
manifest store JSON (what `c2pa.Reader.json()` returns) into one `Signal`. That core, and how
it decides the origin, is `provenance.detect.c2pa_manifest_store` (its names are re-exported
here); this module is the reading: the file, its sidecars, the C2PA library, the trust anchors.

Evidence is `EMBEDDED_SIGNED` when the store validates (`Valid`, or `Trusted` when the signer
chains to one of the trust anchors), `EMBEDDED` otherwise. Trust anchors come from the
`trust_anchors` argument, else from the PEM file named by `PROVENANCE_C2PA_TRUST_ANCHORS`.

Reading never goes to the network (`_OFFLINE`): remote manifests are not fetched, nor OCSP
responses, CAWG identity assertions are not decoded (an identity-claims-aggregation credential
names a `did:web` issuer the SDK would resolve over HTTPS), and the SDK may contact no host at
all. Trust lists are the PEM bundle given here, never a URL.
"""

from __future__ import annotations

import functools
import json
import mimetypes
import os
import re
import threading
from collections.abc import Mapping
from typing import Any, BinaryIO

import c2pa  # type: ignore[import-untyped]

from provenance.detect import Signal
from provenance.detect.c2pa_manifest_store import (
    INVALID,
    TRUSTED,
    VALID,
    signal_from_manifest_store,
    unreadable_signal,
)
from provenance.detect.sniff import (
    BMFF_FIRST_BOXES,
    SIDECAR,
    sidecar_paths,
    starts_like_readable,
)
from provenance.detect.trust import TRUST_ANCHORS_ENV, checked_anchors, configured_anchors
from provenance.errors import ProvenanceError

__all__ = [
    "INVALID",
    "SIDECAR_SUFFIX",
    "TRUSTED",
    "TRUST_ANCHORS_ENV",
    "VALID",
    "read_c2pa",
    "sidecar_candidates",
    "signal_from_manifest_store",
]


SIDECAR_SUFFIX = SIDECAR.decode()

# Every C2PA manifest store opens with a JUMBF description box of type "c2pa"
# (`jumd` + the UUID whose first bytes are "c2pa"), in JPEG APP11, PNG caBX, BMFF uuid boxes
# and sidecars alike.
_STORE_MARKER = b"jumdc2pa"
# Where an unparseable file is searched for that marker and for legible source types: manifests
# sit near the start of the formats that embed them, and an error path must stay cheap.
_MARKER_SCAN_BYTES = 4 * 1024 * 1024
# A sidecar holds a manifest store (thumbnails included): far below this. A bigger file named
# `.c2pa` is not one, and is not read into memory.
_MAX_SIDECAR_BYTES = 64 * 1024 * 1024
_READ_ERRORS = (c2pa.C2paError, OSError, ValueError)
_REMOTE_URL = re.compile(r"\b(?:url|from)\s+(\S+://\S+)", re.IGNORECASE)
_XMP_PROVENANCE_URL = re.compile(
    rb"dcterms:provenance(?:\s*=\s*[\"']|>)\s*([^\"'<\s]{1,2048})", re.IGNORECASE
)
# What reading may do: nothing over the network (see the module docstring). An empty host
# list refuses every host, whatever a later SDK version fetches by default.
_OFFLINE: dict[str, Any] = {
    "verify": {"remote_manifest_fetch": False, "ocsp_fetch": False},
    "core": {"decode_identity_assertions": False, "allowed_network_hosts": []},
}


def read_c2pa(
    path: str | bytes | os.PathLike[str] | os.PathLike[bytes],
    trust_anchors: bytes | None = None,
) -> list[Signal]:
    """The C2PA signals of one file: its embedded manifest store, then each `.c2pa` sidecar beside it.

    Sidecars are `name.c2pa` and `name.ext.c2pa` (EXR and DPX frames carry credentials only
    this way). Returns [] for a missing or unreadable file, a file without a manifest, and a
    `.c2pa` file itself (a sidecar belongs to its asset). A manifest that is present but cannot
    be read or does not validate gives a signal with validation state `Invalid`.

    Only types the C2PA library reads are opened (decided by extension); any other file costs
    two `stat` calls looking for sidecars. `trust_anchors` is a PEM bundle of root certificates
    whose signers read as `Trusted`; None reads the file named by `PROVENANCE_C2PA_TRUST_ANCHORS`.

    Raises ProvenanceError only for unusable trust anchors (a configuration error, not a file's).
    """
    asset = os.fsdecode(path)
    extension = os.path.splitext(asset)[1].lower()
    if extension == SIDECAR_SUFFIX:
        return []
    embedded_format = format_of(extension)
    sidecars = [candidate for candidate in sidecar_candidates(asset) if os.path.isfile(candidate)]
    if embedded_format is None and not sidecars:
        return []
    if not os.path.isfile(asset):
        return []
    embedded = embedded_format is not None and _may_hold_manifest(asset)
    if not embedded and not sidecars:
        return []
    context = _reading_context(_resolve_trust_anchors(trust_anchors))
    signals: list[Signal] = []
    if embedded and embedded_format is not None:
        found = _read_embedded(asset, embedded_format, context)
        if found is not None:
            signals.append(found)
    sidecar_format = embedded_format or mimetypes.guess_type(asset)[0] or "application/octet-stream"
    signals.extend(_read_sidecar(asset, sidecar, sidecar_format, context) for sidecar in sidecars)
    return signals


def sidecar_candidates(
    path: str | bytes | os.PathLike[str] | os.PathLike[bytes],
) -> tuple[str, ...]:
    """Where a `.c2pa` sidecar for `path` may sit: `name.c2pa`, then `name.ext.c2pa`."""
    return tuple(os.fsdecode(candidate) for candidate in sidecar_paths(os.fsencode(path)))


# --- reading -------------------------------------------------------------------------------


def _read_embedded(asset: str, file_format: str, context: Any) -> Signal | None:
    try:
        with (
            open(asset, "rb") as stream,
            c2pa.Reader(file_format, stream, context=context) as reader,
        ):
            text = reader.json()
        return signal_from_manifest_store(_parse_store(text))
    except c2pa.C2paError.ManifestNotFound:
        return None
    except _READ_ERRORS as exc:
        head = _head(asset)
        if _STORE_MARKER not in head and not _is_remote(exc):
            return None
        return unreadable_signal(
            _error_text(exc), sidecar=None, legible=head, remote_url=_remote_url(exc, head)
        )


def _read_sidecar(asset: str, sidecar: str, file_format: str, context: Any) -> Signal:
    try:
        with open(sidecar, "rb") as handle:
            manifest = handle.read(_MAX_SIDECAR_BYTES + 1)
    except OSError as exc:
        return unreadable_signal(_error_text(exc), sidecar=sidecar)
    if not manifest:
        return unreadable_signal("the sidecar is empty", sidecar=sidecar)
    if len(manifest) > _MAX_SIDECAR_BYTES:
        return unreadable_signal("the sidecar is too large to be a manifest", sidecar=sidecar)
    try:
        with (
            open(asset, "rb") as stream,
            c2pa.Reader(file_format, stream, manifest, context=context) as reader,
        ):
            text = reader.json()
        return signal_from_manifest_store(_parse_store(text), sidecar=sidecar)
    except _READ_ERRORS as exc:
        return unreadable_signal(_error_text(exc), sidecar=sidecar, legible=manifest)


def _parse_store(text: str) -> Mapping[str, Any]:
    store = json.loads(text)
    if not isinstance(store, Mapping):
        raise ValueError("the manifest store is not a JSON object")
    return store


def _may_hold_manifest(asset: str) -> bool:
    """False when a JPEG or PNG surely holds no manifest, from its segment or chunk list alone.

    The C2PA reader parses the whole file (about 150 µs for 64 KiB, 7 ms for a 14 MB JPEG, all
    of it read), while a manifest, or the XMP `dcterms:provenance` that points to a remote one,
    can only sit in a JPEG's APP11/APP1 segments before its first scan or in PNG chunks,
    which are walked here by seeking. Other types, and files whose bytes do not start as their
    type, go to the reader.
    """
    try:
        # Unbuffered: the walk is a few small reads between seeks, which a buffer would refill.
        with open(asset, "rb", buffering=0) as handle:
            start = handle.read(16)
            if start[:3] == b"\xff\xd8\xff":
                handle.seek(2)
                return _jpeg_may_hold_manifest(handle)
            if start[:8] == b"\x89PNG\r\n\x1a\n":
                handle.seek(8)
                return _png_may_hold_manifest(handle)
            if start[4:8] in BMFF_FIRST_BOXES:
                handle.seek(0)
                return _bmff_may_hold_manifest(handle)
    except OSError:
        return True
    # A file whose bytes start as no type the reader parses (random bytes named .mov) cannot
    # be parsed by it either: nothing to read. Any other (WebP, TIFF, PDF ...) goes to the reader.
    return starts_like_readable(start, os.fsencode(os.path.splitext(asset)[1].lower()))


_C2PA_UUID = bytes.fromhex("d8fec3d61b0e483c92975828877ec481")


def _bmff_may_hold_manifest(handle: BinaryIO) -> bool:
    """An ISO BMFF file (MP4, MOV, HEIF, AVIF) carries its manifest in a top-level `uuid` box
    with C2PA's UUID: walk the top-level boxes by seeking."""
    position = 0
    for _ in range(4096):
        header = handle.read(16)
        if len(header) < 8:
            return False
        size = int.from_bytes(header[:4], "big")
        kind = header[4:8]
        body = 8
        if size == 1:
            if len(header) < 16:
                return True
            size = int.from_bytes(header[8:16], "big")
            body = 16
        if kind == b"uuid":
            if body == 8:
                return header[8:16] == _C2PA_UUID[:8] or len(header) < 16
            return handle.read(8) == _C2PA_UUID[:8]
        if size == 0:
            return False  # the last box runs to the end of the file
        if size < body:
            return True  # not a box structure this walk understands: let the reader judge
        position += size
        handle.seek(position)
    return True


_XMP_PROVENANCE = b"dcterms:provenance"
_XMP_READ_LIMIT = 4 * 1024 * 1024


def _jpeg_may_hold_manifest(handle: BinaryIO) -> bool:
    while True:
        marker = handle.read(2)
        while marker[:1] == b"\xff" and marker[1:] == b"\xff":  # fill bytes
            marker = b"\xff" + handle.read(1)
        if len(marker) < 2 or marker[0] != 0xFF:
            return True  # not a segment where one belongs: let the reader judge the file
        kind = marker[1]
        if kind in (0xDA, 0xD9):  # start of scan, end of image
            return False
        if 0xD0 <= kind <= 0xD7 or kind == 0x01:  # no length
            continue
        length_bytes = handle.read(2)
        if len(length_bytes) < 2:
            return True
        length = int.from_bytes(length_bytes, "big")
        if length < 2:
            return True
        if kind == 0xEB:  # APP11: JUMBF
            return True
        if kind == 0xE1 and _XMP_PROVENANCE in handle.read(max(length - 2, 0)):
            return True
        if kind != 0xE1:
            handle.seek(length - 2, os.SEEK_CUR)


def _png_may_hold_manifest(handle: BinaryIO) -> bool:
    while True:
        header = handle.read(8)
        if len(header) < 8:
            return False  # the chunk list ended without one (a truncated file included)
        length, kind = int.from_bytes(header[:4], "big"), header[4:]
        if kind == b"caBX":
            return True
        if kind == b"IEND":
            return False
        skip = length + 4  # the data and its CRC
        if kind == b"iTXt":
            text = handle.read(min(length, _XMP_READ_LIMIT))
            if _XMP_PROVENANCE in text:
                return True
            skip -= len(text)
        handle.seek(skip, os.SEEK_CUR)


def _head(asset: str) -> bytes:
    try:
        with open(asset, "rb") as handle:
            return handle.read(_MARKER_SCAN_BYTES)
    except OSError:
        return b""


def _is_remote(exc: BaseException) -> bool:
    return str(exc).startswith("Remote:")


def _remote_url(exc: BaseException, head: bytes) -> str | None:
    """The URL of a remote manifest the reader refused to fetch: from its error, else from the
    XMP `dcterms:provenance` that points to it."""
    if not _is_remote(exc):
        return None
    said = _REMOTE_URL.search(str(exc))
    if said:
        return said[1][:_MAX_URL_CHARS]
    pointed = _XMP_PROVENANCE_URL.search(head)
    return pointed[1].decode("utf-8", "replace")[:_MAX_URL_CHARS] if pointed else None


_MAX_URL_CHARS = 500


def _error_text(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


@functools.lru_cache(maxsize=64)
def format_of(extension: str) -> str | None:
    """The format to hand the C2PA reader for a file extension, or None when it cannot embed."""
    supported = _supported_formats()
    bare = extension.lstrip(".")
    if not bare or bare == "c2pa":
        return None
    if bare in supported:
        return bare
    guessed = mimetypes.guess_type("file" + extension)[0]
    if guessed and guessed.lower() in supported:
        return guessed.lower()
    return None


@functools.lru_cache(maxsize=1)
def _supported_formats() -> frozenset[str]:
    formats = frozenset(str(f).lower() for f in c2pa.Reader.get_supported_mime_types())
    return formats - {"c2pa", "application/c2pa", "application/x-c2pa-manifest-store"}


def _resolve_trust_anchors(trust_anchors: bytes | None) -> bytes | None:
    if trust_anchors is not None:
        return checked_anchors(trust_anchors) if trust_anchors else None
    return configured_anchors()


_contexts: dict[tuple[int, bytes | None], Any] = {}
_contexts_lock = threading.Lock()


def _reading_context(trust_anchors: bytes | None) -> Any:
    """One reading `c2pa.Context` per set of anchors (per process: contexts do not survive fork)."""
    key = (os.getpid(), trust_anchors)
    with _contexts_lock:
        context = _contexts.get(key)
        if context is not None:
            return context
        settings: dict[str, Any] = dict(_OFFLINE)
        if trust_anchors is not None:
            try:
                settings["trust"] = {"user_anchors": trust_anchors.decode("ascii")}
                context = c2pa.Context.from_dict(settings)
            except (UnicodeDecodeError, c2pa.C2paError) as exc:
                raise ProvenanceError(
                    f"The C2PA library refused the trust anchors ({_error_text(exc)}). Give a "
                    f"PEM bundle of root certificates, or unset {TRUST_ANCHORS_ENV}."
                ) from exc
        else:
            context = c2pa.Context.from_dict(settings)
        _contexts[key] = context
        return context

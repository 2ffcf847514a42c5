"""C2PA content credentials: the manifest store embedded in a file or in its `.c2pa` sidecar, read into `Signal`s.

`read_c2pa` opens the file; `signal_from_manifest_store` is the pure core that turns the
manifest store JSON (what `c2pa.Reader.json()` returns) into one `Signal`.

How the origin is decided, from the active manifest:

- Every `digitalSourceType` on an action of a `c2pa.actions` / `c2pa.actions.v2` assertion is a
  claim (http:// or https:// IPTC URIs, C2PA's own `trainedAlgorithmicData`, bare codes), and
  Adobe's older `com.adobe.generative-ai` assertion claims `trainedAlgorithmicMedia`. The claims
  add up as in `summarize_claims`: agreement in kind gives the newest wording, disagreement the
  most cautious one (`created` as AI then `edited` by hand stays AI).
- Ingredients are walked, each through its own manifest in the store and that manifest's
  ingredients in turn (cycles and repeats are visited once). An ingredient that comes out
  generative, whatever its relationship (`parentOf`, `componentOf`, `inputTo`), makes the asset
  `compositeWithTrainedAlgorithmicMedia`, unless the asset's own actions already claim a
  generative origin, which then stands.
- A manifest whose actions carry only non-generative types (`digitalCapture`, `digitalCreation`,
  ...) gives that origin. A manifest with no source type at all gives origin None: the signal only
  informs (who signed, with what tool), and says nothing about how the pixels were made.
- An action's source type is read wherever producers put it: its `digitalSourceType` field, and
  its `parameters` under `com.adobe.digitalSourceType` (Adobe Firefly and Photoshop) or
  `digitalSourceType`. Every one found is a claim, so a generative type cannot hide behind a
  non-generative one in another place.
- A manifest that does not validate (`Invalid`) vouches for nothing, so a non-generative origin
  from it is dropped (origin None); a generative one is kept, because a broken manifest that says
  "AI" is still a reason to look, and so is `algorithmicMedia` (what early generators wrote).
  The same holds when the store cannot be parsed at all: those source types still legible in its
  bytes are kept.
- Credentials that are there but cannot be read say so in the signal's detail (`unreadable`,
  see `provenance.detect.UNREADABLE_REASONS`): a remote manifest (its URL), a prerelease
  format, a signature algorithm the reader does not support, a store that does not parse.

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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import c2pa  # type: ignore[import-untyped]

from provenance.detect import UNREADABLE, UNREADABLE_REASONS, Signal
from provenance.detect.sniff import (
    BMFF_FIRST_BOXES,
    SIDECAR,
    sidecar_paths,
    starts_like_readable,
)
from provenance.detect.trust import TRUST_ANCHORS_ENV, checked_anchors, configured_anchors
from provenance.errors import ProvenanceError
from provenance.origins import ClaimFacts, Evidence, Origin, origin_of_code, summarize_claims

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

# The validation states c2pa-rs reports, strongest last.
INVALID = "Invalid"
VALID = "Valid"
TRUSTED = "Trusted"

_ACTION_LABELS = frozenset({"c2pa.actions", "c2pa.actions.v2"})
_ADOBE_GENERATIVE_AI = "com.adobe.generative-ai"
# Every C2PA manifest store opens with a JUMBF description box of type "c2pa"
# (`jumd` + the UUID whose first bytes are "c2pa"), in JPEG APP11, PNG caBX, BMFF uuid boxes
# and sidecars alike.
_STORE_MARKER = b"jumdc2pa"
# Where an unparseable file is searched for that marker and for legible source types: manifests
# sit near the start of the formats that embed them, and an error path must stay cheap.
_MARKER_SCAN_BYTES = 4 * 1024 * 1024
_SOURCE_TYPE_BYTES = re.compile(rb"digitalsourcetype/([A-Za-z]{3,64})")
# A sidecar holds a manifest store (thumbnails included): far below this. A bigger file named
# `.c2pa` is not one, and is not read into memory.
_MAX_SIDECAR_BYTES = 64 * 1024 * 1024
_MAX_FAILURE_CODES = 8
_READ_ERRORS = (c2pa.C2paError, OSError, ValueError)
# Kept from a manifest that does not validate, besides the generative types: early generators
# labelled their output algorithmicMedia before trainedAlgorithmicMedia was coined.
_KEPT_WHEN_INVALID = frozenset({Origin.ALGORITHMIC_MEDIA})
# Where an action's parameters carry its source type (Adobe writes the first).
_PARAMETER_SOURCE_TYPES = ("com.adobe.digitalSourceType", "digitalSourceType")
# Validation failures that mean the reader could not check the signature at all.
_UNVERIFIABLE_FAILURES = {"algorithm.unsupported": "unsupported-algorithm"}
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


def signal_from_manifest_store(store: Mapping[str, Any], *, sidecar: str | None = None) -> Signal:
    """The signal a manifest store gives (the parsed JSON of `c2pa.Reader.json()`).

    `sidecar` is the sidecar's path when the store came from one. A store without a usable
    active manifest gives an `Invalid` signal with origin None.
    """
    manifests = store.get("manifests")
    manifests = manifests if isinstance(manifests, Mapping) else {}
    label = _string_field(store.get("active_manifest"))
    active = manifests.get(label) if label else None
    state = _string_field(store.get("validation_state")) or INVALID
    failures = _failure_codes(store)
    if label is None or not isinstance(active, Mapping):
        return _unreadable_signal(
            "the manifest store has no active manifest", sidecar=sidecar, failures=failures
        )

    judge = _Judge(manifests)
    own = _own_claims(active)
    verdict = judge.verdict(label, active)
    ingredients = _ingredient_facts(active, judge)
    origin = verdict.origin
    dropped: Origin | None = None
    if state not in (VALID, TRUSTED) and origin is not None and not _kept_when_invalid(origin):
        dropped, origin = origin, None
    claim_generator = _claim_generator(active)
    tool = verdict.tool or own.first_agent or claim_generator["name"]

    detail: dict[str, Any] = {
        "validation_state": state,
        "validation_failures": failures,
        "manifest": label,
        "title": _string_field(active.get("title")),
        "claim_generator": claim_generator,
        "signer": _signer(active),
        "digital_source_types": own.source_types,
        "actions": own.actions,
        "ingredients": ingredients,
        "ai_ingredients": [i["title"] for i in ingredients if i["generative"]],
        "sidecar": sidecar is not None,
    }
    signed_at = _signature_field(active, "time")
    if signed_at:
        detail["signed_at"] = signed_at
    if sidecar is not None:
        detail["sidecar_path"] = sidecar
    if dropped is not None:
        detail["ignored_origin"] = dropped.value
    unverifiable = next(
        (_UNVERIFIABLE_FAILURES[c] for c in failures if c in _UNVERIFIABLE_FAILURES), None
    )
    if unverifiable is not None:
        detail[UNREADABLE] = unverifiable
    titles = tuple(i["title"] for i in ingredients if i["title"])
    summary = _summary(state, tool, detail, origin, verdict, dropped, sidecar)
    if unverifiable is not None:
        summary += f"; {UNREADABLE_REASONS[unverifiable]}"
    return Signal(
        source="c2pa-sidecar" if sidecar is not None else "c2pa",
        origin=origin,
        evidence=Evidence.EMBEDDED_SIGNED if state in (VALID, TRUSTED) else Evidence.EMBEDDED,
        summary=summary,
        tool=tool,
        detail=detail,
        ingredients=titles,
    )


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
        return _unreadable_signal(
            _error_text(exc), sidecar=None, legible=head, remote_url=_remote_url(exc, head)
        )


def _read_sidecar(asset: str, sidecar: str, file_format: str, context: Any) -> Signal:
    try:
        with open(sidecar, "rb") as handle:
            manifest = handle.read(_MAX_SIDECAR_BYTES + 1)
    except OSError as exc:
        return _unreadable_signal(_error_text(exc), sidecar=sidecar)
    if not manifest:
        return _unreadable_signal("the sidecar is empty", sidecar=sidecar)
    if len(manifest) > _MAX_SIDECAR_BYTES:
        return _unreadable_signal("the sidecar is too large to be a manifest", sidecar=sidecar)
    try:
        with (
            open(asset, "rb") as stream,
            c2pa.Reader(file_format, stream, manifest, context=context) as reader,
        ):
            text = reader.json()
        return signal_from_manifest_store(_parse_store(text), sidecar=sidecar)
    except _READ_ERRORS as exc:
        return _unreadable_signal(_error_text(exc), sidecar=sidecar, legible=manifest)


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


def _unreadable_kind(reason: str, remote: bool) -> str:
    """Why credentials that are there could not be read, as one of UNREADABLE_REASONS."""
    lowered = reason.lower()
    if remote:
        return "remote-manifest"
    if "prerelease" in lowered:
        return "prerelease"
    if "algorithm" in lowered and ("support" in lowered or "unknown" in lowered):
        return "unsupported-algorithm"
    return "unparseable"


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


# --- the manifest store ---------------------------------------------------------------------


@dataclass
class _OwnClaims:
    """What one manifest's own assertions say (its ingredients aside)."""

    origins: list[tuple[Origin, str | None]] = field(default_factory=list)
    """Each claimed origin, in assertion order, with the agent of the action that claimed it."""
    source_types: list[str] = field(default_factory=list)
    actions: list[dict[str, Any]] = field(default_factory=list)
    first_agent: str | None = None

    @property
    def origin(self) -> Origin | None:
        if not self.origins:
            return None
        return summarize_claims([ClaimFacts(o) for o, _ in self.origins]).origin

    def agent_for(self, origin: Origin) -> str | None:
        agents = [agent for o, agent in self.origins if o is origin and agent]
        return agents[0] if agents else self.first_agent


@dataclass(frozen=True)
class _Verdict:
    origin: Origin | None
    tool: str | None = None
    via_ingredient: str | None = None
    """The title of the ingredient whose generative origin made this one a composite."""


class _Judge:
    """Decides the origin of the manifests of one store, each once (cycles guarded)."""

    def __init__(self, manifests: Mapping[str, Any]) -> None:
        self._manifests = manifests
        self._done: dict[str, _Verdict] = {}
        self._visiting: set[str] = set()

    def of_label(self, label: object) -> _Verdict:
        if not isinstance(label, str):
            return _Verdict(None)
        manifest = self._manifests.get(label)
        if not isinstance(manifest, Mapping):
            return _Verdict(None)
        return self.verdict(label, manifest)

    def verdict(self, label: str, manifest: Mapping[str, Any]) -> _Verdict:
        if label in self._done:
            return self._done[label]
        if label in self._visiting:
            return _Verdict(None)
        self._visiting.add(label)
        try:
            verdict = self._decide(manifest)
        finally:
            self._visiting.discard(label)
        self._done[label] = verdict
        return verdict

    def _decide(self, manifest: Mapping[str, Any]) -> _Verdict:
        own = _own_claims(manifest)
        origin = own.origin
        if origin is not None and origin.generative:
            return _Verdict(origin, own.agent_for(origin))
        for ingredient in _ingredients(manifest):
            found = self.of_label(_ingredient_manifest_label(ingredient))
            if found.origin is not None and found.origin.generative:
                return _Verdict(
                    Origin.COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA,
                    found.tool,
                    via_ingredient=_string_field(ingredient.get("title")) or "untitled",
                )
        if origin is None:
            return _Verdict(None)
        return _Verdict(origin, own.agent_for(origin))


def _own_claims(manifest: Mapping[str, Any]) -> _OwnClaims:
    claims = _OwnClaims()
    for assertion in _list(manifest.get("assertions")):
        if not isinstance(assertion, Mapping):
            continue
        label = _base_label(assertion.get("label"))
        data = assertion.get("data")
        data = data if isinstance(data, Mapping) else {}
        if label in _ACTION_LABELS:
            agents = _list(data.get("softwareAgents"))
            for action in _list(data.get("actions")):
                if isinstance(action, Mapping):
                    _add_action(claims, action, agents)
        elif label == _ADOBE_GENERATIVE_AI:
            origin = Origin.TRAINED_ALGORITHMIC_MEDIA
            claims.origins.append((origin, None))
            claims.actions.append(
                {"action": _ADOBE_GENERATIVE_AI, "source_type": origin.value, "agent": None}
            )
    return claims


def _add_action(claims: _OwnClaims, action: Mapping[str, Any], agents: Sequence[Any]) -> None:
    agent = _agent(action.get("softwareAgent"))
    if agent is None:
        index = action.get("softwareAgentIndex")
        if isinstance(index, int) and 0 <= index < len(agents):
            agent = _agent(agents[index])
    name = agent[0] if agent else None
    if claims.first_agent is None and name:
        claims.first_agent = name
    found: list[tuple[str, Origin | None]] = []
    for raw in _action_source_types(action):
        origin = _origin(raw)
        found.append((raw, origin))
        claims.source_types.append(raw)
        if origin is not None:
            claims.origins.append((origin, name))
    known = [origin for _, origin in found if origin is not None]
    shown = (
        summarize_claims([ClaimFacts(o) for o in known]).origin.value
        if known
        else (found[0][0] if found else None)
    )
    claims.actions.append(
        {
            "action": _string_field(action.get("action")),
            "source_type": shown,
            "agent": " ".join(part for part in agent if part) if agent else None,
        }
    )


def _action_source_types(action: Mapping[str, Any]) -> list[str]:
    """The distinct digital source types an action carries, in its field and its parameters."""
    parameters = action.get("parameters")
    parameters = parameters if isinstance(parameters, Mapping) else {}
    candidates = [action.get("digitalSourceType")]
    candidates += [parameters.get(key) for key in _PARAMETER_SOURCE_TYPES]
    return list(dict.fromkeys(t for t in map(_string_field, candidates) if t))


def _kept_when_invalid(origin: Origin) -> bool:
    return origin.generative or origin in _KEPT_WHEN_INVALID


def _origin(raw: str | None) -> Origin | None:
    """The origin a digitalSourceType names; None for an unknown one and for C2PA's `empty`."""
    origin = origin_of_code(raw) if raw else None
    return None if origin in (Origin.EMPTY, Origin.UNKNOWN) else origin


def _agent(value: object) -> tuple[str, str | None] | None:
    """(name, version) of a softwareAgent: a string (actions v1) or a generator-info map (v2)."""
    if isinstance(value, str) and value.strip():
        return (value.strip(), None)
    if isinstance(value, Mapping):
        name = _string_field(value.get("name"))
        if name:
            return (name, _string_field(value.get("version")))
    return None


def _ingredients(manifest: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
    return [i for i in _list(manifest.get("ingredients")) if isinstance(i, Mapping)]


def _ingredient_manifest_label(ingredient: Mapping[str, Any]) -> object:
    # c2pa-rs writes `active_manifest`; older readers wrote `manifest`.
    return ingredient.get("active_manifest") or ingredient.get("manifest")


def _ingredient_facts(manifest: Mapping[str, Any], judge: _Judge) -> list[dict[str, Any]]:
    facts = []
    for ingredient in _ingredients(manifest):
        verdict = judge.of_label(_ingredient_manifest_label(ingredient))
        facts.append(
            {
                "title": _string_field(ingredient.get("title")),
                "relationship": _string_field(ingredient.get("relationship")),
                "origin": verdict.origin.value if verdict.origin is not None else None,
                "generative": verdict.origin is not None and verdict.origin.generative,
            }
        )
    return facts


def _failure_codes(store: Mapping[str, Any]) -> list[str]:
    results = store.get("validation_results")
    entries: list[Any] = []
    if isinstance(results, Mapping):
        active = results.get("activeManifest")
        if isinstance(active, Mapping):
            entries.extend(_list(active.get("failure")))
        for delta in _list(results.get("ingredientDeltas")):
            if isinstance(delta, Mapping):
                inner = delta.get("validationDeltas")
                if isinstance(inner, Mapping):
                    entries.extend(_list(inner.get("failure")))
    else:
        entries.extend(_list(store.get("validation_status")))
    codes: dict[str, None] = {}
    for entry in entries:
        code = _string_field(entry.get("code")) if isinstance(entry, Mapping) else None
        if code:
            codes.setdefault(code, None)
    return list(codes)[:_MAX_FAILURE_CODES]


def _claim_generator(manifest: Mapping[str, Any]) -> dict[str, str | None]:
    for info in _list(manifest.get("claim_generator_info")):
        if isinstance(info, Mapping) and _string_field(info.get("name")):
            return {
                "name": _string_field(info.get("name")),
                "version": _string_field(info.get("version")),
            }
    legacy = _string_field(manifest.get("claim_generator"))
    if legacy:
        # The v1 form: "Product_Name/1.2 library/0.3"; the first token names the product.
        name, _, version = legacy.split(" ")[0].partition("/")
        return {"name": name, "version": version or None}
    return {"name": None, "version": None}


def _signer(manifest: Mapping[str, Any]) -> dict[str, str | None]:
    return {
        "issuer": _signature_field(manifest, "issuer"),
        "common_name": _signature_field(manifest, "common_name"),
        "alg": _signature_field(manifest, "alg"),
    }


def _signature_field(manifest: Mapping[str, Any], key: str) -> str | None:
    info = manifest.get("signature_info")
    return _string_field(info.get(key)) if isinstance(info, Mapping) else None


def _summary(
    state: str,
    tool: str | None,
    detail: Mapping[str, Any],
    origin: Origin | None,
    verdict: _Verdict,
    dropped: Origin | None,
    sidecar: str | None,
) -> str:
    words = [f"C2PA {'sidecar ' if sidecar is not None else ''}({state})"]
    if tool:
        words.append(f'by "{tool}"')
    signer = detail["signer"]
    signed_by = signer.get("common_name") or signer.get("issuer")
    if signed_by:
        words.append(f"signed by {signed_by}")
    if origin is not None:
        said = origin.value
        if verdict.via_ingredient is not None and origin is verdict.origin:
            said += f' (AI ingredient "{verdict.via_ingredient}")'
    elif dropped is not None:
        said = f"{dropped.value} ignored, the manifest does not validate"
    else:
        said = "no digital source type"
    return " ".join(words) + ": " + said


def _unreadable_signal(
    reason: str,
    *,
    sidecar: str | None,
    legible: bytes = b"",
    failures: Sequence[str] = (),
    remote_url: str | None = None,
) -> Signal:
    """A manifest that is there but cannot be read: Invalid, with any generative (or
    algorithmicMedia) type still legible."""
    seen = _legible_source_types(legible)
    kept = [o for o in seen if _kept_when_invalid(o)]
    origin = summarize_claims([ClaimFacts(o) for o in kept]).origin if kept else None
    remote = remote_url is not None or reason.startswith("Remote:")
    detail: dict[str, Any] = {
        "validation_state": INVALID,
        "validation_failures": list(failures),
        "error": reason,
        UNREADABLE: _unreadable_kind(reason, remote),
        "digital_source_types": [o.value for o in seen],
        "sidecar": sidecar is not None,
    }
    if remote_url is not None:
        detail["remote_url"] = remote_url
    if sidecar is not None:
        detail["sidecar_path"] = sidecar
    said = f": {origin.value} legible in its bytes" if origin is not None else ""
    where = "C2PA sidecar" if sidecar is not None else "C2PA manifest"
    what = (
        f"is remote ({remote_url}) and is not fetched"
        if remote_url
        else f"cannot be read ({reason})"
    )
    return Signal(
        source="c2pa-sidecar" if sidecar is not None else "c2pa",
        origin=origin,
        evidence=Evidence.EMBEDDED,
        summary=f"{where} (Invalid) {what}{said}",
        detail=detail,
    )


def _legible_source_types(data: bytes) -> list[Origin]:
    # CBOR keeps text strings as plain UTF-8, so the source-type URIs of a store that no
    # longer parses can still be found in its bytes.
    found: dict[Origin, None] = {}
    for match in _SOURCE_TYPE_BYTES.finditer(data):
        origin = _origin(match.group(1).decode("ascii"))
        if origin is not None:
            found.setdefault(origin, None)
    if _ADOBE_GENERATIVE_AI.encode() in data:
        found.setdefault(Origin.TRAINED_ALGORITHMIC_MEDIA, None)
    return list(found)


def _base_label(label: object) -> str | None:
    # A manifest with two assertions of one kind labels the second `c2pa.actions.v2__1`.
    return label.split("__", 1)[0] if isinstance(label, str) else None


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _string_field(value: object) -> str | None:
    """A manifest's text field, stripped; None when it is empty or not a string."""
    return (value.strip() or None) if isinstance(value, str) else None

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

Its parts: the container readers (`provenance.detect.metadata_containers`), the generators'
signatures (`provenance.detect.generator_signatures`) and the limits
(`provenance.detect.metadata_limits`); this module turns what a container carries into signals.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from typing import Any

from provenance.detect import METADATA_UNREAD, Signal
from provenance.detect.generator_signatures import (
    comfy_api_graph,
    generated,
    generator_signals,
    json_object,
)
from provenance.detect.metadata_containers import Payloads, Xmp, parse_xmp, read_payloads
from provenance.detect.metadata_limits import MAX_PAYLOAD_BYTES, clip, excerpt, metadata_limits
from provenance.detect.stealth import Stealth
from provenance.origins import Evidence, Origin, origin_of_code

__all__ = ["EXTENSIONS", "MAX_PAYLOAD_BYTES", "read_metadata"]


EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff"})
"""File extensions `read_metadata` looks inside (compared lower-case); any other gives []."""

_MAX_DECLARED_TYPES = 8


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
        found = read_payloads(path)
        return _interpret(found) if found is not None else []
    except Exception:
        # Hostile bytes can trip any parser in an unforeseen way, and a file that cannot be
        # read carries no signal: the caller must never lose an ingest to one bad file.
        return []


# --- interpretation -----------------------------------------------------------------------


def _interpret(found: Payloads) -> list[Signal]:
    signals: list[Signal] = []
    declared: set[str] = set()
    carriers = [(found.text, "png-text")] if found.text else []
    carriers += [(_exif_as_text(fields), "exif") for fields in found.exif]
    for packet in found.xmp:
        xmp = parse_xmp(packet)
        signals.extend(_xmp_signals(xmp, declared))
        if xmp.fields:
            carriers.append((xmp.fields, "xmp"))
    generators: dict[str, Signal] = {}
    for fields, carrier in carriers:
        for signal in generator_signals(fields, carrier):
            generators.setdefault(signal.source, signal)
    if found.stealth is not None:
        hidden = found.stealth.text
        stealthy = generator_signals(_stealth_fields(hidden), _STEALTH) if hidden else []
        for signal in stealthy or [_stealth_signal(found.stealth)]:
            generators.setdefault(signal.source, signal)
    return signals + list(generators.values()) + _unread_signals(found)


def _unread_signals(found: Payloads) -> list[Signal]:
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


def _xmp_signals(xmp: Xmp, declared: set[str]) -> list[Signal]:
    """One signal per digital source type the packet declares that `declared` lacks."""
    types, tool = xmp.types, xmp.tool
    signals = []
    for value in types:
        if value in declared or len(declared) >= _MAX_DECLARED_TYPES:
            continue
        declared.add(value)
        origin = _declared_origin(value)
        detail: dict[str, Any] = {"digital_source_type": clip(value)}
        if tool:
            detail["creator_tool"] = tool
        if origin is None:
            detail["recognised"] = False
            summary = f"XMP declares a digital source type this tool does not know: {clip(value)!r}"
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
    bundle = json_object(comment)
    if bundle:
        for key in ("prompt", "workflow"):
            value = bundle.get(key)
            if isinstance(value, dict):
                fields.setdefault(key, json.dumps(value))
            elif isinstance(value, str) and value.lstrip().startswith("{"):
                fields.setdefault(key, value)
        if comfy_api_graph(comment) is not None:  # the bare API graph, as some save nodes write it
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
    bundle = json_object(text)
    keywords = _png_keywords_in(bundle) if bundle else {}
    return keywords or {"parameters": text}


def _stealth_signal(stealth: Stealth) -> Signal:
    """Stealth metadata no generator's reader recognises (or that could not be read): its magic
    is only ever written by the Stable Diffusion web UIs and NovelAI."""
    magic = "stealth_pngcomp" if stealth.compressed else "stealth_pnginfo"
    said = f"not read: {stealth.problem}" if stealth.problem else excerpt(stealth.text) or "empty"
    return generated(
        "stealth-pnginfo",
        "Stable Diffusion web UI (stealth-pnginfo)",
        f"Generation parameters hidden in the alpha channel ({magic}), {said}",
        {"magic": magic, "problem": stealth.problem, "prompt": excerpt(stealth.text)},
        _STEALTH,
    )

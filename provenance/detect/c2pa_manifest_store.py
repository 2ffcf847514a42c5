"""C2PA content credentials, the pure core: a manifest store (the parsed JSON of
`c2pa.Reader.json()`) turned into one `Signal`, by `signal_from_manifest_store`, and credentials
that are there but cannot be read, by `unreadable_signal`. No file, no C2PA library:
`provenance.detect.c2pa` reads the file and its sidecars.

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
chains to one of the trust anchors), `EMBEDDED` otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from provenance.detect import UNREADABLE, UNREADABLE_REASONS, Signal
from provenance.origins import ClaimFacts, Evidence, Origin, origin_of_code, summarize_claims

__all__ = ["INVALID", "TRUSTED", "VALID", "signal_from_manifest_store", "unreadable_signal"]


# The validation states c2pa-rs reports, strongest last.
INVALID = "Invalid"
VALID = "Valid"
TRUSTED = "Trusted"

_ACTION_LABELS = frozenset({"c2pa.actions", "c2pa.actions.v2"})
_ADOBE_GENERATIVE_AI = "com.adobe.generative-ai"
# Source types still legible in the bytes of a store that does not parse.
_SOURCE_TYPE_BYTES = re.compile(rb"digitalsourcetype/([A-Za-z]{3,64})")
_MAX_FAILURE_CODES = 8
# Kept from a manifest that does not validate, besides the generative types: early generators
# labelled their output algorithmicMedia before trainedAlgorithmicMedia was coined.
_KEPT_WHEN_INVALID = frozenset({Origin.ALGORITHMIC_MEDIA})
# Where an action's parameters carry its source type (Adobe writes the first).
_PARAMETER_SOURCE_TYPES = ("com.adobe.digitalSourceType", "digitalSourceType")
# Validation failures that mean the reader could not check the signature at all.
_UNVERIFIABLE_FAILURES = {"algorithm.unsupported": "unsupported-algorithm"}


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
        return unreadable_signal(
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


def unreadable_signal(
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

"""The origin vocabulary: IPTC digital source types, the short aliases people type, and which are generative."""

from __future__ import annotations

import difflib
import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from provenance.errors import UnknownOrigin

__all__ = [
    "ALIASES",
    "C2PA_PREFIX",
    "GENERATIVE",
    "IPTC_PREFIX",
    "ClaimFacts",
    "Evidence",
    "Origin",
    "OriginCategory",
    "OriginSummary",
    "origin_of_code",
    "parse_origin",
    "summarize_claims",
]


IPTC_PREFIX = "http://cv.iptc.org/newscodes/digitalsourcetype/"
C2PA_PREFIX = "http://c2pa.org/digitalsourcetype/"


class Origin(str, enum.Enum):
    """An IPTC Digital Source Type code, as stored in the ledger (the code without its URI prefix)."""

    DIGITAL_CAPTURE = "digitalCapture"
    COMPUTATIONAL_CAPTURE = "computationalCapture"
    NEGATIVE_FILM = "negativeFilm"
    POSITIVE_FILM = "positiveFilm"
    PRINT = "print"
    SCREEN_CAPTURE = "screenCapture"
    VIRTUAL_RECORDING = "virtualRecording"
    HUMAN_EDITS = "humanEdits"
    DIGITAL_CREATION = "digitalCreation"
    ALGORITHMICALLY_ENHANCED = "algorithmicallyEnhanced"
    TRAINED_ALGORITHMIC_MEDIA = "trainedAlgorithmicMedia"
    COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA = "compositeWithTrainedAlgorithmicMedia"
    COMPOSITE_SYNTHETIC = "compositeSynthetic"
    ALGORITHMIC_MEDIA = "algorithmicMedia"
    DATA_DRIVEN_MEDIA = "dataDrivenMedia"
    COMPOSITE = "composite"
    COMPOSITE_CAPTURE = "compositeCapture"
    # Retired by IPTC but still written by tools in the wild.
    MINOR_HUMAN_EDITS = "minorHumanEdits"
    DIGITAL_ART = "digitalArt"
    SOFTWARE_IMAGE = "softwareImage"
    # C2PA's own additions.
    TRAINED_ALGORITHMIC_DATA = "trainedAlgorithmicData"
    EMPTY = "empty"
    # Not an IPTC code: nobody has said, or nobody knows.
    UNKNOWN = "unknown"

    @property
    def uri(self) -> str | None:
        code: str = self.value
        if self is Origin.UNKNOWN:
            return None
        if self in (Origin.TRAINED_ALGORITHMIC_DATA, Origin.EMPTY):
            return C2PA_PREFIX + code
        return IPTC_PREFIX + code

    @property
    def alias(self) -> str:
        """The short word a person would use for this code."""
        code: str = self.value
        return _ALIAS_OF.get(self, code)

    @property
    def generative(self) -> bool:
        """Generated (wholly or partly) by a generative model: temporary under the guidelines."""
        return self in GENERATIVE

    @property
    def category(self) -> OriginCategory:
        return _CATEGORY_OF[self]


class OriginCategory(str, enum.Enum):
    """The coarse classes the guidelines distinguish; every IPTC code falls in one."""

    CAPTURE = "capture"
    HUMAN = "human"
    ML_ASSISTED = "ml-assisted"
    AI = "ai"
    AI_COMPOSITE = "ai-composite"
    PROCEDURAL = "procedural"
    UNKNOWN = "unknown"


# The aliases people type, each naming the code stored for it.
ALIASES: dict[str, Origin] = {
    "capture": Origin.DIGITAL_CAPTURE,
    "human": Origin.DIGITAL_CREATION,
    "ml-assisted": Origin.ALGORITHMICALLY_ENHANCED,
    "ai": Origin.TRAINED_ALGORITHMIC_MEDIA,
    "ai-composite": Origin.COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA,
    "unknown": Origin.UNKNOWN,
}
_ALIAS_OF = {code: alias for alias, code in ALIASES.items()}

GENERATIVE = frozenset(
    {
        Origin.TRAINED_ALGORITHMIC_MEDIA,
        Origin.COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA,
        Origin.COMPOSITE_SYNTHETIC,
        Origin.TRAINED_ALGORITHMIC_DATA,
    }
)

_CATEGORY_OF: dict[Origin, OriginCategory] = {
    Origin.DIGITAL_CAPTURE: OriginCategory.CAPTURE,
    Origin.COMPUTATIONAL_CAPTURE: OriginCategory.CAPTURE,
    Origin.NEGATIVE_FILM: OriginCategory.CAPTURE,
    Origin.POSITIVE_FILM: OriginCategory.CAPTURE,
    Origin.PRINT: OriginCategory.CAPTURE,
    Origin.SCREEN_CAPTURE: OriginCategory.CAPTURE,
    Origin.VIRTUAL_RECORDING: OriginCategory.CAPTURE,
    Origin.COMPOSITE_CAPTURE: OriginCategory.CAPTURE,
    Origin.HUMAN_EDITS: OriginCategory.HUMAN,
    Origin.DIGITAL_CREATION: OriginCategory.HUMAN,
    Origin.MINOR_HUMAN_EDITS: OriginCategory.HUMAN,
    Origin.DIGITAL_ART: OriginCategory.HUMAN,
    Origin.COMPOSITE: OriginCategory.HUMAN,
    Origin.ALGORITHMICALLY_ENHANCED: OriginCategory.ML_ASSISTED,
    Origin.TRAINED_ALGORITHMIC_MEDIA: OriginCategory.AI,
    Origin.TRAINED_ALGORITHMIC_DATA: OriginCategory.AI,
    Origin.COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA: OriginCategory.AI_COMPOSITE,
    Origin.COMPOSITE_SYNTHETIC: OriginCategory.AI_COMPOSITE,
    Origin.ALGORITHMIC_MEDIA: OriginCategory.PROCEDURAL,
    Origin.DATA_DRIVEN_MEDIA: OriginCategory.PROCEDURAL,
    Origin.SOFTWARE_IMAGE: OriginCategory.PROCEDURAL,
    Origin.EMPTY: OriginCategory.UNKNOWN,
    Origin.UNKNOWN: OriginCategory.UNKNOWN,
}

_BY_LOWER_CODE = {o.value.lower(): o for o in Origin}


def parse_origin(text: str) -> Origin:
    """Accept an alias (`ai`), a bare IPTC code (`trainedAlgorithmicMedia`) or a full URI (http or https)."""
    word = text.strip()
    lowered = word.lower()
    if lowered in ALIASES:
        return ALIASES[lowered]
    found = origin_of_code(word)
    if found is not None:
        return found
    choices = list(ALIASES) + [o.value for o in Origin if o is not Origin.UNKNOWN]
    close = difflib.get_close_matches(word, choices, n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise UnknownOrigin(
        f"Unknown origin {text!r}.{hint} Use one of {', '.join(ALIASES)}, "
        f"or an IPTC digital source type code such as trainedAlgorithmicMedia."
    )


class Evidence(str, enum.Enum):
    """How strongly a claim is backed, strongest first."""

    DECLARED = "declared"
    EMBEDDED_SIGNED = "embedded-signed"
    EMBEDDED = "embedded"
    INFERRED = "inferred"


@dataclass(frozen=True)
class ClaimFacts:
    """What `summarize_claims` needs of one claim, oldest first."""

    origin: Origin
    resolves: bool = False


@dataclass(frozen=True)
class OriginSummary:
    """The origin a set of claims adds up to."""

    origin: Origin
    disputed: bool
    """The live claims disagree about whether generated material is involved (or whether
    anyone knows): one of them is generative or unknown. The gate blocks until a TD settles it."""
    generative: bool
    """True when the effective origin is generative, or any live claim says so."""
    origins: tuple[Origin, ...]
    """The distinct origins of the live claims (those since the last resolving claim)."""
    differs: bool = False
    """The live claims disagree, but only among non-generative, known origins (a camera plate
    the artist declared `human`): recorded and shown, a warning a TD may settle."""


# When claims disagree, the summary reports the most cautious of them: a plain re-tag to
# `human` must never hide an earlier `ai` claim.
_CAUTION = [
    OriginCategory.AI,
    OriginCategory.AI_COMPOSITE,
    OriginCategory.UNKNOWN,
    OriginCategory.ML_ASSISTED,
    OriginCategory.PROCEDURAL,
    OriginCategory.HUMAN,
    OriginCategory.CAPTURE,
]


def summarize_claims(claims: Sequence[ClaimFacts]) -> OriginSummary:
    """Add up claims (oldest first) into one origin.

    A resolving claim (a TD settling a disagreement) supersedes every claim before it. Among the
    claims that are live after that, agreement in category gives their origin; disagreement
    reports the most cautious one, and is a dispute when any side is generative or unknown,
    else a difference (`differs`: capture against human, human against ml-assisted ...).
    """
    if not claims:
        return OriginSummary(Origin.UNKNOWN, disputed=False, generative=False, origins=())
    start = 0
    for index, claim in enumerate(claims):
        if claim.resolves:
            start = index
    live = claims[start:]
    distinct = _distinct(c.origin for c in live)
    categories = {o.category for o in distinct}
    if len(categories) == 1:
        # Agreement in kind (humanEdits and digitalCreation are both human): the newest wording wins.
        latest = live[-1].origin
        return OriginSummary(latest, disputed=False, generative=latest.generative, origins=distinct)
    cautious = min(distinct, key=lambda o: _CAUTION.index(o.category))
    generative = any(o.generative for o in distinct)
    # Whether generated material is involved is what the gate decides on: "unknown" on one
    # side leaves that open, so it disputes as a generative side does.
    about_generation = generative or OriginCategory.UNKNOWN in categories
    return OriginSummary(
        cautious,
        disputed=about_generation,
        generative=generative,
        origins=distinct,
        differs=not about_generation,
    )


def origin_of_code(text: str) -> Origin | None:
    """The origin an IPTC or C2PA digital source type names, bare or as a URI (http or https);
    None for anything else. What files carry: our aliases (`ai`) are not codes."""
    lowered = text.strip().lower()
    for prefix in _CODE_PREFIXES:
        if lowered.startswith(prefix):
            lowered = lowered[len(prefix) :]
            break
    return _BY_LOWER_CODE.get(lowered)


_CODE_PREFIXES = tuple(
    scheme_form.lower()
    for prefix in (IPTC_PREFIX, C2PA_PREFIX)
    for scheme_form in (prefix, prefix.replace("http://", "https://", 1))
)


def _distinct(origins: Iterable[Origin]) -> tuple[Origin, ...]:
    seen: dict[Origin, None] = {}
    for origin in origins:
        seen.setdefault(origin, None)
    return tuple(seen)

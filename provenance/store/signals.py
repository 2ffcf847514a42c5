"""Signals in the ledger: what files said about themselves when their versions were recorded.

A signal that implies an origin (a C2PA action with a digital source type, XMP, a generator's
text chunk, a detector plug-in) also becomes an origin claim with its evidence, beside whatever
the artist declared: a disagreement about generated material is then a dispute the finalizer
blocks on until a TD resolves it (one among non-generative origins only, a warning). A perceptual
match to known AI material is a signal only (evidence `inferred`): the policy's `near-ai-copy`
rule reads it, and a TD's resolving claim after it settles it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from provenance.detect import DETAIL_DISTANCE, NEAR_AI_DISTANCE, PRINT_BITS, Signal
from provenance.origins import Evidence, Origin
from provenance.records import SignalInfo
from provenance.store.models import Claim, Member, SignalRecord, Tool
from provenance.store.queries import RootMap, asset_refs, chunked
from provenance.store.status import generative_version_ids

if TYPE_CHECKING:
    from provenance.detect.perceptual import ImagePrints

__all__ = [
    "PERCEPTUAL_SOURCE",
    "PrintedFile",
    "find_near_ai",
    "near_ai_matches",
    "near_ai_signal",
    "record_signals",
    "signals_by_version",
]


PERCEPTUAL_SOURCE = "perceptual"

_Key = TypeVar("_Key", bound=Hashable)


def record_signals(
    session: Session,
    found: Sequence[tuple[int, Signal]],
    event_id: int,
    now: dt.datetime,
) -> list[int]:
    """Record (version id, signal) pairs; signals with an origin become claims too.

    Returns the version of each claim added (their statuses need refreshing).
    """
    if not found:
        return []
    connection = session.connection()
    connection.execute(
        insert(SignalRecord),
        [
            {
                "version_id": version_id,
                "source": signal.source,
                "origin": signal.origin.value if signal.origin is not None else None,
                "evidence": signal.evidence.value,
                "tool": signal.tool,
                "summary": signal.summary,
                "detail": json.dumps(signal.detail, sort_keys=True, default=str),
                "event_id": event_id,
            }
            for version_id, signal in found
        ],
    )
    claimed = [
        (version_id, signal)
        for version_id, signal in found
        if signal.origin is not None and signal.source != PERCEPTUAL_SOURCE
    ]
    # The tool a file names (AUTOMATIC1111, a C2PA softwareAgent) is the registered tool of that
    # name when there is one: its vetting then counts (an unvetted generator is a tool risk).
    tools = registered_tools(session, {s.tool for _, s in claimed if s.tool})
    claims = [
        {
            "version_id": version_id,
            "origin": signal.origin.value,
            "tool_id": tools.get(signal.tool.casefold()) if signal.tool else None,
            "tool_version": None,
            "claimed_by": signal.source,
            "evidence": signal.evidence.value,
            "detail": signal.summary,
            "note": None,
            "resolves": False,
            "created_at": now,
            "event_id": event_id,
        }
        for version_id, signal in claimed
        if signal.origin is not None
    ]
    if claims:
        connection.execute(insert(Claim), claims)
    return [version_id for version_id, _ in claimed]


def registered_tools(session: Session, names: Iterable[str]) -> dict[str, int]:
    """name (case-folded) -> the id of the registered tool of that name, for those registered."""
    keys = sorted({name.strip().casefold() for name in names if name.strip()})
    if not keys:
        return {}
    return dict(session.execute(select(Tool.key, Tool.id).where(Tool.key.in_(keys))).all())


def signals_by_version(session: Session, version_ids: Iterable[int]) -> dict[int, list[SignalInfo]]:
    found: dict[int, list[SignalInfo]] = {}
    for chunk in chunked(sorted(set(version_ids))):
        for row in session.execute(
            select(SignalRecord).where(SignalRecord.version_id.in_(chunk)).order_by(SignalRecord.id)
        ).scalars():
            found.setdefault(row.version_id, []).append(
                SignalInfo(
                    source=row.source,
                    origin=Origin(row.origin) if row.origin is not None else None,
                    evidence=row.evidence,
                    tool=row.tool,
                    summary=row.summary,
                    detail=json.loads(row.detail),
                    event_id=row.event_id,
                )
            )
    return found


def ai_contents(session: Session) -> Mapping[int, list[int]]:
    """content id -> version ids, for the first member of every version holding generated
    material (temporary or approved): the prints a new file is compared with."""
    connection = session.connection()
    found: dict[int, list[int]] = {}
    for chunk in chunked(sorted(generative_version_ids(connection))):
        for content_id, version_id in connection.execute(
            select(Member.content_id, Member.version_id)
            .where(Member.version_id.in_(chunk), Member.position == 0)
            .order_by(Member.version_id)
        ):
            found.setdefault(content_id, []).append(version_id)
    return found


@dataclass(frozen=True)
class NearAiMatch:
    """A known generated asset version a file looks like: its 64-bit print within
    NEAR_AI_DISTANCE of one of the version's region prints, and the detail prints within
    DETAIL_DISTANCE."""

    version_id: int
    name: str
    number: int
    distance: int
    detail_distance: int
    region: str
    """The generated asset's region that matched: "whole", "crop-left", "third-top" ...
    ("@white": the asset seen over white)."""
    mirrored: bool
    """The file matched as its mirror image."""
    borders: tuple[float, float, float, float]
    """Shares of the file trimmed as constant border (top, bottom, left, right)."""

    @property
    def described(self) -> str:
        """Which print matched, for a person."""
        from provenance.detect.perceptual import DESCRIBED  # numpy: on first use

        base, _, background = self.region.partition("@")
        parts = [DESCRIBED[base]]
        if background:
            parts.append(f"seen over {background}")
        if self.mirrored:
            parts.append("mirrored")
        if any(self.borders):
            parts.append("borders removed")
        return ", ".join(parts)

    def fields(self) -> dict[str, Any]:
        """The match as JSON fields (a signal's detail, a finding's details)."""
        top, bottom, left, right = self.borders
        return {
            "asset": self.name,
            "version": self.number,
            "distance": self.distance,
            "threshold": NEAR_AI_DISTANCE,
            "detail_distance": self.detail_distance,
            "detail_threshold": DETAIL_DISTANCE,
            "region": self.region,
            "mirrored": self.mirrored,
            "borders_removed": {
                "top": round(top, 3),
                "bottom": round(bottom, 3),
                "left": round(left, 3),
                "right": round(right, 3),
            },
            "matched": self.described,
        }

    def text(self) -> str:
        return (
            f"{self.name} v{self.number} ({self.described}: perceptual distance "
            f"{self.distance} of {PRINT_BITS} bits, detail {self.detail_distance})"
        )


def near_ai_signal(matches: Sequence[NearAiMatch]) -> Signal:
    """One signal for every generated asset version a file looks like."""
    return Signal(
        source=PERCEPTUAL_SOURCE,
        origin=Origin.TRAINED_ALGORITHMIC_MEDIA,
        evidence=Evidence.INFERRED,
        summary="looks like generated material: " + "; ".join(m.text() for m in matches),
        detail={"matches": [m.fields() for m in matches]},
    )


def near_ai_matches(detail: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The matches a perceptual signal recorded, as fields; a signal recorded before matches
    were listed (one asset, its version and distance) reads as one match."""
    if "matches" in detail:
        return [dict(match) for match in detail["matches"]]
    if "matched" in detail:
        return [
            {
                "asset": detail["matched"],
                "version": detail.get("matched_version"),
                "distance": detail.get("distance"),
                "threshold": NEAR_AI_DISTANCE,
                "matched": "the whole frame",
            }
        ]
    return []


@dataclass(frozen=True)
class PrintedFile:
    """A file to look up: where to read it again, and its prints."""

    path: bytes
    prints: ImagePrints


def find_near_ai(
    session: Session, roots: RootMap, files: Mapping[_Key, PrintedFile]
) -> dict[_Key, list[NearAiMatch]]:
    """Every generated asset version each file looks like, nearest first, keyed by content
    id, path ...

    Candidates come from the index (`near_regions`); each is then verified by its detail
    print, for which the file is decoded again (only files with candidates are).
    """
    if not files:
        return {}
    from provenance.detect.perceptual import is_a_third, verify  # numpy: on first use
    from provenance.store.perceptual import details_of, near_regions

    generated = ai_contents(session)
    if not generated:
        return {}
    found: dict[_Key, list[tuple[int, int, int, str, bool, tuple[float, ...]]]] = {}
    for key, printed in files.items():
        if not printed.prints.queries:
            continue
        candidates = [
            c
            for c in near_regions(session, printed.prints.queries, NEAR_AI_DISTANCE)
            if c.content_id in generated
        ]
        if not candidates:
            continue
        details = details_of(session, [(c.content_id, c.region) for c in candidates])
        checked = [c for c in candidates if (c.content_id, c.region) in details]
        distances = verify(
            printed.path, [(c.query, details[c.content_id, c.region]) for c in checked]
        )
        best: dict[int, tuple[int, int, int, str, bool]] = {}
        for candidate, detail in zip(checked, distances, strict=True):
            if detail is None or detail > DETAIL_DISTANCE:
                continue
            # A match of the whole picture says more than one of a third ("the rest differs"):
            # a third is reported only when nothing larger matched.
            rank = (is_a_third(candidate.region), candidate.distance, detail)
            held = best.get(candidate.content_id)
            if held is None or rank < (is_a_third(held[3]), held[0], held[1]):
                best[candidate.content_id] = (
                    candidate.distance,
                    detail,
                    candidate.content_id,
                    candidate.region,
                    candidate.query.mirrored,
                )
        if best:
            borders = printed.prints.borders
            found[key] = [(*entry, borders) for entry in sorted(best.values())]
    versions = {v for entries in found.values() for e in entries for v in generated[e[2]]}
    refs = asset_refs(session, roots, versions)
    return {
        key: [
            NearAiMatch(
                version_id,
                refs[version_id].name,
                refs[version_id].version,
                distance,
                detail,
                region,
                mirrored,
                (borders[0], borders[1], borders[2], borders[3]),
            )
            for distance, detail, content_id, region, mirrored, borders in entries
            for version_id in generated[content_id]
        ]
        for key, entries in found.items()
    }

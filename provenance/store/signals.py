"""Signals in the ledger: what files said about themselves when their versions were recorded.

A signal that implies an origin (a C2PA action with a digital source type, XMP, a generator's
text chunk) also becomes an origin claim with its evidence, beside whatever the artist declared:
a disagreement is then a dispute the finalizer blocks on until a TD resolves it. A perceptual
match to known AI material is a signal only (evidence `inferred`): the policy's `near-ai-copy`
rule reads it, and a TD's resolving claim after it settles it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from provenance.detect import NEAR_AI_DISTANCE, PRINT_BITS, Signal
from provenance.origins import Evidence, Origin
from provenance.records import SignalInfo
from provenance.store.models import Claim, Member, SignalRecord
from provenance.store.queries import RootMap, asset_refs, chunked
from provenance.store.status import generative_version_ids

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
    claims = [
        {
            "version_id": version_id,
            "origin": signal.origin.value,
            "tool_id": None,
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


def ai_contents(session: Session) -> Mapping[int, int]:
    """content id -> version id, for the first member of every version holding generated
    material (temporary or approved): the prints a new file is compared with."""
    connection = session.connection()
    found: dict[int, int] = {}
    for chunk in chunked(sorted(generative_version_ids(connection))):
        for content_id, version_id in connection.execute(
            select(Member.content_id, Member.version_id).where(
                Member.version_id.in_(chunk), Member.position == 0
            )
        ):
            found[content_id] = version_id
    return found


@dataclass(frozen=True)
class NearAiMatch:
    """The known generated asset a print is nearest to, within NEAR_AI_DISTANCE."""

    version_id: int
    name: str
    number: int
    distance: int

    def signal(self) -> Signal:
        return Signal(
            source=PERCEPTUAL_SOURCE,
            origin=Origin.TRAINED_ALGORITHMIC_MEDIA,
            evidence=Evidence.INFERRED,
            summary=(
                f"looks like {self.name} v{self.number} (generated material): perceptual "
                f"distance {self.distance} of {PRINT_BITS} bits"
            ),
            detail={
                "matched": self.name,
                "matched_version": self.number,
                "distance": self.distance,
            },
        )


def find_near_ai(
    session: Session, roots: RootMap, prints: Mapping[_Key, Sequence[int]]
) -> dict[_Key, NearAiMatch]:
    """The nearest generated asset for each file's lookup prints (its own, and as a crop of a
    larger frame: `ImagePrints.lookups`), keyed by content id, path ..."""
    if not prints:
        return {}
    from provenance.store.perceptual import near_prints  # numpy: on first use

    generated = ai_contents(session)
    if not generated:
        return {}
    nearest: dict[_Key, tuple[int, int]] = {}  # key -> (distance, version id)
    for key, lookups in prints.items():
        for matched, distance in near_prints(session, lookups, NEAR_AI_DISTANCE):
            version_id = generated.get(matched)
            if version_id is None:
                continue
            if key not in nearest or distance < nearest[key][0]:
                nearest[key] = (distance, version_id)
    refs = asset_refs(session, roots, {version_id for _, version_id in nearest.values()})
    return {
        key: NearAiMatch(version_id, refs[version_id].name, refs[version_id].version, distance)
        for key, (distance, version_id) in nearest.items()
    }

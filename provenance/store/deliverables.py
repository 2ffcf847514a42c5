"""Finalized and refused deliverables, and which deliverables hold an asset version's material.

Rows only. What material is in a delivered version is the gate's own answer: `obligations.Judge`
over `facts.ledger_facts` reaches through `contains` lineage, exact copies and derivatives, as
the finalizer did when it judged the delivery.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from provenance.deliveries import DeliveryKind, manifest_path
from provenance.obligations import MAX_DEPTH, Judge, Relation, Step, describe_path
from provenance.records import DeliverableInfo, DeliveredIn
from provenance.store import bulk
from provenance.store.ledger_facts import ledger_facts
from provenance.store.models import (
    Deliverable,
    DeliverableFile,
    EdgeKind,
    Event,
    LineageEdge,
    Member,
)
from provenance.store.queries import MANIFEST_EVENT, RootMap, asset_refs, kept_manifest

__all__ = [
    "RecordedManifest",
    "as_delivered",
    "deliverable_infos",
    "delivered_facts",
    "delivered_in",
    "finalized_named",
    "finalized_names",
    "holdings",
    "likeness_held",
    "recorded_manifest",
    "refused_infos",
]


REFUSED_EVENT = "finalize.refused"
_CONTAINS_KIND = {"kind": EdgeKind.CONTAINS.value}


def _finalized_rows(
    session: Session, roots: RootMap, names: Sequence[str] | None = None
) -> list[tuple[int, DeliverableInfo]]:
    """(deliverable id, what it is) of the finalized deliverables (these `names` only), each
    with its source where it is on this machine (a deliverable records it under its show root's
    name, so that it is found again wherever the root moves)."""
    query = (
        select(Deliverable, Event.hash, Event.actor, Event.host)
        .join(Event, Event.id == Deliverable.event_id)
        .order_by(Deliverable.event_id)
    )
    if names is not None:
        query = query.where(Deliverable.name.in_(list(names)))
    return [
        (
            row.id,
            DeliverableInfo(
                name=row.name,
                status="finalized",
                source=roots.source_here(row.source),
                kind=row.kind,
                policy=row.policy_name,
                policy_digest=row.policy_digest,
                files=row.file_count,
                warnings=row.warnings,
                blocking=(),
                at=row.created_at,
                event_id=row.event_id,
                event_hash=event_hash,
                actor=actor,
                host=host,
            ),
        )
        for row, event_hash, actor, host in session.execute(query)
    ]


def refused_infos(session: Session) -> list[DeliverableInfo]:
    """Every refused finalize, as its event recorded it."""
    found = []
    for event in session.execute(
        select(Event).where(Event.kind == REFUSED_EVENT).order_by(Event.id)
    ).scalars():
        payload: dict[str, Any] = json.loads(event.payload)
        found.append(
            DeliverableInfo(
                name=str(payload.get("name", "")),
                status="refused",
                source=os.fsencode(str(payload.get("delivery", ""))),
                kind=None,
                policy=str(payload.get("policy", "")),
                policy_digest=None,
                files=int(payload.get("files", 0)),
                warnings=0,
                blocking=tuple(payload.get("blocking", ())),
                at=event.at,
                event_id=event.id,
                event_hash=event.hash,
                actor=event.actor,
                host=event.host,
            )
        )
    return found


def deliverable_infos(
    session: Session, roots: RootMap, refused: bool = True
) -> list[DeliverableInfo]:
    """Every finalized deliverable (and every refused finalize), in the order they happened."""
    found = [info for _, info in _finalized_rows(session, roots)]
    if refused:
        found += refused_infos(session)
    return sorted(found, key=lambda d: d.event_id)


def finalized_named(session: Session, roots: RootMap, name: str) -> DeliverableInfo | None:
    found = _finalized_rows(session, roots, [name])
    return found[0][1] if found else None


def finalized_names(session: Session) -> list[str]:
    return list(session.execute(select(Deliverable.name).order_by(Deliverable.name)).scalars())


@dataclass(frozen=True)
class Held:
    """A delivered version of a deliverable reaches a version: how (the gate's path)."""

    deliverable: DeliverableInfo
    delivered: int
    """The delivered version."""
    version: int
    """The version reached."""
    path: tuple[Step, ...]
    files: int


_DELIVERED = select(
    DeliverableFile.deliverable_id,
    DeliverableFile.version_id,
    func.count(),
).group_by(DeliverableFile.deliverable_id, DeliverableFile.version_id)


def delivered_versions(session: Session) -> dict[int, dict[int, int]]:
    """deliverable id -> {delivered version: how many of its files were delivered}."""
    found: dict[int, dict[int, int]] = {}
    for deliverable_id, version_id, count in session.execute(_DELIVERED):
        found.setdefault(deliverable_id, {})[version_id] = int(count)
    return found


@dataclass(frozen=True)
class DeliveredFacts:
    """Every finalized deliverable with the versions it delivered, and the gate's judge over
    them (`ledger_facts` of every delivered version)."""

    deliverables: dict[int, DeliverableInfo]
    delivered: dict[int, dict[int, int]]
    """deliverable id -> {delivered version: how many of its files were delivered}."""
    judge: Judge


def delivered_facts(
    session: Session, roots: RootMap, only: Iterable[str] | None = None
) -> DeliveredFacts:
    """Every finalized deliverable (or those named `only`) and the judge over what they
    delivered."""
    infos = dict(_finalized_rows(session, roots, None if only is None else list(only)))
    delivered = {d: c for d, c in delivered_versions(session).items() if d in infos}
    every = {v for counts in delivered.values() for v in counts}
    return DeliveredFacts(infos, delivered, Judge(ledger_facts(session, roots, every)))


def holdings(
    session: Session,
    roots: RootMap,
    versions: Iterable[int],
    facts: DeliveredFacts | None = None,
) -> list[Held]:
    """Every (deliverable, delivered version) whose material reaches one of `versions`, by the
    gate's own judge, with the first (shortest) path from the delivered version to it."""
    wanted = set(versions)
    if not wanted:
        return []
    if facts is None:
        delivered = delivered_versions(session)
        every = {v for counts in delivered.values() for v in counts}
        # Only the delivered versions that could hold these are judged: those reached from
        # them going down through lineage and shared bytes (what the judge follows up).
        near = every & _downstream(session, wanted)
        if not near:
            return []
        facts = DeliveredFacts(
            dict(_finalized_rows(session, roots)),
            {d: {v: n for v, n in counts.items() if v in near} for d, counts in delivered.items()},
            Judge(ledger_facts(session, roots, near)),
        )
    reach: dict[int, list[tuple[int, tuple[Step, ...]]]] = {}
    found = []
    for deliverable_id, counts in facts.delivered.items():
        info = facts.deliverables[deliverable_id]
        for version_id, files in counts.items():
            if version_id not in reach:
                reach[version_id] = [
                    (reached, path)
                    for reached, path in facts.judge.reached(version_id)
                    if reached in wanted
                ]
            for reached, path in reach[version_id]:
                found.append(Held(info, version_id, reached, path, files))
    return sorted(found, key=lambda h: (h.deliverable.event_id, h.delivered, h.version))


_CHILDREN = select(LineageEdge.parent_id, LineageEdge.child_id).where(
    LineageEdge.kind == bindparam("kind")
)
_theirs = bulk.table_of(Member).alias("theirs")
_SHARING = (
    select(Member.version_id, _theirs.c.version_id)
    .join(_theirs, _theirs.c.content_id == Member.content_id)
    .where(_theirs.c.version_id != Member.version_id)
    .distinct()
)


def _downstream(session: Session, start: set[int]) -> set[int]:
    """Every version reachable from `start` through `contains` edges (to children) and shared
    bytes (to any holder): a superset of the versions whose material reaches `start` by the
    judge's rules (it follows `contains` to parents, and bytes to their holders)."""
    connection = session.connection()
    found = set(start)
    frontier = set(start)
    for _ in range(MAX_DEPTH):
        reached: set[int] = set()
        for _parent, child in bulk.select_in(
            connection, _CHILDREN, LineageEdge.parent_id, sorted(frontier), _CONTAINS_KIND
        ):
            reached.add(child)
        for _mine, theirs in bulk.select_in(
            connection, _SHARING, Member.version_id, sorted(frontier)
        ):
            reached.add(theirs)
        frontier = reached - found
        if not frontier:
            break
        found |= frontier
    return found


@dataclass(frozen=True)
class LikenessHeld:
    """A delivered version uses a performer's likeness: its own mark, or one of what it holds."""

    deliverable: DeliverableInfo
    delivered: int
    marked: int
    """The version marked as using the likeness."""
    path: tuple[Step, ...]
    performer: str


def likeness_held(facts: DeliveredFacts) -> list[LikenessHeld]:
    """Every likeness each deliverable uses, through what it delivered (the gate's reach)."""
    versions = facts.judge.ledger.versions
    found = []
    for deliverable_id, counts in facts.delivered.items():
        info = facts.deliverables[deliverable_id]
        for version_id in counts:
            for reached, path in facts.judge.reached(version_id):
                for performer in versions[reached].likeness:
                    found.append(LikenessHeld(info, version_id, reached, path, performer))
    return found


@dataclass(frozen=True)
class RecordedManifest:
    """The manifest a finalize wrote beside a deliverable, as the ledger recorded it."""

    path: bytes
    """Where it is on this machine (beside the deliverable, wherever its show root is now)."""
    digest: str
    body: bytes | None
    """The bytes the ledger kept; None for a deliverable finalized before they were kept
    (migration 0011), whose manifest is then read from `path`."""


def recorded_manifest(session: Session, info: DeliverableInfo) -> RecordedManifest | None:
    """The manifest the finalize of `info` wrote: its bytes as the ledger kept them (else its
    digest as the finalize's event recorded it), and where it is now."""
    if info.kind is None:
        return None  # a refused finalize writes none
    home = info.source if info.kind == "folder" else os.path.dirname(info.source)
    path = manifest_path(DeliveryKind(info.kind), info.source, home)
    deliverable_id = session.execute(
        select(Deliverable.id).where(Deliverable.name == info.name)
    ).scalar()
    kept = None if deliverable_id is None else kept_manifest(session, deliverable_id)
    if kept is not None:
        return RecordedManifest(path, kept[0], kept[1])
    for payload in session.execute(
        select(Event.payload).where(Event.kind == MANIFEST_EVENT).order_by(Event.id.desc())
    ).scalars():
        document = json.loads(payload)
        if document.get("name") == info.name:
            return RecordedManifest(path, str(document["digest"]), None)
    return None


def delivered_in(session: Session, roots: RootMap, held: Sequence[Held]) -> list[DeliveredIn]:
    """The holdings as records, naming their versions."""
    refs = asset_refs(session, roots, {h.delivered for h in held} | {h.version for h in held})
    return [
        DeliveredIn(
            deliverable=h.deliverable,
            version=refs[h.version],
            through=refs[h.delivered],
            how=describe_path(h.path) if h.path else "itself",
            files=h.files,
        )
        for h in held
    ]


def as_delivered(path: Sequence[Step]) -> bool:
    """Is a path from a delivered version only copies and derivatives (the version itself was
    delivered, byte for byte or mostly), not `contains` lineage?"""
    return all(step.relation is not Relation.CONTAINS for step in path)

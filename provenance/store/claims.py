"""Writing claims, lineage edges and likeness marks: shared by ingest, tag, link and the MHL roll.

Rows only: what a claim says is decided by its caller, and what the claims add up to by the
policy. Each writer drops the seals of the folders its versions lie in (`seals.drop_for_versions`):
a sealed folder's assets would otherwise be reported as they were.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, insert, select
from sqlalchemy.orm import Session

from provenance.errors import LineageCycle
from provenance.origins import Evidence, Origin
from provenance.store import bulk
from provenance.store.events import UnitOfWork
from provenance.store.models import Asset, AssetVersion, Claim, EdgeKind, Likeness, LineageEdge
from provenance.store.queries import ancestors, chunked
from provenance.store.seals import drop_for_versions

__all__ = [
    "ClaimSpec",
    "ParentSpec",
    "add_claims",
    "add_edges",
    "add_likeness",
    "carry_over",
]


@dataclass(frozen=True)
class ClaimSpec:
    """A claim to attach to every asset version an ingest (or tag) touches."""

    origin: Origin
    tool_id: int | None
    tool_version: str | None
    claimed_by: str
    evidence: Evidence = Evidence.DECLARED
    note: str | None = None
    resolves: bool = False
    detail: str | None = None
    """What the claim rests on, for auditors (an ASC MHL's creator, tool, date and hash)."""


@dataclass(frozen=True)
class ParentSpec:
    version_id: int
    kind: EdgeKind


def add_claims(
    session: Session,
    version_ids: Sequence[int],
    claim: ClaimSpec,
    unit: UnitOfWork,
    skip_repeats: bool,
) -> list[int]:
    """Add `claim` to each version (dropping the seals of their folders). Returns the versions
    that got it.

    With `skip_repeats`, a version whose newest claim already says exactly this gets none:
    ingesting the same tree twice adds no rows.
    """
    wanted = (
        claim.origin.value,
        claim.tool_id,
        claim.tool_version,
        claim.claimed_by,
        claim.evidence.value,
        claim.note,
        claim.resolves,
    )
    targets = list(version_ids)
    if skip_repeats:
        latest = _latest_claims(session, targets, claim.claimed_by)
        targets = []
        for version_id in version_ids:
            if latest.get(version_id) == wanted:
                continue
            latest[version_id] = wanted  # as it is once this claim is added
            targets.append(version_id)
    if not targets:
        return []
    session.connection().execute(
        insert(Claim),
        [
            {
                "version_id": version_id,
                "origin": claim.origin.value,
                "tool_id": claim.tool_id,
                "tool_version": claim.tool_version,
                "claimed_by": claim.claimed_by,
                "evidence": claim.evidence.value,
                "detail": claim.detail,
                "note": claim.note,
                "resolves": claim.resolves,
                "created_at": unit.at,
                "event_id": unit.event_id,
            }
            for version_id in targets
        ],
    )
    drop_for_versions(session, targets)
    return targets


def _latest_claims(
    session: Session, version_ids: Sequence[int], claimant: str
) -> dict[int, tuple[Any, ...]]:
    """Each version's newest claim declared by `claimant`, as the tuple `add_claims` compares.

    The same claimant's: a publish hook repeating its declaration after a TD's resolving claim
    says nothing new, and must not reopen what the TD settled (a changed declaration does)."""
    latest: dict[int, tuple[Any, ...]] = {}
    connection = session.connection()
    for chunk in chunked(sorted(set(version_ids))):
        # Declared claims only: the signals a file carried are claims too, and must not make
        # the same declaration look new on the next ingest.
        newest = (
            select(func.max(Claim.id))
            .where(
                Claim.version_id.in_(chunk),
                Claim.evidence == Evidence.DECLARED.value,
                Claim.claimed_by == claimant,
            )
            .group_by(Claim.version_id)
        )
        for version_id, *facts in connection.execute(
            select(
                Claim.version_id,
                Claim.origin,
                Claim.tool_id,
                Claim.tool_version,
                Claim.claimed_by,
                Claim.evidence,
                Claim.note,
                Claim.resolves,
            ).where(Claim.id.in_(newest))
        ):
            latest[version_id] = tuple(facts)
    return latest


def add_edges(
    session: Session, child_ids: Sequence[int], parents: Sequence[ParentSpec], unit: UnitOfWork
) -> int:
    """Link each child to each parent, refusing cycles; an edge that exists already is kept.

    A few statements whatever the number of parents (a render read from a scene has hundreds):
    one walk up from all the parents for the cycle check, one look-up of the children's edges,
    one insert.
    """
    wanted = list(dict.fromkeys((p.version_id, p.kind.value) for p in parents))
    if not wanted or not child_ids:
        return 0
    parent_ids = {version_id for version_id, _ in wanted}
    above = ancestors(session, parent_ids) | parent_ids
    if any(child_id in above for child_id in child_ids):
        raise LineageCycle(
            "That link would make an asset its own ancestor (a lineage cycle). "
            "Check which asset was made from which; nothing was recorded."
        )
    children = list(dict.fromkeys(child_ids))
    existing: set[tuple[int, int, str]] = set()
    for chunk in chunked(children):
        existing.update(
            (child, parent, kind)
            for child, parent, kind in session.execute(
                select(LineageEdge.child_id, LineageEdge.parent_id, LineageEdge.kind).where(
                    LineageEdge.child_id.in_(chunk)
                )
            )
        )
    new = [
        (child_id, parent_id, kind)
        for child_id in children
        for parent_id, kind in wanted
        if (child_id, parent_id, kind) not in existing
    ]
    if new:
        session.execute(
            insert(LineageEdge),
            [
                {
                    "child_id": child_id,
                    "parent_id": parent_id,
                    "kind": kind,
                    "created_at": unit.at,
                    "event_id": unit.event_id,
                }
                for child_id, parent_id, kind in new
            ],
        )
    drop_for_versions(session, list(dict.fromkeys(child_id for child_id, _, _ in new)))
    return len(new)


def carry_over(
    session: Session,
    pairs: Sequence[tuple[int, int]],
    unit: UnitOfWork,
    stated: Sequence[int] = (),
    contains: bool = True,
) -> None:
    """A new version of an asset inherits what it was made from and whose likeness it uses.

    New bytes at the same name are almost always a re-render of the same thing: dropping the
    old version's `contains` edges would let a comp that still holds a generated sky pass as
    plain human work. A re-render made after a parent changed cannot be assumed to use the
    parent's old bytes: each carried edge points at its parent asset's latest version now.
    What the ingest states wins: no edge is carried to an asset one of the `stated` parent
    versions belongs to (the user or the scene named the version), and none of the `contains`
    edges when `contains` is false (a scene says everything the render reads). Claims and
    approvals do not carry over: they are about exact bytes.
    """
    if not pairs:
        return
    successor = dict(pairs)
    connection = session.connection()
    stated_assets = set(_asset_ids(connection, stated).values())
    for chunk in chunked(list(successor)):
        edges = [
            (child, parent, kind)
            for child, parent, kind in connection.execute(
                select(LineageEdge.child_id, LineageEdge.parent_id, LineageEdge.kind).where(
                    LineageEdge.child_id.in_(chunk)
                )
            )
            if contains or kind != EdgeKind.CONTAINS.value
        ]
        parents = sorted({parent for _, parent, _ in edges})
        assets = _asset_ids(connection, parents)
        latest: dict[int, int] = dict(
            bulk.select_in(
                connection,
                select(AssetVersion.id, _LATEST_OF_ASSET.scalar_subquery()),
                AssetVersion.id,
                parents,
            )
        )
        carried = {
            (successor[child], latest[parent], kind)
            for child, parent, kind in edges
            if assets[parent] not in stated_assets
        }
        for child, parent, kind in sorted(carried):
            session.execute(
                insert(LineageEdge).values(
                    child_id=child,
                    parent_id=parent,
                    kind=kind,
                    created_at=unit.at,
                    event_id=unit.event_id,
                )
            )
        marks = session.execute(
            select(Likeness.version_id, Likeness.performer).where(Likeness.version_id.in_(chunk))
        ).all()
        add_likeness_pairs(session, [(successor[v], p) for v, p in marks], unit)


def _asset_ids(connection: Connection, version_ids: Sequence[int]) -> dict[int, int]:
    return dict(
        bulk.select_in(
            connection,
            select(AssetVersion.id, AssetVersion.asset_id),
            AssetVersion.id,
            sorted(set(version_ids)),
        )
    )


_latest_version = bulk.table_of(AssetVersion).alias("latest_version")
_LATEST_OF_ASSET = (
    select(_latest_version.c.id)
    .join(Asset, Asset.id == _latest_version.c.asset_id)
    .where(
        _latest_version.c.asset_id == AssetVersion.asset_id,
        _latest_version.c.number == Asset.latest_version,
    )
)


def add_likeness_pairs(
    session: Session, pairs: Sequence[tuple[int, str]], unit: UnitOfWork
) -> None:
    for version_id, performer in pairs:
        add_likeness(session, [version_id], [performer], unit)


def add_likeness(
    session: Session, version_ids: Sequence[int], performers: Sequence[str], unit: UnitOfWork
) -> None:
    """Mark versions as using these performers' likeness (kept once per version and performer)."""
    marked: list[int] = []
    for performer in dict.fromkeys(p.strip() for p in performers if p.strip()):
        key = performer.casefold()
        for version_id in dict.fromkeys(version_ids):
            exists = session.execute(
                select(Likeness.version_id).where(
                    Likeness.version_id == version_id, Likeness.performer_key == key
                )
            ).first()
            if exists is None:
                session.execute(
                    insert(Likeness).values(
                        version_id=version_id,
                        performer_key=key,
                        performer=performer,
                        event_id=unit.event_id,
                    )
                )
                marked.append(version_id)
    drop_for_versions(session, marked)

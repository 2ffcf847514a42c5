"""Reading the ledger: an asset's card, its lineage and history, the deliverables that hold it."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from provenance.errors import ProvenanceError, TargetNotFound
from provenance.facade.places import read_roots, roots_for_reading
from provenance.origins import ClaimFacts, Origin, summarize_claims
from provenance.paths import PathArg, as_target
from provenance.records import (
    ApprovalRecorded,
    AssetCard,
    AssetRef,
    ClaimInfo,
    ClaimRecorded,
    ConsentInfo,
    DeliverableListing,
    DeliveredHolding,
    DeliveredIn,
    DeliveryFinalized,
    EdgeRecorded,
    History,
    HistoryChange,
    HistoryEntry,
    LikenessRecorded,
    LineageLink,
    LineageNode,
    ReadAs,
    VersionRecorded,
    display_path,
)
from provenance.scan import looks_like_pattern, missing_frames
from provenance.store import queries
from provenance.store.engine import read_session
from provenance.store.models import (
    Approval,
    AssetVersion,
    Claim,
    Consent,
    Content,
    Event,
    Likeness,
    LineageEdge,
    Member,
    SignalRecord,
    Tool,
)
from provenance.store.signals import signals_by_version

if TYPE_CHECKING:
    from provenance.ledger import Ledger

__all__ = ["asset_card", "deliverables", "history", "lineage", "show", "target_versions"]


def show(ledger: Ledger, target: PathArg) -> AssetCard:
    from provenance.store import deliverables as store_deliverables

    target = as_target(target)
    with read_session(ledger.engine) as session:
        roots = read_roots(ledger, session, target)
        resolved, read_as = _resolve(ledger, session, roots, target)
        card = asset_card(session, roots, resolved)
        held = store_deliverables.holdings(session, roots, [resolved.version_id])
        return replace(
            card,
            deliverables=store_deliverables.delivered_in(session, roots, held),
            read_as=read_as,
        )


def deliverables(ledger: Ledger, contains: str | None) -> list[DeliverableListing]:
    from provenance.store import deliverables as store_deliverables

    with read_session(ledger.engine) as session:
        if contains is None:
            return [
                DeliverableListing(info)
                for info in store_deliverables.deliverable_infos(
                    session, roots_for_reading(ledger, session)
                )
            ]
        roots = read_roots(ledger, session, contains)
        versions = target_versions(ledger, session, roots, contains)
        held = store_deliverables.delivered_in(
            session, roots, store_deliverables.holdings(session, roots, versions)
        )
        listings: dict[str, DeliverableListing] = {}
        for item in held:
            name = item.deliverable.name
            listing = listings.setdefault(name, DeliverableListing(item.deliverable))
            listing.holds.append(item)
        return list(listings.values())


def lineage(ledger: Ledger, target: PathArg, up: bool, depth: int) -> LineageNode:
    from provenance.store import deliverables as store_deliverables

    target = as_target(target)
    if depth < 1:
        raise ProvenanceError(f"The lineage depth must be at least 1, not {depth}.")
    with read_session(ledger.engine) as session:
        roots = read_roots(ledger, session, target)
        resolved, read_as = _resolve(ledger, session, roots, target)
        start = resolved.version_id
        edges = queries.lineage_edges(session, start, up=up, max_depth=depth)
        refs = queries.asset_refs(
            session, roots, [start, *(e.parent_id for e in edges), *(e.child_id for e in edges)]
        )
        delivered: dict[int, list[DeliveredIn]] = {}
        if not up:
            # Going down ends in the deliverables: each version that was delivered as it
            # is (or as an exact copy or a derivative of it) lists them.
            held = [
                h
                for h in store_deliverables.holdings(session, roots, refs)
                if store_deliverables.as_delivered(h.path)
            ]
            for item in store_deliverables.delivered_in(session, roots, held):
                delivered.setdefault(item.version.version_id, []).append(item)
        return replace(_lineage_tree(start, edges, refs, up, delivered), read_as=read_as)


def history(ledger: Ledger, target: PathArg) -> History:
    from provenance.store import deliverables as store_deliverables

    target = as_target(target)
    with read_session(ledger.engine) as session:
        roots = read_roots(ledger, session, target)
        resolved, read_as = _resolve(ledger, session, roots, target)
        asset_id = session.execute(
            select(AssetVersion.asset_id).where(AssetVersion.id == resolved.version_id)
        ).scalar_one()
        entries = _history(session, roots, asset_id)
        versions = session.execute(
            select(AssetVersion.id).where(AssetVersion.asset_id == asset_id)
        ).scalars()
        held = store_deliverables.holdings(session, roots, versions)
        entries += _finalize_history(store_deliverables.delivered_in(session, roots, held))
        found = History(sorted(entries, key=lambda e: e.event_id))
        found.read_as = read_as
        return found


def target_versions(
    ledger: Ledger, session: Session, roots: queries.RootMap, target: str
) -> list[int]:
    """The versions a target stands for: one version for a digest, every version of the
    asset for a path (a pattern, or a frame of it)."""
    resolved = queries.resolve_target(session, roots, target, ledger.cwd)
    if queries.DIGEST_PREFIX.match(target.strip()):
        return [resolved.version_id]
    asset_id = session.execute(
        select(AssetVersion.asset_id).where(AssetVersion.id == resolved.version_id)
    ).scalar_one()
    return list(
        session.execute(
            select(AssetVersion.id)
            .where(AssetVersion.asset_id == asset_id)
            .order_by(AssetVersion.number)
        ).scalars()
    )


def _resolve(
    ledger: Ledger, session: Session, roots: queries.RootMap, target: str
) -> tuple[queries.Resolved, ReadAs | None]:
    """What a target names; a file the ledger does not record at its path is read and found
    by its bytes (identical bytes are one content, wherever they are)."""
    try:
        return queries.resolve_target(session, roots, target, ledger.cwd), None
    except TargetNotFound:
        from provenance.fingerprint import hash_file

        path = roots.localize(target, ledger.cwd)
        if looks_like_pattern(target) or not os.path.isfile(path) or os.path.islink(path):
            raise
        read = hash_file(path)
        holders = queries.holders_of(session, read.digest) if read.digest else []
        if read.digest is None or not holders:
            raise TargetNotFound(
                f"{target!r} is not in the ledger, and no recorded asset holds its bytes "
                f"({read.digest or 'unreadable'}). Record it first with "
                f"`provenance ingest {target} --origin ...`."
            ) from None
        refs = queries.asset_refs(session, roots, [v for v, _ in holders])
        read_as = ReadAs(
            display_path(path), read.digest, [(refs[v], frame) for v, frame in holders]
        )
        return queries.Resolved(*holders[0]), read_as


def asset_card(session: Session, roots: queries.RootMap, resolved: queries.Resolved) -> AssetCard:
    from provenance.store.status import version_statuses

    version_id = resolved.version_id
    ref = queries.asset_refs(session, roots, [version_id])[version_id]
    version = session.execute(
        select(AssetVersion).where(AssetVersion.id == version_id)
    ).scalar_one()
    versions = session.execute(
        select(func.count()).select_from(AssetVersion).where(AssetVersion.asset_id == ref.asset_id)
    ).scalar_one()
    claims = _claims(session, version_id)
    summary = summarize_claims([ClaimFacts(c.origin, c.resolves) for c in claims])
    frames = [
        f
        for f in session.execute(
            select(Member.frame)
            .where(Member.version_id == version_id, Member.frame.is_not(None))
            .order_by(Member.position)
        ).scalars()
        if f is not None
    ]
    frame_digest = None
    if resolved.frame is not None:
        frame_digest = session.execute(
            select(Content.digest)
            .join(Member, Member.content_id == Content.id)
            .where(Member.version_id == version_id, Member.frame == resolved.frame)
        ).scalar()
    # A single file's own digest is what `xxhsum -H2` prints; the version's digest is the
    # aggregate of its members (one here), which is what approvals are bound to.
    file_digest = None
    if ref.kind == "file" and version.member_count == 1:
        file_digest = session.execute(
            select(Content.digest)
            .join(Member, Member.content_id == Content.id)
            .where(Member.version_id == version_id)
        ).scalar()
    performers = list(
        session.execute(
            select(Likeness.performer)
            .where(Likeness.version_id == version_id)
            .order_by(Likeness.performer_key)
        ).scalars()
    )
    consents = {
        key: [ConsentInfo(c.performer, c.scope, c.ref, c.recorded_by, c.created_at) for c in rows]
        for key, rows in _consents_by_key(session, [p.casefold() for p in performers]).items()
    }
    parents, children = queries.direct_links(session, version_id)
    linked = queries.asset_refs(session, roots, [v for _, v in parents + children])
    return AssetCard(
        asset=ref,
        versions=int(versions),
        status=version_statuses(session.connection(), [version_id])[version_id].value,
        origin=summary.origin,
        disputed=summary.disputed,
        differs=summary.differs,
        generative=summary.generative,
        claims=claims,
        member_count=version.member_count,
        total_size=version.total_size,
        frames=frames,
        holes=missing_frames(frames) if ref.kind == "sequence" else [],
        parents=[LineageLink(k, linked[v]) for k, v in parents],
        children=[LineageLink(k, linked[v]) for k, v in children],
        frame=resolved.frame,
        frame_digest=frame_digest,
        file_digest=file_digest,
        likeness=[(p, consents.get(p.casefold(), [])) for p in performers],
        created_at=version.created_at,
        signals=signals_by_version(session, [version_id]).get(version_id, []),
    )


def _claims(session: Session, version_id: int) -> list[ClaimInfo]:
    # A claim a file's own signal made names its tool even when nobody registered it.
    named = {
        (event_id, source): tool
        for event_id, source, tool in session.execute(
            select(SignalRecord.event_id, SignalRecord.source, SignalRecord.tool).where(
                SignalRecord.version_id == version_id, SignalRecord.tool.is_not(None)
            )
        )
    }
    rows = session.execute(
        select(Claim, Tool.name)
        .outerjoin(Tool, Tool.id == Claim.tool_id)
        .where(Claim.version_id == version_id)
        .order_by(Claim.id)
    )
    return [
        ClaimInfo(
            origin=Origin(claim.origin),
            tool=tool_name,
            unregistered_tool=(
                named.get((claim.event_id, claim.claimed_by)) if tool_name is None else None
            ),
            tool_version=claim.tool_version,
            claimed_by=claim.claimed_by,
            evidence=claim.evidence,
            note=claim.note,
            resolves=claim.resolves,
            at=claim.created_at,
            event_id=claim.event_id,
        )
        for claim, tool_name in rows
    ]


def _consents_by_key(session: Session, keys: Sequence[str]) -> dict[str, list[Consent]]:
    found: dict[str, list[Consent]] = {}
    if keys:
        for consent in session.execute(
            select(Consent).where(Consent.performer_key.in_(keys)).order_by(Consent.id)
        ).scalars():
            found.setdefault(consent.performer_key, []).append(consent)
    return found


def _lineage_tree(
    start: int,
    edges: list[queries.Edge],
    refs: dict[int, AssetRef],
    up: bool,
    delivered: dict[int, list[DeliveredIn]] | None = None,
) -> LineageNode:
    following: dict[int, list[queries.Edge]] = {}
    for edge in edges:
        near = edge.child_id if up else edge.parent_id
        following.setdefault(near, []).append(edge)
    shown: set[int] = set()

    def build(version_id: int, kind: str | None, depth: int, trail: frozenset[int]) -> LineageNode:
        if version_id in shown:
            return LineageNode(refs[version_id], kind, depth, [], seen_before=True)
        shown.add(version_id)
        children = []
        for edge in following.get(version_id, []):
            far = edge.parent_id if up else edge.child_id
            if far in trail:
                continue
            children.append(build(far, edge.kind, depth + 1, trail | {far}))
        into = (delivered or {}).get(version_id, [])
        return LineageNode(refs[version_id], kind, depth, children, deliverables=into)

    return build(start, None, 0, frozenset({start}))


def _history(session: Session, roots: queries.RootMap, asset_id: int) -> list[HistoryEntry]:
    event_ids = queries.event_ids_for_asset(session, asset_id)
    if not event_ids:
        return []
    events = {
        e.id: e for e in session.execute(select(Event).where(Event.id.in_(event_ids))).scalars()
    }
    changes: dict[int, list[HistoryChange]] = {e: [] for e in event_ids}
    for number, digest, count, event_id in session.execute(
        select(
            AssetVersion.number,
            AssetVersion.digest,
            AssetVersion.member_count,
            AssetVersion.event_id,
        ).where(AssetVersion.asset_id == asset_id)
    ):
        changes[event_id].append(VersionRecorded(version=number, files=count, digest=digest))
    versions = select(AssetVersion.id).where(AssetVersion.asset_id == asset_id).scalar_subquery()
    for claim, tool_name, number in session.execute(
        select(Claim, Tool.name, AssetVersion.number)
        .outerjoin(Tool, Tool.id == Claim.tool_id)
        .join(AssetVersion, AssetVersion.id == Claim.version_id)
        .where(Claim.version_id.in_(versions))
        .order_by(Claim.id)
    ):
        changes[claim.event_id].append(
            ClaimRecorded(
                version=number,
                claimed_by=claim.claimed_by,
                origin=Origin(claim.origin),
                evidence=claim.evidence,
                resolves=claim.resolves,
                tool=tool_name,
                tool_version=claim.tool_version,
                note=claim.note,
            )
        )
    edge_rows = session.execute(
        select(LineageEdge).where(
            (LineageEdge.child_id.in_(versions)) | (LineageEdge.parent_id.in_(versions))
        )
    ).scalars()
    edges = list(edge_rows)
    refs = queries.asset_refs(
        session, roots, [e.child_id for e in edges] + [e.parent_id for e in edges]
    )
    for edge in edges:
        changes[edge.event_id].append(
            EdgeRecorded(
                child=refs[edge.child_id].name,
                child_version=refs[edge.child_id].version,
                edge=edge.kind,
                parent=refs[edge.parent_id].name,
                parent_version=refs[edge.parent_id].version,
            )
        )
    for approval, number in session.execute(
        select(Approval, AssetVersion.number)
        .join(AssetVersion, AssetVersion.id == Approval.version_id)
        .where(Approval.version_id.in_(versions))
    ):
        changes[approval.event_id].append(
            ApprovalRecorded(
                version=number,
                digest=approval.digest,
                approved_by=approval.approved_by,
                ref=approval.ref,
                covers_tool_risk=approval.covers_tool_risk,
            )
        )
    for performer, number, event_id in session.execute(
        select(Likeness.performer, AssetVersion.number, Likeness.event_id)
        .join(AssetVersion, AssetVersion.id == Likeness.version_id)
        .where(Likeness.version_id.in_(versions))
    ):
        changes[event_id].append(LikenessRecorded(version=number, performer=performer))
    return [
        HistoryEntry(
            event_id=event_id,
            kind=events[event_id].kind,
            actor=events[event_id].actor,
            host=events[event_id].host,
            at=events[event_id].at,
            hash=events[event_id].hash,
            changes=tuple(changes[event_id]),
        )
        for event_id in event_ids
    ]


def _finalize_history(held: list[DeliveredIn]) -> list[HistoryEntry]:
    """The finalize events of the deliverables that hold an asset's material, saying how."""
    by_event: dict[int, list[DeliveredIn]] = {}
    for item in held:
        by_event.setdefault(item.deliverable.event_id, []).append(item)
    entries = []
    for event_id, items in by_event.items():
        deliverable = items[0].deliverable
        holds = tuple(
            DeliveredHolding(
                version=i.version.version,
                through=i.through.name,
                through_version=i.through.version,
                how=i.how,
            )
            for i in items
        )
        entries.append(
            HistoryEntry(
                event_id=event_id,
                kind="finalize",
                actor=deliverable.actor,
                host=deliverable.host,
                at=deliverable.at,
                hash=deliverable.event_hash,
                changes=(DeliveryFinalized(deliverable.name, deliverable.files, holds),),
            )
        )
    return entries

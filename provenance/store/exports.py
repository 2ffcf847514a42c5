"""The rows an export of the ledger's facts needs (`interchange.w3c_prov`): the asset versions
of a scope with their claims, lineage, approvals, likeness, the tools and people named, the
deliverables that hold them, and the events that recorded all of it. Rows only, no verdicts:
what material is in a delivered version is the gate's judge (`obligations.Judge`)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from provenance.obligations import Judge, Relation
from provenance.origins import ClaimFacts, Origin, summarize_claims
from provenance.records import DeliverableInfo, display_path
from provenance.store import bulk
from provenance.store.deliverables import delivered_facts, holdings, refused_infos
from provenance.store.ledger_facts import ledger_facts
from provenance.store.models import (
    Approval,
    Asset,
    AssetVersion,
    Claim,
    Consent,
    EdgeKind,
    Event,
    Likeness,
    LineageEdge,
    Tool,
)
from provenance.store.queries import RootMap, ancestors, chunked

__all__ = ["ExportFacts", "approval_strong_digests", "export_facts"]


@dataclass(frozen=True)
class VersionRow:
    id: int
    asset_id: int
    name: str
    number: int
    kind: str
    digest: str
    size: int
    members: int
    origin: Origin
    disputed: bool
    at: dt.datetime
    event_id: int


@dataclass(frozen=True)
class ClaimRow:
    version_id: int
    origin: Origin
    tool_id: int | None
    tool_version: str | None
    claimed_by: str
    evidence: str
    note: str | None
    resolves: bool
    event_id: int


@dataclass(frozen=True)
class ToolRow:
    id: int
    name: str
    vendor: str | None
    generative: bool
    trains_on_inputs: str
    secured: str


@dataclass(frozen=True)
class ApprovalRow:
    id: int
    version_id: int
    digest: str
    ref: str
    approved_by: str
    note: str | None
    covers_tool_risk: bool
    recorded_by: str
    event_id: int
    strong_digest: str | None = None


@dataclass(frozen=True)
class ConsentRow:
    id: int
    performer: str
    scope: str
    ref: str
    recorded_by: str
    event_id: int


@dataclass(frozen=True)
class EventRow:
    id: int
    kind: str
    actor: str
    host: str
    at: dt.datetime
    hash: str


@dataclass(frozen=True)
class DeliverableRow:
    info: DeliverableInfo
    versions: tuple[int, ...]
    """The versions it delivered."""
    approvals: tuple[int, ...]
    """The approvals that covered material in it (the gate's judge, now)."""


@dataclass
class ExportFacts:
    """Everything an export says, for one scope."""

    ledger_id: str
    versions: dict[int, VersionRow] = field(default_factory=dict)
    claims: list[ClaimRow] = field(default_factory=list)
    edges: list[tuple[int, int, str, int]] = field(default_factory=list)
    """(child, parent, contains or references, the event that recorded it)."""
    copies: list[tuple[int, int, str]] = field(default_factory=list)
    """(version, the version whose bytes it holds, copy or derived): the gate's own reading."""
    likeness: list[tuple[int, str, int]] = field(default_factory=list)
    """(version, performer, event)."""
    tools: dict[int, ToolRow] = field(default_factory=dict)
    approvals: list[ApprovalRow] = field(default_factory=list)
    consents: list[ConsentRow] = field(default_factory=list)
    deliverables: list[DeliverableRow] = field(default_factory=list)
    refused: list[DeliverableInfo] = field(default_factory=list)
    events: dict[int, EventRow] = field(default_factory=dict)


def export_facts(
    session: Session,
    roots: RootMap,
    versions: Iterable[int] | None = None,
    deliverables: Iterable[str] | None = None,
) -> ExportFacts:
    """The facts of a scope: the whole ledger (neither given); these `versions` with what they
    were made from and the deliverables that hold them; or these `deliverables` with everything
    in what they delivered."""
    connection = session.connection()
    ledger_id = session.execute(select(Event.hash).order_by(Event.id).limit(1)).scalar() or ""
    facts = ExportFacts(ledger_id)
    whole = versions is None and deliverables is None
    if whole:
        delivered = delivered_facts(session, roots)
        scope = set(connection.execute(select(AssetVersion.id)).scalars())
    elif deliverables is not None:
        delivered = delivered_facts(session, roots, only=deliverables)
        scope = set()
        for counts in delivered.delivered.values():
            for version_id in counts:
                scope.update(reached for reached, _ in delivered.judge.reached(version_id))
    else:
        wanted = set(versions or ())
        scope = wanted | ancestors(session, wanted)
        held = holdings(session, roots, wanted)
        for item in held:
            scope.add(item.delivered)
            scope.update(step.version.id for step in item.path)
        delivered = delivered_facts(session, roots, only={h.deliverable.name for h in held})
    judge = delivered.judge
    # The versions' parents that were only referenced are shown too (what they looked at).
    scope |= {
        parent
        for (parent,) in bulk.select_in(
            connection,
            select(LineageEdge.parent_id).where(LineageEdge.kind == bindparam("kind")),
            LineageEdge.child_id,
            sorted(scope),
            {"kind": EdgeKind.REFERENCES.value},
        )
    }
    _versions(session, roots, scope, facts)
    _lineage(session, scope, facts)
    # (A target's scope is small: judged on its own. The whole ledger: the copies the
    # deliverables hold, not a judgement of every version.)
    reader = Judge(ledger_facts(session, roots, scope)) if versions is not None else judge
    _copies(reader, scope, facts)
    _approvals_and_consents(session, scope, facts, every_consent=whole)
    for deliverable_id, info in delivered.deliverables.items():
        # (A target's export lists the delivered versions that hold the target, not all.)
        members = sorted(v for v in delivered.delivered.get(deliverable_id, {}) if v in scope)
        covering = {
            approval
            for version_id in members
            for source in judge.sources(version_id)
            for approval in source.covered_by
        }
        approval_ids = tuple(
            a.id
            for a in facts.approvals
            if any(c.ref == a.ref and c.digest == a.digest for c in covering)
        )
        facts.deliverables.append(DeliverableRow(info, tuple(members), approval_ids))
    if whole:
        facts.refused = refused_infos(session)
    _events(session, facts)
    return facts


def _versions(session: Session, roots: RootMap, scope: set[int], facts: ExportFacts) -> None:
    connection = session.connection()
    query = select(
        AssetVersion.id,
        AssetVersion.asset_id,
        Asset.root_id,
        Asset.pattern,
        AssetVersion.number,
        Asset.kind,
        AssetVersion.digest,
        AssetVersion.total_size,
        AssetVersion.member_count,
        AssetVersion.created_at,
        AssetVersion.event_id,
    ).join(Asset, Asset.id == AssetVersion.asset_id)
    rows = _typed_rows(session, query, AssetVersion.id, scope)
    claim_query = select(
        Claim.version_id,
        Claim.origin,
        Claim.tool_id,
        Claim.tool_version,
        Claim.claimed_by,
        Claim.evidence,
        Claim.note,
        Claim.resolves,
        Claim.event_id,
        Claim.id,
    )
    claims: dict[int, list[ClaimRow]] = {}
    for row in sorted(
        bulk.select_in(connection, claim_query, Claim.version_id, sorted(scope)),
        key=lambda r: r[-1],
    ):
        claim = ClaimRow(
            row[0], Origin(row[1]), row[2], row[3], row[4], row[5], row[6], bool(row[7]), row[8]
        )
        claims.setdefault(claim.version_id, []).append(claim)
        facts.claims.append(claim)
    for (
        version_id,
        asset_id,
        root_id,
        pattern,
        number,
        kind,
        digest,
        size,
        members,
        at,
        event,
    ) in rows:
        summary = summarize_claims(
            [ClaimFacts(c.origin, c.resolves) for c in claims.get(version_id, [])]
        )
        facts.versions[version_id] = VersionRow(
            version_id,
            asset_id,
            display_path(roots.join(root_id, pattern)),
            number,
            kind,
            digest,
            size,
            members,
            summary.origin,
            summary.disputed,
            at,
            event,
        )
    tool_ids = sorted({c.tool_id for c in facts.claims if c.tool_id is not None})
    for tool in session.execute(select(Tool).where(Tool.id.in_(tool_ids))).scalars():
        facts.tools[tool.id] = ToolRow(
            tool.id, tool.name, tool.vendor, tool.generative, tool.trains_on_inputs, tool.secured
        )
    for version_id, performer, event_id in bulk.select_in(
        connection,
        select(Likeness.version_id, Likeness.performer, Likeness.event_id),
        Likeness.version_id,
        sorted(scope),
    ):
        facts.likeness.append((version_id, performer, event_id))


def _lineage(session: Session, scope: set[int], facts: ExportFacts) -> None:
    query = select(
        LineageEdge.child_id, LineageEdge.parent_id, LineageEdge.kind, LineageEdge.event_id
    )
    for child, parent, kind, event_id in bulk.select_in(
        session.connection(), query, LineageEdge.child_id, sorted(scope)
    ):
        if parent in scope:
            facts.edges.append((child, parent, kind, event_id))


def _copies(judge: Judge, scope: set[int], facts: ExportFacts) -> None:
    """The copies and derivatives among the scope's versions, as the gate reads them."""
    found = set()
    for version_id in scope:
        if version_id not in judge.ledger.versions:
            continue
        for _, path in judge.reached(version_id):
            child = version_id
            for step in path:
                if step.relation is not Relation.CONTAINS and step.version.id in scope:
                    found.add((child, step.version.id, step.relation.value))
                child = step.version.id
    facts.copies = sorted(found)


def _approvals_and_consents(
    session: Session, scope: set[int], facts: ExportFacts, every_consent: bool
) -> None:
    query = select(Approval).order_by(Approval.id)
    approvals = [a for a in session.execute(query).scalars() if a.version_id in scope]
    strong = _strong_digests(session, [a.event_id for a in approvals])
    facts.approvals = [
        ApprovalRow(
            a.id,
            a.version_id,
            a.digest,
            a.ref,
            a.approved_by,
            a.note,
            a.covers_tool_risk,
            a.recorded_by,
            a.event_id,
            strong.get(a.event_id),
        )
        for a in approvals
    ]
    performers = {p.casefold() for _, p, _ in facts.likeness}
    facts.consents = [
        ConsentRow(c.id, c.performer, c.scope, c.ref, c.recorded_by, c.event_id)
        for c in session.execute(select(Consent).order_by(Consent.id)).scalars()
        if every_consent or c.performer_key in performers
    ]


def _strong_digests(session: Session, event_ids: Iterable[int]) -> dict[int, str]:
    """The collision-resistant digest an `approve --strong` event recorded, by event."""
    found = {}
    for event_id, payload in bulk.select_in(
        session.connection(), select(Event.id, Event.payload), Event.id, sorted(set(event_ids))
    ):
        strong = json.loads(payload).get("strong_digest")
        if strong:
            found[event_id] = str(strong)
    return found


def _events(session: Session, facts: ExportFacts) -> None:
    wanted = {v.event_id for v in facts.versions.values()}
    wanted |= {c.event_id for c in facts.claims}
    wanted |= {e[3] for e in facts.edges}
    wanted |= {e for _, _, e in facts.likeness}
    wanted |= {a.event_id for a in facts.approvals} | {c.event_id for c in facts.consents}
    wanted |= {d.info.event_id for d in facts.deliverables} | {r.event_id for r in facts.refused}
    query = select(Event.id, Event.kind, Event.actor, Event.host, Event.at, Event.hash)
    for row in _typed_rows(session, query, Event.id, wanted):
        facts.events[row[0]] = EventRow(*row)


def _typed_rows(session: Session, query: Any, column: Any, ids: Iterable[int]) -> list[Any]:
    """Rows with their columns' types applied (times as aware datetimes, on every backend),
    an IN list of ids at a time: for the rows `bulk.select_in` would hand back raw."""
    found: list[Any] = []
    for chunk in chunked(sorted(set(ids))):
        found.extend(session.execute(query.where(column.in_(chunk))).all())
    return found


def approval_strong_digests(
    session: Session, version_ids: Iterable[int]
) -> dict[int, list[tuple[str, str]]]:
    """version -> (ref, strong digest) of each of its approvals for its own bytes that an
    `approve --strong` gave a collision-resistant digest (kept in the approve event)."""
    query = select(Approval.version_id, Approval.ref, Approval.event_id).join(
        AssetVersion,
        (AssetVersion.id == Approval.version_id) & (AssetVersion.digest == Approval.digest),
    )
    rows = list(
        bulk.select_in(session.connection(), query, Approval.version_id, sorted(set(version_ids)))
    )
    strong = _strong_digests(session, [event_id for _, _, event_id in rows])
    found: dict[int, list[tuple[str, str]]] = {}
    for version_id, ref, event_id in rows:
        if event_id in strong:
            found.setdefault(version_id, []).append((ref, strong[event_id]))
    return found

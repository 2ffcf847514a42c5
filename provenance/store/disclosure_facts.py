"""The facts a disclosure needs: every generated asset version still in use (its asset's latest,
or gone into a deliverable), with its tools, approvals, the assets containing it and the
deliverables it went into.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.orm import Session

from provenance.obligations import MAX_DEPTH, Judge, Source, approved, describe_path
from provenance.origins import Origin
from provenance.records import DeliveredUse, DisclosureEntry
from provenance.store import bulk
from provenance.store.ledger_facts import CONTAINS_KIND, ledger_facts
from provenance.store.models import Claim, Deliverable, DeliverableFile, LineageEdge, Tool
from provenance.store.queries import RootMap, asset_refs, tool_info
from provenance.store.status import version_statuses

__all__ = [
    "describe_source_path",
    "generative_uses",
]


def generative_uses(session: Session, roots: RootMap) -> list[DisclosureEntry]:
    """Every generated asset version that is its asset's latest or went into a deliverable:
    its tools, its approvals, the assets that contain it, and each deliverable it went into
    with the approval that covered it there."""
    connection = session.connection()
    generative_codes = [o.value for o in Origin if o.generative]
    claimed = set(
        connection.execute(
            select(Claim.version_id).where(Claim.origin.in_(generative_codes)).distinct()
        ).scalars()
    )
    delivered: dict[int, list[str]] = {}
    for name, version_id in connection.execute(
        select(Deliverable.name, DeliverableFile.version_id)
        .join(DeliverableFile, DeliverableFile.deliverable_id == Deliverable.id)
        .distinct()
        .order_by(Deliverable.name)
    ):
        delivered.setdefault(version_id, []).append(name)
    judge = Judge(ledger_facts(session, roots, claimed | delivered.keys()))
    versions = judge.ledger.versions
    uses: dict[int, list[DeliveredUse]] = {}
    for version_id, names in delivered.items():
        for source in judge.sources(version_id):
            via = versions[version_id]
            for name in names:
                uses.setdefault(source.version.id, []).append(
                    DeliveredUse(
                        deliverable=name,
                        asset=via.name,
                        version=via.number,
                        how="itself" if not source.path else describe_source_path(source),
                        covered_by=[f"{a.ref} ({a.approved_by})" for a in source.covered_by],
                    )
                )
    generated = sorted(
        v
        for v in claimed
        if v in versions
        and judge.generative(v)
        and (versions[v].number == versions[v].latest or v in uses)
    )
    if not generated:
        return []
    descendants = _contained_in(connection, generated)
    refs = asset_refs(
        session, roots, set(generated) | {d for ds in descendants.values() for d in ds}
    )
    statuses = version_statuses(connection, generated)
    tools = {
        tool.id: tool
        for tool in session.execute(
            select(Tool).where(
                Tool.id.in_(
                    {
                        c.tool_id
                        for v in generated
                        for c in versions[v].claims
                        if c.tool_id is not None
                    }
                )
            )
        ).scalars()
    }
    entries = []
    for version_id in generated:
        version = versions[version_id]
        used = [
            tools[c.tool_id]
            for c in version.claims
            if c.tool_id is not None and c.origin.generative and c.tool_id in tools
        ]
        entries.append(
            DisclosureEntry(
                asset=refs[version_id],
                origin=judge.summary(version_id).origin,
                status=statuses[version_id].value,
                tools=[tool_info(t) for t in dict.fromkeys(used)],
                approvals=[f"{a.ref} ({a.approved_by})" for a in approved(version)],
                used_in=sorted(
                    (refs[d] for d in descendants.get(version_id, set())), key=lambda r: r.name
                ),
                deliverables=uses.get(version_id, []),
            )
        )
    return sorted(entries, key=lambda e: (e.asset.name, e.asset.version))


def describe_source_path(source: Source) -> str:
    return describe_path(source.path)


_CONTAINED_IN = select(LineageEdge.parent_id, LineageEdge.child_id).where(
    LineageEdge.kind == bindparam("kind")
)


def _contained_in(connection: Connection, version_ids: Iterable[int]) -> dict[int, set[int]]:
    """Every version that contains each of these (through `contains`, transitively)."""
    found: dict[int, set[int]] = {v: set() for v in version_ids}
    frontier = {v: {v} for v in found}
    for _ in range(MAX_DEPTH):
        reach: dict[int, set[int]] = {}
        by_parent: dict[int, set[int]] = {}
        for parent, child in bulk.select_in(
            connection,
            _CONTAINED_IN,
            LineageEdge.parent_id,
            sorted({p for ps in frontier.values() for p in ps}),
            CONTAINS_KIND,
        ):
            by_parent.setdefault(parent, set()).add(child)
        for start, parents in frontier.items():
            new = {c for p in parents for c in by_parent.get(p, ())} - found[start] - {start}
            if new:
                found[start] |= new
                reach[start] = new
        if not reach:
            break
        frontier = reach
    return found

"""The rows the rules need about asset versions (`obligations.LedgerFacts`), no verdicts: the
versions asked about and every version the rules may reach through them, their claims,
approvals, likenesses, signals and tools; and what each version's claims add up to.

Every query works on batches (IN lists, in rounds over the lineage), so judging a large
delivery costs a few queries per thousand versions, not a few per version.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Connection, bindparam, func, select
from sqlalchemy.orm import Session

from provenance.detect import credentials_unreadable, metadata_unread
from provenance.obligations import (
    MAX_DEPTH,
    ApprovalRow,
    ClaimRow,
    LedgerFacts,
    SignalRow,
    ToolFacts,
    VersionFacts,
    copy_relation_of,
)
from provenance.origins import ClaimFacts, Origin, OriginSummary, summarize_claims
from provenance.records import display_path
from provenance.store import bulk
from provenance.store.models import (
    Approval,
    Asset,
    AssetVersion,
    Claim,
    Consent,
    EdgeKind,
    Likeness,
    LineageEdge,
    Member,
    SignalRecord,
    Tool,
)
from provenance.store.queries import RootMap
from provenance.store.signals import PERCEPTUAL_SOURCE, near_ai_matches

__all__ = [
    "CONTAINS_KIND",
    "ledger_facts",
    "origin_summaries",
]


# ---------------------------------------------------------------------------------------------
# The rows the rules need (`obligations.LedgerFacts`): no verdicts here


def ledger_facts(session: Session, roots: RootMap, version_ids: Iterable[int]) -> LedgerFacts:
    """The rows about these versions and every version the rules may ask about through them:
    the parents they contain (at any depth), the versions of other assets whose bytes they
    copy or derive from, and the newer versions of every parent (with theirs), in rounds of
    batched queries. Versions that hold only a few of their bytes are read shallowly (their
    claims: are they generated?), not followed."""
    connection = session.connection()
    rows: dict[int, _Row] = {}
    expanded: set[int] = set()
    parents: set[int] = set()
    deep = set(version_ids)
    shallow: set[int] = set()
    for _ in range(MAX_DEPTH + 2):
        missing = (deep | shallow) - rows.keys()
        rows.update(_version_rows(connection, roots, missing))
        expand = {v for v in deep - expanded if v in rows}
        if not expand:
            break
        expanded |= expand
        contained = _contains(connection, expand)
        shared = _shared(connection, expand)
        deep = set()
        shallow = set()
        for version_id in expand:
            row = rows[version_id]
            row.linked_at = tuple(sorted(contained.get(version_id, {}).items()))
            row.contains = tuple(parent for parent, _ in row.linked_at)
            row.shared = tuple(sorted(shared.get(version_id, {}).items()))
            deep.update(row.contains)
            for other, count in row.shared:
                if copy_relation_of(row.members, count) is None:
                    shallow.add(other)
                else:
                    deep.add(other)
            parents.update(row.contains)
        rows.update(_version_rows(connection, roots, (deep | shallow) - rows.keys()))
        stale = [p for p in parents if p in rows and not rows[p].newer and rows[p].behind]
        deep |= _newer_versions(connection, rows, stale)
    ids = list(rows)
    claims = _claim_rows(connection, ids)
    approvals = _approval_rows(connection, ids)
    likeness = _likeness_rows(connection, ids)
    signals = _signal_rows(connection, ids)
    tool_ids = {c.tool_id for cs in claims.values() for c in cs if c.tool_id is not None}
    versions = {
        version_id: VersionFacts(
            id=version_id,
            asset_id=row.asset_id,
            name=row.name,
            number=row.number,
            latest=row.latest,
            digest=row.digest,
            members=row.members,
            claims=tuple(claims.get(version_id, ())),
            approvals=tuple(approvals.get(version_id, ())),
            likeness=tuple(likeness.get(version_id, ())),
            contains=tuple(p for p in row.contains if p in rows),
            linked_at=row.linked_at,
            recorded_at=row.recorded_at,
            newer=tuple(n for n in row.newer if n in rows),
            shared=tuple((o, c) for o, c in row.shared if o in rows),
            signals=tuple(signals.get(version_id, ())),
        )
        for version_id, row in rows.items()
    }
    return LedgerFacts(
        versions,
        _tools(connection, tool_ids),
        frozenset(connection.execute(select(Consent.performer_key).distinct()).scalars()),
    )


@dataclass
class _Row:
    asset_id: int
    name: str
    number: int
    latest: int
    digest: str
    members: int
    recorded_at: int
    contains: tuple[int, ...] = ()
    linked_at: tuple[tuple[int, int], ...] = ()
    shared: tuple[tuple[int, int], ...] = ()
    newer: tuple[int, ...] = ()

    @property
    def behind(self) -> bool:
        return self.number < self.latest


_VERSION_ROWS = select(
    AssetVersion.id,
    Asset.id,
    Asset.root_id,
    Asset.pattern,
    AssetVersion.number,
    Asset.latest_version,
    AssetVersion.digest,
    AssetVersion.member_count,
    AssetVersion.event_id,
).join(Asset, Asset.id == AssetVersion.asset_id)


def _version_rows(connection: Connection, roots: RootMap, ids: Iterable[int]) -> dict[int, _Row]:
    return {
        version_id: _Row(
            asset_id,
            display_path(roots.join(root_id, pattern)),
            number,
            latest,
            digest,
            members,
            recorded_at,
        )
        for version_id, asset_id, root_id, pattern, number, latest, digest, members, recorded_at in (
            bulk.select_in(connection, _VERSION_ROWS, AssetVersion.id, sorted(ids))
        )
    }


_CONTAINS = select(LineageEdge.child_id, LineageEdge.parent_id, LineageEdge.event_id).where(
    LineageEdge.kind == bindparam("kind")
)
CONTAINS_KIND = {"kind": EdgeKind.CONTAINS.value}


def _contains(connection: Connection, ids: Iterable[int]) -> dict[int, dict[int, int]]:
    """child -> {parent: the (first) event that recorded the edge}."""
    found: dict[int, dict[int, int]] = {}
    for child, parent, event_id in bulk.select_in(
        connection, _CONTAINS, LineageEdge.child_id, sorted(ids), CONTAINS_KIND
    ):
        edges = found.setdefault(child, {})
        edges[parent] = min(event_id, edges.get(parent, event_id))
    return found


_mine = bulk.table_of(Member).alias("mine")
_theirs = bulk.table_of(Member).alias("theirs")
_my_version = bulk.table_of(AssetVersion).alias("my_version")
_their_version = bulk.table_of(AssetVersion).alias("their_version")
# For each version, the versions of *other* assets holding any of its members' bytes, and how
# many of its members: identical bytes are one content, whatever the path.
_SHARED = (
    select(_mine.c.version_id, _theirs.c.version_id, func.count(_mine.c.position.distinct()))
    .select_from(_mine)
    .join(_theirs, _theirs.c.content_id == _mine.c.content_id)
    .join(_my_version, _my_version.c.id == _mine.c.version_id)
    .join(_their_version, _their_version.c.id == _theirs.c.version_id)
    .where(_their_version.c.asset_id != _my_version.c.asset_id)
    .group_by(_mine.c.version_id, _theirs.c.version_id)
)


def _shared(connection: Connection, ids: Iterable[int]) -> dict[int, dict[int, int]]:
    found: dict[int, dict[int, int]] = {}
    for mine, theirs, count in bulk.select_in(connection, _SHARED, _mine.c.version_id, sorted(ids)):
        found.setdefault(mine, {})[theirs] = count
    return found


_NEWER = select(AssetVersion.asset_id, AssetVersion.id, AssetVersion.number)


def _newer_versions(connection: Connection, rows: dict[int, _Row], stale: list[int]) -> set[int]:
    """Set `newer` on these parents (not their asset's latest), and return those versions."""
    if not stale:
        return set()
    by_asset: dict[int, list[tuple[int, int]]] = {}
    for asset_id, version_id, number in bulk.select_in(
        connection, _NEWER, AssetVersion.asset_id, sorted({rows[p].asset_id for p in stale})
    ):
        by_asset.setdefault(asset_id, []).append((number, version_id))
    found: set[int] = set()
    for parent in stale:
        row = rows[parent]
        row.newer = tuple(v for n, v in sorted(by_asset.get(row.asset_id, [])) if n > row.number)
        found.update(row.newer)
    return found


def origin_summaries(session: Session, version_ids: Iterable[int]) -> dict[int, OriginSummary]:
    """What each version's claims add up to (for reports; the gate asks `obligations.Judge`)."""
    ids = sorted(set(version_ids))
    claims = _claim_rows(session.connection(), ids)
    return {
        v: summarize_claims([ClaimFacts(c.origin, c.resolves) for c in claims.get(v, [])])
        for v in ids
    }


_T = TypeVar("_T")


def _by_version(
    connection: Connection,
    query: Any,
    column: Any,
    ids: Iterable[int],
    make: Callable[[Sequence[Any]], _T | None],
) -> dict[int, list[_T]]:
    """version id -> `make(rest of the row)` for each row of `query` (whose first column is the
    version id), in the query's order; a row `make` turns into None is left out."""
    found: dict[int, list[_T]] = {}
    rows: Iterable[Sequence[Any]] = bulk.select_in(connection, query, column, sorted(ids))
    for row in rows:
        item = make(row[1:])
        if item is not None:
            found.setdefault(int(row[0]), []).append(item)
    return found


_CLAIM_ROWS = select(
    Claim.version_id,
    Claim.origin,
    Claim.resolves,
    Claim.evidence,
    Claim.tool_id,
    Claim.event_id,
    Claim.detail,
    Claim.claimed_by,
).order_by(Claim.id)


def _claim_rows(connection: Connection, ids: list[int]) -> dict[int, list[ClaimRow]]:
    found = _by_version(
        connection,
        _CLAIM_ROWS,
        Claim.version_id,
        ids,
        lambda r: ClaimRow(Origin(r[0]), bool(r[1]), r[2], r[3], r[4], r[5] or r[6]),
    )
    for claims in found.values():
        claims.sort(key=lambda c: c.event_id)  # (oldest first, whatever order the chunks came in)
    return found


_APPROVAL_ROWS = select(
    Approval.version_id,
    Approval.ref,
    Approval.digest,
    Approval.covers_tool_risk,
    Approval.approved_by,
).order_by(Approval.id)


def _approval_rows(connection: Connection, ids: list[int]) -> dict[int, list[ApprovalRow]]:
    return _by_version(
        connection,
        _APPROVAL_ROWS,
        Approval.version_id,
        ids,
        lambda r: ApprovalRow(r[0], r[1], bool(r[2]), r[3]),
    )


def _likeness_rows(connection: Connection, ids: list[int]) -> dict[int, list[str]]:
    return _by_version(
        connection,
        select(Likeness.version_id, Likeness.performer),
        Likeness.version_id,
        ids,
        lambda r: str(r[0]),
    )


_SIGNAL_ROWS = select(
    SignalRecord.version_id,
    SignalRecord.event_id,
    SignalRecord.source,
    SignalRecord.summary,
    SignalRecord.detail,
).order_by(SignalRecord.id)


def _signal_rows(connection: Connection, ids: list[int]) -> dict[int, list[SignalRow]]:
    """The signals that matter to the gate: perceptual matches, credentials that could not be
    read, metadata too large to read."""

    def make(row: Sequence[Any]) -> SignalRow | None:
        event_id, source, summary, detail = row
        fields = json.loads(detail) if detail else {}
        unreadable = credentials_unreadable(fields)
        unread = metadata_unread(fields)
        near_ai = source == PERCEPTUAL_SOURCE
        if not (near_ai or unreadable or unread):
            return None
        matches = tuple(near_ai_matches(fields)) if near_ai else ()
        return SignalRow(event_id, summary, near_ai, unreadable, matches, unread)

    return _by_version(connection, _SIGNAL_ROWS, SignalRecord.version_id, ids, make)


def _tools(connection: Connection, tool_ids: Iterable[int]) -> dict[int, ToolFacts]:
    query = select(Tool.id, Tool.name, Tool.generative, Tool.trains_on_inputs, Tool.secured)
    return {
        tool_id: ToolFacts(name, bool(generative), trains, secured)
        for tool_id, name, generative, trains, secured in bulk.select_in(
            connection, query, Tool.id, sorted(set(tool_ids))
        )
    }

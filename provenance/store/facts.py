"""Resolving delivered files against the ledger and gathering the facts the policy needs.

Every query works on batches (IN lists, one recursive CTE for all ancestors), so a sweep of
a large delivery costs a few queries per thousand files, not a few per file.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import Connection, bindparam, func, select
from sqlalchemy.orm import Session

from provenance.detect import credentials_unreadable, metadata_unread
from provenance.obligations import (
    MAX_DEPTH,
    ApprovalRow,
    ClaimRow,
    Judge,
    LedgerFacts,
    SignalRow,
    Source,
    ToolFacts,
    VersionFacts,
    approved,
    copy_relation_of,
    describe_path,
)
from provenance.origins import ClaimFacts, Origin, OriginSummary, summarize_claims
from provenance.records import DeliveredUse, DisclosureEntry, display_path
from provenance.resolution import FileFacts, pick_by_context
from provenance.scan import FRAME_NAME, UDIM_TOKEN
from provenance.store import bulk, queries
from provenance.store.models import (
    Approval,
    Asset,
    AssetVersion,
    Claim,
    Consent,
    Content,
    Deliverable,
    DeliverableFile,
    EdgeKind,
    Likeness,
    LineageEdge,
    Member,
    SignalRecord,
    Tool,
)
from provenance.store.queries import RootMap, asset_refs, folder_bounds, tool_info
from provenance.store.signals import PERCEPTUAL_SOURCE, near_ai_matches
from provenance.store.status import version_statuses

__all__ = [
    "Delivered",
    "Resolution",
    "copied_versions",
    "file_facts",
    "generative_uses",
    "highest_version_id",
    "latest_in_folder",
    "ledger_facts",
    "origin_summaries",
    "resolve_delivered",
]


class Delivered(NamedTuple):
    path: bytes
    digest: str
    frame: int | None = None
    """Its frame (or tile) in the sequence it was delivered in, if any."""


class Resolution(NamedTuple):
    """Which asset version a delivered file is, and how that was decided."""

    version_id: int | None
    frame: int | None = None
    recorded_digest: str | None = None
    """The bytes recorded at its place in `version_id`, when they are not its bytes."""
    changed: bool = False
    """It stands where `version_id` has other bytes (`recorded_digest`), or none (a frame the
    version does not have): a changed or re-rendered member."""
    holders: tuple[int, ...] = ()
    """When several assets hold its bytes and nothing picked one: a version of each."""

    @property
    def recorded_as(self) -> int | None:
        """The version a finalized deliverable records it as: its own, or the first-recorded
        of the assets that hold its bytes (it answered to each of them)."""
        if self.version_id is not None:
            return self.version_id
        return min(self.holders) if self.holders else None


def _candidate_names(name: bytes) -> list[tuple[bytes, int | None]]:
    """Asset names a file could be a member of, in its folder: itself, or a frame of a
    sequence or UDIM set."""
    candidates: list[tuple[bytes, int | None]] = [(name, None)]
    match = FRAME_NAME.match(name)
    if match is not None:
        digits = match.group("frame")
        head, tail = match.group("head"), match.group("tail")
        frame = int(digits)
        candidates.append((head + b"#" * len(digits) + tail, frame))
        if not digits.startswith(b"0") and len(digits) > 1:
            candidates.append((head + b"#" + tail, frame))
        candidates.append((head + UDIM_TOKEN + tail, frame))
    return candidates


# Folders with at least this many delivered files have their assets read with one range query;
# the others have their candidate patterns looked up by name.
_RANGE_MIN_FILES = 32


def _assets_by_path(
    session: Session, roots: RootMap, files: Sequence[Delivered]
) -> dict[int, tuple[int, int | None]]:
    """file index -> (latest version, frame) of the recorded asset its path names, if any."""
    by_folder: dict[bytes, list[tuple[int, bytes]]] = {}
    for index, item in enumerate(files):
        folder, _, name = item.path.rpartition(b"/")
        by_folder.setdefault(folder, []).append((index, name))
    connection = session.connection()
    found: dict[int, tuple[int, int | None]] = {}
    by_name: list[tuple[int, bytes, list[tuple[int, tuple[bytes, int | None]]]]] = []
    for folder, members in by_folder.items():
        root_id, prefix = roots.split_folder(folder)
        # (A folder at the top of a root has no range of its own: it is looked up by name.)
        if len(members) >= _RANGE_MIN_FILES and prefix:
            names = latest_in_folder(connection, root_id, prefix)
            if not names:
                continue  # a folder the ledger holds no asset in (a copy): by content only
            for index, name in members:
                for candidate, frame in _candidate_names(name):
                    version_id = names.get(candidate)
                    if version_id is not None:
                        found[index] = (version_id, frame)
                        break
        else:
            by_name.append(
                (root_id, prefix, [(i, c) for i, name in members for c in _candidate_names(name)])
            )
    wanted: dict[int, set[bytes]] = {}
    for root_id, prefix, candidates in by_name:
        wanted.setdefault(root_id, set()).update(prefix + name for _, (name, _) in candidates)
    latest: dict[tuple[int, bytes], int] = {}
    for root_id, patterns in wanted.items():
        for pattern, version_id in bulk.select_in(
            connection, _LATEST, Asset.pattern, sorted(patterns), {"root": root_id}
        ):
            latest[(root_id, pattern)] = version_id
    for root_id, prefix, candidates in by_name:
        for index, (name, frame) in candidates:
            if index in found:
                continue  # the first candidate that names a recorded asset wins
            version_id = latest.get((root_id, prefix + name))
            if version_id is not None:
                found[index] = (version_id, frame)
    return found


_LATEST = (
    select(Asset.pattern, AssetVersion.id)
    .join(
        AssetVersion,
        (AssetVersion.asset_id == Asset.id) & (AssetVersion.number == Asset.latest_version),
    )
    .where(Asset.root_id == bindparam("root"))
)
_LATEST_IN_FOLDER = (
    select(Asset.pattern, AssetVersion.id)
    .join(
        AssetVersion,
        (AssetVersion.asset_id == Asset.id) & (AssetVersion.number == Asset.latest_version),
    )
    .where(
        Asset.root_id == bindparam("root"),
        Asset.pattern >= bindparam("low"),
        Asset.pattern < bindparam("high"),
    )
)


def latest_in_folder(connection: Connection, root_id: int, prefix: bytes) -> dict[bytes, int]:
    """name -> latest version, for the assets directly in a folder (`prefix`, relative to the
    root, ends in `/`)."""
    low, high = folder_bounds(prefix)
    rows = connection.execute(_LATEST_IN_FOLDER, {"root": root_id, "low": low, "high": high}).all()
    cut = len(prefix)
    return {pattern[cut:]: version_id for pattern, version_id in rows if b"/" not in pattern[cut:]}


def resolve_delivered(
    session: Session,
    roots: RootMap,
    files: Sequence[Delivered],
    contents: dict[str, int] | None = None,
    delivered_assets: Sequence[range] = (),
    copies: list[range] | None = None,
    spans: Sequence[range] = (),
) -> list[Resolution]:
    """Resolve each file by its path first (is it a member of a recorded asset?), then by its
    content, then by its context (`resolution.pick_by_context`).

    `delivered_assets` are where the delivered assets all of whose files were read lie in
    `files`: one that no path resolves and that is an exact copy of a recorded asset is
    resolved whole (see `_whole_copies`). `spans` are where every delivered asset of several
    files lies: the context of its frames.

    `contents`, when given, receives the id of every content looked up by its digest (so that
    a stat-cache refresh after the check need not look them up again); `copies` receives the
    delivered assets resolved whole."""
    by_path = _assets_by_path(session, roots, files)
    member_digests = _member_digests(session, {v for v, _ in by_path.values()})
    whole = _whole_copies(
        session,
        files,
        [span for span in delivered_assets if not any(index in by_path for index in span)],
        contents,
        copies,
    )
    results, by_content, standalone = _resolve_by_path(files, by_path, member_digests, whole)
    candidates: dict[int, dict[int, tuple[int, int | None]]] = {}
    if by_content:
        holders = _every_version_holding(session, {files[i].digest for i in by_content}, contents)
        votes = _votes(files, by_content, holders, spans)
        for index in by_content:
            found = _newest_holders(files[index], holders, votes.get(index))
            if len(found) == 1:
                results[index] = Resolution(*next(iter(found.values())))
            elif found:
                candidates[index] = found
    # (A frame recorded on its own does not speak for its sequence.)
    alone = [
        None if result is None or index in standalone else result.version_id
        for index, result in enumerate(results)
    ]
    picks = pick_by_context(alone, spans)
    contexts = set(picks.values())
    context_members = _member_digests(session, contexts)
    context_assets = _asset_of(session, contexts)
    for index, item in enumerate(files):
        context = picks.get(index)
        several = candidates.get(index)
        if several is not None:
            asset = context_assets.get(context) if context is not None else None
            chosen = several.get(asset) if asset is not None else None
            if chosen is not None and chosen[1] == item.frame:
                results[index] = Resolution(*chosen)  # the frame its sequence says it is
            else:
                results[index] = Resolution(None, holders=tuple(v for v, _ in several.values()))
            continue
        current = results[index]
        unresolved = current is None
        moved = index in standalone and current is not None and current.version_id != context
        if context is not None and item.frame is not None and (unresolved or moved):
            # A frame its sequence's other frames say belongs to a recorded asset: its member
            # (a frame also recorded on its own), or, with other bytes (a re-render) or none, a
            # changed member of that asset, not a new file.
            recorded = context_members.get((context, item.frame))
            if recorded == item.digest:
                results[index] = Resolution(context, item.frame)
            else:
                results[index] = Resolution(context, item.frame, recorded, changed=True)
    return [r if r is not None else Resolution(None) for r in results]


def _resolve_by_path(
    files: Sequence[Delivered],
    by_path: dict[int, tuple[int, int | None]],
    member_digests: dict[tuple[int, int | None], str],
    whole: dict[int, Resolution],
) -> tuple[list[Resolution | None], list[int], set[int]]:
    """Each file a recorded asset has at its path (as recorded, or changed), or that is part of
    a whole copy; the indexes of the others, left to be looked up by their content; and the
    indexes of the frames of a delivered sequence that are recorded on their own."""
    results: list[Resolution | None] = [None] * len(files)
    by_content: list[int] = []
    standalone: set[int] = set()
    for index, item in enumerate(files):
        hit = by_path.get(index)
        if hit is None:
            copied = whole.get(index)
            if copied is None:
                by_content.append(index)
            else:
                results[index] = copied
            continue
        version_id, frame = hit
        if frame is None and item.frame is not None:
            standalone.add(index)  # a frame of a delivered sequence, recorded on its own
        recorded = member_digests.get((version_id, frame))
        if recorded is None:
            by_content.append(index)  # a frame the recorded version does not have
        elif recorded == item.digest:
            results[index] = Resolution(version_id, frame)
        else:
            results[index] = Resolution(version_id, frame, recorded, changed=True)
    return results, by_content, standalone


def _votes(
    files: Sequence[Delivered],
    indexes: Iterable[int],
    holders: dict[str, list[tuple[int, int | None, int, int]]],
    spans: Sequence[range],
) -> dict[int, Counter[int]]:
    """file index -> how many files of its delivered sequence each version holds: a copy of an
    older version is that version, though most of its frames are in the newer one too."""
    span_of = {index: number for number, span in enumerate(spans) for index in span}
    by_span: dict[int, Counter[int]] = {}
    for index in indexes:
        number = span_of.get(index)
        if number is not None:
            held = {v for v, _, _, _ in holders.get(files[index].digest, [])}
            by_span.setdefault(number, Counter()).update(held)
    return {i: by_span[span_of[i]] for i in indexes if span_of.get(i) in by_span}


def _newest_holders(
    item: Delivered,
    holders: dict[str, list[tuple[int, int | None, int, int]]],
    votes: Counter[int] | None,
) -> dict[int, tuple[int, int | None]]:
    """asset -> (version, frame): for each asset holding the file's bytes, the version its
    sequence holds most of (else the newest), at the file's own frame if it is there (a hold
    repeats a frame's bytes)."""
    best: dict[int, tuple[tuple[int, int, bool], int, int | None]] = {}
    for version_id, frame, asset_id, number in holders.get(item.digest, []):
        rank = (votes[version_id] if votes else 0, number, frame == item.frame)
        held = best.get(asset_id)
        if held is None or rank > held[0]:
            best[asset_id] = (rank, version_id, frame)
    return {asset: (version_id, frame) for asset, (_, version_id, frame) in best.items()}


def _asset_of(session: Session, version_ids: Iterable[int]) -> dict[int, int]:
    return dict(
        bulk.select_in(
            session.connection(),
            select(AssetVersion.id, AssetVersion.asset_id),
            AssetVersion.id,
            sorted(version_ids),
        )
    )


def _whole_copies(
    session: Session,
    files: Sequence[Delivered],
    assets: Sequence[range],
    contents: dict[str, int] | None,
    copies: list[range] | None = None,
) -> dict[int, Resolution]:
    """file index -> its resolution, for the delivered assets that are exact copies of one
    recorded asset's latest version: the same digests at the same frames (its digest).

    The same answer as resolving each file by its content, in two queries a batch instead of a
    lookup a file: a copy is resolved whole only when no other asset's latest version holds any
    of its bytes, and so each of its files would have had that one holder. Otherwise (a black
    frame that an AI element holds too, or the same sequence recorded twice) its files are left
    to the content lookup, which explains any disagreement.
    """
    from provenance.fingerprint import aggregate_digest  # (its worker pools: not for reading)

    by_digest: dict[str, list[range]] = {}
    for span in assets:
        digest = aggregate_digest((files[i].frame, files[i].digest) for i in span)
        by_digest.setdefault(digest, []).append(span)
    resolved: dict[int, Resolution] = {}
    connection = session.connection()
    copied = copied_versions(connection, by_digest)
    members = _member_contents(connection, [version_id for version_id, _ in copied.values()])
    for digest, (version_id, _count) in copied.items():
        content_ids = members.get(version_id, [])
        for span in by_digest[digest]:
            if len(span) != len(content_ids):
                continue  # (only if two member lists shared a 128-bit digest)
            if copies is not None:
                copies.append(span)
            for index, content_id in zip(span, content_ids, strict=True):
                resolved[index] = Resolution(version_id, files[index].frame)
                if contents is not None:
                    contents[files[index].digest] = content_id
    return resolved


def highest_version_id(session: Session) -> int:
    """The highest asset version id recorded (0 for none): what a seal of copies is as of."""
    return session.scalar(select(func.max(AssetVersion.id))) or 0


def copied_versions(connection: Connection, digests: Iterable[str]) -> dict[str, tuple[int, int]]:
    """Of these asset digests, the ones that name exactly one recorded asset's latest version
    none of whose bytes another asset's latest version holds: digest -> (that version, its
    member count). A delivered asset with such a digest is a copy of it.

    Exact (it reads the members, not a flag any writer could set): the versions whose bytes
    another asset holds are found in one join that returns only them, not a row a member."""
    wanted = list(digests)
    if not wanted:
        return {}
    holders: dict[str, list[tuple[int, int]]] = {}
    for digest, version_id, count in bulk.select_in(
        connection, _LATEST_BY_DIGEST, AssetVersion.digest, wanted
    ):
        holders.setdefault(digest, []).append((version_id, count))
    sole = {
        found[0][0]: (digest, found[0][1]) for digest, found in holders.items() if len(found) == 1
    }
    shared = {
        version_id
        for (version_id,) in bulk.select_in(
            connection, _HELD_ELSEWHERE, _held.c.version_id, sorted(sole)
        )
    }
    return {
        digest: (version_id, count)
        for version_id, (digest, count) in sole.items()
        if version_id not in shared
    }


def _member_contents(connection: Connection, version_ids: Iterable[int]) -> dict[int, list[int]]:
    """version -> its members' content ids, in order."""
    found: dict[int, list[int]] = {}
    for version_id, content_id in bulk.select_in(
        connection, _MEMBER_CONTENTS, Member.version_id, sorted(version_ids)
    ):
        found.setdefault(version_id, []).append(content_id)
    return found


_LATEST_BY_DIGEST = (
    select(AssetVersion.digest, AssetVersion.id, AssetVersion.member_count)
    .join(Asset, Asset.id == AssetVersion.asset_id)
    .where(AssetVersion.number == Asset.latest_version)
)
_held = bulk.table_of(Member).alias("held")
_other = bulk.table_of(Member).alias("other_member")
_other_version = bulk.table_of(AssetVersion).alias("other_version")
_other_asset = bulk.table_of(Asset).alias("other_asset")
# The versions of these whose bytes (any member's content) the latest version of another asset
# holds. (An older version of the same asset, or the same bytes at two frames of this version,
# does not count.)
_HELD_ELSEWHERE = (
    select(_held.c.version_id)
    .distinct()
    .select_from(_held)
    .join(
        _other,
        (_other.c.content_id == _held.c.content_id) & (_other.c.version_id != _held.c.version_id),
    )
    .join(_other_version, _other_version.c.id == _other.c.version_id)
    .join(
        _other_asset,
        (_other_asset.c.id == _other_version.c.asset_id)
        & (_other_version.c.number == _other_asset.c.latest_version),
    )
)
_MEMBER_CONTENTS = select(Member.version_id, Member.content_id).order_by(
    Member.version_id, Member.position
)


def _member_digests(
    session: Session, version_ids: Iterable[int]
) -> dict[tuple[int, int | None], str]:
    found: dict[tuple[int, int | None], str] = {}
    for chunk in queries.chunked(sorted(version_ids)):
        for version_id, frame, digest in session.execute(
            select(Member.version_id, Member.frame, Content.digest)
            .join(Content, Content.id == Member.content_id)
            .where(Member.version_id.in_(chunk))
        ):
            found[(version_id, frame)] = digest
    return found


def _every_version_holding(
    session: Session, digests: Iterable[str], contents: dict[str, int] | None = None
) -> dict[str, list[tuple[int, int | None, int, int]]]:
    """(version, frame, asset, version number) of every recorded version holding each digest
    as a member, old versions too (a cold sweep asks this of every file it delivers: plain
    rows, not ORM ones); the content ids go to `contents`."""
    found: dict[str, list[tuple[int, int | None, int, int]]] = {}
    content_ids: dict[str, int] = {} if contents is None else contents
    for digest, content_id, version_id, frame, asset_id, number in bulk.select_in(
        session.connection(), _HOLDERS, Content.digest, sorted(digests)
    ):
        found.setdefault(digest, []).append((version_id, frame, asset_id, number))
        content_ids[digest] = content_id
    return found


_HOLDERS = (
    select(
        Content.digest,
        Content.id,
        AssetVersion.id,
        Member.frame,
        AssetVersion.asset_id,
        AssetVersion.number,
    )
    .join(Member, Member.content_id == Content.id)
    .join(AssetVersion, AssetVersion.id == Member.version_id)
    .order_by(AssetVersion.id)
)


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
_CONTAINS_KIND = {"kind": EdgeKind.CONTAINS.value}


def _contains(connection: Connection, ids: Iterable[int]) -> dict[int, dict[int, int]]:
    """child -> {parent: the (first) event that recorded the edge}."""
    found: dict[int, dict[int, int]] = {}
    for child, parent, event_id in bulk.select_in(
        connection, _CONTAINS, LineageEdge.child_id, sorted(ids), _CONTAINS_KIND
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


def file_facts(files: Sequence[Delivered], resolutions: Sequence[Resolution]) -> list[FileFacts]:
    return [
        FileFacts(
            display_path(item.path),
            item.digest,
            version=resolution.version_id,
            frame=resolution.frame,
            changed=resolution.changed,
            recorded_digest=resolution.recorded_digest,
            holders=resolution.holders,
        )
        for item, resolution in zip(files, resolutions, strict=True)
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
            _CONTAINS_KIND,
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

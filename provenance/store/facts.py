"""Resolving delivered files against the ledger and gathering the facts the policy needs.

Every query works on batches (IN lists, one recursive CTE for all ancestors), so a sweep of
a large delivery costs a few queries per thousand files, not a few per file.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy import Connection, bindparam, func, literal, literal_column, select
from sqlalchemy.orm import Session

from provenance.fingerprint import aggregate_digest
from provenance.origins import ClaimFacts, Evidence, Origin, OriginSummary, summarize_claims
from provenance.policy import AssetFacts, FileFacts, GenerativeSource, ToolFacts
from provenance.records import DisclosureEntry, SignalInfo, display_path
from provenance.scan import FRAME_NAME, UDIM_TOKEN
from provenance.store import bulk
from provenance.store.models import (
    Approval,
    Asset,
    AssetVersion,
    Claim,
    Consent,
    Content,
    EdgeKind,
    Likeness,
    LineageEdge,
    Member,
    Tool,
)
from provenance.store.queries import RootMap, asset_refs, chunked, folder_bounds, tool_info
from provenance.store.signals import PERCEPTUAL_SOURCE, signals_by_version
from provenance.store.status import version_statuses

MAX_ANCESTRY = 100


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
    ambiguous: tuple[tuple[int, Origin, bool], ...] = ()
    """(version, origin, contains generated material) of each asset holding the bytes."""


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
) -> list[Resolution]:
    """Resolve each file by its path first (is it a member of a recorded asset?), then by content.

    `delivered_assets` groups the files as they were delivered: where each asset lies in
    `files`. One that no path resolves and that is an exact copy of a recorded asset is
    resolved whole (see `_whole_copies`).

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
    results: list[Resolution | None] = [None] * len(files)
    by_content: list[int] = []
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
        recorded = member_digests.get((version_id, frame))
        if recorded is None:
            by_content.append(index)  # a frame the recorded version does not have
        elif recorded == item.digest:
            results[index] = Resolution(version_id, frame)
        else:
            results[index] = Resolution(version_id, frame, recorded_digest=recorded)
    if by_content:
        holders = _versions_holding(session, {files[i].digest for i in by_content}, contents)
        candidates_ids = {v for vs in holders.values() for v, _ in vs}
        summaries = origin_summaries(session, candidates_ids)
        # Two assets holding the same bytes agree only if they agree on origin *and* on
        # whether they contain generated material through their lineage.
        ancestry = contains_ancestors(session, candidates_ids)
        ancestors = {a for found in ancestry.values() for a in found}
        ancestor_summaries = origin_summaries(session, ancestors)
        contains_ai = {
            v: any(ancestor_summaries[a].generative for a in ancestry.get(v, set()))
            for v in candidates_ids
        }
        for index in by_content:
            found = holders.get(files[index].digest, [])
            assets: dict[int, tuple[int, int | None]] = {}
            own_frame = files[index].frame
            for version_id, frame in found:
                # A version may hold the bytes at several frames (a hold): the file is the one
                # at its own frame number, if the version has the bytes there.
                if version_id not in assets or frame == own_frame:
                    assets[version_id] = (version_id, frame)
            if not assets:
                results[index] = Resolution(None)
                continue
            kinds = {(summaries[v].origin.category, contains_ai[v]) for v in assets}
            if len(kinds) > 1:
                results[index] = Resolution(
                    None,
                    ambiguous=tuple(
                        (v, summaries[v].origin, contains_ai[v]) for v in sorted(assets)
                    ),
                )
                continue
            version_id, frame = assets[min(assets)]
            results[index] = Resolution(version_id, frame)
    return [r if r is not None else Resolution(None) for r in results]


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
    by_digest: dict[str, list[range]] = {}
    for span in assets:
        digest = aggregate_digest((files[i].frame, files[i].digest) for i in span)
        by_digest.setdefault(digest, []).append(span)
    resolved: dict[int, Resolution] = {}
    for digest, (version_id, content_ids) in copied_versions(
        session.connection(), by_digest
    ).items():
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


def latest_version_id(session: Session) -> int:
    """The highest asset version id recorded (0 for none): what a seal of copies is as of."""
    return session.scalar(select(func.max(AssetVersion.id))) or 0


def copied_versions(
    connection: Connection, digests: Iterable[str]
) -> dict[str, tuple[int, list[int]]]:
    """Of these asset digests, the ones that name exactly one recorded asset's latest version
    none of whose bytes another asset's latest version holds: digest -> (that version, its
    members' content ids in order). A delivered asset with such a digest is a copy of it."""
    wanted = list(digests)
    if not wanted:
        return {}
    holders: dict[str, list[int]] = {}
    for digest, version_id in bulk.select_in(
        connection, _LATEST_BY_DIGEST, AssetVersion.digest, wanted
    ):
        holders.setdefault(digest, []).append(version_id)
    sole = {found[0]: digest for digest, found in holders.items() if len(found) == 1}
    recorded: dict[int, list[int]] = {}
    shared: set[int] = set()
    for version_id, content_id, held_elsewhere in bulk.select_in(
        connection, _MEMBERS_HELD, Member.version_id, sorted(sole)
    ):
        recorded.setdefault(version_id, []).append(content_id)
        if held_elsewhere:
            shared.add(version_id)
    return {
        digest: (version_id, recorded.get(version_id, []))
        for version_id, digest in sole.items()
        if version_id not in shared
    }


_LATEST_BY_DIGEST = (
    select(AssetVersion.digest, AssetVersion.id)
    .join(Asset, Asset.id == AssetVersion.asset_id)
    .where(AssetVersion.number == Asset.latest_version)
)
_other = bulk.table_of(Member).alias("other_member")
_other_version = bulk.table_of(AssetVersion).alias("other_version")
_other_asset = bulk.table_of(Asset).alias("other_asset")
# Does the latest version of another asset hold this member's content? (An older version of the
# same asset, or the same bytes at two frames of this version, does not count.)
_HELD_ELSEWHERE = (
    select(literal_column("1"))
    .select_from(_other)
    .join(_other_version, _other_version.c.id == _other.c.version_id)
    .join(_other_asset, _other_asset.c.id == _other_version.c.asset_id)
    .where(
        _other.c.content_id == Member.content_id,
        _other.c.version_id != Member.version_id,
        _other_version.c.number == _other_asset.c.latest_version,
    )
    .exists()
)
_MEMBERS_HELD = select(Member.version_id, Member.content_id, _HELD_ELSEWHERE).order_by(
    Member.version_id, Member.position
)


def _member_digests(
    session: Session, version_ids: Iterable[int]
) -> dict[tuple[int, int | None], str]:
    found: dict[tuple[int, int | None], str] = {}
    for chunk in chunked(sorted(version_ids)):
        for version_id, frame, digest in session.execute(
            select(Member.version_id, Member.frame, Content.digest)
            .join(Content, Content.id == Member.content_id)
            .where(Member.version_id.in_(chunk))
        ):
            found[(version_id, frame)] = digest
    return found


def _versions_holding(
    session: Session, digests: Iterable[str], contents: dict[str, int] | None = None
) -> dict[str, list[tuple[int, int | None]]]:
    """Latest versions of assets that hold each digest as a member (a cold sweep asks this of
    every file it delivers: plain rows, not ORM ones); the content ids go to `contents`."""
    found: dict[str, list[tuple[int, int | None]]] = {}
    content_ids: dict[str, int] = {} if contents is None else contents
    for digest, content_id, version_id, frame in bulk.select_in(
        session.connection(), _HOLDERS, Content.digest, sorted(digests)
    ):
        found.setdefault(digest, []).append((version_id, frame))
        content_ids[digest] = content_id
    return found


_HOLDERS = (
    select(Content.digest, Content.id, AssetVersion.id, Member.frame)
    .join(Member, Member.content_id == Content.id)
    .join(AssetVersion, AssetVersion.id == Member.version_id)
    .join(Asset, Asset.id == AssetVersion.asset_id)
    .where(AssetVersion.number == Asset.latest_version)
    .order_by(AssetVersion.id)
)


# ---------------------------------------------------------------------------------------------


def _claims_by_version(session: Session, version_ids: Iterable[int]) -> dict[int, list[Claim]]:
    claims: dict[int, list[Claim]] = {}
    for chunk in chunked(sorted(set(version_ids))):
        for claim in session.execute(
            select(Claim).where(Claim.version_id.in_(chunk)).order_by(Claim.id)
        ).scalars():
            claims.setdefault(claim.version_id, []).append(claim)
    return claims


def origin_summaries(session: Session, version_ids: Iterable[int]) -> dict[int, OriginSummary]:
    ids = set(version_ids)
    claims = _claims_by_version(session, ids)
    return {
        v: summarize_claims([ClaimFacts(Origin(c.origin), c.resolves) for c in claims.get(v, [])])
        for v in ids
    }


def contains_ancestors(session: Session, version_ids: Iterable[int]) -> dict[int, set[int]]:
    """For each version, every version it contains material from (through `contains`, transitively)."""
    return _contains_closure(session, version_ids, up=True)


def _contains_closure(
    session: Session, version_ids: Iterable[int], up: bool
) -> dict[int, set[int]]:
    """Every version reachable from each start through `contains` edges, up or down."""
    near, far = (
        (LineageEdge.child_id, LineageEdge.parent_id)
        if up
        else (LineageEdge.parent_id, LineageEdge.child_id)
    )
    contains = LineageEdge.kind == EdgeKind.CONTAINS.value
    found: dict[int, set[int]] = {}
    for chunk in chunked(sorted(set(version_ids))):
        base = select(near.label("start"), far.label("id"), literal(1).label("depth")).where(
            near.in_(chunk), contains
        )
        walk = base.cte("contained", recursive=True)
        walk = walk.union(
            select(walk.c.start, far, walk.c.depth + 1)
            .join(LineageEdge, near == walk.c.id)
            .where(contains, walk.c.depth < MAX_ANCESTRY)
        )
        for start, reached in session.execute(select(walk.c.start, walk.c.id).distinct()):
            found.setdefault(start, set()).add(reached)
    return found


@dataclass(frozen=True)
class _VersionRow:
    name: str
    number: int
    digest: str


def asset_facts(
    session: Session, roots: RootMap, version_ids: Iterable[int]
) -> dict[int, AssetFacts]:
    """Everything the policy asks about each version: origin, generated material, approvals, consent."""
    delivered = set(version_ids)
    ancestry = contains_ancestors(session, delivered)
    everyone = delivered | {a for ancestors in ancestry.values() for a in ancestors}
    rows = {
        version_id: _VersionRow(ref.name, ref.version, ref.digest)
        for version_id, ref in asset_refs(session, roots, everyone).items()
    }
    claims = _claims_by_version(session, everyone)
    tools = _tools(
        session, {c.tool_id for cs in claims.values() for c in cs if c.tool_id is not None}
    )
    summaries = {
        v: summarize_claims([ClaimFacts(Origin(c.origin), c.resolves) for c in claims.get(v, [])])
        for v in everyone
    }
    approvals: dict[int, list[Approval]] = {}
    likeness: dict[int, list[str]] = {}
    for chunk in chunked(sorted(everyone)):
        for approval in session.execute(
            select(Approval).where(Approval.version_id.in_(chunk)).order_by(Approval.id)
        ).scalars():
            if approval.digest == rows[approval.version_id].digest:
                approvals.setdefault(approval.version_id, []).append(approval)
        for version_id, performer in session.execute(
            select(Likeness.version_id, Likeness.performer).where(Likeness.version_id.in_(chunk))
        ):
            likeness.setdefault(version_id, []).append(performer)
    consented = frozenset(session.execute(select(Consent.performer_key).distinct()).scalars())

    def source(version_id: int) -> GenerativeSource:
        summary = summaries[version_id]
        used = tuple(
            tools[c.tool_id]
            for c in claims.get(version_id, [])
            if c.tool_id is not None and Origin(c.origin).generative and c.tool_id in tools
        )
        unique = tuple(dict.fromkeys(used))
        row = rows[version_id]
        return GenerativeSource(row.name, row.number, summary.origin, unique)

    signals = signals_by_version(session, delivered)
    facts: dict[int, AssetFacts] = {}
    for version_id in delivered:
        summary = summaries[version_id]
        lineage = sorted(ancestry.get(version_id, set()))
        sources = [source(version_id)] if summary.generative else []
        sources += [source(a) for a in lineage if summaries[a].generative]
        performers = likeness.get(version_id, []) + [
            p for a in lineage for p in likeness.get(a, [])
        ]
        own = approvals.get(version_id, [])
        row = rows[version_id]
        facts[version_id] = AssetFacts(
            name=row.name,
            version=row.number,
            digest=row.digest,
            origin=summary.origin,
            disputed=summary.disputed,
            claimed=summary.origins,
            generative_sources=tuple(sources),
            approvals=tuple(a.ref for a in own),
            approval_covers_tool_risk=any(a.covers_tool_risk for a in own),
            likeness=tuple(dict.fromkeys(performers)),
            consented=consented,
            **_file_evidence(claims.get(version_id, []), signals.get(version_id, [])),
        )
    return facts


def _file_evidence(claims: list[Claim], signals: list[SignalInfo]) -> dict[str, tuple[str, ...]]:
    """What the files said, as far as it is still live: a TD's resolving claim settles
    everything recorded before it."""
    settled = max((c.event_id for c in claims if c.resolves), default=0)
    start = max((i for i, c in enumerate(claims) if c.resolves), default=0)
    evidence = tuple(
        f"{Origin(c.origin).alias} ({c.evidence}: {c.detail or c.claimed_by})"
        for c in claims[start:]
        if c.evidence != Evidence.DECLARED.value
    )
    near_ai = tuple(
        s.summary for s in signals if s.source == PERCEPTUAL_SOURCE and s.event_id > settled
    )
    return {"evidence": evidence, "near_ai": near_ai}


def _tools(session: Session, tool_ids: Iterable[int]) -> dict[int, ToolFacts]:
    found: dict[int, ToolFacts] = {}
    for chunk in chunked(sorted(set(tool_ids))):
        for tool in session.execute(select(Tool).where(Tool.id.in_(chunk))).scalars():
            found[tool.id] = ToolFacts(
                tool.name, tool.generative, tool.trains_on_inputs, tool.secured
            )
    return found


def file_facts(
    files: Sequence[Delivered],
    resolutions: Sequence[Resolution],
    facts: dict[int, AssetFacts],
    names: dict[int, str],
) -> list[FileFacts]:
    result = []
    for item, resolution in zip(files, resolutions, strict=True):
        path = display_path(item.path)
        if resolution.ambiguous:
            result.append(
                FileFacts(
                    path,
                    item.digest,
                    ambiguous=tuple(
                        (names[v] + (" [contains generated material]" if ai else ""), origin)
                        for v, origin, ai in resolution.ambiguous
                    ),
                )
            )
        elif resolution.version_id is None:
            result.append(FileFacts(path, item.digest))
        else:
            result.append(
                FileFacts(
                    path,
                    item.digest,
                    asset=facts[resolution.version_id],
                    frame=resolution.frame,
                    recorded_digest=resolution.recorded_digest,
                )
            )
    return result


def generative_uses(session: Session, roots: RootMap) -> list[DisclosureEntry]:
    """Every latest asset version whose claims say generative AI, with where its material went."""
    latest = [
        version_id
        for (version_id,) in session.execute(
            select(AssetVersion.id)
            .join(Asset, Asset.id == AssetVersion.asset_id)
            .where(AssetVersion.number == Asset.latest_version)
            .where(AssetVersion.id.in_(select(Claim.version_id).distinct()))
        )
    ]
    summaries = origin_summaries(session, latest)
    generative = sorted(v for v in latest if summaries[v].generative)
    if not generative:
        return []
    claims = _claims_by_version(session, generative)
    tool_rows: dict[int, Tool] = {}
    tool_ids = {c.tool_id for cs in claims.values() for c in cs if c.tool_id is not None}
    for chunk in chunked(sorted(tool_ids)):
        for tool in session.execute(select(Tool).where(Tool.id.in_(chunk))).scalars():
            tool_rows[tool.id] = tool
    descendants = _contains_closure(session, generative, up=False)
    refs = asset_refs(
        session, roots, set(generative) | {d for ds in descendants.values() for d in ds}
    )
    statuses = version_statuses(session.connection(), generative)
    approvals: dict[int, list[str]] = {}
    chosen = [
        approval
        for chunk in chunked(sorted(generative))
        for approval in session.execute(
            select(Approval).where(Approval.version_id.in_(chunk))
        ).scalars()
    ]
    for approval in sorted(chosen, key=lambda a: a.id):
        if approval.digest == refs[approval.version_id].digest:
            approvals.setdefault(approval.version_id, []).append(
                f"{approval.ref} ({approval.approved_by})"
            )
    entries = []
    for version_id in generative:
        used = [
            tool_rows[c.tool_id]
            for c in claims.get(version_id, [])
            if c.tool_id is not None and Origin(c.origin).generative
        ]
        tools = [tool_info(t) for t in dict.fromkeys(used)]
        entries.append(
            DisclosureEntry(
                asset=refs[version_id],
                origin=summaries[version_id].origin,
                status=statuses[version_id].value,
                tools=tools,
                approvals=approvals.get(version_id, []),
                used_in=sorted(
                    (refs[d] for d in descendants.get(version_id, set())), key=lambda r: r.name
                ),
            )
        )
    return sorted(entries, key=lambda e: e.asset.name)

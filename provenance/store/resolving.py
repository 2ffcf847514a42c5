"""Resolving delivered files against the ledger: which recorded asset version each file is, by
its path, by its content, or by its context (the rest of its sequence), and the delivered
assets that are exact copies of a recorded one.

Every query works on batches (IN lists), so a sweep of a large delivery costs a few queries
per thousand files, not a few per file.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from sqlalchemy import Connection, bindparam, func, select
from sqlalchemy.orm import Session

from provenance.records import display_path
from provenance.resolution import FileFacts, pick_by_context
from provenance.scan import FRAME_NAME, UDIM_TOKEN
from provenance.store import bulk, queries
from provenance.store.models import Asset, AssetVersion, Content, Member
from provenance.store.queries import RootMap, folder_bounds

__all__ = [
    "Delivered",
    "Resolution",
    "copied_versions",
    "file_facts",
    "highest_version_id",
    "latest_in_folder",
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

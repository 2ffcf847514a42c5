"""Queries the facade needs: roots, target resolution, lineage through recursive CTEs, cards and history."""

from __future__ import annotations

import json
import os
import re
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy import func, insert, literal, or_, select, union
from sqlalchemy.orm import Session

from provenance.errors import AmbiguousTarget, ProvenanceError, TargetNotFound
from provenance.records import AssetRef, ToolInfo, display_path
from provenance.roots import FILESYSTEM_NAME, RootMap, RootRecord, home_root, place_roots
from provenance.scan import FRAME_NAME, canonical_pattern, looks_like_pattern, parse_pattern
from provenance.store.models import (
    Asset,
    AssetVersion,
    Content,
    Deliverable,
    DeliverableManifest,
    Event,
    LineageEdge,
    Location,
    Member,
    Root,
    Tool,
)

__all__ = [
    "DIGEST_PREFIX",
    "IN_CHUNK",
    "MANIFEST_EVENT",
    "MHL_EVENT",
    "Edge",
    "ManifestOwner",
    "Resolved",
    "RootMap",
    "ancestors",
    "asset_refs",
    "chunked",
    "direct_links",
    "ensure_roots",
    "event_ids_for_asset",
    "find_roots",
    "folder_bounds",
    "holders_of",
    "is_ancestor",
    "keep_manifest",
    "kept_manifest",
    "latest_version_id",
    "ledger_folder",
    "lineage_edges",
    "manifest_owners",
    "recorded_manifests",
    "recorded_mhl_files",
    "resolve_target",
    "sequence_holding",
    "tool_info",
]


DIGEST_PREFIX = re.compile(r"^(?P<algo>xxh3-128):(?P<hex>[0-9a-fA-F]{8,32})$")
# SQLite's default limit on bound parameters is 32766; stay far below it.
IN_CHUNK = 2000


def chunked(items: Sequence[object], size: int = IN_CHUNK) -> Iterable[Sequence[object]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def folder_bounds(prefix: bytes) -> tuple[bytes, bytes]:
    """(low, high) such that `low <= path < high` holds exactly for the paths under `prefix`
    (which ends in `/`): `/` is followed by `0` in byte order."""
    return prefix, prefix[:-1] + b"0"


def root_records(session: Session) -> list[RootRecord]:
    """Every row of `roots`, in id order."""
    return [
        RootRecord.from_row(int(root_id), name, location, aliases, event_id)
        for root_id, name, location, aliases, event_id in session.execute(
            select(Root.id, Root.name, Root.location, Root.aliases, Root.event_id).order_by(Root.id)
        )
    ]


def ledger_folder(workspace: bytes) -> bytes | None:
    """The folder holding a SQLite ledger's `.provenance/` (`LedgerLocation.root`), or None for a
    ledger that has none (`/`)."""
    return None if workspace == b"/" else workspace


def ensure_roots(session: Session, workspace: bytes) -> RootMap:
    """The root map, recording `/` (for paths outside every show root) and the ledger's own
    folder first if they are not yet recorded. `workspace` is `LedgerLocation.root`."""
    records = root_records(session)
    home = ledger_folder(workspace)
    missing = []
    if not any(r.name == FILESYSTEM_NAME for r in records):
        missing.append(FILESYSTEM_NAME)
    if home is not None and home_root(records) is None:
        if any(r.name == home for r in records):
            raise ProvenanceError(
                f"A root named {display_path(home)} is recorded already, so the ledger's own "
                "folder cannot be recorded under that name. Run `provenance roots` to see it."
            )
        missing.append(home)
    if missing:
        for name in missing:
            session.execute(insert(Root).values(name=name, location=None, aliases="[]"))
        records = root_records(session)
    return place_roots(records, home)


def find_roots(session: Session, workspace: bytes) -> RootMap | None:
    """The root map for reading, or None when nothing was ever recorded."""
    records = root_records(session)
    if not any(r.name == FILESYSTEM_NAME for r in records):
        return None
    return place_roots(records, ledger_folder(workspace))


# ---------------------------------------------------------------------------------------------
# Asset references


def asset_refs(session: Session, roots: RootMap, version_ids: Iterable[int]) -> dict[int, AssetRef]:
    ids = list(set(version_ids))
    refs: dict[int, AssetRef] = {}
    for chunk in chunked(ids):
        rows = session.execute(
            select(
                Asset.id,
                AssetVersion.id,
                AssetVersion.number,
                Asset.root_id,
                Asset.pattern,
                Asset.kind,
                AssetVersion.digest,
                Asset.latest_version,
            )
            .join(Asset, Asset.id == AssetVersion.asset_id)
            .where(AssetVersion.id.in_(chunk))
        )
        for asset_id, version_id, number, root_id, pattern, kind, digest, latest in rows:
            refs[version_id] = AssetRef(
                asset_id, version_id, number, roots.join(root_id, pattern), kind, digest, latest
            )
    return refs


def tool_info(tool: Tool) -> ToolInfo:
    """A registered tool as the library returns it."""
    return ToolInfo(
        name=tool.name,
        vendor=tool.vendor,
        generative=tool.generative,
        trains_on_inputs=tool.trains_on_inputs,
        secured=tool.secured,
        registered_at=tool.created_at,
    )


def latest_version_id(session: Session, asset_id: int) -> int:
    return int(
        session.execute(
            select(AssetVersion.id)
            .join(Asset, Asset.id == AssetVersion.asset_id)
            .where(Asset.id == asset_id, AssetVersion.number == Asset.latest_version)
        ).scalar_one()
    )


# ---------------------------------------------------------------------------------------------
# Targets: a path, a pattern, a frame of a sequence, or a digest prefix


@dataclass(frozen=True)
class Resolved:
    version_id: int
    frame: int | None = None


def resolve_target(session: Session, roots: RootMap | None, text: str, cwd: bytes) -> Resolved:
    """What a command-line target names, as the latest version of one asset."""
    match = DIGEST_PREFIX.match(text.strip())
    if match:
        return _resolve_digest(
            session, roots, match.group("algo"), match.group("hex").lower(), text
        )
    if text.lower().startswith("xxh3-128:"):
        raise TargetNotFound(
            f"{text!r} is not a usable digest: give `xxh3-128:` and at least 8 hex digits."
        )
    path = (roots or RootMap.unrecorded(None)).localize(text, cwd)
    if roots is not None:
        found = _resolve_path(session, roots, path, text)
        if found is not None:
            return found
    raise TargetNotFound(
        f"{text!r} is not in the ledger. Record it first with `provenance ingest {text}`."
    )


def _resolve_path(session: Session, roots: RootMap, path: bytes, text: str) -> Resolved | None:
    if looks_like_pattern(text):
        pattern = parse_pattern(path)
        exact = _asset_version_by_pattern(session, roots, canonical_pattern(pattern))
        if exact is not None:
            return Resolved(exact)
        return _by_head_tail(session, roots, pattern.folder, pattern.head, pattern.tail, None, text)
    exact = _asset_version_by_pattern(session, roots, path)
    if exact is not None:
        return Resolved(exact)
    folder, name = os.path.split(path)
    frame_match = FRAME_NAME.match(name)
    if frame_match is not None:
        frame = int(frame_match.group("frame"))
        found = _by_head_tail(
            session,
            roots,
            folder,
            frame_match.group("head"),
            frame_match.group("tail"),
            frame,
            text,
        )
        if found is not None:
            return found
    return _by_location(session, roots, path, text)


def sequence_holding(session: Session, roots: RootMap, path: bytes) -> tuple[bytes, int] | None:
    """(sequence pattern, frame) when `path` is a frame of a recorded sequence or UDIM set."""
    folder, name = os.path.split(path)
    match = FRAME_NAME.match(name)
    if match is None or _asset_version_by_pattern(session, roots, path) is not None:
        return None
    frame = int(match.group("frame"))
    found = _by_head_tail(
        session, roots, folder, match.group("head"), match.group("tail"), None, os.fsdecode(path)
    )
    if found is None:
        return None
    ref = asset_refs(session, roots, [found.version_id])[found.version_id]
    return ref.path, frame


def _asset_version_by_pattern(session: Session, roots: RootMap, path: bytes) -> int | None:
    root_id, relative = roots.split(path)
    found = session.execute(
        select(AssetVersion.id)
        .join(Asset, Asset.id == AssetVersion.asset_id)
        .where(
            Asset.root_id == root_id,
            Asset.pattern == relative,
            AssetVersion.number == Asset.latest_version,
        )
    ).scalar()
    return int(found) if found is not None else None


def _by_head_tail(
    session: Session,
    roots: RootMap,
    folder: bytes,
    head: bytes,
    tail: bytes,
    frame: int | None,
    text: str,
) -> Resolved | None:
    """Sequences in `folder` named head + frame token + tail, whatever their padding."""
    root_id, relative_folder = roots.split(os.path.join(folder, b""))
    prefix = relative_folder + head
    rows = session.execute(
        select(Asset.id, Asset.pattern, AssetVersion.id)
        .join(AssetVersion, AssetVersion.asset_id == Asset.id)
        .where(
            Asset.root_id == root_id,
            Asset.pattern >= prefix,
            Asset.pattern < prefix + b"\xff",
            Asset.kind != "file",
            AssetVersion.number == Asset.latest_version,
        )
    )
    candidates: list[tuple[bytes, int]] = []
    for _asset_id, pattern, version_id in rows:
        token = pattern[len(prefix) : len(pattern) - len(tail)] if tail else pattern[len(prefix) :]
        if not pattern.endswith(tail) or not token or (token.strip(b"#") and token != b"<UDIM>"):
            continue
        candidates.append((pattern, version_id))
    if frame is not None:
        candidates = [
            (pattern, version_id)
            for pattern, version_id in candidates
            if session.execute(
                select(Member.position).where(
                    Member.version_id == version_id, Member.frame == frame
                )
            ).first()
            is not None
        ]
    if not candidates:
        return None
    if len(candidates) > 1:
        names = ", ".join(display_path(roots.join(root_id, p)) for p, _ in candidates)
        raise AmbiguousTarget(f"{text!r} matches several sequences: {names}. Name one exactly.")
    return Resolved(candidates[0][1], frame)


def _by_location(session: Session, roots: RootMap, path: bytes, text: str) -> Resolved | None:
    """A file recorded under another asset's name: find the assets whose latest version holds it."""
    root_id, relative = roots.split(path)
    content_id = session.execute(
        select(Location.content_id).where(Location.root_id == root_id, Location.path == relative)
    ).scalar()
    if content_id is None:
        return None
    return _latest_version_holding(session, roots, [content_id], text)


def _latest_version_holding(
    session: Session, roots: RootMap | None, content_ids: Sequence[int], text: str
) -> Resolved | None:
    rows = session.execute(
        select(AssetVersion.id, Member.frame)
        .join(Member, Member.version_id == AssetVersion.id)
        .join(Asset, Asset.id == AssetVersion.asset_id)
        .where(Member.content_id.in_(content_ids), AssetVersion.number == Asset.latest_version)
        .distinct()
    )
    found = {version_id: frame for version_id, frame in rows}
    if not found:
        return None
    if len(found) > 1:
        _raise_ambiguous(session, roots, list(found), text)
    version_id, frame = next(iter(found.items()))
    return Resolved(version_id, frame)


def holders_of(session: Session, digest: str) -> list[tuple[int, int | None]]:
    """(version, frame) of the newest version of each asset holding a file's bytes, in the order
    the assets were recorded: who a file the ledger does not know by its path really is."""
    newest: dict[int, tuple[int, int, int | None]] = {}
    for asset_id, number, version_id, frame in session.execute(
        select(AssetVersion.asset_id, AssetVersion.number, AssetVersion.id, Member.frame)
        .join(Member, Member.version_id == AssetVersion.id)
        .join(Content, Content.id == Member.content_id)
        .where(Content.digest == digest)
    ):
        held = newest.get(asset_id)
        if held is None or number > held[0]:
            newest[asset_id] = (number, version_id, frame)
    return [(version_id, frame) for _, (_, version_id, frame) in sorted(newest.items())]


def _resolve_digest(
    session: Session, roots: RootMap | None, algorithm: str, hex_prefix: str, text: str
) -> Resolved:
    like = f"{algorithm}:{hex_prefix}%"
    versions = [
        int(v)
        for v in session.execute(
            select(AssetVersion.id).where(AssetVersion.digest.like(like))
        ).scalars()
    ]
    content_ids = [
        int(c)
        for c in session.execute(select(Content.id).where(Content.digest.like(like))).scalars()
    ]
    if len(versions) > 1:
        _raise_ambiguous(session, roots, versions, text)
    if versions and not content_ids:
        return Resolved(versions[0])
    if content_ids:
        held = _latest_version_holding(session, roots, content_ids, text) if roots else None
        if held is not None and versions and held.version_id != versions[0]:
            _raise_ambiguous(session, roots, [versions[0], held.version_id], text)
        if held is not None:
            return held
        if versions:
            return Resolved(versions[0])
    raise TargetNotFound(f"No asset or file in the ledger has a digest starting {text!r}.")


def _raise_ambiguous(
    session: Session, roots: RootMap | None, version_ids: list[int], text: str
) -> None:
    refs = asset_refs(session, roots, version_ids) if roots else {}
    lines = [f"  {ref.name} (v{ref.version}, {ref.digest})" for ref in refs.values()]
    raise AmbiguousTarget(
        f"{text!r} matches {len(version_ids)} assets:\n"
        + "\n".join(sorted(lines))
        + "\nGive more digits, or name the file."
    )


# ---------------------------------------------------------------------------------------------
# Lineage


@dataclass(frozen=True)
class Edge:
    child_id: int
    parent_id: int
    kind: str
    depth: int


def lineage_edges(
    session: Session,
    start_version_id: int,
    up: bool,
    max_depth: int,
    kinds: Sequence[str] | None = None,
) -> list[Edge]:
    """Every edge reachable from `start` (towards parents when `up`), with its least depth.

    One recursive CTE; `UNION` with a depth bound terminates even if a cycle slipped in.
    """
    near = LineageEdge.child_id if up else LineageEdge.parent_id
    kind_filter = LineageEdge.kind.in_(kinds) if kinds else literal(True)
    base = select(
        LineageEdge.child_id, LineageEdge.parent_id, LineageEdge.kind, literal(1).label("depth")
    ).where(near == start_version_id, kind_filter)
    walk = base.cte("walk", recursive=True)
    next_near = walk.c.parent_id if up else walk.c.child_id
    step = (
        select(LineageEdge.child_id, LineageEdge.parent_id, LineageEdge.kind, walk.c.depth + 1)
        .join(walk, near == next_near)
        .where(walk.c.depth < max_depth, kind_filter)
    )
    walk = walk.union(step)
    rows = session.execute(
        select(walk.c.child_id, walk.c.parent_id, walk.c.kind, func.min(walk.c.depth)).group_by(
            walk.c.child_id, walk.c.parent_id, walk.c.kind
        )
    )
    return sorted(
        (Edge(int(c), int(p), str(k), int(d)) for c, p, k, d in rows),
        key=lambda e: (e.depth, e.child_id, e.parent_id, e.kind),
    )


def is_ancestor(session: Session, candidate_id: int, of_version_id: int) -> bool:
    """Is `candidate` reachable from `of` by walking up (through any kind of edge)?"""
    if candidate_id == of_version_id:
        return True
    up = select(LineageEdge.parent_id.label("id")).where(LineageEdge.child_id == of_version_id)
    walk = up.cte("ancestors", recursive=True)
    walk = walk.union(select(LineageEdge.parent_id).join(walk, LineageEdge.child_id == walk.c.id))
    found = session.execute(select(walk.c.id).where(walk.c.id == candidate_id).limit(1)).first()
    return found is not None


def ancestors(session: Session, version_ids: Iterable[int]) -> set[int]:
    """Every version reachable from these by walking up (through any kind of edge): one
    recursive CTE a chunk, whatever the number of versions (`is_ancestor` for many at once)."""
    found: set[int] = set()
    for chunk in chunked(sorted(set(version_ids))):
        up = select(LineageEdge.parent_id.label("id")).where(LineageEdge.child_id.in_(chunk))
        walk = up.cte("ancestors_of", recursive=True)
        walk = walk.union(
            select(LineageEdge.parent_id).join(walk, LineageEdge.child_id == walk.c.id)
        )
        found.update(int(v) for v in session.execute(select(walk.c.id)).scalars())
    return found


def direct_links(
    session: Session, version_id: int
) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    """(parents, children) of one version as (edge kind, version id)."""
    parents = [
        (str(k), int(p))
        for p, k in session.execute(
            select(LineageEdge.parent_id, LineageEdge.kind).where(
                LineageEdge.child_id == version_id
            )
        )
    ]
    children = [
        (str(k), int(c))
        for c, k in session.execute(
            select(LineageEdge.child_id, LineageEdge.kind).where(
                LineageEdge.parent_id == version_id
            )
        )
    ]
    return parents, children


def event_ids_for_asset(session: Session, asset_id: int) -> list[int]:
    from provenance.store.models import Approval, Claim, Likeness

    versions = select(AssetVersion.id).where(AssetVersion.asset_id == asset_id).scalar_subquery()
    query = union(
        select(AssetVersion.event_id).where(AssetVersion.asset_id == asset_id),
        select(Claim.event_id).where(Claim.version_id.in_(versions)),
        select(LineageEdge.event_id).where(
            or_(LineageEdge.child_id.in_(versions), LineageEdge.parent_id.in_(versions))
        ),
        select(Approval.event_id).where(Approval.version_id.in_(versions)),
        select(Likeness.event_id).where(Likeness.version_id.in_(versions)),
    )
    return sorted(int(e) for e in session.execute(query).scalars())


MANIFEST_EVENT = "finalize.manifest"
"""The event that records the bytes of a manifest a finalize wrote (see `recorded_manifests`)."""


def keep_manifest(session: Session, name: str, body: bytes, digest: str) -> None:
    """Keep the bytes of the manifest written beside deliverable `name` (compressed)."""
    deliverable_id = session.execute(
        select(Deliverable.id).where(Deliverable.name == name)
    ).scalar_one()
    session.execute(
        insert(DeliverableManifest).values(
            deliverable_id=deliverable_id, digest=digest, body=zlib.compress(body, 6)
        )
    )


def kept_manifest(session: Session, deliverable_id: int) -> tuple[str, bytes | None] | None:
    """(digest, bytes) of the manifest kept for a deliverable (bytes None when what is kept does
    not inflate); None for one finalized before manifests were kept."""
    row = session.execute(
        select(DeliverableManifest.digest, DeliverableManifest.body).where(
            DeliverableManifest.deliverable_id == deliverable_id
        )
    ).first()
    if row is None:
        return None
    try:
        return row.digest, zlib.decompress(row.body)
    except zlib.error:
        return row.digest, None


class ManifestOwner(NamedTuple):
    name: str
    """The deliverable the manifest was written for."""
    event_id: int
    """The event that recorded it: a later finalize's is higher."""


def manifest_owners(session: Session) -> dict[str, ManifestOwner]:
    """The digest of every manifest a finalize recorded -> whose it is."""
    found: dict[str, ManifestOwner] = {}
    for event_id, payload in session.execute(
        select(Event.id, Event.payload).where(Event.kind == MANIFEST_EVENT).order_by(Event.id)
    ):
        document = json.loads(payload)
        found.setdefault(document["digest"], ManifestOwner(str(document.get("name")), event_id))
    return found


def recorded_manifests(session: Session) -> frozenset[str]:
    """The digests of every manifest a finalize wrote: the only bytes a sweep may leave out of a
    delivery, and only at that delivery's own manifest path."""
    return frozenset(
        json.loads(payload)["digest"]
        for payload in session.execute(
            select(Event.payload).where(Event.kind == MANIFEST_EVENT)
        ).scalars()
    )


MHL_EVENT = "export.mhl"
"""The event that records the bytes of the ASC MHL files an `export mhl` wrote."""


def recorded_mhl_files(session: Session) -> frozenset[str]:
    """The digests of every ASC MHL file (generation, chain) an `export mhl` wrote: what
    `verify` does not count as added to a delivery, and only in its `ascmhl/` folder."""
    return frozenset(
        item["digest"]
        for payload in session.execute(
            select(Event.payload).where(Event.kind == MHL_EVENT)
        ).scalars()
        for item in json.loads(payload).get("files", [])
    )

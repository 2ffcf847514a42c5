"""The stat cache's rows: where bytes were seen (`locations`), and the contents they name.

Rows only. Whether a row may stand for a file without reading it (the racy rule) is decided by
`provenance.stat_cache`; this module reads the rows it asks for and writes what a pass read.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, NamedTuple

from sqlalchemy import Connection, bindparam, select, tuple_

from provenance.scan import ScannedLink, StatFingerprint
from provenance.store import bulk, cache
from provenance.store.models import Asset, Content, Location, LocationKind
from provenance.store.queries import RootMap, chunked, folder_bounds

if TYPE_CHECKING:
    from provenance.fingerprint import HashResult

__all__ = [
    "Cached",
    "cached_locations",
    "content_ids",
    "holds_anything_under",
    "write_files",
    "write_links",
]


class Cached(NamedTuple):
    """What the stat cache holds for a path: its row, digest, fingerprint and when it was read."""

    location_id: int
    digest: str | None
    stat: StatFingerprint
    recorded_ns: int


# The lookups of every batch, built once (see bulk.select_in).
_LOCATIONS = (
    select(
        Location.path,
        Location.id,
        Content.digest,
        Location.size,
        Location.mtime_ns,
        Location.ctime_ns,
        Location.inode,
        Location.device,
        Location.recorded_ns,
    )
    .outerjoin(Content, Content.id == Location.content_id)
    .where(Location.root_id == bindparam("root"))
)
_LOCATIONS_IN_FOLDER = _LOCATIONS.where(
    Location.path >= bindparam("low"), Location.path < bindparam("high")
)
# Folders with at least this many paths to look up are read whole, with one range query.
_RANGE_MIN_FILES = 32
_CONTENTS = select(Content.digest, Content.id)


def cached_locations(
    connection: Connection, roots: RootMap, paths: list[bytes]
) -> dict[bytes, Cached]:
    """What the stat cache holds for each path: a folder of many paths in one range query
    (its rows come back in index order), the rest by name."""
    by_folder: dict[bytes, list[bytes]] = {}
    for path in paths:
        by_folder.setdefault(path.rpartition(b"/")[0], []).append(path)
    by_root: dict[int, dict[bytes, bytes]] = {}
    found: dict[bytes, Cached] = {}
    for folder, members in by_folder.items():
        root_id, prefix = roots.split_folder(folder)
        if len(members) < _RANGE_MIN_FILES or not prefix:
            named = by_root.setdefault(root_id, {})
            for path in members:
                named[prefix + path[len(folder) + 1 :]] = path
            continue
        wanted = set(members)
        base = folder + b"/"
        cut = len(prefix)
        low, high = folder_bounds(prefix)
        in_folder = connection.execute(
            _LOCATIONS_IN_FOLDER, {"root": root_id, "low": low, "high": high}
        ).all()
        for relative, loc_id, digest, size, mtime, ctime, inode, device, recorded in in_folder:
            path = base + relative[cut:]
            if path in wanted:
                found[path] = Cached(
                    loc_id, digest, StatFingerprint(size, mtime, ctime, inode, device), recorded
                )
    for root_id, relatives in by_root.items():
        rows = bulk.select_in(
            connection, _LOCATIONS, Location.path, list(relatives), {"root": root_id}
        )
        for relative, loc_id, digest, size, mtime, ctime, inode, device, recorded in rows:
            found[relatives[relative]] = Cached(
                loc_id, digest, StatFingerprint(size, mtime, ctime, inode, device), recorded
            )
    return found


def content_ids(
    connection: Connection, pairs: dict[str, int], known: set[int] | None = None
) -> dict[str, int]:
    """Ids for (digest -> size), inserting the digests the ledger has not seen; `known`
    collects the ids of those it held already."""
    found = bulk.select_in(connection, _CONTENTS, Content.digest, list(pairs))
    ids = dict(found)
    if known is not None:
        known.update(ids.values())
    missing = [d for d in pairs if d not in ids]
    if missing:
        new_ids = bulk.allocate_ids(connection, bulk.table_of(Content), len(missing))
        bulk.insert_rows(
            connection,
            bulk.table_of(Content),
            ("id", "digest", "size"),
            [(i, d, pairs[d]) for i, d in zip(new_ids, missing, strict=True)],
        )
        ids.update(zip(missing, new_ids, strict=True))
    return ids


def write_files(
    connection: Connection,
    roots: RootMap,
    fresh: list[HashResult],
    cached: dict[bytes, Cached],
    recorded_ns: int,
    content_ids: dict[str, int],
) -> None:
    """Record the files a pass read (`fresh`, each with its digest and stat), replacing the
    rows `cached` held for them, as read at `recorded_ns`."""
    rows: list[tuple[object, ...]] = []
    kind = LocationKind.FILE.value
    for result in fresh:
        digest, stat = result.digest, result.stat
        assert digest is not None and stat is not None
        entry = cached.get(result.path)
        root_id, relative = roots.split(result.path)
        rows.append(
            (
                entry.location_id if entry is not None else None,
                root_id,
                relative,
                kind,
                content_ids[digest],
                None,
                *stat,
                recorded_ns,
            )
        )
    cache.write_locations(connection, rows)


def write_links(connection: Connection, roots: RootMap, links: list[ScannedLink]) -> None:
    """Record symbolic links where they were seen, with their targets."""
    recorded_ns = time.time_ns()
    split = [roots.split(link.path) for link in links]
    known: dict[tuple[int, bytes], int] = {}
    for chunk in chunked(split):
        for root_id, relative, location_id in connection.execute(
            select(Location.root_id, Location.path, Location.id).where(
                tuple_(Location.root_id, Location.path).in_(chunk)
            )
        ):
            known[(root_id, relative)] = location_id
    rows: list[tuple[object, ...]] = [
        (
            known.get((root_id, relative)),
            root_id,
            relative,
            LocationKind.SYMLINK.value,
            None,
            link.target,
            *link.stat,
            recorded_ns,
        )
        for link, (root_id, relative) in zip(links, split, strict=True)
    ]
    cache.write_locations(connection, rows)


def holds_anything_under(connection: Connection, roots: RootMap, folder: bytes) -> bool:
    """Does a location or an asset of the ledger lie under `folder` (absolute, ending in `/`)?"""
    root_id, prefix = roots.split_folder(folder)
    known = False
    for model, column in ((Location, Location.path), (Asset, Asset.pattern)):
        query = select(model.id).where(model.root_id == root_id)
        if prefix:
            low, high = folder_bounds(prefix)
            query = query.where(column >= low, column < high)
        known = known or connection.execute(query.limit(1)).first() is not None
    return known

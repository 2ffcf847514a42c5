"""Folder seals: the ledger's memory that a folder was recorded whole, exactly as it is.

Re-ingesting an unchanged tree must run at the speed of `stat`, and the per-file work of the
full path (grouping names into sequences, looking up every path and asset, comparing digests)
costs several times that. A seal lets a folder skip all of it: while the folder's listing
(every name with its size, times, inode and device) is what it was, no write has touched its
assets since, and the new ingest means the same (claim, lineage, likeness), recording it again
would change nothing, so the ingest reports it from the seal.

Seals are a cache, like the stat cache in `locations`: not history, never trusted by the
finalizer or the audit, dropped by any write to an asset of their folder, and rebuilt by the
next ingest.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import xxhash
from sqlalchemy import Connection, delete, insert, select, tuple_
from sqlalchemy.orm import Session

from provenance.store.models import Asset, AssetVersion, FolderSeal
from provenance.store.queries import RootMap, chunked

PLAIN_INTENT = "plain"
"""An ingest that declares nothing: it changes nothing in an unchanged folder, whatever any
earlier ingest declared, so it may use any seal."""


@dataclass(frozen=True, slots=True)
class Seal:
    listing: str
    recorded_ns: int
    intent: str
    file_count: int
    byte_count: int
    refs: bytes
    holes: str


def intent_digest(facts: object) -> str:
    """The digest of what an ingest declares (JSON-able facts), or PLAIN_INTENT for nothing."""
    if not facts:
        return PLAIN_INTENT
    text = json.dumps(facts, sort_keys=True, default=str)
    return "xxh3-128:" + xxhash.xxh3_128_hexdigest(text.encode())


def load_seals(
    connection: Connection, roots: RootMap, folders: Iterable[bytes]
) -> dict[bytes, Seal]:
    """The seals under each folder (absolute, ending in `/`), keyed by absolute folder path."""
    found: dict[bytes, Seal] = {}
    for folder in folders:
        root_id, below = roots.split(folder + b"-")
        prefix = below[:-1]
        base = folder[: len(folder) - len(prefix)]
        query = select(
            FolderSeal.folder,
            FolderSeal.listing,
            FolderSeal.recorded_ns,
            FolderSeal.intent,
            FolderSeal.file_count,
            FolderSeal.byte_count,
            FolderSeal.refs,
            FolderSeal.holes,
        ).where(FolderSeal.root_id == root_id)
        if prefix:
            # Every folder under `prefix`: relative paths from `prefix` up to `prefix` with its
            # closing `/` replaced by the byte after it.
            query = query.where(FolderSeal.folder >= prefix, FolderSeal.folder < prefix[:-1] + b"0")
        for relative, listing, recorded_ns, intent, files, size, refs, holes in connection.execute(
            query
        ):
            found[base + relative] = Seal(listing, recorded_ns, intent, files, size, refs, holes)
    return found


def write_seals(
    connection: Connection, roots: RootMap, seals: Sequence[tuple[bytes, Seal]]
) -> None:
    """Replace the seals of these folders (absolute, ending in `/`)."""
    if not seals:
        return
    drop_folders(connection, roots, [folder for folder, _ in seals])
    rows = []
    for folder, seal in seals:
        root_id, relative = roots.split(folder + b"-")
        rows.append(
            {
                "root_id": root_id,
                "folder": relative[:-1],
                "listing": seal.listing,
                "recorded_ns": seal.recorded_ns,
                "intent": seal.intent,
                "file_count": seal.file_count,
                "byte_count": seal.byte_count,
                "refs": seal.refs,
                "holes": seal.holes,
            }
        )
    connection.execute(insert(FolderSeal), rows)


def drop_folders(connection: Connection, roots: RootMap, folders: Iterable[bytes]) -> None:
    """Drop the seals of these folders (absolute, ending in `/`)."""
    keys = sorted({_key(roots, folder) for folder in folders})
    for chunk in chunked(keys):
        connection.execute(
            delete(FolderSeal).where(tuple_(FolderSeal.root_id, FolderSeal.folder).in_(chunk))
        )


def drop_for_versions(session: Session, version_ids: Iterable[int]) -> None:
    """Drop the seal of the folder of each version's asset: something about it changed."""
    connection = session.connection()
    keys: set[tuple[int, bytes]] = set()
    for chunk in chunked(sorted(set(version_ids))):
        for root_id, pattern in connection.execute(
            select(Asset.root_id, Asset.pattern)
            .join(AssetVersion, AssetVersion.asset_id == Asset.id)
            .where(AssetVersion.id.in_(chunk))
            .distinct()
        ):
            keys.add((root_id, pattern.rpartition(b"/")[0] + b"/" if b"/" in pattern else b""))
    for chunk in chunked(sorted(keys)):
        connection.execute(
            delete(FolderSeal).where(tuple_(FolderSeal.root_id, FolderSeal.folder).in_(chunk))
        )


def _key(roots: RootMap, folder: bytes) -> tuple[int, bytes]:
    root_id, relative = roots.split(folder + b"-")
    return root_id, relative[:-1]

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

A sweep seals the delivered folders it resolved as exact copies (`COPY_INTENT`): a delivery is
usually a copy of the work folders, and a TD sweeps it again and again. Such a seal says only
that the folder holds those versions' bytes; whether they are still the copies the ledger
knows is checked at every sweep (`stale_copies`), and an ingest never uses one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import xxhash
from sqlalchemy import Connection, bindparam, select
from sqlalchemy.orm import Session

from provenance.packed_refs import AssetRefs, pack_folder, packed_here
from provenance.records import AssetRef, display_path
from provenance.scan import DirectoryScan, Sealed
from provenance.store import bulk, cache
from provenance.store.models import Asset, AssetVersion, Content, FolderSeal, Member
from provenance.store.queries import RootMap, chunked, folder_bounds

__all__ = [
    "COPY_INTENT",
    "PLAIN_INTENT",
    "CopiedFolder",
    "Seal",
    "SealedAssets",
    "SealedFiles",
    "drop_folders",
    "drop_for_versions",
    "expand_sealed",
    "intent_digest",
    "load_sealed_assets",
    "load_seals",
    "sealed_for_reading",
    "write_copy_seals",
    "write_seals",
]


PLAIN_INTENT = "plain"
"""An ingest that declares nothing: it changes nothing in an unchanged folder, whatever any
earlier ingest declared, so it may use any ingest's seal."""
COPY_INTENT = "copy"
"""A sweep's seal of a folder of exact copies: it declares nothing, and an ingest of the folder
records it (as new assets) rather than report it unchanged."""


@dataclass(frozen=True, slots=True)
class Seal:
    """What a seal vouches for, loaded for a whole tree before it is walked: only what `holds`
    needs. What it recorded, most of its row, is read a batch of folders at a time
    (`load_sealed_assets`)."""

    listing: str
    recorded_ns: int
    intent: str

    def holds(self, listing: str, newest_ns: int, racy_window_ns: int) -> bool:
        """The folder is as it was sealed: the same listing, and nothing in it changed within
        the racy window of the sealing (a file changed then may hold other bytes under the same
        listing)."""
        return listing == self.listing and newest_ns < self.recorded_ns - racy_window_ns


@dataclass(frozen=True, slots=True)
class SealedAssets:
    """What a seal recorded: its folder's assets, files, bytes and holes."""

    file_count: int
    byte_count: int
    refs: bytes
    """The folder's assets (`records.pack_folder`)."""
    holes: str
    """JSON: sequence name -> frames missing inside its range."""
    copied_as_of: int | None = None
    """A sweep's seal of copies: the highest asset version id when they were resolved."""

    @property
    def readable(self) -> bool:
        """False for assets packed on a machine of the other byte order (a ledger moved there):
        the folder must be read the usual way."""
        return packed_here(self.refs)


def sealed_for_reading(seals: dict[bytes, Seal], racy_window_ns: int) -> Sealed:
    """For a reader (a sweep): whatever the sealing ingest declared, a folder its seal holds for
    is its assets' recorded members, byte for byte."""

    def sealed(folder: bytes, listing: str, newest_ns: int) -> bool:
        seal = seals.get(folder)
        return seal is not None and seal.holds(listing, newest_ns, racy_window_ns)

    return sealed


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
    intents: dict[str, str] = {}  # one string for each intent, not one a folder
    for folder in folders:
        root_id, prefix = roots.split_folder(folder)
        base = folder[: len(folder) - len(prefix)]
        query = select(
            FolderSeal.folder, FolderSeal.listing, FolderSeal.recorded_ns, FolderSeal.intent
        ).where(FolderSeal.root_id == root_id)
        if prefix:
            low, high = folder_bounds(prefix)
            query = query.where(FolderSeal.folder >= low, FolderSeal.folder < high)
        for relative, listing, recorded_ns, intent in connection.execute(query):
            intent = intents.setdefault(intent, intent)
            found[base + relative] = Seal(listing, recorded_ns, intent)
    return found


_SEALED_ASSETS = select(
    FolderSeal.folder,
    FolderSeal.file_count,
    FolderSeal.byte_count,
    FolderSeal.refs,
    FolderSeal.holes,
    FolderSeal.copied_as_of,
).where(FolderSeal.root_id == bindparam("root"))


def load_sealed_assets(
    connection: Connection, roots: RootMap, folders: Sequence[bytes]
) -> dict[bytes, SealedAssets]:
    """What the seals of these folders (absolute, ending in `/`) recorded, keyed by folder
    (a folder without a seal is left out)."""
    by_root: dict[int, dict[bytes, bytes]] = {}
    for folder in folders:
        root_id, relative = roots.split_folder(folder)
        by_root.setdefault(root_id, {})[relative] = folder
    found: dict[bytes, SealedAssets] = {}
    for root_id, absolute in by_root.items():
        for relative, files, size, refs, holes, copied_as_of in bulk.select_in(
            connection, _SEALED_ASSETS, FolderSeal.folder, list(absolute), {"root": root_id}
        ):
            found[absolute[relative]] = SealedAssets(files, size, refs, holes, copied_as_of)
    return found


def write_seals(
    connection: Connection,
    roots: RootMap,
    seals: Sequence[tuple[bytes, Seal, SealedAssets]],
) -> None:
    """Write the seals of these folders (absolute, ending in `/`), whose old seals the caller
    dropped."""
    if not seals:
        return
    rows = []
    for folder, seal, assets in seals:
        root_id, relative = roots.split_folder(folder)
        rows.append(
            (
                root_id,
                relative,
                seal.listing,
                seal.recorded_ns,
                seal.intent,
                assets.file_count,
                assets.byte_count,
                assets.refs,
                assets.holes,
                assets.copied_as_of,
            )
        )
    cache.write_seals(connection, rows)


@dataclass(frozen=True)
class CopiedFolder:
    """A delivered folder every file of which a sweep resolved as part of an exact copy of a
    recorded asset's latest version: what its seal (`COPY_INTENT`) is made of."""

    folder: bytes
    """Absolute, ending in `/`."""
    listing: str
    recorded_ns: int
    """Taken before any of its files was read or trusted (the racy rule's reference)."""
    assets: tuple[tuple[int, bytes, str, tuple[int, ...]], ...]
    """(version id, name in the folder, kind, frames missing inside its range) of each asset."""
    file_count: int
    byte_count: int
    copied_as_of: int
    """The highest asset version id the copies were resolved against."""


_VERSION_REFS = select(
    AssetVersion.id, AssetVersion.asset_id, AssetVersion.number, AssetVersion.digest
)


def write_copy_seals(
    connection: Connection, roots: RootMap, copied: Sequence[CopiedFolder]
) -> set[bytes]:
    """Seal these delivered folders as copies (replacing any seal they had); the folders sealed
    (all but one whose assets the packed block has no room for)."""
    if not copied:
        return set()
    versions = {
        version_id: (asset_id, number, digest)
        for version_id, asset_id, number, digest in bulk.select_in(
            connection,
            _VERSION_REFS,
            AssetVersion.id,
            sorted({v for folder in copied for v, *_ in folder.assets}),
        )
    }
    sealing: list[tuple[bytes, Seal, SealedAssets]] = []
    for folder in copied:
        refs = []
        holes: dict[str, list[int]] = {}
        for version_id, name, kind, missing in folder.assets:
            asset_id, number, digest = versions[version_id]
            refs.append((asset_id, version_id, number, name, kind, digest))
            if missing:
                holes[display_path(folder.folder + name)] = list(missing)
        packed = pack_folder(refs)
        if packed is None:
            continue
        sealing.append(
            (
                folder.folder,
                Seal(folder.listing, folder.recorded_ns, COPY_INTENT),
                SealedAssets(
                    folder.file_count,
                    folder.byte_count,
                    packed,
                    json.dumps(holes),
                    folder.copied_as_of,
                ),
            )
        )
    drop_folders(connection, roots, [folder for folder, *_ in sealing])
    write_seals(connection, roots, sealing)
    return {folder for folder, *_ in sealing}


def drop_folders(connection: Connection, roots: RootMap, folders: Iterable[bytes]) -> None:
    """Drop the seals of these folders (absolute, ending in `/`)."""
    _drop_keys(connection, {roots.split_folder(folder) for folder in folders})


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
            keys.add((root_id, pattern[: pattern.rfind(b"/") + 1]))
    _drop_keys(connection, keys)


def _drop_keys(connection: Connection, keys: Iterable[tuple[int, bytes]]) -> None:
    """Drop the seals of these (root id, folder under the root) keys."""
    cache.drop_seals(connection, keys)


# ---------------------------------------------------------------------------------------------
# Sealed folders in a delivery: their files and what they resolve to, from the seal and the
# recorded members, without a stat-cache lookup, a hash or a per-file resolution.

_SEQUENCE_NAME = re.compile(
    rb"^(?P<head>.*[._])(?P<token>#+|<UDIM>)(?P<tail>(?:\.[A-Za-z][^.]*)*)$"
)


@dataclass
class SealedFiles:
    """Parallel lists, one item a file: a hundred thousand files make no object each."""

    paths: list[bytes] = field(default_factory=list)
    digests: list[str] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    version_ids: list[int] = field(default_factory=list)
    frames: list[int | None] = field(default_factory=list)
    sequences: list[tuple[bytes, tuple[int, ...]]] = field(default_factory=list)
    """(pattern, frames missing inside its range) of each sealed sequence."""
    fallback: list[bytes] = field(default_factory=list)
    """Folders whose seal did not name exactly the files they hold: read them the usual way."""
    vouched: int = 0
    """How many of the files a seal vouched for, unread (a never-seen folder's copies were read)."""


_MEMBERS = (
    select(Member.version_id, Member.frame, Content.digest, Content.size)
    .join(Content, Content.id == Member.content_id)
    .order_by(Member.version_id, Member.position)
)


def expand_sealed(
    session: Session,
    roots: RootMap,
    scans: Sequence[DirectoryScan],
    leave_out: Callable[[bytes, str], bool],
) -> SealedFiles:
    """Every file of the sealed folders, with its digest, size and asset version, but those
    that `leave_out(path, digest)` (a delivery's recorded manifest)."""
    result = SealedFiles()
    folders = [scan.folder for scan in scans if scan.folder is not None]
    sealed = load_sealed_assets(session.connection(), roots, folders)
    opened: list[tuple[DirectoryScan, SealedAssets, list[AssetRef]]] = []
    for scan in scans:
        assert scan.folder is not None
        seal = sealed.get(scan.folder)
        packed = AssetRefs()
        if seal is not None and packed.add_packed(scan.folder, seal.refs):
            opened.append((scan, seal, list(packed)))
        else:
            result.fallback.append(scan.folder)
    copies = [(seal, refs) for _, seal, refs in opened if seal.copied_as_of is not None]
    if copies:
        stale = stale_copies(session.connection(), copies)
        for scan, _, refs in opened:
            if any(ref.version_id in stale for ref in refs):
                assert scan.folder is not None
                result.fallback.append(scan.folder)
        opened = [item for item in opened if not any(r.version_id in stale for r in item[2])]
    members: dict[int, list[tuple[int | None, str, int]]] = {}
    version_ids = sorted({ref.version_id for _, _, refs in opened for ref in refs})
    for version_id, frame, digest, size in bulk.select_in(
        session.connection(), _MEMBERS, Member.version_id, version_ids
    ):
        members.setdefault(version_id, []).append((frame, digest, size))
    for scan, seal, refs in opened:
        folder = scan.folder
        assert folder is not None
        files: list[tuple[bytes, str, int, int, int | None]] = []
        for ref in refs:
            name = ref.path[len(folder) :]
            recorded = members.get(ref.version_id, [])
            if ref.kind == "file":
                files.extend(
                    (name, digest, size, ref.version_id, None) for _, digest, size in recorded
                )
                continue
            match = _SEQUENCE_NAME.match(name)
            if match is None:
                break
            head, token, tail = match.group("head", "token", "tail")
            width = 1 if token == b"<UDIM>" else len(token)
            files.extend(
                (
                    b"%s%0*d%s" % (head, width, -1 if frame is None else frame, tail),
                    digest,
                    size,
                    ref.version_id,
                    frame,
                )
                for frame, digest, size in recorded
            )
        else:
            if sorted(name for name, *_ in files) == scan.names:
                holes: dict[str, list[int]] = json.loads(seal.holes)
                for name, digest, size, version_id, frame in files:
                    if frame is None and leave_out(folder + name, digest):
                        continue
                    result.paths.append(folder + name)
                    result.digests.append(digest)
                    result.sizes.append(size)
                    result.version_ids.append(version_id)
                    result.frames.append(frame)
                result.sequences += [
                    (ref.path, tuple(holes.get(display_path(ref.path), ())))
                    for ref in refs
                    if ref.kind != "file"
                ]
                continue
        result.fallback.append(folder)
    result.vouched = len(result.paths)
    return result


# ---------------------------------------------------------------------------------------------
# A sweep's seals of copies: still the copies the ledger knows?

_VERSIONS_SINCE = select(AssetVersion.id, AssetVersion.asset_id).where(
    AssetVersion.id > bindparam("as_of")
)
_CONTENTS_SINCE = select(Member.content_id, Member.version_id).where(
    Member.version_id > bindparam("as_of")
)
_CONTENTS_OF = select(Member.version_id, Member.content_id)


def stale_copies(
    connection: Connection, copies: Sequence[tuple[SealedAssets, Sequence[AssetRef]]]
) -> set[int]:
    """The versions of these sweep-made seals that a sweep can no longer read from them.

    A copy was resolved whole because its version was its asset's latest and no other asset's
    latest version held any of its bytes. Only a later version can break either: one of the
    same asset supersedes it, or one of another asset holds some of the same bytes (a black
    frame in an AI element), which a sweep must explain file by file. Versions are numbered in
    the order they are recorded, so only those above the oldest seal's `copied_as_of` are
    looked at: when nothing was recorded since, the check is one empty range read.
    """
    as_of = min(seal.copied_as_of or 0 for seal, _ in copies)
    newest_of_asset: dict[int, int] = {}
    for version_id, asset_id in connection.execute(_VERSIONS_SINCE, {"as_of": as_of}):
        newest_of_asset[asset_id] = max(version_id, newest_of_asset.get(asset_id, 0))
    if not newest_of_asset:
        return set()
    refs = [ref for _, refs in copies for ref in refs]
    stale = {r.version_id for r in refs if newest_of_asset.get(r.asset_id, 0) > r.version_id}
    since: dict[int, set[int]] = {}
    for content_id, version_id in connection.execute(_CONTENTS_SINCE, {"as_of": as_of}):
        since.setdefault(content_id, set()).add(version_id)
    for version_id, content_id in bulk.select_in(
        connection, _CONTENTS_OF, Member.version_id, sorted({r.version_id for r in refs})
    ):
        # (A seal newer than the oldest one may hold a version recorded after it.)
        if since.get(content_id, set()) - {version_id}:
            stale.add(version_id)
    return stale

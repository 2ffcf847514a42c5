"""The ingest: scanned files to contents, locations, asset versions, claims and lineage, in one transaction.

Data flows one way: scan (listing and stat) -> stat-cache decision -> hash what changed ->
write the batch. Batches of a few thousand files keep memory flat on trees of any size; the
caller's transaction makes the whole run atomic.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from provenance.errors import LineageCycle
from provenance.fingerprint import (
    RACY_WINDOW_NS,
    Hasher,
    HashResult,
    aggregate_digest,
    is_cache_trusted,
)
from provenance.origins import ClaimFacts, Evidence, Origin, summarize_claims
from provenance.records import AssetRef, IngestReport, SkippedFile, display_path
from provenance.scan import (
    AssetKind,
    DirectoryScan,
    ScannedAsset,
    ScannedLink,
    SkipReason,
    StatFingerprint,
    scan_target,
)
from provenance.store.models import (
    Asset,
    AssetStatus,
    AssetVersion,
    Claim,
    Content,
    EdgeKind,
    LineageEdge,
    Location,
    LocationKind,
    Member,
)
from provenance.store.queries import RootMap, chunked, is_ancestor

BATCH_FILES = 4096
BATCH_BYTES = 2 << 30

Progress = Callable[[int, int, int], None]
"""Called with (files seen, bytes seen, bytes read) as batches complete."""


@dataclass(frozen=True)
class ClaimSpec:
    """A claim to attach to every asset version an ingest (or tag) touches."""

    origin: Origin
    tool_id: int | None
    tool_version: str | None
    claimed_by: str
    evidence: Evidence = Evidence.DECLARED
    note: str | None = None
    resolves: bool = False


@dataclass(frozen=True)
class ParentSpec:
    version_id: int
    kind: EdgeKind


@dataclass
class _Batch:
    scans: list[DirectoryScan] = field(default_factory=list)
    files: int = 0
    bytes: int = 0

    def add(self, scan: DirectoryScan) -> None:
        self.scans.append(scan)
        self.files += scan.file_count
        self.bytes += sum(m.stat.size for a in scan.assets for m in a.members)

    @property
    def full(self) -> bool:
        return self.files >= BATCH_FILES or self.bytes >= BATCH_BYTES


def batches(targets: Sequence[bytes]) -> Iterator[_Batch]:
    batch = _Batch()
    for target in targets:
        for scan in scan_target(target):
            batch.add(scan)
            if batch.full:
                yield batch
                batch = _Batch()
    if batch.scans:
        yield batch


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class Ingester:
    """One ingest run inside the caller's write transaction."""

    def __init__(
        self,
        session: Session,
        roots: RootMap,
        event_id: int,
        hasher: Hasher,
        claim: ClaimSpec | None = None,
        parents: Sequence[ParentSpec] = (),
        progress: Progress | None = None,
        racy_window_ns: int = RACY_WINDOW_NS,
    ) -> None:
        self.session = session
        self.racy_window_ns = racy_window_ns
        self.roots = roots
        self.event_id = event_id
        self.hasher = hasher
        self.claim = claim
        self.parents = list(parents)
        self.progress = progress
        self.report = IngestReport(event_id=event_id)
        self._seen_files = 0
        self._seen_bytes = 0

    def run(self, targets: Sequence[bytes]) -> IngestReport:
        started = time.perf_counter()
        for batch in batches(targets):
            self._ingest_batch(batch)
        self.report.seconds = time.perf_counter() - started
        return self.report

    # -- one batch -----------------------------------------------------------------------------

    def _ingest_batch(self, batch: _Batch) -> None:
        assets = [asset for scan in batch.scans for asset in scan.assets]
        links = [link for scan in batch.scans for link in scan.links]
        for scan in batch.scans:
            self.report.skipped.extend(
                SkippedFile(s.path, s.reason.value, s.detail) for s in scan.skipped
            )
        digests = self._fingerprint(assets)
        self._record_links(links)
        self._record_assets(assets, digests)
        self._seen_files += batch.files
        self._seen_bytes += batch.bytes
        if self.progress is not None:
            self.progress(self._seen_files, self._seen_bytes, self.report.bytes_read)

    def _fingerprint(self, assets: list[ScannedAsset]) -> dict[bytes, tuple[str, StatFingerprint]]:
        """Digest and fingerprint of every file: from the stat cache when it can be trusted."""
        files = [member for asset in assets for member in asset.members]
        cached = self._cached_locations([f.path for f in files])
        digests: dict[bytes, tuple[str, StatFingerprint]] = {}
        to_hash: list[tuple[bytes, int]] = []
        for scanned in files:
            entry = cached.get(scanned.path)
            if (
                entry is not None
                and entry.digest is not None
                and is_cache_trusted(
                    entry.stat, entry.recorded_ns, scanned.stat, self.racy_window_ns
                )
            ):
                digests[scanned.path] = (entry.digest, scanned.stat)
                self.report.files_unchanged += 1
            else:
                to_hash.append((scanned.path, scanned.stat.size))
        self.report.bytes_total += sum(f.stat.size for f in files)
        if not to_hash:
            return digests
        results = self.hasher.hash_files(to_hash)
        recorded_ns = time.time_ns()
        fresh: list[HashResult] = []
        for result in results:
            if result.digest is None or result.stat is None:
                reason = result.skip or SkipReason.UNREADABLE
                self.report.skipped.append(SkippedFile(result.path, reason.value, result.detail))
                continue
            self.report.files_read += 1
            self.report.bytes_read += result.stat.size
            entry = cached.get(result.path)
            if entry is None:
                self.report.files_new += 1
            elif entry.digest == result.digest:
                self.report.files_unchanged += 1
            else:
                self.report.files_changed += 1
            digests[result.path] = (result.digest, result.stat)
            fresh.append(result)
        self._record_locations(fresh, cached, recorded_ns)
        return digests

    @dataclass(frozen=True)
    class _Cached:
        location_id: int
        digest: str | None
        stat: StatFingerprint
        recorded_ns: int

    def _cached_locations(self, paths: list[bytes]) -> dict[bytes, Ingester._Cached]:
        by_root: dict[int, dict[bytes, bytes]] = {}
        for path in paths:
            root_id, relative = self.roots.split(path)
            by_root.setdefault(root_id, {})[relative] = path
        found: dict[bytes, Ingester._Cached] = {}
        for root_id, relatives in by_root.items():
            for chunk in chunked(list(relatives)):
                rows = self.session.execute(
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
                    .where(Location.root_id == root_id, Location.path.in_(chunk))
                )
                for relative, loc_id, digest, size, mtime, ctime, inode, device, recorded in rows:
                    found[relatives[relative]] = Ingester._Cached(
                        loc_id, digest, StatFingerprint(size, mtime, ctime, inode, device), recorded
                    )
        return found

    # -- writes --------------------------------------------------------------------------------

    def _content_ids(self, pairs: dict[str, int]) -> dict[str, int]:
        """Ids for (digest -> size), inserting the digests the ledger has not seen."""
        ids: dict[str, int] = {}
        digests = list(pairs)
        for chunk in chunked(digests):
            for digest, content_id in self.session.execute(
                select(Content.digest, Content.id).where(Content.digest.in_(chunk))
            ):
                ids[digest] = content_id
        missing = [{"digest": d, "size": pairs[d]} for d in digests if d not in ids]
        if missing:
            self.session.execute(insert(Content), missing)
            for chunk in chunked([m["digest"] for m in missing]):
                for digest, content_id in self.session.execute(
                    select(Content.digest, Content.id).where(Content.digest.in_(chunk))
                ):
                    ids[digest] = content_id
        return ids

    def _record_locations(
        self, fresh: list[HashResult], cached: dict[bytes, Ingester._Cached], recorded_ns: int
    ) -> None:
        content_ids = self._content_ids(
            {r.digest: r.stat.size for r in fresh if r.digest and r.stat}
        )
        new_rows = []
        changed_rows = []
        for result in fresh:
            assert result.digest is not None and result.stat is not None
            root_id, relative = self.roots.split(result.path)
            values = {
                "content_id": content_ids[result.digest],
                "size": result.stat.size,
                "mtime_ns": result.stat.mtime_ns,
                "ctime_ns": result.stat.ctime_ns,
                "inode": result.stat.inode,
                "device": result.stat.device,
                "recorded_ns": recorded_ns,
            }
            entry = cached.get(result.path)
            if entry is None:
                new_rows.append(
                    {"root_id": root_id, "path": relative, "kind": LocationKind.FILE.value}
                    | values
                    | {"link_target": None}
                )
            else:
                changed_rows.append({"location_id": entry.location_id, **values})
        if new_rows:
            self.session.execute(insert(Location), new_rows)
        if changed_rows:
            self._update_locations(changed_rows)

    def _update_locations(self, rows: list[dict[str, int]]) -> None:
        statement = (
            update(Location)
            .where(Location.id == bindparam("location_id"))
            .values(
                kind=LocationKind.FILE.value,
                link_target=None,
                content_id=bindparam("content_id"),
                size=bindparam("size"),
                mtime_ns=bindparam("mtime_ns"),
                ctime_ns=bindparam("ctime_ns"),
                inode=bindparam("inode"),
                device=bindparam("device"),
                recorded_ns=bindparam("recorded_ns"),
            )
        )
        self.session.connection().execute(statement, rows)

    def _record_links(self, links: list[ScannedLink]) -> None:
        if not links:
            return
        self.report.links += len(links)
        self.report.escaping_links.extend(link.path for link in links if link.escapes)
        recorded_ns = time.time_ns()
        for link in links:
            root_id, relative = self.roots.split(link.path)
            values = {
                "kind": LocationKind.SYMLINK.value,
                "content_id": None,
                "link_target": link.target,
                "size": link.stat.size,
                "mtime_ns": link.stat.mtime_ns,
                "ctime_ns": link.stat.ctime_ns,
                "inode": link.stat.inode,
                "device": link.stat.device,
                "recorded_ns": recorded_ns,
            }
            existing = self.session.execute(
                select(Location.id).where(Location.root_id == root_id, Location.path == relative)
            ).scalar()
            if existing is None:
                self.session.execute(
                    insert(Location).values(root_id=root_id, path=relative, **values)
                )
            else:
                self.session.execute(
                    update(Location).where(Location.id == existing).values(**values)
                )

    def _record_assets(
        self, assets: list[ScannedAsset], digests: dict[bytes, tuple[str, StatFingerprint]]
    ) -> None:
        complete: list[tuple[ScannedAsset, list[tuple[int | None, str, int]]]] = []
        for asset in assets:
            missing = [m.path for m in asset.members if m.path not in digests]
            if missing:
                # Only whole assets are recorded: a sequence with an unreadable frame waits
                # until every frame can be read.
                continue
            members = [
                (m.frame, digests[m.path][0], digests[m.path][1].size) for m in asset.members
            ]
            complete.append((asset, members))
        if not complete:
            return
        content_ids = self._content_ids({d: size for _, ms in complete for _, d, size in ms})
        existing = self._existing_assets([a for a, _ in complete])
        now = now_utc()
        touched: list[int] = []
        for asset, members in complete:
            root_id, relative = self.roots.split(asset.pattern)
            aggregate = aggregate_digest((frame, digest) for frame, digest, _ in members)
            current = existing.get((root_id, relative))
            if current is not None and current[2] == aggregate:
                self.report.assets_unchanged += 1
                version_id = current[1]
                number = current[3]
                asset_id = current[0]
            else:
                if current is None:
                    asset_id = self.session.execute(
                        insert(Asset)
                        .values(
                            root_id=root_id,
                            pattern=relative,
                            kind=asset.kind.value,
                            latest_version=1,
                            created_at=now,
                        )
                        .returning(Asset.id)
                    ).scalar_one()
                    number = 1
                    self.report.assets_new += 1
                else:
                    asset_id = current[0]
                    number = current[3] + 1
                    self.session.execute(
                        update(Asset).where(Asset.id == asset_id).values(latest_version=number)
                    )
                    self.report.assets_changed += 1
                version_id = self.session.execute(
                    insert(AssetVersion)
                    .values(
                        asset_id=asset_id,
                        number=number,
                        digest=aggregate,
                        member_count=len(members),
                        total_size=sum(size for _, _, size in members),
                        status=AssetStatus.STANDARD.value,
                        created_at=now,
                        event_id=self.event_id,
                    )
                    .returning(AssetVersion.id)
                ).scalar_one()
                self.session.execute(
                    insert(Member),
                    [
                        {
                            "version_id": version_id,
                            "position": position,
                            "frame": frame,
                            "content_id": content_ids[digest],
                        }
                        for position, (frame, digest, _) in enumerate(members)
                    ],
                )
            touched.append(version_id)
            if asset.kind is not AssetKind.FILE:
                holes = asset.holes
                if holes:
                    self.report.holes[display_path(asset.pattern)] = holes
            self.report.assets.append(
                AssetRef(asset_id, version_id, number, asset.pattern, asset.kind.value, aggregate)
            )
        if self.claim is not None:
            self.report.claims_added += add_claims(
                self.session, touched, self.claim, self.event_id, skip_repeats=True
            )
        if self.parents:
            self.report.edges_added += add_edges(self.session, touched, self.parents, self.event_id)

    def _existing_assets(
        self, assets: Iterable[ScannedAsset]
    ) -> dict[tuple[int, bytes], tuple[int, int, str, int]]:
        """(root, pattern) -> (asset id, latest version id, its digest, its number)."""
        by_root: dict[int, list[bytes]] = {}
        for asset in assets:
            root_id, relative = self.roots.split(asset.pattern)
            by_root.setdefault(root_id, []).append(relative)
        found: dict[tuple[int, bytes], tuple[int, int, str, int]] = {}
        for root_id, patterns in by_root.items():
            for chunk in chunked(patterns):
                rows = self.session.execute(
                    select(
                        Asset.pattern,
                        Asset.id,
                        AssetVersion.id,
                        AssetVersion.digest,
                        AssetVersion.number,
                    )
                    .join(
                        AssetVersion,
                        (AssetVersion.asset_id == Asset.id)
                        & (AssetVersion.number == Asset.latest_version),
                    )
                    .where(Asset.root_id == root_id, Asset.pattern.in_(chunk))
                )
                for pattern, asset_id, version_id, digest, number in rows:
                    found[(root_id, pattern)] = (asset_id, version_id, digest, number)
        return found


# ---------------------------------------------------------------------------------------------
# Claims and edges, shared by ingest, tag and link


def add_claims(
    session: Session,
    version_ids: Sequence[int],
    claim: ClaimSpec,
    event_id: int,
    skip_repeats: bool,
) -> int:
    """Add `claim` to each version, then refresh each version's status. Returns claims added.

    With `skip_repeats`, a version whose newest claim already says exactly this gets none:
    ingesting the same tree twice adds no rows.
    """
    added = 0
    now = now_utc()
    for version_id in version_ids:
        if skip_repeats:
            latest = session.execute(
                select(
                    Claim.origin,
                    Claim.tool_id,
                    Claim.tool_version,
                    Claim.claimed_by,
                    Claim.evidence,
                    Claim.note,
                    Claim.resolves,
                )
                .where(Claim.version_id == version_id)
                .order_by(Claim.id.desc())
                .limit(1)
            ).first()
            wanted = (
                claim.origin.value,
                claim.tool_id,
                claim.tool_version,
                claim.claimed_by,
                claim.evidence.value,
                claim.note,
                claim.resolves,
            )
            if latest is not None and tuple(latest) == wanted:
                continue
        session.execute(
            insert(Claim).values(
                version_id=version_id,
                origin=claim.origin.value,
                tool_id=claim.tool_id,
                tool_version=claim.tool_version,
                claimed_by=claim.claimed_by,
                evidence=claim.evidence.value,
                detail=None,
                note=claim.note,
                resolves=claim.resolves,
                created_at=now,
                event_id=event_id,
            )
        )
        added += 1
        refresh_status(session, version_id)
    return added


def refresh_status(session: Session, version_id: int) -> None:
    """Store what the version's claims add up to: generated material is temporary."""
    rows = session.execute(
        select(Claim.origin, Claim.resolves)
        .where(Claim.version_id == version_id)
        .order_by(Claim.id)
    )
    summary = summarize_claims([ClaimFacts(Origin(o), bool(r)) for o, r in rows])
    status = AssetStatus.TEMPORARY if summary.generative else AssetStatus.STANDARD
    session.execute(
        update(AssetVersion).where(AssetVersion.id == version_id).values(status=status.value)
    )


def add_edges(
    session: Session, child_ids: Sequence[int], parents: Sequence[ParentSpec], event_id: int
) -> int:
    """Link each child to each parent, refusing cycles; an edge that exists already is kept."""
    added = 0
    now = now_utc()
    for child_id in child_ids:
        for parent in parents:
            if is_ancestor(session, child_id, parent.version_id):
                raise LineageCycle(
                    "That link would make an asset its own ancestor (a lineage cycle). "
                    "Check which asset was made from which; nothing was recorded."
                )
            exists = session.execute(
                select(LineageEdge.id).where(
                    LineageEdge.child_id == child_id,
                    LineageEdge.parent_id == parent.version_id,
                    LineageEdge.kind == parent.kind.value,
                )
            ).first()
            if exists is not None:
                continue
            session.execute(
                insert(LineageEdge).values(
                    child_id=child_id,
                    parent_id=parent.version_id,
                    kind=parent.kind.value,
                    created_at=now,
                    event_id=event_id,
                )
            )
            added += 1
    return added

"""The ingest: scanned files to contents, locations, asset versions, claims and lineage, in one transaction.

Data flows one way: scan (listing and stat) -> stat-cache decision (`stat_cache`) -> hash what
changed -> write the batch. Batches of a few thousand files keep memory flat on trees of any
size; the caller's transaction makes the whole run atomic. While the workers hash one batch, this
process scans the next one and writes the one before: the three stages overlap.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.orm import Session

from provenance.collector import cyclic_gc_paused
from provenance.detect import Signal
from provenance.detect.sniff import could_carry, worth_reading
from provenance.fingerprint import Hasher, aggregate_digest
from provenance.packed_refs import pack_folder
from provenance.records import IngestReport, SkippedFile, display_path
from provenance.scan import (
    LEDGER_FOLDERS,
    RACY_WINDOW_NS,
    DirectoryScan,
    ScannedAsset,
    ScannedLink,
    Sealed,
    StatFingerprint,
    looks_like_pattern,
    scan_folder,
    scan_target,
)
from provenance.stat_cache import Pending, StatCache
from provenance.store import bulk, locations
from provenance.store.claims import ClaimSpec, ParentSpec, add_claims, add_edges, carry_over
from provenance.store.events import UnitOfWork
from provenance.store.models import Asset, AssetVersion, Member
from provenance.store.queries import RootMap
from provenance.store.resolving import latest_in_folder
from provenance.store.rows import EventRows, LineDigests, path_text
from provenance.store.seals import (
    COPY_INTENT,
    PLAIN_INTENT,
    Seal,
    SealedAssets,
    drop_folders,
    load_sealed_assets,
    load_seals,
    write_seals,
)
from provenance.store.signals import PrintedFile, find_near_ai, near_ai_signal, record_signals

__all__ = [
    "SQLITE_CACHE_KIB",
    "Ingester",
    "Progress",
    "batches",
]


BATCH_FILES = 4096
BATCH_BYTES = 2 << 30
BATCH_SEALED_FILES = 32768
"""A file of a sealed folder costs its batch only its name and its share of the seal's packed
assets (about 110 bytes on a million tiny files), and large batches read seals in few queries:
an unchanged re-ingest of 100,000 files spent 22 ms reading seals in batches of 4,096 files,
11 ms in batches of 32,768."""
SQLITE_CACHE_KIB = 64 << 10

Progress = Callable[[int, int, int], None]
"""Called with (files seen, bytes seen, bytes read) as batches complete."""


@dataclass
class _Batch:
    scans: list[DirectoryScan] = field(default_factory=list)
    sealed: dict[bytes, SealedAssets] = field(default_factory=dict)
    """What the seals of the batch's sealed folders recorded (`Ingester._open_seals`)."""
    files: int = 0
    bytes: int = 0
    sealed_files: int = 0
    """Files of the batch's sealed folders: not fingerprinted, but the batch holds their names
    and reads their seals, so they end batches too (uncounted, an unchanged tree was walked
    into one batch holding every name in it)."""

    def add(self, scan: DirectoryScan) -> None:
        self.scans.append(scan)
        if scan.sealed:
            self.sealed_files += len(scan.names)
            return
        self.files += scan.file_count
        self.bytes += sum(m.stat.size for a in scan.assets for m in a.members)

    @property
    def full(self) -> bool:
        return (
            self.files >= BATCH_FILES
            or self.sealed_files >= BATCH_SEALED_FILES
            or self.bytes >= BATCH_BYTES
        )


def batches(targets: Sequence[bytes], sealed: Sealed | None = None) -> Iterator[_Batch]:
    batch = _Batch()
    for target in targets:
        for scan in scan_target(target, sealed, LEDGER_FOLDERS):
            batch.add(scan)
            if batch.full:
                yield batch
                batch = _Batch()
    if batch.scans:
        yield batch


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def targets_overlap(targets: Sequence[bytes]) -> bool:
    """Could two targets yield the same path (one folder inside another, two patterns in one folder)?"""
    bases = []
    for target in targets:
        target = os.path.abspath(target)
        if not os.path.lexists(target) and looks_like_pattern(os.fsdecode(target)):
            target = os.path.dirname(target)
        bases.append(target.rstrip(b"/") + b"/")
    return any(
        a.startswith(b) or b.startswith(a)
        for index, a in enumerate(bases)
        for b in bases[index + 1 :]
    )


# The lookup of every batch, built once (see bulk.select_in).
_LATEST_VERSIONS = (
    select(Asset.pattern, Asset.id, AssetVersion.id, AssetVersion.digest, AssetVersion.number)
    .join(
        AssetVersion,
        (AssetVersion.asset_id == Asset.id) & (AssetVersion.number == Asset.latest_version),
    )
    .where(Asset.root_id == bindparam("root"))
)


@dataclass(slots=True)
class _AssetPlan:
    """What one complete asset becomes: an unchanged version, or a new one (of a new asset or not)."""

    asset: ScannedAsset
    root_id: int
    relative: bytes
    aggregate: str
    members: list[tuple[int | None, str, int]]
    """(frame, digest, size) in frame order."""
    asset_id: int | None
    number: int
    version_id: int | None
    previous_version_id: int | None = None
    """The version this one supersedes: its lineage and likeness carry over."""


def _to_detect(assets: list[ScannedAsset], to_hash: list[tuple[bytes, int]]) -> frozenset[bytes]:
    """The files the workers also read the detectors on, right after hashing them: the first
    member of each asset, when it is read anyway and is of a type some detector reads."""
    hashed = {path for path, _ in to_hash}
    sidecars = {path for path in hashed if path.endswith(b".c2pa")}
    firsts = (asset.members[0].path for asset in assets if asset.members)
    return frozenset(p for p in firsts if p in hashed and worth_reading(p, sidecars))


class Ingester:
    """One ingest run inside the caller's write transaction."""

    def __init__(
        self,
        session: Session,
        roots: RootMap,
        unit: UnitOfWork,
        hasher: Hasher,
        claim: ClaimSpec | None = None,
        parents: Sequence[ParentSpec] = (),
        progress: Progress | None = None,
        racy_window_ns: int = RACY_WINDOW_NS,
        detect: bool = True,
        intent: str | None = None,
        scene_lineage: bool = False,
    ) -> None:
        self.session = session
        self.scene_lineage = scene_lineage
        """The parents came from the render's scene, which says everything it reads: a new
        version carries none of its predecessor's `contains` edges."""
        self.claimed: set[int] = set()
        """Versions this run claimed, or whose files carried signals: their claims may now
        disagree."""
        self.holding_known: set[int] = set()
        """New versions holding bytes the ledger held before (a copy of generated material?)."""
        self._known_contents: set[int] = set()
        self.intent = intent
        """What this ingest declares (`seals.intent_digest`); None: use and write no seals."""
        self._seals: dict[bytes, Seal] = {}
        self.racy_window_ns = racy_window_ns
        self.roots = roots
        self.unit = unit
        self.hasher = hasher
        self.claim = claim
        self.parents = list(parents)
        self.progress = progress
        self.report = IngestReport(event_id=unit.event_id)
        self.detect = detect
        """Read embedded provenance and perceptual fingerprints of new versions."""
        self.cache = StatCache(
            session,
            roots,
            hasher,
            racy_window_ns,
            report=self.report,
            to_detect=_to_detect if detect else None,
        )
        """Which files must be read; what the workers read from them as they hashed them
        (`detections`) waits there until their versions are written."""
        self._seen_files = 0
        self._seen_bytes = 0
        self._walked: tuple[bytes, ...] = ()
        """The folder targets (ending in `/`) whose walks may find sealed folders."""

    @property
    def _connection(self) -> Connection:
        # Core statements on the session's connection: same transaction, no ORM bookkeeping.
        return self.session.connection()

    def run(self, targets: Sequence[bytes]) -> IngestReport:
        with cyclic_gc_paused():
            return self._run(targets)

    def _run(self, targets: Sequence[bytes]) -> IngestReport:
        started = time.perf_counter()
        connection = self._connection
        if connection.dialect.name == "sqlite":
            # The digest indexes take rows at random places: with SQLite's default 2 MiB page
            # cache their pages spill and are read again (versions went from 10 to 6.7 us a row).
            connection.exec_driver_sql(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
        # Batch N is written once batch N+1 is scanned and handed to the workers. Targets that
        # overlap could list a path in both, and N+1 must then see what N wrote: one at a time.
        overlap = targets_overlap(targets)
        sealed: Sealed | None = None
        if not overlap:
            self.cache.new_folders = self.cache.unknown_folders(targets)
            if self.intent is not None:
                self._walked = tuple(
                    os.path.abspath(t).rstrip(b"/") + b"/" for t in targets if os.path.isdir(t)
                )
                self._seals = load_seals(connection, self.roots, self._walked)
                sealed = self._is_sealed
        pending: tuple[_Batch, Pending] | None = None
        for batch in batches(targets, sealed):
            if self._seals:
                batch = self._open_seals(batch)
            if overlap and pending is not None:
                self._finish(*pending)
                pending = None
            prepared = (batch, self._prepare(batch))
            if pending is not None:
                self._finish(*pending)
            pending = prepared
        if pending is not None:
            self._finish(*pending)
        self.report.seconds = time.perf_counter() - started
        return self.report

    def _is_sealed(self, folder: bytes, listing: str, newest_ns: int) -> bool:
        seal = self._seals.get(folder)
        return (
            seal is not None
            and seal.holds(listing, newest_ns, self.racy_window_ns)
            and seal.intent != COPY_INTENT  # (a sweep's: the folder was never ingested as it is)
            and (self.intent == PLAIN_INTENT or seal.intent == self.intent)
        )

    def _open_seals(self, batch: _Batch) -> _Batch:
        """The batch with what its sealed folders' seals recorded. A folder whose seal cannot
        be read here (packed on a machine of the other byte order) is scanned again, the usual
        way.

        Read a batch at a time, not with the seals: a million files' seals hold about 50 MB of
        packed assets, which the report needs only once it reaches their folders.
        """
        folders = [scan.folder for scan in batch.scans if scan.sealed and scan.folder is not None]
        if not folders:
            return batch
        found = load_sealed_assets(self._connection, self.roots, folders)
        # (A seal cannot vanish during the walk while writers are serialized; if one did,
        # reading its folder would still be right.)
        unreadable = {f for f in folders if f not in found or not found[f].readable}
        if not unreadable:
            batch.sealed = found
            return batch
        opened = _Batch(sealed=found)
        for scan in batch.scans:
            if scan.sealed and scan.folder in unreadable:
                top = next(t for t in self._walked if scan.folder.startswith(t))
                scan = scan_folder(scan.folder, top, skip=LEDGER_FOLDERS)[0]
            opened.add(scan)
        return opened

    # -- one batch -----------------------------------------------------------------------------

    def _ingest_batch(self, batch: _Batch) -> None:
        self._finish(batch, self._prepare(batch))

    def _prepare(self, batch: _Batch) -> Pending:
        return self.cache.start([asset for scan in batch.scans for asset in scan.assets])

    def _finish(self, batch: _Batch, pending: Pending) -> None:
        """Wait for the batch's digests and write it."""
        for scan in batch.scans:
            self.report.skipped.extend(
                SkippedFile(s.path, s.reason.value, s.detail) for s in scan.skipped
            )
            if scan.sealed:
                assert scan.folder is not None
                self._report_sealed(scan.folder, batch.sealed[scan.folder])
        digests, fresh = self.cache.collect(pending)
        plans = self._plan_assets(pending.assets, digests)
        wanted = {r.digest: r.stat.size for r in fresh if r.digest and r.stat}
        for plan in plans:
            if plan.version_id is None:
                wanted.update((digest, size) for _, digest, size in plan.members)
        connection = self._connection
        content_ids = locations.content_ids(connection, wanted, self._known_contents)
        locations.write_files(
            connection, self.roots, fresh, pending.cached, pending.recorded_ns, content_ids
        )
        self._record_links([link for scan in batch.scans for link in scan.links])
        self._record_assets(plans, content_ids)
        self.cache.detections.clear()  # read for versions that turned out unchanged
        if self.intent is not None:
            self._reseal(batch, plans, pending.recorded_ns)
        self._seen_files += batch.files
        self._seen_bytes += batch.bytes
        if self.progress is not None:
            self.progress(self._seen_files, self._seen_bytes, self.report.bytes_read)

    def _report_sealed(self, folder: bytes, seal: SealedAssets) -> None:
        report = self.report
        before = len(report.assets)
        report.assets.add_packed(folder, seal.refs)  # `_open_seals` checked their byte order
        report.assets_unchanged += len(report.assets) - before
        report.files_unchanged += seal.file_count
        report.bytes_total += seal.byte_count
        if seal.holes != "{}":
            report.holes.update(json.loads(seal.holes))
        self._seen_files += seal.file_count
        self._seen_bytes += seal.byte_count

    def _reseal(self, batch: _Batch, plans: list[_AssetPlan], recorded_ns: int) -> None:
        """Seal the folders of the batch that were recorded whole; drop the seals of every
        other folder an asset of the batch lies in (a file or pattern target changed it)."""
        assert self.intent is not None
        planned = {id(plan.asset): plan for plan in plans}
        sealing: list[tuple[bytes, Seal, SealedAssets]] = []
        dropping: list[bytes] = []
        for scan in batch.scans:
            if scan.sealed:
                continue
            if scan.folder is None:
                dropping.extend(a.pattern.rpartition(b"/")[0] + b"/" for a in scan.assets)
                continue
            seal = self._seal_of(scan, planned, recorded_ns)
            if seal is None:
                dropping.append(scan.folder)
            else:
                sealing.append((scan.folder, *seal))
        connection = self._connection
        drop_folders(connection, self.roots, [*dropping, *(folder for folder, *_ in sealing)])
        write_seals(connection, self.roots, sealing)

    def _seal_of(
        self, scan: DirectoryScan, planned: dict[int, _AssetPlan], recorded_ns: int
    ) -> tuple[Seal, SealedAssets] | None:
        """The seal of a folder recorded whole, or None when it cannot have one."""
        assert scan.folder is not None and scan.listing is not None and self.intent is not None
        if scan.links or scan.skipped or scan.newest_ns >= recorded_ns - self.racy_window_ns:
            return None
        refs = []
        holes: dict[str, list[int]] = {}
        files = size = 0
        cut = len(scan.folder)
        for asset in scan.assets:
            plan = planned.get(id(asset))
            if plan is None:
                return None  # not recorded whole: a file could not be read
            assert plan.asset_id is not None and plan.version_id is not None
            refs.append(
                (
                    plan.asset_id,
                    plan.version_id,
                    plan.number,
                    asset.pattern[cut:],
                    asset.kind.value,
                    plan.aggregate,
                )
            )
            files += len(asset.members)
            size += sum(m.stat.size for m in asset.members)
            if asset.holes:
                holes[display_path(asset.pattern)] = asset.holes
        # The seal stands for the folder's assets: any other asset recorded there (a frame
        # once ingested by name, an old pattern) would be resolved differently file by file.
        root_id, prefix = self.roots.split_folder(scan.folder)
        if not prefix:
            return None  # the top of a root has no range of its own to check
        if not scan.folder.startswith(self.cache.new_folders):
            # (A folder the ledger held nothing under before this run holds no other asset.)
            recorded = latest_in_folder(self._connection, root_id, prefix)
            made = sorted((name, version) for _, version, _, name, *_ in refs)
            if sorted(recorded.items()) != made:
                return None
        packed = pack_folder(refs)
        if packed is None:
            return None
        return (
            Seal(scan.listing, recorded_ns, self.intent),
            SealedAssets(files, size, packed, json.dumps(holes)),
        )

    def _record_links(self, links: list[ScannedLink]) -> None:
        if not links:
            return
        self.report.links += len(links)
        self.report.escaping_links.extend(link.path for link in links if link.escapes)
        locations.write_links(self._connection, self.roots, links)

    def _plan_assets(
        self, assets: list[ScannedAsset], digests: dict[bytes, tuple[str, StatFingerprint]]
    ) -> list[_AssetPlan]:
        """The complete assets of a batch, each with its aggregate and what the ledger holds."""
        complete: list[tuple[ScannedAsset, list[tuple[int | None, str, int]], int, bytes]] = []
        split = self.roots.split
        for asset in assets:
            members: list[tuple[int | None, str, int]] = []
            for member in asset.members:
                found = digests.get(member.path)
                if found is None:
                    # Only whole assets are recorded: a sequence with an unreadable frame
                    # waits until every frame can be read.
                    break
                members.append((member.frame, found[0], found[1].size))
            else:
                complete.append((asset, members, *split(asset.pattern)))
        new = self.cache.new_folders
        existing = self._existing_assets(
            [(root, relative) for a, _, root, relative in complete if not a.pattern.startswith(new)]
        )
        plans = []
        for asset, members, root_id, relative in complete:
            aggregate = aggregate_digest((frame, digest) for frame, digest, _ in members)
            current = existing.get((root_id, relative))
            if current is None:
                plan = _AssetPlan(asset, root_id, relative, aggregate, members, None, 1, None)
            elif current[2] == aggregate:
                plan = _AssetPlan(
                    asset, root_id, relative, aggregate, members, current[0], current[3], current[1]
                )
            else:
                plan = _AssetPlan(
                    asset,
                    root_id,
                    relative,
                    aggregate,
                    members,
                    current[0],
                    current[3] + 1,
                    None,
                    previous_version_id=current[1],
                )
            plans.append(plan)
        return plans

    def _record_assets(self, plans: list[_AssetPlan], content_ids: dict[str, int]) -> None:
        if not plans:
            return
        unit = self.unit
        connection = self._connection
        report = self.report
        now = bulk.driver_value(connection, bulk.table_of(Asset).c.created_at, unit.at)
        # New assets, then the new versions of new and changed ones: one statement each, with
        # ids taken up front so that nothing needs to be read back.
        created = [p for p in plans if p.asset_id is None]
        asset_ids = bulk.allocate_ids(connection, bulk.table_of(Asset), len(created))
        for plan, asset_id in zip(created, asset_ids, strict=True):
            plan.asset_id = asset_id
        bulk.insert_rows(
            connection,
            bulk.table_of(Asset),
            ("id", "root_id", "pattern", "kind", "latest_version", "created_at"),
            [(p.asset_id, p.root_id, p.relative, p.asset.kind.value, 1, now) for p in created],
        )
        changed = [p for p in plans if p.version_id is None and p.number > 1]
        bulk.update_rows(
            connection,
            bulk.table_of(Asset),
            "id",
            ("latest_version",),
            [(p.asset_id, p.number) for p in changed],
        )
        versioned = [p for p in plans if p.version_id is None]
        version_ids = bulk.allocate_ids(connection, bulk.table_of(AssetVersion), len(versioned))
        for plan, version_id in zip(versioned, version_ids, strict=True):
            plan.version_id = version_id
        bulk.insert_rows(
            connection,
            bulk.table_of(AssetVersion),
            (
                "id",
                "asset_id",
                "number",
                "digest",
                "member_count",
                "total_size",
                "created_at",
                "event_id",
            ),
            [
                (
                    p.version_id,
                    p.asset_id,
                    p.number,
                    p.aggregate,
                    len(p.members),
                    sum(size for _, _, size in p.members),
                    now,
                    unit.event_id,
                )
                for p in versioned
            ],
        )
        bulk.insert_rows(
            connection,
            bulk.table_of(Member),
            ("version_id", "position", "frame", "content_id"),
            [
                (p.version_id, position, frame, content_ids[digest])
                for p in versioned
                for position, (frame, digest, _) in enumerate(p.members)
            ],
        )
        self._commit_to(versioned)
        touched: list[int] = []
        for plan in plans:
            assert plan.asset_id is not None and plan.version_id is not None
            touched.append(plan.version_id)
        known = self._known_contents
        self.holding_known.update(
            p.version_id
            for p in versioned
            if p.version_id is not None and any(content_ids[d] in known for _, d, _ in p.members)
        )

        carry_over(
            self.session,
            [
                (p.previous_version_id, p.version_id)
                for p in changed
                if p.previous_version_id is not None and p.version_id is not None
            ],
            unit,
            stated=[p.version_id for p in self.parents],
            contains=not self.scene_lineage,
        )
        report.assets_new += len(created)
        report.assets_changed += len(changed)
        report.assets_unchanged += len(plans) - len(versioned)
        for plan in plans:
            asset = plan.asset
            assert plan.asset_id is not None and plan.version_id is not None
            holes = asset.holes
            if holes:
                report.holes[display_path(asset.pattern)] = holes
            report.assets.add(
                plan.asset_id,
                plan.version_id,
                plan.number,
                asset.pattern,
                asset.kind.value,
                plan.aggregate,
            )
        if self.claim is not None:
            report.claims_added += len(
                add_claims(self.session, touched, self.claim, unit, skip_repeats=True)
            )
            self.claimed.update(touched)
        if self.parents:
            report.edges_added += add_edges(self.session, touched, self.parents, unit)
        if self.detect:
            sidecars = {
                member.path
                for plan in plans
                if plan.asset.pattern.endswith(b".c2pa")
                for member in plan.asset.members
            }
            self._record_detections(versioned, content_ids, sidecars)

    def _record_detections(
        self, versioned: list[_AssetPlan], content_ids: dict[str, int], sidecars: set[bytes]
    ) -> None:
        """Read what each new version's files say about themselves, and record it.

        A sequence is read at its first frame: generators and signers mark every frame alike,
        and decoding thousands of frames for one fingerprint would cost more than the hashing.
        """
        if not versioned:
            return
        # Loaded on first use: the readers bring numpy, Pillow and the c2pa library, which a
        # command that reads no file (show, history, tag) should not wait for.
        versioned = [p for p in versioned if worth_reading(p.asset.members[0].path, sidecars)]
        firsts = [plan.asset.members[0].path for plan in versioned]
        # Read by the workers as they hashed; a version made of files the stat cache vouched
        # for (fingerprinted by an earlier sweep) is read here.
        taken = self.cache.detections
        read = {path: taken.pop(path) for path in firsts if path in taken}
        missing = [path for path in firsts if path not in read and could_carry(path)]
        if missing:
            from provenance.detect.files import detect_files  # numpy, Pillow, c2pa: first use

            read.update(zip(missing, detect_files(missing, self.hasher.workers), strict=True))
        versioned = [plan for plan, path in zip(versioned, firsts, strict=True) if read.get(path)]
        if not versioned:
            return
        from provenance.store.perceptual import record_prints  # numpy: on first use

        detections = [
            entry for plan in versioned if (entry := read[plan.asset.members[0].path]) is not False
        ]
        printed = [
            (plan, content_ids[plan.members[0][1]], detection)
            for plan, detection in zip(versioned, detections, strict=True)
            if detection.prints is not None
        ]
        record_prints(self.session, [(c, d.prints.stored) for _, c, d in printed if d.prints])
        matches = find_near_ai(
            self.session,
            self.roots,
            {
                c: PrintedFile(d.path, d.prints)
                for _, c, d in printed
                if d.prints and d.prints.stored
            },
        )
        self.report.unprinted.extend(
            (plan.asset.pattern, problem)
            for plan, _, detection in printed
            if (problem := detection.unprintable) is not None
        )
        found: list[tuple[int, Signal]] = []
        for plan, detection in zip(versioned, detections, strict=True):
            assert plan.version_id is not None
            found.extend((plan.version_id, signal) for signal in detection.signals)
            near = [
                match
                for match in matches.get(content_ids[plan.members[0][1]], [])
                if match.version_id != plan.version_id
            ]
            if near:
                found.append((plan.version_id, near_ai_signal(near)))
        claimed = record_signals(self.session, found, self.unit.event_id, self.unit.at)
        self.claimed.update(version_id for version_id, _ in found)
        self.report.claims_added += len(claimed)
        patterns = {plan.version_id: plan.asset.pattern for plan in versioned}
        self.report.signals.extend((patterns[version_id], signal) for version_id, signal in found)

    def _commit_to(self, versioned: list[_AssetPlan]) -> None:
        """Hand the ingest event the canonical rows of the versions and members just written
        (it would otherwise read them back: a second of a 100,000-file ingest), a batch at a
        time: past INLINE_ROWS versions, only their count and digest are kept."""
        roots = self.roots
        root_text = {
            root_id: path_text(roots.name_of(root_id)) for root_id in {p.root_id for p in versioned}
        }
        unit = self.unit
        versions = unit.written.get("asset_versions")
        if versions is None:
            versions = unit.written["asset_versions"] = EventRows("asset_versions")
        members = unit.lines.setdefault("members", LineDigests())
        event_id = unit.event_id
        for plan in versioned:
            versions.add(
                (
                    plan.version_id,
                    root_text[plan.root_id],
                    path_text(plan.relative),
                    plan.asset.kind.value,
                    plan.number,
                    plan.aggregate,
                    len(plan.members),
                    sum(size for _, _, size in plan.members),
                )
            )
            for position, (frame, digest, size) in enumerate(plan.members):
                members.add(event_id, (plan.version_id, position, frame, digest, size))

    def _existing_assets(
        self, patterns: Iterable[tuple[int, bytes]]
    ) -> dict[tuple[int, bytes], tuple[int, int, str, int]]:
        """(root, pattern) -> (asset id, latest version id, its digest, its number)."""
        by_root: dict[int, list[bytes]] = {}
        for root_id, relative in patterns:
            by_root.setdefault(root_id, []).append(relative)
        found: dict[tuple[int, bytes], tuple[int, int, str, int]] = {}
        connection = self._connection
        for root_id, relatives in by_root.items():
            for pattern, asset_id, version_id, digest, number in bulk.select_in(
                connection, _LATEST_VERSIONS, Asset.pattern, relatives, {"root": root_id}
            ):
                found[(root_id, pattern)] = (asset_id, version_id, digest, number)
        return found

"""Reading a delivery: a folder, a list of paths, a CSV pull list, or an OpenTimelineIO cut.

Pure: lists and stats files (never reads their contents) and never touches the ledger.
"""

from __future__ import annotations

import csv
import enum
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from provenance.errors import BadPattern, ProvenanceError, TargetNotFound
from provenance.scan import (
    AssetKind,
    DirectoryScan,
    ScannedAsset,
    ScannedFile,
    Sealed,
    Skipped,
    SkipReason,
    canonical_pattern,
    looks_like_pattern,
    parse_pattern,
    scan_folder,
    scan_pattern,
    scan_target,
)

MANIFEST_NAME = b"provenance-manifest.json"
MANIFEST_SUFFIX = b".provenance-manifest.json"

FINAL = "FINAL"
# Files read as lists of paths, one a line (a file without an extension is read as one too).
LIST_EXTENSIONS = (b".txt", b".lst", b".list")


class DeliveryKind(str, enum.Enum):
    FOLDER = "folder"
    LIST = "list"
    CSV = "csv"
    OTIO = "otio"


def manifest_path(kind: DeliveryKind, source: bytes, home: bytes) -> bytes:
    """Where a finalized delivery's manifest goes: inside a folder, or beside a list named for it
    (two lists in one folder must not overwrite each other's manifest)."""
    if kind is DeliveryKind.FOLDER:
        return os.path.join(home, MANIFEST_NAME)
    stem = os.path.splitext(os.path.basename(source))[0]
    return os.path.join(home, stem + MANIFEST_SUFFIX)


@dataclass(frozen=True)
class DeliveredSequence:
    pattern: bytes
    missing: tuple[int, ...]
    """Frames missing inside the range the delivery names (or between its first and last)."""


@dataclass(frozen=True)
class FolderRead:
    """A folder of a folder delivery, read whole: what a sweep needs to seal it as copies."""

    folder: bytes
    """Absolute, ending in `/`."""
    listing: str
    newest_ns: int
    spans: range
    """Its assets, as indexes into `Delivery.asset_spans`."""
    kinds: tuple[AssetKind, ...]
    """The kind of each of its assets, in the same order."""
    complete: bool
    """Every entry of the folder is a file of one of its assets (no link, special or unreadable
    file, no manifest): a seal can stand for the folder."""


@dataclass
class Delivery:
    kind: DeliveryKind
    source: bytes
    """The folder, list, CSV or timeline that names the delivery."""
    home: bytes
    """The folder the manifest is written to."""
    files: list[ScannedFile] = field(default_factory=list)
    sequences: list[DeliveredSequence] = field(default_factory=list)
    missing: list[bytes] = field(default_factory=list)
    """Files or patterns the delivery names that do not exist."""
    skipped: list[Skipped] = field(default_factory=list)
    ignored_rows: int = 0
    """CSV rows not submitted as FINAL."""
    sealed: list[DirectoryScan] = field(default_factory=list)
    """Folders the ledger vouched for whole (see `store.seals`): their files are not in `files`
    until the finalizer expands them from their seals."""
    asset_spans: list[tuple[int, int]] = field(default_factory=list)
    """Where each asset as delivered lies in `files` (start, stop), in order: a copy of a
    recorded asset is resolved whole, not file by file."""
    asset_patterns: list[bytes] = field(default_factory=list)
    """The pattern (or path) of each asset of `asset_spans`."""
    folders: list[FolderRead] = field(default_factory=list)
    """The folders of a folder delivery that were read (not vouched for by a seal)."""
    manifest: ScannedFile | None = None
    """A file at this delivery's own manifest path (`manifest_at`), set aside until the
    finalizer knows whether its bytes are a manifest a finalize recorded (then it is not part
    of the delivery) or not (then it is judged like any other file: `judge_manifest`)."""

    @property
    def manifest_at(self) -> bytes:
        """Where this delivery's manifest is written: the one path a sweep may leave out."""
        return manifest_path(self.kind, self.source, self.home)

    def add_folder(self, scan: DirectoryScan) -> None:
        """One folder of a folder delivery's walk (`scan.folder` set)."""
        if scan.folder is None or scan.listing is None:  # (it vanished, or cannot be listed)
            self.add_scan(scan)
            return
        first = len(self.asset_spans)
        held = self.manifest
        self.add_scan(scan)
        kept = [asset for asset in scan.assets if not self._is_own_manifest(asset)]
        self.folders.append(
            FolderRead(
                scan.folder,
                scan.listing,
                scan.newest_ns,
                range(first, len(self.asset_spans)),
                tuple(asset.kind for asset in kept),
                complete=not (scan.skipped or scan.links) and self.manifest is held,
            )
        )

    def add_scan(self, scan: DirectoryScan, expected: Iterable[int] | None = None) -> None:
        for asset in scan.assets:
            self.add_asset(asset, expected)
        self.skipped.extend(scan.skipped)
        # A link in a delivery is delivered as whatever it points to; the finalizer cannot vouch
        # for that without following it, so it is listed as skipped.
        self.skipped.extend(
            Skipped(link.path, SkipReason.SPECIAL, "symlink") for link in scan.links
        )

    def _is_own_manifest(self, asset: ScannedAsset) -> bool:
        return asset.kind is AssetKind.FILE and asset.pattern == self.manifest_at

    def add_asset(self, asset: ScannedAsset, expected: Iterable[int] | None = None) -> None:
        if self._is_own_manifest(asset):
            self.manifest = asset.members[0]
            return
        self._add(asset, expected)

    def judge_manifest(self) -> None:
        """The file at the manifest path is not a manifest a finalize recorded: it ships, and
        is judged like any other file."""
        if self.manifest is not None:
            self._add(ScannedAsset(AssetKind.FILE, self.manifest.path, [self.manifest]))
            self.manifest = None

    def _add(self, asset: ScannedAsset, expected: Iterable[int] | None = None) -> None:
        wanted = set(expected) if expected is not None else None
        if wanted is not None and asset.kind is not AssetKind.FILE:
            # A named range delivers only its frames, whatever else lies in the folder.
            asset = replace(asset, members=[m for m in asset.members if m.frame in wanted])
        start = len(self.files)
        self.files.extend(asset.members)
        self.asset_spans.append((start, len(self.files)))
        self.asset_patterns.append(asset.pattern)
        if asset.kind is AssetKind.FILE:
            return
        if wanted is not None:
            gaps = sorted(wanted - {m.frame for m in asset.members})
        else:
            gaps = asset.holes
        self.sequences.append(DeliveredSequence(asset.pattern, tuple(gaps)))


def read_delivery(
    source: bytes,
    sealed: Sealed | None = None,
    after_folder: Callable[[Delivery], None] | None = None,
) -> Delivery:
    """Whatever `source` is: a folder, a `.csv` pull list, an `.otio` timeline, a path list
    (`.txt`, `.lst`, `.list`), or a single file delivered on its own.

    `after_folder` is called with the delivery so far after each folder a folder delivery's walk
    reads (so that its files can be hashed while the walk goes on)."""
    source = os.path.abspath(source)
    if os.path.isdir(source):
        return _read_folder(source, sealed, after_folder)
    if not os.path.exists(source):
        raise TargetNotFound(
            f"The delivery {os.fsdecode(source)!r} does not exist. Give a folder, a text file "
            "listing paths, a CSV pull list or an .otio timeline."
        )
    lowered = source.lower()
    if lowered.endswith(b".csv"):
        return _read_csv(source)
    if lowered.endswith(b".otio"):
        return _read_otio(source)
    if lowered.endswith(LIST_EXTENSIONS) or b"." not in os.path.basename(lowered):
        return _read_list(source)
    # Any other file (an image, a movie, a frame) is a delivery of that one file.
    delivery = Delivery(DeliveryKind.LIST, source, os.path.dirname(source))
    _scan_named(delivery, source)
    return delivery


def _read_folder(
    folder: bytes, sealed: Sealed | None, after_folder: Callable[[Delivery], None] | None
) -> Delivery:
    delivery = Delivery(DeliveryKind.FOLDER, folder, folder)
    for scan in scan_target(folder, sealed):
        if scan.sealed:
            delivery.sealed.append(scan)
            continue
        delivery.add_folder(scan)
        if after_folder is not None:
            after_folder(delivery)
    return delivery


def rescan_folder(folder: bytes, top: bytes) -> DirectoryScan:
    """One folder of a folder delivery (ending in `/`), read without its seal (hand it to
    `Delivery.add_folder`)."""
    scan, _ = scan_folder(folder, top)
    return scan


def _scan_named(delivery: Delivery, path: bytes, expected: Iterable[int] | None = None) -> None:
    try:
        for scan in scan_target(path):
            delivery.add_scan(scan, expected)
    except (TargetNotFound, BadPattern):
        delivery.missing.append(path)
        if expected is not None and looks_like_pattern(os.fsdecode(path)):
            pattern = canonical_pattern(parse_pattern(path))
            delivery.sequences.append(DeliveredSequence(pattern, tuple(sorted(expected))))


def _read_list(source: bytes) -> Delivery:
    home = os.path.dirname(source)
    delivery = Delivery(DeliveryKind.LIST, source, home)
    try:
        with open(source, "rb") as handle:
            lines = handle.read().splitlines()
    except OSError as exc:
        raise ProvenanceError(f"Cannot read {os.fsdecode(source)!r}: {exc.strerror}.") from None
    if b"\x00" in b"".join(lines[:50]):
        raise ProvenanceError(
            f"{os.fsdecode(source)!r} is not a text list of paths. Give a folder, a text file "
            "(.txt) with one path a line, a .csv pull list, an .otio timeline, or one media file."
        )
    for line in lines:
        entry = line.strip()
        if not entry or entry.startswith(b"#"):
            continue
        _scan_named(delivery, os.path.normpath(os.path.join(home, entry)))
    return delivery


_CSV_COLUMNS = {"filename": "filename", "relative path": "relative", "submitting for": "submitting"}
_RANGE = re.compile(r"^\s*(-?\d+)\s*[-:]\s*(-?\d+)\s*$")


def _read_csv(source: bytes) -> Delivery:
    """A pull list in the style of Netflix's delivery manifests; only FINAL rows are delivered."""
    home = os.path.dirname(source)
    delivery = Delivery(DeliveryKind.CSV, source, home)
    try:
        with open(source, newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ProvenanceError(
            f"Cannot read the pull list {os.fsdecode(source)!r}: {exc}."
        ) from None
    if not rows:
        raise ProvenanceError(f"The pull list {os.fsdecode(source)!r} has no rows.")
    columns = {(name or "").strip().lower(): name for name in rows[0]}
    missing_columns = [c for c in ("filename", "submitting for") if c not in columns]
    if missing_columns:
        raise ProvenanceError(
            f"The pull list {os.fsdecode(source)!r} has no {' or '.join(missing_columns)!r} "
            "column. A pull list needs Filename and Submitting For (and usually Relative Path)."
        )
    for number, row in enumerate(rows, start=2):
        status = (row.get(columns["submitting for"]) or "").strip().upper()
        if status != FINAL:
            delivery.ignored_rows += 1
            continue
        filename = (row.get(columns["filename"]) or "").strip()
        if not filename:
            raise ProvenanceError(f"Row {number} of {os.fsdecode(source)!r} has no Filename.")
        relative = (row.get(columns.get("relative path", ""), "") or "").strip()
        path = os.path.normpath(os.path.join(home, os.fsencode(relative), os.fsencode(filename)))
        _scan_named(delivery, path, _expected_frames(row, columns, number, source))
    return delivery


def _expected_frames(
    row: dict[str, str], columns: dict[str, str], number: int, source: bytes
) -> range | None:
    for key in ("frames", "frame range"):
        if key in columns and (row.get(columns[key]) or "").strip():
            match = _RANGE.match(row[columns[key]])
            if match is None:
                raise ProvenanceError(
                    f"Row {number} of {os.fsdecode(source)!r}: frame range "
                    f"{row[columns[key]]!r} should look like 1001-1100."
                )
            return range(int(match.group(1)), int(match.group(2)) + 1)
    for first_key, last_key in (("first frame", "last frame"), ("frame in", "frame out")):
        if first_key in columns and last_key in columns:
            first, last = (
                (row.get(columns[first_key]) or "").strip(),
                (row.get(columns[last_key]) or "").strip(),
            )
            if first and last:
                try:
                    return range(int(first), int(last) + 1)
                except ValueError:
                    raise ProvenanceError(
                        f"Row {number} of {os.fsdecode(source)!r}: {first!r}/{last!r} are not frames."
                    ) from None
    return None


def _read_otio(source: bytes) -> Delivery:
    """Only the frames the cut uses, from each clip's ImageSequenceReference and source range."""
    try:
        import opentimelineio as otio
    except ImportError:
        raise ProvenanceError(
            "Reading .otio timelines needs OpenTimelineIO: pip install 'provenance[otio]'."
        ) from None
    home = os.path.dirname(source)
    delivery = Delivery(DeliveryKind.OTIO, source, home)
    try:
        timeline = otio.adapters.read_from_file(os.fsdecode(source))
    except Exception as exc:  # OTIO raises many kinds; all mean the same to the user
        raise ProvenanceError(f"Cannot read the timeline {os.fsdecode(source)!r}: {exc}.") from None
    for clip in timeline.find_clips():
        reference = clip.media_reference
        if isinstance(reference, otio.schema.ImageSequenceReference):
            used = clip.trimmed_range()
            first = reference.frame_for_time(used.start_time)
            last = reference.frame_for_time(used.end_time_inclusive())
            base = _otio_path(home, reference.target_url_base)
            padding = "#" * reference.frame_zero_padding if reference.frame_zero_padding else "#"
            pattern = os.path.join(
                base, os.fsencode(reference.name_prefix + padding + reference.name_suffix)
            )
            _scan_pattern_frames(delivery, pattern, range(int(first), int(last) + 1))
        elif isinstance(reference, otio.schema.ExternalReference):
            _scan_named(delivery, _otio_path(home, reference.target_url))
    return delivery


def _scan_pattern_frames(delivery: Delivery, pattern_path: bytes, frames: range) -> None:
    pattern = parse_pattern(pattern_path)
    try:
        scan = scan_pattern(replace(pattern, frames=frozenset(frames)))
    except BadPattern:
        delivery.missing.append(canonical_pattern(pattern))
        delivery.sequences.append(DeliveredSequence(canonical_pattern(pattern), tuple(frames)))
        return
    delivery.add_scan(scan, frames)


def _otio_path(home: bytes, url: str) -> bytes:
    if url.startswith("file://"):
        from urllib.parse import unquote, urlparse

        url = unquote(urlparse(url).path)
    return os.path.normpath(os.path.join(home, os.fsencode(url)))

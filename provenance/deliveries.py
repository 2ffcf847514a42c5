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
from provenance.roots import written_path
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

__all__ = [
    "LEFTOVER_NAME",
    "MAX_RANGE_FRAMES",
    "DeliveredSequence",
    "Delivery",
    "DeliveryKind",
    "manifest_path",
    "read_delivery",
    "rescan_folder",
]


MANIFEST_NAME = b"provenance-manifest.json"
MANIFEST_SUFFIX = b".provenance-manifest.json"
LEFTOVER_NAME = re.compile(rb"\.provenance-manifest\.(?:staging\.[0-9a-f]{16}|[a-z0-9_]{8})")
"""The name of a staged manifest (and of one staged by earlier versions): a file so named is set
aside until the finalizer knows whether it is a killed finalize's leftover (`manifests`)."""

FINAL = "FINAL"
_DRIVE_URL = re.compile(r"^/[A-Za-z]:/")
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
    leftovers: list[ScannedFile] = field(default_factory=list)
    """Files named like a staged manifest (`LEFTOVER_NAME`), set aside until the finalizer knows
    whether each is a killed finalize's leftover (left out) or not (judged: `judge_leftover`)."""

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
        set_aside = len(self.leftovers)
        self.add_scan(scan)
        kept = [asset for asset in scan.assets if not self._set_aside(asset)]
        self.folders.append(
            FolderRead(
                scan.folder,
                scan.listing,
                scan.newest_ns,
                range(first, len(self.asset_spans)),
                tuple(asset.kind for asset in kept),
                complete=not (scan.skipped or scan.links)
                and self.manifest is held
                and len(self.leftovers) == set_aside,
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

    def _set_aside(self, asset: ScannedAsset) -> bool:
        return self._is_own_manifest(asset) or (
            asset.kind is AssetKind.FILE
            and LEFTOVER_NAME.fullmatch(os.path.basename(asset.pattern)) is not None
        )

    def add_asset(self, asset: ScannedAsset, expected: Iterable[int] | None = None) -> None:
        if self._is_own_manifest(asset):
            self.manifest = asset.members[0]
            return
        if self._set_aside(asset):
            self.leftovers.append(asset.members[0])
            return
        self._add(asset, expected)

    def judge_leftover(self, leftover: ScannedFile) -> None:
        """A file named like a staged manifest that is not a killed finalize's leftover: it
        ships, and is judged like any other file."""
        self.leftovers.remove(leftover)
        self._add(ScannedAsset(AssetKind.FILE, leftover.path, [leftover]))

    def judge_manifest(self) -> None:
        """The file at the manifest path is not a manifest a finalize recorded: it ships, and
        is judged like any other file."""
        if self.manifest is not None:
            self._add(ScannedAsset(AssetKind.FILE, self.manifest.path, [self.manifest]))
            self.manifest = None

    def _add(self, asset: ScannedAsset, expected: Iterable[int] | None = None) -> None:
        # (A range stays a range: membership is arithmetic, however many frames it names.)
        wanted = expected if expected is None or isinstance(expected, range) else set(expected)
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
            present = {m.frame for m in asset.members}
            gaps = sorted(frame for frame in wanted if frame not in present)
        else:
            gaps = asset.holes
        self.sequences.append(DeliveredSequence(asset.pattern, tuple(gaps)))


def read_delivery(
    source: bytes,
    sealed: Sealed | None = None,
    after_folder: Callable[[Delivery], None] | None = None,
    localize: Callable[[bytes], bytes] | None = None,
) -> Delivery:
    """Whatever `source` is: a folder, a `.csv` pull list, an `.otio` timeline, a path list
    (`.txt`, `.lst`, `.list`), or a single file delivered on its own.

    `after_folder` is called with the delivery so far after each folder a folder delivery's walk
    reads (so that its files can be hashed while the walk goes on). `localize` places an
    `.otio` cut's media, spelled as the cut writes it (`roots.written_path`), on this machine
    (a scene's cut); without it, media paths are read from the cut's folder as they are."""
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
        return _read_otio(source, localize)
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
_OTHER_DELIMITERS = {";": "semicolons (;)", "\t": "tabs", "|": "vertical bars (|)"}

MAX_RANGE_FRAMES = 1_000_000
"""Most frames one row of a pull list (or one clip of a cut) may name: 11.5 hours at 24 fps.
A range is checked against the files on disk without being spelled out, but the frames missing
from it are listed, so an absurd range is refused with its row instead."""


def _read_csv(source: bytes) -> Delivery:
    """A pull list in the style of Netflix's delivery manifests; only FINAL rows are delivered.

    Refused rather than guessed at, since the list decides what ships: a quoted field that is
    never closed (every row after it would vanish into it), a row that spans lines, columns
    separated by anything but commas."""
    home = os.path.dirname(source)
    delivery = Delivery(DeliveryKind.CSV, source, home)
    shown = repr(os.fsdecode(source))
    try:
        with open(source, newline="", encoding="utf-8-sig") as handle:
            rows = _csv_rows(handle, shown)
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else f"not UTF-8 text: {exc.reason}"
        raise ProvenanceError(f"Cannot read the pull list {shown} ({reason}).") from None
    if not rows:
        raise ProvenanceError(f"The pull list {shown} has no rows.")
    _, header = rows[0]
    columns = {(name or "").strip().lower(): index for index, name in enumerate(header)}
    missing_columns = [c for c in ("filename", "submitting for") if c not in columns]
    if missing_columns:
        seen = _other_delimiter(header)
        if seen:
            raise ProvenanceError(
                f"The pull list {shown} separates its columns with {seen}, not commas. Save "
                "it as comma-separated CSV (a spreadsheet set to another locale uses ;)."
            )
        raise ProvenanceError(
            f"The pull list {shown} has no {' or '.join(missing_columns)!r} "
            "column. A pull list needs Filename and Submitting For (and usually Relative Path)."
        )

    for line, fields in rows[1:]:
        row = {
            name: fields[index] if index < len(fields) else "" for name, index in columns.items()
        }
        status = row["submitting for"].strip().upper()
        if status != FINAL:
            delivery.ignored_rows += 1
            continue
        filename = row["filename"].strip()
        if not filename:
            raise ProvenanceError(f"Line {line} of {shown} has no Filename.")
        relative = row.get("relative path", "").strip()
        path = os.path.normpath(os.path.join(home, os.fsencode(relative), os.fsencode(filename)))
        _scan_named(delivery, path, _expected_frames(row, f"Line {line} of {shown}"))
    return delivery


def _csv_rows(handle: Iterable[str], shown: str) -> list[tuple[int, list[str]]]:
    """Every row of a CSV file with the line it starts on; refuses a row that spans lines."""
    reader = csv.reader(handle, strict=True)
    rows = []
    line = 1
    try:
        for fields in reader:
            if reader.line_num != line:
                raise ProvenanceError(
                    f"Line {line} of {shown} runs on to line {reader.line_num}: a quoted field "
                    'holds a line break, which is how an unterminated quote (") shows. Close '
                    "the quote (or remove the line break) on that line."
                )
            if any(fields):
                rows.append((line, fields))
            line = reader.line_num + 1
    except csv.Error as exc:
        raise ProvenanceError(
            f"Line {line} of {shown} cannot be read as CSV ({exc}): a quoted field that is "
            'never closed runs to the end of the file. Close the quote (") on that line.'
        ) from None
    return rows


def _other_delimiter(header: list[str]) -> str | None:
    """How a header read as one column separates its columns, when it is not by commas."""
    if len(header) != 1:
        return None
    for delimiter, name in _OTHER_DELIMITERS.items():
        if delimiter in header[0]:
            return name
    return None


def checked_range(first: int, last: int, where: str) -> range:
    """The frames `first`-`last` (inclusive), refused when they run backwards or are absurd."""
    if last < first:
        raise ProvenanceError(
            f"{where}: the frame range {first}-{last} ends before it starts. Write it first-last."
        )
    if last - first + 1 > MAX_RANGE_FRAMES:
        raise ProvenanceError(
            f"{where}: the frame range {first}-{last} names {last - first + 1:,} frames, more "
            f"than the {MAX_RANGE_FRAMES:,} one row may name. Fix the range."
        )
    return range(first, last + 1)


def _expected_frames(row: dict[str, str], where: str) -> range | None:
    for key in ("frames", "frame range"):
        text = row.get(key, "").strip()
        if text:
            match = _RANGE.match(text)
            if match is None:
                raise ProvenanceError(f"{where}: frame range {text!r} should look like 1001-1100.")
            return checked_range(int(match.group(1)), int(match.group(2)), where)
    for first_key, last_key in (("first frame", "last frame"), ("frame in", "frame out")):
        first, last = row.get(first_key, "").strip(), row.get(last_key, "").strip()
        if first and last:
            try:
                numbers = int(first), int(last)
            except ValueError:
                raise ProvenanceError(f"{where}: {first!r}/{last!r} are not frames.") from None
            return checked_range(*numbers, where)
    return None


def _read_otio(source: bytes, localize: Callable[[bytes], bytes] | None) -> Delivery:
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
            base = _otio_path(home, reference.target_url_base, localize)
            padding = "#" * reference.frame_zero_padding if reference.frame_zero_padding else "#"
            pattern = os.path.join(
                base, os.fsencode(reference.name_prefix + padding + reference.name_suffix)
            )
            where = f"Clip {clip.name!r} of {os.fsdecode(source)!r}"
            _scan_pattern_frames(delivery, pattern, checked_range(int(first), int(last), where))
        elif isinstance(reference, otio.schema.ExternalReference):
            _scan_named(delivery, _otio_path(home, reference.target_url, localize))
    return delivery


def _scan_pattern_frames(delivery: Delivery, pattern_path: bytes, frames: range) -> None:
    pattern = parse_pattern(pattern_path)
    try:
        scan = scan_pattern(replace(pattern, frames=frozenset(frames)))
    except (BadPattern, TargetNotFound):  # no such frame, or no such folder
        delivery.missing.append(canonical_pattern(pattern))
        delivery.sequences.append(DeliveredSequence(canonical_pattern(pattern), tuple(frames)))
        return
    delivery.add_scan(scan, frames)


def _otio_path(home: bytes, url: str, localize: Callable[[bytes], bytes] | None) -> bytes:
    if url.startswith("file://"):
        from urllib.parse import unquote, urlparse

        parsed = urlparse(url)
        url = unquote(parsed.path)
        if parsed.netloc not in ("", "localhost"):
            url = f"//{parsed.netloc}{url}"  # file://server/share/...: a UNC path
        elif _DRIVE_URL.match(url):
            url = url[1:]  # file:///P:/show/...
    if localize is None:
        return os.path.normpath(os.path.join(home, os.fsencode(url)))
    return localize(written_path(os.fsencode(url), home))

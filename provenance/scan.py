"""Paths to assets: walk folders, group frame sequences and UDIM sets, and report what cannot be read.

Pure: reads directory listings and stat results, never file contents, never the ledger.
Paths are bytes throughout so that names which are not UTF-8 round-trip exactly.
"""

from __future__ import annotations

import enum
import itertools
import os
import re
import stat
import struct
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import xxhash

from provenance.errors import BadPattern, TargetNotFound

__all__ = [
    "FRAME_NAME",
    "LEDGER_FOLDERS",
    "RACY_WINDOW_NS",
    "UDIM_FIRST",
    "UDIM_LAST",
    "UDIM_TOKEN",
    "AssetKind",
    "DirectoryScan",
    "ScannedAsset",
    "ScannedFile",
    "ScannedLink",
    "Sealed",
    "SkipReason",
    "Skipped",
    "StatFingerprint",
    "canonical_pattern",
    "format_frames",
    "group_names",
    "holes_of",
    "looks_like_pattern",
    "missing_frames",
    "parse_pattern",
    "scan_folder",
    "scan_pattern",
    "scan_target",
    "walk_folder",
]


# A frame number is a run of digits after a `.` or `_`, followed only by extensions
# (`sh010_comp_v003.1001.exr`, `plate_0001.dpx`, `sim.0042.bgeo.sc`). A number glued to
# letters (`matte_v002.png`) is a version, not a frame.
FRAME_NAME = re.compile(rb"^(?P<head>.*[._])(?P<frame>\d+)(?P<tail>(?:\.[A-Za-z][^.]*)*)$")
# Texture formats whose numbered files in 1001-1099 are UDIM tiles rather than frames.
UDIM_EXTENSIONS = frozenset({b".tx", b".tex", b".rat", b".tdl", b".b3d"})
UDIM_FIRST, UDIM_LAST = 1001, 1099
UDIM_TOKEN = b"<UDIM>"
# An ingest never records the ledger's own folder as an asset of the show. Deliveries skip
# nothing: whatever ships is judged, hidden folders and `.provenance` included.
LEDGER_FOLDERS = frozenset({b".provenance"})


class AssetKind(str, enum.Enum):
    """What one asset is on disk: a single file, a frame sequence, or a set of UDIM tiles. (The
    ledger's `assets.kind` column holds these values: `store/models.py` checks them.)"""

    FILE = "file"
    SEQUENCE = "sequence"
    UDIM = "udim"


# A file whose mtime or ctime is this close to the moment its fingerprint was recorded may
# have changed again within the same clock tick without its stat changing ("racy git").
# Two seconds covers FAT; NFS and SMB tick once a second; local filesystems much finer.
RACY_WINDOW_NS = 2_000_000_000

# The records made once per file are NamedTuples rather than frozen dataclasses: measured, a
# frozen dataclass takes 1.2 microseconds to build and 8 to pickle to a worker and back, a
# NamedTuple 0.25 and 1, and an unchanged re-scan has only a few microseconds a file to spend.


class StatFingerprint(NamedTuple):
    """The stat fields that change when a file's bytes change (and some that change when it is replaced)."""

    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int
    device: int

    @classmethod
    def of(cls, st: os.stat_result) -> StatFingerprint:
        return cls(st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev)


class ScannedFile(NamedTuple):
    path: bytes
    """Absolute path."""
    stat: StatFingerprint
    frame: int | None = None


@dataclass(slots=True)
class ScannedAsset:
    kind: AssetKind
    pattern: bytes
    """Absolute path of a single file, or of the sequence with `#` padding / `<UDIM>`."""
    members: list[ScannedFile]
    """In frame (or tile) order."""

    @property
    def holes(self) -> list[int]:
        return holes_of(self.kind, [m.frame for m in self.members])


@dataclass(frozen=True, slots=True)
class ScannedLink:
    path: bytes
    target: bytes
    stat: StatFingerprint
    escapes: bool
    """The link points outside the folder being ingested."""


class SkipReason(str, enum.Enum):
    SPECIAL = "special"
    """A FIFO, socket or device: never opened."""
    VANISHED = "vanished"
    """Listed, then gone before it could be looked at."""
    UNREADABLE = "unreadable"
    """Permission denied or an I/O error."""
    UNSTABLE = "unstable"
    """Kept changing while it was hashed."""


@dataclass(frozen=True, slots=True)
class Skipped:
    path: bytes
    reason: SkipReason
    detail: str = ""


@dataclass(slots=True)
class DirectoryScan:
    """What one folder (or one pattern) holds, ready to fingerprint."""

    assets: list[ScannedAsset] = field(default_factory=list)
    links: list[ScannedLink] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    folder: bytes | None = None
    """Set when this is a whole folder of a walk (ending in `/`): what a seal can vouch for."""
    listing: str | None = None
    """A digest of every entry's name and stat fingerprint, in name order (see `Sealed`)."""
    newest_ns: int = 0
    """The latest mtime or ctime among the entries: the racy rule applies to the folder too."""
    sealed: bool = False
    """The ledger vouched for the whole folder as it is: nothing was grouped."""
    names: list[bytes] = field(default_factory=list)
    """A sealed folder's file names, in name order (for whoever expands the seal)."""

    @property
    def file_count(self) -> int:
        return sum(len(a.members) for a in self.assets)


def holes_of(kind: AssetKind, frames: Iterable[int | None]) -> list[int]:
    """The frames missing inside a sequence's range. The tiles of a UDIM set are laid out, not
    counted, and a single file has no range: neither has holes."""
    if kind is not AssetKind.SEQUENCE:
        return []
    return missing_frames(f for f in frames if f is not None)


def missing_frames(frames: Iterable[int]) -> list[int]:
    """The frames missing between the first and last of `frames`."""
    present = sorted(set(frames))
    if len(present) < 2:
        return []
    missing: list[int] = []
    for low, high in itertools.pairwise(present):
        missing.extend(range(low + 1, high))
    return missing


def format_frames(frames: Sequence[int]) -> str:
    """Frames in the way people write them: 1001-1003,1005."""
    parts: list[str] = []
    ordered = sorted(frames)
    if not ordered:
        return ""
    start = previous = ordered[0]
    for frame in ordered[1:]:
        if frame == previous + 1:
            previous = frame
            continue
        parts.append(f"{start}-{previous}" if previous != start else str(start))
        start = previous = frame
    parts.append(f"{start}-{previous}" if previous != start else str(start))
    return ",".join(parts)


def group_names(
    names: Iterable[bytes],
) -> list[tuple[AssetKind, bytes, list[tuple[int | None, bytes]]]]:
    """Group the file names of one folder into single files, frame sequences and UDIM sets.

    Returns (kind, pattern name, [(frame, name), ...] in frame order). A numbered name with no
    siblings stays a single file. fileseq groups listings too, but measured here it takes about
    10 microseconds a name against 3 for this one expression, and an unchanged re-scan has only
    a few microseconds a file to spend.
    """
    numbered: dict[tuple[bytes, bytes], list[tuple[int, bytes, bytes]]] = {}
    singles: list[bytes] = []
    for name in names:
        match = FRAME_NAME.match(name)
        if match is None:
            singles.append(name)
            continue
        digits = match.group("frame")
        key = (match.group("head"), match.group("tail"))
        numbered.setdefault(key, []).append((int(digits), digits, name))

    groups: list[tuple[AssetKind, bytes, list[tuple[int | None, bytes]]]] = [
        (AssetKind.FILE, name, [(None, name)]) for name in singles
    ]
    for (head, tail), items in numbered.items():
        for pad, run in _split_by_padding(items):
            frames = [(frame, name) for frame, _, name in sorted(run)]
            is_udim = tail.lower() in UDIM_EXTENSIONS and all(
                UDIM_FIRST <= f <= UDIM_LAST for f, _ in frames
            )
            if is_udim:
                groups.append((AssetKind.UDIM, head + UDIM_TOKEN + tail, list(frames)))
            elif len(frames) == 1:
                groups.append((AssetKind.FILE, frames[0][1], [(None, frames[0][1])]))
            else:
                groups.append((AssetKind.SEQUENCE, head + b"#" * pad + tail, list(frames)))
    groups.sort(key=lambda g: g[1])
    return groups


def _split_by_padding(
    items: list[tuple[int, bytes, bytes]],
) -> list[tuple[int, list[tuple[int, bytes, bytes]]]]:
    widths = {len(digits) for _, digits, _ in items}
    if len(widths) == 1:
        return [(widths.pop(), items)]
    padded = any(len(digits) > 1 and digits.startswith(b"0") for _, digits, _ in items)
    if not padded:
        # 1, 2, ..., 10, 11: one unpadded sequence.
        return [(1, items)]
    by_width: dict[int, list[tuple[int, bytes, bytes]]] = {}
    for item in items:
        by_width.setdefault(len(item[1]), []).append(item)
    return sorted(by_width.items())


# ---------------------------------------------------------------------------------------------
# Patterns typed by people


@dataclass(frozen=True)
class SequencePattern:
    """A frame pattern as typed (`sh010.####.exr`, `sh010.%04d.exr`, `sh010.1001-1100#.exr`)."""

    folder: bytes
    head: bytes
    tail: bytes
    padding: int | None
    """Digits, or None when the pattern does not say (`<UDIM>`)."""
    frames: frozenset[int] | None
    """Only these frames, when the pattern names a range."""
    udim: bool = False

    def matches(self, head: bytes, tail: bytes) -> bool:
        return head == self.head and tail == self.tail


_PATTERN_MARKERS = re.compile(r"#|@|%0?\d*d|\$F\d*|<UDIM>|<udim>|%\(UDIM\)d")


def looks_like_pattern(text: str) -> bool:
    return bool(_PATTERN_MARKERS.search(os.path.basename(text)))


def parse_pattern(path: bytes) -> SequencePattern:
    """Parse a sequence pattern with fileseq, which knows the padding syntaxes of every DCC."""
    # Imported here: it takes 60 ms, and hashing workers import this module but never parse.
    import fileseq

    folder, name = os.path.split(path)
    text = os.fsdecode(name)
    udim = False
    for token in ("<UDIM>", "<udim>", "%(UDIM)d"):
        if token in text:
            udim = True
            text = text.replace(token, "####")
    try:
        seq = fileseq.FileSequence(text, pad_style=fileseq.PAD_STYLE_HASH1)
    except fileseq.ParseException as exc:
        raise BadPattern(
            f"Cannot read the frame pattern {os.fsdecode(path)!r} ({exc}). Write frames as "
            "name.####.ext, name.%04d.ext or name.1001-1100#.ext."
        ) from None
    padding_text = seq.padding()
    if not padding_text:
        raise BadPattern(
            f"{os.fsdecode(path)!r} has no frame token. Write frames as name.####.ext, "
            "name.%04d.ext or name.1001-1100#.ext, or give a plain file path."
        )
    frame_set = seq.frameSet()
    width: int | None = int(seq.zfill())
    if frame_set is not None and padding_text == "#":
        # fileseq's range notation: one `#` stands for four digits (`name.1001-1100#.exr`).
        width = 4
    if udim:
        width = 4
    frames = frozenset(int(f) for f in frame_set) if frame_set is not None else None
    return SequencePattern(
        folder=folder,
        head=os.fsencode(seq.basename()),
        tail=os.fsencode(seq.extension()),
        padding=width,
        frames=frames,
        udim=udim,
    )


def canonical_pattern(pattern: SequencePattern) -> bytes:
    """The form a sequence is stored under: padding as one `#` a digit, UDIM sets as `<UDIM>`."""
    token = UDIM_TOKEN if pattern.udim else b"#" * (pattern.padding or 4)
    return os.path.join(pattern.folder, pattern.head + token + pattern.tail)


# ---------------------------------------------------------------------------------------------
# Walking


def _lstat(path: bytes) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None


def scan_target(
    target: bytes, sealed: Sealed | None = None, skip: frozenset[bytes] = frozenset()
) -> Iterator[DirectoryScan]:
    """Scan one target: a folder (recursively), a file, or a sequence pattern.

    Yields one DirectoryScan per folder so that a tree of any size streams through in batches.
    Subfolders named in `skip` are not walked (an ingest passes LEDGER_FOLDERS; a delivery
    nothing). Raises TargetNotFound when the target itself does not exist, BadPattern when a
    pattern matches no file.
    """
    target = os.path.abspath(target)
    st = _lstat(target)
    if st is not None and stat.S_ISDIR(st.st_mode):
        yield from walk_folder(target, sealed, skip)
        return
    if st is not None:
        yield scan_single(target, st, top=os.path.dirname(target))
        return
    if looks_like_pattern(os.fsdecode(target)):
        yield scan_pattern(parse_pattern(target))
        return
    raise TargetNotFound(
        f"{os.fsdecode(target)!r} does not exist. Check the path, or give a sequence as "
        "name.####.ext."
    )


def scan_single(path: bytes, st: os.stat_result, top: bytes) -> DirectoryScan:
    """A path given by name is one asset of its own, even when it looks like a frame."""
    result = DirectoryScan()
    _classify(path, os.path.basename(path), st, top, result, files=None)
    return result


def scan_pattern(pattern: SequencePattern) -> DirectoryScan:
    """The files of one folder that a sequence pattern names."""
    result = DirectoryScan()
    folder = pattern.folder or b"."
    try:
        names = sorted(os.listdir(folder))
    except FileNotFoundError:
        raise TargetNotFound(
            f"The folder {os.fsdecode(folder)!r} of pattern does not exist. Check the path."
        ) from None
    frames: list[tuple[int, ScannedFile]] = []
    for name in names:
        match = FRAME_NAME.match(name)
        if match is None or not pattern.matches(match.group("head"), match.group("tail")):
            continue
        digits = match.group("frame")
        frame = int(digits)
        # A padded pattern still takes wider unpadded frames (#### matches 10000).
        if (
            pattern.padding is not None
            and len(digits) != pattern.padding
            and not (len(digits) > pattern.padding and not digits.startswith(b"0"))
        ):
            continue
        if pattern.frames is not None and frame not in pattern.frames:
            continue
        path = os.path.join(folder, name)
        st = _lstat(path)
        if st is None:
            result.skipped.append(Skipped(path, SkipReason.VANISHED))
            continue
        files: list[ScannedFile] = []
        _classify(path, name, st, folder, result, files=files)
        frames.extend((frame, ScannedFile(f.path, f.stat, frame)) for f in files)
    if not frames and not result.skipped and not result.links:
        raise BadPattern(
            f"No files match {os.fsdecode(canonical_pattern(pattern))!r} (0 frames). Check "
            "the name and padding, e.g. with `ls`."
        )
    if frames:
        frames.sort(key=lambda item: item[0])
        kind = AssetKind.UDIM if pattern.udim else AssetKind.SEQUENCE
        result.assets.append(ScannedAsset(kind, canonical_pattern(pattern), [f for _, f in frames]))
    return result


Sealed = Callable[[bytes, str, int], bool]
"""(folder, listing digest, newest mtime/ctime) -> does the ledger vouch for it as it is?

An unchanged folder has the same listing: the same names with the same sizes, times, inodes
and devices. Like the stat cache of single files, a listing is only as good as the racy rule
makes it: the caller compares the newest time with when its seal was made.
"""


def walk_folder(
    top: bytes, sealed: Sealed | None = None, skip: frozenset[bytes] = frozenset()
) -> Iterator[DirectoryScan]:
    """Walk a tree without following links, one DirectoryScan per folder (not into the
    subfolders named in `skip`)."""
    stack = [top]
    while stack:
        result, subfolders = scan_folder(stack.pop(), top, sealed, skip)
        # Reverse so that folders come out in name order.
        stack.extend(reversed(subfolders))
        yield result


_ENTRY = struct.Struct("<BqqqQQ")
_IFMT, _IFDIR, _IFREG = 0o170000, stat.S_IFDIR, stat.S_IFREG


ReadFile = Callable[[bytes, int], "os.stat_result | None"]
"""Reads a regular file by its name in an open folder, as the folder is listed (see
`scan_folder`): its stat when it was opened, or None when it could not be opened as a regular
file (it is then looked at with lstat, as any other entry)."""


def scan_folder(
    folder: bytes,
    top: bytes,
    sealed: Sealed | None = None,
    skip: frozenset[bytes] = frozenset(),
    read: ReadFile | None = None,
) -> tuple[DirectoryScan, list[bytes]]:
    """What one folder of a walk of `top` holds, and its subfolders in name order (but those
    named in `skip`).

    With `read`, each entry the folder's listing says is a regular file is read as it is
    listed: its stat is then the one `read` took of the open file (the same inode, not
    followed through a link), which saves a stat of every file where the files are hashed
    anyway (a never-seen delivery's workers)."""
    result = DirectoryScan()
    try:
        names, regular_names = _list_folder(folder, read)
    except FileNotFoundError:
        result.skipped.append(Skipped(folder, SkipReason.VANISHED, "folder"))
        return result, []
    except OSError as exc:
        result.skipped.append(Skipped(folder, SkipReason.UNREADABLE, f"folder: {exc.strerror}"))
        return result, []
    prefix = folder if folder.endswith(b"/") else folder + b"/"
    folder_fd = _open_folder(folder)
    if folder_fd is None:
        regular_names = frozenset()  # (reading by name needs the open folder)
    try:
        entries = _stat_entries(prefix, names, regular_names, folder_fd, read, skip, result)
    finally:
        if folder_fd is not None:
            os.close(folder_fd)
    newest = entries.newest
    result.folder = prefix
    result.listing = xxhash.xxh3_128_hexdigest(b"".join(entries.parts))
    result.newest_ns = newest
    # Only folders of plain files are vouched for whole: links and special files are reported
    # on every run.
    if (
        not (result.skipped or entries.others)
        and sealed is not None
        and sealed(prefix, result.listing, newest)
    ):
        result.sealed = True
        result.names = list(entries.regular)
        return result, entries.subfolders
    for name, st in entries.others:
        _classify(prefix + name, name, st, top, result, files=None)
    result.assets.extend(_assets_from_files(prefix, entries.regular))
    return result, entries.subfolders


def _list_folder(folder: bytes, read: ReadFile | None) -> tuple[list[bytes], frozenset[bytes]]:
    """A folder's names in order, and (with `read`) those its listing says are regular files.
    Raises the OSError of a folder that cannot be listed."""
    if read is None:
        return sorted(os.listdir(folder)), frozenset()
    with os.scandir(folder) as listed:
        entries = sorted((entry.name, entry.is_file(follow_symlinks=False)) for entry in listed)
    return [name for name, _ in entries], frozenset(name for name, regular in entries if regular)


@dataclass
class _Entries:
    """The entries of one folder as `scan_folder` saw them."""

    regular: dict[bytes, os.stat_result]
    """Regular files, by name."""
    others: list[tuple[bytes, os.stat_result]]
    """Links and special files."""
    subfolders: list[bytes]
    """In name order, but those named in `skip`."""
    parts: list[bytes]
    """What the listing digest is made of: each entry's name and packed stat, folders aside."""
    newest: int
    """The newest mtime or ctime among them (ns), folders aside."""


def _stat_entries(
    prefix: bytes,
    names: list[bytes],
    regular_names: frozenset[bytes],
    folder_fd: int | None,
    read: ReadFile | None,
    skip: frozenset[bytes],
    result: DirectoryScan,
) -> _Entries:
    """Stat (or, for the `regular_names`, read) each entry of a folder, in order; the entries
    that vanished or cannot be looked at go to `result.skipped`."""
    regular: dict[bytes, os.stat_result] = {}
    others: list[tuple[bytes, os.stat_result]] = []
    subfolders: list[bytes] = []
    parts: list[bytes] = []
    newest = 0
    # (Local names: this loop runs once for every file of a show.)
    pack = _ENTRY.pack
    lstat = os.lstat
    for name in names:
        if name in regular_names:
            assert read is not None and folder_fd is not None
            opened = read(name, folder_fd)
            if opened is not None:
                regular[name] = opened
                mtime, ctime = opened.st_mtime_ns, opened.st_ctime_ns
                newest = max(newest, mtime, ctime)
                parts.append(name)
                parts.append(
                    pack(_IFREG >> 12, opened.st_size, mtime, ctime, opened.st_ino, opened.st_dev)
                )
                continue
        try:
            # Relative to the open folder: the kernel does not walk the whole path again.
            st = lstat(name, dir_fd=folder_fd) if folder_fd is not None else lstat(prefix + name)
        except FileNotFoundError:
            result.skipped.append(Skipped(prefix + name, SkipReason.VANISHED))
            continue
        except OSError as exc:
            path = prefix + name
            result.skipped.append(Skipped(path, SkipReason.UNREADABLE, str(exc.strerror)))
            continue
        kind = st.st_mode & _IFMT
        if kind == _IFDIR:
            if name not in skip:
                subfolders.append(prefix + name)
            continue
        if kind == _IFREG:
            regular[name] = st
        else:
            others.append((name, st))
        mtime, ctime = st.st_mtime_ns, st.st_ctime_ns
        if mtime > newest:
            newest = mtime
        if ctime > newest:
            newest = ctime
        parts.append(name)
        parts.append(pack(kind >> 12, st.st_size, mtime, ctime, st.st_ino, st.st_dev))
    return _Entries(regular, others, subfolders, parts, newest)


_LSTAT_IN_FOLDER = os.stat in os.supports_dir_fd and hasattr(os, "O_DIRECTORY")


def _open_folder(folder: bytes) -> int | None:
    if not _LSTAT_IN_FOLDER:
        return None
    try:
        return os.open(folder, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None


def _classify(
    path: bytes,
    name: bytes,
    st: os.stat_result,
    top: bytes,
    result: DirectoryScan,
    files: list[ScannedFile] | None,
) -> None:
    mode = st.st_mode
    if stat.S_ISREG(mode):
        scanned = ScannedFile(path, StatFingerprint.of(st))
        if files is None:
            result.assets.append(ScannedAsset(AssetKind.FILE, path, [scanned]))
        else:
            files.append(scanned)
    elif stat.S_ISLNK(mode):
        try:
            target = os.readlink(path)
        except FileNotFoundError:
            result.skipped.append(Skipped(path, SkipReason.VANISHED))
            return
        resolved = os.path.normpath(os.path.join(os.path.dirname(path), target))
        escapes = not _is_within(resolved, top)
        result.links.append(ScannedLink(path, target, StatFingerprint.of(st), escapes))
    else:
        kind = (
            "fifo"
            if stat.S_ISFIFO(mode)
            else "socket"
            if stat.S_ISSOCK(mode)
            else "device"
            if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
            else "special file"
        )
        result.skipped.append(Skipped(path, SkipReason.SPECIAL, kind))


def _assets_from_files(
    prefix: bytes, regular: dict[bytes, os.stat_result]
) -> Iterator[ScannedAsset]:
    """The assets of one folder from its regular files (name -> stat); `prefix` ends with `/`."""
    for kind, pattern_name, members in group_names(regular):
        scanned = []
        for frame, name in members:
            st = regular[name]
            fingerprint = StatFingerprint(
                st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev
            )
            scanned.append(ScannedFile(prefix + name, fingerprint, frame))
        yield ScannedAsset(kind, prefix + pattern_name, scanned)


def _is_within(path: bytes, top: bytes) -> bool:
    top = top.rstrip(b"/") or b"/"
    if top == b"/":
        return True
    return path == top or path.startswith(top + b"/")

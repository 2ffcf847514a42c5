"""Show roots: where each root of the ledger is on this machine, and which root any spelling of a
path (another mount, another platform) falls under.

A recorded path is a root and a path under it. A root is named once, when it is first recorded,
and keeps that name wherever it goes; where it is depends on the machine:

- `/` holds the paths outside every show root, as absolute paths;
- the ledger's own folder (the one holding `.provenance/`) is wherever the SQLite ledger is
  opened from: a show copied or mounted elsewhere brings its records along. It is named by the
  path where it was first recorded;
- a declared root (`provenance roots add`) is at its declared location (`roots move` changes
  it); a machine that does not see that location reads it at the first of its other spellings
  (`roots map`) that exists there, or where `PROVENANCE_ROOT_MAP` says;
- a root that an older version recorded at an absolute path, other than the ledger's folder, is
  at that path until it is moved.

A spelling is a POSIX path (`/mnt/show`) or a Windows one (`S:\\show`, `\\\\server\\show`),
compared the way its platform compares paths (Windows: either slash, any letter case). A path
spelled for another platform is read here at its root's place on this machine. Two different
folders never share one root's records: a spelling that exists here as another folder than the
root's is refused wherever it is used.
"""

from __future__ import annotations

import contextlib
import enum
import json
import os
import posixpath
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from provenance.errors import ProvenanceError

__all__ = [
    "FILESYSTEM_NAME",
    "ROOT_MAP_VARIABLE",
    "EnvironmentEntry",
    "PlacedRoot",
    "RootChange",
    "RootInfo",
    "RootKind",
    "RootMap",
    "RootRecord",
    "RootsReport",
    "Spelling",
    "aliases_text",
    "check_root_name",
    "default_root_name",
    "home_root",
    "is_windows_spelling",
    "parse_root_map",
    "place_roots",
    "spelling",
    "try_spelling",
    "written_path",
]


ROOT_MAP_VARIABLE = "PROVENANCE_ROOT_MAP"
"""The environment's own placement of roots: `SPELLING=HERE` entries separated by `;`."""

FILESYSTEM_NAME = b"/"
SOURCE_SEPARATOR = b"//"
"""Between a root's name and the path under it in a recorded delivery source (`name//path`):
normalized names and paths never hold two slashes in a row past their first character."""

NATIVE_WINDOWS = os.name == "nt"
_DRIVE = re.compile(rb"^[A-Za-z]:[\\/]")
_NAME = re.compile(r"^[^/\\\x00-\x1f]+$")


class RootKind(str, enum.Enum):
    FILESYSTEM = "filesystem"
    """`/`: absolute paths outside every show root."""
    LEDGER = "ledger"
    """The folder holding the SQLite ledger, wherever it is opened from."""
    DECLARED = "declared"
    """A show root at a location of its own (declared by a studio, or recorded by an older
    version at an absolute path)."""


# ---------------------------------------------------------------------------------------------
# Spellings: pure


def is_windows_spelling(path: bytes) -> bool:
    """`S:\\...`, `S:/...` or `\\\\server\\share...`."""
    return bool(_DRIVE.match(path)) or path.startswith(b"\\\\")


def written_path(given: bytes, base: bytes) -> bytes:
    """A path as a file gives it (a scene, a cut), absolute, still spelled for the platform that
    wrote it: a relative one is read from the folder `base` (a Windows folder too); a Windows
    spelling is kept as it is (joined onto a POSIX folder it would name nothing). Windows
    applications write a UNC path with forward slashes (`//server/share/...`): that is the UNC
    path unless `/server` is a folder here (POSIX reads a leading `//` as `/`)."""
    if NATIVE_WINDOWS:
        return os.path.normpath(os.path.join(base, given))
    if given.startswith(b"//") and given[2:3] not in (b"", b"/"):
        top = given[2:].split(b"/", 1)[0]
        given = given[1:] if _is_folder(b"/" + top) else b"\\\\" + given[2:]
    if is_windows_spelling(given):
        return given
    if is_windows_spelling(base) and not given.startswith(b"/"):
        return base.rstrip(b"/\\") + b"/" + given
    return os.path.normpath(os.path.join(base, given))


@dataclass(frozen=True)
class Spelling:
    """One way of writing an absolute folder, as its platform compares it."""

    text: str
    """As it was given (and is recorded)."""
    windows: bool
    slashed: bytes
    """Normalized, with `/` separators (and the letter case given)."""

    @property
    def key(self) -> bytes:
        """What two spellings of one folder have in common."""
        return self.slashed.lower() if self.windows else self.slashed

    @property
    def native(self) -> bool:
        """Written the way this machine writes paths."""
        return self.windows == NATIVE_WINDOWS

    @property
    def recorded(self) -> bytes:
        """How the ledger records it: normalized, with its platform's separators."""
        return self.slashed.replace(b"/", b"\\") if self.windows else self.slashed

    @property
    def shown(self) -> str:
        return os.fsdecode(self.recorded)

    def under(self, other: Spelling) -> bytes | None:
        """The path of this folder under `other` (`/`-separated; b"" for `other` itself), or
        None when it is not under it."""
        if self.windows != other.windows:
            return None
        mine, theirs = self.key, other.key
        if mine == theirs:
            return b""
        top = theirs if theirs.endswith(b"/") else theirs + b"/"
        if mine.startswith(top):
            return self.slashed[len(top) :]
        return None

    def same(self, other: Spelling | None) -> bool:
        """Another spelling of this very folder."""
        return other is not None and (other.windows, other.key) == (self.windows, self.key)

    def overlaps(self, other: Spelling) -> bool:
        """The same folder, or one inside the other."""
        return self.under(other) is not None or other.under(self) is not None


def spelling(text: str | bytes) -> Spelling:
    """An absolute folder as given by a person or a setting: a POSIX or a Windows path."""
    raw = os.fsencode(text)
    shown = os.fsdecode(raw)
    if b"\x00" in raw:
        raise ProvenanceError(f"{shown!r} holds a NUL byte: no folder is spelled that way.")
    if is_windows_spelling(raw):
        unc = raw.startswith(b"\\\\")
        body = posixpath.normpath(raw.replace(b"\\", b"/"))
        if unc and not body.startswith(b"//"):
            body = b"/" + body
        if len(body) == 2 and body.endswith(b":"):
            body += b"/"  # a drive's top: `S:/`
        return Spelling(shown, True, body)
    if not raw.startswith(b"/"):
        raise ProvenanceError(
            f"{shown!r} is not an absolute path. Give the folder from the top "
            "(/mnt/show, S:\\show or \\\\server\\share\\show)."
        )
    return Spelling(shown, False, posixpath.normpath(raw))


def check_root_name(name: str) -> str:
    """A name for a declared root: a word people read (`show`, `lib_2026`), not a path."""
    name = name.strip()
    if not _NAME.match(name) or name in (".", ".."):
        raise ProvenanceError(
            f"{name!r} cannot name a root: use a short name without slashes or control "
            "characters (e.g. the show's code)."
        )
    return name


def default_root_name(where: Spelling) -> str:
    """A declared root's name when none is given: the last part of its location."""
    last = where.slashed.rstrip(b"/").rpartition(b"/")[2].rstrip(b":")
    return os.fsdecode(last) or "root"


def parse_root_map(text: str) -> list[tuple[Spelling, bytes]]:
    """`PROVENANCE_ROOT_MAP`: `SPELLING=HERE` entries separated by `;` or new lines, each saying
    that the root spelled SPELLING (its name, location or a mapped spelling) is at HERE on this
    machine."""
    entries = []
    for item in re.split(r"[;\n]", text):
        if not item.strip():
            continue
        given, equals, here = item.partition("=")
        if not equals or not given.strip() or not here.strip():
            raise ProvenanceError(
                f"{ROOT_MAP_VARIABLE} holds {item.strip()!r}, not SPELLING=HERE. Write each entry "
                f"as the root's name or path, `=`, and where it is on this machine "
                f"(e.g. {ROOT_MAP_VARIABLE}='/mnt/show=/farm/show'), separated by `;`."
            )
        try:
            local = spelling(here.strip())
        except ProvenanceError as exc:
            raise ProvenanceError(f"{ROOT_MAP_VARIABLE}: {exc}") from None
        if not local.native:
            raise ProvenanceError(
                f"{ROOT_MAP_VARIABLE} places a root at {here.strip()!r}, which is not a path "
                "this machine can read."
            )
        given = given.strip()
        try:
            key = spelling(given)
        except ProvenanceError:
            key = Spelling(given, False, os.fsencode(given))  # a root's name, not a path
        entries.append((key, local.slashed))
    return entries


# ---------------------------------------------------------------------------------------------
# Roots as the ledger records them, and where this machine finds them


@dataclass(frozen=True)
class RootRecord:
    """One row of `roots`."""

    id: int
    name: bytes
    location: bytes | None
    """Where it was declared (or moved) to; None for `/` and for the ledger's own folder."""
    aliases: tuple[str, ...] = ()
    """Other spellings of the same folder: other mounts, other platforms."""
    event_id: int | None = None

    @classmethod
    def from_row(
        cls, root_id: int, name: bytes, location: bytes | None, aliases: str, event_id: int | None
    ) -> RootRecord:
        try:
            listed = json.loads(aliases or "[]")
        except ValueError:
            listed = []
        spelled = tuple(str(a) for a in listed) if isinstance(listed, list) else ()
        return cls(root_id, name, location, spelled, event_id)

    @property
    def shown_name(self) -> str:
        return os.fsdecode(self.name)


def aliases_text(aliases: Iterable[str]) -> str:
    """The `aliases` column: a JSON list of spellings."""
    return json.dumps(list(aliases), ensure_ascii=False)


@dataclass(frozen=True)
class PlacedRoot:
    """A root and where this machine reads it."""

    record: RootRecord
    kind: RootKind
    here: bytes
    """Where its files are read on this machine (for a root this machine does not see, where it
    was declared, so that names still read as paths)."""
    placed_by: str
    """Why it is there: `ledger`, `location`, `alias`, `environment` or `name`."""
    found: bool
    """`here` is a folder on this machine."""
    spellings: tuple[Spelling, ...]
    """Every recorded spelling of it: its location and its aliases."""
    problems: tuple[str, ...] = ()
    """Spellings that are other folders on this machine (refused wherever they are used)."""

    @property
    def id(self) -> int:
        return self.record.id

    @property
    def here_spelling(self) -> Spelling:
        return spelling(self.here)


@dataclass(frozen=True)
class EnvironmentEntry:
    """One entry of PROVENANCE_ROOT_MAP and the root it placed, if any."""

    given: str
    here: bytes
    root: str | None
    """The root it names, if any."""
    used: bool = True
    """False for the ledger's own folder, which is wherever the ledger is."""


def _is_folder(path: bytes) -> bool:
    try:
        return os.path.isdir(path)
    except (OSError, ValueError):
        return False


def _same_folder(one: bytes, other: bytes) -> bool:
    try:
        return os.path.samefile(one, other)
    except (OSError, ValueError):
        return False


def try_spelling(text: str | bytes | None) -> Spelling | None:
    """`spelling(text)`, or None for None or for what is not an absolute folder."""
    if text is None:
        return None
    try:
        return spelling(text)
    except ProvenanceError:
        return None  # written outside provenance: the audit reports the row


def _spellings_of(record: RootRecord) -> tuple[Spelling, ...]:
    """The root's location (first) and its aliases, as spellings."""
    found = [try_spelling(record.location), *(try_spelling(a) for a in record.aliases)]
    return tuple(s for s in found if s is not None)


def _is_local_path(path: bytes) -> bool:
    """An absolute path as this machine writes them."""
    return is_windows_spelling(path) if NATIVE_WINDOWS else path.startswith(b"/")


def _names_root(given: Spelling, record: RootRecord, spellings: Sequence[Spelling]) -> bool:
    if given.slashed == record.name or given.text == record.shown_name:
        return True
    return any(given.same(s) for s in spellings)


def place_roots(
    records: Sequence[RootRecord],
    ledger_folder: bytes | None,
    environ: Mapping[str, str] | None = None,
) -> RootMap:
    """Where this machine reads each root (see the module's docstring). `ledger_folder` is the
    folder holding a SQLite ledger's `.provenance/`, None for any other ledger."""
    environ = os.environ if environ is None else environ
    overrides = parse_root_map(environ.get(ROOT_MAP_VARIABLE, ""))
    home = home_root(records) if ledger_folder is not None else None
    placed: list[PlacedRoot] = []
    used: dict[str, str] = {}
    ignored: set[str] = set()
    absolute_id = -2
    for record in records:
        if record.name == FILESYSTEM_NAME:
            absolute_id = record.id
            continue
        spellings = _spellings_of(record)
        if home is not None and record.id == home.id:
            assert ledger_folder is not None
            ignored.update(o[0].text for o in overrides if _names_root(o[0], record, spellings))
            placed.append(
                PlacedRoot(record, RootKind.LEDGER, ledger_folder, "ledger", True, spellings)
            )
            continue
        kind = RootKind.DECLARED if record.location is not None else RootKind.LEDGER
        override = next((o for o in overrides if _names_root(o[0], record, spellings)), None)
        if override is not None:
            used[override[0].text] = record.shown_name
            here, placed_by = override[1], "environment"
        else:
            here, placed_by = _first_place(record, spellings)
        placed.append(PlacedRoot(record, kind, here, placed_by, _is_folder(here), spellings))
    entries = [
        EnvironmentEntry(
            given.text,
            here,
            used.get(given.text, home.shown_name if given.text in ignored and home else None),
            given.text not in ignored,
        )
        for given, here in overrides
    ]
    # The ledger's own folder first: where two roots are at one folder, paths resolve as its.
    placed.sort(key=lambda root: root.placed_by != "ledger")
    return RootMap(_shared_folders([_with_problems(root) for root in placed]), absolute_id, entries)


def _first_place(record: RootRecord, spellings: Sequence[Spelling]) -> tuple[bytes, str]:
    """Where a root is without PROVENANCE_ROOT_MAP: its location if it is a folder here, else
    the first other spelling of it that is; else its location (or name), not found."""
    location = try_spelling(record.location)
    if location is not None:
        location = spellings[0]  # the same spelling, so that `is` tells it from the aliases
    for candidate in spellings:
        if candidate.native and _is_folder(candidate.slashed):
            return candidate.slashed, "location" if candidate is location else "alias"
    for candidate in spellings:
        if candidate.native:
            return candidate.slashed, "location" if candidate is location else "alias"
    if location is not None:
        return os.fsencode(location.text), "location"  # as its own platform writes it
    return record.name, "name"


def home_root(records: Iterable[RootRecord]) -> RootRecord | None:
    """The ledger's own folder: the root without a location (the first, should there be more)."""
    candidates = [r for r in records if r.location is None and r.name != FILESYSTEM_NAME]
    return min(candidates, key=lambda r: r.id) if candidates else None


def _with_problems(root: PlacedRoot) -> PlacedRoot:
    """Note every spelling of the root that is, on this machine, another folder than its own."""
    if not root.found:
        return root
    problems = []
    for other in root.spellings:
        if not other.native or other.slashed == root.here:
            continue
        if _is_folder(other.slashed) and not _same_folder(other.slashed, root.here):
            problems.append(
                f"{other.text} is mapped to root {root.record.shown_name}, which this machine "
                f"reads at {os.fsdecode(root.here)}, but {other.text} is another folder here: "
                "two folders cannot share one root's records"
            )
    return replace(root, problems=tuple(problems))


def _shared_folders(placed: list[PlacedRoot]) -> list[PlacedRoot]:
    """Note every root that is at the folder of a root before it (a SQLite ledger opened from
    several paths before schema 0012 recorded a root for each): paths there resolve as the
    first's."""
    seen: dict[bytes, PlacedRoot] = {}
    kept = []
    for root in placed:
        where = os.path.realpath(root.here) if root.found else root.here
        first = seen.setdefault(where, root)
        if first is not root:
            name = root.record.shown_name
            root = replace(
                root,
                problems=(
                    *root.problems,
                    f"{os.fsdecode(root.here)} is root {first.record.shown_name}'s folder too: "
                    f"paths there resolve as {first.record.shown_name}'s, and what was recorded "
                    f"under {name} is found only once it is moved (`provenance roots move "
                    f"{name} PATH`)",
                ),
            )
        kept.append(root)
    return kept


# ---------------------------------------------------------------------------------------------
# The map


@dataclass
class RootMap:
    """Turns paths into (root id, path under the root) and back, on this machine."""

    placed: Sequence[PlacedRoot]
    absolute_id: int
    environment: Sequence[EnvironmentEntry] = ()
    _by_id: dict[int, PlacedRoot] = field(init=False, repr=False)
    _prefixes: list[tuple[bytes, int]] = field(init=False, repr=False)
    _spelled: list[tuple[Spelling, PlacedRoot]] = field(init=False, repr=False)
    _through_links: dict[bytes, tuple[int, bytes] | None] = field(init=False, repr=False)
    _folder_ids: dict[tuple[int, int], int] | None = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._by_id = {root.id: root for root in self.placed}
        prefixes: dict[bytes, int] = {}
        for root in self.placed:
            if _is_local_path(root.here):
                prefixes.setdefault(root.here, root.id)
                if root.found:
                    prefixes.setdefault(os.path.realpath(root.here), root.id)
        # Longest first: a path falls under the deepest root that holds it.
        self._prefixes = sorted(prefixes.items(), key=lambda item: -len(item[0]))
        spelled = [(s, root) for root in self.placed for s in root.spellings]
        self._spelled = sorted(spelled, key=lambda item: -len(item[0].key))
        self._through_links = {}
        self._folder_ids = None

    @classmethod
    def unrecorded(cls, ledger_folder: bytes | None) -> RootMap:
        """Before anything is recorded: roots with ids that match no row."""
        records = [RootRecord(-2, FILESYSTEM_NAME, None)]
        if ledger_folder is not None:
            records.append(RootRecord(-1, ledger_folder, None))
        return place_roots(records, ledger_folder, {})

    @property
    def home(self) -> PlacedRoot | None:
        """The ledger's own folder, for a SQLite ledger in `.provenance/`."""
        return next((root for root in self.placed if root.placed_by == "ledger"), None)

    @property
    def workspace(self) -> bytes:
        """The ledger's own folder on this machine, or `/`."""
        home = self.home
        return home.here if home is not None else b"/"

    @property
    def workspace_id(self) -> int:
        home = self.home
        return home.id if home is not None else self.absolute_id

    def root(self, root_id: int) -> PlacedRoot | None:
        return self._by_id.get(root_id)

    def name_of(self, root_id: int) -> bytes:
        """The name a root was recorded under (what events write)."""
        root = self._by_id.get(root_id)
        return root.record.name if root is not None else FILESYSTEM_NAME

    # -- paths of this machine ----------------------------------------------------------------

    def split(self, path: bytes) -> tuple[int, bytes]:
        """(root id, path under it) of an absolute path of this machine."""
        for prefix, root_id in self._prefixes:
            if path.startswith(prefix) and path[len(prefix) : len(prefix) + 1] == b"/":
                return root_id, path[len(prefix) + 1 :]
        if self._prefixes:
            folder, name = os.path.split(path)
            found = self._through_link(folder)
            if found is not None:
                root_id, below = found
                return root_id, os.path.join(below, name) if below else name
        return self.absolute_id, path.lstrip(b"/")

    def split_folder(self, folder: bytes) -> tuple[int, bytes]:
        """(root id, the folder under the root ending in `/`, or b"" for the root itself), for
        an absolute folder with or without its closing `/`."""
        root_id, below = self.split(folder.rstrip(b"/") + b"/-")
        return root_id, below[:-1]

    def join(self, root_id: int, relative: bytes) -> bytes:
        """The path of this machine (or, for a root it does not see, as its platform writes it)."""
        root = self._by_id.get(root_id)
        if root is None:
            return os.path.join(b"/", relative)
        if _is_local_path(root.here):
            return os.path.join(root.here, relative) if relative else root.here
        separator = b"\\" if is_windows_spelling(root.here) else b"/"
        return root.here.rstrip(b"/\\") + separator + relative.replace(b"/", separator)

    def _holds(self, path: bytes) -> bool:
        return any(
            path.startswith(prefix) and path[len(prefix) : len(prefix) + 1] in (b"", b"/")
            for prefix, _ in self._prefixes
        )

    def _through_link(self, folder: bytes) -> tuple[int, bytes] | None:
        """(root, folder under it) for a folder outside every root's path that is one of them,
        or lies in one, on this machine: through a symbolic link, or a bind mount of the root."""
        if folder in self._through_links:
            return self._through_links[folder]
        found: tuple[int, bytes] | None = None
        real = os.path.realpath(folder)
        for prefix, root_id in self._prefixes:
            if real == prefix or real.startswith(prefix + b"/"):
                found = (root_id, real[len(prefix) + 1 :])
                break
        if found is None:
            found = self._by_identity(folder)
        self._through_links[folder] = found
        return found

    def _by_identity(self, folder: bytes) -> tuple[int, bytes] | None:
        """A folder that is, or lies in, a root's folder by device and inode (a bind mount)."""
        if self._folder_ids is None:
            self._folder_ids = {}
            for root in self.placed:
                if root.found and _is_local_path(root.here):
                    with contextlib.suppress(OSError):
                        stat = os.stat(root.here)
                        self._folder_ids.setdefault((stat.st_dev, stat.st_ino), root.id)
        if not self._folder_ids:
            return None
        below: list[bytes] = []
        here = folder
        while True:
            try:
                stat = os.stat(here)
            except OSError:
                pass
            else:
                root_id = self._folder_ids.get((stat.st_dev, stat.st_ino))
                if root_id is not None:
                    return root_id, b"/".join(reversed(below))
            parent, name = os.path.split(here)
            if parent == here or not name:
                return None
            below.append(name)
            here = parent

    # -- paths as people and files give them --------------------------------------------------

    def localize(
        self, given: str | bytes | os.PathLike[str] | os.PathLike[bytes], cwd: bytes
    ) -> bytes:
        """A path as a person or a file gave it (relative to `cwd`, absolute, or spelled for
        another mount or platform) as the absolute path to read on this machine."""
        raw = os.fsencode(given)
        path: bytes | None = None
        if NATIVE_WINDOWS or not is_windows_spelling(raw):
            path = os.path.normpath(os.path.join(cwd, raw))
            if self._holds(path):
                return path
            spelled = spelling(path)
        else:
            spelled = spelling(raw)
        for other, root in self._spelled:
            below = spelled.under(other)
            if below is None or (other.native and other.slashed == root.here):
                continue
            if (
                other.native
                and root.found
                and _is_folder(other.slashed)
                and not _same_folder(other.slashed, root.here)
            ):
                raise ProvenanceError(_two_folders(os.fsdecode(raw), other, root))
            if not _is_local_path(root.here):
                name = root.record.shown_name
                raise ProvenanceError(
                    f"{os.fsdecode(raw)} is in root {name}, which this machine does not see "
                    f"(it is at {os.fsdecode(root.here)}, and no other spelling of it is a "
                    f"folder here). Map the folder where this machine has it (`provenance roots "
                    f"map {name} PATH`), or set {ROOT_MAP_VARIABLE}."
                )
            return self.join(root.id, below)
        if path is not None:
            return path
        known = sorted({s.text for s, _ in self._spelled if not s.native})
        listed = f" (mapped: {', '.join(known)})" if known else ""
        raise ProvenanceError(
            f"{os.fsdecode(raw)} is a path of another platform, and no root of the ledger is "
            f"mapped from it{listed}. Map the show's folder to it (`provenance roots map ROOT "
            f"'SPELLING'`, a studio setting)."
        )

    # -- delivery sources ---------------------------------------------------------------------

    def recorded_source(self, path: bytes) -> bytes:
        """How a deliverable records where it was read: `name//path` under a show root (so it
        is found again wherever the root moves), else its absolute path."""
        root_id, below = self.split(path)
        if root_id not in self._by_id:
            return path
        return self.name_of(root_id) + SOURCE_SEPARATOR + below

    def source_here(self, recorded: bytes) -> bytes:
        """Where a recorded delivery source is on this machine."""
        cut = recorded.find(SOURCE_SEPARATOR, 1)
        if cut > 0:
            name, below = recorded[:cut], recorded[cut + len(SOURCE_SEPARATOR) :]
            for root in self.placed:
                if root.record.name == name:
                    return self.join(root.id, below)
            return os.path.normpath(recorded)
        if os.path.lexists(recorded):
            return recorded
        # Recorded as an absolute path (before roots could move): under a root's recorded name?
        for root in sorted(self.placed, key=lambda r: -len(r.record.name)):
            top = root.record.name.rstrip(b"/") + b"/"
            if root.record.name.startswith(b"/") and recorded.startswith(top):
                return self.join(root.id, recorded[len(top) :])
        return recorded

    def overrides(self) -> dict[str, str]:
        """Roots that PROVENANCE_ROOT_MAP placed on this machine: name -> where (for events)."""
        return {
            root.record.shown_name: os.fsdecode(root.here)
            for root in self.placed
            if root.placed_by == "environment"
        }


# ---------------------------------------------------------------------------------------------
# What the library returns about roots


@dataclass(frozen=True)
class RootInfo:
    """A root as `provenance roots` lists it."""

    name: str
    kind: RootKind
    here: str
    """Where this machine reads it."""
    placed_by: str
    """Why there: `ledger` (the ledger's folder), `location`, `alias`, `environment`
    (PROVENANCE_ROOT_MAP) or `name` (where it was recorded)."""
    found: bool
    location: str | None
    aliases: tuple[str, ...]
    assets: int
    """Assets recorded under it."""
    problems: tuple[str, ...] = ()
    event_id: int | None = None
    """The event that declared it or last took it; None while it is as the ledger recorded it."""


@dataclass(frozen=True)
class RootsReport:
    roots: list[RootInfo]
    environment: list[EnvironmentEntry]
    """PROVENANCE_ROOT_MAP's entries and the roots they placed (None: no root of this ledger)."""


@dataclass(frozen=True)
class RootChange:
    """What `roots add|move|map|unmap` recorded."""

    kind: str
    """The event's kind: `roots.add`, `roots.move`, `roots.map` or `roots.unmap`."""
    root: RootInfo
    before: str | None
    after: str | None
    event_id: int
    sampled: int = 0
    """Recorded files of the root looked for at its new place (`roots.move`, up to 1,000)."""
    present: int = 0
    """Of those, how many are there with their recorded size."""


def _two_folders(given: str, other: Spelling, root: PlacedRoot) -> str:
    return (
        f"{given} is under {other.text}, which is mapped to root {root.record.shown_name} (on "
        f"this machine at {os.fsdecode(root.here)}), but {other.text} is another folder here: "
        "two folders cannot share one root's records. Remove the mapping (`provenance roots "
        f"unmap {root.record.shown_name} '{other.text}'`), or place the root on this machine "
        f"with {ROOT_MAP_VARIABLE}."
    )

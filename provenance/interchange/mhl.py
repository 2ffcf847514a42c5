"""ASC Media Hash List (ASC MHL v2.0) histories: read a DIT's, write a delivery's.

A history is an `ascmhl/` folder at the root of the media it describes: numbered generations
(`0001_<root>_<date>Z.mhl`, XML in the namespace `urn:ASC:MHL:v2.0`), each listing files with
their hashes (md5, sha1, xxh64, xxh3, xxh128, c4) and the action that recorded each
(`original`, `verified`, `failed`), and a chain file (`ascmhl_chain.xml`) that names every
generation with its C4 ID. What is written here is what the ASC's own `ascmhl` tool verifies:
every file of the root with its size and modification date, a content and a structure hash of
every folder (and of the root), the default ignore patterns.

Reading uses defusedxml: a history is someone else's file. Pure otherwise: paths and digests
in, documents out; nothing here touches the ledger.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import os
import re
import socket
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from defusedxml import ElementTree as SafeTree  # type: ignore[import-untyped]

from provenance import atomic
from provenance.digests import FileDigests, digest_bytes, value_bytes
from provenance.errors import ProvenanceError
from provenance.records import MhlFinding

__all__ = [
    "CHAIN_FILE",
    "MHL_ALGORITHMS",
    "FileEntry",
    "History",
    "Written",
    "claim_detail",
    "compare",
    "folder_hashes",
    "hash_formats",
    "outside",
    "read_history",
    "write_generation",
]


NAMESPACE = "urn:ASC:MHL:v2.0"
CHAIN_NAMESPACE = "urn:ASC:MHL:DIRECTORY:v2.0"
HISTORY_FOLDER = "ascmhl"
CHAIN_FILE = "ascmhl_chain.xml"
DEFAULT_IGNORE = (".DS_Store", "ascmhl", "ascmhl/")

MHL_ALGORITHMS = {
    "md5": "md5",
    "sha1": "sha1",
    "xxh64": "xxh64be",
    "xxh3": "xxh3-64",
    "xxh128": "xxh3-128",
    "c4": "c4",
}
"""ASC MHL's hash format -> the `digests` algorithm that computes it (ASC MHL's xxh64 is the
canonical, big-endian form; its xxh128 is the ledger's own xxh3-128)."""

HASH_NAMES = {
    "xxh128": "xxh128",
    "md5": "md5",
    "xxh64be": "xxh64",
    "xxh64": "xxh64",
    "xxh3": "xxh3",
    "sha1": "sha1",
    "c4": "c4",
}
"""What `--hash` accepts -> ASC MHL's hash format."""


def hash_formats(names: Iterable[str]) -> tuple[str, ...]:
    """ASC MHL hash formats from what a person typed (`xxh128,md5,xxh64be`)."""
    found = []
    for name in names:
        key = name.strip().lower()
        if key not in HASH_NAMES:
            raise ProvenanceError(
                f"Unknown ASC MHL hash {name!r}: use {', '.join(sorted(set(HASH_NAMES)))}."
            )
        found.append(HASH_NAMES[key])
    if not found:
        raise ProvenanceError("Name at least one hash for the ASC MHL (e.g. --hash xxh128).")
    return tuple(dict.fromkeys(found))


@dataclass(frozen=True)
class Creator:
    """Who and what made a generation (its `creatorinfo`)."""

    date: str
    host: str
    tool: str
    tool_version: str
    authors: tuple[str, ...] = ()
    location: str = ""
    comment: str = ""

    def describe(self) -> str:
        tool = f"{self.tool} {self.tool_version}".strip()
        who = f" by {', '.join(self.authors)}" if self.authors else ""
        return f"{tool} on {self.host}{who}, {self.date}"


@dataclass(frozen=True)
class HashRecord:
    path: str
    """Relative to the history's root, `/`-separated."""
    size: int | None
    format: str
    value: str
    action: str


@dataclass(frozen=True)
class Generation:
    number: int
    file: bytes
    creator: Creator
    records: tuple[HashRecord, ...]
    ignore: tuple[str, ...]


@dataclass(frozen=True)
class History:
    """Every generation of an ASC MHL history, oldest first."""

    root: bytes
    """The folder its paths are relative to."""
    generations: tuple[Generation, ...]

    def expected(self) -> dict[str, dict[str, str]]:
        """path -> {hash format: value} as the history last recorded it (a `failed` record
        says the file did not match then: it is not what the file should hold)."""
        found: dict[str, dict[str, str]] = {}
        for generation in self.generations:
            for record in generation.records:
                if record.action != "failed":
                    found.setdefault(record.path, {})[record.format] = record.value
        return found

    @property
    def ignore(self) -> tuple[str, ...]:
        patterns = [p for g in self.generations for p in g.ignore]
        return tuple(dict.fromkeys(patterns or DEFAULT_IGNORE))

    def ignored(self, path: str) -> bool:
        """Does an ignore pattern of the history exclude this path (as gitignore would)?"""
        parts = path.split("/")
        for pattern in self.ignore:
            bare = pattern.rstrip("/")
            folder_only = pattern.endswith("/")
            for depth, part in enumerate(parts):
                is_folder = depth < len(parts) - 1
                if (is_folder or not folder_only) and fnmatch.fnmatchcase(part, bare):
                    return True
            if "/" in bare and fnmatch.fnmatchcase(path, bare.lstrip("/")):
                return True
        return False

    @property
    def formats(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r.format for g in self.generations for r in g.records))


def _tag(element: ElementTree.Element) -> str:
    return element.tag.rpartition("}")[2]


def _parse(path: bytes) -> ElementTree.Element:
    try:
        with open(path, "rb") as handle:
            document = SafeTree.fromstring(handle.read())
    except OSError as exc:
        raise ProvenanceError(
            f"Cannot read the ASC MHL file {os.fsdecode(path)} ({exc.strerror})."
        ) from None
    except Exception as exc:  # defusedxml and expat: a malformed or hostile document
        raise ProvenanceError(
            f"{os.fsdecode(path)} is not a readable ASC MHL document ({exc})."
        ) from None
    root: ElementTree.Element = document
    return root


def read_generation(path: bytes, number: int) -> Generation:
    """One `.mhl` file."""
    root = _parse(path)
    if _tag(root) != "hashlist":
        raise ProvenanceError(f"{os.fsdecode(path)} is not an ASC MHL hash list.")
    creator = Creator("", "", "", "")
    ignore: list[str] = []
    records: list[HashRecord] = []
    for child in root:
        tag = _tag(child)
        if tag == "creatorinfo":
            values = {_tag(e): (e.text or "").strip() for e in child}
            tool = next((e for e in child if _tag(e) == "tool"), None)
            authors = tuple((e.text or "").strip() for e in child if _tag(e) == "author")
            creator = Creator(
                date=values.get("creationdate", ""),
                host=values.get("hostname", ""),
                tool=(tool.text or "").strip() if tool is not None else "",
                tool_version=tool.get("version", "") if tool is not None else "",
                authors=authors,
                location=values.get("location", ""),
                comment=values.get("comment", ""),
            )
        elif tag == "processinfo":
            for part in child:
                if _tag(part) == "ignore":
                    ignore.extend((p.text or "").strip() for p in part if _tag(p) == "pattern")
        elif tag == "hashes":
            for entry in child:
                if _tag(entry) != "hash":
                    continue
                where = next((e for e in entry if _tag(e) == "path"), None)
                if where is None or not (where.text or "").strip():
                    continue
                size = where.get("size")
                for hashed in entry:
                    kind = _tag(hashed)
                    if kind in MHL_ALGORITHMS:
                        records.append(
                            HashRecord(
                                (where.text or "").strip(),
                                int(size) if size and size.isdigit() else None,
                                kind,
                                (hashed.text or "").strip(),
                                hashed.get("action", "original"),
                            )
                        )
    return Generation(number, path, creator, tuple(records), tuple(ignore))


def read_history(path: bytes) -> History:
    """An `ascmhl/` folder (its chain's generations, in order, each checked against its C4
    ID) or one `.mhl` file (its root: the folder above an `ascmhl/` folder it is in, else its
    own folder)."""
    path = os.path.abspath(path)
    if os.path.isdir(path):
        chain = os.path.join(path, CHAIN_FILE.encode())
        generations = [
            read_generation(file, number) for number, file in _chain(chain, path, check=True)
        ]
        if not generations:
            raise ProvenanceError(f"{os.fsdecode(path)} holds no ASC MHL generation.")
        return History(os.path.dirname(path), tuple(generations))
    if not os.path.isfile(path):
        raise ProvenanceError(
            f"{os.fsdecode(path)} does not exist. Give the roll's ascmhl folder or an .mhl file."
        )
    folder = os.path.dirname(path)
    root = os.path.dirname(folder) if os.path.basename(folder) == b"ascmhl" else folder
    return History(root, (read_generation(path, 1),))


def _chain(chain: bytes, folder: bytes, check: bool) -> list[tuple[int, bytes]]:
    """(sequence number, generation file) of each generation a chain file names, in order;
    with `check`, each file must still have the C4 ID the chain recorded for it."""
    if not os.path.exists(chain):
        return []
    found = []
    for entry in _parse(chain):
        if _tag(entry) != "hashlist":
            continue
        values = {_tag(e): (e.text or "").strip() for e in entry}
        number = int(entry.get("sequencenr", "0"))
        file = os.path.join(folder, os.fsencode(values.get("path", "")))
        if check:
            try:
                with open(file, "rb") as handle:
                    actual = digest_bytes("c4", handle.read())
            except OSError:
                raise ProvenanceError(
                    f"The ASC MHL chain names {values.get('path')}, which is missing from "
                    f"{os.fsdecode(folder)}: the history is incomplete."
                ) from None
            if actual != values.get("c4"):
                raise ProvenanceError(
                    f"{values.get('path')} is not the generation the ASC MHL chain recorded "
                    "(its C4 ID differs): the history was changed after it was written."
                )
        found.append((number, file))
    return sorted(found)


# -- writing ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FileEntry:
    """One file of a generation: where, how big, when last modified, and its hashes."""

    path: str
    size: int
    modified: dt.datetime
    hashes: Mapping[str, str]
    """ASC MHL hash format -> value."""


@dataclass
class _Folder:
    content: list[str] = field(default_factory=list)
    structure: list[str] = field(default_factory=list)


def _list_hash(algorithm: str, values: list[str]) -> str:
    """ASC MHL's hash of a list of hashes: sorted as text, their bytes concatenated."""
    return digest_bytes(algorithm, b"".join(value_bytes(algorithm, v) for v in sorted(values)))


def folder_hashes(
    entries: Sequence[FileEntry], formats: Sequence[str], empty: Iterable[str] = ()
) -> dict[str, dict[str, tuple[str, str]]]:
    """folder path ("" for the root) -> {format: (content hash, structure hash)}, as ASC MHL
    defines them: a folder's content hash covers its files' and subfolders' content hashes, its
    structure hash their names too. `empty` names folders that hold no file (they count)."""
    folders = {""}
    for path in [*(e.path for e in entries), *(f + "/-" for f in empty)]:
        names = path.split("/")
        folders.update("/".join(names[:depth]) for depth in range(1, len(names)))
    result: dict[str, dict[str, tuple[str, str]]] = {}
    for kind in formats:
        algorithm = MHL_ALGORITHMS[kind]
        parts: dict[str, _Folder] = {folder: _Folder() for folder in folders}
        for entry in entries:
            parent, _, name = entry.path.rpartition("/")
            value = entry.hashes[kind]
            parts[parent].content.append(value)
            named = name.encode("utf-8") + value_bytes(algorithm, value)
            parts[parent].structure.append(digest_bytes(algorithm, named))
        # Deepest folders first: a folder's hashes go into its parent's lists.
        for folder in sorted(folders, key=lambda f: (-f.count("/") if f else 1, f)):
            part = parts[folder]
            content = _list_hash(algorithm, part.content)
            structure = _list_hash(algorithm, part.structure)
            result.setdefault(folder, {})[kind] = (content, structure)
            if folder:
                parent, _, name = folder.rpartition("/")
                parts[parent].content.append(content)
                named = name.encode("utf-8") + value_bytes(algorithm, structure)
                parts[parent].structure.append(digest_bytes(algorithm, named))
    return result


def _when(moment: dt.datetime, fraction: bool = False) -> str:
    moment = moment.astimezone(dt.timezone.utc)
    return moment.isoformat(timespec="microseconds" if fraction else "seconds")


def write_generation(
    root: bytes,
    entries: Sequence[FileEntry],
    formats: Sequence[str],
    comment: str,
    tool_version: str,
    author: str,
    folder: bytes | None = None,
    now: dt.datetime | None = None,
    empty: Iterable[str] = (),
) -> tuple[bytes, int]:
    """Add a generation listing `entries` (paths relative to `root`) to the history in
    `folder` (default `root/ascmhl`), and name it in the chain file. A file the history
    recorded before is `verified` (its earlier hashes must match: else nothing is written),
    any other `original`. Returns (the generation's file, its number)."""
    folder = folder or os.path.join(root, HISTORY_FOLDER.encode())
    now = now or dt.datetime.now(dt.timezone.utc)
    os.makedirs(folder, exist_ok=True)
    chain_file = os.path.join(folder, CHAIN_FILE.encode())
    earlier = _chain(chain_file, folder, check=True)
    seen: dict[str, dict[str, str]] = {}
    for number, file in earlier:
        for record in read_generation(file, number).records:
            if record.action != "failed":
                seen.setdefault(record.path, {})[record.format] = record.value
    for entry in entries:
        for kind, value in seen.get(entry.path, {}).items():
            if kind in entry.hashes and entry.hashes[kind] != value:
                raise ProvenanceError(
                    f"{entry.path} does not match the ASC MHL history in {os.fsdecode(folder)} "
                    f"({kind} {value} recorded, {entry.hashes[kind]} now): nothing was written."
                )
    number = max((n for n, _ in earlier), default=0) + 1
    stamp = now.astimezone(dt.timezone.utc).strftime("%Y-%m-%d_%H%M%S")
    root_name = os.fsdecode(os.path.basename(root.rstrip(b"/"))) or "root"
    name = f"{number:04d}_{_safe(root_name)}_{stamp}Z.mhl"
    hashlist = ElementTree.Element("hashlist", {"version": "2.0", "xmlns": NAMESPACE})
    creator = ElementTree.SubElement(hashlist, "creatorinfo")
    ElementTree.SubElement(creator, "creationdate").text = _when(now)
    ElementTree.SubElement(creator, "hostname").text = socket.gethostname()
    ElementTree.SubElement(creator, "tool", {"version": tool_version}).text = "provenance"
    if author:
        ElementTree.SubElement(creator, "author").text = author
    if comment:
        ElementTree.SubElement(creator, "comment").text = comment
    process = ElementTree.SubElement(hashlist, "processinfo")
    ElementTree.SubElement(process, "process").text = "in-place"
    hashes = folder_hashes(entries, formats, empty)
    roothash = ElementTree.SubElement(process, "roothash")
    _directory_values(roothash, hashes[""], formats, now)
    ignore = ElementTree.SubElement(process, "ignore")
    for pattern in DEFAULT_IGNORE:
        ElementTree.SubElement(ignore, "pattern").text = pattern
    listed = ElementTree.SubElement(hashlist, "hashes")
    for entry in sorted(entries, key=lambda e: e.path):
        action = "verified" if entry.path in seen else "original"
        item = ElementTree.SubElement(listed, "hash")  # (one a file)
        ElementTree.SubElement(
            item,
            "path",
            {"size": str(entry.size), "lastmodificationdate": _when(entry.modified)},
        ).text = entry.path
        for kind in formats:
            ElementTree.SubElement(
                item, kind, {"action": action, "hashdate": _when(now, fraction=True)}
            ).text = entry.hashes[kind]
    for path in sorted(p for p in hashes if p):
        item = ElementTree.SubElement(listed, "directoryhash")
        ElementTree.SubElement(item, "path").text = path
        _directory_values(item, hashes[path], formats, now)
    ElementTree.indent(hashlist, "  ")
    body = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        + ElementTree.tostring(hashlist, encoding="utf-8")
        + b"\n"
    )
    generation = os.path.join(folder, name.encode())
    atomic.write_new(generation, body)
    chain = ElementTree.Element("ascmhldirectory", {"xmlns": CHAIN_NAMESPACE})
    for earlier_number, file in [*earlier, (number, generation)]:
        named = ElementTree.SubElement(chain, "hashlist", {"sequencenr": str(earlier_number)})
        ElementTree.SubElement(named, "path").text = os.fsdecode(os.path.basename(file))
        with open(file, "rb") as handle:
            ElementTree.SubElement(named, "c4").text = digest_bytes("c4", handle.read())
    ElementTree.indent(chain, "  ")
    atomic.replace(
        chain_file,
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        + ElementTree.tostring(chain, encoding="utf-8")
        + b"\n",
    )
    return generation, number


def _directory_values(
    parent: ElementTree.Element,
    values: Mapping[str, tuple[str, str]],
    formats: Sequence[str],
    now: dt.datetime,
) -> None:
    content = ElementTree.SubElement(parent, "content")
    structure = ElementTree.SubElement(parent, "structure")
    for kind in formats:
        date = {"hashdate": _when(now, fraction=True)}
        ElementTree.SubElement(content, kind, date).text = values[kind][0]
        ElementTree.SubElement(structure, kind, date).text = values[kind][1]


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)


@dataclass(frozen=True)
class Written:
    """What `export mhl` wrote."""

    generation: bytes
    number: int
    files: int
    bytes_read: int
    formats: tuple[str, ...]


# -- checking a roll against its history ------------------------------------------------------------


def outside(path: str) -> bool:
    """Does a history's path leave its root (absolute, or through `..`)?"""
    return path.startswith("/") or ".." in path.split("/")


def compare(
    history: History,
    recorded: Mapping[str, str | None],
    readings: Mapping[str, FileDigests],
    on_disk: Iterable[str],
) -> tuple[set[str], list[MhlFinding]]:
    """(the files whose bytes match every hash the history recorded for them, what is wrong
    with the others), path by path.

    `recorded`: each path the history names -> the ledger's digest of the bytes recorded there
    now (None: no such file); `readings`: each such path read once more for the history's other
    hashes (with its xxh3-128, which must be the recorded one); `on_disk`: every file under the
    root (a file the history does not name is a finding, unless its ignore patterns cover it).
    """
    matched: set[str] = set()
    findings: list[MhlFinding] = []
    expected = history.expected()
    present = set(on_disk)
    for path, values in sorted(expected.items()):
        if outside(path):
            findings.append(MhlFinding(path, "names a file outside the roll: not checked"))
            continue
        digest = recorded.get(path)
        if path not in present or digest is None:
            findings.append(MhlFinding(path, "missing"))
            continue
        problems = []
        for kind, value in values.items():
            if kind == "xxh128":
                now = digest.partition(":")[2]
            else:
                reading = readings.get(path)
                if reading is None or reading.digests is None:
                    why = reading.problem if reading is not None else "not read"
                    problems.append(f"could not be read for its {kind} ({why})")
                    continue
                if reading.tagged("xxh3-128") != digest:
                    problems.append("changed while it was ingested")
                    continue
                now = reading.digests[MHL_ALGORITHMS[kind]]
            if now.lower() != value.lower():
                problems.append(f"does not match ({kind} {value} recorded, {now} now)")
        if problems:
            findings.append(MhlFinding(path, "; ".join(problems)))
        else:
            matched.add(path)
    for path in sorted(present - expected.keys()):
        if not history.ignored(path):
            findings.append(MhlFinding(path, "not in the MHL"))
    return matched, findings


def claim_detail(history: History) -> dict[str, object]:
    """What a capture claim made on a history's word rests on."""
    last = history.generations[-1]
    return {
        "source": "ASC MHL",
        "history": os.fsdecode(os.path.dirname(last.file)),
        "generations": [os.fsdecode(os.path.basename(g.file)) for g in history.generations],
        "creator": {
            "host": last.creator.host,
            "tool": last.creator.tool,
            "tool_version": last.creator.tool_version,
            "authors": list(last.creator.authors),
            "date": last.creator.date,
        },
        "hash_formats": list(history.formats),
    }

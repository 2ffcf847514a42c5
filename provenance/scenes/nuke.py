"""Nuke scripts (`.nk`): the files their Read-type nodes read and their Write nodes write.

The script is parsed as text (no Nuke needed). What counts:

- inputs: the `file` knob of Read, DeepRead, ReadGeo/ReadGeo2, Camera/Camera2/Camera3/Camera4,
  Axis (file import), OCIOFileTransform, OCIOCDLTransform, AudioRead and ParticleCache, a Read's
  `proxy` knob, Vectorfield's `vfield_file`; a Precomp's script is read in turn. A node of any
  other class with a `file` knob (a gizmo or plug-in this reader does not know) is taken as an
  input too: counting it errs on the side of the gate. Nodes inside Groups, Gizmos and
  LiveGroups saved in the script count, at any depth.
- not inputs: nodes with `disable true`, and everything inside a disabled group (Nuke passes a
  disabled node's input through and never evaluates it). Every other node counts whether or not
  it is connected to the Write: the node graph is not walked.
- outputs: the `file` (and `proxy`) knob of enabled Write, DeepWrite and WriteGeo nodes.
- frames: a Read's `first` and `last` knobs, when they are numbers.
- paths: `%04d`, `%d` and `####` frame tokens; `%V` and `%v` expand to every view of the
  script's Root (`main` when it has none); relative paths are read from Root's
  `project_directory`. Expressions in `[...]`: `value root.name`, `value root.KNOB` (such as
  `project_directory`), `value parent.KNOB` inside a group, `value KNOB`, `file dirname`,
  `file tail`, `file rootname`, `file extension`, `file join`, `getenv NAME` and
  `python {nuke.script_directory()}`. Anything else is an `input-unresolved` finding naming the
  node and the knob, never dropped. A path (or `project_directory`) saved on Windows
  (`P:/show/...`, `//server/show/...`) is kept as spelled, for the `Placer` to place.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from provenance.roots import is_windows_spelling, written_path
from provenance.scenes import (
    UNRESOLVED,
    Placer,
    SceneFinding,
    SceneInput,
    SceneKind,
    SceneOutput,
    SceneRead,
    absolute_path,
    read_text,
)

__all__ = ["read_nuke"]


READERS: dict[str, tuple[str, ...]] = {
    "Read": ("file", "proxy"),
    "DeepRead": ("file",),
    "ReadGeo": ("file",),
    "ReadGeo2": ("file",),
    "Camera": ("file",),
    "Camera2": ("file",),
    "Camera3": ("file",),
    "Camera4": ("file",),
    "Axis": ("file",),
    "Axis2": ("file",),
    "Axis3": ("file",),
    "Axis4": ("file",),
    "OCIOFileTransform": ("file",),
    "OCIOCDLTransform": ("file",),
    "Vectorfield": ("vfield_file",),
    "AudioRead": ("file",),
    "ParticleCache": ("file",),
    "Precomp": ("file",),
}
"""Node classes that read files, and the knobs that name them."""
WRITERS: dict[str, tuple[str, ...]] = {
    "Write": ("file", "proxy"),
    "DeepWrite": ("file",),
    "WriteGeo": ("file",),
}
# Classes with a `file` knob that is not something they read.
NOT_INPUTS = frozenset({*WRITERS, "GenerateLUT", "Root", "Viewer"})
GROUPS = frozenset({"Group", "Gizmo", "LiveGroup"})
"""Classes whose block is followed by the nodes inside them, up to `end_group`."""
RANGED = frozenset({"Read", "DeepRead"})
"""Classes whose `first` and `last` knobs are the frames they read."""
DEFAULT_VIEWS = ("main",)
MAX_PRECOMP_DEPTH = 8

_HAS_FILE_KNOB = re.compile(r"(?m)^[ \t]*(?:file|proxy|vfield_file)[ \t]")
_TRUE = frozenset({"true", "1", "yes", "on"})
_TRAILING_RANGE = re.compile(r"\s+(-?\d+)-(-?\d+)$")
_VIEW_TOKEN = re.compile(r"%[Vv]")


# ---------------------------------------------------------------------------------------------
# The text: TCL-like words and commands


@dataclass(frozen=True)
class Word:
    text: str
    braced: bool = False


_BRACES = re.compile(r"\\.|[{}]", re.S)
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"', re.S)
_BARE_END = re.compile(r'[\s\[\\{]|"')
_ESCAPE = re.compile(r"\\(.)", re.S)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r"}


def _closing_brace(text: str, start: int) -> int:
    """The index of the `}` that closes the `{` at `start` (backslash escapes do not count)."""
    depth = 0
    for match in _BRACES.finditer(text, start):
        token = match.group(0)
        if token == "{":
            depth += 1
        elif token == "}":
            depth -= 1
            if depth == 0:
                return match.start()
    raise ValueError(f"unbalanced braces from offset {start}")


def _closing_bracket(text: str, start: int) -> int:
    depth = 0
    index = start
    while index < len(text):
        char = text[index]
        if char == "\\":
            index += 2
            continue
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
            if depth == 0:
                return index
        index += 1
    raise ValueError(f"unbalanced brackets from offset {start}")


def _unescape(text: str) -> str:
    return _ESCAPE.sub(lambda m: _ESCAPES.get(m.group(1), m.group(1)), text)


def commands(text: str, start: int = 0, end: int | None = None) -> Iterator[tuple[int, list[Word]]]:
    """The commands of a TCL-like text, each as (offset, words); a newline ends a command."""
    end = len(text) if end is None else end
    index = start
    words: list[Word] = []
    command_start = start
    while index < end:
        char = text[index]
        if char in " \t\r":
            index += 1
        elif char == "\n":
            if words:
                yield command_start, words
                words = []
            index += 1
        elif char == "\\" and text.startswith("\\\n", index):
            index += 2
        elif char == "#" and not words:
            newline = text.find("\n", index, end)
            index = end if newline < 0 else newline
        elif char == "{":
            if not words:
                command_start = index
            close = _closing_brace(text, index)
            words.append(Word(text[index + 1 : close], braced=True))
            index = close + 1
        elif char == '"':
            if not words:
                command_start = index
            match = _QUOTED.match(text, index)
            if match is None:
                raise ValueError(f"unclosed quote at offset {index}")
            words.append(Word(_unescape(match.group(1))))
            index = match.end()
        else:
            if not words:
                command_start = index
            begin, index = index, _bare_word_end(text, index, end)
            words.append(Word(_unescape(text[begin:index])))
    if words:
        yield command_start, words


def _bare_word_end(text: str, index: int, end: int) -> int:
    """Where the bare (unquoted, unbraced) word at `index` ends: at white space, an opening
    brace or a quote; an escaped character and a `[...]` command substitution are part of it."""
    while index < end:
        match = _BARE_END.search(text, index, end)
        if match is None:
            return end
        index = match.start()
        stop = text[index]
        if stop == "\\":
            index += 2
        elif stop == "[":
            index = _closing_bracket(text, index) + 1
        else:
            break
    return index


# ---------------------------------------------------------------------------------------------
# Nodes


@dataclass
class Node:
    cls: str
    knobs: dict[str, Word]
    parent: Node | None
    disabled: bool
    """Disabled itself, or inside a disabled group."""

    @property
    def name(self) -> str:
        word = self.knobs.get("name")
        return word.text if word is not None else self.cls

    @property
    def full_name(self) -> str:
        names = []
        node: Node | None = self
        while node is not None and node.cls != "Root":
            names.append(node.name)
            node = node.parent
        return ".".join(reversed(names))


def _knobs(body: str) -> dict[str, Word]:
    knobs: dict[str, Word] = {}
    for _offset, words in commands(body):
        if len(words) >= 2 and not words[0].braced:
            knobs.setdefault(words[0].text, words[1])
    return knobs


@dataclass
class _Script:
    path: bytes
    root: Node
    nodes: list[Node] = field(default_factory=list)
    """Nodes that read or write files, and groups, in script order."""


def _parse(path: bytes, text: str) -> _Script:
    root = Node("Root", {}, None, False)
    script = _Script(path, root)
    groups: list[Node] = []
    index = 0
    length = len(text)
    while index < length:
        newline = text.find("\n", index)
        line_end = length if newline < 0 else newline
        line = text[index:line_end]
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            index = line_end + 1
            continue
        words = stripped.split(None, 1)
        head = words[0]
        brace = line.find("{")
        if head == "end_group":
            if groups:
                groups.pop()
            index = line_end + 1
            continue
        if brace < 0 or line.rstrip()[-1:] != "{":
            index = line_end + 1  # push, set, version, stack commands...
            continue
        start = index + brace
        close = _closing_brace(text, start)
        cls = head
        if head == "clone":
            parts = stripped.split()
            # `clone node0x...|Read|123 Read {`: the first of a set of clones carries the knobs;
            # later ones (`clone $C0x... {`) share them.
            cls = parts[2] if len(parts) >= 4 else ""
        index = text.find("\n", close)
        index = length if index < 0 else index + 1
        parent = groups[-1] if groups else None
        parent_disabled = parent.disabled if parent is not None else False
        body_start, body_end = start + 1, close
        if cls == "Root":
            root.knobs = _knobs(text[body_start:body_end])
            continue
        wanted = cls in READERS or cls in WRITERS or cls in GROUPS
        if not wanted and (cls in NOT_INPUTS or not cls):
            continue
        if not wanted and not _HAS_FILE_KNOB.search(text, body_start, body_end):
            continue
        knobs = _knobs(text[body_start:body_end])
        disabled = parent_disabled or knobs.get("disable", Word("")).text.lower() in _TRUE
        node = Node(cls, knobs, parent, disabled)
        script.nodes.append(node)
        if cls in GROUPS:
            groups.append(node)
    return script


# ---------------------------------------------------------------------------------------------
# Expressions


class Unresolved(Exception):
    """An expression the reader does not evaluate."""


@dataclass
class _Context:
    script: bytes
    root: Node
    node: Node
    depth: int = 0


def evaluate(text: str, context: _Context) -> str:
    """A knob's text with its `[...]` expressions evaluated (raises Unresolved)."""
    if context.depth > 10:
        raise Unresolved(text)
    while "[" in text:
        start = text.rfind("[")
        close = text.find("]", start)
        if close < 0:
            raise Unresolved(text)
        result = _command(text[start + 1 : close], context)
        text = text[:start] + result + text[close + 1 :]
    return text


def _command(source: str, context: _Context) -> str:
    words = [w.text for _, ws in commands(source) for w in ws]
    if not words:
        raise Unresolved(source)
    name, args = words[0], words[1:]
    if name == "value" and len(args) == 1:
        return _value(args[0], context)
    if name == "file" and len(args) >= 2:
        operation, operands = args[0], args[1:]
        if operation == "dirname" and len(operands) == 1:
            return posixpath.dirname(operands[0])
        if operation == "tail" and len(operands) == 1:
            return posixpath.basename(operands[0])
        if operation == "rootname" and len(operands) == 1:
            return posixpath.splitext(operands[0])[0]
        if operation == "extension" and len(operands) == 1:
            return posixpath.splitext(operands[0])[1]
        if operation == "join":
            return posixpath.join(*operands)
        if operation == "normalize" and len(operands) == 1:
            return posixpath.normpath(operands[0])
    if name == "getenv" and len(args) == 1:
        found = os.environ.get(args[0])
        if found is not None:
            return found
    if name == "python" and len(args) == 1:
        code = args[0].strip()
        script = os.fsdecode(context.script)
        if code in ("nuke.script_directory()", "nuke.scriptDirectory()"):
            return posixpath.dirname(script)
        if code in ("nuke.root().name()", "nuke.scriptName()"):
            return script
    raise Unresolved(source)


def _value(reference: str, context: _Context) -> str:
    *owners, knob = reference.split(".")
    node = context.node
    for owner in owners:
        if owner == "root":
            if knob == "name" and len(owners) == 1:
                return os.fsdecode(context.script)
            node = context.root
        elif owner == "parent":
            node = node.parent if node.parent is not None else context.root
        elif owner != "this":
            raise Unresolved(reference)  # another node by name: not looked up
    word = node.knobs.get(knob)
    if word is None or (word.braced and word.text.startswith("{")):
        raise Unresolved(reference)
    inner = _Context(context.script, context.root, node, context.depth + 1)
    return evaluate(word.text, inner)


# ---------------------------------------------------------------------------------------------
# The reader


def _views(root: Node) -> tuple[str, ...]:
    word = root.knobs.get("views")
    if word is None:
        return DEFAULT_VIEWS
    names: list[str] = []
    if "{" in word.text:
        for _, items in commands(word.text):
            for item in items:
                first = item.text.split()
                if first:
                    names.append(first[0])
    else:
        names = [line.split()[0] for line in word.text.splitlines() if line.split()]
    return tuple(names) or DEFAULT_VIEWS


def _number(word: Word | None) -> int | None:
    if word is None or word.braced:
        return None
    try:
        return int(word.text)
    except ValueError:
        return None


@dataclass
class _Reader:
    script: _Script
    read: SceneRead
    views: tuple[str, ...]
    project: bytes | None
    project_problem: str | None
    seen: set[bytes]
    placer: Placer

    def paths(self, node: Node, knob: str) -> Iterator[tuple[bytes, tuple[int, int] | None]]:
        """The absolute paths a node's knob names (one a view), and the range it reads."""
        word = node.knobs.get(knob)
        if word is None or not word.text.strip():
            return
        context = _Context(self.script.path, self.script.root, node)
        rule = UNRESOLVED if node.cls not in WRITERS else "output-unresolved"
        try:
            if word.braced and word.text.startswith("{"):
                raise Unresolved(word.text)  # an animated or expression-driven knob
            text = evaluate(word.text, context).strip()
        except (Unresolved, ValueError):
            self.finding(rule, node, knob, word.text, "an expression this reader does not evaluate")
            return
        frames: tuple[int, int] | None = None
        trailing = _TRAILING_RANGE.search(text)
        if trailing is not None:
            text = text[: trailing.start()]
            frames = (int(trailing.group(1)), int(trailing.group(2)))
        if node.cls in RANGED:
            first, last = _number(node.knobs.get("first")), _number(node.knobs.get("last"))
            if first is not None and last is not None and first <= last:
                frames = (first, last)
        if not text:
            return
        if not _is_absolute(text):
            if self.project is None:
                self.finding(
                    rule,
                    node,
                    knob,
                    word.text,
                    self.project_problem
                    or "a relative path, and the script's Root sets no project_directory (Nuke "
                    "reads it from the folder it was started in)",
                )
                return
            base = self.project
        else:
            base = b"/"
        for view in self.views if _VIEW_TOKEN.search(text) else (None,):
            named = text
            if view is not None:
                named = named.replace("%V", view).replace("%v", view[:1])
            yield absolute_path(named, base), frames

    def finding(self, rule: str, node: Node, knob: str, text: str, why: str) -> None:
        name = node.full_name
        self.read.findings.append(
            SceneFinding(
                rule,
                name,
                knob,
                text,
                f"{name}.{knob} is {text!r}: {why}. If it reads a file, add it with --from PATH.",
            )
        )

    def run(self) -> None:
        for node in self.script.nodes:
            if node.disabled or (node.cls in GROUPS and "file" not in node.knobs):
                continue
            if node.cls in WRITERS:
                for knob in WRITERS[node.cls]:
                    for path, _frames in self.paths(node, knob):
                        self.read.outputs.append(SceneOutput(path, node.full_name))
                continue
            for knob in READERS.get(node.cls, ("file",)):
                for path, frames in self.paths(node, knob):
                    if node.cls in ("Precomp", "LiveGroup") and path.lower().endswith(b".nk"):
                        self.precomp(node, path)
                    else:
                        self.read.inputs.append(SceneInput(path, node.full_name, knob, frames))

    def precomp(self, node: Node, path: bytes) -> None:
        """A Precomp's (or LiveGroup's) script: its inputs are this script's inputs."""
        here = self.placer.place(path)
        if (
            here is None
            or here in self.seen
            or len(self.seen) > MAX_PRECOMP_DEPTH
            or not os.path.isfile(here)
        ):
            self.read.inputs.append(SceneInput(path, node.full_name, "file"))
            return
        inner = _read(here, self.seen | {here}, self.placer)
        prefix = node.full_name + ">"
        self.read.inputs.extend(
            SceneInput(i.path, prefix + i.node, i.knob, i.frames) for i in inner.inputs
        )
        self.read.findings.extend(
            SceneFinding(f.rule, prefix + f.node, f.knob, f.text, f.message)
            for f in inner.findings
            if f.rule == UNRESOLVED
        )


def _project_directory(script: _Script) -> tuple[bytes | None, str | None]:
    """Root's project_directory as an absolute folder, or (None, why not)."""
    word = script.root.knobs.get("project_directory")
    if word is None or not word.text.strip():
        return None, None
    try:
        folder = evaluate(word.text, _Context(script.path, script.root, script.root)).strip()
    except (Unresolved, ValueError):
        return None, (
            f"a relative path, and Root's project_directory {word.text!r} is an expression this "
            "reader does not evaluate"
        )
    if not _is_absolute(folder):
        return None, (
            f"a relative path, and Root's project_directory {folder!r} is relative itself (Nuke "
            "reads it from the folder it was started in)"
        )
    return written_path(os.fsencode(folder), b"/"), None


def _is_absolute(text: str) -> bool:
    """Absolute on this machine, or on the Windows machine that saved the script."""
    return posixpath.isabs(text) or is_windows_spelling(os.fsencode(text))


def _read(path: bytes, seen: set[bytes], placer: Placer) -> SceneRead:
    try:
        script = _parse(path, read_text(path))
    except ValueError as exc:
        from provenance.errors import BadScene

        raise BadScene(
            f"{os.fsdecode(path)!r} is not a Nuke script this reader can parse ({exc}). Check "
            "that it opens in Nuke, or name its inputs with --from."
        ) from None
    read = SceneRead(SceneKind.NUKE, path, names_outputs=True)
    project, problem = _project_directory(script)
    _Reader(script, read, _views(script.root), project, problem, seen, placer).run()
    return read


def read_nuke(path: bytes, placer: Placer) -> SceneRead:
    """The inputs, outputs and findings of a Nuke script (see the module's docstring), its
    paths as the script spells them: `placer` opens Precomps with them."""
    return _read(path, {path}, placer)

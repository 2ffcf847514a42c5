"""What a scene reads and writes: Nuke scripts, USD stages, Maya ASCII scenes and OTIO cuts.

Pure: each reader takes the scene file's path and returns a `SceneRead` (the inputs the scene
reads, the outputs it writes, and what it could not work out), never touching the ledger. The
ledger side (which recorded asset version each input is, by the bytes on disk now) is
`provenance.scene_lineage`.

A reader never drops an input silently: one it cannot name (an expression it does not
evaluate, a path relative to a folder the scene does not say) is a `SceneFinding` with the rule
`input-unresolved`, naming the node and the knob or attribute it came from.

Paths are read where this machine has them: a scene saved on another platform or mount spells
them for that machine (`P:/show/...`, `//server/show/...`, `/Volumes/show/...`). A path is kept
as the scene spells it (made absolute from the scene's folder if relative), then put where this
machine reads it by the `Localize` the caller gives (the ledger's show roots:
`RootMap.localize`). One that no root places is a `path-unmapped` finding, not an input: what
the scene reads there cannot be vouched for.
"""

from __future__ import annotations

import enum
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from provenance.errors import BadScene, ProvenanceError
from provenance.roots import RootMap, written_path
from provenance.scan import UDIM_TOKEN

__all__ = [
    "UNMAPPED",
    "UNRESOLVED",
    "Localize",
    "Placer",
    "SceneFinding",
    "SceneInput",
    "SceneKind",
    "SceneOutput",
    "SceneRead",
    "absolute_path",
    "normalize_tokens",
    "on_disk",
    "read_scene",
    "read_text",
    "scene_kind",
]


UNRESOLVED = "input-unresolved"
"""A finding: an input the scene reads whose path the reader could not work out."""
UNMAPPED = "path-unmapped"
"""A finding: a path the scene spells for another platform or mount that no show root places
on this machine."""

Localize = Callable[[bytes], bytes]
"""Where an absolute path as a scene spells it (for this machine, another mount or another
platform) is on this machine; raises ProvenanceError, naming the fix, when it cannot say."""


class SceneKind(str, enum.Enum):
    NUKE = "nuke"
    USD = "usd"
    MAYA = "maya"
    OTIO = "otio"

    @property
    def tool(self) -> str:
        """The tool a scene of this kind is recorded as made with."""
        return _TOOLS[self]


_TOOLS = {
    SceneKind.NUKE: "Nuke",
    SceneKind.USD: "USD",
    SceneKind.MAYA: "Maya",
    SceneKind.OTIO: "OpenTimelineIO",
}

_EXTENSIONS = {
    ".nk": SceneKind.NUKE,
    ".nknc": SceneKind.NUKE,
    ".gizmo": SceneKind.NUKE,
    ".usd": SceneKind.USD,
    ".usda": SceneKind.USD,
    ".usdc": SceneKind.USD,
    ".usdz": SceneKind.USD,
    ".ma": SceneKind.MAYA,
    ".otio": SceneKind.OTIO,
}

# Binary scene formats whose contents no reader here can see.
_OPAQUE = {".hip", ".hipnc", ".hiplc", ".mb", ".blend", ".max", ".c4d", ".aep"}


@dataclass(frozen=True)
class SceneInput:
    """One file, frame sequence or UDIM set a scene reads."""

    path: bytes
    """Absolute and normalized, where this machine reads it: a single file, a sequence with `#`
    padding (as typed: `####`, `%04d` and `%d` all become `#`s) or a UDIM set with `<UDIM>`."""
    node: str
    """Where the scene names it: a Nuke node's full name (`Group1.Read2`), a Maya node, a USD
    layer."""
    knob: str
    """The knob or attribute that holds the path (`file`, `.ftn`, `sublayer`...)."""
    frames: tuple[int, int] | None = None
    """The frames read (first, last) when the scene says; None: every frame on disk."""

    @property
    def where(self) -> str:
        """The node and knob, as people name them (`ReadPlate.file`, `shader.ftn`)."""
        if not self.node:
            return self.knob
        return self.node + (self.knob if self.knob.startswith(".") else "." + self.knob)


@dataclass(frozen=True)
class SceneOutput:
    """A file or sequence the scene writes (a Nuke Write node's file)."""

    path: bytes
    node: str


@dataclass(frozen=True)
class SceneFinding:
    """Something the reader could not work out, with where it is in the scene."""

    rule: str
    node: str
    knob: str
    text: str
    """The value as the scene holds it (the expression it did not evaluate)."""
    message: str


@dataclass
class SceneRead:
    """Everything a reader found in one scene file."""

    kind: SceneKind
    path: bytes
    """The scene file itself, absolute."""
    inputs: list[SceneInput] = field(default_factory=list)
    outputs: list[SceneOutput] = field(default_factory=list)
    findings: list[SceneFinding] = field(default_factory=list)
    names_outputs: bool = False
    """Whether scenes of this kind say what they write (Nuke's Write nodes do): only then can a
    render be checked against them."""

    @property
    def unresolved(self) -> list[SceneFinding]:
        return [f for f in self.findings if f.rule == UNRESOLVED]


def scene_kind(path: bytes) -> SceneKind:
    """The kind of scene a file is, by its extension; refuses the ones no reader can see into."""
    extension = os.path.splitext(os.fsdecode(path))[1].lower()
    kind = _EXTENSIONS.get(extension)
    if kind is not None:
        return kind
    shown = os.fsdecode(path)
    if extension in _OPAQUE:
        raise BadScene(
            f"{shown!r} is a binary scene ({extension}) whose contents cannot be read without its "
            "application. Save it in a text format (a Maya .ma, a Nuke .nk, a USD stage), or name "
            "its inputs with --from."
        )
    known = ", ".join(sorted(_EXTENSIONS))
    raise BadScene(
        f"{shown!r} is not a scene this tool reads ({known}). Name its inputs with --from."
    )


def read_scene(path: bytes | str | os.PathLike[str], localize: Localize | None = None) -> SceneRead:
    """Read one scene file (any kind `scene_kind` knows) into its inputs, outputs and findings,
    every path placed on this machine by `localize` (without one, only this machine's paths
    are placed)."""
    absolute = os.path.abspath(os.fsencode(path))
    kind = scene_kind(absolute)
    if not os.path.isfile(absolute):
        raise BadScene(f"The scene {os.fsdecode(absolute)!r} does not exist. Check the path.")
    placer = Placer(localize)
    if kind is SceneKind.NUKE:
        from provenance.scenes.nuke import read_nuke

        read = read_nuke(absolute, placer)
    elif kind is SceneKind.USD:
        from provenance.scenes.usd import read_usd

        read = read_usd(absolute, placer)
    elif kind is SceneKind.MAYA:
        from provenance.scenes.maya import read_maya

        read = read_maya(absolute)
    else:
        from provenance.scenes.otio import read_otio

        read = read_otio(absolute, placer)
    return placer.place_read(read)


class Placer:
    """Puts the paths a scene spells where this machine reads them, and keeps those it cannot
    place, with why."""

    def __init__(self, localize: Localize | None) -> None:
        if localize is None:
            localize = _this_machine()
        self._localize = localize
        self.unplaced: dict[bytes, str] = {}

    def place(self, spelled: bytes) -> bytes | None:
        """Where `spelled` (absolute, as the scene spells it) is on this machine; None when no
        root places it (`unplaced` says why)."""
        if spelled in self.unplaced:
            return None
        try:
            return os.path.normpath(self._localize(spelled))
        except ProvenanceError as exc:
            self.unplaced[spelled] = str(exc)
            return None

    def here_or_as_spelled(self, spelled: bytes) -> bytes:
        """`place`, or the path as spelled (which names nothing here) for a reader that must go
        on; `place_read` reports it."""
        return self.place(spelled) or spelled

    def place_read(self, read: SceneRead) -> SceneRead:
        """The read with every input and output on this machine; those no root places become
        `path-unmapped` findings."""
        inputs = []
        for item in read.inputs:
            here = self.place(item.path)
            if here is None:
                read.findings.append(self._unmapped(item.node, item.knob, item.where, item.path))
            else:
                inputs.append(replace(item, path=here))
        outputs = []
        for output in read.outputs:
            here = self.place(output.path)
            if here is None:
                read.findings.append(self._unmapped(output.node, "", output.node, output.path))
            else:
                outputs.append(replace(output, path=here))
        return replace(read, inputs=inputs, outputs=outputs)

    def _unmapped(self, node: str, knob: str, where: str, spelled: bytes) -> SceneFinding:
        why = self.unplaced[spelled]
        return SceneFinding(UNMAPPED, node, knob, os.fsdecode(spelled), f"{where}: {why}")


def _this_machine() -> Localize:
    """Paths of this machine as they are; another platform's are placed by no root."""
    roots = RootMap.unrecorded(None)
    return lambda spelled: roots.localize(spelled, b"/")


_FRAME_TOKENS = re.compile(r"%0?(\d*)d|<udim>|<UDIM>|%\(UDIM\)d|\$F(\d*)")


def normalize_tokens(name: str) -> str:
    """A path with its frame token written the ledger's way: `%04d` and `$F4` as `####`, `%d`
    and `$F` as `#`, and every UDIM spelling as `<UDIM>`."""

    def token(match: re.Match[str]) -> str:
        text = match.group(0)
        if "UDIM" in text.upper():
            return "<UDIM>"
        width = match.group(1) or match.group(2)
        return "#" * (int(width) if width else 1)

    return _FRAME_TOKENS.sub(token, name)


def absolute_path(text: str, base: bytes) -> bytes:
    """`text` (already evaluated) as an absolute path, read from the folder `base` if relative,
    still spelled for the platform that wrote it (`roots.written_path`), with its frame token
    written the ledger's way."""
    return written_path(os.fsencode(normalize_tokens(text)), base)


def on_disk(path: bytes) -> bool:
    """A file, or a sequence or UDIM pattern of which some file exists."""
    if os.path.exists(path):
        return True
    folder, name = os.path.split(path)
    if b"#" not in name and UDIM_TOKEN not in name:
        return False
    head = name.split(b"#")[0].split(UDIM_TOKEN)[0]
    try:
        return any(entry.startswith(head) for entry in os.listdir(folder or b"."))
    except OSError:
        return False


def read_text(path: bytes) -> str:
    """A text scene's contents (undecodable bytes kept as surrogates, so paths round-trip)."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise BadScene(f"Cannot read the scene {os.fsdecode(path)!r}: {exc.strerror}.") from None
    if b"\x00" in data[:4096]:
        raise BadScene(
            f"{os.fsdecode(path)!r} is not a text scene (it holds binary data). Save it as text."
        )
    return data.decode("utf-8", "surrogateescape")

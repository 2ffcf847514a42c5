"""Maya ASCII scenes (`.ma`): the files their nodes read and the scenes they reference.

The scene is parsed as MEL statements (no Maya needed). What counts:

- references: `file -r ... "PATH";` (and the `file -rdi` lines of nested references), loaded
  or deferred alike: a deferred reference can be loaded by the render's own scripts;
- file textures: a `file` node's `.ftn` / `.fileTextureName`; with UV tiling mode 3 (UDIM,
  `.uvt 3`) or a `<UDIM>` token it is the UDIM set; with `.ufe` (use frame extension) the frame
  sequence; ZBrush and Mudbox tiling (`.uvt 1` and `2`) are `input-unresolved`;
- `AlembicNode` `.abc_File` (`.fn`), `gpuCache` `.cacheFileName` (`.cfn`), `imagePlane`
  `.imageName` (`.imn`), `audio` `.filename` (`.f`), `aiImage` `.filename`, `aiStandIn` `.dso`,
  `aiVolume` `.filename`.

Paths: `$VAR` and `${VAR}` from the environment (an unset one is `input-unresolved`); a relative
path is read from the scene's folder, then from the project above a `scenes` folder, where it
exists; otherwise it is `input-unresolved`. An absolute path saved on Windows (`P:/show/...`,
`//server/show/...`) is kept as spelled, for the `Placer` to place. A Maya scene names no
outputs this reader knows.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from provenance.roots import is_windows_spelling, written_path
from provenance.scan import FRAME_NAME, UDIM_TOKEN
from provenance.scenes import (
    UNRESOLVED,
    SceneFinding,
    SceneInput,
    SceneKind,
    SceneRead,
    normalize_tokens,
    on_disk,
    read_text,
)

__all__ = ["read_maya"]


PATH_ATTRIBUTES: dict[str, frozenset[str]] = {
    "file": frozenset({".ftn", ".fileTextureName"}),
    "AlembicNode": frozenset({".abc_File", ".fn"}),
    "gpuCache": frozenset({".cacheFileName", ".cfn"}),
    "imagePlane": frozenset({".imageName", ".imn"}),
    "audio": frozenset({".filename", ".f"}),
    "aiImage": frozenset({".filename"}),
    "aiStandIn": frozenset({".dso"}),
    "aiVolume": frozenset({".filename"}),
}
"""Node types that read files, and the attributes (long and short names) that name them."""
UV_TILING = frozenset({".uvt", ".uvTilingMode"})
FRAME_EXTENSION = frozenset({".ufe", ".useFrameExtension"})
_UDIM_MODE = 3

_STATEMENT = re.compile(r'"(?:[^"\\]|\\.)*"|;|[^\s";]+', re.S)
_ENV = re.compile(r"\$\{(\w+)\}|\$(\w+)")


def _statements(text: str) -> Iterator[list[str]]:
    """MEL statements as word lists (strings keep their quotes), `//` comments left out."""
    words: list[str] = []
    for line in text.splitlines():
        if line.lstrip().startswith("//"):
            continue
        for match in _STATEMENT.finditer(line):
            token = match.group(0)
            if token == ";":
                if words:
                    yield words
                words = []
            else:
                words.append(token)
    if words:
        yield words


def _string(token: str) -> str | None:
    if len(token) >= 2 and token[0] == token[-1] == '"':
        return re.sub(r"\\(.)", r"\1", token[1:-1])
    return None


@dataclass
class _Node:
    type: str
    name: str
    paths: dict[str, str] = field(default_factory=dict)
    uv_tiling: int = 0
    frame_extension: bool = False


def read_maya(path: bytes) -> SceneRead:
    """The references and file-reading nodes of a Maya ASCII scene (see the module's docstring)."""
    read = SceneRead(SceneKind.MAYA, path)
    nodes: list[_Node] = []
    current: _Node | None = None
    for words in _statements(read_text(path)):
        command = words[0]
        if command == "file" and ("-r" in words or "-rdi" in words):
            target = _string(words[-1])
            reference = _string(words[words.index("-rfn") + 1]) if "-rfn" in words[:-2] else None
            if target:
                _add(read, path, target, reference or "file -r", "reference")
            continue
        if command == "createNode" and len(words) >= 2:
            current = None
            if words[1] in PATH_ATTRIBUTES:
                name = _string(words[words.index("-n") + 1]) if "-n" in words else None
                current = _Node(words[1], name or words[1])
                nodes.append(current)
            continue
        if command == "setAttr" and current is not None and len(words) >= 3:
            attribute = _string(next((w for w in words[1:] if w.startswith('"')), '""')) or ""
            value = words[-1]
            if attribute in PATH_ATTRIBUTES[current.type]:
                text = _string(value)
                if text is not None:
                    current.paths[attribute] = text
            elif attribute in UV_TILING and value.isdigit():
                current.uv_tiling = int(value)
            elif attribute in FRAME_EXTENSION:
                current.frame_extension = value in ("yes", "on", "true", "1")
    for node in nodes:
        for attribute, text in node.paths.items():
            if not text.strip():
                continue
            if node.uv_tiling in (1, 2):
                _unresolved(
                    read,
                    node.name,
                    attribute,
                    text,
                    "ZBrush or Mudbox UV tiles (u1_v1), which this reader does not expand",
                )
                continue
            _add(read, path, text, node.name, attribute, node.uv_tiling, node.frame_extension)
    return read


def _add(
    read: SceneRead,
    scene: bytes,
    text: str,
    node: str,
    attribute: str,
    uv_tiling: int = 0,
    frame_extension: bool = False,
) -> None:
    expanded = _expand(text)
    if expanded is None:
        _unresolved(read, node, attribute, text, "an environment variable that is not set")
        return
    located = _locate(normalize_tokens(expanded), scene)
    if located is None:
        _unresolved(
            read,
            node,
            attribute,
            text,
            "a relative path not found beside the scene or in its project",
        )
        return
    folder, name = os.path.split(located)
    match = FRAME_NAME.match(name)
    if match is not None and (uv_tiling == _UDIM_MODE or frame_extension):
        token = UDIM_TOKEN if uv_tiling == _UDIM_MODE else b"#" * len(match.group("frame"))
        located = os.path.join(folder, match.group("head") + token + match.group("tail"))
    read.inputs.append(SceneInput(located, node, attribute))


def _expand(text: str) -> str | None:
    missing = False

    def variable(match: re.Match[str]) -> str:
        nonlocal missing
        value = os.environ.get(match.group(1) or match.group(2))
        if value is None:
            missing = True
            return ""
        return value

    expanded = _ENV.sub(variable, text)
    return None if missing else expanded


def _locate(text: str, scene: bytes) -> bytes | None:
    """An absolute path for `text`: itself, or relative to the scene's folder or its project."""
    raw = os.fsencode(text)
    if os.path.isabs(raw) or is_windows_spelling(raw):
        return written_path(raw, b"/")
    folder = os.path.dirname(scene)
    candidates = [folder]
    if os.path.basename(folder) == b"scenes":
        candidates.append(os.path.dirname(folder))
    for base in candidates:
        candidate = os.path.normpath(os.path.join(base, raw))
        if on_disk(candidate):
            return candidate
    return None


def _unresolved(read: SceneRead, node: str, attribute: str, text: str, why: str) -> None:
    read.findings.append(
        SceneFinding(
            UNRESOLVED,
            node,
            attribute,
            text,
            f"{node}{attribute if attribute.startswith('.') else ' ' + attribute} is {text!r}: "
            f"{why}. If the render read it, add it with --from PATH.",
        )
    )

"""USD stages: every layer and asset a stage depends on, by Pixar's own walk.

`UsdUtils.ComputeAllDependencies` follows sublayers, references, payloads, value clips and
asset-valued attributes (textures, including `<UDIM>` sets, which it expands to the tiles on
disk) through the asset resolver, as a render would. The root layer is the scene itself, not an
input. Tiles of one texture (numbered 1001-1099, same name around the number) are one UDIM set.
What the resolver cannot find is an `input-unresolved` finding naming the layer it was found in.
A stage names no outputs this reader knows (render products are not read).

Needs `usd-core` (the `usd` extra).
"""

from __future__ import annotations

import os
import re

from provenance.errors import BadScene
from provenance.scan import FRAME_NAME, UDIM_FIRST, UDIM_LAST, UDIM_TOKEN
from provenance.scenes import UNRESOLVED, SceneFinding, SceneInput, SceneKind, SceneRead

__all__ = ["read_usd"]


_FOUND_IN = re.compile(
    r"@(?P<path>[^@]*)@ with computed asset path @[^@]*@ found in layer @(?P<layer>[^@]*)@"
)


def read_usd(path: bytes) -> SceneRead:
    """The layers and assets a USD stage depends on (see the module's docstring)."""
    try:
        from pxr import Sdf, UsdUtils
    except ImportError:
        raise BadScene(
            "Reading USD stages needs usd-core: pip install 'provenance[usd]'."
        ) from None
    shown = os.fsdecode(path)
    # Collected, not printed: the resolver's warnings become findings below.
    diagnostics = UsdUtils.CoalescingDiagnosticDelegate()
    layers, assets, unresolved = UsdUtils.ComputeAllDependencies(Sdf.AssetPath(shown))
    found_in = {
        match.group("path"): match.group("layer")
        for diagnostic in diagnostics.TakeUncoalescedDiagnostics()
        if (match := _FOUND_IN.search(diagnostic.commentary)) is not None
    }
    if not layers:
        raise BadScene(f"{shown!r} is not a USD stage usd-core can open. Check that it opens.")
    read = SceneRead(SceneKind.USD, path)
    root = os.path.realpath(path)
    for layer in layers:
        real = layer.realPath
        if not real or os.path.realpath(real) == os.fsdecode(root):
            continue
        read.inputs.append(
            SceneInput(os.path.normpath(os.fsencode(real)), layer.identifier, "layer")
        )
    read.inputs.extend(_assets([os.fsencode(a) for a in assets]))
    for missing in unresolved:
        layer = found_in.get(missing, shown)
        read.findings.append(
            SceneFinding(
                UNRESOLVED,
                layer,
                "asset path",
                missing,
                f"@{missing}@ in {layer} cannot be resolved to a file (it is not on disk, or its "
                "resolver is not this one). If the render read it, add it with --from PATH.",
            )
        )
    return read


def _assets(paths: list[bytes]) -> list[SceneInput]:
    """Asset files as inputs, the tiles of one texture as one UDIM set."""
    tiles: dict[tuple[bytes, bytes, bytes], list[bytes]] = {}
    singles: list[bytes] = []
    for path in paths:
        folder, name = os.path.split(os.path.normpath(path))
        match = FRAME_NAME.match(name)
        if (
            match is not None
            and len(match.group("frame")) == 4
            and UDIM_FIRST <= int(match.group("frame")) <= UDIM_LAST
        ):
            tiles.setdefault((folder, match.group("head"), match.group("tail")), []).append(path)
        else:
            singles.append(os.path.normpath(path))
    inputs = [SceneInput(path, "", "asset") for path in singles]
    for (folder, head, tail), members in tiles.items():
        if len(members) == 1:
            inputs.append(SceneInput(os.path.normpath(members[0]), "", "asset"))
        else:
            inputs.append(SceneInput(os.path.join(folder, head + UDIM_TOKEN + tail), "", "asset"))
    return inputs

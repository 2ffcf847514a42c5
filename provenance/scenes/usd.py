"""USD stages: every layer and asset a stage depends on, by Pixar's own walk.

`UsdUtils.ComputeAllDependencies` follows sublayers, references, payloads, value clips and
asset-valued attributes (textures, including `<UDIM>` sets, which it expands to the tiles on
disk) through the asset resolver, as a render would. The root layer is the scene itself, not an
input. Tiles of one texture (numbered 1001-1099, same name around the number) are one UDIM set.
An absolute path the resolver cannot find because it is spelled for another platform or mount
(`P:/show/...`, `/Volumes/show/...`) is read where the `Placer` places it, and a layer found so
is walked in turn; one no root places is left for the `Placer` to report. What the resolver
cannot find otherwise is an `input-unresolved` finding naming the layer it was found in. A stage
names no outputs this reader knows (render products are not read).

Needs `usd-core` (the `usd` extra).
"""

from __future__ import annotations

import os
import re

from provenance.errors import BadScene
from provenance.roots import is_windows_spelling, written_path
from provenance.scan import FRAME_NAME, UDIM_FIRST, UDIM_LAST, UDIM_TOKEN
from provenance.scenes import (
    UNRESOLVED,
    Placer,
    SceneFinding,
    SceneInput,
    SceneKind,
    SceneRead,
    on_disk,
)

__all__ = ["read_usd"]


_FOUND_IN = re.compile(
    r"@(?P<path>[^@]*)@ with computed asset path @[^@]*@ found in layer @(?P<layer>[^@]*)@"
)
_LAYER_EXTENSIONS = (b".usd", b".usda", b".usdc", b".usdz")


def read_usd(path: bytes, placer: Placer) -> SceneRead:
    """The layers and assets a USD stage depends on (see the module's docstring)."""
    try:
        from pxr import Sdf, UsdUtils  # noqa: F401  (here: to say what is missing)
    except ImportError:
        raise BadScene(
            "Reading USD stages needs usd-core: pip install 'provenance[usd]'."
        ) from None
    read = SceneRead(SceneKind.USD, path)
    pending = [path]
    walked = {os.path.realpath(path)}
    while pending:
        for layer in _walk(read, pending.pop(0), placer):
            if os.path.realpath(layer) not in walked:
                walked.add(os.path.realpath(layer))
                pending.append(layer)
    return read


def _walk(read: SceneRead, stage: bytes, placer: Placer) -> list[bytes]:
    """Add what one layer stack depends on to `read`; return the layers it names that only the
    placer finds (where they are here), to walk next."""
    from pxr import Sdf, UsdUtils

    shown = os.fsdecode(stage)
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
    root = os.path.realpath(stage)
    for layer in layers:
        real = layer.realPath
        if not real or os.path.realpath(os.fsencode(real)) == root:
            continue
        read.inputs.append(
            SceneInput(os.path.normpath(os.fsencode(real)), layer.identifier, "layer")
        )
    found = [os.fsencode(a) for a in assets]
    elsewhere: list[bytes] = []
    for missing in unresolved:
        layer = found_in.get(missing, shown)
        raw = os.fsencode(missing)
        if raw.startswith(b"/") or is_windows_spelling(raw):
            spelled = written_path(raw, b"/")
            here = placer.place(spelled)
            if here is None:
                read.inputs.append(SceneInput(spelled, layer, "asset"))  # the placer reports it
                continue
            # Placed elsewhere than it is spelled, and there: what the render read.
            if here != os.path.normpath(raw) and on_disk(here):
                if here.lower().endswith(_LAYER_EXTENSIONS):
                    read.inputs.append(SceneInput(here, layer, "layer"))
                    elsewhere.append(here)
                else:
                    found.append(here)
                continue
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
    read.inputs.extend(_assets(found))
    return elsewhere


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

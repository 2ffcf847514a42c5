"""Scenes saved on another platform or mount (a Windows workstation's `P:/show`, a UNC share, a
Mac's `/Volumes/show`) are read through the ledger's show roots, on SQLite and PostgreSQL: the
generated plate they read is in the render's lineage wherever the scene spells it, and a
spelling no root is mapped from is refused with nothing recorded."""

from __future__ import annotations

import json
import shutil
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from provenance import Ledger
from provenance.errors import SceneRefused
from provenance.store.models import Asset, Event

from ..builders import write_image, write_otio_cut, write_sequence
from ..conftest import Cli, row_counts

FRAMES = range(1001, 1006)
PLATE = "plates/gen_plate.####.tif"
"""A generated plate (a sequence), read by the Nuke script and the OTIO cut."""
TEXTURE = "elements/gen_tex.tif"
"""A generated texture (one file), read by the USD stage and the Maya scene."""
RENDER = "comp/sh010_comp.####.tif"


def on(top: str, relative: str) -> str:
    """`relative` under `top`, with the separator that spelling of the show uses."""
    separator = "\\" if top.startswith("\\\\") else "/"
    return top + separator + relative.replace("/", separator)


def escaped(path: str) -> str:
    """For a quoted TCL or MEL string."""
    return path.replace("\\", "\\\\")


def nuke_script(path: Path, *nodes: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(textwrap.dedent(node) for node in nodes), encoding="utf-8")
    return path


def read_plate(top: str) -> str:
    """A Read of the generated plate, spelled under `top`."""
    return f"""\
        Read {{
         inputs 0
         file "{escaped(on(top, PLATE))}"
         first 1001
         last 1005
         name ReadGenPlate
        }}
        """


def write_render(top: str) -> str:
    """The Write of the render, spelled under `top` (the Root before it)."""
    return f"""\
        Root {{
         inputs 0
        }}
        Write {{
         file "{escaped(on(top, RENDER))}"
         name Write1
        }}
        """


def nuke(workspace: Path, top: str) -> Path:
    return nuke_script(workspace / "scripts" / "sh010_comp.nk", write_render(top), read_plate(top))


def nuke_precomp(workspace: Path, top: str) -> Path:
    """A script reading the plate one level down: through a Precomp whose script (spelled under
    `top`) reads it (spelled so too)."""
    nuke_script(workspace / "scripts" / "plate_precomp.nk", read_plate(top))
    precomp = f"""\
        Precomp {{
         inputs 0
         file "{escaped(on(top, "scripts/plate_precomp.nk"))}"
         name PrecompPlate
        }}
        """
    return nuke_script(workspace / "scripts" / "sh010_comp_precomp.nk", write_render(top), precomp)


def usd(workspace: Path, top: str) -> Path:
    """A shot stage whose look layer (spelled under `top`) reads the texture (spelled so too):
    the layer is found through the root, then walked."""
    from pxr import Sdf, Usd, UsdShade

    folder = workspace / "usd"
    folder.mkdir(parents=True, exist_ok=True)
    look = Usd.Stage.CreateNew(str(folder / "lookdev.usda"))
    shader = UsdShade.Shader.Define(look, "/Looks/plate")
    shader.CreateInput("file", Sdf.ValueTypeNames.Asset).Set(on(top, TEXTURE))
    look.GetRootLayer().Save()
    shot = Usd.Stage.CreateNew(str(folder / "shot.usda"))
    shot.GetRootLayer().subLayerPaths.append(on(top, "usd/lookdev.usda"))
    shot.GetRootLayer().Save()
    return folder / "shot.usda"


def maya(workspace: Path, top: str) -> Path:
    scene = workspace / "maya" / "scenes" / "sh010_layout.ma"
    scene.parent.mkdir(parents=True, exist_ok=True)
    scene.write_text(
        textwrap.dedent(
            f"""\
            //Maya ASCII 2024 scene
            requires maya "2024";
            createNode file -n "genTexture";
                setAttr ".ftn" -type "string" "{escaped(on(top, TEXTURE))}";
            """
        ),
        encoding="utf-8",
    )
    return scene


def otio(workspace: Path, top: str) -> Path:
    return write_otio_cut(
        workspace / "editorial" / "sh010.otio", on(top, "plates/"), "gen_plate.", 5, (0, 5)
    )


SCENES: dict[str, tuple[Callable[[Path, str], Path], str]] = {
    "nuke": (nuke, PLATE),
    "nuke-precomp": (nuke_precomp, PLATE),
    "usd": (usd, TEXTURE),
    "maya": (maya, TEXTURE),
    "otio": (otio, PLATE),
}
"""Each kind of scene: how to write it reading the show at a spelling, and the generated asset
it reads."""

# (scene, how the scene spells the show, the spelling `roots map` records)
ELSEWHERE = [
    ("nuke", "P:/show", "P:\\show"),
    ("nuke", "\\\\fileserver\\show", "\\\\fileserver\\show"),
    ("nuke", "//fileserver/show", "\\\\fileserver\\show"),  # UNC as Windows DCCs save it
    ("nuke", "/Volumes/show", "/Volumes/show"),
    ("nuke-precomp", "P:/show", "P:\\show"),
    ("nuke-precomp", "//fileserver/show", "\\\\fileserver\\show"),
    ("usd", "P:/show", "p:\\SHOW"),
    ("usd", "//fileserver/show", "\\\\fileserver\\show"),
    ("maya", "P:/show", "P:\\show"),
    ("maya", "\\\\fileserver\\show", "\\\\fileserver\\show"),
    ("otio", "P:/show", "P:\\show"),
    ("otio", "/Volumes/show", "/Volumes/show"),
]
WINDOWS = [(kind, top) for kind, top, _ in ELSEWHERE if not top.startswith("/Volumes")]


@pytest.fixture
def show(ledger: Ledger, workspace: Path, backend: str) -> str:
    """A show whose generated plate and texture are recorded as such; returns the root's name.
    On PostgreSQL the studio declares the show's root (a SQLite ledger's folder is one)."""
    if backend == "postgresql":
        ledger.add_root(str(workspace), name="show")
    ledger.add_tool(
        "Runway Gen-4", vendor="Runway", generative=True, trains_on_inputs="no", secured="yes"
    )
    write_sequence(workspace / "plates", "gen_plate", FRAMES, seed="generated")
    write_image(workspace / TEXTURE, seed="generated")
    ledger.ingest([PLATE, TEXTURE], origin="ai", tool="Runway Gen-4", by="vendor", workers=1)
    return "show" if backend == "postgresql" else str(workspace)


def render(workspace: Path) -> str:
    write_sequence(workspace / "comp", "sh010_comp", FRAMES, seed="comp")
    return str(workspace / RENDER)


def contains(ledger: Ledger, target: str) -> set[tuple[str, int]]:
    return {
        (link.asset.name.rsplit("/", 1)[1], link.asset.version)
        for link in ledger.show(target).parents
        if link.kind == "contains"
    }


def finalize_refused(ledger: Ledger, workspace: Path) -> dict[str, list[str]]:
    """A delivery of the render, finalized: the blocking findings' messages by rule."""
    delivery = workspace / "delivery" / "EP101"
    shutil.rmtree(delivery, ignore_errors=True)
    delivery.mkdir(parents=True)
    for frame in (workspace / "comp").glob("sh010_comp.*.tif"):
        shutil.copy2(frame, delivery / frame.name)
    refused = ledger.finalize(str(delivery), "EP101_v001", workers=1)
    assert not refused.finalized
    found: dict[str, list[str]] = {}
    for finding in refused.verdict.findings:
        if finding.blocks:
            found.setdefault(finding.rule, []).append(finding.message)
    return found


@pytest.mark.parametrize(
    ("kind", "top", "mapped"),
    [(kind, None, None) for kind in SCENES] + ELSEWHERE,
    ids=[f"{kind}-here" for kind in SCENES] + [f"{k}-{t}" for k, t, _ in ELSEWHERE],
)
def test_a_scene_saved_elsewhere_puts_the_generated_plate_it_reads_in_the_lineage(
    ledger: Ledger, show: str, workspace: Path, kind: str, top: str | None, mapped: str | None
) -> None:
    if mapped is not None:
        ledger.map_root(show, mapped)
    write, generated = SCENES[kind]
    scene = write(workspace, top or str(workspace))  # None: the scene names this machine's path
    comp = render(workspace)

    report = ledger.ingest([comp], origin="human", by="carol", scene=str(scene), workers=1)

    assert report.scene is not None
    name = generated.rsplit("/", 1)[1]
    (read,) = [i for i in report.scene.inputs if i.name.endswith(name)]
    assert (read.status, read.name) == ("pinned", str(workspace / generated))
    assert (name, 1) in contains(ledger, comp)
    # (A USD stage's look layer, recorded by nobody, blocks too: input-origin-unknown.)
    (genai,) = finalize_refused(ledger, workspace)["genai-unapproved"]
    assert f"{name} v1: ai with Runway Gen-4" in genai


@pytest.mark.parametrize(("kind", "top"), WINDOWS, ids=[f"{k}-{t}" for k, t in WINDOWS])
def test_a_windows_spelling_no_root_is_mapped_from_is_refused_and_nothing_recorded(
    ledger: Ledger, show: str, workspace: Path, kind: str, top: str
) -> None:
    write, _ = SCENES[kind]
    scene = write(workspace, top)
    comp = render(workspace)
    before = row_counts(ledger, Event, Asset)

    with pytest.raises(SceneRefused) as refused:
        ledger.ingest([comp], origin="human", by="carol", scene=str(scene), workers=1)

    message = str(refused.value)
    assert "provenance roots map ROOT" in message and "PROVENANCE_ROOT_MAP" in message
    assert "no root of the ledger is mapped from it" in message
    assert "Nothing was recorded" in message
    assert row_counts(ledger, Event, Asset) == before
    with pytest.raises(Exception, match="not in the ledger"):
        ledger.show(comp)


def test_the_command_line_refuses_with_exit_3_and_scene_inputs_lists_the_placed_paths(
    ledger: Ledger, show: str, workspace: Path, run: Cli
) -> None:
    scene = nuke(workspace, "P:/show")
    comp = render(workspace)
    listed = run("scene", "inputs", str(scene))  # a listing: the unmapped path is a finding
    assert "path-unmapped: ReadGenPlate.file: P:/show/plates/gen_plate.####.tif" in listed.stdout
    assert "roots map" in listed.stdout
    refused = run("ingest", comp, "--origin", "human", "--scene", str(scene), expect=3)
    assert "ReadGenPlate.file: P:/show/plates/gen_plate.####.tif" in refused.stderr
    assert "roots map" in refused.stderr

    run("roots", "map", show, "P:\\show")
    listed = run("scene", "inputs", str(scene))
    assert "contains   plates/gen_plate.####.tif v1 (ai) frames 1001-1005" in listed.stdout
    assert "writes     comp/sh010_comp.####.tif" in listed.stdout
    assert "path-unmapped" not in listed.stdout
    document = json.loads(run("scene", "inputs", str(scene), "--json").stdout)
    assert [i["path"] for i in document["inputs"]] == [str(workspace / PLATE)]
    assert document["outputs"] == [str(workspace / RENDER)]
    run("ingest", comp, "--origin", "human", "--scene", str(scene))
    assert ("gen_plate.####.tif", 1) in contains(ledger, comp)

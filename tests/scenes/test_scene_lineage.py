"""Lineage read from scene files, pinned to the versions on disk: on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import select

from provenance import Ledger, Origin
from provenance.errors import SceneRefused
from provenance.store.engine import read_session
from provenance.store.models import Event

from ..builders import write_bytes, write_sequence
from ..conftest import Cli, row_counts

FRAMES = range(1001, 1006)


def script(path: Path, body: str, write: str = "comp/sh010_comp_v004.%04d.tif") -> Path:
    """A Nuke script whose project directory is the show (the folder above scripts/)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = textwrap.dedent(
        """
        Root {
         inputs 0
         project_directory "\\[file dirname \\[file dirname \\[value root.name]]]"
        }
        """
    ) + textwrap.dedent(body)
    if write:
        text += f'Write {{\n file "\\[value root.project_directory]/{write}"\n name Write1\n}}\n'
    path.write_text(text.lstrip(), encoding="utf-8")
    return path


COMP_SCRIPT = """
Read {
 inputs 0
 file "\\[value root.project_directory]/plates/sh010_plate.%04d.tif"
 first 1001
 last 1005
 name ReadPlate
}
Read {
 inputs 0
 file elements/sky_gen_v001.####.tif
 name ReadSky
}
"""


@pytest.fixture
def show(ledger: Ledger, workspace: Path) -> Path:
    """A plate (camera) and a sky rendered by an artist, both recorded; the comp's script."""
    write_sequence(workspace / "plates", "sh010_plate", FRAMES, seed="plate")
    write_sequence(workspace / "elements", "sky_gen_v001", FRAMES, seed="human-sky")
    ledger.add_tool(
        "Runway Gen-4", vendor="Runway", generative=True, trains_on_inputs="no", secured="yes"
    )
    ledger.ingest([str(workspace / "plates")], origin="capture", by="dit", workers=1)
    ledger.ingest(
        [str(workspace / "elements/sky_gen_v001.####.tif")], origin="human", by="bob", workers=1
    )
    script(workspace / "scripts" / "sh010_comp_v004.nk", COMP_SCRIPT)
    return workspace


def render(workspace: Path, seed: str, name: str = "sh010_comp_v004") -> str:
    write_sequence(workspace / "comp", name, FRAMES, seed=seed)
    return str(workspace / "comp" / f"{name}.####.tif")


def ingest_comp(
    ledger: Ledger, workspace: Path, seed: str, scene: str = "sh010_comp_v004.nk"
) -> str:
    comp = render(workspace, seed)
    ledger.ingest(
        [comp],
        origin="human",
        tool="Nuke@15.1",
        by="carol",
        scene=str(workspace / "scripts" / scene),
        workers=1,
    )
    return comp


def parents(ledger: Ledger, target: str) -> set[tuple[str, str, int]]:
    card = ledger.show(target)
    return {
        (link.kind, link.asset.name.rsplit("/", 1)[1], link.asset.version) for link in card.parents
    }


def deliver(workspace: Path, name: str = "sh010_comp_v004") -> str:
    folder = workspace / "delivery" / "EP101"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for frame in (workspace / "comp").glob(f"{name}.*.tif"):
        shutil.copy2(frame, folder / frame.name)
    return str(folder)


def blocking(report: object) -> list[str]:
    return sorted({f.rule for f in report.verdict.findings if f.blocks})  # type: ignore[attr-defined]


def test_the_comp_contains_exactly_what_its_script_reads_and_references_the_script(
    ledger: Ledger, show: Path
) -> None:
    comp = ingest_comp(ledger, show, "comp-a")
    assert parents(ledger, comp) == {
        ("contains", "sh010_plate.####.tif", 1),
        ("contains", "sky_gen_v001.####.tif", 1),
        ("references", "sh010_comp_v004.nk", 1),
    }
    nk = ledger.show(str(show / "scripts" / "sh010_comp_v004.nk"))
    assert (nk.origin, nk.claims[0].tool, nk.claims[0].claimed_by) == (
        Origin.DIGITAL_CREATION,
        "Nuke",
        "carol",
    )
    report = ledger.finalize(deliver(show), "EP101_v001", workers=1)
    assert report.finalized, [f.message for f in report.verdict.findings]


def test_an_ai_rerender_of_the_sky_on_disk_is_what_the_next_comp_contains(
    ledger: Ledger, show: Path
) -> None:
    ingest_comp(ledger, show, "comp-a")
    # The sky is replaced on disk by a generated re-render, recorded as such (its version 2).
    write_sequence(show / "elements", "sky_gen_v001", FRAMES, seed="generated-sky")
    ledger.ingest(
        [str(show / "elements/sky_gen_v001.####.tif")], origin="ai", tool="Runway Gen-4", workers=1
    )
    comp = ingest_comp(ledger, show, "comp-b")  # re-rendered from the same script

    assert ledger.show(comp).asset.version == 2
    assert ("contains", "sky_gen_v001.####.tif", 2) in parents(ledger, comp)
    refused = ledger.finalize(deliver(show), "EP101_v001", workers=1)
    assert not refused.finalized and blocking(refused) == ["genai-unapproved"]
    assert "sky_gen_v001.####.tif v2: ai with Runway Gen-4" in refused.verdict.findings[0].message
    # The studio approves the generated element (version 2): that clears every comp made from it.
    ledger.approve(str(show / "elements/sky_gen_v001.####.tif"), ref="NFX-77 email", by="jane")
    assert ledger.finalize(deliver(show), "EP101_v002", workers=1).finalized


def test_a_script_that_reads_the_human_sky_does_not_contain_the_ai_version(
    ledger: Ledger, show: Path
) -> None:
    # The generated sky was recorded (version 2), then the artist's sky was put back on disk.
    write_sequence(show / "elements", "sky_gen_v001", FRAMES, seed="generated-sky")
    ledger.ingest(
        [str(show / "elements/sky_gen_v001.####.tif")], origin="ai", tool="Runway Gen-4", workers=1
    )
    write_sequence(show / "elements", "sky_gen_v001", FRAMES, seed="human-sky")
    assert ledger.show(str(show / "elements/sky_gen_v001.####.tif")).asset.version == 2

    comp = ingest_comp(ledger, show, "comp-a")

    assert ("contains", "sky_gen_v001.####.tif", 1) in parents(ledger, comp)
    tree = ledger.lineage(comp)
    assert all(node.asset.version == 1 for node in tree.children)
    sky = ledger.show(str(show / "elements/sky_gen_v001.####.tif"))
    assert sky.asset.version == 2 and sky.generative  # the asset has an AI version...
    report = ledger.finalize(deliver(show), "EP101_v001", workers=1)
    assert report.finalized, [f.message for f in report.verdict.findings]  # ...the comp not


def test_inputs_nobody_recorded_are_recorded_as_unknown_and_block_until_declared(
    ledger: Ledger, show: Path
) -> None:
    write_sequence(show / "elements", "smoke_v003", FRAMES, seed="smoke")
    script(
        show / "scripts" / "with_smoke.nk",
        COMP_SCRIPT
        + 'Read {\n file "\\[value root.project_directory]/elements/smoke_v003.%04d.tif"\n name ReadSmoke\n}\n',
    )
    ledger.add_tool("Nuke")
    before = row_counts(ledger, Event)["events"]
    comp = render(show, "comp-smoke")
    report = ledger.ingest(
        [comp], origin="human", tool="Nuke", scene=str(show / "scripts/with_smoke.nk"), workers=1
    )
    assert row_counts(ledger, Event)["events"] == before + 1  # one transaction, one event
    assert report.scene is not None
    smoke = next(i for i in report.scene.inputs if "smoke" in i.name)
    assert (smoke.status, smoke.origin, smoke.nodes) == (
        "unrecorded",
        Origin.UNKNOWN,
        ("ReadSmoke.file",),
    )
    card = ledger.show(str(show / "elements/smoke_v003.####.tif"))
    assert card.origin is Origin.UNKNOWN and card.claims == []

    refused = ledger.finalize(deliver(show), "EP101_v001", workers=1)
    assert blocking(refused) == ["input-origin-unknown"]
    finding = refused.verdict.findings[0]
    assert "smoke_v003.####.tif v1" in finding.message
    assert "provenance tag" in finding.fix and "smoke_v003.####.tif" in finding.fix
    ledger.tag(str(show / "elements/smoke_v003.####.tif"), "human", by="fx-artist")
    assert ledger.finalize(deliver(show), "EP101_v002", workers=1).finalized


def test_bytes_on_disk_that_no_version_holds_become_the_next_version_of_unknown_origin(
    ledger: Ledger, show: Path
) -> None:
    write_sequence(show / "elements", "sky_gen_v001", FRAMES, seed="nobody-said")
    comp = ingest_comp(ledger, show, "comp-a")
    assert ("contains", "sky_gen_v001.####.tif", 2) in parents(ledger, comp)
    sky = ledger.show(str(show / "elements/sky_gen_v001.####.tif"))
    assert sky.asset.version == 2 and sky.origin is Origin.UNKNOWN
    refused = ledger.finalize(deliver(show), "EP101_v001", workers=1)
    assert "input-origin-unknown" in blocking(refused)


# -- the ways around it ------------------------------------------------------------------------


def ai_element(ledger: Ledger, workspace: Path, pattern: str, seed: str = "ai") -> None:
    """A generated element on disk and in the ledger, as the vendor's tool made it."""
    folder, name = pattern.rsplit("/", 1)
    head, tail = name.split("####")
    write_sequence(workspace / folder, head.rstrip("."), FRAMES, ext=tail.lstrip("."), seed=seed)
    ledger.ingest(
        [str(workspace / pattern)], origin="ai", tool="Runway Gen-4", by="vendor", workers=1
    )


@pytest.mark.parametrize(
    "read",
    [
        # Two groups deep, the path through the group's own knob.
        'Group {\n name Outer\n addUserKnob {2 el}\n el "\\[value root.project_directory]/'
        'elements/fire.####.tif"\n}\n Group {\n  name Inner\n }\n  Read {\n   file "\\[value '
        'parent.parent.el]"\n   name ReadDeep\n  }\n end_group\nend_group\n',
        # %d for a padded sequence, relative to the project directory.
        "Read {\n file elements/fire.%d.tif\n name ReadUnpadded\n}\n",
        # An inline gizmo.
        "Gizmo {\n name FireGizmo\n}\n Read {\n  file elements/fire.%04d.tif\n  name R\n }\nend_group\n",
        # A lone frame of the sequence.
        "Read {\n file elements/fire.1003.tif\n name ReadOneFrame\n}\n",
        # A node class this reader does not know, with a file knob.
        "VendorFireReader {\n file elements/fire.####.tif\n name Vendor1\n}\n",
    ],
    ids=["group-in-group", "percent-d", "gizmo", "lone-frame", "unknown-node"],
)
def test_an_ai_element_read_any_way_is_in_the_lineage(
    ledger: Ledger, show: Path, read: str
) -> None:
    ai_element(ledger, show, "elements/fire.####.tif")
    script(show / "scripts" / "sh010_comp_v004.nk", COMP_SCRIPT + read)
    comp = ingest_comp(ledger, show, "comp-a")
    assert ("contains", "fire.####.tif", 1) in parents(ledger, comp)
    assert blocking(ledger.sweep(deliver(show), workers=1)) == ["genai-unapproved"]


def test_a_disabled_read_of_an_ai_element_is_not_lineage(ledger: Ledger, show: Path) -> None:
    ai_element(ledger, show, "elements/fire.####.tif")
    script(
        show / "scripts" / "sh010_comp_v004.nk",
        COMP_SCRIPT
        + "Read {\n file elements/fire.####.tif\n disable true\n name ReadOff\n}\n"
        + "Group {\n name Off\n disable true\n}\n Read {\n  file elements/fire.####.tif\n }\n"
        "end_group\n",
    )
    comp = ingest_comp(ledger, show, "comp-a")
    assert not any("fire" in name for _, name, _ in parents(ledger, comp))
    assert ledger.finalize(deliver(show), "EP101_v001", workers=1).finalized


def test_a_disable_that_is_an_expression_still_counts(ledger: Ledger, show: Path) -> None:
    ai_element(ledger, show, "elements/fire.####.tif")
    script(
        show / "scripts" / "sh010_comp_v004.nk",
        COMP_SCRIPT + "Read {\n file elements/fire.####.tif\n disable {{frame>1003}}\n name R\n}\n",
    )
    comp = ingest_comp(ledger, show, "comp-a")
    assert ("contains", "fire.####.tif", 1) in parents(ledger, comp)


def test_a_udim_texture_read_by_a_nuke_script_and_by_a_usd_stage(
    ledger: Ledger, show: Path
) -> None:
    for tile in (1001, 1002, 1011):
        write_bytes(show / "tex" / f"face_diff.{tile}.exr", 256, seed=f"ai-tile{tile}")
    ledger.ingest(
        [str(show / "tex/face_diff.<UDIM>.exr")], origin="ai", tool="Runway Gen-4", workers=1
    )
    script(
        show / "scripts" / "sh010_comp_v004.nk",
        COMP_SCRIPT + "Read {\n file tex/face_diff.<UDIM>.exr\n name ReadTex\n}\n",
    )
    comp = ingest_comp(ledger, show, "comp-a")
    assert ("contains", "face_diff.<UDIM>.exr", 1) in parents(ledger, comp)

    from pxr import Sdf, Usd, UsdShade

    stage = Usd.Stage.CreateNew(str(show / "usd" / "lookdev.usda"))
    shader = UsdShade.Shader.Define(stage, "/Looks/face")
    shader.CreateInput("file", Sdf.ValueTypeNames.Asset).Set("../tex/face_diff.<UDIM>.exr")
    stage.GetRootLayer().Save()
    write_sequence(show / "renders", "lookdev_v001", FRAMES, seed="lookdev")
    render_path = str(show / "renders" / "lookdev_v001.####.tif")
    ledger.ingest(
        [render_path], origin="human", tool="Karma", scene=str(show / "usd/lookdev.usda"), workers=1
    )
    assert parents(ledger, render_path) == {
        ("contains", "face_diff.<UDIM>.exr", 1),
        ("references", "lookdev.usda", 1),
    }
    assert ledger.show(str(show / "usd/lookdev.usda")).claims[0].tool == "USD"


def test_a_read_of_the_render_itself_is_not_an_input(ledger: Ledger, show: Path) -> None:
    script(
        show / "scripts" / "sh010_comp_v004.nk",
        COMP_SCRIPT + "Read {\n file comp/sh010_comp_v004.####.tif\n name ReadBack\n}\n",
    )
    comp = ingest_comp(ledger, show, "comp-a")
    assert not any("comp_v004.####" in name for _, name, _ in parents(ledger, comp))


def test_an_input_gone_from_disk_links_its_latest_recorded_version(
    ledger: Ledger, show: Path
) -> None:
    ai_element(ledger, show, "elements/fire.####.tif")
    for frame in (show / "elements").glob("fire.*.tif"):
        frame.unlink()
    script(
        show / "scripts" / "sh010_comp_v004.nk",
        COMP_SCRIPT + "Read {\n file elements/fire.####.tif\n name ReadGone\n}\n",
    )
    comp = ingest_comp(ledger, show, "comp-a")
    assert ("contains", "fire.####.tif", 1) in parents(ledger, comp)


# -- refusals ---------------------------------------------------------------------------------------


def test_a_render_the_script_does_not_write_is_refused_with_the_write_paths(
    ledger: Ledger, show: Path
) -> None:
    other = render(show, "other", name="sh020_comp_v001")
    before = row_counts(ledger, Event)["events"]
    with pytest.raises(SceneRefused) as refused:
        ledger.ingest(
            [other], origin="human", scene=str(show / "scripts/sh010_comp_v004.nk"), workers=1
        )
    assert "Write1: " in str(refused.value) and "sh010_comp_v004.####.tif" in str(refused.value)
    assert row_counts(ledger, Event)["events"] == before


def test_an_input_that_cannot_be_worked_out_is_refused_unless_allowed(
    ledger: Ledger, show: Path, run: Cli
) -> None:
    script(
        show / "scripts" / "sh010_comp_v004.nk",
        COMP_SCRIPT + 'Read {\n file "\\[python \\{studio.sky()\\}]"\n name ReadMagic\n}\n',
    )
    comp = render(show, "comp-a")
    refused = run(
        "ingest", comp, "--origin", "human", "--scene", "scripts/sh010_comp_v004.nk", expect=3
    )
    assert "ReadMagic.file" in refused.stderr and "--from" in refused.stderr
    with pytest.raises(Exception, match="not in the ledger"):
        ledger.show(comp)
    ai_element(ledger, show, "elements/fire.####.tif")
    run(
        "ingest", comp, "--origin", "human", "--scene", "scripts/sh010_comp_v004.nk",
        "--allow-unresolved", "--from", "elements/fire.####.tif",
    )  # fmt: skip
    assert ("contains", "fire.####.tif", 1) in parents(ledger, comp)
    with read_session(ledger.engine) as session:
        payload = json.loads(
            session.execute(select(Event.payload).order_by(Event.id.desc()).limit(1)).scalar_one()
        )
    assert "ReadMagic.file" in payload["scene"]["unresolved"][0]


# -- scene inputs ----------------------------------------------------------------------------------


def test_scene_inputs_shows_how_each_input_resolved_and_writes_nothing(
    ledger: Ledger, show: Path, run: Cli
) -> None:
    write_sequence(show / "elements", "sky_gen_v001", FRAMES, seed="generated-sky")
    ledger.ingest(
        [str(show / "elements/sky_gen_v001.####.tif")], origin="ai", tool="Runway Gen-4", workers=1
    )
    write_sequence(show / "elements", "sky_gen_v001", FRAMES, seed="human-sky")
    write_sequence(show / "elements", "smoke_v003", FRAMES, seed="smoke")
    script(
        show / "scripts" / "sh010_comp_v004.nk",
        COMP_SCRIPT + "Read {\n file elements/smoke_v003.####.tif\n name ReadSmoke\n}\n",
    )
    before = row_counts(ledger, Event)["events"]
    shown = run("scene", "inputs", "scripts/sh010_comp_v004.nk")
    assert "sky_gen_v001.####.tif v1 (human, not its latest v2)" in shown.stdout
    assert "would be recorded, origin unknown" in shown.stdout
    document = json.loads(run("scene", "inputs", "scripts/sh010_comp_v004.nk", "--json").stdout)
    assert document["schema"] == "SceneInputs.1"
    by_path = {i["path"].rsplit("/", 1)[1]: i for i in document["inputs"]}
    assert by_path["sky_gen_v001.####.tif"]["asset"]["version"] == 1
    assert by_path["sky_gen_v001.####.tif"]["latest_version"] == 2
    assert by_path["sh010_plate.####.tif"]["status"] == "pinned"
    assert by_path["smoke_v003.####.tif"]["status"] == "unrecorded"
    assert document["outputs"][0].endswith("comp/sh010_comp_v004.####.tif")
    assert row_counts(ledger, Event)["events"] == before
    with pytest.raises(Exception, match="not in the ledger"):
        ledger.show(str(show / "elements/smoke_v003.####.tif"))

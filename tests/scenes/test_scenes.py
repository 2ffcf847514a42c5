"""The scene readers as pure functions: real scene files written here, no ledger."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from provenance.errors import BadScene
from provenance.roots import RootRecord, place_roots
from provenance.scenes import UNMAPPED, UNRESOLVED, SceneKind, read_scene, scene_kind

from ..builders import write_bytes, write_otio_cut, write_sequence


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def inputs(read: object) -> dict[str, tuple[str, tuple[int, int] | None]]:
    """node -> (path, frames) of every input."""
    return {i.node: (os.fsdecode(i.path), i.frames) for i in read.inputs}  # type: ignore[attr-defined]


# -- Nuke -----------------------------------------------------------------------------------------

NUKE_SCRIPT = r"""
#! /usr/local/Nuke15.1v3/nuke-15.1.3 -nx
version 15.1 v3
define_window_layout_xml {<?xml version="1.0" encoding="UTF-8"?>
<layout version="1.0">
    <window x="0" y="0" w="1920" h="1080" screen="0">
    </window>
</layout>
}
Root {
 inputs 0
 name /somewhere/else/comp_v004.nk
 project_directory "\[python \{nuke.script_directory()\}]/.."
 frame 1001
 first_frame 1001
 last_frame 1100
 format "2048 1556 0 0 2048 1556 1 2K_Super_35(full-ap)"
 views {{left ""} {right ""}}
}
Read {
 inputs 0
 file_type exr
 file /plates/sh010_plate.%04d.exr
 format "4448 3096 0 0 4448 3096 1 "
 first 1001
 last 1100
 origfirst 1001
 origlast 1100
 origset true
 name ReadPlate
 xpos 0
 ypos -300
}
Read {
 inputs 0
 file "\[file dirname \[value root.name]]/../elements/sky_gen_v001.####.exr"
 first {{parent.ReadPlate.first}}
 last 1100
 name ReadSky
}
Read {
 inputs 0
 file elements/relative_to_project.####.exr
 proxy /proxies/sky_proxy.####.jpg
 name ReadRelative
}
Read {
 inputs 0
 file "\[value root.project_directory]/elements/through_project.%04d.exr"
 name ReadProject
}
Read {
 inputs 0
 file /elements/disabled_ai.####.exr
 disable true
 name ReadDisabled
}
Read {
 inputs 0
 file "/stereo/plate_%V.%04d.exr"
 name ReadStereo
}
Read {
 inputs 0
 file "/stereo/short_%v.####.exr"
 name ReadShortView
}
push 0
set N1 [stack 0]
Group {
 name Outer
 addUserKnob {20 User}
 addUserKnob {2 sky_file l "Sky file"}
 sky_file /deep/group_sky.####.exr
 xpos 200
}
 Input {
  inputs 0
  name Input1
 }
 Group {
  name Inner
 }
  Read {
   inputs 0
   file "\[value parent.parent.sky_file]"
   name ReadDeep
  }
 end_group
 Output {
  name Output1
 }
end_group
Group {
 name Bypassed
 disable true
}
 Read {
  file /bypassed/inside_disabled_group.exr
  name ReadInDisabledGroup
 }
end_group
Gizmo {
 name SkyGizmo
 addUserKnob {20 User}
}
 Read {
  file /gizmo/gizmo_element.####.exr
  name ReadInGizmo
 }
end_group
DeepRead {
 file /deep/deep_element.####.exr
 name DeepRead1
}
ReadGeo2 {
 file /geo/set.abc
 name ReadGeo1
}
Camera3 {
 read_from_file true
 file /cams/shot_cam.fbx
 name Camera1
}
OCIOFileTransform {
 file /luts/show.cube
 name OCIOFileTransform1
}
Vectorfield {
 vfield_file /luts/grade.3dl
 name Vectorfield1
}
AudioRead {
 file /audio/temp_mix.wav
 name AudioRead1
}
SomeVendorReader {
 file /vendor/unknown_plugin.exr
 name Vendor1
}
clone node0x7f00|Read|123 Read {
 file /clones/clone.####.exr
 name ReadClone
}
clone $C7f00 {
 xpos 10
}
Read {
 file "\[python \{studio.resolve('sky')\}]"
 name ReadPython
}
Grade {
 white 1.2
 name Grade1
}
Write {
 file "\[value root.project_directory]/comp/sh010_comp_v004.%04d.exr"
 file_type exr
 name Write1
}
Write {
 file /disabled/out.####.exr
 disable true
 name WriteDisabled
}
"""


@pytest.fixture
def nuke_script(tmp_path: Path) -> Path:
    return write(tmp_path / "show" / "scripts" / "comp_v004.nk", NUKE_SCRIPT)


def test_nuke_reads_every_node_class_and_knob_form(nuke_script: Path) -> None:
    read = read_scene(nuke_script)
    show = os.fsdecode(nuke_script.parent.parent)
    assert read.kind is SceneKind.NUKE
    assert inputs(read) == {
        "ReadPlate": ("/plates/sh010_plate.####.exr", (1001, 1100)),
        # An expression in `first` leaves the range open: every frame on disk counts.
        "ReadSky": (f"{show}/elements/sky_gen_v001.####.exr", None),
        "ReadProject": (f"{show}/elements/through_project.####.exr", None),
        "Outer.Inner.ReadDeep": ("/deep/group_sky.####.exr", None),
        "SkyGizmo.ReadInGizmo": ("/gizmo/gizmo_element.####.exr", None),
        "DeepRead1": ("/deep/deep_element.####.exr", None),
        "ReadGeo1": ("/geo/set.abc", None),
        "Camera1": ("/cams/shot_cam.fbx", None),
        "OCIOFileTransform1": ("/luts/show.cube", None),
        "Vectorfield1": ("/luts/grade.3dl", None),
        "AudioRead1": ("/audio/temp_mix.wav", None),
        "Vendor1": ("/vendor/unknown_plugin.exr", None),
        "ReadClone": ("/clones/clone.####.exr", None),
        # Two views, two inputs each (dicts keep the last: checked below).
        "ReadStereo": ("/stereo/plate_right.####.exr", None),
        "ReadShortView": ("/stereo/short_r.####.exr", None),
        "ReadRelative": ("/proxies/sky_proxy.####.jpg", None),
    }
    by_knob = {(i.node, i.knob): os.fsdecode(i.path) for i in read.inputs}
    assert by_knob[("ReadRelative", "file")] == f"{show}/elements/relative_to_project.####.exr"
    stereo = sorted(os.fsdecode(i.path) for i in read.inputs if i.node == "ReadStereo")
    assert stereo == ["/stereo/plate_left.####.exr", "/stereo/plate_right.####.exr"]
    short = sorted(os.fsdecode(i.path) for i in read.inputs if i.node == "ReadShortView")
    assert short == ["/stereo/short_l.####.exr", "/stereo/short_r.####.exr"]
    assert [(os.fsdecode(o.path), o.node) for o in read.outputs] == [
        (f"{show}/comp/sh010_comp_v004.####.exr", "Write1")
    ]


def test_nuke_disabled_nodes_and_nodes_in_disabled_groups_are_not_inputs(nuke_script: Path) -> None:
    read = read_scene(nuke_script)
    everything = " ".join(os.fsdecode(i.path) for i in read.inputs)
    assert "disabled_ai" not in everything and "inside_disabled_group" not in everything
    assert "Grade1" not in {i.node for i in read.inputs}


def test_nuke_an_expression_it_cannot_evaluate_is_a_finding_naming_node_and_knob(
    nuke_script: Path,
) -> None:
    read = read_scene(nuke_script)
    assert [(f.rule, f.node, f.knob) for f in read.findings] == [(UNRESOLVED, "ReadPython", "file")]
    assert "studio.resolve('sky')" in read.findings[0].message
    assert "--from" in read.findings[0].message


def test_nuke_relative_path_without_project_directory_is_unresolved(tmp_path: Path) -> None:
    script = write(
        tmp_path / "comp.nk",
        """
        Root {
         inputs 0
        }
        Read {
         file elements/sky.####.exr
         name Read1
        }
        Write {
         file /out/comp.####.exr
         name Write1
        }
        """,
    )
    read = read_scene(script)
    assert read.inputs == []
    assert [(f.node, f.knob) for f in read.unresolved] == [("Read1", "file")]
    assert "project_directory" in read.unresolved[0].message


WINDOWS_SCRIPT = r"""
Root {
 inputs 0
 project_directory "P:/show"
}
Read {
 file plates/relative.%04d.exr
 name FromProject
}
Read {
 file "P:\\show\\plates\\backslashes.####.exr"
 name Backslashes
}
Read {
 file //fileserver/show/plates/unc.####.exr
 name Unc
}
Read {
 file /Volumes/show/plates/mac.####.exr
 name Mac
}
Read {
 file /mnt/show/plates/here.####.exr
 name Here
}
Write {
 file P:/show/comp/out.####.exr
 name Write1
}
"""


def test_nuke_paths_saved_on_another_platform_are_read_where_the_roots_place_them(
    tmp_path: Path,
) -> None:
    script = write(tmp_path / "comp.nk", WINDOWS_SCRIPT)
    spellings = ("P:\\show", "\\\\fileserver\\show", "/Volumes/show")
    show = RootRecord(2, b"show", b"/mnt/show", spellings)
    roots = place_roots([RootRecord(1, b"/", None), show], None, {})
    read = read_scene(script, lambda spelled: roots.localize(spelled, b"/"))
    assert inputs(read) == {
        "FromProject": ("/mnt/show/plates/relative.####.exr", None),
        "Backslashes": ("/mnt/show/plates/backslashes.####.exr", None),
        "Unc": ("/mnt/show/plates/unc.####.exr", None),
        "Mac": ("/mnt/show/plates/mac.####.exr", None),
        "Here": ("/mnt/show/plates/here.####.exr", None),
    }
    assert [os.fsdecode(o.path) for o in read.outputs] == ["/mnt/show/comp/out.####.exr"]
    assert read.findings == []


def test_a_path_of_another_platform_no_root_places_is_a_finding_not_an_input(
    tmp_path: Path,
) -> None:
    read = read_scene(write(tmp_path / "comp.nk", WINDOWS_SCRIPT))  # no roots: this machine's
    assert inputs(read) == {
        "Mac": ("/Volumes/show/plates/mac.####.exr", None),  # a POSIX path: read as it is
        "Here": ("/mnt/show/plates/here.####.exr", None),
    }
    assert read.outputs == []
    unmapped = {(f.node, f.knob, f.text) for f in read.findings if f.rule == UNMAPPED}
    assert unmapped == {
        ("FromProject", "file", "P:/show/plates/relative.####.exr"),
        ("Backslashes", "file", "P:\\show\\plates\\backslashes.####.exr"),
        ("Unc", "file", "\\\\fileserver/show/plates/unc.####.exr"),
        ("Write1", "", "P:/show/comp/out.####.exr"),
    }
    assert all("provenance roots map" in f.message for f in read.findings)
    assert read.unresolved == []


def test_nuke_frame_tokens_agree_whatever_the_spelling(tmp_path: Path) -> None:
    script = write(
        tmp_path / "tokens.nk",
        """
        Read {
         file /e/a.%04d.exr
         name A
        }
        Read {
         file /e/b.####.exr
         name B
        }
        Read {
         file /e/c.%d.exr
         name C
        }
        Read {
         file "/e/d.####.exr 1001-1010"
         name D
        }
        """,
    )
    assert inputs(read_scene(script)) == {
        "A": ("/e/a.####.exr", None),
        "B": ("/e/b.####.exr", None),
        "C": ("/e/c.#.exr", None),
        "D": ("/e/d.####.exr", (1001, 1010)),
    }


def test_nuke_precomp_scripts_are_read_in_turn(tmp_path: Path) -> None:
    write(
        tmp_path / "precomp.nk",
        """
        Read {
         file /elements/inside_precomp.####.exr
         name PreRead
        }
        """,
    )
    script = write(
        tmp_path / "comp.nk",
        f"""
        Precomp {{
         file {tmp_path}/precomp.nk
         name Precomp1
        }}
        """,
    )
    assert inputs(read_scene(script)) == {
        "Precomp1>PreRead": ("/elements/inside_precomp.####.exr", None)
    }


def test_nuke_script_that_does_not_parse_is_refused(tmp_path: Path) -> None:
    broken = write(tmp_path / "broken.nk", "Read {\n file /a.exr\n")
    with pytest.raises(BadScene, match="not a Nuke script"):
        read_scene(broken)


# -- scene kinds ------------------------------------------------------------------------------------


def test_binary_scenes_are_refused_with_what_to_do(tmp_path: Path) -> None:
    for name in ("shot.hip", "shot.mb"):
        path = write_bytes(tmp_path / name, 64)
        with pytest.raises(BadScene, match="binary scene"):
            read_scene(path)
    with pytest.raises(BadScene, match="not a scene"):
        scene_kind(b"/x/notes.txt")


# -- USD ------------------------------------------------------------------------------------------


def test_usd_layers_references_payloads_and_udim_textures(tmp_path: Path) -> None:
    from pxr import Sdf, Usd, UsdGeom, UsdShade

    folder = tmp_path / "usd"
    (folder / "tex").mkdir(parents=True)
    for tile in (1001, 1002, 1011):
        write_bytes(folder / "tex" / f"body_diff.{tile}.png", 32, seed=tile)
    write_bytes(folder / "tex" / "floor.png", 32)

    def layer(name: str, prim: str) -> None:
        stage = Usd.Stage.CreateNew(str(folder / name))
        UsdGeom.Xform.Define(stage, prim)
        stage.SetDefaultPrim(stage.GetPrimAtPath(prim))
        stage.GetRootLayer().Save()

    layer("hero.usda", "/Hero")
    layer("set_payload.usda", "/Set")
    Sdf.Layer.CreateNew(str(folder / "lighting.usda")).Save()
    Sdf.Layer.CreateNew(str(folder / "anim.usda")).Save()
    stage = Usd.Stage.CreateNew(str(folder / "shot.usda"))
    stage.GetRootLayer().subLayerPaths.append("lighting.usda")
    stage.GetRootLayer().subLayerPaths.append("anim.usda")
    stage.GetRootLayer().subLayerPaths.append("not_there.usda")
    stage.DefinePrim("/World/hero").GetReferences().AddReference("hero.usda")
    stage.DefinePrim("/World/set").GetPayloads().AddPayload("set_payload.usda")
    body = UsdShade.Shader.Define(stage, "/World/looks/body")
    body.CreateInput("file", Sdf.ValueTypeNames.Asset).Set("tex/body_diff.<UDIM>.png")
    floor = UsdShade.Shader.Define(stage, "/World/looks/floor")
    floor.CreateInput("file", Sdf.ValueTypeNames.Asset).Set("tex/floor.png")
    stage.GetRootLayer().Save()

    read = read_scene(folder / "shot.usda")
    base = os.fsdecode(folder)
    assert read.kind is SceneKind.USD and read.outputs == []
    assert sorted(os.fsdecode(i.path) for i in read.inputs) == [
        f"{base}/anim.usda",
        f"{base}/hero.usda",
        f"{base}/lighting.usda",
        f"{base}/set_payload.usda",
        f"{base}/tex/body_diff.<UDIM>.png",
        f"{base}/tex/floor.png",
    ]
    assert [(f.rule, f.text) for f in read.findings] == [(UNRESOLVED, "not_there.usda")]
    assert read.findings[0].node.endswith("shot.usda")


# -- Maya ASCII ---------------------------------------------------------------------------------------


def test_maya_ascii_textures_references_caches_and_arnold_nodes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    write_bytes(project / "sourceimages" / "wood.tif", 16)
    monkeypatch.setenv("SHOW_ROOT", "/shows/demo")
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    scene = write(
        project / "scenes" / "shot.ma",
        r"""
        //Maya ASCII 2025 scene
        //Name: shot.ma
        requires maya "2025";
        file -rdi 1 -ns "hero" -rfn "heroRN" -op "v=0;" -typ "mayaAscii"
                 "/assets/hero/hero_rig_v012.ma";
        file -r -ns "hero" -dr 1 -rfn "heroRN" -op "v=0;" -typ "mayaAscii" "/assets/hero/hero_rig_v012.ma";
        file -r -ns "set" -rfn "setRN" -typ "mayaAscii" "$SHOW_ROOT/assets/set/set_v003.ma";
        createNode transform -n "pCube1";
        createNode file -n "body_diffuse";
            setAttr ".ftn" -type "string" "/textures/body_diff.1001.tx";
            setAttr ".uvt" 3;
        createNode file -n "wood";
            setAttr ".fileTextureName" -type "string" "sourceimages/wood.tif";
        createNode file -n "flipbook";
            setAttr ".ufe" yes;
            setAttr ".ftn" -type "string" "/textures/fire.0001.exr";
        createNode file -n "zbrush_tiles";
            setAttr ".uvt" 1;
            setAttr ".ftn" -type "string" "/textures/skin_u1_v1.tif";
        createNode file -n "from_env";
            setAttr ".ftn" -type "string" "$NOT_SET_ANYWHERE/tex.tif";
        createNode AlembicNode -n "anim_AlembicNode";
            setAttr ".abc_File" -type "string" "/caches/anim_v002.abc";
        createNode gpuCache -n "treesShape";
            setAttr ".cacheFileName" -type "string" "/caches/trees.abc";
        createNode aiImage -n "aiImage1";
            setAttr ".filename" -type "string" "/textures/<UDIM>/noise.<udim>.exr";
        createNode aiStandIn -n "crowdShape";
            setAttr ".dso" -type "string" "/caches/crowd.ass";
        createNode imagePlane -n "plateShape";
            setAttr ".imn" -type "string" "/plates/sh010_plate.1001.exr";
        """,
    )
    read = read_scene(scene)
    assert read.kind is SceneKind.MAYA and read.outputs == []
    assert {(i.node, os.fsdecode(i.path)) for i in read.inputs} == {
        ("heroRN", "/assets/hero/hero_rig_v012.ma"),
        ("setRN", "/shows/demo/assets/set/set_v003.ma"),
        ("body_diffuse", "/textures/body_diff.<UDIM>.tx"),
        ("wood", os.fsdecode(project / "sourceimages" / "wood.tif")),
        ("flipbook", "/textures/fire.####.exr"),
        ("anim_AlembicNode", "/caches/anim_v002.abc"),
        ("treesShape", "/caches/trees.abc"),
        ("aiImage1", "/textures/<UDIM>/noise.<UDIM>.exr"),
        ("crowdShape", "/caches/crowd.ass"),
        ("plateShape", "/plates/sh010_plate.1001.exr"),
    }
    assert sorted((f.node, f.knob) for f in read.unresolved) == [
        ("from_env", ".ftn"),
        ("zbrush_tiles", ".ftn"),
    ]


# -- OTIO -----------------------------------------------------------------------------------------


def test_otio_cut_is_read_by_the_delivery_reader(tmp_path: Path) -> None:
    write_sequence(tmp_path / "media", "sh010_comp_v004", range(1001, 1011))
    media = str(tmp_path / "media") + "/"
    cut = write_otio_cut(tmp_path / "cut.otio", media, "sh010_comp_v004.", 10, (2, 4))
    read = read_scene(cut)
    assert read.kind is SceneKind.OTIO
    assert [(os.fsdecode(i.path), i.frames) for i in read.inputs] == [
        (f"{tmp_path}/media/sh010_comp_v004.####.tif", (1003, 1006))
    ]


def test_otio_media_urls_saved_on_windows_are_read_where_the_roots_place_them(
    tmp_path: Path,
) -> None:
    import opentimelineio as otio

    clips = [
        otio.schema.Clip(name=name, media_reference=otio.schema.ExternalReference(target_url=url))
        for name, url in [
            ("unc", "file://fileserver/show/elements/unc.tif"),
            ("drive", "file:///P:/show/elements/drive.tif"),
            ("plain", "P:\\show\\elements\\plain.tif"),
        ]
    ]
    cut = tmp_path / "cut.otio"
    otio.adapters.write_to_file(
        otio.schema.Timeline(tracks=[otio.schema.Track(children=clips)]), str(cut)
    )
    show = RootRecord(2, b"show", b"/mnt/show", ("P:\\show", "\\\\fileserver\\show"))
    roots = place_roots([RootRecord(1, b"/", None), show], None, {})
    read = read_scene(cut, lambda spelled: roots.localize(spelled, b"/"))
    assert sorted(os.fsdecode(i.path) for i in read.inputs) == [
        "/mnt/show/elements/drive.tif",
        "/mnt/show/elements/plain.tif",
        "/mnt/show/elements/unc.tif",
    ]
    unplaced = read_scene(cut)  # no roots: none of them can be read here
    assert unplaced.inputs == []
    assert sorted(f.text for f in unplaced.findings if f.rule == UNMAPPED) == [
        "P:/show/elements/drive.tif",
        "P:\\show\\elements\\plain.tif",
        "\\\\fileserver/show/elements/unc.tif",
    ]

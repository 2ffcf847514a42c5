"""The whole loop through the Python API: ingest, tag, link, show, lineage, history."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from provenance import Ledger, Origin
from provenance.errors import LineageCycle, TargetNotFound, UnknownTool
from provenance.records import ClaimRecorded

from ..builders import write_image, write_sequence


def make_show(workspace: Path) -> None:
    write_sequence(workspace / "plates", "sh010_plate", range(1001, 1011), seed="plate")
    write_sequence(workspace / "elements", "sky_gen_v001", range(1001, 1011), seed="sky")
    write_sequence(workspace / "comp", "sh010_comp_v003", [*range(1001, 1005), *range(1006, 1011)])
    write_image(workspace / "concept" / "moodboard.png", seed="mood")


@pytest.fixture
def show(ledger: Ledger, workspace: Path) -> Ledger:
    make_show(workspace)
    ledger.add_tool(
        "Runway Gen-4", vendor="Runway", generative=True, trains_on_inputs="no", secured="yes"
    )
    ledger.ingest(["plates"], origin="capture", by="alice")
    ledger.ingest(
        ["elements/sky_gen_v001.####.exr".replace(".exr", ".tif")],
        origin="ai",
        tool="Runway Gen-4",
        by="bob",
    )
    ledger.ingest(["concept/moodboard.png"], origin="human", by="dana")
    ledger.ingest(
        ["comp/sh010_comp_v003.####.tif"],
        origin="human",
        tool="Nuke@15.1",
        by="carol",
        contains=["plates/sh010_plate.####.tif", "elements/sky_gen_v001.####.tif"],
        references=["concept/moodboard.png"],
    )
    return ledger


def test_sequence_is_one_asset_with_per_frame_members(show: Ledger) -> None:
    card = show.show("plates/sh010_plate.####.tif")
    assert card.asset.kind == "sequence"
    assert card.frames == list(range(1001, 1011))
    assert card.member_count == 10
    assert card.origin is Origin.DIGITAL_CAPTURE
    assert card.status == "standard"
    assert card.claims[0].claimed_by == "alice"


def test_any_frame_and_every_pattern_syntax_name_the_same_asset(show: Ledger) -> None:
    expected = show.show("plates/sh010_plate.####.tif").asset
    for target in (
        "plates/sh010_plate.1004.tif",
        "plates/sh010_plate.%04d.tif",
        "plates/sh010_plate.1001-1010#.tif",
        "plates/sh010_plate.$F4.tif",
        "plates/sh010_plate.@@@@.tif",
    ):
        assert show.show(target).asset == expected, target
    frame_card = show.show("plates/sh010_plate.1004.tif")
    assert frame_card.frame == 1004
    assert frame_card.frame_digest is not None and frame_card.frame_digest.startswith("xxh3-128:")


def test_holes_are_recorded_and_listed(show: Ledger) -> None:
    card = show.show("comp/sh010_comp_v003.1001.tif")
    assert card.holes == [1005]
    assert 1005 not in card.frames


def test_ai_asset_is_temporary_with_its_tool(show: Ledger) -> None:
    card = show.show("elements/sky_gen_v001.####.tif")
    assert card.origin is Origin.TRAINED_ALGORITHMIC_MEDIA
    assert card.generative
    assert card.status == "temporary"
    assert card.claims[0].tool == "Runway Gen-4"


def test_tool_version_is_recorded(show: Ledger) -> None:
    claim = show.show("comp/sh010_comp_v003.####.tif").claims[0]
    assert (claim.tool, claim.tool_version) == ("Nuke", "15.1")
    nuke = show.tool("nuke")
    assert nuke.generative is False  # registered on first use, as not generative


def test_lineage_up_and_down_with_edge_kinds(show: Ledger) -> None:
    up = show.lineage("comp/sh010_comp_v003.####.tif", up=True)
    edges = {(child.asset.name.rsplit("/", 1)[-1], child.kind) for child in up.children}
    assert edges == {
        ("sh010_plate.####.tif", "contains"),
        ("sky_gen_v001.####.tif", "contains"),
        ("moodboard.png", "references"),
    }
    down = show.lineage("plates/sh010_plate.####.tif", up=False)
    assert [c.asset.name.rsplit("/", 1)[-1] for c in down.children] == ["sh010_comp_v003.####.tif"]


def test_lineage_is_transitive_with_depth(show: Ledger, workspace: Path) -> None:
    write_image(workspace / "grade" / "sh010_grade.png", seed="grade")
    show.ingest(
        ["grade/sh010_grade.png"], origin="human", contains=["comp/sh010_comp_v003.####.tif"]
    )
    tree = show.lineage("grade/sh010_grade.png", up=True)
    comp = tree.children[0]
    assert comp.depth == 1
    assert {c.depth for c in comp.children} == {2}
    assert len(show.lineage("grade/sh010_grade.png", up=True, depth=1).children[0].children) == 0
    down = show.lineage("elements/sky_gen_v001.1003.tif", up=False)
    assert down.children[0].children[0].asset.name.endswith("sh010_grade.png")


def test_cycles_are_refused_and_nothing_is_recorded(show: Ledger) -> None:
    before = show.history("plates/sh010_plate.####.tif")
    with pytest.raises(LineageCycle, match="cycle"):
        show.link("plates/sh010_plate.####.tif", contains=["comp/sh010_comp_v003.####.tif"])
    with pytest.raises(LineageCycle):
        show.link("plates/sh010_plate.####.tif", contains=["plates/sh010_plate.1001.tif"])
    assert show.history("plates/sh010_plate.####.tif") == before


def test_retag_adds_a_claim_and_never_overwrites(show: Ledger) -> None:
    show.tag("elements/sky_gen_v001.####.tif", "ai", tool="Runway Gen-4", note="retag after review")
    card = show.show("elements/sky_gen_v001.####.tif")
    assert [c.note for c in card.claims] == [None, "retag after review"]
    assert not card.disputed


def test_plain_retag_to_human_does_not_hide_ai_and_resolve_settles_it(show: Ledger) -> None:
    card = show.tag("elements/sky_gen_v001.####.tif", "human", by="mallory")
    assert card.disputed
    assert card.origin is Origin.TRAINED_ALGORITHMIC_MEDIA
    assert card.status == "temporary"
    settled = show.tag(
        "elements/sky_gen_v001.####.tif",
        "ai",
        tool="Runway Gen-4",
        note="vendor confirmed",
        resolve=True,
    )
    assert not settled.disputed
    assert settled.claims[-1].resolves


def test_history_lists_every_event_with_actor_host_and_hash(show: Ledger) -> None:
    show.tag("elements/sky_gen_v001.####.tif", "ai", tool="Runway Gen-4", note="retag after review")
    entries = show.history("elements/sky_gen_v001.####.tif")
    kinds = [e.kind for e in entries]
    assert kinds == ["ingest", "ingest", "claim"]  # its own ingest, the comp's link, the retag
    assert all(e.hash.startswith("sha256:") and e.actor and e.host for e in entries)
    (retag,) = entries[-1].changes
    assert isinstance(retag, ClaimRecorded) and retag.note == "retag after review"
    assert entries == sorted(entries, key=lambda e: e.event_id)


def test_changed_bytes_make_a_new_version(show: Ledger, workspace: Path) -> None:
    write_image(workspace / "plates" / "sh010_plate.1003.tif", seed="regrade")
    time.sleep(0.01)
    report = show.ingest(["plates"])
    assert (report.assets_changed, report.files_changed) == (1, 1)
    card = show.show("plates/sh010_plate.####.tif")
    assert (card.asset.version, card.versions) == (2, 2)
    assert card.claims == []  # claims were about the old bytes
    assert card.origin is Origin.UNKNOWN


def test_reordered_frames_are_a_different_asset_version(show: Ledger, workspace: Path) -> None:
    first = workspace / "plates" / "sh010_plate.1001.tif"
    second = workspace / "plates" / "sh010_plate.1002.tif"
    a, b = first.read_bytes(), second.read_bytes()
    before = show.show("plates/sh010_plate.####.tif").asset.digest
    first.write_bytes(b)
    second.write_bytes(a)
    show.ingest(["plates"])
    after = show.show("plates/sh010_plate.####.tif").asset
    assert after.digest != before and after.version == 2


def test_digest_prefix_targets(show: Ledger) -> None:
    card = show.show("plates/sh010_plate.####.tif")
    assert show.show(card.asset.digest[:17]).asset == card.asset
    frame = show.show("plates/sh010_plate.1002.tif")
    assert frame.frame_digest is not None
    by_frame_digest = show.show(frame.frame_digest[:20])
    assert (by_frame_digest.asset, by_frame_digest.frame) == (card.asset, 1002)
    with pytest.raises(TargetNotFound):
        show.show("xxh3-128:00000000000")
    with pytest.raises(TargetNotFound, match="at least 8"):
        show.show("xxh3-128:abc")


def test_generative_origin_needs_a_registered_generative_tool(
    ledger: Ledger, workspace: Path
) -> None:
    write_image(workspace / "gen.png")
    ledger.add_tool("Runway Gen-4", vendor="Runway", generative=True)
    with pytest.raises(UnknownTool, match="Runway Gen-4"):
        ledger.ingest(["gen.png"], origin="ai", tool="Runway Gen4")
    with pytest.raises(UnknownTool, match="needs --tool"):
        ledger.ingest(["gen.png"], origin="ai")
    ledger.ingest(["gen.png"], origin="human", tool="Krita")
    with pytest.raises(UnknownTool, match="not generative"):
        ledger.tag("gen.png", "ai", tool="Krita")
    with pytest.raises(TargetNotFound):
        ledger.show("nothing.png")

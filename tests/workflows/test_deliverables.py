"""Which deliverables hold an asset's material: `deliverables`, and `show`, `lineage --down`
and `history` ending in the deliverables, on both ledgers."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from provenance import Ledger
from provenance.records import DeliveryFinalized

from ..builders import write_sequence
from ..conftest import Cli
from .test_delivery import FRAMES, deliver, show  # noqa: F401 (the fixture)

SKY = "elements/sky_gen_v001.####.tif"
COMP = "comp/sh010_comp_v003.####.tif"
PLATE = "plates/sh010_plate.####.tif"


@pytest.fixture
def delivered(show: Ledger, workspace: Path) -> Ledger:  # noqa: F811
    """EP101 (the comp, which contains the generated sky) refused, then approved and final;
    EP102 the plates alone."""
    comp = deliver(workspace, "comp", name="out/EP101")
    assert not show.finalize(comp, "EP101_VFX_v001").finalized
    show.approve(SKY, ref="NFX-1 email", by="jane (studio)")
    assert show.finalize(comp, "EP101_VFX_v002").finalized
    plates = deliver(workspace, "plates", name="out/EP102")
    assert show.finalize(plates, "EP102_PLATES_v001").finalized
    return show


def test_every_deliverable_finalized_and_refused(delivered: Ledger) -> None:
    listed = [(d.deliverable.name, d.deliverable.status) for d in delivered.deliverables()]
    assert listed == [
        ("EP101_VFX_v001", "refused"),
        ("EP101_VFX_v002", "finalized"),
        ("EP102_PLATES_v001", "finalized"),
    ]
    refused = delivered.deliverables()[0].deliverable
    assert refused.blocking == ("genai-unapproved",) and refused.files == len(FRAMES)
    final = delivered.deliverables()[1].deliverable
    assert final.kind == "folder" and final.files == len(FRAMES) and final.policy == "netflix-2025"


def test_contains_reaches_through_lineage(delivered: Ledger) -> None:
    held = delivered.deliverables(contains=SKY)
    assert [d.deliverable.name for d in held] == ["EP101_VFX_v002"]
    (item,) = held[0].holds
    assert item.through.name.endswith("sh010_comp_v003.####.tif") and not item.itself
    assert item.how == "contains " + item.version.name + " v1"
    assert item.files == len(FRAMES)
    # The plate is in both: in the comp, and delivered as it is.
    plate = {d.deliverable.name: d.holds[0] for d in delivered.deliverables(contains=PLATE)}
    assert set(plate) == {"EP101_VFX_v002", "EP102_PLATES_v001"}
    assert plate["EP102_PLATES_v001"].itself and not plate["EP101_VFX_v002"].itself
    # Nothing holds the concept art the comp only referenced.
    assert delivered.deliverables(contains="concept/moodboard.png") == []


def test_contains_an_exact_copy_under_another_name(delivered: Ledger, workspace: Path) -> None:
    """A copy of the sky recorded as its own asset and delivered by a path list: the gate
    reaches the sky through the copy, and so does the query."""
    for source in sorted((workspace / "elements").iterdir()):
        copy = workspace / "library" / source.name.replace("sky_gen", "sky_lib")
        copy.parent.mkdir(exist_ok=True)
        shutil.copy2(source, copy)
    time.sleep(0.05)
    delivered.ingest(["library"], origin="ai", tool="Runway Gen-4", by="bob")
    delivered.approve("library/sky_lib_v001.####.tif", ref="NFX-2", by="jane (studio)")
    listing = workspace / "EP103.txt"
    listing.write_text(
        "".join(f"library/{p.name}\n" for p in sorted((workspace / "library").iterdir()))
    )
    assert delivered.finalize(listing, "EP103_LIB_v001").finalized
    held = {d.deliverable.name: d.holds for d in delivered.deliverables(contains=SKY)}
    (item,) = held["EP103_LIB_v001"]
    assert item.through.name.endswith("sky_lib_v001.####.tif")
    assert item.how.startswith("is a copy of") and "sky_gen_v001" in item.how


def test_a_digest_names_one_version(delivered: Ledger, workspace: Path) -> None:
    old = delivered.show(SKY).asset
    write_sequence(workspace / "elements", "sky_gen_v001", FRAMES, seed="sky-rerender")
    time.sleep(0.05)
    delivered.ingest(["elements"], origin="ai", tool="Runway Gen-4", by="bob")
    new = delivered.show(SKY).asset
    assert new.version == 2
    # The asset: any of its versions (v1 went out in the comp).
    assert [d.deliverable.name for d in delivered.deliverables(contains=SKY)] == ["EP101_VFX_v002"]
    assert delivered.deliverables(contains=new.digest[:20]) == []
    by_old = delivered.deliverables(contains=old.digest[:20])
    assert [d.deliverable.name for d in by_old] == ["EP101_VFX_v002"]


def test_show_lineage_and_history_end_in_the_deliverables(delivered: Ledger) -> None:
    card = delivered.show(SKY)
    assert [(d.deliverable.name, d.itself) for d in card.deliverables] == [
        ("EP101_VFX_v002", False)
    ]
    assert delivered.show(COMP).deliverables[0].itself

    tree = delivered.lineage(PLATE, up=False)
    assert [d.deliverable.name for d in tree.deliverables] == ["EP102_PLATES_v001"]
    (comp,) = tree.children
    assert comp.asset.name.endswith("sh010_comp_v003.####.tif")
    assert [d.deliverable.name for d in comp.deliverables] == ["EP101_VFX_v002"]
    # Going up stays in the lineage.
    assert not delivered.lineage(COMP, up=True).deliverables

    finals = [e for e in delivered.history(SKY) if e.kind == "finalize"]
    assert len(finals) == 1
    (delivery,) = finals[0].changes
    assert isinstance(delivery, DeliveryFinalized) and delivery.deliverable == "EP101_VFX_v002"
    assert "sh010_comp_v003" in delivery.holds[0].through
    events = [e.event_id for e in delivered.history(SKY)]
    assert events == sorted(events)


def test_cli(delivered: Ledger, run: Cli) -> None:
    text = run("deliverables").stdout
    assert "EP101_VFX_v001  REFUSED" in text and "blocked by genai-unapproved" in text
    assert "EP102_PLATES_v001  finalized" in text

    document = json.loads(run("deliverables", "--contains", SKY, "--json").stdout)
    assert document["schema"] == "Deliverables.1" and document["contains"] == SKY
    (entry,) = document["deliverables"]
    assert entry["name"] == "EP101_VFX_v002" and entry["status"] == "finalized"
    assert entry["holds"][0]["through"]["path"].endswith("sh010_comp_v003.####.tif")
    assert entry["holds"][0]["how"].startswith("contains ")

    text = run("deliverables", "--contains", "concept/moodboard.png").stdout
    assert "No finalized deliverable holds concept/moodboard.png" in text

    shown = run("show", SKY).stdout
    assert "delivered in" in shown and "EP101_VFX_v002" in shown
    card = json.loads(run("show", SKY, "--json").stdout)
    assert card["deliverables"][0]["deliverable"] == "EP101_VFX_v002"

    down = run("lineage", PLATE, "--down").stdout
    assert "[delivered] EP102_PLATES_v001" in down and "[delivered] EP101_VFX_v002" in down
    tree = json.loads(run("lineage", PLATE, "--down", "--json").stdout)
    assert tree["root"]["links"][0]["deliverables"][0]["deliverable"] == "EP101_VFX_v002"

    history = run("history", SKY).stdout
    assert "finalize by" in history and "finalized EP101_VFX_v002" in history


def test_history_json_carries_each_change_as_data(delivered: Ledger, run: Cli) -> None:
    """`history --json`: besides the sentence (`what`), every change as data with its `kind`."""
    delivered.tag(SKY, "ai", tool="Runway Gen-4@4.1", by="td", note="seen", likeness=["Ana Lima"])
    sky = delivered.show(SKY).asset
    comp = delivered.show(COMP).asset
    document = json.loads(run("history", SKY, "--json").stdout)
    assert document["schema"] == "History.1"
    changes = [(e["kind"], e["changes"]) for e in document["events"]]
    claim = {
        "kind": "claim",
        "version": 1,
        "claimed_by": "bob",
        "origin": "ai",
        "code": "trainedAlgorithmicMedia",
        "tool": "Runway Gen-4",
        "tool_version": None,
        "evidence": "declared",
        "note": None,
        "resolves": False,
    }
    assert changes == [
        ("ingest", [{"kind": "version", "version": 1, "files": len(FRAMES), "digest": sky.digest}, claim]),
        ("ingest", [{"kind": "lineage", "child": comp.name, "child_version": 1, "edge": "contains",
                     "parent": sky.name, "parent_version": 1}]),
        ("approve", [{"kind": "approval", "version": 1, "digest": sky.digest, "approved_by": "jane (studio)",
                      "ref": "NFX-1 email", "covers_tool_risk": False}]),
        ("finalize", [{"kind": "delivery", "deliverable": "EP101_VFX_v002", "files": len(FRAMES),
                       "holds": [{"version": 1, "through": comp.name, "through_version": 1,
                                  "itself": False, "how": f"contains {sky.name} v1"}]}]),
        ("claim", [{**claim, "claimed_by": "td", "tool_version": "4.1", "note": "seen"},
                   {"kind": "likeness", "version": 1, "performer": "Ana Lima"}]),
    ]  # fmt: skip
    # The sentence is kept: the one the text prints (with the paths absolute).
    assert document["events"][-1]["what"] == (
        'td claimed ai with Runway Gen-4@4.1 on version 1 [declared] ("seen"); '
        "version 1 uses the likeness of Ana Lima"
    )

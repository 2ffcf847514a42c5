"""The pyblish integrator, run by pyblish's own publish on real files and a real ledger."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyblish.api
import pyblish.util
import pytest

from provenance import Ledger, Origin
from provenance.integrations.pyblish import IntegrateProvenance, register
from provenance.records import LikenessRecorded

from ..builders import write_sequence
from ..scenes.test_scene_lineage import COMP_SCRIPT, FRAMES, script


@pytest.fixture
def pyblish_plugins() -> Iterator[None]:
    pyblish.api.deregister_all_plugins()
    yield
    pyblish.api.deregister_all_plugins()


def collector(files: list[str], provenance: dict[str, Any], scene: str) -> type:
    """A collector as a host integration would write it: the scene and one render instance."""

    class CollectRender(pyblish.api.ContextPlugin):  # type: ignore[misc]
        order = pyblish.api.CollectorOrder

        def process(self, context: Any) -> None:
            context.data["currentFile"] = scene
            context.data["user"] = "carol"
            instance = context.create_instance("sh010_comp_v004", family="render")
            instance.data["files"] = files
            instance.data["provenance"] = provenance

    return CollectRender


def publish(files: list[str], provenance: dict[str, Any], scene: str) -> Any:
    pyblish.api.register_plugin(collector(files, provenance, scene))
    register()
    return pyblish.util.publish()


def errors(context: Any) -> list[str]:
    return [str(r["error"]) for r in context.data["results"] if r["error"] is not None]


@pytest.fixture
def show(ledger: Ledger, workspace: Path) -> Path:
    write_sequence(workspace / "plates", "sh010_plate", FRAMES, seed="plate")
    write_sequence(workspace / "elements", "sky_gen_v001", FRAMES, seed="sky")
    write_sequence(workspace / "comp", "sh010_comp_v004", FRAMES, seed="comp")
    ledger.add_tool("Runway Gen-4", vendor="Runway", generative=True)
    ledger.ingest([str(workspace / "plates")], origin="capture", workers=1)
    ledger.ingest(
        [str(workspace / "elements/sky_gen_v001.####.tif")],
        origin="ai",
        tool="Runway Gen-4",
        workers=1,
    )
    script(workspace / "scripts" / "sh010_comp_v004.nk", COMP_SCRIPT)
    return workspace


def test_a_publish_records_the_instance_with_its_facts_and_its_scene_lineage(
    ledger: Ledger, db_url: str, show: Path, pyblish_plugins: None
) -> None:
    comp = str(show / "comp" / "sh010_comp_v004.####.tif")
    context = publish(
        [comp],
        {"origin": "human", "tool": "Nuke@15.1", "likeness": ["Ana Lima"], "db": db_url},
        str(show / "scripts" / "sh010_comp_v004.nk"),
    )
    assert errors(context) == []
    assert IntegrateProvenance.__name__ in [p.__name__ for p in pyblish.api.registered_plugins()]
    card = ledger.show(comp)
    assert (card.origin, card.claims[0].claimed_by, card.claims[0].tool) == (
        Origin.DIGITAL_CREATION,
        "carol",
        "Nuke",
    )
    assert {(link.kind, link.asset.name.rsplit("/", 1)[1]) for link in card.parents} == {
        ("contains", "sh010_plate.####.tif"),
        ("contains", "sky_gen_v001.####.tif"),
        ("references", "sh010_comp_v004.nk"),
    }
    report = next(iter(context)).data["provenanceReport"]
    assert report.scene is not None and len(report.scene.linked) == 2
    changes = ledger.history(comp)[-1].changes
    likeness = [c.performer for c in changes if isinstance(c, LikenessRecorded)]
    assert likeness.count("Ana Lima") == 1


def test_a_publish_the_ledger_refuses_fails_with_the_ledgers_sentence(
    ledger: Ledger, db_url: str, show: Path, pyblish_plugins: None
) -> None:
    write_sequence(show / "comp", "sh020_comp_v001", FRAMES, seed="other")
    other = str(show / "comp" / "sh020_comp_v001.####.tif")
    context = publish(
        [other], {"origin": "human", "db": db_url}, str(show / "scripts" / "sh010_comp_v004.nk")
    )
    failed = errors(context)
    assert len(failed) == 1
    assert "is not written by" in failed[0] and "Write1:" in failed[0]
    with pytest.raises(Exception, match="not in the ledger"):
        ledger.show(other)

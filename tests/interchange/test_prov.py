"""`export prov`: the ledger's facts as W3C PROV, read back with the `prov` library in each
format, on both ledgers."""

from __future__ import annotations

import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from prov.model import (
    PROV_ATTR_AGENT,
    PROV_ATTR_COLLECTION,
    PROV_ATTR_ENTITY,
    PROV_ATTR_GENERATED_ENTITY,
    PROV_ATTR_INFLUENCEE,
    PROV_ATTR_INFLUENCER,
    PROV_ATTR_USED_ENTITY,
    PROV_TYPE,
    ProvDocument,
)

from provenance import Ledger

from ..conftest import Cli
from ..workflows.test_delivery import FRAMES, deliver, show  # noqa: F401 (the fixture)

SKY = "elements/sky_gen_v001.####.tif"
VOCABULARY = "urn:provenance:terms:"
IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"


@pytest.fixture
def exported(show: Ledger, workspace: Path) -> Ledger:  # noqa: F811
    """The comp (plate + approved generated sky, the concept art only referenced) finalized;
    the sky uses a performer's likeness, with consent."""
    show.tag(SKY, "ai", tool="Runway Gen-4", likeness=["Dana Double"])
    show.add_consent("Dana Double", scope="S01 digital double", ref="SAG form 88")
    show.approve(SKY, ref="NFX-1 email", by="jane (studio)")
    assert show.finalize(deliver(workspace, "comp", name="out/EP101"), "EP101_VFX_v001").finalized
    return show


def read_back(path: Path, form: str) -> ProvDocument:
    options = {"rdf_format": "trig"} if form == "rdf" else {}
    with warnings.catch_warnings():
        # rdflib 7 deprecates calls that prov's TriG reader still makes.
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="rdflib")
        return ProvDocument.deserialize(source=str(path), format=form, **options)


def typed(record: Any) -> set[str]:
    return {str(getattr(v, "uri", v)) for k, v in record.attributes if k == PROV_TYPE}


def attribute(record: Any, name: str) -> Any:
    values = [v for k, v in record.attributes if getattr(k, "uri", str(k)) == VOCABULARY + name]
    return values[0] if values else None


def formal(record: Any, key: Any) -> str:
    return str(dict(record.formal_attributes)[key].uri)


class Graph:
    """What the tests ask of a document read back."""

    def __init__(self, document: ProvDocument) -> None:
        self.records = list(document.flattened().get_records())
        self.by_id = {str(r.identifier.uri): r for r in self.records if r.identifier is not None}

    def of_kind(self, name: str) -> list[Any]:
        return [r for r in self.records if r.get_type().localpart == name]

    def typed(self, term: str) -> list[Any]:
        return [r for r in self.records if VOCABULARY + term in typed(r)]

    def labelled(self, term: str, ending: str) -> Any:
        (found,) = [r for r in self.typed(term) if str(r.label).endswith(ending)]
        return found


@pytest.mark.parametrize("form", ["json", "xml", "rdf"])
def test_a_deliverable_read_back(exported: Ledger, run: Cli, tmp_path: Path, form: str) -> None:
    out = tmp_path / f"EP101.{form}"
    run("export", "prov", "--deliverable", "EP101_VFX_v001", "--format", form, "-o", str(out))
    graph = Graph(read_back(out, form))

    versions = graph.typed("AssetVersion")
    names = sorted(str(v.label).split("/")[-1] for v in versions)
    # What the comp holds (plate and sky), itself, and what it only referenced (the concept).
    assert names == [
        "moodboard.png v1",
        "sh010_comp_v003.####.tif v1",
        "sh010_plate.####.tif v1",
        "sky_gen_v001.####.tif v1",
    ]
    sky = graph.labelled("AssetVersion", "sky_gen_v001.####.tif v1")
    assert str(attribute(sky, "digitalSourceType").uri) == IPTC + "trainedAlgorithmicMedia"
    assert attribute(sky, "digest").startswith("xxh3-128:")
    assert int(attribute(sky, "size")) > 0

    # From the deliverable to the generated element: a member, then derived (contains).
    (deliverable,) = graph.typed("Deliverable")
    assert str(deliverable.label) == "EP101_VFX_v001"
    members = {
        formal(m, PROV_ATTR_ENTITY)
        for m in graph.of_kind("Membership")
        if formal(m, PROV_ATTR_COLLECTION) == str(deliverable.identifier.uri)
    }
    comp = graph.labelled("AssetVersion", "sh010_comp_v003.####.tif v1")
    assert members == {str(comp.identifier.uri)}
    derived = {
        formal(d, PROV_ATTR_USED_ENTITY)
        for d in graph.of_kind("Derivation")
        if formal(d, PROV_ATTR_GENERATED_ENTITY) == str(comp.identifier.uri)
        and VOCABULARY + "Contains" in typed(d)
    }
    assert str(sky.identifier.uri) in derived
    # The concept art was only looked at: an influence of type References, not a derivation.
    concept = graph.labelled("AssetVersion", "moodboard.png v1")
    assert str(concept.identifier.uri) not in derived
    assert any(
        formal(i, PROV_ATTR_INFLUENCEE) == str(comp.identifier.uri)
        and formal(i, PROV_ATTR_INFLUENCER) == str(concept.identifier.uri)
        and VOCABULARY + "References" in typed(i)
        for i in graph.of_kind("Influence")
    )

    agents = Counter(t for r in graph.of_kind("Agent") for t in typed(r))
    assert agents["http://www.w3.org/ns/prov#SoftwareAgent"] == 2  # Runway Gen-4, Nuke
    runway = graph.by_id[
        next(
            str(r.identifier.uri) for r in graph.of_kind("Agent") if str(r.label) == "Runway Gen-4"
        )
    ]
    assert attribute(runway, "trainsOnInputs") == "no" and attribute(runway, "secured") == "yes"

    (approval,) = graph.typed("Approval")
    assert str(attribute(approval, "approves").uri) == str(sky.identifier.uri)
    approver = graph.by_id[
        next(formal(a, PROV_ATTR_AGENT) for a in graph.of_kind("Attribution")
             if formal(a, PROV_ATTR_ENTITY) == str(approval.identifier.uri))
    ]  # fmt: skip
    assert str(approver.label) == "jane (studio)"
    (consent,) = graph.typed("Consent")
    assert attribute(consent, "ref") == "SAG form 88"

    finalize = [a for a in graph.of_kind("Activity") if VOCABULARY + "finalize" in typed(a)]
    assert len(finalize) == 1 and attribute(finalize[0], "eventHash").startswith("sha256:")


def test_provn_says_the_same(exported: Ledger, run: Cli, tmp_path: Path) -> None:
    """The prov library writes PROV-N but does not read it: the PROV-N export says what the
    PROV-JSON export, read back, says as PROV-N."""
    run("export", "prov", "--deliverable", "EP101_VFX_v001", "-o", str(tmp_path / "d.json"))
    text = run("export", "prov", "--deliverable", "EP101_VFX_v001", "--format", "provn").stdout
    assert text.startswith("document") and text.rstrip().endswith("endDocument")
    back = read_back(tmp_path / "d.json", "json")
    # (The same statements; PROV-JSON groups them by kind, so their order differs.)
    assert sorted(text.splitlines()) == sorted(back.get_provn().splitlines())
    assert text.count("\n  entity(") == len(Graph(back).of_kind("Entity")) > 5


def test_a_target_and_the_whole_ledger(exported: Ledger, run: Cli, tmp_path: Path) -> None:
    run("export", "prov", SKY, "-o", str(tmp_path / "sky.json"))
    graph = Graph(read_back(tmp_path / "sky.json", "json"))
    names = sorted(str(v.label).split("/")[-1] for v in graph.typed("AssetVersion"))
    # The sky, the comp it went out in (the deliverable holds it through the comp), and what
    # the comp only referenced.
    assert names == [
        "moodboard.png v1",
        "sh010_comp_v003.####.tif v1",
        "sky_gen_v001.####.tif v1",
    ]
    assert [str(d.label) for d in graph.typed("Deliverable")] == ["EP101_VFX_v001"]

    run("export", "prov", "-o", str(tmp_path / "all.json"))
    whole = Graph(read_back(tmp_path / "all.json", "json"))
    assert len(whole.typed("AssetVersion")) == 4 and len(whole.typed("Asset")) == 4
    run("export", "prov", "--deliverable", "NOPE", expect=1)
    run("export", "prov", SKY, "--deliverable", "EP101_VFX_v001", expect=1)

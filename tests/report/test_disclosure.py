"""The disclosure a vendor sends its studio contact, per deliverable, on both ledgers."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import xxhash

from provenance import Ledger
from provenance.errors import TargetNotFound
from provenance.fingerprint import format_digest
from provenance.report.disclosure import manifest_warnings, read_recorded_manifest
from provenance.store.deliverables import RecordedManifest

from ..builders import write_sequence
from ..conftest import Cli
from ..workflows.test_delivery import FRAMES, deliver, show  # noqa: F401 (the fixture)

SKY = "elements/sky_gen_v001.####.tif"
COMP = "comp/sh010_comp_v003.####.tif"


@pytest.fixture
def disclosed(show: Ledger, workspace: Path) -> Ledger:  # noqa: F811
    """The comp (holding the approved generated sky, which uses a performer's likeness) is
    finalized under a warning: its plate has a newer version."""
    show.tag(SKY, "ai", tool="Runway Gen-4", likeness=["Dana Double"])
    show.add_consent("Dana Double", scope="S01 digital double", ref="SAG form 88")
    show.approve(SKY, ref="NFX-1 email", by="jane (studio)")
    write_sequence(workspace / "plates", "sh010_plate", FRAMES, seed="plate-regrade")
    time.sleep(0.05)
    show.ingest(["plates"], origin="capture", by="alice")
    report = show.finalize(deliver(workspace, "comp", name="out/EP101"), "EP101_VFX_v001")
    assert report.finalized and [f.rule for f in report.verdict.findings] == ["lineage-stale"]
    return show


def test_each_deliverable_discloses_its_uses_likeness_and_warnings(disclosed: Ledger) -> None:
    found = disclosed.disclosure_report()
    (section,) = found.deliverables
    assert section.deliverable.name == "EP101_VFX_v001"
    (use,) = section.uses
    assert use.entry.asset.name.endswith("sky_gen_v001.####.tif")
    assert [t.name for t in use.entry.tools] == ["Runway Gen-4"]
    assert use.entry.tools[0].trains_on_inputs == "no" and use.entry.tools[0].secured == "yes"
    assert use.use.asset.endswith("sh010_comp_v003.####.tif") and use.use.how.startswith("contains")
    assert use.use.covered_by == ["NFX-1 email (jane (studio))"]
    (likeness,) = section.likeness
    assert likeness.performer == "Dana Double" and likeness.marked.endswith(
        "sky_gen_v001.####.tif v1"
    )
    assert [c.ref for c in likeness.consents] == ["SAG form 88"]
    (warning,) = section.warnings
    assert warning.rule == "lineage-stale" and warning.fix and "re-render" in warning.fix
    assert section.warnings_problem is None
    # The concept art was generated and never delivered: in the ledger-wide section.
    assert [e.asset.name.rsplit("/", 1)[-1] for e in found.undelivered] == ["moodboard.png"]


def test_a_likeness_without_consent_is_said(disclosed: Ledger) -> None:
    disclosed.tag(COMP, "human", tool="Nuke@15.1", likeness=["Eve Extra"])
    # (Only the deliverable's own versions count: the comp was delivered before this mark,
    # but the mark is on the delivered version, so the disclosure says it now.)
    (section,) = disclosed.disclosure_report("EP101_VFX_v001").deliverables
    eve = [item for item in section.likeness if item.performer == "Eve Extra"]
    assert eve and eve[0].how == "itself" and eve[0].consents == []


def test_a_changed_manifest_beside_the_delivery_does_not_change_the_report(
    disclosed: Ledger, workspace: Path
) -> None:
    # The ledger kept the manifest's bytes at finalize time: the report reads those, so an
    # edit of the file on disk neither hides the warnings nor invents others.
    manifest = workspace / "out" / "EP101" / "provenance-manifest.json"
    document = json.loads(manifest.read_text())
    document["warnings"] = []
    manifest.write_text(json.dumps(document))
    (section,) = disclosed.disclosure_report().deliverables
    assert [w.rule for w in section.warnings] == ["lineage-stale"]
    assert section.deliverable.warnings == 1 and section.warnings_problem is None


def test_a_manifest_the_ledger_did_not_keep_is_read_only_when_its_bytes_are_the_recorded_ones(
    tmp_path: Path,
) -> None:
    # (A deliverable finalized before the ledger kept manifests, migration 0011: only the
    # digest the finalize's event recorded is known, and the file beside it is checked.)
    manifest = tmp_path / "provenance-manifest.json"
    body = json.dumps({"warnings": [{"rule": "lineage-stale", "message": "m"}]}).encode()
    manifest.write_bytes(body)
    digest = format_digest(xxhash.xxh3_128_hexdigest(body))
    recorded = RecordedManifest(bytes(manifest), digest, None)
    document, problem = read_recorded_manifest(recorded)
    assert problem is None and manifest_warnings(document)[0].rule == "lineage-stale"
    manifest.write_bytes(body.replace(b"lineage-stale", b"nothing-here!"))
    document, problem = read_recorded_manifest(recorded)
    assert document is None and problem is not None and "changed" in problem
    manifest.unlink()
    document, problem = read_recorded_manifest(recorded)
    assert document is None and problem is not None and "cannot be read" in problem


def test_one_deliverable(disclosed: Ledger) -> None:
    found = disclosed.disclosure_report("EP101_VFX_v001")
    assert [s.deliverable.name for s in found.deliverables] == ["EP101_VFX_v001"]
    assert found.undelivered == [] and len(found.uses) == 1
    with pytest.raises(TargetNotFound, match="EP101_VFX_v001"):
        disclosed.disclosure_report("EP101_VFX_v01")


def test_cli(disclosed: Ledger, run: Cli) -> None:
    text = run("report", "disclosure").stdout
    assert "EP101_VFX_v001: finalized" in text
    assert "made with Runway Gen-4 (Runway; trains on inputs: no; secured: yes)" in text
    assert "in comp/sh010_comp_v003.####.tif v1, which contains elements/sky_gen_v001" in text
    assert "approved: NFX-1 email (jane (studio))" in text
    assert "Dana Double in comp/sh010_comp_v003.####.tif v1" in text
    assert "consent: S01 digital double (SAG form 88)" in text
    assert "lineage-stale:" in text and "fix: If it should use v2" in text
    assert "Generated material in no finalized deliverable" in text
    document = json.loads(
        run("report", "disclosure", "--deliverable", "EP101_VFX_v001", "--json").stdout
    )
    assert document["schema"] == "Disclosure.2"
    (section,) = document["deliverables"]
    use = section["generative_uses"][0]
    assert use["tools"][0]["trains_on_inputs"] == "no" and use["covered_by"]
    assert section["likeness"][0]["consents"][0]["ref"] == "SAG form 88"
    assert section["delivered_warnings"][0]["rule"] == "lineage-stale"
    run("report", "disclosure", "--deliverable", "nope", expect=1)


def test_html(disclosed: Ledger, run: Cli, tmp_path: Path) -> None:
    """The disclosure as one page: well formed, nothing to fetch, every section there."""
    from html.parser import HTMLParser

    page = tmp_path / "disclosure.html"
    run("report", "disclosure", "--html", str(page))
    text = page.read_text(encoding="utf-8")

    class Tags(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.open: list[str] = []
            self.sources: list[str] = []

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            self.sources += [v or "" for k, v in attrs if k in ("src", "href")]
            if tag not in ("meta", "br", "img", "link", "input"):
                self.open.append(tag)

        def handle_endtag(self, tag: str) -> None:
            assert self.open and self.open.pop() == tag, f"</{tag}> closes nothing"

    parser = Tags()
    parser.feed(text)
    assert parser.open == [] and parser.sources == []
    assert "default-src 'none'" in text
    for needed in (
        "EP101_VFX_v001",
        "NFX-1 email",
        "Dana Double",
        "SAG form 88",
        "lineage-stale",
        "Generated material in no finalized deliverable",
        "moodboard.png",
    ):
        assert needed in text, needed

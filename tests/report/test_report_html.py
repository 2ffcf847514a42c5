"""The HTML delivery report, loaded offline in a real headless Chromium: every shot row,
thumbnail, finding and lineage picture is on the page, filters work, and the page logs no error.
The report's facts are checked on both ledgers."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from provenance import Ledger

from ..browser import chromium
from ..builders import write_dpx, write_exr_sequence, write_image, write_sequence
from ..conftest import Cli

FRAMES = range(1001, 1006)
SKY = "elements/sky_gen_v001.####.tif"
PLATE = "plates/sh010_plate.####.tif"


@pytest.fixture
def shots(ledger: Ledger, workspace: Path) -> Ledger:
    """Four shots in TIFF, OpenEXR, DPX and PNG; the TIFF comp holds a generated, approved sky
    that uses a consenting performer's likeness, and was made from a plate that has a newer
    version since (a warning). Delivered in `out/EP101` and finalized."""
    ledger.racy_window_ns = 20_000_000
    write_sequence(workspace / "plates", "sh010_plate", FRAMES, seed="plate")
    write_sequence(workspace / "elements", "sky_gen_v001", FRAMES, seed="sky")
    write_sequence(workspace / "comp", "sh010_comp_v003", FRAMES, seed="comp")
    write_exr_sequence(workspace / "comp", "sh020_comp_v001", FRAMES, seed="exr")
    for frame in FRAMES:
        write_dpx(workspace / "comp" / f"sh030_comp_v001.{frame}.dpx", seed=frame)
    write_image(workspace / "comp" / "sh040_matte_v001.png", seed="matte", size=(320, 180))
    time.sleep(0.05)
    ledger.add_tool(
        "Runway Gen-4", vendor="Runway", generative=True, trains_on_inputs="no", secured="yes"
    )
    ledger.ingest(["plates"], origin="capture", by="alice")
    ledger.ingest(
        ["elements"], origin="ai", tool="Runway Gen-4", by="bob", likeness=["Dana Double"]
    )
    ledger.add_consent("Dana Double", scope="S01 digital double", ref="SAG form 88")
    ledger.ingest(
        ["comp/sh010_comp_v003.####.tif"],
        origin="human",
        tool="Nuke@15.1",
        by="carol",
        contains=[PLATE, SKY],
    )
    ledger.ingest(
        [
            "comp/sh020_comp_v001.####.exr",
            "comp/sh030_comp_v001.####.dpx",
            "comp/sh040_matte_v001.png",
        ],
        origin="human",
        tool="Nuke@15.1",
        by="carol",
    )
    ledger.approve(SKY, ref="NFX-1 email", by="jane (studio)")
    write_sequence(workspace / "plates", "sh010_plate", FRAMES, seed="plate-regrade")
    time.sleep(0.05)
    ledger.ingest(["plates"], origin="capture", by="alice")
    shutil.copytree(workspace / "comp", workspace / "out" / "EP101")
    assert ledger.finalize(workspace / "out" / "EP101", "EP101_VFX_v001").finalized
    return ledger


def load(driver: Any, page: Path) -> None:
    driver.get(page.as_uri())
    driver.execute_script("window.provenanceShowAll()")
    # Every image decoded (a thumbnail that does not decode rejects, and fails the test).
    driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "Promise.all(Array.from(document.images).map(i => i.decode()))"
        ".then(() => done(true), e => done(String(e)));"
    )


def page_facts(driver: Any) -> dict[str, Any]:
    result: dict[str, Any] = driver.execute_script(
        """
        const rows = Array.from(document.querySelectorAll("tr.shot"));
        return {
          verdict: document.querySelector(".verdict").textContent,
          header: document.querySelector("header").textContent,
          rows: rows.map(r => ({
            name: r.dataset.name, origin: r.dataset.origin, findings: r.dataset.findings,
            images: Array.from(r.querySelectorAll("img")).map(i => i.naturalWidth),
            placeholders: r.querySelectorAll(".placeholder").length,
            items: r.querySelectorAll("li.finding").length,
            svg: Array.from(r.querySelectorAll("svg")).map(s => s.textContent),
          })),
          loose: document.querySelectorAll("ul.loose li.finding").length,
          fetched: performance.getEntriesByType("resource").map(e => e.name)
            .filter(n => !n.startsWith("data:")),
        };
        """
    )
    return result


def choose(driver: Any, select: str, value: str) -> str:
    text: str = driver.execute_script(
        "const s = document.getElementById(arguments[0]); s.value = arguments[1];"
        "s.dispatchEvent(new Event('change')); return document.getElementById('shown').textContent;",
        select,
        value,
    )
    return text


def errors(driver: Any) -> list[dict[str, Any]]:
    return [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]


def test_finalized_report_in_chromium(
    shots: Ledger, run: Cli, workspace: Path, tmp_path: Path
) -> None:
    page = tmp_path / "EP101.html"
    document = json.loads(
        run("report", "delivery", "EP101_VFX_v001", "--html", str(page), "--json").stdout
    )
    assert document["schema"] == "DeliveryReport.1" and document["verdict"] == "FINALIZED"
    assets = {a["name"]: a for a in document["assets"]}
    assert sorted(assets) == [
        "sh010_comp_v003.####.tif",
        "sh020_comp_v001.####.exr",
        "sh030_comp_v001.####.dpx",
        "sh040_matte_v001.png",
    ]
    comp = assets["sh010_comp_v003.####.tif"]
    assert comp["origin"] == "human" and comp["tools"] == ["Nuke"]
    assert comp["generated"][0]["covered_by"] == ["NFX-1 email (jane (studio))"]
    assert comp["likeness"][0]["consents"][0]["ref"] == "SAG form 88"
    assert [f["rule"] for f in comp["findings"]] == ["lineage-stale"]
    assert document["checkpoint"]["signed"]["schema"] == "Checkpoint.1"
    assert document["counts"] == {"human": 4}

    with chromium(tmp_path / "profile") as driver:
        load(driver, page)
        facts = page_facts(driver)
        driver.save_screenshot(str(tmp_path / "EP101.png"))
        assert errors(driver) == []
    assert facts["verdict"] == "FINALIZED" and "netflix-2025" in facts["header"]
    assert facts["fetched"] == []
    rows = {r["name"]: r for r in facts["rows"]}
    assert sorted(rows) == sorted(name.lower() for name in assets)
    for name, asset in assets.items():
        row = rows[name.lower()]
        assert len(row["images"]) == len(asset["thumbnails"]) and all(row["images"])
        assert row["items"] == len(asset["findings"]) and row["placeholders"] == 0
    assert sum(len(r["images"]) for r in facts["rows"]) == 3 * 3 + 1
    (picture,) = rows["sh010_comp_v003.####.tif"]["svg"]
    assert "sky_gen_v001.####.tif" in picture and "contains" in picture
    assert (tmp_path / "EP101.png").stat().st_size > 10_000


def test_swept_report_in_chromium(shots: Ledger, run: Cli, workspace: Path, tmp_path: Path) -> None:
    """A delivery with a damaged frame, a file the ledger does not hold and a custom policy:
    the damaged frame gets a placeholder, every finding is on the page, and the filters work."""
    delivery = workspace / "out" / "EP102"
    shutil.copytree(workspace / "comp", delivery)
    (delivery / "sh020_comp_v001.1003.exr").write_bytes(b"v/1\x01 not an EXR any more")
    write_image(delivery / "stray.png", seed="stray")
    policy = workspace / "studio.toml"
    policy.write_text('name = "studio-x"\n[rules]\nno-print = "off"\n')
    page = tmp_path / "EP102.html"
    document = json.loads(
        run(
            "report", "delivery", "out/EP102", "--policy", str(policy), "--html", str(page),
            "--json", expect=3,
        ).stdout
    )  # fmt: skip
    assert document["verdict"] == "BLOCKED" and document["policy"]["changes"] == {"no-print": "off"}
    findings = sum(len(a["findings"]) for a in document["assets"]) + len(document["findings"])
    rules = {f["rule"] for a in document["assets"] for f in a["findings"]}
    assert {"changed", "untracked"} <= rules and "no-print" not in rules

    with chromium(tmp_path / "profile") as driver:
        load(driver, page)
        facts = page_facts(driver)
        assert "studio-x" in facts["header"] and "no-print = off" in facts["header"]
        assert sum(r["items"] for r in facts["rows"]) + facts["loose"] == findings
        placeholders = [r for r in facts["rows"] if r["placeholders"]]
        assert [r["name"] for r in placeholders] == ["sh020_comp_v001.####.exr"]
        assert all(all(r["images"]) for r in facts["rows"])
        untracked = [r for r in facts["rows"] if r["origin"] == "untracked"]
        assert [r["name"] for r in untracked] == ["stray.png"]
        total = len(facts["rows"])
        assert choose(driver, "filter-origin", "untracked") == f"1 of {total} shots"
        choose(driver, "filter-origin", "")
        assert choose(driver, "filter-finding", "changed") == f"1 of {total} shots"
        clean = sum(1 for r in facts["rows"] if not r["findings"])
        assert choose(driver, "filter-finding", "-") == f"{clean} of {total} shots"
        assert errors(driver) == []

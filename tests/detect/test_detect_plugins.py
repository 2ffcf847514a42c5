"""Detector plug-ins: a distribution installed for real (a dist-info with its entry point, in a
folder on the path) whose detector finds a test watermark in the pixels; exercised directly,
and through ingest and sweep as the `provenance` command runs them (hashing workers included)."""

from __future__ import annotations

import json
import os
import sys
import textwrap
from pathlib import Path

import pytest
from PIL import Image

from provenance.detect import plugins
from provenance.detect.files import detect_file
from provenance.origins import Evidence, Origin

from ..netjail import Run, command_env, run_command

# The test watermark: the first pixels of the top row carry these colours.
MARK = [(3, 141, 59), (26, 53, 58), (97, 93, 23), (84, 62, 64)]

DETECTORS = '''
    """A studio's detectors, as a test stands them in: a "watermark" in the top-left pixels."""

    from provenance.detect import Signal
    from provenance.origins import Evidence, Origin

    MARK = {mark!r}


    def find_mark(image):
        with image.open() as picture:
            top = [picture.convert("RGB").getpixel((x, 0)) for x in range(len(MARK))]
        if top != MARK:
            return None
        return Signal(
            source="anything",
            origin=Origin.TRAINED_ALGORITHMIC_MEDIA,
            evidence=Evidence.EMBEDDED_SIGNED,  # more than a plug-in may claim
            summary="test watermark found in the top-left pixels",
            tool="Test Generator",
            detail={{"confidence": 0.99, "where": ("top", "left")}},
        )


    def broken(image):
        raise RuntimeError("the model weights are missing")


    def confused(image):
        return "a string"
'''


def install_detectors(site: Path, *entries: str) -> Path:
    """A distribution `studio-detectors` in `site`, with `entries` as `name = module:attr`."""
    site.mkdir(parents=True, exist_ok=True)
    (site / "studio_detectors.py").write_text(
        textwrap.dedent(DETECTORS.format(mark=[tuple(p) for p in MARK]))
    )
    info = site / "studio_detectors-1.0.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: studio-detectors\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        f"[{plugins.ENTRY_POINT_GROUP}]\n" + "".join(f"{e}\n" for e in entries)
    )
    return site


def marked_image(path: Path, marked: bool = True, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.new("RGB", (64, 48), (120 + seed, 110, 100))
    if marked:
        for x, colour in enumerate(MARK):
            image.putpixel((x, 0), colour)
    image.save(path)
    return path


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    site = install_detectors(
        tmp_path / "site",
        "test-watermark = studio_detectors:find_mark",
        "broken = studio_detectors:broken",
        "confused = studio_detectors:confused",
        "missing = studio_detectors:not_there",
    )
    monkeypatch.syspath_prepend(str(site))
    plugins.installed_detectors.cache_clear()
    yield site
    plugins.installed_detectors.cache_clear()
    sys.modules.pop("studio_detectors", None)


def test_installed_detectors_are_found_by_their_entry_points(installed: Path) -> None:
    assert [name for name, _ in plugins.installed_detectors()] == [
        "broken",
        "confused",
        "missing",
        "test-watermark",
    ]


def test_a_plugin_signal_is_held_to_what_a_plugin_may_say(installed: Path, tmp_path: Path) -> None:
    signals = {
        s.source: s for s in detect_file(os.fsencode(marked_image(tmp_path / "a.png"))).signals
    }
    found = signals["plugin:test-watermark"]
    assert (found.origin, found.evidence, found.tool) == (
        Origin.TRAINED_ALGORITHMIC_MEDIA,
        Evidence.INFERRED,  # not signed: a plug-in cannot vouch with a signature
        "Test Generator",
    )
    assert found.detail == {"confidence": 0.99, "where": ["top", "left"]}
    # Failures are said, without an origin, and never stop the reading.
    assert signals["plugin:broken"].origin is None
    assert "the model weights are missing" in signals["plugin:broken"].summary
    assert "returned str, not a Signal" in signals["plugin:confused"].summary
    assert "cannot be loaded" in signals["plugin:missing"].summary


def test_an_unmarked_image_and_other_types_say_nothing_to_the_plugin(
    installed: Path, tmp_path: Path
) -> None:
    plain = detect_file(os.fsencode(marked_image(tmp_path / "b.png", marked=False))).signals
    assert [s.source for s in plain if s.origin is not None] == []
    notes = tmp_path / "notes.txt"
    notes.write_text("not an image")
    assert plugins.plugin_signals(os.fsencode(notes)) == []


def test_without_plugins_no_image_is_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(plugins, "installed_detectors", lambda: ())
    monkeypatch.setattr(plugins.DetectorInput, "open", lambda self: pytest.fail("opened"))
    assert plugins.plugin_signals(os.fsencode(marked_image(tmp_path / "c.png"))) == []


def test_ingest_and_sweep_run_the_installed_plugin(tmp_path: Path) -> None:
    site = install_detectors(tmp_path / "site", "test-watermark = studio_detectors:find_mark")
    show = tmp_path / "show"
    marked_image(show / "elements" / "sky_v001.png")
    marked_image(show / "elements" / "plate_v001.png", marked=False, seed=1)
    marked_image(show / "delivery" / "sky_v002.png", seed=2)  # never ingested: read by the sweep
    db = str(tmp_path / "ledger.db")
    env = command_env(tmp_path, site)

    def run(*args: str) -> Run:
        return run_command([sys.executable, "-m", "provenance", "--db", db, *args], show, env)

    assert run("init").returncode == 0
    ingested = run("ingest", "elements", "--origin", "human", "--by", "vendor", "--json")
    assert ingested.returncode == 0, ingested.stderr
    card = json.loads(run("show", "elements/sky_v001.png", "--json").stdout)
    assert [(s["source"], s["origin"], s["evidence"]) for s in card["signals"]] == [
        ("plugin:test-watermark", "ai", "inferred")
    ]
    assert card["disputed"]
    assert json.loads(run("show", "elements/plate_v001.png", "--json").stdout)["signals"] == []

    swept = run("sweep", ".", "--json")
    assert swept.returncode == 3, swept.stderr
    findings = json.loads(swept.stdout)["findings"]
    found = {(f["rule"], Path(f["files"][0]).name) for f in findings}
    assert ("origin-disputed", "sky_v001.png") in found
    assert ("embedded-ai", "sky_v002.png") in found
    assert not any(name == "plate_v001.png" for _, name in found)
    (said,) = [f["message"] for f in findings if f["rule"] == "embedded-ai"]
    assert "test watermark found in the top-left pixels" in said

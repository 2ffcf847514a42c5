"""Every generator family's fixtures (tests/generator_fixtures.py) are read as generated, by the
readers an ingest runs; and the quality table of docs/detection.md counts exactly those fixtures."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from provenance.detect import Signal
from provenance.detect.files import detect_file
from provenance.origins import Evidence

from ..c2pa_fixtures import ThrowawayCA, make_test_ca
from ..generator_fixtures import FAMILIES, Fixture, all_fixtures

DOCS = Path(__file__).resolve().parent.parent.parent / "docs" / "detection.md"


@pytest.fixture(scope="module")
def ca() -> ThrowawayCA:
    return make_test_ca()


def _signals(fixture: Fixture, folder: Path, ca: ThrowawayCA) -> list[Signal]:
    folder.mkdir(parents=True, exist_ok=True)
    path = fixture.build(folder, ca)
    return list(detect_file(os.fsencode(path)).signals)


@pytest.mark.parametrize("fixture", all_fixtures(), ids=lambda f: f"{f.family}:{f.name}")
def test_each_fixture_is_read_as_generated(
    fixture: Fixture, tmp_path: Path, ca: ThrowawayCA
) -> None:
    signals = _signals(fixture, tmp_path, ca)
    by_source = {s.source: s for s in signals}
    assert set(fixture.sources) <= by_source.keys(), signals
    for source in fixture.sources:
        signal = by_source[source]
        assert signal.origin is not None and signal.origin.generative, signal
        assert signal.evidence in (Evidence.EMBEDDED, Evidence.EMBEDDED_SIGNED, Evidence.INFERRED)
        assert signal.summary
        json.dumps(signal.detail)
    # Each reader reports once, however many places of the file carry its metadata.
    assert len(by_source) == len(signals)


def _quality_table() -> dict[str, int]:
    text = DOCS.read_text(encoding="utf-8")
    section = text.split("## Detector quality", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, int] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[-1].isdigit():
            rows[cells[0]] = int(cells[-1])
    return rows


def test_the_quality_table_counts_the_fixtures_of_each_family() -> None:
    table = _quality_table()
    assert table == {family: len(fixtures) for family, fixtures in FAMILIES.items()}, (
        "docs/detection.md's quality table must list each family of tests/generator_fixtures.py "
        "with its fixture count"
    )


def test_every_fixture_has_its_own_name() -> None:
    names = [f.name for f in all_fixtures()]
    assert len(names) == len(set(names))
    assert all(re.fullmatch(r"[a-z0-9_]+", name) for name in names)

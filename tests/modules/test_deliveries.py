"""Reading deliveries: folders, path lists, CSV pull lists, OTIO cuts (real files, no database)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from provenance.deliveries import DeliveryKind, read_delivery
from provenance.errors import ProvenanceError, TargetNotFound

from ..builders import require, write_image, write_otio_cut, write_sequence


def names(paths: list[bytes]) -> list[str]:
    return sorted(os.path.basename(os.fsdecode(p)) for p in paths)


def test_a_folder_is_every_file_but_its_own_manifest(tmp_path: Path) -> None:
    write_sequence(tmp_path / "d", "sh010", [1001, 1002, 1004])
    write_image(tmp_path / "d" / "still.png")
    (tmp_path / "d" / "provenance-manifest.json").write_text("{}")
    delivery = read_delivery(os.fsencode(tmp_path / "d"))
    assert delivery.kind is DeliveryKind.FOLDER
    assert names([f.path for f in delivery.files]) == [
        "sh010.1001.tif",
        "sh010.1002.tif",
        "sh010.1004.tif",
        "still.png",
    ]
    assert [(os.path.basename(s.pattern), s.missing) for s in delivery.sequences] == [
        (b"sh010.####.tif", (1003,))
    ]


def test_a_path_list_with_patterns_and_missing_entries(tmp_path: Path) -> None:
    write_sequence(tmp_path / "comp", "c", [1, 2])
    write_image(tmp_path / "a.png")
    listing = tmp_path / "delivery.txt"
    listing.write_text("# the delivery\na.png\n\ncomp/c.####.tif\nnot_here.png\n")
    delivery = read_delivery(os.fsencode(listing))
    assert delivery.kind is DeliveryKind.LIST
    assert names([f.path for f in delivery.files]) == ["a.png", "c.0001.tif", "c.0002.tif"]
    assert names(delivery.missing) == ["not_here.png"]
    assert delivery.home == os.fsencode(tmp_path)


def test_a_csv_pull_list_delivers_only_final_rows(tmp_path: Path) -> None:
    write_sequence(tmp_path / "shots" / "sh010", "sh010_comp_v010", range(1001, 1006))
    write_sequence(tmp_path / "shots" / "sh020", "sh020_comp_v002", range(1001, 1003))
    (tmp_path / "shots" / "sh010" / "sh010_comp_v010.1003.tif").unlink()
    csv_path = tmp_path / "pull.csv"
    csv_path.write_text(
        "Filename,Relative Path,Submitting For,Partner Version,Frames\n"
        "sh010_comp_v010.%04d.tif,shots/sh010,FINAL,v010,1001-1006\n"
        "sh020_comp_v002.####.tif,shots/sh020,WIP,v002,\n"
        "sh030_comp_v001.%04d.tif,shots/sh030,FINAL,v001,1001-1002\n"
    )
    delivery = read_delivery(os.fsencode(csv_path))
    assert delivery.kind is DeliveryKind.CSV
    assert delivery.ignored_rows == 1
    assert names([f.path for f in delivery.files]) == [
        "sh010_comp_v010.1001.tif",
        "sh010_comp_v010.1002.tif",
        "sh010_comp_v010.1004.tif",
        "sh010_comp_v010.1005.tif",
    ]
    missing = {os.path.basename(s.pattern): s.missing for s in delivery.sequences}
    assert missing[b"sh010_comp_v010.####.tif"] == (1003, 1006)
    assert missing[b"sh030_comp_v001.####.tif"] == (1001, 1002)
    assert names(delivery.missing) == ["sh030_comp_v001.%04d.tif"]


def test_a_csv_without_the_needed_columns_is_refused(tmp_path: Path) -> None:
    csv_path = tmp_path / "pull.csv"
    csv_path.write_text("Name,Status\na.exr,FINAL\n")
    with pytest.raises(ProvenanceError, match="Submitting For"):
        read_delivery(os.fsencode(csv_path))


def test_a_missing_delivery_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TargetNotFound, match="does not exist"):
        read_delivery(os.fsencode(tmp_path / "nope"))


def test_an_otio_cut_delivers_only_the_frames_it_uses(tmp_path: Path) -> None:
    try:
        import opentimelineio as otio
    except ImportError:
        otio = None
    require(otio is not None, "opentimelineio (the otio extra) is not installed")
    assert otio is not None
    write_sequence(tmp_path / "plates", "sh010_plate", range(1001, 1021))
    plates = str(tmp_path / "plates") + "/"
    cut = write_otio_cut(tmp_path / "cut.otio", plates, "sh010_plate.", 20, (4, 5))
    delivery = read_delivery(os.fsencode(cut))
    assert delivery.kind is DeliveryKind.OTIO
    assert names([f.path for f in delivery.files]) == [
        f"sh010_plate.{f}.tif" for f in range(1005, 1010)
    ]


def test_a_single_media_file_is_a_delivery_of_itself(tmp_path: Path) -> None:
    still = write_image(tmp_path / "poster_v003.png")
    delivery = read_delivery(os.fsencode(still))
    assert names([f.path for f in delivery.files]) == ["poster_v003.png"]
    assert delivery.missing == []

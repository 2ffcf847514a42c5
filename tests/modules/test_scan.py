"""Scanning: sequence grouping, patterns, and what a walk reports (real files, no database)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from provenance.errors import BadPattern, TargetNotFound
from provenance.scan import (
    AssetKind,
    SkipReason,
    canonical_pattern,
    group_names,
    missing_frames,
    parse_pattern,
    scan_target,
)


def grouped(*names: str) -> dict[str, tuple[AssetKind, list[int | None]]]:
    return {
        pattern.decode(): (kind, [frame for frame, _ in members])
        for kind, pattern, members in group_names([n.encode() for n in names])
    }


def test_frames_group_into_one_sequence_in_frame_order() -> None:
    result = grouped("sh010.1003.exr", "sh010.1001.exr", "sh010.1002.exr")
    assert result == {"sh010.####.exr": (AssetKind.SEQUENCE, [1001, 1002, 1003])}


def test_versions_and_lone_numbered_files_stay_single_files() -> None:
    result = grouped("matte_v002.png", "matte_v003.png", "notes.txt", "plate.1001.dpx")
    assert result == {
        "matte_v002.png": (AssetKind.FILE, [None]),
        "matte_v003.png": (AssetKind.FILE, [None]),
        "notes.txt": (AssetKind.FILE, [None]),
        "plate.1001.dpx": (AssetKind.FILE, [None]),
    }


def test_underscore_frames_multi_extensions_and_unpadded_runs() -> None:
    result = grouped(
        "plate_0001.dpx",
        "plate_0002.dpx",
        "sim.0001.bgeo.sc",
        "sim.0002.bgeo.sc",
        "x.9.jpg",
        "x.10.jpg",
    )
    assert result["plate_####.dpx"] == (AssetKind.SEQUENCE, [1, 2])
    assert result["sim.####.bgeo.sc"] == (AssetKind.SEQUENCE, [1, 2])
    assert result["x.#.jpg"] == (AssetKind.SEQUENCE, [9, 10])


def test_mixed_padding_splits_into_separate_sequences() -> None:
    result = grouped("a.001.exr", "a.002.exr", "a.0001.exr", "a.0002.exr")
    assert set(result) == {"a.###.exr", "a.####.exr"}


def test_udim_tiles_are_one_udim_set() -> None:
    result = grouped("diffuse.1001.tx", "diffuse.1002.tx", "diffuse.1011.tx")
    assert result == {"diffuse.<UDIM>.tx": (AssetKind.UDIM, [1001, 1002, 1011])}


def test_missing_frames() -> None:
    assert missing_frames([1001, 1002, 1005, 1007]) == [1003, 1004, 1006]
    assert missing_frames([5]) == []


@pytest.mark.parametrize(
    "typed",
    ["sh010.####.exr", "sh010.%04d.exr", "sh010.$F4.exr", "sh010.@@@@.exr", "sh010.1001-1100#.exr"],
)
def test_pattern_syntaxes_have_one_canonical_form(typed: str) -> None:
    pattern = parse_pattern(b"/show/comp/" + typed.encode())
    assert canonical_pattern(pattern) == b"/show/comp/sh010.####.exr"


def test_pattern_ranges_limit_the_frames() -> None:
    pattern = parse_pattern(b"/x/a.1001-1003#.exr")
    assert pattern.frames == frozenset({1001, 1002, 1003})
    assert parse_pattern(b"/x/a.####.exr").frames is None


def test_udim_token_pattern() -> None:
    pattern = parse_pattern(b"/tex/diffuse.<UDIM>.tx")
    assert pattern.udim and canonical_pattern(pattern) == b"/tex/diffuse.<UDIM>.tx"


def test_pattern_without_frame_token_is_refused() -> None:
    with pytest.raises(BadPattern, match="no frame token"):
        parse_pattern(b"/x/plain.exr")


def scan_all(target: Path | bytes):  # type: ignore[no-untyped-def]
    scans = list(scan_target(os.fsencode(target)))
    assets = [a for s in scans for a in s.assets]
    skipped = [k for s in scans for k in s.skipped]
    links = [link for s in scans for link in s.links]
    return assets, skipped, links


def test_zero_frame_pattern_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "a.1001.exr").write_bytes(b"x")
    with pytest.raises(BadPattern, match="0 frames"):
        scan_all(tmp_path / "b.####.exr")


def test_missing_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TargetNotFound, match="does not exist"):
        scan_all(tmp_path / "nope")


def test_pattern_scan_finds_only_its_frames(tmp_path: Path) -> None:
    for frame in (1001, 1002, 1004):
        (tmp_path / f"a.{frame}.exr").write_bytes(b"x")
    (tmp_path / "b.1001.exr").write_bytes(b"x")
    assets, _, _ = scan_all(tmp_path / "a.####.exr")
    assert len(assets) == 1
    assert [m.frame for m in assets[0].members] == [1001, 1002, 1004]
    assert assets[0].holes == [1003]
    ranged, _, _ = scan_all(tmp_path / "a.1001-1002#.exr")
    assert [m.frame for m in ranged[0].members] == [1001, 1002]


def test_walk_never_follows_links_and_flags_escapes(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.exr").write_bytes(b"s")
    top = tmp_path / "top"
    top.mkdir()
    (top / "real.exr").write_bytes(b"r")
    (top / "inside_link.exr").symlink_to(top / "real.exr")
    (top / "escape").symlink_to(outside)
    (top / "loop").symlink_to(top)
    assets, skipped, links = scan_all(top)
    assert [os.path.basename(a.pattern) for a in assets] == [b"real.exr"]
    by_name = {os.path.basename(link.path): link for link in links}
    assert set(by_name) == {b"inside_link.exr", b"escape", b"loop"}
    assert by_name[b"escape"].escapes
    assert not by_name[b"inside_link.exr"].escapes
    assert not by_name[b"loop"].escapes
    assert skipped == []


def test_specials_are_skipped_never_opened(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(tmp_path / "sock"))
        (tmp_path / "file.txt").write_bytes(b"x")
        assets, skipped, _ = scan_all(tmp_path)
    finally:
        server.close()
    assert [os.path.basename(a.pattern) for a in assets] == [b"file.txt"]
    assert {(os.path.basename(s.path), s.reason, s.detail) for s in skipped} == {
        (b"pipe", SkipReason.SPECIAL, "fifo"),
        (b"sock", SkipReason.SPECIAL, "socket"),
    }


def test_device_is_skipped() -> None:
    _, skipped, _ = scan_all(b"/dev/null")
    assert [(s.reason, s.detail) for s in skipped] == [(SkipReason.SPECIAL, "device")]


def test_non_utf8_names_round_trip(tmp_path: Path) -> None:
    name = b"caf\xe9_plate.exr"
    path = os.path.join(os.fsencode(tmp_path), name)
    with open(path, "wb") as handle:
        handle.write(b"x")
    assets, _, _ = scan_all(tmp_path)
    assert [a.pattern for a in assets] == [path]

"""Show roots without a database: spellings across platforms and mounts, where a machine finds
each root, and which root a path falls under (through a symbolic link too)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from provenance.errors import ProvenanceError
from provenance.roots import (
    ROOT_MAP_VARIABLE,
    RootKind,
    RootMap,
    RootRecord,
    check_root_name,
    default_root_name,
    parse_root_map,
    place_roots,
    spelling,
    written_path,
)


def fs(path: Path) -> bytes:
    return os.fsencode(path)


# -- spellings ----------------------------------------------------------------------------------


def test_windows_spellings_compare_as_windows_does() -> None:
    show = spelling("S:\\show")
    for same in ("s:\\SHOW", "S:/show/", "S:\\show\\", "s:/show/."):
        assert spelling(same).key == show.key, same
    assert spelling("S:\\show\\comp\\x.0001.exr").under(show) == b"comp/x.0001.exr"
    # The path under the root keeps the letter case it was given (recorded names are exact).
    assert spelling("s:/SHOW/Comp/X.exr").under(show) == b"Comp/X.exr"
    assert spelling("S:\\showreel\\x.exr").under(show) is None
    assert spelling("T:\\show\\x.exr").under(show) is None
    assert show.recorded == b"S:\\show" and spelling("S:/show/").shown == "S:\\show"


def test_unc_and_posix_spellings() -> None:
    unc = spelling("\\\\fs01\\projects\\show")
    assert unc.windows and unc.slashed == b"//fs01/projects/show"
    assert spelling("\\\\FS01\\Projects\\show\\comp").under(unc) == b"comp"
    posix = spelling("/mnt/show/")
    assert not posix.windows and posix.slashed == b"/mnt/show"
    # POSIX is case-sensitive, and the two platforms never match each other.
    assert spelling("/mnt/Show/comp").under(posix) is None
    assert spelling("/mnt/show/comp").under(unc) is None
    assert spelling("/mnt/show/comp/../plates").under(posix) == b"plates"


def test_a_path_a_file_gives_keeps_the_spelling_of_the_platform_that_wrote_it(
    tmp_path: Path,
) -> None:
    here = b"/mnt/show/scripts"
    # A Windows spelling is kept: joined onto a POSIX folder it would name nothing.
    assert written_path(b"P:/show/plates/a.exr", here) == b"P:/show/plates/a.exr"
    assert written_path(b"\\\\fs\\show\\a.exr", here) == b"\\\\fs\\show\\a.exr"
    # A relative path is read from the folder given, a Windows folder too.
    assert written_path(b"../plates/a.exr", here) == b"/mnt/show/plates/a.exr"
    assert written_path(b"plates/a.exr", b"P:\\show\\") == b"P:\\show/plates/a.exr"
    assert written_path(b"/mnt/other/a.exr", b"P:/show") == b"/mnt/other/a.exr"
    # `//server/share` is how Windows applications write a UNC path, unless `/server` is a
    # folder here (a leading `//` is then the `/` POSIX reads it as).
    assert written_path(b"//fs/show/a.exr", here) == b"\\\\fs/show/a.exr"
    assert written_path(b"/" + fs(tmp_path), here) == fs(tmp_path)


def test_relative_and_nul_spellings_are_refused() -> None:
    for bad in ("show/comp", "C:show", "", "/mnt/sh\x00ow"):
        with pytest.raises(ProvenanceError):
            spelling(bad)


def test_root_names() -> None:
    assert default_root_name(spelling("/mnt/projects/show_a")) == "show_a"
    assert default_root_name(spelling("S:\\show")) == "show"
    assert check_root_name(" lib2026 ") == "lib2026"
    for bad in ("a/b", "a\\b", "", ".", "..", "x\ny"):
        with pytest.raises(ProvenanceError):
            check_root_name(bad)


def test_the_environment_map_names_roots_and_places_them_here() -> None:
    entries = parse_root_map("/mnt/show=/farm/show; S:\\lib=/farm/lib\nlib2=/x/lib2")
    assert [(given.text, here) for given, here in entries] == [
        ("/mnt/show", b"/farm/show"),
        ("S:\\lib", b"/farm/lib"),
        ("lib2", b"/x/lib2"),
    ]
    for bad in ("/mnt/show", "/mnt/show=", "=/farm", "/mnt/show=farm/show", "a=S:\\x"):
        with pytest.raises(ProvenanceError, match=ROOT_MAP_VARIABLE):
            parse_root_map(bad)


# -- placing roots ------------------------------------------------------------------------------


def records(*rows: RootRecord) -> list[RootRecord]:
    return [RootRecord(1, b"/", None), *rows]


def test_the_ledgers_own_folder_is_where_the_ledger_is(tmp_path: Path) -> None:
    moved = tmp_path / "moved" / "show"
    moved.mkdir(parents=True)
    roots = place_roots(records(RootRecord(2, b"/old/place/show", None)), fs(moved), {})
    home = roots.root(2)
    assert home is not None and home.kind is RootKind.LEDGER and home.here == fs(moved)
    assert roots.split(fs(moved / "comp" / "x.exr")) == (2, b"comp/x.exr")
    assert roots.join(2, b"comp/x.exr") == fs(moved / "comp" / "x.exr")
    # Paths outside it are absolute, under `/`; and its old place means nothing any more.
    assert roots.split(b"/old/place/show/comp/x.exr") == (1, b"old/place/show/comp/x.exr")
    assert roots.name_of(2) == b"/old/place/show"


def test_a_declared_root_is_found_at_its_location_else_at_a_spelling_that_exists(
    tmp_path: Path,
) -> None:
    mac = tmp_path / "Volumes" / "show"
    mac.mkdir(parents=True)
    declared = RootRecord(2, b"show", b"/mnt/nowhere/show", ("S:\\show", str(mac)))
    roots = place_roots(records(declared), None, {})
    placed = roots.root(2)
    assert placed is not None
    assert (placed.here, placed.placed_by, placed.found) == (fs(mac), "alias", True)
    # Every spelling resolves to the one place this machine reads.
    for given in ("/mnt/nowhere/show/comp/x.exr", "S:\\show\\comp\\x.exr", "s:/SHOW/comp/x.exr"):
        assert roots.localize(given, b"/") == fs(mac / "comp" / "x.exr"), given
    # Where no spelling exists, it is at its location, not found.
    elsewhere = place_roots(records(RootRecord(2, b"show", b"/mnt/nowhere/show", ())), None, {})
    placed = elsewhere.root(2)
    assert placed is not None and (placed.here, placed.found) == (b"/mnt/nowhere/show", False)


def test_the_environment_places_a_root_on_this_machine(tmp_path: Path) -> None:
    farm = tmp_path / "farm" / "show"
    farm.mkdir(parents=True)
    declared = RootRecord(2, b"show", b"/mnt/show", ("S:\\show",))
    for given in ("/mnt/show", "show", "s:/show"):
        roots = place_roots(records(declared), None, {ROOT_MAP_VARIABLE: f"{given}={farm}"})
        placed = roots.root(2)
        assert placed is not None and placed.placed_by == "environment", given
        assert roots.localize("/mnt/show/comp/x.exr", b"/") == fs(farm / "comp" / "x.exr")
        assert roots.overrides() == {"show": str(farm)}
    # An entry for a root of another ledger is listed, unused; one for the ledger's own folder
    # is not applied (it is wherever the ledger is).
    home = RootRecord(3, fs(tmp_path / "old"), None)
    roots = place_roots(
        records(declared, home),
        fs(tmp_path),
        {ROOT_MAP_VARIABLE: f"/mnt/other=/x;{tmp_path / 'old'}=/y"},
    )
    assert [(e.given, e.root, e.used) for e in roots.environment] == [
        ("/mnt/other", None, True),
        (str(tmp_path / "old"), str(tmp_path / "old"), False),
    ]
    placed = roots.root(3)
    assert placed is not None and placed.here == fs(tmp_path)


def test_a_path_through_a_symbolic_link_is_the_roots_path(tmp_path: Path) -> None:
    show = tmp_path / "real" / "show"
    (show / "comp").mkdir(parents=True)
    (tmp_path / "link").symlink_to(tmp_path / "real")
    roots = place_roots(records(RootRecord(2, b"/x/show", None)), fs(show), {})
    through = tmp_path / "link" / "show" / "comp" / "x.exr"
    assert roots.split(fs(through)) == (2, b"comp/x.exr")
    assert roots.split_folder(fs(tmp_path / "link" / "show")) == (2, b"")
    # Opened through the link, the real path is the root's too.
    linked = place_roots(
        records(RootRecord(2, b"/x/show", None)), fs(tmp_path / "link" / "show"), {}
    )
    assert linked.split(fs(show / "comp" / "x.exr")) == (2, b"comp/x.exr")


def test_a_spelling_that_is_another_folder_here_is_refused_where_it_is_used(
    tmp_path: Path,
) -> None:
    show, other = tmp_path / "show", tmp_path / "other"
    show.mkdir()
    (other / "comp").mkdir(parents=True)
    declared = RootRecord(2, b"show", fs(show), (str(other),))
    roots = place_roots(records(declared), None, {})
    placed = roots.root(2)
    assert placed is not None and len(placed.problems) == 1
    with pytest.raises(ProvenanceError, match="two folders cannot share one root's records"):
        roots.localize(str(other / "comp" / "x.exr"), b"/")
    # The same folder under another name (a link) is no conflict.
    (tmp_path / "alias").symlink_to(show)
    linked = place_roots(
        records(RootRecord(2, b"show", fs(show), (str(tmp_path / "alias"),))), None, {}
    )
    placed = linked.root(2)
    assert placed is not None and placed.problems == ()
    assert linked.localize(str(tmp_path / "alias" / "x.exr"), b"/") == fs(show / "x.exr")


def test_a_path_of_another_platform_needs_a_mapping() -> None:
    roots = place_roots(records(RootRecord(2, b"/mnt/show", None)), b"/mnt/show", {})
    with pytest.raises(ProvenanceError, match="roots map"):
        roots.localize("S:\\show\\comp\\x.exr", b"/")
    # A relative path is relative to the folder given, as always.
    assert roots.localize("comp/x.exr", b"/mnt/show") == b"/mnt/show/comp/x.exr"


def test_delivery_sources_are_recorded_by_root_and_found_where_it_is_now(tmp_path: Path) -> None:
    old = RootRecord(2, b"/old/show", None)
    before = place_roots(records(old), b"/old/show", {})
    recorded = before.recorded_source(b"/old/show/deliveries/v1")
    assert recorded == b"/old/show//deliveries/v1"
    assert before.recorded_source(b"/elsewhere/v1") == b"/elsewhere/v1"
    after = place_roots(records(old), fs(tmp_path / "show"), {})
    assert after.source_here(recorded) == fs(tmp_path / "show" / "deliveries" / "v1")
    # A source recorded as an absolute path before roots could move (schema 0009): under the
    # name of the ledger's folder, it is found where the folder is now.
    assert after.source_here(b"/old/show/deliveries/v1") == fs(tmp_path / "show/deliveries/v1")
    assert after.source_here(b"/elsewhere/v1") == b"/elsewhere/v1"
    assert after.source_here(b"show//x") == b"show/x"  # a root this ledger no longer has


def test_before_anything_is_recorded_no_root_matches_a_row() -> None:
    roots = RootMap.unrecorded(b"/mnt/show")
    assert roots.split(b"/mnt/show/x.exr") == (-1, b"x.exr")
    assert roots.split(b"/elsewhere/x.exr") == (-2, b"elsewhere/x.exr")
    assert RootMap.unrecorded(None).split(b"/mnt/show/x.exr") == (-2, b"mnt/show/x.exr")


def test_a_root_this_machine_does_not_see_is_named_but_not_read() -> None:
    windows_only = RootRecord(2, b"show", b"S:\\show", ())
    roots = place_roots(records(windows_only), None, {})
    placed = roots.root(2)
    assert placed is not None and (placed.here, placed.found) == (b"S:\\show", False)
    # Its assets are named as their platform writes them...
    assert roots.join(2, b"comp/x.exr") == b"S:\\show\\comp\\x.exr"
    # ...and a path in it cannot be read here: the error names the fix.
    with pytest.raises(ProvenanceError, match="which this machine does not see"):
        roots.localize("s:/show/comp/x.exr", b"/")

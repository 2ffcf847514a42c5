"""A show that moves keeps its history, on SQLite and PostgreSQL: copied with `cp -a` (the
original deleted), seen through a symbolic link or as a copy at another path, spelled for
Windows or a Mac, placed by a farm node's environment. `roots move|map` are events the audit
accepts (and tampering with a root is caught); the hostile variants are refused."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from provenance import Ledger
from provenance.errors import AuditFailed, ProvenanceError, TargetNotFound
from provenance.roots import ROOT_MAP_VARIABLE

from ..builders import require, write_image, write_sequence
from ..conftest import Cli

COMP = "comp/sh010_comp.####.png"
TARGETS = (COMP, "plates/sh010_plate.####.png", "elements/sky_gen.png", "elements/matte_gen.png")


def make_show(workspace: Path) -> None:
    write_sequence(workspace / "plates", "sh010_plate", range(1001, 1004), ext="png", seed="p")
    write_sequence(workspace / "comp", "sh010_comp", range(1001, 1004), ext="png", seed="c")
    write_image(workspace / "elements" / "sky_gen.png", seed="sky")
    write_image(workspace / "elements" / "matte_gen.png", seed="matte")
    # A delivery holding a generated matte nobody approved: refused wherever the show is.
    bad = workspace / "deliver" / "bad"
    bad.mkdir(parents=True)
    shutil.copy2(workspace / "elements" / "matte_gen.png", bad / "matte.png")


@pytest.fixture
def show(ledger: Ledger, workspace: Path, backend: str) -> Ledger:
    """The show recorded, its comp finalized as D1. On PostgreSQL the studio declares the show's
    root first (a SQLite ledger's own folder is one already)."""
    if backend == "postgresql":
        ledger.add_root(str(workspace), name="show")
    make_show(workspace)
    ledger.add_tool(
        "Runway Gen-4", vendor="Runway", generative=True, trains_on_inputs="no", secured="yes"
    )
    ledger.ingest(["plates"], origin="capture", by="alice")
    ledger.ingest(["elements"], origin="ai", tool="Runway Gen-4", by="bob")
    ledger.approve("elements/sky_gen.png", ref="NFX-1 email", by="Netflix")
    ledger.ingest(
        ["comp"],
        origin="human",
        by="carol",
        contains=["plates/sh010_plate.####.png", "elements/sky_gen.png"],
    )
    assert ledger.finalize("comp", "D1").finalized
    return ledger


def state(ledger: Ledger, top: Path, named: Path | None = None) -> dict[str, Any]:
    """What the ledger says of the show's assets (named by paths under `top`), with paths
    relative to where the ledger places the show (`named`, else `top`)."""
    named = named or top

    def name(path: bytes) -> str:
        return os.path.relpath(os.fsdecode(path), named)

    cards = {}
    for target in TARGETS:
        card = ledger.show(str(top / target))
        assert os.fsdecode(card.asset.path).startswith(str(named) + os.sep)
        cards[target] = {
            "asset": name(card.asset.path),
            "versions": card.versions,
            "digest": card.asset.digest,
            "origin": card.origin.alias,
            "status": card.status,
            "frames": card.frames,
            "parents": sorted(
                (link.kind, name(link.asset.path), link.asset.version) for link in card.parents
            ),
            "history": [(e.event_id, e.kind) for e in ledger.history(str(top / target))],
        }
    return cards


def copy_tree(source: Path, destination: Path, delete: bool) -> None:
    """`cp -a` (modes, times and links kept), and the original deleted when `delete`."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cp", "-a", str(source), str(destination)], check=True)
    if delete:
        shutil.rmtree(source)


def url_at(db_url: str, backend: str, top: Path) -> str:
    return str(top / ".provenance" / "ledger.db") if backend == "sqlite" else db_url


@pytest.fixture
def open_at(db_url: str, backend: str) -> Iterator[Any]:
    opened: list[Ledger] = []

    def at(top: Path, **kwargs: Any) -> Ledger:
        ledger = Ledger.open(url_at(db_url, backend, top), cwd=top, **kwargs)
        opened.append(ledger)
        return ledger

    yield at
    for ledger in opened:
        ledger.close()


def document(result: Any) -> dict[str, Any]:
    parsed = json.loads(result.stdout)
    assert isinstance(parsed, dict)
    return parsed


# -- moving the whole tree ----------------------------------------------------------------------


def test_a_show_copied_with_cp_a_and_deleted_keeps_its_history(
    show: Ledger, workspace: Path, tmp_path: Path, db_url: str, backend: str, open_at: Any
) -> None:
    before = state(show, workspace)
    blocked = document(Cli(db_url, workspace)("sweep", "deliver/bad", "--json", expect=3))
    assert [f["asset"] for f in blocked["findings"] if f["rule"] == "genai-unapproved"] == [
        str(workspace / "elements" / "matte_gen.png")
    ]
    moved = tmp_path / "elsewhere" / "show"
    copy_tree(workspace, moved, delete=True)
    run = Cli(url_at(db_url, backend, moved), moved)
    if backend == "postgresql":
        # Nothing can find the show until the studio says where it went.
        with pytest.raises(TargetNotFound):
            open_at(moved).show(COMP)
        moved_out = run("roots", "move", "show", str(moved)).stdout
        assert f"Root show moved: {workspace} -> {moved}" in moved_out
        assert "9 of 9 recorded files looked for are there" in moved_out

    assert state(open_at(moved), moved) == before
    card = document(run("show", COMP, "--json"))
    assert card["asset"]["path"] == str(moved / COMP)
    # The sweep names the show's assets where they are now, and still refuses the matte.
    blocked = document(run("sweep", "deliver/bad", "--json", expect=3))
    assert [f["asset"] for f in blocked["findings"] if f["rule"] == "genai-unapproved"] == [
        str(moved / "elements" / "matte_gen.png")
    ]
    assert document(run("sweep", "comp", "--json"))["clean"]
    # The deliverable finalized before the move is verified where it is now (no path given).
    verified = document(run("verify", "D1", "--json"))
    assert verified["ok"] and verified["source"] == str(moved / "comp")
    # So do its listing, its report and its ASC MHL history: where it is now.
    listed = document(run("deliverables", "--json"))["deliverables"]
    assert [(d["name"], d["source"]) for d in listed] == [("D1", str(moved / "comp"))]
    assert document(run("report", "delivery", "D1", "--json"))["source"] == str(moved / "comp")
    assert document(run("export", "mhl", "D1", "--json"))["files"] == 4  # three frames, manifest
    assert (moved / "comp" / "ascmhl").is_dir()
    # The history is delivered material a later finalize would judge: take it away.
    shutil.rmtree(moved / "comp" / "ascmhl")
    assert "FINALIZED D2" in run("finalize", "comp", "--name", "D2").stdout
    assert document(run("verify", "D2", "--json"))["source"] == str(moved / "comp")
    assert "history verifies" in run("audit", "verify").stdout
    # A new version at the new place is the same asset's next version, not a new asset.
    write_image(moved / "elements" / "matte_gen.png", seed="matte v2")
    report = open_at(moved).ingest(["elements/matte_gen.png"], origin="ai", tool="Runway Gen-4")
    assert (report.assets_new, report.assets_changed) == (0, 1)
    assert open_at(moved).show("elements/matte_gen.png").versions == 2


def test_a_show_seen_through_a_symbolic_link_is_the_same_show(
    show: Ledger, workspace: Path, tmp_path: Path, db_url: str, backend: str, open_at: Any
) -> None:
    before = state(show, workspace)
    link = tmp_path / "mnt"
    link.symlink_to(tmp_path)
    through = link / workspace.name
    # Opened where it is, given paths through the link; and opened through the link (where a
    # SQLite ledger places its own folder: a declared root stays where it was declared).
    assert state(show, through, workspace) == before
    linked = through if backend == "sqlite" else workspace
    assert state(open_at(through), workspace, linked) == before
    assert state(open_at(through), through, linked) == before
    run = Cli(url_at(db_url, backend, through), through)
    assert document(run("verify", "D1", "--json"))["ok"]
    sweep = document(run("sweep", str(through / "comp"), "--json"))
    assert sweep["clean"] and sweep["files"] == 3
    # Ingesting through the link records nothing new.
    report = open_at(through).ingest([str(through / "plates")], origin="capture", by="alice")
    assert (report.assets_new, report.assets_changed) == (0, 0)


def in_mount_namespace(script: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run a shell script in a mount namespace of its own (its mounts vanish with it)."""
    return subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
    )


def test_a_show_bind_mounted_elsewhere_is_the_same_show(
    show: Ledger, workspace: Path, tmp_path: Path, db_url: str
) -> None:
    # A bind mount is no symbolic link: the folder is known by its device and inode.
    require(
        os.geteuid() == 0 and shutil.which("unshare") is not None and shutil.which("mount"),
        "a bind mount needs root, unshare and mount (util-linux)",
    )
    mount = tmp_path / "mnt" / "show"
    mount.mkdir(parents=True)
    provenance = f'"{sys.executable}" -m provenance --db "{db_url}"'
    script = (
        f'mount --bind "{workspace}" "{mount}" && {provenance} show "{mount / COMP}" --json && '
        f'echo "----" && {provenance} sweep "{mount / "deliver" / "bad"}" --json; '
        f'echo "----$?"'
    )
    result = in_mount_namespace(script, tmp_path)
    card, sweep, code = result.stdout.split("----")
    assert json.loads(card)["asset"]["path"] == str(workspace / COMP), result.stderr
    findings = json.loads(sweep)["findings"]
    assert [f["asset"] for f in findings if f["rule"] == "genai-unapproved"] == [
        str(workspace / "elements" / "matte_gen.png")
    ]
    assert code.strip() == "3"


def test_a_copy_at_another_path_is_a_show_of_its_own(
    show: Ledger, workspace: Path, tmp_path: Path, db_url: str, backend: str, open_at: Any
) -> None:
    before = state(show, workspace)
    copy = tmp_path / "copy" / "show"
    copy_tree(workspace, copy, delete=False)
    if backend == "sqlite":
        # The copy's ledger reads the copy; the original's reads the original.
        assert state(open_at(copy), copy) == before
        write_image(copy / "elements" / "sky_gen.png", seed="repainted")
        open_at(copy).ingest(["elements/sky_gen.png"], origin="human")
        assert open_at(copy).show("elements/sky_gen.png").versions == 2
        assert open_at(workspace).show("elements/sky_gen.png").versions == 1
        return
    # On a shared ledger the copy is not the show: its files are found by their bytes only.
    run = Cli(db_url, copy)
    sweep = document(run("sweep", str(copy / "comp"), "--json"))
    assert sweep["clean"]
    # Once the studio moves the root to the copy, the copy is the show, and the original is
    # not: recording it records new assets, never new versions of the show's.
    run("roots", "move", "show", str(copy))
    assert state(open_at(copy), copy) == before
    report = open_at(copy).ingest([str(workspace / COMP)], origin="human")
    assert (report.assets_new, report.assets_changed) == (1, 0)
    assert open_at(copy).show(str(copy / COMP)).versions == 1
    # The root cannot go back there now: it would hide what was recorded there meanwhile.
    refused = run("roots", "move", "show", str(workspace), expect=1).stderr
    assert "1 assets are recorded under" in refused


# -- other spellings: platforms, mounts, a farm node's environment ------------------------------


def test_a_windows_spelling_of_the_show_resolves_here(
    show: Ledger, workspace: Path, run: Cli, backend: str
) -> None:
    root = "show" if backend == "postgresql" else str(workspace)
    missing = run("show", "S:\\show\\" + COMP.replace("/", "\\"), expect=1)
    assert "roots map" in missing.stderr and "Traceback" not in missing.stderr
    mapped = run("roots", "map", root, "S:\\show", "--json")
    assert document(mapped)["after"] == "S:\\show"
    for spelled in ("S:\\show\\comp\\sh010_comp.####.png", "s:/SHOW/comp/sh010_comp.1002.png"):
        card = document(run("show", spelled, "--json"))
        assert card["asset"]["path"] == str(workspace / COMP), spelled
    # A delivery spelled for Windows is read here and resolves as the show's paths.
    blocked = document(run("sweep", "S:\\show\\deliver\\bad", "--json", expect=3))
    assert blocked["delivery"]["source"] == str(workspace / "deliver" / "bad")
    assert [f["asset"] for f in blocked["findings"] if f["rule"] == "genai-unapproved"] == [
        str(workspace / "elements" / "matte_gen.png")
    ]
    assert "FINALIZED D2" in run("finalize", "S:\\show\\comp", "--name", "D2").stdout
    assert document(run("verify", "D2", "--json"))["source"] == str(workspace / "comp")
    # A Mac's mount of the show (not present here) resolves the same way.
    run("roots", "map", root, "/Volumes/show")
    card = document(run("show", "/Volumes/show/elements/sky_gen.png", "--json"))
    assert card["asset"]["path"] == str(workspace / "elements" / "sky_gen.png")
    listed = document(run("roots", "--json"))
    (entry,) = [r for r in listed["roots"] if r["name"] == root]
    assert entry["aliases"] == ["S:\\show", "/Volumes/show"]
    assert "history verifies" in run("audit", "verify").stdout
    run("roots", "unmap", root, "s:/show/")
    assert "roots map" in run("show", "S:\\show\\elements\\sky_gen.png", expect=1).stderr


def test_a_farm_node_places_the_show_with_its_environment(
    show: Ledger,
    workspace: Path,
    tmp_path: Path,
    db_url: str,
    backend: str,
    open_at: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = state(show, workspace)
    farm = tmp_path / "farm" / "show"
    # The farm node sees the show at its own mount, and not at the studio's.
    copy_tree(workspace, farm, delete=backend == "postgresql")
    if backend == "sqlite":
        # A SQLite ledger's own folder is wherever the ledger is: the setting does not apply.
        monkeypatch.setenv(ROOT_MAP_VARIABLE, f"{workspace}={tmp_path / 'nowhere'}")
        listing = Cli(db_url, workspace)("roots").stdout
        assert "names the ledger's own folder, which is wherever the ledger is" in listing
        assert state(open_at(workspace), workspace) == before
        return
    run = Cli(db_url, farm)
    with pytest.raises(TargetNotFound):
        open_at(farm).show(COMP)
    monkeypatch.setenv(ROOT_MAP_VARIABLE, f"show={farm};/mnt/another_show=/x")
    assert state(open_at(farm), farm) == before
    listing = run("roots").stdout
    assert f"here      {farm} ({ROOT_MAP_VARIABLE})" in listing
    assert f"{ROOT_MAP_VARIABLE}: /mnt/another_show names no root of this ledger" in listing
    assert "FINALIZED D2" in run("finalize", "comp", "--name", "D2").stdout
    # The farm node's say-so is part of the history it wrote.
    with open_at(farm).engine.connect() as connection:
        payload = connection.execute(
            text("SELECT payload FROM events WHERE kind = 'finalize' ORDER BY id DESC LIMIT 1")
        ).scalar_one()
    assert json.loads(payload)["root_map"] == {"show": str(farm)}


# -- the audit ----------------------------------------------------------------------------------


@pytest.fixture
def library(ledger: Ledger, tmp_path: Path) -> Path:
    """A declared root (a shared library outside the show) with one element recorded in it."""
    folder = tmp_path / "library"
    write_image(folder / "textures" / "brick.png", seed="brick")
    ledger.add_root(str(folder), name="lib")
    ledger.ingest([str(folder / "textures")], origin="human")
    return folder


def test_roots_move_and_map_are_events_the_audit_accepts(
    ledger: Ledger, library: Path, tmp_path: Path, run: Cli, db_url: str
) -> None:
    moved = tmp_path / "library_v2"
    copy_tree(library, moved, delete=True)
    out = run("roots", "move", str(library), str(moved)).stdout
    assert "1 of 1 recorded files looked for are there" in out
    run("roots", "map", "lib", "L:\\library")
    assert ledger.show(str(moved / "textures" / "brick.png")).versions == 1
    assert ledger.show("L:\\library\\textures\\brick.png").asset.path == os.fsencode(
        moved / "textures" / "brick.png"
    )
    report = ledger.audit_verify()
    assert report.ok, report.problems
    exported = tmp_path / "events.jsonl"
    run("audit", "export", "-o", str(exported))
    events = [json.loads(line) for line in exported.read_text().splitlines()]
    kinds = [e["kind"] for e in events if e["kind"].startswith("roots.")]
    assert kinds == ["roots.add", "roots.move", "roots.map"]
    move = next(e for e in events if e["kind"] == "roots.move")
    assert (move["payload"]["from"], move["payload"]["to"]) == (str(library), str(moved))
    ((_, _, name, location, aliases),) = move["payload"]["rows"]["roots"]
    assert (name, location, aliases) == ("lib", str(moved), "[]")
    history = [
        e["payload"]["rows"]["roots"][0][3] for e in events if e["kind"].startswith("roots.")
    ]
    assert history == [str(library), str(moved), str(moved)]
    # A checkpoint and a finalize take the moved root as history that verifies.
    run("audit", "checkpoint")
    run("finalize", str(moved / "textures"), "--name", "LIB1")
    assert "history verifies" in run("audit", "verify").stdout


def raw(db_url: str, *statements: str) -> None:
    """As the ledger's owner: straight SQL, no provenance."""
    with Ledger.open(db_url) as owner, owner.engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement))


def test_a_root_moved_or_mapped_outside_provenance_is_caught(
    ledger: Ledger, library: Path, workspace: Path, run: Cli, db_url: str, backend: str
) -> None:
    run("roots", "move", "lib", str(workspace.parent / "lib_elsewhere"))
    assert ledger.audit_verify().ok
    # Moved back by hand, without an event: the audit sees the row differ from its event.
    raw(db_url, "UPDATE roots SET location = name WHERE location IS NOT NULL")
    found = run("audit", "verify", expect=3).stdout
    assert "root lib was changed after event" in found and "location is" in found
    with pytest.raises(AuditFailed):
        ledger.finalize(str(library / "textures"), "LIB1")


def test_a_spelling_added_outside_provenance_is_caught(
    ledger: Ledger, workspace: Path, run: Cli, db_url: str, backend: str
) -> None:
    write_image(workspace / "plate.png")
    ledger.ingest(["plate.png"], origin="capture")
    assert ledger.audit_verify().ok
    # A mapping written with SQL (so that another tree resolves as this one) names no event.
    raw(db_url, """UPDATE roots SET aliases = '["/mnt/vendor_drop"]'""")
    found = run("audit", "verify", expect=3).stdout
    assert "is not recorded by any event" in found
    # A root as the ledger recorded it (`/`, its own folder) is no event's row, and is fine.
    raw(db_url, "UPDATE roots SET aliases = '[]'")
    assert ledger.audit_verify().ok


# -- hostile variants ---------------------------------------------------------------------------


def test_roots_never_share_or_nest_folders(
    ledger: Ledger, library: Path, workspace: Path, tmp_path: Path, run: Cli, backend: str
) -> None:
    def refused(*args: str) -> str:
        result = run("roots", *args, expect=1)
        assert "Traceback" not in result.stderr
        return result.stderr

    assert "lies inside root lib" in refused("add", str(library / "textures"))
    assert "holds root " in refused("add", str(tmp_path))
    assert "is root lib" in refused("add", str(library) + "/", "--name", "lib2")
    assert "named 'lib' already" in refused("add", str(tmp_path / "other" / "lib"))
    (tmp_path / "lib_link").symlink_to(library)
    assert "two roots cannot share a folder" in refused(
        "add", str(tmp_path / "lib_link"), "--name", "lib2"
    )
    assert "top of a file system" in refused("add", "/")
    assert "top of a file system" in refused("add", "S:\\", "--name", "s")
    assert "not an absolute path" in refused("add", "relative/show")
    assert "cannot be moved or mapped" in refused("move", "/", str(tmp_path / "x"))
    assert "No root of the ledger is named" in refused("move", "nothing", str(tmp_path / "x"))
    run("roots", "map", "lib", "L:\\lib")
    run("roots", "add", str(tmp_path / "other_lib"), "--name", "other")
    # One Windows spelling cannot name two roots, in any letter case.
    assert "is root lib" in refused("map", "other", "l:/LIB")
    if backend == "sqlite":
        assert "the ledger's own folder" in refused("move", str(workspace), str(tmp_path / "x"))
        assert "lies inside root" in refused("add", str(workspace / "comp"), "--name", "c")


def test_a_mapping_never_joins_two_folders(
    ledger: Ledger, library: Path, tmp_path: Path, run: Cli
) -> None:
    impostor = tmp_path / "vendor_drop"
    write_image(impostor / "textures" / "brick.png", seed="not the brick")
    refused = run("roots", "map", "lib", str(impostor), expect=1).stderr
    assert "a mapping joins spellings of one folder, never two folders" in refused
    # Mapped while it did not exist here, then made: every use is refused, and listed.
    later = tmp_path / "later"
    run("roots", "map", "lib", str(later))
    write_image(later / "textures" / "brick.png", seed="not the brick")
    for command in (
        ("show", str(later / "textures" / "brick.png")),
        ("sweep", str(later / "textures")),
    ):
        result = run(*command, expect=1)
        assert "two folders cannot share one root's records" in result.stderr
    listing = run("roots", expect=3).stdout
    assert f"PROBLEM   {later} is mapped to root lib" in listing
    with pytest.raises(ProvenanceError, match="two folders"):
        ledger.ingest([str(later / "textures")], origin="ai", tool="Runway Gen-4")
    run("roots", "unmap", "lib", str(later))
    assert run("roots").exit_code == 0


def test_a_root_is_declared_before_recording_into_it(
    db_url: str, backend: str, workspace: Path, tmp_path: Path
) -> None:
    # A ledger outside the show (PostgreSQL, or a SQLite file elsewhere) records absolute paths
    # until a root is declared: declaring one over them afterwards would hide them.
    url = str(tmp_path / "studio.db") if backend == "sqlite" else db_url
    write_image(workspace / "plate.png")
    with Ledger.create(url, cwd=workspace) as ledger:
        ledger.ingest(["plate.png"], origin="capture")
        refused = Cli(url, workspace)("roots", "add", str(workspace), expect=1).stderr
        assert "1 assets are recorded under" in refused and "as absolute paths" in refused
        assert ledger.show("plate.png").versions == 1
        assert [r.name for r in ledger.roots().roots] == ["/"]

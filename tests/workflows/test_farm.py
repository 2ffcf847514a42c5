"""Farm jobs run by `openjd run` (openjd-cli, the reference runner of Open Job Description).

4 shards of a tree with sequences, a UDIM set and a folder bigger than a shard's share (split
between shards) give the ledger a single-machine ingest gives, on PostgreSQL (tasks record
into the shared ledger) and on SQLite (tasks write shard files, the last step records them);
a task killed half-way and run again leaves the same result.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from provenance import Ledger
from provenance.farm import FarmPlan, Finish, plan_shards, shard_path
from provenance.store.engine import read_session
from provenance.store.models import (
    Asset,
    AssetVersion,
    Claim,
    Content,
    Event,
    Location,
    Member,
    Root,
    SignalRecord,
)

from ..builders import write_bytes, write_image, write_sequence
from ..conftest import _fresh_pg_database

FILES = 2 * 12 - 1 + 4 + 2 + 3 + 8
ASSETS = 2 + 1 + 2 + 3 + 1
OPENJD = Path(sys.executable).with_name("openjd")
PROVENANCE = Path(sys.executable).with_name("provenance")


def build_tree(tree: Path) -> None:
    """Sequences (one with a hole), a UDIM set, images (one named in Latin-1, not UTF-8), and
    `big/`: more bytes than a shard's share, so that its assets go to different shards."""
    for shot in ("sh010", "sh020"):
        write_sequence(
            tree / "sq01" / shot / "plate", f"{shot}_plate", range(1001, 1013), ext="png"
        )
    (tree / "sq01" / "sh020" / "plate" / "sh020_plate.1005.png").unlink()
    for tile in (1001, 1002, 1011, 1012):
        write_bytes(tree / "assets" / "wood" / f"wood_diffuse.{tile}.tx", 3000, seed="tx")
    write_image(tree / "concept" / "moodboard.png", seed="mood")
    write_image(tree / "concept" / os.fsdecode(b"caf\xe9_v001.png"), seed="latin-1 name")
    for index in range(3):
        write_bytes(tree / "big" / f"ref_{index}_v001.mov", 90_000 + index, seed="big")
    for frame in range(1, 9):
        write_bytes(tree / "big" / f"anim.{frame:04d}.exr", 40_000, seed="anim")


def ledger_state(ledger: Ledger) -> dict[str, list[tuple[object, ...]]]:
    """Everything an ingest records, without ids or times: assets, versions, members,
    contents, locations, claims, signals and the kinds of events."""
    with read_session(ledger.engine) as session:

        def rows(query: object) -> list[tuple[object, ...]]:
            return sorted(tuple(row) for row in session.execute(query))  # type: ignore[call-overload]

        return {
            "assets": rows(
                select(Root.name, Asset.pattern, Asset.kind, Asset.latest_version).join(
                    Root, Root.id == Asset.root_id
                )
            ),
            "versions": rows(
                select(
                    Asset.pattern,
                    AssetVersion.number,
                    AssetVersion.digest,
                    AssetVersion.member_count,
                    AssetVersion.total_size,
                ).join(Asset, Asset.id == AssetVersion.asset_id)
            ),
            "members": rows(
                select(Asset.pattern, Member.position, Member.frame, Content.digest)
                .join(AssetVersion, AssetVersion.id == Member.version_id)
                .join(Asset, Asset.id == AssetVersion.asset_id)
                .join(Content, Content.id == Member.content_id)
            ),
            "contents": rows(select(Content.digest, Content.size)),
            "locations": rows(
                select(
                    Root.name,
                    Location.path,
                    Location.kind,
                    Content.digest,
                    Location.size,
                    Location.mtime_ns,
                    Location.inode,
                )
                .join(Root, Root.id == Location.root_id)
                .join(Content, Content.id == Location.content_id)
            ),
            "claims": rows(
                select(Asset.pattern, Claim.origin, Claim.evidence, Claim.claimed_by, Claim.note)
                .join(AssetVersion, AssetVersion.id == Claim.version_id)
                .join(Asset, Asset.id == AssetVersion.asset_id)
            ),
            "signals": rows(
                select(Asset.pattern, SignalRecord.source, SignalRecord.origin)
                .join(AssetVersion, AssetVersion.id == SignalRecord.version_id)
                .join(Asset, Asset.id == AssetVersion.asset_id)
            ),
            "events": rows(select(Event.kind)),
        }


def second_ledger_url(db_url: str, workspace: Path, request: pytest.FixtureRequest) -> str:
    """Another empty ledger on the same backend, whose paths are stored the same way."""
    if db_url.startswith("postgresql"):
        return _fresh_pg_database(request.getfixturevalue("postgres"))
    return str(workspace / ".provenance" / "reference.db")


@pytest.fixture
def tree(workspace: Path) -> Path:
    folder = workspace / "tree"
    build_tree(folder)
    time.sleep(2.1)  # past the racy window: a reading is then trusted by the last step
    return folder


def openjd(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PROVENANCE_DB", "DATABASE_URL")}
    done = subprocess.run(
        [str(OPENJD), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    return done


def make_job(run: object, workspace: Path, shards: int = 4, *extra: str) -> Path:
    result = run("farm", "job", "tree", "--shards", str(shards), "--out", "job", *extra, "--json")  # type: ignore[operator]
    document = json.loads(result.stdout)
    assert document["schema"] == "FarmJob.1" and len(document["shards"]) == shards
    return workspace / "job"


def test_four_shards_through_openjd_give_the_single_machine_ledger(
    ledger: Ledger,
    run: object,
    db_url: str,
    workspace: Path,
    tree: Path,
    request: pytest.FixtureRequest,
) -> None:
    job = make_job(run, workspace, 4, "--origin", "capture", "--by", "alice")
    openjd("check", str(job / "template.json"), cwd=workspace)
    plan = FarmPlan.load(job / "plan.json")
    # The big folder spans shards; no sequence is split.
    big = [i for i, shard in enumerate(plan.shards) if any(u.folder == "big/" for u in shard.units)]
    assert len(big) > 1
    for shard in plan.shards:
        for unit in shard.units:
            assert unit.folder != "big/" or unit.assets is not None

    openjd("run", str(job / "template.json"), "--step", "Hash", cwd=workspace)
    assert all(shard_path(job / "plan.json", i).exists() for i in range(4))
    with read_session(ledger.engine) as session:
        located = session.execute(select(Location.id)).all()
    if db_url.startswith("postgresql"):
        assert len(located) == FILES  # each task recorded what it read into the shared ledger
    else:
        assert located == []  # no task touched the SQLite ledger
    openjd("run", str(job / "template.json"), "--step", "Record", cwd=workspace)

    reference_url = second_ledger_url(db_url, workspace, request)
    with Ledger.create(reference_url, cwd=workspace) as reference:
        reference.ingest([str(tree)], origin="capture", by="alice")
        expected = ledger_state(reference)
    assert ledger_state(ledger) == expected
    assert len(expected["assets"]) == ASSETS
    assert ledger.audit_verify().ok


def test_a_task_killed_half_way_and_run_again_leaves_the_same_ledger(
    ledger: Ledger,
    run: object,
    db_url: str,
    workspace: Path,
    request: pytest.FixtureRequest,
) -> None:
    tree = workspace / "tree"
    for folder in range(4):
        for frame in range(1001, 1201):
            write_bytes(tree / f"shot{folder}" / f"plate.{frame}.dpx", 16_000, seed=folder)
    time.sleep(2.1)
    job = make_job(run, workspace, 2, "--origin", "capture")
    plan_file = job / "plan.json"
    partial = shard_path(plan_file, 0).with_suffix(".partial")
    env = {k: v for k, v in os.environ.items() if k not in ("PROVENANCE_DB", "DATABASE_URL")}
    command = [str(PROVENANCE), "--db", db_url, "farm", "shard", str(plan_file), "--shard", "0"]
    task = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, start_new_session=True)
    try:
        while not (partial.exists() and partial.read_text().count("\n") >= 1):
            assert task.poll() is None, "the task ended before it could be killed"
            time.sleep(0.001)
        os.killpg(task.pid, signal.SIGKILL)
    finally:
        task.wait()
    assert task.returncode == -signal.SIGKILL
    assert not shard_path(plan_file, 0).exists()
    kept = sum(len(json.loads(line)["files"]) for line in partial.read_text().splitlines()[:1])
    assert 0 < kept < 400

    # Run again alone (as a farm retries a failed task): what the killed run kept is not read.
    again = run("farm", "shard", str(plan_file), "--shard", "0", "--json")  # type: ignore[operator]
    resumed = json.loads(again.stdout)
    assert resumed["files"] == 400 and resumed["files_read"] <= 400 - kept
    assert shard_path(plan_file, 0).exists() and not partial.exists()
    # Once more: a shard that ran is not read again.
    twice = json.loads(run("farm", "shard", str(plan_file), "--shard", "0", "--json").stdout)  # type: ignore[operator]
    assert twice["already_done"] and twice["files_read"] == 0

    openjd("run", str(job / "template.json"), "--step", "Hash", cwd=workspace)
    openjd("run", str(job / "template.json"), "--step", "Record", cwd=workspace)
    reference_url = second_ledger_url(db_url, workspace, request)
    with Ledger.create(reference_url, cwd=workspace) as reference:
        reference.ingest([str(tree)], origin="capture")
        expected = ledger_state(reference)
    assert ledger_state(ledger) == expected
    assert ledger.audit_verify().ok


def test_shards_cover_every_asset_once_and_balance_by_bytes(workspace: Path) -> None:
    tree = workspace / "tree"
    build_tree(tree)
    for count in (1, 3, 4, 20):
        plan = plan_shards(os.fsencode(tree), count, Finish("ingest"))
        assert len(plan.shards) == count
        units = [unit for shard in plan.shards for unit in shard.units]
        whole = {unit.folder for unit in units if unit.assets is None}
        split = [(unit.folder, name) for unit in units if unit.assets for name in unit.assets]
        assert len(split) == len(set(split)) and not whole & {folder for folder, _ in split}
        assert sum(unit.files for unit in units) == FILES
        # A sequence or UDIM set is an asset: never split (its pattern names it whole).
        assert ("big/", "anim.####.exr") in split or "big/" in whole
        assert ("assets/wood/", "wood_diffuse.<UDIM>.tx") in split or "assets/wood/" in whole
        sizes = sorted(shard.size for shard in plan.shards)
        assert sizes[-1] - sizes[0] <= max(unit.size for unit in units)


def test_the_last_step_is_refused_until_every_shard_ran(
    ledger: Ledger, run: object, workspace: Path, tree: Path
) -> None:
    job = make_job(run, workspace, 3)
    run("farm", "shard", str(job / "plan.json"), "--shard", "1")  # type: ignore[operator]
    result = run("farm", "finish", str(job / "plan.json"), expect=1)  # type: ignore[operator]
    assert "Shards 0, 2 of 3 have not run" in result.stderr


def test_a_farm_sweep_and_finalize_read_only_what_changed_since_the_shards(
    ledger: Ledger, run: object, workspace: Path, tree: Path
) -> None:
    ledger.ingest([str(tree)], origin="capture", by="alice")
    delivery = workspace / "outgoing"
    subprocess.run(["cp", "-a", str(tree), str(delivery)], check=True)
    shutil.rmtree(delivery / "sq01" / "sh020")  # (its hole would block the delivery)
    delivered = FILES - 11
    time.sleep(2.1)
    sweep_job = run(
        "farm", "job", "outgoing", "--shards", "2", "--out", "sweep-job", "--then", "sweep"
    )  # type: ignore[operator]
    assert f"2 shards of {delivered} files" in sweep_job.stdout
    for index in range(2):
        run("farm", "shard", str(workspace / "sweep-job" / "plan.json"), "--shard", str(index))  # type: ignore[operator]
    swept = json.loads(
        run("farm", "finish", str(workspace / "sweep-job" / "plan.json"), "--json").stdout  # type: ignore[operator]
    )
    assert swept["files"] == delivered and swept["files_read"] == 0 and swept["clean"]

    final_job = workspace / "final-job"
    run(
        "farm",
        "job",
        "outgoing",
        "--shards",
        "2",
        "--out",
        str(final_job),
        "--then",
        "finalize",
        "--name",
        "EP101_v001",
    )  # type: ignore[operator]
    for index in range(2):
        run("farm", "shard", str(final_job / "plan.json"), "--shard", str(index))  # type: ignore[operator]
    # A frame rewritten after its shard read it is read again by the last step, not trusted.
    changed = delivery / "sq01" / "sh010" / "plate" / "sh010_plate.1003.png"
    changed.write_bytes(changed.read_bytes())
    done = run("farm", "finish", str(final_job / "plan.json"), "--json", expect=None)  # type: ignore[operator]
    report = json.loads(done.stdout)
    assert report["schema"] == "FinalizeReport.1" and report["finalized"], done.stderr
    assert report["files_read"] == 1
    assert (delivery / "provenance-manifest.json").exists()


def test_the_command_lists_run_the_same_job_from_a_shell(
    ledger: Ledger, run: object, workspace: Path, tree: Path
) -> None:
    job = make_job(run, workspace, 2, "--origin", "capture")
    lines = (job / "shards.txt").read_text().splitlines()
    assert len(lines) == 2 and all(" farm shard " in line for line in lines)
    env = {k: v for k, v in os.environ.items() if k not in ("PROVENANCE_DB", "DATABASE_URL")}
    for line in [*lines, (job / "record.txt").read_text().strip()]:
        subprocess.run(line, shell=True, check=True, env=env, capture_output=True)
    assert len(ledger_state(ledger)["assets"]) == ASSETS

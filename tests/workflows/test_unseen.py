"""A delivery the ledger has never seen is read by folders in the hashing workers: its findings,
files and manifest must be exactly those of the walk that reads and resolves it file by file."""

from __future__ import annotations

import json
import os
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
import xxhash
from sqlalchemy import delete, select, tuple_

from provenance import Ledger, finalizer, fingerprint, unseen
from provenance.fingerprint import Hasher, _mp_context, hash_folders
from provenance.policy import load_policy
from provenance.records import SweepReport
from provenance.stat_cache import StatCache
from provenance.store.engine import read_session, write_session
from provenance.store.models import FolderSeal, Location
from provenance.unseen import read_unseen

from ..builders import write_bytes, write_image, write_sequence

WINDOW_NS = 20_000_000


@pytest.fixture
def unseen_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many files each sweep read by folders (a sweep that walked adds nothing)."""
    counts: list[int] = []
    original = finalizer.read_unseen

    def spy(*args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        read = original(*args, **kwargs)  # type: ignore[arg-type]
        counts.append(read.files_read)
        return read

    monkeypatch.setattr(finalizer, "read_unseen", spy)
    return counts


@pytest.fixture
def show(ledger: Ledger, workspace: Path) -> Ledger:
    """Plates with a hole (camera), a generated sky, a comp made from both, each ingested."""
    ledger.racy_window_ns = WINDOW_NS
    write_sequence(workspace / "plates", "sh010_plate", [1001, 1002, 1004], seed="plate")
    write_sequence(workspace / "elements", "sky_gen", range(1001, 1004), seed="sky")
    write_sequence(workspace / "comp", "sh010_comp", range(1001, 1006), seed="comp")
    write_image(workspace / "comp" / "slate.png", seed="slate")
    time.sleep(0.05)
    ledger.add_tool("Runway Gen-4", generative=True, trains_on_inputs="no", secured="yes")
    ledger.ingest(["plates"], origin="capture", by="alice")
    ledger.ingest(["elements"], origin="ai", tool="Runway Gen-4", by="bob")
    ledger.ingest(["comp"], origin="human", by="carol", contains=["elements/sky_gen.####.tif"])
    return ledger


def _delivery(workspace: Path) -> Path:
    """A delivery of every kind of folder: copies (one of them holding a frame a generated
    element holds too), a folder mixing a copy with new work, a link, a FIFO, a manifest, an
    empty folder and a ledger's own folder."""
    delivery = workspace / "outgoing"
    for name in ("plates", "elements", "comp"):
        shutil.copytree(workspace / name, delivery / "copies" / name)
    shutil.copytree(workspace / "comp", delivery / "mixed")
    write_image(delivery / "mixed" / "new_matte.png", seed="matte")
    write_bytes(delivery / "mixed" / "notes.txt", 64, seed="notes")
    os.symlink(workspace / "plates" / "sh010_plate.1001.tif", delivery / "mixed" / "link.tif")
    (delivery / "odd").mkdir()
    os.mkfifo(delivery / "odd" / "pipe")
    write_bytes(delivery / "odd" / "readme.txt", 10, seed="readme")
    (delivery / "provenance-manifest.json").write_text("{}")
    (delivery / "empty").mkdir()
    write_bytes(delivery / ".provenance" / "ledger.db", 10, seed="not a ledger")
    return delivery


def _judged(report: SweepReport) -> tuple[object, ...]:
    return (
        [
            (f.rule, f.severity, f.asset, tuple(f.files), f.message, f.fix)
            for f in report.verdict.findings
        ],
        report.files,
        report.assets,
        report.files_read,
        report.bytes_read,
        report.verdict.blocked,
    )


def _sweep_both_ways(
    ledger: Ledger, delivery: Path, monkeypatch: pytest.MonkeyPatch, workers: int | None = None
) -> tuple[SweepReport, SweepReport]:
    """(read by folders, walked) sweeps of the same never-seen delivery, each from the same
    ledger state: the first one's cache refresh is undone before the second."""
    snapshot = _cache_state(ledger)
    by_folders = ledger.sweep(delivery, workers=workers)
    _restore_cache(ledger, snapshot)
    with monkeypatch.context() as patch:
        patch.setattr(StatCache, "holds_nothing_under", lambda self, folder: False)
        walked = ledger.sweep(delivery, workers=workers)
    return by_folders, walked


def _cache_state(ledger: Ledger) -> tuple[set[int], set[tuple[int, bytes]]]:
    with read_session(ledger.engine) as session:
        return (
            {i for (i,) in session.execute(select(Location.id))},
            {
                (r, bytes(f))
                for r, f in session.execute(select(FolderSeal.root_id, FolderSeal.folder))
            },
        )


def _restore_cache(ledger: Ledger, snapshot: tuple[set[int], set[tuple[int, bytes]]]) -> None:
    """Drop the stat-cache rows and seals written since `_cache_state`."""
    locations, seals = snapshot
    with write_session(ledger.engine) as session:
        new = [i for (i,) in session.execute(select(Location.id)) if i not in locations]
        if new:
            session.execute(delete(Location).where(Location.id.in_(new)))
        keys = [
            (r, bytes(f))
            for r, f in session.execute(select(FolderSeal.root_id, FolderSeal.folder))
            if (r, bytes(f)) not in seals
        ]
        if keys:
            session.execute(
                delete(FolderSeal).where(tuple_(FolderSeal.root_id, FolderSeal.folder).in_(keys))
            )


def test_a_never_seen_delivery_is_judged_as_when_walked_file_by_file(
    show: Ledger, workspace: Path, monkeypatch: pytest.MonkeyPatch, unseen_reads: list[int]
) -> None:
    delivery = _delivery(workspace)
    time.sleep(0.05)
    monkeypatch.setattr(unseen, "PARALLEL_MIN_FILES", 1)  # a chunk of folders a worker, even here
    by_folders, walked = _sweep_both_ways(show, delivery, monkeypatch)
    assert unseen_reads == [by_folders.files_read]
    assert _judged(by_folders) == _judged(walked)
    rules = {f.rule for f in by_folders.verdict.findings}
    # The copies' hole, the comp's sky (copied twice), the new matte, the link and the FIFO.
    assert {"frames-missing", "genai-unapproved", "untracked", "unreadable"} <= rules
    # What ships is judged: the file at the manifest's name (bytes no finalize recorded) and
    # the `.provenance` folder's file are delivered files like the others.
    assert by_folders.files == 12 + 6 + 2 + 1 + 2
    assert by_folders.files_read == by_folders.files


def test_a_never_seen_delivery_read_in_this_process_alone_is_judged_the_same(
    show: Ledger, workspace: Path, monkeypatch: pytest.MonkeyPatch, unseen_reads: list[int]
) -> None:
    delivery = _delivery(workspace)
    time.sleep(0.05)
    by_folders, walked = _sweep_both_ways(show, delivery, monkeypatch, workers=1)
    assert unseen_reads == [by_folders.files_read]
    assert _judged(by_folders) == _judged(walked)


def test_a_frame_another_asset_holds_is_judged_by_its_sequence_whichever_way_it_is_read(
    show: Ledger, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copy(workspace / "plates" / "sh010_plate.1002.tif", workspace / "gen_frame.tif")
    time.sleep(0.05)
    show.ingest(["gen_frame.tif"], origin="ai", tool="Runway Gen-4", by="bob")
    delivery = workspace / "outgoing"
    shutil.copytree(workspace / "plates", delivery / "plates")
    time.sleep(0.05)
    by_folders, walked = _sweep_both_ways(show, delivery, monkeypatch)
    # The plate's own frame, as the rest of its sequence says, shared with generated material.
    assert "content-shared" in {f.rule for f in by_folders.verdict.findings}
    assert _judged(by_folders) == _judged(walked)


def test_a_never_seen_delivery_finalizes_with_the_manifest_a_walk_gives(
    show: Ledger, workspace: Path, monkeypatch: pytest.MonkeyPatch, unseen_reads: list[int]
) -> None:
    """A finalize reads every file by walking (it resolves no copy in bulk from what a worker
    grouped): the manifest is the same as a walk of a known folder gives."""
    first = workspace / "first"
    second = workspace / "second"
    for target in (first, second):
        shutil.copytree(workspace / "plates", target / "plates")
        shutil.copytree(workspace / "elements", target / "elements")
    time.sleep(0.05)
    lenient = workspace.parent / "lenient.toml"
    lenient.write_text(
        'name = "lenient"\n[rules]\nframes-missing = "off"\ngenai-unapproved = "off"\n'
    )
    policy = load_policy(lenient)
    made = show.finalize(first, "BY_FOLDERS", policy=policy)
    assert made.finalized and not unseen_reads and made.files_read == 6
    with monkeypatch.context() as patch:
        patch.setattr(StatCache, "holds_nothing_under", lambda self, folder: False)
        walked = show.finalize(second, "WALKED", policy=policy)
    assert walked.finalized

    def files(folder: Path) -> list[tuple[object, ...]]:
        document = json.loads((folder / "provenance-manifest.json").read_text())
        return [
            (f["path"], f["digest"], f["size"], f.get("frame"), f["asset"])
            for f in document["files"]
        ]

    assert files(first) == files(second) and len(files(first)) == 6


def test_the_workers_read_whole_folders_and_send_back_digests_not_objects(
    workspace: Path,
) -> None:
    write_sequence(workspace / "shot", "sh010_comp", [1001, 1002, 1004], seed="comp")
    write_bytes(workspace / "shot" / "notes.txt", 10, seed="notes")
    (workspace / "shot" / "vanished.tif").write_bytes(b"")
    os.mkfifo(workspace / "shot" / "pipe")
    [folder] = hash_folders([os.fsencode(workspace / "shot")], os.fsencode(workspace))
    assert folder.folder == os.fsencode(workspace / "shot") + b"/"
    assert [(a.kind, a.names) for a in folder.assets] == [
        ("file", [b"notes.txt"]),
        (
            "sequence",
            [b"sh010_comp.1001.tif", b"sh010_comp.1002.tif", b"sh010_comp.1004.tif"],
        ),
        ("file", [b"vanished.tif"]),
    ]
    assert [s.path.rsplit(b"/", 1)[-1] for s in folder.skipped] == [b"pipe"]
    assert len(folder.digests) == 5 and all(folder.digests)
    assert len(folder.numbers) == 5 * 5 and folder.stable
    assert all(a.aggregate for a in folder.assets)
    # What a worker process sends back is what was read.
    with ProcessPoolExecutor(1, mp_context=_mp_context()) as pool:
        sent = pool.submit(
            hash_folders, [os.fsencode(workspace / "shot")], os.fsencode(workspace)
        ).result()
    assert sent == [folder]


def test_a_file_changed_while_it_was_read_is_read_the_long_way(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each file is listed as it is opened (its stat is the open file's): one rewritten between
    # its opening and the end of its reading no longer matches what the listing recorded.
    frames = write_sequence(workspace / "shot", "sh010_comp", [1001, 1002], seed="comp")
    original = fingerprint._digest_of_open
    target = frames[1].stat().st_ino
    rewritten: list[int] = []

    def rewritten_while_read(fd: int, opened: os.stat_result, buffer: memoryview) -> str | None:
        if opened.st_ino == target and not rewritten:
            write_image(frames[1], seed="rewritten", size=(65, 36))
            rewritten.append(1)
        return original(fd, opened, buffer)

    monkeypatch.setattr(fingerprint, "_digest_of_open", rewritten_while_read)
    [folder] = hash_folders([os.fsencode(workspace / "shot")], os.fsencode(workspace))
    assert rewritten
    # Hashed as it is now, and flagged: no seal may stand for a listing its files no longer match.
    assert not folder.stable
    assert folder.digests[1] == "xxh3-128:" + xxhash.xxh3_128_hexdigest(frames[1].read_bytes())


def test_reading_an_unseen_tree_in_one_process_needs_no_ledger_write(
    ledger: Ledger, workspace: Path
) -> None:
    write_sequence(workspace / "new", "x", range(1, 4), seed="x")
    with Hasher(1) as hasher, read_session(ledger.engine) as session:
        read = read_unseen(session, os.fsencode(workspace / "new"), hasher, WINDOW_NS)
    assert read.files_read == 3 and not read.copied and len(read.delivery.files) == 3
    assert sorted(read.digests) == sorted(f.path for f in read.delivery.files)


def test_reading_a_never_seen_delivery_shows_progress_as_its_folders_are_read(
    show: Ledger, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    delivery = workspace / "outgoing"
    for index in range(6):
        write_sequence(delivery / f"sh{index:03d}", "comp", range(1, 5), seed=f"shot{index}")
    monkeypatch.setattr(unseen, "PARALLEL_MIN_FILES", 1)  # a chunk of folders a worker
    calls: list[tuple[int, int, int]] = []
    report = show.sweep(delivery, progress=lambda *counts: calls.append(counts))
    files = [count for count, _, _ in calls]
    assert len(calls) > 2 and files == sorted(files)
    assert calls[-1] == (24, report.bytes_read, report.bytes_read) and report.files == 24

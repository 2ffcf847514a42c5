"""Folder seals: an unchanged folder is re-ingested from its seal, and reports exactly what the
full path would; anything that could make the full path do something breaks the seal."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import xxhash
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from provenance import Ledger, finalizer, ingest
from provenance.fingerprint import RACY_WINDOW_NS
from provenance.ingest import Ingester, batches
from provenance.packed_refs import packed_here
from provenance.policy import Policy, load_policy
from provenance.records import IngestReport, SweepReport
from provenance.stat_cache import StatCache
from provenance.store.engine import read_session, write_session
from provenance.store.models import (
    AssetVersion,
    Claim,
    Deliverable,
    DeliverableFile,
    FolderSeal,
    Location,
    Member,
)
from provenance.store.seals import COPY_INTENT, SealedAssets, SealedFiles

from ..builders import write_bytes, write_image, write_sequence
from ..conftest import row_counts

WINDOW_NS = 20_000_000


@pytest.fixture
def ledger(ledger: Ledger) -> Ledger:
    """A ledger whose racy window (20 ms) is past once `_settle` has waited: its folders seal."""
    ledger.racy_window_ns = WINDOW_NS
    return ledger


def _tree(workspace: Path) -> None:
    write_sequence(workspace / "show/sh010/plates", "sh010_plate", [1001, 1002, 1004, 1005])
    write_sequence(workspace / "show/sh010/comp", "sh010_comp", range(1001, 1006))
    for tile in (1001, 1002, 1011):
        write_bytes(workspace / f"show/assets/rock_diffuse.{tile}.tx", 512, seed=tile)
    write_image(workspace / "show/sh010/comp/slate.png", seed=3)
    write_bytes(workspace / "show/notes.txt", 100, seed=4)


@pytest.fixture
def sealed_tree(ledger: Ledger, workspace: Path) -> Ledger:
    """The tree of `_tree` under show/, ingested once with nothing declared: every folder sealed."""
    _tree(workspace)
    _settle()
    ledger.ingest(["show"])
    return ledger


def _folder_bytes(folder: Path) -> bytes:
    """A folder as an ingest names it (and its seal): its bytes, ending in `/`."""
    return os.fsencode(folder) + b"/"


@pytest.fixture
def sealed_calls(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The folders an ingest reported from their seals."""
    calls: list[bytes] = []
    original = Ingester._report_sealed

    def spy(self: Ingester, folder: bytes, seal: SealedAssets) -> None:
        calls.append(folder)
        original(self, folder, seal)

    monkeypatch.setattr(Ingester, "_report_sealed", spy)
    return calls


def _summary(report: IngestReport) -> tuple[object, ...]:
    return (
        report.asset_count,
        report.assets_new,
        report.assets_changed,
        report.assets_unchanged,
        report.file_count,
        report.files_read,
        report.bytes_total,
        report.claims_added,
        report.edges_added,
        dict(report.holes),
        sorted(
            (ref.name, ref.kind, ref.version, ref.digest, ref.asset_id) for ref in report.assets
        ),
    )


def _drop_all_seals(ledger: Ledger) -> None:
    with write_session(ledger.engine) as session:
        session.execute(delete(FolderSeal))


def _seal_count(ledger: Ledger) -> int:
    return row_counts(ledger, FolderSeal)[FolderSeal.__tablename__]


def _stored_seal(session: Session, folder: Path) -> tuple[bytes, bytes]:
    """(key, refs) of the seal of `folder`: the key is relative to the workspace's root, or to
    `/` on a server ledger."""
    wanted = _folder_bytes(folder)
    [(key, refs)] = [
        (bytes(key), bytes(refs))
        for key, refs in session.execute(select(FolderSeal.folder, FolderSeal.refs))
        if wanted.endswith(b"/" + bytes(key))
    ]
    return key, refs


def _assert_the_full_path_reports_the_same(
    ledger: Ledger, from_seals: IngestReport, sealed_calls: list[bytes], **declared: Any
) -> None:
    """Drop every seal and ingest show/ again, file by file: the report must be the same."""
    _drop_all_seals(ledger)
    sealed_calls.clear()
    full = ledger.ingest(["show"], **declared)
    assert not sealed_calls
    assert _summary(from_seals) == _summary(full)


def _settle() -> None:
    time.sleep(0.05)


def test_an_unchanged_tree_is_reported_from_its_seals_as_the_full_path_reports_it(
    ledger: Ledger, workspace: Path, sealed_calls: list[bytes]
) -> None:
    _tree(workspace)
    _settle()
    first = ledger.ingest(["show"], origin="capture", by="alice")
    assert first.assets_new == 5 and not sealed_calls
    assert _seal_count(ledger) == 5  # show/, sh010/ (no files: an empty seal), plates, comp, assets
    _settle()
    from_seals = ledger.ingest(["show"], origin="capture", by="alice")
    assert sorted(sealed_calls) == sorted(
        _folder_bytes(workspace / p)
        for p in ("show", "show/sh010", "show/sh010/plates", "show/sh010/comp", "show/assets")
    )
    assert from_seals.files_read == 0 and from_seals.assets_unchanged == 5
    assert from_seals.holes == {str(workspace / "show/sh010/plates/sh010_plate.####.tif"): [1003]}
    _assert_the_full_path_reports_the_same(
        ledger, from_seals, sealed_calls, origin="capture", by="alice"
    )


def test_a_file_rewritten_in_place_breaks_its_folders_seal(
    sealed_tree: Ledger, workspace: Path, sealed_calls: list[bytes]
) -> None:
    frame = workspace / "show/sh010/comp/sh010_comp.1003.tif"
    before = frame.stat()
    frame.write_bytes(b"x" * before.st_size)  # same size,
    os.utime(frame, ns=(before.st_atime_ns, before.st_mtime_ns))  # same mtime: ctime moved
    _settle()
    report = sealed_tree.ingest(["show"])
    assert _folder_bytes(workspace / "show/sh010/comp") not in sealed_calls
    assert (report.files_read, report.files_changed, report.assets_changed) == (1, 1, 1)


def test_a_frame_added_to_a_sealed_folder_makes_a_new_version(
    sealed_tree: Ledger, workspace: Path
) -> None:
    write_sequence(workspace / "show/sh010/plates", "sh010_plate", [1003])
    _settle()
    report = sealed_tree.ingest(["show"])
    assert (report.assets_changed, report.holes) == (1, {})


def test_a_retag_breaks_the_seal_and_a_repeated_declaration_does_not_reopen_it(
    ledger: Ledger, workspace: Path, sealed_calls: list[bytes]
) -> None:
    write_sequence(workspace / "elements", "sky", range(1, 4))
    write_image(workspace / "elements/cloud.png", seed=1)
    _settle()
    ledger.ingest(["elements"], origin="human", by="carol")
    ledger.add_tool("Runway Gen-4", vendor="Runway", generative=True)
    ledger.tag(
        "elements/sky.####.tif",
        origin="ai",
        tool="Runway Gen-4",
        note="made with a generator",
        resolve=True,
    )
    _settle()
    # The tag dropped the seal: the full path runs. Carol's publish hook repeating what she
    # declared says nothing new, and does not reopen what the TD settled ...
    again = ledger.ingest(["elements"], origin="human", by="carol")
    assert not sealed_calls
    assert again.claims_added == 0
    assert not ledger.show("elements/sky.####.tif").disputed
    # ... a changed declaration does (a plain re-tag never silently wins over a resolved AI
    # claim: the dispute is back, with the most cautious origin).
    changed = ledger.ingest(["elements"], origin="human", by="carol", note="hand painted")
    assert changed.claims_added == 2  # (the sky and the cloud)
    card = ledger.show("elements/sky.####.tif")
    assert card.disputed and card.origin.alias == "ai"


def test_an_ingest_declaring_something_new_does_not_use_the_seal(
    sealed_tree: Ledger, sealed_calls: list[bytes]
) -> None:
    _settle()
    declared = sealed_tree.ingest(["show"], origin="capture", by="alice")
    assert not sealed_calls and declared.claims_added == 5
    _settle()
    # ... and a plain ingest changes nothing whatever was declared: it may use any seal.
    plain = sealed_tree.ingest(["show"])
    assert len(sealed_calls) == 5 and plain.claims_added == 0


def test_a_file_ingested_by_name_breaks_the_seal_of_its_folder(
    sealed_tree: Ledger, workspace: Path, sealed_calls: list[bytes]
) -> None:
    write_bytes(workspace / "show/notes.txt", 120, seed=5)
    _settle()
    single = sealed_tree.ingest(["show/notes.txt"])
    assert single.assets_changed == 1
    _settle()
    again = sealed_tree.ingest(["show"])
    assert _folder_bytes(workspace / "show") not in sealed_calls
    notes = [ref for ref in again.assets if ref.name.endswith("notes.txt")]
    assert [ref.version for ref in notes] == [2]
    assert again.assets_changed == 0


def test_a_folder_changed_within_the_racy_window_is_not_sealed(
    ledger: Ledger, workspace: Path, sealed_calls: list[bytes]
) -> None:
    # The default window (2 s) is far wider than the time between writing and ingesting here.
    ledger.racy_window_ns = RACY_WINDOW_NS
    _tree(workspace)
    ledger.ingest(["show"])
    assert _seal_count(ledger) <= 1  # only show/sh010, which holds no files
    report = ledger.ingest(["show"])
    assert report.files_read == report.file_count == 14


# -- sweeps and finalizes of sealed folders ------------------------------------------------------


@pytest.fixture
def expanded(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many files each check took from seals."""
    counts: list[int] = []
    original = finalizer.expand_sealed

    def spy(*args: Any, **kwargs: Any) -> SealedFiles:
        result = original(*args, **kwargs)
        counts.append(len(result.paths))
        return result

    monkeypatch.setattr(finalizer, "expand_sealed", spy)
    return counts


@pytest.fixture
def show(ledger: Ledger, workspace: Path) -> Ledger:
    """A camera plate, a generated sky and a comp made from both, each folder ingested whole."""
    write_sequence(workspace / "plates", "sh010_plate", [1001, 1002, 1004], seed="plate")
    write_sequence(workspace / "elements", "sky_gen", range(1001, 1004), seed="sky")
    write_sequence(workspace / "comp", "sh010_comp", range(1001, 1006), seed="comp")
    write_image(workspace / "comp" / "slate.png", seed="slate")
    _settle()
    ledger.add_tool("Runway Gen-4", generative=True, trains_on_inputs="no", secured="yes")
    ledger.ingest(["plates"], origin="capture", by="alice")
    ledger.ingest(["elements"], origin="ai", tool="Runway Gen-4", by="bob")
    ledger.ingest(["comp"], origin="human", by="carol", contains=["elements/sky_gen.####.tif"])
    _settle()
    return ledger


def _findings(report: SweepReport) -> list[tuple[object, ...]]:
    return [
        (f.rule, f.severity, f.asset, tuple(f.files), f.message, f.fix)
        for f in report.verdict.findings
    ]


def test_a_sealed_folder_is_judged_exactly_as_one_read_file_by_file(
    show: Ledger, workspace: Path, expanded: list[int]
) -> None:
    from_seal = show.sweep(workspace / "comp")
    assert expanded[-1] == 6 and from_seal.files_read == 0
    # Both the comp and its slate were recorded as made from the generated sky.
    assert [(f.rule, len(f.files)) for f in from_seal.verdict.findings] == [
        ("genai-unapproved", 5),
        ("genai-unapproved", 1),
    ]
    _drop_all_seals(show)
    file_by_file = show.sweep(workspace / "comp")
    assert expanded[-1] == 0
    assert _findings(from_seal) == _findings(file_by_file)
    assert (
        (from_seal.files, from_seal.assets) == (file_by_file.files, file_by_file.assets) == (6, 2)
    )


def test_missing_frames_of_a_sealed_sequence_are_found(
    show: Ledger, workspace: Path, expanded: list[int]
) -> None:
    report = show.sweep(workspace / "plates")
    assert expanded[-1] == 3
    (finding,) = report.verdict.findings
    assert (finding.rule, finding.files) == (
        "frames-missing",
        (str(workspace / "plates/sh010_plate.####.tif"),),
    )
    assert "1003" in finding.message


def test_a_changed_file_in_a_sealed_folder_is_caught(
    show: Ledger, workspace: Path, expanded: list[int]
) -> None:
    frame = workspace / "comp" / "sh010_comp.1002.tif"
    write_image(frame, seed="other")
    _settle()
    report = show.sweep(workspace / "comp")
    assert expanded[-1] == 0
    assert "changed" in [f.rule for f in report.verdict.findings]


def test_a_sealed_delivery_is_finalized_from_its_bytes_not_its_seal(
    show: Ledger, workspace: Path, expanded: list[int]
) -> None:
    # A seal is a cache any writer of the ledger could forge: a finalize reads every file.
    first = show.finalize(workspace / "plates", "PLATES_A", policy=_lenient(workspace))
    assert first.finalized and not any(expanded) and first.files_read == first.files == 3
    _settle()
    second = show.finalize(workspace / "plates", "PLATES_B", policy=_lenient(workspace))
    # (and the manifest the first one wrote, read to know that it is that manifest)
    assert second.finalized and not any(expanded) and second.files_read == 3 + 1
    assert show.sweep(workspace / "plates", policy=_lenient(workspace)).files_cached == 3
    with read_session(show.engine) as session:
        rows = {
            name: sorted(
                session.execute(
                    select(
                        DeliverableFile.path,
                        DeliverableFile.digest,
                        DeliverableFile.size,
                        DeliverableFile.version_id,
                        DeliverableFile.frame,
                    )
                    .join(Deliverable, Deliverable.id == DeliverableFile.deliverable_id)
                    .where(Deliverable.name == name)
                ).all()
            )
            for name in ("PLATES_A", "PLATES_B")
        }
    assert len(rows["PLATES_A"]) == 3 and rows["PLATES_A"] == rows["PLATES_B"]
    assert show.verify("PLATES_A").ok


def test_a_seal_that_does_not_name_the_folders_files_is_not_trusted(
    show: Ledger, workspace: Path, expanded: list[int]
) -> None:
    # An insider (or a bug) gives the plates folder the comp folder's seal: the sweep must read
    # the plates file by file, not believe the seal.
    with write_session(show.engine) as session:
        plates, _ = _stored_seal(session, workspace / "plates")
        _, comp_refs = _stored_seal(session, workspace / "comp")
        session.execute(
            update(FolderSeal).where(FolderSeal.folder == plates).values(refs=comp_refs)
        )
    _assert_the_plates_are_swept_file_by_file(show, workspace, expanded)


def _assert_the_plates_are_swept_file_by_file(
    show: Ledger, workspace: Path, expanded: list[int]
) -> None:
    report = show.sweep(workspace / "plates")
    assert expanded[-1] == 0
    assert [f.rule for f in report.verdict.findings] == ["frames-missing"]
    assert report.files == 3


def _lenient(workspace: Path) -> Policy:
    policy = workspace.parent / "lenient.toml"
    policy.write_text('name = "lenient"\n[rules]\nframes-missing = "warn"\n')
    return load_policy(policy)


def test_a_folder_holding_an_asset_its_walk_did_not_make_is_not_sealed(
    ledger: Ledger, workspace: Path, expanded: list[int]
) -> None:
    # A frame ingested by name before its sequence stays an asset of its own, so no seal may
    # stand for the folder. (A sweep judges that frame as its sequence's, as the rest of the
    # sequence says, and as the seal would: one asset.)
    write_sequence(workspace / "plates", "p", range(1001, 1004))
    _settle()
    ledger.ingest(["plates/p.1001.tif"], origin="capture")
    ledger.ingest(["plates"], origin="capture")
    assert _seal_count(ledger) == 0
    _settle()
    report = ledger.sweep(workspace / "plates")
    assert expanded[-1] == 0 and report.assets == 1 and not report.verdict.findings


# -- a sweep seals the folders of exact copies it delivers ------------------------------------------


def _copy_of_the_show(workspace: Path) -> Path:
    """The show's three folders copied under outgoing/ (new paths, new inodes, same bytes), as a
    TD assembles a delivery, and left past the racy window."""
    outgoing = workspace / "outgoing"
    for name in ("plates", "elements", "comp"):
        shutil.copytree(workspace / name, outgoing / name)
    _settle()
    return outgoing


def _copy_seals(ledger: Ledger) -> dict[bytes, int | None]:
    """folder key -> copied_as_of, of every seal a sweep made."""
    with read_session(ledger.engine) as session:
        return {
            bytes(folder).rsplit(b"/", 2)[-2]: as_of
            for folder, as_of in session.execute(
                select(FolderSeal.folder, FolderSeal.copied_as_of).where(
                    FolderSeal.intent == COPY_INTENT
                )
            )
        }


@pytest.fixture
def file_by_file(
    monkeypatch: pytest.MonkeyPatch, expanded: list[int]
) -> Callable[[Ledger, Path], SweepReport]:
    """The sweep's answer without any seal, nor the reading of a never-seen tree by folders:
    each file read, looked up and judged on its own."""

    def sweep(ledger: Ledger, delivery: Path) -> SweepReport:
        _drop_all_seals(ledger)
        with monkeypatch.context() as patch:
            patch.setattr(StatCache, "holds_nothing_under", lambda self, folder: False)
            report = ledger.sweep(delivery)
        assert expanded[-1] == 0
        return report

    return sweep


def test_a_swept_copy_is_sealed_and_judged_from_its_seals_as_when_read(
    show: Ledger, workspace: Path, expanded: list[int]
) -> None:
    outgoing = _copy_of_the_show(workspace)
    locations = row_counts(show, Location)
    cold = show.sweep(outgoing)
    assert cold.files_read == 12 and not expanded
    # One seal a folder, not one stat-cache row a file.
    assert set(_copy_seals(show)) == {b"plates", b"elements", b"comp"}
    assert row_counts(show, Location) == locations
    warm = show.sweep(outgoing)
    assert warm.files_read == 0 and expanded[-1] == 12
    assert sorted(rule for rule, *_ in _findings(cold)) == [
        "frames-missing",
        "genai-unapproved",
        "genai-unapproved",
        "genai-unapproved",
    ]
    assert _findings(warm) == _findings(cold)
    assert (warm.files, warm.assets) == (cold.files, cold.assets) == (12, 4)


def test_a_finalize_of_a_sealed_copy_records_every_file_as_it_is(
    show: Ledger, workspace: Path, expanded: list[int]
) -> None:
    outgoing = _copy_of_the_show(workspace)
    shutil.rmtree(outgoing / "elements")
    shutil.rmtree(outgoing / "comp")
    show.sweep(outgoing)
    report = show.finalize(outgoing, "PLATES_COPY", policy=_lenient(workspace))
    # (The sweep sealed it as a copy; the finalize read it instead.)
    assert report.finalized and not any(expanded) and report.files_read == 3
    with read_session(show.engine) as session:
        recorded = [
            (bytes(path), digest, size, frame)
            for path, digest, size, frame in session.execute(
                select(
                    DeliverableFile.path,
                    DeliverableFile.digest,
                    DeliverableFile.size,
                    DeliverableFile.frame,
                ).order_by(DeliverableFile.position)
            )
        ]
    on_disk = []
    for frame in (1001, 1002, 1004):
        data = (outgoing / "plates" / f"sh010_plate.{frame}.tif").read_bytes()
        on_disk.append(
            (
                f"plates/sh010_plate.{frame}.tif".encode(),
                "xxh3-128:" + xxhash.xxh3_128_hexdigest(data),
                len(data),
                frame,
            )
        )
    assert recorded == on_disk


def test_a_copy_of_a_version_since_superseded_is_read_again(
    show: Ledger, workspace: Path, expanded: list[int], file_by_file: Callable[..., SweepReport]
) -> None:
    outgoing = _copy_of_the_show(workspace)
    show.sweep(outgoing)
    # The artist publishes a new comp: the delivered one is now a copy of the old version.
    write_image(workspace / "comp" / "sh010_comp.1003.tif", seed="fixed")
    _settle()
    show.ingest(["comp"], origin="human", by="carol")
    stale = show.sweep(outgoing)
    assert expanded[-1] == 6  # the plates and the sky, not the comp folder
    # The delivered comp is a copy of version 1, whose bytes the ledger holds: it is judged as
    # that version (not as untracked bytes).
    comp = [f for f in stale.verdict.findings if (f.asset or "").endswith("sh010_comp.####.tif")]
    assert [f.rule for f in comp] == ["genai-unapproved"] and " v1 " in comp[0].message
    assert _findings(stale) == _findings(file_by_file(show, outgoing))


def test_a_copy_of_a_version_superseded_by_all_new_bytes_is_read_again(
    show: Ledger, workspace: Path, expanded: list[int], file_by_file: Callable[..., SweepReport]
) -> None:
    outgoing = _copy_of_the_show(workspace)
    show.sweep(outgoing)
    # Every plate frame re-rendered: the new version shares no byte with the delivered copy.
    write_sequence(workspace / "plates", "sh010_plate", [1001, 1002, 1004], seed="regraded")
    _settle()
    show.ingest(["plates"], origin="capture", by="alice")
    stale = show.sweep(outgoing)
    assert expanded[-1] == 9  # the sky and the comp, not the plates folder
    # The delivered plates are version 1, camera bytes the ledger holds: nothing is untracked.
    rules = [f.rule for f in stale.verdict.findings]
    assert "untracked" not in rules and rules == [
        f.rule for f in show.sweep(outgoing).verdict.findings
    ]
    assert _findings(stale) == _findings(file_by_file(show, outgoing))


def test_a_copy_whose_bytes_another_asset_now_holds_is_read_again(
    show: Ledger, workspace: Path, expanded: list[int], file_by_file: Callable[..., SweepReport]
) -> None:
    outgoing = _copy_of_the_show(workspace)
    show.sweep(outgoing)
    # A generated element is recorded holding one of the plate's frames, byte for byte.
    shutil.copy(workspace / "plates" / "sh010_plate.1002.tif", workspace / "gen_frame.tif")
    _settle()
    show.ingest(["gen_frame.tif"], origin="ai", tool="Runway Gen-4", by="bob")
    ambiguous = show.sweep(outgoing)
    assert expanded[-1] == 9  # the sky and the comp, not the plates
    # The shared frame is the plate's frame, as the rest of its sequence says: reported on the
    # plate (a warning), not ambiguous.
    assert "content-shared" in [f.rule for f in ambiguous.verdict.findings]
    assert _findings(ambiguous) == _findings(file_by_file(show, outgoing))


def test_an_ingest_of_a_sealed_copy_records_it_and_the_seal_is_no_longer_read(
    show: Ledger,
    workspace: Path,
    expanded: list[int],
    sealed_calls: list[bytes],
    file_by_file: Callable[..., SweepReport],
) -> None:
    outgoing = _copy_of_the_show(workspace)
    show.sweep(outgoing)
    assert len(_copy_seals(show)) == 3
    report = show.ingest(["outgoing"], origin="human", by="dave")
    assert not sealed_calls
    assert (report.assets_new, report.files_read) == (4, 12)
    assert _copy_seals(show) == {}  # the ingest sealed the folders as its own
    swept = show.sweep(outgoing)
    assert expanded[-1] == 12
    # The files are now the new assets at their own paths: the "human-made" sky among them is
    # caught as a copy of the generated one, by its bytes (disputed, and carrying the generated
    # material) and by its looks; the "human-made" comp is a copy of one that contains it.
    assert {f.rule for f in swept.verdict.findings} == {
        "frames-missing",
        "near-ai-copy",
        "origin-disputed",
        "genai-unapproved",
    }
    assert _findings(swept) == _findings(file_by_file(show, outgoing))


def test_a_copy_swept_within_the_racy_window_is_not_sealed(
    show: Ledger, workspace: Path, expanded: list[int]
) -> None:
    outgoing = workspace / "outgoing"
    shutil.copytree(workspace / "plates", outgoing / "plates")
    locations = row_counts(show, Location)[Location.__tablename__]
    show.racy_window_ns = 60_000_000_000
    show.sweep(outgoing)
    assert _copy_seals(show) == {}
    # (Its files are in the stat cache as ever, which the same rule keeps from trusting them.)
    assert row_counts(show, Location)[Location.__tablename__] == locations + 3


def test_a_folder_holding_more_than_copies_is_not_sealed(
    show: Ledger, workspace: Path, expanded: list[int]
) -> None:
    outgoing = _copy_of_the_show(workspace)
    write_image(outgoing / "plates" / "notes.png", seed="new")
    _settle()
    report = show.sweep(outgoing)
    assert set(_copy_seals(show)) == {b"elements", b"comp"}
    assert "untracked" in [f.rule for f in report.verdict.findings]
    assert show.sweep(outgoing).files_read == 0 and expanded[-1] == 9


# -- seals read a batch of folders at a time ------------------------------------------------------


def _shots(workspace: Path, count: int) -> list[Path]:
    """`count` folders of three single files each, under show/."""
    folders = [workspace / f"show/sh{index:03d}" for index in range(count)]
    for index, folder in enumerate(folders):
        for name in ("comp.nk", "cache.abc", "notes.txt"):
            write_bytes(folder / name, 64 + index, seed=index)
    return folders


RECORDED_TABLES = (AssetVersion, Member, Claim, Location, FolderSeal)


def _foreign_byte_order(ledger: Ledger, folder: Path) -> None:
    """Make the seal of `folder` look packed on a machine of the other byte order, as in a
    ledger moved there."""
    other = b"B" if packed_here(b"L") else b"L"
    with write_session(ledger.engine) as session:
        key, refs = _stored_seal(session, folder)
        session.execute(
            update(FolderSeal).where(FolderSeal.folder == key).values(refs=other + refs[1:])
        )


@pytest.fixture
def four_sealed_files_a_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches end at 4 files of sealed folders: the six `_shots` folders take three."""
    monkeypatch.setattr(ingest, "BATCH_SEALED_FILES", 4)


@pytest.mark.usefixtures("four_sealed_files_a_batch")
def test_sealed_folders_end_batches_as_files_do(tmp_path: Path) -> None:
    # A sealed folder's files are not fingerprinted, but the batch holds their names and reads
    # their seal: unbounded, an unchanged tree was walked into one batch holding all its names.
    _shots(tmp_path, 6)
    walked = list(batches([os.fsencode(tmp_path / "show")], sealed=lambda *_: True))
    assert [[os.path.basename(scan.folder[:-1]) for scan in b.scans] for b in walked] == [  # type: ignore[index]
        [b"show", b"sh000", b"sh001"],
        [b"sh002", b"sh003"],
        [b"sh004", b"sh005"],
    ]
    assert [b.sealed_files for b in walked] == [6, 6, 6]
    assert not any(scan.assets for b in walked for scan in b.scans)


@pytest.mark.usefixtures("four_sealed_files_a_batch")
def test_an_unchanged_tree_in_many_batches_records_nothing_and_reads_no_file(
    ledger: Ledger, workspace: Path, sealed_calls: list[bytes]
) -> None:
    folders = _shots(workspace, 6)
    _settle()
    ledger.ingest(["show"], origin="capture", by="alice")
    recorded = row_counts(ledger, *RECORDED_TABLES)
    _settle()
    written: list[tuple[int, int, int]] = []
    again = ledger.ingest(
        ["show"], origin="capture", by="alice", progress=lambda *seen: written.append(seen)
    )
    assert len(written) == 3  # batches
    assert sorted(sealed_calls) == sorted(
        _folder_bytes(folder) for folder in (workspace / "show", *folders)
    )
    assert (again.files_read, again.file_count, again.assets_unchanged) == (0, 18, 18)
    assert (again.assets_new, again.assets_changed, again.claims_added) == (0, 0, 0)
    assert row_counts(ledger, *RECORDED_TABLES) == recorded
    _assert_the_full_path_reports_the_same(
        ledger, again, sealed_calls, origin="capture", by="alice"
    )


@pytest.mark.usefixtures("four_sealed_files_a_batch")
def test_a_folder_changed_among_many_sealed_ones_is_read_again(
    ledger: Ledger, workspace: Path, sealed_calls: list[bytes]
) -> None:
    folders = _shots(workspace, 6)
    _settle()
    ledger.ingest(["show"])
    write_bytes(folders[3] / "cache.abc", 200, seed="re-cached")
    _settle()
    again = ledger.ingest(["show"])
    changed = _folder_bytes(folders[3])
    assert changed not in sealed_calls and len(sealed_calls) == 6
    assert (again.files_read, again.files_changed) == (1, 1)
    assert (again.assets_changed, again.assets_unchanged, again.asset_count) == (1, 17, 18)
    [cache] = [ref for ref in again.assets if ref.path == os.fsencode(folders[3] / "cache.abc")]
    assert cache.version == 2
    # ... and it is sealed again as it is now.
    sealed_calls.clear()
    _settle()
    third = ledger.ingest(["show"])
    assert changed in sealed_calls and third.files_read == 0


def test_a_seal_packed_on_a_machine_of_the_other_byte_order_is_not_used(
    sealed_tree: Ledger, workspace: Path, sealed_calls: list[bytes]
) -> None:
    _foreign_byte_order(sealed_tree, workspace / "show/sh010/comp")
    _settle()
    moved = sealed_tree.ingest(["show"])
    comp = _folder_bytes(workspace / "show/sh010/comp")
    assert comp not in sealed_calls and len(sealed_calls) == 4
    assert (moved.files_read, moved.assets_new, moved.assets_changed) == (0, 0, 0)
    # Read the usual way, the folder is sealed again in this machine's byte order.
    sealed_calls.clear()
    _settle()
    sealed_tree.ingest(["show"])
    assert comp in sealed_calls
    _assert_the_full_path_reports_the_same(sealed_tree, moved, sealed_calls)


def test_a_sweep_reads_a_folder_whose_seal_is_of_the_other_byte_order(
    show: Ledger, workspace: Path, expanded: list[int]
) -> None:
    _foreign_byte_order(show, workspace / "plates")
    _assert_the_plates_are_swept_file_by_file(show, workspace, expanded)

"""A killed or failing finalize leaves nothing that blocks or misleads: the manifest is staged
outside the delivery, a killed finalize's leftovers are recognised exactly (and anything else so
named is judged), a deliverable left without its manifest gets it back byte for byte, and a
full disk (the delivery's or the ledger's) is an error naming it, with nothing recorded."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from provenance import Ledger, ProvenanceError
from provenance.deliveries import read_delivery
from provenance.fingerprint import hash_file
from provenance.manifests import (
    STAGING_PREFIX,
    is_leftover,
    is_manifest_prefix,
    staging_folder,
)
from provenance.store.engine import read_session
from provenance.store.models import Deliverable, DeliverableManifest, Event, Location
from provenance.store.queries import MANIFEST_EVENT

from ..audit.test_audit import drop_guards, raw
from ..builders import age, fill, tmpfs, write_bytes, write_image, write_sequence
from ..conftest import Cli, row_counts
from ..detect.test_perceptual import ai_image
from ..unprivileged import provenance

LEFTOVER = STAGING_PREFIX.decode() + "0123456789abcdef"
OLD_LEFTOVER = ".provenance-manifest.k2j4h6g8"  # (as versions before this one named theirs)


@pytest.fixture
def plates(ledger: Ledger, workspace: Path) -> Path:
    """A delivery folder of three recorded camera frames."""
    ledger.racy_window_ns = 20_000_000
    write_sequence(workspace / "plates", "sh010_plate", range(1001, 1004), seed="plate")
    time.sleep(0.05)
    ledger.ingest(["plates"], origin="capture", by="alice")
    shutil.copytree(workspace / "plates", workspace / "delivery" / "plates")
    return workspace / "delivery"


def manifest_of(delivery: Path) -> bytes:
    return (delivery / "provenance-manifest.json").read_bytes()


def checkpoint_files(ledger: Ledger) -> list[Path]:
    return sorted(ledger.checkpoints_folder().glob("*.json"))


def staged_files(*folders: Path) -> list[str]:
    return sorted(p.name for f in folders for p in f.iterdir() if "provenance-manifest" in p.name)


# -- where the manifest is staged ------------------------------------------------------------------


def test_the_manifest_is_staged_outside_the_delivery(ledger: Ledger, plates: Path) -> None:
    delivery = read_delivery(os.fsencode(plates))
    assert staging_folder(delivery) == os.fsencode(plates.parent)
    listing = plates.parent / "plates.txt"
    listing.write_text("plates/sh010_plate.1001.tif\n")
    # A list delivers only what it names: its manifest is staged beside it.
    assert staging_folder(read_delivery(os.fsencode(listing))) == os.fsencode(plates.parent)
    report = ledger.finalize(plates, "EP101_v001")
    assert report.finalized and report.leftovers == []
    assert staged_files(plates, plates.parent) == ["provenance-manifest.json"]


# -- leftovers of a killed finalize ----------------------------------------------------------------


def test_a_killed_finalizes_leftovers_do_not_block_and_are_removed(
    ledger: Ledger, plates: Path, run: Cli
) -> None:
    ledger.finalize(plates, "EP101_v001")
    body = manifest_of(plates)
    # What a finalize killed while writing (or before renaming) leaves: the beginning of a
    # manifest, at every length, in the delivery and where it is staged.
    cuts = [0, 5, len(b'{\n  "schema": "Deliv'), 60, len(body) // 2, len(body) - 1, len(body)]
    for cut in cuts:
        (plates / LEFTOVER).write_bytes(body[:cut])
        assert is_leftover(os.fsencode(plates / LEFTOVER)), cut
    (plates / "plates" / OLD_LEFTOVER).write_bytes(body[: len(body) // 3])
    (plates.parent / (STAGING_PREFIX.decode() + "fedcba9876543210")).write_bytes(body[:99])
    swept = ledger.sweep(plates)
    assert swept.verdict.clean and sorted(
        os.path.basename(p).decode() for p in swept.leftovers
    ) == [
        OLD_LEFTOVER,
        LEFTOVER,
    ]
    text = run("sweep", "delivery").stdout
    assert "left out 2 leftovers of an interrupted finalize (the next finalize removes them)" in (
        text
    )
    assert ledger.verify("EP101_v001").ok
    report = ledger.finalize(plates, "EP101_v002")
    assert report.finalized and report.leftovers_removed and len(report.leftovers) == 3
    assert staged_files(plates, plates / "plates", plates.parent) == ["provenance-manifest.json"]
    listed = json.loads(manifest_of(plates))
    assert [f["path"] for f in listed["files"]] == [
        f"plates/sh010_plate.{frame}.tif" for frame in range(1001, 1004)
    ]


@pytest.mark.parametrize(
    "content",
    ["ai-image", "head-then-image", "json-then-more", "manifest-with-a-trailer"],
)
def test_bytes_named_like_a_leftover_are_judged_and_kept(
    ledger: Ledger, plates: Path, workspace: Path, content: str
) -> None:
    ledger.finalize(plates, "EP101_v001")
    body = manifest_of(plates)
    ai_image(3).save(workspace / "gen.png")
    image = (workspace / "gen.png").read_bytes()
    data = {
        "ai-image": image,
        "head-then-image": body[:80] + image,
        "json-then-more": body[:200] + b'\n"x"\n',
        "manifest-with-a-trailer": body + b'{"more": 1}\n',
    }[content]
    hidden = plates / "plates" / LEFTOVER
    hidden.write_bytes(data)
    assert not is_leftover(os.fsencode(hidden))
    refused = ledger.finalize(plates, "EP101_v002")
    assert not refused.finalized
    assert [(f.rule, f.files) for f in refused.verdict.findings if f.blocks] == [
        ("untracked", (str(hidden),))
    ]
    assert hidden.read_bytes() == data  # never removed


def test_a_leftover_a_live_finalize_holds_is_judged_not_removed(
    ledger: Ledger, plates: Path
) -> None:
    ledger.finalize(plates, "EP101_v001")
    held = plates / LEFTOVER
    held.write_bytes(manifest_of(plates)[:100])
    with open(held, "rb") as stream:
        fcntl.flock(stream, fcntl.LOCK_EX)  # as a finalize holds the file it stages
        assert not is_leftover(os.fsencode(held))
        assert [f.rule for f in ledger.sweep(plates).verdict.findings] == ["untracked"]
    assert is_leftover(os.fsencode(held))  # its writer is gone


def test_the_prefix_check_reads_a_manifest_as_json_lines(tmp_path: Path) -> None:
    def check(data: bytes) -> bool:
        path = tmp_path / "x"
        path.write_bytes(data)
        with open(path, "rb") as stream:
            return is_manifest_prefix(stream)

    head = b'{\n  "schema": "DeliveryManifest.1",\n  "name": "EP101",\n'
    assert check(b"") and check(head[:7]) and check(head)
    assert check(head + b'  "files": [\n    {\n      "path": "a.exr",\n      "size": 12')
    assert check(head + b'  "x": "caf\xc3')  # (a character cut in two)
    assert not check(b'{"schema": "DeliveryManifest.1"}')
    assert not check(head + b'  "files": [\n  "path": 1\n')  # wrong indentation
    assert not check(head + b"  \x89PNG\r\n")
    assert not check(head + b'  "a": 1,\n}\n}\n')  # closes more than it opened
    assert not check(head + b'  "a": 1\n}\n  "b": 2\n')  # anything after the end


# -- SIGKILL at each step after the check ------------------------------------------------------------


def finalize_killed_at(db_url: str, delivery: Path, name: str, where: str) -> int:
    """Run `provenance finalize` in a forked child that SIGKILLs itself at `where`: halfway
    through writing the staged manifest, between the commit and the rename, or between the
    rename and the checkpoint. Returns how the child ended (-9)."""
    pid = os.fork()
    if pid:
        return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    try:
        quiet = os.open(os.devnull, os.O_RDWR)
        for stream in (0, 1, 2):
            os.dup2(quiet, stream)
        # (Not the test runner's capture; the child never returns to close it.)
        sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115
        from provenance.cli import cli

        import provenance.audit.checkpoints
        import provenance.manifests

        def die(*args: object, **kwargs: object) -> None:
            os.kill(os.getpid(), signal.SIGKILL)

        if where == "writing":
            write = os.write

            def half(handle: int, data: bytes) -> int:
                write(handle, bytes(data[: len(data) // 2]))
                die()
                return 0

            provenance.manifests.os.write = half  # type: ignore[assignment]
        elif where == "renaming":
            # (The ledger imports these where it uses them: the modules' own names are patched.)
            provenance.manifests.install = die  # type: ignore[assignment]
        else:
            provenance.audit.checkpoints.write_checkpoint = die  # type: ignore[assignment]
        cli.main(
            args=["--db", db_url, "finalize", str(delivery), "--name", name],
            prog_name="provenance",
        )
    finally:
        os._exit(1)


@pytest.mark.parametrize("where", ["writing", "renaming", "checkpointing"])
def test_a_finalize_killed_at_each_step_leaves_a_retry_that_works(
    ledger: Ledger, plates: Path, db_url: str, where: str
) -> None:
    checkpoints = len(checkpoint_files(ledger))
    assert finalize_killed_at(db_url, plates, "EP101_v001", where) == -signal.SIGKILL
    assert ledger.audit_verify().ok
    with read_session(ledger.engine) as session:
        recorded = session.execute(select(Deliverable.name)).scalars().all()
    leftovers = staged_files(plates, plates.parent)
    if where == "writing":
        # The staged file is left, half written, outside the delivery; nothing is recorded.
        assert recorded == [] and len(leftovers) == 1 and leftovers[0].startswith(".provenance")
        assert (plates.parent / leftovers[0]).exists()
        report = ledger.finalize(plates, "EP101_v001")
        assert report.finalized and staged_files(plates, plates.parent) == [
            "provenance-manifest.json"
        ]
        return
    assert recorded == ["EP101_v001"]
    with pytest.raises(ProvenanceError, match="already final"):
        ledger.finalize(plates, "EP101_v001")
    verified = ledger.verify("EP101_v001")
    if where == "renaming":
        # The whole manifest waits, staged, outside the delivery: the delivery has none.
        assert not verified.ok and verified.manifest_state == "missing"
        assert len(leftovers) == 1 and not (plates / "provenance-manifest.json").exists()
    else:
        assert verified.ok and len(checkpoint_files(ledger)) == checkpoints
    written = ledger.write_manifest("EP101_v001")
    assert written.written is (where == "renaming") and written.checkpoint_written
    assert len(written.leftovers_removed) == (1 if where == "renaming" else 0)
    assert staged_files(plates, plates.parent) == ["provenance-manifest.json"]
    assert ledger.verify("EP101_v001").ok and len(checkpoint_files(ledger)) == checkpoints + 1


def test_a_process_killed_while_writing_a_checkpoint_leaves_no_checkpoint_cut_short(
    ledger: Ledger, tmp_path: Path
) -> None:
    # (The class of the kill above at "checkpointing", one step further in: inside the write.
    # A cut-short checkpoint would fail every later audit, and so refuse every finalize.)
    from provenance.audit.checkpoints import write_checkpoint

    folder = tmp_path / "checkpoints"
    good, document = ledger.checkpoint(folder=folder)
    pid = os.fork()
    if pid == 0:  # the child: killed once the bytes are written, before they are in place
        try:
            os.fsync = lambda _: os.kill(os.getpid(), signal.SIGKILL)  # type: ignore[assignment]
            write_checkpoint(folder, {**document, "size": document["size"] + 1})
        finally:
            os._exit(1)
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == -signal.SIGKILL
    names = sorted(p.name for p in folder.iterdir())
    assert [n for n in names if not n.startswith(".")] == [good.name] and len(names) == 2
    assert ledger.audit_verify(folder=folder).ok
    # A checkpoint is never overwritten: the same one again is refused, and nothing is left.
    with pytest.raises(FileExistsError):
        write_checkpoint(folder, document)
    assert sorted(p.name for p in folder.iterdir()) == names


# -- a deliverable left without its manifest ----------------------------------------------------------


def test_a_deliverable_without_its_manifest_gets_it_back_byte_for_byte(
    ledger: Ledger, plates: Path, run: Cli, db_url: str
) -> None:
    report = ledger.finalize(plates, "EP101_v001")
    body = manifest_of(plates)
    checkpoints = checkpoint_files(ledger)
    assert len(checkpoints) == 1
    # A finalize killed between its commit and the rename: no manifest, no checkpoint.
    (plates / "provenance-manifest.json").unlink()
    checkpoints[0].unlink()
    again = run("finalize", "delivery", "--name", "EP101_v001", expect=1).stderr
    assert "already final" in again and "provenance manifest write EP101_v001" in again
    verified = run("verify", "EP101_v001", expect=3).stdout
    assert "missing  delivery/provenance-manifest.json" in verified
    assert "`provenance manifest write EP101_v001` writes it again" in verified
    assert json.loads(run("verify", "EP101_v001", "--json", expect=3).stdout)["manifest"] == {
        "path": str(plates / "provenance-manifest.json"),
        "state": "missing",
    }
    events = row_counts(ledger, Event)
    written = run("manifest", "write", "EP101_v001").stdout
    assert written.startswith("wrote delivery/provenance-manifest.json (xxh3-128:")
    assert "checkpoint kept again:" in written
    assert manifest_of(plates) == body  # byte for byte, so its recorded digest holds
    assert row_counts(ledger, Event) == events  # records nothing
    (checkpoint,) = checkpoint_files(ledger)
    assert json.loads(checkpoint.read_text()) == json.loads(body)["checkpoint"]
    assert ledger.audit_verify().ok
    assert ledger.sweep(plates).verdict.clean  # the manifest is left out, as finalized
    assert ledger.verify("EP101_v001").ok
    # Again: nothing to do.
    document = json.loads(run("manifest", "write", "EP101_v001", "--json").stdout)
    assert document["schema"] == "ManifestWrite.1"
    assert (document["written"], document["checkpoint_written"]) == (False, False)
    with read_session(ledger.engine) as session:
        recorded = {
            json.loads(p)["digest"]
            for p in session.execute(select(Event.payload).where(Event.kind == MANIFEST_EVENT))
            .scalars()
            .all()
        }
    assert document["digest"] == hash_file(plates / "provenance-manifest.json").digest
    assert recorded == {document["digest"]} and report.event_id is not None


def test_a_manifest_write_never_replaces_a_later_finalizes_manifest(
    ledger: Ledger, plates: Path, workspace: Path
) -> None:
    ledger.finalize(plates, "EP101_v001")
    first = manifest_of(plates)
    ledger.finalize(plates, "EP101_v002")  # the same delivery again: its manifest replaces v001's
    second = manifest_of(plates)
    assert ledger.verify("EP101_v001").ok  # (v002's manifest is no change to v001's files)
    with pytest.raises(ProvenanceError, match="holds the manifest of 'EP101_v002'"):
        ledger.write_manifest("EP101_v001")
    assert manifest_of(plates) == second
    # v002's finalize killed after its commit leaves v001's manifest there: not v002's.
    (plates / "provenance-manifest.json").write_bytes(first)
    verified = ledger.verify("EP101_v002")
    assert not verified.ok and verified.manifest_state == "earlier"
    assert ledger.write_manifest("EP101_v002").written and manifest_of(plates) == second
    copy = workspace / "copy"
    shutil.copytree(plates / "plates", copy / "plates")
    report = ledger.write_manifest("EP101_v001", copy)
    assert report.written and manifest_of(copy) == first
    assert ledger.verify("EP101_v001", copy).ok


def test_a_kept_manifest_that_was_changed_is_refused(
    ledger: Ledger, plates: Path, db_url: str, backend: str
) -> None:
    ledger.finalize(plates, "EP101_v001")
    (plates / "provenance-manifest.json").unlink()
    forged = "X'00'" if backend == "sqlite" else "'\\x00'::bytea"
    raw(
        db_url,
        [
            *drop_guards(backend, "deliverable_manifests"),
            f"UPDATE deliverable_manifests SET body = {forged}",
        ],
    )
    with pytest.raises(ProvenanceError):
        ledger.write_manifest("EP101_v001")
    assert not (plates / "provenance-manifest.json").exists()


def test_the_checkpoint_folder_failing_after_the_commit_names_the_command(
    ledger: Ledger, plates: Path, tmp_path: Path
) -> None:
    not_a_folder = tmp_path / "checkpoints"
    not_a_folder.write_text("a file where the folder should be\n")
    with pytest.raises(ProvenanceError, match=r"EP101_v001 is final.*manifest write EP101_v001"):
        ledger.finalize(plates, "EP101_v001", checkpoints=not_a_folder)
    assert manifest_of(plates)  # (in place before the checkpoint was tried)
    not_a_folder.unlink()
    report = ledger.write_manifest("EP101_v001", checkpoints=not_a_folder)
    assert not report.written and report.checkpoint_written
    assert ledger.audit_verify(folder=not_a_folder).ok


def test_a_manifest_that_cannot_be_put_in_place_names_the_command(
    ledger: Ledger, plates: Path, run: Cli
) -> None:
    # A folder where the manifest goes (holding a recorded file, so the delivery passes).
    blocking = plates / "provenance-manifest.json"
    write_bytes(blocking / "notes.bin", 100, seed="notes")
    age([blocking / "notes.bin"])
    run("ingest", "delivery/provenance-manifest.json", "--origin", "human")
    failed = run("finalize", "delivery", "--name", "EP101_v001", expect=1).stderr
    assert failed.startswith("Error: EP101_v001 is final, but its manifest could not be put in")
    assert "`provenance manifest write EP101_v001`" in failed and "Traceback" not in failed
    assert staged_files(plates, plates.parent) == ["provenance-manifest.json"]  # (the folder)
    shutil.rmtree(blocking)
    assert "missing" in run("verify", "EP101_v001", expect=3).stdout
    run("manifest", "write", "EP101_v001")
    assert json.loads(manifest_of(plates))["name"] == "EP101_v001"
    assert not ledger.verify("EP101_v001").ok  # (notes.bin was finalized, and is gone)


# -- full disks -------------------------------------------------------------------------------------


def test_a_full_delivery_disk_is_an_error_and_leaves_nothing(
    ledger: Ledger, workspace: Path, run: Cli
) -> None:
    with tmpfs(workspace / "delivery", "2m") as delivery:
        write_sequence(delivery / "plates", "sh010_plate", range(1001, 1004), seed="plate")
        fill(delivery)
        age(p for p in delivery.rglob("*") if p.is_file())
        run("ingest", "delivery", "--origin", "capture")
        before = row_counts(ledger, Event, Deliverable, DeliverableManifest)
        listing = sorted(p.relative_to(delivery) for p in delivery.rglob("*"))
        result = run("finalize", "delivery", "--name", "EP101_v001", expect=1)
        assert result.stderr.startswith("Error: No space left on the disk holding ")
        assert str(delivery) in result.stderr and "nothing was finalized" in result.stderr
        assert "Traceback" not in result.stderr
        assert row_counts(ledger, Event, Deliverable, DeliverableManifest) == before
        assert sorted(p.relative_to(delivery) for p in delivery.rglob("*")) == listing
        # Space again: the same finalize goes through.
        (delivery / "filler.bin").unlink()
        run("ingest", "delivery", "--origin", "capture")
        run("finalize", "delivery", "--name", "EP101_v001")
        assert staged_files(delivery) == ["provenance-manifest.json"]


def test_a_ledger_on_a_full_disk_says_so_and_not_postgresql(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "disk", "1m") as disk:
        show = tmp_path / "show"
        write_image(show / "a.png", seed="a")
        write_bytes(show / "big.bin", 2 << 20, seed="big")
        ledger = Ledger.create(str(disk / "ledger.db"), cwd=show)
        try:
            filler = fill(disk)
            with pytest.raises(ProvenanceError) as raised:
                ledger.ingest(["a.png", "big.bin"], origin="capture")
            message = str(raised.value)
            assert "disk holding the ledger is full" in message, message
            assert "pgpass" not in message and "PostgreSQL" not in message
            result = provenance("--db", str(disk / "ledger.db"), "ingest", "a.png", cwd=show)
            assert result.returncode == 1 and "Traceback" not in result.stderr
            assert result.stderr.startswith("Error: The disk holding the ledger is full")
            filler.unlink()
            assert row_counts(ledger, Location, Event) == {"locations": 0, "events": 1}
        finally:
            ledger.close()

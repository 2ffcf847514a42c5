"""ASC MHL both ways, checked by the ASC's own tool: `export mhl` writes histories that
`ascmhl-debug verify` and `ascmhl diff` accept; `ingest --mhl` reads histories that
`ascmhl create` made. On both ledgers."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from provenance import Ledger
from provenance.digests import digest_bytes
from provenance.interchange.mhl import folder_hashes, read_history
from provenance.store.engine import read_session
from provenance.store.models import Claim

from ..builders import write_bytes
from ..conftest import Cli

BIN = Path(sys.executable).parent
ASCMHL = str(BIN / "ascmhl")
ASCMHL_DEBUG = str(BIN / "ascmhl-debug")


def ascmhl(*args: str, tool: str = ASCMHL) -> subprocess.CompletedProcess[str]:
    return subprocess.run([tool, *args], capture_output=True, text=True, check=False, timeout=120)


def tree_digest(folder: Path) -> str:
    """Every file under `folder` with its bytes: what must not change."""
    found = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        found.update(str(path.relative_to(folder)).encode())
        if path.is_file():
            found.update(path.read_bytes())
    return found.hexdigest()


@pytest.fixture
def delivered(ledger: Ledger, workspace: Path) -> Path:
    """A finalized delivery in folders two deep (camera plates, recorded as capture)."""
    ledger.racy_window_ns = 20_000_000
    for number in range(3):
        write_bytes(workspace / "plates" / f"A001_C00{number}.mov", 5000 + number, seed=number)
        write_bytes(
            workspace / "plates" / "frames" / f"A001_C009.{1001 + number}.ari", 3000, seed=number
        )
    time.sleep(0.05)
    ledger.ingest(["plates"], origin="capture", by="alice")
    delivery = workspace / "out" / "EP101"
    shutil.copytree(workspace / "plates", delivery / "plates")
    assert ledger.finalize(delivery, "EP101_PLATES_v001").finalized
    return delivery


def test_export_is_verified_by_ascmhl(delivered: Path, run: Cli, tmp_path: Path) -> None:
    result = json.loads(
        run("export", "mhl", "EP101_PLATES_v001", "--hash", "xxh128,md5,xxh64be,xxh3,sha1,c4",
            "--json").stdout
    )  # fmt: skip
    assert result["schema"] == "MhlExport.1" and result["number"] == 1
    assert result["files"] == 7  # six plates and the manifest
    history = delivered / "ascmhl"
    assert sorted(p.name for p in history.iterdir())[1] == "ascmhl_chain.xml"
    verified = ascmhl("verify", str(delivered), tool=ASCMHL_DEBUG)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    diffed = ascmhl("diff", str(delivered))
    assert diffed.returncode == 0 and "new" not in diffed.stdout.lower(), diffed.stdout
    # The folders' content and structure hashes, by every hash format (one format a history:
    # ascmhl's directory check fails on a history of several, whoever wrote it).
    for kind in ("xxh128", "md5", "xxh64be", "xxh3", "sha1", "c4"):
        out = tmp_path / kind
        run("export", "mhl", "EP101_PLATES_v001", "--hash", kind, "--out", str(out))
        copy = tmp_path / f"copy-{kind}"
        shutil.copytree(delivered, copy, ignore=shutil.ignore_patterns("ascmhl"))
        shutil.copytree(out / "ascmhl", copy / "ascmhl")
        tool_name = "xxh64" if kind == "xxh64be" else kind
        checked = ascmhl("verify", "-dh", "-h", tool_name, str(copy), tool=ASCMHL_DEBUG)
        assert checked.returncode == 0, (kind, checked.stdout + checked.stderr)
    # What it lists is what the finalize recorded: xxh128 is the ledger's xxh3-128.
    (generation,) = read_history(bytes(history)).generations
    recorded = {r.path: r.value for r in generation.records if r.format == "xxh128"}
    manifest = json.loads((delivered / "provenance-manifest.json").read_text())
    for item in manifest["files"]:
        assert "xxh3-128:" + recorded[item["path"]] == item["digest"]
    assert {r.action for r in generation.records} == {"original"}


def test_a_later_export_adds_a_generation(delivered: Path, run: Cli) -> None:
    run("export", "mhl", "EP101_PLATES_v001")
    first = tree_digest(delivered / "ascmhl")
    run("export", "mhl", "EP101_PLATES_v001", "--hash", "md5,xxh128")
    history = read_history(bytes(delivered / "ascmhl"))
    assert [g.number for g in history.generations] == [1, 2]
    assert {r.action for r in history.generations[1].records} == {"verified"}
    assert ascmhl("verify", str(delivered), tool=ASCMHL_DEBUG).returncode == 0
    assert ascmhl("diff", str(delivered)).returncode == 0
    # The first generation is kept as it was.
    (name,) = [p.name for p in (delivered / "ascmhl").glob("0001_*.mhl")]
    assert name.startswith("0001_EP101_") and first != tree_digest(delivered / "ascmhl")


def test_a_changed_delivery_is_refused(delivered: Path, run: Cli) -> None:
    frame = delivered / "plates" / "frames" / "A001_C009.1002.ari"
    frame.write_bytes(b"other bytes")
    refused = run("export", "mhl", "EP101_PLATES_v001", expect=1)
    assert "A001_C009.1002.ari" in refused.stderr and "provenance verify" in refused.stderr
    assert not (delivered / "ascmhl").exists()
    frame.unlink()
    (delivered / "plates" / "late.mov").write_bytes(b"added later")
    refused = run("export", "mhl", "EP101_PLATES_v001", expect=1)
    assert "late.mov" in refused.stderr and not (delivered / "ascmhl").exists()


def test_a_tampered_history_is_not_extended(delivered: Path, run: Cli) -> None:
    run("export", "mhl", "EP101_PLATES_v001")
    (generation,) = (delivered / "ascmhl").glob("0001_*.mhl")
    generation.write_text(generation.read_text().replace("original", "verified"))
    assert (
        "changed after it was written" in run("export", "mhl", "EP101_PLATES_v001", expect=1).stderr
    )


def test_export_out_and_unknown_hash(delivered: Path, run: Cli, workspace: Path) -> None:
    run("export", "mhl", "EP101_PLATES_v001", "--out", "elsewhere")
    assert (workspace / "elsewhere" / "ascmhl" / "ascmhl_chain.xml").exists()
    assert not (delivered / "ascmhl").exists()
    assert (
        "Unknown ASC MHL hash"
        in run("export", "mhl", "EP101_PLATES_v001", "--hash", "crc32", expect=1).stderr
    )
    run("export", "mhl", "NOPE", expect=1)


def test_folder_hashes_of_an_empty_folder_count() -> None:
    import datetime as dt

    from provenance.interchange.mhl import FileEntry

    now = dt.datetime.now(dt.timezone.utc)
    entry = FileEntry("a/f.txt", 1, now, {"md5": digest_bytes("md5", b"x")})
    plain = folder_hashes([entry], ["md5"])
    with_empty = folder_hashes([entry], ["md5"], empty=["b"])
    assert set(with_empty) == {"", "a", "b"} and with_empty[""] != plain[""]


# -- reading a DIT's history -----------------------------------------------------------------------


@pytest.fixture
def roll(workspace: Path) -> Path:
    """A camera roll with a history made by `ascmhl create` (md5, then xxh64 by a second DIT)."""
    folder = workspace / "A001"
    for number in range(3):
        write_bytes(folder / "A001R2XY" / f"A001_C00{number}.mxf", 4000 + number, seed=number)
    for frame in range(1001, 1004):
        write_bytes(folder / "A001R2XY" / "raw" / f"A001_C005.{frame}.ari", 2000, seed=frame)
    made = ascmhl("create", str(folder), "-h", "md5", "--author_name", "Dana DIT")
    assert made.returncode == 0, made.stdout + made.stderr
    again = ascmhl("create", str(folder), "-h", "xxh64", "--author_name", "Lee Loader")
    assert again.returncode == 0, again.stdout + again.stderr
    time.sleep(0.05)
    return folder


def capture_claims(ledger: Ledger) -> list[Claim]:
    with read_session(ledger.engine) as session:
        return list(
            session.execute(select(Claim).where(Claim.origin == "digitalCapture")).scalars()
        )


def test_a_roll_that_matches_is_capture(ledger: Ledger, run: Cli, roll: Path) -> None:
    before = tree_digest(roll / "ascmhl")
    result = json.loads(run("ingest", "A001", "--mhl", "A001/ascmhl", "--json").stdout)
    check = result["mhl"]
    assert check["generations"] == 2 and check["hash_formats"] == ["md5", "xxh64"]
    assert check["matched"] == 6 and check["claimed"] == 4 and check["findings"] == []
    assert "Lee Loader" in check["creator"]
    claims = capture_claims(ledger)
    assert len(claims) == 4
    detail = json.loads(claims[0].detail or "{}")
    assert detail["source"] == "ASC MHL" and detail["hash_formats"] == ["md5", "xxh64"]
    assert detail["creator"]["tool"] == "ascmhl" and detail["creator"]["date"]
    assert claims[0].claimed_by == "Lee Loader (ASC MHL)"
    assert ledger.show("A001/A001R2XY/raw/A001_C005.####.ari").origin.alias == "capture"
    # Read only: the DIT's history is as it was, and a second ingest adds no claim.
    assert tree_digest(roll / "ascmhl") == before
    run("ingest", "A001", "--mhl", "A001/ascmhl")
    assert len(capture_claims(ledger)) == 4 and tree_digest(roll / "ascmhl") == before


def test_files_that_do_not_match_are_findings(ledger: Ledger, run: Cli, roll: Path) -> None:
    clip = roll / "A001R2XY" / "A001_C001.mxf"
    clip.write_bytes(clip.read_bytes()[:-1] + b"!")  # one byte changed, same size
    (roll / "A001R2XY" / "raw" / "A001_C005.1002.ari").unlink()
    (roll / "A001R2XY" / "notes.txt").write_text("not from the camera")
    os.utime(clip, ns=(1, 1))
    done = run("ingest", "A001", "--mhl", "A001/ascmhl", "--json", expect=3)
    findings = {f["path"]: f["problem"] for f in json.loads(done.stdout)["mhl"]["findings"]}
    assert findings["A001R2XY/A001_C001.mxf"].startswith("does not match (md5 ")
    assert "xxh64" in findings["A001R2XY/A001_C001.mxf"]
    assert findings["A001R2XY/raw/A001_C005.1002.ari"] == "missing"
    assert findings["A001R2XY/notes.txt"] == "not in the MHL"
    assert len(findings) == 3
    assert ledger.show("A001/A001R2XY/A001_C001.mxf").origin.alias == "unknown"
    assert ledger.show("A001/A001R2XY/notes.txt").origin.alias == "unknown"
    assert ledger.show("A001/A001R2XY/A001_C000.mxf").origin.alias == "capture"
    text = run("ingest", "A001", "--mhl", "A001/ascmhl", expect=3).stdout
    assert "A001R2XY/A001_C001.mxf: does not match" in text


def test_one_mhl_file(ledger: Ledger, run: Cli, roll: Path) -> None:
    (first,) = sorted((roll / "ascmhl").glob("0001_*.mhl"))
    result = json.loads(
        run("ingest", "A001", "--mhl", str(first.relative_to(roll.parent)), "--json").stdout
    )
    assert result["mhl"]["generations"] == 1 and result["mhl"]["hash_formats"] == ["md5"]
    assert result["mhl"]["claimed"] == 4


def test_refusals(ledger: Ledger, run: Cli, roll: Path, workspace: Path) -> None:
    assert (
        "give no --origin"
        in run("ingest", "A001", "--mhl", "A001/ascmhl", "--origin", "human", expect=1).stderr
    )
    assert "describes" in run("ingest", "A001/A001R2XY", "--mhl", "A001/ascmhl", expect=1).stderr
    bomb = workspace / "bomb.mhl"
    bomb.write_text(
        '<?xml version="1.0"?><!DOCTYPE h [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
        '<hashlist version="2.0" xmlns="urn:ASC:MHL:v2.0"><hashes><hash><path>&b;</path>'
        "</hash></hashes></hashlist>"
    )
    assert "not a readable ASC MHL" in run("ingest", ".", "--mhl", "bomb.mhl", expect=1).stderr
    chain = roll / "ascmhl" / "ascmhl_chain.xml"
    chain.write_text(chain.read_text().replace("<c4>c4", "<c4>c5"))
    assert (
        "changed after it was written"
        in run("ingest", "A001", "--mhl", "A001/ascmhl", expect=1).stderr
    )


def test_a_history_that_names_files_outside_the_roll(ledger: Ledger, run: Cli, roll: Path) -> None:
    (first,) = sorted((roll / "ascmhl").glob("0001_*.mhl"))
    lone = roll / "lone.mhl"
    lone.write_text(first.read_text().replace("A001R2XY/A001_C000.mxf", "../../etc/passwd"))
    done = run("ingest", "A001", "--mhl", "A001/lone.mhl", "--json", expect=3)
    findings = {f["path"]: f["problem"] for f in json.loads(done.stdout)["mhl"]["findings"]}
    assert "outside the roll" in findings["../../etc/passwd"]


def test_verify_knows_the_history_from_files_added_later(delivered: Path, run: Cli) -> None:
    """The history `export mhl` wrote into the delivery is not a file added to it; anything
    else in `ascmhl/`, or a generation changed since, is."""
    run("export", "mhl", "EP101_PLATES_v001")
    run("export", "mhl", "EP101_PLATES_v001", "--hash", "md5")
    assert "matches EP101_PLATES_v001" in run("verify", "EP101_PLATES_v001").stdout
    (delivered / "ascmhl" / "notes.mhl").write_text("<hashlist/>")
    added = run("verify", "EP101_PLATES_v001", expect=3).stdout
    assert "added    ascmhl/notes.mhl" in added and "0001_" not in added
    (delivered / "ascmhl" / "notes.mhl").unlink()
    (generation,) = (delivered / "ascmhl").glob("0002_*.mhl")
    generation.write_text(generation.read_text() + "<!-- a frame hidden here -->\n")
    assert (
        f"added    ascmhl/{generation.name}" in run("verify", "EP101_PLATES_v001", expect=3).stdout
    )

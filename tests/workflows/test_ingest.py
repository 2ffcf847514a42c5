"""The ingester: stat cache and the racy rule, idempotence, UDIM sets, ranges, progress."""

from __future__ import annotations

import os
import pty
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from provenance import Ledger
from provenance.errors import AmbiguousTarget

from ..builders import write_bytes, write_image, write_sequence


def test_unchanged_files_are_not_read_again(ledger: Ledger, workspace: Path) -> None:
    ledger.racy_window_ns = 20_000_000
    write_sequence(workspace / "plates", "p", range(1, 21))
    time.sleep(0.05)
    first = ledger.ingest(["plates"])
    assert first.files_read == 20
    second = ledger.ingest(["plates"])
    assert (second.files_read, second.bytes_read, second.files_unchanged) == (0, 0, 20)


def test_files_recorded_within_the_racy_window_are_read_again(
    ledger: Ledger, workspace: Path
) -> None:
    # The default window (2 s) is far wider than the time between writing and ingesting here.
    write_sequence(workspace / "plates", "p", range(1, 6))
    first = ledger.ingest(["plates"])
    second = ledger.ingest(["plates"])
    assert first.files_read == 5
    assert second.files_read == 5, (
        "a file changed in the same tick as its recording must be re-read"
    )
    assert (second.files_changed, second.assets_unchanged) == (0, 1)


def test_a_changed_file_is_caught_even_with_its_old_mtime(ledger: Ledger, workspace: Path) -> None:
    ledger.racy_window_ns = 20_000_000
    path = write_bytes(workspace / "a.bin", 4096, seed=1)
    old = path.stat()
    os.utime(path, ns=(old.st_atime_ns, old.st_mtime_ns - 10**10))
    time.sleep(0.05)
    ledger.ingest(["a.bin"])
    before = path.stat()
    write_bytes(path, 4096, seed=2)  # same size
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # same mtime: ctime moved
    time.sleep(0.05)
    report = ledger.ingest(["a.bin"])
    assert (report.files_changed, report.assets_changed) == (1, 1)


def test_udim_sets_are_one_asset(ledger: Ledger, workspace: Path) -> None:
    for tile in (1001, 1002, 1011):
        write_bytes(workspace / "tex" / f"diffuse.{tile}.tx", 500, seed=tile)
    report = ledger.ingest(["tex"])
    assert [(os.path.basename(r.path), r.kind) for r in report.assets] == [
        (b"diffuse.<UDIM>.tx", "udim")
    ]
    assert report.holes == {}, "tiles of a UDIM set are laid out, not counted"
    card = ledger.show("tex/diffuse.<UDIM>.tx")
    assert card.frames == [1001, 1002, 1011]
    assert ledger.show("tex/diffuse.1011.tx").frame == 1011


def test_a_frame_range_ingests_only_those_frames(ledger: Ledger, workspace: Path) -> None:
    write_sequence(workspace / "comp", "c", range(1001, 1011))
    report = ledger.ingest(["comp/c.1001-1004#.tif"])
    assert report.file_count == 4
    assert ledger.show("comp/c.####.tif").frames == [1001, 1002, 1003, 1004]


def test_identical_bytes_under_two_names_make_a_prefix_ambiguous(
    ledger: Ledger, workspace: Path
) -> None:
    original = write_image(workspace / "a.png")
    shutil.copyfile(original, workspace / "b.png")
    ledger.ingest(["."])
    digest = ledger.show("a.png").asset.digest
    with pytest.raises(AmbiguousTarget) as caught:
        ledger.show(digest[:17])
    assert "a.png" in str(caught.value) and "b.png" in str(caught.value)


def test_progress_is_reported_per_batch(ledger: Ledger, workspace: Path) -> None:
    write_sequence(workspace / "plates", "p", range(1, 11))
    seen: list[tuple[int, int, int]] = []
    ledger.ingest(["plates"], progress=lambda files, size, read: seen.append((files, size, read)))
    assert seen and seen[-1][0] == 10 and seen[-1][2] == seen[-1][1] > 0


def test_a_terminal_shows_progress_and_a_pipe_does_not(tmp_path: Path) -> None:
    write_sequence(tmp_path / "plates", "p", range(1, 11))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVENANCE_")}
    subprocess.run([sys.executable, "-m", "provenance", "init"], cwd=tmp_path, check=True, env=env)
    controller, terminal = pty.openpty()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "provenance", "ingest", "plates"],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=terminal,
            env=env,
            check=False,
        )
        os.close(terminal)
        chunks = []
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(controller)
    assert done.returncode == 0
    on_terminal = b"".join(chunks).decode()
    assert "10 files" in on_terminal and "hashed" in on_terminal
    piped = subprocess.run(
        [sys.executable, "-m", "provenance", "ingest", "plates"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert piped.stderr == ""

"""Files written whole (provenance.atomic): what checkpoints, ASC MHL histories, farm jobs and
report pages are written with. A process killed mid-write leaves the old file or none."""

from __future__ import annotations

import os
import signal
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from provenance import atomic


def killed_while_writing(write: Callable[[], None]) -> int:
    """Run `write` in a forked child that SIGKILLs itself once the bytes are written, before
    they are in place; how the child ended."""
    pid = os.fork()
    if pid == 0:
        try:
            os.fsync = lambda _: os.kill(os.getpid(), signal.SIGKILL)  # type: ignore[assignment]
            write()
        finally:
            os._exit(1)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


@pytest.mark.parametrize("as_bytes", [False, True], ids=["str", "bytes"])
def test_write_new_writes_once_and_refuses_an_existing_name(tmp_path: Path, as_bytes: bool) -> None:
    path = tmp_path / "a.json"
    target: str | bytes = os.fsencode(path) if as_bytes else str(path)
    atomic.write_new(target, b"first")
    with pytest.raises(FileExistsError):
        atomic.write_new(target, b"second")
    assert path.read_bytes() == b"first" and os.listdir(tmp_path) == ["a.json"]


def test_replace_puts_the_new_bytes_in_place_with_a_new_files_permissions(
    tmp_path: Path,
) -> None:
    path = tmp_path / "page.html"
    atomic.replace(path, b"old")
    atomic.replace(path, b"new")
    umask = os.umask(0)
    os.umask(umask)
    assert path.read_bytes() == b"new" and os.listdir(tmp_path) == ["page.html"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


def test_a_kill_mid_write_leaves_the_old_file_or_none(tmp_path: Path) -> None:
    chain, generation = tmp_path / "ascmhl_chain.xml", tmp_path / "0002_roll.mhl"
    atomic.replace(chain, b"<chain one/>")
    ended = killed_while_writing(lambda: atomic.replace(chain, b"<chain two/>"))
    assert ended == -signal.SIGKILL and chain.read_bytes() == b"<chain one/>"
    ended = killed_while_writing(lambda: atomic.write_new(generation, b"<hashlist/>"))
    assert ended == -signal.SIGKILL and not generation.exists()
    # What is left is hidden, and a later write is not stopped by it.
    assert all(n.startswith(".") for n in os.listdir(tmp_path) if n != chain.name)
    atomic.write_new(generation, b"<hashlist/>")
    assert generation.read_bytes() == b"<hashlist/>"

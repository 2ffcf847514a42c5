"""docs/delivery.md shows what the commands print: its sample show is built here from the files
the page describes and the commands it records them with, and each block marked
`<!-- run: NAME -->` is run on it, command by command, in the page's order.

The page's digests are of the files its author made and its timings of that run: both are
compared by shape only. A line `...` in a block stands for lines the page leaves out.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from provenance import Ledger

from ..builders import age, write_exr, write_exr_sequence, write_sequence
from ..c2pa_fixtures import make_test_ca, write_remote_manifest
from ..detect.test_detect_metadata import (
    A1111_PARAMETERS,
    add_before_iend,
    write_png,
    xmp_itxt,
    xmp_packet,
)
from ..pictures import photo
from . import blocks

ROOT = Path(__file__).resolve().parent.parent.parent
PAGE = ROOT / "docs" / "delivery.md"
PROVENANCE = Path(sys.executable).with_name("provenance")
FRAMES = range(1001, 1011)


def marked(name: str, page: Path = PAGE) -> tuple[str, str]:
    """The fence kind and body of the page's block marked `name`."""
    found = blocks.marked(page)
    assert name in found, f"docs/{page.name} has no block marked <!-- run: {name} -->"
    return found[name]


def recipe(name: str) -> list[str]:
    """The commands of an `sh` block: continuation lines joined, comments dropped."""
    kind, body = marked(name)
    assert kind == "sh"
    joined = re.sub(r"\\\n\s*", " ", body)
    return [line for line in (blocks.shell_words(raw) for raw in joined.splitlines()) if line]


# Other tools a page runs beside provenance, from the same environment (test extras).
OTHER_TOOLS = ("ascmhl-debug",)


def run(workspace: Path, command: str) -> subprocess.CompletedProcess[str]:
    words = shlex.split(command)
    if words[0] in OTHER_TOOLS:
        return subprocess.run(
            ["bash", "-c", command],
            cwd=workspace,
            env={**os.environ, "PATH": f"{PROVENANCE.parent}{os.pathsep}{os.environ['PATH']}"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=120,
        )
    assert words[0] == "provenance", f"only provenance commands are run: {command!r}"
    env = {k: v for k, v in os.environ.items() if k not in ("PROVENANCE_DB", "DATABASE_URL")}
    # (No --db: each command finds the ledger of the folder it runs in, as on the page.)
    env.update(COLUMNS="200", HOME=str(workspace), XDG_CONFIG_HOME=str(workspace / "config"))
    env.update(USER="root", LOGNAME="root")  # (who records each event: the page's is root)
    return subprocess.run(
        [str(PROVENANCE), *words[1:]],
        cwd=workspace,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=120,
    )


def sample_show(workspace: Path) -> None:
    """The files the page's sample show is made of, recorded with the page's own commands."""
    write_exr_sequence(workspace / "plates", "sh010_plate", FRAMES, seed="plate")
    write_exr_sequence(workspace / "elements", "sky_gen_v001", FRAMES, seed="sky")
    write_exr(workspace / "elements" / "crowd_mj_v001.exr", seed="crowd")
    write_exr_sequence(workspace / "comp", "sh010_comp_v003", FRAMES, seed="comp")
    write_exr_sequence(workspace / "comp", "sh020_comp_v001", FRAMES, seed="comp20")
    for name in ("sh030_comp_v002", "sh040_double_v001", "sh050_title_v001", "sh060_matte_v001"):
        write_exr(workspace / "comp" / f"{name}.exr", seed=name)
    write_exr(workspace / "ref" / "matte_from_vendor.exr", seed="matte")
    shutil.copyfile(
        workspace / "ref" / "matte_from_vendor.exr", workspace / "ref" / "matte_gen.exr"
    )
    age(workspace.rglob("*.exr"))
    for command in recipe("sample-show"):
        done = run(workspace, command)
        assert done.returncode == 0, f"`{command}` exited {done.returncode}:\n{done.stdout}"
    delivery = workspace / "delivery" / "EP101"
    delivery.mkdir(parents=True)
    for frame in (workspace / "comp").glob("sh010_comp_v003.*.exr"):
        shutil.copy2(frame, delivery)
    for name in ("sh030_comp_v002", "sh040_double_v001", "sh050_title_v001", "sh060_matte_v001"):
        shutil.copy2(workspace / "comp" / f"{name}.exr", delivery)
    shutil.copy2(workspace / "ref" / "matte_gen.exr", delivery / "sh070_matte_v001.exr")
    write_exr(delivery / "sh080_comp_v001.exr", seed="never recorded")


SHAPES = (
    (re.compile(r"\b(xxh3-128|sha256|md5):[0-9a-f]{8,}"), r"\1:<digest>"),
    (re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?(\+00:00| UTC)"), "<time>"),
    (re.compile(r"_\d{4}-\d\d-\d\d_\d{6}Z\.mhl$"), "_<time>Z.mhl"),  # an ASC MHL generation
    # (The machine an event was recorded on: the page's is `vm`.)
    (re.compile(r"\bby (\w+)@[\w.-]+"), r"by \1@<host>"),
    # (How many files a sweep reads depends on how long ago the stat cache saw them.)
    (re.compile(r"; read \d+ files? in \d+\.\d+ s$"), "; read <n> in <seconds> s"),
)


def shape(line: str) -> str:
    for pattern, replacement in SHAPES:
        line = pattern.sub(replacement, line)
    return line


def shows(shown: list[str], printed: list[str]) -> bool:
    """Whether `printed` is what the page shows: the same lines, where a line `...` on the page
    stands for any lines (none or more) that it leaves out."""
    shown, printed = [shape(line) for line in shown], [shape(line) for line in printed]
    if "..." not in shown:
        return shown == printed
    chunks: list[list[str]] = [[]]
    for line in shown:
        if line == "...":
            chunks.append([])
        else:
            chunks[-1].append(line)
    first, *middle, last = chunks
    start, end = len(first), len(printed) - len(last)
    if end < start or printed[:start] != first or printed[end:] != last:
        return False
    for chunk in middle:
        at = next(
            (i for i in range(start, end - len(chunk) + 1) if printed[i : i + len(chunk)] == chunk),
            None,
        )
        if at is None:
            return False
        start = at + len(chunk)
    return True


def steps(name: str, page: Path = PAGE) -> list[tuple[str, list[str]]]:
    kind, body = marked(name, page)
    assert kind == "text"
    return blocks.split_steps(name, body)


def run_as_the_page_shows(workspace: Path, name: str, page: Path = PAGE) -> None:
    for command, shown in steps(name, page):
        done = run(workspace, command)
        assert shows(shown, done.stdout.splitlines()), (
            f"`{command}` (block {name} of docs/{page.name}) printed (exit {done.returncode}):\n"
            f"{done.stdout}\nthe page shows:\n" + "\n".join(shown)
        )
        refused = bool(shown) and shown[0].startswith("Error:")
        # (An error exits 1, or 3 when it is a refusal: a finalize over a changed history.)
        assert done.returncode in ((1, 3) if refused else (0, 3)), done.stdout


def sample_blocks() -> list[str]:
    """The page's blocks run on the sample show, in the page's order (approvals and consents
    change what the sweeps after them print)."""
    return [
        n
        for _, n, _, _ in blocks.MARKED.findall(PAGE.read_text("utf-8"))
        if n.startswith("sample-")
    ]


def test_the_sample_show_prints_what_the_page_shows(tmp_path: Path) -> None:
    sample_show(tmp_path)
    blocks = [name for name in sample_blocks() if name != "sample-show"]
    assert len(blocks) >= 10, blocks
    for name in blocks:
        run_as_the_page_shows(tmp_path, name)


def test_a_block_that_no_longer_matches_fails() -> None:
    printed = [
        "BLOCK untracked: a.exr",
        "      why: a.exr (xxh3-128:0123456789abcdef) is new.",
        "1 file, 0 assets, 1 blocking finding, 0 warnings (policy p); read 1 file in 0.02 s",
    ]
    assert shows(printed, printed)
    assert shows(["BLOCK untracked: a.exr", "..."], printed)
    # Digests, times and how many files were read compare by shape only.
    assert shows(
        [
            "...",
            "1 file, 0 assets, 1 blocking finding, 0 warnings (policy p); read 0 files in 1.5 s",
        ],
        printed,
    )
    assert shows(["...", "      why: a.exr (xxh3-128:fedcba9876543210) is new.", "..."], printed)
    assert not shows(["BLOCK untracked: a.exr", "..."] * 2, printed)
    assert not shows(printed[:1] + printed[2:], printed)
    assert not shows(
        ["...", "1 files, 0 assets, 1 blocking finding, 0 warnings (policy p)"], printed
    )
    assert not shows(["BLOCK untracked: b.exr", "..."], printed)
    assert not shows(["...", "BLOCK untracked: a.exr"], printed)


# -- the cases outside the sample show -------------------------------------------------------
# Each builds, with the library, what the page says its block was run on.


def case_missing_file(workspace: Path, ledger: Ledger) -> None:
    plates = write_exr_sequence(workspace / "plates", "sh010_plate", FRAMES, seed="p")
    age(plates)
    ledger.ingest(["plates"], origin="capture", by="alice")
    # (A path list names files relative to the list's own folder.)
    listed = [f"../plates/{p.name}" for p in plates] + ["../comp/sh090_comp_v001.exr"]
    (workspace / "delivery").mkdir()
    (workspace / "delivery" / "EP102_paths.txt").write_text("\n".join(listed) + "\n")


def case_unreadable(workspace: Path, ledger: Ledger) -> None:
    # (A file whose permissions forbid reading is read anyway by root, who runs CI: a FIFO is
    # unreadable to anyone, and a sweep never opens one.)
    (workspace / "delivery" / "EP105").mkdir(parents=True)
    os.mkfifo(workspace / "delivery" / "EP105" / "sh050_title_v001.exr")


def case_changed(workspace: Path, ledger: Ledger) -> None:
    comp = write_exr_sequence(workspace / "comp", "sh010_comp_v003", FRAMES, seed="comp")
    age(comp)
    ledger.ingest(["comp"], origin="human", by="carol")
    delivery = workspace / "delivery" / "EP103"
    delivery.mkdir(parents=True)
    for frame in comp:
        shutil.copy2(frame, delivery)
    write_exr(delivery / "sh010_comp_v003.1002.exr", seed="re-rendered")


def case_castle(workspace: Path, ledger: Ledger) -> None:
    (workspace / "elements").mkdir()
    age([write_png(workspace / "elements" / "castle_v001.png", {"parameters": A1111_PARAMETERS})])
    ledger.ingest(["elements"], origin="human", by="dana")


def case_copy_declared_human(workspace: Path, ledger: Ledger) -> None:
    geo = write_exr(workspace / "elements2" / "gen_geo.exr", seed="geo").read_bytes()
    (workspace / "elements2" / "gen_geo.exr").unlink()
    (workspace / "elements2" / "gen_geo_v001.abc").write_bytes(geo)
    (workspace / "delivery" / "EP103").mkdir(parents=True)
    (workspace / "delivery" / "EP103" / "geo_v001.abc").write_bytes(geo)
    age([workspace / "elements2" / "gen_geo_v001.abc", workspace / "delivery/EP103/geo_v001.abc"])
    ledger.ingest(["elements2"], origin="ai", tool="Runway Gen-4", by="bob")
    ledger.ingest(["delivery/EP103/geo_v001.abc"], origin="human", by="vendor")


def case_input_origin_unknown(workspace: Path, ledger: Ledger) -> None:
    sky = write_exr_sequence(workspace / "elements", "sky_gen_v001", FRAMES, seed="sky")
    comp = write_exr_sequence(workspace / "comp", "sh010_comp_v004", FRAMES, seed="comp4")
    age([*sky, *comp])
    ledger.ingest(["elements"], by="bob")  # no origin given
    ledger.ingest(["comp"], origin="human", by="carol", contains=["elements/sky_gen_v001.####.exr"])
    delivery = workspace / "delivery" / "EP101"
    delivery.mkdir(parents=True)
    for frame in comp:
        shutil.copy2(frame, delivery)


def stale_sky(workspace: Path, ledger: Ledger, newer_origin: str) -> None:
    sky = write_exr_sequence(workspace / "elements", "sky_v001", FRAMES, seed="sky")
    comp = write_exr_sequence(workspace / "comp", "sh010_comp_v003", FRAMES, seed="comp")
    age([*sky, *comp])
    ledger.ingest(["elements"], origin="human", by="bob")
    ledger.ingest(["comp"], origin="human", by="carol", contains=["elements/sky_v001.####.exr"])
    delivery = workspace / "delivery" / "EP101"
    delivery.mkdir(parents=True)
    for frame in comp:
        shutil.copy2(frame, delivery)
    age(write_exr_sequence(workspace / "elements", "sky_v001", FRAMES, seed="sky, re-rendered"))
    tool = {"tool": "Runway Gen-4"} if newer_origin == "ai" else {}
    ledger.ingest(["elements"], origin=newer_origin, by="bob", **tool)


def write_black_exr(path: Path, size: tuple[int, int] = (64, 36)) -> None:
    import numpy as np
    import OpenEXR

    pixels = np.zeros((size[1], size[0], 3), dtype=np.float16)
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    with OpenEXR.File(header, {"RGB": pixels}) as image:
        image.write(str(path))


def case_content_shared(workspace: Path, ledger: Ledger) -> None:
    fire = write_exr_sequence(
        workspace / "elements" / "fire", "fire_v001", range(1001, 1004), seed="f"
    )
    comp = workspace / "comp" / "sh060"
    frames = write_exr_sequence(comp, "sh060_comp_v001", range(1001, 1004), seed="c")
    for frame in (fire[0], frames[0]):  # a black frame both hold
        write_black_exr(frame)
    age([*fire, *frames])
    ledger.ingest(["elements"], origin="ai", tool="Runway Gen-4", by="bob")
    ledger.ingest(["comp"], origin="human", by="carol")
    delivery = workspace / "delivery" / "EP102" / "comp" / "sh060"
    delivery.mkdir(parents=True)
    for frame in frames:
        shutil.copy2(frame, delivery)


def case_embedded_ai(workspace: Path, ledger: Ledger) -> None:
    (workspace / "delivery" / "EP104").mkdir(parents=True)
    write_png(
        workspace / "delivery" / "EP104" / "castle_dmp_v002.png", {"parameters": A1111_PARAMETERS}
    )


def case_credentials_unreadable(workspace: Path, ledger: Ledger) -> None:
    url = "https://cdn.vendor.example/manifests/sh090_sky_v001.c2pa"
    sky = write_remote_manifest(workspace / "elements" / "sh090_sky_v001.jpg", make_test_ca(), url)
    age([sky])
    ledger.ingest(["elements/sh090_sky_v001.jpg"], origin="human", by="dana")


def case_metadata_unread(workspace: Path, ledger: Ledger) -> None:
    generated = xmp_packet("http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia")
    (workspace / "elements").mkdir()
    padded = add_before_iend(
        write_png(workspace / "elements" / "sh090_sky_v001.png"),
        xmp_itxt(generated + b" " * (20 << 20)),
    )
    age([padded])
    ledger.ingest(["elements/sh090_sky_v001.png"], origin="human", by="dana")


def write_picture(path: Path, frame: int) -> Path:
    """A photograph-like sky (noise has no structure for a perceptual print to keep through a
    JPEG): the same picture every frame, one pixel apart so each frame has its own bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    picture = photo("sky_gen_v001", family=2)
    picture.putpixel((frame % picture.width, 0), (frame % 256, 0, 0))
    picture.save(path)
    return path


def case_near_ai_copy(workspace: Path, ledger: Ledger) -> None:
    sky = [write_picture(workspace / "elements" / f"sky_gen_v001.{f}.tif", f) for f in FRAMES]
    age(sky)
    ledger.ingest(["elements"], origin="ai", tool="Runway Gen-4", by="bob")
    (workspace / "delivery" / "EP102").mkdir(parents=True)
    with Image.open(sky[0]) as frame:
        frame.convert("RGB").save(
            workspace / "delivery" / "EP102" / "sh020_bg_cleanup_v002.jpg", quality=90
        )


def case_no_print(workspace: Path, ledger: Ledger) -> None:
    (workspace / "delivery" / "EP102").mkdir(parents=True)
    slate = Image.new("RGB", (64, 36), (40, 40, 40))
    slate.save(workspace / "delivery" / "EP102" / "sh030_slate_v001.png")


PULL_LIST = """Filename,Relative Path,Submitting For,Frame Range,Partner Version,Partner Artist
sh020_comp_v001.%04d.exr,sh020,FINAL,1001-1010,v001,carol
sh020_comp_v002.%04d.exr,sh020,WIP,1001-1010,v002,carol
"""


def case_frames_missing(workspace: Path, ledger: Ledger) -> None:
    delivery = workspace / "delivery" / "EP103"
    frames = write_exr_sequence(
        delivery / "sh020", "sh020_comp_v001", [f for f in FRAMES if f != 1005]
    )
    age(frames)
    ledger.ingest(["delivery/EP103/sh020"], origin="human", by="carol")
    (delivery / "pull.csv").write_text(PULL_LIST)
    _, policy = marked("studio-x-policy")
    (workspace / "studio-x.toml").write_text(policy)


def case_verify(workspace: Path, ledger: Ledger) -> None:
    delivery = workspace / "delivery" / "EP101"
    frames = write_exr_sequence(delivery, "sh010_comp_v003", FRAMES, seed="comp")
    for name in ("sh030_comp_v002", "sh040_comp_v001", "sh050_title_v001", "sh060_matte_v001"):
        frames.append(write_exr(delivery / f"{name}.exr", seed=name))
    frames.append(write_exr(delivery / "sh070_matte_v001.exr", seed="matte"))
    age(frames)
    ledger.ingest(["delivery/EP101"], origin="human", by="carol")
    assert ledger.finalize(delivery, "EP101_VFX_v003").finalized
    write_exr(delivery / "sh010_comp_v003.1004.exr", seed="replaced")
    (delivery / "sh050_title_v001.exr").unlink()
    write_exr(delivery / "sh020_comp_v001.1001.exr", seed="added")


def case_history_changed(workspace: Path, ledger: Ledger) -> None:
    plates = write_sequence(workspace / "plates", "sh010_plate", FRAMES, ext="png", seed="plate")
    age(plates)
    ledger.ingest(["plates"], origin="capture", by="alice")
    (workspace / "delivery" / "EP102").mkdir(parents=True)
    for plate in plates:
        shutil.copy2(plate, workspace / "delivery" / "EP102")
    # One writer with the sqlite3 shell: the triggers that keep events append-only are dropped,
    # and who made the claim is rewritten in the event that recorded it.
    with sqlite3.connect(workspace / ".provenance" / "ledger.db") as db:
        for (trigger,) in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'events'"
        ).fetchall():
            db.execute(f'DROP TRIGGER "{trigger}"')
        db.execute(
            "UPDATE events SET payload = replace(payload, '\"alice\"', '\"mallory\"') WHERE id = 3"
        )


CASES: dict[str, Callable[[Path, Ledger], None]] = {
    "case-missing-file": case_missing_file,
    "case-unreadable": case_unreadable,
    "case-changed": case_changed,
    "case-castle": case_castle,
    "case-copy-declared-human": case_copy_declared_human,
    "case-input-origin-unknown": case_input_origin_unknown,
    "case-lineage-stale": lambda workspace, ledger: stale_sky(workspace, ledger, "human"),
    "case-lineage-stale-genai": lambda workspace, ledger: stale_sky(workspace, ledger, "ai"),
    "case-content-shared": case_content_shared,
    "case-embedded-ai": case_embedded_ai,
    "case-credentials-unreadable": case_credentials_unreadable,
    "case-metadata-unread": case_metadata_unread,
    "case-near-ai-copy": case_near_ai_copy,
    "case-no-print": case_no_print,
    "case-frames-missing": case_frames_missing,
    "case-frames-missing-warns": case_frames_missing,
    "case-verify": case_verify,
    "case-history-changed": case_history_changed,
}


def test_every_case_the_page_marks_is_built_here() -> None:
    marks = {
        n for _, n, _, _ in blocks.MARKED.findall(PAGE.read_text("utf-8")) if n.startswith("case-")
    }
    assert marks == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_case_prints_what_the_page_shows(name: str, tmp_path: Path) -> None:
    with Ledger.create(cwd=tmp_path) as ledger:
        ledger.add_tool(
            "Runway Gen-4", vendor="Runway", generative=True, trains_on_inputs="no", secured="yes"
        )
        CASES[name](tmp_path, ledger)
    run_as_the_page_shows(tmp_path, name)


# -- docs/auditor.md, on the show `make demo` builds -------------------------------------------

AUDITOR = ROOT / "docs" / "auditor.md"
DEMO = ROOT / "demo" / "run_demo.py"


def test_the_demo_show_prints_what_the_auditor_page_shows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The auditor page's read commands are quoted from the show of `make demo`, once its
    delivery is final: the demo builds it here, in a folder of the test's."""
    spec = importlib.util.spec_from_file_location("run_demo", DEMO)
    assert spec is not None and spec.loader is not None
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    monkeypatch.setattr(demo, "SHOW", tmp_path / "show")
    for name, value in {"HOME": tmp_path, "XDG_CONFIG_HOME": tmp_path / "config"}.items():
        monkeypatch.setenv(name, str(value))
    monkeypatch.setenv("USER", "root")
    monkeypatch.setenv("LOGNAME", "root")
    monkeypatch.delenv("PROVENANCE_DB", raising=False)
    demo.build_show()
    demo.record()
    demo.deliver_and_finalize()
    names = list(blocks.marked(AUDITOR))
    assert names == [
        "demo-deliverables",
        "demo-lineage-history",
        "demo-disclosure",
        "demo-export-mhl",
    ]
    for name in names:
        run_as_the_page_shows(tmp_path / "show", name, AUDITOR)

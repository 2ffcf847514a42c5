"""`make demo`: build a small sample show and run the whole loop on the embedded SQLite ledger.

Every step is a real `provenance` command, printed before its output, as a new user would type it.
"""

from __future__ import annotations

import random
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from PIL import Image, ImageDraw
from PIL.PngImagePlugin import PngInfo

SHOW = Path(__file__).resolve().parent / "show"
FRAMES = range(1001, 1025)


def frame(path: Path, seed: str, tint: tuple[int, int, int]) -> None:
    """A 320x180 frame with a gradient and some shapes: real pixels, unique per frame."""
    rng = random.Random(seed)
    image = Image.new("RGB", (320, 180), tint)
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        x, y = rng.randrange(320), rng.randrange(180)
        r = rng.randrange(4, 30)
        colour = tuple(rng.randrange(256) for _ in range(3))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)


def build_show() -> None:
    if SHOW.exists():
        shutil.rmtree(SHOW)
    for number in FRAMES:
        if number != 1013:  # a dropped frame on the shoot: holes are recorded and shown
            frame(SHOW / "plates" / f"sh010_plate.{number}.tif", f"plate{number}", (40, 60, 90))
        frame(SHOW / "elements" / f"sky_gen_v001.{number}.tif", f"sky{number}", (120, 160, 220))
        frame(SHOW / "comp" / f"sh010_comp_v003.{number}.tif", f"comp{number}", (60, 70, 80))
    frame(SHOW / "concept" / "moodboard.png", "mood", (200, 180, 150))
    (SHOW / "plates" / "README.txt").write_text("Camera plates from the shoot, day 3.\n")
    (SHOW / "comp" / "sh010_comp_v003.nk").write_text(COMP_SCRIPT)


# The comp's Nuke script, as Nuke saves it: what it reads is the comp's lineage.
COMP_SCRIPT = r"""#! /usr/local/Nuke15.1v3/nuke-15.1.3 -nx
version 15.1 v3
Root {
 inputs 0
 name /mnt/show/comp/sh010_comp_v003.nk
 project_directory "\[file dirname \[file dirname \[value root.name]]]"
 first_frame 1001
 last_frame 1024
}
Read {
 inputs 0
 file plates/sh010_plate.%04d.tif
 first 1001
 last 1024
 name ReadPlate
}
Read {
 inputs 0
 file "\[value root.project_directory]/elements/sky_gen_v001.####.tif"
 first 1001
 last 1024
 name ReadSky
}
Merge2 {
 inputs 2
 name Merge1
}
Write {
 file "\[value root.project_directory]/comp/sh010_comp_v003.%04d.tif"
 file_type tiff
 name WriteComp
}
"""


def deliver() -> None:
    """The delivery folder the vendor sends: copies of the comp frames."""
    target = SHOW / "delivery" / "EP101"
    for source in sorted((SHOW / "comp").iterdir()):
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target / source.name)


def undeclared_matte() -> None:
    """A matte painting saved by AUTOMATIC1111: the prompt and settings ride in a PNG chunk."""
    info = PngInfo()
    info.add_text(
        "parameters",
        "matte painting of a ruined castle at dusk, volumetric light\n"
        "Negative prompt: blurry\n"
        "Steps: 30, Sampler: DPM++ 2M Karras, CFG scale: 7, Seed: 4242, Size: 1024x576, "
        "Model hash: 31e35c80fc, Model: sd_xl_base_1.0, Version: v1.9.4",
    )
    path = SHOW / "matte" / "castle_dmp_v001.png"
    frame(path, "castle", (90, 80, 70))
    with Image.open(path) as image:
        image.load()
        image.save(path, pnginfo=info)


def disguised_copy() -> None:
    """The first sky frame, resized and saved as a JPEG under a harmless name."""
    target = SHOW / "delivery" / "EP102" / "sh020_bg_cleanup_v002.jpg"
    target.parent.mkdir(parents=True, exist_ok=True)
    with Image.open(SHOW / "elements" / "sky_gen_v001.1001.tif") as image:
        image.resize((240, 135)).save(target, quality=80)
    frame(SHOW / "delivery" / "EP102" / "sh020_slate.png", "slate", (30, 30, 30))


def step(title: str, *args: str, allowed: tuple[int, ...] = (0,)) -> None:
    print(f"\n## {title}\n$ provenance {shlex.join(args)}", flush=True)
    done = subprocess.run(
        [sys.executable, "-m", "provenance", *args], cwd=SHOW, check=False, text=True
    )
    if done.returncode not in allowed:
        sys.exit(
            f"demo step failed with exit code {done.returncode}: provenance {shlex.join(args)}"
        )


def main() -> None:
    build_show()
    print(f"Sample show made in {SHOW}")
    record()
    deliver_and_finalize()
    audit_and_detect()


def record() -> None:
    """The artists' side: the ledger, the tool, and every asset with its origin and lineage."""
    step("Create the ledger (.provenance/ledger.db, found upward like .git)", "init")
    step(
        "Register the generative tool the vendor was approved to use",
        "tools", "add", "Runway Gen-4", "--vendor", "Runway", "--generative",
        "--trains-on-inputs", "no", "--secured", "yes",
    )  # fmt: skip
    step("Ingest the camera plates", "ingest", "plates/", "--origin", "capture", "--by", "alice")
    step(
        "Ingest a generated sky element",
        "ingest", "elements/sky_gen_v001.####.tif", "--origin", "ai", "--tool", "Runway Gen-4",
        "--by", "bob",
    )  # fmt: skip
    step(
        "Ingest the concept art",
        "ingest",
        "concept/moodboard.png",
        "--origin",
        "human",
        "--by",
        "dana",
    )
    step(
        "What the comp's Nuke script reads, and the recorded versions it would be linked to",
        "scene", "inputs", "comp/sh010_comp_v003.nk",
    )  # fmt: skip
    step(
        "Ingest the comp with its script: the lineage comes from the script, not from typing",
        "ingest", "comp/sh010_comp_v003.####.tif", "--origin", "human", "--tool", "Nuke@15.1",
        "--by", "carol", "--scene", "comp/sh010_comp_v003.nk", "--ref", "concept/moodboard.png",
    )  # fmt: skip
    step(
        "Re-tag after review (a new claim; claims are never overwritten)",
        "tag", "elements/sky_gen_v001.####.tif", "--origin", "ai", "--tool", "Runway Gen-4",
        "--note", "retag after review",
    )  # fmt: skip
    step("Re-ingest everything: unchanged files are not read again", "ingest", ".")
    step("The card of one frame of the comp", "show", "comp/sh010_comp_v003.1001.tif")
    step("The plate's card lists its dropped frame", "show", "plates/sh010_plate.####.tif")
    step("What the comp was made from", "lineage", "comp/sh010_comp_v003.####.tif", "--up")
    step("Everything derived from the plate", "lineage", "plates/sh010_plate.####.tif", "--down")
    step("The history of the generated sky", "history", "elements/sky_gen_v001.####.tif")


def deliver_and_finalize() -> None:
    """The TD's side: sweep, refusal, the studio's approval, the final deliverable."""
    deliver()
    step(
        "A TD sweeps the delivery: the comp contains the generated sky (exit 3, nothing recorded)",
        "sweep", "delivery/EP101", allowed=(3,),
    )  # fmt: skip
    step(
        "Finalizing is refused while temporary AI material is inside (only the refusal is recorded)",
        "finalize", "delivery/EP101", "--name", "EP101_VFX_v003", allowed=(3,),
    )  # fmt: skip
    step(
        "The studio approves the generated sky in writing: the approval is bound to its exact "
        "bytes, and covers every comp that contains exactly that version",
        "approve", "elements/sky_gen_v001.####.tif", "--ref", "NFX-1234 email 2026-11-20",
        "--by", "jane (Netflix VFX)",
    )  # fmt: skip
    step(
        "Now the delivery is final, with a manifest beside it",
        "finalize", "delivery/EP101", "--name", "EP101_VFX_v003",
    )  # fmt: skip


def audit_and_detect() -> None:
    """The auditor's side, then what the detectors catch that nobody declared."""
    step("Years later: does the delivery still match?", "verify", "EP101_VFX_v003")
    step(
        "Which deliverables hold the generated sky? (through the comp, by the gate's own judge)",
        "deliverables", "--contains", "elements/sky_gen_v001.####.tif",
    )  # fmt: skip
    step(
        "What goes to the studio contact: per deliverable, every GenAI use and its approval",
        "report", "disclosure",
    )  # fmt: skip
    step(
        "The deliverable's chain of custody as an ASC MHL history (ascmhl verifies it)",
        "export", "mhl", "EP101_VFX_v003", "--hash", "xxh128,md5",
    )  # fmt: skip
    step(
        "Its provenance as W3C PROV, for the studio's own systems",
        "export", "prov", "--deliverable", "EP101_VFX_v003", "-o", "EP101_VFX_v003.prov.json",
    )  # fmt: skip
    undeclared_matte()
    step(
        "An artist ingests a matte painting as human work; the file carries a generator's prompt",
        "ingest", "matte/", "--origin", "human", "--by", "erin",
    )  # fmt: skip
    step(
        "Its card shows the disagreement and the signal the file carried",
        "show", "matte/castle_dmp_v001.png",
    )  # fmt: skip
    disguised_copy()
    step(
        "A re-encoded, resized copy of the generated sky slipped into another delivery (exit 3)",
        "sweep", "delivery/EP102", allowed=(3,),
    )  # fmt: skip
    step(
        "Bad input gets a clear error and exit 1",
        "ingest", "elements/sky_gen_v002.####.tif", "--origin", "ai", "--tool", "Runway Gen4",
        allowed=(1,),
    )  # fmt: skip
    report = SHOW / "EP101_VFX_v003.html"
    step(
        "The delivery report a producer opens and a supervisor prints: one self-contained page",
        "report", "delivery", "EP101_VFX_v003", "--html", str(report),
    )  # fmt: skip
    print(
        "\nDemo complete. The ledger is demo/show/.provenance/ledger.db; try `--json` on any read "
        f"command.\nThe HTML report of the finalized delivery: {report}"
    )


if __name__ == "__main__":
    main()

"""Scene lineage benchmark: a 5,000-node Nuke script with 500 Reads, pinned in a 1,000,000-asset ledger.

    .venv/bin/python bench/scenes.py              # 1,000,000 assets (SQLite; the load takes minutes)
    .venv/bin/python bench/scenes.py --quick      # 100,000 assets (a smoke run)
    .venv/bin/python bench/scenes.py --assets 300000 --keep

What is measured (best and median of --repeat runs, in one process after one warm-up run):

  parse      `read_scene` of the script: 5,000 nodes (500 Reads, 100 of them in Groups two deep,
             half `%04d` and half `####`, each with first/last; Grade, Merge2, Transform, Dot
             and Blur nodes with their usual knobs; a Write), about 1.3 MB of text.
  pin        `Ledger.scene_inputs(script)`: the parse, then every input found on disk (500
             sequences of 4 frames: 2,000 files, all vouched for by the stat cache), and matched
             against every recorded version of its asset. This is what `ingest --scene` does
             before it writes. Target: under 1 s.
  ingest     `Ledger.ingest([render], scene=script)` of a 4-frame render whose lineage is the
             500 inputs (pinning, the 501 edges and the render itself, one transaction); each run
             is a new render (new bytes), so every run writes. Target: under 1 s.

The ledger: `bench/ledger_scale.py`'s load (1,000,000 assets of shots of 20, with lineage and
claims; no files on disk), then the 500 input sequences written to disk, aged out of the racy
window, and recorded by a real `Ledger.ingest` (so the stat cache holds them), and a second
version of 100 of them (the first version on disk again for 50: pinned to an older version).

Peers, measured in the same run: parse against a regular-expression scan of the script's `file`
knobs (the floor of reading the text at all); pin against `os.stat` of the 2,000 input files
(the floor of looking at the disk).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ingest import DEFAULT_WORK, Row, log, report
from ledger_scale import fresh_work_folder, ms, run_child

READS = 500
NODES = 5000
FRAMES = range(1001, 1005)
GROUPED = 100
REVERSIONED = 100
TARGET_SECONDS = 1.0


def write_inputs(folder: Path) -> list[Path]:
    """500 four-frame sequences of 1 KiB frames, aged 60 s into the past."""
    patterns = []
    past = time.time() - 60
    for index in range(READS):
        sub = folder / f"el{index // 50:02d}"
        sub.mkdir(parents=True, exist_ok=True)
        for frame in FRAMES:
            path = sub / f"element_{index:03d}.{frame}.exr"
            path.write_bytes(os.urandom(1024))
            os.utime(path, (past, past))
        patterns.append(sub / f"element_{index:03d}.####.exr")
    return patterns


def write_script(path: Path, patterns: list[Path]) -> None:
    lines = [
        "#! /usr/local/Nuke15.1v3/nuke-15.1.3 -nx",
        "version 15.1 v3",
        "Root {",
        " inputs 0",
        f" name {path}",
        ' project_directory "\\[python \\{nuke.script_directory()\\}]"',
        " first_frame 1001",
        " last_frame 1004",
        "}",
    ]
    others = ("Grade", "Merge2", "Transform", "Dot", "Blur")
    filler = NODES - READS - 1 - 2 * (GROUPED // 10)
    per_read = filler // READS
    node = 0
    for index, pattern in enumerate(patterns):
        grouped = index < GROUPED
        if grouped and index % 10 == 0:
            lines += [
                "Group {",
                f" name Outer{index}",
                "}",
                " Group {",
                f"  name Inner{index}",
                " }",
            ]
        text = str(pattern).replace("####", "%04d") if index % 2 else str(pattern)
        pad = "  " if grouped else ""
        lines += [
            f"{pad}Read {{",
            f"{pad} inputs 0",
            f"{pad} file_type exr",
            f"{pad} file {text}",
            f'{pad} format "2048 1080 0 0 2048 1080 1 2K_DCP"',
            f"{pad} first {FRAMES[0]}",
            f"{pad} last {FRAMES[-1]}",
            f"{pad} origfirst {FRAMES[0]}",
            f"{pad} origlast {FRAMES[-1]}",
            f"{pad} origset true",
            f"{pad} name Read{index}",
            f"{pad} xpos {index * 110}",
            f"{pad} ypos -400",
            f"{pad}}}",
        ]
        if grouped and index % 10 == 9:
            lines += [" end_group", "end_group"]
        for _ in range(per_read):
            cls = others[node % len(others)]
            lines += [
                f"{cls} {{",
                " inputs 2" if cls == "Merge2" else " inputs 1",
                " white {1.02 1.01 0.98 1}" if cls == "Grade" else " size 2.5",
                ' label "\\[value name]"',
                f" name {cls}{node}",
                f" xpos {node * 3}",
                f" ypos {node % 400}",
                "}",
            ]
            node += 1
    lines += [
        "Write {",
        ' file "\\[value root.project_directory]/render/comp_v###.%04d.exr"',
        " file_type exr",
        " name Write1",
        "}",
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def timed(function: object, repeat: int) -> list[float]:
    seconds = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()  # type: ignore[operator]
        seconds.append(time.perf_counter() - started)
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--assets", type=int, default=1_000_000, help="assets to load")
    parser.add_argument("--quick", action="store_true", help="100,000 assets (a smoke run)")
    parser.add_argument("--repeat", type=int, default=5, help="runs of each measurement")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK / "scenes", help="work folder")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--strict", action="store_true", help="exit 1 on a MISS")
    args = parser.parse_args()
    assets = 100_000 if args.quick else args.assets
    load_before = os.getloadavg()[0]
    work = fresh_work_folder(args.work)
    workspace = work / "workspace"
    workspace.mkdir()
    url = str(work / "ledger.db")

    log(f"loading {assets:,} assets with bench/ledger_scale.py's load")
    scale = str(Path(__file__).resolve().parent / "ledger_scale.py")
    loaded = run_child(scale, "load", url, str(workspace), str(assets), str(work / "versions.bin"))
    log(f"loaded in {float(loaded['seconds']):.0f} s")

    from provenance import Ledger
    from provenance.scenes import read_scene

    shot = workspace / "shows" / "scenes_bench"
    patterns = write_inputs(shot / "elements")
    script = shot / "comp" / "comp_v001.nk"
    script.parent.mkdir(parents=True)
    write_script(script, patterns)
    with Ledger.open(url, cwd=workspace) as ledger:
        ledger.ingest([str(shot / "elements")], origin="human", by="bench", workers=1)
        # A second version of 100 inputs; 50 of them then back on disk as the first version.
        kept = {}
        for pattern in patterns[:REVERSIONED]:
            for frame in FRAMES:
                path = Path(str(pattern).replace("####", str(frame)))
                kept[path] = path.read_bytes()
                path.write_bytes(os.urandom(1024))
        ledger.ingest([str(p) for p in patterns[:REVERSIONED]], origin="human", workers=1)
        for path, data in list(kept.items())[: len(kept) // 2]:
            path.write_bytes(data)
        past = time.time() - 60
        for path in kept:
            os.utime(path, (past, past))
        ledger.scene_inputs(str(script), workers=1)  # the stat cache learns the rewritten frames

        text = script.read_text(encoding="utf-8")
        knobs = re.compile(r"(?m)^\s*file (\S+)")
        parse = timed(lambda: read_scene(script), args.repeat)
        floor_parse = timed(lambda: knobs.findall(text), args.repeat)
        files = [p for p in shot.joinpath("elements").rglob("*.exr")]
        pin = timed(lambda: ledger.scene_inputs(str(script), workers=1), args.repeat)
        floor_pin = timed(lambda: [os.stat(p) for p in files], args.repeat)
        lineage = ledger.scene_inputs(str(script), workers=1)
        statuses: dict[str, int] = {}
        for item in lineage.inputs:
            statuses[item.status] = statuses.get(item.status, 0) + 1
        older = sum(1 for i in lineage.inputs if i.latest is not None)

        renders = script.parent / "render"
        renders.mkdir()
        ingest_seconds = []
        edges = 0
        for run in range(args.repeat):
            for frame in FRAMES:
                (renders / f"comp_v{run + 1:03d}.{frame}.exr").write_bytes(os.urandom(4096))
            script.write_text(text.replace("comp_v###", f"comp_v{run + 1:03d}"), encoding="utf-8")
            started = time.perf_counter()
            made = ledger.ingest(
                [str(renders / f"comp_v{run + 1:03d}.####.exr")],
                origin="human",
                tool="Nuke@15.1",
                scene=str(script),
                workers=1,
            )
            ingest_seconds.append(time.perf_counter() - started)
            edges = made.edges_added

    def cell(values: list[float]) -> str:
        return f"{ms(min(values))} (median {ms(statistics.median(values))})"

    rows = [
        Row(
            f"parse {NODES:,} nodes, {READS} Reads ({script.stat().st_size / 1e6:.1f} MB)",
            cell(parse),
            f"regex scan {ms(min(floor_parse))}",
            f"{min(parse) / min(floor_parse):.0f}x",
            "-",
            None,
        ),
        Row(
            f"scene inputs: parse + pin {READS} inputs ({len(files):,} files), "
            f"{assets:,}-asset ledger",
            cell(pin),
            f"os.stat {ms(min(floor_pin))}",
            f"{min(pin) / min(floor_pin):.0f}x",
            f"< {TARGET_SECONDS:.0f} s",
            min(pin) < TARGET_SECONDS,
        ),
        Row(
            f"ingest --scene: a render with {edges} lineage links",
            cell(ingest_seconds),
            "-",
            "-",
            f"< {TARGET_SECONDS:.0f} s",
            min(ingest_seconds) < TARGET_SECONDS,
        ),
    ]
    print(f"\ninputs resolved: {statuses} ({older} pinned to an older version than their latest)")
    code = report(rows, args, load_before)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return code


if __name__ == "__main__":
    sys.exit(main())

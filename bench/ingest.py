"""Ingest benchmarks: our ingester against reference programs, run side by side, printed as ratios.

    .venv/bin/python bench/ingest.py             # large frames, many small files, unchanged re-ingest
    .venv/bin/python bench/ingest.py --quick     # the same on smaller trees (a smoke run)
    .venv/bin/python bench/ingest.py --million   # also peak memory while ingesting 1,000,000 files
    .venv/bin/python bench/ingest.py --only small --keep

Every tree is generated here, in a work folder (bench/_work by default, git-ignored), and removed
at the end unless --keep is given. Each ingest runs in a child process of its own (this script
again, with --child), so that its wall time, peak memory and the bytes its process tree read
are its own; "ours" is the wall time of `Ledger.ingest` in it (scan, hash, ledger writes and
the commit; not the interpreter's start). Runs are interleaved with the reference programs and
the best of --repeat counts, as a shared machine is noisy. Nothing here asserts wall-clock
times: the table says PASS or MISS against the targets of the issue (--strict exits 1 on a
MISS).

References:
  large frames   `find DIR -type f -print0 | xargs -0 -P2 xxhsum -H2` (Debian package xxhash)
                 and `ascmhl create -h xxh128 DIR` (PyPI package ascmhl, the `bench` extra)
  small files    the same xxhsum pipeline, for scale (the target itself is in files/s)
  re-ingest      `find DIR -type f -printf ...`: a bare walk that stats every file
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

MiB = 1 << 20
KiB = 1 << 10
# The stat cache distrusts files changed within this window of their recording (the racy rule):
# wait it out after generating a tree, or the first re-ingest re-reads the newest files.
RACY_WAIT_S = 2.2
DEFAULT_WORK = Path(__file__).resolve().parent / "_work"
XXHSUM_PIPELINE = "find {dir} -type f -print0 | xargs -0 -P2 xxhsum -H2 > /dev/null"
STAT_WALK = "find {dir} -type f -printf '%s %T@ %C@ %i\\n' > /dev/null"


# ---------------------------------------------------------------------------------------------
# Trees


@dataclass(frozen=True)
class TreeSpec:
    name: str
    files: int
    folders: int
    min_size: int
    max_size: int


def large_spec(quick: bool) -> TreeSpec:
    return TreeSpec("large", 200 if quick else 2_000, 10, 256 * KiB, 2 * MiB)


def small_spec(quick: bool) -> TreeSpec:
    return TreeSpec("small", 10_000 if quick else 100_000, 100 if quick else 1_000, KiB, 64 * KiB)


def million_spec(quick: bool) -> TreeSpec:
    return TreeSpec("million", 100_000 if quick else 1_000_000, 1_000 if quick else 10_000, 16, 512)


DEPARTMENTS = (
    "plates",
    "comp",
    "lighting",
    "fx",
    "roto",
    "paint",
    "anim",
    "cam",
    "textures",
    "ref",
)
RENDERED = frozenset({"plates", "comp", "lighting", "fx"})
SINGLE_NAMES = (
    "{shot}_{dept}_{task}_v{v:03d}.nk",
    "{shot}_{dept}_{task}_v{v:03d}.nk~",
    "{shot}_{dept}_{task}_v{v:03d}.hip",
    "{shot}_{dept}_{task}_v{v:03d}.ma",
    "{shot}_{dept}_{task}_v{v:03d}.abc",
    "{shot}_{dept}_{task}_v{v:03d}.usd",
    "{shot}_{task}_matte_v{v:03d}.png",
    "{shot}_{task}_review_v{v:03d}.mov",
    "{shot}_{task}_notes_v{v:03d}.txt",
    "IMG_{n:04d}.JPG",
    "{task}_thumbnail_v{v:03d}.jpg",
    "{shot}_{task}_v{v:03d}_{n}.json",
)
TASKS = (
    "main",
    "bg",
    "fg",
    "hero",
    "crowd",
    "sky",
    "dmp",
    "cleanup",
    "key",
    "rim",
    "smoke",
    "dust",
)


def folder_plan(spec: TreeSpec) -> Iterator[tuple[str, int]]:
    """(relative folder, how many files it holds): shows/seq/shot/department, about even."""
    per_folder, extra = divmod(spec.files, spec.folders)
    for index in range(spec.folders):
        seq = f"sq{(index // 100) * 10 + 10:03d}"
        shot = f"sh{(index // 10) * 10 + 10:04d}"
        dept = DEPARTMENTS[index % len(DEPARTMENTS)]
        yield f"{seq}/{shot}/{dept}", per_folder + (1 if index < extra else 0)


def names_for_folder(folder: str, count: int, rng: random.Random) -> list[str]:
    """VFX-ish file names: frame sequences (some with holes) in render folders, UDIM tiles in
    texture folders, and many single files (scripts, caches, mattes, notes) everywhere."""
    shot = folder.split("/")[1]
    dept = folder.split("/")[2]
    names: list[str] = []
    if dept in RENDERED:
        # About 70% of a render folder is frames, in one to three sequences.
        frames_total = int(count * 0.7)
        sequences = rng.randint(1, 3)
        for s in range(sequences):
            length = frames_total // sequences
            task = TASKS[(s + len(folder)) % len(TASKS)]
            first = 1001
            for frame in range(first, first + length + 1):
                if len(names) >= frames_total or (frame - first) % 97 == 50:
                    continue  # an occasional hole
                names.append(f"{shot}_{dept}_{task}_v{s + 1:03d}.{frame:04d}.exr")
    elif dept == "textures":
        for asset in range(count // 20):
            for tile in range(1001, 1011):
                names.append(f"{shot}_prop{asset:02d}_diffuse_v001.{tile}.tx")
    serial = 0
    while len(names) < count:
        pattern = SINGLE_NAMES[serial % len(SINGLE_NAMES)]
        task = TASKS[(serial // len(SINGLE_NAMES)) % len(TASKS)]
        version = serial // (len(SINGLE_NAMES) * len(TASKS)) + 1
        names.append(
            pattern.format(shot=shot, dept=dept, task=task, v=version, n=serial + 4000 * version)
        )
        serial += 1
    return names[:count]


def large_names(spec: TreeSpec) -> Iterator[tuple[str, str]]:
    """Plates: one 4K-ish frame sequence per shot folder."""
    per_folder = spec.files // spec.folders
    for index in range(spec.folders):
        shot = f"sh{index * 10 + 10:04d}"
        folder = f"sq010/{shot}/plates"
        for frame in range(1001, 1001 + per_folder):
            yield folder, f"{shot}_plate_v001.{frame:04d}.exr"


def generate(spec: TreeSpec, root: Path, seed: int = 2025) -> tuple[int, int]:
    """Write the tree under `root` (which must not exist). Returns (files, bytes)."""
    rng = random.Random(seed)
    pool = rng.randbytes(spec.max_size + 4 * MiB)
    if spec.name == "large":
        entries: Iterator[tuple[str, str]] = large_names(spec)
    else:
        entries = (
            (folder, name)
            for folder, count in folder_plan(spec)
            for name in names_for_folder(folder, count, rng)
        )
    files = total = 0
    made: set[str] = set()
    for folder, name in entries:
        path = root / folder
        if folder not in made:
            path.mkdir(parents=True, exist_ok=True)
            made.add(folder)
        size = rng.randint(spec.min_size, spec.max_size)
        offset = rng.randrange(len(pool) - size)
        header = f"{folder}/{name}\n".encode()
        with open(path / name, "wb") as out:
            out.write(header[:size])
            if size > len(header):
                out.write(pool[offset : offset + size - len(header)])
        files += 1
        total += size
    return files, total


def ensure_tree(spec: TreeSpec, work: Path, keep: bool) -> tuple[Path, int, int]:
    """The tree of `spec` under work/, generated unless a kept one with the same spec exists."""
    root = work / spec.name / "tree"
    marker = work / spec.name / "spec.json"
    wanted = json.dumps(spec.__dict__, sort_keys=True)
    if keep and marker.exists():
        saved = json.loads(marker.read_text())
        if saved["spec"] == wanted:
            log(f"{spec.name}: reusing {root}")
            return root, saved["files"], saved["bytes"]
    shutil.rmtree(work / spec.name, ignore_errors=True)
    log(f"{spec.name}: generating {spec.files:,} files in {spec.folders:,} folders under {root}")
    started = time.perf_counter()
    files, total = generate(spec, root)
    marker.write_text(json.dumps({"spec": wanted, "files": files, "bytes": total}))
    log(
        f"{spec.name}: {files:,} files, {total / 1e9:.2f} GB in {time.perf_counter() - started:.1f} s"
    )
    settle()
    time.sleep(RACY_WAIT_S)
    return root, files, total


def warm_cache(root: Path) -> None:
    """Read every file once so that every program below reads from the page cache."""
    subprocess.run(
        f"find {root} -type f -print0 | xargs -0 cat > /dev/null", shell=True, check=True
    )


# ---------------------------------------------------------------------------------------------
# Running things


def log(message: str) -> None:
    print(f"  .. {message}", file=sys.stderr, flush=True)


def settle() -> None:
    """Flush dirty pages (a generated tree, the last run's ledger) so that no run pays for them."""
    os.sync()


def timed_shell(command: str) -> float:
    settle()
    started = time.perf_counter()
    done = subprocess.run(command, shell=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{command} failed ({done.returncode}): {done.stderr.decode()[-2000:]}")
    return seconds


def seconds_list(times: list[float]) -> str:
    return ", ".join(f"{t:.2f}" for t in times) + " s"


def descendants(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return found
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as listing:
                children = [int(c) for c in listing.read().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
        for child in children:
            found.append(child)
            found.extend(descendants(child))
    return found


def proc_io(pid: int | str) -> dict[str, int]:
    """/proc/<pid>/io: of the process and of every child it has reaped."""
    try:
        with open(f"/proc/{pid}/io") as stats:
            return {k: int(v) for k, v in (line.split(":") for line in stats)}
    except (FileNotFoundError, ProcessLookupError):
        return {}


def rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (FileNotFoundError, ProcessLookupError):
        return 0


class TreeRssSampler(threading.Thread):
    """Samples the summed RSS of a process and its descendants (workers, forkserver)."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.interval = interval
        self.peak = 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            total = rss_bytes(self.pid) + sum(rss_bytes(p) for p in descendants(self.pid))
            self.peak = max(self.peak, total)
            self._halt.wait(self.interval)

    def stop(self) -> None:
        self._halt.set()
        self.join()


def child_ingest(workspace: str, folder: str, workers: int | None) -> None:
    """Run in a child process: one ingest through the library, measured from inside."""
    from provenance import Ledger

    ledger = Ledger.create(str(Path(workspace) / ".provenance" / "ledger.db"), cwd=Path(workspace))
    before = proc_io("self")
    started = time.perf_counter()
    report = ledger.ingest([folder], workers=workers)
    seconds = time.perf_counter() - started
    after = proc_io("self")
    # Worker processes are children of the forkserver, which counts them when it reaps them.
    tree = [proc_io(pid) for pid in descendants(os.getpid())]
    ledger.close()
    rchar = after["rchar"] - before["rchar"] + sum(io.get("rchar", 0) for io in tree)
    result = {
        "seconds": seconds,
        "files_new": report.files_new,
        "files_unchanged": report.files_unchanged,
        "files_changed": report.files_changed,
        "files_read": report.files_read,
        "bytes_read": report.bytes_read,
        "bytes_total": report.bytes_total,
        "assets": report.asset_count,
        "skipped": len(report.skipped),
        "rchar": rchar,
        "maxrss_self": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }
    print(json.dumps(result))


@dataclass
class IngestRun:
    seconds: float
    process_seconds: float
    tree_peak_rss: int
    data: dict[str, int]


def run_ingest(workspace: Path, folder: Path, workers: int | None, fresh: bool) -> IngestRun:
    if fresh:
        shutil.rmtree(workspace / ".provenance", ignore_errors=True)
    settle()
    command = [sys.executable, __file__, "--child", str(workspace), str(folder)]
    if workers is not None:
        command += ["--workers", str(workers)]
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    sampler = TreeRssSampler(child.pid)
    sampler.start()
    out, _ = child.communicate()
    process_seconds = time.perf_counter() - started
    sampler.stop()
    if child.returncode != 0:
        raise SystemExit(f"ingest child failed with exit code {child.returncode}")
    data = json.loads(out.strip().splitlines()[-1])
    if data["skipped"]:
        raise SystemExit(f"ingest skipped {data['skipped']} files: the benchmark tree is broken")
    return IngestRun(data["seconds"], process_seconds, sampler.peak, data)


# ---------------------------------------------------------------------------------------------
# Measurements


@dataclass
class Row:
    measurement: str
    ours: str
    reference: str
    ratio: str
    target: str
    passed: bool | None
    """None: shown for context, no target."""


def gb(n: int) -> str:
    return f"{n / 1e9:.2f} GB"


def mib(n: int) -> str:
    return f"{n / MiB:.0f} MiB"


def bench_large(args: argparse.Namespace, work: Path) -> list[Row]:
    spec = large_spec(args.quick)
    tree, files, total = ensure_tree(spec, work, args.keep)
    workspace = tree.parent
    warm_cache(tree)
    mhl_dir = tree / "ascmhl"
    ascmhl_command = f"{Path(sys.executable).parent / 'ascmhl'} create -h xxh128 {tree}"

    def ascmhl() -> float:
        # ascmhl writes its history into the tree: never let it outlive its own run.
        shutil.rmtree(mhl_dir, ignore_errors=True)
        try:
            return timed_shell(ascmhl_command)
        finally:
            shutil.rmtree(mhl_dir, ignore_errors=True)

    # Interleaved, so that a noisy moment of a shared machine hits every program alike.
    xxh_runs, our_runs, mhl_runs = [], [], []
    for _ in range(args.repeat):
        xxh_runs.append(timed_shell(XXHSUM_PIPELINE.format(dir=tree)))
        our_runs.append(run_ingest(workspace, tree, args.workers, fresh=True).seconds)
        mhl_runs.append(ascmhl())
    log(f"large: xxhsum {seconds_list(xxh_runs)}")
    log(f"large: ours   {seconds_list(our_runs)}")
    log(f"large: ascmhl {seconds_list(mhl_runs)}")
    xxh, ours, mhl = min(xxh_runs), min(our_runs), min(mhl_runs)
    label = f"large frames: first ingest ({files:,} files, {gb(total)})"
    return [
        Row(
            f"{label} vs xxhsum",
            f"{ours:.2f} s ({total / ours / 1e9:.2f} GB/s)",
            f"{xxh:.2f} s ({total / xxh / 1e9:.2f} GB/s)",
            f"{ours / xxh:.2f}x time",
            "<= 1.5x time",
            ours <= 1.5 * xxh,
        ),
        Row(
            f"{label} vs ascmhl",
            f"{ours:.2f} s",
            f"{mhl:.2f} s",
            f"{mhl / ours:.2f}x faster",
            ">= 3x faster",
            mhl >= 3 * ours,
        ),
    ]


def bench_small(args: argparse.Namespace, work: Path) -> list[Row]:
    spec = small_spec(args.quick)
    tree, files, total = ensure_tree(spec, work, args.keep)
    workspace = tree.parent
    warm_cache(tree)
    xxh_runs: list[float] = []
    walk_runs: list[float] = []
    firsts: list[IngestRun] = []
    agains: list[IngestRun] = []
    for _ in range(args.repeat):
        xxh_runs.append(timed_shell(XXHSUM_PIPELINE.format(dir=tree)))
        firsts.append(run_ingest(workspace, tree, args.workers, fresh=True))
        walk_runs.append(timed_shell(STAT_WALK.format(dir=tree)))
        agains.append(run_ingest(workspace, tree, args.workers, fresh=False))
    log(f"small: xxhsum       {seconds_list(xxh_runs)}")
    log(f"small: first ingest {seconds_list([r.seconds for r in firsts])}")
    log(f"small: find -printf {seconds_list(walk_runs)}")
    log(f"small: re-ingest    {seconds_list([r.seconds for r in agains])}")
    xxh, walk = min(xxh_runs), min(walk_runs)
    first = min(firsts, key=lambda r: r.seconds)
    again = min(agains, key=lambda r: r.seconds)
    if again.data["files_unchanged"] != files:
        log(f"small: re-ingest trusted only {again.data['files_unchanged']:,} of {files:,} files")
    ledger_size = (workspace / ".provenance" / "ledger.db").stat().st_size
    rchar = max(r.data["rchar"] for r in agains)
    files_read = max(r.data["files_read"] for r in agains)
    label = f"{files:,} small files, {spec.folders:,} folders, {gb(total)}"
    return [
        Row(
            f"{label}: first ingest",
            f"{files / first.seconds:,.0f} files/s ({first.seconds:.2f} s)",
            f"xxhsum {files / xxh:,.0f} files/s",
            f"{xxh / first.seconds:.2f}x",
            ">= 20,000 files/s",
            files / first.seconds >= 20_000,
        ),
        Row(
            f"{label}: unchanged re-ingest",
            f"{files / again.seconds:,.0f} files/s ({again.seconds:.2f} s)",
            f"find -printf {files / walk:,.0f} files/s",
            f"{walk / again.seconds:.2f}x",
            ">= 150,000 files/s",
            files / again.seconds >= 150_000,
        ),
        Row(
            "  unchanged re-ingest: files and bytes read (rchar of the whole process tree)",
            f"{files_read} files, {mib(rchar)}",
            f"tree {mib(total)}, ledger {mib(ledger_size)}",
            f"{rchar / total:.2%} of tree",
            "reads no file contents",
            # What was read is the ledger itself (SQLite pages, some twice), not the tree.
            files_read == 0 and rchar < ledger_size * 2 + 32 * MiB,
        ),
    ]


def bench_million(args: argparse.Namespace, work: Path) -> list[Row]:
    spec = million_spec(args.quick)
    tree, files, _total = ensure_tree(spec, work, args.keep)
    workspace = tree.parent
    first = run_ingest(workspace, tree, args.workers, fresh=True)
    again = run_ingest(workspace, tree, args.workers, fresh=False)
    log(f"million: first {first.seconds:.1f} s, again {again.seconds:.1f} s")
    label = f"{files:,} tiny files ({first.data['assets']:,} assets)"
    rows = []
    for name, run in (("first ingest", first), ("unchanged re-ingest", again)):
        rss = run.data["maxrss_self"]
        rows.append(
            Row(
                f"{label}: {name}, peak RSS",
                f"{mib(rss)} ({files / run.seconds:,.0f} files/s)",
                f"tree {mib(run.tree_peak_rss)}",
                "-",
                "< 300 MiB",
                rss < 300 * MiB,
            )
        )
    return rows


BENCHES: dict[str, Callable[[argparse.Namespace, Path], list[Row]]] = {
    "large": bench_large,
    "small": bench_small,
    "million": bench_million,
}


def print_table(rows: list[Row]) -> None:
    header = ("measurement", "ours", "reference", "ratio", "target", "")
    cells = [header] + [
        (
            r.measurement,
            r.ours,
            r.reference,
            r.ratio,
            r.target,
            "-" if r.passed is None else "PASS" if r.passed else "MISS",
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for index, row in enumerate(cells):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
        if index == 0:
            print("  ".join("-" * width for width in widths))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smaller trees, one repetition")
    parser.add_argument("--only", choices=sorted(BENCHES), action="append", help="run only these")
    parser.add_argument("--million", action="store_true", help="also measure memory on 1M files")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK, help="where trees are made")
    parser.add_argument("--keep", action="store_true", help="keep (and reuse) generated trees")
    parser.add_argument("--repeat", type=int, default=None, help="runs per measurement (best)")
    parser.add_argument(
        "--workers", type=int, default=None, help="hashing processes (default: all cores)"
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--child", nargs=2, metavar=("WORKSPACE", "FOLDER"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_ingest(args.child[0], args.child[1], args.workers)
        return 0
    if args.repeat is None:
        args.repeat = 1 if args.quick else 3
    selected = args.only or ["large", "small", *(["million"] if args.million else [])]
    missing = [tool for tool in ("xxhsum", "find", "xargs") if shutil.which(tool) is None]
    if "large" in selected and not (Path(sys.executable).parent / "ascmhl").exists():
        missing.append("ascmhl (pip install -e '.[bench]')")
    if missing:
        print(
            f"missing reference programs: {', '.join(missing)}. Install xxhsum with "
            "`apt-get install xxhash` and ascmhl with `pip install -e '.[bench]'`.",
            file=sys.stderr,
        )
        return 2
    work: Path = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    rows: list[Row] = []
    load_before = os.getloadavg()[0]
    try:
        for name in selected:
            rows.extend(BENCHES[name](args, work))
    finally:
        if not args.keep:
            for name in selected:
                shutil.rmtree(work / name, ignore_errors=True)
    return report(rows, args, load_before)


def report(rows: list[Row], args: argparse.Namespace, load_before: float) -> int:
    """Print the table with the conditions it was measured in; exit 1 on a MISS with --strict."""
    print()
    print(
        f"cores: {os.cpu_count()}, python {sys.version.split()[0]}, best of {args.repeat}, "
        f"load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after"
    )
    print_table(rows)
    missed = any(r.passed is False for r in rows)
    return 1 if missed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())

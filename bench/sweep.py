"""Sweep benchmark: `Ledger.sweep` of a 100,000-file delivery, warm and cold, against reference programs.

    .venv/bin/python bench/sweep.py            # 1,000 shots x 100 frames (100,000 files)
    .venv/bin/python bench/sweep.py --quick    # 100 shots x 100 frames, one repetition (a smoke run)
    .venv/bin/python bench/sweep.py --keep     # keep (and reuse) the generated delivery
    .venv/bin/python bench/sweep.py --profile  # also time the phases of a warm and a cold sweep, and cProfile them
    .venv/bin/python bench/sweep.py --only frames  # only the frame-sized delivery (finalize)
    .venv/bin/python bench/sweep.py --only strong  # only what finalize --strong costs

The delivery is generated in a work folder (bench/_work/sweep by default, git-ignored) and
removed at the end unless --keep is given: a workspace holding the ledger and `delivery/`, one
comp frame sequence per shot (`sqNNN/shNNNN/comp/shNNNN_comp_v001.####.exr`, frames 1001-1100),
every frame 4-16 KiB of incompressible bytes (about 1 GB in all). It is ingested once with
`Ledger.ingest([delivery], origin="capture")`, more than the racy window after it was written,
so that the stat cache trusts every file. Then:

  warm   `Ledger.sweep(delivery)` once unmeasured, then measured: every file is trusted from
         the stat cache, nothing is read; the default policy is evaluated on every file.
         Reference: `find DIR -type f -printf ...`, a bare walk that stats every file.
  cold   `Ledger.sweep(copy)` of `cp -a delivery outgoing` (new paths, new inodes): the ledger
         holds nothing under it, so the workers list, group and hash it a folder at a time and
         each copied asset is looked up by its digest; then the stat cache is refreshed with
         what was read (the sweep's own write: a seal a folder of copies). Before each cold
         run the ledger is put back as it was before the first one, so every run is cold.
         Reference: `find DIR -type f -print0 | xargs -0 -P2 xxhsum -H2` over the same copy.
  copy   `Ledger.sweep(copy)` again, right after a cold run: unchanged since the last sweep,
         as a TD re-sweeps the outgoing folder. The cold sweep sealed its folders as exact
         copies, so nothing is read or looked up file by file. Reference: the same walk.

A second delivery holds frame-sized files (2,000 frames of 1-1.5 MiB, about 2.5 GB; --quick:
200), ingested the same way, then copied:

  frames cold   `Ledger.sweep(copy)` of the fresh copy. Reference: xxhsum as above.
  finalize      `Ledger.finalize(copy)`: it reads every byte (it trusts no row of the ledger),
                then checks and records under the write lock, trusting only its own reading.
                Before each run the ledger is put back and the manifest removed, so every
                finalize is the first. Reference: xxhsum over the same copy.

  from storage  the cold sweep and the finalize again, each run (and each xxhsum) after the
                page cache is emptied (`/proc/sys/vm/drop_caches`, root only; else the rows
                say they were not measured): the delivery read from storage, as a finalize
                meets one written hours before. In memory, xxhsum reads the 2.6 GB in about
                0.12 s and a finalize's fixed work under the lock (0.1 s) weighs as much.

  strong        `Ledger.finalize(copy, strong=...)` with no strong digest, SHA-256 and BLAKE3
                (each computed in the same read as xxh3-128), the ledger put back before each.
                Reference: sha256sum and b3sum (if installed) over the same copy.

Each sweep runs in a child process of its own (this script again, with --child); "ours" is the
wall time of `Ledger.sweep` in it (walk, stat cache, hashing, resolution, facts, policy and the
cache refresh; not the interpreter's start, the library's imports nor opening the ledger). Both trees are read into
the page cache first, so that every program reads from memory. Runs are interleaved with the
reference programs and the best of --repeat counts. Nothing here asserts wall-clock times: the
table says PASS or MISS against the targets of the issue (--strict exits 1 on a MISS).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

# bench/ingest.py: the shared conventions.
from ingest import (
    RACY_WAIT_S,
    STAT_WALK,
    XXHSUM_PIPELINE,
    KiB,
    MiB,
    Row,
    gb,
    log,
    mib,
    report,
    seconds_list,
    settle,
    timed_shell,
    warm_cache,
)

DEFAULT_WORK = Path(__file__).resolve().parent / "_work"
WARM_TARGET_FILES_S = 100_000
COLD_TARGET_RATIO = 1.8
FRAMES_COLD_TARGET_RATIO = 1.2
FINALIZE_TARGET_RATIO = 1.3


@dataclass(frozen=True)
class DeliverySpec:
    shots: int
    frames: int
    min_size: int
    max_size: int

    @property
    def files(self) -> int:
        return self.shots * self.frames


def delivery_spec(quick: bool) -> DeliverySpec:
    return DeliverySpec(100 if quick else 1_000, 100, 4 * KiB, 16 * KiB)


def frames_spec(quick: bool) -> DeliverySpec:
    return DeliverySpec(2 if quick else 20, 100, 1 * MiB, 3 * MiB // 2)


def generate(spec: DeliverySpec, root: Path, seed: int = 2025) -> tuple[int, int]:
    """Write the delivery under `root`: one comp sequence per shot, 100 shots a sequence folder."""
    rng = random.Random(seed)
    pool = rng.randbytes(spec.max_size + 4 * MiB)
    files = total = 0
    for index in range(spec.shots):
        shot = f"sh{index * 10 + 10:04d}"
        folder = root / f"sq{(index // 100) * 10 + 10:03d}" / shot / "comp"
        folder.mkdir(parents=True)
        for frame in range(1001, 1001 + spec.frames):
            name = f"{shot}_comp_v001.{frame:04d}.exr"
            size = rng.randint(spec.min_size, spec.max_size)
            offset = rng.randrange(len(pool) - size)
            # The path up front makes every frame's bytes unique.
            header = f"{folder.relative_to(root)}/{name}\n".encode()
            with open(folder / name, "wb") as out:
                out.write(header)
                out.write(pool[offset : offset + size - len(header)])
            files += 1
            total += size
    return files, total


# ---------------------------------------------------------------------------------------------
# The child: one sweep through the library, measured from inside


PHASES = (
    ("provenance.finalizer", None, "read_unseen", "read a never-seen delivery by folders"),
    ("provenance.unseen", None, "_folders_under", "  of which: list its folders"),
    ("provenance.fingerprint", "CallJob", "results", "  of which: the workers' reading"),
    ("provenance.unseen", None, "copied_versions", "  of which: copies by asset digest"),
    ("provenance.unseen", None, "_add_copies", "  of which: copies vouched for"),
    ("provenance.unseen", None, "_add_file_by_file", "  of which: other folders, file by file"),
    ("provenance.finalizer", None, "read_delivery", "walk the delivery (hashing starts)"),
    ("provenance.stat_cache", None, "cached_locations", "  of which: stat-cache lookup"),
    ("provenance.stat_cache", "FingerprintStream", "finish", "waiting for the hashing"),
    ("provenance.finalizer", None, "resolve_delivered", "resolve files to assets"),
    ("provenance.store.resolving", None, "_member_digests", "  of which: members by path"),
    (
        "provenance.store.resolving",
        None,
        "_every_version_holding",
        "  of which: holders by content",
    ),
    ("provenance.finalizer", None, "ledger_facts", "facts of the assets"),
    ("provenance.finalizer", None, "file_facts", "facts of the files"),
    ("provenance.finalizer", None, "evaluate", "the policy"),
    ("provenance.finalizer", None, "record_cache", "stat-cache refresh (a write)"),
    ("provenance.finalizer", None, "read_every_file", "finalize: the reading outside the lock"),
    ("provenance.audit.ahead", "AuditAhead", "wait", "finalize: waiting for the audit ahead"),
    (
        "provenance.facade.delivering",
        None,
        "_audit_under_lock",
        "finalize: the audit under the lock",
    ),
    ("provenance.audit.verification", None, "audit", "  of which: the whole audit again"),
    ("provenance.finalizer", None, "check_delivery", "the check (in a finalize: under the lock)"),
    ("provenance.finalizer", None, "record_deliverable", "finalize: the deliverable's rows"),
    ("provenance.manifests", None, "manifest_body", "finalize: the manifest's JSON"),
    ("provenance.manifests", None, "stage_manifest", "finalize: the manifest staged"),
    ("provenance.facade.delivering", None, "checkpoint_signer", "finalize: its key checked"),
    ("provenance.facade.delivering", None, "signing_chain", "finalize: the chain it signs"),
    ("provenance.audit.checkpoints", None, "make_checkpoint", "finalize: the checkpoint signed"),
    ("provenance.facade.delivering", None, "_put_in_place", "finalize: manifest, checkpoint kept"),
    ("provenance.fingerprint", "Hasher", "__enter__", "the hashing workers started"),
    ("provenance.fingerprint", "Hasher", "__exit__", "the hashing workers stopped"),
)
"""(module, class, function, label): what --profile times, wall clock, inside one sweep."""


def time_phases() -> dict[str, float]:
    """Wrap the sweep's phases with wall-clock timers (names the library no longer has are skipped)."""
    import functools
    import importlib

    spent: dict[str, float] = {}
    for module_name, class_name, name, label in PHASES:
        owner = importlib.import_module(module_name)
        if class_name is not None:
            owner = getattr(owner, class_name, None)
        original = getattr(owner, name, None)
        if original is None:
            continue

        def timed(*args, _original=original, _label=label, **kwargs):
            started = time.perf_counter()
            try:
                return _original(*args, **kwargs)
            finally:
                spent[_label] = spent.get(_label, 0.0) + time.perf_counter() - started

        setattr(owner, name, functools.wraps(original)(timed))
    return spent


def child_sweep(
    workspace: str, folder: str, workers: int | None, profile: str | None, finalize: bool = False
) -> None:
    """Run in a child process: one sweep (or finalize) through the library, measured from inside."""
    # Loaded before the clock starts, as opening the ledger loaded them until the library
    # loaded them on first use: the measurement stays the operation, not its imports.
    import provenance.audit
    import provenance.finalizer  # noqa: F401
    from provenance import Ledger

    spent = time_phases() if profile == "phases" else None
    ledger = Ledger.open(str(Path(workspace) / ".provenance" / "ledger.db"), cwd=Path(workspace))
    profiler = None
    if profile == "cprofile":
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    started = time.perf_counter()
    if finalize:
        # (Every finalize starts from the same ledger: a checkpoint kept from an earlier run
        # would see its events removed, so each run keeps its own.)
        run = time.time_ns()
        report = ledger.finalize(
            folder, f"BENCH_{run}", workers=workers, checkpoints=Path(workspace) / f"cp-{run}"
        )
    else:
        report = ledger.sweep(folder, workers=workers)
    seconds = time.perf_counter() - started
    if profiler is not None:
        import io
        import pstats

        profiler.disable()
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(25)
        print(text.getvalue(), file=sys.stderr)
    if spent is not None:
        for *_, label in PHASES:
            if label in spent:
                print(f"    {label:<40} {spent[label]:6.2f} s", file=sys.stderr)
        print(f"    {'the whole sweep':<40} {seconds:6.2f} s", file=sys.stderr)
    ledger.close()
    verdict = report.verdict
    print(
        json.dumps(
            {
                "seconds": seconds,
                "check_seconds": report.seconds,
                "files": report.files,
                "assets": report.assets,
                "files_read": report.files_read,
                "bytes_read": report.bytes_read,
                "findings": len(verdict.findings),
                "rules": sorted({f.rule for f in verdict.findings}),
                "blocked": verdict.blocked,
                "finalized": report.finalized,
            }
        )
    )


def run_sweep(
    workspace: Path,
    folder: Path,
    workers: int | None,
    profile: str | None = None,
    finalize: bool = False,
) -> dict[str, Any]:
    settle()
    command = [sys.executable, __file__, "--child", str(workspace), str(folder)]
    if finalize:
        command.append("--child-finalize")
    if workers is not None:
        command += ["--workers", str(workers)]
    if profile:
        command += ["--child-profile", profile]
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"sweep child failed with exit code {done.returncode}")
    data: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return data


# ---------------------------------------------------------------------------------------------
# Setup: the delivery, its ingest, the cold copy, the ledger snapshot


def ledger_files(workspace: Path) -> list[Path]:
    folder = workspace / ".provenance"
    return [folder / name for name in ("ledger.db", "ledger.db-wal", "ledger.db-shm")]


def snapshot_ledger(workspace: Path, to: Path) -> None:
    to.mkdir(parents=True, exist_ok=True)
    for path in ledger_files(workspace):
        if path.exists():
            shutil.copy2(path, to / path.name)


def restore_ledger(workspace: Path, saved: Path) -> None:
    for path in ledger_files(workspace):
        path.unlink(missing_ok=True)
        if (saved / path.name).exists():
            shutil.copy2(saved / path.name, path)


def prepare(
    args: argparse.Namespace, work: Path, spec: DeliverySpec | None = None, pin_key: bool = False
) -> tuple[Path, Path, Path, int, int]:
    """(workspace, delivery, ledger snapshot, files, bytes): generated and ingested unless kept.

    With `pin_key`, the ledger pins its checkpoint key in the setup (a first checkpoint), so
    that the finalizes measured are a studio's usual ones, not the ledger's very first (which
    also makes, signs and pins the key)."""
    spec = spec or delivery_spec(args.quick)
    workspace = work / "workspace"
    delivery = workspace / "delivery"
    saved = work / "ledger-after-ingest"
    marker = work / "spec.json"
    from provenance.store.schema import head_revision

    # (A ledger kept from before a schema change is made again, not refused mid-run.)
    wanted = json.dumps(
        {**spec.__dict__, "schema": head_revision(), "key": "pinned" if pin_key else None},
        sort_keys=True,
    )
    if args.keep and marker.exists():
        found = json.loads(marker.read_text())
        if found["spec"] == wanted and (saved / "ledger.db").exists():
            log(f"reusing {delivery}")
            return workspace, delivery, saved, found["files"], found["bytes"]
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    log(f"generating {spec.shots:,} shots x {spec.frames} frames under {delivery}")
    started = time.perf_counter()
    files, total = generate(spec, delivery)
    log(f"{files:,} files, {gb(total)} in {time.perf_counter() - started:.1f} s")
    settle()
    time.sleep(RACY_WAIT_S)

    from provenance import Ledger

    started = time.perf_counter()
    with Ledger.create(str(workspace / ".provenance" / "ledger.db"), cwd=workspace) as ledger:
        report = ledger.ingest([str(delivery)], origin="capture", workers=args.workers)
        if pin_key:
            ledger.checkpoint(folder=work / "setup-checkpoints")
    if report.skipped or report.files_new != files:
        raise SystemExit(f"the ingest recorded {report.files_new:,} of {files:,} files")
    log(
        f"ingested {files:,} files as {report.asset_count:,} assets in "
        f"{time.perf_counter() - started:.1f} s"
    )
    # The ledger as every cold run starts from (closed: its WAL is checkpointed into the file).
    snapshot_ledger(workspace, saved)
    marker.write_text(json.dumps({"spec": wanted, "files": files, "bytes": total}))
    return workspace, delivery, saved, files, total


def make_copy(delivery: Path, copy: Path) -> None:
    shutil.rmtree(copy, ignore_errors=True)
    subprocess.run(["cp", "-a", str(delivery), str(copy)], check=True)


# ---------------------------------------------------------------------------------------------


def bench(args: argparse.Namespace, work: Path) -> list[Row]:
    workspace, delivery, saved, files, total = prepare(args, work)
    copy = workspace / "outgoing"
    restore_ledger(workspace, saved)
    make_copy(delivery, copy)
    warm_cache(delivery)
    warm_cache(copy)
    # The sweep the warm runs are "unchanged since".
    first = run_sweep(workspace, delivery, args.workers)
    log(f"first sweep {first['seconds']:.2f} s, read {first['files_read']:,} files")

    xxh_runs: list[float] = []
    walk_runs: list[float] = []
    colds: list[dict[str, Any]] = []
    warms: list[dict[str, Any]] = []
    copies: list[dict[str, Any]] = []
    for _ in range(args.repeat):
        xxh_runs.append(timed_shell(XXHSUM_PIPELINE.format(dir=copy)))
        restore_ledger(workspace, saved)
        colds.append(run_sweep(workspace, copy, args.workers))
        copies.append(run_sweep(workspace, copy, args.workers))
        walk_runs.append(timed_shell(STAT_WALK.format(dir=delivery)))
        warms.append(run_sweep(workspace, delivery, args.workers))
    log(f"xxhsum       {seconds_list(xxh_runs)}")
    log(f"cold sweep   {seconds_list([float(r['seconds']) for r in colds])}")
    log(f"find -printf {seconds_list(walk_runs)}")
    log(f"warm sweep   {seconds_list([float(r['seconds']) for r in warms])}")
    log(f"copy again   {seconds_list([float(r['seconds']) for r in copies])}")
    if args.profile:
        for profile in ("phases", "cprofile"):
            log(f"{profile} of a warm sweep:")
            run_sweep(workspace, delivery, args.workers, profile)
            log(f"{profile} of a cold sweep:")
            restore_ledger(workspace, saved)
            run_sweep(workspace, copy, args.workers, profile)

    xxh, walk = min(xxh_runs), min(walk_runs)
    cold = min(colds, key=lambda r: float(r["seconds"]))
    warm = min(warms, key=lambda r: float(r["seconds"]))
    again = min(copies, key=lambda r: float(r["seconds"]))
    cold_s, warm_s, again_s = (
        float(cold["seconds"]),
        float(warm["seconds"]),
        float(again["seconds"]),
    )
    shots = files // 100
    judged = [(r["files"], r["assets"], r["blocked"]) for r in (*colds, *warms, *copies)]
    findings = sorted({rule for r in (*colds, *warms, *copies) for rule in r["rules"]})
    label = f"{files:,} files ({shots:,} shots x 100 frames, {gb(total)})"
    warm_read = max(int(r["files_read"]) for r in (*warms, *copies))
    return [
        Row(
            f"{label}: warm sweep",
            f"{files / warm_s:,.0f} files/s ({warm_s:.2f} s)",
            f"find -printf {files / walk:,.0f} files/s",
            f"{warm_s / walk:.1f}x time",
            f">= {WARM_TARGET_FILES_S:,} files/s",
            files / warm_s >= WARM_TARGET_FILES_S,
        ),
        Row(
            f"{label}: the swept copy, swept again",
            f"{files / again_s:,.0f} files/s ({again_s:.2f} s)",
            f"find -printf {files / walk:,.0f} files/s",
            f"{again_s / walk:.1f}x time",
            f">= {WARM_TARGET_FILES_S:,} files/s",
            files / again_s >= WARM_TARGET_FILES_S,
        ),
        Row(
            "  warm sweeps: files read",
            f"{warm_read:,} files",
            "-",
            "-",
            "reads no file contents",
            warm_read == 0,
        ),
        Row(
            f"{label}: cold sweep of a fresh copy",
            f"{cold_s:.2f} s ({files / cold_s:,.0f} files/s)",
            f"xxhsum {xxh:.2f} s",
            f"{cold_s / xxh:.2f}x time",
            f"<= {COLD_TARGET_RATIO}x time",
            cold_s <= COLD_TARGET_RATIO * xxh,
        ),
        Row(
            "  cold sweep: the check alone (without the stat-cache refresh)",
            f"{float(cold['check_seconds']):.2f} s",
            f"xxhsum {xxh:.2f} s",
            f"{float(cold['check_seconds']) / xxh:.2f}x time",
            "-",
            None,
        ),
        Row(
            "  every sweep: files, assets and verdict",
            f"{cold['files']:,} files, {cold['assets']:,} assets, "
            f"findings: {', '.join(findings) or 'none'}",
            "-",
            "-",
            f"{files:,} files, {shots:,} assets, not blocked",
            all(j == (files, shots, False) for j in judged),
        ),
        Row(
            "  cold sweep: files and bytes read",
            f"{int(cold['files_read']):,} files, {mib(int(cold['bytes_read']))}",
            f"tree {mib(total)}",
            "-",
            "every file",
            cold["files_read"] == files,
        ),
    ]


def bench_frames(args: argparse.Namespace, work: Path) -> list[Row]:
    """A delivery of frame-sized files: its cold sweep and its finalize against xxhsum, read
    from the page cache, then from storage."""
    workspace, delivery, saved, files, total = prepare(
        args, work, frames_spec(args.quick), pin_key=True
    )
    copy = workspace / "outgoing"
    restore_ledger(workspace, saved)
    make_copy(delivery, copy)
    warm_cache(copy)
    # A delivery is finalized once it is written: past the racy window, a finalize trusts its
    # own reading of each file under the lock (nearer, it reads the file again).
    time.sleep(RACY_WAIT_S)
    label = f"{files:,} frames of 1-1.5 MiB ({gb(total)})"
    rows = frames_runs(args, workspace, copy, saved, files, label, settle)
    if args.profile:
        for profile in ("phases", "cprofile"):
            log(f"{profile} of a finalize:")
            restore_ledger(workspace, saved)
            run_sweep(workspace, copy, args.workers, profile, finalize=True)
            (copy / "provenance-manifest.json").unlink(missing_ok=True)
    if not drop_page_cache():
        return [
            *rows,
            Row(
                f"{label}, read from storage",
                "not measured: emptying the page cache needs root",
                "-",
                "-",
                "-",
                None,
            ),
        ]
    # From storage: the page cache emptied before each run (of ours and of xxhsum alike), a
    # delivery as a finalize meets it, written hours before, on disk or on a file server.
    rows += frames_runs(
        args, workspace, copy, saved, files, f"{label}, read from storage", drop_page_cache
    )
    warm_cache(copy)  # (as the runs after these expect)
    return rows


def frames_runs(
    args: argparse.Namespace,
    workspace: Path,
    copy: Path,
    saved: Path,
    files: int,
    label: str,
    before_each: Callable[[], object],
) -> list[Row]:
    """xxhsum, a cold sweep and a finalize of the frames' copy, interleaved, `before_each` run
    before each of them, each of ours from the ledger as ingested; their rows."""
    xxh_runs: list[float] = []
    colds: list[dict[str, Any]] = []
    finals: list[dict[str, Any]] = []
    for _ in range(args.repeat):
        # (The last finalize's manifest would be a file the ledger put back never saw.)
        (copy / "provenance-manifest.json").unlink(missing_ok=True)
        before_each()
        xxh_runs.append(timed_shell(XXHSUM_PIPELINE.format(dir=copy)))
        restore_ledger(workspace, saved)
        before_each()
        colds.append(run_sweep(workspace, copy, args.workers))
        restore_ledger(workspace, saved)
        before_each()
        finals.append(run_sweep(workspace, copy, args.workers, finalize=True))
    (copy / "provenance-manifest.json").unlink(missing_ok=True)
    log(f"{label}: xxhsum {seconds_list(xxh_runs)}")
    log(f"{label}: cold sweep {seconds_list([float(r['seconds']) for r in colds])}")
    log(f"{label}: finalize {seconds_list([float(r['seconds']) for r in finals])}")
    xxh = min(xxh_runs)
    cold = min(float(r["seconds"]) for r in colds)
    final = min(finals, key=lambda r: float(r["seconds"]))
    final_s = float(final["seconds"])
    judged = all(
        (r["files"], r["files_read"], r["blocked"]) == (files, files, False) for r in colds
    ) and all(r["finalized"] and r["files_read"] >= files for r in finals)
    return [
        Row(
            f"{label}: cold sweep of a fresh copy",
            f"{cold:.2f} s",
            f"xxhsum {xxh:.2f} s",
            f"{cold / xxh:.2f}x time",
            f"<= {FRAMES_COLD_TARGET_RATIO}x time",
            cold <= FRAMES_COLD_TARGET_RATIO * xxh and judged,
        ),
        Row(
            f"{label}: finalize (reads every byte)",
            f"{final_s:.2f} s, read {int(final['files_read']):,} files",
            f"xxhsum {xxh:.2f} s",
            f"{final_s / xxh:.2f}x time",
            f"<= {FINALIZE_TARGET_RATIO}x time",
            final_s <= FINALIZE_TARGET_RATIO * xxh and judged,
        ),
    ]


def drop_page_cache() -> bool:
    """Empty the OS page cache (Linux, root only), so that the next reader reads from storage."""
    settle()
    try:
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
    except OSError:
        return False
    return True


# ---------------------------------------------------------------------------------------------
# Strong digests: what `finalize --strong` costs over a plain finalize (the frames delivery)


def child_strong_finalize(workspace: str, folder: str, strong: str, workers: int | None) -> None:
    """Run in a child process: one finalize, with a strong digest or none ("-")."""
    from provenance import Ledger

    ledger = Ledger.open(str(Path(workspace) / ".provenance" / "ledger.db"), cwd=Path(workspace))
    started = time.perf_counter()
    report = ledger.finalize(
        folder,
        f"BENCH_{time.time_ns()}",
        workers=workers,
        checkpoints=Path(workspace) / "cp",
        strong=None if strong == "-" else strong,
    )
    seconds = time.perf_counter() - started
    ledger.close()
    print(
        json.dumps({"seconds": seconds, "finalized": report.finalized, "read": report.files_read})
    )


def bench_strong(args: argparse.Namespace, work: Path) -> list[Row]:
    """`finalize` of the frames delivery with no strong digest, with SHA-256 and with BLAKE3,
    each computed in the same read as xxh3-128; sha256sum and b3sum (when installed) over the
    same files for reference."""
    workspace, delivery, saved, files, total = prepare(
        args, work, frames_spec(args.quick), pin_key=True
    )
    copy = workspace / "outgoing"
    make_copy(delivery, copy)
    warm_cache(copy)
    time.sleep(RACY_WAIT_S)
    runs: dict[str, list[float]] = {"-": [], "sha256": [], "blake3": []}
    references: dict[str, list[float]] = {"sha256sum": [], "b3sum": []}
    for _ in range(args.repeat):
        for strong in runs:
            restore_ledger(workspace, saved)
            (copy / "provenance-manifest.json").unlink(missing_ok=True)
            # (The checkpoint the last finalize wrote is of events the restore took away.)
            shutil.rmtree(workspace / "cp", ignore_errors=True)
            settle()
            command = [
                sys.executable,
                __file__,
                "--child-strong",
                str(workspace),
                str(copy),
                strong,
            ]
            if args.workers is not None:
                command += ["--workers", str(args.workers)]
            done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True)
            result = json.loads(done.stdout.strip().splitlines()[-1])
            if not result["finalized"]:
                raise SystemExit(f"finalize --strong {strong} did not finalize")
            runs[strong].append(float(result["seconds"]))
        for tool in references:
            if shutil.which(tool):
                command = f"find {copy} -type f -print0 | xargs -0 -P2 {tool} > /dev/null"
                references[tool].append(timed_shell(command))
    plain = min(runs["-"])
    label = f"{files:,} frames ({gb(total)})"
    rows = [Row(f"{label}: finalize", f"{plain:.2f} s", "-", "-", "-", None)]
    for strong, tool in (("sha256", "sha256sum"), ("blake3", "b3sum")):
        best = min(runs[strong])
        reference = f"{tool} {min(references[tool]):.2f} s" if references[tool] else "-"
        rows.append(
            Row(
                f"{label}: finalize --strong {strong}",
                f"{best:.2f} s (+{(best / plain - 1) * 100:.0f}%)",
                reference,
                f"{best / plain:.2f}x finalize",
                "-",
                None,
            )
        )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="10,000 files, one repetition")
    parser.add_argument(
        "--work", type=Path, default=DEFAULT_WORK, help="the tree is made in WORK/sweep"
    )
    parser.add_argument("--keep", action="store_true", help="keep (and reuse) the generated tree")
    parser.add_argument("--repeat", type=int, default=None, help="runs per measurement (best)")
    parser.add_argument(
        "--workers", type=int, default=None, help="hashing processes (default: all cores)"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also time the phases of one warm and one cold sweep, then cProfile them",
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--child", nargs=2, metavar=("WORKSPACE", "FOLDER"), help=argparse.SUPPRESS)
    parser.add_argument("--child-profile", choices=("phases", "cprofile"), help=argparse.SUPPRESS)
    parser.add_argument("--child-finalize", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child-strong", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument(
        "--only",
        choices=("small", "frames", "strong"),
        help="only the small-file or the frames delivery, or finalize --strong's cost",
    )
    args = parser.parse_args()
    if args.child_strong:
        child_strong_finalize(*args.child_strong, args.workers)
        return 0
    if args.child:
        child_sweep(
            args.child[0], args.child[1], args.workers, args.child_profile, args.child_finalize
        )
        return 0
    if args.repeat is None:
        args.repeat = 1 if args.quick else 3
    missing = [tool for tool in ("xxhsum", "find", "xargs", "cp") if shutil.which(tool) is None]
    if missing:
        print(
            f"missing reference programs: {', '.join(missing)}. Install xxhsum with "
            "`apt-get install xxhash`.",
            file=sys.stderr,
        )
        return 2
    work: Path = args.work.resolve() / "sweep"
    # Checkpoints or config a sweep might look for stay in the work folder.
    # (Beside both work folders: the frames ledger pins the key kept there.)
    os.environ.setdefault("XDG_CONFIG_HOME", str(work.parent / "sweep-config"))
    load_before = os.getloadavg()[0]
    try:
        rows = bench(args, work) if args.only in (None, "small") else []
        if args.only in (None, "frames"):
            rows += bench_frames(args, work.parent / "sweep-frames")
        if args.only in (None, "strong"):
            rows += bench_strong(args, work.parent / "sweep-frames")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
            shutil.rmtree(work.parent / "sweep-frames", ignore_errors=True)
            shutil.rmtree(work.parent / "sweep-config", ignore_errors=True)
    return report(rows, args, load_before)


if __name__ == "__main__":
    sys.exit(main())

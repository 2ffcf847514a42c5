"""Perceptual print benchmark: Hamming lookups among 1,000,000 prints against a full scan, and prints of 2K frames.

    .venv/bin/python bench/perceptual.py                 # 1,000,000 prints in a SQLite ledger
    .venv/bin/python bench/perceptual.py --quick         # 100,000 prints (a smoke run)
    .venv/bin/python bench/perceptual.py --postgresql    # also on a throwaway PostgreSQL server
    .venv/bin/python bench/perceptual.py --pg URL        # ... or on an existing, empty database

What is measured:

  load       `record_prints` of --prints random prints, 14 regions per image (what
             `image_prints` stores: the whole frame, eight one-sided crops, four thirds,
             and the picture inside its borders), with their `contents` rows, written with
             `bulk.insert_rows` in write transactions of about 50,000 prints, into a ledger made
             by `Ledger.create`: rows/s, for context.
  lookup     `near_regions(session, queries, NEAR_AI_DISTANCE)` with the six query prints a file
             is looked up by (whole frame, mirror image, four thirds): p50 and p95 of 200 files,
             against the target of 10 ms. Then `near_prints` with one print and with the six:
             100 queries are a stored print with 0-8 of its bits flipped (a planted near
             match), 100 are random (the usual answer: nothing).
  print      `perceptual_print` and `image_prints` of a 2048 x 1080 frame as JPEG (q90), PNG,
             TIFF and EXR (half-float RGB, ZIP), best and median of 20.

Peers, measured in the same run:
  lookup     the full scan: `SELECT content_id, print FROM perceptual_prints` through the
             driver's cursor, every row into numpy, XOR and popcount vectorised
             (np.bitwise_count), on the same backend,
             for 20 of the queries (each reads the whole table); and, for context, the same
             popcount over a resident array of every print (no database read: what a cache
             kept in memory would cost, before keeping it fresh).
  print      decoding alone: Pillow's open + load (with the same JPEG draft), OpenEXR's read.
The check column says whether `near_prints` returned exactly what the scan found, for every
query (the resident scan) and for the 20 (the database scan).

Queries run in a child process of their own (this script again, with --child) on the ledger
the load left behind: the OS page cache warm, the database's own cache cold. The SQLite
ledger is made in a work folder (bench/_work/perceptual by default, git-ignored) and removed
at the end unless --keep is given. PostgreSQL gets `VACUUM ANALYZE` after the load, as its
autovacuum would do on its own. Nothing here asserts wall-clock times.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# bench/ingest.py: the shared conventions; bench/ledger_scale.py: ledgers on both backends.
from ingest import DEFAULT_WORK, Row, log, mib, report
from ledger_scale import (
    analyze_after_load,
    create_database,
    database_size,
    fresh_work_folder,
    ms,
    run_child,
)

BATCH = 50_000
QUERIES = 200
SCAN_QUERIES = 20
PRINT_REPEAT = 20
SEED = 2025


# ---------------------------------------------------------------------------------------------
# The children


def child_load(url: str, workspace: Path, prints: int) -> dict[str, Any]:
    import numpy as np

    from provenance import Ledger
    from provenance.detect.perceptual import REGIONS, StoredPrint
    from provenance.store import bulk
    from provenance.store.engine import write_session
    from provenance.store.models import Content
    from provenance.store.perceptual import record_prints

    contents = Content.__table__
    regions = list(REGIONS)
    ledger = Ledger.create(url, cwd=workspace)
    engine = ledger.engine
    rng = np.random.default_rng(SEED)
    recording_seconds = 0.0
    started = time.perf_counter()
    images = prints // len(regions)
    detail = bytes(32)
    step = BATCH // len(regions)
    for first in range(1, images + 1, step):
        count = min(step, images + 1 - first)
        values = rng.integers(0, 2**64, size=count * len(regions), dtype=np.uint64).view(np.int64)
        ids = range(first, first + count)
        with write_session(engine) as session:
            bulk.insert_rows(
                session.connection(),
                contents,
                ("id", "digest", "size"),
                [(i, f"xxh3-128:{i:032x}", 4096) for i in ids],
            )
            began = time.perf_counter()
            rows = [
                (
                    content_id,
                    tuple(
                        StoredPrint(region, int(value), detail)
                        for region, value in zip(
                            regions,
                            values[n * len(regions) : (n + 1) * len(regions)].tolist(),
                            strict=True,
                        )
                    ),
                )
                for n, content_id in enumerate(ids)
            ]
            record_prints(session, rows)
            recording_seconds += time.perf_counter() - began
        if (first // step) % 4 == 3:
            loaded = (first + count - 1) * len(regions)
            log(f"  loaded {loaded:,} prints in {time.perf_counter() - started:.0f} s")
    seconds = time.perf_counter() - started
    analyze_after_load(engine)
    size = database_size(engine)
    ledger.close()
    return {"seconds": seconds, "recording_seconds": recording_seconds, "size": size}


def child_query(url: str, workspace: Path, prints: int) -> dict[str, Any]:
    import itertools
    import random

    import numpy as np

    from provenance import Ledger
    from provenance.detect.perceptual import (
        BANDS,
        NEAR_AI_DISTANCE,
        QueryPrint,
        band_probes,
        bands,
        probe_radius,
        to_signed,
    )
    from provenance.store.engine import read_session
    from provenance.store.perceptual import near_prints, near_regions

    ledger = Ledger.open(url, cwd=workspace)
    engine = ledger.engine
    rng = random.Random(SEED)

    def flip(value: int, count: int) -> int:
        return to_signed(value ^ sum(1 << bit for bit in rng.sample(range(64), count)))

    def read_all(session: Any) -> Any:
        """Every (content id, print), through the driver's own cursor: the fastest read we found
        (3 times faster than numpy.array over SQLAlchemy rows)."""
        cursor = session.connection().connection.driver_connection.cursor()
        try:
            cursor.execute("SELECT content_id, print FROM perceptual_prints")
            rows = cursor.fetchall()
        finally:
            cursor.close()
        flat = np.fromiter(itertools.chain.from_iterable(rows), dtype=np.int64, count=2 * len(rows))
        return flat.reshape(-1, 2)

    with read_session(engine) as session:
        # Read once for the resident peer, and to choose the planted queries.
        table = read_all(session)
    ids, values = table[:, 0].copy(), table[:, 1].copy().view(np.uint64)
    queries: list[list[int]] = []
    for number in range(QUERIES):
        if number % 2 == 0:
            stored = int(values[rng.randrange(len(values))].view(np.int64))
            own = flip(stored, (number // 2) % (NEAR_AI_DISTANCE + 1))
        else:
            own = to_signed(rng.getrandbits(64))
        # A file is looked up by six prints: its whole frame, its mirror image and its four
        # thirds, which have little to do with one another.
        queries.append([own, *(to_signed(rng.getrandbits(64)) for _ in range(5))])

    def near(content_ids: Any, stored: Any, lookups: list[int]) -> list[tuple[int, int]]:
        """(content id, distance) of every stored print within NEAR_AI_DISTANCE of a lookup,
        nearest first (then by content id), as `near_prints` answers: XOR and popcount over every row."""
        wanted = np.array([to_signed(v) for v in lookups], dtype=np.int64).view(np.uint64)
        distances = np.bitwise_count(stored[:, None] ^ wanted[None, :]).min(axis=1)
        close = np.flatnonzero(distances <= NEAR_AI_DISTANCE)
        nearest: dict[int, int] = {}
        for distance, content_id in zip(
            distances[close].tolist(), content_ids[close].tolist(), strict=True
        ):
            nearest[content_id] = min(distance, nearest.get(content_id, distance))
        found = sorted((distance, content_id) for content_id, distance in nearest.items())
        return [(content_id, int(distance)) for distance, content_id in found]

    def resident(lookups: list[int]) -> list[tuple[int, int]]:
        return near(ids, values, lookups)

    def scan(session: Any, lookups: list[int]) -> list[tuple[int, int]]:
        everything = read_all(session)
        return near(everything[:, 0], everything[:, 1].view(np.uint64), lookups)

    timings: dict[str, list[float]] = {
        "one": [],
        "ten": [],
        "scan_one": [],
        "scan_ten": [],
        "resident_one": [],
        "resident_ten": [],
        "file": [],
    }
    kinds = ("whole", "whole", "third-left", "third-right", "third-top", "third-bottom")
    problems: list[str] = []
    planted_found = 0
    candidates: list[int] = []
    with read_session(engine) as session:
        for number, lookups in enumerate(queries):
            for key, given in (("one", lookups[0]), ("ten", lookups)):
                started = time.perf_counter()
                found = near_prints(session, given, NEAR_AI_DISTANCE)
                timings[key].append(time.perf_counter() - started)
                as_list = [given] if isinstance(given, int) else given
                started = time.perf_counter()
                expected = resident(as_list)
                timings[f"resident_{key}"].append(time.perf_counter() - started)
                if found != expected:
                    problems.append(f"query {number} ({key}): {found[:3]} != {expected[:3]}")
                if key == "one" and number % 2 == 0 and found:
                    planted_found += 1
                if number < SCAN_QUERIES:
                    started = time.perf_counter()
                    scanned = scan(session, as_list)
                    timings[f"scan_{key}"].append(time.perf_counter() - started)
                    if found != scanned:
                        problems.append(f"query {number} ({key}) differs from the scan")
            # The lookup a file really makes: its six query prints, each compared with the
            # regions it may match.
            file_queries = [
                QueryPrint(kind, index == 1, "black", value)
                for index, (kind, value) in enumerate(zip(kinds, lookups, strict=True))
            ]
            started = time.perf_counter()
            near_regions(session, file_queries, NEAR_AI_DISTANCE)
            timings["file"].append(time.perf_counter() - started)
            if number < SCAN_QUERIES:
                # The rows the band probes bring back, before the popcount.
                radius = probe_radius(NEAR_AI_DISTANCE)
                count = 0
                for band in range(BANDS):
                    probes = band_probes(band, bands(lookups[0])[band], radius)
                    placeholders = ", ".join(str(p) for p in probes)
                    count += int(
                        session.connection()
                        .exec_driver_sql(
                            f"SELECT count(*) FROM perceptual_prints WHERE band{band} "
                            f"IN ({placeholders})"
                        )
                        .scalar()
                    )
                candidates.append(count)
    ledger.close()
    return {
        "timings": timings,
        "problems": problems,
        "planted_found": planted_found,
        "candidates": candidates,
        "rows": len(values),
    }


def child_prints(work: Path) -> dict[str, Any]:
    """perceptual_print and image_prints of a 2K frame in each format, and decoding alone."""
    import numpy as np
    import OpenEXR
    from PIL import Image

    from provenance.detect.perceptual import image_prints, perceptual_print

    width, height = 2048, 1080
    rng = np.random.default_rng(SEED)
    # Smooth structure at several scales plus grain: something like a plate, not pure noise.
    layers = np.zeros((height, width, 3), dtype=np.float32)
    for cells, weight in ((4, 1.0), (16, 0.5), (64, 0.25), (256, 0.12)):
        grid = rng.random((cells * height // width + 2, cells + 1, 3)).astype(np.float32)
        for channel in range(3):
            small = Image.fromarray(np.ascontiguousarray(grid[..., channel]))
            layers[..., channel] += weight * np.asarray(
                small.resize((width, height), Image.Resampling.BICUBIC)
            )
    layers = layers / layers.max() + rng.normal(0, 0.02, layers.shape).astype(np.float32)
    encoded = (np.clip(layers, 0, 1) * 255).astype(np.uint8)
    frame = Image.fromarray(encoded)
    folder = work / "frames"
    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        "JPEG q90": folder / "plate.jpg",
        "PNG": folder / "plate.png",
        "TIFF": folder / "plate.tif",
        "EXR": folder / "plate.exr",
    }
    frame.save(paths["JPEG q90"], quality=90)
    frame.save(paths["PNG"])
    frame.save(paths["TIFF"])
    linear = (np.clip(layers, 0, 1) ** 2.2).astype(np.float16)
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    with OpenEXR.File(header, {"RGB": linear}) as exr:
        exr.write(str(paths["EXR"]))

    def decode(path: Path) -> None:
        if path.suffix == ".exr":
            with OpenEXR.File(str(path), separate_channels=True) as exr:
                for channel in exr.channels().values():
                    _ = channel.pixels
            return
        with Image.open(path) as image:
            if image.format == "JPEG":
                # The draft perceptual_print asks of a 2K frame: 1/8 size, luma only.
                image.draft("L", (image.width // 8, image.height // 8))
            image.load()

    def timed(function: Any, path: Path) -> list[float]:
        function(path)
        spent = []
        for _ in range(PRINT_REPEAT):
            started = time.perf_counter()
            function(path)
            spent.append(time.perf_counter() - started)
        return spent

    result: dict[str, Any] = {}
    for name, path in paths.items():
        result[name] = {
            "print": timed(perceptual_print, path),
            "lookups": timed(image_prints, path),
            "decode": timed(decode, path),
            "size": path.stat().st_size,
        }
    return result


# ---------------------------------------------------------------------------------------------
# Running


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def p50_p95(values: list[float]) -> str:
    return f"{ms(percentile(values, 0.5))} / {ms(percentile(values, 0.95))}"


def lookup_rows(
    backend: str, load: dict[str, Any], found: dict[str, Any], prints: int
) -> list[Row]:
    t = found["timings"]
    rows = [
        Row(
            f"{backend}: load {prints:,} prints (record_prints + contents rows)",
            f"{load['seconds']:.0f} s ({prints / load['seconds']:,.0f} prints/s, "
            f"record_prints {load['recording_seconds'] / load['seconds']:.0%})",
            "-",
            "-",
            "-",
            None,
        ),
        Row(f"{backend}: database size", mib(int(load["size"])), "-", "-", "-", None),
    ]
    rows.append(
        Row(
            f"{backend}: near_regions, a file's lookup (whole, mirror, 4 thirds): p50 / p95",
            p50_p95(t["file"]),
            "-",
            "-",
            "p50 < 10 ms",
            percentile(t["file"], 0.5) < 0.010,
        )
    )
    for key, label in (("one", "1 print"), ("ten", "6 prints (near_prints, any region)")):
        ours, scan = t[key], t[f"scan_{key}"]
        rows.append(
            Row(
                f"{backend}: near_prints, {label}: p50 / p95",
                p50_p95(ours),
                f"full scan: {p50_p95(scan)}",
                f"{percentile(scan, 0.5) / percentile(ours, 0.5):,.0f}x faster",
                "-",
                None,
            )
        )
        rows.append(
            Row(
                f"{backend}:   peer for context: popcount over a resident array, {label}",
                "-",
                p50_p95(t[f"resident_{key}"]),
                "-",
                "-",
                None,
            )
        )
    candidates = found["candidates"]
    rows.append(
        Row(
            f"{backend}: rows the band probes return a query (mean of {len(candidates)})",
            f"{sum(candidates) / len(candidates):,.0f} of {found['rows']:,}",
            "-",
            "-",
            "-",
            None,
        )
    )
    rows.append(
        Row(
            f"{backend}: answers equal the scans (planted matches found: "
            f"{found['planted_found']} of {QUERIES // 2})",
            f"{QUERIES * 2 - len(found['problems'])} of {QUERIES * 2} lookups",
            "-",
            "-",
            "all",
            not found["problems"] and found["planted_found"] == QUERIES // 2,
        )
    )
    return rows


def print_rows(timings: dict[str, Any]) -> list[Row]:
    rows = []
    for name, data in timings.items():
        decode = min(data["decode"])
        for key, label in (("print", "perceptual_print"), ("lookups", "image_prints")):
            spent = data[key]
            rows.append(
                Row(
                    f"{label}, 2048x1080 {name} ({data['size'] / 1e6:.1f} MB): best, median",
                    f"{ms(min(spent))}, {ms(percentile(spent, 0.5))}",
                    f"decode alone: {ms(decode)}",
                    f"{min(spent) / decode:.2f}",
                    "-",
                    None,
                )
            )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--prints", type=int, default=1_000_000, help="prints to load")
    parser.add_argument("--quick", action="store_true", help="100,000 prints (a smoke run)")
    parser.add_argument("--postgresql", action="store_true", help="also on a throwaway server")
    parser.add_argument("--pg", metavar="URL", help="also on this empty PostgreSQL database")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK, help="ledger in WORK/perceptual")
    parser.add_argument("--keep", action="store_true", help="keep the SQLite ledger")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        if kind == "load":
            result = child_load(rest[0], Path(rest[1]), int(rest[2]))
        elif kind == "query":
            result = child_query(rest[0], Path(rest[1]), int(rest[2]))
        else:
            result = child_prints(Path(rest[0]))
        print(json.dumps(result))
        return 0
    if args.quick:
        args.prints = 100_000
    work = fresh_work_folder(args.work.resolve() / "perceptual")
    load_before = os.getloadavg()[0]
    rows: list[Row] = []
    server = None
    try:
        targets = [("sqlite", str(work / "sqlite" / ".provenance" / "ledger.db"))]
        if args.pg:
            targets.append(("postgresql", args.pg))
        elif args.postgresql:
            from tests.pgserver import start_server

            server = start_server()
            targets.append(("postgresql", create_database(server.url(), "perceptual_bench")))
        for backend, url in targets:
            workspace = work / backend
            workspace.mkdir(parents=True, exist_ok=True)
            log(f"{backend}: loading {args.prints:,} prints")
            load = run_child(__file__, "load", url, str(workspace), str(args.prints))
            log(f"{backend}: loaded in {load['seconds']:.0f} s, querying")
            found = run_child(__file__, "query", url, str(workspace), str(args.prints))
            rows.extend(lookup_rows(backend, load, found, args.prints))
        log("printing 2K frames")
        rows.extend(print_rows(run_child(__file__, "prints", str(work))))
    finally:
        if server is not None:
            server.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    args.repeat = PRINT_REPEAT
    args.strict = False
    print()
    from provenance.detect.perceptual import NEAR_AI_DISTANCE, probe_radius

    print(
        f"lookups: p50 / p95 of {QUERIES} queries (full scan: of the first {SCAN_QUERIES}) "
        f"within NEAR_AI_DISTANCE {NEAR_AI_DISTANCE} (3 bands, radius "
        f"{probe_radius(NEAR_AI_DISTANCE)}); prints: of {PRINT_REPEAT} runs"
    )
    return report(rows, args, load_before)


if __name__ == "__main__":
    sys.exit(main())

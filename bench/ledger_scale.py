"""Ledger scale benchmark: 1,000,000 assets with lineage in SQLite and in PostgreSQL.

    .venv/bin/python bench/ledger_scale.py                   # 1,000,000 assets on both backends
    .venv/bin/python bench/ledger_scale.py --quick           # 100,000 assets (a smoke run)
    .venv/bin/python bench/ledger_scale.py --assets 300000 --only sqlite
    .venv/bin/python bench/ledger_scale.py --pg URL          # an existing, empty PostgreSQL database
    .venv/bin/python bench/ledger_scale.py --only-after-ingest   # only the sweep right after an ingest

What is measured, on each backend:

  load       rows/s of a bulk load of the real tables (contents, assets, asset_versions, members,
             claims, lineage, events; the roots once), in batches of 500 shots (10,000 assets):
             each batch is one write transaction of the library (`write_session`), opened by one
             `ingest` unit of work (`unit_of_work_event`), its ids taken with `bulk.allocate_ids`
             and its rows written with `bulk.insert_rows` (SQLAlchemy Core statements,
             executemany), as the library's own ingest writes them; the event, written last,
             commits to the rows (the `events` column times that). The schema is made by
             `Ledger.create`.
  lineage    `Ledger.lineage(target, up=True, depth=50)` from the deep end of a 50-edge
             `contains` chain, and `up=False` from its top (target resolution, the recursive CTE,
             the asset references and the tree), and `queries.lineage_edges` on its own.
  sweep      `facts.resolve_delivered` + `facts.ledger_facts` for 100,000 `Delivered(path,
             digest)` items that are members of recorded assets (no file is read or hashed).
  after      a sweep right after an ingest, through the library on real files: 20,000 frames
  ingest     (--after-ingest-files; shots of 100 frames of 2 KiB) are ingested into a new ledger
             whose planner statistics are those of its empty tables (PostgreSQL: an ANALYZE
             right after `init`, as a maintenance run leaves them), then a copy of them, as a
             delivery, is swept in a fresh process (every file read and resolved by content).
             On PostgreSQL the library refreshes the statistics of the tables an ingest grew
             (`store.engine.refresh_stats`); the same run without that refresh is shown as the
             peer. Target: PostgreSQL within 2x of SQLite.

The ledger: shots of 20 assets. Asset 0 of a shot is its plate, a 20-frame EXR sequence; assets
1-19 are single files (scripts, caches, renders) that `contain` asset (j - 1) // 2 of their shot
(a small tree, 4 levels deep), and every fifth one also `references` the previous shot's plate.
Four 50-edge `contains` chains run across the whole table: asset 6 + c of shot k * stride
contains asset 6 + c of shot (k - 1) * stride, k = 1..50. So 1,000,000 assets hold 1,950,000
members (as many contents), about 1.15 million lineage edges and one claim each. Every digest
is a real xxh3-128 of a counter (random, as digests are); the asset digests are the library's
`aggregate_digest` of their members.

Peers, measured in the same run: the two backends against each other (the ratio column is
PostgreSQL / SQLite time), and for each query a plain-SQL floor on the same backend:
  lineage    a walk of the same edges with one indexed `SELECT ... WHERE child_id IN (...)` per
             level (50 round trips), from Python;
  sweep      one plain join fetching the delivered assets' (pattern, frame, digest) rows.

The SQLite ledger is made in a work folder (bench/_work/ledger_scale by default, git-ignored)
and removed at the end unless --keep is given. Every load and query runs in a child process of its own (this script again, with --child), so
its wall time and peak memory are its own; queries run in a fresh process on a ledger the load
left behind (the OS page cache warm, the database's own cache cold). The PostgreSQL server is
a throwaway one (tests/pgserver.py: a Unix socket, fsync off, default shared_buffers) unless
--pg is given, and is stopped at the end; after the load it gets `VACUUM ANALYZE`, as its
autovacuum would do on its own (SQLite is left without ANALYZE, as the library leaves it).
Nothing here asserts wall-clock times: the check column says whether the answers were right.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# bench/ingest.py: the shared conventions.
from ingest import DEFAULT_WORK, RACY_WAIT_S, log, mib

SHOT = 20
"""Assets a shot: its plate (a sequence) and 19 single files."""
PLATE_FRAMES = 20
FIRST_FRAME = 1001
BATCH_SHOTS = 500
CHAINS = 4
CHAIN_EDGES = 50
CHAIN_FIRST_J = 6
DEPARTMENTS = (
    b"roto",
    b"paint",
    b"prep",
    b"track",
    b"layout",
    b"anim",
    b"cfx",
    b"fx",
    b"env",
    b"dmp",
    b"lookdev",
    b"lighting",
    b"comp",
    b"slapcomp",
    b"grade",
    b"cleanup",
    b"matte",
    b"keys",
    b"review",
)
EXTENSIONS = (b".nk", b".hip", b".ma", b".abc", b".usd", b".png", b".mov", b".json")
ORIGINS = ("digitalCapture", "humanEdits", "digitalCreation", "compositeCapture")
CLAIMED_BY = "bench"
REPEAT_QUERIES = 5
REPEAT_SWEEPS = 3


# ---------------------------------------------------------------------------------------------
# The synthetic ledger: everything is a function of the asset's index, so nothing is kept


@dataclass(frozen=True)
class Plan:
    assets: int
    workspace: bytes

    @property
    def shots(self) -> int:
        return self.assets // SHOT

    @property
    def stride(self) -> int:
        """Shots between two links of a deep chain: the chains span the whole table."""
        return (self.shots - 1) // CHAIN_EDGES

    def chain_asset(self, chain: int, link: int) -> int:
        return link * self.stride * SHOT + CHAIN_FIRST_J + chain

    def asset_path(self, index: int) -> bytes:
        shot, j = divmod(index, SHOT)
        folder = b"%s/shows/bench/sq%03d/sh%05d/" % (self.workspace, shot // 100, shot)
        if j == 0:
            return folder + b"plate/sh%05d_plate_v001.####.exr" % shot
        department = DEPARTMENTS[j - 1]
        extension = EXTENSIONS[j % len(EXTENSIONS)]
        return folder + b"%s/sh%05d_%s_main_v%03d%s" % (department, shot, department, j, extension)

    def member_paths(self, index: int) -> list[tuple[int | None, bytes]]:
        """(frame, path) of every member, in frame order."""
        pattern = self.asset_path(index)
        if index % SHOT:
            return [(None, pattern)]
        head, _, tail = pattern.partition(b"####")
        return [
            (frame, b"%s%04d%s" % (head, frame, tail))
            for frame in range(FIRST_FRAME, FIRST_FRAME + PLATE_FRAMES)
        ]

    def parents(self, index: int) -> list[tuple[int, str]]:
        """(parent asset, edge kind) of one asset: always of a smaller index, so no cycle."""
        shot, j = divmod(index, SHOT)
        if j == 0:
            return []
        found = [(shot * SHOT + (j - 1) // 2, "contains")]
        if j % 5 == 0 and shot > 0:
            found.append(((shot - 1) * SHOT, "references"))
        chain = j - CHAIN_FIRST_J
        if 0 <= chain < CHAINS and shot and shot % self.stride == 0:
            link = shot // self.stride
            if link <= CHAIN_EDGES:
                found.append((self.chain_asset(chain, link - 1), "contains"))
        return found

    def delivered(self, count: int) -> Iterator[tuple[int, int | None, bytes]]:
        """(asset, frame, path) of `count` member files of whole shots from the middle of the table."""
        shot = self.shots // 2
        given = 0
        while given < count:
            if shot >= self.shots:
                shot = 0
            for index in range(shot * SHOT, shot * SHOT + SHOT):
                for frame, path in self.member_paths(index):
                    if given == count:
                        return
                    yield index, frame, path
                    given += 1
            shot += 1


def content_digest(index: int, frame: int | None) -> str:
    import xxhash

    return "xxh3-128:" + xxhash.xxh3_128_hexdigest(b"%d:%d" % (index, frame or 0))


def content_size(index: int, frame: int | None) -> int:
    return 4096 + (index * 7919 + (frame or 0) * 104729) % (1 << 20)


# ---------------------------------------------------------------------------------------------
# Shared with bench/perceptual.py: a ledger loaded in one child process, queried in another,
# on SQLite and on PostgreSQL


def analyze_after_load(engine: Any) -> float:
    """`VACUUM ANALYZE` a PostgreSQL database, as its autovacuum would a little later (without
    statistics the planner guesses the sizes of freshly loaded tables). Returns the seconds it
    took; SQLite is left as the library leaves it (0)."""
    if engine.dialect.name != "postgresql":
        return 0.0
    started = time.perf_counter()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM ANALYZE")
    return time.perf_counter() - started


def database_size(engine: Any) -> int:
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            pages = connection.exec_driver_sql("PRAGMA page_count").scalar()
            page = connection.exec_driver_sql("PRAGMA page_size").scalar()
            return int(pages) * int(page)
        return int(
            connection.exec_driver_sql("SELECT pg_database_size(current_database())").scalar()
        )


def run_child(script: str, *args: str) -> dict[str, Any]:
    """Run `script --child ARGS` in a process of its own: the JSON its last line prints."""
    command = [sys.executable, script, "--child", *args]
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"child {args[0]} failed with exit code {done.returncode}")
    data: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return data


def fresh_work_folder(work: Path) -> Path:
    """Empty `work`; the ledgers made in it read and write their settings there too, not the
    user's (unless XDG folders are set already)."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    os.environ.setdefault("XDG_CONFIG_HOME", str(work / "config"))
    os.environ.setdefault("XDG_DATA_HOME", str(work / "data"))
    return work


def create_database(admin_url: str, name: str) -> str:
    """The URL of a new, empty database `name` on the server of `admin_url`."""
    import sqlalchemy as sa

    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine.dispose()
    return sa.engine.make_url(admin_url).set(database=name).render_as_string(False)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


# ---------------------------------------------------------------------------------------------
# The children


def open_ledger(url: str, workspace: Path) -> Any:
    from provenance import Ledger

    return Ledger.open(url, cwd=workspace)


def child_load(url: str, workspace: Path, assets: int, versions_file: Path) -> None:
    """Create the ledger and load it; print the rows and seconds of each table as JSON."""
    from provenance import Ledger
    from provenance.fingerprint import aggregate_digest
    from provenance.ingest import SQLITE_CACHE_KIB
    from provenance.store import bulk, queries
    from provenance.store.engine import write_session
    from provenance.store.events import unit_of_work_event
    from provenance.store.models import (
        Asset,
        AssetVersion,
        Claim,
        Content,
        LineageEdge,
        Member,
    )

    plan = Plan(assets, os.fsencode(workspace))
    ledger = Ledger.create(url, cwd=workspace)
    engine = ledger.engine
    sqlite = engine.dialect.name == "sqlite"
    tables = {
        name: model.__table__
        for name, model in (
            ("contents", Content),
            ("assets", Asset),
            ("asset_versions", AssetVersion),
            ("members", Member),
            ("claims", Claim),
            ("lineage", LineageEdge),
        )
    }
    rows = dict.fromkeys([*tables, "events"], 0)
    spent = dict.fromkeys([*tables, "events"], 0.0)
    # Asset index -> version id, for edges to earlier batches (8 bytes an asset).
    version_of = array("q", bytes(8 * assets))

    def write(name: str, columns: tuple[str, ...], batch: list[tuple[object, ...]]) -> None:
        started = time.perf_counter()
        bulk.insert_rows(connection, tables[name], columns, batch)
        spent[name] += time.perf_counter() - started
        rows[name] += len(batch)

    def ids(name: str, count: int) -> list[int]:
        started = time.perf_counter()
        found = bulk.allocate_ids(connection, tables[name], count)
        spent[name] += time.perf_counter() - started
        return found

    started = time.perf_counter()
    for batch_number, first_shot in enumerate(range(0, plan.shots, BATCH_SHOTS)):
        first = first_shot * SHOT
        last = min(plan.shots, first_shot + BATCH_SHOTS) * SHOT
        origin = ORIGINS[batch_number % len(ORIGINS)]
        with write_session(engine) as session:
            connection = session.connection()
            if sqlite:
                connection.exec_driver_sql(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
            # The ledger's own root: the workspace on SQLite, `/` on PostgreSQL.
            roots = queries.ensure_roots(session, ledger.workspace)
            unit_of_work = unit_of_work_event(
                session,
                "ingest",
                {
                    "paths": [os.fsdecode(plan.workspace + b"/shows/bench")],
                    "origin": origin,
                    "tool": None,
                    "by": CLAIMED_BY,
                    "contains": [],
                    "references": [],
                    "note": None,
                    "likeness": [],
                },
            )
            # The event is written last, committing to the rows (read back from the tables).
            # The rows are those `Ingester._record_assets` (provenance/ingest.py) writes, written
            # here and not through it: it is private, wants scanned files, and writes assets,
            # versions and members in one call where this times each table; and an ingest gives
            # every asset the same parents (`add_edges`: a cycle check and an insert an edge)
            # where this plan gives each asset its own. Unlike it, nothing hands the event the
            # versions and members written (its `_commit_to`): the events column includes
            # reading them back.
            with unit_of_work as unit:
                event_id = unit.event_id
                now = bulk.driver_value(connection, tables["assets"].c.created_at, unit.at)
                members = [plan.member_paths(index) for index in range(first, last)]
                content_ids = iter(ids("contents", sum(len(m) for m in members)))
                content_rows: list[tuple[object, ...]] = []
                member_rows: list[tuple[object, ...]] = []
                version_rows: list[tuple[object, ...]] = []
                asset_rows: list[tuple[object, ...]] = []
                asset_ids = ids("assets", last - first)
                version_ids = ids("asset_versions", last - first)
                for offset, index in enumerate(range(first, last)):
                    version_id = version_ids[offset]
                    version_of[index] = version_id
                    digests = []
                    total = 0
                    for position, (frame, _path) in enumerate(members[offset]):
                        content_id = next(content_ids)
                        digest = content_digest(index, frame)
                        size = content_size(index, frame)
                        content_rows.append((content_id, digest, size))
                        member_rows.append((version_id, position, frame, content_id))
                        digests.append((frame, digest))
                        total += size
                    root_id, relative = roots.split(plan.asset_path(index))
                    kind = "sequence" if index % SHOT == 0 else "file"
                    asset_rows.append((asset_ids[offset], root_id, relative, kind, 1, now))
                    version_rows.append(
                        (
                            version_id,
                            asset_ids[offset],
                            1,
                            aggregate_digest(digests),
                            len(digests),
                            total,
                            "standard",
                            now,
                            event_id,
                        )
                    )
                write("contents", ("id", "digest", "size"), content_rows)
                write(
                    "assets",
                    ("id", "root_id", "pattern", "kind", "latest_version", "created_at"),
                    asset_rows,
                )
                write(
                    "asset_versions",
                    (
                        "id",
                        "asset_id",
                        "number",
                        "digest",
                        "member_count",
                        "total_size",
                        "status",
                        "created_at",
                        "event_id",
                    ),
                    version_rows,
                )
                write("members", ("version_id", "position", "frame", "content_id"), member_rows)
                write(
                    "claims",
                    (
                        "version_id",
                        "origin",
                        "tool_id",
                        "tool_version",
                        "claimed_by",
                        "evidence",
                        "detail",
                        "note",
                        "resolves",
                        "created_at",
                        "event_id",
                    ),
                    [
                        (
                            v,
                            origin,
                            None,
                            None,
                            CLAIMED_BY,
                            "declared",
                            None,
                            None,
                            False,
                            now,
                            event_id,
                        )
                        for v in version_ids
                    ],
                )
                write(
                    "lineage",
                    ("child_id", "parent_id", "kind", "created_at", "event_id"),
                    [
                        (version_of[index], version_of[parent], kind, now, event_id)
                        for index in range(first, last)
                        for parent, kind in plan.parents(index)
                    ],
                )
                event_started = time.perf_counter()
            spent["events"] += time.perf_counter() - event_started
            rows["events"] += 1
            commit_started = time.perf_counter()
        spent["commit"] = spent.get("commit", 0.0) + time.perf_counter() - commit_started
        if batch_number % 10 == 9:
            done = last / assets
            log(f"  loaded {last:,} assets ({done:.0%}) in {time.perf_counter() - started:.0f} s")
    seconds = time.perf_counter() - started
    analyze_seconds = analyze_after_load(engine)
    size = database_size(engine)
    ledger.close()
    versions_file.write_bytes(version_of.tobytes())
    print(
        json.dumps(
            {
                "seconds": seconds,
                "rows": rows,
                "spent": spent,
                "analyze_seconds": analyze_seconds,
                "size": size,
                "maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            }
        )
    )


def tree_depth(node: Any) -> tuple[int, int]:
    """(deepest level, nodes) of a LineageNode tree."""
    deepest, count = node.depth, 1
    stack = list(node.children)
    while stack:
        child = stack.pop()
        deepest = max(deepest, child.depth)
        count += 1
        stack.extend(child.children)
    return deepest, count


def child_query(url: str, workspace: Path, assets: int, versions_file: Path, files: int) -> None:
    """Lineage and sweep-resolution timings on a loaded ledger, printed as JSON."""
    import sqlalchemy as sa

    from provenance.store import queries
    from provenance.store.engine import read_session
    from provenance.store.ledger_facts import ledger_facts
    from provenance.store.models import Asset, AssetVersion, Content, LineageEdge, Member
    from provenance.store.resolving import Delivered, resolve_delivered

    plan = Plan(assets, os.fsencode(workspace))
    version_of = array("q")
    version_of.frombytes(versions_file.read_bytes())
    ledger = open_ledger(url, workspace)
    engine = ledger.engine
    result: dict[str, Any] = {}

    # -- lineage ---------------------------------------------------------------------------
    timings: dict[str, list[float]] = {
        "lineage_up": [],
        "lineage_down": [],
        "edges_up": [],
        "edges_down": [],
        "walk_up": [],
        "walk_down": [],
    }
    checks: list[str] = []

    def plain_walk(connection: sa.Connection, start: int, up: bool) -> int:
        """Breadth-first, one indexed SELECT a level: the floor the CTE is measured against."""
        near, far = (
            (LineageEdge.child_id, LineageEdge.parent_id)
            if up
            else (LineageEdge.parent_id, LineageEdge.child_id)
        )
        step = sa.select(far).where(near.in_(sa.bindparam("ids", expanding=True)))
        seen = {start}
        frontier = [start]
        edges = 0
        for _ in range(CHAIN_EDGES):
            if not frontier:
                break
            found = connection.execute(step, {"ids": frontier}).scalars().all()
            edges += len(found)
            frontier = [v for v in set(found) if v not in seen]
            seen.update(frontier)
        return edges

    for repetition in range(REPEAT_QUERIES):
        for chain in range(CHAINS):
            top = plan.chain_asset(chain, 0)
            deep = plan.chain_asset(chain, CHAIN_EDGES)
            top_path = os.fsdecode(plan.asset_path(top))
            deep_path = os.fsdecode(plan.asset_path(deep))
            started = time.perf_counter()
            up_tree = ledger.lineage(deep_path, up=True, depth=CHAIN_EDGES)
            timings["lineage_up"].append(time.perf_counter() - started)
            started = time.perf_counter()
            down_tree = ledger.lineage(top_path, up=False, depth=CHAIN_EDGES)
            timings["lineage_down"].append(time.perf_counter() - started)
            with read_session(engine) as session:
                started = time.perf_counter()
                up_edges = queries.lineage_edges(session, version_of[deep], True, CHAIN_EDGES)
                timings["edges_up"].append(time.perf_counter() - started)
                started = time.perf_counter()
                down_edges = queries.lineage_edges(session, version_of[top], False, CHAIN_EDGES)
                timings["edges_down"].append(time.perf_counter() - started)
                connection = session.connection()
                started = time.perf_counter()
                plain_walk(connection, version_of[deep], up=True)
                timings["walk_up"].append(time.perf_counter() - started)
                started = time.perf_counter()
                plain_walk(connection, version_of[top], up=False)
                timings["walk_down"].append(time.perf_counter() - started)
            if repetition == 0:
                up_depth, up_nodes = tree_depth(up_tree)
                down_depth, down_nodes = tree_depth(down_tree)
                reached_top = any(e.parent_id == version_of[top] for e in up_edges)
                reached_deep = any(e.child_id == version_of[deep] for e in down_edges)
                result[f"chain{chain}"] = {
                    "up": [up_depth, up_nodes, len(up_edges)],
                    "down": [down_depth, down_nodes, len(down_edges)],
                }
                if not (up_depth == down_depth == CHAIN_EDGES and reached_top and reached_deep):
                    checks.append(
                        f"chain {chain}: up {up_depth} levels, down {down_depth}, "
                        f"top reached {reached_top}, deep end reached {reached_deep}"
                    )
    result["lineage"] = timings

    # -- sweep resolution ------------------------------------------------------------------
    items: list[Delivered] = []
    expected: list[tuple[int, int | None]] = []
    for index, frame, path in plan.delivered(files):
        items.append(Delivered(path, content_digest(index, frame)))
        expected.append((version_of[index], frame))
    delivered_assets = sorted({v for v, _ in expected})
    # The floor: one join bringing the delivered assets' member rows to Python.
    plain = (
        sa.select(Asset.pattern, Member.frame, Content.digest)
        .join(AssetVersion, AssetVersion.asset_id == Asset.id)
        .join(Member, Member.version_id == AssetVersion.id)
        .join(Content, Content.id == Member.content_id)
        .where(AssetVersion.id.in_(sa.bindparam("ids", expanding=True)))
    )
    sweep: dict[str, list[float]] = {"resolve": [], "facts": [], "plain": []}
    for repetition in range(REPEAT_SWEEPS):
        with read_session(engine) as session:
            roots = queries.find_roots(session, ledger.workspace)
            assert roots is not None
            started = time.perf_counter()
            resolutions = resolve_delivered(session, roots, items)
            resolved = time.perf_counter()
            versions = {r.version_id for r in resolutions if r.version_id is not None}
            facts = ledger_facts(session, roots, versions)
            done = time.perf_counter()
            sweep["resolve"].append(resolved - started)
            sweep["facts"].append(done - resolved)
            connection = session.connection()
            started = time.perf_counter()
            fetched = 0
            for chunk_start in range(0, len(delivered_assets), 2000):
                chunk = delivered_assets[chunk_start : chunk_start + 2000]
                fetched += len(connection.execute(plain, {"ids": chunk}).all())
            sweep["plain"].append(time.perf_counter() - started)
        if repetition == 0:
            wrong = sum(
                1
                for r, (version, frame) in zip(resolutions, expected, strict=True)
                if r.version_id != version or r.frame != frame or r.recorded_digest is not None
            )
            if wrong:
                checks.append(f"sweep: {wrong:,} of {len(items):,} files resolved wrongly")
            if len(facts.versions) != len(delivered_assets):
                checks.append(
                    f"sweep: facts for {len(facts.versions):,} of {len(delivered_assets):,}"
                )
            result["sweep_counts"] = {
                "files": len(items),
                "assets": len(delivered_assets),
                "plain_rows": fetched,
            }
    result["sweep"] = sweep
    result["checks"] = checks
    result["maxrss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    ledger.close()
    print(json.dumps(result))


def make_after_ingest_tree(work: Path, files: int) -> tuple[Path, Path]:
    """`files` frames in shots of 100 (2 KiB of noise each) and a copy of them as a delivery,
    both left past the racy window (so that the stat cache trusts them)."""
    import random

    tree, delivery = work / "after_ingest" / "shots", work / "after_ingest" / "delivery"
    rng = random.Random(2025)
    for index in range(files):
        shot, frame = divmod(index, 100)
        folder = tree / f"sh{shot:04d}"
        if frame == 0:
            folder.mkdir(parents=True)
        (folder / f"sh{shot:04d}_comp_v001.{FIRST_FRAME + frame}.exr").write_bytes(
            rng.randbytes(2048)
        )
    shutil.copytree(tree, delivery)
    time.sleep(RACY_WAIT_S)
    return tree, delivery


def child_after_ingest(step: str, url: str, workspace: Path, target: str, refresh: str) -> None:
    """One step of the after-ingest measurement; prints its seconds (and counts) as JSON."""
    if refresh == "off":
        import provenance.store.engine as engine_module

        engine_module.changed_tables = lambda session, before: []  # as before the refresh
    from provenance import Ledger

    result: dict[str, Any] = {}
    if step == "prepare":
        ledger = Ledger.create(url, cwd=workspace)
        if ledger.engine.dialect.name == "postgresql":
            with ledger.engine.connect().execution_options(
                isolation_level="AUTOCOMMIT"
            ) as connection:
                connection.exec_driver_sql("ANALYZE")
    elif step == "ingest":
        ledger = Ledger.open(url, cwd=workspace)
        started = time.perf_counter()
        report = ledger.ingest([target])
        result = {"seconds": time.perf_counter() - started, "files": report.files_new}
    else:
        ledger = Ledger.open(url, cwd=workspace)
        started = time.perf_counter()
        swept = ledger.sweep(target)
        result = {
            "seconds": time.perf_counter() - started,
            "files": swept.files,
            "read": swept.files_read,
            "findings": len(swept.verdict.findings),
        }
    ledger.close()
    print(json.dumps(result))


def measure_after_ingest(
    url: str, work: Path, files: tuple[Path, Path], refresh: str
) -> dict[str, Any]:
    """Prepare a ledger, ingest the shots, sweep their copy: each in a process of its own."""
    tree, delivery = files
    workspace = str(work / "after_ingest")
    run_child(__file__, "prepare", url, workspace, "-", refresh)
    ingest = run_child(__file__, "ingest", url, workspace, str(tree), refresh)
    sweep = run_child(__file__, "sweep", url, workspace, str(delivery), refresh)
    return {"ingest": ingest, "sweep": sweep}


# ---------------------------------------------------------------------------------------------
# The parent


@dataclass
class Measured:
    backend: str
    load: dict[str, Any]
    queries: dict[str, Any]


def measure(backend: str, url: str, workspace: Path, args: argparse.Namespace) -> Measured:
    workspace.mkdir(parents=True, exist_ok=True)
    versions_file = workspace / "versions.bin"
    log(f"{backend}: loading {args.assets:,} assets")
    load = run_child(__file__, "load", url, str(workspace), str(args.assets), str(versions_file))
    log(f"{backend}: loaded in {float(load['seconds']):.1f} s ({mib(int(load['size']))}), querying")
    found = run_child(
        __file__,
        "query",
        url,
        str(workspace),
        str(args.assets),
        str(versions_file),
        str(args.sweep_files),
    )
    versions_file.unlink()
    return Measured(backend, load, found)


def best(values: list[float]) -> float:
    return min(values)


def report(runs: list[Measured], args: argparse.Namespace) -> None:
    by = {run.backend: run for run in runs}
    backends = [b for b in ("sqlite", "postgresql") if b in by]
    header = ["measurement", *backends]
    if len(backends) == 2:
        header.append("pg/sqlite")
    header.append("check")
    cells: list[list[str]] = []

    def line(
        name: str, values: dict[str, float], show: Callable[[float], str], check: str = "-"
    ) -> None:
        row = [name, *(show(values[b]) for b in backends)]
        if len(backends) == 2:
            row.append(f"{values['postgresql'] / values['sqlite']:.2f}x")
        row.append(check)
        cells.append(row)

    def text_line(name: str, values: dict[str, str]) -> None:
        row = [name, *(values[b] for b in backends)]
        if len(backends) == 2:
            row.append("")
        row.append("-")
        cells.append(row)

    loads = {b: by[b].load for b in backends}
    total_rows = {b: sum(loads[b]["rows"].values()) for b in backends}
    seconds = {b: float(loads[b]["seconds"]) for b in backends}
    cells.append(
        [
            f"load {args.assets:,} assets: rows/s (all tables)",
            *(f"{total_rows[b] / seconds[b]:,.0f} rows/s" for b in backends),
            *(
                [f"{seconds['postgresql'] / seconds['sqlite']:.2f}x time"]
                if len(backends) == 2
                else []
            ),
            "-",
        ]
    )
    line(f"  wall time ({next(iter(total_rows.values())):,} rows)", seconds, lambda s: f"{s:.1f} s")
    text_line(
        "  assets/s",
        {b: f"{args.assets / seconds[b]:,.0f} assets/s" for b in backends},
    )
    first = loads[backends[0]]["rows"]
    for table in ("contents", "members", "assets", "asset_versions", "claims", "lineage", "events"):
        text_line(
            f"  {table} ({first[table]:,} rows): rows/s, share of time",
            {
                b: f"{loads[b]['rows'][table] / max(loads[b]['spent'][table], 1e-9):,.0f}/s, "
                f"{loads[b]['spent'][table] / seconds[b]:.0%}"
                for b in backends
            },
        )
    text_line(
        "  commits: share of time",
        {b: f"{loads[b]['spent'].get('commit', 0.0) / seconds[b]:.0%}" for b in backends},
    )
    if "postgresql" in backends:
        text_line(
            "  VACUUM ANALYZE after the load (not in the load time)",
            {
                b: f"{float(loads[b]['analyze_seconds']):.1f} s" if b == "postgresql" else "-"
                for b in backends
            },
        )
    text_line("  database size", {b: mib(int(loads[b]["size"])) for b in backends})
    text_line(
        "  peak RSS of the loading process",
        {b: mib(int(loads[b]["maxrss"])) for b in backends},
    )
    queries = {b: by[b].queries for b in backends}
    lineage = {b: queries[b]["lineage"] for b in backends}
    checks = {b: queries[b]["checks"] for b in backends}
    lineage_ok = (
        "PASS"
        if not any(c for b in backends for c in checks[b] if c.startswith("chain"))
        else "MISS"
    )
    chain0 = {b: queries[b]["chain0"] for b in backends}
    for key, label in (
        ("lineage_up", "Ledger.lineage(up=True, depth=50) from a chain's deep end"),
        ("lineage_down", "Ledger.lineage(up=False, depth=50) from a chain's top"),
        ("edges_up", "  queries.lineage_edges, up (the recursive CTE alone)"),
        ("edges_down", "  queries.lineage_edges, down"),
        ("walk_up", "  peer: plain walk up, one indexed SELECT a level"),
        ("walk_down", "  peer: plain walk down"),
    ):
        line(
            f"{label}: best",
            {b: best(lineage[b][key]) for b in backends},
            ms,
            lineage_ok if key.startswith("lineage") else "-",
        )
        if key.startswith("lineage"):
            line(
                "  first call in a fresh process",
                {b: lineage[b][key][0] for b in backends},
                ms,
            )
    text_line(
        "  lineage of chain 0: levels, nodes, edges (up / down)",
        {
            b: f"{chain0[b]['up'][0]}, {chain0[b]['up'][1]}, {chain0[b]['up'][2]} / "
            f"{chain0[b]['down'][0]}, {chain0[b]['down'][1]}, {chain0[b]['down'][2]}"
            for b in backends
        },
    )
    sweep = {b: queries[b]["sweep"] for b in backends}
    counts = queries[backends[0]]["sweep_counts"]
    sweep_ok = (
        "PASS"
        if not any(c for b in backends for c in checks[b] if c.startswith("sweep"))
        else "MISS"
    )
    totals = {
        b: min(r + f for r, f in zip(sweep[b]["resolve"], sweep[b]["facts"], strict=True))
        for b in backends
    }
    line(
        f"sweep resolution of {counts['files']:,} files ({counts['assets']:,} assets): best",
        totals,
        lambda s: f"{s:.2f} s ({counts['files'] / s:,.0f} files/s)",
        sweep_ok,
    )
    line(
        "  resolve_delivered",
        {b: best(sweep[b]["resolve"]) for b in backends},
        lambda s: f"{s:.2f} s",
    )
    line("  ledger_facts", {b: best(sweep[b]["facts"]) for b in backends}, lambda s: f"{s:.2f} s")
    line(
        f"  peer: one plain join fetching the {counts['plain_rows']:,} member rows",
        {b: best(sweep[b]["plain"]) for b in backends},
        lambda s: f"{s:.2f} s",
    )
    text_line(
        "  peak RSS of the query process",
        {b: mib(int(queries[b]["maxrss"])) for b in backends},
    )
    print_table(header, cells)
    for b in backends:
        for problem in checks[b]:
            print(f"{b}: {problem}")


def print_table(header: list[str], cells: list[list[str]]) -> None:
    widths = [max(len(row[i]) for row in [header, *cells]) for i in range(len(header))]
    print("  ".join(cell.ljust(width) for cell, width in zip(header, widths, strict=True)))
    print("  ".join("-" * width for width in widths))
    for row in cells:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))


def report_after_ingest(after: dict[str, dict[str, Any]], files: int) -> None:
    """The sweep right after an ingest: each backend, and PostgreSQL without the refresh."""
    backends = [b for b in ("sqlite", "postgresql", "postgresql-stale") if b in after]
    header = ["measurement", *backends]
    both = "sqlite" in after and "postgresql" in after
    if both:
        header.append("pg/sqlite")
    header.append("check")
    cells = []
    for key, label in (
        ("sweep", f"sweep of a {files:,}-file copy right after its ingest (fresh process)"),
        ("ingest", f"  the ingest of the {files:,} files before it"),
    ):
        row = [label, *(f"{after[b][key]['seconds']:.2f} s" for b in backends)]
        if both:
            row.append(
                f"{after['postgresql'][key]['seconds'] / after['sqlite'][key]['seconds']:.2f}x"
            )
        target = "-"
        if key == "sweep" and both:
            within = after["postgresql"][key]["seconds"] <= 2 * after["sqlite"][key]["seconds"]
            target = ("PASS" if within else "MISS") + " (pg within 2x)"
        row.append(target)
        cells.append(row)
    print_table(header, cells)
    if "postgresql-stale" in after:
        print(
            "postgresql-stale: the same run with the library's statistics refresh after a write "
            "turned off (the planner still sees the empty tables)"
        )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--assets", type=int, default=1_000_000, help="assets to load")
    parser.add_argument("--quick", action="store_true", help="100,000 assets (a smoke run)")
    parser.add_argument("--sweep-files", type=int, default=100_000, help="files to resolve")
    parser.add_argument("--only", choices=("sqlite", "postgresql"), help="one backend only")
    parser.add_argument(
        "--pg",
        metavar="URL",
        help="an empty PostgreSQL database to use (the after-ingest measurement creates two "
        "more databases on its server)",
    )
    parser.add_argument(
        "--work",
        type=Path,
        default=DEFAULT_WORK,
        help="the SQLite ledger goes in WORK/ledger_scale",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the SQLite ledger (the server always stops)"
    )
    parser.add_argument(
        "--after-ingest-files",
        type=int,
        default=20_000,
        help="files of the sweep-right-after-ingest measurement (0: skip it)",
    )
    parser.add_argument(
        "--only-after-ingest",
        action="store_true",
        help="measure only the sweep right after an ingest (not the 1,000,000-asset ledger)",
    )
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, url, workspace, assets, versions, *rest = args.child
        if kind in ("prepare", "ingest", "sweep"):
            child_after_ingest(kind, url, Path(workspace), assets, versions)
        elif kind == "load":
            child_load(url, Path(workspace), int(assets), Path(versions))
        else:
            child_query(url, Path(workspace), int(assets), Path(versions), int(rest[0]))
        return 0
    if args.quick:
        args.assets = 100_000
    if args.assets < SHOT * (CHAIN_EDGES + 1) * 2:
        parser.error(f"--assets must be at least {SHOT * (CHAIN_EDGES + 1) * 2:,}")
    args.assets -= args.assets % SHOT
    args.sweep_files = min(args.sweep_files, args.assets)
    work = fresh_work_folder(args.work.resolve() / "ledger_scale")
    load_before = os.getloadavg()[0]
    runs: list[Measured] = []
    after: dict[str, dict[str, Any]] = {}
    server = None
    try:
        if args.after_ingest_files:
            log(f"after ingest: writing {args.after_ingest_files:,} frames and their copy")
            files = make_after_ingest_tree(work, args.after_ingest_files)
        if args.only != "postgresql":
            if args.after_ingest_files:
                log("sqlite: a sweep right after an ingest")
                url = str(work / "after_ingest" / ".provenance" / "ledger.db")
                after["sqlite"] = measure_after_ingest(url, work, files, "on")
                shutil.rmtree(work / "after_ingest" / ".provenance")
            if not args.only_after_ingest:
                workspace = work / "sqlite"
                url = str(workspace / ".provenance" / "ledger.db")
                runs.append(measure("sqlite", url, workspace, args))
        if args.only != "sqlite":
            admin = args.pg
            if admin is None:
                from tests.pgserver import start_server

                server = start_server()
                admin = server.url()
            if args.after_ingest_files:
                for name, refresh in (("postgresql", "on"), ("postgresql-stale", "off")):
                    log(f"{name}: a sweep right after an ingest")
                    url = create_database(admin, f"after_ingest_{refresh}")
                    after[name] = measure_after_ingest(url, work, files, refresh)
            if not args.only_after_ingest:
                url = args.pg or create_database(admin, "ledger_scale")
                runs.append(measure("postgresql", url, work / "postgresql", args))
    finally:
        if server is not None:
            server.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print()
    scale = (
        ""
        if args.only_after_ingest
        else f"{args.assets:,} assets, lineage best of {REPEAT_QUERIES} x {CHAINS} chains, "
        f"sweep best of {REPEAT_SWEEPS}, "
    )
    print(
        f"cores: {os.cpu_count()}, python {sys.version.split()[0]}, {scale}"
        f"load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after"
    )
    if after:
        report_after_ingest(after, args.after_ingest_files)
        print()
    if runs:
        report(runs, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())

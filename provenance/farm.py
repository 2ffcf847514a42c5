"""Farm jobs: a tree hashed in shards by a render farm's own job system, then recorded once.

A studio's delivery can be hundreds of terabytes on shared storage: one machine hashing it is
the bottleneck, and studios already run a farm. `write_farm_job` plans shards of a folder
(whole folders balanced by bytes; a folder bigger than a shard's share is split between its
assets, never inside a sequence or UDIM set) and writes, in a job folder:

- `template.json`, an Open Job Description template (what AWS Deadline Cloud runs, and `openjd run`
  locally; the folder is a Deadline Cloud job bundle as it is): a step `Hash` of one task a shard, and a step `Record` after it. The ledger's URL,
  the tree, the plan and the command are job parameters whose defaults are this job's, so
  `openjd run template.json --step Hash` needs no other argument;
- `plan.json`, the shards (paths relative to the tree, so a farm node that mounts the tree
  elsewhere runs the same plan with `-p Tree=...`);
- `shards.txt` (one command line a shard task) and `record.txt` (the last step) for farms that
  take command lists (OpenCue's `cuecmd`, Tractor, a shell loop).

A shard task (`run_shard`) hashes its files and writes what it read (digest, stat, when the
reading began) to `shards/shard-NNNN.json`, atomically: a shard whose file is there is done and
is not read again. While it works it keeps `shard-NNNN.partial` (chunk by chunk), so a task
killed half-way and run again reads only what it had not. On PostgreSQL the task also records
its readings in the ledger's stat cache, in one transaction (the studio's ledger knows those
bytes at once); with SQLite, no task touches the ledger (no shared server, and SQLite's locks
do not work over network storage): the last step records everything.

The last step (`finish_job`) runs the ingest, sweep or finalize the job was made for, trusting
the shards' readings as its own (a file whose stat moved since its shard read it is read
again): on SQLite that one transaction records every shard. A finalize trusts them as it trusts
its own reading (the readings are the job's, in the job folder, never a row of the ledger):
keep the job folder writable by the farm's account only.

Farm nodes mount the same storage under different device numbers: a reading's device is taken
as the tree's own when it was the device of the tree on the node that read it.
"""

from __future__ import annotations

import heapq
import json
import os
import shlex
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import xxhash

from provenance import atomic, schemas
from provenance.errors import ProvenanceError, TargetNotFound
from provenance.scan import (
    LEDGER_FOLDERS,
    RACY_WINDOW_NS,
    ScannedAsset,
    StatFingerprint,
    scan_folder,
    walk_folder,
)

if TYPE_CHECKING:
    from provenance.fingerprint import Hasher
    from provenance.records import IngestReport, SweepReport

__all__ = [
    "FINISH_KINDS",
    "FarmPlan",
    "Finish",
    "Readings",
    "finish_job",
    "job_readings",
    "plan_shards",
    "run_shard",
    "shard_path",
    "write_farm_job",
]


FINISH_KINDS = ("ingest", "sweep", "finalize")
TEMPLATE_FILE, PLAN_FILE, SHARDS_FILE, RECORD_FILE = (
    "template.json",
    "plan.json",
    "shards.txt",
    "record.txt",
)
SHARD_FOLDER = "shards"
PARTIAL_CHUNKS = 20
PARTIAL_CHUNK_MAX_FILES = 2_000
"""A shard is read in about PARTIAL_CHUNKS chunks (of at most this many files), each kept in
the partial file as it is done: a killed task loses one chunk."""

Readings = dict[bytes, tuple[str, StatFingerprint, int]]
"""What a job read itself: path -> (digest, stat after reading, when the reading began)."""


@dataclass(frozen=True)
class Finish:
    """What the job's last step runs on what the shards read, with its options."""

    kind: str = "ingest"
    origin: str | None = None
    tool: str | None = None
    by: str | None = None
    note: str | None = None
    name: str | None = None
    """The deliverable's name (a finalize)."""
    policy: str | None = None
    """A policy file (a sweep or finalize)."""

    def check(self) -> None:
        if self.kind not in FINISH_KINDS:
            raise ProvenanceError(
                f"A farm job ends with {', '.join(FINISH_KINDS)}, not {self.kind!r}."
            )
        if self.kind == "finalize" and not (self.name or "").strip():
            raise ProvenanceError("A farm job that finalizes needs --name (e.g. EP101_VFX_v003).")
        if self.kind != "ingest" and (self.origin or self.tool or self.by or self.note):
            raise ProvenanceError(
                "--origin, --tool, --by and --note describe what an ingest records; a farm "
                f"job that ends with {self.kind} records no claim."
            )


@dataclass(frozen=True)
class Unit:
    """Part of a shard: a folder (relative to the tree, ending in `/`; "" for the tree's top)
    whole, or only the assets named (their pattern names in the folder)."""

    folder: str
    assets: tuple[str, ...] | None
    files: int
    size: int


@dataclass(frozen=True)
class Shard:
    units: tuple[Unit, ...]

    @property
    def files(self) -> int:
        return sum(unit.files for unit in self.units)

    @property
    def size(self) -> int:
        return sum(unit.size for unit in self.units)


@dataclass(frozen=True)
class FarmPlan:
    """The shards of a tree, and what the job's last step runs."""

    tree: str
    """The tree when the job was made (a job parameter may name it where a node mounts it)."""
    finish: Finish
    shards: tuple[Shard, ...]

    @property
    def skip(self) -> frozenset[bytes]:
        """Subfolders not walked: an ingest never records the ledger's own folder; whatever
        ships in a delivery is judged."""
        return LEDGER_FOLDERS if self.finish.kind == "ingest" else frozenset()

    def document(self) -> dict[str, Any]:
        return {
            "schema": schemas.FARM_PLAN,
            "tree": self.tree,
            "finish": asdict(self.finish),
            "shards": [
                [
                    [u.folder, None if u.assets is None else list(u.assets), u.files, u.size]
                    for u in shard.units
                ]
                for shard in self.shards
            ],
        }

    @property
    def digest(self) -> str:
        text = json.dumps(self.document(), sort_keys=True, ensure_ascii=True)
        return "xxh3-128:" + xxhash.xxh3_128_hexdigest(text.encode())

    @classmethod
    def load(cls, path: Path) -> FarmPlan:
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise TargetNotFound(
                f"No farm plan at {path}. `provenance farm job` writes one in the job folder."
            ) from None
        except (OSError, ValueError) as exc:
            raise ProvenanceError(f"Cannot read the farm plan {path}: {exc}.") from None
        if not isinstance(document, dict) or document.get("schema") != schemas.FARM_PLAN:
            raise ProvenanceError(
                f"{path} is not a farm plan ({schemas.FARM_PLAN}); give the plan.json that "
                "`provenance farm job` wrote."
            )
        shards = tuple(
            Shard(
                tuple(
                    Unit(folder, None if assets is None else tuple(assets), files, size)
                    for folder, assets, files, size in units
                )
            )
            for units in document["shards"]
        )
        return cls(document["tree"], Finish(**document["finish"]), shards)


# ---------------------------------------------------------------------------------------------
# Planning


def plan_shards(tree: bytes, count: int, finish: Finish) -> FarmPlan:
    """Walk `tree` (absolute) and cut it into `count` shards of about the same bytes: whole
    folders, and the assets of a folder bigger than a shard's share, never part of an asset."""
    if count < 1:
        raise ProvenanceError(f"A farm job needs at least one shard, not {count}.")
    finish.check()
    if not os.path.isdir(tree):
        raise TargetNotFound(
            f"{os.fsdecode(tree)!r} is not a folder. A farm job shards a folder: the tree to "
            "ingest, or the delivery folder to sweep or finalize."
        )
    skip = LEDGER_FOLDERS if finish.kind == "ingest" else frozenset()
    folders: list[tuple[str, list[tuple[str, int, int]]]] = []
    for scan in walk_folder(tree, skip=skip):
        if scan.folder is None or not scan.assets:
            continue
        relative = os.fsdecode(scan.folder[len(tree.rstrip(b"/")) + 1 :])
        assets = [(_pattern_name(scan.folder, asset), *_asset_size(asset)) for asset in scan.assets]
        folders.append((relative, assets))
    total = sum(size for _, assets in folders for _, _, size in assets)
    share = total / count
    units: list[Unit] = []
    for relative, assets in folders:
        files = sum(f for _, f, _ in assets)
        size = sum(s for _, _, s in assets)
        if size <= share or len(assets) == 1:
            units.append(Unit(relative, None, files, size))
        else:
            units.extend(Unit(relative, (name,), f, s) for name, f, s in assets)
    # Largest first, each to the lightest shard so far (ties: fewest files, then the first).
    placed: list[list[Unit]] = [[] for _ in range(count)]
    lightest = [(0, 0, index) for index in range(count)]
    for unit in sorted(units, key=lambda u: (-u.size, -u.files, u.folder, u.assets or ())):
        size, files, index = heapq.heappop(lightest)
        placed[index].append(unit)
        heapq.heappush(lightest, (size + unit.size, files + unit.files, index))
    shards = tuple(
        Shard(tuple(_merge_units(sorted(chosen, key=lambda u: (u.folder, u.assets or ())))))
        for chosen in placed
    )
    return FarmPlan(os.fsdecode(tree), finish, shards)


def _pattern_name(folder: bytes, asset: ScannedAsset) -> str:
    return os.fsdecode(asset.pattern[len(folder) :])


def _asset_size(asset: ScannedAsset) -> tuple[int, int]:
    return len(asset.members), sum(member.stat.size for member in asset.members)


def _merge_units(units: Iterable[Unit]) -> Iterator[Unit]:
    """Assets of one folder in one shard become one unit."""
    pending: Unit | None = None
    for unit in units:
        if (
            pending is not None
            and pending.folder == unit.folder
            and pending.assets is not None
            and unit.assets is not None
        ):
            pending = Unit(
                unit.folder,
                pending.assets + unit.assets,
                pending.files + unit.files,
                pending.size + unit.size,
            )
            continue
        if pending is not None:
            yield pending
        pending = unit
    if pending is not None:
        yield pending


# ---------------------------------------------------------------------------------------------
# The job folder


@dataclass(frozen=True)
class FarmJob:
    """A job folder as `write_farm_job` wrote it."""

    folder: Path
    plan: FarmPlan
    ledger_url: str

    @property
    def template(self) -> Path:
        return self.folder / TEMPLATE_FILE

    @property
    def plan_file(self) -> Path:
        return self.folder / PLAN_FILE

    @property
    def shard_commands(self) -> Path:
        return self.folder / SHARDS_FILE

    @property
    def record_command(self) -> Path:
        return self.folder / RECORD_FILE


def default_command() -> str:
    """The `provenance` command as this machine runs it (farm nodes may override it)."""
    beside = Path(sys.executable).with_name("provenance")
    if beside.exists():
        return str(beside)
    return shutil.which("provenance") or "provenance"


def write_farm_job(
    tree: bytes,
    shards: int,
    out: Path,
    ledger_url: str,
    finish: Finish,
    command: str | None = None,
) -> FarmJob:
    """Plan the shards of `tree` and write the job folder `out` (see the module's docstring).

    `ledger_url` goes into the job as it is: give it without a password (farm nodes connect
    with their own ~/.pgpass or PGSERVICE)."""
    plan = plan_shards(tree, shards, finish)
    command = command or default_command()
    out.mkdir(parents=True, exist_ok=True)
    existing = out / PLAN_FILE
    if (
        existing.exists()
        and FarmPlan.load(existing).digest != plan.digest
        and any((out / SHARD_FOLDER).glob("shard-*"))
    ):
        raise ProvenanceError(
            f"{out} holds another farm job whose shards have run. Give a new --out folder "
            "(or remove that one once its job is done)."
        )
    atomic.replace(out / PLAN_FILE, (json.dumps(plan.document(), indent=1) + "\n").encode())
    template = job_template(plan, ledger_url, command)
    atomic.replace(out / TEMPLATE_FILE, (json.dumps(template, indent=2) + "\n").encode())
    base = [command, "--db", ledger_url, "farm"]
    plan_path = str((out / PLAN_FILE).absolute())
    lines = [
        shlex.join([*base, "shard", plan_path, "--shard", str(index), "--tree", plan.tree])
        for index in range(len(plan.shards))
    ]
    atomic.replace(out / SHARDS_FILE, ("".join(line + "\n" for line in lines)).encode())
    record = shlex.join([*base, "finish", plan_path, "--tree", plan.tree])
    atomic.replace(out / RECORD_FILE, (record + "\n").encode())
    return FarmJob(out, plan, ledger_url)


def job_template(plan: FarmPlan, ledger_url: str, command: str) -> dict[str, Any]:
    """The Open Job Description template (jobtemplate-2023-09) of a plan."""
    name = os.path.basename(plan.tree.rstrip("/")) or plan.tree
    shard_args = [
        "--db",
        "{{Param.LedgerUrl}}",
        "farm",
        "shard",
        "{{Param.ShardPlan}}",
        "--shard",
        "{{Task.Param.Shard}}",
        "--tree",
        "{{Param.Tree}}",
    ]
    record_args = [
        "--db",
        "{{Param.LedgerUrl}}",
        "farm",
        "finish",
        "{{Param.ShardPlan}}",
        "--tree",
        "{{Param.Tree}}",
    ]
    return {
        "specificationVersion": "jobtemplate-2023-09",
        "name": f"provenance {plan.finish.kind} of {name} ({len(plan.shards)} shards)",
        "description": (
            "Written by `provenance farm job`: each Hash task reads one shard of the tree; "
            f"Record then runs the {plan.finish.kind} on what they read."
        ),
        "parameterDefinitions": [
            {
                "name": "LedgerUrl",
                "type": "STRING",
                "description": "The ledger: a PostgreSQL URL, or the path of a SQLite ledger.",
                "default": ledger_url,
            },
            {
                "name": "Tree",
                "type": "STRING",
                "description": "The tree, where the farm's nodes mount it.",
                "default": plan.tree,
            },
            {
                "name": "ShardPlan",
                "type": "PATH",
                "objectType": "FILE",
                "dataFlow": "IN",
                "description": "The shards (plan.json beside this template).",
                "default": PLAN_FILE,
            },
            {
                "name": "Provenance",
                "type": "STRING",
                "description": "The provenance command on the farm's nodes.",
                "default": command,
            },
        ],
        "steps": [
            {
                "name": "Hash",
                "parameterSpace": {
                    "taskParameterDefinitions": [
                        {"name": "Shard", "type": "INT", "range": f"0-{len(plan.shards) - 1}"}
                    ]
                },
                "script": {
                    "actions": {"onRun": {"command": "{{Param.Provenance}}", "args": shard_args}}
                },
            },
            {
                "name": "Record",
                "dependencies": [{"dependsOn": "Hash"}],
                "script": {
                    "actions": {"onRun": {"command": "{{Param.Provenance}}", "args": record_args}}
                },
            },
        ],
    }


# ---------------------------------------------------------------------------------------------
# A shard task


@dataclass
class ShardResult:
    """What a shard task did."""

    shard: int
    shards: int
    files: int = 0
    files_read: int = 0
    bytes_read: int = 0
    already_done: bool = False
    """The shard's file was there: nothing was read."""
    recorded: bool = False
    """The readings went into the ledger's stat cache (PostgreSQL)."""
    skipped: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0


def shard_path(plan_file: Path, index: int) -> Path:
    return plan_file.parent / SHARD_FOLDER / f"shard-{index:04d}.json"


def hash_shard(
    plan_file: Path,
    index: int,
    tree: bytes | None,
    hasher: Hasher,
    progress: Callable[[int, int, int], None] | None = None,
) -> tuple[ShardResult, Readings]:
    """Read shard `index` of the plan (resuming a killed run from its partial file) and write
    its shard file; a shard whose file is there is not read again. Returns the result and the
    shard's readings (absolute paths)."""
    started = time.perf_counter()
    plan = FarmPlan.load(plan_file)
    if not 0 <= index < len(plan.shards):
        raise ProvenanceError(
            f"The plan has shards 0 to {len(plan.shards) - 1}; there is no shard {index}."
        )
    top = _tree(plan, tree)
    result = ShardResult(index, len(plan.shards))
    final = shard_path(plan_file, index)
    if final.exists():
        finished = _readings_of(_load_shard(final, plan, index), top)
        result.already_done = True
        result.files = len(finished)
        return result, finished
    final.parent.mkdir(parents=True, exist_ok=True)
    partial = final.with_suffix(".partial")
    root_dev = os.stat(top).st_dev
    earlier = _partial_readings(partial, plan, index, top)
    files = _shard_files(plan.shards[index], top, plan.skip)
    result.files = len(files)
    recorded: list[list[Any]] = []
    readings: Readings = {}
    step = min(PARTIAL_CHUNK_MAX_FILES, max(16, -(-len(files) // PARTIAL_CHUNKS)))
    with partial.open("a", encoding="utf-8") as log:
        for start in range(0, len(files), step):
            chunk = files[start : start + step]
            recorded_ns = time.time_ns()
            to_read = []
            kept: list[list[Any]] = []
            for path, stat in chunk:
                earlier_reading = earlier.get(path)
                if earlier_reading is not None and _still(earlier_reading, stat):
                    kept.append(_entry(top, path, earlier_reading[0], stat, earlier_reading[2]))
                    readings[path] = (earlier_reading[0], stat, earlier_reading[2])
                else:
                    to_read.append((path, stat.size))
            fresh = hasher.hash_files(to_read) if to_read else []
            for done in fresh:
                if done.digest is None or done.stat is None:
                    reason = done.skip.value if done.skip is not None else "unreadable"
                    result.skipped.append((os.fsdecode(done.path), reason))
                    continue
                kept.append(_entry(top, done.path, done.digest, done.stat, recorded_ns))
                readings[done.path] = (done.digest, done.stat, recorded_ns)
                result.files_read += 1
                result.bytes_read += done.stat.size
            log.write(json.dumps({"plan": plan.digest, "root_dev": root_dev, "files": kept}) + "\n")
            log.flush()
            recorded += kept
            if progress is not None:
                progress(min(start + len(chunk), len(files)), 0, result.bytes_read)
    document = {
        "schema": schemas.FARM_SHARD,
        "plan": plan.digest,
        "shard": index,
        "root_dev": root_dev,
        "files": recorded,
        "skipped": result.skipped,
    }
    atomic.replace(final, (json.dumps(document) + "\n").encode())
    partial.unlink(missing_ok=True)
    result.seconds = time.perf_counter() - started
    return result, readings


def run_shard(
    plan_file: Path,
    index: int,
    tree: bytes | None,
    db: str | None,
    workers: int | None = None,
    progress: Callable[[int, int, int], None] | None = None,
) -> ShardResult:
    """A shard task: `hash_shard`, then (on a PostgreSQL ledger) its readings recorded in the
    ledger's stat cache in one transaction. Run again, a finished shard is not read again (on
    PostgreSQL its readings are recorded again: a task killed after writing its file)."""
    from provenance.fingerprint import Hasher

    started = time.perf_counter()
    with Hasher(workers, yield_to_writer=False) as hasher:
        result, readings = hash_shard(plan_file, index, tree, hasher, progress)
    named = db or os.environ.get("PROVENANCE_DB") or os.environ.get("DATABASE_URL") or ""
    if readings and is_server_url(named):
        from provenance.ledger import Ledger

        with Ledger.open(db) as ledger:
            ledger.record_readings(readings)
        result.recorded = True
    result.seconds = time.perf_counter() - started
    return result


def is_server_url(db: str) -> bool:
    """Does `db` name a database server (PostgreSQL), rather than a SQLite file? Told from the
    text alone: a shard task on SQLite never loads the database layer."""
    scheme = db.partition("://")[0].lower() if "://" in db else ""
    return bool(scheme) and not scheme.startswith("sqlite")


def _tree(plan: FarmPlan, tree: bytes | None) -> bytes:
    top = os.path.abspath(tree if tree is not None else os.fsencode(plan.tree))
    if not os.path.isdir(top):
        raise TargetNotFound(
            f"The tree {os.fsdecode(top)!r} of the farm job is not there on this machine. Mount "
            "it, or give where this node sees it (--tree, the job parameter Tree)."
        )
    return top


def _shard_files(
    shard: Shard, top: bytes, skip: frozenset[bytes]
) -> list[tuple[bytes, StatFingerprint]]:
    """The files of a shard as they are now, in path order."""
    files: list[tuple[bytes, StatFingerprint]] = []
    for unit in shard.units:
        folder = os.path.join(top, os.fsencode(unit.folder)) if unit.folder else top
        scan, _ = scan_folder(folder, top, skip=skip)
        prefix = scan.folder or b""
        wanted = None if unit.assets is None else {os.fsencode(a) for a in unit.assets}
        for asset in scan.assets:
            if wanted is not None and asset.pattern[len(prefix) :] not in wanted:
                continue
            files.extend((member.path, member.stat) for member in asset.members)
    files.sort()
    return files


def _entry(
    top: bytes, path: bytes, digest: str, stat: StatFingerprint, recorded_ns: int
) -> list[Any]:
    relative = os.fsdecode(path[len(top.rstrip(b"/")) + 1 :])
    return [relative, digest, *stat, recorded_ns]


def _still(reading: tuple[str, StatFingerprint, int], now: StatFingerprint) -> bool:
    from provenance.fingerprint import is_cache_trusted

    return is_cache_trusted(reading[1], reading[2], now, RACY_WINDOW_NS)


def _local(stat: Sequence[int], their_root_dev: int, our_root_dev: int) -> StatFingerprint:
    """A stat read on another node, with the tree's device as this node numbers it."""
    size, mtime, ctime, inode, device = stat
    if device == their_root_dev:
        device = our_root_dev
    return StatFingerprint(size, mtime, ctime, inode, device)


def _partial_readings(partial: Path, plan: FarmPlan, index: int, top: bytes) -> Readings:
    """What a killed run of this shard task had read (lines of another plan are ignored)."""
    readings: Readings = {}
    if not partial.exists():
        return readings
    our_dev = os.stat(top).st_dev
    with partial.open(encoding="utf-8") as log:
        for line in log:
            try:
                chunk = json.loads(line)
            except ValueError:
                break  # (the line being written when the task was killed)
            if chunk.get("plan") != plan.digest:
                continue
            for relative, digest, *numbers, recorded_ns in chunk["files"]:
                path = os.path.join(top, os.fsencode(relative))
                readings[path] = (digest, _local(numbers, chunk["root_dev"], our_dev), recorded_ns)
    return readings


def _load_shard(path: Path, plan: FarmPlan, index: int) -> dict[str, Any]:
    try:
        document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ProvenanceError(
            f"Cannot read the shard file {path} ({exc}). Remove it and run shard {index} again."
        ) from None
    if document.get("schema") != schemas.FARM_SHARD or document.get("plan") != plan.digest:
        raise ProvenanceError(
            f"{path} belongs to another farm plan. Remove it and run shard {index} again (or "
            "use the plan the shards were read for)."
        )
    return document


def _readings_of(document: Mapping[str, Any], top: bytes) -> Readings:
    our_dev = os.stat(top).st_dev
    readings: Readings = {}
    for relative, digest, *numbers, recorded_ns in document["files"]:
        path = os.path.join(top, os.fsencode(relative))
        readings[path] = (digest, _local(numbers, document["root_dev"], our_dev), recorded_ns)
    return readings


# ---------------------------------------------------------------------------------------------
# The last step


def job_readings(plan_file: Path, tree: bytes | None) -> tuple[FarmPlan, bytes, Readings]:
    """Every shard's readings: (plan, tree, readings); refused while a shard has not run."""
    plan = FarmPlan.load(plan_file)
    top = _tree(plan, tree)
    missing = [i for i in range(len(plan.shards)) if not shard_path(plan_file, i).exists()]
    if missing:
        shown = ", ".join(str(i) for i in missing[:20]) + (" ..." if len(missing) > 20 else "")
        raise ProvenanceError(
            f"Shards {shown} of {len(plan.shards)} have not run: run those tasks (step Hash) "
            "first; shards that ran are not read again."
        )
    readings: Readings = {}
    for index in range(len(plan.shards)):
        readings.update(_readings_of(_load_shard(shard_path(plan_file, index), plan, index), top))
    return plan, top, readings


def finish_job(
    plan_file: Path,
    tree: bytes | None,
    db: str | None,
    workers: int | None = None,
    progress: Callable[[int, int, int], None] | None = None,
    key: Path | None = None,
    checkpoints: Path | None = None,
) -> tuple[Finish, IngestReport | SweepReport]:
    """The job's last step: its ingest, sweep or finalize, with the shards' readings as its
    own (one transaction, as when run on one machine)."""
    from provenance.ledger import Ledger
    from provenance.policy import load_policy

    plan, top, readings = job_readings(plan_file, tree)
    finish = plan.finish
    with Ledger.open(db) as ledger:
        if finish.kind == "ingest":
            return finish, ledger.ingest(
                [top],
                origin=finish.origin,
                tool=finish.tool,
                by=finish.by,
                note=finish.note,
                workers=workers,
                progress=progress,
                readings=readings,
            )
        policy = load_policy(Path(finish.policy) if finish.policy else None)
        if finish.kind == "sweep":
            return finish, ledger.sweep(
                top, policy=policy, workers=workers, progress=progress, readings=readings
            )
        assert finish.name is not None
        return finish, ledger.finalize(
            top,
            finish.name,
            policy=policy,
            workers=workers,
            progress=progress,
            key=key,
            checkpoints=checkpoints,
            readings=readings,
        )

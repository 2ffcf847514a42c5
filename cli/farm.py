"""`provenance farm job|shard|finish`: a tree hashed in shards on the render farm, recorded once."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click
from provenance.cli import EXIT_FINDINGS, Context, json_option, pass_context
from provenance.cli.audit import CHECKPOINTS_OPTION, KEY_OPTION
from provenance.cli.render import emit_json, human_bytes
from provenance.cli.render_delivery import finalize_json, sweep_json, sweep_text
from provenance.cli.write import ORIGIN_HELP, ProgressLine, show_ingest

from provenance import schemas
from provenance.farm import FINISH_KINDS, Finish, finish_job, run_shard, write_farm_job
from provenance.records import SweepReport

__all__ = ["farm"]


TREE_OPTION = click.option(
    "--tree",
    type=click.Path(path_type=str, file_okay=False),
    help="Where this machine sees the job's tree (default: where it was when the job was made).",
)
WORKERS_OPTION = click.option(
    "--workers", type=click.IntRange(min=1), help="Hashing processes (default: one per core)."
)


@click.group()
def farm() -> None:
    """Hash a tree in shards on the render farm (Open Job Description), then record it once.

    `farm job` writes the job; the farm runs `farm shard` once a shard, then `farm finish`.
    See docs/studio-admin.md.
    """


@farm.command("job")
@click.argument("tree", metavar="TREE_OR_DELIVERY", type=click.Path(path_type=str))
@click.option("--shards", type=click.IntRange(min=1), required=True, help="How many tasks.")
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    required=True,
    help="The job folder (a Deadline Cloud job bundle): template.json, plan.json, shards.txt, "
    "record.txt.",
)
@click.option(
    "--then",
    "kind",
    type=click.Choice(FINISH_KINDS),
    default="ingest",
    show_default=True,
    help="What the last step runs on what the shards read.",
)
@click.option("--origin", help=ORIGIN_HELP)
@click.option("--tool", help="Tool that made it, as NAME or NAME@VERSION (ingest).")
@click.option("--by", help="Who makes the claim (ingest; default: the user of the last step).")
@click.option("--note", help="A note kept with the claim (ingest).")
@click.option("--name", help="The deliverable's name (finalize).")
@click.option(
    "--policy",
    "policy_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="A TOML policy file (sweep, finalize).",
)
@click.option(
    "--command",
    help="The provenance command on the farm's nodes (default: this one's full path).",
)
@json_option
@pass_context
def job(
    obj: Context,
    tree: str,
    shards: int,
    out: Path,
    kind: str,
    origin: str | None,
    tool: str | None,
    by: str | None,
    note: str | None,
    name: str | None,
    policy_file: Path | None,
    command: str | None,
    as_json: bool,
) -> None:
    """Write an Open Job Description job that hashes TREE_OR_DELIVERY (a folder) in shards.

    One task a shard (whole folders balanced by bytes, never part of a sequence), then one
    task that runs the ingest, sweep or finalize (--then) on what they read. The ledger's URL
    (without its password), the tree and the plan are the job's parameters, with these
    values as defaults: `openjd run template.json --step Hash` needs no other argument.
    """
    finish = Finish(
        kind,
        origin=origin,
        tool=tool,
        by=by,
        note=note,
        name=name,
        policy=str(policy_file.absolute()) if policy_file else None,
    )
    with obj.open() as ledger:
        url = ledger.location.url.set(password=None).render_as_string(hide_password=False)
        root = os.fsencode(Path(tree).absolute())
        made = write_farm_job(root, shards, out.absolute(), url, finish, command)
    plan = made.plan
    if as_json:
        emit_json(
            schemas.FARM_JOB,
            {
                "template": str(made.template),
                "plan": str(made.plan_file),
                "shard_commands": str(made.shard_commands),
                "record_command": str(made.record_command),
                "ledger": url,
                "tree": plan.tree,
                "then": finish.kind,
                "shards": [{"files": s.files, "bytes": s.size} for s in plan.shards],
            },
        )
        return
    files = sum(s.files for s in plan.shards)
    size = sum(s.size for s in plan.shards)
    click.echo(
        f"{len(plan.shards)} shards of {files:,} files, {human_bytes(size)} in {made.folder}"
    )
    for index, shard in enumerate(plan.shards):
        click.echo(f"  shard {index}: {shard.files:,} files, {human_bytes(shard.size)}")
    click.echo(
        f"submit {made.folder} (an OpenJD job bundle), or the lines of {made.shard_commands}"
    )
    click.echo(f"then {made.record_command}")


@farm.command("shard")
@click.argument("plan", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--shard", "index", type=click.IntRange(min=0), required=True, help="Which shard.")
@TREE_OPTION
@WORKERS_OPTION
@json_option
@pass_context
def shard(
    obj: Context, plan: Path, index: int, tree: str | None, workers: int | None, as_json: bool
) -> None:
    """Hash one shard of a farm job's PLAN (a farm task); a shard already read is not read again.

    Writes shards/shard-NNNN.json beside the plan; on a PostgreSQL ledger, also records what
    it read in the ledger's stat cache.
    """
    progress = ProgressLine(enabled=not as_json and sys.stderr.isatty())
    try:
        result = run_shard(
            plan, index, os.fsencode(tree) if tree else None, obj.db, workers, progress
        )
    finally:
        progress.finish()
    if as_json:
        emit_json(
            schemas.FARM_SHARD,
            {
                "shard": result.shard,
                "shards": result.shards,
                "files": result.files,
                "files_read": result.files_read,
                "bytes_read": result.bytes_read,
                "already_done": result.already_done,
                "recorded": result.recorded,
                "skipped": [{"path": p, "reason": r} for p, r in result.skipped],
                "seconds": round(result.seconds, 3),
            },
        )
        return
    state = " (already read: nothing read again)" if result.already_done else ""
    click.echo(
        f"shard {result.shard} of {result.shards}: {result.files:,} files, read "
        f"{result.files_read:,} ({human_bytes(result.bytes_read)}) in {result.seconds:.2f} s{state}"
    )
    for path, reason in result.skipped:
        click.echo(f"  skipped {path}: {reason}")


@farm.command("finish")
@click.argument("plan", type=click.Path(path_type=Path, dir_okay=False))
@TREE_OPTION
@WORKERS_OPTION
@KEY_OPTION
@CHECKPOINTS_OPTION
@json_option
@pass_context
def finish(
    obj: Context,
    plan: Path,
    tree: str | None,
    workers: int | None,
    key: Path | None,
    checkpoints: Path | None,
    as_json: bool,
) -> None:
    """The farm job's last step: its ingest, sweep or finalize on what the shards read.

    Refused while a shard has not run. One transaction, as on one machine; files changed
    since their shard read them are read again. Exit 3 when a sweep has findings or a
    finalize is refused.
    """
    progress = ProgressLine(enabled=not as_json and sys.stderr.isatty())
    try:
        done, report = finish_job(
            plan, os.fsencode(tree) if tree else None, obj.db, workers, progress, key, checkpoints
        )
    finally:
        progress.finish()
    if not isinstance(report, SweepReport):
        show_ingest(report, as_json)
        return
    if as_json:
        if done.kind == "finalize":
            emit_json(schemas.FINALIZE_REPORT, finalize_json(report))
        else:
            emit_json(schemas.SWEEP_REPORT, sweep_json(report))
    else:
        for line in sweep_text(report):
            click.echo(line)
    refused = done.kind == "finalize" and not report.finalized
    if refused or (done.kind == "sweep" and not report.verdict.clean):
        sys.exit(EXIT_FINDINGS)

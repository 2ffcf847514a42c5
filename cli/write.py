"""`provenance ingest`, `tag` and `link`: the commands that record."""

from __future__ import annotations

import sys
import time

import click
from provenance.cli import EXIT_ERROR, EXIT_FINDINGS, Context, json_option, pass_context
from provenance.cli.render import (
    card_json,
    card_text,
    echo,
    emit_json,
    human_bytes,
    ingest_json,
    ingest_text,
    skipped_text,
)

from provenance import schemas
from provenance.origins import ALIASES
from provenance.records import IngestReport

__all__ = ["ORIGIN_HELP", "ProgressLine", "ingest", "link", "show_ingest", "tag"]


ORIGIN_HELP = (
    f"Origin: {', '.join(ALIASES)}, or an IPTC digital source type code "
    "(e.g. trainedAlgorithmicMedia)."
)


class ProgressLine:
    """A one-line progress display on a terminal's stderr; silent when piped or with --json."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.started = time.perf_counter()
        self.shown = False

    def __call__(self, files: int, size: int, read: int) -> None:
        if not self.enabled:
            return
        elapsed = max(time.perf_counter() - self.started, 1e-9)
        click.echo(
            f"\r{files:,} files, {human_bytes(size)} scanned, {human_bytes(read)} hashed "
            f"({read / elapsed / 1e9:.2f} GB/s) ",
            err=True,
            nl=False,
        )
        self.shown = True

    def finish(self) -> None:
        if self.shown:
            click.echo("\r\033[K", err=True, nl=False)


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=str))
@click.option("--origin", help=ORIGIN_HELP)
@click.option("--tool", help="Tool that made it, as NAME or NAME@VERSION (e.g. Nuke@15.1).")
@click.option("--by", help="Who makes the claim (default: your user name).")
@click.option(
    "--from",
    "contains",
    multiple=True,
    metavar="ASSET",
    help="Made from this asset: its material is in this one (repeatable).",
)
@click.option(
    "--ref",
    "references",
    multiple=True,
    metavar="ASSET",
    help="Only looked at this asset: concept, previs, reference (repeatable).",
)
@click.option("--note", help="Free text kept with the claim.")
@click.option(
    "--likeness",
    multiple=True,
    metavar="PERFORMER",
    help="It uses this performer's likeness (repeatable); a consent record must cover it.",
)
@click.option(
    "--scene",
    metavar="SCENE",
    type=click.Path(path_type=str),
    help="The Nuke script (.nk), USD stage, Maya ASCII scene (.ma) or OTIO cut that made it: "
    "it contains every input the scene reads, as the version on disk now, and references the "
    "scene.",
)
@click.option(
    "--allow-unresolved",
    is_flag=True,
    help="With --scene: record even though some inputs' paths cannot be worked out (name them "
    "with --from); the event lists them.",
)
@click.option(
    "--mhl",
    type=click.Path(path_type=str),
    help="A camera roll's ASC MHL history (its ascmhl/ folder, or one .mhl file): files whose "
    "bytes match the DIT's hashes are recorded as capture on its word; the others are "
    "findings (exit 3). The history is only read.",
)
@click.option(
    "--workers", type=click.IntRange(min=1), help="Hashing processes (default: one per core)."
)
@json_option
@pass_context
def ingest(
    obj: Context,
    paths: tuple[str, ...],
    origin: str | None,
    tool: str | None,
    by: str | None,
    contains: tuple[str, ...],
    references: tuple[str, ...],
    note: str | None,
    likeness: tuple[str, ...],
    scene: str | None,
    allow_unresolved: bool,
    mhl: str | None,
    workers: int | None,
    as_json: bool,
) -> None:
    """Fingerprint files, folders and frame sequences (name.####.exr) and record them.

    Unchanged files are recognized by their stat fingerprint and not read again. The run is
    one transaction: it completes, or the ledger is as before. Files that cannot be read are
    listed and the rest is recorded (exit 1).

    With --scene, lineage comes from the scene: inputs nobody recorded are recorded with
    origin unknown (the delivery gate blocks on them until declared). Paths the scene spells
    for another platform or mount (P:/show/...) are read through the show roots. A scene that
    does not write PATHS, whose inputs cannot all be named, or that names a path no root is
    mapped from (`provenance roots map`), is refused (exit 3).
    """
    progress = ProgressLine(enabled=not as_json and sys.stderr.isatty())
    with obj.open() as ledger:
        try:
            report = ledger.ingest(
                paths,
                origin=origin,
                tool=tool,
                by=by,
                contains=contains,
                references=references,
                note=note,
                workers=workers,
                progress=progress,
                likeness=likeness,
                scene=scene,
                allow_unresolved=allow_unresolved,
                mhl=mhl,
            )
        finally:
            progress.finish()
    show_ingest(report, as_json)


def show_ingest(report: IngestReport, as_json: bool) -> None:
    """Render an ingest's report; exit 1 when files could not be read."""
    if as_json:
        emit_json(schemas.INGEST_REPORT, ingest_json(report))
    else:
        for line in ingest_text(report):
            echo(line)
    for line in skipped_text(report):
        echo(line, err=True)
    if not report.ok:
        failed = [s.name for s in report.skipped if s.reason in ("unreadable", "unstable")]
        echo(
            f"Error: {len(failed)} files could not be read and were not recorded: "
            f"{', '.join(failed)}. Fix their permissions (or wait until they stop changing) "
            "and ingest again; everything else was recorded.",
            err=True,
        )
        sys.exit(EXIT_ERROR)
    if report.mhl is not None and not report.mhl.ok:
        sys.exit(EXIT_FINDINGS)


@click.command()
@click.argument("target")
@click.option("--origin", required=True, help=ORIGIN_HELP)
@click.option("--tool", help="Tool that made it, as NAME or NAME@VERSION.")
@click.option("--by", help="Who makes the claim (default: your user name).")
@click.option("--note", help="Why: kept with the claim for auditors.")
@click.option(
    "--resolve",
    is_flag=True,
    help="Settle a disagreement: this claim supersedes every earlier one (needs --note).",
)
@click.option(
    "--likeness",
    multiple=True,
    metavar="PERFORMER",
    help="It uses this performer's likeness (repeatable).",
)
@json_option
@pass_context
def tag(
    obj: Context,
    target: str,
    origin: str,
    tool: str | None,
    by: str | None,
    note: str | None,
    resolve: bool,
    likeness: tuple[str, ...],
    as_json: bool,
) -> None:
    """Add an origin claim to an asset (a path, sequence, frame or digest prefix).

    Claims are never overwritten: a re-tag is a new claim, and claims that disagree stay
    visible until a TD settles them with --resolve.
    """
    with obj.open() as ledger:
        card = ledger.tag(
            target, origin, tool=tool, by=by, note=note, resolve=resolve, likeness=likeness
        )
    if as_json:
        emit_json(schemas.ASSET_CARD, card_json(card))
    else:
        for line in card_text(card):
            echo(line)


@click.command()
@click.argument("child")
@click.option("--from", "contains", multiple=True, metavar="ASSET", help="CHILD contains it.")
@click.option(
    "--ref", "references", multiple=True, metavar="ASSET", help="CHILD only references it."
)
@json_option
@pass_context
def link(
    obj: Context,
    child: str,
    contains: tuple[str, ...],
    references: tuple[str, ...],
    as_json: bool,
) -> None:
    """Record what CHILD was made from (--from) or only looked at (--ref). Cycles are refused."""
    with obj.open() as ledger:
        card = ledger.link(child, contains=contains, references=references)
    if as_json:
        emit_json(schemas.ASSET_CARD, card_json(card))
    else:
        for line in card_text(card):
            echo(line)

"""`provenance audit checkpoint|verify|export`: the tamper-evident log, for auditors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from provenance.cli import EXIT_FINDINGS, Context, json_option, pass_context
from provenance.cli.render import emit_json

KEY_OPTION = click.option(
    "--key",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Ed25519 checkpoint key (PEM; verifying needs only its public half). Default: "
    "$PROVENANCE_CHECKPOINT_KEY, else checkpoint-ed25519.pem in your config folder "
    "(~/.config/provenance), created on first use when signing.",
)
CHECKPOINTS_OPTION = click.option(
    "--checkpoints",
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder of checkpoints. Default: $PROVENANCE_CHECKPOINTS, else .provenance/checkpoints "
    "beside a SQLite ledger, else ~/.local/share/provenance/checkpoints/DATABASE.",
)


@click.group()
def audit() -> None:
    """Prove that nobody rewrote the ledger's history."""


@audit.command()
@KEY_OPTION
@CHECKPOINTS_OPTION
@json_option
@pass_context
def checkpoint(obj: Context, key: Path | None, checkpoints: Path | None, as_json: bool) -> None:
    """Sign the log's size and Merkle root (RFC 9162) and keep it outside the database.

    Keep checkpoints (or copies) where the database's owner cannot rewrite them: a later log
    that does not extend a checkpoint is caught by `audit verify`.
    """
    with obj.open() as ledger:
        path, document = ledger.checkpoint(key, checkpoints)
    if as_json:
        emit_json("CheckpointWritten.1", {"path": str(path), "checkpoint": document})
        return
    click.echo(f"checkpoint of {document['size']} events, root {document['root']}")
    click.echo(f"  written to {path}")


@audit.command()
@KEY_OPTION
@CHECKPOINTS_OPTION
@json_option
@pass_context
def verify(obj: Context, key: Path | None, checkpoints: Path | None, as_json: bool) -> None:
    """Recompute the hash chain, compare the state rebuilt from the events with the tables, and
    prove each stored checkpoint consistent with the log.

    Exit 0 when history verifies, 3 when it was edited, truncated or rewritten.
    """
    with obj.open() as ledger:
        report = ledger.audit_verify(key, checkpoints)
    if as_json:
        emit_json(
            "AuditReport.1",
            {
                "ok": report.ok,
                "events": report.size,
                "root": report.root,
                "ledger": report.ledger_id,
                "seconds": round(report.seconds, 3),
                "problems": report.problems,
                "notes": report.notes,
                "checkpoints": [
                    {
                        "path": str(c.path),
                        "size": c.size,
                        "at": c.at,
                        "checked": c.checked,
                        "problem": c.problem,
                    }
                    for c in report.checkpoints
                ],
            },
        )
    else:
        for problem in report.problems:
            click.echo(f"TAMPERED {problem}")
        for note in report.notes:
            click.echo(f"note: {note}")
        checked = [c for c in report.checkpoints if c.checked]
        good = sum(1 for c in checked if c.problem is None)
        other = len(report.checkpoints) - len(checked)
        state = "verifies" if report.ok else "DOES NOT verify"
        click.echo(
            f"{report.size} events, root {report.root}: history {state} "
            f"({good} of {len(checked)} checkpoints consistent, {report.seconds:.2f} s)"
        )
        if other:
            click.echo(
                f"{other} checkpoints are signed by another key than yours and were not checked "
                "(use the studio's key: --key or PROVENANCE_CHECKPOINT_KEY)."
            )
        if not checked:
            click.echo("No checkpoints of your key yet: `provenance audit checkpoint` makes one.")
    if not report.ok:
        sys.exit(EXIT_FINDINGS)


@audit.command()
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write to this file instead of standard output.",
)
@pass_context
def export(obj: Context, output: Path | None) -> None:
    """Every event as JSON Lines ("schema": "Event.1"), oldest first, for an auditor's tools.

    Each event's payload carries the rows it wrote ("rows"); of a table of more than 1,000 rows,
    their count and digest, with the rows beside the payload ("digested_rows"): the ledger's
    state can be rebuilt from the export alone.
    """
    with obj.open() as ledger:
        stream = output.open("w", encoding="utf-8") if output else sys.stdout
        try:
            for document in ledger.export_events():
                stream.write(json.dumps(document, ensure_ascii=False) + "\n")
        finally:
            if output:
                stream.close()

"""`provenance init` and `provenance db upgrade|current|roles|reprint`."""

from __future__ import annotations

from pathlib import Path

import click
from provenance.cli import Context, json_option, pass_context
from provenance.cli.render import echo, emit_json

from provenance import schemas
from provenance.ledger import Ledger, create_db_roles, schema_status, upgrade_ledger
from provenance.records import display_path

__all__ = ["db", "init"]


@click.command()
@json_option
@pass_context
def init(obj: Context, as_json: bool) -> None:
    """Create a ledger: .provenance/ledger.db in the current folder, or the one --db names.

    Running it again on an existing ledger changes nothing.
    """
    ledger = Ledger.create(obj.db, Path.cwd())
    with ledger:
        state = ledger.schema_state()
        if as_json:
            emit_json(
                schemas.LEDGER,
                {"url": ledger.location.display_url, "schema_revision": state.current},
            )
        else:
            echo(f"Ledger ready at {ledger.location.display_url} (schema {state.current})")


@click.group()
def db() -> None:
    """Ledger schema: see the revision, upgrade it."""


@db.command()
@json_option
@pass_context
def current(obj: Context, as_json: bool) -> None:
    """Show the ledger's schema revision and the one this version of provenance writes."""
    url, state = schema_status(obj.db, Path.cwd())
    if as_json:
        emit_json(
            schemas.SCHEMA_STATE,
            {
                "url": url,
                "current": state.current,
                "head": state.head,
                "up_to_date": state.up_to_date,
            },
        )
        return
    if state.up_to_date:
        status = "up to date"
    elif state.newer:
        status = "written by a newer provenance: upgrade provenance to use it"
    elif state.current is None:
        status = "not a provenance ledger"
    else:
        status = "needs `provenance db upgrade`"
    echo(f"{url}: schema {state.current or 'none'} (code: {state.head}), {status}")


@db.command()
@click.option("--revision", default="head", show_default=True, help="Revision to upgrade to.")
@pass_context
def upgrade(obj: Context, revision: str) -> None:
    """Upgrade the ledger's schema to this version of provenance (back it up first)."""
    url, before, after = upgrade_ledger(obj.db, Path.cwd(), revision)
    if before.current == after.current:
        echo(f"{url}: already at schema {after.current}")
    else:
        echo(f"{url}: upgraded schema {before.current} -> {after.current}")


@db.command()
@json_option
@pass_context
def roles(obj: Context, as_json: bool) -> None:
    """Create the PostgreSQL group roles provenance_artist, provenance_td, provenance_auditor.

    Their grants enforce in the database who may ingest and tag (artists), approve, record
    consent and finalize (TDs), or only read (auditors). Run again after `db upgrade`. Then
    give people log-in roles: CREATE ROLE alice LOGIN IN ROLE provenance_artist.
    """
    url, report = create_db_roles(obj.db, Path.cwd())
    if as_json:
        emit_json(schemas.ROLES, {"url": url, "created": report.created, "grants": report.granted})
        return
    made = ", ".join(report.created) if report.created else "none (all existed)"
    echo(f"{url}: roles created: {made}; {len(report.granted)} grants applied")


@db.command()
@json_option
@pass_context
def reprint(obj: Context, as_json: bool) -> None:
    """Print images again by the current perceptual algorithm (after `db upgrade` changed it).

    Each content printed by an older algorithm only is read where it was last seen, if its
    bytes still match; prints of older algorithms are never compared with current ones.
    """
    with obj.open() as ledger:
        report = ledger.reprint()
    if as_json:
        emit_json(
            schemas.REPRINT,
            {
                "reprinted": report.reprinted,
                "missing": report.missing,
                "unprintable": [
                    {"path": display_path(path), "problem": problem}
                    for path, problem in report.unprintable
                ],
            },
        )
        return
    echo(f"reprinted {report.reprinted} image(s) by the current perceptual algorithm")
    for digest in report.missing:
        echo(f"  not found with its recorded bytes: {digest}")
    for path, problem in report.unprintable:
        echo(f"  no print: {display_path(path)} ({problem})")

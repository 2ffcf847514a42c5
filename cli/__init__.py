"""The `provenance` command: parse, call one library function, render; errors become exit codes.

Exit codes: 0 ok, 1 error, 2 usage, 3 refused or findings.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from provenance import __version__
from provenance.errors import ProvenanceError
from provenance.ledger import Ledger

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_FINDINGS = 0, 1, 2, 3

F = TypeVar("F", bound=Callable[..., Any])


class Context:
    def __init__(self, db: str | None, traceback: bool) -> None:
        self.db = db
        self.traceback = traceback

    def open(self) -> Ledger:
        return Ledger.open(self.db, Path.cwd())


pass_context = click.make_pass_decorator(Context)


def json_option(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")(func)


class ProvenanceGroup(click.Group):
    """Turns library errors into `Error: ...` on stderr and exit 1 (or the error's own code)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ProvenanceError as exc:
            obj = ctx.find_object(Context)
            if obj is not None and obj.traceback:
                traceback.print_exc()
            from provenance.cli.render import printable

            # (Lines of its own stay lines; a newline inside a name cannot forge one.)
            lines = "\n".join(printable(line) for line in str(exc).split("\n"))
            click.echo(f"Error: {lines}", err=True)
            ctx.exit(exc.exit_code)


@click.group(cls=ProvenanceGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--db",
    envvar="PROVENANCE_DB",
    metavar="URL",
    help="Ledger to use: a SQLite file path or a database URL. Default: $PROVENANCE_DB, then "
    "$DATABASE_URL, then the nearest .provenance/ledger.db above the current folder.",
)
@click.option("--traceback", is_flag=True, help="Show the full stack trace on errors.")
@click.version_option(__version__, prog_name="provenance")
@click.pass_context
def cli(ctx: click.Context, db: str | None, traceback: bool) -> None:
    """Track where every asset of a show came from: camera, artist, ML-assisted or generative AI.

    Exit codes: 0 ok, 1 error, 2 usage, 3 refused or findings.
    """
    ctx.obj = Context(db, traceback)


def main() -> None:
    try:
        cli.main(prog_name="provenance")
    except KeyboardInterrupt:
        click.echo("Interrupted: nothing was recorded by the command in progress.", err=True)
        sys.exit(130)


from provenance.cli import audit as _audit  # noqa: E402
from provenance.cli import db as _db  # noqa: E402
from provenance.cli import deliver as _deliver  # noqa: E402
from provenance.cli import export as _export  # noqa: E402
from provenance.cli import read as _read  # noqa: E402
from provenance.cli import report as _report  # noqa: E402
from provenance.cli import roots as _roots  # noqa: E402
from provenance.cli import scene as _scene  # noqa: E402
from provenance.cli import tools as _tools  # noqa: E402
from provenance.cli import write as _write  # noqa: E402

for _module in (_db, _write, _read, _scene, _tools, _deliver, _audit, _roots, _report, _export):
    _module.register(cli)

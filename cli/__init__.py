"""The `provenance` command: parse, call one library function, render; errors become exit codes.

Exit codes: 0 ok, 1 error, 2 usage, 3 refused or findings.

Commands are loaded when they run: `provenance --version` and `provenance --help` import no
command module, and `provenance show` imports only the module of `show` (publish hooks and
farm scripts call the command once per file, so its start-up is paid each time).
"""

from __future__ import annotations

import importlib
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

import click

from provenance import __version__
from provenance.errors import AuditFailed, ProvenanceError

if TYPE_CHECKING:
    from provenance.ledger import Ledger

__all__ = [
    "COMMANDS",
    "EXIT_ERROR",
    "EXIT_FINDINGS",
    "Context",
    "cli",
    "json_option",
    "load_command",
    "main",
    "pass_context",
]


EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_FINDINGS = 0, 1, 2, 3

F = TypeVar("F", bound=Callable[..., Any])


class Registered(NamedTuple):
    """A command of `provenance`: where it lives, and the line `provenance --help` shows for it."""

    name: str
    target: str
    """`module:attribute` under provenance.cli, imported only when the command runs."""
    short_help: str
    """The first sentence of its docstring (tests/cli/test_startup.py checks that they agree)."""


# To add a command: write it in a module of cli/ (a click command or group, whose docstring's
# first sentence is its short help) and add its one line here. Nothing else registers it.
# fmt: off
COMMANDS: tuple[Registered, ...] = (
    Registered("init", "db:init", "Create a ledger: .provenance/ledger.db in the current folder, or the one --db names."),
    Registered("db", "db:db", "Ledger schema: see the revision, upgrade it."),
    Registered("ingest", "write:ingest", "Fingerprint files, folders and frame sequences (name.####.exr) and record them."),
    Registered("tag", "write:tag", "Add an origin claim to an asset (a path, sequence, frame or digest prefix)."),
    Registered("link", "write:link", "Record what CHILD was made from (--from) or only looked at (--ref)."),
    Registered("show", "read:show", "The card of an asset: version, frames and holes, origin claims, tools, lineage."),
    Registered("lineage", "read:lineage", "The tree of what TARGET was made from (--up) or what was made from it (--down)."),
    Registered("history", "read:history", "Every event that touched an asset: versions, claims, lineage; who, where, when, hash."),
    Registered("scene", "scene:scene", "Lineage read from the pipeline's own scene files (Nuke, USD, Maya ASCII, OTIO)."),
    Registered("tools", "tools:tools", "Register tools: generative or not, trains on inputs, runs in a secured environment."),
    Registered("roots", "roots:roots", "List the roots recorded paths are relative to, where this machine finds each, and the other spellings (mounts, platforms) mapped to them."),
    Registered("sweep", "deliver:sweep", "Every finding about a delivery, for TDs before they finalize; records nothing."),
    Registered("finalize", "deliver:finalize", "Mark a delivery final, only if nothing blocks; write provenance-manifest.json beside it."),
    Registered("verify", "deliver:verify", "Does a delivery still match what was finalized as NAME? Exit 3 if anything moved."),
    Registered("manifest", "deliver:manifest", "The manifest beside a finalized delivery."),
    Registered("approve", "deliver:approve", "Record a written approval for exactly TARGET's current bytes (new bytes need a new one)."),
    Registered("consent", "deliver:consent", "Performer consent records (digital doubles, likeness, altered performances)."),
    Registered("policy", "deliver:policy", "The delivery policy: rules, their ids and severities."),
    Registered("report", "report:report", "Reports for the studio and for auditors."),
    Registered("deliverables", "report:deliverables", "Every finalized deliverable and every refused finalize, oldest first."),
    Registered("audit", "audit:audit", "Prove that nobody rewrote the ledger's history."),
    Registered("export", "export:export", "The ledger's facts for other systems: W3C PROV documents, ASC MHL histories."),
    Registered("farm", "farm:farm", "Hash a tree in shards on the render farm (Open Job Description), then record it once."),
)
# fmt: on


class Context:
    def __init__(self, db: str | None, traceback: bool) -> None:
        self.db = db
        self.traceback = traceback

    def open(self) -> Ledger:
        from provenance.ledger import Ledger

        return Ledger.open(self.db, Path.cwd())


pass_context = click.make_pass_decorator(Context)


def json_option(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")(func)


def load_command(entry: Registered) -> click.Command:
    """Import a registered command's module and return the command."""
    module_name, _, attribute = entry.target.partition(":")
    command = getattr(importlib.import_module(f"provenance.cli.{module_name}"), attribute)
    if not isinstance(command, click.Command):
        raise TypeError(f"provenance.cli.{entry.target} is not a click command")
    return command


class ProvenanceGroup(click.Group):
    """The registered commands, loaded on first use; library errors become `Error: ...` on
    stderr and exit 1 (or the error's own code)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.registered = {entry.name: entry for entry in COMMANDS}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.registered, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.registered:
            self.add_command(load_command(self.registered[cmd_name]), cmd_name)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # As click's own, with a stand-in for each command not loaded yet: its registered short
        # help, shortened to the width as click shortens a docstring's.
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            command = self.commands.get(name) or click.Command(
                name, help=self.registered[name].short_help
            )
            if not command.hidden:
                rows.append((name, command.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ProvenanceError as exc:
            obj = ctx.find_object(Context)
            if obj is not None and obj.traceback:
                traceback.print_exc()
            from provenance.cli.render import printable
            from provenance.cli.render_audit import audit_failed_text

            # (The audit's problems are partly data: the CLI words them.)
            message = audit_failed_text(exc) if isinstance(exc, AuditFailed) else str(exc)
            # (Lines of its own stay lines; a newline inside a name cannot forge one.)
            lines = "\n".join(printable(line) for line in message.split("\n"))
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

"""`provenance roots [add|move|map|unmap]`: the show roots that recorded paths are relative to."""

from __future__ import annotations

from typing import Any

import click
from provenance.cli import EXIT_FINDINGS, Context, json_option, pass_context
from provenance.cli.render import echo, emit_json

from provenance import schemas
from provenance.roots import ROOT_MAP_VARIABLE, RootChange, RootInfo, RootKind, RootsReport

__all__ = ["roots"]


KINDS = {
    RootKind.LEDGER: "the ledger's own folder",
    RootKind.DECLARED: "declared",
    RootKind.FILESYSTEM: "paths outside every show root",
}
PLACED_BY = {
    "ledger": "where the ledger is",
    "location": "its location",
    "alias": "a mapped spelling",
    "environment": ROOT_MAP_VARIABLE,
    "name": "where it was recorded",
}


@click.group(invoke_without_command=True)
@json_option
@click.pass_context
def roots(ctx: click.Context, as_json: bool) -> None:
    """List the roots recorded paths are relative to, where this machine finds each, and the
    other spellings (mounts, platforms) mapped to them.

    A SQLite ledger's own folder moves with it; a PostgreSQL ledger (or any other) keeps paths
    under the show roots a studio declares (`roots add`). Exit 3 when a mapped spelling is
    another folder on this machine.
    """
    if ctx.invoked_subcommand is not None:
        return
    obj = ctx.find_object(Context)
    assert obj is not None
    with obj.open() as ledger:
        report = ledger.roots()
    if as_json:
        emit_json(
            schemas.ROOTS,
            {
                "roots": [root_json(root) for root in report.roots],
                "environment": [
                    {
                        "given": e.given,
                        "here": e.here.decode(errors="replace"),
                        "root": e.root,
                        "used": e.used and e.root is not None,
                    }
                    for e in report.environment
                ],
            },
        )
    else:
        for line in roots_text(report):
            echo(line)
    if any(root.problems for root in report.roots):
        ctx.exit(EXIT_FINDINGS)


@roots.command("add")
@click.argument("location")
@click.option("--name", help="What to call the root (default: its folder's name).")
@json_option
@pass_context
def add(obj: Context, location: str, name: str | None, as_json: bool) -> None:
    """Declare a show root at LOCATION: paths under it are recorded relative to it, and found
    again wherever it moves (`roots move`) or however a machine spells it (`roots map`).

    Declare it before recording into it: a folder that holds records made as absolute paths is
    refused.
    """
    with obj.open() as ledger:
        change = ledger.add_root(location, name)
    _render_change(change, as_json)


@roots.command("move")
@click.argument("root")
@click.argument("new")
@json_option
@pass_context
def move(obj: Context, root: str, new: str, as_json: bool) -> None:
    """Record that ROOT (its name, or its old location) is now at NEW, for every machine.

    Recorded as an event. The ledger's own folder cannot be moved: it is wherever the ledger
    is. A sample of the root's recorded files is looked for at NEW, and the count printed.
    """
    with obj.open() as ledger:
        change = ledger.move_root(root, new)
    _render_change(change, as_json)


@roots.command("map")
@click.argument("root")
@click.argument("spelling")
@json_option
@pass_context
def map_(obj: Context, root: str, spelling: str, as_json: bool) -> None:
    """Record SPELLING as another way of writing ROOT's folder: another mount (`/Volumes/show`)
    or platform (`'S:\\show'`, `'\\\\server\\share\\show'`). Paths spelled so resolve as the
    root's, on every machine.

    Recorded as an event. A spelling that is, on this machine, another folder than the root's
    is refused: a mapping joins spellings of one folder, never two folders.
    """
    with obj.open() as ledger:
        change = ledger.map_root(root, spelling)
    _render_change(change, as_json)


@roots.command("unmap")
@click.argument("root")
@click.argument("spelling")
@json_option
@pass_context
def unmap(obj: Context, root: str, spelling: str, as_json: bool) -> None:
    """Remove a spelling `roots map` recorded for ROOT (recorded as an event)."""
    with obj.open() as ledger:
        change = ledger.unmap_root(root, spelling)
    _render_change(change, as_json)


def root_json(root: RootInfo) -> dict[str, Any]:
    return {
        "name": root.name,
        "kind": root.kind.value,
        "here": root.here,
        "placed_by": root.placed_by,
        "found": root.found,
        "location": root.location,
        "aliases": list(root.aliases),
        "assets": root.assets,
        "problems": list(root.problems),
        "event": root.event_id,
    }


def roots_text(report: RootsReport) -> list[str]:
    lines = []
    for root in report.roots:
        lines.append(f"{root.name}  ({KINDS[root.kind]})")
        if root.kind is not RootKind.FILESYSTEM:
            found = "" if root.found else ", not found on this machine"
            lines.append(f"  here      {root.here} ({PLACED_BY[root.placed_by]}{found})")
        if root.location is not None:
            lines.append(f"  location  {root.location}")
        if root.aliases:
            lines.append(f"  mapped    {', '.join(root.aliases)}")
        lines.append(f"  assets    {root.assets}")
        lines += [f"  PROBLEM   {problem}" for problem in root.problems]
    for entry in report.environment:
        if entry.root is None:
            lines.append(
                f"{ROOT_MAP_VARIABLE}: {entry.given} names no root of this ledger (not used)"
            )
        elif not entry.used:
            lines.append(
                f"{ROOT_MAP_VARIABLE}: {entry.given} names the ledger's own folder, which is "
                "wherever the ledger is (not used)"
            )
    return lines


def _render_change(change: RootChange, as_json: bool) -> None:
    if as_json:
        emit_json(
            schemas.ROOT_CHANGE,
            {
                "kind": change.kind,
                "root": root_json(change.root),
                "before": change.before,
                "after": change.after,
                "event": change.event_id,
                "sampled": change.sampled,
                "present": change.present,
            },
        )
        return
    name, event = change.root.name, f"event #{change.event_id}"
    if change.kind == "roots.add":
        echo(f"Root {name} declared at {change.after} ({event}).")
    elif change.kind == "roots.move":
        echo(f"Root {name} moved: {change.before} -> {change.after} ({event}).")
        if change.sampled:
            echo(
                f"  {change.present} of {change.sampled} recorded files looked for are there "
                "with their recorded size."
            )
            if not change.present:
                echo(
                    "  Warning: none is. Check that the root's files are at the new place.",
                    err=True,
                )
    elif change.kind == "roots.map":
        echo(f"Root {name}: {change.after} now resolves to it ({event}).")
    else:
        echo(f"Root {name}: {change.before} no longer maps to it ({event}).")

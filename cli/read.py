"""`provenance show`, `lineage` and `history`: what auditors and TDs read."""

from __future__ import annotations

import click
from provenance.cli import Context, json_option, pass_context
from provenance.cli.render import (
    card_json,
    card_text,
    echo,
    emit_json,
    history_json,
    history_text,
    lineage_json,
    lineage_text,
    read_as_json,
    read_as_text,
)

from provenance import schemas
from provenance.ledger import DEFAULT_LINEAGE_DEPTH
from provenance.records import ReadAs

__all__ = ["history", "lineage", "show"]


@click.command()
@click.argument("target")
@json_option
@pass_context
def show(obj: Context, target: str, as_json: bool) -> None:
    """The card of an asset: version, frames and holes, origin claims, tools, lineage.

    TARGET is a file, a sequence (name.####.exr), any frame of a sequence, or a digest
    prefix (xxh3-128: and at least 8 hex digits).
    """
    with obj.open() as ledger:
        card = ledger.show(target)
    if as_json:
        emit_json(schemas.ASSET_CARD, card_json(card))
        return
    _say_read_as(card.read_as)
    for line in card_text(card):
        echo(line)


@click.command()
@click.argument("target")
@click.option("--up", "direction", flag_value="up", default=True, help="What it was made from.")
@click.option("--down", "direction", flag_value="down", help="Everything made from it.")
@click.option(
    "--depth",
    type=click.IntRange(min=1),
    default=DEFAULT_LINEAGE_DEPTH,
    show_default=True,
    help="How many levels to follow.",
)
@json_option
@pass_context
def lineage(obj: Context, target: str, direction: str, depth: int, as_json: bool) -> None:
    """The tree of what TARGET was made from (--up) or what was made from it (--down)."""
    up = direction == "up"
    with obj.open() as ledger:
        tree = ledger.lineage(target, up=up, depth=depth)
    if as_json:
        emit_json(
            schemas.LINEAGE,
            {
                "direction": direction,
                "depth": depth,
                "root": lineage_json(tree),
                "read_as": read_as_json(tree.read_as),
            },
        )
        return
    _say_read_as(tree.read_as)
    for line in lineage_text(tree, up):
        echo(line)


@click.command()
@click.argument("target")
@json_option
@pass_context
def history(obj: Context, target: str, as_json: bool) -> None:
    """Every event that touched an asset: versions, claims, lineage; who, where, when, hash."""
    with obj.open() as ledger:
        entries = ledger.history(target)
    if as_json:
        emit_json(
            schemas.HISTORY,
            {
                "target": target,
                "read_as": read_as_json(entries.read_as),
                "events": [history_json(e) for e in entries],
            },
        )
        return
    _say_read_as(entries.read_as)
    for line in history_text(entries):
        echo(line)


def _say_read_as(read_as: ReadAs | None) -> None:
    """A path found by its bytes: said first, so nobody mistakes it for a recorded path."""
    for line in read_as_text(read_as):
        echo(line)

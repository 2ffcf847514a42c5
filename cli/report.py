"""What auditors and producers look at: `deliverables`, `report disclosure`, `report delivery`."""

from __future__ import annotations

import click
from provenance.cli import Context, json_option, pass_context
from provenance.cli.render import (
    deliverable_json,
    delivered_in_json,
    emit_json,
    shown,
    when,
)

from provenance.records import DeliverableListing


@click.command()
@click.option(
    "--contains",
    "target",
    metavar="TARGET",
    help="Only the finalized deliverables that hold this asset's material (any version; a "
    "digest names one version), as it is or inside what they deliver.",
)
@json_option
@pass_context
def deliverables(obj: Context, target: str | None, as_json: bool) -> None:
    """Every finalized deliverable and every refused finalize, oldest first.

    With --contains, the deliverables that hold TARGET's material, and how: delivered as it
    is, or inside a delivered asset (through `contains` lineage, an exact copy or a
    derivative, as the finalizer judged it). A refused finalize froze no files: it holds
    nothing.
    """
    with obj.open() as ledger:
        listings = ledger.deliverables(contains=target)
    if as_json:
        emit_json(
            "Deliverables.1",
            {
                "contains": target,
                "deliverables": [
                    {
                        **deliverable_json(listing.deliverable),
                        "holds": [delivered_in_json(item) for item in listing.holds],
                    }
                    for listing in listings
                ],
            },
        )
        return
    if not listings:
        click.echo(
            f"No finalized deliverable holds {target}."
            if target
            else "No deliverable has been finalized (or refused) yet."
        )
    for listing in listings:
        for line in _listing_text(listing):
            click.echo(line)


def _listing_text(listing: DeliverableListing) -> list[str]:
    info = listing.deliverable
    source = shown(info.source_name)
    if info.status == "refused":
        why = ", ".join(info.blocking) or "nothing to deliver"
        lines = [
            f"{info.name}  REFUSED {when(info.at)} by {info.actor}@{info.host}: {source} "
            f"({info.files} files; blocked by {why}; event #{info.event_id})"
        ]
    else:
        lines = [
            f"{info.name}  finalized {when(info.at)} by {info.actor}@{info.host}: {source} "
            f"({info.kind}, {info.files} files, {info.warnings} warnings, policy {info.policy}; "
            f"event #{info.event_id})"
        ]
    for item in listing.holds:
        where = (
            f"delivered as {shown(item.through.name)} v{item.through.version}"
            if item.itself
            else f"in {shown(item.through.name)} v{item.through.version}, which {item.how}"
        )
        lines.append(f"  holds {shown(item.version.name)} v{item.version.version}: {where}")
    return lines


def register(group: click.Group) -> None:
    group.add_command(deliverables)

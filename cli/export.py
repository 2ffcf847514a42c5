"""What other systems read: `export prov` (W3C PROV) and `export mhl` (ASC MHL)."""

from __future__ import annotations

from pathlib import Path

import click
from provenance.cli import Context, pass_context


@click.group()
def export() -> None:
    """The ledger's facts for other systems: W3C PROV documents, ASC MHL histories."""


@export.command("prov")
@click.argument("target", required=False)
@click.option(
    "--deliverable",
    "name",
    metavar="NAME",
    help="A finalized deliverable, with everything in what it delivered.",
)
@click.option(
    "--format",
    "form",
    type=click.Choice(["json", "xml", "rdf", "provn"]),
    default="json",
    show_default=True,
    help="PROV-JSON, PROV-XML, PROV-O (RDF as TriG) or PROV-N.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write to this file (default: standard output).",
)
@pass_context
def export_prov(
    obj: Context, target: str | None, name: str | None, form: str, output: Path | None
) -> None:
    """The ledger's facts as a W3C PROV document.

    Without TARGET or --deliverable, the whole ledger. TARGET (an asset: every version of it;
    a digest: that version) exports it with what it was made from and the deliverables that
    hold it. Asset versions are entities (digest, size, origin as its IPTC Digital Source
    Type), ingests and renders are activities, tools are prov:SoftwareAgent, people are
    agents; `contains` is wasDerivedFrom, `references` is wasInfluencedBy typed
    pvt:References; approvals and consents are entities attributed to whoever gave them.
    """
    from provenance.interchange.w3c_prov import serialize
    from provenance.report.html import write_page

    with obj.open() as ledger:
        document = ledger.prov_document(target, deliverable=name)
    text = serialize(document, form)
    if output is None:
        click.echo(text, nl=False)
    else:
        write_page(output, text)


def register(group: click.Group) -> None:
    group.add_command(export)

"""What other systems read: `export prov` (W3C PROV) and `export mhl` (ASC MHL)."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from provenance.cli import Context, json_option, pass_context
from provenance.cli.render import echo, emit_json, human_bytes, shown
from provenance.cli.write import ProgressLine

from provenance import schemas
from provenance.records import display_path

__all__ = ["export"]


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


@export.command("mhl")
@click.argument("name")
@click.option(
    "--hash",
    "hashes",
    default="xxh128",
    show_default=True,
    metavar="LIST",
    help="The hashes to list, comma-separated: xxh128, md5, xxh64be (ASC MHL's xxh64), xxh3, "
    "sha1, c4 (e.g. xxh128,md5,xxh64be).",
)
@click.option(
    "--out",
    type=click.Path(path_type=str, file_okay=False),
    help="Write the ascmhl/ folder here instead of in the delivery's folder (its paths stay "
    "relative to the delivery's folder: copy it there to verify with ascmhl).",
)
@json_option
@pass_context
def export_mhl(obj: Context, name: str, hashes: str, out: str | None, as_json: bool) -> None:
    """Add a generation to the ASC MHL history of the finalized deliverable NAME.

    Every file of the delivery's folder (its manifest too) with the hashes asked for, computed
    in the one read that also checks each file against the digest the finalize recorded: a
    delivery that changed since is refused, and nothing is written. The history is the
    `ascmhl/` folder the ASC's own tool reads (`ascmhl diff`, `ascmhl-debug verify`); each
    export adds a generation to it.
    """
    progress = ProgressLine(enabled=not as_json and sys.stderr.isatty())
    with obj.open() as ledger:
        try:
            written = ledger.export_mhl(name, hashes.split(","), out=out, progress=progress)
        finally:
            progress.finish()
    if as_json:
        emit_json(
            schemas.MHL_EXPORT,
            {
                "deliverable": name,
                "generation": display_path(written.generation),
                "number": written.number,
                "files": written.files,
                "bytes": written.bytes_read,
                "hashes": list(written.formats),
            },
        )
        return
    echo(
        f"ASC MHL generation {written.number} of {name}: {written.files} files "
        f"({human_bytes(written.bytes_read)}), {', '.join(written.formats)}"
    )
    echo(f"  {shown(display_path(written.generation))}")

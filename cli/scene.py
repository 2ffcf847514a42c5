"""`provenance scene inputs`: what a scene reads, and the recorded versions it would be linked to."""

from __future__ import annotations

import click
from provenance.cli import Context, json_option, pass_context
from provenance.cli.render import echo, emit_json, scene_json, scene_text

from provenance import schemas

__all__ = ["scene"]


@click.group()
def scene() -> None:
    """Lineage read from the pipeline's own scene files (Nuke, USD, Maya ASCII, OTIO)."""


@scene.command()
@click.argument("scene_file", metavar="SCENE", type=click.Path(path_type=str))
@click.option(
    "--workers", type=click.IntRange(min=1), help="Hashing processes (default: one per core)."
)
@json_option
@pass_context
def inputs(obj: Context, scene_file: str, workers: int | None, as_json: bool) -> None:
    """Every input SCENE reads, and the version `ingest --scene` would link it to.

    Each input is found on disk and matched, by its bytes, to a recorded version (not always
    the latest). Records nothing; inputs nobody recorded are listed as what the ingest would
    record. Expressions the reader cannot evaluate are listed as input-unresolved. Paths
    spelled for another platform or mount are shown where the show roots place them on this
    machine; one no root is mapped from is listed as path-unmapped.
    """
    with obj.open() as ledger:
        lineage = ledger.scene_inputs(scene_file, workers=workers)
    if as_json:
        emit_json(schemas.SCENE_INPUTS, scene_json(lineage))
        return
    for line in scene_text(lineage, recorded=False):
        echo(line)

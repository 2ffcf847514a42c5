"""A publish hook: record a render in the provenance ledger as soon as the DCC has written it.

The studio's publish step (or a render callback) calls `record_publish` with the output
pattern, the files the script read, the tool and who published it. The Nuke wiring is at the
bottom; a Houdini ROP post-render script calls the same function. `tests/docs/test_docs.py` runs
this file against a real ledger, so it stays true to the library.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable, Sequence
from pathlib import Path

from provenance import IngestReport, Ledger, ProvenanceError, parse_origin


def record_publish(
    output: str,
    inputs: Sequence[str] = (),
    references: Sequence[str] = (),
    *,
    tool: str,
    origin: str = "human",
    artist: str | None = None,
    note: str | None = None,
    db: str | None = None,
    notify: Callable[[str], None] = print,
    block: bool | None = None,
) -> IngestReport | None:
    """Record `output` as made with `tool`, containing `inputs` and only looking at `references`.

    Paths are best absolute (DCCs give absolute paths); relative ones are read from the
    output's folder. The ledger is `db`, else $PROVENANCE_DB / $DATABASE_URL, else the nearest
    `.provenance/` above the output: a hook inside the show needs no configuration.

    A ProvenanceError is shown to the artist through `notify` and the publish goes on (None is
    returned), unless `block` is true: then it is raised, which stops the publish. By default
    only generative publishes block (see docs/python-api.md for why).
    """
    generative = False
    try:
        generative = parse_origin(origin).generative
        with Ledger.open(db, cwd=Path(os.path.dirname(os.path.abspath(output)))) as ledger:
            sources = [*inputs, *references]
            if sources:
                # The script read these bytes: record them as they are now (no claim, so an
                # input nobody has tagged stays `unknown`, which is honest). Files recorded
                # before and unchanged since are not read again.
                ledger.ingest(sources, workers=1)
            report = ledger.ingest(
                [output],
                origin=origin,
                tool=tool,
                by=artist,
                contains=inputs,
                references=references,
                note=note,
                # Hash in this process: inside a DCC, sys.executable is the DCC itself, so
                # worker processes cannot always be started.
                workers=1,
            )
    except ProvenanceError as exc:
        retry = retry_command(output, inputs, references, tool, origin, artist)
        notify(
            f"Provenance was NOT recorded for {output}:\n{exc}\n\n"
            f"Once fixed, record it with:\n  {retry}"
        )
        blocking = generative if block is None else block
        if blocking:
            raise
        return None
    if not report.ok:
        unreadable = ", ".join(
            s.name for s in report.skipped if s.reason in ("unreadable", "unstable")
        )
        notify(f"Recorded {output}, but these files could not be read: {unreadable}")
    return report


def retry_command(
    output: str,
    inputs: Sequence[str],
    references: Sequence[str],
    tool: str,
    origin: str,
    artist: str | None,
) -> str:
    """The CLI commands that record the same publish, for the artist to hand to a TD."""
    words = ["provenance", "ingest", output, "--origin", origin, "--tool", tool]
    if artist:
        words += ["--by", artist]
    for path in inputs:
        words += ["--from", path]
    for path in references:
        words += ["--ref", path]
    command = shlex.join(words)
    sources = [*inputs, *references]
    if sources:
        command = f"{shlex.join(['provenance', 'ingest', *sources])} && {command}"
    return command


# -- Nuke: in menu.py, `nuke.addAfterRender(publish_hook.nuke_after_render)` -------------------


def nuke_after_render() -> None:
    """Record the Write node that just rendered, with every enabled Read of the script as input."""
    import nuke  # only importable inside Nuke

    write = nuke.thisNode()
    reads = [
        nuke.filename(node)
        for node in nuke.allNodes("Read", recurseGroups=True)
        if not node["disable"].value()
    ]
    record_publish(
        nuke.filename(write),  # the pattern as written: .../sh010_comp_v003.%04d.exr
        inputs=reads,
        tool=f"Nuke@{nuke.NUKE_VERSION_STRING}",
        notify=nuke.message,
    )

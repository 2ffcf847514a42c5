"""A pyblish integrator that records each published instance in the ledger, lineage from its scene.

Register it once in the pipeline's startup (`register()`, or
`pyblish.api.register_plugin(IntegrateProvenance)`). For each instance it reads:

- `instance.data["files"]`: the published files, folders or sequence patterns (required; an
  instance without it is skipped);
- `instance.data["provenance"]`: `origin` (default `human`), `tool` (`NAME@VERSION`), `by`
  (default: `context.data["user"]`, else the OS user), `likeness` (performers), `note`, `db`
  (default: `$PROVENANCE_DB`, else the nearest `.provenance/` above the first file);
- the scene: `instance.data["scene"]`, else `context.data["currentFile"]` (what pyblish's host
  integrations collect); without one, the files are recorded with no lineage.

When the ledger refuses (a render the scene does not write, an input it cannot name, an
unregistered generative tool...) the plug-in raises the ledger's own message, which fails the
publish with it. Inputs recorded with no origin are logged as warnings: the delivery gate blocks
on them (`input-origin-unknown`) until someone declares them.

Needs `pyblish-base` (the `pyblish` extra).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pyblish.api

from provenance.ledger import Ledger

__all__ = ["IntegrateProvenance", "register"]


class IntegrateProvenance(pyblish.api.InstancePlugin):  # type: ignore[misc]
    """Record the instance's files with origin, tool and likeness, and lineage from its scene."""

    label = "Record provenance"
    order = pyblish.api.IntegratorOrder + 0.4
    """After the files are written (integration), so that their bytes are final."""

    def process(self, instance: Any) -> None:
        files = [str(f) for f in instance.data.get("files", ())]
        if not files:
            self.log.info("No files to record for %s.", instance)
            return
        facts = dict(instance.data.get("provenance", {}))
        scene = instance.data.get("scene") or instance.context.data.get("currentFile")
        by = facts.get("by") or instance.context.data.get("user")
        folder = Path(os.path.dirname(os.path.abspath(files[0])))
        with Ledger.open(facts.get("db"), cwd=folder) as ledger:
            report = ledger.ingest(
                files,
                origin=facts.get("origin", "human"),
                tool=facts.get("tool"),
                by=by,
                note=facts.get("note"),
                likeness=tuple(facts.get("likeness", ())),
                scene=scene,
                # Hash in this process: inside a DCC, sys.executable is the DCC itself.
                workers=1,
            )
        instance.data["provenanceReport"] = report
        if report.scene is not None:
            for item in report.scene.origin_unknown:
                self.log.warning(
                    "%s has no origin on record; a delivery of %s is blocked until it is "
                    "declared: provenance tag %s --origin ...",
                    item.name,
                    instance,
                    item.name,
                )
        self.log.info(
            "Recorded %d assets (%d lineage links).", report.asset_count, report.edges_added
        )


def register() -> None:
    """Register the plug-in with pyblish."""
    pyblish.api.register_plugin(IntegrateProvenance)

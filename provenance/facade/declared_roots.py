"""Show roots: declared, moved, spelled for other mounts, listed."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from provenance.facade.places import roots_for_reading
from provenance.roots import RootChange, RootInfo, RootsReport
from provenance.store import queries, root_rows
from provenance.store.engine import read_session, write_session
from provenance.store.events import unit_of_work_event

if TYPE_CHECKING:
    from provenance.ledger import Ledger

__all__ = ["add_root", "list_roots", "map_root", "move_root", "unmap_root"]


def list_roots(ledger: Ledger) -> RootsReport:
    with read_session(ledger.engine) as session:
        roots = roots_for_reading(ledger, session)
        return RootsReport(root_rows.root_infos(session, roots), list(roots.environment))


def add_root(ledger: Ledger, location: str | os.PathLike[str], name: str | None) -> RootChange:
    where = os.fsdecode(os.fsencode(location))
    with write_session(ledger.engine) as session:
        roots = queries.ensure_roots(session, ledger.workspace)
        with unit_of_work_event(session, "roots.add", {}) as unit:
            root_id = root_rows.declare(session, roots, where, name, unit)
        info = _root_info(ledger, session, root_id)
        return RootChange("roots.add", info, None, unit.payload["location"], unit.event_id)


def move_root(ledger: Ledger, root: str, to: str | os.PathLike[str]) -> RootChange:
    where = os.fsdecode(os.fsencode(to))
    with write_session(ledger.engine) as session:
        roots = queries.ensure_roots(session, ledger.workspace)
        placed = root_rows.find_root(roots, root)
        with unit_of_work_event(session, "roots.move", {}) as unit:
            new = root_rows.move(session, roots, placed, where, unit)
        sampled, present = (
            root_rows.present_at(session, placed.id, new.slashed) if new.native else (0, 0)
        )
        return RootChange(
            "roots.move",
            _root_info(ledger, session, placed.id),
            unit.payload["from"],
            new.shown,
            unit.event_id,
            sampled,
            present,
        )


def map_root(ledger: Ledger, root: str, spelled: str) -> RootChange:
    with write_session(ledger.engine) as session:
        roots = queries.ensure_roots(session, ledger.workspace)
        placed = root_rows.find_root(roots, root)
        with unit_of_work_event(session, "roots.map", {}) as unit:
            new = root_rows.map_spelling(session, roots, placed, spelled, unit)
        info = _root_info(ledger, session, placed.id)
        return RootChange("roots.map", info, None, new.shown, unit.event_id)


def unmap_root(ledger: Ledger, root: str, spelled: str) -> RootChange:
    with write_session(ledger.engine) as session:
        roots = queries.ensure_roots(session, ledger.workspace)
        placed = root_rows.find_root(roots, root)
        with unit_of_work_event(session, "roots.unmap", {}) as unit:
            gone = root_rows.unmap_spelling(session, placed, spelled, unit)
        info = _root_info(ledger, session, placed.id)
        return RootChange("roots.unmap", info, gone.shown, None, unit.event_id)


def _root_info(ledger: Ledger, session: Session, root_id: int) -> RootInfo:
    """A root as it is now, after a change in this transaction."""
    return root_rows.root_info(session, queries.ensure_roots(session, ledger.workspace), root_id)

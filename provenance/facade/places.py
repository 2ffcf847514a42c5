"""Where a call's paths are on this machine: made absolute, and the roots to read them by."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from provenance.errors import TargetNotFound
from provenance.paths import PathArg, as_bytes, as_target
from provenance.store import queries
from provenance.store.engine import read_session

if TYPE_CHECKING:
    from provenance.ledger import Ledger

__all__ = [
    "absolute_path",
    "local_paths",
    "placed_here",
    "read_roots",
    "roots_for_reading",
    "roots_here",
    "target_list",
]


def local_paths(ledger: Ledger, *paths: PathArg) -> list[bytes]:
    """Paths as given (relative to `cwd`, absolute, or spelled for another mount or
    platform) as the absolute paths to read on this machine."""
    roots = roots_here(ledger)
    return [roots.localize(as_bytes(path), ledger.cwd) for path in paths]


def roots_here(ledger: Ledger) -> queries.RootMap:
    """The roots to read paths by on this machine, read in a session of their own."""
    with read_session(ledger.engine) as session:
        return roots_for_reading(ledger, session)


def absolute_path(ledger: Ledger, path: PathArg) -> bytes:
    return os.path.normpath(os.path.join(ledger.cwd, as_bytes(path)))


def roots_for_reading(ledger: Ledger, session: Session) -> queries.RootMap:
    # Before anything was ingested there are no roots: ids that match nothing will do.
    return queries.find_roots(session, ledger.workspace) or queries.RootMap.unrecorded(
        queries.ledger_folder(ledger.workspace)
    )


def read_roots(ledger: Ledger, session: Session, target: str) -> queries.RootMap:
    roots = queries.find_roots(session, ledger.workspace)
    if roots is None:
        raise TargetNotFound(
            f"{target!r} is not in the ledger: nothing has been ingested yet. "
            f"Record it first with `provenance ingest {target}`."
        )
    return roots


def target_list(values: Sequence[PathArg] | PathArg) -> list[str]:
    """Targets given as a list (one given on its own is taken as a list of one)."""
    if isinstance(values, (str, bytes, os.PathLike)):
        return [as_target(values)]
    return [as_target(value) for value in values]


def placed_here(roots: queries.RootMap) -> dict[str, Any]:
    """For an event's payload: the roots PROVENANCE_ROOT_MAP placed on this machine, if any (a
    farm node's say-so about where the show is belongs in the history it writes)."""
    placed = roots.overrides()
    return {"root_map": placed} if placed else {}

"""The rows where the tables and the state rebuilt from the events differ, as data: the audit
finds them (`rebuilt_state`), the CLI words them (`cli/render.py`).

A row is named as an auditor needs it named: its values as the event recorded it (as the table
holds it, for a row no event recorded), and the asset versions and the tool it refers to by id
resolved to names (as the tables have them, else as the events do). The audit's other problems
are still sentences (`str`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal, TypeAlias

__all__ = [
    "AuditProblem",
    "ColumnChange",
    "EventRef",
    "MoreDifferences",
    "RowDifference",
    "RowValue",
    "VersionName",
    "differing_rows",
]

RowValue: TypeAlias = str | int | float | bool | None
"""A value of a canonical row (`store.rows`): paths as text, times in ISO 8601."""


@dataclass(frozen=True)
class VersionName:
    """An asset version a row refers to: its path as shown and its number, or only its id when
    neither the tables nor the events know it."""

    id: RowValue
    path: str | None = None
    """`None` when the version is unknown."""
    number: RowValue = None

    def __str__(self) -> str:
        """As the audit's sentences name it: `plates/p.####.tif v1`, else `asset version #7`."""
        if self.path is None:
            return f"asset version #{self.id}"
        return f"{self.path} v{self.number}"


@dataclass(frozen=True)
class EventRef:
    """An event a row names or was recorded by."""

    id: int
    kind: str | None
    """`None` when the log holds no such event."""


@dataclass(frozen=True)
class ColumnChange:
    """One column of a changed row: `before` as the event recorded it, `after` as the table
    holds it now (each as in a canonical row)."""

    column: str
    before: RowValue
    after: RowValue


@dataclass(frozen=True)
class RowDifference:
    """A row of a table that differs from what its event recorded."""

    table: str
    """The table, as `store.rows.COLUMNS` names it (`claims`, `asset_versions`, `lineage`...)."""
    how: Literal["added", "removed", "changed"]
    """`added`: in the table but recorded by no event (inserted outside provenance); `removed`:
    recorded by an event but not in the table (deleted); `changed`: in both, other values."""
    event: EventRef
    """The event the added row names, the one that recorded the removed row, or the last one
    that recorded the changed row."""
    values: dict[str, RowValue]
    """The row, column by column: as the table holds it (added), as the event recorded it
    (removed, changed)."""
    versions: dict[str, VersionName] = field(default_factory=dict)
    """The columns of `values` that refer to an asset version (`id` of an asset version,
    `version_id`, lineage's `child_id` and `parent_id`), each resolved to a name."""
    tool: str | None = None
    """The tool a claim names (`tool_id`), by name; `None` for none or one nobody knows."""
    root_path: str | None = None
    """A root's name as a path for people (`roots` only)."""
    changes: tuple[ColumnChange, ...] = ()
    """The columns that differ (`changed` only), in the table's order."""
    wrong_event_kind: bool = False
    """True for an added row that names an event (written before row commitments) of a kind that
    records no rows of this table."""


@dataclass(frozen=True)
class MoreDifferences:
    """The rows of one table under one event past the first `MOST_PER_GROUP`, counted only."""

    table: str
    event: EventRef
    more: int


AuditProblem: TypeAlias = str | RowDifference | MoreDifferences
"""One thing the audit found: a differing row as data, anything else as a sentence."""


def differing_rows(problems: Iterable[AuditProblem]) -> list[RowDifference | MoreDifferences]:
    """The problems that are differing rows (and their counts past the cap), in order."""
    return [problem for problem in problems if not isinstance(problem, str)]

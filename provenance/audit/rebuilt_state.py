"""The state rebuilt from the events alone, compared with the tables row for row: every event
commits to the rows its unit of work wrote (`store.rows`), and each row that differs is reported
as data (`audit.differences`: the CLI words it), its asset versions and tools named as the
tables, else the events, have them. What is not one row (counts, digests, times) is a sentence.
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Connection, func, select
from sqlalchemy.orm import Session

from provenance.audit.differences import (
    AuditProblem,
    ColumnChange,
    EventRef,
    MoreDifferences,
    RowDifference,
    VersionName,
)
from provenance.audit.legacy import LEGACY_WRITES, legacy_checks
from provenance.fingerprint import aggregate_digest
from provenance.records import display_path
from provenance.store.models import Approval, AssetVersion, Claim, Consent, Deliverable, LineageEdge
from provenance.store.rows import (
    COLUMNS,
    LineDigests,
    RebuiltState,
    Row,
    RowsDigest,
    child_lines,
    read_rows,
)

__all__ = [
    "KEYS",
    "MOST_PER_GROUP",
    "EventFacts",
    "StateCheck",
    "check_state",
]


# ---------------------------------------------------------------------------------------------
# State against events: every event commits to the rows its unit of work wrote (store.rows), so
# the state rebuilt from the events alone must be the tables, row for row.

KEYS: dict[str, tuple[str, ...]] = {
    "tools": ("id",),
    "asset_versions": ("id",),
    "claims": ("version_id",),
    "lineage": ("child_id", "parent_id"),
    "approvals": ("version_id",),
    "consents": ("performer_key",),
    "likenesses": ("version_id", "performer_key"),
    "deliverables": ("id",),
    "signals": ("version_id", "source"),
    "roots": ("id",),
}
"""What names a row: a row added and a row gone with the same key were changed."""

MOST_PER_GROUP = 20
"""Differing rows reported of one table under one event; past this, how many more is said."""

_VERSION_COLUMNS: dict[str, tuple[str, ...]] = {
    "asset_versions": ("id",),
    "claims": ("version_id",),
    "lineage": ("child_id", "parent_id"),
    "approvals": ("version_id",),
    "likenesses": ("version_id",),
    "signals": ("version_id",),
}
"""The columns of each table that refer to an asset version, named in a `RowDifference`."""


@dataclass
class StateCheck:
    problems: list[AuditProblem]
    notes: list[str]


@dataclass(frozen=True)
class EventFacts:
    kind: str
    at: dt.datetime


def check_state(
    session: Session, rebuilt: RebuiltState, events: dict[int, EventFacts]
) -> StateCheck:
    """Compare the state rebuilt from the events alone (`rebuilt`) with the tables."""
    connection = session.connection()
    actual = read_rows(connection)
    names = _Names(actual, rebuilt)
    problems: list[AuditProblem] = list(rebuilt.unreadable)
    unvouched: dict[str, set[int]] = {}
    for table in COLUMNS:
        found, unvouched[table] = _check_digested(table, rebuilt, actual[table], events)
        problems += found
        problems += _compare_table(table, rebuilt, actual[table], events, names)
    problems += _check_times(connection, rebuilt.committed, events)
    problems += _check_members(
        connection, rebuilt, actual, events, names, unvouched["asset_versions"]
    )
    problems += _check_deliverable_files(connection, rebuilt, actual, events)
    notes = []
    legacy = set(rebuilt.legacy)
    if legacy:
        problems += legacy_checks(session, rebuilt.legacy_payloads)
        notes.append(
            f"written before row commitments ({len(legacy)} events): their rows are checked by "
            "the old rules"
        )
    return StateCheck(problems, notes)


def _check_digested(
    table: str,
    rebuilt: RebuiltState,
    found: dict[int, list[Row]],
    events: dict[int, EventFacts],
) -> tuple[list[str], set[int]]:
    """The rows of events that committed to this table by count and digest, against the table.

    Returns the problems, and the events whose rows the table no longer holds as committed (the
    rows of the others are vouched for by the digest, and stand in for the event's own)."""
    problems: list[str] = []
    failed: set[int] = set()
    for event_id, committed in sorted(rebuilt.digested[table].items()):
        present = found.get(event_id, [])
        digest = RowsDigest()
        for row in present:
            digest.add(row)
        if (digest.count, digest.sha256()) == (committed.count, committed.sha256):
            continue
        failed.add(event_id)
        problems.append(
            f"the {table.replace('_', ' ')} recorded by event #{event_id} "
            f"({events[event_id].kind}) are not the rows it committed to ({committed.count:,} "
            f"committed, {digest.count:,} present): changed, added or removed outside provenance"
        )
    return problems, failed


_Difference = tuple[Literal["added", "removed", "changed"], Row, Row | None]
"""How a row differs, the row as its event recorded it (as the table holds it, when added), and
the row the table holds (when changed)."""


def _compare_table(
    table: str,
    rebuilt: RebuiltState,
    found: dict[int, list[Row]],
    events: dict[int, EventFacts],
    names: _Names,
) -> list[AuditProblem]:
    problems: list[AuditProblem] = []
    expected = rebuilt.rows[table]
    digested = rebuilt.digested[table]  # compared whole by _check_digested
    key = operator.itemgetter(*[COLUMNS[table].index(column) for column in KEYS[table]])
    for event_id in sorted((set(expected) | set(found)) - set(digested)):
        recorded = expected.get(event_id, [])
        present = found.get(event_id, [])
        event = events.get(event_id)
        named = EventRef(event_id, event.kind if event is not None else None)
        if event_id not in rebuilt.committed and not recorded:
            # Rows of an event without commitments: only where they point can be judged.
            if event is not None and table in LEGACY_WRITES.get(event.kind, frozenset()):
                continue
            # The event does not exist, or is of a kind that records no such rows.
            report = functools.partial(
                _row_difference, table, named, rebuilt, events, names, event is not None
            )
            problems += _capped(table, named, [("added", row, None) for row in present], report)
            continue
        recorded_count, present_count = Counter(recorded), Counter(present)
        if recorded_count == present_count:
            continue
        # A row gone and a row added with the same key are one row changed.
        gone: dict[object, list[Row]] = {}
        for row in (recorded_count - present_count).elements():
            gone.setdefault(key(row), []).append(row)
        differences: list[_Difference] = []
        for row in (present_count - recorded_count).elements():
            twins = gone.get(key(row))
            differences.append(("changed", twins.pop(), row) if twins else ("added", row, None))
        differences.sort(key=lambda difference: difference[0])  # added, then changed
        differences += [("removed", row, None) for rows in gone.values() for row in rows]
        report = functools.partial(_row_difference, table, named, rebuilt, events, names, False)
        problems += _capped(table, named, differences, report)
    return problems


def _row_difference(
    table: str,
    event: EventRef,
    rebuilt: RebuiltState,
    events: dict[int, EventFacts],
    names: _Names,
    wrong_event_kind: bool,
    difference: _Difference,
) -> RowDifference:
    """One row that differs between a table and its events, its references named."""
    how, row, present = difference
    changes: tuple[ColumnChange, ...] = ()
    if how == "changed":
        assert present is not None
        changes = tuple(
            ColumnChange(column, then, now)
            for column, then, now in zip(COLUMNS[table], row, present, strict=True)
            if then != now
        )
        last = rebuilt.last_recorded.get((table, row[0]), event.id)
        event = EventRef(last, events[last].kind) if last in events else EventRef(event.id, None)
    values = dict(zip(COLUMNS[table], row, strict=True))
    return RowDifference(
        table,
        how,
        event,
        values,
        versions={
            column: names.version(values[column]) for column in _VERSION_COLUMNS.get(table, ())
        },
        tool=names.tool(values["tool_id"]) if table == "claims" else None,
        root_path=_shown_path(None, values["name"]) if table == "roots" else None,
        changes=changes,
        wrong_event_kind=wrong_event_kind,
    )


def _capped(
    table: str,
    event: EventRef,
    differences: Sequence[_Difference],
    report: Callable[[_Difference], RowDifference],
) -> list[AuditProblem]:
    """The first MOST_PER_GROUP differing rows (named only when reported), then how many more."""
    shown: list[AuditProblem] = [report(difference) for difference in differences[:MOST_PER_GROUP]]
    if len(differences) > MOST_PER_GROUP:
        shown.append(MoreDifferences(table, event, len(differences) - MOST_PER_GROUP))
    return shown


def _check_times(
    connection: Connection, committed: set[int], events: dict[int, EventFacts]
) -> list[str]:
    """Every row an event recorded carries the event's time as its `created_at`."""
    problems = []
    for table, model in _TIMED.items():
        for event_id, first, last in connection.execute(
            select(model.event_id, func.min(model.created_at), func.max(model.created_at))
            .group_by(model.event_id)
            .order_by(model.event_id)
        ):
            event = events.get(event_id)
            if event_id in committed and event is not None and not first == last == event.at:
                problems.append(
                    f"the time of {table.replace('_', ' ')} recorded by event #{event_id} "
                    f"({event.kind}) was changed outside provenance: each must be the event's "
                    f"time, {event.at.isoformat()}"
                )
    return problems


_TIMED: dict[str, Any] = {
    "asset_versions": AssetVersion,
    "claims": Claim,
    "lineage": LineageEdge,
    "approvals": Approval,
    "consents": Consent,
    "deliverables": Deliverable,
}


def _check_members(
    connection: Connection,
    rebuilt: RebuiltState,
    actual: dict[str, dict[int, list[Row]]],
    events: dict[int, EventFacts],
    names: _Names,
    unvouched: set[int],
) -> list[str]:
    """Each version's frames add up to its digest, count and size; each event's to its digest.

    The versions of `unvouched` events (whose version rows no longer match their digest, already
    reported) are not summed: what they must add up to is not known."""
    digests = LineDigests()
    # What each version's frames add up to: (digest, count, size). The lines come in version
    # order, so one version's frames are held at a time.
    seen: dict[int, tuple[str, int, int]] = {}
    current: int | None = None
    frames: list[tuple[int | None, str]] = []
    total = 0
    for event_id, line in child_lines(connection, "members"):
        version_id, _position, frame, digest, size = line
        if version_id != current:
            if current is not None:
                seen[current] = (aggregate_digest(frames), len(frames), total)
            current, frames, total = version_id, [], 0
        frames.append((frame, digest))
        total += size
        digests.add(event_id, line)
    if current is not None:
        seen[current] = (aggregate_digest(frames), len(frames), total)
    nothing = (aggregate_digest([]), 0, 0)
    problems = []
    flagged: set[int] = set()
    # What each version's frames must add up to: as its event listed it (a version row edited
    # in the table is reported as such), else as the table has it: vouched for by its event's
    # digest, or written before row commitments.
    recorded = {
        version_id: sums
        for version_id, sums in _version_sums(actual).items()
        if sums[0] not in unvouched
    }
    recorded.update(_version_sums(rebuilt.rows))
    for version_id, (event_id, digest, count, size) in recorded.items():
        if seen.get(version_id, nothing) != (digest, count, size):
            flagged.add(event_id)
            problems.append(
                f"the frames of {names.version(version_id)} no longer add up to its digest, "
                "count and size: a member was changed, added or removed outside provenance"
            )
    found = digests.result()
    for event_id, members_digest in rebuilt.digests["members"].items():
        if found.get(event_id) != members_digest and event_id not in flagged:
            problems.append(
                f"the members of the asset versions recorded by event #{event_id} "
                f"({events[event_id].kind}) differ from what it recorded: changed, added or "
                "removed outside provenance"
            )
    return problems


def _version_sums(rows: dict[str, dict[int, list[Row]]]) -> dict[int, Row]:
    """version id -> (event id, digest, member count, total size)."""
    return {
        row[0]: (event_id, row[5], row[6], row[7])
        for event_id, versions in rows["asset_versions"].items()
        for row in versions
    }


def _check_deliverable_files(
    connection: Connection,
    rebuilt: RebuiltState,
    actual: dict[str, dict[int, list[Row]]],
    events: dict[int, EventFacts],
) -> list[str]:
    """Each deliverable holds as many files as it says, and each event's the files it recorded."""
    digests = LineDigests()
    counts: dict[int, int] = {}
    for event_id, line in child_lines(connection, "deliverable_files"):
        counts[line[0]] = counts.get(line[0], 0) + 1
        digests.add(event_id, line)
    problems = []
    counted: set[int] = set()
    for event_id, rows in actual["deliverables"].items():
        for row in rows:
            deliverable = dict(zip(COLUMNS["deliverables"], row, strict=True))
            held = counts.get(deliverable["id"], 0)
            if held != deliverable["file_count"]:
                counted.add(event_id)
                problems.append(
                    f"deliverable {deliverable['name']!r} holds {held} files but was finalized "
                    f"with {deliverable['file_count']}: files were added or removed outside "
                    "provenance"
                )
    found = digests.result()
    for event_id, recorded in rebuilt.digests["deliverable_files"].items():
        if found.get(event_id) != recorded and event_id not in counted:
            names = [repr(row[1]) for row in rebuilt.rows["deliverables"].get(event_id, [])]
            problems.append(
                f"the files of deliverable {', '.join(names)} differ from what event #{event_id} "
                f"({events[event_id].kind}) recorded: changed outside provenance"
            )
    return problems


class _Names:
    """How asset versions and tools are named: as the tables have them, else as the events do.
    (Looked up only when there is something to report.)"""

    def __init__(self, actual: dict[str, dict[int, list[Row]]], rebuilt: RebuiltState) -> None:
        self._sources = (actual, rebuilt.rows)
        self._rows: dict[str, dict[int, Row]] | None = None

    def _row(self, table: str, row_id: object) -> Row | None:
        if self._rows is None:
            self._rows = {
                name: {
                    row[0]: row
                    for source in reversed(self._sources)
                    for rows in source[name].values()
                    for row in rows
                }
                for name in ("asset_versions", "tools")
            }
        return self._rows[table].get(row_id) if isinstance(row_id, int) else None

    def version(self, version_id: Any) -> VersionName:
        row = self._row("asset_versions", version_id)
        if row is None:
            return VersionName(version_id)
        return VersionName(version_id, _shown_path(row[1], row[2]), row[4])

    def tool(self, tool_id: object) -> str | None:
        row = self._row("tools", tool_id)
        return str(row[2]) if row is not None else None


def _shown_path(root: object, pattern: object) -> str:
    def shown(text: object) -> str:
        if isinstance(text, str) and text.startswith("\x00"):
            try:
                return display_path(bytes.fromhex(text[1:]))
            except ValueError:
                pass
        return str(text)

    if root == "/":
        return "/" + shown(pattern)
    return shown(pattern)

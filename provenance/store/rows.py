"""What an event commits to: the canonical rows of the history tables, read from the database or
rebuilt from the events alone (formats `Rows.1` and `Rows.2`, described in docs/auditor.md).

Each unit of work writes its rows with the id of its event, then the event, whose payload
carries those rows (`"rows"`): so the state (origins, lineage, approvals, deliverables) can be
rebuilt from the event log alone and compared with the tables. A row is a compact JSON list of
its columns in the order of `COLUMNS`, without its own autoincrement id, except where other
rows refer to it by id (tools, asset versions, deliverables). A table's rows under one event
are listed while they are few; past INLINE_ROWS the event commits to their count and SHA-256
instead (the table's rows under the event must then hash to it, and stand in for the event's),
and child tables that can hold millions of rows (members, deliverable files) are committed to
as one SHA-256 an event: so an event stays small, and memory flat, whatever its unit of work
wrote.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import operator
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from sqlalchemy import Connection, LargeBinary, and_, func, or_, select

from provenance import schemas
from provenance.store.models import (
    Approval,
    Asset,
    AssetVersion,
    Claim,
    Consent,
    Content,
    Deliverable,
    DeliverableFile,
    Likeness,
    LineageEdge,
    Member,
    Root,
    SignalRecord,
    Tool,
    UTCDateTime,
)

__all__ = [
    "COLUMNS",
    "DIGESTS",
    "INLINE_ROWS",
    "DigestedRows",
    "EventRows",
    "LineDigests",
    "RebuiltState",
    "Row",
    "RowsDigest",
    "StateBuilder",
    "child_lines",
    "committed_rows",
    "digested_tables",
    "path_text",
    "read_rows",
    "rebuild_state",
    "table_rows",
]


READABLE_SCHEMAS = (schemas.ROWS_INLINE, schemas.ROWS_DIGESTED)

INLINE_ROWS = 1000
"""Rows of one table an event lists in its payload. Past this many it commits to their count and
SHA-256 instead (`{"rows": N, "sha256": ...}`, Rows.2): an ingest of a million files would
otherwise write, and hold in memory, an event of hundreds of megabytes. The writer's choice:
readers take either form at any count."""

CHANGED_IN_PLACE = ("tools", "roots")
"""Tables whose rows change: each event that writes or changes a row records the whole row as it
then is, so a row's state is the last row recorded for its id."""

ALWAYS_LISTED = frozenset(CHANGED_IN_PLACE)
"""Tables an event lists whatever their size: a tool's or a root's state is the last row
recorded for its id, which the rebuild needs (and an event records one or two of them)."""

Row = tuple[Any, ...]

COLUMNS: dict[str, tuple[str, ...]] = {
    "tools": (
        "id", "registered_by", "name", "key", "vendor", "generative", "trains_on_inputs",
        "secured", "created_at",
    ),
    "asset_versions": (
        "id", "root", "pattern", "kind", "number", "digest", "member_count", "total_size",
    ),
    "claims": (
        "version_id", "origin", "tool_id", "tool_version", "claimed_by", "evidence", "detail",
        "note", "resolves",
    ),
    "lineage": ("child_id", "parent_id", "kind"),
    "approvals": (
        "version_id", "digest", "ref", "approved_by", "note", "covers_tool_risk", "recorded_by",
    ),
    "consents": ("performer", "performer_key", "scope", "ref", "recorded_by"),
    "likenesses": ("version_id", "performer_key", "performer"),
    "deliverables": (
        "id", "name", "source", "kind", "policy_name", "policy_digest", "file_count", "warnings",
    ),
    "signals": ("version_id", "source", "origin", "evidence", "tool", "summary", "detail"),
    "roots": ("id", "recorded_by", "name", "location", "aliases"),
}  # fmt: skip
"""Each history table's canonical row. Every table here but `tools`, `likenesses`, `signals` and
`roots` has a `created_at` (not in the row) that must be the time of the event that recorded it.

`tools` and `roots` are the tables whose rows change (CHANGED_IN_PLACE): each event that
registers (`tool.add`, `roots.add`) or changes (`tool.set`, `roots.move`, `roots.map`,
`roots.unmap`) one records its whole row as it then is, so its state is the last row recorded
for its id. Its `registered_by` (`recorded_by`) is the row's `event_id`: the event under which
the row is filed. A root the ledger records on its own (`/`, the ledger's folder, a root an
older version recorded at its absolute path) has none until an event first changes it (and
takes it), and is no event's row while it is as recorded: no location other than its name, no
aliases."""

DIGESTS: dict[str, tuple[str, ...]] = {
    "members": ("version_id", "position", "frame", "digest", "size"),
    "deliverable_files": (
        "deliverable_id", "position", "path", "digest", "size", "version_id", "frame",
    ),
}  # fmt: skip
"""Child tables committed to by one SHA-256 an event, and the columns of their rows: the frames
of the event's asset versions, the files of its deliverable. The digest is over the compact JSON
list of those rows (RowsDigest), ordered by the parent's id and the position."""


def path_text(path: bytes) -> str:
    """A path as canonical text: its UTF-8 text, or, when it is not UTF-8, a NUL and its bytes in
    hex (a NUL can never be part of a path, so the two never meet)."""
    try:
        return path.decode("utf-8")
    except UnicodeDecodeError:
        return "\x00" + path.hex()


def _time_text(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).isoformat()


def _canonical(statement: Any) -> Callable[[Any], Row]:
    """A function from a selected row (event id first) to its canonical row: paths as text,
    times in ISO 8601, everything else as the driver gives it."""
    fixes: list[tuple[int, Callable[[Any], object]]] = []
    for index, column in enumerate(list(statement.selected_columns)[1:]):
        if isinstance(column.type, LargeBinary):
            fixes.append((index, path_text))
        elif isinstance(column.type, UTCDateTime):
            fixes.append((index, _time_text))
    if not fixes:
        return operator.itemgetter(slice(1, None))

    def canonical(row: Any) -> Row:
        values = list(row[1:])
        for index, fix in fixes:
            if values[index] is not None:
                values[index] = fix(values[index])
        return tuple(values)

    return canonical


def _fetch(connection: Connection, statement: Any) -> Iterator[Any]:
    """The rows of `statement`, fetched a few thousand at a time (on PostgreSQL from a server-side
    cursor: the driver would otherwise take every row of a million-row table at once)."""
    result = connection.execute(statement.execution_options(stream_results=True))
    while rows := result.fetchmany(4096):
        yield from rows


@functools.cache
def _statements() -> dict[str, tuple[Any, Any]]:
    """Each table's canonical rows: the event id, then the columns of COLUMNS, in a stable order."""
    return {
        "tools": (
            select(
                Tool.event_id, Tool.id, Tool.event_id, Tool.name, Tool.key, Tool.vendor,
                Tool.generative, Tool.trains_on_inputs, Tool.secured, Tool.created_at,
            ).order_by(Tool.id),
            Tool.event_id,
        ),
        "asset_versions": (
            select(
                AssetVersion.event_id, AssetVersion.id, Root.name, Asset.pattern, Asset.kind,
                AssetVersion.number, AssetVersion.digest, AssetVersion.member_count,
                AssetVersion.total_size,
            )
            .join(Asset, Asset.id == AssetVersion.asset_id)
            .join(Root, Root.id == Asset.root_id)
            .order_by(AssetVersion.id),
            AssetVersion.event_id,
        ),
        "claims": (
            select(
                Claim.event_id, Claim.version_id, Claim.origin, Claim.tool_id, Claim.tool_version,
                Claim.claimed_by, Claim.evidence, Claim.detail, Claim.note, Claim.resolves,
            ).order_by(Claim.id),
            Claim.event_id,
        ),
        "lineage": (
            select(
                LineageEdge.event_id, LineageEdge.child_id, LineageEdge.parent_id,
                LineageEdge.kind,
            ).order_by(LineageEdge.id),
            LineageEdge.event_id,
        ),
        "approvals": (
            select(
                Approval.event_id, Approval.version_id, Approval.digest, Approval.ref,
                Approval.approved_by, Approval.note, Approval.covers_tool_risk,
                Approval.recorded_by,
            ).order_by(Approval.id),
            Approval.event_id,
        ),
        "consents": (
            select(
                Consent.event_id, Consent.performer, Consent.performer_key, Consent.scope,
                Consent.ref, Consent.recorded_by,
            ).order_by(Consent.id),
            Consent.event_id,
        ),
        "likenesses": (
            select(
                Likeness.event_id, Likeness.version_id, Likeness.performer_key,
                Likeness.performer,
            ).order_by(Likeness.version_id, Likeness.performer_key),
            Likeness.event_id,
        ),
        "deliverables": (
            select(
                Deliverable.event_id, Deliverable.id, Deliverable.name, Deliverable.source,
                Deliverable.kind, Deliverable.policy_name, Deliverable.policy_digest,
                Deliverable.file_count, Deliverable.warnings,
            ).order_by(Deliverable.id),
            Deliverable.event_id,
        ),
        "signals": (
            select(
                SignalRecord.event_id, SignalRecord.version_id, SignalRecord.source,
                SignalRecord.origin, SignalRecord.evidence, SignalRecord.tool,
                SignalRecord.summary, SignalRecord.detail,
            ).order_by(SignalRecord.id),
            SignalRecord.event_id,
        ),
        "roots": (
            select(_ROOT_EVENT, Root.id, _ROOT_EVENT, Root.name, Root.location, Root.aliases)
            .where(~_AS_RECORDED)
            .order_by(Root.id),
            _ROOT_EVENT,
        ),
    }  # fmt: skip


# A root that no event took is filed under event 0 (none): while it is as the ledger recorded it,
# it is no event's row; changed, it is a row that no event recorded.
_ROOT_EVENT = func.coalesce(Root.event_id, 0)
_AS_RECORDED = and_(
    Root.event_id.is_(None),
    Root.aliases == "[]",
    or_(Root.location.is_(None), Root.location == Root.name),
)


@functools.cache
def _child_statements() -> dict[str, tuple[Any, Any]]:
    """Each child table's lines: the parent's event id, then the columns of DIGESTS, in order."""
    return {
        "members": (
            select(
                AssetVersion.event_id, Member.version_id, Member.position, Member.frame,
                Content.digest, Content.size,
            )
            .join(AssetVersion, AssetVersion.id == Member.version_id)
            .join(Content, Content.id == Member.content_id)
            .order_by(Member.version_id, Member.position),
            AssetVersion.event_id,
        ),
        "deliverable_files": (
            select(
                Deliverable.event_id, DeliverableFile.deliverable_id, DeliverableFile.position,
                DeliverableFile.path, DeliverableFile.digest, DeliverableFile.size,
                DeliverableFile.version_id, DeliverableFile.frame,
            )
            .join(Deliverable, Deliverable.id == DeliverableFile.deliverable_id)
            .order_by(DeliverableFile.deliverable_id, DeliverableFile.position),
            Deliverable.event_id,
        ),
    }  # fmt: skip


def table_rows(
    connection: Connection,
    table: str,
    event_id: int | None = None,
    changed: Iterable[int] = (),
) -> Iterator[tuple[int, Row]]:
    """(event id, canonical row) of a history table, in table order, fetched a few thousand at a
    time: all of them, or those of one event and the rows it `changed` in place (by id)."""
    statement, event_column = _statements()[table]
    if event_id is not None:
        wanted = event_column == event_id
        ids = sorted(changed)
        if ids:
            wanted = or_(wanted, statement.selected_columns[1].in_(ids))
        statement = statement.where(wanted)
    canonical = _canonical(statement)
    for row in _fetch(connection, statement):
        yield row[0], canonical(row)


def read_rows(connection: Connection) -> dict[str, dict[int, list[Row]]]:
    """Every canonical row in the history tables, per table and the event it names, in table
    order."""
    found: dict[str, dict[int, list[Row]]] = {}
    for table in COLUMNS:
        per_event: dict[int, list[Row]] = {}
        for event_id, row in table_rows(connection, table):
            rows = per_event.get(event_id)
            if rows is None:
                rows = per_event[event_id] = []
            rows.append(row)
        found[table] = per_event
    return found


def child_lines(
    connection: Connection, table: str, event_id: int | None = None
) -> Iterator[tuple[int, Row]]:
    """(event id of the parent, canonical line) of a child table, ordered by parent and position."""
    statement, event_column = _child_statements()[table]
    if event_id is not None:
        statement = statement.where(event_column == event_id)
    canonical = _canonical(statement)
    for row in _fetch(connection, statement):
        yield row[0], canonical(row)


# ---------------------------------------------------------------------------------------------
# Commitments, fed one row at a time


class RowsDigest:
    """The SHA-256 of the compact JSON list of the rows fed, in order, and how many there were.

    The list is `json.dumps(rows, separators=(",", ":"), ensure_ascii=False)` as UTF-8, hashed a
    few thousand rows at a time so that memory stays flat on any number of rows.
    """

    def __init__(self) -> None:
        self._hash = hashlib.sha256(b"[")
        self._pending: list[Row] = []
        self.count = 0

    def add(self, row: Row) -> None:
        self._pending.append(row)
        self.count += 1
        if len(self._pending) >= 4096:
            self.flush()

    def flush(self) -> None:
        """Hash the rows held so far (and hold none)."""
        if not self._pending:
            return
        if self.count > len(self._pending):
            self._hash.update(b",")
        text = json.dumps(self._pending, separators=(",", ":"), ensure_ascii=False)
        self._hash.update(text[1:-1].encode())
        self._pending = []

    def sha256(self) -> str:
        """`sha256:` and the hex digest of the rows fed so far (more can follow)."""
        self.flush()
        closed = self._hash.copy()
        closed.update(b"]")
        return "sha256:" + closed.hexdigest()


class LineDigests:
    """Per event, the RowsDigest of a child table's rows, fed in order (one event after another:
    only the current event's rows are held unhashed)."""

    def __init__(self) -> None:
        self._digests: dict[int, RowsDigest] = {}
        self._current: RowsDigest | None = None
        self._current_event: int | None = None

    def add(self, event_id: int, row: Row) -> None:
        if event_id != self._current_event or self._current is None:
            if self._current is not None:
                self._current.flush()
            self._current = self._digests.setdefault(event_id, RowsDigest())
            self._current_event = event_id
        self._current.add(row)

    def result(self) -> dict[int, str]:
        return {event: digest.sha256() for event, digest in self._digests.items()}


Commitment: TypeAlias = "list[Row] | dict[str, Any]"
"""What an event records of one table: its rows listed, or `{"rows": count, "sha256": digest}`."""


class EventRows:
    """One table's rows under one event, fed one at a time in table order: listed while there are
    at most INLINE_ROWS of them (always, for a table in ALWAYS_LISTED), else committed to as their
    count and RowsDigest. Holds a few thousand rows at most, however many are fed."""

    def __init__(self, table: str) -> None:
        self._limit = None if table in ALWAYS_LISTED else INLINE_ROWS
        self._listed: list[Row] | None = []
        self._digest = RowsDigest()

    def add(self, row: Row) -> None:
        listed = self._listed
        if listed is None:
            self._digest.add(row)
            return
        listed.append(row)
        if self._limit is not None and len(listed) > self._limit:
            for held in listed:
                self._digest.add(held)
            self._listed = None

    @property
    def count(self) -> int:
        return self._digest.count if self._listed is None else len(self._listed)

    def commitment(self) -> Commitment:
        if self._listed is not None:
            return self._listed
        return {"rows": self._digest.count, "sha256": self._digest.sha256()}


def committed_rows(
    connection: Connection,
    event_id: int,
    changed: Mapping[str, Iterable[int]] | None = None,
    written: Mapping[str, EventRows] | None = None,
    lines: Mapping[str, LineDigests] | None = None,
) -> dict[str, Any]:
    """The `rows` document of an event: every row the tables hold under its id, and the rows it
    changed in place, each table listed or committed to by count and digest (EventRows).

    `written` holds, for tables the unit's writer alone wrote, their rows as the writer fed
    them in table order, and `lines` the digests of child tables it fed as it wrote them:
    neither is read back. (The audit reads the tables, so a writer that made them wrong fails
    its own verify.)
    """
    given = written or {}
    document: dict[str, Any] = {"schema": schemas.ROWS_INLINE}
    for table in COLUMNS:
        rows = given.get(table)
        if rows is None:
            rows = EventRows(table)
            ids = (changed or {}).get(table, ())
            for _event, row in table_rows(connection, table, event_id, ids):
                rows.add(row)
        if rows.count:
            document[table] = commitment = rows.commitment()
            if isinstance(commitment, dict):
                document["schema"] = schemas.ROWS_DIGESTED
    for table in DIGESTS:
        digests = lines.get(table) if lines else None
        if digests is None:
            digests = LineDigests()
            for event, line in child_lines(connection, table, event_id):
                digests.add(event, line)
        digest = digests.result().get(event_id)
        if digest is not None:
            document[table] = digest
    return document


def digested_tables(document: object) -> list[str]:
    """The tables a `rows` document commits to by count and digest rather than listing them."""
    if not isinstance(document, dict):
        return []
    return [t for t, value in document.items() if t in COLUMNS and isinstance(value, dict)]


# ---------------------------------------------------------------------------------------------
# The state rebuilt from the events alone


@dataclass(frozen=True)
class DigestedRows:
    """A table's rows under one event, as the event committed to them past INLINE_ROWS."""

    count: int
    sha256: str


@dataclass
class RebuiltState:
    """The history tables as the events say they are."""

    rows: dict[str, dict[int, list[Row]]] = field(
        default_factory=lambda: {table: {} for table in COLUMNS}
    )
    """table -> event id -> canonical rows the event listed."""
    digested: dict[str, dict[int, DigestedRows]] = field(
        default_factory=lambda: {table: {} for table in COLUMNS}
    )
    """table -> event id -> the count and digest of the rows the event committed to unlisted."""
    digests: dict[str, dict[int, str]] = field(
        default_factory=lambda: {table: {} for table in DIGESTS}
    )
    """child table -> event id -> the digest of its lines the event recorded."""
    last_recorded: dict[tuple[str, int], int] = field(default_factory=dict)
    """(table, id) -> the last event that recorded a row changed in place (tools)."""
    committed: set[int] = field(default_factory=set)
    """Events that carry row commitments."""
    legacy: list[int] = field(default_factory=list)
    """Events written before row commitments (no `rows` in their payload)."""
    legacy_payloads: dict[int, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    """(kind, payload) of the legacy events whose kinds the builder was asked to keep."""
    unreadable: list[str] = field(default_factory=list)
    """Commitments that are not in a form this version reads (READABLE_SCHEMAS), described."""


class StateBuilder:
    """Rebuilds the state one event at a time, oldest first (see `rebuild_state`)."""

    def __init__(self, keep_legacy: Iterable[str] = ()) -> None:
        self.state = RebuiltState()
        self._latest: dict[str, dict[int, Row]] = {table: {} for table in CHANGED_IN_PLACE}
        self._keep_legacy = frozenset(keep_legacy)

    def add(self, event_id: int, kind: str, payload: Mapping[str, Any]) -> None:
        state = self.state
        document = payload.get("rows")
        if document is None:
            state.legacy.append(event_id)
            if kind in self._keep_legacy:
                state.legacy_payloads[event_id] = (kind, dict(payload))
            return
        problem = _form_problem(document)
        if problem is not None:
            state.unreadable.append(f"event #{event_id} ({kind}) records its rows {problem}")
            return
        state.committed.add(event_id)
        for table, value in document.items():
            if table in DIGESTS:
                state.digests[table][event_id] = value
            elif table in CHANGED_IN_PLACE:
                for row in value:
                    self._latest[table][row[0]] = tuple(row)
                    state.last_recorded[(table, row[0])] = event_id
            elif table in COLUMNS and isinstance(value, dict):
                state.digested[table][event_id] = DigestedRows(value["rows"], value["sha256"])
            elif table in COLUMNS:
                state.rows[table][event_id] = [tuple(row) for row in value]

    def result(self) -> RebuiltState:
        for table, latest in self._latest.items():
            filed: dict[int, list[Row]] = {}
            for row in latest.values():
                filed.setdefault(row[1], []).append(row)
            self.state.rows[table] = filed
        return self.state


def rebuild_state(events: Iterable[tuple[int, str, Mapping[str, Any]]]) -> RebuiltState:
    """The state from (id, kind, payload) of every event, oldest first.

    Works on the database's events and on `provenance audit export` output alike (a table an
    event committed to by digest comes as its DigestedRows, not its rows).
    """
    builder = StateBuilder()
    for event_id, kind, payload in events:
        builder.add(event_id, kind, payload)
    return builder.result()


def _is_sha256(value: object) -> bool:
    if not isinstance(value, str) or not value.startswith("sha256:") or len(value) != 71:
        return False
    return all(character in "0123456789abcdef" for character in value[7:])


def _form_problem(document: object) -> str | None:
    schema = document.get("schema") if isinstance(document, dict) else None
    if not isinstance(document, dict) or schema not in READABLE_SCHEMAS:
        return (
            "in a form this version of provenance does not read (not "
            f"{' or '.join(READABLE_SCHEMAS)})"
        )
    for table, value in document.items():
        if table == "schema":
            continue
        if table in DIGESTS:
            if not _is_sha256(value):
                return f"with a {table} digest that is not a SHA-256"
        elif table in COLUMNS and isinstance(value, dict):
            if schema == schemas.ROWS_INLINE:
                return f"with {table} committed to by digest, which Rows.1 does not allow"
            if table in ALWAYS_LISTED:
                return f"with {table} committed to by digest, not listed as {schema} requires"
            count = value.get("rows")
            if (
                set(value) != {"rows", "sha256"}
                or not isinstance(count, int)
                or isinstance(count, bool)
                or count < 0
                or not _is_sha256(value["sha256"])
            ):
                return f"with a {table} commitment that is not a row count and a SHA-256"
        elif table in COLUMNS:
            width = len(COLUMNS[table])
            if not isinstance(value, list) or not all(
                isinstance(row, list) and len(row) == width for row in value
            ):
                return f"with {table} rows that are not lists of {width} values"
            try:
                for row in value:
                    hash(tuple(row))  # plain values only: no lists or objects in a row
            except TypeError:
                return f"with {table} rows that hold lists or objects, not plain values"
        else:
            return f"for a table {table!r} that {schema} does not know"
    return None

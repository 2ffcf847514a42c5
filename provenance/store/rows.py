"""What an event commits to: the canonical rows of the history tables, read from the database or
rebuilt from the events alone (format `Rows.1`, described in docs/auditor.md).

Each unit of work writes its rows with the id of its event, then the event, whose payload
carries those rows (`"rows"`): so the state (origins, lineage, approvals, deliverables) can be
rebuilt from the event log alone and compared with the tables. A row is a compact JSON list of
its columns in the order of `COLUMNS`, without its own autoincrement id, except where other
rows refer to it by id (tools, asset versions, deliverables). Child tables that can hold
millions of rows (members, deliverable files) are committed to as one SHA-256 an event.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import operator
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, LargeBinary, or_, select

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

ROWS_SCHEMA = "Rows.1"

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
}  # fmt: skip
"""Each history table's canonical row. Every table here but `tools`, `likenesses` and `signals` has a
`created_at` (not in the row) that must be the time of the event that recorded it.

`tools` is the one table whose rows change: each event that registers (`tool.add`) or changes
(`tool.set`) a tool records the tool's whole row as it then is, so its state is the last row
recorded for its id. Its `registered_by` is the row's `event_id`: the registering event, under
which the tool's row is filed."""

DIGESTS: dict[str, tuple[str, ...]] = {
    "members": ("version_id", "position", "frame", "digest", "size"),
    "deliverable_files": (
        "deliverable_id", "position", "path", "digest", "size", "version_id", "frame",
    ),
}  # fmt: skip
"""Child tables committed to by one SHA-256 an event, and the columns of their rows: the frames
of the event's asset versions, the files of its deliverable. The digest is over the compact JSON
list of those rows, ordered by the parent's id and the position."""


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
    """The rows of `statement`, fetched a few thousand at a time."""
    result = connection.execute(statement)
    while rows := result.fetchmany(4096):
        yield from rows


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
                AssetVersion.event_id, AssetVersion.id, Root.path, Asset.pattern, Asset.kind,
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
    }  # fmt: skip


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


def read_rows(
    connection: Connection,
    event_id: int | None = None,
    changed: Mapping[str, Iterable[int]] | None = None,
    skip: Collection[str] = (),
) -> dict[str, dict[int, list[Row]]]:
    """The canonical rows in the tables, per table and the event they name: all of them, or those
    of one event (with the rows it `changed` in place, by table and id), but the tables in
    `skip`."""
    found: dict[str, dict[int, list[Row]]] = {}
    for table, (statement, event_column) in _statements().items():
        if table in skip:
            continue
        if event_id is not None:
            ids = sorted((changed or {}).get(table, ()))
            wanted = event_column == event_id
            if ids:
                wanted = or_(wanted, statement.selected_columns[1].in_(ids))
            statement = statement.where(wanted)
        per_event: dict[int, list[Row]] = {}
        canonical = _canonical(statement)
        for row in _fetch(connection, statement):
            rows = per_event.get(row[0])
            if rows is None:
                rows = per_event[row[0]] = []
            rows.append(canonical(row))
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


class LineDigests:
    """Per event, the SHA-256 of the compact JSON list of a child table's rows, fed in order.

    The list is `json.dumps(rows, separators=(",", ":"), ensure_ascii=False)`, hashed a few
    thousand rows at a time so that memory stays flat on any number of rows.
    """

    def __init__(self) -> None:
        self._hashes: dict[int, Any] = {}
        self._pending: list[Row] = []
        self._pending_event: int | None = None

    def add(self, event_id: int, row: Row) -> None:
        if event_id != self._pending_event or len(self._pending) >= 4096:
            self._flush()
            self._pending_event = event_id
        self._pending.append(row)

    def _flush(self) -> None:
        if not self._pending or self._pending_event is None:
            return
        text = json.dumps(self._pending, separators=(",", ":"), ensure_ascii=False)
        digest = self._hashes.get(self._pending_event)
        if digest is None:
            digest = self._hashes[self._pending_event] = hashlib.sha256(b"[")
        else:
            digest.update(b",")
        digest.update(text[1:-1].encode())
        self._pending = []

    def result(self) -> dict[int, str]:
        self._flush()
        found = {}
        for event, digest in self._hashes.items():
            closed = digest.copy()
            closed.update(b"]")
            found[event] = "sha256:" + closed.hexdigest()
        return found


def committed_rows(
    connection: Connection,
    event_id: int,
    changed: Mapping[str, Iterable[int]] | None = None,
    written: Mapping[str, list[Row]] | None = None,
    lines: Mapping[str, LineDigests] | None = None,
) -> dict[str, Any]:
    """The `rows` document of an event: every row the tables hold under its id, and the rows it
    changed in place.

    `written` holds, for tables the unit's writer alone wrote, their canonical rows in table
    order as the writer made them, and `lines` the digests of child tables it fed as it wrote
    them: neither is read back. (The audit reads the tables, so a writer that made them wrong
    fails its own verify.)
    """
    given = written or {}
    document: dict[str, Any] = {"schema": ROWS_SCHEMA}
    for table, per_event in read_rows(connection, event_id, changed, skip=given).items():
        rows = [row for rows in per_event.values() for row in rows]
        if rows:
            document[table] = rows
    for table, rows in given.items():
        if rows:
            document[table] = rows
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


# ---------------------------------------------------------------------------------------------
# The state rebuilt from the events alone


@dataclass
class RebuiltState:
    """The history tables as the events say they are."""

    rows: dict[str, dict[int, list[Row]]] = field(
        default_factory=lambda: {table: {} for table in COLUMNS}
    )
    """table -> event id -> canonical rows the event recorded."""
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
    """Commitments that are not in the Rows.1 form, described."""


class StateBuilder:
    """Rebuilds the state one event at a time, oldest first (see `rebuild_state`)."""

    def __init__(self, keep_legacy: Iterable[str] = ()) -> None:
        self.state = RebuiltState()
        self._tools: dict[int, Row] = {}
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
            elif table == "tools":
                for row in value:
                    self._tools[row[0]] = tuple(row)
                    state.last_recorded[(table, row[0])] = event_id
            elif table in COLUMNS:
                state.rows[table][event_id] = [tuple(row) for row in value]

    def result(self) -> RebuiltState:
        tools: dict[int, list[Row]] = {}
        for row in self._tools.values():
            tools.setdefault(row[1], []).append(row)
        self.state.rows["tools"] = tools
        return self.state


def rebuild_state(events: Iterable[tuple[int, str, Mapping[str, Any]]]) -> RebuiltState:
    """The state from (id, kind, payload) of every event, oldest first.

    Works on the database's events and on `provenance audit export` output alike.
    """
    builder = StateBuilder()
    for event_id, kind, payload in events:
        builder.add(event_id, kind, payload)
    return builder.result()


def _form_problem(document: object) -> str | None:
    if not isinstance(document, dict) or document.get("schema") != ROWS_SCHEMA:
        return f"in a form this version of provenance does not read (not {ROWS_SCHEMA})"
    for table, value in document.items():
        if table == "schema":
            continue
        if table in DIGESTS:
            if not isinstance(value, str) or not value.startswith("sha256:"):
                return f"with a {table} digest that is not a SHA-256"
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
            return f"for a table {table!r} that Rows.1 does not know"
    return None

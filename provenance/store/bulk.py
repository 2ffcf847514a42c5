"""Bulk statements for the ingest: built and compiled by SQLAlchemy Core, run by the driver on plain rows.

Measured on 100,000 files, SQLAlchemy's per-row parameter and result processing costs more
than the database's own work: an insert of a location takes 10.4 microseconds a row through
`Connection.execute` against 3.8 through `exec_driver_sql`, an IN lookup 5.6 against 3.0. The
statements here are still SQLAlchemy Core constructs, compiled for the connection's dialect;
only the rows skip the per-value processing. So values must be what every driver takes as is
(int, str, bytes, None); anything else (a datetime) goes through `driver_value` once.
"""

from __future__ import annotations

import operator
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Column, Connection, Select, Table, bindparam, func, insert, select

if TYPE_CHECKING:
    from typing_extensions import TypeVarTuple, Unpack

    _Ts = TypeVarTuple("_Ts")

__all__ = ["allocate_ids", "driver_value", "insert_rows", "select_in", "table_of", "update_rows"]

IN_CHUNK = 2048
"""Keys per IN list: far below SQLite's limit of 32766 bound parameters."""


def table_of(model: type[Any]) -> Table:
    """The Table of a mapped class (for the Core statements here)."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


def driver_value(connection: Connection, column: Column[Any], value: object) -> object:
    """`value` as SQLAlchemy would hand it to the driver for `column` (e.g. a datetime for SQLite)."""
    dialect = connection.dialect
    processor = column.type.dialect_impl(dialect).bind_processor(dialect)
    return processor(value) if processor is not None else value


def insert_rows(
    connection: Connection, table: Table, columns: Sequence[str], rows: Sequence[Sequence[object]]
) -> None:
    """INSERT one row per tuple (values in the order of `columns`), in one executemany."""
    if not rows:
        return
    statement = insert(table).values({name: bindparam(name) for name in columns})
    _execute_many(connection, statement, columns, rows)


def update_rows(
    connection: Connection,
    table: Table,
    key: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[object]],
    constants: Mapping[str, object] | None = None,
) -> None:
    """UPDATE the row whose `key` column is each tuple's first value with the values after it."""
    if not rows:
        return
    names = [f"new_{name}" for name in columns]
    statement = (
        table.update()
        .where(table.c[key] == bindparam("row_key"))
        .values({name: bindparam(bind) for name, bind in zip(columns, names, strict=True)})
    )
    if constants:
        statement = statement.values(dict(constants))
    _execute_many(connection, statement, ["row_key", *names], rows)


def _execute_many(
    connection: Connection, statement: Any, names: Sequence[str], rows: Sequence[Sequence[object]]
) -> None:
    compiled = statement.compile(dialect=connection.dialect, for_executemany=True)
    # Values set on the statement itself (`constants` of update_rows) fill the other places.
    fixed = {
        name: bind.effective_value for name, bind in compiled.binds.items() if name not in names
    }
    order = compiled.positiontup
    if order is None:
        named = [fixed | dict(zip(names, row, strict=True)) for row in rows]
        connection.exec_driver_sql(compiled.string, named)
        return
    # The driver takes the values in the statement's order (for an INSERT, the table's).
    given = [*names, *fixed]
    if list(order) == given and not fixed:
        ordered = list(map(tuple, rows))
    else:
        positions = [given.index(name) for name in order]
        extra = tuple(fixed.values())
        if len(positions) == 1:
            ordered = [((*row, *extra)[positions[0]],) for row in rows]
        else:
            pick = operator.itemgetter(*positions)
            ordered = [pick((*row, *extra)) for row in rows]
    connection.exec_driver_sql(compiled.string, ordered)


def select_in(
    connection: Connection,
    statement: Select[Unpack[_Ts]],
    column: Any,
    keys: Sequence[object],
    params: Mapping[str, object] | None = None,
) -> Iterator[tuple[Unpack[_Ts]]]:
    """Run `statement` with `column IN (keys)` added, a chunk of keys at a time.

    Build `statement` once (its other values as named bindparams, given in `params`): it is
    compiled once per dialect and IN-list length, and IN lists are padded to a few lengths by
    repeating their last key, which changes nothing about the rows they select.
    """
    given = dict(params or {})
    for start in range(0, len(keys), IN_CHUNK):
        chunk = list(keys[start : start + IN_CHUNK])
        size = max(IN_MIN, 1 << (len(chunk) - 1).bit_length())
        chunk.extend([chunk[-1]] * (size - len(chunk)))
        sql, before, after = _compiled_in(connection, statement, column, size, given)
        if before is None or after is None:
            named = given | {f"bulk_keys_{i}": key for i, key in enumerate(chunk, 1)}
            rows = connection.exec_driver_sql(sql, named).all()
        else:
            positional = (*(given[n] for n in before), *chunk, *(given[n] for n in after))
            rows = connection.exec_driver_sql(sql, positional).all()
        yield from cast("list[tuple[Unpack[_Ts]]]", rows)


IN_MIN = 16
_compiled: dict[tuple[int, int, int, str], tuple[object, str, list[str] | None, list[str] | None]]
_compiled = {}


def _compiled_in(
    connection: Connection,
    statement: Select[Unpack[_Ts]],
    column: Any,
    size: int,
    params: Mapping[str, object],
) -> tuple[str, list[str] | None, list[str] | None]:
    """The SQL of `statement` with an IN list of `size` keys, and the bound names around them."""
    dialect = connection.dialect
    key = (id(statement), id(column), size, f"{dialect.name}:{dialect.paramstyle}")
    found = _compiled.get(key)
    if found is not None and found[0] is statement:
        return found[1], found[2], found[3]
    keys: Any = bindparam("bulk_keys", value=[None] * size, expanding=True)
    # Rendering the IN list needs values for every parameter; only the SQL text is kept.
    compiled = (
        statement.where(column.in_(keys))
        .params(dict(params))
        .compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    )
    order = compiled.positiontup
    before = after = None
    if order is not None:
        first = order.index("bulk_keys_1")
        before, after = list(order[:first]), list(order[first + size :])
    _compiled[key] = (statement, compiled.string, before, after)
    return compiled.string, before, after


def allocate_ids(connection: Connection, table: Table, count: int) -> list[int]:
    """Primary keys for `count` rows about to be inserted, so that no insert needs RETURNING.

    Only inside a write transaction: SQLite's writer holds the database, so the next ids are
    the ones after the largest; PostgreSQL takes them from the table's sequence.
    """
    if count <= 0:
        return []
    if connection.dialect.name == "postgresql":
        sequence = func.pg_get_serial_sequence(table.name, "id")
        numbers = select(func.nextval(sequence)).select_from(func.generate_series(1, count))
        # Ascending, as on SQLite: rows inserted in this order are in table order, which the
        # digests of an event's rows (store.rows) are taken in.
        return sorted(int(value) for value in connection.execute(numbers).scalars())
    largest = connection.execute(select(table.c.id).order_by(table.c.id.desc()).limit(1)).scalar()
    first = (largest or 0) + 1
    return list(range(first, first + count))

"""Writing the caches: the stat cache (`locations`) and the folder seals, a batch of rows at a time.

On PostgreSQL the roles may not write these tables (a forged stat-cache row would name other
bytes for a file): the library writes them through the ledger's own functions (schema 0010),
one call a batch with the rows as arrays, which refuse a file row whose size is not its
content's and clamp recording times to the server's clock. On SQLite, plain statements (a
SQLite ledger is protected by its file's permissions).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import Connection, delete, insert, text, tuple_

from provenance.store import bulk
from provenance.store.models import FolderSeal, Location
from provenance.store.queries import IN_CHUNK

__all__ = ["drop_seals", "write_locations", "write_seals"]


LOCATION_COLUMNS = (
    "root_id", "path", "kind", "content_id", "link_target", "size", "mtime_ns", "ctime_ns",
    "inode", "device", "recorded_ns",
)  # fmt: skip
"""A stat-cache row as `write_locations` takes it (after the id of the row it replaces)."""

SEAL_COLUMNS = (
    "root_id", "folder", "listing", "recorded_ns", "intent", "file_count", "byte_count", "refs",
    "holes", "copied_as_of",
)  # fmt: skip
"""A seal as `write_seals` takes it."""

_RECORD_LOCATIONS = text(
    "SELECT provenance_record_locations(CAST(:root_id AS integer[]), CAST(:path AS bytea[]), "
    "CAST(:kind AS text[]), CAST(:content_id AS integer[]), CAST(:link_target AS bytea[]), "
    "CAST(:size AS bigint[]), CAST(:mtime_ns AS bigint[]), CAST(:ctime_ns AS bigint[]), "
    "CAST(:inode AS bigint[]), CAST(:device AS bigint[]), CAST(:recorded_ns AS bigint[]))"
)
_WRITE_SEALS = text(
    "SELECT provenance_write_seals(CAST(:root_id AS integer[]), CAST(:folder AS bytea[]), "
    "CAST(:listing AS text[]), CAST(:recorded_ns AS bigint[]), CAST(:intent AS text[]), "
    "CAST(:file_count AS integer[]), CAST(:byte_count AS bigint[]), CAST(:refs AS bytea[]), "
    "CAST(:holes AS text[]), CAST(:copied_as_of AS bigint[]))"
)
_DROP_SEALS = text(
    "SELECT provenance_drop_seals(CAST(:root_id AS integer[]), CAST(:folder AS bytea[]))"
)


def write_locations(connection: Connection, rows: Sequence[tuple[object, ...]]) -> None:
    """Record where bytes were seen: each row is the id of the stat-cache row it replaces (None
    for a path not seen before), then the values of LOCATION_COLUMNS."""
    if not rows:
        return
    if connection.dialect.name == "postgresql":
        # One call: the function inserts or replaces by (root, path).
        connection.execute(_RECORD_LOCATIONS, _as_arrays(LOCATION_COLUMNS, [r[1:] for r in rows]))
        return
    table = bulk.table_of(Location)
    bulk.insert_rows(connection, table, LOCATION_COLUMNS, [r[1:] for r in rows if r[0] is None])
    bulk.update_rows(
        connection,
        table,
        "id",
        LOCATION_COLUMNS[2:],
        [(r[0], *r[3:]) for r in rows if r[0] is not None],
    )


def write_seals(connection: Connection, rows: Sequence[tuple[object, ...]]) -> None:
    """Write seals (the values of SEAL_COLUMNS) of folders whose old seals were dropped."""
    if not rows:
        return
    if connection.dialect.name == "postgresql":
        connection.execute(_WRITE_SEALS, _as_arrays(SEAL_COLUMNS, rows))
        return
    connection.execute(
        insert(FolderSeal), [dict(zip(SEAL_COLUMNS, row, strict=True)) for row in rows]
    )


def drop_seals(connection: Connection, keys: Iterable[tuple[int, bytes]]) -> None:
    """Drop the seals of these (root id, folder under the root) keys."""
    ordered: list[tuple[int, bytes]] = sorted(set(keys))
    for start in range(0, len(ordered), IN_CHUNK):
        chunk = ordered[start : start + IN_CHUNK]
        if connection.dialect.name == "postgresql":
            connection.execute(_DROP_SEALS, _as_arrays(("root_id", "folder"), chunk))
        else:
            connection.execute(
                delete(FolderSeal).where(tuple_(FolderSeal.root_id, FolderSeal.folder).in_(chunk))
            )


def _as_arrays(columns: Sequence[str], rows: Sequence[Sequence[object]]) -> dict[str, list[object]]:
    """Rows as one list a column (PostgreSQL arrays), named by column."""
    return {
        name: list(values) for name, values in zip(columns, zip(*rows, strict=True), strict=True)
    }

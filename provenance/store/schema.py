"""Schema revisions: build the alembic config from the installed package, upgrade, and check versions.

Checking a ledger's revision does not import alembic (with mako and pygments, 0.12 s measured
here before any command could run): the revision is read from the `alembic_version` table
and compared with the revisions named in the package's own revision files. Alembic is
imported only to move a schema (`provenance init`, `provenance db upgrade`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine

from provenance.errors import NotALedger, ProvenanceError, SchemaMismatch
from provenance.store.engine import translate_db_errors

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = [
    "SchemaState",
    "alembic_config",
    "current_revision",
    "downgrade",
    "head_revision",
    "require_current",
    "revisions",
    "schema_state",
    "upgrade",
]


VERSION_TABLE = "alembic_version"


def migrations_folder() -> Path:
    """The revisions inside the installed package (works from a wheel)."""
    return Path(str(resources.files("provenance.migrations")))


def alembic_config(connection: Connection | None = None) -> Config:
    """An alembic Config pointing at the revisions of `migrations_folder()`."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations_folder()))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@dataclass(frozen=True)
class Revisions:
    """The revision graph as the revision files state it: each revision and what it follows."""

    follows: dict[str, tuple[str, ...]]

    @property
    def heads(self) -> list[str]:
        followed = {parent for parents in self.follows.values() for parent in parents}
        return sorted(set(self.follows) - followed)


# `revision = "0009"` and `down_revision = "0008"` (or None, or a tuple for a merge), with or
# without a type annotation, as alembic's template writes them.
_ASSIGNMENT = re.compile(
    r"^(revision|down_revision)\s*(?::[^=\n]*)?=\s*(.+?)\s*(?:#.*)?$", re.MULTILINE
)
_QUOTED = re.compile(r"""["']([^"']+)["']""")


def revisions() -> Revisions:
    """The revisions of `migrations_folder()`, read from the files without running them."""
    return _read_revisions(migrations_folder())


@lru_cache(maxsize=4)
def _read_revisions(folder: Path) -> Revisions:
    follows: dict[str, tuple[str, ...]] = {}
    for path in sorted((folder / "versions").glob("*.py")):
        if path.name.startswith(("__init__", ".#")):
            continue
        found = dict(_ASSIGNMENT.findall(path.read_text(encoding="utf-8")))
        names = _QUOTED.findall(found.get("revision", ""))
        if len(names) == 1:
            follows[names[0]] = tuple(_QUOTED.findall(found.get("down_revision", "None")))
    return Revisions(follows)


def head_revision() -> str:
    heads = revisions().heads
    if len(heads) != 1:
        raise RuntimeError(f"the migrations have {len(heads)} heads; merge them")
    return heads[0]


def current_revision(connection: Connection) -> str | None:
    """The ledger's revision, as alembic records it; None for a database without one."""
    if not connection.dialect.has_table(connection, VERSION_TABLE):
        return None
    found = connection.exec_driver_sql(f"SELECT version_num FROM {VERSION_TABLE}").scalars().all()
    if len(found) > 1:
        raise ProvenanceError(
            f"The ledger records {len(found)} schema revisions at once ({', '.join(found)}); "
            "it was changed by hand. Restore it from a backup."
        )
    return str(found[0]) if found else None


@dataclass(frozen=True)
class SchemaState:
    current: str | None
    head: str

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head

    @property
    def newer(self) -> bool:
        """Written by a newer version of provenance than this one."""
        return self.current is not None and self.current not in _known_revisions()


def schema_state(engine: Engine) -> SchemaState:
    with translate_db_errors(engine), engine.connect() as connection:
        return SchemaState(current_revision(connection), head_revision())


def upgrade(engine: Engine, revision: str = "head") -> SchemaState:
    """Bring the ledger's schema to `revision` in one transaction."""
    from alembic import command

    return _migrate(engine, command.upgrade, revision)


def downgrade(engine: Engine, revision: str) -> SchemaState:
    from alembic import command

    return _migrate(engine, command.downgrade, revision)


def _migrate(engine: Engine, step: Callable[[Config, str], None], revision: str) -> SchemaState:
    from alembic.util import CommandError

    with _migration_transaction(engine) as connection:
        current = current_revision(connection)
        if current is not None and current not in _known_revisions():
            raise _written_by_newer_code(engine.url.render_as_string(hide_password=True), current)
        try:
            step(alembic_config(connection), revision)
        except CommandError as exc:
            raise ProvenanceError(
                f"Cannot move the ledger's schema to {revision!r}: {exc}. "
                "`provenance db current` shows where it is."
            ) from None
    return schema_state(engine)


@contextmanager
def _migration_transaction(engine: Engine) -> Iterator[Connection]:
    """One write transaction for revisions; on SQLite, foreign keys are checked at its end instead."""
    with (
        translate_db_errors(engine),
        engine.execution_options(ledger_write=True).connect() as connection,
    ):
        sqlite = connection.dialect.name == "sqlite"
        # Batch mode rebuilds a SQLite table by copy, drop and rename, and with foreign keys on,
        # dropping a table that other rows reference fails. SQLite ignores this pragma inside a
        # transaction, so it is switched before BEGIN and the keys are checked before COMMIT.
        if sqlite:
            _sqlite_foreign_keys(connection, on=False)
        try:
            with connection.begin():
                yield connection
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise ProvenanceError(
                            f"The schema change would leave {len(broken)} broken references "
                            f"(first: {tuple(broken[0])}), so nothing was changed. Report this "
                            "with a copy of the ledger."
                        )
        finally:
            if sqlite:
                _sqlite_foreign_keys(connection, on=True)


def _sqlite_foreign_keys(connection: Connection, on: bool) -> None:
    # Straight to the driver: through SQLAlchemy the statement would open a transaction first.
    cursor = connection.connection.cursor()
    try:
        cursor.execute(f"PRAGMA foreign_keys = {'ON' if on else 'OFF'}")
    finally:
        cursor.close()


def require_current(engine: Engine, display_url: str) -> None:
    """Refuse a ledger whose schema is not the one this code writes, naming the fix."""
    state = schema_state(engine)
    if state.current is None:
        raise NotALedger(
            f"{display_url} is not a provenance ledger (it has no schema revision). Create one "
            "with `provenance init`, or point --db at an existing ledger."
        )
    if state.up_to_date:
        return
    if state.current in _known_revisions():
        raise SchemaMismatch(
            f"The ledger at {display_url} is at schema {state.current}, older than this version "
            f"of provenance ({state.head}). Back it up, then run `provenance db upgrade`."
        )
    raise _written_by_newer_code(display_url, state.current)


def _known_revisions() -> set[str]:
    return set(revisions().follows)


def _written_by_newer_code(display_url: str, current: str) -> SchemaMismatch:
    return SchemaMismatch(
        f"The ledger at {display_url} was written by a newer version of provenance (schema "
        f"{current}). Upgrade provenance (pip install -U provenance) to use it."
    )

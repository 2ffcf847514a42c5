"""Schema revisions: build the alembic config from the installed package, upgrade, and check versions."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine

from provenance.errors import NotALedger, ProvenanceError, SchemaMismatch
from provenance.store.engine import translate_db_errors


def alembic_config(connection: Connection | None = None) -> Config:
    """An alembic Config pointing at the revisions inside the installed package (works from a wheel)."""
    config = Config()
    location = resources.files("provenance.migrations")
    config.set_main_option("script_location", str(location))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@lru_cache(maxsize=1)
def head_revision() -> str:
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"the migrations have {len(heads)} heads; merge them")
    return str(heads[0])


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


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
    return _migrate(engine, command.upgrade, revision)


def downgrade(engine: Engine, revision: str) -> SchemaState:
    return _migrate(engine, command.downgrade, revision)


def _migrate(engine: Engine, step: Callable[[Config, str], None], revision: str) -> SchemaState:
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
    return {rev.revision for rev in ScriptDirectory.from_config(alembic_config()).walk_revisions()}


def _written_by_newer_code(display_url: str, current: str) -> SchemaMismatch:
    return SchemaMismatch(
        f"The ledger at {display_url} was written by a newer version of provenance (schema "
        f"{current}). Upgrade provenance (pip install -U provenance) to use it."
    )

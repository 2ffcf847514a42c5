"""Schema revisions: build the alembic config from the installed package, upgrade, and check versions."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

from provenance.errors import NotALedger, SchemaMismatch
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


def schema_state(engine: Engine) -> SchemaState:
    with translate_db_errors(), engine.connect() as connection:
        return SchemaState(current_revision(connection), head_revision())


def upgrade(engine: Engine, revision: str = "head") -> SchemaState:
    """Bring the ledger's schema to `revision` in one transaction."""
    with translate_db_errors(), engine.execution_options(ledger_write=True).begin() as connection:
        command.upgrade(alembic_config(connection), revision)
    return schema_state(engine)


def downgrade(engine: Engine, revision: str) -> SchemaState:
    with translate_db_errors(), engine.execution_options(ledger_write=True).begin() as connection:
        command.downgrade(alembic_config(connection), revision)
    return schema_state(engine)


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
    known = {rev.revision for rev in ScriptDirectory.from_config(alembic_config()).walk_revisions()}
    if state.current in known:
        raise SchemaMismatch(
            f"The ledger at {display_url} is at schema {state.current}, older than this version "
            f"of provenance ({state.head}). Back it up, then run `provenance db upgrade`."
        )
    raise SchemaMismatch(
        f"The ledger at {display_url} was written by a newer version of provenance (schema "
        f"{state.current}). Upgrade provenance (pip install -U provenance) to use it."
    )

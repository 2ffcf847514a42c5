"""Opening and creating a ledger, and the schema maintenance of ledgers no `Ledger` opens."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from provenance.errors import LedgerNotFound, LedgerReadOnly, NotALedger, ProvenanceError
from provenance.paths import PathArg, as_path, as_target
from provenance.store import schema
from provenance.store.engine import (
    LEDGER_DIR,
    LEDGER_FILE,
    LedgerLocation,
    create_ledger_engine,
    locate_ledger,
    parse_ledger_url,
    table_names,
    translate_db_errors,
    write_session,
)
from provenance.store.events import unit_of_work_event
from provenance.store.models import Event

if TYPE_CHECKING:
    from provenance.store.roles import RolesReport

__all__ = [
    "create_db_roles",
    "created_engine",
    "current_engine",
    "schema_status",
    "upgrade_ledger",
]


def current_engine(db: PathArg | None, cwd: PathArg | None) -> tuple[LedgerLocation, Engine]:
    """`Ledger.open`'s ledger, refused unless its schema is current."""
    location, engine = _existing_engine(db, cwd)
    try:
        schema.require_current(engine, location.display_url)
    except BaseException:
        engine.dispose()
        raise
    return location, engine


def created_engine(db: PathArg | None, cwd: PathArg | None) -> tuple[LedgerLocation, Engine]:
    """`Ledger.create`'s ledger: made (tables and its first event) unless one is there."""
    folder = as_path(cwd, "cwd") if cwd is not None else Path.cwd()
    if db is None:
        db = (
            os.environ.get("PROVENANCE_DB")
            or os.environ.get("DATABASE_URL")
            or str(folder / LEDGER_DIR / LEDGER_FILE)
        )
    location = parse_ledger_url(as_target(db, "db"))
    path = location.sqlite_path
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LedgerReadOnly(
                f"Cannot create {path.parent} ({exc.strerror}). Run `provenance init` in a "
                "folder you can write to, or pass --db with a writable path."
            ) from None
    engine = create_ledger_engine(location)
    try:
        state = schema.schema_state(engine)
        if state.current is not None:
            # An existing ledger is opened as it is: upgrading it is `provenance db upgrade`'s
            # job, after a backup, never a side effect of `init`.
            schema.require_current(engine, location.display_url)
            return location, engine
        with write_session(engine) as session:
            if _has_foreign_tables(session):
                raise NotALedger(
                    f"{location.display_url} already holds tables that are not a provenance "
                    "ledger. Choose an empty database or a new file."
                )
        schema.upgrade(engine)
        with write_session(engine) as session:
            if session.execute(select(func.count()).select_from(Event)).scalar() == 0:
                with unit_of_work_event(session, "init", {"schema": schema.head_revision()}):
                    pass
        return location, engine
    except BaseException:
        engine.dispose()
        raise


def _has_foreign_tables(session: Session) -> bool:
    return bool(table_names(session.connection()) - {"alembic_version"})


def _existing_engine(db: PathArg | None, cwd: PathArg | None) -> tuple[LedgerLocation, Engine]:
    """A ledger's location and engine, whatever its schema (a SQLite ledger's file must exist)."""
    location = locate_ledger(
        as_target(db, "db") if db is not None else None,
        as_path(cwd, "cwd") if cwd is not None else None,
    )
    path = location.sqlite_path
    if path is not None and not path.exists():
        raise LedgerNotFound(f"No ledger at {path}. Create it with `provenance --db {path} init`.")
    return location, create_ledger_engine(location)


# Schema maintenance: work on ledgers whose schema is not current, so no Ledger is opened.


def schema_status(
    db: PathArg | None = None, cwd: PathArg | None = None
) -> tuple[str, schema.SchemaState]:
    """(display URL, schema state) of a ledger, current or not."""
    location, engine = _existing_engine(db, cwd)
    try:
        return location.display_url, schema.schema_state(engine)
    finally:
        engine.dispose()


def upgrade_ledger(
    db: PathArg | None = None, cwd: PathArg | None = None, revision: str = "head"
) -> tuple[str, schema.SchemaState, schema.SchemaState]:
    """Upgrade a ledger's schema in one transaction: (display URL, before, after)."""
    location, engine = _existing_engine(db, cwd)
    try:
        before = schema.schema_state(engine)
        if before.current is None:
            raise NotALedger(
                f"{location.display_url} is not a provenance ledger. Create one with "
                "`provenance init`."
            )
        return location.display_url, before, schema.upgrade(engine, revision)
    finally:
        engine.dispose()


def create_db_roles(
    db: PathArg | None = None, cwd: PathArg | None = None
) -> tuple[str, RolesReport]:
    """Create the artist, TD and auditor group roles on a PostgreSQL ledger: (display URL, report)."""
    from provenance.store.roles import create_roles

    location, engine = _existing_engine(db, cwd)
    try:
        schema.require_current(engine, location.display_url)
        with translate_db_errors(engine):
            return location.display_url, create_roles(engine)
    except LedgerReadOnly as exc:
        raise ProvenanceError(
            f"Cannot create the roles ({str(exc).split('(', 1)[-1].split(')')[0]}). Run "
            "`provenance db roles` as the ledger's owner with the CREATEROLE privilege (or as a "
            "superuser)."
        ) from None
    finally:
        engine.dispose()

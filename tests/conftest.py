"""Fixtures: every ledger test runs on SQLite and on a real PostgreSQL server started for the run."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from provenance.cli import cli
from sqlalchemy import func, select

from provenance import Ledger
from provenance.store.engine import read_session

from .pgserver import PostgresServer, start_server

_REQUIRED = os.environ.get("PROVENANCE_REQUIRE_POSTGRES") == "1" or os.environ.get("CI") == "true"
_pg_problem: str | None = None
_database_names = itertools.count(1)


@pytest.fixture(scope="session")
def postgres() -> Iterator[str]:
    """The admin URL of a PostgreSQL server for this run (started here unless one is given)."""
    global _pg_problem
    given = os.environ.get("PROVENANCE_TEST_PG_URL")
    if given:
        yield given
        return
    try:
        server: PostgresServer = start_server()
    except RuntimeError as exc:
        _pg_problem = str(exc)
        if _REQUIRED:
            pytest.fail(f"PostgreSQL is required for this run but could not start: {exc}")
        pytest.skip(f"PostgreSQL half not run: {exc}")
    try:
        yield server.url()
    finally:
        server.stop()


def _fresh_pg_database(admin_url: str) -> str:
    import sqlalchemy as sa

    name = f"ledger_{os.getpid()}_{next(_database_names)}"
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine.dispose()
    url = sa.engine.make_url(admin_url).set(database=name)
    return url.render_as_string(hide_password=False)


@pytest.fixture(autouse=True)
def private_config(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Checkpoint keys and data go to a folder of the test's own, never the user's ~/.config."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """The show folder the tests make files in (and run commands from)."""
    folder = tmp_path / "show"
    folder.mkdir()
    return folder


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, workspace: Path) -> str:
    """A URL for an empty ledger on each backend."""
    if request.param == "sqlite":
        return str(workspace / ".provenance" / "ledger.db")
    admin = request.getfixturevalue("postgres")
    return _fresh_pg_database(admin)


@pytest.fixture
def backend(db_url: str) -> str:
    return "postgresql" if db_url.startswith("postgresql") else "sqlite"


@pytest.fixture
def ledger(db_url: str, workspace: Path) -> Iterator[Ledger]:
    created = Ledger.create(db_url, cwd=workspace)
    try:
        yield created
    finally:
        created.close()


def row_counts(ledger: Ledger, *models: type) -> dict[str, int]:
    """How many rows each model's table holds, by table name."""
    with read_session(ledger.engine) as session:
        return {
            model.__tablename__: session.execute(
                select(func.count()).select_from(model)
            ).scalar_one()
            for model in models
        }


def make_runner() -> CliRunner:
    """A runner that keeps stderr apart (click 8.1 needs asking; 8.2+ always does)."""
    try:
        return CliRunner(mix_stderr=False)  # type: ignore[call-arg]
    except TypeError:
        return CliRunner()


class Cli:
    """Runs `provenance` in-process from the workspace against the test's ledger."""

    def __init__(self, db_url: str, workspace: Path) -> None:
        self.db_url = db_url
        self.workspace = workspace

    def __call__(self, *args: str, expect: int | None = 0) -> Result:
        runner = make_runner()
        previous = Path.cwd()
        os.chdir(self.workspace)
        try:
            result = runner.invoke(cli, ["--db", self.db_url, *args], catch_exceptions=False)
        finally:
            os.chdir(previous)
        if expect is not None:
            assert result.exit_code == expect, (
                f"exit {result.exit_code} != {expect}\nstdout:\n{result.stdout}\n"
                f"stderr:\n{result.stderr}"
            )
        return result


@pytest.fixture
def run(ledger: Ledger, db_url: str, workspace: Path) -> Cli:
    return Cli(db_url, workspace)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _pg_problem and not _REQUIRED:
        terminalreporter.write_line(
            f"NOTE: the PostgreSQL half of the suite was NOT run: {_pg_problem}",
            yellow=True,
            bold=True,
        )

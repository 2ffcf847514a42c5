"""Output quoted in the docs is the output of the code: blocks marked `<!-- run: NAME -->` are
run here, command by command, as a person would type them, against a real PostgreSQL server,
and what each prints must be what the page shows (the server's address, the only difference,
is written as the page writes it).

A block quoted from a run on another machine (a studio's database host, a backup restore) is
not marked: what can run here is.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from provenance import Ledger
from provenance.ledger import create_db_roles
from provenance.store import schema

from ..builders import write_sequence
from . import blocks

ROOT = Path(__file__).resolve().parent.parent.parent
ADMIN_PAGE = ROOT / "docs" / "studio-admin.md"
PROVENANCE = Path(sys.executable).with_name("provenance")


@dataclass
class Step:
    command: str
    shown: list[str]
    """The lines the page shows under the command."""


def marked_blocks(page: Path) -> dict[str, list[Step]]:
    """The page's `text` blocks marked to be run, by name: each command with the lines shown."""
    return {
        name: [Step(command, shown) for command, shown in blocks.split_steps(name, body)]
        for name, (kind, body) in blocks.marked(page).items()
        if kind == "text"
    }


@dataclass
class Server:
    """The page's database host, as this run's PostgreSQL server: each URL the page writes is
    run against a database of its own here, and printed back as the page writes it."""

    admin_url: str
    names: dict[str, str]
    """The page's database name -> this run's."""

    def here(self, page_url: str) -> str:
        url = sa.engine.make_url(page_url)
        admin = sa.engine.make_url(self.admin_url)
        assert url.database is not None
        return sa.engine.URL.create(
            url.drivername,
            username=url.username,
            password=url.password,
            database=self.names[url.database],
            query=admin.query,
        ).render_as_string(hide_password=False)

    def as_page_writes(self, text: str, page_urls: list[str]) -> str:
        for page_url in page_urls:
            shown = sa.engine.make_url(page_url).render_as_string(hide_password=True)
            actual = sa.engine.make_url(self.here(page_url)).render_as_string(hide_password=True)
            text = text.replace(actual, shown)
        return text


PAGE_HOST = "postgresql+psycopg://provenance_owner@db.studio.lan"


@pytest.fixture
def studio(postgres: str, tmp_path: Path) -> Iterator[Server]:
    """The owner role of the admin page and two empty databases it owns (`provenance`, and
    `provenance_old` for the upgrade); the three group roles exist (as after a first `db roles`)."""
    engine = sa.create_engine(postgres, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    suffix = f"{os.getpid()}_{tmp_path.name[-12:]}".replace("-", "_").lower()
    names = {name: f"{name}_{suffix}" for name in ("provenance", "provenance_old")}
    with engine.connect() as connection:
        exists = connection.exec_driver_sql(
            "SELECT 1 FROM pg_roles WHERE rolname = 'provenance_owner'"
        ).scalar()
        if not exists:
            connection.exec_driver_sql("CREATE ROLE provenance_owner LOGIN CREATEROLE")
        for name in names.values():
            connection.exec_driver_sql(f'CREATE DATABASE "{name}" OWNER provenance_owner')
    server = Server(postgres, names)
    try:
        yield server
    finally:
        with engine.connect() as connection:
            for name in names.values():
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        engine.dispose()


def run_block(
    steps: list[Step],
    server: Server,
    cwd: Path,
    env: dict[str, str],
    skip: frozenset[str] = frozenset(),
) -> None:
    """Run each `provenance` command of a block and compare what it prints with the page."""
    page_urls = sorted(
        {
            m
            for step in steps
            for m in re.findall(r"postgresql\+psycopg://\S+?(?='|\s|$)", step.command)
        }
        | {f"{PAGE_HOST}/{name}" for name in server.names},
        key=len,
        reverse=True,
    )
    for step in steps:
        if step.command in skip:
            continue
        # (A comment after the command, as a shell reads it: `#` after a space. A `#` inside a
        # word, as in name.####.exr, is the word's.)
        words = shlex.split(blocks.shell_words(step.command))
        assert words[0] == "provenance", f"only provenance commands are run: {step.command!r}"
        args = [server.here(w) if w.startswith("postgresql+psycopg://") else w for w in words[1:]]
        done = subprocess.run(
            [str(PROVENANCE), *args],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=120,
        )
        printed = server.as_page_writes(done.stdout, page_urls).splitlines()
        assert printed == step.shown, (
            f"`{step.command}` printed (exit {done.returncode}):\n{done.stdout}\n"
            f"the page shows:\n" + "\n".join(step.shown)
        )
        expect_error = bool(step.shown) and step.shown[0].startswith("Error:")
        assert (done.returncode == 1) if expect_error else (done.returncode == 0), done.stdout


def environment(tmp_path: Path, db: str | None = None) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PROVENANCE_DB", "DATABASE_URL", "PGDATABASE", "PGUSER", "PGHOST")
    }
    env.update(HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "config"), COLUMNS="200")
    if db is not None:
        env["PROVENANCE_DB"] = db
    return env


def test_the_admin_page_marks_the_blocks_this_file_runs() -> None:
    assert sorted(marked_blocks(ADMIN_PAGE)) == [
        "admin-create",
        "admin-older-ledger",
        "admin-password-hidden",
        "admin-role-refused",
        "admin-upgrade",
    ]


FENCE = re.compile(r"^( *)```text\n(.*?)^\1```", re.S | re.M)
MARKER = re.compile(r"<!-- (run: [\w-]+|not run: [^>]+) -->\n$")


@pytest.mark.parametrize("page", ["studio-admin.md", "delivery.md", "auditor.md"])
def test_every_command_block_is_run_or_says_why_not(page: str) -> None:
    """A block of output under `$ provenance ...` is either run here or marked with the reason
    it cannot be (another machine's mounts, a backup host): nothing drifts unseen."""
    text = (ROOT / "docs" / page).read_text(encoding="utf-8")
    unmarked = []
    for fence in FENCE.finditer(text):
        if not re.search(r"^ *\$ provenance ", fence.group(2), re.M):
            continue
        before = text[: fence.start()].rsplit("\n", 2)
        if not MARKER.search(before[-2].strip() + "\n"):
            unmarked.append(fence.group(2).splitlines()[0])
    assert unmarked == [], f"{page}: blocks neither run nor marked `<!-- not run: why -->`"


def test_creating_a_studio_ledger_prints_what_the_admin_page_shows(
    studio: Server, tmp_path: Path
) -> None:
    steps = marked_blocks(ADMIN_PAGE)["admin-create"]
    # (`cat ~/.pgpass` shows the file the page asks for; the run here needs no password.)
    run_block(steps, studio, tmp_path, environment(tmp_path), skip=frozenset({"cat ~/.pgpass"}))


def test_the_password_is_hidden_as_the_admin_page_shows(studio: Server, tmp_path: Path) -> None:
    Ledger.create(studio.here(f"{PAGE_HOST}/provenance"), cwd=tmp_path).close()
    steps = marked_blocks(ADMIN_PAGE)["admin-password-hidden"]
    run_block(steps, studio, tmp_path, environment(tmp_path))


def test_a_role_is_refused_by_the_database_as_the_admin_page_shows(
    studio: Server, tmp_path: Path
) -> None:
    url = studio.here(f"{PAGE_HOST}/provenance")
    write_sequence(tmp_path / "comp", "sh010_comp_v001", range(1001, 1003), ext="png")
    with Ledger.create(url, cwd=tmp_path) as ledger:
        ledger.ingest(["comp"], origin="human")
    create_db_roles(url)
    engine = sa.create_engine(studio.admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        if not connection.exec_driver_sql("SELECT 1 FROM pg_roles WHERE rolname = 'alice'").first():
            connection.exec_driver_sql("CREATE ROLE alice LOGIN IN ROLE provenance_artist")
    engine.dispose()
    as_alice = sa.engine.make_url(url).set(username="alice").render_as_string(hide_password=False)
    steps = marked_blocks(ADMIN_PAGE)["admin-role-refused"]
    run_block(steps, studio, tmp_path, environment(tmp_path, db=as_alice))


def test_an_older_ledger_is_refused_then_upgraded_as_the_admin_page_shows(
    studio: Server, tmp_path: Path
) -> None:
    # The older ledger is one revision behind the code: the page shows the latest upgrade,
    # so a new revision makes this test fail until the page says what it now prints.
    old = studio.here(f"{PAGE_HOST}/provenance_old")
    write_sequence(tmp_path / "plates", "sh010_plate", range(1001, 1003), ext="png")
    with Ledger.create(old, cwd=tmp_path) as ledger:
        ledger.ingest(["plates"], origin="capture")
    create_db_roles(old)  # the three groups exist already, as after a first `db roles`
    previous = f"{int(schema.head_revision()) - 1:04d}"  # (revisions are numbered in order)
    with Ledger.open(old, cwd=tmp_path) as ledger:
        assert schema.downgrade(ledger.engine, previous).current == previous
    env = environment(tmp_path, db=old)
    blocks = marked_blocks(ADMIN_PAGE)
    run_block(blocks["admin-older-ledger"], studio, tmp_path, env)
    run_block(blocks["admin-upgrade"], studio, tmp_path, env)

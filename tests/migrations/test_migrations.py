"""Schema revisions on SQLite and PostgreSQL: one head, down and up again with data, models match.

Also the refusals around them (a ledger older or newer than the code, a ledger downgraded to
nothing) and the SQLite connection settings the ledger's concurrency relies on.
"""

from __future__ import annotations

import gc
import os
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from importlib import resources
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, select, text
from sqlalchemy.exc import DatabaseError

from provenance import Ledger, NotALedger, Origin, ProvenanceError, SchemaMismatch
from provenance.ledger import upgrade_ledger
from provenance.store import schema
from provenance.store.engine import (
    BUSY_TIMEOUT_MS,
    create_ledger_engine,
    parse_ledger_url,
    read_session,
    table_names,
    write_session,
)
from provenance.store.models import Base, Event

from ..builders import write_image, write_sequence
from ..conftest import Cli


@pytest.fixture(autouse=True)
def collect_leaked_connections() -> Iterator[None]:
    # An unclosed connection is only noticed when it is garbage-collected: collect now, so that
    # its ResourceWarning fails the test that leaked it rather than whichever test runs next.
    yield
    gc.collect()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on an empty database, configured as the ledger configures its own."""
    location = parse_ledger_url(db_url)
    if location.sqlite_path is not None:
        location.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    created = create_ledger_engine(location)
    try:
        yield created
    finally:
        created.dispose()


@pytest.fixture
def sqlite_ledger(workspace: Path) -> Iterator[Ledger]:
    created = Ledger.create(str(workspace / ".provenance" / "ledger.db"), cwd=workspace)
    try:
        yield created
    finally:
        created.close()


def script_directory() -> ScriptDirectory:
    return ScriptDirectory.from_config(schema.alembic_config())


def tables(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        return table_names(connection)


def make_show(workspace: Path) -> None:
    write_sequence(workspace / "plates", "sh010_plate", range(1001, 1004), ext="png", seed="plate")
    write_image(workspace / "elements" / "sky_gen.png", seed="sky")


def record_show(ledger: Ledger) -> None:
    """Record the show of `make_show`: a generator, the plates, its sky, and the sky's lineage."""
    ledger.add_tool("Runway Gen-4", vendor="Runway", generative=True)
    ledger.ingest(["plates"], origin="capture", by="alice")
    ledger.ingest(["elements/sky_gen.png"], origin="ai", tool="Runway Gen-4", by="bob")
    ledger.link("elements/sky_gen.png", contains=["plates/sh010_plate.####.png"])


# -- the revision graph -------------------------------------------------------------------------


def test_revisions_form_one_line_from_base_to_a_single_head() -> None:
    script = script_directory()
    assert script.get_heads() == [schema.head_revision()]
    assert len(script.get_bases()) == 1
    for revision in script.walk_revisions():
        assert callable(getattr(revision.module, "downgrade", None)), revision.revision


def test_the_revisions_read_without_alembic_are_alembics() -> None:
    # Opening a ledger checks its revision against the revision files read as text (alembic,
    # mako and pygments are not imported for it): that reading must be alembic's own.
    script = script_directory()
    assert schema.revisions().follows == {
        revision.revision: tuple(revision._normalized_down_revisions)
        for revision in script.walk_revisions()
    }
    assert schema.revisions().heads == list(script.get_heads())


def test_the_revision_graph_reads_merges_annotations_and_comments(tmp_path: Path) -> None:
    versions = tmp_path / "versions"
    versions.mkdir()
    (versions / "__init__.py").write_text('revision = "not_a_revision"\n')
    (versions / "a.py").write_text('revision = "a"\ndown_revision = None\n')
    (versions / "b.py").write_text("revision: str = 'b'  # the second\ndown_revision = 'a'\n")
    (versions / "c.py").write_text('revision = "c"\ndown_revision: str | None = "a"\n')
    (versions / "d.py").write_text('revision = "d"\ndown_revision = ("b", "c")\n')
    (versions / "notes.txt").write_text('revision = "e"\n')
    graph = schema._read_revisions(tmp_path)
    assert graph.follows == {"a": (), "b": ("a",), "c": ("a",), "d": ("b", "c")}
    assert graph.heads == ["d"]


def test_the_ledgers_revision_is_read_as_alembic_reads_it(engine: Engine) -> None:
    with engine.connect() as connection:
        assert schema.current_revision(connection) is None
    schema.upgrade(engine, "0002")
    with engine.connect() as connection:
        assert schema.current_revision(connection) == "0002"
        assert MigrationContext.configure(connection).get_current_revision() == "0002"


def test_every_revision_upgrades_downgrades_and_upgrades_again(engine: Engine) -> None:
    base_to_head = list(reversed(list(script_directory().walk_revisions())))
    for revision in base_to_head:
        assert schema.upgrade(engine, revision.revision).current == revision.revision
        schema.downgrade(engine, "-1")
        assert schema.upgrade(engine, revision.revision).current == revision.revision
    assert schema.schema_state(engine).up_to_date


def test_upgrade_from_empty_creates_every_model_table(engine: Engine) -> None:
    state = schema.upgrade(engine)
    assert state.current == state.head == schema.head_revision()
    assert tables(engine) == set(Base.metadata.tables) | {"alembic_version"}


def test_models_match_the_migrated_schema(engine: Engine) -> None:
    # What `alembic check` does: autogenerate against the migrated database finds nothing to do.
    schema.upgrade(engine)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_downgrade_to_base_and_upgrade_again_with_data(db_url: str, workspace: Path) -> None:
    make_show(workspace)
    with Ledger.create(db_url, cwd=workspace) as ledger:
        record_show(ledger)

        state = schema.downgrade(ledger.engine, "base")
        assert state.current is None
        assert tables(ledger.engine) == {"alembic_version"}

        state = schema.upgrade(ledger.engine)
        assert state.up_to_date
        assert tables(ledger.engine) == set(Base.metadata.tables) | {"alembic_version"}

    with Ledger.open(db_url, cwd=workspace) as ledger:
        report = ledger.ingest(["plates"], origin="capture", by="alice")
        assert report.ok
        assert report.assets_new == 1
        card = ledger.show("plates/sh010_plate.####.png")
        assert card.versions == 1
        assert card.frames == [1001, 1002, 1003]
        assert card.origin is Origin.DIGITAL_CAPTURE
        assert ledger.tools() == []


def test_the_row_commitments_revision_keeps_data_guards_and_history(
    db_url: str, workspace: Path
) -> None:
    # Down and up again: SQLite rebuilds the tables whose references to events become
    # deferrable, so their rows, their append-only guards and the audit must all survive.
    make_show(workspace)
    with Ledger.create(db_url, cwd=workspace) as ledger:
        record_show(ledger)
        before = ledger.audit_verify()
        assert before.ok
        # 0006 is the revision before the row commitments (0007), whatever comes after them.
        assert schema.downgrade(ledger.engine, "0006").current == "0006"
        assert schema.upgrade(ledger.engine).current == schema.head_revision()
        after = ledger.audit_verify()
        assert (after.ok, after.size, after.root) == (True, before.size, before.root)
        with (
            pytest.raises(DatabaseError, match="append-only"),
            ledger.engine.begin() as connection,
        ):
            connection.execute(text("UPDATE claims SET origin = 'digitalCreation'"))
        ledger.tag("plates/sh010_plate.####.png", "capture", by="carol")
        assert ledger.audit_verify().ok


def test_the_perceptual_regions_revision_keeps_old_prints_as_dct64_1(
    db_url: str, workspace: Path
) -> None:
    # A ledger whose images were printed before regions: down to 0008 keeps one whole-frame
    # print per content; up again, those are algorithm dct64.1, region whole, no detail print.
    from PIL import Image

    from provenance.detect.perceptual import ALGORITHM

    folder = workspace / "elements"
    folder.mkdir(parents=True)
    for index in range(2):
        pixels = bytes((x * 7 + y * (3 + index) * 5) % 256 for y in range(96) for x in range(128))
        Image.frombytes("L", (128, 96), pixels).save(folder / ("sky.png", "matte.png")[index])
    with Ledger.create(db_url, cwd=workspace) as ledger:
        ledger.ingest(["elements"], origin="human")
        query = text("SELECT content_id, algorithm, region FROM perceptual_prints")
        with ledger.engine.connect() as connection:
            current = {tuple(row) for row in connection.execute(query)}
        contents = {content_id for content_id, _, _ in current}
        assert len(contents) == 2 and {a for _, a, _ in current} == {ALGORITHM}
        assert len(current) > 2 * 10
        assert schema.downgrade(ledger.engine, "0008").current == "0008"
        with ledger.engine.connect() as connection:
            kept = sorted(connection.execute(text("SELECT content_id FROM perceptual_prints")))
        assert [row[0] for row in kept] == sorted(contents)
        assert schema.upgrade(ledger.engine).current == schema.head_revision()
        with ledger.engine.connect() as connection:
            upgraded = {
                tuple(row)
                for row in connection.execute(
                    text("SELECT content_id, algorithm, region, detail FROM perceptual_prints")
                )
            }
        assert upgraded == {(content_id, "dct64.1", "whole", None) for content_id in contents}


# -- refusing a ledger the code does not match --------------------------------------------------


def test_ledger_written_by_newer_code_is_refused(
    ledger: Ledger, run: Cli, db_url: str, workspace: Path
) -> None:
    with ledger.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))

    with pytest.raises(SchemaMismatch, match="newer version of provenance") as caught:
        Ledger.open(db_url, cwd=workspace)
    assert "pip install -U provenance" in str(caught.value)

    result = run("show", "anything.png", expect=1)
    assert "newer version of provenance" in result.stderr
    result = run("db", "current")
    assert "9999_from_the_future" in result.stdout
    for command in (["db", "upgrade"], ["init"]):
        result = run(*command, expect=1)
        assert "newer version of provenance" in result.stderr, command
        assert "Traceback" not in result.output
    assert schema.schema_state(ledger.engine).current == "9999_from_the_future"


# A revision that rebuilds `tools`: SQLite's batch mode rebuilds the table (copy, drop, rename)
# for most changes, and `tools` is referenced by claims, so it is the kind of revision most
# likely to break on a ledger with data.
WIDEN_TOOL_VENDOR = """
def upgrade() -> None:
    with op.batch_alter_table("tools") as batch_op:
        batch_op.add_column(sa.Column("test_note", sa.Text(), nullable=True))
        batch_op.alter_column("vendor", existing_type=sa.String(200), type_=sa.String(300))


def downgrade() -> None:
    with op.batch_alter_table("tools") as batch_op:
        batch_op.alter_column("vendor", existing_type=sa.String(300), type_=sa.String(200))
        batch_op.drop_column("test_note")
"""


def add_test_revision(monkeypatch: pytest.MonkeyPatch, folder: Path, body: str) -> str:
    """Make the code one revision ahead of the ledger: a copy of the revisions plus `body`."""
    location = folder / "migrations"
    shutil.copytree(
        Path(str(resources.files("provenance.migrations"))),
        location,
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    head = "9000_test"
    (location / "versions" / f"{head}.py").write_text(
        f'"""test only"""\n\nimport sqlalchemy as sa\nfrom alembic import op\n\n'
        f'revision: str = "{head}"\ndown_revision: str | None = "{schema.head_revision()}"\n'
        f"branch_labels = None\ndepends_on = None\n\n{body}"
    )
    monkeypatch.setattr(schema, "migrations_folder", lambda: location)
    assert schema.head_revision() == head
    return head


def tool_columns(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        return {column["name"] for column in inspect(connection).get_columns("tools")}


def test_older_ledger_is_refused_until_db_upgrade(
    ledger: Ledger,
    run: Cli,
    db_url: str,
    workspace: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    make_show(workspace)
    ledger.add_tool("Runway Gen-4", vendor="Runway", generative=True)
    ledger.ingest(["plates"], origin="capture", by="alice")
    ledger.ingest(["elements/sky_gen.png"], origin="ai", tool="Runway Gen-4", by="bob")

    released = schema.head_revision()
    head = add_test_revision(monkeypatch, tmp_path, WIDEN_TOOL_VENDOR)

    with pytest.raises(SchemaMismatch, match="provenance db upgrade") as caught:
        Ledger.open(db_url, cwd=workspace)
    assert f"at schema {released}, older than this version of provenance ({head})" in str(
        caught.value
    )
    result = run("show", "elements/sky_gen.png", expect=1)
    assert "run `provenance db upgrade`" in result.stderr
    result = run("db", "current")
    assert f"schema {released}" in result.stdout
    assert "needs `provenance db upgrade`" in result.stdout

    result = run("db", "upgrade")
    assert f"upgraded schema {released} -> {head}" in result.stdout
    assert "test_note" in tool_columns(ledger.engine)
    assert "up to date" in run("db", "current").stdout
    assert "already at schema" in run("db", "upgrade").stdout
    with Ledger.open(db_url, cwd=workspace) as upgraded:
        card = upgraded.show("elements/sky_gen.png")
        assert card.claims[0].tool == "Runway Gen-4"
        assert upgraded.tools()[0].vendor == "Runway"

    # The rebuilt table keeps its rows (and the rows that reference them) on the way down too.
    assert schema.downgrade(ledger.engine, released).current == released
    assert "test_note" not in tool_columns(ledger.engine)
    monkeypatch.undo()
    with Ledger.open(db_url, cwd=workspace) as downgraded:
        card = downgraded.show("elements/sky_gen.png")
        assert card.claims[0].tool == "Runway Gen-4"
        assert card.generative


def test_upgrade_to_an_unknown_revision_is_an_error_not_a_crash(ledger: Ledger, run: Cli) -> None:
    result = run("db", "upgrade", "--revision", "no_such_revision", expect=1)
    assert result.stderr.startswith("Error: Cannot move the ledger's schema to 'no_such_revision'")
    assert "Traceback" not in result.output
    assert schema.schema_state(ledger.engine).up_to_date


def test_sqlite_revision_that_breaks_references_is_rolled_back(
    sqlite_ledger: Ledger, workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Foreign keys are off while SQLite revisions run (batch mode needs it); the check at the
    # end of the transaction is what stops a faulty revision from leaving claims without tools.
    write_image(workspace / "sky_gen.png")
    sqlite_ledger.add_tool("Runway Gen-4", generative=True)
    sqlite_ledger.ingest(["sky_gen.png"], origin="ai", tool="Runway Gen-4")
    faulty = (
        'def upgrade() -> None:\n    op.execute("DELETE FROM tools")\n\n\n'
        "def downgrade() -> None:\n    pass\n"
    )
    released = schema.head_revision()
    add_test_revision(monkeypatch, tmp_path, faulty)

    with pytest.raises(ProvenanceError, match="broken references"):
        schema.upgrade(sqlite_ledger.engine)

    assert schema.schema_state(sqlite_ledger.engine).current == released
    monkeypatch.undo()
    assert sqlite_ledger.show("sky_gen.png").claims[0].tool == "Runway Gen-4"


def test_ledger_downgraded_to_base_is_not_a_ledger_until_init(
    ledger: Ledger, run: Cli, db_url: str, workspace: Path
) -> None:
    schema.downgrade(ledger.engine, "base")

    with pytest.raises(NotALedger, match="provenance init"):
        Ledger.open(db_url, cwd=workspace)
    assert "schema none" in run("db", "current").stdout
    result = run("db", "upgrade", expect=1)
    assert "not a provenance ledger" in result.stderr
    assert "provenance init" in result.stderr

    run("init")
    assert "up to date" in run("db", "current").stdout
    write_image(workspace / "after.png")
    with Ledger.open(db_url, cwd=workspace) as restored:
        assert restored.ingest(["after.png"]).assets_new == 1


# -- SQLite connection settings -----------------------------------------------------------------


def test_sqlite_ledger_connections_use_wal_foreign_keys_and_a_busy_timeout(
    sqlite_ledger: Ledger,
) -> None:
    with sqlite_ledger.engine.connect() as connection:

        def pragma(name: str) -> object:
            return connection.exec_driver_sql(f"PRAGMA {name}").scalar()

        assert pragma("journal_mode") == "wal"
        assert pragma("foreign_keys") == 1
        assert isinstance(timeout := pragma("busy_timeout"), int)
        assert timeout >= 5000
        assert timeout == BUSY_TIMEOUT_MS


def begin_immediate_error(path: Path) -> str | None:
    """Try to take the write lock from another connection without waiting; the error, if any."""
    with closing(sqlite3.connect(path, timeout=0.1, isolation_level=None)) as other:
        try:
            other.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            return str(exc)
        other.execute("ROLLBACK")
        return None


def test_write_session_holds_the_write_lock_from_its_first_statement_even_a_read(
    sqlite_ledger: Ledger,
) -> None:
    path = sqlite_ledger.location.sqlite_path
    assert path is not None
    with write_session(sqlite_ledger.engine) as session:
        session.execute(select(Event.id)).all()
        assert begin_immediate_error(path) == "database is locked"
    assert begin_immediate_error(path) is None

    # A reader does not hold writers off (WAL).
    with read_session(sqlite_ledger.engine) as session:
        session.execute(select(Event.id)).all()
        assert begin_immediate_error(path) is None


# -- show roots (0012) --------------------------------------------------------------------------


def test_the_show_roots_revision_finds_a_sqlite_show_moved_before_it(
    sqlite_ledger: Ledger, workspace: Path, tmp_path: Path
) -> None:
    # A ledger of schema 0011 records its folder by its absolute path: moved, nothing was found.
    # Upgraded where it is now, its folder is wherever the ledger is.
    make_show(workspace)
    record_show(sqlite_ledger)
    digest = sqlite_ledger.show("plates/sh010_plate.####.png").asset.digest
    assert schema.downgrade(sqlite_ledger.engine, "0011").current == "0011"
    with sqlite_ledger.engine.connect() as connection:
        paths = connection.execute(text("SELECT path FROM roots ORDER BY id")).scalars().all()
    assert paths == [b"/", os.fsencode(workspace)]
    sqlite_ledger.close()
    moved = tmp_path / "moved" / "show"
    moved.parent.mkdir()
    shutil.copytree(workspace, moved, symlinks=True)
    shutil.rmtree(workspace)
    # Before the upgrade, 0011 opened there recorded a root for the new path too (a sweep's
    # stat-cache refresh did): the folder that holds the show's assets stays the ledger's.
    ledger_file = moved / ".provenance" / "ledger.db"
    with closing(sqlite3.connect(ledger_file)) as connection, connection:
        connection.execute("INSERT INTO roots (path) VALUES (?)", (os.fsencode(moved),))
    upgrade_ledger(str(ledger_file))
    with Ledger.open(str(ledger_file), cwd=moved) as upgraded:
        card = upgraded.show("plates/sh010_plate.####.png")
        assert card.asset.digest == digest and card.asset.path.startswith(os.fsencode(moved))
        assert upgraded.show("elements/sky_gen.png").parents[0].asset.name.startswith(str(moved))
        assert upgraded.audit_verify().ok
        listed = {root.name: root for root in upgraded.roots().roots}
        home, stray = listed[str(workspace)], listed[str(moved)]
        assert (home.kind.value, home.here, home.assets) == ("ledger", str(moved), 2)
        assert (stray.kind.value, stray.location, stray.assets) == ("declared", str(moved), 0)
        assert "is root" in stray.problems[0] and "folder too" in stray.problems[0]


def test_the_show_roots_revision_downgrades_with_data_unless_roots_were_changed(
    db_url: str, workspace: Path, tmp_path: Path
) -> None:
    make_show(workspace)
    with Ledger.create(db_url, cwd=workspace) as ledger:
        record_show(ledger)
        assert ledger.finalize("plates", "PLATES").finalized
        before = ledger.audit_verify()
        assert schema.downgrade(ledger.engine, "0011").current == "0011"
        with ledger.engine.connect() as connection:
            columns = {c["name"] for c in inspect(connection).get_columns("roots")}
        assert columns == {"id", "path"}
        assert schema.upgrade(ledger.engine).current == schema.head_revision()
        after = ledger.audit_verify()
        assert (after.ok, after.size, after.root) == (True, before.size, before.root)
        assert ledger.verify("PLATES").ok
        # Roots declared or moved by events cannot go back: 0011's audit would not read them.
        ledger.add_root(str(tmp_path / "library"), name="lib")
        with pytest.raises(ProvenanceError, match="events that declare, move or map roots"):
            schema.downgrade(ledger.engine, "0011")
        assert schema.schema_state(ledger.engine).up_to_date
        assert [r.name for r in ledger.roots().roots if r.kind.value == "declared"] == ["lib"]

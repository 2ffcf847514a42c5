"""Database roles on the PostgreSQL ledger: what each role may do, enforced by the database."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from psycopg import errors

from provenance import Ledger
from provenance.errors import LedgerReadOnly, ProvenanceError
from provenance.ledger import create_db_roles
from provenance.store import engine, queries
from provenance.store.models import Location

from ..builders import age, write_image, write_notes
from ..conftest import Cli, _fresh_pg_database


def as_user(url: str, user: str) -> str:
    return sa.engine.make_url(url).set(username=user).render_as_string(hide_password=False)


@contextmanager
def psql(url: str, user: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """A plain connection as `user`, as psql would make it: raw SQL, no library, autocommit."""
    parsed = sa.engine.make_url(url)
    with psycopg.connect(
        dbname=parsed.database, user=user, host=str(parsed.query["host"]), autocommit=True
    ) as connection:
        yield connection


def count(url: str, table: str) -> int:
    with psql(url, "postgres") as connection:
        found = connection.execute(f"SELECT count(*) FROM {table}").fetchone()
    assert found is not None
    return int(str(found[0]))


@pytest.fixture
def pg_ledger(postgres: str, workspace: Path) -> str:
    url = _fresh_pg_database(postgres)
    Ledger.create(url, cwd=workspace).close()
    create_db_roles(url)
    engine = sa.create_engine(postgres, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        for user, role in (
            ("alice", "provenance_artist"),
            ("tina", "provenance_td"),
            ("audrey", "provenance_auditor"),
        ):
            exists = connection.exec_driver_sql(
                f"SELECT 1 FROM pg_roles WHERE rolname = '{user}'"
            ).first()
            if exists is None:
                connection.exec_driver_sql(f"CREATE ROLE {user} LOGIN IN ROLE {role}")
    engine.dispose()
    return url


def test_each_role_may_do_its_work_and_nothing_more(pg_ledger: str, workspace: Path) -> None:
    write_image(workspace / "plate.png", seed=1)
    write_image(workspace / "gen.png", seed=2)
    with Ledger.open(as_user(pg_ledger, "tina"), cwd=workspace) as td:
        td.add_tool("Runway Gen-4", generative=True, trains_on_inputs="no", secured="yes")

    with Ledger.open(as_user(pg_ledger, "alice"), cwd=workspace) as artist:
        artist.ingest(["plate.png"], origin="capture")
        artist.ingest(["gen.png"], origin="ai", tool="Runway Gen-4")
        artist.tag("plate.png", "capture", note="checked")
        artist.link("gen.png", references=["plate.png"])
        with pytest.raises(LedgerReadOnly, match="may not do this"):
            artist.approve("gen.png", ref="NFX-1", by="jane")
        with pytest.raises(LedgerReadOnly, match="may not do this"):
            artist.add_consent("Ada", scope="x", ref="y")
        with pytest.raises(LedgerReadOnly, match="may not do this"):
            artist.set_tool("Runway Gen-4", secured="no")
        with pytest.raises(LedgerReadOnly, match="may not do this"):
            artist.tag("gen.png", "human", note="it is fine really", resolve=True)
        with pytest.raises(LedgerReadOnly, match="may not do this"):
            artist.add_tool("Gen2", generative=True, trains_on_inputs="no", secured="yes")
        artist.add_tool("Krita")  # non-generative tools: fine
        history = artist.history("plate.png")
        assert history[0].actor == "alice"  # the database role, not the OS user

    with Ledger.open(as_user(pg_ledger, "tina"), cwd=workspace) as td:
        td.approve("gen.png", ref="NFX-1", by="jane")
        td.tag("plate.png", "capture", note="camera report checked", resolve=True)
        td.add_consent("Ada", scope="S01", ref="form 1")
        assert td.finalize(workspace, "EP101_v001").finalized

    with Ledger.open(as_user(pg_ledger, "audrey"), cwd=workspace) as auditor:
        assert auditor.show("gen.png").status == "approved"
        # (The history of an asset ends in the finalize of each deliverable that holds it.)
        assert [e.kind for e in auditor.history("gen.png")][-2:] == ["approve", "finalize"]
        assert [d.deliverable.name for d in auditor.deliverables(contains="gen.png")] == [
            "EP101_v001"
        ]
        assert auditor.disclosure()[0].approvals == ["NFX-1 (jane)"]
        write_image(workspace / "late.png", seed=3)  # new bytes: the auditor's check reads them
        assert [f.rule for f in auditor.sweep(workspace).verdict.findings] == ["untracked"]
        assert [c.path for c in auditor.verify("EP101_v001").added] == ["late.png"]
        with pytest.raises(LedgerReadOnly, match="may not do this"):
            auditor.tag("plate.png", "human")
        with pytest.raises(LedgerReadOnly, match="may not do this"):
            auditor.ingest(["plate.png"])


def test_the_cli_says_so_without_a_stack_trace(pg_ledger: str, workspace: Path) -> None:
    write_image(workspace / "plate.png")
    result = Cli(as_user(pg_ledger, "audrey"), workspace)("ingest", "plate.png", expect=1)
    assert result.stderr.startswith("Error: Your database role may not do this")
    assert "Traceback" not in result.stderr


def test_roles_are_idempotent_and_postgres_only(pg_ledger: str, tmp_path: Path) -> None:
    _, again = create_db_roles(pg_ledger)
    assert again.created == []
    sqlite = tmp_path / "ledger.db"
    Ledger.create(str(sqlite), cwd=tmp_path).close()
    with pytest.raises(ProvenanceError, match="PostgreSQL feature"):
        create_db_roles(str(sqlite))


@pytest.fixture
def recorded(pg_ledger: str, workspace: Path) -> str:
    """The roles' ledger with a plate (capture) and an unapproved AI image, a checkpoint key
    pinned by the TD, and the files old enough for the stat cache to trust them."""
    write_image(workspace / "plate.png", seed=1)
    write_image(workspace / "gen.png", seed=2)
    age([workspace / "plate.png", workspace / "gen.png"])
    with Ledger.open(as_user(pg_ledger, "tina"), cwd=workspace) as td:
        td.add_tool("Runway Gen-4", generative=True, trains_on_inputs="no", secured="yes")
        td.ingest(["plate.png"], origin="capture")
        td.ingest(["gen.png"], origin="ai", tool="Runway Gen-4")
    return pg_ledger


# Raw SQL each role might try with psql: (statement, the error the database answers with).
FORBIDDEN: list[tuple[str, type[Exception]]] = [
    (
        "INSERT INTO events (id, kind, actor, host, at, payload, prev_hash, hash) VALUES "
        "(nextval('events_id_seq'), 'ingest', 'x', 'h', now(), '{}', 'sha256:junk', 'sha256:junk')",
        errors.InsufficientPrivilege,
    ),
    ("UPDATE events SET actor = 'mallory'", errors.InsufficientPrivilege),
    ("DELETE FROM events", errors.InsufficientPrivilege),
    # A version's status is derived when read: there is no column to set.
    ("UPDATE asset_versions SET status = 'approved'", errors.UndefinedColumn),
    ("UPDATE asset_versions SET digest = 'xxh3-128:0'", errors.InsufficientPrivilege),
    (
        "INSERT INTO locations (root_id, path, kind, content_id, size, mtime_ns, ctime_ns, inode, "
        "device, recorded_ns) SELECT root_id, 'forged.png', kind, content_id, size, mtime_ns, "
        "ctime_ns, inode, device, recorded_ns FROM locations LIMIT 1",
        errors.InsufficientPrivilege,
    ),
    (
        "UPDATE locations SET content_id = (SELECT min(content_id) FROM locations)",
        errors.InsufficientPrivilege,
    ),
    ("DELETE FROM locations", errors.InsufficientPrivilege),
    (
        "INSERT INTO folder_seals (root_id, folder, listing, recorded_ns, intent, file_count, "
        "byte_count, refs, holes) SELECT id, '', 'x', 9e18, 'plain', 0, 0, '', '{}' FROM roots "
        "LIMIT 1",
        errors.InsufficientPrivilege,
    ),
    ("UPDATE folder_seals SET recorded_ns = 9000000000000000000", errors.InsufficientPrivilege),
    ("DELETE FROM folder_seals", errors.InsufficientPrivilege),
]


@pytest.mark.parametrize("user", ["alice", "tina", "audrey"])
def test_no_role_writes_the_history_or_the_caches_directly(
    recorded: str, workspace: Path, user: str
) -> None:
    events, locations = count(recorded, "events"), count(recorded, "locations")
    with psql(recorded, user) as connection:
        for statement, refused in FORBIDDEN:
            with pytest.raises(refused):
                connection.execute(statement)
    assert (count(recorded, "events"), count(recorded, "locations")) == (events, locations)
    with Ledger.open(as_user(recorded, "audrey"), cwd=workspace) as auditor:
        assert auditor.audit_verify().ok
        assert auditor.show("gen.png").status == "temporary"
        assert [use.status for use in auditor.disclosure()] == ["temporary"]


def test_the_definer_functions_take_nothing_on_trust(recorded: str, workspace: Path) -> None:
    def append(connection: psycopg.Connection[tuple[object, ...]], values: str) -> object:
        found = connection.execute(f"SELECT provenance_append_event({values})").fetchone()
        return found[0] if found else None

    payload = """'{"rows":{"schema":"Rows.1"}}'"""
    with psql(recorded, "alice") as connection:
        # An id the sequence did not hand out, or one already used.
        with pytest.raises(errors.CheckViolation, match="was not reserved"):
            append(connection, f"999999, 'ingest', 'h', clock_timestamp(), {payload}")
        with pytest.raises(errors.CheckViolation, match="was not reserved"):
            append(connection, f"1, 'ingest', 'h', clock_timestamp(), {payload}")
        # A time other than the transaction's (backdated history).
        with pytest.raises(errors.CheckViolation, match="time of its transaction"):
            append(connection, f"nextval('events_id_seq'), 'ingest', 'h', '2020-01-01', {payload}")
        # A kind only a TD's commands write (a manifest's recorded bytes are what a sweep may
        # leave out of a delivery: an artist must not be able to name other bytes).
        for kind in ("approve", "finalize", "finalize.manifest", "key.trust", "claim.resolve"):
            with pytest.raises(errors.InsufficientPrivilege, match="only a TD"):
                append(
                    connection,
                    f"nextval('events_id_seq'), '{kind}', 'h', clock_timestamp(), {payload}",
                )
        with pytest.raises(errors.CheckViolation, match="JSON object"):
            append(connection, "nextval('events_id_seq'), 'ingest', 'h', clock_timestamp(), '[1]'")
        # A stat-cache row naming content of another size than the file's.
        with pytest.raises(errors.CheckViolation, match="size of its content"):
            connection.execute(
                "SELECT provenance_record_locations(ARRAY[r.id], ARRAY['x.png'::bytea], "
                "ARRAY['file'], ARRAY[c.id], ARRAY[NULL::bytea], ARRAY[c.size + 1], ARRAY[1::bigint], "
                "ARRAY[1::bigint], ARRAY[1::bigint], ARRAY[1::bigint], ARRAY[1::bigint]) "
                "FROM roots r, contents c LIMIT 1"
            )
        # What an artist may append is an event under her own name, chained by the database.
        digest = append(
            connection, f"nextval('events_id_seq'), 'ingest', 'h', clock_timestamp(), {payload}"
        )
        row = connection.execute(
            "SELECT actor, hash FROM events ORDER BY id DESC LIMIT 1"
        ).fetchone()
        assert row == ("alice", digest)
        # And a seal cannot claim to be newer than the server's clock.
        connection.execute(
            "SELECT provenance_write_seals(ARRAY[id], ARRAY['nowhere/'::bytea], ARRAY['x'], "
            "ARRAY[9000000000000000000::bigint], ARRAY['plain'], ARRAY[0], ARRAY[0::bigint], "
            "ARRAY[''::bytea], ARRAY['{}'], ARRAY[9000000000000000000::bigint]) FROM roots LIMIT 1"
        )
        clamped = connection.execute(
            "SELECT recorded_ns < 9000000000000000000, copied_as_of < 9000000000000000000 "
            "FROM folder_seals WHERE folder = 'nowhere/'"
        ).fetchone()
        assert clamped == (True, True)
    with psql(recorded, "audrey") as connection, pytest.raises(errors.InsufficientPrivilege):
        append(connection, f"nextval('events_id_seq'), 'ingest', 'h', clock_timestamp(), {payload}")
    with Ledger.open(as_user(recorded, "audrey"), cwd=workspace) as auditor:
        assert auditor.audit_verify().ok


def test_each_role_still_does_its_work_through_the_functions(
    recorded: str, workspace: Path
) -> None:
    delivery = workspace / "delivery"
    delivery.mkdir()
    for name in ("plate.png", "gen.png"):
        shutil.copy2(workspace / name, delivery / name)
    write_image(workspace / "more" / "comp.png", seed=3)
    time.sleep(0.05)  # past the racy window of 20 ms: the copies can be sealed
    with Ledger.open(
        as_user(recorded, "alice"), cwd=workspace, racy_window_ns=20_000_000
    ) as artist:
        locations = count(recorded, "locations")
        report = artist.ingest(["more"], origin="human")
        assert report.files_new == 1 and count(recorded, "locations") == locations + 1
        assert artist.ingest(["more"], origin="human").files_new == 0
        # A sweep refreshes the stat cache (and seals the folder of exact copies).
        seals = count(recorded, "folder_seals")
        assert artist.sweep(delivery).files_read == 2
        assert count(recorded, "folder_seals") == seals + 1
        assert artist.sweep(delivery).files_read == 0
        os_link = workspace / "more" / "link.png"
        os_link.symlink_to(workspace / "more" / "comp.png")
        assert artist.ingest(["more"], origin="human").links == 1
    with Ledger.open(as_user(recorded, "tina"), cwd=workspace) as td:
        td.tag("gen.png", "ai", tool="Runway Gen-4", note="checked", resolve=True)
        td.approve("gen.png", ref="NFX-1", by="jane")
        assert td.show("gen.png").status == "approved"
        assert td.sweep(delivery).verdict.clean
        assert td.finalize(delivery, "EP101_v001").finalized
        assert [k.added_by for k in td.keys().keys] != []  # the TD's finalize pinned its key
    with Ledger.open(as_user(recorded, "audrey"), cwd=workspace) as auditor:
        assert auditor.audit_verify().ok
        history = [(e.kind, e.actor) for e in auditor.history("gen.png")]
        assert [kind for kind, _ in history] == [
            "ingest",
            "claim.resolve",
            "approve",
            "finalize",
        ], history
        assert [actor for _, actor in history] == ["tina"] * len(history), history
        assert auditor.sweep(delivery).verdict.clean


def test_an_event_on_a_whole_second_hashes_as_the_audit_does(
    recorded: str, workspace: Path
) -> None:
    # Python's isoformat() leaves out a zero fraction; the database's canonical form must too.
    with psql(recorded, "alice") as connection, connection.transaction():
        connection.execute("SELECT pg_sleep(1.01)")  # a whole second inside this transaction
        connection.execute(
            "SELECT provenance_append_event(nextval('events_id_seq'), 'ingest', 'h', "
            """date_trunc('second', clock_timestamp()), '{"rows":{"schema":"Rows.1"}}')"""
        )
    with Ledger.open(as_user(recorded, "audrey"), cwd=workspace) as auditor:
        (last,) = [e for e in auditor.export_events()][-1:]
        assert "." not in last["at"]
        assert auditor.audit_verify().ok


def test_a_big_write_refreshes_the_planner_statistics_of_the_tables_it_grew(
    recorded: str, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine, "STATS_MIN_ROWS", 20)  # (1,000 by default)

    def estimated(table: str) -> float:
        with psql(recorded, "postgres") as connection:
            found = connection.execute(
                "SELECT reltuples FROM pg_class WHERE relname = %s", (table,)
            ).fetchone()
        assert found is not None
        return float(str(found[0]))

    tables = ("contents", "locations", "asset_versions", "members", "claims")
    assert all(estimated(table) < 30 for table in tables)  # as autovacuum last saw them
    write_notes(workspace / "notes", 30)
    # As an artist, who owns none of the tables: the ledger's function analyzes them.
    with Ledger.open(as_user(recorded, "alice"), cwd=workspace) as artist:
        artist.ingest(["notes"], origin="human")
        assert {table: estimated(table) for table in tables} == dict.fromkeys(tables, 32.0)
        artist.tag("notes/note_aaa.txt", "human", note="checked")  # one row: not worth it
        assert estimated("claims") == 32.0


def test_an_artists_forged_stat_cache_row_does_not_get_generated_bytes_finalized(
    pg_ledger: str, workspace: Path
) -> None:
    """The gate's case 8 as the artist role: a stat-cache row written through the function the
    role may call (same size, the plate's content, the delivered file's stat) fools a sweep,
    which says it used the cache; a finalize reads every byte."""
    import os

    write_notes(workspace / "plates", 1)
    plate = next((workspace / "plates").iterdir())
    generated = workspace / "elements" / "gen.txt"
    generated.parent.mkdir()
    generated.write_bytes(bytes(reversed(plate.read_bytes())))  # same size, other bytes
    with Ledger.open(as_user(pg_ledger, "tina"), cwd=workspace) as td:
        td.add_tool("Runway Gen-4", generative=True, trains_on_inputs="no", secured="yes")
    with Ledger.open(as_user(pg_ledger, "alice"), cwd=workspace) as artist:
        artist.ingest([str(plate)], origin="capture")
        artist.ingest([str(generated)], origin="ai", tool="Runway Gen-4")
    delivered = workspace / "d" / "EP1" / plate.name
    delivered.parent.mkdir(parents=True)
    shutil.copy(generated, delivered)
    age([delivered])
    st = os.lstat(delivered)
    with Ledger.open(pg_ledger, cwd=workspace) as owner, engine.read_session(owner.engine) as s:
        roots = queries.find_roots(s, owner.workspace)
        assert roots is not None
        root_id, relative = roots.split(os.fsencode(delivered))
        plate_root, plate_path = roots.split(os.fsencode(plate))
        (content_id,) = s.execute(
            sa.select(Location.content_id).where(
                Location.root_id == plate_root, Location.path == plate_path
            )
        ).one()
    with psql(pg_ledger, "alice") as connection:
        connection.execute(
            "SELECT provenance_record_locations(ARRAY[%s::integer], ARRAY[%s::bytea], "
            "ARRAY['file'], ARRAY[%s::integer], ARRAY[NULL::bytea], ARRAY[%s::bigint], "
            "ARRAY[%s::bigint], ARRAY[%s::bigint], ARRAY[%s::bigint], ARRAY[%s::bigint], "
            "ARRAY[%s::bigint])",
            (
                root_id,
                relative,
                content_id,
                st.st_size,
                st.st_mtime_ns,
                st.st_ctime_ns,
                st.st_ino,
                st.st_dev,
                time.time_ns() + 10**12,
            ),
        )
    # (The function dates the row by the server's clock: past the racy window of the file's
    # times, which a window of 0 puts at once.)
    with Ledger.open(as_user(pg_ledger, "tina"), cwd=workspace, racy_window_ns=0) as td:
        swept = td.sweep(delivered.parent)
        assert not swept.verdict.findings and swept.files_cached == 1
        refused = td.finalize(delivered.parent, "EP1_v001")
        assert not refused.finalized and refused.files_cached == 0
        assert [f.rule for f in refused.verdict.findings] == ["genai-unapproved"]


def test_moving_and_mapping_a_show_root_is_a_tds(
    pg_ledger: str, workspace: Path, tmp_path: Path
) -> None:
    library = tmp_path / "library"
    write_image(library / "brick.png", seed=4)
    with Ledger.open(as_user(pg_ledger, "alice"), cwd=workspace) as artist:
        artist.add_root(str(library), name="lib")  # declaring: an artist may (an event says who)
        artist.ingest([str(library / "brick.png")], origin="human")
        with pytest.raises(LedgerReadOnly, match="may not do this"):
            artist.move_root("lib", str(tmp_path / "elsewhere"))
        with pytest.raises(LedgerReadOnly, match="may not do this"):
            artist.map_root("lib", "L:\\library")
    with Ledger.open(as_user(pg_ledger, "tina"), cwd=workspace) as td:
        td.map_root("lib", "L:\\library")
        assert td.move_root("lib", str(tmp_path / "elsewhere")).event_id
        td.unmap_root("lib", "L:\\library")
    with Ledger.open(as_user(pg_ledger, "audrey"), cwd=workspace) as auditor:
        (lib,) = [root for root in auditor.roots().roots if root.name == "lib"]
        assert (lib.location, lib.assets) == (str(tmp_path / "elsewhere"), 1)
        with pytest.raises(LedgerReadOnly, match="may not do this"):
            auditor.add_root(str(tmp_path / "other"), name="other")
        assert auditor.audit_verify().ok


@pytest.mark.parametrize(
    ("forged", "human_v2"), [(99, False), (0, False), (-1, False), (99, True), (0, True)]
)
def test_an_artists_forged_latest_version_does_not_get_generated_bytes_finalized(
    pg_ledger: str, workspace: Path, forged: int, human_v2: bool
) -> None:
    """`assets.latest_version` is the one column an artist may update (ingest keeps it). Set by
    hand to a version that does not exist, or to another one, the gate still finds the
    generated bytes: a delivered copy of them is refused, alone or beside other files."""
    write_image(workspace / "elements" / "gen.png", seed=2)
    write_image(workspace / "plates" / "plate.png", seed=1)
    with Ledger.open(as_user(pg_ledger, "tina"), cwd=workspace) as td:
        td.add_tool("Runway Gen-4", generative=True, trains_on_inputs="no", secured="yes")
    with Ledger.open(as_user(pg_ledger, "alice"), cwd=workspace) as artist:
        artist.ingest(["plates/plate.png"], origin="capture")
        artist.ingest(["elements/gen.png"], origin="ai", tool="Runway Gen-4")
        if human_v2:  # a second, human version at the same path: v1 is the generated one
            shutil.copy(workspace / "elements" / "gen.png", workspace / "gen_v1.png")
            write_image(workspace / "elements" / "gen.png", seed=3)
            artist.ingest(["elements/gen.png"], origin="human")
    delivery = workspace / "d" / "EP1"
    delivery.mkdir(parents=True)
    source = workspace / ("gen_v1.png" if human_v2 else "elements/gen.png")
    shutil.copy(source, delivery / "sky.png")
    shutil.copy(workspace / "plates" / "plate.png", delivery / "plate.png")
    with psql(pg_ledger, "alice") as connection:
        connection.execute(
            "UPDATE assets SET latest_version = %s WHERE pattern LIKE %s",
            (forged, "%gen.png"),
        )
    with Ledger.open(as_user(pg_ledger, "tina"), cwd=workspace) as td:
        swept = td.sweep(delivery)
        assert any(f.blocks for f in swept.verdict.findings), swept.verdict.findings
        refused = td.finalize(delivery, "EP1_v001")
        assert not refused.finalized
        assert "genai-unapproved" in {f.rule for f in refused.verdict.findings}

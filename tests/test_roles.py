"""Database roles on the PostgreSQL ledger: what each role may do, enforced by the database."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from provenance import Ledger
from provenance.errors import LedgerReadOnly, ProvenanceError
from provenance.ledger import create_db_roles

from .builders import write_image
from .conftest import Cli, _fresh_pg_database


def as_user(url: str, user: str) -> str:
    return sa.engine.make_url(url).set(username=user).render_as_string(hide_password=False)


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

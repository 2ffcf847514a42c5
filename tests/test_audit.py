"""The tamper-evident log: what an insider with the database can do, and what `audit verify` catches."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from provenance import Ledger
from provenance.errors import AuditFailed
from provenance.store.events import canonical_event, event_hash

from .builders import write_image, write_sequence
from .conftest import Cli


@pytest.fixture
def busy(ledger: Ledger, workspace: Path) -> Ledger:
    """A ledger with some history: tools, ingests, claims, a link, an approval."""
    write_sequence(workspace / "plates", "p", range(1, 4))
    write_image(workspace / "gen.png", seed="gen")
    ledger.add_tool("Runway Gen-4", generative=True, trains_on_inputs="no", secured="yes")
    ledger.ingest(["plates"], origin="capture", by="alice")
    ledger.ingest(["gen.png"], origin="ai", tool="Runway Gen-4", by="bob")
    ledger.tag("plates/p.####.tif", "capture", by="carol", note="checked the camera report")
    ledger.link("gen.png", references=["plates/p.####.tif"])
    ledger.approve("gen.png", ref="NFX-1", by="jane")
    for secured in ("no", "yes", "no"):
        ledger.set_tool("Runway Gen-4", secured=secured)
    return ledger


def raw(db_url: str, statements: Iterable[str]) -> None:
    """Run SQL as an insider would: straight at the database, around the library."""
    url = db_url if "://" in db_url else f"sqlite:///{db_url}"
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.begin() as connection:
        for statement in statements:
            connection.exec_driver_sql(statement)
    engine.dispose()


def drop_guards(backend: str, *tables: str) -> list[str]:
    if backend == "sqlite":
        return [f"DROP TRIGGER {t}_no_{a}" for t in tables for a in ("update", "delete")]
    return [f"DROP TRIGGER {t}_append_only ON {t}" for t in tables]


def rewrite_chain(
    db_url: str, backend: str, change: Callable[[int, str, str], tuple[str, str]]
) -> None:
    """An insider's full rewrite: edit events with `change(id, host, payload)` and recompute
    every hash so that the chain itself is sound again."""
    raw(db_url, drop_guards(backend, "events"))
    url = db_url if "://" in db_url else f"sqlite:///{db_url}"
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.begin() as connection:
        rows = connection.exec_driver_sql(
            "SELECT id, kind, actor, host, at, payload FROM events ORDER BY id"
        ).all()
        previous = "sha256:" + "0" * 64
        for event_id, kind, actor, host, at, payload in rows:
            host, payload = change(event_id, host, payload)
            moment = at if not isinstance(at, str) else dt.datetime.fromisoformat(at)
            if moment.tzinfo is None:  # SQLite keeps no zone; the ledger writes UTC
                moment = moment.replace(tzinfo=dt.timezone.utc)
            digest = event_hash(canonical_event(kind, actor, host, moment, payload, previous))
            connection.execute(
                sa.text(
                    "UPDATE events SET host = :host, payload = :p, prev_hash = :prev, hash = :h "
                    "WHERE id = :i"
                ),
                {"host": host, "p": payload, "prev": previous, "h": digest, "i": event_id},
            )
            previous = digest
    engine.dispose()


def problems(ledger: Ledger) -> list[str]:
    return ledger.audit_verify().problems


def test_an_untouched_ledger_verifies(busy: Ledger) -> None:
    path, document = busy.checkpoint()
    report = busy.audit_verify()
    assert report.ok and report.problems == []
    assert report.size == document["size"] and report.root == document["root"]
    assert [c.problem for c in report.checkpoints] == [None]
    assert path.parent == busy.checkpoints_folder()


def test_the_database_refuses_changes_to_history(busy: Ledger, db_url: str) -> None:
    for statement in (
        "UPDATE events SET actor = 'mallory'",
        "DELETE FROM events",
        "UPDATE claims SET origin = 'digitalCreation'",
        "DELETE FROM approvals",
    ):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"):
            raw(db_url, [statement])
    assert busy.audit_verify().ok


def test_an_edited_event_is_caught(busy: Ledger, db_url: str, backend: str) -> None:
    raw(
        db_url,
        [*drop_guards(backend, "events"), "UPDATE events SET actor = 'mallory' WHERE id = 3"],
    )
    assert any("event #3" in p and "changed after it was written" in p for p in problems(busy))


def test_a_deleted_event_is_caught(busy: Ledger, db_url: str, backend: str) -> None:
    last_tool_set = "(SELECT max(id) - 1 FROM events WHERE kind = 'tool.set')"
    raw(db_url, [*drop_guards(backend, "events"), f"DELETE FROM events WHERE id = {last_tool_set}"])
    assert any("does not follow" in p for p in problems(busy))


def test_a_truncated_tail_is_caught_by_an_earlier_checkpoint(
    busy: Ledger, db_url: str, backend: str
) -> None:
    busy.checkpoint()
    raw(
        db_url,
        [
            *drop_guards(backend, "events"),
            "DELETE FROM events WHERE id > (SELECT max(id) - 2 FROM events)",
        ],
    )
    found = problems(busy)
    assert len(found) == 1 and "events were removed from the end" in found[0]


def test_a_recomputed_chain_is_caught_by_an_earlier_checkpoint(
    busy: Ledger, db_url: str, backend: str
) -> None:
    busy.checkpoint()
    rewrite_chain(
        db_url,
        backend,
        # Who made the AI image, rewritten, with every later hash recomputed.
        lambda event_id, host, payload: (
            host,
            payload.replace('"bob"', '"alice"') if event_id == 4 else payload,
        ),
    )
    found = problems(busy)
    chain = ("changed after it was written", "does not follow")
    assert not any(c in p for p in found for c in chain)  # the chain itself is sound
    assert any("history was rewritten" in p or "before it was rewritten" in p for p in found)


def test_a_relabelled_claim_is_caught(busy: Ledger, db_url: str, backend: str) -> None:
    raw(
        db_url,
        [
            *drop_guards(backend, "claims"),
            "UPDATE claims SET origin = 'digitalCreation' WHERE origin = 'trainedAlgorithmicMedia'",
        ],
    )
    found = problems(busy)
    assert any("was changed" in p and "'digitalCreation'" in p for p in found)


def test_a_deleted_claim_is_caught(busy: Ledger, db_url: str, backend: str) -> None:
    raw(
        db_url,
        [*drop_guards(backend, "claims"), "DELETE FROM claims WHERE claimed_by = 'carol'"],
    )
    assert any("is missing" in p for p in problems(busy))


def test_checkpoints_must_be_genuine(busy: Ledger, workspace: Path) -> None:
    path, document = busy.checkpoint()
    forged = dict(document, size=document["size"] - 1)
    path.write_text(json.dumps(forged))
    assert any("signature does not verify" in p for p in problems(busy))
    other = Ed25519PrivateKey.generate()
    key_file = workspace.parent / "other.pem"
    key_file.write_bytes(
        other.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.write_text(json.dumps(document))  # genuine again
    busy.checkpoint(key=key_file)
    report = busy.audit_verify()
    # A checkpoint of someone else's key vouches for nothing, and hides nothing either.
    assert report.ok and sorted(c.checked for c in report.checkpoints) == [False, True]
    assert busy.audit_verify(key=key_file).ok


def test_rewriting_the_first_event_cannot_hide_the_checkpoints(
    busy: Ledger, db_url: str, backend: str
) -> None:
    busy.checkpoint()
    rewrite_chain(
        db_url,
        backend,
        lambda event_id, host, payload: ("elsewhere" if event_id == 1 else host, payload),
    )
    assert any("rewritten from the start" in p for p in problems(busy))


def test_a_claim_turned_into_a_resolution_is_caught(
    busy: Ledger, db_url: str, backend: str
) -> None:
    raw(
        db_url,
        [
            *drop_guards(backend, "claims"),
            "UPDATE claims SET resolves = TRUE WHERE claimed_by = 'alice'",
        ],
    )
    assert any(
        "was changed after event" in p and "resolves is True, the event says False" in p
        for p in problems(busy)
    )


def test_finalize_is_refused_while_history_does_not_verify(
    busy: Ledger, db_url: str, backend: str, workspace: Path
) -> None:
    raw(
        db_url,
        [*drop_guards(backend, "events"), "UPDATE events SET host = 'elsewhere' WHERE id = 2"],
    )
    with pytest.raises(AuditFailed, match="does not verify"):
        busy.finalize(workspace / "plates", "EP101_v001")
    with pytest.raises(AuditFailed):
        busy.checkpoint()


def test_export_lets_an_auditor_recompute_every_hash(
    busy: Ledger, run: Cli, workspace: Path
) -> None:
    output = workspace / "events.jsonl"
    run("audit", "export", "-o", str(output))
    lines = [json.loads(line) for line in output.read_text().splitlines()]
    assert len(lines) == busy.audit_verify().size
    previous = "sha256:" + "0" * 64
    for line in lines:
        assert line["schema"] == "Event.1" and line["prev_hash"] == previous
        payload = json.dumps(
            line["payload"], sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
        moment = dt.datetime.fromisoformat(line["at"])
        recomputed = event_hash(
            canonical_event(line["kind"], line["actor"], line["host"], moment, payload, previous)
        )
        assert recomputed == line["hash"]
        previous = line["hash"]


def test_audit_cli_exit_codes(busy: Ledger, run: Cli, db_url: str, backend: str) -> None:
    written = run("audit", "checkpoint", "--json")
    assert json.loads(written.stdout)["checkpoint"]["schema"] == "Checkpoint.1"
    assert "history verifies" in run("audit", "verify").stdout
    raw(
        db_url,
        [
            *drop_guards(backend, "events"),
            "DELETE FROM events WHERE id = (SELECT max(id) FROM events)",
        ],
    )
    failed = run("audit", "verify", "--json", expect=3)
    assert json.loads(failed.stdout)["ok"] is False
    assert os.path.isdir(busy.checkpoints_folder())


def test_a_named_key_that_does_not_exist_is_an_error(busy: Ledger, workspace: Path) -> None:
    from provenance.errors import ProvenanceError

    with pytest.raises(ProvenanceError, match="No key at"):
        busy.audit_verify(key=workspace / "nope.pem")

"""The tamper-evident log: what an insider with the database can do, and what `audit verify` catches."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from provenance.cli.render_audit import audit_problem_text

from provenance import Ledger, Origin
from provenance.audit.differences import ColumnChange, RowDifference, differing_rows
from provenance.errors import AuditFailed, ProvenanceError
from provenance.origins import Evidence
from provenance.store.claims import ClaimSpec, add_claims
from provenance.store.engine import read_session, write_session
from provenance.store.events import canonical_event, event_hash, unit_of_work_event
from provenance.store.rows import (
    DIGESTS,
    INLINE_ROWS,
    LineDigests,
    child_lines,
    read_rows,
    rebuild_state,
)

from ..builders import write_image, write_notes, write_sequence
from ..conftest import Cli


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
    """What `audit verify` reports, as the lines it prints."""
    return [audit_problem_text(problem) for problem in ledger.audit_verify().problems]


def differences(ledger: Ledger) -> list[RowDifference]:
    """The rows `audit verify` finds changed, added or removed, as data."""
    found = differing_rows(ledger.audit_verify().problems)
    return [row for row in found if isinstance(row, RowDifference)]


def test_an_untouched_ledger_verifies(busy: Ledger) -> None:
    path, document = busy.checkpoint()
    report = busy.audit_verify()
    assert report.ok and report.problems == []
    assert report.size == document["size"] and report.root == document["root"]
    assert [c.problem for c in report.checkpoints] == [None]
    assert path.parent == busy.checkpoints_folder()


def test_events_hash_the_same_whoever_appends_them(ledger: Ledger, workspace: Path) -> None:
    # On PostgreSQL the database computes each event's hash (schema 0010); on SQLite the
    # library does. Either way the audit, which recomputes them in Python, must agree, on text
    # that JSON escapes: quotes, backslashes, control characters, non-ASCII, line separators.
    tricky = 'Zo\u00eb "K" \\ \t\n\r\x01\x7f \u2028 \U0001f3ac \u4e2d'
    write_image(workspace / "\u00e9l\u00e9ment \U0001f3ac.png", seed="tricky")
    ledger.ingest(["\u00e9l\u00e9ment \U0001f3ac.png"], origin="human", by=tricky, note=tricky)
    ledger.tag("\u00e9l\u00e9ment \U0001f3ac.png", "human", by="x", note="\\u0000 is text")
    report = ledger.audit_verify()
    assert (report.ok, report.problems) == (True, [])
    assert report.size == 3


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
    busy.checkpoint()  # the ledger's first checkpoint: it pins its key (an event, written no rows)
    raw(
        db_url,
        [
            *drop_guards(backend, "events"),
            "DELETE FROM events WHERE id = (SELECT max(id) FROM events)",
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
    (relabelled,) = differences(busy)
    assert (relabelled.table, relabelled.how, relabelled.event.kind) == (
        "claims",
        "changed",
        "ingest",
    )
    assert relabelled.changes == (
        ColumnChange("origin", "trainedAlgorithmicMedia", "digitalCreation"),
    )
    assert (relabelled.values["claimed_by"], relabelled.tool) == ("bob", "Runway Gen-4")
    assert str(relabelled.versions["version_id"]).endswith("gen.png v1")
    assert any("was changed" in p and "'digitalCreation'" in p for p in problems(busy))


def test_a_deleted_claim_is_caught(busy: Ledger, db_url: str, backend: str) -> None:
    raw(
        db_url,
        [*drop_guards(backend, "claims"), "DELETE FROM claims WHERE claimed_by = 'carol'"],
    )
    (deleted,) = differences(busy)
    assert (deleted.table, deleted.how, deleted.event.kind) == ("claims", "removed", "claim")
    assert (deleted.values["claimed_by"], deleted.values["note"]) == (
        "carol",
        "checked the camera report",
    )
    assert any("is missing" in p for p in problems(busy))


def test_checkpoints_must_be_genuine(busy: Ledger, workspace: Path) -> None:
    path, document = busy.checkpoint()
    forged = dict(document, size=document["size"] - 1)
    path.write_text(json.dumps(forged))
    assert any("signature does not verify" in p for p in problems(busy))
    path.write_text(json.dumps(document))  # genuine again
    assert busy.audit_verify().ok


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
    (resolving,) = differences(busy)
    assert resolving.changes == (ColumnChange("resolves", False, True),)
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


def _forgery(kind: str, backend: str) -> list[str]:
    """An insider's raw SQL that would let the comp made from a generated frame through, if it
    were judged."""
    if kind == "approval inserted":
        return [
            "INSERT INTO approvals (version_id, digest, ref, approved_by, note, "
            "covers_tool_risk, recorded_by, created_at, event_id) "
            "SELECT id, digest, 'FORGED-1', 'mallory', NULL, "
            f"{'0' if backend == 'sqlite' else 'false'}, 'mallory', "
            "CURRENT_TIMESTAMP, (SELECT max(id) FROM events) FROM asset_versions"
        ]
    if kind == "lineage emptied":
        # PostgreSQL's TRUNCATE is not versioned: a snapshot taken before it reads the table
        # empty. SQLite has none; its DELETE needs the guard dropped.
        if backend == "sqlite":
            return [*drop_guards(backend, "lineage"), "DELETE FROM lineage"]
        return ["DROP TRIGGER lineage_no_truncate ON lineage", "TRUNCATE lineage"]
    # The claims relabelled human-made, their append-only guard dropped first.
    return [
        *drop_guards(backend, "claims"),
        "UPDATE claims SET origin = 'digitalCreation', tool_id = NULL",
    ]


FORGERIES = ["approval inserted", "claim relabelled", "lineage emptied"]


def _forge(db_url: str, backend: str, forgery: str) -> str:
    """Commit the forgery as an insider with the database's password, who takes none of our
    locks: "committed", or "locked out" when the ledger's own locks kept it out."""
    url = db_url if "://" in db_url else f"sqlite:///{db_url}"
    waits = {"timeout": 0.2} if backend == "sqlite" else {"options": "-c lock_timeout=200"}
    insider = sa.create_engine(url, poolclass=sa.pool.NullPool, connect_args=waits)
    try:
        with insider.begin() as connection:
            for statement in _forgery(forgery, backend):
                connection.exec_driver_sql(statement)
        return "committed"
    except sa.exc.OperationalError:
        return "locked out"
    finally:
        insider.dispose()


@pytest.fixture
def generated_delivery(ledger: Ledger, workspace: Path) -> Path:
    """A delivery holding a comp made from a generated frame nobody approved: blocked."""
    write_image(workspace / "gen.png", seed="gen")
    write_image(workspace / "comp.png", seed="comp")
    ledger.add_tool("Runway Gen-4", generative=True, trains_on_inputs="no", secured="yes")
    ledger.ingest(["gen.png"], origin="ai", tool="Runway Gen-4", by="bob")
    ledger.ingest(["comp.png"], origin="human", by="carol", contains=["gen.png"])
    delivery = workspace / "delivery"
    delivery.mkdir()
    shutil.copy2(workspace / "comp.png", delivery / "comp.png")
    assert ledger.sweep(delivery).verdict.blocked
    return delivery


@pytest.mark.parametrize(
    ("forgery", "on_postgresql"),
    [
        # A row added commits (PostgreSQL has no lock of ours in its way): not in the snapshot.
        ("approval inserted", "committed"),
        # Dropping a guard, or emptying a table, waits for the tables the finalize holds.
        ("claim relabelled", "locked out"),
        ("lineage emptied", "locked out"),
    ],
)
def test_what_a_finalize_judges_is_the_history_it_verified(
    ledger: Ledger,
    db_url: str,
    backend: str,
    generated_delivery: Path,
    monkeypatch: pytest.MonkeyPatch,
    forgery: str,
    on_postgresql: str,
) -> None:
    # The insider forges the ledger straight in its tables the moment the finalize's audit
    # holds under its lock, before its check reads them: the check must judge the history the
    # audit verified, not the forgery. (SQLite: the finalize holds the file's write lock, so
    # no forgery commits until it is over. PostgreSQL: the insider takes no lock of ours; the
    # finalize reads one snapshot from its audit on.)
    import provenance.facade.delivering as delivering

    forged: list[str] = []
    audit_under_lock = delivering._audit_under_lock

    def audit_then_forge(*args: Any, **kwargs: Any) -> Any:
        trail = audit_under_lock(*args, **kwargs)
        forged.append(_forge(db_url, backend, forgery))
        return trail

    monkeypatch.setattr(delivering, "_audit_under_lock", audit_then_forge)
    report = ledger.finalize(generated_delivery, "EP101_v001")
    monkeypatch.undo()
    assert forged == ["locked out" if backend == "sqlite" else on_postgresql]
    assert not report.finalized
    assert [f.rule for f in report.verdict.findings if f.severity.value == "block"] == [
        "genai-unapproved"
    ]
    if forged == ["committed"]:
        # The forgery itself is in the table now, where the next audit finds it.
        assert not ledger.audit_verify().ok


@pytest.mark.parametrize("forgery", FORGERIES)
def test_a_forgery_after_the_audit_ahead_is_audited_under_the_lock(
    ledger: Ledger,
    db_url: str,
    backend: str,
    generated_delivery: Path,
    monkeypatch: pytest.MonkeyPatch,
    forgery: str,
) -> None:
    # The audit made while the delivery is read has passed; the insider forges before the
    # finalize takes its lock (nothing of ours is held: it commits). The finalize must not
    # take the audit made ahead for the history it now holds: it audits again, and refuses.
    from provenance.audit.ahead import AuditAhead

    forged: list[str] = []
    wait = AuditAhead.wait

    def wait_then_forge(self: AuditAhead) -> None:
        wait(self)
        forged.append(_forge(db_url, backend, forgery))

    monkeypatch.setattr(AuditAhead, "wait", wait_then_forge)
    with pytest.raises(AuditFailed, match="does not verify"):
        ledger.finalize(generated_delivery, "EP101_v001")
    monkeypatch.undo()
    assert forged == ["committed"]
    assert ledger.deliverables() == []
    with read_session(ledger.engine) as session:
        kinds = set(session.execute(sa.text("SELECT kind FROM events")).scalars())
    assert not kinds & {"finalize", "finalize.refused"}


def log_audits(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The threads the log is audited in, one a time it is: `provenance-audit-ahead` (while a
    finalize reads) or `MainThread` (under its lock)."""
    import threading

    import provenance.audit.ahead as ahead
    import provenance.audit.verification as verification

    audited: list[str] = []
    check_log = verification.check_log

    def counted(*args: Any, **kwargs: Any) -> Any:
        audited.append(threading.current_thread().name.split("_")[0])
        return check_log(*args, **kwargs)

    monkeypatch.setattr(verification, "check_log", counted)
    monkeypatch.setattr(ahead, "check_log", counted)
    return audited


def test_an_audit_made_ahead_stands_only_while_nothing_is_committed(
    ledger: Ledger,
    db_url: str,
    workspace: Path,
    generated_delivery: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A finalize audits the log once, while it reads the delivery, when nothing is committed
    # before it takes the lock; a legitimate write in between (another artist's approval)
    # has the log audited again under the lock, and judged: here it lets the frame through.
    import provenance.audit.ahead as ahead

    audited = log_audits(monkeypatch)
    refused = ledger.finalize(generated_delivery, "EP101_v001")
    assert not refused.finalized
    assert audited == ["provenance-audit-ahead"]

    AuditAhead = ahead.AuditAhead
    wait = AuditAhead.wait
    other = Ledger.open(db_url, cwd=workspace)

    def wait_then_approve(self: AuditAhead) -> None:
        wait(self)
        other.approve("gen.png", ref="PROD-1", by="studio contact", covers_tool_risk=True)

    audited.clear()
    monkeypatch.setattr(AuditAhead, "wait", wait_then_approve)
    try:
        report = ledger.finalize(generated_delivery, "EP101_v002")
    finally:
        other.close()
    assert audited == ["provenance-audit-ahead", "MainThread"]
    assert report.finalized, [f.rule for f in report.verdict.findings]


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


# -- the state against the events: every event commits to the rows its unit of work wrote ------


@pytest.fixture
def history(busy: Ledger, workspace: Path) -> Ledger:
    """`busy`, plus a comp made from the AI image using a performer's likeness, her consent, and a
    finalized delivery of the plates: every kind of row the ledger writes."""
    write_image(workspace / "comp.png", seed="comp")
    busy.ingest(["comp.png"], origin="human", by="dana", contains=["gen.png"], likeness=["Zoë Kim"])
    busy.add_consent("Zoë Kim", scope="S01 digital double", ref="SAG form 88")
    delivery = workspace / "delivery" / "EP101"
    delivery.mkdir(parents=True)
    for plate in sorted((workspace / "plates").iterdir()):
        shutil.copy2(plate, delivery / plate.name)
    assert busy.finalize(delivery, "EP101_v001").finalized
    return busy


def version_id(ledger: Ledger, target: str) -> int:
    return ledger.show(target).asset.version_id


def last_event(kind: str) -> str:
    return f"(SELECT max(id) FROM events WHERE kind = '{kind}')"


def tampered(run: Cli) -> list[str]:
    """What `audit verify` reports, which must be a failure (exit 3)."""
    result = run("audit", "verify", expect=3)
    return [line[len("TAMPERED ") :] for line in result.stdout.splitlines() if "TAMPERED" in line]


def test_an_untouched_ledger_with_every_kind_of_row_verifies(history: Ledger, run: Cli) -> None:
    report = history.audit_verify()
    assert (report.ok, report.problems, report.notes) == (True, [], [])
    assert "history verifies" in run("audit", "verify").stdout


# Each forgery: (SQL, given the version ids; what must be in one line of the report). The
# inserted rows point at an existing event of the right kind and carry its time, as a careful
# insider would make them.
FORGERIES: dict[str, tuple[Callable[[dict[str, int]], list[str]], list[str]]] = {
    "lineage edge": (
        lambda v: [
            "INSERT INTO lineage (child_id, parent_id, kind, created_at, event_id) "
            f"SELECT {v['comp']}, {v['plates']}, 'contains', at, id FROM events "
            f"WHERE id = {last_event('link')}"
        ],
        ["lineage edge ", "comp.png v1 \u2190 ", "p.####.tif v1 (contains) is not recorded by "
         "any event: inserted outside provenance (it names event #"],
    ),
    "approval": (
        lambda v: [
            "INSERT INTO approvals (version_id, digest, ref, approved_by, note, covers_tool_risk, "
            "recorded_by, created_at, event_id) SELECT v.id, v.digest, 'NFX-2', 'jane', NULL, "
            f"TRUE, 'mallory', e.at, e.id FROM asset_versions v, events e WHERE v.id = "
            f"{v['comp']} AND e.id = {last_event('approve')}"
        ],
        ["approval 'NFX-2' by jane of ", "comp.png v1 is not recorded by any event: inserted "
         "outside provenance"],
    ),
    "likeness": (
        lambda v: [
            "INSERT INTO likenesses (version_id, performer_key, performer, event_id) "
            f"SELECT {v['gen']}, 'mallory', 'Mallory', {last_event('ingest')}"
        ],
        ["likeness of Mallory on ", "gen.png v1 is not recorded by any event"],
    ),
    "consent": (
        lambda v: [
            "INSERT INTO consents (performer, performer_key, scope, ref, recorded_by, created_at, "
            "event_id) SELECT 'Mallory', 'mallory', 'everything', 'none', 'mallory', at, id "
            f"FROM events WHERE id = {last_event('consent')}"
        ],
        ["consent of Mallory ('none') is not recorded by any event: inserted outside provenance"],
    ),
    "deliverable": (
        lambda v: [
            "INSERT INTO deliverables (name, source, kind, policy_name, policy_digest, "
            "file_count, warnings, created_at, event_id) SELECT 'EP101_v002', source, kind, "
            "policy_name, policy_digest, 0, 0, created_at, event_id FROM deliverables"
        ],
        ["deliverable 'EP101_v002' is not recorded by any event: inserted outside provenance"],
    ),
    "deliverable file": (
        lambda v: [
            "INSERT INTO deliverable_files (deliverable_id, position, path, digest, size, "
            "version_id, frame) SELECT deliverable_id, 99, path, digest, size, version_id, frame "
            "FROM deliverable_files WHERE position = 0"
        ],
        ["deliverable 'EP101_v001' holds 4 files but was finalized with 3: files were added or "
         "removed outside provenance"],
    ),
    "row naming an event that writes no such rows": (
        lambda v: [
            "INSERT INTO lineage (child_id, parent_id, kind, created_at, event_id) "
            f"SELECT {v['comp']}, {v['plates']}, 'references', at, id FROM events "
            f"WHERE id = {last_event('tool.set')}"
        ],
        ["p.####.tif v1 (references) is not recorded by any event: inserted outside provenance "
         "(it names event #", ", tool.set)"],
    ),
    "tool facts": (
        lambda v: ["UPDATE tools SET trains_on_inputs = 'yes'"],
        ["tool 'Runway Gen-4' was changed after event #", " (tool.set) recorded it: "
         "trains_on_inputs is 'yes', the event says 'no'"],
    ),
    "asset version digest": (
        lambda v: [f"UPDATE asset_versions SET digest = 'xxh3-128:{'0' * 32}' WHERE id = {v['gen']}"],
        ["asset version ", "gen.png v1 (xxh3-128:", ") was changed after event #", " (ingest) "
         f"recorded it: digest is 'xxh3-128:{'0' * 32}', the event says 'xxh3-128:"],
    ),
    "asset version time": (
        lambda v: [f"UPDATE asset_versions SET created_at = '2020-01-01 00:00:00' WHERE id = {v['gen']}"],
        ["the time of asset versions recorded by event #", " (ingest) was changed outside "
         "provenance"],
    ),
}  # fmt: skip


@pytest.mark.parametrize("forgery", list(FORGERIES))
def test_a_row_written_outside_provenance_is_caught(
    history: Ledger, run: Cli, db_url: str, forgery: str
) -> None:
    make, expected = FORGERIES[forgery]
    versions = {
        name: version_id(history, target)
        for name, target in (
            ("comp", "comp.png"),
            ("gen", "gen.png"),
            ("plates", "plates/p.####.tif"),
        )
    }
    raw(db_url, make(versions))
    found = tampered(run)
    assert any(all(part in line for part in expected) for line in found), found


def test_a_deleted_ingest_claim_is_caught(
    history: Ledger, run: Cli, db_url: str, backend: str
) -> None:
    raw(db_url, [*drop_guards(backend, "claims"), "DELETE FROM claims WHERE claimed_by = 'alice'"])
    found = tampered(run)
    assert any(
        line.startswith("claim that ")
        and "p.####.tif v1 is capture, by alice (declared), recorded by event #" in line
        and line.endswith(" (ingest), is missing: deleted outside provenance")
        for line in found
    ), found


def test_a_member_given_other_content_is_caught(
    history: Ledger, run: Cli, db_url: str, backend: str
) -> None:
    plates, gen = version_id(history, "plates/p.####.tif"), version_id(history, "gen.png")
    raw(
        db_url,
        [
            *drop_guards(backend, "members"),
            f"UPDATE members SET content_id = (SELECT content_id FROM members WHERE version_id = "
            f"{gen}) WHERE version_id = {plates} AND position = 1",
        ],
    )
    found = tampered(run)
    assert len(found) == 1, found
    assert "p.####.tif v1 no longer add up to its digest, count and size: a member was " in found[0]


def test_a_deliverable_file_changed_is_caught(
    history: Ledger, run: Cli, db_url: str, backend: str
) -> None:
    raw(
        db_url,
        [
            *drop_guards(backend, "deliverable_files"),
            f"UPDATE deliverable_files SET digest = 'xxh3-128:{'0' * 32}' WHERE position = 1",
        ],
    )
    found = tampered(run)
    assert len(found) == 1, found
    assert found[0].startswith("the files of deliverable 'EP101_v001' differ from what event #")
    assert found[0].endswith(" (finalize) recorded: changed outside provenance")


def test_a_row_naming_no_event_is_caught(
    history: Ledger, run: Cli, db_url: str, backend: str
) -> None:
    comp, gen = version_id(history, "comp.png"), version_id(history, "gen.png")
    unchecked = (
        ["ALTER TABLE approvals DROP CONSTRAINT fk_approvals_event_id_events"]
        if backend == "postgresql"
        else []  # SQLite checks references only on connections that ask (the ledger's do)
    )
    raw(
        db_url,
        [
            *unchecked,
            "INSERT INTO approvals (version_id, digest, ref, approved_by, note, covers_tool_risk, "
            f"recorded_by, created_at, event_id) SELECT id, digest, 'NFX-3', 'jane', NULL, FALSE, "
            f"'mallory', created_at, 999999 FROM asset_versions WHERE id IN ({comp}, {gen})",
        ],
    )
    found = tampered(run)
    assert sum("(it names event #999999, which does not exist)" in line for line in found) == 2


def test_claims_on_any_evidence_are_committed_like_any_other(
    history: Ledger, run: Cli, db_url: str, backend: str
) -> None:
    # What an ingest that reads embedded C2PA manifests writes: claims that are not declarations,
    # in the ingest's own event, through the same unit of work as every other row.
    gen = version_id(history, "gen.png")
    spec = ClaimSpec(Origin.TRAINED_ALGORITHMIC_MEDIA, None, None, "c2pa", Evidence.EMBEDDED_SIGNED)
    with (
        write_session(history.engine) as session,
        unit_of_work_event(session, "ingest", {"paths": ["gen.png"]}) as unit,
    ):
        assert add_claims(session, [gen], spec, unit, skip_repeats=False) == [gen]
    assert history.audit_verify().ok
    raw(
        db_url,
        [*drop_guards(backend, "claims"), "UPDATE claims SET evidence = 'declared' WHERE "
         "claimed_by = 'c2pa'"],
    )  # fmt: skip
    found = tampered(run)
    assert any(
        "by c2pa (embedded-signed) was changed after event #" in line
        and "evidence is 'declared', the event says 'embedded-signed'" in line
        for line in found
    ), found


def event_ids(db_url: str, kind: str) -> list[int]:
    url = db_url if "://" in db_url else f"sqlite:///{db_url}"
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        found = connection.execute(
            sa.text("SELECT id FROM events WHERE kind = :kind ORDER BY id"), {"kind": kind}
        )
        ids = [event_id for (event_id,) in found]
    engine.dispose()
    return ids


def test_differing_rows_are_reported_as_data_and_worded_as_before(
    history: Ledger, run: Cli, db_url: str, backend: str, workspace: Path
) -> None:
    # A claim relabelled, a lineage edge inserted under the link, a consent deleted: the text,
    # the JSON and a refused finalize say them in the words the audit has always used.
    link, consent = event_ids(db_url, "link")[-1], event_ids(db_url, "consent")[-1]
    gen_ingest = event_ids(db_url, "ingest")[1]
    comp, plates = version_id(history, "comp.png"), version_id(history, "plates/p.####.tif")
    raw(
        db_url,
        [
            *drop_guards(backend, "claims", "consents"),
            "UPDATE claims SET origin = 'digitalCreation' WHERE claimed_by = 'bob'",
            "INSERT INTO lineage (child_id, parent_id, kind, created_at, event_id) "
            f"SELECT {comp}, {plates}, 'contains', at, id FROM events WHERE id = {link}",
            "DELETE FROM consents",
        ],
    )
    # Paths as recorded: below the SQLite ledger's own folder, absolute on PostgreSQL.
    here = "" if backend == "sqlite" else f"{workspace}/"
    lines = [
        f"claim that {here}gen.png v1 is ai made with Runway Gen-4, by bob (declared) was "
        f"changed after event #{gen_ingest} (ingest) recorded it: origin is 'digitalCreation', "
        "the event says 'trainedAlgorithmicMedia'",
        f"lineage edge {here}comp.png v1 \u2190 {here}plates/p.####.tif v1 (contains) is not "
        f"recorded by any event: inserted outside provenance (it names event #{link}, link)",
        f"consent of Zo\u00eb Kim ('SAG form 88'), recorded by event #{consent} (consent), is "
        "missing: deleted outside provenance",
    ]
    assert tampered(run) == lines
    document = json.loads(run("audit", "verify", "--json", expect=3).stdout)
    assert document["problems"] == lines
    assert [(d["kind"], d["table"], d["how"]) for d in document["differences"]] == [
        ("row", "claims", "changed"),
        ("row", "lineage", "added"),
        ("row", "consents", "removed"),
    ]
    relabelled, inserted, deleted = document["differences"]
    assert relabelled["changes"] == [
        {"column": "origin", "before": "trainedAlgorithmicMedia", "after": "digitalCreation"}
    ]
    assert (relabelled["event"], relabelled["tool"]) == (
        {"id": gen_ingest, "kind": "ingest"},
        "Runway Gen-4",
    )
    assert inserted["versions"] == {
        "child_id": {"id": comp, "path": f"{here}comp.png", "number": 1},
        "parent_id": {"id": plates, "path": f"{here}plates/p.####.tif", "number": 1},
    }
    assert deleted["values"]["performer"] == "Zo\u00eb Kim"
    refused = run("finalize", "delivery/EP101", "--name", "EP101_v002", expect=3)
    listed = "".join(f"  - {line}\n" for line in lines)
    assert refused.stderr == (
        "Error: The ledger's history does not verify, so nothing can be finalized or "
        f"checkpointed:\n{listed}Run `provenance audit verify` for the full report, and "
        "restore the ledger from a backup checked against your checkpoints.\n"
    )
    with pytest.raises(AuditFailed, match=r"does not verify \(3 problems\)") as failed:
        history.checkpoint()
    assert [audit_problem_text(p) for p in failed.value.report.problems] == lines


def test_the_state_rebuilt_from_an_export_alone_is_the_tables(
    history: Ledger, run: Cli, workspace: Path, backend: str
) -> None:
    output = workspace.parent / "events.jsonl"
    run("audit", "export", "-o", str(output))
    documents = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    rebuilt = rebuild_state((d["id"], d["kind"], d["payload"]) for d in documents)
    assert (rebuilt.legacy, rebuilt.unreadable) == ([], [])

    with read_session(history.engine) as session:
        connection = session.connection()
        tables = read_rows(connection)
        digests = {}
        for child in DIGESTS:
            lines = LineDigests()
            for event_id, line in child_lines(connection, child):
                lines.add(event_id, line)
            digests[child] = lines.result()

    def multisets(state: dict[str, dict[int, list[tuple[object, ...]]]]) -> dict[str, object]:
        return {
            table: {event: Counter(rows) for event, rows in per_event.items()}
            for table, per_event in state.items()
        }

    assert multisets(rebuilt.rows) == multisets(tables)
    assert rebuilt.digests == digests
    # The state, read from the events: the comp contains the AI image and uses Zoë's likeness.
    comp, gen = version_id(history, "comp.png"), version_id(history, "gen.png")
    lineage = {row for rows in rebuilt.rows["lineage"].values() for row in rows}
    assert (comp, gen, "contains") in lineage
    likenesses = {row for rows in rebuilt.rows["likenesses"].values() for row in rows}
    assert likenesses == {(comp, "zoë kim", "Zoë Kim")}
    (deliverable,) = [row for rows in rebuilt.rows["deliverables"].values() for row in rows]
    # Its source is the root it was under and the path below it (`NAME//PATH`: a SQLite
    # ledger's own folder, named by where it was first recorded); absolute outside every root.
    source = (
        f"{workspace}//delivery/EP101"
        if backend == "sqlite"
        else str(workspace / "delivery" / "EP101")
    )
    assert deliverable[1:3] == ("EP101_v001", source)


def test_events_written_before_row_commitments_keep_the_old_rules(
    busy: Ledger, run: Cli, db_url: str, backend: str
) -> None:
    # A ledger of an older version of provenance, upgraded: its events carry no rows.
    def strip(event_id: int, host: str, payload: str) -> tuple[str, str]:
        document = json.loads(payload)
        document.pop("rows", None)
        return host, json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    rewrite_chain(db_url, backend, strip)
    report = busy.audit_verify()
    assert report.ok and report.notes[0] == (
        f"written before row commitments ({report.size} events): their rows are checked by the "
        "old rules"
    )
    assert "note: written before row commitments" in run("audit", "verify").stdout
    # Changes made since commit to their rows, even to a tool registered before.
    busy.set_tool("Runway Gen-4", secured="yes")
    assert busy.audit_verify().ok
    raw(
        db_url,
        [
            *drop_guards(backend, "claims"),
            "UPDATE claims SET origin = 'digitalCreation' WHERE claimed_by = 'carol'",
            "INSERT INTO lineage (child_id, parent_id, kind, created_at, event_id) SELECT "
            "child_id, parent_id, 'contains', created_at, (SELECT min(id) FROM events WHERE "
            "kind = 'tool.set') FROM lineage",
            "UPDATE tools SET secured = 'no'",
        ],
    )
    found = tampered(run)
    assert any("was changed: origin 'digitalCreation'" in line for line in found), found
    assert any("a tool.set event, which records no lineage)" in line for line in found), found
    assert any("secured is 'no', the event says 'yes'" in line for line in found), found


# -- events whose tables are committed to by count and digest (past INLINE_ROWS rows) ----------


@pytest.fixture
def crowded(ledger: Ledger, workspace: Path) -> Ledger:
    """One ingest of more assets than an event lists, each with a claim: its versions and
    claims are committed to by count and digest."""
    write_notes(workspace / "notes", INLINE_ROWS + 1)
    ledger.ingest(["notes"], origin="capture", by="alice", workers=1)
    return ledger


def last_rows(db_url: str, kind: str) -> dict[str, Any]:
    """The `rows` document of the last event of this kind, with its id as `event`."""
    url = db_url if "://" in db_url else f"sqlite:///{db_url}"
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        event_id, payload = connection.exec_driver_sql(
            f"SELECT id, payload FROM events WHERE id = {last_event(kind)}"
        ).one()
    engine.dispose()
    return {**json.loads(payload)["rows"], "event": event_id}


def test_an_ingest_past_the_inline_limit_commits_by_digest_and_verifies(
    crowded: Ledger, db_url: str, backend: str, run: Cli
) -> None:
    rows = last_rows(db_url, "ingest")
    assert rows["schema"] == "Rows.2"
    for table in ("asset_versions", "claims"):
        assert rows[table] == {"rows": INLINE_ROWS + 1, "sha256": rows[table]["sha256"]}
    report = crowded.audit_verify()
    assert (report.ok, report.problems) == (True, [])
    # An event that lists every row is of the first form (which earlier versions wrote, and
    # still read), and both verify together.
    crowded.tag("notes/note_aaa.txt", "human", by="carol")
    tag_rows = last_rows(db_url, "claim")
    assert tag_rows["schema"] == "Rows.1" and len(tag_rows["claims"]) == 1
    assert "history verifies" in run("audit", "verify").stdout
    raw(db_url, [*drop_guards(backend, "claims"), "DELETE FROM claims WHERE claimed_by = 'carol'"])
    (found,) = tampered(run)
    assert found.endswith(" (claim), is missing: deleted outside provenance"), found


# Each forgery of a row under the crowded ingest: (SQL, given the event; what the count says).
DIGESTED_FORGERIES: dict[str, tuple[Callable[[int], list[str]], str, str]] = {
    "claim deleted": (
        lambda e: ["DELETE FROM claims WHERE id = (SELECT max(id) FROM claims)"],
        "claims", f"{INLINE_ROWS + 1:,} committed, {INLINE_ROWS:,} present",
    ),
    "claim edited": (
        lambda e: ["UPDATE claims SET origin = 'digitalCreation' WHERE id = "
                   "(SELECT min(id) FROM claims)"],
        "claims", f"{INLINE_ROWS + 1:,} committed, {INLINE_ROWS + 1:,} present",
    ),
    "claim added": (
        lambda e: ["INSERT INTO claims (version_id, origin, tool_id, tool_version, claimed_by, "
                   "evidence, detail, note, resolves, created_at, event_id) SELECT version_id, "
                   "'digitalCreation', NULL, NULL, 'mallory', evidence, NULL, NULL, resolves, "
                   "created_at, event_id FROM claims WHERE id = (SELECT min(id) FROM claims)"],
        "claims", f"{INLINE_ROWS + 1:,} committed, {INLINE_ROWS + 2:,} present",
    ),
    "asset version edited": (
        lambda e: [f"UPDATE asset_versions SET total_size = 1 WHERE id = (SELECT min(id) FROM "
                   f"asset_versions WHERE event_id = {e})"],
        "asset versions", f"{INLINE_ROWS + 1:,} committed, {INLINE_ROWS + 1:,} present",
    ),
}  # fmt: skip


@pytest.mark.parametrize("forgery", list(DIGESTED_FORGERIES))
def test_a_row_changed_under_an_event_that_committed_by_digest_is_caught(
    crowded: Ledger, run: Cli, db_url: str, backend: str, forgery: str
) -> None:
    make, table, counts = DIGESTED_FORGERIES[forgery]
    event_id = last_rows(db_url, "ingest")["event"]
    raw(db_url, [*drop_guards(backend, "claims"), *make(event_id)])
    assert tampered(run) == [
        f"the {table} recorded by event #{event_id} (ingest) are not the rows it committed to "
        f"({counts}): changed, added or removed outside provenance"
    ]


def test_an_export_carries_the_rows_an_event_committed_to_by_digest(
    crowded: Ledger, db_url: str
) -> None:
    rows = last_rows(db_url, "ingest")
    event_id = rows["event"]
    (exported,) = [e for e in crowded.export_events() if e["id"] == event_id]
    assert sorted(exported["digested_rows"]) == ["asset_versions", "claims"]
    for table, listed in exported["digested_rows"].items():
        text = json.dumps(listed, separators=(",", ":"), ensure_ascii=False)
        digest = "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()
        assert rows[table] == {"rows": len(listed), "sha256": digest}
    claims = {tuple(row) for row in exported["digested_rows"]["claims"]}
    assert len(claims) == INLINE_ROWS + 1 and all(c[4] == "alice" for c in claims)
    assert all("digested_rows" not in e for e in crowded.export_events() if e["id"] != event_id)


def test_a_finalize_that_fails_while_reading_leaves_no_audit_running(
    ledger: Ledger, generated_delivery: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The audit ahead runs beside the reading: when the reading fails (a disk gone, a Ctrl-C),
    # the audit is stopped and its thread and connection let go, and the next writer gets in.
    import threading

    import provenance.facade.delivering as delivering

    def reading_fails(*args: Any, **kwargs: Any) -> Any:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(delivering, "_read_delivery_unlocked", reading_fails)
    with pytest.raises(OSError, match="Input/output error"):
        ledger.finalize(generated_delivery, "EP101_v001")
    monkeypatch.undo()
    assert not [t for t in threading.enumerate() if t.name.startswith("provenance-audit-ahead")]
    ledger.add_tool("Nuke")
    assert not ledger.finalize(generated_delivery, "EP101_v001").finalized


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_ledger_file_replaced_while_a_finalize_reads_is_refused(
    ledger: Ledger, db_url: str, generated_delivery: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SQLite's file can be replaced under a running finalize: a copy with its claims relabelled
    # (nothing in its events says so) moved to the ledger's path after the audit ahead read the
    # real one. Judging the new file by the old file's audit would finalize the generated comp.
    import sqlite3

    from provenance.audit.ahead import AuditAhead

    wait = AuditAhead.wait

    def wait_then_replace(self: AuditAhead) -> None:
        wait(self)
        forged = f"{db_url}.forged"
        real, copy = sqlite3.connect(db_url), sqlite3.connect(forged, isolation_level=None)
        real.backup(copy)
        for statement in _forgery("claim relabelled", "sqlite"):
            copy.execute(statement)
        real.close()
        copy.close()
        os.replace(forged, db_url)

    monkeypatch.setattr(AuditAhead, "wait", wait_then_replace)
    with pytest.raises(ProvenanceError, match="was replaced while this finalize"):
        ledger.finalize(generated_delivery, "EP101_v001")
    monkeypatch.undo()
    assert ledger.deliverables() == []


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_on_another_sqlite_connection_the_audit_ahead_does_not_stand(
    ledger: Ledger, generated_delivery: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A SQLite data version is a connection's own: one asked of another connection than the
    # audit's (when the audit's cannot be lent to the write) says nothing about what the audit
    # read. The log is then audited again under the lock.
    import provenance.audit.ahead as ahead

    audited = log_audits(monkeypatch)
    monkeypatch.setattr(ahead.AuditAhead, "writer", lambda self: None)
    assert not ledger.finalize(generated_delivery, "EP101_v001").finalized
    assert audited == ["provenance-audit-ahead", "MainThread"]

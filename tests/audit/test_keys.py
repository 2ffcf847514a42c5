"""Checkpoint keys: the ledger trusts the studio's pinned keys, not whichever key is at hand."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from provenance import Ledger
from provenance.audit.chain import ChainState
from provenance.audit.checkpoints import make_checkpoint, write_checkpoint
from provenance.errors import AuditFailed, CheckpointKeyMissing, KeyNotTrusted, ProvenanceError
from provenance.keys import default_key_path, key_change_payload, public_hex
from provenance.store.engine import write_session
from provenance.store.events import GENESIS_HASH, canonical_event, event_hash, unit_of_work_event

from .. import unprivileged
from ..builders import write_image
from ..conftest import Cli
from .test_audit import drop_guards, raw


def write_key(path: Path) -> Ed25519PrivateKey:
    key = Ed25519PrivateKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return key


def public(key: Ed25519PrivateKey) -> str:
    return public_hex(key.public_key())


def studio_key() -> Ed25519PrivateKey:
    """The key the first checkpoint made in the test's config folder."""
    loaded = serialization.load_pem_private_key(default_key_path().read_bytes(), password=None)
    assert isinstance(loaded, Ed25519PrivateKey)
    return loaded


@pytest.fixture
def show(ledger: Ledger, workspace: Path) -> Ledger:
    """A plate, an AI element, a delivery of the plate finalized: the studio's key (made in the
    config folder on first use) is pinned by the finalize, which also wrote a checkpoint."""
    write_image(workspace / "plate.png", seed="plate")
    write_image(workspace / "gen.png", seed="gen")
    ledger.add_tool("Runway Gen-4", generative=True, trains_on_inputs="no", secured="yes")
    ledger.ingest(["plate.png"], origin="capture", by="alice")
    ledger.ingest(["gen.png"], origin="ai", tool="Runway Gen-4", by="bob")
    delivery = workspace / "delivery" / "EP101"
    delivery.mkdir(parents=True)
    shutil.copy2(workspace / "plate.png", delivery / "plate.png")
    assert ledger.finalize(delivery, "EP101_v001").finalized
    return ledger


def rewrite_history(
    db_url: str, backend: str, edit: Callable[[int, str, str, str, str], str | None]
) -> None:
    """An owner's rewrite: `edit(id, kind, payload, prev_hash, ledger_id)` gives each event's new
    payload (None drops the event), and every hash is recomputed so that the chain holds."""
    guards = (
        ["events_no_update", "events_no_delete"]
        if backend == "sqlite"
        else ["events_append_only ON events"]
    )
    raw(db_url, [f"DROP TRIGGER IF EXISTS {guard}" for guard in guards])
    url = db_url if "://" in db_url else f"sqlite:///{db_url}"
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.begin() as connection:
        rows = connection.exec_driver_sql(
            "SELECT id, kind, actor, host, at, payload FROM events ORDER BY id"
        ).all()
        previous = GENESIS_HASH
        first = ""
        for event_id, kind, actor, host, at, payload in rows:
            edited = edit(event_id, kind, payload, previous, first)
            if edited is None:
                connection.execute(sa.text("DELETE FROM events WHERE id = :i"), {"i": event_id})
                continue
            moment = at if not isinstance(at, str) else dt.datetime.fromisoformat(at)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=dt.timezone.utc)
            digest = event_hash(canonical_event(kind, actor, host, moment, edited, previous))
            connection.execute(
                sa.text(
                    "UPDATE events SET payload = :p, prev_hash = :prev, hash = :h WHERE id = :i"
                ),
                {"p": edited, "prev": previous, "h": digest, "i": event_id},
            )
            previous = digest
            first = first or digest
    engine.dispose()


def relabel_ai_as_human(db_url: str, backend: str) -> None:
    """The forgery of the issue: the AI claim and its event's payload relabelled as human."""
    raw(
        db_url,
        [
            *drop_guards(backend, "claims"),
            "UPDATE claims SET origin = 'digitalCreation' WHERE origin = 'trainedAlgorithmicMedia'",
        ],
    )
    rewrite_history(
        db_url,
        backend,
        lambda i, kind, payload, prev, first: payload.replace(
            "trainedAlgorithmicMedia", "digitalCreation"
        ),
    )


def tampered(run: Cli) -> list[str]:
    result = run("audit", "verify", expect=3)
    return [line[len("TAMPERED ") :] for line in result.stdout.splitlines() if "TAMPERED" in line]


# -- pinning the first key ---------------------------------------------------------------------


def test_the_first_checkpoint_pins_its_key_and_only_that_key_signs(
    ledger: Ledger, workspace: Path, run: Cli
) -> None:
    assert "trusts no checkpoint key yet" in ledger.audit_verify().notes[-1]
    assert not default_key_path().exists()
    _, document = ledger.checkpoint()
    assert default_key_path().exists()  # made on first use, for a ledger that trusts none yet
    (key,) = ledger.keys().keys
    assert (key.public_key, key.signed_by, key.retired_by) == (
        document["public_key"],
        document["public_key"],
        None,
    )
    assert [e["kind"] for e in ledger.export_events()] == ["init", "key.trust"]
    report = ledger.audit_verify()
    assert (report.ok, report.notes, [c.problem for c in report.checkpoints]) == (True, [], [None])
    listed = run("audit", "keys").stdout.splitlines()
    assert (
        listed[0] == f"trusted  {key.public_key}  since event #2 (pinned first, signed by itself)"
    )
    assert listed[-1].endswith(f"{key.fingerprint}, trusted: it signs checkpoints here")
    as_json = json.loads(run("audit", "keys", "--json").stdout)
    assert as_json["schema"] == "TrustedKeys.1" and as_json["keys"][0]["added_by_event"] == 2
    # Another key at hand signs nothing, and is not made trusted by trying.
    other = write_key(workspace.parent / "other.pem")
    with pytest.raises(KeyNotTrusted, match=public(other)):
        ledger.checkpoint(key=workspace.parent / "other.pem")
    assert [k.public_key for k in ledger.keys().keys] == [key.public_key]


def test_a_refused_finalize_pins_no_key_and_makes_none(ledger: Ledger, workspace: Path) -> None:
    write_image(workspace / "delivery" / "untracked.png")
    assert not ledger.finalize(workspace / "delivery", "EP101_v001").finalized
    assert not default_key_path().exists() and ledger.keys().keys == []


# -- the case: a rewritten ledger, finalized elsewhere ---------------------------------


def test_a_finalize_without_the_studios_key_says_which_key_and_where(
    show: Ledger, run: Cli, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    studio = public(studio_key())
    elsewhere = workspace.parent / "elsewhere"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(elsewhere))
    write_image(workspace / "delivery" / "EP102" / "gen.png", seed="gen")
    events = len(list(show.export_events()))

    refused = run("finalize", "delivery/EP102", "--name", "EP102_v001", expect=1)
    expected = elsewhere / "provenance" / "checkpoint-ed25519.pem"
    assert refused.stderr.startswith(
        f"Error: This ledger trusts checkpoint key {studio[:16]} (event #"
    )
    assert f"there is no private key at {expected}" in refused.stderr
    assert "provenance audit keys add YOUR_PUBLIC_KEY --key TRUSTED_KEY" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert not elsewhere.exists() and len(list(show.export_events())) == events
    refused = run("audit", "checkpoint", expect=1)
    assert f"there is no private key at {expected}" in refused.stderr

    # A key of one's own, named with --key, is not trusted either.
    other = write_key(workspace.parent / "mine.pem")
    refused = run(
        "finalize", "delivery/EP102", "--name", "EP102_v001", "--key", "../mine.pem", expect=1
    )
    assert f"is key {public(other)[:16]}, which this ledger does not trust" in refused.stderr
    assert f"provenance audit keys add {public(other)} --key TRUSTED_KEY" in refused.stderr
    assert len(list(show.export_events())) == events


def test_a_rewritten_ledger_is_not_finalized_with_whatever_key_is_at_hand(
    show: Ledger,
    run: Cli,
    db_url: str,
    backend: str,
    workspace: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The case: the AI claim and its event relabelled as human, every hash recomputed.
    relabel_ai_as_human(db_url, backend)
    found = tampered(run)
    # The key event signed its place in the log: moved by the rewrite, it trusts nothing.
    assert "(key.trust) carries a signature of key" in found[0]
    # (The finalize's checkpoint covers its finalize event; the manifest's event follows it.)
    assert any("rewritten" in line for line in found)
    elsewhere = workspace.parent / "elsewhere"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(elsewhere))
    write_image(workspace / "delivery" / "EP102" / "gen.png", seed="gen")
    events = len(list(show.export_events()))
    refused = run("finalize", "delivery/EP102", "--name", "EP102_v001", expect=3)
    assert "The ledger's history does not verify" in refused.stderr
    assert not elsewhere.exists()  # the key a first pin would have made was never saved
    # The rewriter also drops the key event: the studio's checkpoint, out of their reach, is
    # now by a key the ledger does not trust, and the log does not extend it.
    rewrite_history(
        db_url,
        backend,
        lambda i, kind, payload, prev, first: None if kind == "key.trust" else payload,
    )
    refused = run("finalize", "delivery/EP102", "--name", "EP102_v001", expect=3)
    assert "  - checkpoint " in refused.stderr  # the studio's, out of the rewriter's reach
    assert not elsewhere.exists()
    assert len(list(show.export_events())) == events - 1


def test_a_rewriter_who_pins_a_key_of_their_own_is_caught_by_the_studios_checkpoints(
    show: Ledger, run: Cli, db_url: str, backend: str, workspace: Path
) -> None:
    mallory = write_key(workspace.parent / "mallory.pem")

    def pin_mallory(event_id: int, kind: str, payload: str, prev: str, first: str) -> str:
        if kind != "key.trust":
            return payload
        document = json.loads(payload)
        document.update(key_change_payload(mallory, first, prev, kind, [public(mallory)]))
        return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    relabel_ai_as_human(db_url, backend)
    rewrite_history(db_url, backend, pin_mallory)
    # The ledger's own key events hold now: only the studio's checkpoint shows the rewrite.
    assert [k.public_key for k in show.keys().keys] == [public(mallory)]
    found = tampered(run)
    assert any("which this ledger does not trust" in line or "rewritten" in line for line in found)
    with pytest.raises(AuditFailed):
        show.finalize(
            workspace / "delivery" / "EP101", "EP101_v002", key=workspace.parent / "mallory.pem"
        )
    # Where the checkpoints were lost too, the studio's pin outside the database still holds.
    shutil.rmtree(show.checkpoints_folder())
    assert show.audit_verify().ok  # nothing outside the database left to compare with
    pinned = run("audit", "verify", "--key", str(default_key_path()), expect=3)
    assert (
        f"TAMPERED this ledger trusts key {public(mallory)[:16]} (event #" in pinned.stdout
        and f"which --key {default_key_path()} does not list" in pinned.stdout
    ), pinned.stdout


# -- checkpoints by keys the ledger does not trust ---------------------------------------------


def test_a_checkpoint_by_a_key_the_ledger_does_not_trust_is_a_problem(
    show: Ledger, run: Cli, workspace: Path
) -> None:
    other = write_key(workspace.parent / "td.pem")
    stray = write_checkpoint(show.checkpoints_folder(), make_checkpoint(_chain(show), other))
    (found,) = tampered(run)
    assert found == (
        f"checkpoint {stray.name}: it is signed by key {public(other)[:16]}, which this ledger "
        f"does not trust (it trusts {public(studio_key())[:16]} (event #"
        + found.split("(event #", 1)[1].split(")", 1)[0]
        + f")): if it is the studio's, add it with `provenance audit keys add {public(other)} "
        "--key TRUSTED_KEY`; otherwise remove this file"
    )
    write_image(workspace / "delivery" / "EP102" / "plate.png", seed="plate")
    with pytest.raises(AuditFailed, match=r"does not verify \(1 problem\)") as refused:
        show.finalize(workspace / "delivery" / "EP102", "EP102_v001")
    assert refused.value.report.problems == [found]
    # The studio adopts the TD's key: its checkpoints count from then on.
    added = run("audit", "keys", "add", public(other), "--key", str(default_key_path()))
    assert added.stdout.startswith(f"trusted {public(other)}\n  event #")
    assert show.audit_verify().ok
    assert show.finalize(
        workspace / "delivery" / "EP102", "EP102_v001", key=workspace.parent / "td.pem"
    ).finalized


def _chain(ledger: Ledger) -> ChainState:
    report = ledger.audit_verify()
    assert report.chain is not None
    return report.chain


# -- nobody who can only write the database makes a key trusted --------------------------------


def forge_key_event(ledger: Ledger, kind: str, payload: dict[str, object]) -> None:
    """Append a key event through the library's own unit of work, as any writer could."""
    with write_session(ledger.engine) as session, unit_of_work_event(session, kind, payload):
        pass


def test_a_key_event_not_signed_by_a_trusted_key_trusts_nothing(
    show: Ledger, run: Cli, workspace: Path
) -> None:
    mallory = write_key(workspace.parent / "mallory.pem")
    events = list(show.export_events())
    first, last = events[0]["hash"], events[-1]["hash"]
    # Signed by mallory's own key: a first key pins itself, but this ledger has one already.
    forge_key_event(
        show, "key.trust", key_change_payload(mallory, first, last, "key.trust", [public(mallory)])
    )
    # A genuine signature of the studio's key, replayed from elsewhere (another place in the log).
    replayed = key_change_payload(studio_key(), first, first, "key.trust", [public(mallory)])
    forge_key_event(show, "key.trust", replayed)
    # A key change of a form this version does not read.
    forge_key_event(show, "key.retire", {"trust": [], "retire": ["zz"], "signed_by": "x"})
    found = tampered(run)
    assert found[0].endswith(
        f"(key.trust) changes keys {public(mallory)[:16]} on the signature of key "
        f"{public(mallory)[:16]}, which this ledger did not trust then: only a trusted key can "
        "change which keys are trusted; the change is not applied"
    )
    assert "carries a signature of key" in found[1] and "at this place in this ledger" in found[1]
    assert "is not a key change this version of provenance reads" in found[2]
    assert [k.public_key for k in show.keys().keys] == [public(studio_key())]
    with pytest.raises(KeyNotTrusted):
        show.checkpoint(key=workspace.parent / "mallory.pem")


def test_adding_rotating_and_retiring_keys(show: Ledger, run: Cli, workspace: Path) -> None:
    studio = studio_key()
    td = write_key(workspace.parent / "td.pem")
    vault = write_key(workspace.parent / "vault.pem")
    old = show.checkpoint()[0]
    # Only a trusted key signs a change.
    with pytest.raises(KeyNotTrusted, match="only a trusted key"):
        show.trust_key(public(vault), key=workspace.parent / "td.pem")
    change = show.trust_key(workspace.parent / "td.pem", key=default_key_path())
    assert (change.kind, change.trusted, change.signed_by) == (
        "key.trust",
        [public(td)],
        public(studio),
    )
    with pytest.raises(ProvenanceError, match="trusted already"):
        show.trust_key(public(td), key=default_key_path())
    show.checkpoint(key=workspace.parent / "td.pem")
    # Rotation: the vault's key is trusted and the studio's retired, in one event it signs.
    rotated = json.loads(
        run(
            "audit", "keys", "rotate", public(vault), "--key", str(default_key_path()), "--json"
        ).stdout
    )
    assert rotated["schema"] == "KeyChangeReport.1" and rotated["retired"] == [public(studio)]
    report = show.audit_verify()
    assert report.ok and len(report.checkpoints) == 3  # the old key's checkpoints still count
    # ... but not one it signs after its retirement.
    late = write_checkpoint(show.checkpoints_folder(), make_checkpoint(_chain(show), studio))
    assert any(
        p.startswith(f"checkpoint {late.name}: it is signed by key {public(studio)[:16]} over")
        and "but that key was retired by event #" in p
        for p in show.audit_verify().problems
    )
    late.unlink()
    with pytest.raises(KeyNotTrusted, match="does not trust"):
        show.checkpoint(key=default_key_path())
    with pytest.raises(ProvenanceError, match=r"retired by event #.*not trusted again"):
        show.trust_key(public(studio), key=workspace.parent / "vault.pem")
    show.retire_key(public(td)[:10], key=workspace.parent / "vault.pem")
    with pytest.raises(ProvenanceError, match="every trusted key"):
        show.retire_key(public(vault)[:8], key=workspace.parent / "vault.pem")
    states = [line.split()[0] for line in run("audit", "keys").stdout.splitlines()[:3]]
    assert states == ["retired", "retired", "trusted"]
    assert show.audit_verify().ok and old.exists()
    assert show.finalize(
        workspace / "delivery" / "EP101", "EP101_v002", key=workspace.parent / "vault.pem"
    ).finalized


def test_the_first_key_signs_its_own_pinning(ledger: Ledger, workspace: Path, run: Cli) -> None:
    studio = write_key(workspace.parent / "studio.pem")
    other = write_key(workspace.parent / "other.pem")
    with pytest.raises(ProvenanceError, match="its first key pins itself"):
        ledger.trust_key(public(other), key=workspace.parent / "studio.pem")
    with pytest.raises(CheckpointKeyMissing, match="No private key at"):
        ledger.trust_key(key=workspace.parent / "missing.pem")
    added = run("audit", "keys", "add", "--key", "../studio.pem")
    assert added.stdout.startswith(f"trusted {public(studio)}\n")
    assert [k.public_key for k in ledger.keys().keys] == [public(studio)]
    assert other is not None


# -- the studio's pin outside the database ----------------------------------------------------


def test_the_studios_pin_outside_the_database(
    ledger: Ledger, workspace: Path, run: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    studio = write_key(workspace.parent / "studio.pem")
    mallory = write_key(workspace.parent / "mallory.pem")
    listing = workspace.parent / "trusted-keys"
    listing.write_text(f"# the studio's checkpoint keys\n{public(studio)}  # 2026 key\n")
    monkeypatch.setenv("PROVENANCE_TRUSTED_KEYS", str(listing))
    # Only a listed key may be pinned, and signs.
    with pytest.raises(KeyNotTrusted, match="not among the studio's keys"):
        ledger.trust_key(key=workspace.parent / "mallory.pem")
    with pytest.raises(KeyNotTrusted):
        ledger.checkpoint(key=workspace.parent / "mallory.pem")
    ledger.checkpoint(key=workspace.parent / "studio.pem")
    assert ledger.audit_verify().ok
    # A key made trusted in the database, with no signature the studio's pin knows of.
    monkeypatch.delenv("PROVENANCE_TRUSTED_KEYS")
    ledger.trust_key(public(mallory), key=workspace.parent / "studio.pem")
    monkeypatch.setenv("PROVENANCE_TRUSTED_KEYS", public(studio))
    (found,) = tampered(run)
    assert found.startswith(f"this ledger trusts key {public(mallory)[:16]} (event #")
    assert found.endswith(
        "which $PROVENANCE_TRUSTED_KEYS does not list: it was made trusted in the database "
        "without the studio's pin. If the studio added it, add it to the list"
    )
    listing.write_text("not a key\n")
    monkeypatch.setenv("PROVENANCE_TRUSTED_KEYS", str(listing))
    assert "Line 1 of" in run("audit", "verify", expect=1).stderr


# -- checkpoint files that are not checkpoints -------------------------------------------------

NOT_CHECKPOINTS: dict[str, tuple[bytes, str]] = {
    "size-text": (
        b'{"schema":"Checkpoint.1","size":"seven"}',
        'is not a checkpoint: it has no ledger; its size is "seven", not a whole number of '
        "events (1 or more); it has no root; it has no at; it has no public_key; it has no "
        "signature",
    ),
    "size-null": (b'{"schema":"Checkpoint.1","size":null}', "its size is null, not a whole number"),
    "size-huge": (b'{"schema":"Checkpoint.1","size":1e400}', "its size is Infinity, not a whole"),
    "truncated": (
        b'{"schema": "Checkpoint.1", "ledger": "sha256:',
        "is not a checkpoint: it is not valid JSON (Unterminated string starting at: line 1, "
        "column 38): it was cut short or damaged",
    ),
    "wrong-types": (
        b'{"schema":"Checkpoint.1","ledger":1,"size":true,"root":[],"at":"yesterday",'
        b'"public_key":{},"signature":"zz"}',
        "is not a checkpoint: its ledger is 1, not the hash of an event (sha256: and 64 hex "
        "digits); its size is true, not a whole number of events (1 or more); its root is [], "
        'not a Merkle root (64 hex digits); its at is "yesterday", not a time in ISO 8601; its '
        'public_key is {}, not an Ed25519 public key (64 hex digits); its signature is "zz", '
        "not an Ed25519 signature (128 hex digits)",
    ),
    "list": (b"[1, 2]", "is not a checkpoint: it holds a JSON list, not an object"),
    "schema": (b'{"schema":"Manifest.1"}', "its schema is \"Manifest.1\", not 'Checkpoint.1'"),
    "binary": (b"\xff\xfe\x00garbage", "is not a checkpoint: it is not UTF-8 text"),
    "deep": (b"[" * 20_000, "is not a checkpoint: it is not JSON this version of provenance"),
    "huge": (b" " * 70_000 + b"{}", "is not a checkpoint: it is larger than 64 KiB"),
}


@pytest.mark.parametrize("case", list(NOT_CHECKPOINTS))
def test_a_file_that_is_not_a_checkpoint_is_reported_by_name(
    show: Ledger, run: Cli, workspace: Path, case: str
) -> None:
    content, expected = NOT_CHECKPOINTS[case]
    folder = show.checkpoints_folder()
    bad = folder / f"0000-{case}.json"
    bad.write_bytes(content)
    result = run("audit", "verify", expect=3)
    assert "Traceback" not in result.output
    (found,) = [line for line in result.stdout.splitlines() if line.startswith("TAMPERED")]
    assert found.startswith(f"TAMPERED checkpoint {bad.name}: ") and expected in found, found
    # The studio's genuine checkpoint is still checked.
    assert "DOES NOT verify (1 of 2 checkpoints consistent" in result.stdout
    checks = json.loads(run("audit", "verify", "--json", expect=3).stdout)["checkpoints"]
    assert [(c["checked"], c["problem"] is None) for c in checks] == [(False, False), (True, True)]
    refused = run("finalize", "delivery/EP101", "--name", "EP101_v002", expect=3)
    assert f"checkpoint {bad.name}: " in refused.stderr and "Traceback" not in refused.stderr


def test_a_checkpoints_folder_that_cannot_be_read_is_a_problem(workspace: Path) -> None:
    write_image(workspace / "plate.png")
    with Ledger.create(str(workspace / ".provenance" / "ledger.db"), cwd=workspace) as ledger:
        ledger.ingest(["plate.png"], origin="capture")
        ledger.checkpoint()
        folder = ledger.checkpoints_folder()
    folder.chmod(0)
    try:
        result = unprivileged.provenance("audit", "verify", cwd=workspace)
    finally:
        folder.chmod(0o755)
    assert result.returncode == 3, result.stdout + result.stderr
    assert f"TAMPERED the checkpoints folder {folder} cannot be read (Permission denied)" in (
        result.stdout
    )

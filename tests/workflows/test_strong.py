"""Collision-resistant digests beside xxh3-128: `approve --strong` and `finalize --strong`, on
both ledgers; the comparison that catches a crafted collision, pure."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import blake3
import pytest
from sqlalchemy import select

from provenance import Ledger, ProvenanceError
from provenance.digests import aggregate
from provenance.obligations import VersionFacts
from provenance.policy import DEFAULT_POLICY, Policy, Severity
from provenance.store.engine import read_session
from provenance.store.models import Event
from provenance.strong import RULE, approval_mismatches

from ..builders import write_sequence
from ..conftest import Cli
from .test_delivery import FRAMES, deliver, show  # noqa: F401 (the fixture)

SKY = "elements/sky_gen_v001.####.tif"


def strong_of(folder: Path, stem: str, make: type) -> str:
    """An asset's strong digest computed here: each frame's, in frame order, as lines."""
    name = "sha256" if make is hashlib.sha256 else "blake3"
    members = [
        (frame, f"{name}:{make((folder / f'{stem}.{frame}.tif').read_bytes()).hexdigest()}")
        for frame in FRAMES
    ]
    text = "".join(f"{frame}={digest}\n" for frame, digest in members)
    return f"{name}:{make(text.encode()).hexdigest()}"


def payloads(ledger: Ledger, kind: str) -> list[dict[str, object]]:
    with read_session(ledger.engine) as session:
        return [
            json.loads(p)
            for p in session.execute(
                select(Event.payload).where(Event.kind == kind).order_by(Event.id)
            ).scalars()
        ]


@pytest.mark.parametrize(
    ("algorithm", "make"), [("sha256", hashlib.sha256), ("blake3", blake3.blake3)]
)
def test_approve_strong_binds_the_approved_bytes(
    show: Ledger,  # noqa: F811
    workspace: Path,
    algorithm: str,
    make: type,
) -> None:
    approval = show.approve(SKY, ref="NFX-1", by="jane", strong=algorithm)
    expected = strong_of(workspace / "elements", "sky_gen_v001", make)
    assert approval.strong_digest == expected
    assert payloads(show, "approve")[-1]["strong_digest"] == expected


def test_approve_strong_reads_the_recorded_bytes_or_refuses(
    show: Ledger,  # noqa: F811
    workspace: Path,
) -> None:
    frame = workspace / "elements" / "sky_gen_v001.1003.tif"
    frame.write_bytes(b"not the recorded bytes")
    with pytest.raises(ProvenanceError, match="1 of the 5 files"):
        show.approve(SKY, ref="NFX-1", by="jane", strong="sha256")
    assert payloads(show, "approve") == []
    with pytest.raises(ProvenanceError, match="sha256 or blake3"):
        show.approve(SKY, ref="NFX-1", by="jane", strong="md5")


def test_finalize_strong(show: Ledger, workspace: Path, run: Cli) -> None:  # noqa: F811
    """The manifest lists each file's SHA-256, the event the manifest's own; each file is read
    once; a version approved with a strong digest and delivered whole passes."""
    run("approve", SKY, "--ref", "NFX-1", "--by", "jane", "--strong", "sha256")
    delivery = deliver(workspace, "comp", "elements", name="out/EP101")
    time.sleep(0.05)  # (past the racy window: the locked check trusts the one reading)
    done = show.finalize(delivery, "EP101", strong="sha256")
    assert done.finalized and done.files_read == 2 * len(FRAMES)
    manifest_file = delivery / "provenance-manifest.json"
    manifest = json.loads(manifest_file.read_text())
    assert manifest["strong_algorithm"] == "sha256"
    for item in manifest["files"]:
        body = (delivery / item["path"]).read_bytes()
        assert item["sha256"] == "sha256:" + hashlib.sha256(body).hexdigest()
    (recorded,) = payloads(show, "finalize.manifest")
    assert (
        recorded["strong_digest"]
        == "sha256:" + hashlib.sha256(manifest_file.read_bytes()).hexdigest()
    )
    assert payloads(show, "finalize")[-1]["strong"] == "sha256"
    # Without --strong, nothing changes.
    plain = deliver(workspace, "plates", name="out/EP102")
    run("finalize", "out/EP102", "--name", "EP102")
    assert "strong_algorithm" not in json.loads((plain / "provenance-manifest.json").read_text())


def test_a_file_changed_during_the_finalize_is_read_again(
    show: Ledger,  # noqa: F811
    workspace: Path,
) -> None:
    """A file rewritten (with the same bytes) between the reading and the locked check: its
    strong digest is read again, and still describes what was recorded."""
    delivery = deliver(workspace, "plates", name="out/EP103")
    assert show.finalize(delivery, "EP103", strong="blake3").finalized
    write_sequence(delivery / "plates", "sh010_plate", FRAMES, seed="plate")  # same bytes
    time.sleep(0.01)
    assert show.finalize(delivery, "EP103b", strong="blake3").finalized


VERSION = VersionFacts(7, 7, "/show/elements/sky.####.exr", 1, 1, "xxh3-128:aa", 3)


def frames(tag: str) -> list[tuple[int | None, str]]:
    return [(1001 + i, f"sha256:{tag}{i}") for i in range(3)]


def test_a_crafted_collision_is_refused() -> None:
    """Bytes that share the approved version's xxh3-128 (so they resolve to it) but not its
    strong digest: the one thing a crafted collision cannot fake."""
    approved = aggregate("sha256", frames("good"))
    assert (
        approval_mismatches(
            {7: VERSION}, {7: frames("good")}, {7: [("NFX-1", approved)]}, DEFAULT_POLICY
        )
        == []
    )
    (finding,) = approval_mismatches(
        {7: VERSION}, {7: frames("evil")}, {7: [("NFX-1", approved)]}, DEFAULT_POLICY
    )
    assert finding.rule == RULE and finding.blocks and "NFX-1" in finding.message
    assert finding.details["recorded"] == approved
    # Frames given in another order are the same delivery (the digest is in frame order).
    shuffled = list(reversed(frames("good")))
    assert (
        approval_mismatches({7: VERSION}, {7: shuffled}, {7: [("NFX-1", approved)]}, DEFAULT_POLICY)
        == []
    )
    # Part of the version delivered, or another algorithm: nothing to compare.
    assert (
        approval_mismatches(
            {7: VERSION}, {7: frames("evil")[:2]}, {7: [("NFX-1", approved)]}, DEFAULT_POLICY
        )
        == []
    )
    blake = aggregate("blake3", [(f, d.replace("sha256", "blake3")) for f, d in frames("good")])
    assert (
        approval_mismatches(
            {7: VERSION}, {7: frames("evil")}, {7: [("NFX-1", blake)]}, DEFAULT_POLICY
        )
        == []
    )
    relaxed = Policy(
        "studio", {**DEFAULT_POLICY.severities, RULE: Severity.OFF}, extends=DEFAULT_POLICY.name
    )
    assert (
        approval_mismatches({7: VERSION}, {7: frames("evil")}, {7: [("NFX-1", approved)]}, relaxed)
        == []
    )

"""Two processes at once: a finalize racing a re-tag never marks AI material final."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from provenance import Ledger
from provenance.store.engine import read_session
from provenance.store.models import Claim, Deliverable, Event

from .builders import write_sequence

ROUNDS = 6


def provenance(db_url: str, cwd: Path, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVENANCE_")}
    return subprocess.Popen(
        [sys.executable, "-m", "provenance", "--db", db_url, *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def test_finalize_racing_a_retag_never_finalizes_ai(
    ledger: Ledger, db_url: str, workspace: Path
) -> None:
    write_sequence(workspace / "plates", "sh010_plate", range(1001, 1041))
    ledger.add_tool("Runway Gen-4", generative=True, trains_on_inputs="no", secured="yes")
    ledger.ingest(["plates"], origin="capture", by="alice")
    rng = random.Random(7)
    outcomes = set()
    for round_number in range(ROUNDS):
        name = f"EP101_RACE_v{round_number:03d}"
        finalize = provenance(db_url, workspace, "finalize", "plates", "--name", name)
        time.sleep(rng.uniform(0.0, 1.2))
        retag = provenance(
            db_url, workspace, "tag", "plates/sh010_plate.####.tif", "--origin", "ai",
            "--tool", "Runway Gen-4", "--by", "mallory",
        )  # fmt: skip
        _, finalize_err = finalize.communicate(timeout=120)
        _, retag_err = retag.communicate(timeout=120)
        assert retag.returncode == 0, retag_err
        assert finalize.returncode in (0, 3), finalize_err
        with read_session(ledger.engine) as session:
            deliverable = session.execute(
                select(Deliverable).where(Deliverable.name == name)
            ).scalar()
            ai_claim_event = session.execute(
                select(Claim.event_id)
                .where(Claim.claimed_by == "mallory")
                .order_by(Claim.id.desc())
                .limit(1)
            ).scalar_one()
            if deliverable is not None:
                # Finalized: the re-tag must have come after the mark, never between check and mark.
                assert finalize.returncode == 0
                assert deliverable.event_id < ai_claim_event
                outcomes.add("finalized first")
            else:
                assert finalize.returncode == 3
                refusal = session.execute(
                    select(Event.id)
                    .where(Event.kind == "finalize.refused")
                    .order_by(Event.id.desc())
                ).scalar_one()
                assert refusal > ai_claim_event
                outcomes.add("refused after the re-tag")
        # A TD settles it so the next round starts from camera plates again.
        ledger.tag(
            "plates/sh010_plate.####.tif",
            "capture",
            note=f"round {round_number}: camera",
            resolve=True,
        )
    assert outcomes  # at least one outcome observed; both are legal, nothing else is

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
from provenance.store.models import AssetVersion, Claim, Deliverable, Event

from ..builders import write_sequence

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
                    .limit(1)
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


WRITERS = 8


@pytest.mark.slow
def test_eight_processes_ingesting_overlapping_trees_lose_nothing(
    ledger: Ledger, db_url: str, workspace: Path
) -> None:
    from sqlalchemy import func

    from provenance.store.models import Asset, Content, Location

    from ..builders import write_bytes

    # Each writer has its own folder of 36 files; 4 more (10%) are shared by all of them, and
    # some of each writer's files repeat another writer's bytes.
    for index in range(4):
        write_bytes(workspace / "common" / f"shared_{index}_v1.bin", 3000 + index, seed="common")
    for writer in range(WRITERS):
        for index in range(36):
            seed = "dup" if index < 3 else f"w{writer}"
            write_bytes(
                workspace / f"own{writer}" / f"file_{index}_v1.bin", 2000 + index, seed=seed
            )
    processes = [
        provenance(
            db_url,
            workspace,
            "ingest",
            f"own{writer}",
            "common",
            "--origin",
            "human",
            "--by",
            f"artist{writer}",
        )
        for writer in range(WRITERS)
    ]
    for process in processes:
        _, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
        assert "locked" not in err and "deadlock" not in err
    with read_session(ledger.engine) as session:
        count = lambda model: session.execute(select(func.count()).select_from(model)).scalar_one()  # noqa: E731
        assert count(Location) == WRITERS * 36 + 4
        assert count(Asset) == WRITERS * 36 + 4
        distinct_contents = 4 + 3 + WRITERS * 33
        assert count(Content) == distinct_contents
        common_claims = [
            claimed_by
            for claimed_by, pattern in session.execute(
                select(Claim.claimed_by, Asset.pattern)
                .join(AssetVersion, AssetVersion.id == Claim.version_id)
                .join(Asset, Asset.id == AssetVersion.asset_id)
            )
            if pattern.endswith(b"common/shared_0_v1.bin")
        ]
        assert sorted(common_claims) == sorted(f"artist{w}" for w in range(WRITERS))

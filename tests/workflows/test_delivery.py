"""The sweep and the finalizer on real delivery folders, on both ledgers."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from provenance import Ledger
from provenance.errors import ProvenanceError, TargetNotFound
from provenance.finalizer import relative_to
from provenance.policy import load_policy
from provenance.store.engine import read_session
from provenance.store.models import Deliverable, DeliverableFile, Event

from ..builders import write_exr_sequence, write_image, write_sequence
from ..conftest import Cli, row_counts

FRAMES = range(1001, 1006)


def rules(report) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted({f.rule for f in report.verdict.findings})


@pytest.fixture
def show(ledger: Ledger, workspace: Path) -> Ledger:
    """Plates (camera), a generated sky, a comp made from both, a concept it only references."""
    ledger.racy_window_ns = 20_000_000
    write_sequence(workspace / "plates", "sh010_plate", FRAMES, seed="plate")
    write_sequence(workspace / "elements", "sky_gen_v001", FRAMES, seed="sky")
    write_sequence(workspace / "comp", "sh010_comp_v003", FRAMES, seed="comp")
    write_image(workspace / "concept" / "moodboard.png", seed="mood")
    time.sleep(0.05)
    ledger.add_tool(
        "Runway Gen-4", vendor="Runway", generative=True, trains_on_inputs="no", secured="yes"
    )
    ledger.ingest(["plates"], origin="capture", by="alice")
    ledger.ingest(["elements"], origin="ai", tool="Runway Gen-4", by="bob")
    ledger.ingest(["concept"], origin="ai", tool="Runway Gen-4", by="dana")
    ledger.ingest(
        ["comp"],
        origin="human",
        tool="Nuke@15.1",
        by="carol",
        contains=["plates/sh010_plate.####.tif", "elements/sky_gen_v001.####.tif"],
        references=["concept/moodboard.png"],
    )
    return ledger


def deliver(workspace: Path, *folders: str, name: str = "delivery") -> Path:
    """A delivery folder holding copies of the given folders' files."""
    target = workspace / name
    for folder in folders:
        shutil.copytree(workspace / folder, target / folder)
    return target


def event_count(ledger: Ledger) -> int:
    return row_counts(ledger, Event)[Event.__tablename__]


def test_ai_inside_a_comp_is_refused_until_approved(show: Ledger, workspace: Path) -> None:
    delivery = deliver(workspace, "comp")
    swept = show.sweep(delivery)
    assert rules(swept) == ["genai-unapproved"]
    finding = swept.verdict.findings[0]
    assert finding.asset is not None and finding.asset.endswith("sh010_comp_v003.####.tif")
    assert "sky_gen_v001" in finding.message and len(finding.files) == len(FRAMES)

    before = event_count(show)
    refused = show.finalize(delivery, "EP101_VFX_v001")
    assert not refused.finalized and refused.blocked
    assert event_count(show) == before + 1  # the refusal, nothing else
    with read_session(show.engine) as session:
        assert session.execute(select(func.count()).select_from(Deliverable)).scalar_one() == 0
    assert not (delivery / "provenance-manifest.json").exists()

    show.approve(
        "comp/sh010_comp_v003.####.tif", ref="NFX-1234 email 2026-11-20", by="jane (Netflix VFX)"
    )
    assert show.sweep(delivery).verdict.clean
    final = show.finalize(delivery, "EP101_VFX_v001")
    assert final.finalized and final.manifest is not None
    manifest = json.loads((delivery / "provenance-manifest.json").read_text())
    assert manifest["schema"] == "DeliveryManifest.1"
    assert manifest["name"] == "EP101_VFX_v001"
    assert len(manifest["files"]) == len(FRAMES)
    first = manifest["files"][0]
    assert first["origin"] == "human" and first["generative_tools"] == ["Runway Gen-4"]
    assert first["approvals"] == ["NFX-1234 email 2026-11-20"]
    assert first["path"].startswith("comp/")
    with read_session(show.engine) as session:
        assert session.execute(
            select(func.count()).select_from(DeliverableFile)
        ).scalar_one() == len(FRAMES)


def test_references_do_not_propagate_ai(show: Ledger, workspace: Path) -> None:
    # The comp only looked at the generated concept: once the sky is approved in the comp,
    # nothing about the concept blocks.
    show.approve("comp/sh010_comp_v003.####.tif", ref="NFX-1", by="jane")
    report = show.sweep(deliver(workspace, "comp"))
    assert report.verdict.findings == []


def test_a_plain_camera_delivery_is_clean(show: Ledger, workspace: Path) -> None:
    report = show.sweep(deliver(workspace, "plates"))
    assert report.verdict.clean and report.files == len(FRAMES) and report.assets == 1


def test_untracked_and_changed_files(show: Ledger, workspace: Path) -> None:
    delivery = deliver(workspace, "plates")
    write_image(delivery / "extra.png", seed="new")
    assert rules(show.sweep(delivery)) == ["untracked"]
    write_image(workspace / "plates" / "sh010_plate.1002.tif", seed="regraded")
    time.sleep(0.05)
    changed = show.sweep(workspace / "plates")
    assert rules(changed) == ["changed"]
    assert "provenance ingest" in changed.verdict.findings[0].fix


def test_an_approval_is_bound_to_exact_bytes(show: Ledger, workspace: Path) -> None:
    show.approve("elements/sky_gen_v001.####.tif", ref="NFX-9", by="jane")
    assert show.show("elements/sky_gen_v001.####.tif").status == "approved"
    assert show.sweep(workspace / "elements").verdict.clean
    write_image(workspace / "elements" / "sky_gen_v001.1003.tif", seed="rerender")
    time.sleep(0.05)
    show.ingest(["elements"], origin="ai", tool="Runway Gen-4")
    card = show.show("elements/sky_gen_v001.####.tif")
    assert card.asset.version == 2 and card.status == "temporary"
    assert rules(show.sweep(workspace / "elements")) == ["genai-unapproved"]


def test_disputed_origin_until_a_td_resolves_it(show: Ledger, workspace: Path) -> None:
    show.tag("plates/sh010_plate.####.tif", "ai", tool="Runway Gen-4", by="mallory")
    assert rules(show.sweep(workspace / "plates")) == ["genai-unapproved", "origin-disputed"]
    show.tag(
        "plates/sh010_plate.####.tif",
        "capture",
        note="camera originals, checked the card",
        resolve=True,
    )
    assert show.sweep(workspace / "plates").verdict.clean


def test_unvetted_tool_blocks_even_with_approval(show: Ledger, workspace: Path) -> None:
    show.add_tool("FreeGen", generative=True)  # trains on inputs: unknown, secured: unknown
    write_image(workspace / "gen" / "matte.png", seed="matte")
    show.ingest(["gen"], origin="ai", tool="FreeGen")
    show.approve("gen/matte.png", ref="NFX-2", by="jane")
    report = show.sweep(workspace / "gen")
    assert rules(report) == ["genai-tool-risk"]
    assert "trains on or keeps inputs: unknown" in report.verdict.findings[0].message
    show.approve("gen/matte.png", ref="NFX-3 covers FreeGen", by="jane", covers_tool_risk=True)
    assert show.sweep(workspace / "gen").verdict.clean


def test_likeness_needs_a_consent(show: Ledger, workspace: Path) -> None:
    write_image(workspace / "dd" / "double.png", seed="double")
    show.ingest(["dd"], origin="human", likeness=["Ada Lovelace"])
    assert rules(show.sweep(workspace / "dd")) == ["likeness-no-consent"]
    show.add_consent("ada lovelace", scope="S01 digital double, ep 1-3", ref="SAG consent form 88")
    assert show.sweep(workspace / "dd").verdict.clean


def test_identical_bytes_with_different_origins_are_explained(
    show: Ledger, workspace: Path
) -> None:
    black = write_image(workspace / "plates2" / "black.png", seed="black")
    shutil.copyfile(black, workspace / "elements2_black.png")
    (workspace / "elements2").mkdir()
    shutil.move(workspace / "elements2_black.png", workspace / "elements2" / "black.png")
    time.sleep(0.05)
    show.ingest(["plates2"], origin="capture")
    show.ingest(["elements2"], origin="ai", tool="Runway Gen-4")
    delivery = workspace / "delivery"
    delivery.mkdir()
    shutil.copyfile(black, delivery / "frame.png")
    report = show.sweep(delivery)
    assert rules(report) == ["content-ambiguous"]
    message = report.verdict.findings[0].message
    assert "capture" in message and "ai" in message and "will not pick" in message
    # At a recorded path the file is what was recorded there; but identical bytes are one
    # content whatever the path: a capture claim on bytes recorded as generated is a dispute.
    # (And, being a copy of generated bytes, it carries them: they need an approval.)
    carried, disputed = show.sweep(workspace / "plates2").verdict.findings
    assert disputed.rule == "origin-disputed" and "elements2/black.png v1 (ai)" in disputed.message
    assert carried.rule == "genai-unapproved" and "is a copy of" in carried.message


def test_a_copied_sequence_is_resolved_frame_by_frame(show: Ledger, workspace: Path) -> None:
    # A hold: frames 1001 and 1002 of the plate are the same bytes. Each copied frame is still
    # its own frame of the plate, not the first frame that holds its bytes.
    frames = write_sequence(workspace / "holds", "sh020_plate", range(1001, 1004), seed="hold")
    shutil.copyfile(frames[0], frames[1])
    time.sleep(0.05)
    show.ingest(["holds"], origin="capture")
    delivery = deliver(workspace, "holds")
    assert show.finalize(delivery, "EP101_HOLDS").finalized
    manifest = json.loads((delivery / "provenance-manifest.json").read_text())
    assert [(f["path"], f["frame"], f["asset"]) for f in manifest["files"]] == [
        (f"holds/sh020_plate.{frame}.tif", frame, str(workspace / "holds/sh020_plate.####.tif"))
        for frame in (1001, 1002, 1003)
    ]


def test_a_copied_hold_resolved_file_by_file_keeps_its_own_frames(
    show: Ledger, workspace: Path
) -> None:
    # Frame 1003 of the plate is also a recorded still (same origin: no ambiguity), so the copy
    # is resolved file by file; the hold (1001 and 1002 alike) must still name its own frames.
    frames = write_sequence(workspace / "holds", "sh040_plate", range(1001, 1004), seed="h4")
    shutil.copyfile(frames[0], frames[1])
    shutil.copyfile(frames[2], write_image(workspace / "stills" / "sh040_still.tif"))
    time.sleep(0.05)
    show.ingest(["holds", "stills"], origin="capture")
    delivery = deliver(workspace, "holds")
    assert show.finalize(delivery, "EP101_HOLDS_BY_FILE").finalized
    manifest = json.loads((delivery / "provenance-manifest.json").read_text())
    assert [(f["path"], f["frame"]) for f in manifest["files"]] == [
        (f"holds/sh040_plate.{frame}.tif", frame) for frame in (1001, 1002, 1003)
    ]


def test_a_copied_sequence_sharing_a_frame_with_ai_material_is_explained(
    show: Ledger, workspace: Path
) -> None:
    frames = write_sequence(workspace / "plates3", "sh030_plate", range(1001, 1004), seed="p3")
    slate = write_image(workspace / "gen3" / "slate.tif", seed="slate")
    shutil.copyfile(slate, frames[1])
    time.sleep(0.05)
    show.ingest(["plates3"], origin="capture")
    show.ingest(["gen3"], origin="ai", tool="Runway Gen-4")
    report = show.sweep(deliver(workspace, "plates3"))
    # The shared frame is the plate's frame 1002, as the rest of its sequence says: nothing
    # blocks, and the sharing is reported as a warning on the plate.
    assert rules(report) == ["content-shared"] and not report.blocked
    (finding,) = report.verdict.findings
    assert finding.asset is not None and finding.asset.endswith("sh030_plate.####.tif")
    assert "1 of its 3 files is the same bytes as" in finding.message
    assert finding.details["holder"].endswith("gen3/slate.tif")


def test_missing_frames_in_a_delivered_sequence(show: Ledger, workspace: Path) -> None:
    delivery = deliver(workspace, "plates")
    (delivery / "plates" / "sh010_plate.1003.tif").unlink()
    report = show.sweep(delivery)
    assert rules(report) == ["frames-missing"]
    assert "1003" in report.verdict.findings[0].message


def test_csv_pull_list_only_final_rows(show: Ledger, workspace: Path) -> None:
    pull = workspace / "pull.csv"
    pull.write_text(
        "Filename,Relative Path,Submitting For\n"
        "sh010_plate.%04d.tif,plates,FINAL\n"
        "sh010_comp_v003.%04d.tif,comp,WIP\n"
    )
    report = show.sweep(pull)
    assert report.verdict.clean and report.files == len(FRAMES) and report.ignored_rows == 1


def test_re_sweeping_an_unchanged_delivery_reads_nothing(show: Ledger, workspace: Path) -> None:
    delivery = deliver(workspace, "plates")
    time.sleep(0.05)
    first = show.sweep(delivery)
    second = show.sweep(delivery)
    assert first.files_read == len(FRAMES)
    assert second.files_read == 0 and second.verdict.clean


def test_a_sweep_hashing_while_it_walks_resolves_every_folder(
    show: Ledger, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every folder the walk reads goes to the hashing workers as a batch of its own (a big
    # delivery's batches are thousands of files): each batch is looked up and hashed apart,
    # and the sweep still sees every file, resolves it, and refreshes the stat cache.
    monkeypatch.setattr("provenance.stat_cache.STREAM_BATCH", 1)
    delivery = deliver(workspace, "plates", "comp", "elements")
    time.sleep(0.05)
    first = show.sweep(delivery)
    assert first.files == first.files_read == 3 * len(FRAMES)
    assert rules(first) == ["genai-unapproved"]
    blocked = {f.asset.rsplit("/", 1)[-1] for f in first.verdict.findings if f.asset}
    assert blocked == {"sh010_comp_v003.####.tif", "sky_gen_v001.####.tif"}
    second = show.sweep(delivery)
    assert second.files_read == 0 and rules(second) == ["genai-unapproved"]


def test_verify_catches_added_removed_and_changed_files(show: Ledger, workspace: Path) -> None:
    delivery = deliver(workspace, "plates")
    assert show.finalize(delivery, "EP101_PLATES_v001").finalized
    assert show.verify("EP101_PLATES_v001").ok
    write_image(delivery / "plates" / "sh010_plate.1002.tif", seed="swapped")
    (delivery / "plates" / "sh010_plate.1004.tif").unlink()
    write_image(delivery / "plates" / "bonus.png", seed="bonus")
    report = show.verify("EP101_PLATES_v001")
    assert not report.ok
    assert [c.path for c in report.changed] == ["plates/sh010_plate.1002.tif"]
    assert [c.path for c in report.removed] == ["plates/sh010_plate.1004.tif"]
    assert [c.path for c in report.added] == ["plates/bonus.png"]
    with pytest.raises(TargetNotFound, match="Did you mean EP101_PLATES_v001"):
        show.verify("EP101_PLATES_v01")


def test_a_report_of_a_name_that_is_neither_deliverable_nor_delivery_says_both(
    run: Cli, show: Ledger, workspace: Path
) -> None:
    # `report delivery` takes a finalized deliverable's name or a delivery on disk: a name that
    # is neither is not only "a folder that does not exist".
    none_yet = run("report", "delivery", "NOPE", expect=1).stderr
    assert "neither a finalized deliverable nor a delivery on disk" in none_yet
    assert "No deliverable has been finalized yet" in none_yet
    assert show.finalize(deliver(workspace, "plates"), "EP101_PLATES_v001").finalized
    typo = run("report", "delivery", "EP101_PLATES_v01", expect=1).stderr
    assert "Did you mean EP101_PLATES_v001?" in typo
    other = run("report", "delivery", "NOPE", expect=1).stderr
    assert "`provenance deliverables` lists the finalized ones" in other
    assert ".otio timeline" in other


def test_a_final_name_is_used_once(show: Ledger, workspace: Path) -> None:
    delivery = deliver(workspace, "plates")
    assert show.finalize(delivery, "EP101_v001").finalized
    with pytest.raises(ProvenanceError, match="already final"):
        show.finalize(delivery, "EP101_v001")


def test_a_policy_file_can_downgrade_a_rule(show: Ledger, workspace: Path) -> None:
    policy_file = workspace / "studio.toml"
    policy_file.write_text('[rules]\ngenai-unapproved = "warn"\n')
    report = show.finalize(deliver(workspace, "comp"), "EP101_WIP", policy=load_policy(policy_file))
    assert report.finalized and [f.severity.value for f in report.verdict.findings] == ["warn"]


def test_a_custom_policy_cannot_pass_as_the_built_in_one(
    run: Cli, show: Ledger, workspace: Path
) -> None:
    deliver(workspace, "comp")
    posing = workspace / "netflix.toml"
    posing.write_text('name = "netflix-2025"\n[rules]\ngenai-unapproved = "off"\n')
    before = event_count(show)
    refused = run(
        "finalize", "delivery", "--name", "EP101_v001", "--policy", "netflix.toml", expect=1
    )
    assert (
        "reserved for the built-in policy" in refused.stderr and "Traceback" not in refused.stderr
    )
    assert event_count(show) == before

    lenient = workspace / "lenient.toml"
    lenient.write_text('name = "studio-x"\n[rules]\ngenai-unapproved = "off"\n')
    shown = run("policy", "show", "--policy", "lenient.toml").stdout
    assert shown.startswith("policy studio-x: CUSTOM, from the built-in netflix-2025")
    assert "relaxes 1 rule: genai-unapproved off" in shown
    assert "genai-unapproved     off    Generative AI material without written approval " in shown
    assert "(built-in: block)" in shown
    listed = json.loads(run("policy", "show", "--policy", "lenient.toml", "--json").stdout)
    assert listed["custom"] is True and listed["extends"] == "netflix-2025"
    assert listed["changes"] == [
        {"rule": "genai-unapproved", "severity": "off", "built_in": "block"}
    ]

    swept = run("sweep", "delivery", "--policy", "lenient.toml").stdout
    assert "(policy studio-x (custom, from netflix-2025: genai-unapproved off))" in swept
    done = run("finalize", "delivery", "--name", "EP101_v001", "--policy", "lenient.toml")
    assert "under a CUSTOM policy: studio-x (custom, from netflix-2025" in done.stdout
    again = json.loads(
        run(
            "finalize", "delivery", "--name", "EP101_v002", "--policy", "lenient.toml", "--json"
        ).stdout
    )
    policy = load_policy(lenient)
    assert again["policy"] == {**policy.document(), "source": "lenient.toml"}
    manifest = json.loads((workspace / "delivery" / "provenance-manifest.json").read_text())
    assert manifest["policy"] == {
        "name": "studio-x",
        "digest": policy.digest,
        "custom": True,
        "extends": "netflix-2025",
        "changes": [{"rule": "genai-unapproved", "severity": "off", "built_in": "block"}],
    }
    with read_session(show.engine) as session:
        recorded = session.execute(select(Deliverable.policy_name, Deliverable.policy_digest))
        assert set(recorded) == {("studio-x (custom, from netflix-2025)", policy.digest)}
        payload = json.loads(
            session.execute(
                select(Event.payload).where(Event.kind == "finalize").order_by(Event.id)
            )
            .scalars()
            .first()
            or "{}"
        )
    assert payload["policy"] == "studio-x (custom, from netflix-2025)"
    assert payload["policy_changes"] == manifest["policy"]["changes"]
    builtin = json.loads(run("sweep", "delivery", "--json", expect=3).stdout)["policy"]
    assert builtin["custom"] is False and builtin["name"] == "netflix-2025"


def test_disclosure_lists_every_generative_use(show: Ledger) -> None:
    show.approve("elements/sky_gen_v001.####.tif", ref="NFX-7", by="jane")
    uses = {entry.asset.name.rsplit("/", 1)[-1]: entry for entry in show.disclosure()}
    assert set(uses) == {"sky_gen_v001.####.tif", "moodboard.png"}
    sky = uses["sky_gen_v001.####.tif"]
    assert [t.name for t in sky.tools] == ["Runway Gen-4"]
    assert sky.status == "approved" and sky.approvals == ["NFX-7 (jane)"]
    assert [r.name.rsplit("/", 1)[-1] for r in sky.used_in] == ["sh010_comp_v003.####.tif"]
    assert uses["moodboard.png"].used_in == []


def test_cli_exit_codes_and_json(run: Cli, show: Ledger, workspace: Path) -> None:
    deliver(workspace, "comp")
    swept = run("sweep", "delivery", "--json", expect=3)
    document = json.loads(swept.stdout)
    assert document["schema"] == "SweepReport.1" and document["blocked"] is True
    assert [f["rule"] for f in document["findings"]] == ["genai-unapproved"]
    refused = run("finalize", "delivery", "--name", "EP101_VFX_v003", expect=3)
    assert "REFUSED EP101_VFX_v003" in refused.stdout and "genai-unapproved" in refused.stdout
    run("approve", "comp/sh010_comp_v003.####.tif", "--ref", "NFX-1234 email 2026-11-20",
        "--by", "jane (Netflix VFX)")  # fmt: skip
    run("sweep", "delivery")
    done = run("finalize", "delivery", "--name", "EP101_VFX_v003", "--json")
    final = json.loads(done.stdout)
    assert final["schema"] == "FinalizeReport.1" and final["finalized"] is True
    # A sweep records nothing: its document has none of what a finalize recorded.
    recorded = {"name", "finalized", "manifest", "event", "leftovers_removed"}
    assert recorded <= set(final) and not recorded & set(document)
    assert set(final) - recorded == set(document)
    assert final["event"]["id"] > 0 and final["manifest"].endswith("provenance-manifest.json")
    assert "matches EP101_VFX_v003" in run("verify", "EP101_VFX_v003").stdout
    write_image(workspace / "delivery" / "comp" / "late.png", seed="late")
    assert "added" in run("verify", "EP101_VFX_v003", expect=3).stdout
    assert run("verify", "NOPE", expect=1).stderr.startswith("Error:")
    disclosure = json.loads(run("report", "disclosure", "--json").stdout)
    assert disclosure["schema"] == "Disclosure.2" and len(disclosure["uses"]) == 2
    policy = json.loads(run("policy", "show", "--json").stdout)
    assert policy["name"] == "netflix-2025"
    assert {r["id"] for r in policy["rules"]} >= {"genai-unapproved", "likeness-no-consent"}
    run("consent", "add", "Ada Lovelace", "--scope", "S01 digital double", "--ref", "SAG form 88")
    assert "Ada Lovelace" in run("consent", "list").stdout
    assert run("sweep", "nowhere/", expect=1).stderr.startswith("Error:")


def test_exr_frames_end_to_end(ledger: Ledger, workspace: Path) -> None:
    """Real OpenEXR frames: the sky is generated, the comp contains it, the delivery is refused."""
    ledger.racy_window_ns = 20_000_000
    write_exr_sequence(workspace / "elements", "sky_gen_v001", range(1001, 1004), seed="sky")
    write_exr_sequence(workspace / "comp", "sh010_comp_v003", range(1001, 1004), seed="comp")
    time.sleep(0.05)
    ledger.add_tool("Runway Gen-4", generative=True, trains_on_inputs="no", secured="yes")
    ledger.ingest(["elements/sky_gen_v001.####.exr"], origin="ai", tool="Runway Gen-4")
    ledger.ingest(
        ["comp/sh010_comp_v003.####.exr"],
        origin="human",
        contains=["elements/sky_gen_v001.1002.exr"],
    )
    delivery = deliver(workspace, "comp")
    refused = ledger.finalize(delivery, "EP101_EXR_v001")
    assert not refused.finalized and rules(refused) == ["genai-unapproved"]
    ledger.approve("comp/sh010_comp_v003.####.exr", ref="NFX-5", by="jane")
    assert ledger.finalize(delivery, "EP101_EXR_v001").finalized


def test_a_single_frame_of_a_recorded_sequence_cannot_become_its_own_asset(
    show: Ledger, workspace: Path
) -> None:
    write_image(workspace / "comp" / "sh010_comp_v003.1002.tif", seed="rerender")
    with pytest.raises(ProvenanceError, match="is frame 1002 of"):
        show.ingest(["comp/sh010_comp_v003.1002.tif"], origin="human")


def test_a_new_version_keeps_its_lineage_and_likeness(show: Ledger, workspace: Path) -> None:
    show.ingest(["plates"], likeness=["Ada Lovelace"])
    show.approve("comp/sh010_comp_v003.####.tif", ref="NFX-1", by="jane")
    write_image(workspace / "comp" / "sh010_comp_v003.1002.tif", seed="rerender")
    write_image(workspace / "plates" / "sh010_plate.1002.tif", seed="regrade")
    time.sleep(0.05)
    show.ingest(["comp"], origin="human")  # a re-render: the approval was for the old bytes
    show.ingest(["plates"], origin="capture")
    comp = show.show("comp/sh010_comp_v003.####.tif")
    assert comp.asset.version == 2
    assert {link.asset.name.rsplit("/", 1)[-1] for link in comp.parents} == {
        "sh010_plate.####.tif",
        "sky_gen_v001.####.tif",
        "moodboard.png",
    }
    # (The plate was re-graded after the comp's re-render was recorded: the comp was made from
    # plate v1, which is not the latest any more; a warning, the regrade is no generated material.)
    assert rules(show.sweep(workspace / "comp")) == [
        "genai-unapproved",
        "likeness-no-consent",
        "lineage-stale",
    ]


def test_identical_bytes_answer_to_the_lineage_of_each_holder(
    show: Ledger, workspace: Path
) -> None:
    render = write_image(workspace / "render" / "out.png", seed="same")
    (workspace / "publish").mkdir()
    shutil.copyfile(render, workspace / "publish" / "out.png")
    time.sleep(0.05)
    show.ingest(["render"], origin="human")
    show.ingest(["publish"], origin="human", contains=["elements/sky_gen_v001.####.tif"])
    (workspace / "delivery").mkdir()
    shutil.copyfile(render, workspace / "delivery" / "out.png")
    report = show.sweep(workspace / "delivery")
    # Both say human: no contradiction. The delivered copy answers to both holders, and the
    # render, a copy of the publish, carries the sky the publish contains.
    assert rules(report) == ["genai-unapproved"]
    assert sorted(Path(f.asset or "").parent.name for f in report.verdict.findings) == [
        "publish",
        "render",
    ]
    assert all("sky_gen_v001" in f.message for f in report.verdict.findings)


def test_claiming_unknown_does_not_clear_origin_unknown(show: Ledger, workspace: Path) -> None:
    write_image(workspace / "mystery" / "m.png", seed="m")
    show.ingest(["mystery"])
    show.tag("mystery/m.png", "unknown", note="nobody knows")
    assert rules(show.sweep(workspace / "mystery")) == ["origin-unknown"]


def test_two_lists_in_one_folder_keep_their_own_manifests(show: Ledger, workspace: Path) -> None:
    (workspace / "plates_list.txt").write_text("plates/sh010_plate.####.tif\n")
    (workspace / "concept_list.txt").write_text("concept/moodboard.png\n")
    show.approve("concept/moodboard.png", ref="NFX-8", by="jane")
    first = show.finalize(workspace / "plates_list.txt", "EP101_PLATES")
    second = show.finalize(workspace / "concept_list.txt", "EP101_CONCEPT")
    assert first.finalized and second.finalized
    assert first.manifest != second.manifest
    for report in (first, second):
        assert report.manifest is not None
        path = Path(report.manifest.decode())
        assert path.exists() and path.name.endswith(".provenance-manifest.json")
        assert path.stat().st_mode & 0o044  # readable by whoever receives the delivery
        assert json.loads(path.read_text())["checkpoint"]["schema"] == "Checkpoint.1"
    assert show.verify("EP101_PLATES").ok and show.verify("EP101_CONCEPT").ok


def test_a_named_range_delivers_only_its_frames(show: Ledger, workspace: Path) -> None:
    pull = workspace / "pull.csv"
    pull.write_text(
        "Filename,Relative Path,Submitting For,First Frame,Last Frame\n"
        "sh010_plate.%04d.tif,plates,FINAL,1002,1003\n"
    )
    report = show.sweep(pull)
    assert report.files == 2 and report.verdict.clean


def test_a_symlink_in_a_delivery_is_explained(show: Ledger, workspace: Path) -> None:
    delivery = deliver(workspace, "plates")
    (delivery / "alias.tif").symlink_to(delivery / "plates" / "sh010_plate.1001.tif")
    report = show.sweep(delivery)
    assert rules(report) == ["unreadable"]
    assert "not a regular file (symlink)" in report.verdict.findings[0].message


@pytest.mark.parametrize(
    ("path", "home"),
    [
        (b"/show/out/sq01/a.exr", b"/show/out"),
        (b"/show/out/sq01/a.exr", b"/show/out/"),
        (b"/show/out/a.1001.exr", b"/show/out"),
        (b"/show/out/.hidden/a", b"/show/out"),
        (b"/show/out/x/../a", b"/show/out"),
        (b"/show/outside/a", b"/show/out"),
        (b"/a", b"/"),
        (b"/", b"/"),
    ],
)
def test_paths_relative_to_a_delivery_are_relpaths(path: bytes, home: bytes) -> None:
    assert relative_to(path, home) == os.path.relpath(path, home)


class _Stop(ProvenanceError):
    pass


@pytest.mark.parametrize(
    "outcome", ["finalized", "refused", "name taken", "failed after the check"]
)
def test_what_a_finalize_read_is_kept_whether_it_finalizes_or_not(
    show: Ledger, workspace: Path, monkeypatch: pytest.MonkeyPatch, outcome: str
) -> None:
    # A finalize reads every byte outside the lock; what it read is kept in the stat cache in
    # the locked write when that commits, and in a write of its own when it does not: either
    # way the next sweep of the same folder reads nothing again. (The plates' last frame is
    # left out: the folder is not a whole copy, sealed as one, but a file at a time.)
    delivery = deliver(workspace, "plates")
    frames = sorted((delivery / "plates").iterdir())
    frames[-1].unlink()
    if outcome == "refused":
        write_image(delivery / "plates" / "sh010_still.png", seed="still")  # untracked
    name = "EP101_v001"
    if outcome == "name taken":
        assert show.finalize(deliver(workspace, "plates", name="other"), name).finalized
    if outcome == "failed after the check":

        def failing(*args: object) -> None:
            raise _Stop("stopped after the check")

        monkeypatch.setattr("provenance.facade.delivering._finalize_payload", failing)
    time.sleep(0.05)
    if outcome in ("name taken", "failed after the check"):
        with pytest.raises(ProvenanceError):
            show.finalize(delivery, name)
    else:
        report = show.finalize(delivery, name)
        assert report.finalized == (outcome == "finalized")
        assert report.files_read == len(FRAMES) - 1 + (outcome == "refused")
    # (Only the manifest a finalize writes into the folder is new to the next sweep.)
    assert show.sweep(delivery).files_read == (1 if outcome == "finalized" else 0)


def test_a_finalize_keeps_its_reading_when_another_writer_recorded_the_same_files(
    show: Ledger, db_url: str, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Between the reading outside the lock and the locked write, another writer (a sweep on
    # another machine) records the same paths in the stat cache: the finalize's write
    # replaces those rows rather than failing on them.
    import provenance.finalizer

    delivery = deliver(workspace, "plates")
    time.sleep(0.05)
    read_every_file = provenance.finalizer.read_every_file

    def read_then_another_writer(*args, **kwargs):  # type: ignore[no-untyped-def]
        reading = read_every_file(*args, **kwargs)
        with Ledger.open(db_url, cwd=workspace) as other:
            assert other.sweep(delivery).files_read == len(FRAMES)
        return reading

    monkeypatch.setattr(provenance.finalizer, "read_every_file", read_then_another_writer)
    report = show.finalize(delivery, "EP101_v001")
    assert report.finalized and report.files_read == len(FRAMES)
    monkeypatch.undo()
    assert show.sweep(delivery).files_read == 1  # the manifest alone


def test_a_finalize_leaves_the_garbage_collector_as_it_found_it(
    show: Ledger, workspace: Path
) -> None:
    import gc

    delivery = deliver(workspace, "plates")
    assert gc.isenabled()
    assert show.finalize(delivery, "EP101_v001").finalized
    assert gc.isenabled()
    gc.disable()
    try:
        show.sweep(delivery)
        with pytest.raises(ProvenanceError, match="already final"):
            show.finalize(delivery, "EP101_v001")
        assert not gc.isenabled()
    finally:
        gc.enable()

"""How the CLI words what the audit finds (cli/render.py), from the data alone: no ledger."""

from __future__ import annotations

import json
from typing import Any, Literal

import pytest
from provenance.cli.render_audit import audit_difference_json, audit_failed_text, audit_problem_text

from provenance.audit.differences import (
    ColumnChange,
    EventRef,
    MoreDifferences,
    RowDifference,
    RowValue,
    VersionName,
    differing_rows,
)
from provenance.audit.verification import AuditReport
from provenance.errors import AuditFailed

PLATES = VersionName(3, "plates/p.####.tif", 1)
GEN = VersionName(5, "/elements/gen.png", 2)
UNKNOWN = VersionName(99)
INGEST = EventRef(4, "ingest")
NO_EVENT = EventRef(999999, None)

CLAIM: dict[str, RowValue] = {
    "version_id": 5,
    "origin": "trainedAlgorithmicMedia",
    "tool_id": 1,
    "tool_version": "4.0",
    "claimed_by": "bob",
    "evidence": "declared",
    "detail": None,
    "note": None,
    "resolves": False,
}


def row(
    table: str,
    how: Literal["added", "removed", "changed"],
    values: dict[str, RowValue],
    event: EventRef = INGEST,
    **names: Any,
) -> RowDifference:
    return RowDifference(table, how, event, values, **names)


# Each difference, and the line `audit verify` prints for it after `TAMPERED` (as the library
# printed it when it still wrote the sentences itself).
LINES: list[tuple[RowDifference, str]] = [
    (
        row(
            "tools", "changed",
            {"id": 1, "name": "Runway Gen-4", "trains_on_inputs": "no", "secured": "yes"},
            EventRef(9, "tool.set"),
            changes=(ColumnChange("trains_on_inputs", "no", "yes"),),
        ),
        "tool 'Runway Gen-4' was changed after event #9 (tool.set) recorded it: "
        "trains_on_inputs is 'yes', the event says 'no'",
    ),
    (
        row(
            "asset_versions", "changed",
            {"id": 5, "digest": "xxh3-128:aa", "member_count": 1},
            versions={"id": GEN},
            changes=(
                ColumnChange("digest", "xxh3-128:aa", "xxh3-128:00"),
                ColumnChange("member_count", 1, 2),
            ),
        ),
        "asset version /elements/gen.png v2 (xxh3-128:aa) was changed after event #4 (ingest) "
        "recorded it: digest is 'xxh3-128:00', the event says 'xxh3-128:aa'; member_count is 2, "
        "the event says 1",
    ),
    (
        row("claims", "removed", CLAIM, versions={"version_id": GEN}, tool="Runway Gen-4"),
        "claim that /elements/gen.png v2 is ai made with Runway Gen-4, by bob (declared), "
        "recorded by event #4 (ingest), is missing: deleted outside provenance",
    ),
    (
        row(
            "claims", "added",
            {**CLAIM, "origin": "digitalCapture", "tool_id": None, "claimed_by": "alice"},
            versions={"version_id": PLATES},
        ),
        "claim that plates/p.####.tif v1 is capture, by alice (declared) is not recorded by any "
        "event: inserted outside provenance (it names event #4, ingest)",
    ),
    (
        row(
            "claims", "changed",
            {**CLAIM, "resolves": True, "evidence": "embedded"},
            EventRef(9, "claim"),
            versions={"version_id": GEN},
            tool="Runway Gen-4",
            changes=(ColumnChange("origin", "trainedAlgorithmicMedia", "digitalCreation"),),
        ),
        "resolving claim that /elements/gen.png v2 is ai made with Runway Gen-4, by bob "
        "(embedded) was changed after event #9 (claim) recorded it: origin is "
        "'digitalCreation', the event says 'trainedAlgorithmicMedia'",
    ),
    (
        row(
            "claims", "added",
            {**CLAIM, "origin": "notAnOrigin", "version_id": 99},
            NO_EVENT,
            versions={"version_id": UNKNOWN},
        ),
        "claim that asset version #99 is 'notAnOrigin', by bob (declared) is not recorded by any "
        "event: inserted outside provenance (it names event #999999, which does not exist)",
    ),
    (
        row(
            "lineage", "added", {"child_id": 5, "parent_id": 3, "kind": "contains"},
            versions={"child_id": GEN, "parent_id": PLATES},
        ),
        "lineage edge /elements/gen.png v2 \u2190 plates/p.####.tif v1 (contains) is not recorded "
        "by any event: inserted outside provenance (it names event #4, ingest)",
    ),
    (
        row(
            "lineage", "added", {"child_id": 5, "parent_id": 3, "kind": "references"},
            EventRef(7, "tool.set"),
            versions={"child_id": GEN, "parent_id": PLATES},
            wrong_event_kind=True,
        ),
        "lineage edge /elements/gen.png v2 \u2190 plates/p.####.tif v1 (references) is not "
        "recorded by any event: inserted outside provenance (it names event #7, a tool.set "
        "event, which records no lineage)",
    ),
    (
        row(
            "approvals", "added",
            {"version_id": 5, "ref": "NFX-2", "approved_by": "jane", "covers_tool_risk": True},
            EventRef(6, "approve"),
            versions={"version_id": GEN},
        ),
        "approval 'NFX-2' by jane of /elements/gen.png v2 is not recorded by any event: inserted "
        "outside provenance (it names event #6, approve)",
    ),
    (
        row(
            "consents", "removed",
            {"performer": "Zo\u00eb Kim", "performer_key": "zoe kim", "ref": "SAG form 88"},
            NO_EVENT,
        ),
        "consent of Zo\u00eb Kim ('SAG form 88'), recorded by event #999999 (which does not "
        "exist), is missing: deleted outside provenance",
    ),
    (
        row(
            "likenesses", "added",
            {"version_id": 5, "performer_key": "mallory", "performer": "Mallory"},
            EventRef(7, "tool.set"),
            versions={"version_id": GEN},
            wrong_event_kind=True,
        ),
        "likeness of Mallory on /elements/gen.png v2 is not recorded by any event: inserted "
        "outside provenance (it names event #7, a tool.set event, which records no likenesses)",
    ),
    (
        row(
            "signals", "removed",
            {"version_id": 5, "source": "a1111", "evidence": "embedded", "summary": "SD 1.5"},
            versions={"version_id": GEN},
        ),
        "signal a1111 (embedded) in /elements/gen.png v2: SD 1.5, recorded by event #4 "
        "(ingest), is missing: deleted outside provenance",
    ),
    (
        row(
            "roots", "changed",
            {"id": 2, "name": "\x00ff2f78", "location": None, "aliases": "[]"},
            EventRef(12, None),
            root_path="\\xff/x",
            changes=(ColumnChange("location", None, "/mnt/elsewhere"),),
        ),
        "root \\xff/x was changed after event #12 recorded it: location is '/mnt/elsewhere', "
        "the event says None",
    ),
    (
        row("deliverables", "added", {"id": 2, "name": "EP101_v002", "file_count": 0}),
        "deliverable 'EP101_v002' is not recorded by any event: inserted outside provenance "
        "(it names event #4, ingest)",
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("difference", "line"), LINES, ids=[f"{d.table}-{d.how}" for d, _ in LINES]
)
def test_each_differing_row_is_worded_as_before(difference: RowDifference, line: str) -> None:
    assert audit_problem_text(difference) == line


def test_every_table_and_every_way_a_row_differs_are_covered() -> None:
    tables = {difference.table for difference, _ in LINES}
    assert tables == {
        "tools", "asset_versions", "claims", "lineage", "approvals", "consents", "likenesses",
        "signals", "roots", "deliverables",
    }  # fmt: skip
    assert {difference.how for difference, _ in LINES} == {"added", "removed", "changed"}


def test_rows_past_the_cap_are_counted_and_sentences_pass_through() -> None:
    assert audit_problem_text(MoreDifferences("claims", INGEST, 7)) == "... and 7 more like these"
    sentence = "event #3 (ingest) was changed after it was written"
    assert audit_problem_text(sentence) == sentence


def test_a_version_nobody_knows_is_named_by_its_id() -> None:
    assert str(UNKNOWN) == "asset version #99"
    assert str(PLATES) == "plates/p.####.tif v1"


def test_the_refused_finalize_lists_ten_problems_and_counts_the_rest() -> None:
    sentence = "event #3 (ingest) was changed after it was written"
    report = AuditReport(13, "00", "sha256:00", [*(d for d, _ in LINES[:12]), sentence], [], 0.0)
    error = AuditFailed(report)
    assert str(error) == (
        "The ledger's history does not verify (13 problems), so nothing can be finalized or "
        "checkpointed. Run `provenance audit verify` for the full report, and restore the ledger "
        "from a backup checked against your checkpoints."
    )
    listed = "\n".join(f"  - {line}" for _, line in LINES[:10])
    assert audit_failed_text(error) == (
        "The ledger's history does not verify, so nothing can be finalized or checkpointed:\n"
        f"{listed}\n  ... and 3 more\nRun `provenance audit verify` for the full report, and "
        "restore the ledger from a backup checked against your checkpoints."
    )
    one = AuditFailed(AuditReport(1, "00", "sha256:00", [LINES[0][0]], [], 0.0))
    assert "(1 problem)" in str(one)
    assert audit_failed_text(one).splitlines()[1:] == [
        f"  - {LINES[0][1]}",
        "Run `provenance audit verify` for the full report, and restore the ledger from a "
        "backup checked against your checkpoints.",
    ]


def test_the_json_of_a_difference_is_its_data() -> None:
    difference, _ = LINES[4]  # the resolving claim, changed
    assert audit_difference_json(difference) == {
        "kind": "row",
        "table": "claims",
        "how": "changed",
        "event": {"id": 9, "kind": "claim"},
        "values": {**CLAIM, "resolves": True, "evidence": "embedded"},
        "versions": {"version_id": {"id": 5, "path": "/elements/gen.png", "number": 2}},
        "tool": "Runway Gen-4",
        "root_path": None,
        "changes": [
            {"column": "origin", "before": "trainedAlgorithmicMedia", "after": "digitalCreation"}
        ],
        "wrong_event_kind": False,
    }
    more = audit_difference_json(MoreDifferences("lineage", NO_EVENT, 3))
    assert more == {
        "kind": "more",
        "table": "lineage",
        "event": {"id": 999999, "kind": None},
        "more": 3,
    }
    unknown = audit_difference_json(LINES[5][0])["versions"]
    assert unknown == {"version_id": {"id": 99, "path": None, "number": None}}
    everything = [audit_difference_json(d) for d, _ in LINES]
    assert json.loads(json.dumps(everything)) == everything  # plain JSON, nothing lost


def test_differing_rows_keeps_the_data_in_order() -> None:
    more = MoreDifferences("claims", INGEST, 2)
    found = differing_rows(["a sentence", LINES[0][0], more, "another", LINES[1][0]])
    assert found == [LINES[0][0], more, LINES[1][0]]
    assert differing_rows(["only sentences"]) == []

"""What an event commits to, without a database: rows listed while few, past INLINE_ROWS their
count and SHA-256, and the forms the rebuild reads."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from provenance.store.rows import (
    INLINE_ROWS,
    DigestedRows,
    EventRows,
    LineDigests,
    RowsDigest,
    rebuild_state,
)


def claim(index: int) -> tuple[Any, ...]:
    """A canonical claims row, with text that is not ASCII and values that are not text."""
    return (index, "digitalCapture", None, None, "zoë", "declared", None, f"note {index}", False)


def whole_list_digest(rows: list[tuple[Any, ...]]) -> str:
    """The digest as an auditor computes it: the whole list as compact JSON, hashed at once."""
    text = json.dumps(rows, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def fed(table: str, rows: list[tuple[Any, ...]]) -> EventRows:
    accumulator = EventRows(table)
    for row in rows:
        accumulator.add(row)
    return accumulator


def test_rows_are_listed_up_to_the_limit() -> None:
    rows = [claim(index) for index in range(INLINE_ROWS)]
    committed = fed("claims", rows)
    assert (committed.count, committed.commitment()) == (INLINE_ROWS, rows)
    assert fed("claims", []).commitment() == []


def test_past_the_limit_rows_are_committed_to_by_count_and_digest() -> None:
    rows = [claim(index) for index in range(INLINE_ROWS + 1)]
    committed = fed("claims", rows)
    assert committed.count == INLINE_ROWS + 1
    assert committed.commitment() == {"rows": INLINE_ROWS + 1, "sha256": whole_list_digest(rows)}


def test_tools_are_listed_whatever_their_number() -> None:
    rows = [(index, 1, f"tool {index}", f"tool {index}", None, True, "no", "yes", "t")
            for index in range(INLINE_ROWS + 1)]  # fmt: skip
    assert fed("tools", rows).commitment() == rows


@pytest.mark.parametrize("count", [0, 1, 4095, 4096, 4097, 10_000])
def test_a_digest_fed_row_by_row_is_the_digest_of_the_whole_list(count: int) -> None:
    rows = [claim(index) for index in range(count)]
    digest = RowsDigest()
    for row in rows:
        digest.add(row)
    assert (digest.count, digest.sha256()) == (count, whole_list_digest(rows))
    assert digest.sha256() == whole_list_digest(rows)  # asking twice changes nothing


def test_line_digests_keep_each_event_apart() -> None:
    lines = LineDigests()
    first = [claim(index) for index in range(5000)]
    second = [claim(index) for index in range(3)]
    for row in first[:4500]:
        lines.add(7, row)
    for row in second:
        lines.add(9, row)
    for row in first[4500:]:
        lines.add(7, row)  # the event's rows continue where they left off
    assert lines.result() == {7: whole_list_digest(first), 9: whole_list_digest(second)}


def event(rows: dict[str, Any], schema: str = "Rows.2") -> dict[str, Any]:
    return {"by": "alice", "rows": {"schema": schema, **rows}}


def test_the_rebuild_keeps_what_each_event_committed_to() -> None:
    listed = [claim(1)]
    digest = "sha256:" + "ab" * 32
    state = rebuild_state(
        [
            (1, "ingest", event({"claims": [list(row) for row in listed]}, schema="Rows.1")),
            (2, "ingest", event({"claims": {"rows": 1001, "sha256": digest}})),
        ]
    )
    assert state.unreadable == []
    assert state.rows["claims"] == {1: listed}
    assert state.digested["claims"] == {2: DigestedRows(1001, digest)}
    assert state.committed == {1, 2}


@pytest.mark.parametrize(
    ("rows", "schema", "problem"),
    [
        ({"claims": {"rows": 2, "sha256": "sha256:" + "0" * 64}}, "Rows.1",
         "with claims committed to by digest, which Rows.1 does not allow"),
        ({"tools": {"rows": 2, "sha256": "sha256:" + "0" * 64}}, "Rows.2",
         "with tools committed to by digest, not listed as Rows.2 requires"),
        ({"claims": {"rows": "2", "sha256": "sha256:" + "0" * 64}}, "Rows.2",
         "with a claims commitment that is not a row count and a SHA-256"),
        ({"claims": {"rows": 2, "sha256": "sha256:0"}}, "Rows.2",
         "with a claims commitment that is not a row count and a SHA-256"),
        ({"claims": {"rows": 2, "sha256": "sha256:" + "0" * 64, "more": 1}}, "Rows.2",
         "with a claims commitment that is not a row count and a SHA-256"),
        ({}, "Rows.3",
         "in a form this version of provenance does not read (not Rows.1 or Rows.2)"),
    ],
)  # fmt: skip
def test_commitments_in_no_form_it_reads_are_reported(
    rows: dict[str, Any], schema: str, problem: str
) -> None:
    state = rebuild_state([(4, "ingest", event(rows, schema))])
    assert state.unreadable == [f"event #4 (ingest) records its rows {problem}"]
    assert state.committed == set()

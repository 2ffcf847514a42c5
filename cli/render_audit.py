"""Rendering the audit: what `audit verify` found, as the lines it prints and as JSON data."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from provenance.origins import Origin

if TYPE_CHECKING:
    # (The audit loads cryptography: read commands that import this module must not load it,
    # see tests/cli/test_startup.py; the audit's renderers import what they need.)
    from provenance.audit.differences import AuditProblem, MoreDifferences, RowDifference
    from provenance.errors import AuditFailed

__all__ = [
    "audit_difference_json",
    "audit_failed_text",
    "audit_problem_text",
]


def audit_problem_text(problem: AuditProblem) -> str:
    """One thing `audit verify` found, as the line it prints after `TAMPERED`: a sentence as the
    library wrote it, a differing row as an auditor reads it."""
    from provenance.audit.differences import MoreDifferences

    if isinstance(problem, str):
        return problem
    if isinstance(problem, MoreDifferences):
        return f"... and {problem.more} more like these"
    row = _audit_row_text(problem)
    event = problem.event
    if problem.how == "added":
        if problem.wrong_event_kind:
            named = f"a {event.kind} event, which records no {problem.table.replace('_', ' ')}"
        else:
            named = event.kind if event.kind is not None else "which does not exist"
        return (
            f"{row} is not recorded by any event: inserted outside provenance (it names event "
            f"#{event.id}, {named})"
        )
    if problem.how == "removed":
        kind = event.kind if event.kind is not None else "which does not exist"
        return (
            f"{row}, recorded by event #{event.id} ({kind}), is missing: deleted outside provenance"
        )
    when = f"event #{event.id} ({event.kind})" if event.kind is not None else f"event #{event.id}"
    changes = "; ".join(
        f"{change.column} is {change.after!r}, the event says {change.before!r}"
        for change in problem.changes
    )
    return f"{row} was changed after {when} recorded it: {changes}"


def _audit_row_text(difference: RowDifference) -> str:
    """A differing row as an auditor reads it: `claim that plates/p.####.tif v1 is capture, by
    alice (declared)`, `lineage edge comp.png v1 ← gen.png v1 (contains)`..."""
    values, versions = difference.values, difference.versions
    table = difference.table
    if table == "tools":
        return f"tool {values['name']!r}"
    if table == "asset_versions":
        return f"asset version {versions['id']} ({values['digest']})"
    if table == "claims":
        made = f" made with {difference.tool}" if difference.tool else ""
        resolving = "resolving claim" if values["resolves"] else "claim"
        return (
            f"{resolving} that {versions['version_id']} is {_origin_alias(values['origin'])}"
            f"{made}, by {values['claimed_by']} ({values['evidence']})"
        )
    if table == "lineage":
        return (
            f"lineage edge {versions['child_id']} \u2190 {versions['parent_id']} ({values['kind']})"
        )
    if table == "approvals":
        return f"approval {values['ref']!r} by {values['approved_by']} of {versions['version_id']}"
    if table == "consents":
        return f"consent of {values['performer']} ({values['ref']!r})"
    if table == "likenesses":
        return f"likeness of {values['performer']} on {versions['version_id']}"
    if table == "signals":
        return (
            f"signal {values['source']} ({values['evidence']}) in {versions['version_id']}: "
            f"{values['summary']}"
        )
    if table == "roots":
        return f"root {difference.root_path}"
    return f"deliverable {values['name']!r}"


def _origin_alias(code: object) -> str:
    """An origin's alias (`ai`, `capture`...), or the code as found when it is not one."""
    try:
        return Origin(code).alias
    except ValueError:
        return repr(code)


def audit_failed_text(error: AuditFailed) -> str:
    """The error a finalize or checkpoint refused over a history that does not verify prints:
    the first ten problems, and where to look for the rest."""
    problems = [audit_problem_text(problem) for problem in error.report.problems]
    listed = "\n".join(f"  - {problem}" for problem in problems[:10])
    more = f"\n  ... and {len(problems) - 10} more" if len(problems) > 10 else ""
    return (
        "The ledger's history does not verify, so nothing can be finalized or checkpointed:\n"
        f"{listed}{more}\nRun `provenance audit verify` for the full report, and restore the "
        "ledger from a backup checked against your checkpoints."
    )


def audit_difference_json(difference: RowDifference | MoreDifferences) -> dict[str, Any]:
    """One entry of `AuditReport.1`'s `differences`: `{"kind": "row", "table", "how", "event":
    {"id", "kind"}, "values", "versions", "tool", "root_path", "changes", "wrong_event_kind"}`,
    or `{"kind": "more", "table", "event", "more"}` for the rows past the cap."""
    from provenance.audit.differences import MoreDifferences

    if isinstance(difference, MoreDifferences):
        return {"kind": "more", **dataclasses.asdict(difference)}
    body = dataclasses.asdict(difference)
    return {"kind": "row", **body, "changes": list(body["changes"])}

"""Events written before row commitments: which tables they could write, and the old rules that
compare their claims and approvals with the fields of their payloads.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from provenance.store.models import Approval, Claim, Tool
from provenance.store.queries import chunked

__all__ = [
    "LEGACY_CHECKED",
    "LEGACY_WRITES",
    "legacy_checks",
]


LEGACY_WRITES: dict[str, frozenset[str]] = {
    "ingest": frozenset({"asset_versions", "claims", "lineage", "likenesses"}),
    "claim": frozenset({"claims", "likenesses"}),
    "claim.resolve": frozenset({"claims", "likenesses"}),
    "link": frozenset({"lineage"}),
    "approve": frozenset({"approvals"}),
    "consent": frozenset({"consents"}),
    "tool.add": frozenset({"tools"}),
    "finalize": frozenset({"deliverables"}),
}
"""Which tables events written before row commitments could write, by kind."""

LEGACY_CHECKED = ("ingest", "claim", "claim.resolve", "approve")
"""Kinds of those events whose claims and approvals the old rules compare with their payloads."""


def legacy_checks(session: Session, events: dict[int, tuple[str, dict[str, Any]]]) -> list[str]:
    """Claims and approvals of events without row commitments, against their payload fields."""
    legacy = sorted(events)
    problems = _legacy_claim_checks(session, events, legacy)
    return problems + _legacy_approval_checks(session, events, legacy)


def _legacy_claim_checks(
    session: Session, events: dict[int, tuple[str, dict[str, Any]]], legacy: list[int]
) -> list[str]:
    """Each claim of these events against its event's payload; and each claim event's claim."""
    problems: list[str] = []
    tool_names = dict(session.execute(select(Tool.id, Tool.name)).all())
    claims_per_event: dict[int, int] = {}
    claims = [
        claim
        for chunk in chunked(legacy)
        for claim in session.execute(select(Claim).where(Claim.event_id.in_(chunk))).scalars()
    ]
    for claim in sorted(claims, key=lambda c: c.id):
        claims_per_event[claim.event_id] = claims_per_event.get(claim.event_id, 0) + 1
        kind, payload = events[claim.event_id]
        if kind not in ("ingest", "claim", "claim.resolve"):
            continue  # reported as a row in a table its event does not write
        tool = tool_names.get(claim.tool_id) if claim.tool_id is not None else None
        mismatches = _claim_mismatches(claim, kind, payload, tool)
        if mismatches:
            problems.append(
                f"claim #{claim.id} (event #{claim.event_id}) was changed: " + "; ".join(mismatches)
            )
    for event_id, (kind, _) in events.items():
        if kind in ("claim", "claim.resolve") and claims_per_event.get(event_id, 0) != 1:
            problems.append(f"the claim recorded by event #{event_id} ({kind}) is missing")
    return problems


def _claim_mismatches(
    claim: Claim, kind: str, payload: dict[str, Any], tool: str | None
) -> list[str]:
    """How a claim row differs from the payload of the event that recorded it (`kind`);
    `tool` is the name of the claim's tool."""
    recorded_origin = payload.get("origin")
    recorded_tool = payload.get("tool")
    recorded_version = None
    if recorded_tool is not None and "@" in recorded_tool:
        recorded_tool, _, recorded_version = recorded_tool.rpartition("@")
    mismatches = []
    if claim.resolves != (kind == "claim.resolve"):
        mismatches.append("its resolving flag differs from the event's")
    if (recorded_version or None) != (claim.tool_version or None) and recorded_tool:
        mismatches.append("its tool version differs from the event's")
    if recorded_origin != claim.origin:
        mismatches.append(f"origin {claim.origin!r} but the event says {recorded_origin!r}")
    if payload.get("by") != claim.claimed_by:
        mismatches.append(f"by {claim.claimed_by!r} but the event says {payload.get('by')!r}")
    if (payload.get("note") or None) != (claim.note or None):
        mismatches.append("its note differs from the event's")
    if recorded_tool is not None and (tool or "").casefold() != recorded_tool.casefold():
        mismatches.append(f"tool {tool!r} but the event says {recorded_tool!r}")
    if kind != "ingest" and payload.get("version_id") != claim.version_id:
        mismatches.append("it is attached to another asset version than the event says")
    return mismatches


def _legacy_approval_checks(
    session: Session, events: dict[int, tuple[str, dict[str, Any]]], legacy: list[int]
) -> list[str]:
    """Each approval of these events against its event's payload; and each approve event's
    approval."""
    problems: list[str] = []
    approvals_per_event: dict[int, int] = {}
    for approval in (
        approval
        for chunk in chunked(legacy)
        for approval in session.execute(
            select(Approval).where(Approval.event_id.in_(chunk))
        ).scalars()
    ):
        approvals_per_event[approval.event_id] = approvals_per_event.get(approval.event_id, 0) + 1
        kind, payload = events[approval.event_id]
        recorded = (
            payload.get("version_id"),
            payload.get("digest"),
            payload.get("ref"),
            payload.get("by"),
            bool(payload.get("covers_tool_risk")),
        )
        actual = (
            approval.version_id,
            approval.digest,
            approval.ref,
            approval.approved_by,
            approval.covers_tool_risk,
        )
        if kind == "approve" and recorded != actual:
            problems.append(
                f"approval #{approval.id} (event #{approval.event_id}) does not match the event "
                "that recorded it"
            )
    for event_id, (kind, _) in events.items():
        if kind == "approve" and approvals_per_event.get(event_id, 0) != 1:
            problems.append(f"the approval recorded by event #{event_id} is missing")
    return problems

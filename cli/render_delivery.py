"""Rendering a delivery's results: sweeps, finalizes, manifests, verifies, approvals, consents,
policies and disclosures, as text for people and as JSON documents for scripts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from provenance.cli.render import asset_json, count, relative_text, shown, tool_json, when

from provenance.records import (
    ApprovalInfo,
    DisclosureEntry,
    FileChange,
    ManifestReport,
    SweepReport,
    ToolInfo,
    VerifyReport,
    display_path,
)

if TYPE_CHECKING:
    # (Named in annotations only: rendering loads no policy, see tests/cli/test_startup.py.)
    from provenance.policy import Finding, Policy

__all__ = [
    "approval_json",
    "disclosure_entry_json",
    "disclosure_entry_text",
    "finalize_json",
    "finding_json",
    "manifest_json",
    "manifest_text",
    "policy_json",
    "policy_text",
    "sweep_json",
    "sweep_text",
    "tool_vetting_text",
    "verify_json",
    "verify_text",
]


def finding_json(finding: Finding) -> dict[str, Any]:
    return {
        "rule": finding.rule,
        "severity": finding.severity.value,
        "asset": finding.asset,
        "files": list(finding.files),
        "message": finding.message,
        "fix": finding.fix,
        "details": dict(finding.details),
    }


def sweep_json(report: SweepReport) -> dict[str, Any]:
    """`SweepReport.1`: what a sweep found; it records nothing, so it names no deliverable."""
    verdict = report.verdict
    return {
        "delivery": {"kind": report.delivery_kind, "source": display_path(report.source)},
        "blocked": verdict.blocked,
        "clean": verdict.clean,
        "policy": policy_summary_json(verdict.policy),
        "files": report.files,
        "assets": report.assets,
        "files_read": report.files_read,
        "bytes_read": report.bytes_read,
        "files_cached": report.files_cached,
        "ignored_rows": report.ignored_rows,
        "seconds": round(report.seconds, 4),
        "leftovers": [display_path(p) for p in report.leftovers],
        "findings": [finding_json(f) for f in verdict.findings],
    }


def finalize_json(report: SweepReport) -> dict[str, Any]:
    """`FinalizeReport.1`: the same checks, and what was recorded: the deliverable's name,
    whether it is final, its manifest and event (none when refused)."""
    document = sweep_json(report)
    findings = document.pop("findings")
    document.update(
        name=report.name,
        finalized=report.finalized,
        manifest=display_path(report.manifest) if report.manifest else None,
        event={"id": report.event_id, "hash": report.event_hash} if report.event_id else None,
        leftovers_removed=report.leftovers_removed,
        findings=findings,
    )
    return document


def sweep_text(report: SweepReport) -> Iterator[str]:
    verdict = report.verdict
    for finding in verdict.findings:
        where = finding.asset or ", ".join(shown(f) for f in finding.files[:3])
        yield f"{finding.severity.value.upper():5} {finding.rule}: {shown(where)}"
        yield f"      why: {relative_text(finding.message)}"
        yield f"      fix: {relative_text(finding.fix)}"
    blocking = sum(1 for f in verdict.findings if f.blocks)
    warnings = len(verdict.findings) - blocking
    yield (
        f"{count(report.files, 'file')}, {count(report.assets, 'asset')}, "
        f"{count(blocking, 'blocking finding')}, {count(warnings, 'warning')} "
        f"(policy {verdict.policy.label}); read {count(report.files_read, 'file')} "
        f"in {report.seconds:.2f} s"
    )
    if report.files_cached:
        yield (
            f"{count(report.files_cached, 'file')} taken as unchanged from the stat cache, not read "
            "(finalize reads every file)"
        )
    if report.ignored_rows:
        yield (
            f"{count(report.ignored_rows, 'pull-list row')} not submitted as FINAL "
            f"{'was' if report.ignored_rows == 1 else 'were'} left out"
        )
    yield from _leftovers_text(report.leftovers, report.leftovers_removed)
    if report.name is not None:
        if report.finalized:
            yield f"FINALIZED {report.name}: manifest {shown(display_path(report.manifest or b''))}"
            yield f"  ledger event #{report.event_id} {report.event_hash}"
            if verdict.policy.custom:
                yield f"  under a CUSTOM policy: {verdict.policy.label}"
        else:
            reason = "nothing to deliver" if not report.files else "blocking findings above"
            yield f"REFUSED {report.name}: {reason}; nothing was marked final."


def _leftovers_text(leftovers: list[bytes], removed: bool) -> Iterator[str]:
    if not leftovers:
        return
    count = len(leftovers)
    what = f"{count} leftover{'s' if count > 1 else ''} of an interrupted finalize"
    if removed:
        yield f"removed {what}: {', '.join(shown(display_path(p)) for p in leftovers)}"
    else:
        yield (
            f"left out {what} (the next finalize removes {'them' if count > 1 else 'it'}): "
            f"{', '.join(shown(display_path(p)) for p in leftovers)}"
        )


def manifest_json(report: ManifestReport) -> dict[str, Any]:
    return {
        "name": report.name,
        "path": display_path(report.path),
        "digest": report.digest,
        "size": report.size,
        "written": report.written,
        "checkpoint": str(report.checkpoint) if report.checkpoint else None,
        "checkpoint_written": report.checkpoint_written,
        "leftovers_removed": [display_path(p) for p in report.leftovers_removed],
    }


def manifest_text(report: ManifestReport) -> Iterator[str]:
    path = shown(display_path(report.path))
    if report.written:
        yield f"wrote {path} ({report.digest}, {report.size:,} bytes): {report.name} as finalized"
    else:
        yield f"{path} is in place ({report.digest}): {report.name} as finalized"
    if report.checkpoint is None:
        yield "the manifest carries no checkpoint"
    elif report.checkpoint_written:
        yield f"checkpoint kept again: {report.checkpoint}"
    else:
        yield f"checkpoint already kept: {report.checkpoint}"
    yield from _leftovers_text(report.leftovers_removed, removed=True)


def verify_json(report: VerifyReport) -> dict[str, Any]:
    def changes(items: list[FileChange]) -> list[dict[str, Any]]:
        return [{"path": c.path, "recorded": c.recorded, "now": c.now} for c in items]

    return {
        "name": report.name,
        "source": display_path(report.source),
        "finalized_at": report.finalized_at.isoformat(),
        "files": report.files,
        "ok": report.ok,
        "files_read": report.files_read,
        "files_cached": report.files_cached,
        "added": changes(report.added),
        "removed": changes(report.removed),
        "changed": changes(report.changed),
        "manifest": {
            "path": display_path(report.manifest) if report.manifest else None,
            "state": report.manifest_state,
        },
        "leftovers": [display_path(p) for p in report.leftovers],
    }


def verify_text(report: VerifyReport) -> Iterator[str]:
    for change in report.added:
        yield f"added    {change.path} ({change.now})"
    for change in report.removed:
        yield f"removed  {change.path} (was {change.recorded})"
    for change in report.changed:
        yield f"changed  {change.path} (was {change.recorded}, now {change.now})"
    manifest = shown(display_path(report.manifest or b""))
    if report.manifest_state == "missing":
        yield (
            f"missing  {manifest}: the manifest is not there; `provenance manifest write "
            f"{report.name}` writes it again, as it was finalized"
        )
    elif report.manifest_state in ("changed", "earlier"):
        what = "an earlier finalize's" if report.manifest_state == "earlier" else "not the one"
        yield (
            f"changed  {manifest}: {what} manifest, not the one {report.name} finalized; "
            f"`provenance manifest write {report.name}` writes it again"
        )
    elif report.manifest_state == "later":
        yield f"note: {manifest} is the manifest of a later finalize of this delivery"
    yield from _leftovers_text(report.leftovers, removed=False)
    if report.files_cached:
        yield (
            f"quick: {count(report.files_cached, 'file')} taken as unchanged from the stat cache, "
            "not read (verify without --quick reads every file)"
        )
    state = "matches" if report.ok else "DOES NOT match"
    yield (
        f"{shown(display_path(report.source))} {state} {report.name} as finalized "
        f"{when(report.finalized_at)} ({count(report.files, 'file')})"
    )


def approval_json(approval: ApprovalInfo) -> dict[str, Any]:
    return {
        "asset": asset_json(approval.asset),
        "ref": approval.ref,
        "approved_by": approval.approved_by,
        "note": approval.note,
        "covers_tool_risk": approval.covers_tool_risk,
        "recorded_by": approval.recorded_by,
        "at": approval.at.isoformat(),
        "strong_digest": approval.strong_digest,
    }


def policy_summary_json(policy: Policy) -> dict[str, Any]:
    """The policy a sweep or finalize applied: custom or built-in, and what a custom one changed."""
    return {**policy.document(), "source": policy.source}


def policy_json(policy: Policy) -> dict[str, Any]:
    from provenance.policy import RULES

    return {
        **policy_summary_json(policy),
        "rules": [
            {
                "id": rule.id,
                "severity": policy.severity(rule.id).value,
                "built_in": rule.default.value,
                "title": rule.title,
                "guideline": rule.guideline,
            }
            for rule in RULES.values()
        ],
    }


def policy_text(policy: Policy) -> Iterator[str]:
    from provenance.policy import RULES

    if policy.custom:
        yield f"policy {policy.name}: CUSTOM, from the built-in {policy.extends} ({policy.source})"
        changes = policy.changes
        relaxed = [c for c in changes if c.relaxed]
        if relaxed:
            listed = ", ".join(f"{c.rule} {c.severity.value}" for c in relaxed)
            yield f"  relaxes {len(relaxed)} rule{'s' if len(relaxed) > 1 else ''}: {listed}"
        if not changes:
            yield "  changes no rule"
    else:
        yield f"policy {policy.name} ({policy.source})"
    for rule in RULES.values():
        severity = policy.severity(rule.id)
        changed = f" (built-in: {rule.default.value})" if severity is not rule.default else ""
        yield f"  {rule.id:<20} {severity.value:<6} {rule.title}{changed}"
        yield f"  {'':<20} {'':<6} {rule.guideline}"


def disclosure_entry_json(e: DisclosureEntry) -> dict[str, Any]:
    """A generated version, its tools and approvals, where it is used and delivered."""
    return {
        "asset": asset_json(e.asset),
        "origin": e.origin.alias,
        "origin_code": e.origin.value,
        "status": e.status,
        "tools": [tool_json(t) for t in e.tools],
        "approvals": e.approvals,
        "used_in": [asset_json(r) for r in e.used_in],
        "deliverables": [
            {
                "name": d.deliverable,
                "asset": d.asset,
                "version": d.version,
                "how": d.how,
                "covered_by": d.covered_by,
            }
            for d in e.deliverables
        ],
    }


def tool_vetting_text(tool: ToolInfo) -> str:
    return (
        f"{tool.name} ({tool.vendor or 'vendor unknown'}; trains on inputs: "
        f"{tool.trains_on_inputs}; secured: {tool.secured})"
    )


def disclosure_entry_text(entry: DisclosureEntry) -> Iterator[str]:
    tools = ", ".join(tool_vetting_text(t) for t in entry.tools)
    yield f"{shown(entry.asset.name)} v{entry.asset.version}: {entry.origin.alias}, {entry.status}"
    yield f"  tools      {tools or 'not recorded'}"
    yield f"  approvals  {'; '.join(entry.approvals) or 'none'}"
    for ref in entry.used_in:
        yield f"  used in    {shown(ref.name)} v{ref.version}"

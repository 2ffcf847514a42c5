"""What auditors and producers look at: `deliverables`, `report disclosure`, `report delivery`."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from provenance.cli import EXIT_FINDINGS, Context, json_option, pass_context
from provenance.cli.deliver import POLICY_OPTION
from provenance.cli.render import (
    asset_json,
    consent_json,
    deliverable_json,
    delivered_in_json,
    echo,
    emit_json,
    relative_text,
    shown,
    tool_json,
    when,
)
from provenance.cli.render_delivery import (
    disclosure_entry_json,
    disclosure_entry_text,
    finding_json,
    tool_vetting_text,
)
from provenance.cli.write import ProgressLine

from provenance import schemas
from provenance.policy import load_policy
from provenance.records import DeliverableListing, display_path

if TYPE_CHECKING:
    from provenance.report.model import DeliverableDisclosure, DeliveryReport, DisclosureReport

__all__ = ["deliverables", "report"]


@click.command()
@click.option(
    "--contains",
    "target",
    metavar="TARGET",
    help="Only the finalized deliverables that hold this asset's material (any version; a "
    "digest names one version), as it is or inside what they deliver.",
)
@json_option
@pass_context
def deliverables(obj: Context, target: str | None, as_json: bool) -> None:
    """Every finalized deliverable and every refused finalize, oldest first.

    With --contains, the deliverables that hold TARGET's material, and how: delivered as it
    is, or inside a delivered asset (through `contains` lineage, an exact copy or a
    derivative, as the finalizer judged it). A refused finalize froze no files: it holds
    nothing.
    """
    with obj.open() as ledger:
        listings = ledger.deliverables(contains=target)
    if as_json:
        emit_json(
            schemas.DELIVERABLES,
            {
                "contains": target,
                "deliverables": [
                    {
                        **deliverable_json(listing.deliverable),
                        "holds": [delivered_in_json(item) for item in listing.holds],
                    }
                    for listing in listings
                ],
            },
        )
        return
    if not listings:
        echo(
            f"No finalized deliverable holds {target}."
            if target
            else "No deliverable has been finalized (or refused) yet."
        )
    for listing in listings:
        for line in _listing_text(listing):
            echo(line)


def _listing_text(listing: DeliverableListing) -> list[str]:
    info = listing.deliverable
    source = shown(info.source_name)
    if info.status == "refused":
        why = ", ".join(info.blocking) or "nothing to deliver"
        lines = [
            f"{info.name}  REFUSED {when(info.at)} by {info.actor}@{info.host}: {source} "
            f"({info.files} files; blocked by {why}; event #{info.event_id})"
        ]
    else:
        lines = [
            f"{info.name}  finalized {when(info.at)} by {info.actor}@{info.host}: {source} "
            f"({info.kind}, {info.files} files, {info.warnings} warnings, policy {info.policy}; "
            f"event #{info.event_id})"
        ]
    for item in listing.holds:
        where = (
            f"delivered as {shown(item.through.name)} v{item.through.version}"
            if item.itself
            else f"in {shown(item.through.name)} v{item.through.version}, which "
            f"{relative_text(item.how)}"
        )
        lines.append(f"  holds {shown(item.version.name)} v{item.version.version}: {where}")
    return lines


@click.group()
def report() -> None:
    """Reports for the studio and for auditors."""


@report.command("disclosure")
@click.option(
    "--deliverable",
    "name",
    metavar="NAME",
    help="Only this finalized deliverable (default: every one, and generated material that no "
    "deliverable holds).",
)
@click.option(
    "--html",
    "html_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also write the report as one self-contained HTML page to this file.",
)
@json_option
@pass_context
def disclosure(obj: Context, name: str | None, html_file: Path | None, as_json: bool) -> None:
    """What goes to the studio contact: per finalized deliverable, every use of generative AI.

    For each deliverable: each generated element in it (the version, the tool and how it was
    vetted, how it is in the deliverable: as it is, or inside which delivered asset, through
    which assets), the approval that covers it there; every performer likeness it uses with
    the consent on record; and the warnings it was finalized under. Without --deliverable,
    also the generated material that no finalized deliverable holds (temporary, or approved
    and not yet delivered).
    """
    with obj.open() as ledger:
        found = ledger.disclosure_report(name)
    if html_file is not None:
        from provenance.report.html import disclosure_page, write_page

        write_page(html_file, disclosure_page(found))
    if as_json:
        emit_json(schemas.DISCLOSURE, disclosure_json(found))
        return
    for line in disclosure_text(found):
        echo(line)
    if html_file is not None:
        echo(f"HTML report: {shown(str(html_file.resolve()))}")


@report.command("delivery")
@click.argument("target", metavar="DELIVERY_OR_NAME")
@click.option(
    "--html",
    "html_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the report as one self-contained HTML page (thumbnails and lineage pictures "
    "inline, nothing fetched) to this file.",
)
@POLICY_OPTION
@json_option
@pass_context
def delivery(
    obj: Context, target: str, html_file: Path | None, policy_file: Path | None, as_json: bool
) -> None:
    """A delivery as a producer and a supervisor read it: one row per delivered asset.

    DELIVERY_OR_NAME is the name of a finalized deliverable (its frozen files, and the
    warnings it was finalized under, from its manifest), or else a delivery to sweep (a
    folder, a path list, a CSV pull list or an .otio timeline: the same checks as `sweep`,
    nothing recorded). Each row: the first, middle and last frame (with --html), the origin,
    the tools, the generated material in it and the approvals that cover it, likeness and
    consent, and the findings with their fixes. Exit 3 when a swept delivery has findings.
    """
    policy = load_policy(policy_file)
    progress = ProgressLine(enabled=not as_json and sys.stderr.isatty())
    with obj.open() as ledger:
        try:
            found = ledger.delivery_report(target, policy=policy, progress=progress)
        finally:
            progress.finish()
    if html_file is not None:
        from provenance.report.html import write_delivery_html

        shown_progress = ThumbnailLine(enabled=not as_json and sys.stderr.isatty())
        try:
            write_delivery_html(found, html_file, progress=shown_progress)
        finally:
            shown_progress.finish()
    if as_json:
        emit_json(schemas.DELIVERY_REPORT, delivery_json(found))
    else:
        for line in delivery_text(found):
            echo(line)
        if html_file is not None:
            echo(f"HTML report: {html_file.resolve()}")
    if found.name is None and found.verdict != "CLEAN":
        sys.exit(EXIT_FINDINGS)


class ThumbnailLine:
    """`thumbnails 1,200 of 6,000` on a terminal's stderr; silent when piped or with --json."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.shown = False

    def __call__(self, done: int, total: int) -> None:
        if self.enabled:
            click.echo(f"\rthumbnails {done:,} of {total:,} ", err=True, nl=False)
            self.shown = True

    def finish(self) -> None:
        if self.shown:
            click.echo("\r\033[K", err=True, nl=False)


def delivery_json(found: DeliveryReport) -> dict[str, Any]:
    return {
        "title": found.title,
        "name": found.name,
        "source": found.source,
        "kind": found.kind,
        "verdict": found.verdict,
        "policy": {
            "name": found.policy.name,
            "digest": found.policy.digest,
            "source": found.policy.source,
            "changes": found.policy.changes,
        },
        "checkpoint": {
            "event": found.checkpoint.event_id,
            "hash": found.checkpoint.event_hash,
            "signed": found.checkpoint.signed,
        },
        "files": found.files,
        "finalized_at": found.finalized_at.isoformat() if found.finalized_at else None,
        "made_at": found.made_at.isoformat(),
        "warnings_problem": found.warnings_problem,
        "counts": found.counts,
        "assets": [
            {
                "name": row.name,
                "asset": asset_json(row.asset) if row.asset else None,
                "files": row.files,
                "frames": row.frames,
                "bytes": row.size,
                "origin": row.origin.alias if row.origin else None,
                "origin_code": row.origin.value if row.origin else None,
                "disputed": row.disputed,
                "tools": row.tools,
                "generated": [
                    {
                        "asset": s.element,
                        "version": s.version,
                        "origin": s.origin.alias,
                        "tools": [
                            {
                                "name": t.name,
                                "generative": t.generative,
                                "trains_on_inputs": t.trains_on_inputs,
                                "secured": t.secured,
                            }
                            for t in s.tools
                        ],
                        "how": s.how,
                        "covered_by": s.covered_by,
                    }
                    for s in row.sources
                ],
                "approvals": row.approvals,
                "likeness": [
                    {"performer": p, "consents": [consent_json(c) for c in consents]}
                    for p, consents in row.likeness
                ],
                "findings": [finding_json(f) for f in row.findings],
                "thumbnails": [
                    {"label": t.label, "path": display_path(t.path)} for t in row.thumbnails
                ],
            }
            for row in found.rows
        ],
        "findings": [finding_json(f) for f in found.loose],
    }


def delivery_text(found: DeliveryReport) -> Iterator[str]:
    policy = found.policy
    changes = ", ".join(f"{rule} = {sev}" for rule, sev in sorted(policy.changes.items()))
    yield f"{found.title}: {found.verdict}"
    yield f"  delivery    {shown(found.source)} ({found.kind}, {found.files} files, {len(found.rows)} assets)"
    yield f"  policy      {policy.name} ({policy.source}{'; ' + changes if changes else ''})"
    yield f"  ledger      event #{found.checkpoint.event_id} {found.checkpoint.event_hash}"
    counts = ", ".join(f"{alias} {count}" for alias, count in found.counts.items())
    yield f"  by origin   {counts or 'none'}"
    if found.warnings_problem:
        yield f"  warnings    not listed: {relative_text(found.warnings_problem)}"
    for finding in found.loose:
        yield f"{finding.severity.value.upper():5} {finding.rule}: {relative_text(finding.message)}"
    for row in found.rows:
        origin = row.origin.alias if row.origin else "not in the ledger"
        version = f" v{row.asset.version}" if row.asset else ""
        frames = f" frames {row.frames}" if row.frames else ""
        tools = f", {', '.join(row.tools)}" if row.tools else ""
        files = f"{row.files} file{'s' if row.files != 1 else ''}"
        yield f"{row.name}{version}: {origin}{tools} ({files}{frames})"
        for source in row.sources:
            covered = "; ".join(source.covered_by) or "NOT COVERED"
            how = "itself" if source.how == "itself" else relative_text(source.how)
            yield f"    generated  {shown(source.element)} v{source.version}: {how}; approved: {covered}"
        for performer, consents in row.likeness:
            consent = "; ".join(f"{c.scope} ({c.ref})" for c in consents) or "NO CONSENT"
            yield f"    likeness   {performer}: {consent}"
        for finding in row.findings:
            yield f"    {finding.severity.value.upper():5} {finding.rule}: {relative_text(finding.message)}"


def disclosure_json(found: DisclosureReport) -> dict[str, Any]:
    return {
        "made_at": found.made_at.isoformat(),
        "deliverables": [_section_json(section) for section in found.deliverables],
        "undelivered": [disclosure_entry_json(e) for e in found.undelivered],
        "uses": [disclosure_entry_json(e) for e in found.uses],
    }


def _section_json(section: DeliverableDisclosure) -> dict[str, Any]:
    return {
        **deliverable_json(section.deliverable),
        "generative_uses": [
            {
                "element": asset_json(u.entry.asset),
                "origin": u.entry.origin.alias,
                "origin_code": u.entry.origin.value,
                "tools": [tool_json(t) for t in u.entry.tools],
                "delivered_as": {"asset": u.use.asset, "version": u.use.version},
                "how": u.use.how,
                "covered_by": u.use.covered_by,
            }
            for u in section.uses
        ],
        "likeness": [
            {
                "performer": u.performer,
                "delivered_as": {"asset": u.asset, "version": u.version},
                "marked": u.marked,
                "how": u.how,
                "consents": [consent_json(c) for c in u.consents],
            }
            for u in section.likeness
        ],
        "delivered_warnings": [
            {"rule": w.rule, "asset": w.asset, "message": w.message, "fix": w.fix}
            for w in section.warnings
        ],
        "warnings_problem": section.warnings_problem,
    }


def disclosure_text(found: DisclosureReport) -> Iterator[str]:
    yield f"Disclosure of generative AI use, as the ledger stands {when(found.made_at)}"
    if not found.deliverables and not found.undelivered:
        yield ""
        yield "No generative AI use is recorded, and no deliverable has been finalized."
    for section in found.deliverables:
        yield ""
        yield from _section_text(section)
    if found.undelivered:
        yield ""
        yield "Generated material in no finalized deliverable"
        for entry in found.undelivered:
            for line in disclosure_entry_text(entry):
                yield "  " + line


def _section_text(section: DeliverableDisclosure) -> Iterator[str]:
    info = section.deliverable
    yield (
        f"{info.name}: finalized {when(info.at)} by {info.actor} ({shown(info.source_name)}, "
        f"{info.files} files, policy {info.policy}, event #{info.event_id})"
    )
    yield "  Generative AI" + ("" if section.uses else ": none")
    for use in section.uses:
        element = use.entry.asset
        tools = "; ".join(tool_vetting_text(t) for t in use.entry.tools) or "tool not recorded"
        yield f"    {shown(element.name)} v{element.version} ({use.entry.origin.alias}), made with {tools}"
        if use.use.how == "itself":
            yield "      delivered as it is"
        else:
            yield f"      in {shown(use.use.asset)} v{use.use.version}, which {relative_text(use.use.how)}"
        covered = "; ".join(use.use.covered_by) or "NONE (delivered under a policy that allowed it)"
        yield f"      approved: {covered}"
    yield "  Likeness" + ("" if section.likeness else ": none")
    for item in section.likeness:
        where = (
            f"{shown(item.asset)} v{item.version}"
            if item.how == "itself"
            else f"{shown(item.asset)} v{item.version}, which {relative_text(item.how)}"
        )
        consents = "; ".join(f"{c.scope} ({c.ref})" for c in item.consents)
        yield f"    {item.performer} in {where}"
        yield f"      consent: {consents or 'NONE ON RECORD'}"
    if section.warnings_problem:
        yield (
            f"  Delivered under {info.warnings} warning(s), not listed: "
            f"{relative_text(section.warnings_problem)}"
        )
    else:
        yield "  Delivered under warnings" + ("" if section.warnings else ": none")
    for warning in section.warnings:
        yield f"    {warning.rule}: {relative_text(warning.message)}"
        if warning.fix:
            yield f"      fix: {relative_text(warning.fix)}"

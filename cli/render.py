"""Rendering library results: text for people, one JSON document (with a "schema" key) for scripts.

This module holds what every command shares (printing paths and counts, emitting JSON) and the
records of assets: cards, lineage, history, ingests, scenes, tools. A delivery's results are
rendered by `render_delivery`, the audit's by `render_audit`."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
from collections.abc import Callable, Iterator
from typing import Any

import click

from provenance.records import (
    ApprovalRecorded,
    AssetCard,
    AssetRef,
    ClaimInfo,
    ClaimRecorded,
    ConsentInfo,
    DeliverableInfo,
    DeliveredIn,
    DeliveryFinalized,
    DisputeNote,
    EdgeRecorded,
    HistoryChange,
    HistoryEntry,
    IngestReport,
    LikenessRecorded,
    LineageNode,
    MhlCheck,
    ReadAs,
    SceneLineage,
    SignalInfo,
    ToolInfo,
    VersionRecorded,
    display_path,
)
from provenance.scan import format_frames

__all__ = [
    "asset_json",
    "card_json",
    "card_text",
    "change_json",
    "change_text",
    "consent_json",
    "count",
    "deliverable_json",
    "delivered_in_json",
    "echo",
    "emit_json",
    "history_json",
    "history_text",
    "history_what",
    "human_bytes",
    "ingest_json",
    "ingest_text",
    "lineage_json",
    "lineage_text",
    "printable",
    "read_as_json",
    "read_as_text",
    "relative_text",
    "scene_json",
    "scene_text",
    "shown",
    "skipped_text",
    "tool_json",
    "tool_text",
    "when",
]


def printable(text: str) -> str:
    """Text for a terminal: what does not print (a newline or carriage return in a file name, an
    escape sequence, a bidirectional override) is shown as an escape (`\\n`, `\\x1b`,
    `\\u202e`), so that a name can never forge a line of output. (JSON output escapes by itself.)"""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else _escaped(c) for c in text)


def _escaped(character: str) -> str:
    return character.encode("unicode_escape").decode("ascii")


def echo(text: str = "", err: bool = False) -> None:
    """Print one line of text output (see `printable`)."""
    click.echo(printable(text), err=err)


def shown(path: str) -> str:
    """A path as people read it: relative to the current folder when it lies below it."""
    here = os.getcwd()
    if path.startswith(here + os.sep):
        return path[len(here) + 1 :]
    return path


def relative_text(text: str) -> str:
    """Library messages name absolute paths; people read them relative to where they stand."""
    return text.replace(os.getcwd() + os.sep, "")


def emit_json(schema: str, body: dict[str, Any]) -> None:
    click.echo(json.dumps({"schema": schema, **body}, indent=2, sort_keys=False, default=str))


def human_bytes(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(count) < 1024 or unit == "TiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} TiB"


def when(moment: dt.datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "-"


def count(number: int, noun: str, plural: str | None = None) -> str:
    """`1 file`, `2 files`: summaries read as sentences."""
    return f"{number:,} {noun if number == 1 else plural or noun + 's'}"


# -- records as JSON -----------------------------------------------------------------------------


def asset_json(ref: AssetRef) -> dict[str, Any]:
    return {
        "path": ref.name,
        "kind": ref.kind,
        "version": ref.version,
        "latest_version": ref.latest,
        "digest": ref.digest,
    }


def version_text(ref: AssetRef) -> str:
    """`v1`, or `v1; latest v2` when a newer version exists (lineage is pinned to versions)."""
    return f"v{ref.version}; latest v{ref.latest}" if ref.superseded else f"v{ref.version}"


def claim_json(claim: ClaimInfo) -> dict[str, Any]:
    return {
        "origin": claim.origin.alias,
        "code": claim.origin.value,
        "uri": claim.origin.uri,
        "tool": claim.tool,
        "tool_version": claim.tool_version,
        "unregistered_tool": claim.unregistered_tool,
        "claimed_by": claim.claimed_by,
        "evidence": claim.evidence,
        "note": claim.note,
        "resolves": claim.resolves,
        "at": claim.at.isoformat(),
    }


def signal_json(signal: SignalInfo) -> dict[str, Any]:
    return {
        "source": signal.source,
        "origin": signal.origin.alias if signal.origin is not None else None,
        "code": signal.origin.value if signal.origin is not None else None,
        "evidence": signal.evidence,
        "tool": signal.tool,
        "summary": signal.summary,
        "detail": signal.detail,
    }


def tool_json(tool: ToolInfo) -> dict[str, Any]:
    return {
        "name": tool.name,
        "vendor": tool.vendor,
        "generative": tool.generative,
        "trains_on_inputs": tool.trains_on_inputs,
        "secured": tool.secured,
        "registered_at": tool.registered_at.isoformat(),
    }


def card_json(card: AssetCard) -> dict[str, Any]:
    return {
        "asset": asset_json(card.asset),
        "versions": card.versions,
        "status": card.status,
        "origin": card.origin.alias,
        "origin_code": card.origin.value,
        "read_as": read_as_json(card.read_as),
        "disputed": card.disputed,
        "differs": card.differs,
        "generative": card.generative,
        "members": card.member_count,
        "bytes": card.total_size,
        "frames": format_frames(card.frames),
        "holes": card.holes,
        "frame": card.frame,
        "frame_digest": card.frame_digest,
        "file_digest": card.file_digest,
        "likeness": [
            {"performer": performer, "consents": [consent_json(c) for c in consents]}
            for performer, consents in card.likeness
        ],
        "claims": [claim_json(c) for c in card.claims],
        "signals": [signal_json(signal) for signal in card.signals],
        "parents": [{**asset_json(link.asset), "edge": link.kind} for link in card.parents],
        "children": [{**asset_json(link.asset), "edge": link.kind} for link in card.children],
        "deliverables": [delivered_in_json(item) for item in card.deliverables],
    }


def deliverable_json(info: DeliverableInfo) -> dict[str, Any]:
    return {
        "name": info.name,
        "status": info.status,
        "source": info.source_name,
        "kind": info.kind,
        "policy": {"name": info.policy, "digest": info.policy_digest},
        "files": info.files,
        "warnings": info.warnings,
        "blocking": list(info.blocking),
        "at": info.at.isoformat(),
        "event": {"id": info.event_id, "hash": info.event_hash},
        "actor": info.actor,
        "host": info.host,
    }


def delivered_in_json(item: DeliveredIn) -> dict[str, Any]:
    return {
        "deliverable": item.deliverable.name,
        "finalized_at": item.deliverable.at.isoformat(),
        "event": item.deliverable.event_id,
        "version": asset_json(item.version),
        "through": asset_json(item.through),
        "how": item.how,
        "files": item.files,
    }


def delivered_in_text(item: DeliveredIn) -> str:
    """`EP101_VFX_v003 (finalized ...): as itself` / `in comp/... v1, which contains ...`."""
    where = (
        "itself"
        if item.itself
        else f"in {shown(item.through.name)} v{item.through.version} ({relative_text(item.how)})"
    )
    return (
        f"{item.deliverable.name} (finalized {when(item.deliverable.at)}): "
        f"v{item.version.version} {where}"
    )


def lineage_json(node: LineageNode) -> dict[str, Any]:
    return {
        **asset_json(node.asset),
        "edge": node.kind,
        "depth": node.depth,
        "seen_before": node.seen_before,
        "links": [lineage_json(child) for child in node.children],
        "deliverables": [delivered_in_json(item) for item in node.deliverables],
    }


def history_json(entry: HistoryEntry) -> dict[str, Any]:
    """One event of `History.1`: `what` is the sentence `history` prints (absolute paths),
    `changes` the same as data, each with a `kind`."""
    return {
        "event": entry.event_id,
        "kind": entry.kind,
        "actor": entry.actor,
        "host": entry.host,
        "at": entry.at.isoformat(),
        "hash": entry.hash,
        "what": history_what(entry),
        "changes": [change_json(change) for change in entry.changes],
    }


def change_json(change: HistoryChange) -> dict[str, Any]:
    """One thing an event did to an asset: `{"kind": "version" | "claim" | "lineage" |
    "approval" | "likeness" | "delivery", ...}` and its fields, named as in Python (a claim's
    `origin` as its alias, with its IPTC `code`; each delivered holding with `itself`)."""
    body: dict[str, Any] = {"kind": change.kind}
    body.update((f.name, getattr(change, f.name)) for f in dataclasses.fields(change))
    if isinstance(change, ClaimRecorded):
        body.update(origin=change.origin.alias, code=change.origin.value)
    elif isinstance(change, DeliveryFinalized):
        body["holds"] = [
            {**dataclasses.asdict(held), "itself": held.itself} for held in change.holds
        ]
    return body


def ingest_json(report: IngestReport) -> dict[str, Any]:
    return {
        "ok": report.ok,
        "event": report.event_id,
        "assets": {
            "total": report.asset_count,
            "new": report.assets_new,
            "changed": report.assets_changed,
            "unchanged": report.assets_unchanged,
        },
        "files": {
            "total": report.file_count,
            "new": report.files_new,
            "changed": report.files_changed,
            "unchanged": report.files_unchanged,
            "read": report.files_read,
        },
        "bytes": {"total": report.bytes_total, "read": report.bytes_read},
        "links": report.links,
        "escaping_links": [display_path(p) for p in report.escaping_links],
        "claims_added": report.claims_added,
        "signals": [
            {
                "asset": display_path(pattern),
                "source": signal.source,
                "origin": signal.origin.alias if signal.origin is not None else None,
                "evidence": signal.evidence.value,
                "tool": signal.tool,
                "summary": signal.summary,
                "detail": signal.detail,
            }
            for pattern, signal in report.signals
        ],
        "unprinted": [
            {"asset": display_path(pattern), "problem": problem}
            for pattern, problem in report.unprinted
        ],
        "disputed": [
            {
                "asset": note.asset,
                "version": note.version,
                "claimed": note.claimed,
                "files_say": note.files_say,
                "same_bytes_as": [
                    {"asset": asset, "version": version, "origin": origin}
                    for asset, version, origin in note.same_bytes_as
                ],
                "blocks_delivery": True,
                "fix": dispute_fix(note),
            }
            for note in report.disputed
        ],
        "edges_added": report.edges_added,
        "seconds": round(report.seconds, 4),
        "gb_per_s": round(report.gb_per_s, 3),
        "holes": report.holes,
        "skipped": [
            {"path": s.name, "reason": s.reason, "detail": s.detail} for s in report.skipped
        ],
        "recorded": [asset_json(ref) for ref in report.assets],
        "scene": scene_json(report.scene) if report.scene is not None else None,
        "mhl": mhl_json(report.mhl) if report.mhl is not None else None,
    }


def mhl_json(check: MhlCheck) -> dict[str, Any]:
    return {
        "history": display_path(check.history),
        "generations": check.generations,
        "creator": check.creator,
        "hash_formats": list(check.formats),
        "matched": check.matched,
        "claimed": check.claimed,
        "findings": [{"path": f.path, "problem": f.problem} for f in check.findings],
    }


def mhl_text(check: MhlCheck) -> Iterator[str]:
    yield (
        f"ASC MHL {shown(display_path(check.history))} ({check.generations} "
        f"generation{'s' if check.generations != 1 else ''}, {check.creator}; "
        f"{', '.join(check.formats)}): {check.matched} files match, {check.claimed} assets "
        "recorded as capture"
    )
    for finding in check.findings:
        yield f"  {finding.path}: {finding.problem}"


def scene_json(lineage: SceneLineage) -> dict[str, Any]:
    return {
        "path": display_path(lineage.scene),
        "kind": lineage.kind,
        "tool": lineage.tool,
        "asset": asset_json(lineage.scene_asset) if lineage.scene_asset else None,
        "inputs": [
            {
                "path": item.name,
                "nodes": list(item.nodes),
                "frames": format_frames(item.frames),
                "status": item.status,
                "asset": asset_json(item.asset) if item.asset else None,
                "latest_version": item.latest,
                "origin": item.origin.alias if item.origin is not None else None,
            }
            for item in lineage.inputs
        ],
        "outputs": [display_path(path) for path in lineage.outputs],
        "findings": [
            {
                "rule": f.rule,
                "node": f.node,
                "knob": f.knob,
                "text": f.text,
                "message": f.message,
            }
            for f in lineage.findings
        ],
    }


# -- records as text -----------------------------------------------------------------------------


def read_as_json(read_as: ReadAs | None) -> dict[str, Any] | None:
    if read_as is None:
        return None
    return {
        "path": read_as.path,
        "digest": read_as.digest,
        "holders": [{**asset_json(ref), "frame": frame} for ref, frame in read_as.holders],
    }


def read_as_text(read_as: ReadAs | None) -> Iterator[str]:
    if read_as is None:
        return
    yield (
        f"{shown(read_as.path)} is not recorded at its path: read to hash it, its bytes "
        f"({read_as.digest}) are held by:"
    )
    for number, (ref, frame) in enumerate(read_as.holders):
        at = f", frame {frame}" if frame is not None else ""
        shown_below = "  (shown below)" if number == 0 else ""
        yield f"  {shown(ref.name)} v{ref.version}{at}{shown_below}"


def dispute_text(note: DisputeNote) -> str:
    """What the sides of a dispute say, as a sentence."""
    parts = [f"claimed as {', '.join(note.claimed) or 'nothing'}"]
    if note.files_say:
        parts.append(f"its files say {'; '.join(note.files_say)}")
    parts.extend(
        f"its bytes are recorded as {shown(asset)} v{version} ({origin})"
        for asset, version, origin in note.same_bytes_as
    )
    return ", but ".join(parts) + "."


def dispute_fix(note: DisputeNote, name: Callable[[str], str] = str) -> str:
    return f"`provenance tag {name(note.asset)} --origin X --resolve --note WHY`"


def ingest_text(report: IngestReport) -> Iterator[str]:
    yield (
        f"{count(report.asset_count, 'asset')} ({report.assets_new} new, "
        f"{report.assets_changed} changed, {report.assets_unchanged} unchanged), "
        f"{count(report.file_count, 'file')} "
        f"({report.files_new} new, {report.files_changed} changed, {report.files_unchanged} "
        f"unchanged), {human_bytes(report.bytes_total)}"
    )
    yield (
        f"read {count(report.files_read, 'file')}, {human_bytes(report.bytes_read)} in "
        f"{report.seconds:.2f} s ({report.gb_per_s:.2f} GB/s)"
    )
    if report.claims_added or report.edges_added:
        yield (
            f"{count(report.claims_added, 'claim')} and "
            f"{count(report.edges_added, 'lineage link')} added"
        )
    for pattern, signal in report.signals:
        yield (
            f"signal in {shown(display_path(pattern))}: {signal.source} "
            f"[{signal.evidence.value}]: {signal.summary}"
        )
    for note in report.disputed:
        yield f"DISPUTED {shown(note.asset)} v{note.version}: {dispute_text(note)}"
        yield "  it blocks delivery until a TD settles it: " + dispute_fix(note, shown)
    for sequence, holes in sorted(report.holes.items()):
        yield f"holes in {shown(sequence)}: {format_frames(holes)}"
    if report.links:
        yield f"{count(report.links, 'symlink')} recorded as links (never followed)"
    for path in report.escaping_links:
        yield f"warning: symlink points outside the ingested folder: {shown(display_path(path))}"
    if report.scene is not None:
        yield from scene_text(report.scene, recorded=True)
    if report.mhl is not None:
        yield from mhl_text(report.mhl)


_STATUS_TEXT = {
    "pinned": "",
    "new-bytes": "bytes on disk were not recorded: recorded now, origin unknown",
    "unrecorded": "not in the ledger: recorded now, origin unknown",
    "missing": "not on disk",
    "output": "the scene's own output: not an input",
}
_PLANNED_TEXT = {
    **_STATUS_TEXT,
    "new-bytes": "bytes on disk are no recorded version: would be recorded, origin unknown",
    "unrecorded": "not in the ledger: would be recorded, origin unknown",
}


def scene_text(lineage: SceneLineage, recorded: bool) -> Iterator[str]:
    """A scene's inputs and how each resolved; `recorded` once an ingest linked them."""
    yield f"scene {shown(display_path(lineage.scene))} ({lineage.tool})"
    statuses = _STATUS_TEXT if recorded else _PLANNED_TEXT
    for item in lineage.inputs:
        if item.asset is not None and item.status != "output":
            older = f", not its latest v{item.latest}" if item.latest else ""
            origin = item.origin.alias if item.origin is not None else "unknown"
            what = f"v{item.asset.version} ({origin}{older})"
        else:
            what = "-"
        frames = f" frames {format_frames(item.frames)}" if len(item.frames) > 1 else ""
        note = statuses[item.status]
        if item.status == "missing" and item.asset is not None:
            note += ": its latest recorded version is linked"
        elif item.status == "missing":
            note += ": nothing linked"
        yield f"  contains   {shown(item.name)} {what}{frames} [{', '.join(item.nodes)}]"
        if note:
            yield f"             {note}"
    if lineage.scene_asset is not None:
        yield f"  references {shown(lineage.scene_asset.name)} v{lineage.scene_asset.version}"
    for path in lineage.outputs:
        yield f"  writes     {shown(display_path(path))}"
    for finding in lineage.findings:
        yield f"  {finding.rule}: {relative_text(finding.message)}"
    unknown = lineage.origin_unknown
    if unknown:
        yield (
            f"warning: {len(unknown)} input{'s have' if len(unknown) > 1 else ' has'} no origin "
            "on record; a delivery containing this render is blocked (input-origin-unknown) "
            "until each is declared:"
        )
        for item in unknown:
            yield f"  provenance tag {shown(item.name)} --origin capture|human|ml-assisted|ai|ai-composite"


def skipped_text(report: IngestReport) -> Iterator[str]:
    for skipped in report.skipped:
        detail = f" ({skipped.detail})" if skipped.detail else ""
        yield f"{skipped.reason}: {shown(skipped.name)}{detail}"


def card_text(card: AssetCard) -> Iterator[str]:
    ref = card.asset
    yield shown(ref.name)
    yield f"  kind      {ref.kind}, version {ref.version} of {card.versions}"
    if card.file_digest is not None:
        yield f"  digest    {card.file_digest} (the file's; xxhsum -H2 prints it)"
        yield f"  version   {ref.digest} (what approvals are bound to)"
    else:
        yield f"  digest    {ref.digest} (of its {count(card.member_count, 'member')}, in order)"
    size = human_bytes(card.total_size)
    if card.frames:
        yield f"  frames    {format_frames(card.frames)} ({count(card.member_count, 'file')}, {size})"
        if card.holes:
            yield f"  holes     {format_frames(card.holes)} ({len(card.holes)} missing)"
    else:
        yield f"  size      {size}"
    if card.frame is not None:
        yield f"  frame     {card.frame}: {card.frame_digest}"
    dispute = (
        " (DISPUTED: claims disagree)"
        if card.disputed
        else " (DIFFERS: claims disagree, none generative)"
        if card.differs
        else ""
    )
    yield f"  origin    {card.origin.alias} ({card.origin.value}){dispute}"
    yield f"  status    {card.status}"
    for performer, consents in card.likeness:
        given = "; ".join(f"consent {c.scope} ({c.ref})" for c in consents)
        yield f"  likeness  {performer}: {given or 'NO CONSENT on record'}"
    yield from _card_claims_text(card)
    if card.signals:
        yield "  signals   (what the files say about themselves)"
        for signal in card.signals:
            yield f"    {signal.source} [{signal.evidence}]: {signal.summary}"
    yield from _card_links_text(card)


def _card_claims_text(card: AssetCard) -> Iterator[str]:
    """The origin claims on the card (or that there are none)."""
    if not card.claims:
        yield "  claims    none (origin unknown)"
        return
    yield "  claims"
    for claim in card.claims:
        tool = f" with {claim.tool_label}" if claim.tool_label else ""
        settle = " [resolves]" if claim.resolves else ""
        note = f' "{claim.note}"' if claim.note else ""
        yield (
            f"    {when(claim.at)}  {claim.origin.alias}{tool} by {claim.claimed_by} "
            f"({claim.evidence}){settle}{note}"
        )


def _card_links_text(card: AssetCard) -> Iterator[str]:
    """What the asset was made from, what uses it and the deliverables it is in."""
    if card.parents:
        yield "  made from"
        for link in card.parents:
            yield f"    {link.kind:<10} {shown(link.asset.name)} ({version_text(link.asset)})"
    if card.children:
        yield "  used by"
        for link in card.children:
            yield f"    {link.kind:<10} {shown(link.asset.name)} ({version_text(link.asset)})"
    if card.deliverables:
        yield "  delivered in"
        for item in card.deliverables:
            yield f"    {delivered_in_text(item)}"


def lineage_text(node: LineageNode, up: bool) -> Iterator[str]:
    yield f"{shown(node.asset.name)} (v{node.asset.version})"
    yield from _tree_lines(node, "", up)
    if not node.children and not node.deliverables:
        yield "  (no recorded sources)" if up else "  (nothing recorded as made from it)"


def _tree_lines(node: LineageNode, indent: str, up: bool) -> Iterator[str]:
    leaves = [_delivered_leaf(item) for item in node.deliverables]
    count = len(node.children) + len(leaves)
    for index, child in enumerate(node.children):
        last = index == count - 1
        branch = "`-- " if last else "|-- "
        again = " (shown above)" if child.seen_before else ""
        name = shown(child.asset.name)
        yield f"{indent}{branch}[{child.kind}] {name} ({version_text(child.asset)}){again}"
        yield from _tree_lines(child, indent + ("    " if last else "|   "), up)
    for index, leaf in enumerate(leaves, start=len(node.children)):
        yield f"{indent}{'`-- ' if index == count - 1 else '|-- '}{leaf}"


def _delivered_leaf(item: DeliveredIn) -> str:
    copy = (
        ""
        if item.itself
        else f" ({shown(item.through.name)} v{item.through.version} {relative_text(item.how)})"
    )
    return f"[delivered] {item.deliverable.name} (finalized {when(item.deliverable.at)}){copy}"


def history_text(entries: list[HistoryEntry]) -> Iterator[str]:
    for entry in entries:
        yield f"#{entry.event_id} {when(entry.at)} {entry.kind} by {entry.actor}@{entry.host}"
        yield f"    {relative_text(history_what(entry))}"
        yield f"    {entry.hash}"


def history_what(entry: HistoryEntry) -> str:
    """What an event did to the asset, as one line: its changes' sentences, `; ` between."""
    return "; ".join(change_text(change) for change in entry.changes)


def change_text(change: HistoryChange) -> str:
    """`recorded version 2 (24 files, xxh3-128:...)`, `alice claimed ai with Runway Gen-4 on
    version 1 [declared]`, `comp v1 contains sky v1`... (paths as the library gives them)."""
    if isinstance(change, VersionRecorded):
        files = "file" if change.files == 1 else "files"
        return f"recorded version {change.version} ({change.files} {files}, {change.digest})"
    if isinstance(change, ClaimRecorded):
        return _claim_sentence(change)
    if isinstance(change, EdgeRecorded):
        return (
            f"{change.child} v{change.child_version} {change.edge} "
            f"{change.parent} v{change.parent_version}"
        )
    if isinstance(change, ApprovalRecorded):
        scope = ", covering tool risk" if change.covers_tool_risk else ""
        return (
            f"approved version {change.version} ({change.digest}) by {change.approved_by}: "
            f"{change.ref}{scope}"
        )
    if isinstance(change, LikenessRecorded):
        return f"version {change.version} uses the likeness of {change.performer}"
    holds = "; ".join(
        f"version {held.version} as {held.through} v{held.through_version}"
        if held.itself
        else f"version {held.version} in {held.through} v{held.through_version} ({held.how})"
        for held in change.holds
    )
    return f"finalized {change.deliverable} ({change.files} files): delivers {holds}"


def _claim_sentence(claim: ClaimRecorded) -> str:
    version = f"@{claim.tool_version}" if claim.tool_version else ""
    tool = f" with {claim.tool}{version}" if claim.tool else ""
    verb = "resolved as" if claim.resolves else "claimed"
    note = f' ("{claim.note}")' if claim.note else ""
    return (
        f"{claim.claimed_by} {verb} {claim.origin.alias}{tool} on version {claim.version} "
        f"[{claim.evidence}]{note}"
    )


def tool_text(tool: ToolInfo) -> Iterator[str]:
    yield tool.name
    yield f"  vendor            {tool.vendor or '-'}"
    yield f"  generative        {'yes' if tool.generative else 'no'}"
    yield f"  trains on inputs  {tool.trains_on_inputs}"
    yield f"  secured           {tool.secured}"
    yield f"  registered        {when(tool.registered_at)}"


def consent_json(record: ConsentInfo) -> dict[str, Any]:
    return {
        "performer": record.performer,
        "scope": record.scope,
        "ref": record.ref,
        "recorded_by": record.recorded_by,
        "at": record.at.isoformat(),
    }

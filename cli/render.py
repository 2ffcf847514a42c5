"""Rendering library results: text for people, one JSON document (with a "schema" key) for scripts."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterator
from typing import Any

import click

from provenance.records import (
    AssetCard,
    AssetRef,
    ClaimInfo,
    HistoryEntry,
    IngestReport,
    LineageNode,
    ToolInfo,
    display_path,
)


def shown(path: str) -> str:
    """A path as people read it: relative to the current folder when it lies below it."""
    here = os.getcwd()
    if path.startswith(here + os.sep):
        return path[len(here) + 1 :]
    return path


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


def frame_ranges(frames: list[int]) -> str:
    """1001-1003,1005 style."""
    if not frames:
        return ""
    parts: list[str] = []
    start = previous = frames[0]
    for frame in frames[1:]:
        if frame == previous + 1:
            previous = frame
            continue
        parts.append(f"{start}-{previous}" if previous != start else str(start))
        start = previous = frame
    parts.append(f"{start}-{previous}" if previous != start else str(start))
    return ",".join(parts)


# -- records as JSON -----------------------------------------------------------------------------


def asset_json(ref: AssetRef) -> dict[str, Any]:
    return {
        "path": ref.name,
        "kind": ref.kind,
        "version": ref.version,
        "digest": ref.digest,
    }


def claim_json(claim: ClaimInfo) -> dict[str, Any]:
    return {
        "origin": claim.origin.alias,
        "code": claim.origin.value,
        "uri": claim.origin.uri,
        "tool": claim.tool,
        "tool_version": claim.tool_version,
        "claimed_by": claim.claimed_by,
        "evidence": claim.evidence,
        "note": claim.note,
        "resolves": claim.resolves,
        "at": claim.at.isoformat(),
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
        "disputed": card.disputed,
        "generative": card.generative,
        "members": card.member_count,
        "bytes": card.total_size,
        "frames": frame_ranges(card.frames),
        "holes": card.holes,
        "frame": card.frame,
        "frame_digest": card.frame_digest,
        "claims": [claim_json(c) for c in card.claims],
        "parents": [{**asset_json(link.asset), "edge": link.kind} for link in card.parents],
        "children": [{**asset_json(link.asset), "edge": link.kind} for link in card.children],
    }


def lineage_json(node: LineageNode) -> dict[str, Any]:
    return {
        **asset_json(node.asset),
        "edge": node.kind,
        "depth": node.depth,
        "seen_before": node.seen_before,
        "links": [lineage_json(child) for child in node.children],
    }


def history_json(entry: HistoryEntry) -> dict[str, Any]:
    return {
        "event": entry.event_id,
        "kind": entry.kind,
        "actor": entry.actor,
        "host": entry.host,
        "at": entry.at.isoformat(),
        "hash": entry.hash,
        "what": entry.what,
    }


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
        "edges_added": report.edges_added,
        "seconds": round(report.seconds, 4),
        "gb_per_s": round(report.gb_per_s, 3),
        "holes": report.holes,
        "skipped": [
            {"path": s.name, "reason": s.reason, "detail": s.detail} for s in report.skipped
        ],
        "recorded": [asset_json(ref) for ref in report.assets],
    }


# -- records as text -----------------------------------------------------------------------------


def ingest_text(report: IngestReport) -> Iterator[str]:
    yield (
        f"{report.asset_count} assets ({report.assets_new} new, {report.assets_changed} changed, "
        f"{report.assets_unchanged} unchanged), {report.file_count} files "
        f"({report.files_new} new, {report.files_changed} changed, {report.files_unchanged} "
        f"unchanged), {human_bytes(report.bytes_total)}"
    )
    yield (
        f"read {report.files_read} files, {human_bytes(report.bytes_read)} in "
        f"{report.seconds:.2f} s ({report.gb_per_s:.2f} GB/s)"
    )
    if report.claims_added or report.edges_added:
        yield f"{report.claims_added} claims and {report.edges_added} lineage links added"
    for pattern, holes in sorted(report.holes.items()):
        yield f"holes in {shown(pattern)}: {frame_ranges(holes)}"
    if report.links:
        yield f"{report.links} symlinks recorded as links (never followed)"
    for path in report.escaping_links:
        yield f"warning: symlink points outside the ingested folder: {shown(display_path(path))}"


def skipped_text(report: IngestReport) -> Iterator[str]:
    for skipped in report.skipped:
        detail = f" ({skipped.detail})" if skipped.detail else ""
        yield f"{skipped.reason}: {shown(skipped.name)}{detail}"


def card_text(card: AssetCard) -> Iterator[str]:
    ref = card.asset
    yield shown(ref.name)
    yield f"  kind      {ref.kind}, version {ref.version} of {card.versions}"
    yield f"  digest    {ref.digest}"
    size = human_bytes(card.total_size)
    if card.frames:
        yield f"  frames    {frame_ranges(card.frames)} ({card.member_count} files, {size})"
        if card.holes:
            yield f"  holes     {frame_ranges(card.holes)} ({len(card.holes)} missing)"
    else:
        yield f"  size      {size}"
    if card.frame is not None:
        yield f"  frame     {card.frame}: {card.frame_digest}"
    dispute = " (DISPUTED: claims disagree)" if card.disputed else ""
    yield f"  origin    {card.origin.alias} ({card.origin.value}){dispute}"
    yield f"  status    {card.status}"
    if card.claims:
        yield "  claims"
        for claim in card.claims:
            tool = f" with {claim.tool_label}" if claim.tool_label else ""
            settle = " [resolves]" if claim.resolves else ""
            note = f' "{claim.note}"' if claim.note else ""
            yield (
                f"    {when(claim.at)}  {claim.origin.alias}{tool} by {claim.claimed_by} "
                f"({claim.evidence}){settle}{note}"
            )
    else:
        yield "  claims    none (origin unknown)"
    if card.parents:
        yield "  made from"
        for link in card.parents:
            yield f"    {link.kind:<10} {shown(link.asset.name)} (v{link.asset.version})"
    if card.children:
        yield "  used by"
        for link in card.children:
            yield f"    {link.kind:<10} {shown(link.asset.name)} (v{link.asset.version})"


def lineage_text(node: LineageNode, up: bool) -> Iterator[str]:
    yield f"{shown(node.asset.name)} (v{node.asset.version})"
    yield from _tree_lines(node.children, "", up)
    if not node.children:
        yield "  (no recorded sources)" if up else "  (nothing recorded as made from it)"


def _tree_lines(children: list[LineageNode], indent: str, up: bool) -> Iterator[str]:
    for index, child in enumerate(children):
        last = index == len(children) - 1
        branch = "`-- " if last else "|-- "
        again = " (shown above)" if child.seen_before else ""
        name = shown(child.asset.name)
        yield f"{indent}{branch}[{child.kind}] {name} (v{child.asset.version}){again}"
        yield from _tree_lines(child.children, indent + ("    " if last else "|   "), up)


def history_text(entries: list[HistoryEntry]) -> Iterator[str]:
    for entry in entries:
        yield f"#{entry.event_id} {when(entry.at)} {entry.kind} by {entry.actor}@{entry.host}"
        yield f"    {entry.what}"
        yield f"    {entry.hash}"


def tool_text(tool: ToolInfo) -> Iterator[str]:
    yield tool.name
    yield f"  vendor            {tool.vendor or '-'}"
    yield f"  generative        {'yes' if tool.generative else 'no'}"
    yield f"  trains on inputs  {tool.trains_on_inputs}"
    yield f"  secured           {tool.secured}"
    yield f"  registered        {when(tool.registered_at)}"

"""The delivery report's rows: one per delivered asset (a shot), with what is in it, what was
found, and the frames to show.

Pure: takes the delivered files as resolved, what the gate's judge says of each delivered
version, and the findings; returns dataclasses. The ledger facade gathers these for a
finalized deliverable (its recorded files, the warnings its manifest lists) or for a sweep.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from provenance.obligations import Judged, Source, ToolFacts, VersionFacts, describe_path
from provenance.origins import ClaimFacts, Origin, summarize_claims
from provenance.policy import Finding, Policy, policy_changes
from provenance.records import AssetRef, ConsentInfo, display_path
from provenance.report.model import (
    Frame,
    LineageGraph,
    PolicyInfo,
    ReportRow,
    SourceInfo,
)
from provenance.scan import format_frames

__all__ = ["DeliveredFile", "build_rows", "lineage_graph", "policy_info"]


class DeliveredFile(NamedTuple):
    """One delivered file, as resolved against the ledger."""

    path: bytes
    """Absolute."""
    digest: str | None
    size: int
    version_id: int | None
    frame: int | None
    group: bytes
    """The delivered asset it belongs to (its pattern, or its path), for files the ledger does
    not hold."""


_FRAME_DIGITS = re.compile(rb"(?<=\.)(\d+)(?=\.[^./]+$)")


def _delivered_name(first: DeliveredFile, home: bytes, ref: AssetRef | None, files: int) -> str:
    """How the row is named: as delivered, relative to the delivery (a sequence as `####`)."""
    relative = os.path.relpath(first.path, home) if first.path.startswith(home) else first.path
    if files > 1 or (ref is not None and ref.kind != "file"):
        folder, _, name = relative.rpartition(b"/")
        if ref is not None:
            name = os.path.basename(ref.path)
        else:
            name = _FRAME_DIGITS.sub(lambda m: b"#" * len(m.group(1)), name)
        relative = folder + b"/" + name if folder else name
    return display_path(relative)


def policy_info(policy: Policy) -> PolicyInfo:
    return PolicyInfo(
        policy.name,
        policy.digest,
        policy.source,
        {rule: severity.value for rule, severity in policy_changes(policy).items()},
    )


def build_rows(
    files: Sequence[DeliveredFile],
    home: bytes,
    refs: Mapping[int, AssetRef],
    judged: Mapping[int, Judged],
    tools: Mapping[int, ToolFacts],
    findings: Sequence[Finding],
    consents: Mapping[str, list[ConsentInfo]],
) -> tuple[list[ReportRow], list[Finding]]:
    """The rows (by name), and the findings about no delivered asset."""
    groups: dict[tuple[int | None, bytes], list[DeliveredFile]] = {}
    for item in files:
        folder = os.path.dirname(item.path)
        key = (item.version_id, folder) if item.version_id is not None else (None, item.group)
        groups.setdefault(key, []).append(item)
    by_asset: dict[str, list[int]] = {}
    by_file: dict[str, int] = {}
    drafts = []
    for number, ((version_id, _), members) in enumerate(sorted(groups.items(), key=_group_order)):
        members.sort(key=lambda f: (f.frame if f.frame is not None else -1, f.path))
        ref = refs.get(version_id) if version_id is not None else None
        if ref is not None:
            by_asset.setdefault(ref.name, []).append(number)
        for item in members:
            by_file[display_path(item.path)] = number
        drafts.append((version_id, ref, members))
    assigned: dict[int, list[Finding]] = {}
    loose = []
    for finding in findings:
        rows = by_asset.get(finding.asset or "", [])
        if not rows:
            rows = sorted({by_file[f] for f in finding.files if f in by_file})
        if not rows:
            loose.append(finding)
        for row in rows:
            assigned.setdefault(row, []).append(finding)
    made = []
    for number, (version_id, ref, members) in enumerate(drafts):
        verdict = judged.get(version_id) if version_id is not None else None
        made.append(
            _row(number, members, home, ref, verdict, tools, assigned.get(number, []), consents)
        )
    return sorted(made, key=lambda r: r.name), loose


def _group_order(item: tuple[tuple[int | None, bytes], list[DeliveredFile]]) -> bytes:
    return min(f.path for f in item[1])


def _row(
    number: int,
    members: list[DeliveredFile],
    home: bytes,
    ref: AssetRef | None,
    judged: Judged | None,
    tools: Mapping[int, ToolFacts],
    findings: list[Finding],
    consents: Mapping[str, list[ConsentInfo]],
) -> ReportRow:
    frames = [f.frame for f in members if f.frame is not None]
    picks = (
        [("first", members[0]), ("middle", members[len(members) // 2]), ("last", members[-1])]
        if len(members) > 2
        else [("first", members[0]), ("last", members[-1])][: len(members)]
    )
    thumbnails = [
        Frame(f"{label} {item.frame}" if item.frame is not None else label, item.path, item.digest)
        for label, item in picks
    ]
    if judged is None:
        return ReportRow(
            key=f"r{number}",
            name=_delivered_name(members[0], home, None, len(members)),
            asset=None,
            files=len(members),
            frames=format_frames(frames) if frames else "",
            size=sum(f.size for f in members),
            origin=None,
            disputed=False,
            tools=[],
            sources=[],
            findings=findings,
            approvals=[],
            likeness=[],
            thumbnails=thumbnails,
            lineage=None,
        )
    version = judged.version
    named_tools = [
        tools[c.tool_id].name
        for c in version.claims
        if c.tool_id is not None and c.tool_id in tools
    ]
    approvals = [f"{a.ref} ({a.approved_by})" for a in judged.approvals] + [
        f"{a.ref} ({a.approved_by})" for s in judged.sources for a in s.covered_by
    ]
    return ReportRow(
        key=f"r{number}",
        name=_delivered_name(members[0], home, ref, len(members)),
        asset=ref,
        files=len(members),
        frames=format_frames(frames) if frames else "",
        size=sum(f.size for f in members),
        origin=judged.origin,
        disputed=judged.disputed,
        tools=list(dict.fromkeys(named_tools)),
        sources=[_source_info(s) for s in judged.sources],
        findings=findings,
        approvals=list(dict.fromkeys(approvals)),
        likeness=[(p, consents.get(p.casefold(), [])) for p in judged.likeness],
        thumbnails=thumbnails,
        lineage=lineage_graph(judged),
    )


def _source_info(source: Source) -> SourceInfo:
    return SourceInfo(
        element=source.version.name,
        version=source.version.number,
        origin=source.origin,
        tools=list(source.tools),
        how=describe_path(source.path) if source.path else "itself",
        covered_by=[f"{a.ref} ({a.approved_by})" for a in source.covered_by],
    )


def lineage_graph(judged: Judged) -> LineageGraph | None:
    """The versions between a delivered version and each generated element in it (None when it
    holds none, or is itself the only generated material)."""
    paths = [s.path for s in judged.sources if s.path]
    if not paths:
        return None
    root = judged.version
    ids = {root.id: "v0"}
    nodes = [("v0", _label(root.name, root.number), judged.origin, judged.summary.generative)]
    generated = {s.version.id for s in judged.sources}
    edges: dict[tuple[str, str], str] = {}
    for path in paths:
        child = root.id
        for step in path:
            version = step.version
            if version.id not in ids:
                ids[version.id] = f"v{len(ids)}"
                origin = next(
                    (s.origin for s in judged.sources if s.version.id == version.id), None
                )
                nodes.append(
                    (
                        ids[version.id],
                        _label(version.name, version.number),
                        origin if origin is not None else _claimed(version),
                        version.id in generated,
                    )
                )
            edges.setdefault((ids[child], ids[version.id]), step.relation.value)
            child = version.id
    return LineageGraph(nodes, [(c, p, r) for (c, p), r in edges.items()])


def _claimed(version: VersionFacts) -> Origin:
    """What a version's own claims add up to (a version between the delivered one and an
    element, not itself generated)."""
    return summarize_claims([ClaimFacts(c.origin, c.resolves) for c in version.claims]).origin


def _label(name: str, number: int) -> str:
    return f"{os.path.basename(name)}\nv{number}"

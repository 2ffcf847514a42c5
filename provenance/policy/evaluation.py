"""Applying the policy: `evaluate` turns the facts about delivered files into a `Verdict`, and
one builder per rule words each finding (its message, its fix and its details), for a file, a
delivered asset version, or a sequence.

Pure: no database, no terminal.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from provenance.obligations import (
    Judge,
    Judged,
    LedgerFacts,
    Source,
    VersionFacts,
    describe_path,
)
from provenance.origins import Origin
from provenance.policy.findings import Finding, Verdict
from provenance.policy.policies import Policy
from provenance.policy.rules import Severity
from provenance.resolution import FileFacts, SequenceFacts
from provenance.scan import format_frames

__all__ = ["asset_findings", "evaluate"]


_Raw = tuple[str, str | None, str, str, str, Mapping[str, Any]]
"""rule, asset, file, message, fix, details"""


def evaluate(
    files: Sequence[FileFacts],
    sequences: Iterable[SequenceFacts],
    policy: Policy,
    ledger: LedgerFacts,
    vouched: Iterable[tuple[int, Sequence[str]]] = (),
) -> Verdict:
    """Apply the policy to what the ledger knows about every delivered file.

    `vouched` are files known in bulk to be their asset version's recorded, unchanged members
    (the files of a sealed folder), by version. Findings about an asset are reported once for
    all its delivered files.
    """
    judge = Judge(ledger)
    raw: list[_Raw] = []
    asset_files: dict[int, list[Sequence[str]]] = {}
    for item in files:
        if item.digest is None:
            raw.append(_problem(item))
        elif item.changed and item.version is not None:
            raw.append(_changed(item, ledger.versions[item.version]))
            raw.extend(_file_signal_findings(item))
        elif item.holders:
            holders = [judge.judge(v) for v in item.holders]
            if len({j.summary.generative for j in holders}) > 1:
                raw.append(_ambiguous(item, holders))
                continue
            for holder in item.holders:
                asset_files.setdefault(holder, []).append((item.path,))
        elif item.version is None:
            raw.append(
                (
                    "untracked",
                    None,
                    item.path,
                    f"{item.path} ({item.digest}) is not in the ledger.",
                    f"Record it with its origin: `provenance ingest {item.path} --origin ...`.",
                    {},
                )
            )
            raw.extend(_file_signal_findings(item))
        else:
            asset_files.setdefault(item.version, []).append((item.path,))
    vouched_count = 0
    for version_id, paths in vouched:
        asset_files.setdefault(version_id, []).append(paths)
        vouched_count += len(paths)
    findings: list[Finding] = []
    for rule, asset, path, message, fix, details in raw:
        severity = policy.severity(rule)
        if severity is not Severity.OFF:
            findings.append(Finding(rule, severity, asset, (path,), message, fix, details))
    judged: dict[int, Judged] = {}
    for version_id, groups in asset_files.items():
        facts = judged[version_id] = judge.judge(version_id)
        delivered: tuple[str, ...] | None = None
        for rule, message, fix, details in asset_findings(facts):
            severity = policy.severity(rule)
            if severity is Severity.OFF:
                continue
            if delivered is None:
                # In path order, however the sweep came to know them (file by file, from a
                # seal, or as a copy read whole).
                delivered = tuple(sorted(path for paths in groups for path in paths))
            findings.append(
                Finding(rule, severity, facts.version.name, delivered, message, fix, details)
            )
    findings.extend(_sequence_findings(sequences, policy))
    findings.sort(key=lambda f: (not f.blocks, f.rule, f.asset or "", f.files))
    return Verdict(
        policy,
        files=len(files) + vouched_count,
        assets=len({judged[v].version.asset_id for v in judged}),
        findings=findings,
        judged=judged,
    )


def _problem(item: FileFacts) -> _Raw:
    if item.problem == "missing":
        return (
            "missing-file",
            None,
            item.path,
            f"{item.path} is named by the delivery but does not exist.",
            "Copy the file into the delivery, or take it off the list.",
            {},
        )
    if item.problem and item.problem.startswith("special"):
        return (
            "unreadable",
            None,
            item.path,
            f"{item.path} is not a regular file ({item.problem.split(' ', 1)[-1]}): "
            "the delivery would hand over whatever it points to, unchecked.",
            "Replace it with the file itself, or take it out of the delivery.",
            {},
        )
    return (
        "unreadable",
        None,
        item.path,
        f"{item.path} could not be read ({item.problem}).",
        "Fix its permissions (or wait until it stops changing) and sweep again.",
        {},
    )


def _changed(item: FileFacts, version: VersionFacts) -> _Raw:
    where = f"frame {item.frame} of {version.label}" if item.frame is not None else version.label
    if item.recorded_digest is not None:
        now = f"now {item.digest}, recorded {item.recorded_digest}"
    else:
        now = f"{item.digest}; {version.label} has no frame {item.frame}"
    return (
        "changed",
        version.name,
        item.path,
        f"{item.path} stands as {where} but is not the file recorded there ({now}).",
        f"Put the new bytes in {version.name} and re-ingest the whole asset (`provenance ingest "
        f"'{version.name}' --origin ...`): they become its next version, which keeps its "
        "lineage and needs its origin declared (and any approval given) again; then deliver "
        "a copy of that version.",
        {
            "asset": version.name,
            "version": version.number,
            "frame": item.frame,
            "digest": item.digest,
            "recorded": item.recorded_digest,
        },
    )


def _ambiguous(item: FileFacts, judged: Sequence[Judged]) -> _Raw:
    described = ", ".join(
        f"{j.version.name} ({j.origin.alias}{', generated' if j.summary.generative else ''})"
        for j in judged
    )
    return (
        "content-ambiguous",
        None,
        item.path,
        f"{item.path} has the same bytes ({item.digest}) as assets that disagree about whether "
        f"it is generated: {described}. The ledger will not pick one.",
        "A TD settles what these bytes are on the asset that is wrong (`provenance tag ASSET "
        "--origin X --resolve --note WHY`), or ingest the delivered file at its own path.",
        {
            "holders": [
                {"asset": j.version.name, "version": j.version.number, "origin": j.origin.alias}
                for j in judged
            ]
        },
    )


def _sequence_findings(sequences: Iterable[SequenceFacts], policy: Policy) -> Iterator[Finding]:
    severity = policy.severity("frames-missing")
    if severity is Severity.OFF:
        return
    for sequence in sequences:
        if not sequence.missing:
            continue
        ranges = format_frames(sequence.missing)
        yield Finding(
            "frames-missing",
            severity,
            None,
            (sequence.pattern,),
            f"{sequence.pattern} is missing {len(sequence.missing)} "
            f"frame{'s' if len(sequence.missing) > 1 else ''} inside its range: {ranges}.",
            "Render or copy the missing frames into the delivery, or trim the range.",
            {"missing": list(sequence.missing)},
        )


def _file_signal_findings(item: FileFacts) -> Iterator[_Raw]:
    """What a file the ledger does not hold says about itself, read during the sweep."""
    if item.signals:
        yield (
            "embedded-ai",
            None,
            item.path,
            f"{item.path} says it holds generated material: {'; '.join(item.signals)}.",
            f"Record it as what it is (`provenance ingest {item.path} --origin ai --tool ...`) "
            "and get written approval, or replace it.",
            {},
        )
    if item.unreadable_credentials:
        yield (
            "credentials-unreadable",
            None,
            item.path,
            f"{item.path} carries content credentials that cannot be read: "
            f"{'; '.join(item.unreadable_credentials)}.",
            f"Record it (`provenance ingest {item.path} --origin ...`) and ask the vendor for "
            "credentials that can be checked: the manifest embedded, or as a .c2pa sidecar "
            "beside the file (reading never fetches one).",
            {"reasons": list(item.unreadable_credentials)},
        )
    if item.metadata_unread:
        yield (
            "metadata-unread",
            None,
            item.path,
            f"{item.path} holds metadata too large to read: {'; '.join(item.metadata_unread)}.",
            f"Look at what it declares with another tool (exiftool); record it as what it is "
            f"(`provenance ingest {item.path} --origin ...`), or ask the vendor for the file "
            "with its metadata within the limits.",
            {"unread": list(item.metadata_unread)},
        )
    if item.near_ai:
        yield (
            "near-ai-copy",
            None,
            item.path,
            f"{item.path} {'; '.join(item.near_ai)}.",
            "If it is that material, record it as generated (`--origin ai`) and get written "
            "approval, or replace it; if it is not, ingest it and have a TD settle it "
            "(`provenance tag ... --resolve --note WHY`).",
            _near_details(item.near_ai_matches),
        )
    if item.unprintable:
        yield (
            "no-print",
            None,
            item.path,
            f"{item.path} has no perceptual print ({item.unprintable}): it was not compared "
            "with known generated material.",
            "Look at it; if it shows a picture, deliver it in a format that decodes.",
            {"problem": item.unprintable},
        )


def _near_details(matches: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A near-ai-copy finding's details: every matched generated asset version, nearest first."""
    return {"matches": [dict(match) for match in matches]} if matches else {}


def asset_findings(judged: Judged) -> Iterator[tuple[str, str, str, Mapping[str, Any]]]:
    """(rule, message, fix, details) of everything a delivered version answers for."""
    version = judged.version
    label = version.label
    name = version.name
    if judged.origin is Origin.UNKNOWN and not judged.disputed:
        said = "is claimed as unknown" if version.claims else "has no origin claim"
        yield (
            "origin-unknown",
            f"{label} {said}.",
            f"Declare it: `provenance tag {name} --origin capture|human|ml-assisted|ai|ai-composite`.",
            {},
        )
    if judged.disputed:
        yield _disputed(judged)
    elif judged.differs:
        claimed = ", ".join(o.alias for o in judged.summary.origins)
        found = (
            f" The files themselves say: {'; '.join(judged.evidence)}." if judged.evidence else ""
        )
        yield (
            "origin-differs",
            f"Claims about {label} differ ({claimed}), none of them generative; it is "
            f"recorded as {judged.origin.alias}.{found}",
            f"A TD may settle it: `provenance tag {name} --origin X --resolve --note WHY`.",
            {"claimed": [o.alias for o in judged.summary.origins]},
        )
    if judged.unknown_inputs:
        listed = ", ".join(v.label for v, _ in judged.unknown_inputs)
        first = judged.unknown_inputs[0][0].name
        yield (
            "input-origin-unknown",
            f"{label} contains material whose origin nobody has declared: {listed}.",
            f"Declare each input: `provenance tag {first} --origin capture|human|ml-assisted|ai|"
            "ai-composite` (the person who made or received it knows).",
            {
                "inputs": [
                    {"asset": v.name, "version": v.number, "via": describe_path(path)}
                    for v, path in judged.unknown_inputs
                ]
            },
        )
    unapproved = judged.unapproved
    if unapproved:
        described = "; ".join(s.describe() for s in unapproved)
        elements = [s.version for s in unapproved if s.path]
        by_element = (
            f"`provenance approve {elements[0].name} ...` (an approval of the generated element "
            "covers every asset that contains exactly that version), or "
            if elements
            else ""
        )
        yield (
            "genai-unapproved",
            f"{label} is or contains generative AI material that no written approval covers "
            f"({described}).",
            f"Get written approval, then record it: {by_element}`provenance approve {name} "
            '--ref "TICKET or EMAIL" --by "NAME (STUDIO)"` (this exact content); or replace the '
            "generated material.",
            {"sources": [_source_json(s) for s in unapproved]},
        )
    risky = [(s, t) for s in judged.sources for t in s.risky_tools if not s.tool_risk_accepted]
    if risky:
        described = "; ".join(
            f"{tool.name} (used for {source.version.name}): {', '.join(tool.risks)}"
            for source, tool in risky
        )
        yield (
            "genai-tool-risk",
            f"{label} holds material from generative tools not vetted for production data: "
            f"{described}.",
            "Escalate to the studio; record an approval that covers the tool "
            f"(`provenance approve {name} ... --covers-tool-risk`, or of the element it made), "
            "or mark the tool as vetted (`provenance tools set NAME --trains-on-inputs no "
            "--secured yes`).",
            {"tools": sorted({t.name for _, t in risky})},
        )
    if judged.near_ai and not judged.origin.generative:
        yield (
            "near-ai-copy",
            f"{label} is recorded as {judged.origin.alias} but {'; '.join(judged.near_ai)}.",
            "If it is that material, a TD records it as generated (`provenance tag "
            f"{name} --origin ai --resolve --note WHY`) and it needs written approval; if "
            f"not, a TD says so (`provenance tag {name} --origin {judged.origin.alias} "
            "--resolve --note WHY`).",
            _near_details(judged.near_ai_matches),
        )
    if judged.unreadable_credentials:
        yield (
            "credentials-unreadable",
            f"{label} carries content credentials that cannot be read: "
            f"{'; '.join(judged.unreadable_credentials)}.",
            "Ask the vendor for credentials that can be checked (the manifest embedded in the "
            "file, or a .c2pa sidecar beside it: reading never fetches one); a TD who has "
            f"checked them settles it: `provenance tag {name} --origin X --resolve "
            "--note WHY`.",
            {"reasons": list(judged.unreadable_credentials)},
        )
    if judged.metadata_unread:
        yield (
            "metadata-unread",
            f"{label} holds metadata too large to read: {'; '.join(judged.metadata_unread)}.",
            "Look at what it declares with another tool (exiftool); a TD who has checked it "
            f"settles it: `provenance tag {name} --origin X --resolve --note WHY`.",
            {"unread": list(judged.metadata_unread)},
        )
    missing = judged.missing_consent
    if missing:
        yield (
            "likeness-no-consent",
            f"{label} uses the likeness of {', '.join(missing)} with no consent on record.",
            f'Record the consent: `provenance consent add "{missing[0]}" --scope "..." --ref "..."`.',
            {"performers": list(missing)},
        )
    yield from _stale_findings(judged)
    for holder, count in judged.shared:
        of = f"{count} of its {version.members} files" if version.members > 1 else "its file"
        yield (
            "content-shared",
            f"{of} {'are' if count > 1 else 'is'} the same bytes as {holder.label} "
            f"({', '.join(sorted({c.origin.alias for c in holder.claims if c.origin.generative}))}): "
            "a black frame or a slate is shared; a generated frame spliced in is generated "
            "material.",
            f"If {label} holds that material, record it: `provenance link {name} --from "
            f"{holder.name}`.",
            {"holder": holder.name, "version": holder.number, "shared_files": count},
        )


def _disputed(judged: Judged) -> tuple[str, str, str, Mapping[str, Any]]:
    version = judged.version
    claimed = ", ".join(o.alias for o in judged.summary.origins) or "nothing"
    found = f" The files themselves say: {'; '.join(judged.evidence)}." if judged.evidence else ""
    copies = "".join(
        f" Its bytes are recorded as {d.holder.label} ({d.origin.alias})."
        for d in judged.content_disputes
    )
    if judged.summary.disputed:
        why = f"Claims about {version.label} disagree ({claimed}).{found}{copies}"
    else:
        why = f"{version.label} is claimed as {claimed}, but its bytes are recorded as generated.{copies}"
    return (
        "origin-disputed",
        why,
        f"A TD settles it: `provenance tag {version.name} --origin X --resolve --note WHY`.",
        {
            "claimed": [o.alias for o in judged.summary.origins],
            "same_bytes_as": [
                {"asset": d.holder.name, "version": d.holder.number, "origin": d.origin.alias}
                for d in judged.content_disputes
            ],
        },
    )


def _stale_findings(judged: Judged) -> Iterator[tuple[str, str, str, Mapping[str, Any]]]:
    version = judged.version
    for stale in judged.stale:
        parent = stale.parent
        latest = stale.newer[-1] if stale.newer else parent
        via = "" if stale.child.id == version.id else f" (through {stale.child.label})"
        details = {
            "child": stale.child.name,
            "child_version": stale.child.number,
            "parent": parent.name,
            "recorded_version": parent.number,
            "latest_version": latest.number,
            "unapproved_versions": [n.number for n in stale.unapproved],
        }
        if stale.unapproved and not judged.approvals:
            newer = ", ".join(f"v{n.number}" for n in stale.unapproved)
            yield (
                "lineage-stale-genai",
                f"{version.label} was made from {parent.label}{via}, but {parent.name} has "
                f"newer versions ({newer}) that are or contain generated material no approval "
                f"covers; a render made after the change may use them.",
                f"Re-render from the version you mean and ingest it (its lineage then points at "
                f"{parent.name}'s latest version), or get the newer version approved "
                f"(`provenance approve {parent.name} ...`), or this exact content "
                f"(`provenance approve {version.name} ...`).",
                details,
            )
        else:
            yield (
                "lineage-stale",
                f"{version.label} was made from {parent.label}{via}; {parent.name} is at "
                f"v{latest.number} now.",
                f"If it should use v{latest.number}, re-render it and ingest it again.",
                details,
            )


def _source_json(source: Source) -> dict[str, Any]:
    return {
        "asset": source.version.name,
        "version": source.version.number,
        "origin": source.origin.alias,
        "tools": [t.name for t in source.tools],
        "via": describe_path(source.path) if source.path else "itself",
    }

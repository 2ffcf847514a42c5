"""The delivery policy: facts about delivered files in, findings out (rule id, severity, why, fix).

Pure: no database, no terminal. The default policy, `netflix-2025`, encodes Netflix's 2025
guidance for production partners using generative AI; a TOML file can change severities.
"""

from __future__ import annotations

import enum
import hashlib
import json
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from provenance.errors import ProvenanceError
from provenance.origins import Origin
from provenance.scan import format_frames

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib


class Severity(str, enum.Enum):
    BLOCK = "block"
    WARN = "warn"
    OFF = "off"


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    guideline: str
    """The guideline the rule enforces, in the guideline's own terms."""
    default: Severity = Severity.BLOCK


_NETFLIX = "Netflix, Using Generative AI in Content Production (2025)"

RULES: dict[str, Rule] = {
    rule.id: rule
    for rule in (
        Rule(
            "missing-file",
            "Named file does not exist",
            "A delivery must hold every file its pull list, path list or timeline names.",
        ),
        Rule(
            "unreadable",
            "File cannot be read",
            "A file that cannot be read cannot be fingerprinted, so the ledger cannot vouch for it.",
        ),
        Rule(
            "untracked",
            "File not in the ledger",
            "Every delivered file must be one the ledger can vouch for: its origin is unknown "
            f"until it is recorded ({_NETFLIX}: disclose any GenAI use).",
        ),
        Rule(
            "changed",
            "File changed since it was recorded",
            "Claims and approvals are bound to exact bytes; changed bytes carry none of them.",
        ),
        Rule(
            "origin-unknown",
            "Origin not declared",
            f"{_NETFLIX}: partners disclose any intended GenAI use; an undeclared origin "
            "cannot be shown to be free of it.",
        ),
        Rule(
            "origin-disputed",
            "Origin claims disagree",
            "A disagreement about whether material is generated must be settled by a person "
            "(a resolving claim with its reason) before delivery.",
        ),
        Rule(
            "content-ambiguous",
            "Identical content recorded with different origins",
            "The same bytes are recorded under assets with different origins; which one the "
            "delivered file is must be made explicit.",
        ),
        Rule(
            "genai-unapproved",
            "Generative AI material without written approval",
            f"{_NETFLIX}, principle 4: generated material is temporary and not part of the "
            "final deliverables; written approval is required when GenAI output is in final "
            "deliverables (principle 1: it must not replicate unowned or copyrighted material).",
        ),
        Rule(
            "genai-tool-risk",
            "Generative tool not vetted",
            f"{_NETFLIX}, principles 2 and 3: tools must not store, reuse or train on "
            "production inputs or outputs, and should run in an enterprise-secured environment; "
            "a 'no' or 'unsure' needs escalation and written approval.",
        ),
        Rule(
            "likeness-no-consent",
            "Performer likeness without consent",
            f"{_NETFLIX}, principle 5: no replacing or generating talent performances or "
            "union-covered work without consent (SAG-AFTRA 2023: informed, specific consent "
            "for digital replicas).",
        ),
        Rule(
            "embedded-ai",
            "File says it holds generated material",
            f"{_NETFLIX}: partners disclose any GenAI use. The file carries its own record of "
            "generation (a C2PA manifest, XMP DigitalSourceType or a generator's metadata) "
            "that the ledger does not hold.",
        ),
        Rule(
            "near-ai-copy",
            "Looks like known generated material",
            f"{_NETFLIX}, principle 4: generated material is temporary and not part of the "
            "final deliverables; a re-encoded, resized, cropped, mirrored, letterboxed or "
            "overlaid copy of it is the same material under another name.",
        ),
        Rule(
            "no-print",
            "Image has no perceptual print",
            "A delivered image the ledger does not hold could not be compared with known "
            "generated material (it is blank, or cannot be decoded): said, never skipped.",
            Severity.WARN,
        ),
        Rule(
            "frames-missing",
            "Frames missing from a delivered sequence",
            "A sequence must be delivered whole: frames missing inside its range are reported.",
        ),
    )
}


@dataclass(frozen=True)
class Policy:
    name: str
    severities: Mapping[str, Severity]
    source: str = "built-in"

    def severity(self, rule_id: str) -> Severity:
        return self.severities.get(rule_id, RULES[rule_id].default)

    @property
    def digest(self) -> str:
        """Identifies the exact rules in force, for the record of a finalized deliverable."""
        body = json.dumps(
            {"name": self.name, "rules": {r: self.severity(r).value for r in sorted(RULES)}},
            sort_keys=True,
        )
        return "sha256:" + hashlib.sha256(body.encode()).hexdigest()


DEFAULT_POLICY = Policy("netflix-2025", {rule_id: rule.default for rule_id, rule in RULES.items()})


def load_policy(path: Path | None) -> Policy:
    """The default policy, or a TOML file that changes its severities.

    ```toml
    name = "studio-x"
    [rules]
    origin-disputed = "warn"
    frames-missing = "off"
    ```
    """
    if path is None:
        return DEFAULT_POLICY
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ProvenanceError(f"Policy file {path} does not exist. Check the path.") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ProvenanceError(
            f"Policy file {path} is not valid TOML ({exc}). Fix the file."
        ) from None
    base = document.get("extends", DEFAULT_POLICY.name)
    if base != DEFAULT_POLICY.name:
        raise ProvenanceError(
            f"Policy file {path} extends {base!r}; the only built-in policy is "
            f"{DEFAULT_POLICY.name!r}."
        )
    rules = document.get("rules", {})
    if not isinstance(rules, dict):
        raise ProvenanceError(f"In {path}, [rules] must be a table of rule = severity.")
    severities = dict(DEFAULT_POLICY.severities)
    for rule_id, value in rules.items():
        if rule_id not in RULES:
            raise ProvenanceError(
                f"In {path}, {rule_id!r} is not a rule. Rules: {', '.join(sorted(RULES))} "
                "(`provenance policy show` lists them)."
            )
        try:
            severities[rule_id] = Severity(str(value).lower())
        except ValueError:
            raise ProvenanceError(
                f"In {path}, {rule_id} = {value!r}: a severity is block, warn or off."
            ) from None
    name = str(document.get("name", path.stem))
    return Policy(name, severities, source=str(path))


# ---------------------------------------------------------------------------------------------
# Facts


@dataclass(frozen=True)
class ToolFacts:
    name: str
    generative: bool
    trains_on_inputs: str
    secured: str

    @property
    def risks(self) -> list[str]:
        """What the guidelines would have a TD escalate about this tool."""
        found = []
        if self.trains_on_inputs != "no":
            found.append(f"trains on or keeps inputs: {self.trains_on_inputs}")
        if self.secured != "yes":
            found.append(f"enterprise-secured: {self.secured}")
        return found


@dataclass(frozen=True)
class GenerativeSource:
    """Generated material in a delivered asset: the asset itself, or an ancestor it contains."""

    asset: str
    version: int
    origin: Origin
    tools: tuple[ToolFacts, ...]


@dataclass(frozen=True)
class AssetFacts:
    """What the ledger says about one delivered asset version."""

    name: str
    version: int
    digest: str
    origin: Origin
    disputed: bool
    claimed: tuple[Origin, ...]
    generative_sources: tuple[GenerativeSource, ...]
    approvals: tuple[str, ...]
    """References of written approvals bound to exactly this version."""
    approval_covers_tool_risk: bool
    likeness: tuple[str, ...]
    consented: frozenset[str]
    """Performers (case-folded) with a consent record."""
    evidence: tuple[str, ...] = ()
    """The live claims that came from the files themselves, described (C2PA, XMP ...)."""
    near_ai: tuple[str, ...] = ()
    """Perceptual matches to generated material no TD has settled since."""
    near_ai_matches: tuple[Mapping[str, Any], ...] = ()
    """The same matches as fields (asset, version, distance, threshold, region ...)."""


class FileFacts(NamedTuple):
    """One delivered file, as resolved against the ledger."""

    path: str
    digest: str | None
    asset: AssetFacts | None = None
    frame: int | None = None
    recorded_digest: str | None = None
    """Set when the path is a member of a known asset whose recorded bytes differ."""
    ambiguous: tuple[tuple[str, Origin], ...] = ()
    """Assets holding this content, when they disagree about its origin."""
    problem: str | None = None
    """Why there is no digest: `missing`, or why the file could not be read."""
    signals: tuple[str, ...] = ()
    """For a file the ledger does not hold as it is: the generation it says it came from."""
    near_ai: tuple[str, ...] = ()
    """For a file the ledger does not hold as it is: generated material it looks like."""
    near_ai_matches: tuple[Mapping[str, Any], ...] = ()
    """The same matches as fields (asset, version, distance, threshold, region ...)."""
    unprintable: str | None = None
    """For such a file that is an image: why it has no perceptual print."""


@dataclass(frozen=True)
class SequenceFacts:
    """A delivered sequence and the frames missing inside the range the delivery names."""

    pattern: str
    missing: tuple[int, ...]


# ---------------------------------------------------------------------------------------------
# Findings


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: Severity
    asset: str | None
    files: tuple[str, ...]
    message: str
    fix: str
    details: Mapping[str, Any] = field(default_factory=dict)
    """What the message says, as fields for scripts (`--json`): matched assets, versions,
    distances. Rule-specific; documented with each rule in docs/delivery.md."""

    @property
    def blocks(self) -> bool:
        return self.severity is Severity.BLOCK


@dataclass
class Verdict:
    policy: Policy
    files: int
    assets: int
    findings: list[Finding] = field(default_factory=list)

    @property
    def blocked(self) -> bool:
        return any(f.blocks for f in self.findings)

    @property
    def clean(self) -> bool:
        return not any(f.severity is not Severity.OFF for f in self.findings)


def evaluate(
    files: Sequence[FileFacts],
    sequences: Iterable[SequenceFacts],
    policy: Policy,
    vouched: Iterable[tuple[AssetFacts, Sequence[str]]] = (),
) -> Verdict:
    """Apply the policy to what the ledger knows about every delivered file.

    `vouched` are files known in bulk to be their asset's recorded, unchanged members (the
    files of a sealed folder), by asset. Findings about an asset are reported once for all its
    delivered frames.
    """
    raw: list[tuple[str, str | None, str, str, str]] = []  # rule, asset, file, message, fix
    seen_assets: dict[str, AssetFacts] = {}
    asset_files: dict[str, list[str]] = {}
    for item in files:
        if item.digest is None:
            if item.problem == "missing":
                raw.append(
                    (
                        "missing-file",
                        None,
                        item.path,
                        f"{item.path} is named by the delivery but does not exist.",
                        "Copy the file into the delivery, or take it off the list.",
                    )
                )
            elif item.problem and item.problem.startswith("special"):
                raw.append(
                    (
                        "unreadable",
                        None,
                        item.path,
                        f"{item.path} is not a regular file ({item.problem.split(' ', 1)[-1]}): "
                        "the delivery would hand over whatever it points to, unchecked.",
                        "Replace it with the file itself, or take it out of the delivery.",
                    )
                )
            else:
                raw.append(
                    (
                        "unreadable",
                        None,
                        item.path,
                        f"{item.path} could not be read ({item.problem}).",
                        "Fix its permissions (or wait until it stops changing) and sweep again.",
                    )
                )
            continue
        if item.recorded_digest is not None and item.asset is not None:
            raw.append(
                (
                    "changed",
                    item.asset.name,
                    item.path,
                    f"{item.path} is not the file recorded as {item.asset.name} v"
                    f"{item.asset.version} (now {item.digest}, recorded {item.recorded_digest}).",
                    f"Re-ingest the whole asset (`provenance ingest '{item.asset.name}' --origin "
                    "...`): the new bytes become its next version, keeping its lineage, and need "
                    "their origin declared (and any approval given) again.",
                )
            )
            raw.extend(_file_signal_findings(item))
            continue
        if item.ambiguous:
            described = ", ".join(f"{name} ({origin.alias})" for name, origin in item.ambiguous)
            raw.append(
                (
                    "content-ambiguous",
                    None,
                    item.path,
                    f"{item.path} has the same bytes ({item.digest}) as several assets that "
                    f"disagree about its origin: {described}. The ledger will not pick one.",
                    "Ingest the delivered file at its own path with its origin, or re-record "
                    "the assets so the identical content is not claimed two ways.",
                )
            )
            continue
        if item.asset is None:
            raw.append(
                (
                    "untracked",
                    None,
                    item.path,
                    f"{item.path} ({item.digest}) is not in the ledger.",
                    f"Record it with its origin: `provenance ingest {item.path} --origin ...`.",
                )
            )
            raw.extend(_file_signal_findings(item))
            continue
        seen_assets[item.asset.name] = item.asset
        asset_files.setdefault(item.asset.name, []).append(item.path)

    bulk_files: dict[str, list[Sequence[str]]] = {}
    vouched_count = 0
    for facts, paths in vouched:
        seen_assets[facts.name] = facts
        bulk_files.setdefault(facts.name, []).append(paths)
        vouched_count += len(paths)
    findings: list[Finding] = []
    near_files = {item.path: _near_details(item.near_ai_matches) for item in files}
    for rule, asset, path, message, fix in raw:
        severity = policy.severity(rule)
        if severity is not Severity.OFF:
            details = near_files.get(path, {}) if rule == "near-ai-copy" else {}
            findings.append(Finding(rule, severity, asset, (path,), message, fix, details))
    for name, facts in seen_assets.items():
        delivered: tuple[str, ...] | None = None
        for rule, message, fix in _asset_findings(facts):
            severity = policy.severity(rule)
            if severity is Severity.OFF:
                continue
            if delivered is None:
                # In path order, however the sweep came to know them (file by file, from a
                # seal, or as a copy read whole).
                delivered = tuple(
                    sorted(
                        [
                            *asset_files.get(name, ()),
                            *(path for paths in bulk_files.get(name, ()) for path in paths),
                        ]
                    )
                )
            details = _near_details(facts.near_ai_matches) if rule == "near-ai-copy" else {}
            findings.append(Finding(rule, severity, name, delivered, message, fix, details))
    for sequence in sequences:
        if not sequence.missing:
            continue
        severity = policy.severity("frames-missing")
        if severity is Severity.OFF:
            continue
        ranges = format_frames(sequence.missing)
        findings.append(
            Finding(
                "frames-missing",
                severity,
                None,
                (sequence.pattern,),
                f"{sequence.pattern} is missing {len(sequence.missing)} "
                f"frame{'s' if len(sequence.missing) > 1 else ''} inside its range: {ranges}.",
                "Render or copy the missing frames into the delivery, or trim the range.",
            )
        )
    findings.sort(key=lambda f: (not f.blocks, f.rule, f.asset or "", f.files))
    return Verdict(
        policy, files=len(files) + vouched_count, assets=len(seen_assets), findings=findings
    )


def _file_signal_findings(item: FileFacts) -> Iterator[tuple[str, str | None, str, str, str]]:
    """What a file the ledger does not hold says about itself, read during the sweep."""
    if item.signals:
        yield (
            "embedded-ai",
            None,
            item.path,
            f"{item.path} says it holds generated material: {'; '.join(item.signals)}.",
            f"Record it as what it is (`provenance ingest {item.path} --origin ai --tool ...`) "
            "and get written approval, or replace it.",
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
        )
    if item.unprintable:
        yield (
            "no-print",
            None,
            item.path,
            f"{item.path} has no perceptual print ({item.unprintable}): it was not compared "
            "with known generated material.",
            "Look at it; if it shows a picture, deliver it in a format that decodes.",
        )


def _near_details(matches: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A near-ai-copy finding's details: every matched generated asset version, nearest first."""
    return {"matches": [dict(match) for match in matches]} if matches else {}


def _asset_findings(asset: AssetFacts) -> Iterator[tuple[str, str, str]]:
    label = f"{asset.name} v{asset.version}"
    if asset.origin is Origin.UNKNOWN and not asset.disputed:
        said = "is claimed as unknown" if asset.claimed else "has no origin claim"
        yield (
            "origin-unknown",
            f"{label} {said}.",
            f"Declare it: `provenance tag {asset.name} --origin capture|human|ml-assisted|ai|ai-composite`.",
        )
    if asset.disputed:
        claimed = ", ".join(o.alias for o in asset.claimed)
        found = f" The files themselves say: {'; '.join(asset.evidence)}." if asset.evidence else ""
        yield (
            "origin-disputed",
            f"Claims about {label} disagree ({claimed}).{found}",
            f"A TD settles it: `provenance tag {asset.name} --origin X --resolve --note WHY`.",
        )
    if asset.generative_sources and not asset.approvals:
        sources = "; ".join(_source_text(asset, s) for s in asset.generative_sources)
        yield (
            "genai-unapproved",
            f"{label} is or contains generative AI material ({sources}) and no written "
            "approval is bound to this exact content.",
            f'Get written approval, then record it: `provenance approve {asset.name} --ref "TICKET or '
            'EMAIL" --by "NAME (STUDIO)"`; or replace the generated material.',
        )
    risky = [
        (source, tool)
        for source in asset.generative_sources
        for tool in source.tools
        if tool.generative and tool.risks
    ]
    if risky and not asset.approval_covers_tool_risk:
        described = "; ".join(
            f"{tool.name} (used for {source.asset}): {', '.join(tool.risks)}"
            for source, tool in risky
        )
        yield (
            "genai-tool-risk",
            f"{label} holds material from generative tools not vetted for production data: "
            f"{described}.",
            "Escalate to the studio; record an approval that covers the tool "
            f"(`provenance approve {asset.name} ... --covers-tool-risk`), or mark the tool as "
            "vetted (`provenance tools set NAME --trains-on-inputs no --secured yes`).",
        )
    if asset.near_ai and not asset.origin.generative:
        yield (
            "near-ai-copy",
            f"{label} is recorded as {asset.origin.alias} but {'; '.join(asset.near_ai)}.",
            "If it is that material, a TD records it as generated (`provenance tag "
            f"{asset.name} --origin ai --resolve --note WHY`) and it needs written approval; if "
            f"not, a TD says so (`provenance tag {asset.name} --origin {asset.origin.alias} "
            "--resolve --note WHY`).",
        )
    missing = [p for p in asset.likeness if p.casefold() not in asset.consented]
    if missing:
        yield (
            "likeness-no-consent",
            f"{label} uses the likeness of {', '.join(missing)} with no consent on record.",
            f'Record the consent: `provenance consent add "{missing[0]}" --scope "..." --ref "..."`.',
        )


def _source_text(asset: AssetFacts, source: GenerativeSource) -> str:
    tools = ", ".join(t.name for t in source.tools) or "tool not recorded"
    if source.asset == asset.name and source.version == asset.version:
        return f"itself {source.origin.alias} with {tools}"
    return f"contains {source.asset} v{source.version}, {source.origin.alias} with {tools}"

"""The delivery policy: facts about delivered files in, findings out (rule id, severity, why, fix).

Pure: no database, no terminal. The default policy, `netflix-2025`, encodes Netflix's 2025
guidance for production partners using generative AI; a TOML file can change severities.
"""

from __future__ import annotations

import enum
import hashlib
import json
import sys
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from provenance.errors import ProvenanceError
from provenance.obligations import (
    Judge,
    Judged,
    LedgerFacts,
    Source,
    VersionFacts,
    describe_path,
)
from provenance.origins import Origin
from provenance.paths import PathArg, as_path
from provenance.resolution import FileFacts, SequenceFacts
from provenance.scan import format_frames

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = [
    "DEFAULT_POLICY",
    "RULES",
    "Finding",
    "Policy",
    "PolicyChange",
    "Rule",
    "Severity",
    "Verdict",
    "evaluate",
    "load_policy",
    "policy_changes",
]


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
            "origin-differs",
            "Origin claims differ, none generative",
            "Claims that disagree only among non-generative origins (capture, human, "
            "ml-assisted, procedural) say nothing about generated material; they are "
            "recorded and shown, and a TD may settle them.",
            Severity.WARN,
        ),
        Rule(
            "content-ambiguous",
            "Identical content recorded with different origins",
            "The same bytes are recorded under assets that disagree about whether they are "
            "generated; which one the delivered file is must be settled by a person.",
        ),
        Rule(
            "input-origin-unknown",
            "Contains material of undeclared origin",
            f"{_NETFLIX}: partners disclose any intended GenAI use; the gate cannot vouch for "
            "material read into a delivered asset (a plate, an element a script reads) whose "
            "origin nobody has declared.",
        ),
        Rule(
            "lineage-stale",
            "Made from a parent version that is no longer the latest",
            "Lineage is pinned to versions: an asset recorded as made from an older version of "
            "a parent may be out of date, or may use the newer version without saying so.",
            Severity.WARN,
        ),
        Rule(
            "lineage-stale-genai",
            "Made from a parent whose newer version is unapproved generated material",
            f"{_NETFLIX}, principle 4: a child rendered after its parent changed cannot be "
            "assumed to use the parent's old bytes; when the newer version is, or contains, "
            "generated material that no approval covers, it may be in the delivery.",
        ),
        Rule(
            "content-shared",
            "A few frames are the bytes of generated material",
            "Identical bytes are one content whatever the path: frames of a delivered asset "
            "that a generated asset holds too are reported (black frames and slates are "
            "shared; a generated frame spliced in is not).",
            Severity.WARN,
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
            "credentials-unreadable",
            "Content credentials cannot be read",
            f"{_NETFLIX}: partners disclose any GenAI use. The file carries content "
            "credentials (C2PA) that cannot be checked here: a remote manifest reading never "
            "fetches, a prerelease format, a signature algorithm the reader does not support. "
            "What they say about generation is unknown.",
            Severity.WARN,
        ),
        Rule(
            "metadata-unread",
            "Metadata too large to read",
            f"{_NETFLIX}: partners disclose any GenAI use. The file holds metadata (an XMP "
            "packet, a text chunk, an EXIF value) larger than the reader's limits, so it was "
            "not read: what it says about generation (an XMP DigitalSourceType, a generator's "
            "parameters) is unknown.",
            Severity.WARN,
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
            "approval-bytes-differ",
            "Delivered bytes are not the approved bytes",
            "Claims and approvals are bound to exact bytes. With `finalize --strong`, a "
            "delivered version that an approval covers by a collision-resistant digest "
            "(`approve --strong`) must have the bytes that digest describes: xxh3-128 alone "
            "does not resist a second file crafted to share it.",
        ),
        Rule(
            "frames-missing",
            "Frames missing from a delivered sequence",
            "A sequence must be delivered whole: frames missing inside its range are reported.",
        ),
    )
}


BUILT_IN_NAME = "netflix-2025"
"""The one built-in policy: every rule at its default severity."""

POLICY_NAME_CHARS = 100
"""Longest name a policy file may give itself."""

POLICY_KEYS = ("name", "extends", "rules")
"""What a policy file may hold at its top level."""


class PolicyChange(NamedTuple):
    """A rule whose severity a custom policy changed from the built-in it extends."""

    rule: str
    built_in: Severity
    severity: Severity

    @property
    def relaxed(self) -> bool:
        """It blocks less than the built-in (block to warn or off, warn to off)."""
        return _STRICTNESS[self.severity] < _STRICTNESS[self.built_in]


_STRICTNESS = {Severity.OFF: 0, Severity.WARN: 1, Severity.BLOCK: 2}


@dataclass(frozen=True)
class Policy:
    """The severities in force: the built-in policy, or a custom one that `extends` it.

    A custom policy can never pass as the built-in one: built-in names are reserved, and it is
    shown everywhere (sweep, finalize, manifest, `policy show`, the deliverable's record) as
    custom, with the built-in it derives from and every rule it changed."""

    name: str
    severities: Mapping[str, Severity]
    source: str = "built-in"
    extends: str | None = None
    """The built-in policy a custom one derives from; None for the built-in policy itself."""

    def __post_init__(self) -> None:
        unknown = sorted(set(self.severities) - set(RULES))
        if unknown:
            raise ProvenanceError(f"{', '.join(unknown)}: not a rule of this version.")
        if self.extends is None:
            if self.name != BUILT_IN_NAME or self.changes:
                raise ProvenanceError(
                    f"Only the built-in policy is named without `extends`: a policy that "
                    f"changes severities extends {BUILT_IN_NAME!r} under a name of its own."
                )
            return
        if self.extends != BUILT_IN_NAME:
            raise ProvenanceError(
                f"A policy extends a built-in policy; the only one is {BUILT_IN_NAME!r}, not "
                f"{self.extends!r}."
            )
        problem = name_problem(self.name)
        if problem is not None:
            raise ProvenanceError(f"The policy's name {self.name!r} {problem}.")

    def severity(self, rule_id: str) -> Severity:
        return self.severities.get(rule_id, RULES[rule_id].default)

    @property
    def custom(self) -> bool:
        return self.extends is not None

    @property
    def changes(self) -> tuple[PolicyChange, ...]:
        """The rules whose severity differs from the built-in's, in rule order."""
        return tuple(
            PolicyChange(rule_id, rule.default, self.severity(rule_id))
            for rule_id, rule in RULES.items()
            if self.severity(rule_id) is not rule.default
        )

    @property
    def label(self) -> str:
        """The policy as people read it: a custom one says so, and what it changed."""
        if not self.custom:
            return self.name
        changed = ", ".join(f"{c.rule} {c.severity.value}" for c in self.changes)
        return f"{self.name} (custom, from {self.extends}: {changed or 'no rule changed'})"

    @property
    def record_name(self) -> str:
        """The name a finalized deliverable records (at most 200 characters)."""
        return self.name if not self.custom else f"{self.name} (custom, from {self.extends})"

    @property
    def digest(self) -> str:
        """Identifies the exact rules in force, for the record of a finalized deliverable."""
        body: dict[str, Any] = {
            "name": self.name,
            "rules": {r: self.severity(r).value for r in sorted(RULES)},
        }
        if self.custom:
            body["extends"] = self.extends
        body_text = json.dumps(body, sort_keys=True)
        return "sha256:" + hashlib.sha256(body_text.encode()).hexdigest()

    def document(self) -> dict[str, Any]:
        """What a manifest, a finalize event and `--json` say about the policy."""
        return {
            "name": self.name,
            "digest": self.digest,
            "custom": self.custom,
            "extends": self.extends,
            "changes": [
                {"rule": c.rule, "severity": c.severity.value, "built_in": c.built_in.value}
                for c in self.changes
            ],
        }


DEFAULT_POLICY = Policy(BUILT_IN_NAME, {rule_id: rule.default for rule_id, rule in RULES.items()})


def _reserved_key(name: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKC", name).casefold() if c.isalnum())


def name_problem(name: object) -> str | None:
    """Why `name` cannot name a custom policy, or None."""
    if not isinstance(name, str):
        return f"must be a string, not {_toml_type(name)}"
    if not name.strip():
        return "is empty"
    if name != name.strip() or any(not c.isprintable() for c in name):
        return "holds spaces at its ends or characters that do not print"
    if len(name) > POLICY_NAME_CHARS:
        return f"is longer than {POLICY_NAME_CHARS} characters"
    if _reserved_key(name) == _reserved_key(BUILT_IN_NAME):
        return "is reserved for the built-in policy (a policy file makes a custom policy)"
    return None


def _toml_type(value: object) -> str:
    names = {bool: "a boolean", int: "a number", float: "a number", list: "a list", dict: "a table"}
    return names.get(type(value), f"a {type(value).__name__}")


def policy_changes(policy: Policy) -> dict[str, Severity]:
    """Where a policy differs from the built-in one: rule id -> its severity there (empty for
    the built-in policy). What a report and a finalize record say of a custom policy."""
    return {
        rule_id: policy.severity(rule_id)
        for rule_id in RULES
        if policy.severity(rule_id) is not DEFAULT_POLICY.severity(rule_id)
    }


def load_policy(path: PathArg | None) -> Policy:
    """The built-in policy (`path` None), or a TOML file that changes its severities: a custom
    policy, named apart from the built-in one.

    ```toml
    name = "studio-x"
    extends = "netflix-2025"   # optional: the only built-in policy
    [rules]
    origin-disputed = "warn"
    frames-missing = "off"
    ```
    """
    if path is None:
        return DEFAULT_POLICY
    path = as_path(path, "the policy file")
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ProvenanceError(f"Policy file {path} does not exist. Check the path.") from None
    except OSError as exc:
        raise ProvenanceError(f"Cannot read the policy file {path} ({exc.strerror}).") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ProvenanceError(
            f"Policy file {path} is not valid TOML ({exc}). Fix the file."
        ) from None
    settings = [key for key in document if key not in POLICY_KEYS]
    if settings:
        misplaced = [k for k in settings if k in RULES]
        hint = f" Rules go under [rules] ({', '.join(misplaced)})." if misplaced else ""
        raise ProvenanceError(
            f"In {path}, {', '.join(map(repr, settings))}: not a policy setting; a policy file "
            f"holds {', '.join(POLICY_KEYS)}.{hint}"
        )
    base = document.get("extends", BUILT_IN_NAME)
    if base != BUILT_IN_NAME:
        what = repr(base) if isinstance(base, str) else _toml_type(base)
        raise ProvenanceError(
            f"In {path}, extends = {what}: a policy extends a built-in policy, and the only "
            f"built-in policy is {BUILT_IN_NAME!r} (extends = {BUILT_IN_NAME!r}, or leave it out)."
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
            if not isinstance(value, str):
                raise ValueError(value)
            severities[rule_id] = Severity(value.lower())
        except ValueError:
            raise ProvenanceError(
                f"In {path}, {rule_id} = {value!r}: a severity is block, warn or off, as a "
                f'quoted string ({rule_id} = "warn").'
            ) from None
    name = document.get("name", path.stem)
    problem = name_problem(name)
    if problem is not None:
        if "name" not in document:
            where = f"the policy is named for the file, {name!r}, which"
        elif isinstance(name, str):
            where = f"name = {name!r}"
        else:
            where = "name"
        raise ProvenanceError(
            f'In {path}, {where} {problem}. Give the policy a name of its own: name = "studio-x".'
        )
    return Policy(name, severities, source=str(path), extends=BUILT_IN_NAME)


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
    judged: dict[int, Judged] = field(default_factory=dict)
    """What each delivered version answers for (what a manifest records of it)."""

    @property
    def blocked(self) -> bool:
        return any(f.blocks for f in self.findings)

    @property
    def clean(self) -> bool:
        return not any(f.severity is not Severity.OFF for f in self.findings)


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

"""What a delivered asset version answers for: the generated material in it, the likeness it
uses, the parents it may be out of date with, and the approvals that cover each.

Pure: the store delivers rows (`VersionFacts`, `LedgerFacts`); nothing here touches the
database. The delivery policy (`policy.evaluate`) turns what `Judge` finds into findings.

The rules, each written once, here:

- **Claims add up** as `origins.summarize_claims` says (a resolving claim settles what came
  before it; disagreeing live claims are a dispute with the most cautious origin).
- **Identical bytes are one content, whatever the path.** A version all of whose members'
  bytes another asset's version holds is a *copy* of it; one more than half of whose members
  are another asset's bytes is *derived* from it (a re-render of some frames, a trimmed or
  extended copy). A copy or a derivative carries what its source carries, as if it contained
  it. A copy whose own claims are not generative, of bytes that are recorded as generated, is
  *disputed* until a TD's resolving claim, made after the generated claim, settles it. A few
  frames shared (at most half: black frames, slates) are only reported (`shared`).
- **Generated material propagates** through `contains` lineage, copies and derivatives,
  transitively; `references` never does.
- **An approval covers only the bytes it was given for** (`approved`): a version's own
  approvals whose digest is the version's digest. Generated material inside a delivered
  version is covered by an approval of that material itself (the studio approved the
  element: every asset that contains exactly that version is covered) or of the delivered
  version (the studio approved what ships, with everything in it).
- **Lineage is pinned to versions.** A parent that has newer versions than the one a version
  was made from is *stale*; a stale parent blocks when one of its newer versions is, or
  contains, generated material that no approval covers (the child may well use it).
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from provenance.origins import ClaimFacts, Evidence, Origin, OriginSummary, summarize_claims

__all__ = [
    "MAX_DEPTH",
    "ApprovalRow",
    "ClaimRow",
    "Judge",
    "Judged",
    "LedgerFacts",
    "Relation",
    "SignalRow",
    "Source",
    "Step",
    "ToolFacts",
    "VersionFacts",
    "approved",
    "copy_relation_of",
    "covers_bytes",
    "describe_path",
]


MAX_DEPTH = 100
"""How far lineage is followed (a chain deeper than this is not a real pipeline)."""


# ---------------------------------------------------------------------------------------------
# Rows, as the store delivers them


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
class ClaimRow:
    """One origin claim, oldest first."""

    origin: Origin
    resolves: bool = False
    evidence: str = Evidence.DECLARED.value
    tool_id: int | None = None
    event_id: int = 0
    said: str = ""
    """Who or what said so (the claimant, or what the file carried)."""


@dataclass(frozen=True)
class ApprovalRow:
    ref: str
    digest: str
    """The bytes it was given for: it covers a version only while they are the version's."""
    covers_tool_risk: bool = False
    approved_by: str = ""


@dataclass(frozen=True)
class SignalRow:
    """What a file of the version said about itself, recorded by the event `event_id`: a
    perceptual match to generated material (`near_ai`), credentials that could not be read
    (`unreadable`: why), or metadata too large to read (`metadata_unread`: what, and the
    limits)."""

    event_id: int
    summary: str
    near_ai: bool = True
    unreadable: str | None = None
    matches: tuple[Mapping[str, Any], ...] = ()
    """A perceptual match's generated asset versions, as fields (asset, version, distance,
    threshold, which print matched)."""
    metadata_unread: str | None = None


@dataclass(frozen=True)
class VersionFacts:
    """The rows about one asset version."""

    id: int
    asset_id: int
    name: str
    number: int
    latest: int
    """The number of its asset's latest version."""
    digest: str
    members: int
    claims: tuple[ClaimRow, ...] = ()
    approvals: tuple[ApprovalRow, ...] = ()
    likeness: tuple[str, ...] = ()
    contains: tuple[int, ...] = ()
    """The versions it was made from (`contains` lineage), as recorded."""
    linked_at: tuple[tuple[int, int], ...] = ()
    """(parent, the event that recorded that `contains` edge); an edge not listed is older
    than anything."""
    recorded_at: int = 0
    """The event that recorded this version."""
    newer: tuple[int, ...] = ()
    """Its asset's versions after it (delivered for the versions that are parents)."""
    shared: tuple[tuple[int, int], ...] = ()
    """(a version of another asset, how many of this version's members hold bytes it holds)."""
    signals: tuple[SignalRow, ...] = ()

    @property
    def label(self) -> str:
        return f"{self.name} v{self.number}"


@dataclass(frozen=True)
class LedgerFacts:
    """Everything the rules may ask about a set of delivered versions."""

    versions: Mapping[int, VersionFacts]
    tools: Mapping[int, ToolFacts] = field(default_factory=dict)
    consented: frozenset[str] = frozenset()
    """Performers (case-folded) with a consent on record."""


# ---------------------------------------------------------------------------------------------
# What a version answers for


class Relation(str, enum.Enum):
    """How material came to be in a version."""

    CONTAINS = "contains"
    """Recorded lineage."""
    COPY = "copy"
    """All of its bytes are the other version's."""
    DERIVED = "derived"
    """More than half of its bytes are the other version's."""


@dataclass(frozen=True)
class Step:
    relation: Relation
    version: VersionFacts


@dataclass(frozen=True)
class Source:
    """Generated material in a delivered version: the version itself, or one reached from it."""

    version: VersionFacts
    origin: Origin
    tools: tuple[ToolFacts, ...]
    path: tuple[Step, ...]
    """From the delivered version to this one (empty: the delivered version itself)."""
    covered_by: tuple[ApprovalRow, ...]
    """The approvals that cover it in the delivered version."""

    @property
    def approved(self) -> bool:
        return bool(self.covered_by)

    @property
    def risky_tools(self) -> tuple[ToolFacts, ...]:
        return tuple(t for t in self.tools if t.generative and t.risks)

    @property
    def tool_risk_accepted(self) -> bool:
        return any(a.covers_tool_risk for a in self.covered_by)

    def describe(self) -> str:
        tools = ", ".join(t.name for t in self.tools) or "tool not recorded"
        what = f"{self.origin.alias} with {tools}"
        if not self.path:
            return f"itself {what}"
        return f"{describe_path(self.path)}: {what}"


def describe_path(path: Iterable[Step]) -> str:
    """`contains elements/sky v2`, `is a copy of ...`, joined: how material got in."""
    words = {
        Relation.CONTAINS: "contains",
        Relation.COPY: "is a copy of",
        Relation.DERIVED: "is mostly the frames of",
    }
    parts = []
    for number, step in enumerate(path):
        verb = words[step.relation]
        if number and step.relation is Relation.CONTAINS:
            verb = "which contains"
        elif number:
            verb = "which " + verb
        parts.append(f"{verb} {step.version.label}")
    return ", ".join(parts)


@dataclass(frozen=True)
class Stale:
    """A parent recorded at a version that is no longer its asset's latest."""

    child: VersionFacts
    parent: VersionFacts
    newer: tuple[VersionFacts, ...]
    unapproved: tuple[VersionFacts, ...]
    """The newer versions, recorded after the edge (the render may use them: a version that
    existed when the edge was recorded was passed over on purpose, as a scene pins what was on
    disk), that are, or contain, generated material no approval covers."""


@dataclass(frozen=True)
class ContentDispute:
    """A version whose own claims are not generative, holding bytes recorded as generated."""

    holder: VersionFacts
    origin: Origin


@dataclass(frozen=True)
class Judged:
    """What one delivered version answers for."""

    version: VersionFacts
    summary: OriginSummary
    sources: tuple[Source, ...]
    likeness: tuple[str, ...]
    """Performers whose likeness it uses (its own marks and those of what it contains)."""
    consented: frozenset[str]
    stale: tuple[Stale, ...]
    content_disputes: tuple[ContentDispute, ...]
    shared: tuple[tuple[VersionFacts, int], ...]
    """Generated versions that hold a few of its bytes (at most half): reported, not carried."""
    approvals: tuple[ApprovalRow, ...]
    """Its own approvals that cover its bytes."""
    evidence: tuple[str, ...]
    """Its live claims that came from the files themselves, described."""
    near_ai: tuple[str, ...]
    """Perceptual matches to generated material that no TD has settled since."""
    unknown_inputs: tuple[tuple[VersionFacts, tuple[Step, ...]], ...] = ()
    """What is in it (at any depth) whose origin nobody has declared, with how it got in."""
    unreadable_credentials: tuple[str, ...] = ()
    """Why content credentials its files carry could not be read, unsettled since."""
    near_ai_matches: tuple[Mapping[str, Any], ...] = ()
    """The unsettled perceptual matches as fields."""
    metadata_unread: tuple[str, ...] = ()
    """What its files' metadata held that was too large to read, unsettled since."""

    @property
    def differs(self) -> bool:
        """Its live claims disagree, among non-generative, known origins only (a warning)."""
        return self.summary.differs

    @property
    def origin(self) -> Origin:
        return self.summary.origin

    @property
    def disputed(self) -> bool:
        return self.summary.disputed or bool(self.content_disputes)

    @property
    def unapproved(self) -> tuple[Source, ...]:
        return tuple(s for s in self.sources if not s.approved)

    @property
    def missing_consent(self) -> tuple[str, ...]:
        return tuple(p for p in self.likeness if p.casefold() not in self.consented)

    @property
    def generative_tools(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(t.name for s in self.sources for t in s.tools))


def covers_bytes(approval_digest: str, version_digest: str) -> bool:
    """Does an approval given for `approval_digest` cover a version of `version_digest`? Only
    the same bytes: changed bytes are not approved."""
    return approval_digest == version_digest


def approved(version: VersionFacts) -> tuple[ApprovalRow, ...]:
    """A version's approvals that are for its bytes (an approval never covers other bytes)."""
    return tuple(a for a in version.approvals if covers_bytes(a.digest, version.digest))


def copy_relation(version: VersionFacts, shared: int) -> Relation | None:
    """What sharing `shared` of its members' bytes with another version makes this one."""
    return copy_relation_of(version.members, shared)


def copy_relation_of(members: int, shared: int) -> Relation | None:
    """A version of `members` members, `shared` of which hold another version's bytes, is a
    copy of it (all), derived from it (more than half), or neither (a few black frames)."""
    if shared >= members > 0:
        return Relation.COPY
    if shared * 2 > members:
        return Relation.DERIVED
    return None


class Judge:
    """Answers the rules' questions about the versions of one `LedgerFacts` (memoized)."""

    def __init__(self, ledger: LedgerFacts) -> None:
        self.ledger = ledger
        self._summaries: dict[int, OriginSummary] = {}
        self._sources: dict[int, tuple[Source, ...]] = {}

    def version(self, version_id: int) -> VersionFacts:
        return self.ledger.versions[version_id]

    def summary(self, version_id: int) -> OriginSummary:
        found = self._summaries.get(version_id)
        if found is None:
            claims = self.version(version_id).claims
            found = summarize_claims([ClaimFacts(c.origin, c.resolves) for c in claims])
            self._summaries[version_id] = found
        return found

    def generative(self, version_id: int) -> bool:
        """Do its own claims say generative material (the effective origin or any live claim)?"""
        return self.summary(version_id).generative

    def tools(self, version_id: int) -> tuple[ToolFacts, ...]:
        """The generative tools its generative claims name."""
        tools = self.ledger.tools
        used = (
            tools[c.tool_id]
            for c in self.version(version_id).claims
            if c.tool_id is not None and c.origin.generative and c.tool_id in tools
        )
        return tuple(dict.fromkeys(used))

    def reached(self, version_id: int) -> Iterator[tuple[int, tuple[Step, ...]]]:
        """Every version whose material is in this one, with the first (shortest) path to it:
        itself, then through `contains` lineage, copies and derivatives, breadth first."""
        versions = self.ledger.versions
        seen = {version_id}
        queue: deque[tuple[int, tuple[Step, ...]]] = deque([(version_id, ())])
        while queue:
            current, path = queue.popleft()
            yield current, path
            if len(path) >= MAX_DEPTH:
                continue
            for relation, parent in self._inputs(versions[current]):
                if parent in seen or parent not in versions:
                    continue
                seen.add(parent)
                queue.append((parent, (*path, Step(relation, versions[parent]))))

    @staticmethod
    def _inputs(version: VersionFacts) -> Iterator[tuple[Relation, int]]:
        for parent in version.contains:
            yield Relation.CONTAINS, parent
        for other, count in version.shared:
            relation = copy_relation(version, count)
            if relation is not None:
                yield relation, other

    def sources(self, version_id: int) -> tuple[Source, ...]:
        """The generated material in a version, each with the approvals that cover it there."""
        found = self._sources.get(version_id)
        if found is not None:
            return found
        own = approved(self.version(version_id))
        result = []
        for reached, path in self.reached(version_id):
            if not self.generative(reached):
                continue
            covering = own if not path else own + approved(self.version(reached))
            result.append(
                Source(
                    self.version(reached),
                    self.summary(reached).origin,
                    self.tools(reached),
                    path,
                    covering,
                )
            )
        found = self._sources[version_id] = tuple(result)
        return found

    def uncovered_generative(self, version_id: int) -> bool:
        """Is this version, or does it contain, generated material no approval covers?"""
        return any(not s.approved for s in self.sources(version_id))

    def stale(self, version_id: int) -> tuple[Stale, ...]:
        """Every parent recorded (through `contains`, at any depth) at a version that is not its
        asset's latest."""
        found = []
        for reached, _ in self.reached(version_id):
            child = self.version(reached)
            linked = dict(child.linked_at)
            for parent_id in child.contains:
                parent = self.ledger.versions.get(parent_id)
                if parent is None or not parent.newer:
                    continue
                newer = tuple(self.version(n) for n in parent.newer if n in self.ledger.versions)
                since = linked.get(parent_id, 0)
                unapproved = tuple(
                    n for n in newer if n.recorded_at > since and self.uncovered_generative(n.id)
                )
                found.append(Stale(child, parent, newer, unapproved))
        return tuple(found)

    def content_disputes(self, version_id: int) -> tuple[ContentDispute, ...]:
        """Copies of generated bytes whose own claims say otherwise, not settled since."""
        version = self.version(version_id)
        if self.generative(version_id):
            return ()
        settled = max((c.event_id for c in version.claims if c.resolves), default=0)
        found = []
        for other, count in version.shared:
            if (
                copy_relation(version, count) is not Relation.COPY
                or other not in self.ledger.versions
            ):
                continue
            claims = self.version(other).claims
            said = max((c.event_id for c in claims if c.origin.generative), default=0)
            if self.generative(other) and said > settled:
                found.append(ContentDispute(self.version(other), self.summary(other).origin))
        return tuple(found)

    def shared(self, version_id: int) -> tuple[tuple[VersionFacts, int], ...]:
        """Generated versions holding a few of its bytes (at most half of its members)."""
        version = self.version(version_id)
        return tuple(
            (self.version(other), count)
            for other, count in version.shared
            if copy_relation(version, count) is None
            and other in self.ledger.versions
            and self.generative(other)
        )

    def judge(self, version_id: int) -> Judged:
        version = self.version(version_id)
        performers: dict[str, None] = {}
        unknown = []
        for reached, path in self.reached(version_id):
            performers.update(dict.fromkeys(self.version(reached).likeness))
            summary = self.summary(reached)
            if path and summary.origin is Origin.UNKNOWN and not summary.disputed:
                unknown.append((self.version(reached), path))
        evidence, near_ai, unreadable, matches, unread = _file_evidence(version)
        return Judged(
            version=version,
            summary=self.summary(version_id),
            sources=self.sources(version_id),
            likeness=tuple(performers),
            consented=self.ledger.consented,
            stale=self.stale(version_id),
            content_disputes=self.content_disputes(version_id),
            shared=self.shared(version_id),
            approvals=approved(version),
            evidence=evidence,
            near_ai=near_ai,
            unknown_inputs=tuple(unknown),
            unreadable_credentials=unreadable,
            near_ai_matches=matches,
            metadata_unread=unread,
        )

    @cached_property
    def everything(self) -> dict[int, Judged]:
        """Every version of the ledger facts, judged (for the disclosure report)."""
        return {v: self.judge(v) for v in self.ledger.versions}


def _file_evidence(
    version: VersionFacts,
) -> tuple[
    tuple[str, ...],
    tuple[str, ...],
    tuple[str, ...],
    tuple[Mapping[str, Any], ...],
    tuple[str, ...],
]:
    """What the files said, as far as it is still live: a TD's resolving claim settles
    everything recorded before it."""
    claims = version.claims
    settled = max((c.event_id for c in claims if c.resolves), default=0)
    start = max((i for i, c in enumerate(claims) if c.resolves), default=0)
    evidence = tuple(
        f"{c.origin.alias} ({c.evidence}: {c.said})"
        for c in claims[start:]
        if c.evidence != Evidence.DECLARED.value
    )
    live = [s for s in version.signals if s.event_id > settled]
    near_ai = tuple(s.summary for s in live if s.near_ai)
    unreadable = tuple(dict.fromkeys(s.unreadable for s in live if s.unreadable))
    matches = tuple(match for s in live if s.near_ai for match in s.matches)
    unread = tuple(dict.fromkeys(s.metadata_unread for s in live if s.metadata_unread))
    return evidence, near_ai, unreadable, matches, unread

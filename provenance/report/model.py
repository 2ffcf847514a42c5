"""The dataclasses the reports are made of: what the CLI renders as text, JSON or HTML."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from provenance.obligations import ToolFacts
from provenance.origins import Origin
from provenance.policy import Finding
from provenance.records import (
    AssetRef,
    ConsentInfo,
    DeliverableInfo,
    DeliveredUse,
    DisclosureEntry,
)

__all__ = [
    "Checkpoint",
    "DeliverableDisclosure",
    "DeliveredWarning",
    "DeliveryReport",
    "DisclosureReport",
    "Frame",
    "GenerativeUse",
    "LikenessUse",
    "LineageGraph",
    "PolicyInfo",
    "ReportRow",
    "SourceInfo",
]


@dataclass(frozen=True)
class DeliveredWarning:
    """A finding a deliverable was finalized under (it did not block)."""

    rule: str
    asset: str | None
    message: str
    fix: str | None


@dataclass(frozen=True)
class GenerativeUse:
    """Generated material in one deliverable: the element (`entry`: its tools and their
    vetting) and how it went in (`use`: itself or inside which delivered asset, covered by
    which approvals)."""

    entry: DisclosureEntry
    use: DeliveredUse


@dataclass(frozen=True)
class LikenessUse:
    """A performer's likeness in one deliverable, with the consents on record for them."""

    performer: str
    asset: str
    """The delivered asset it is in."""
    version: int
    marked: str
    """The version marked as using the likeness (`name vN`)."""
    how: str
    """`itself`, or how the delivered asset holds the marked version."""
    consents: list[ConsentInfo]


@dataclass(frozen=True)
class DeliverableDisclosure:
    """What one deliverable discloses."""

    deliverable: DeliverableInfo
    uses: list[GenerativeUse]
    likeness: list[LikenessUse]
    warnings: list[DeliveredWarning]
    warnings_problem: str | None = None
    """Why the warnings it was finalized under cannot be listed (its manifest is gone or was
    changed): `deliverable.warnings` still counts them."""


@dataclass(frozen=True)
class DisclosureReport:
    """The document a vendor sends its studio contact: every finalized deliverable (or one)
    with its generative uses, likeness uses and warnings; and, for the whole ledger, generated
    material that no finalized deliverable holds."""

    deliverables: list[DeliverableDisclosure]
    undelivered: list[DisclosureEntry]
    made_at: dt.datetime
    uses: list[DisclosureEntry] = field(default_factory=list)
    """Every generated version the report covers, with every deliverable it went into (the
    ledger-wide list, or those in the one deliverable asked about)."""


# -- the delivery report --------------------------------------------------------------------------


@dataclass(frozen=True)
class PolicyInfo:
    name: str
    digest: str | None
    source: str
    """`built-in`, or where the custom policy was read from."""
    changes: dict[str, str]
    """rule id -> severity, where it differs from the built-in policy."""


@dataclass(frozen=True)
class Checkpoint:
    """Where the ledger's history stood: the event that recorded the deliverable (or the last
    event, for a sweep), and the signed checkpoint a finalize wrote into its manifest."""

    event_id: int
    event_hash: str
    signed: dict[str, Any] | None = None


@dataclass(frozen=True)
class Frame:
    """A delivered file shown as a thumbnail."""

    label: str
    """`first`, `middle` or `last` (and its frame number)."""
    path: bytes
    digest: str | None


@dataclass(frozen=True)
class LineageGraph:
    """From a delivered version back to each generated element in it."""

    nodes: list[tuple[str, str, Origin, bool]]
    """(id, label, origin, generated) of each version on a path."""
    edges: list[tuple[str, str, str]]
    """(child id, parent id, relation: contains, copy, derived)."""


@dataclass(frozen=True)
class SourceInfo:
    """Generated material in a delivered asset, and the approvals that cover it there."""

    element: str
    version: int
    origin: Origin
    tools: list[ToolFacts]
    how: str
    covered_by: list[str]


@dataclass(frozen=True)
class ReportRow:
    """One delivered asset (a shot): what it is, what is in it, what was found."""

    key: str
    """A stable id for the page (anchors, filters)."""
    name: str
    """As delivered (relative to the delivery), a sequence as `name.####.exr`."""
    asset: AssetRef | None
    """The recorded version it resolved to (None: the ledger does not hold it)."""
    files: int
    frames: str
    size: int
    origin: Origin | None
    disputed: bool
    tools: list[str]
    sources: list[SourceInfo]
    findings: list[Finding]
    approvals: list[str]
    likeness: list[tuple[str, list[ConsentInfo]]]
    thumbnails: list[Frame]
    lineage: LineageGraph | None


@dataclass(frozen=True)
class DeliveryReport:
    """A delivery, finalized or swept, as a producer and a supervisor read it."""

    title: str
    name: str | None
    source: str
    kind: str
    verdict: str
    """FINALIZED, CLEAN, WARNINGS or BLOCKED."""
    policy: PolicyInfo
    checkpoint: Checkpoint
    rows: list[ReportRow]
    loose: list[Finding]
    """Findings about no delivered asset (a missing or unreadable file)."""
    files: int
    made_at: dt.datetime
    finalized_at: dt.datetime | None = None
    warnings_problem: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    """Delivered assets by origin alias (`untracked` for files the ledger does not hold)."""
    workspace: str = ""
    """The ledger's workspace folder: paths below it are shown relative to it."""

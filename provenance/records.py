"""The dataclasses the library returns: what the CLI renders and a DCC publish hook reads."""

from __future__ import annotations

import datetime as dt
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeAlias

from provenance.origins import Origin

if TYPE_CHECKING:
    # Named in annotations only: a command that reads the ledger need not load the policy.
    from provenance.detect import Signal
    from provenance.packed_refs import AssetRefs
    from provenance.policy import Verdict
    from provenance.scenes import SceneFinding

__all__ = [
    "ApprovalInfo",
    "ApprovalRecorded",
    "AssetCard",
    "AssetRef",
    "ClaimInfo",
    "ClaimRecorded",
    "ConsentInfo",
    "DeliverableInfo",
    "DeliverableListing",
    "DeliveredHolding",
    "DeliveredIn",
    "DeliveredUse",
    "DeliveryFinalized",
    "DisclosureEntry",
    "DisputeNote",
    "EdgeRecorded",
    "FileChange",
    "History",
    "HistoryChange",
    "HistoryEntry",
    "IngestReport",
    "LikenessRecorded",
    "LineageLink",
    "LineageNode",
    "ManifestReport",
    "MhlCheck",
    "MhlFinding",
    "PinnedInput",
    "ReadAs",
    "ReprintReport",
    "SceneLineage",
    "SignalInfo",
    "SkippedFile",
    "SweepReport",
    "ToolInfo",
    "VerifyReport",
    "VersionRecorded",
    "display_path",
]


def display_path(path: bytes) -> str:
    """A path for people: undecodable bytes shown as \\xNN escapes."""
    if _UTF8_PATHS:
        return path.decode("utf-8", "backslashreplace")  # the same, in one step
    return os.fsdecode(path).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


# Paths are bytes decoded with surrogateescape from the filesystem encoding: when that is
# UTF-8 (Linux, macOS), decoding the bytes directly gives what the round trip gives.
_UTF8_PATHS = sys.getfilesystemencoding().lower() in ("utf-8", "utf8")


@dataclass(frozen=True)
class ToolInfo:
    name: str
    vendor: str | None
    generative: bool
    trains_on_inputs: str
    secured: str
    registered_at: dt.datetime


@dataclass(frozen=True)
class ClaimInfo:
    origin: Origin
    tool: str | None
    tool_version: str | None
    claimed_by: str
    evidence: str
    note: str | None
    resolves: bool
    at: dt.datetime
    event_id: int
    unregistered_tool: str | None = None
    """The tool a file's signal named, when no registered tool has that name."""

    @property
    def tool_label(self) -> str | None:
        if self.tool is None:
            return f"{self.unregistered_tool} (unregistered)" if self.unregistered_tool else None
        return f"{self.tool}@{self.tool_version}" if self.tool_version else self.tool


@dataclass(frozen=True)
class SignalInfo:
    """A signal as `provenance show` lists it."""

    source: str
    origin: Origin | None
    evidence: str
    tool: str | None
    summary: str
    detail: dict[str, Any]
    event_id: int


@dataclass(frozen=True)
class AssetRef:
    """An asset version as other records name it."""

    asset_id: int
    version_id: int
    version: int
    path: bytes
    """Absolute path (or sequence pattern) on disk."""
    kind: str
    digest: str
    latest: int | None = None
    """The number of its asset's latest version, where it was looked up (lineage shows which
    version of a parent is recorded and which is latest)."""

    @property
    def name(self) -> str:
        return display_path(self.path)

    @property
    def superseded(self) -> bool:
        return self.latest is not None and self.latest > self.version


@dataclass(frozen=True)
class LineageLink:
    kind: str
    asset: AssetRef


@dataclass(frozen=True)
class AssetCard:
    """Everything `show` says about an asset's latest version."""

    asset: AssetRef
    versions: int
    status: str
    origin: Origin
    disputed: bool
    generative: bool
    claims: list[ClaimInfo]
    member_count: int
    total_size: int
    frames: list[int]
    holes: list[int]
    parents: list[LineageLink]
    children: list[LineageLink]
    signals: list[SignalInfo] = field(default_factory=list)
    """What the version's files said about themselves when it was recorded."""
    frame: int | None = None
    """The frame the target named, when it named one frame of a sequence."""
    frame_digest: str | None = None
    file_digest: str | None = None
    """A single file's own digest (what `xxhsum -H2` prints); `asset.digest` is the version's
    aggregate digest, which approvals are bound to."""
    likeness: list[tuple[str, list[ConsentInfo]]] = field(default_factory=list)
    """The performers whose likeness this version is marked as using, each with the consents
    on record for that name."""
    created_at: dt.datetime | None = None
    differs: bool = False
    """Live claims disagree among non-generative origins only: a warning, not a dispute."""
    read_as: ReadAs | None = None
    """Set when the target was a path the ledger does not record, found by its bytes."""
    deliverables: list[DeliveredIn] = field(default_factory=list)
    """The finalized deliverables that hold this version's material (itself or inside)."""


@dataclass(frozen=True)
class LineageNode:
    asset: AssetRef
    kind: str | None
    """The edge that leads here from its parent in the tree (None at the root)."""
    depth: int
    children: list[LineageNode] = field(default_factory=list)
    seen_before: bool = False
    """Already shown elsewhere in the tree (lineage is a graph, not a tree)."""
    read_as: ReadAs | None = None
    """(At the root) the target was a path the ledger does not record, found by its bytes."""
    deliverables: list[DeliveredIn] = field(default_factory=list)
    """Going down: the finalized deliverables that deliver this version (as it is, or an
    exact copy or a derivative of it); what contains it is further down the tree."""


@dataclass(frozen=True)
class VersionRecorded:
    """A history change: the event recorded a version of the asset."""

    kind: ClassVar[str] = "version"
    version: int
    files: int
    digest: str


@dataclass(frozen=True)
class ClaimRecorded:
    """A history change: the event recorded a claim about one of the asset's versions."""

    kind: ClassVar[str] = "claim"
    version: int
    claimed_by: str
    origin: Origin
    evidence: str
    resolves: bool
    """True when it settles a dispute (supersedes every earlier claim)."""
    tool: str | None = None
    tool_version: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class EdgeRecorded:
    """A history change: the event recorded a lineage edge that names one of the asset's versions
    (as the child or as the parent)."""

    kind: ClassVar[str] = "lineage"
    child: str
    """The child asset's name (absolute path, the pattern for a sequence)."""
    child_version: int
    edge: str
    """`contains` or `references`."""
    parent: str
    parent_version: int


@dataclass(frozen=True)
class ApprovalRecorded:
    """A history change: the event recorded a written approval of one of the asset's versions."""

    kind: ClassVar[str] = "approval"
    version: int
    digest: str
    """The bytes it is bound to."""
    approved_by: str
    ref: str
    covers_tool_risk: bool


@dataclass(frozen=True)
class LikenessRecorded:
    """A history change: the event recorded that one of the asset's versions uses a performer's
    likeness."""

    kind: ClassVar[str] = "likeness"
    version: int
    performer: str


@dataclass(frozen=True)
class DeliveredHolding:
    """What a finalized deliverable holds of the asset: one version, as it is or inside a
    delivered version."""

    version: int
    """The asset's version whose material it holds."""
    through: str
    """The delivered asset's name (the asset itself when delivered as it is)."""
    through_version: int
    how: str
    """`itself`, or how `through` holds it (`contains elements/sky v1`)."""

    @property
    def itself(self) -> bool:
        return self.how == "itself"


@dataclass(frozen=True)
class DeliveryFinalized:
    """A history change: the finalize of a deliverable that holds the asset's material."""

    kind: ClassVar[str] = "delivery"
    deliverable: str
    files: int
    """How many files the deliverable has."""
    holds: tuple[DeliveredHolding, ...]


HistoryChange: TypeAlias = (
    VersionRecorded
    | ClaimRecorded
    | EdgeRecorded
    | ApprovalRecorded
    | LikenessRecorded
    | DeliveryFinalized
)
"""One thing an event did to an asset (its `kind` says which: `version`, `claim`, `lineage`,
`approval`, `likeness`, `delivery`)."""


@dataclass(frozen=True)
class HistoryEntry:
    event_id: int
    kind: str
    actor: str
    host: str
    at: dt.datetime
    hash: str
    changes: tuple[HistoryChange, ...]
    """What the event did to the asset, in the order it did it (may be empty)."""


@dataclass
class SkippedFile:
    path: bytes
    reason: str
    detail: str = ""

    @property
    def name(self) -> str:
        return display_path(self.path)


@dataclass(frozen=True)
class PinnedInput:
    """One input of a scene and the recorded asset version it was pinned to."""

    path: bytes
    """The asset it is: a file, a sequence (`####`) or a UDIM set (`<UDIM>`), absolute."""
    nodes: tuple[str, ...]
    """Where the scene names it (`Read1.file`, `Group1.Read2.file`...)."""
    frames: tuple[int, ...]
    """The frames on disk the scene reads (empty for a single file)."""
    status: str
    """pinned, new-bytes, unrecorded, missing or output (see `provenance.scene_lineage`)."""
    asset: AssetRef | None
    """The version linked (None: nothing linked, or not recorded yet when only planned)."""
    latest: int | None = None
    """The asset's latest version number, when the pinned version is an older one."""
    origin: Origin | None = None

    @property
    def name(self) -> str:
        return display_path(self.path)


@dataclass(frozen=True)
class SceneLineage:
    """What a scene reads and writes, and the versions its inputs were (or would be) pinned to."""

    scene: bytes
    kind: str
    tool: str
    inputs: list[PinnedInput]
    outputs: list[bytes]
    findings: list[SceneFinding]
    """What the reader could not work out (`input-unresolved`...)."""
    scene_asset: AssetRef | None = None
    """The scene file as recorded by an ingest (linked as `references`)."""

    @property
    def linked(self) -> list[PinnedInput]:
        return [i for i in self.inputs if i.asset is not None and i.status != "output"]

    @property
    def origin_unknown(self) -> list[PinnedInput]:
        """Inputs linked with no origin on record: the gate cannot vouch for them."""
        return [i for i in self.inputs if i.status != "output" and i.origin is Origin.UNKNOWN]


def _no_assets() -> AssetRefs:
    # (Imported here: AssetRefs holds the AssetRef defined above.)
    from provenance.packed_refs import AssetRefs

    return AssetRefs()


@dataclass
class IngestReport:
    """What one ingest run did."""

    event_id: int = 0
    assets_new: int = 0
    assets_changed: int = 0
    assets_unchanged: int = 0
    files_new: int = 0
    files_changed: int = 0
    files_unchanged: int = 0
    files_read: int = 0
    bytes_total: int = 0
    bytes_read: int = 0
    links: int = 0
    claims_added: int = 0
    signals: list[tuple[bytes, Signal]] = field(default_factory=list)
    """(asset pattern, signal) of every signal new versions' files carried."""
    unprinted: list[tuple[bytes, str]] = field(default_factory=list)
    """New image versions with no perceptual print (pattern, why): never compared, and said."""
    edges_added: int = 0
    seconds: float = 0.0
    assets: AssetRefs = field(default_factory=_no_assets)
    skipped: list[SkippedFile] = field(default_factory=list)
    escaping_links: list[bytes] = field(default_factory=list)
    holes: dict[str, list[int]] = field(default_factory=dict)
    scene: SceneLineage | None = None
    """With `ingest(..., scene=...)`: the scene's inputs and the versions they were pinned to."""
    disputed: list[DisputeNote] = field(default_factory=list)
    """Versions this ingest left disputed: they block delivery until a TD settles them."""
    mhl: MhlCheck | None = None
    """With `ingest(..., mhl=...)`: what the DIT's ASC MHL history said, and what matched."""

    @property
    def asset_count(self) -> int:
        return self.assets_new + self.assets_changed + self.assets_unchanged

    @property
    def file_count(self) -> int:
        return self.files_new + self.files_changed + self.files_unchanged

    @property
    def gb_per_s(self) -> float:
        return self.bytes_read / self.seconds / 1e9 if self.seconds > 0 else 0.0

    @property
    def ok(self) -> bool:
        """False when a file that exists could not be recorded (unreadable or unstable)."""
        return not any(s.reason in ("unreadable", "unstable") for s in self.skipped)


@dataclass(frozen=True)
class ReadAs:
    """A path the ledger does not record, found by its bytes: the file was read to hash it."""

    path: str
    digest: str
    holders: list[tuple[AssetRef, int | None]]
    """(asset version, frame) of each asset holding those bytes; the first is the one shown."""


class History(list["HistoryEntry"]):
    """The events that touched an asset (a list), and how the target was found (`read_as`)."""

    read_as: ReadAs | None = None


@dataclass(frozen=True)
class DisputeNote:
    """An asset version whose origin is disputed, and why: what each side says."""

    asset: str
    version: int
    claimed: list[str]
    """The origins its live claims give (aliases)."""
    files_say: list[str]
    """What its files say about themselves (the live claims that came from them)."""
    same_bytes_as: list[tuple[str, int, str]]
    """(asset, version, origin) of generated material whose bytes it holds."""


@dataclass(frozen=True)
class SweepReport:
    """The result of a sweep (nothing recorded) or of a finalize (recorded only if nothing blocks)."""

    delivery_kind: str
    source: bytes
    verdict: Verdict
    files: int
    assets: int
    files_read: int
    bytes_read: int
    seconds: float
    ignored_rows: int = 0
    files_cached: int = 0
    """Files whose digests came from the ledger's stat cache or a seal, not from reading them:
    a sweep's shortcut, never a finalize's."""
    name: str | None = None
    finalized: bool = False
    manifest: bytes | None = None
    event_id: int | None = None
    event_hash: str | None = None
    leftovers: list[bytes] = field(default_factory=list)
    """Leftovers of killed finalizes (staged manifests no live process holds): left out of a
    sweep; removed by a finalize (`leftovers_removed`)."""
    leftovers_removed: bool = False

    @property
    def blocked(self) -> bool:
        return self.verdict.blocked


@dataclass
class ReprintReport:
    """What `Ledger.reprint` printed again by the current perceptual algorithm."""

    reprinted: int = 0
    missing: list[str] = field(default_factory=list)
    """Digests of contents found at none of their locations with the recorded bytes."""
    unprintable: list[tuple[bytes, str]] = field(default_factory=list)
    """(path, why) of images found but with no print (blank, undecodable)."""


@dataclass(frozen=True)
class FileChange:
    path: str
    recorded: str | None
    now: str | None


@dataclass(frozen=True)
class VerifyReport:
    """Does a delivery still match what was finalized?"""

    name: str
    source: bytes
    finalized_at: dt.datetime
    files: int
    added: list[FileChange]
    removed: list[FileChange]
    changed: list[FileChange]
    files_read: int = 0
    files_cached: int = 0
    """Files taken as unchanged from the stat cache (`verify --quick`), not read."""
    manifest: bytes | None = None
    """Where the delivery's manifest belongs."""
    manifest_state: str = "present"
    """`present` (the bytes this deliverable's finalize wrote); `later` (the manifest of a later
    finalize of the same delivery); not ok: `missing`, `earlier` (an earlier finalize's: this
    one's never reached its place), `changed` (other bytes: listed as added, too), each written
    again by `manifest write`."""
    leftovers: list[bytes] = field(default_factory=list)
    """Leftovers of killed finalizes, left out."""

    @property
    def ok(self) -> bool:
        return not (self.added or self.removed or self.changed) and self.manifest_state in (
            "present",
            "later",
        )


@dataclass(frozen=True)
class ManifestReport:
    """What `Ledger.write_manifest` did."""

    name: str
    path: bytes
    digest: str
    size: int
    written: bool
    """False when the manifest was already in place, byte for byte."""
    checkpoint: Path | None
    """Its checkpoint's file in the checkpoints folder (None: the manifest carries none)."""
    checkpoint_written: bool
    leftovers_removed: list[bytes] = field(default_factory=list)


@dataclass(frozen=True)
class ApprovalInfo:
    asset: AssetRef
    ref: str
    approved_by: str
    note: str | None
    covers_tool_risk: bool
    recorded_by: str
    at: dt.datetime
    strong_digest: str | None = None
    """With `approve --strong`: the approved bytes' SHA-256 or BLAKE3 (over the members in
    frame order, as the version's xxh3-128 digest is)."""


@dataclass(frozen=True)
class ConsentInfo:
    performer: str
    scope: str
    ref: str
    recorded_by: str
    at: dt.datetime


@dataclass(frozen=True)
class DisclosureEntry:
    """One use of generative AI in the show: what goes to the studio contact."""

    asset: AssetRef
    origin: Origin
    status: str
    tools: list[ToolInfo]
    approvals: list[str]
    used_in: list[AssetRef]
    """Assets that contain this material (through `contains`, transitively)."""
    deliverables: list[DeliveredUse] = field(default_factory=list)
    """Each finalized deliverable it went into, through which delivered asset, covered how."""


@dataclass(frozen=True)
class DeliveredUse:
    """Generated material in a finalized deliverable."""

    deliverable: str
    asset: str
    """The delivered asset it went in through (itself, or one that contains it)."""
    version: int
    how: str
    """`itself`, or how the delivered asset holds it (`contains elements/sky v1`)."""
    covered_by: list[str]
    """The approvals that covered it there."""


@dataclass(frozen=True)
class DeliverableInfo:
    """A finalized deliverable, or a refused attempt to finalize one (`status`)."""

    name: str
    status: str
    """`finalized`, or `refused` (nothing was frozen: only the refusal is on record)."""
    source: bytes
    """The folder, list, CSV or timeline that was finalized."""
    kind: str | None
    """folder, list, csv or otio (None for a refusal)."""
    policy: str
    policy_digest: str | None
    files: int
    warnings: int
    """Warnings it was finalized with (findings that did not block)."""
    blocking: tuple[str, ...]
    """The rules that refused it (a refusal)."""
    at: dt.datetime
    event_id: int
    event_hash: str
    actor: str
    host: str

    @property
    def source_name(self) -> str:
        return display_path(self.source)


@dataclass(frozen=True)
class DeliveredIn:
    """A finalized deliverable that holds an asset version's material: the version itself, or
    inside a delivered asset that contains it (through lineage, a copy or a derivative)."""

    deliverable: DeliverableInfo
    version: AssetRef
    """The version whose material it holds."""
    through: AssetRef
    """The delivered asset version it is in (the version itself when delivered as it is)."""
    how: str
    """`itself`, or how `through` holds it (`contains elements/sky v1`)."""
    files: int
    """How many delivered files are `through`."""

    @property
    def itself(self) -> bool:
        return self.how == "itself"


@dataclass(frozen=True)
class DeliverableListing:
    """One deliverable as `provenance deliverables` lists it, with what it holds of the target
    asked about (`--contains`)."""

    deliverable: DeliverableInfo
    holds: list[DeliveredIn] = field(default_factory=list)


@dataclass(frozen=True)
class MhlFinding:
    """A file of a camera roll that its ASC MHL history does not vouch for."""

    path: str
    """Relative to the roll, as the history names it."""
    problem: str
    """`missing`, `does not match (md5 ... recorded, ... now)`, `not in the MHL`, ..."""


@dataclass(frozen=True)
class MhlCheck:
    """A camera roll checked against its DIT's ASC MHL history (read only)."""

    history: bytes
    """The `ascmhl/` folder or `.mhl` file read."""
    generations: int
    creator: str
    """Who and what made its last generation, and when."""
    formats: tuple[str, ...]
    matched: int
    """Files whose bytes match every hash the history recorded for them."""
    claimed: int
    """Asset versions recorded as `capture` on its word (every file of each matched)."""
    findings: tuple[MhlFinding, ...]

    @property
    def ok(self) -> bool:
        return not self.findings

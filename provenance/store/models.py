"""SQLAlchemy models of the ledger: contents, assets and versions, locations, claims, tools, lineage, events."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from provenance.origins import Evidence, Origin
from provenance.scan import AssetKind

__all__ = [
    "Approval",
    "Asset",
    "AssetStatus",
    "AssetVersion",
    "Base",
    "Claim",
    "Consent",
    "Content",
    "Deliverable",
    "DeliverableFile",
    "DeliverableManifest",
    "EdgeKind",
    "Event",
    "FolderSeal",
    "Likeness",
    "LineageEdge",
    "Location",
    "LocationKind",
    "Member",
    "PerceptualPrint",
    "Root",
    "SignalRecord",
    "Tool",
    "Tristate",
    "UTCDateTime",
]


NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC timestamps on every backend (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: object) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to the ledger; use UTC-aware datetimes")
        return value.astimezone(dt.timezone.utc) if value is not None else None

    def process_result_value(
        self, value: dt.datetime | None, dialect: object
    ) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class AssetStatus(str, enum.Enum):
    """What the guidelines make of an asset version: generated material is temporary until approved.

    Derived from the version's claims and approvals whenever it is read
    (`queries.version_statuses`), never stored: there is nothing to edit.
    """

    STANDARD = "standard"
    TEMPORARY = "temporary"
    APPROVED = "approved"


class LocationKind(str, enum.Enum):
    FILE = "file"
    SYMLINK = "symlink"


class EdgeKind(str, enum.Enum):
    """`contains`: the child incorporates the parent's material. `references`: it was only looked at."""

    CONTAINS = "contains"
    REFERENCES = "references"


class Tristate(str, enum.Enum):
    YES = "yes"
    NO = "no"
    UNKNOWN = "unknown"


def _check_in(column: str, enum_type: type[enum.Enum]) -> CheckConstraint:
    values = ", ".join(f"'{member.value}'" for member in enum_type)
    return CheckConstraint(f"{column} IN ({values})", name=f"{column}_valid")


def event_reference() -> ForeignKey:
    """The reference from a history row to the event that recorded it.

    Deferrable: a unit of work writes its rows first and its event last (the event commits to
    the rows), so the reference is checked at commit (see store.events.unit_of_work_event).
    """
    return ForeignKey("events.id", deferrable=True, initially="IMMEDIATE")


class Event(Base):
    """One change to the ledger, hash-chained to the one before it."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(200))
    host: Mapped[str] = mapped_column(String(255))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    payload: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(71))
    hash: Mapped[str] = mapped_column(String(71), unique=True)


class Root(Base):
    """A folder that recorded paths are relative to: `/` (absolute paths), the folder holding a
    SQLite ledger, or a show root a studio declared (see `provenance.roots`).

    A root is named once and keeps its name (what events record) wherever it moves: its place
    on a machine is the ledger's folder, its `location`, or one of its `aliases` there. Its
    location and aliases change in place (`provenance roots move|map|unmap`), each change an
    event that records the whole row, as `tools` does.
    """

    __tablename__ = "roots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    """`/`; the path where the ledger's folder was first recorded; a declared root's name."""
    location: Mapped[bytes | None] = mapped_column(LargeBinary)
    """Where a declared root is (as its platform writes it); None for `/` and the ledger's own
    folder (which is wherever the ledger is)."""
    aliases: Mapped[str] = mapped_column(Text)
    """JSON list of other spellings of the root's folder: other mounts, other platforms."""
    event_id: Mapped[int | None] = mapped_column(event_reference(), index=True)
    """The event that declared the root or first changed it; None for a root the ledger
    recorded on its own (`/`, its folder) and never changed since."""


class Content(Base):
    """The bytes of one file, named by digest (with its algorithm) and size."""

    __tablename__ = "contents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    digest: Mapped[str] = mapped_column(String(80), unique=True)
    size: Mapped[int] = mapped_column(BigInteger)


class Asset(Base):
    """What people name and deliver: one file, a frame sequence or a UDIM tile set."""

    __tablename__ = "assets"
    __table_args__ = (
        UniqueConstraint("root_id", "pattern", name="uq_assets_root_pattern"),
        _check_in("kind", AssetKind),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    root_id: Mapped[int] = mapped_column(ForeignKey("roots.id"))
    pattern: Mapped[bytes] = mapped_column(LargeBinary)
    kind: Mapped[str] = mapped_column(String(16))
    latest_version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class AssetVersion(Base):
    """An immutable list of members with its aggregate digest, computed in frame order.

    Its status is not a column: see `AssetStatus`."""

    __tablename__ = "asset_versions"
    __table_args__ = (
        UniqueConstraint("asset_id", "number", name="uq_asset_versions_asset_number"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id"))
    number: Mapped[int] = mapped_column(Integer)
    digest: Mapped[str] = mapped_column(String(80), index=True)
    member_count: Mapped[int] = mapped_column(Integer)
    total_size: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    event_id: Mapped[int] = mapped_column(event_reference(), index=True)


class Member(Base):
    """One frame (or tile, or the single file) of an asset version, in order."""

    __tablename__ = "members"

    version_id: Mapped[int] = mapped_column(ForeignKey("asset_versions.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    frame: Mapped[int | None] = mapped_column(Integer)
    content_id: Mapped[int] = mapped_column(ForeignKey("contents.id"), index=True)


class Location(Base):
    """Where content was seen, with the stat fingerprint that lets a re-scan skip reading it."""

    __tablename__ = "locations"
    __table_args__ = (
        UniqueConstraint("root_id", "path", name="uq_locations_root_path"),
        _check_in("kind", LocationKind),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    root_id: Mapped[int] = mapped_column(ForeignKey("roots.id"))
    path: Mapped[bytes] = mapped_column(LargeBinary)
    kind: Mapped[str] = mapped_column(String(16))
    content_id: Mapped[int | None] = mapped_column(ForeignKey("contents.id"), index=True)
    link_target: Mapped[bytes | None] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(BigInteger)
    mtime_ns: Mapped[int] = mapped_column(BigInteger)
    ctime_ns: Mapped[int] = mapped_column(BigInteger)
    inode: Mapped[int] = mapped_column(BigInteger)
    device: Mapped[int] = mapped_column(BigInteger)
    recorded_ns: Mapped[int] = mapped_column(BigInteger)
    """When the fingerprint was taken: a file modified within the racy window of this is re-hashed."""


class FolderSeal(Base):
    """A cache, like `locations`: a folder the last ingest found whole and recorded as it is.

    While its listing (every entry's name and stat fingerprint) is unchanged and no other write
    touched its assets, ingesting it again with the same intent (claim, lineage, likeness)
    changes nothing: the ingest reports it from here without grouping or looking up its files.
    Every write to an asset drops the seal of its folder.

    A sweep seals a delivered folder of exact copies the same way (intent `copy`, with
    `copied_as_of` set): its files are those versions' members, byte for byte, as long as its
    listing is unchanged. Only a sweep reads such a seal, and only while no later version
    supersedes its versions or holds any of their bytes.
    """

    __tablename__ = "folder_seals"

    root_id: Mapped[int] = mapped_column(ForeignKey("roots.id"), primary_key=True)
    folder: Mapped[bytes] = mapped_column(LargeBinary, primary_key=True)
    """Relative to the root, ending in `/`."""
    listing: Mapped[str] = mapped_column(String(64))
    recorded_ns: Mapped[int] = mapped_column(BigInteger)
    """Taken before the folder's files were read or trusted: the racy rule's reference."""
    intent: Mapped[str] = mapped_column(String(64))
    """Digest of the claim, lineage and likeness the sealing ingest applied."""
    file_count: Mapped[int] = mapped_column(Integer)
    byte_count: Mapped[int] = mapped_column(BigInteger)
    refs: Mapped[bytes] = mapped_column(LargeBinary)
    """The folder's assets as the report lists them (`AssetRefs.pack_folder`)."""
    holes: Mapped[str] = mapped_column(Text)
    """JSON: sequence name -> frames missing inside its range."""
    copied_as_of: Mapped[int | None] = mapped_column(BigInteger)
    """A sweep's seal of copies: the highest asset version id when they were resolved."""


class Tool(Base):
    """A registered tool with what the guidelines ask of it."""

    __tablename__ = "tools"
    __table_args__ = (
        _check_in("trains_on_inputs", Tristate),
        _check_in("secured", Tristate),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    key: Mapped[str] = mapped_column(String(200), unique=True)
    """The name case-folded: `runway gen-4` and `Runway Gen-4` are one tool."""
    vendor: Mapped[str | None] = mapped_column(String(200))
    generative: Mapped[bool] = mapped_column(Boolean)
    trains_on_inputs: Mapped[str] = mapped_column(String(16))
    secured: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    event_id: Mapped[int] = mapped_column(event_reference(), index=True)


class Claim(Base):
    """ "This asset version is X, made with tool T, says S, on evidence E." Never overwritten."""

    __tablename__ = "claims"
    __table_args__ = (
        _check_in("origin", Origin),
        _check_in("evidence", Evidence),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("asset_versions.id"), index=True)
    origin: Mapped[str] = mapped_column(String(64))
    tool_id: Mapped[int | None] = mapped_column(ForeignKey("tools.id"))
    tool_version: Mapped[str | None] = mapped_column(String(100))
    claimed_by: Mapped[str] = mapped_column(String(200))
    evidence: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    resolves: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    event_id: Mapped[int] = mapped_column(event_reference(), index=True)


class LineageEdge(Base):
    """A typed edge from an asset version to one it was made from."""

    __tablename__ = "lineage"
    __table_args__ = (
        UniqueConstraint("child_id", "parent_id", "kind", name="uq_lineage_child_parent_kind"),
        _check_in("kind", EdgeKind),
        CheckConstraint("child_id <> parent_id", name="not_self"),
        Index("ix_lineage_parent_id", "parent_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    child_id: Mapped[int] = mapped_column(ForeignKey("asset_versions.id"))
    parent_id: Mapped[int] = mapped_column(ForeignKey("asset_versions.id"))
    kind: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    event_id: Mapped[int] = mapped_column(event_reference(), index=True)


class Approval(Base):
    """A written approval (the email or ticket it is on record in), bound to one version's digest."""

    __tablename__ = "approvals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("asset_versions.id"), index=True)
    digest: Mapped[str] = mapped_column(String(80))
    """The version's aggregate digest when it was approved: changed bytes are not approved."""
    ref: Mapped[str] = mapped_column(Text)
    approved_by: Mapped[str] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    covers_tool_risk: Mapped[bool] = mapped_column(Boolean)
    """The approval explicitly accepts a generative tool that is not vetted."""
    recorded_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    event_id: Mapped[int] = mapped_column(event_reference(), index=True)


class Consent(Base):
    """A performer's consent record (SAG-AFTRA style: specific, with its scope and reference)."""

    __tablename__ = "consents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    performer: Mapped[str] = mapped_column(String(200))
    performer_key: Mapped[str] = mapped_column(String(200), index=True)
    scope: Mapped[str] = mapped_column(Text)
    ref: Mapped[str] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    event_id: Mapped[int] = mapped_column(event_reference(), index=True)


class Likeness(Base):
    """An asset version uses a performer's likeness."""

    __tablename__ = "likenesses"

    version_id: Mapped[int] = mapped_column(ForeignKey("asset_versions.id"), primary_key=True)
    performer_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    performer: Mapped[str] = mapped_column(String(200))
    event_id: Mapped[int] = mapped_column(event_reference(), index=True)


class SignalRecord(Base):
    """What a file said about itself when its asset version was recorded: a C2PA manifest,
    XMP DigitalSourceType, a generator's text chunk, or a perceptual match to AI material.

    A signal that implies an origin is also an origin claim (with the same event); a signal
    that only informs (a manifest with no source type) lives here alone.
    """

    __tablename__ = "signals"
    __table_args__ = (_check_in("evidence", Evidence),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("asset_versions.id"), index=True)
    source: Mapped[str] = mapped_column(String(40))
    origin: Mapped[str | None] = mapped_column(String(64))
    evidence: Mapped[str] = mapped_column(String(32))
    tool: Mapped[str | None] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text)
    detail: Mapped[str] = mapped_column(Text)
    """JSON: what the reader found (signer, validation state, matched asset and distance ...)."""
    event_id: Mapped[int] = mapped_column(event_reference(), index=True)


class Deliverable(Base):
    """A finalized delivery: frozen with every file's digest and the asset it resolved to."""

    __tablename__ = "deliverables"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    source: Mapped[bytes] = mapped_column(LargeBinary)
    """Where it was read: `NAME//PATH` under a show root (the root's name, `//`, the path under
    it: found again wherever the root moves), else its absolute path (and before schema 0012,
    always)."""
    kind: Mapped[str] = mapped_column(String(16))
    policy_name: Mapped[str] = mapped_column(String(200))
    policy_digest: Mapped[str] = mapped_column(String(71))
    file_count: Mapped[int] = mapped_column(Integer)
    warnings: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    event_id: Mapped[int] = mapped_column(event_reference(), index=True)


class DeliverableFile(Base):
    __tablename__ = "deliverable_files"

    deliverable_id: Mapped[int] = mapped_column(ForeignKey("deliverables.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[bytes] = mapped_column(LargeBinary)
    """Relative to the delivery's home folder."""
    digest: Mapped[str] = mapped_column(String(80))
    size: Mapped[int] = mapped_column(BigInteger)
    version_id: Mapped[int] = mapped_column(ForeignKey("asset_versions.id"), index=True)
    frame: Mapped[int | None] = mapped_column(Integer)


class DeliverableManifest(Base):
    """The manifest a finalize wrote beside a deliverable, its bytes as written (compressed):
    what `provenance manifest write` puts back, byte for byte. Its digest is the one the
    `finalize.manifest` event recorded, which is what vouches for it."""

    __tablename__ = "deliverable_manifests"

    deliverable_id: Mapped[int] = mapped_column(ForeignKey("deliverables.id"), primary_key=True)
    digest: Mapped[str] = mapped_column(String(80))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    """zlib-compressed."""


class PerceptualPrint(Base):
    """One perceptual print of a content (an image): a region of its frame, by one algorithm,
    cut into three bands for its index, with the detail print that verifies a match.

    Derived data, recomputable from the content, not history: no append-only guard. Lookups
    by Hamming distance probe the band indexes (`provenance.store.perceptual`). The algorithm
    is recorded so that a change of algorithm can tell old prints from new ones (which are
    never compared) and recompute them (`provenance db reprint`).
    """

    __tablename__ = "perceptual_prints"
    # Covering: a probe reads the rows it returns from the index alone (a third less time a
    # lookup on SQLite than an index on the band followed by a read of the table).
    __table_args__ = tuple(
        Index(
            f"ix_perceptual_prints_band{band}",
            f"band{band}",
            "algorithm",
            "print",
            "content_id",
            "region",
        )
        for band in range(3)
    )

    content_id: Mapped[int] = mapped_column(ForeignKey("contents.id"), primary_key=True)
    algorithm: Mapped[str] = mapped_column(String(16), primary_key=True)
    """`provenance.detect.perceptual.ALGORITHM` when it was printed ("dct64.1": before regions)."""
    region: Mapped[str] = mapped_column(String(32), primary_key=True)
    """Which part of the frame: "whole", "crop-left", "third-top" ... ("@white": seen over white)."""
    print: Mapped[int] = mapped_column(BigInteger)
    """The 64 bits as a signed integer (`provenance.detect.perceptual.to_signed`)."""
    band0: Mapped[int] = mapped_column(Integer)
    band1: Mapped[int] = mapped_column(Integer)
    band2: Mapped[int] = mapped_column(Integer)
    detail: Mapped[bytes | None] = mapped_column(LargeBinary)
    """The 255-bit detail print (32 bytes); None for prints of algorithm dct64.1."""

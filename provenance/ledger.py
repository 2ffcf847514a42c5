"""The Ledger facade: one unit of work per call, used by the CLI and by DCC publish hooks alike.

Each method's work is done by a function of the same name (or nearly) in `provenance.facade`,
one module per workflow, which takes the ledger; the method keeps the signature, the defaults,
the documentation and the retry on conflicts.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from provenance.facade import (
    approvals,
    asc_mhl,
    auditing,
    declared_roots,
    delivering,
    opening,
    reading,
    recording,
    reports,
    tools,
    verifying,
)
from provenance.facade.delivering import next_free_name
from provenance.facade.opening import create_db_roles, schema_status, upgrade_ledger
from provenance.facade.tools import split_tool
from provenance.paths import PathArg, as_bytes
from provenance.records import (
    ApprovalInfo,
    AssetCard,
    ConsentInfo,
    DeliverableListing,
    DisclosureEntry,
    History,
    IngestReport,
    LineageNode,
    ManifestReport,
    ReprintReport,
    SceneLineage,
    SweepReport,
    ToolInfo,
    VerifyReport,
)
from provenance.roots import RootChange, RootsReport
from provenance.scan import RACY_WINDOW_NS
from provenance.store import schema
from provenance.store.engine import LedgerLocation, retry_conflicts

# What reading the ledger (show, history, lineage: a command per file in publish hooks) does
# not need is imported by the functions that need it, in provenance.facade: hashing and its
# worker pools, the ingester, the finalizer, policy and obligations, scene readers, manifests,
# the audit's signatures and keys (cryptography) and the roles. tests/cli/test_startup.py pins it.
if TYPE_CHECKING:
    from prov.model import ProvDocument

    from provenance.audit.verification import AuditReport
    from provenance.farm import Readings
    from provenance.ingest import Progress
    from provenance.interchange.mhl import Written as MhlWritten
    from provenance.keys import KeyChange, TrustedKeys
    from provenance.policy import Policy
    from provenance.report.model import DeliveryReport, DisclosureReport

__all__ = [
    "DEFAULT_LINEAGE_DEPTH",
    "Ledger",
    "create_db_roles",
    "next_free_name",
    "schema_status",
    "split_tool",
    "upgrade_ledger",
]


DEFAULT_LINEAGE_DEPTH = 50


class Ledger:
    """A provenance ledger: open one with `Ledger.open()` (or create one with `Ledger.create()`).

    Every method is one unit of work: it commits when it returns and leaves the ledger as it
    was when it raises. Results are plain dataclasses.
    """

    def __init__(
        self,
        location: LedgerLocation,
        engine: Engine,
        cwd: PathArg | None = None,
        racy_window_ns: int = RACY_WINDOW_NS,
    ) -> None:
        self.location = location
        self.engine = engine
        self.cwd = os.path.abspath(as_bytes(cwd, "cwd") if cwd is not None else os.getcwdb())
        self.racy_window_ns = racy_window_ns
        """How close to its recording a file's change must be for the stat cache to distrust it."""

    # -- opening -------------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        db: PathArg | None = None,
        cwd: PathArg | None = None,
        racy_window_ns: int = RACY_WINDOW_NS,
    ) -> Ledger:
        """Open an existing ledger: `db`, else PROVENANCE_DB / DATABASE_URL, else the nearest `.provenance/`."""
        location, engine = opening.current_engine(db, cwd)
        return cls(location, engine, cwd, racy_window_ns)

    @classmethod
    def create(
        cls,
        db: PathArg | None = None,
        cwd: PathArg | None = None,
        racy_window_ns: int = RACY_WINDOW_NS,
    ) -> Ledger:
        """Create a ledger (`db`, else `.provenance/ledger.db` in `cwd`), or open the one there."""
        location, engine = opening.created_engine(db, cwd)
        try:
            return cls(location, engine, cwd, racy_window_ns)
        except BaseException:
            engine.dispose()
            raise

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def workspace(self) -> bytes:
        return self.location.root

    # -- tools ---------------------------------------------------------------------------------

    @retry_conflicts
    def add_tool(
        self,
        name: str,
        vendor: str | None = None,
        generative: bool = False,
        trains_on_inputs: str = "unknown",
        secured: str = "unknown",
    ) -> ToolInfo:
        """Register a tool; registering the same tool again with the same facts is a no-op."""
        return tools.add_tool(self, name, vendor, generative, trains_on_inputs, secured)

    @retry_conflicts
    def set_tool(
        self,
        name: str,
        vendor: str | None = None,
        generative: bool | None = None,
        trains_on_inputs: str | None = None,
        secured: str | None = None,
    ) -> ToolInfo:
        """Change what is recorded about a registered tool (an event records the change)."""
        return tools.set_tool(self, name, vendor, generative, trains_on_inputs, secured)

    def tools(self) -> list[ToolInfo]:
        return tools.list_tools(self)

    def tool(self, name: str) -> ToolInfo:
        return tools.registered_tool(self, name)

    # -- writing -------------------------------------------------------------------------------

    @retry_conflicts
    def ingest(
        self,
        paths: Sequence[PathArg] | PathArg,
        origin: str | None = None,
        tool: str | None = None,
        by: str | None = None,
        contains: Sequence[PathArg] = (),
        references: Sequence[PathArg] = (),
        note: str | None = None,
        workers: int | None = None,
        progress: Progress | None = None,
        likeness: Sequence[str] = (),
        scene: PathArg | None = None,
        allow_unresolved: bool = False,
        mhl: str | os.PathLike[str] | bytes | None = None,
        readings: Readings | None = None,
    ) -> IngestReport:
        """Fingerprint files, folders and sequences and record them, with a claim and lineage if given.

        With `scene` (the Nuke script, USD stage, Maya ASCII scene or OTIO cut that made the
        render), the render `contains` every input the scene reads, pinned to the version whose
        bytes are on disk now; inputs nobody recorded are recorded with no claim (origin
        unknown), and the scene file is recorded and linked as `references`
        (`report.scene` says how each input resolved). `contains`/`references` add to it. A
        scene that does not write the render, or whose inputs cannot all be named, is refused
        (SceneRefused) unless `allow_unresolved` is given for the latter.

        With `mhl` (a camera roll's `ascmhl/` history, or one `.mhl` file of it), the roll's
        files are checked against the hashes its DIT recorded: every asset all of whose files
        match is recorded as `capture` on the history's word (its creator, tool, date and hash
        formats in the claim's detail); a file that does not match, is missing or is not in the
        history is a finding (`report.mhl`). The history is only read.

        The whole run is one transaction and one event: it completes, or the ledger is as before.
        Files that cannot be read are left out and listed in the report (`report.ok` is False).

        `readings` (path -> (digest, stat, when the reading began)) are files read elsewhere, by
        a farm's shards (`provenance.farm`): they are recorded in the stat cache first, in the
        same transaction, so that only files changed since are read here.
        """
        return recording.ingest(
            self,
            paths,
            origin,
            tool,
            by,
            contains,
            references,
            note,
            workers,
            progress,
            likeness,
            scene,
            allow_unresolved,
            mhl,
            readings,
        )

    def scene_inputs(
        self,
        scene: PathArg,
        workers: int | None = None,
    ) -> SceneLineage:
        """What `ingest --scene` would link for this scene, and how each input resolved.

        Records nothing (only the stat cache is refreshed, as a sweep does); inputs that would
        be recorded are listed with no version.
        """
        return recording.scene_inputs(self, scene, workers)

    @retry_conflicts
    def tag(
        self,
        target: PathArg,
        origin: str,
        tool: str | None = None,
        by: str | None = None,
        note: str | None = None,
        resolve: bool = False,
        likeness: Sequence[str] = (),
    ) -> AssetCard:
        """Add an origin claim to an asset's latest version (claims are never overwritten).

        With `resolve`, the claim settles a disagreement: it supersedes every earlier claim.
        """
        return recording.tag(self, target, origin, tool, by, note, resolve, likeness)

    @retry_conflicts
    def link(
        self, child: PathArg, contains: Sequence[PathArg] = (), references: Sequence[PathArg] = ()
    ) -> AssetCard:
        """Record what `child` was made from (`contains`) or only looked at (`references`)."""
        return recording.link(self, child, contains, references)

    # -- approvals and consent -----------------------------------------------------------------

    @retry_conflicts
    def approve(
        self,
        target: PathArg,
        ref: str,
        by: str,
        note: str | None = None,
        covers_tool_risk: bool = False,
        strong: str | None = None,
        workers: int | None = None,
    ) -> ApprovalInfo:
        """Record a written approval for exactly the asset's current bytes.

        `ref` names where the approval is on record (ticket, email); `by` who gave it. An
        approval does not carry over to a new version: changed bytes need a new approval.
        With `strong` (`sha256` or `blake3`), the version's files are read where they were
        recorded, and the approval also records their collision-resistant digest (computed
        in the read that checks them against their xxh3-128): `finalize --strong` then tells
        the approved bytes from a file crafted to share their xxh3-128.
        """
        return approvals.approve(self, target, ref, by, note, covers_tool_risk, strong, workers)

    @retry_conflicts
    def add_consent(self, performer: str, scope: str, ref: str) -> ConsentInfo:
        """Record a performer's consent (its scope and where the signed form is on record)."""
        return approvals.add_consent(self, performer, scope, ref)

    def consents(self) -> list[ConsentInfo]:
        return approvals.consents(self)

    # -- delivery ------------------------------------------------------------------------------

    def sweep(
        self,
        delivery: PathArg,
        policy: Policy | None = None,
        workers: int | None = None,
        progress: Progress | None = None,
        readings: Readings | None = None,
    ) -> SweepReport:
        """Every finding about a delivery; records nothing (only the stat cache is refreshed).

        Runs without the write lock, so artists keep working while a TD sweeps; an auditor's
        read-only role can sweep too (the cache is then simply not refreshed). With `readings`
        (what a farm's shards read: see `ingest`), the sweep trusts those instead of the
        ledger's caches, and reads only the files changed since.
        """
        return delivering.sweep(self, delivery, policy, workers, progress, readings)

    def record_readings(self, readings: Readings) -> None:
        """Record files read elsewhere (a farm's shard: path -> (digest, stat, when the reading
        began)) in the stat cache, in one transaction. Only a cache: a finalize never trusts
        it."""
        return delivering.record_readings(self, readings)

    @retry_conflicts
    def finalize(
        self,
        delivery: PathArg,
        name: str,
        policy: Policy | None = None,
        workers: int | None = None,
        progress: Progress | None = None,
        key: PathArg | None = None,
        checkpoints: PathArg | None = None,
        strong: str | None = None,
        readings: Readings | None = None,
    ) -> SweepReport:
        """Mark a delivery final if nothing blocks; otherwise record only the refusal.

        With `strong` (`sha256` or `blake3`), every file's collision-resistant digest is
        computed in the read that computes its xxh3-128, goes into the manifest beside it (the
        manifest's own into the `finalize.manifest` event), and a delivered version that an
        `approve --strong` approval covers must have the bytes it describes
        (`approval-bytes-differ`).

        The check and the mark happen in one transaction under the ledger's write lock, so a
        re-tag or approval made meanwhile cannot slip between them. On success the manifest
        (`provenance-manifest.json`) is written beside the delivery.

        `readings` are what this finalize's farm job read (`provenance.farm`): trusted as its
        own reading, in place of reading every byte here (with `strong`, every byte is read
        here all the same: the shards compute no strong digest).
        """
        return delivering.finalize(
            self, delivery, name, policy, workers, progress, key, checkpoints, strong, readings
        )

    def verify(
        self,
        name: str,
        delivery: PathArg | None = None,
        workers: int | None = None,
        quick: bool = False,
    ) -> VerifyReport:
        """Compare a delivery with what was finalized as `name`: files added, removed, changed.

        Every file is read: the ledger's stat cache is a cache, and any writer of the ledger
        could forge it. `quick` trusts it (a file whose size, times and inode have not moved
        since it was last read is taken as unchanged), and the report says so."""
        return verifying.verify(self, name, delivery, workers, quick)

    def write_manifest(
        self,
        name: str,
        delivery: PathArg | None = None,
        checkpoints: PathArg | None = None,
    ) -> ManifestReport:
        """Write again, byte for byte, the manifest of deliverable `name` beside its delivery
        (or beside `delivery`, a copy of it), and keep its checkpoint again: what a finalize
        killed after its commit did not finish. Removes the leftovers of killed finalizes.

        The bytes are the ones the finalize kept in the ledger, checked against the digest its
        `finalize.manifest` event recorded (so a later sweep leaves them out). Records nothing:
        any role that may read the ledger may run it."""
        return verifying.write_manifest(self, name, delivery, checkpoints)

    # -- audit ---------------------------------------------------------------------------------

    def schema_state(self) -> schema.SchemaState:
        """The ledger's schema revision beside the one this version of provenance writes."""
        return schema.schema_state(self.engine)

    def checkpoints_folder(self, folder: PathArg | None = None) -> Path:
        """Where checkpoints are kept: `folder`, else $PROVENANCE_CHECKPOINTS, else beside a SQLite
        ledger, else the user's data folder (named for the database)."""
        return auditing.checkpoints_folder(self, folder)

    def checkpoint(
        self, key: PathArg | None = None, folder: PathArg | None = None
    ) -> tuple[Path, dict[str, Any]]:
        """Sign the log's current size and Merkle root and keep it outside the database.

        Signed with a key the ledger trusts (see `keys`); a ledger that trusts none yet pins this
        one first (an event it signs itself). Refused while the log does not verify: a
        checkpoint must never bless a tampered log.
        """
        return auditing.checkpoint(self, key, folder)

    def audit_verify(
        self, key: PathArg | None = None, folder: PathArg | None = None
    ) -> AuditReport:
        """Recompute the chain and prove every stored checkpoint consistent with the log and
        signed by a key the ledger trusts.

        `key` (either half) pins the one key to trust, as $PROVENANCE_TRUSTED_KEYS pins the
        studio's: the ledger's own key events must agree with it.
        """
        return auditing.audit_verify(self, key, folder)

    def keys(self, key: Path | None = None) -> TrustedKeys:
        """The checkpoint keys the ledger trusts (and trusted), the studio's pins, and the key
        this machine would sign with (`key`, else $PROVENANCE_CHECKPOINT_KEY, else the default)."""
        return auditing.trusted_keys(self, key)

    @retry_conflicts
    def trust_key(self, public: str | Path | None = None, key: Path | None = None) -> KeyChange:
        """Trust another checkpoint key, on the signature of a trusted one (`key`, a private key).

        On a ledger that trusts no key yet, `key` is pinned as its first (it signs itself):
        leave out `public`, or give the same key.
        """
        return auditing.trust_key(self, public, key)

    @retry_conflicts
    def retire_key(self, which: str, key: Path | None = None) -> KeyChange:
        """Stop trusting a key (named by its fingerprint or public key) for checkpoints from now
        on, on the signature of a trusted key; its earlier checkpoints keep counting."""
        return auditing.retire_key(self, which, key)

    @retry_conflicts
    def rotate_key(self, public: str | Path, key: Path | None = None) -> KeyChange:
        """Trust `public` and retire `key` (the trusted private key that signs it), in one event."""
        return auditing.rotate_key(self, public, key)

    def export_events(self) -> Iterator[dict[str, Any]]:
        """Every event, oldest first, as JSON-ready documents (for `audit export`)."""
        yield from auditing.export_events(self)

    def reprint(self) -> ReprintReport:
        """Print again, by the current algorithm, every image whose prints are of an older one
        (after `db upgrade` changed the algorithm), reading it where its content was last seen.

        A file is printed only when its bytes still hash to the recorded digest: a file changed
        since it was recorded is another content. One transaction; prints are derived data, so
        no event is written.
        """
        return recording.reprint(self)

    def disclosure(self) -> list[DisclosureEntry]:
        """Every use of generative AI in the ledger: tools, status, approvals, where it went."""
        return reports.disclosure(self)

    # -- roots ---------------------------------------------------------------------------------

    def roots(self) -> RootsReport:
        """Every root: where this machine reads it, its recorded spellings, its assets; and the
        entries of PROVENANCE_ROOT_MAP."""
        return declared_roots.list_roots(self)

    @retry_conflicts
    def add_root(self, location: str | os.PathLike[str], name: str | None = None) -> RootChange:
        """Declare a show root at `location` (named `name`, else its folder's name): what is
        recorded under it from now on is found again wherever the root moves."""
        return declared_roots.add_root(self, location, name)

    @retry_conflicts
    def move_root(self, root: str, to: str | os.PathLike[str]) -> RootChange:
        """Record that a declared root is now at `to` (named by its name, or its old place)."""
        return declared_roots.move_root(self, root, to)

    @retry_conflicts
    def map_root(self, root: str, spelled: str) -> RootChange:
        """Record another spelling of a root's folder (another mount or platform: `/Volumes/show`,
        `S:\\show`): a path spelled so resolves as the root's."""
        return declared_roots.map_root(self, root, spelled)

    @retry_conflicts
    def unmap_root(self, root: str, spelled: str) -> RootChange:
        """Remove a spelling `map_root` recorded."""
        return declared_roots.unmap_root(self, root, spelled)

    # -- reading -------------------------------------------------------------------------------

    def disclosure_report(self, deliverable: str | None = None) -> DisclosureReport:
        """The document a vendor sends its studio contact: per finalized deliverable (or the one
        named), each generative use with its tools, how it is in the deliverable and the approval
        that covers it there; each likeness used with its consent; the warnings it was finalized
        under; and (for the whole ledger) generated material that no deliverable holds."""
        return reports.disclosure_report(self, deliverable)

    def delivery_report(
        self,
        target: str,
        policy: Policy | None = None,
        workers: int | None = None,
        progress: Progress | None = None,
    ) -> DeliveryReport:
        """A delivery as a producer and a supervisor read it: `target` names a finalized
        deliverable (its frozen files, the warnings it was finalized under), or else is a
        delivery to sweep (as `sweep` does: nothing is recorded but the stat cache)."""
        return reports.delivery_report(self, target, policy, workers, progress)

    def prov_document(
        self, target: str | None = None, deliverable: str | None = None
    ) -> ProvDocument:
        """The ledger's facts as a W3C PROV document (`interchange.w3c_prov`): the whole ledger;
        or `target` (an asset: every version of it; a digest: that version) with what it was
        made from and the deliverables that hold it; or the finalized `deliverable` with
        everything in what it delivered."""
        return reports.prov_document(self, target, deliverable)

    def export_mhl(
        self,
        name: str,
        hashes: Sequence[str] = ("xxh128",),
        out: str | os.PathLike[str] | bytes | None = None,
        workers: int | None = None,
        progress: Progress | None = None,
    ) -> MhlWritten:
        """Add a generation to the ASC MHL history of a finalized delivery: every file of its
        folder with the `hashes` asked for (ASC MHL's md5, sha1, xxh64, xxh3, xxh128, c4),
        computed in the one read that also checks each file against the digest the finalize
        recorded. A delivery that changed since is refused (nothing written): `verify` says
        what changed. The history goes in `ascmhl/` in the delivery's folder, or in `out`."""
        return asc_mhl.export_mhl(self, name, hashes, out, workers, progress)

    # -- reading -------------------------------------------------------------------------------

    def show(self, target: PathArg) -> AssetCard:
        """The card of an asset version, with the finalized deliverables that hold it. A path
        the ledger does not record (a delivered copy) is read and found by its bytes:
        `card.read_as` says so and names every holder."""
        return reading.show(self, target)

    def deliverables(self, contains: str | None = None) -> list[DeliverableListing]:
        """Every finalized deliverable and every refused finalize, oldest first; with
        `contains`, the finalized deliverables that hold that asset's material (any of its
        versions; a digest names one version), itself or inside what they deliver, with how."""
        return reading.deliverables(self, contains)

    def lineage(
        self, target: PathArg, up: bool = True, depth: int = DEFAULT_LINEAGE_DEPTH
    ) -> LineageNode:
        """The tree of what `target` was made from (`up`) or everything made from it."""
        return reading.lineage(self, target, up, depth)

    def history(self, target: PathArg) -> History:
        """Every event that touched the asset: versions, claims and lineage, oldest first."""
        return reading.history(self, target)

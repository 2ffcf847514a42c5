"""The Ledger facade: one unit of work per call, used by the CLI and by DCC publish hooks alike."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import difflib
import json
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from provenance import __version__
from provenance.errors import (
    AuditFailed,
    CheckpointKeyMissing,
    LedgerNotFound,
    LedgerReadOnly,
    LineageCycle,
    NotALedger,
    ProvenanceError,
    TargetNotFound,
    ToolConflict,
    UnknownTool,
)
from provenance.origins import ClaimFacts, Evidence, Origin, parse_origin, summarize_claims
from provenance.paths import PathArg, as_bytes, as_path, as_target
from provenance.records import (
    ApprovalInfo,
    AssetCard,
    AssetRef,
    ClaimInfo,
    ConsentInfo,
    DeliverableInfo,
    DeliverableListing,
    DeliveredIn,
    DisclosureEntry,
    DisputeNote,
    FileChange,
    History,
    HistoryEntry,
    IngestReport,
    LineageLink,
    LineageNode,
    ManifestReport,
    MhlCheck,
    ReadAs,
    ReprintReport,
    SceneLineage,
    SweepReport,
    ToolInfo,
    VerifyReport,
    display_path,
)
from provenance.roots import RootChange, RootInfo, RootsReport
from provenance.scan import RACY_WINDOW_NS, looks_like_pattern, missing_frames
from provenance.store import queries, root_rows, schema
from provenance.store.engine import (
    LEDGER_DIR,
    LEDGER_FILE,
    LedgerLocation,
    create_ledger_engine,
    locate_ledger,
    parse_ledger_url,
    read_session,
    retry_conflicts,
    table_names,
    translate_db_errors,
    write_session,
)
from provenance.store.events import UnitOfWork, current_actor, unit_of_work_event
from provenance.store.models import (
    Approval,
    AssetVersion,
    Claim,
    Consent,
    Content,
    Deliverable,
    DeliverableFile,
    EdgeKind,
    Event,
    Likeness,
    LineageEdge,
    Location,
    Member,
    SignalRecord,
    Tool,
    Tristate,
)
from provenance.store.queries import MANIFEST_EVENT, keep_manifest
from provenance.store.signals import signals_by_version

# What reading the ledger (show, history, lineage: a command per file in publish hooks) does
# not need is imported by the methods that need it: hashing and its worker pools, the
# ingester, the finalizer, policy and obligations, scene readers, manifests, the audit's
# signatures and keys (cryptography) and the roles. tests/test_startup.py pins it.
if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from prov.model import ProvDocument

    from provenance.audit import AuditReport, ChainState
    from provenance.deliveries import Delivery, DeliveryKind
    from provenance.digests import FileDigests
    from provenance.farm import Readings
    from provenance.finalizer import DeliveryCheck, Reading
    from provenance.fingerprint import Hasher
    from provenance.ingest import Progress
    from provenance.interchange.mhl import History as MhlHistory
    from provenance.interchange.mhl import Written as MhlWritten
    from provenance.keys import KeyChange, Pins, SigningKey, TrustedKeys
    from provenance.manifests import KeptManifest, StagedManifest
    from provenance.policy import Finding, Policy
    from provenance.report.model import DeliveryReport, DisclosureReport, ReportRow
    from provenance.scenes import SceneRead
    from provenance.stat_cache import CacheRefresh
    from provenance.store.claims import ClaimSpec, ParentSpec
    from provenance.store.roles import RolesReport
    from provenance.strong import StrongReading

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


def split_tool(text: str) -> tuple[str, str | None]:
    """`Nuke@15.1` -> ("Nuke", "15.1"); a name without `@` has no version."""
    name, sep, version = text.rpartition("@")
    if not sep or not name.strip():
        return text.strip(), None
    return name.strip(), version.strip() or None


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
        location, engine = _existing_engine(db, cwd)
        try:
            schema.require_current(engine, location.display_url)
        except BaseException:
            engine.dispose()
            raise
        return cls(location, engine, cwd, racy_window_ns)

    @classmethod
    def create(
        cls,
        db: PathArg | None = None,
        cwd: PathArg | None = None,
        racy_window_ns: int = RACY_WINDOW_NS,
    ) -> Ledger:
        """Create a ledger (`db`, else `.provenance/ledger.db` in `cwd`), or open the one there."""
        folder = as_path(cwd, "cwd") if cwd is not None else Path.cwd()
        if db is None:
            db = (
                os.environ.get("PROVENANCE_DB")
                or os.environ.get("DATABASE_URL")
                or str(folder / LEDGER_DIR / LEDGER_FILE)
            )
        location = parse_ledger_url(as_target(db, "db"))
        path = location.sqlite_path
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise LedgerReadOnly(
                    f"Cannot create {path.parent} ({exc.strerror}). Run `provenance init` in a "
                    "folder you can write to, or pass --db with a writable path."
                ) from None
        engine = create_ledger_engine(location)
        try:
            state = schema.schema_state(engine)
            if state.current is not None:
                # An existing ledger is opened as it is: upgrading it is `provenance db upgrade`'s
                # job, after a backup, never a side effect of `init`.
                schema.require_current(engine, location.display_url)
                return cls(location, engine, cwd, racy_window_ns)
            with write_session(engine) as session:
                if _has_foreign_tables(session):
                    raise NotALedger(
                        f"{location.display_url} already holds tables that are not a provenance "
                        "ledger. Choose an empty database or a new file."
                    )
            schema.upgrade(engine)
            with write_session(engine) as session:
                if session.execute(select(func.count()).select_from(Event)).scalar() == 0:
                    with unit_of_work_event(session, "init", {"schema": schema.head_revision()}):
                        pass
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
        trains = _tristate("trains_on_inputs", trains_on_inputs)
        sec = _tristate("secured", secured)
        name, _version = split_tool(name)
        with write_session(self.engine) as session:
            existing = session.execute(select(Tool).where(Tool.key == name.casefold())).scalar()
            wanted = (vendor, generative, trains.value, sec.value)
            if existing is not None:
                have = (
                    existing.vendor,
                    existing.generative,
                    existing.trains_on_inputs,
                    existing.secured,
                )
                if have != wanted:
                    raise ToolConflict(
                        f"{existing.name!r} is already registered ({_describe_tool(existing)}). "
                        f"To change what is recorded, run `provenance tools set {existing.name!r} ...`."
                    )
                return queries.tool_info(existing)
            return queries.tool_info(_insert_tool(session, name, vendor, generative, trains, sec))

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
        with write_session(self.engine) as session:
            tool = _find_tool(session, split_tool(name)[0])
            changes: dict[str, object] = {}
            if vendor is not None:
                changes["vendor"] = vendor
            if generative is not None:
                changes["generative"] = generative
            if trains_on_inputs is not None:
                changes["trains_on_inputs"] = _tristate("trains_on_inputs", trains_on_inputs).value
            if secured is not None:
                changes["secured"] = _tristate("secured", secured).value
            if changes:
                payload = {"tool": tool.name, "changes": changes}
                with unit_of_work_event(session, "tool.set", payload) as unit:
                    session.execute(update(Tool).where(Tool.id == tool.id).values(**changes))
                    unit.changed("tools", tool.id)
                session.refresh(tool)
            return queries.tool_info(tool)

    def tools(self) -> list[ToolInfo]:
        with read_session(self.engine) as session:
            return [
                queries.tool_info(t)
                for t in session.execute(select(Tool).order_by(Tool.key)).scalars()
            ]

    def tool(self, name: str) -> ToolInfo:
        with read_session(self.engine) as session:
            return queries.tool_info(_find_tool(session, split_tool(name)[0]))

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
        from provenance.detect.trust import configured_anchors
        from provenance.fingerprint import Hasher
        from provenance.ingest import Ingester
        from provenance.scene_lineage import check_scene, plan_lineage, record_lineage
        from provenance.scenes import read_scene
        from provenance.stat_cache import record_readings
        from provenance.store.claims import add_likeness
        from provenance.store.seals import intent_digest

        if isinstance(paths, (str, bytes, os.PathLike)):
            paths = [paths]  # (one path given on its own, not a list of its characters)
        contains, references = _targets(contains), _targets(references)
        if not paths:
            raise ProvenanceError("Nothing to ingest: name at least one file, folder or sequence.")
        targets = self._local(*paths)
        for text, target in zip(paths, targets, strict=True):
            if not os.path.lexists(target) and not looks_like_pattern(os.fsdecode(target)):
                raise TargetNotFound(
                    f"{_show(text)!r} does not exist. Check the path (relative paths are read "
                    "from the current folder); give a sequence as name.####.ext."
                )
        configured_anchors()  # a trust list that cannot be used is an error now, not mid-run
        roll = self._read_roll(mhl, targets, origin, tool, workers) if mhl is not None else None
        read = None
        if scene is not None:
            read = read_scene(self._local(scene)[0])  # parsed before the write lock is taken
            check_scene(read, targets, allow_unresolved)
        with write_session(self.engine) as session, Hasher(workers) as hasher:
            roots = queries.ensure_roots(session, self.workspace)
            for text, target in zip(paths, targets, strict=True):
                if os.path.isfile(target) and not os.path.islink(target):
                    held = queries.sequence_holding(session, roots, target)
                    if held is not None:
                        raise ProvenanceError(
                            f"{_show(text)} is frame {held[1]} of {display_path(held[0])}, which "
                            "the ledger records as one asset. Ingest the sequence "
                            f"(`provenance ingest '{display_path(held[0])}' ...`) so that the "
                            "frame becomes part of its next version."
                        )
            claim = self._claim_spec(session, origin, tool, by, note) if origin else None
            if origin is None and tool is not None:
                raise ProvenanceError(
                    "--tool needs --origin: say what the tool made (e.g. --origin human)."
                )
            parents = self._parent_specs(session, roots, contains, references)
            scene_claim = self._scene_claim(session, read, claim, origin, tool, by, note)
            payload = {
                "paths": [display_path(t) for t in targets],
                "origin": claim.origin.value if claim else None,
                "tool": tool,
                "by": claim.claimed_by if claim else None,
                "contains": list(contains),
                "references": list(references),
                "note": note,
                "likeness": list(likeness),
                **_placed_here(roots),
            }
            if readings:
                record_readings(session, roots, readings)
            with unit_of_work_event(session, "ingest", payload) as unit:
                lineage = None
                if read is not None:
                    plan = plan_lineage(
                        session, roots, read, hasher, self.racy_window_ns, exclude=targets
                    )
                    found, lineage = record_lineage(
                        session, roots, hasher, plan, unit, scene_claim, self.racy_window_ns
                    )
                    parents = list(dict.fromkeys([*parents, *found]))
                intent = intent_digest(
                    {
                        "claim": claim,
                        "parents": sorted((p.version_id, p.kind.value) for p in parents),
                        "likeness": sorted({p.strip().casefold() for p in likeness if p.strip()}),
                    }
                    if claim or parents or likeness
                    else None
                )
                ingester = Ingester(
                    session,
                    roots,
                    unit,
                    hasher,
                    claim,
                    parents,
                    progress,
                    self.racy_window_ns,
                    intent=intent,
                    scene_lineage=read is not None,
                )
                report = ingester.run(targets)
                report.scene = lineage
                if roll is not None:
                    report.mhl = _record_roll(session, roots, report, roll, unit)
                if likeness:
                    add_likeness(session, [ref.version_id for ref in report.assets], likeness, unit)
                report.disputed = disputes(session, roots, ingester.claimed, ingester.holding_known)
            return report

    def _read_roll(
        self,
        mhl: str | os.PathLike[str] | bytes,
        targets: list[bytes],
        origin: str | None,
        tool: str | None,
        workers: int | None,
    ) -> _Roll:
        """Read a roll's ASC MHL history and, for the hashes other than xxh128 (the ledger's
        own), the files it names, before the ingest takes the write lock."""
        from provenance.digests import digest_files
        from provenance.fingerprint import Hasher
        from provenance.interchange import mhl as mhl_format

        if origin is not None or tool is not None:
            raise ProvenanceError(
                "--mhl records what its history vouches for as capture: give no --origin or "
                "--tool (ingest other material separately)."
            )
        history = mhl_format.read_history(self._absolute(mhl))
        root = history.root.rstrip(b"/")
        if targets != [root]:
            raise ProvenanceError(
                f"The ASC MHL history describes {display_path(root)}: ingest that folder "
                f"(`provenance ingest {display_path(root)} --mhl ...`)."
            )
        wanted = [
            path
            for path, values in sorted(history.expected().items())
            if set(values) - {"xxh128"} and not mhl_format.outside(path)
        ]
        readings = {}
        if wanted:
            algorithms = [
                "xxh3-128",
                *(mhl_format.MHL_ALGORITHMS[f] for f in history.formats if f != "xxh128"),
            ]
            with Hasher(workers) as hasher:
                found = digest_files(
                    hasher, [os.path.join(root, os.fsencode(p)) for p in wanted], algorithms
                )
            readings = dict(zip(wanted, found, strict=True))
        return _Roll(history, readings, mhl_format.claim_detail(history))

    def _scene_claim(
        self,
        session: Session,
        read: SceneRead | None,
        claim: ClaimSpec | None,
        origin: str | None,
        tool: str | None,
        by: str | None,
        note: str | None,
    ) -> ClaimSpec | None:
        """The claim the scene file itself gets: the render's, made with the scene's application.

        A generative claim keeps its own tool: a script is not made by a generative model, but
        a claim of generative work is kept as it was given rather than turned into another.
        """
        if read is None or claim is None or origin is None or claim.origin.generative:
            return claim
        if tool is not None and split_tool(tool)[0].casefold() == read.kind.tool.casefold():
            return claim
        return self._claim_spec(session, origin, read.kind.tool, by, note)

    def scene_inputs(
        self,
        scene: PathArg,
        workers: int | None = None,
    ) -> SceneLineage:
        """What `ingest --scene` would link for this scene, and how each input resolved.

        Records nothing (only the stat cache is refreshed, as a sweep does); inputs that would
        be recorded are listed with no version.
        """
        from provenance.fingerprint import Hasher
        from provenance.scene_lineage import lineage_report, plan_lineage
        from provenance.scenes import read_scene

        read = read_scene(self._local(scene)[0])
        with Hasher(workers) as hasher:
            with read_session(self.engine) as session:
                roots = self._roots_for_reading(session)
                plan = plan_lineage(session, roots, read, hasher, self.racy_window_ns)
                lineage = lineage_report(session, roots, plan)
            self._refresh_cache(plan.refresh, hasher)
        return lineage

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
        from provenance.store.claims import add_claims, add_likeness

        target = as_target(target)
        if resolve and not note:
            raise ProvenanceError(
                "A resolving claim needs --note saying why (it is what an auditor will read)."
            )
        with write_session(self.engine) as session:
            roots = queries.ensure_roots(session, self.workspace)
            resolved = queries.resolve_target(session, roots, target, self.cwd)
            claim = self._claim_spec(session, origin, tool, by, note, resolves=resolve)
            payload = {
                "target": target,
                "version_id": resolved.version_id,
                "origin": claim.origin.value,
                "tool": tool,
                "by": claim.claimed_by,
                "note": note,
                "likeness": list(likeness),
            }
            kind = "claim.resolve" if resolve else "claim"
            with unit_of_work_event(session, kind, payload) as unit:
                add_claims(session, [resolved.version_id], claim, unit, skip_repeats=False)
                add_likeness(session, [resolved.version_id], likeness, unit)
            return self._card(session, roots, resolved)

    @retry_conflicts
    def link(
        self, child: PathArg, contains: Sequence[PathArg] = (), references: Sequence[PathArg] = ()
    ) -> AssetCard:
        """Record what `child` was made from (`contains`) or only looked at (`references`)."""
        from provenance.store.claims import add_edges

        child = as_target(child)
        contains, references = _targets(contains), _targets(references)
        if not contains and not references:
            raise ProvenanceError(
                "Name at least one parent with --from (contains) or --ref (references)."
            )
        with write_session(self.engine) as session:
            roots = queries.ensure_roots(session, self.workspace)
            resolved = queries.resolve_target(session, roots, child, self.cwd)
            parents = self._parent_specs(session, roots, contains, references)
            payload = {
                "child": child,
                "version_id": resolved.version_id,
                "contains": list(contains),
                "references": list(references),
            }
            try:
                with unit_of_work_event(session, "link", payload) as unit:
                    add_edges(session, [resolved.version_id], parents, unit)
            except LineageCycle:
                refs = queries.asset_refs(session, roots, [p.version_id for p in parents])
                names = ", ".join(r.name for r in refs.values())
                raise LineageCycle(
                    f"{child} cannot be made from {names}: that would make an asset its own "
                    "ancestor (a lineage cycle). Check which was made from which; nothing was "
                    "recorded."
                ) from None
            return self._card(session, roots, resolved)

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
        target = as_target(target)
        if not ref.strip() or not by.strip():
            raise ProvenanceError(
                'An approval needs --ref (where it is on record, e.g. "NFX-1234 email '
                '2026-11-20") and --by (who gave it).'
            )
        strong_digest = self._strong_digest(target, strong, workers) if strong else None
        with write_session(self.engine) as session:
            roots = queries.ensure_roots(session, self.workspace)
            resolved = queries.resolve_target(session, roots, target, self.cwd)
            asset = queries.asset_refs(session, roots, [resolved.version_id])[resolved.version_id]
            payload = {
                "target": target,
                "version_id": resolved.version_id,
                "digest": asset.digest,
                "ref": ref,
                "by": by,
                "note": note,
                "covers_tool_risk": covers_tool_risk,
            }
            if strong_digest is not None:
                if strong_digest[0] != resolved.version_id:
                    raise ProvenanceError(
                        f"{target} got a new version while it was read; approve it again."
                    )
                payload["strong_digest"] = strong_digest[1]
            recorded_by = current_actor()
            with unit_of_work_event(session, "approve", payload) as unit:
                session.execute(
                    insert(Approval).values(
                        version_id=resolved.version_id,
                        digest=asset.digest,
                        ref=ref,
                        approved_by=by,
                        note=note,
                        covers_tool_risk=covers_tool_risk,
                        recorded_by=recorded_by,
                        created_at=unit.at,
                        event_id=unit.event_id,
                    )
                )
            return ApprovalInfo(
                asset,
                ref,
                by,
                note,
                covers_tool_risk,
                recorded_by,
                unit.at,
                strong_digest[1] if strong_digest else None,
            )

    def _strong_digest(self, target: str, strong: str, workers: int | None) -> tuple[int, str]:
        """(version, its strong digest): each member read where it was recorded, once, for
        xxh3-128 (which must be the member's) and the strong digest."""
        from provenance.digests import aggregate, digest_files
        from provenance.fingerprint import Hasher
        from provenance.strong import strong_algorithm

        algorithm = strong_algorithm(strong)
        with read_session(self.engine) as session:
            roots = self._read_roots(session, target)
            version_id = queries.resolve_target(session, roots, target, self.cwd).version_id
            members = session.execute(
                select(Member.frame, Member.content_id, Content.digest)
                .join(Content, Content.id == Member.content_id)
                .where(Member.version_id == version_id)
                .order_by(Member.position)
            ).all()
            places: dict[int, list[bytes]] = {}
            for content_id, root_id, path in session.execute(
                select(Location.content_id, Location.root_id, Location.path).where(
                    Location.content_id.in_({m.content_id for m in members}),
                    Location.kind == "file",
                )
            ):
                if content_id is not None:
                    places.setdefault(content_id, []).append(roots.join(root_id, path))
            name = queries.asset_refs(session, roots, [version_id])[version_id].name
        found: dict[int, str] = {}
        with Hasher(workers) as hasher:
            for attempt in range(max((len(p) for p in places.values()), default=0)):
                wanted = [
                    (m.content_id, places[m.content_id][attempt])
                    for m in members
                    if m.content_id not in found and len(places.get(m.content_id, ())) > attempt
                ]
                read = digest_files(hasher, [p for _, p in wanted], ["xxh3-128", algorithm])
                for (content_id, _), item in zip(wanted, read, strict=True):
                    digest = next(m.digest for m in members if m.content_id == content_id)
                    if item.digests is not None and item.tagged("xxh3-128") == digest:
                        found[content_id] = item.tagged(algorithm)
        missing = [m for m in members if m.content_id not in found]
        if missing:
            raise ProvenanceError(
                f"--strong reads the approved bytes, but {len(missing)} of the {len(members)} "
                f"files of {name} are found at no recorded place with their recorded bytes. "
                "Put them back (or re-ingest the asset), or approve without --strong."
            )
        return version_id, aggregate(algorithm, [(m.frame, found[m.content_id]) for m in members])

    @retry_conflicts
    def add_consent(self, performer: str, scope: str, ref: str) -> ConsentInfo:
        """Record a performer's consent (its scope and where the signed form is on record)."""
        if not performer.strip() or not scope.strip() or not ref.strip():
            raise ProvenanceError(
                "A consent needs the performer's name, --scope (e.g. \"S01 digital double, "
                'ep 1-3") and --ref (e.g. "SAG consent form 88").'
            )
        recorded_by = current_actor()
        payload = {"performer": performer, "scope": scope, "ref": ref}
        with (
            write_session(self.engine) as session,
            unit_of_work_event(session, "consent", payload) as unit,
        ):
            session.execute(
                insert(Consent).values(
                    performer=performer.strip(),
                    performer_key=performer.strip().casefold(),
                    scope=scope,
                    ref=ref,
                    recorded_by=recorded_by,
                    created_at=unit.at,
                    event_id=unit.event_id,
                )
            )
        return ConsentInfo(performer.strip(), scope, ref, recorded_by, unit.at)

    def consents(self) -> list[ConsentInfo]:
        with read_session(self.engine) as session:
            return [
                ConsentInfo(c.performer, c.scope, c.ref, c.recorded_by, c.created_at)
                for c in session.execute(select(Consent).order_by(Consent.id)).scalars()
            ]

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
        from provenance.detect.trust import configured_anchors
        from provenance.fingerprint import Hasher
        from provenance.policy import DEFAULT_POLICY

        source = self._local(delivery)[0]
        configured_anchors()
        with Hasher(workers, yield_to_writer=False) as hasher:
            if readings:
                with contextlib.suppress(LedgerReadOnly):  # (a cache: an auditor sweeps too)
                    self.record_readings(readings)
            check = self._check_unlocked(
                source, policy or DEFAULT_POLICY, hasher, progress, prior=readings
            )
        return _sweep_report(check)

    def _check_unlocked(
        self,
        source: bytes,
        policy: Policy,
        hasher: Hasher,
        progress: Progress | None = None,
        read_all: bool = False,
        prior: Readings | None = None,
    ) -> DeliveryCheck:
        """A delivery check in a read transaction (reading every byte when `read_all`, trusting
        only `prior` when given, else trusting the stat cache and seals), then a best-effort
        stat-cache refresh."""
        from provenance.finalizer import check_delivery

        if read_all:
            prior = {}
        with read_session(self.engine) as session:
            check = check_delivery(
                session, self._roots_for_reading(session), source, policy, hasher,
                self.racy_window_ns, progress, prior=prior,
            )  # fmt: skip
        self._refresh_cache(check.refresh, hasher)
        return check

    def _roots_for_reading(self, session: Session) -> queries.RootMap:
        # Before anything was ingested there are no roots: ids that match nothing will do.
        return queries.find_roots(session, self.workspace) or queries.RootMap.unrecorded(
            queries.ledger_folder(self.workspace)
        )

    def record_readings(self, readings: Readings) -> None:
        """Record files read elsewhere (a farm's shard: path -> (digest, stat, when the reading
        began)) in the stat cache, in one transaction. Only a cache: a finalize never trusts
        it."""
        from provenance.stat_cache import record_readings

        with write_session(self.engine) as session:
            roots = queries.ensure_roots(session, self.workspace)
            record_readings(session, roots, readings)

    def _refresh_cache(self, refresh: CacheRefresh, hasher: Hasher) -> None:
        """Record what a check had to read. Best effort: a read-only role, or a writer that
        recorded the same paths meanwhile, only means the next check reads them again."""
        from provenance.finalizer import record_cache

        if not (refresh.fresh or refresh.copied):
            return
        with (
            contextlib.suppress(LedgerReadOnly, IntegrityError),
            write_session(self.engine) as session,
        ):
            roots = queries.ensure_roots(session, self.workspace)
            record_cache(session, roots, refresh, hasher, self.racy_window_ns)

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
        from provenance.audit import audit, make_checkpoint
        from provenance.detect.trust import configured_anchors
        from provenance.finalizer import check_delivery, record_cache, record_deliverable
        from provenance.fingerprint import Hasher
        from provenance.keys import studio_pins
        from provenance.manifests import discard, manifest_body, stage_manifest
        from provenance.policy import DEFAULT_POLICY
        from provenance.strong import strong_algorithm

        name = name.strip()
        if not name:
            raise ProvenanceError("A deliverable needs --name (e.g. EP101_VFX_v003).")
        source = self._local(delivery)[0]
        configured_anchors()
        pins = studio_pins()
        signing_key, first_key = self._signing_key(key, pins)
        folder = self.checkpoints_folder(checkpoints)
        staged: StagedManifest | None = None
        algorithm = strong_algorithm(strong) if strong else None
        try:
            with Hasher(workers, yield_to_writer=False) as hasher:
                reading, strong_reading = self._read_delivery_unlocked(
                    source, hasher, algorithm, readings, progress
                )
                self._refresh_cache(reading.refresh, hasher)
                with write_session(self.engine) as session:
                    trail = audit(session, folder, pins, first_key)
                    if not trail.ok:
                        raise AuditFailed(trail)
                    _refuse_final_name(session, name)
                    roots = queries.ensure_roots(session, self.workspace)
                    chosen = policy or DEFAULT_POLICY
                    check = check_delivery(
                        session, roots, source, chosen, hasher, self.racy_window_ns,
                        prior=reading.prior,
                    )  # fmt: skip
                    check.files_read += reading.files_read
                    check.bytes_read += reading.bytes_read
                    record_cache(session, roots, check.refresh, hasher, self.racy_window_ns)
                    settled: dict[bytes, str] = {}
                    if strong_reading is not None:
                        settled = _settle_strong(
                            session, check, strong_reading, chosen, self.racy_window_ns
                        )
                    if check.verdict.blocked or not check.file_count:
                        refusal = _refusal_payload(name, source, chosen, check)
                        with unit_of_work_event(session, "finalize.refused", refusal) as refused:
                            pass
                        return _sweep_report(check, name=name, event_id=refused.event_id)
                    payload = _finalize_payload(name, source, chosen, check, roots, algorithm)
                    chain = _signing_chain(session, signing_key, trail)
                    with unit_of_work_event(session, "finalize", payload) as unit:
                        record_deliverable(
                            session, name, check, unit, roots.recorded_source(source)
                        )
                    event_id = unit.event_id
                    assert unit.hash is not None
                    event_hash = unit.hash
                    # The checkpoint of this moment (including the finalize event itself) travels
                    # in the manifest, so the deliverable can be checked against the log years on.
                    checkpoint = make_checkpoint(chain.appended(event_hash), signing_key.key)
                    document = _finalized_manifest(
                        name, check, unit, event_hash, checkpoint, algorithm, settled
                    )
                    staged = stage_manifest(check.delivery, manifest_body(document))
                    _keep_staged_manifest(session, name, staged, algorithm)
            final, staged = staged, None
            removed = self._put_in_place(name, final, folder, checkpoint, check.delivery)
            return _sweep_report(
                check,
                name=name,
                finalized=True,
                manifest=final.final,
                event_id=event_id,
                event_hash=event_hash,
                removed=removed,
            )
        finally:
            if staged is not None:
                discard(staged)

    def _read_delivery_unlocked(
        self,
        source: bytes,
        hasher: Hasher,
        algorithm: str | None,
        readings: Readings | None,
        progress: Progress | None,
    ) -> tuple[Reading, StrongReading | None]:
        """A finalize's reading of every byte of its delivery, outside the lock, trusting no row
        of the ledger (a stat-cache row is a cache any writer could forge): the locked check
        trusts only these readings, for files whose stat has not moved since, and reads the
        rest. A farm job's readings (`readings`) are the finalize's own reading, done by its
        shards; with a strong `algorithm`, every byte is read here all the same."""
        from provenance.finalizer import Reading, read_every_file
        from provenance.stat_cache import CacheRefresh
        from provenance.strong import read_delivery_strong

        if algorithm is not None:
            strong_reading = read_delivery_strong(source, hasher, algorithm, progress)
            reading = Reading(
                strong_reading.prior,
                strong_reading.refresh,
                strong_reading.files_read,
                strong_reading.bytes_read,
            )
            return reading, strong_reading
        if readings is not None:
            reading = Reading(readings, CacheRefresh([], {}, time.time_ns()), 0, 0)
            with contextlib.suppress(LedgerReadOnly):
                self.record_readings(readings)
            return reading, None
        with read_session(self.engine) as session:
            reading = read_every_file(
                session, self._roots_for_reading(session), source, hasher,
                self.racy_window_ns, progress,
            )  # fmt: skip
        return reading, None

    def _put_in_place(
        self,
        name: str,
        staged: StagedManifest,
        folder: Path,
        checkpoint: dict[str, Any],
        delivery: Delivery,
    ) -> list[bytes]:
        """After a finalize's commit: its manifest into place, its checkpoint kept, the
        leftovers of killed finalizes removed. The deliverable is final whatever fails here;
        the error says so and names the command that finishes the job."""
        from provenance.audit import write_checkpoint
        from provenance.manifests import clear_leftovers, install

        try:
            install(staged)
        except OSError as exc:
            raise ProvenanceError(
                f"{name} is final, but its manifest could not be put in place at "
                f"{display_path(staged.final)} ({exc.strerror}). Once it can be written, "
                f"`provenance manifest write {name}` writes it (and its checkpoint)."
            ) from None
        try:
            write_checkpoint(folder, checkpoint)
        except OSError as exc:
            raise ProvenanceError(
                f"{name} is final and its manifest is in place, but its checkpoint could not be "
                f"written to {folder} ({exc.strerror}). Once it can be, `provenance manifest "
                f"write {name}` writes it."
            ) from None
        return clear_leftovers(delivery)

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
        from provenance.fingerprint import Hasher
        from provenance.policy import DEFAULT_POLICY

        with read_session(self.engine) as session:
            row = self._deliverable(session, name)
            roots = self._roots_for_reading(session)
            if delivery is not None:
                source = roots.localize(delivery, self.cwd)
            else:
                source = roots.source_here(row.source)
            owners = queries.manifest_owners(session)
            recorded = {
                path: digest
                for path, digest in session.execute(
                    select(DeliverableFile.path, DeliverableFile.digest).where(
                        DeliverableFile.deliverable_id == row.id
                    )
                )
            }
            finalized_at = row.created_at
        with Hasher(workers, yield_to_writer=False) as hasher:
            check = self._check_unlocked(source, DEFAULT_POLICY, hasher, read_all=not quick)
        home = check.delivery.home
        now = {os.path.relpath(e.path, home): e.digest for e in check.entries}
        # The ASC MHL history an `export mhl` wrote into the delivery is not a delivered file.
        with read_session(self.engine) as session:
            histories = queries.recorded_mhl_files(session)
        now = {
            path: digest
            for path, digest in now.items()
            if not (path.startswith(b"ascmhl/") and path not in recorded and digest in histories)
        }
        missing = {os.path.relpath(p, home) for p in check.delivery.missing}
        added = [
            FileChange(display_path(p), None, now[p]) for p in sorted(now) if p not in recorded
        ]
        removed = [
            FileChange(display_path(p), recorded[p], None)
            for p in sorted(recorded)
            if p not in now or p in missing
        ]
        changed = [
            FileChange(display_path(p), recorded[p], now[p])
            for p in sorted(now)
            if p in recorded and recorded[p] != now[p]
        ]
        manifest = check.delivery.manifest_at
        state = _manifest_state(manifest, name, owners)
        return VerifyReport(
            name,
            source,
            finalized_at,
            len(recorded),
            added,
            removed,
            changed,
            files_read=check.files_read,
            files_cached=check.files_cached,
            manifest=manifest,
            manifest_state=state,
            leftovers=[f.path for f in check.delivery.leftovers],
        )

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
        from provenance.deliveries import Delivery, DeliveryKind
        from provenance.fingerprint import hash_file
        from provenance.manifests import (
            KeptManifest,
            clear_leftovers,
            install,
            manifest_digest,
            remove_leftovers,
            stage_manifest,
        )

        with read_session(self.engine) as session:
            row = self._deliverable(session, name)
            kept = queries.kept_manifest(session, row.id)
            owners = queries.manifest_owners(session)
            roots = self._roots_for_reading(session)
            if delivery is not None:
                source = roots.localize(delivery, self.cwd)
            else:
                source = roots.source_here(row.source)
        recorded = {digest for digest, owner in owners.items() if owner.name == name}
        if kept is None:
            raise ProvenanceError(
                f"{name!r} was finalized before provenance kept manifests in the ledger (schema "
                "0011): its manifest cannot be written again. Its files, digests and verdict are "
                f"in the ledger: `provenance verify {name}` checks the delivery against them."
            )
        digest, body = kept
        if body is None or digest not in recorded or manifest_digest(body) != digest:
            raise ProvenanceError(
                f"The manifest the ledger keeps for {name!r} is not the one its finalize "
                "recorded: the ledger was changed. Run `provenance audit verify`, and restore "
                "the ledger from a backup checked against your checkpoints."
            )
        target = Delivery(DeliveryKind(row.kind), source, _home(DeliveryKind(row.kind), source))
        final = target.manifest_at
        state = _manifest_state(final, name, owners)
        if state == "later":
            held = owners[hash_file(final).digest or ""]
            raise ProvenanceError(
                f"{display_path(final)} holds the manifest of {held.name!r}, a later finalize "
                f"of this delivery; writing {name!r}'s would replace it. To write {name!r}'s "
                "into a copy of the delivery, give the copy: `provenance manifest write "
                f"{name} COPY`."
            )
        written = state != "present"
        if written:
            try:
                install(stage_manifest(target, body, by_finalize=False))
            except OSError as exc:
                raise ProvenanceError(
                    f"Cannot put the manifest in place at {display_path(final)} "
                    f"({exc.strerror}). Make the folder writable and run this again."
                ) from None
        checkpoint_path, checkpoint_written = self._keep_checkpoint(
            KeptManifest(name, body, digest), checkpoints
        )
        return ManifestReport(
            name,
            final,
            digest,
            len(body),
            written,
            checkpoint_path,
            checkpoint_written,
            remove_leftovers(os.path.dirname(final)) + clear_leftovers(target),
        )

    def _deliverable(self, session: Session, name: str) -> Deliverable:
        row = session.execute(select(Deliverable).where(Deliverable.name == name)).scalar()
        if row is None:
            known = list(session.execute(select(Deliverable.name)).scalars())
            close = difflib.get_close_matches(name, known, n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise TargetNotFound(
                f"No finalized deliverable is named {name!r}.{hint} "
                "`provenance finalize DELIVERY --name NAME` records one."
            )
        return row

    def _keep_checkpoint(
        self, kept: KeptManifest, checkpoints: PathArg | None
    ) -> tuple[Path | None, bool]:
        """The checkpoint a manifest carries, kept in the checkpoints folder unless it is there:
        (its file, whether it was written now)."""
        from provenance.audit import stored_checkpoints, write_checkpoint

        document = kept.checkpoint
        if document is None:
            return None, False
        folder = self.checkpoints_folder(checkpoints)
        for path in stored_checkpoints(folder):
            with contextlib.suppress(OSError, ValueError):
                stored = json.loads(path.read_text(encoding="utf-8"))
                if isinstance(stored, dict) and stored.get("signature") == document.get(
                    "signature"
                ):
                    return path, False
        try:
            return write_checkpoint(folder, document), True
        except OSError as exc:
            raise ProvenanceError(
                f"The manifest of {kept.name} is in place, but its checkpoint could not be "
                f"written to {folder} ({exc.strerror}). Make the folder writable and run this "
                "again."
            ) from None

    # -- audit ---------------------------------------------------------------------------------

    def schema_state(self) -> schema.SchemaState:
        """The ledger's schema revision beside the one this version of provenance writes."""
        return schema.schema_state(self.engine)

    def checkpoints_folder(self, folder: PathArg | None = None) -> Path:
        """Where checkpoints are kept: `folder`, else $PROVENANCE_CHECKPOINTS, else beside a SQLite
        ledger, else the user's data folder (named for the database)."""
        if folder is not None:
            return as_path(folder, "the checkpoints folder")
        if os.environ.get("PROVENANCE_CHECKPOINTS"):
            return Path(os.environ["PROVENANCE_CHECKPOINTS"])
        sqlite = self.location.sqlite_path
        if sqlite is not None:
            return sqlite.parent / "checkpoints"
        base = os.environ.get("XDG_DATA_HOME") or os.path.join(
            os.path.expanduser("~"), ".local", "share"
        )
        # Named for the database, not for its contents: rewriting history must not move it.
        url = self.location.url
        name = f"{url.host or 'local'}-{url.port or ''}-{url.database or 'default'}"
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
        return Path(base) / "provenance" / "checkpoints" / safe

    def checkpoint(
        self, key: PathArg | None = None, folder: PathArg | None = None
    ) -> tuple[Path, dict[str, Any]]:
        """Sign the log's current size and Merkle root and keep it outside the database.

        Signed with a key the ledger trusts (see `keys`); a ledger that trusts none yet pins this
        one first (an event it signs itself). Refused while the log does not verify: a
        checkpoint must never bless a tampered log.
        """
        from provenance.audit import audit, make_checkpoint, write_checkpoint
        from provenance.keys import studio_pins

        pins = studio_pins()
        signing_key, first_key = self._signing_key(key, pins)
        where = self.checkpoints_folder(folder)
        if first_key is None:
            # Only reads: the history it signs is one snapshot, and no writer waits for it.
            with read_session(self._snapshot_engine()) as session:
                report = audit(session, where, pins)
                if not report.ok:
                    raise AuditFailed(report)
                chain = _signing_chain(session, signing_key, report)
        else:
            with write_session(self.engine) as session:
                report = audit(session, where, pins, first_key)
                if not report.ok:
                    raise AuditFailed(report)
                chain = _signing_chain(session, signing_key, report)
        document = make_checkpoint(chain, signing_key.key)
        with _os_errors(f"write the checkpoint into {where}"):
            return write_checkpoint(where, document), document

    def audit_verify(
        self, key: PathArg | None = None, folder: PathArg | None = None
    ) -> AuditReport:
        """Recompute the chain and prove every stored checkpoint consistent with the log and
        signed by a key the ledger trusts.

        `key` (either half) pins the one key to trust, as $PROVENANCE_TRUSTED_KEYS pins the
        studio's: the ledger's own key events must agree with it.
        """
        from provenance.audit import audit
        from provenance.keys import pins_from

        with _os_errors("read the checkpoint key"):
            pins = pins_from(_key_path(key))
        where = self.checkpoints_folder(folder)
        with read_session(self._snapshot_engine()) as session:
            return audit(session, where, pins)

    # -- checkpoint keys -----------------------------------------------------------------------

    def _signing_key(self, key: PathArg | None, pins: Pins | None) -> tuple[SigningKey, str | None]:
        """The key to sign checkpoints with, checked (before any work) against the keys the
        ledger trusts; and its public key when it is to be pinned as the ledger's first."""
        from provenance.audit import read_key_ring
        from provenance.keys import signing_key

        with read_session(self.engine) as session:
            ring = read_key_ring(session, pins)
        with _os_errors("read or create the checkpoint key"):
            signing = signing_key(ring, _key_path(key))
        return signing, None if ring.pinned else signing.public

    def keys(self, key: Path | None = None) -> TrustedKeys:
        """The checkpoint keys the ledger trusts (and trusted), the studio's pins, and the key
        this machine would sign with (`key`, else $PROVENANCE_CHECKPOINT_KEY, else the default)."""
        from provenance.audit import read_key_ring
        from provenance.keys import local_key_status, studio_pins

        pins = studio_pins()
        with read_session(self.engine) as session:
            ring = read_key_ring(session, pins)
        return local_key_status(ring, key)

    @retry_conflicts
    def trust_key(self, public: str | Path | None = None, key: Path | None = None) -> KeyChange:
        """Trust another checkpoint key, on the signature of a trusted one (`key`, a private key).

        On a ledger that trusts no key yet, `key` is pinned as its first (it signs itself):
        leave out `public`, or give the same key.
        """
        from provenance.audit import read_key_ring
        from provenance.keys import public_hex, read_public_key, require_key_change, studio_pins

        signer = _change_signer(key)
        signer_public = public_hex(signer.public_key())
        new = read_public_key(public) if public is not None else signer_public
        with write_session(self.engine) as session:
            ring = read_key_ring(session, studio_pins())
            require_key_change(ring, signer_public, trust=[new])
            return _append_key_change(session, signer, "key.trust", [new], [])

    @retry_conflicts
    def retire_key(self, which: str, key: Path | None = None) -> KeyChange:
        """Stop trusting a key (named by its fingerprint or public key) for checkpoints from now
        on, on the signature of a trusted key; its earlier checkpoints keep counting."""
        from provenance.audit import read_key_ring
        from provenance.keys import find_trusted, public_hex, require_key_change, studio_pins

        signer = _change_signer(key)
        with write_session(self.engine) as session:
            ring = read_key_ring(session, studio_pins())
            retired = find_trusted(ring, which)
            require_key_change(ring, public_hex(signer.public_key()), retire=[retired])
            return _append_key_change(session, signer, "key.retire", [], [retired])

    @retry_conflicts
    def rotate_key(self, public: str | Path, key: Path | None = None) -> KeyChange:
        """Trust `public` and retire `key` (the trusted private key that signs it), in one event."""
        from provenance.audit import read_key_ring
        from provenance.keys import public_hex, read_public_key, require_key_change, studio_pins

        signer = _change_signer(key)
        signer_public = public_hex(signer.public_key())
        new = read_public_key(public)
        with write_session(self.engine) as session:
            ring = read_key_ring(session, studio_pins())
            require_key_change(ring, signer_public, trust=[new], retire=[signer_public])
            return _append_key_change(session, signer, "key.rotate", [new], [signer_public])

    def _snapshot_engine(self) -> Engine:
        # The audit compares several tables with the events: on PostgreSQL they must all be read
        # from one snapshot, or a commit landing between two queries looks like tampering.
        # (SQLite's read transaction is a snapshot already.)
        if self.engine.dialect.name == "postgresql":
            return self.engine.execution_options(isolation_level="REPEATABLE READ")
        return self.engine

    def export_events(self) -> Iterator[dict[str, Any]]:
        """Every event, oldest first, as JSON-ready documents (for `audit export`)."""
        from provenance.audit import export_events

        with read_session(self.engine) as session:
            yield from export_events(session)

    def reprint(self) -> ReprintReport:
        """Print again, by the current algorithm, every image whose prints are of an older one
        (after `db upgrade` changed the algorithm), reading it where its content was last seen.

        A file is printed only when its bytes still hash to the recorded digest: a file changed
        since it was recorded is another content. One transaction; prints are derived data, so
        no event is written.
        """
        from provenance.detect.perceptual import image_prints  # numpy: on first use
        from provenance.fingerprint import hash_file
        from provenance.store.perceptual import record_prints, stale_contents

        report = ReprintReport()
        with write_session(self.engine) as session:
            roots = queries.ensure_roots(session, self.workspace)
            for content_id, digest, places in stale_contents(session):
                printed = None
                for root_id, relative in places:
                    path = roots.join(root_id, relative)
                    if hash_file(path).digest != digest:
                        continue
                    printed = image_prints(path)
                    if printed is not None and printed.problem is not None:
                        report.unprintable.append((path, printed.problem))
                    break
                if printed is None:
                    report.missing.append(digest)
                elif printed.stored:
                    record_prints(session, [(content_id, printed.stored)])
                    report.reprinted += 1
        return report

    def disclosure(self) -> list[DisclosureEntry]:
        """Every use of generative AI in the ledger: tools, status, approvals, where it went."""
        from provenance.store.facts import generative_uses

        with read_session(self.engine) as session:
            roots = queries.find_roots(session, self.workspace)
            if roots is None:
                return []
            return generative_uses(session, roots)

    # -- roots ---------------------------------------------------------------------------------

    def roots(self) -> RootsReport:
        """Every root: where this machine reads it, its recorded spellings, its assets; and the
        entries of PROVENANCE_ROOT_MAP."""
        with read_session(self.engine) as session:
            roots = self._roots_for_reading(session)
            return RootsReport(root_rows.root_infos(session, roots), list(roots.environment))

    @retry_conflicts
    def add_root(self, location: str | os.PathLike[str], name: str | None = None) -> RootChange:
        """Declare a show root at `location` (named `name`, else its folder's name): what is
        recorded under it from now on is found again wherever the root moves."""
        where = os.fsdecode(os.fsencode(location))
        with write_session(self.engine) as session:
            roots = queries.ensure_roots(session, self.workspace)
            with unit_of_work_event(session, "roots.add", {}) as unit:
                root_id = root_rows.declare(session, roots, where, name, unit)
            info = self._root_info(session, root_id)
            return RootChange("roots.add", info, None, unit.payload["location"], unit.event_id)

    @retry_conflicts
    def move_root(self, root: str, to: str | os.PathLike[str]) -> RootChange:
        """Record that a declared root is now at `to` (named by its name, or its old place)."""
        where = os.fsdecode(os.fsencode(to))
        with write_session(self.engine) as session:
            roots = queries.ensure_roots(session, self.workspace)
            placed = root_rows.find_root(roots, root)
            with unit_of_work_event(session, "roots.move", {}) as unit:
                new = root_rows.move(session, roots, placed, where, unit)
            sampled, present = (
                root_rows.present_at(session, placed.id, new.slashed) if new.native else (0, 0)
            )
            return RootChange(
                "roots.move",
                self._root_info(session, placed.id),
                unit.payload["from"],
                new.shown,
                unit.event_id,
                sampled,
                present,
            )

    @retry_conflicts
    def map_root(self, root: str, spelled: str) -> RootChange:
        """Record another spelling of a root's folder (another mount or platform: `/Volumes/show`,
        `S:\\show`): a path spelled so resolves as the root's."""
        with write_session(self.engine) as session:
            roots = queries.ensure_roots(session, self.workspace)
            placed = root_rows.find_root(roots, root)
            with unit_of_work_event(session, "roots.map", {}) as unit:
                new = root_rows.map_spelling(session, roots, placed, spelled, unit)
            info = self._root_info(session, placed.id)
            return RootChange("roots.map", info, None, new.shown, unit.event_id)

    @retry_conflicts
    def unmap_root(self, root: str, spelled: str) -> RootChange:
        """Remove a spelling `map_root` recorded."""
        with write_session(self.engine) as session:
            roots = queries.ensure_roots(session, self.workspace)
            placed = root_rows.find_root(roots, root)
            with unit_of_work_event(session, "roots.unmap", {}) as unit:
                gone = root_rows.unmap_spelling(session, placed, spelled, unit)
            info = self._root_info(session, placed.id)
            return RootChange("roots.unmap", info, gone.shown, None, unit.event_id)

    def _root_info(self, session: Session, root_id: int) -> RootInfo:
        """A root as it is now, after a change in this transaction."""
        return root_rows.root_info(session, queries.ensure_roots(session, self.workspace), root_id)

    # -- reading -------------------------------------------------------------------------------

    def disclosure_report(self, deliverable: str | None = None) -> DisclosureReport:
        """The document a vendor sends its studio contact: per finalized deliverable (or the one
        named), each generative use with its tools, how it is in the deliverable and the approval
        that covers it there; each likeness used with its consent; the warnings it was finalized
        under; and (for the whole ledger) generated material that no deliverable holds."""
        from provenance.obligations import describe_path
        from provenance.report.disclosure import (
            build_disclosure,
            manifest_warnings,
            read_recorded_manifest,
        )
        from provenance.report.model import LikenessUse
        from provenance.store import deliverables as store_deliverables
        from provenance.store.facts import generative_uses

        made_at = dt.datetime.now(dt.timezone.utc)
        with read_session(self.engine) as session:
            infos = store_deliverables.deliverable_infos(
                session, self._roots_for_reading(session), refused=False
            )
            if deliverable is not None and deliverable not in {i.name for i in infos}:
                raise _no_deliverable(session, deliverable)
            roots = queries.find_roots(session, self.workspace)
            if roots is None:
                return build_disclosure([], [], [], {}, made_at, deliverable)
            entries = generative_uses(session, roots)
            facts = store_deliverables.delivered_facts(session, roots)
            versions = facts.judge.ledger.versions
            consents = _consents_by_performer(session)
            likeness = [
                (
                    held.deliverable.name,
                    LikenessUse(
                        performer=held.performer,
                        asset=versions[held.delivered].name,
                        version=versions[held.delivered].number,
                        marked=versions[held.marked].label,
                        how=describe_path(held.path) if held.path else "itself",
                        consents=consents.get(held.performer.casefold(), []),
                    ),
                )
                for held in store_deliverables.likeness_held(facts)
                if deliverable is None or held.deliverable.name == deliverable
            ]
            manifests = {
                info.name: store_deliverables.recorded_manifest(session, info)
                for info in infos
                if deliverable is None or info.name == deliverable
            }
        warnings = {}
        for name, found in manifests.items():
            document, problem = read_recorded_manifest(found)
            warnings[name] = (manifest_warnings(document), problem)
        return build_disclosure(infos, entries, likeness, warnings, made_at, deliverable)

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
        from provenance.policy import DEFAULT_POLICY
        from provenance.store import deliverables as store_deliverables

        with read_session(self.engine) as session:
            info = store_deliverables.finalized_named(
                session, self._roots_for_reading(session), target
            )
            if info is None and not os.path.lexists(self._absolute(target)):
                raise _neither_deliverable_nor_delivery(session, target)
        if info is not None:
            return self._finalized_report(info)
        return self._swept_report(target, policy or DEFAULT_POLICY, workers, progress)

    def _finalized_report(self, info: DeliverableInfo) -> DeliveryReport:
        from provenance.obligations import Judge
        from provenance.policy import Finding, Severity
        from provenance.report.delivery import DeliveredFile, build_rows
        from provenance.report.disclosure import manifest_warnings, read_recorded_manifest
        from provenance.report.model import Checkpoint, DeliveryReport, PolicyInfo
        from provenance.store import deliverables as store_deliverables
        from provenance.store.facts import ledger_facts

        home = info.source if info.kind == "folder" else os.path.dirname(info.source)
        with read_session(self.engine) as session:
            roots = self._roots_for_reading(session)
            files = [
                DeliveredFile(os.path.join(home, path), digest, size, version_id, frame, path)
                for path, digest, size, version_id, frame in session.execute(
                    select(
                        DeliverableFile.path,
                        DeliverableFile.digest,
                        DeliverableFile.size,
                        DeliverableFile.version_id,
                        DeliverableFile.frame,
                    )
                    .join(Deliverable, Deliverable.id == DeliverableFile.deliverable_id)
                    .where(Deliverable.name == info.name)
                    .order_by(DeliverableFile.position)
                )
            ]
            versions = {f.version_id for f in files if f.version_id is not None}
            judge = Judge(ledger_facts(session, roots, versions))
            judged = {v: judge.judge(v) for v in versions}
            refs = queries.asset_refs(session, roots, versions)
            consents = _consents_by_performer(session)
            manifest = store_deliverables.recorded_manifest(session, info)
            payload = json.loads(
                session.execute(select(Event.payload).where(Event.id == info.event_id)).scalar_one()
            )
        document, problem = read_recorded_manifest(manifest)
        findings = [
            Finding(w.rule, Severity.WARN, w.asset, (), w.message, w.fix or "")
            for w in manifest_warnings(document)
        ]
        rows, loose = build_rows(files, home, refs, judged, judge.ledger.tools, findings, consents)
        recorded_policy = (document or {}).get("policy", {})
        changes = payload.get("policy_changes", recorded_policy.get("changes", {}))
        return DeliveryReport(
            title=info.name,
            name=info.name,
            source=info.source_name,
            kind=info.kind or "folder",
            verdict="FINALIZED",
            policy=PolicyInfo(
                info.policy,
                info.policy_digest,
                str(recorded_policy.get("source", "built-in" if not changes else "custom")),
                dict(changes),
            ),
            checkpoint=Checkpoint(
                info.event_id, info.event_hash, (document or {}).get("checkpoint")
            ),
            rows=rows,
            loose=loose,
            files=len(files),
            made_at=dt.datetime.now(dt.timezone.utc),
            finalized_at=info.at,
            warnings_problem=problem if info.warnings else None,
            counts=_origin_counts(rows),
            workspace=display_path(self.workspace),
        )

    def _swept_report(
        self, target: str, policy: Policy, workers: int | None, progress: Progress | None
    ) -> DeliveryReport:
        from provenance.detect.trust import configured_anchors
        from provenance.fingerprint import Hasher
        from provenance.obligations import ToolFacts
        from provenance.policy import Severity
        from provenance.report.delivery import DeliveredFile, build_rows, policy_info
        from provenance.report.model import Checkpoint, DeliveryReport

        source = self._absolute(target)
        configured_anchors()
        with Hasher(workers) as hasher:
            check = self._check_unlocked(source, policy, hasher, progress)
        delivery = check.delivery
        group_of = {
            f.path: delivery.asset_patterns[number]
            for number, (start, stop) in enumerate(delivery.asset_spans)
            for f in delivery.files[start:stop]
        }
        files = [
            DeliveredFile(
                e.path,
                e.digest,
                e.size,
                e.resolution.recorded_as,
                e.resolution.frame,
                group_of.get(e.path, e.path),
            )
            for e in check.entries
        ]
        versions = {f.version_id for f in files if f.version_id is not None}
        with read_session(self.engine) as session:
            roots = self._roots_for_reading(session)
            refs = queries.asset_refs(session, roots, versions)
            tools = {
                t.id: ToolFacts(t.name, t.generative, t.trains_on_inputs, t.secured)
                for t in session.execute(select(Tool)).scalars()
            }
            consents = _consents_by_performer(session)
            last = session.execute(select(Event.id, Event.hash).order_by(Event.id.desc())).first()
        verdict = check.verdict
        findings = [f for f in verdict.findings if f.severity is not Severity.OFF]
        rows, loose = build_rows(
            files, delivery.home, refs, verdict.judged, tools, findings, consents
        )
        state = "BLOCKED" if verdict.blocked else "WARNINGS" if findings else "CLEAN"
        return DeliveryReport(
            title=display_path(source),
            name=None,
            source=display_path(source),
            kind=delivery.kind.value,
            verdict=state,
            policy=policy_info(policy),
            checkpoint=Checkpoint(last[0], last[1]) if last else Checkpoint(0, ""),
            rows=rows,
            loose=loose,
            files=check.file_count,
            made_at=dt.datetime.now(dt.timezone.utc),
            counts=_origin_counts(rows),
            workspace=display_path(self.workspace),
        )

    def prov_document(
        self, target: str | None = None, deliverable: str | None = None
    ) -> ProvDocument:
        """The ledger's facts as a W3C PROV document (`interchange.w3c_prov`): the whole ledger;
        or `target` (an asset: every version of it; a digest: that version) with what it was
        made from and the deliverables that hold it; or the finalized `deliverable` with
        everything in what it delivered."""
        from provenance.interchange.w3c_prov import prov_document
        from provenance.store import deliverables as store_deliverables
        from provenance.store.exports import export_facts

        if target is not None and deliverable is not None:
            raise ProvenanceError("Export a TARGET or a --deliverable, not both.")
        with read_session(self.engine) as session:
            roots = self._roots_for_reading(session)
            if deliverable is not None:
                if store_deliverables.finalized_named(session, roots, deliverable) is None:
                    raise _no_deliverable(session, deliverable)
                facts = export_facts(session, roots, deliverables=[deliverable])
            elif target is not None:
                roots = self._read_roots(session, target)
                versions = self._target_versions(session, roots, target)
                facts = export_facts(session, roots, versions=versions)
            else:
                facts = export_facts(session, roots)
        return prov_document(facts)

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
        from provenance.digests import digest_files
        from provenance.fingerprint import Hasher, hash_file
        from provenance.interchange import mhl
        from provenance.store import deliverables as store_deliverables

        formats = mhl.hash_formats(hashes)
        with read_session(self.engine) as session:
            info = store_deliverables.finalized_named(
                session, self._roots_for_reading(session), name
            )
            if info is None:
                raise _no_deliverable(session, name)
            recorded = {
                path: digest
                for path, digest in session.execute(
                    select(DeliverableFile.path, DeliverableFile.digest)
                    .join(Deliverable, Deliverable.id == DeliverableFile.deliverable_id)
                    .where(Deliverable.name == name)
                )
            }
            manifest = store_deliverables.recorded_manifest(session, info)
        home = info.source if info.kind == "folder" else os.path.dirname(info.source)
        if manifest is not None:
            recorded[os.path.relpath(manifest.path, home)] = manifest.digest
        empty: list[str] = []
        if info.kind == "folder":
            on_disk, empty = mhl_listing(home)
            extra = sorted(on_disk - recorded.keys())
            if extra:
                shown = ", ".join(display_path(p) for p in extra[:5])
                raise ProvenanceError(
                    f"{display_path(home)} holds files that {name} did not deliver ({shown}"
                    f"{', ...' if len(extra) > 5 else ''}): `provenance verify {name}` says "
                    "what changed. Nothing was written."
                )
        for path in recorded:
            try:
                path.decode("utf-8")
            except UnicodeDecodeError:
                raise ProvenanceError(
                    f"{display_path(path)} is not a UTF-8 name, which an ASC MHL cannot list."
                ) from None
        paths = sorted(recorded)
        algorithms = ["xxh3-128", *(mhl.MHL_ALGORITHMS[f] for f in formats)]
        with Hasher(workers) as hasher:
            read = digest_files(
                hasher,
                [os.path.join(home, p) for p in paths],
                algorithms,
                None if progress is None else lambda files, size: progress(files, size, size),
            )
        changed = [
            display_path(path)
            for path, found in zip(paths, read, strict=True)
            if found.digests is None or found.tagged("xxh3-128") != recorded[path]
        ]
        if changed:
            raise ProvenanceError(
                f"{len(changed)} file(s) of {name} are missing or changed since it was finalized "
                f"({', '.join(changed[:5])}{', ...' if len(changed) > 5 else ''}): "
                f"`provenance verify {name}` says what changed. Nothing was written."
            )
        entries = []
        for path, found in zip(paths, read, strict=True):
            assert found.digests is not None and found.stat is not None
            entries.append(
                mhl.FileEntry(
                    path.decode("utf-8"),
                    found.stat.size,
                    dt.datetime.fromtimestamp(found.stat.mtime_ns / 1e9, dt.timezone.utc),
                    {f: found.digests[mhl.MHL_ALGORITHMS[f]] for f in formats},
                )
            )
        folder = None if out is None else os.path.join(self._absolute(out), b"ascmhl")
        generation, number = mhl.write_generation(
            home,
            entries,
            formats,
            comment=f"finalized deliverable {name} (ledger event #{info.event_id}, "
            f"{info.event_hash})",
            tool_version=__version__,
            author=current_actor(),
            folder=folder,
            empty=empty,
        )
        # The history's bytes are recorded: `verify` then knows them from files added later.
        written = [generation, os.path.join(os.path.dirname(generation), mhl.CHAIN_FILE.encode())]
        payload = {
            "name": name,
            "generation": number,
            "hashes": list(formats),
            "files": [
                {"path": display_path(path), "digest": hash_file(path).digest} for path in written
            ],
        }
        with (
            write_session(self.engine) as session,
            unit_of_work_event(session, queries.MHL_EVENT, payload),
        ):
            pass
        return mhl.Written(generation, number, len(entries), sum(e.size for e in entries), formats)

    # -- reading -------------------------------------------------------------------------------

    def show(self, target: PathArg) -> AssetCard:
        """The card of an asset version, with the finalized deliverables that hold it. A path
        the ledger does not record (a delivered copy) is read and found by its bytes:
        `card.read_as` says so and names every holder."""
        from provenance.store import deliverables as store_deliverables

        target = as_target(target)
        with read_session(self.engine) as session:
            roots = self._read_roots(session, target)
            resolved, read_as = self._resolve(session, roots, target)
            card = self._card(session, roots, resolved)
            held = store_deliverables.holdings(session, roots, [resolved.version_id])
            return replace(
                card,
                deliverables=store_deliverables.delivered_in(session, roots, held),
                read_as=read_as,
            )

    def deliverables(self, contains: str | None = None) -> list[DeliverableListing]:
        """Every finalized deliverable and every refused finalize, oldest first; with
        `contains`, the finalized deliverables that hold that asset's material (any of its
        versions; a digest names one version), itself or inside what they deliver, with how."""
        from provenance.store import deliverables as store_deliverables

        with read_session(self.engine) as session:
            if contains is None:
                return [
                    DeliverableListing(info)
                    for info in store_deliverables.deliverable_infos(
                        session, self._roots_for_reading(session)
                    )
                ]
            roots = self._read_roots(session, contains)
            versions = self._target_versions(session, roots, contains)
            held = store_deliverables.delivered_in(
                session, roots, store_deliverables.holdings(session, roots, versions)
            )
            listings: dict[str, DeliverableListing] = {}
            for item in held:
                name = item.deliverable.name
                listing = listings.setdefault(name, DeliverableListing(item.deliverable))
                listing.holds.append(item)
            return list(listings.values())

    def _target_versions(self, session: Session, roots: queries.RootMap, target: str) -> list[int]:
        """The versions a target stands for: one version for a digest, every version of the
        asset for a path (a pattern, or a frame of it)."""
        resolved = queries.resolve_target(session, roots, target, self.cwd)
        if queries.DIGEST_PREFIX.match(target.strip()):
            return [resolved.version_id]
        asset_id = session.execute(
            select(AssetVersion.asset_id).where(AssetVersion.id == resolved.version_id)
        ).scalar_one()
        return list(
            session.execute(
                select(AssetVersion.id)
                .where(AssetVersion.asset_id == asset_id)
                .order_by(AssetVersion.number)
            ).scalars()
        )

    def lineage(
        self, target: PathArg, up: bool = True, depth: int = DEFAULT_LINEAGE_DEPTH
    ) -> LineageNode:
        """The tree of what `target` was made from (`up`) or everything made from it."""
        from provenance.store import deliverables as store_deliverables

        target = as_target(target)
        if depth < 1:
            raise ProvenanceError(f"The lineage depth must be at least 1, not {depth}.")
        with read_session(self.engine) as session:
            roots = self._read_roots(session, target)
            resolved, read_as = self._resolve(session, roots, target)
            start = resolved.version_id
            edges = queries.lineage_edges(session, start, up=up, max_depth=depth)
            refs = queries.asset_refs(
                session, roots, [start, *(e.parent_id for e in edges), *(e.child_id for e in edges)]
            )
            delivered: dict[int, list[DeliveredIn]] = {}
            if not up:
                # Going down ends in the deliverables: each version that was delivered as it
                # is (or as an exact copy or a derivative of it) lists them.
                held = [
                    h
                    for h in store_deliverables.holdings(session, roots, refs)
                    if store_deliverables.as_delivered(h.path)
                ]
                for item in store_deliverables.delivered_in(session, roots, held):
                    delivered.setdefault(item.version.version_id, []).append(item)
            return replace(_lineage_tree(start, edges, refs, up, delivered), read_as=read_as)

    def history(self, target: PathArg) -> History:
        """Every event that touched the asset: versions, claims and lineage, oldest first."""
        from provenance.store import deliverables as store_deliverables

        target = as_target(target)
        with read_session(self.engine) as session:
            roots = self._read_roots(session, target)
            resolved, read_as = self._resolve(session, roots, target)
            asset_id = session.execute(
                select(AssetVersion.asset_id).where(AssetVersion.id == resolved.version_id)
            ).scalar_one()
            entries = _history(session, roots, asset_id)
            versions = session.execute(
                select(AssetVersion.id).where(AssetVersion.asset_id == asset_id)
            ).scalars()
            held = store_deliverables.holdings(session, roots, versions)
            entries += _finalize_history(store_deliverables.delivered_in(session, roots, held))
            found = History(sorted(entries, key=lambda e: e.event_id))
            found.read_as = read_as
            return found

    def _resolve(
        self, session: Session, roots: queries.RootMap, target: str
    ) -> tuple[queries.Resolved, ReadAs | None]:
        """What a target names; a file the ledger does not record at its path is read and found
        by its bytes (identical bytes are one content, wherever they are)."""
        try:
            return queries.resolve_target(session, roots, target, self.cwd), None
        except TargetNotFound:
            from provenance.fingerprint import hash_file

            path = roots.localize(target, self.cwd)
            if looks_like_pattern(target) or not os.path.isfile(path) or os.path.islink(path):
                raise
            read = hash_file(path)
            holders = queries.holders_of(session, read.digest) if read.digest else []
            if read.digest is None or not holders:
                raise TargetNotFound(
                    f"{target!r} is not in the ledger, and no recorded asset holds its bytes "
                    f"({read.digest or 'unreadable'}). Record it first with "
                    f"`provenance ingest {target} --origin ...`."
                ) from None
            refs = queries.asset_refs(session, roots, [v for v, _ in holders])
            read_as = ReadAs(
                display_path(path), read.digest, [(refs[v], frame) for v, frame in holders]
            )
            return queries.Resolved(*holders[0]), read_as

    # -- helpers -------------------------------------------------------------------------------

    def _local(self, *paths: PathArg) -> list[bytes]:
        """Paths as given (relative to `cwd`, absolute, or spelled for another mount or
        platform) as the absolute paths to read on this machine."""
        with read_session(self.engine) as session:
            roots = self._roots_for_reading(session)
        return [roots.localize(as_bytes(path), self.cwd) for path in paths]

    def _absolute(self, path: PathArg) -> bytes:
        return os.path.normpath(os.path.join(self.cwd, as_bytes(path)))

    def _read_roots(self, session: Session, target: str) -> queries.RootMap:
        roots = queries.find_roots(session, self.workspace)
        if roots is None:
            raise TargetNotFound(
                f"{target!r} is not in the ledger: nothing has been ingested yet. "
                f"Record it first with `provenance ingest {target}`."
            )
        return roots

    def _claim_spec(
        self,
        session: Session,
        origin_text: str,
        tool_text: str | None,
        by: str | None,
        note: str | None,
        resolves: bool = False,
    ) -> ClaimSpec:
        from provenance.store.claims import ClaimSpec

        origin = parse_origin(origin_text)
        tool_id: int | None = None
        version: str | None = None
        if tool_text:
            name, version = split_tool(tool_text)
            tool_row = session.execute(select(Tool).where(Tool.key == name.casefold())).scalar()
            if origin.generative:
                if tool_row is None:
                    raise UnknownTool(_unknown_tool_message(session, name, origin))
                if not tool_row.generative:
                    raise UnknownTool(
                        f"{tool_row.name!r} is registered as not generative, but origin "
                        f"{origin.alias} says a generative model made this. If the tool is "
                        f"generative, run `provenance tools set {tool_row.name!r} --generative`."
                    )
            elif tool_row is None:
                tool_row = _insert_tool(
                    session, name, None, False, Tristate.UNKNOWN, Tristate.UNKNOWN
                )
            elif tool_row.generative and origin is not Origin.UNKNOWN:
                raise ProvenanceError(
                    f"{tool_row.name!r} is a generative tool, but origin {origin.alias!r} says no "
                    "generative model was used. Use --origin ai (generated) or ai-composite "
                    "(generated elements in human work)."
                )
            tool_id = tool_row.id
        elif origin.generative:
            raise UnknownTool(
                f"Origin {origin.alias} needs --tool naming the generative tool that made it "
                '(register it first: `provenance tools add "NAME" --generative`).'
            )
        return ClaimSpec(
            origin=origin,
            tool_id=tool_id,
            tool_version=version,
            claimed_by=by or current_actor(),
            evidence=Evidence.DECLARED,
            note=note,
            resolves=resolves,
        )

    def _parent_specs(
        self,
        session: Session,
        roots: queries.RootMap,
        contains: Iterable[str],
        references: Iterable[str],
    ) -> list[ParentSpec]:
        from provenance.store.claims import ParentSpec

        specs: list[ParentSpec] = []
        for kind, texts in ((EdgeKind.CONTAINS, contains), (EdgeKind.REFERENCES, references)):
            for text in texts:
                try:
                    resolved = queries.resolve_target(session, roots, text, self.cwd)
                except TargetNotFound:
                    raise TargetNotFound(
                        f"The parent {text!r} is not in the ledger. Ingest it first "
                        f"(`provenance ingest {text}`), then record the lineage."
                    ) from None
                specs.append(ParentSpec(resolved.version_id, kind))
        return specs

    def _card(
        self, session: Session, roots: queries.RootMap, resolved: queries.Resolved
    ) -> AssetCard:
        from provenance.store.status import version_statuses

        version_id = resolved.version_id
        ref = queries.asset_refs(session, roots, [version_id])[version_id]
        version = session.execute(
            select(AssetVersion).where(AssetVersion.id == version_id)
        ).scalar_one()
        versions = session.execute(
            select(func.count())
            .select_from(AssetVersion)
            .where(AssetVersion.asset_id == ref.asset_id)
        ).scalar_one()
        claims = _claims(session, version_id)
        summary = summarize_claims([ClaimFacts(c.origin, c.resolves) for c in claims])
        frames = [
            f
            for f in session.execute(
                select(Member.frame)
                .where(Member.version_id == version_id, Member.frame.is_not(None))
                .order_by(Member.position)
            ).scalars()
            if f is not None
        ]
        frame_digest = None
        if resolved.frame is not None:
            frame_digest = session.execute(
                select(Content.digest)
                .join(Member, Member.content_id == Content.id)
                .where(Member.version_id == version_id, Member.frame == resolved.frame)
            ).scalar()
        # A single file's own digest is what `xxhsum -H2` prints; the version's digest is the
        # aggregate of its members (one here), which is what approvals are bound to.
        file_digest = None
        if ref.kind == "file" and version.member_count == 1:
            file_digest = session.execute(
                select(Content.digest)
                .join(Member, Member.content_id == Content.id)
                .where(Member.version_id == version_id)
            ).scalar()
        performers = list(
            session.execute(
                select(Likeness.performer)
                .where(Likeness.version_id == version_id)
                .order_by(Likeness.performer_key)
            ).scalars()
        )
        consents = {
            key: [
                ConsentInfo(c.performer, c.scope, c.ref, c.recorded_by, c.created_at) for c in rows
            ]
            for key, rows in _consents_by_key(session, [p.casefold() for p in performers]).items()
        }
        parents, children = queries.direct_links(session, version_id)
        linked = queries.asset_refs(session, roots, [v for _, v in parents + children])
        return AssetCard(
            asset=ref,
            versions=int(versions),
            status=version_statuses(session.connection(), [version_id])[version_id].value,
            origin=summary.origin,
            disputed=summary.disputed,
            differs=summary.differs,
            generative=summary.generative,
            claims=claims,
            member_count=version.member_count,
            total_size=version.total_size,
            frames=frames,
            holes=missing_frames(frames) if ref.kind == "sequence" else [],
            parents=[LineageLink(k, linked[v]) for k, v in parents],
            children=[LineageLink(k, linked[v]) for k, v in children],
            frame=resolved.frame,
            frame_digest=frame_digest,
            file_digest=file_digest,
            likeness=[(p, consents.get(p.casefold(), [])) for p in performers],
            created_at=version.created_at,
            signals=signals_by_version(session, [version_id]).get(version_id, []),
        )


# ---------------------------------------------------------------------------------------------


def _signing_chain(session: Session, signer: SigningKey, trail: AuditReport) -> ChainState:
    """The chain a checkpoint by `signer` signs: the audited one, after pinning `signer` as the
    ledger's first key when it trusts none yet (in the caller's write transaction; a key made
    for it is saved then, before the commit)."""
    from provenance.keys import require_key_change

    assert trail.chain is not None
    if trail.keys.pinned:
        require_key_change(trail.keys, signer.public)  # the keys may have changed since
        return trail.chain
    require_key_change(trail.keys, signer.public, trust=[signer.public])
    change = _append_key_change(session, signer.key, "key.trust", [signer.public], [])
    signer.save()
    return trail.chain.appended(change.event_hash)


def _append_key_change(
    session: Session,
    signer: Ed25519PrivateKey,
    kind: str,
    trust: Sequence[str],
    retire: Sequence[str],
) -> KeyChange:
    """Append a key event signed by `signer` (checked by the caller), in its write transaction."""
    from provenance.keys import KeyChange, key_change_payload

    first, last = (
        session.execute(select(Event.hash).order_by(order).limit(1)).scalar_one()
        for order in (Event.id, Event.id.desc())
    )
    payload = key_change_payload(signer, first, last, kind, trust, retire)
    with unit_of_work_event(session, kind, payload) as unit:
        pass
    assert unit.hash is not None
    return KeyChange(
        kind, unit.event_id, unit.hash, list(trust), list(retire), payload["signed_by"]
    )


def _change_signer(key: Path | None) -> Ed25519PrivateKey:
    """The private key that signs a key change: it must exist (none is created for this)."""
    from provenance.keys import configured_key_path, read_private_key

    path = configured_key_path(key)
    if not path.exists():
        raise CheckpointKeyMissing(
            f"No private key at {path}. A change of the trusted keys is signed by a key the "
            "ledger trusts already (or, for the first, by the key itself): give its path with "
            "--key."
        )
    return read_private_key(path)


def _sweep_report(
    check: DeliveryCheck,
    name: str | None = None,
    finalized: bool = False,
    manifest: bytes | None = None,
    event_id: int | None = None,
    event_hash: str | None = None,
    removed: list[bytes] | None = None,
) -> SweepReport:
    return SweepReport(
        delivery_kind=check.delivery.kind.value,
        source=check.delivery.source,
        verdict=check.verdict,
        files=check.file_count,
        assets=check.verdict.assets,
        files_read=check.files_read,
        bytes_read=check.bytes_read,
        files_cached=check.files_cached,
        seconds=check.seconds,
        ignored_rows=check.delivery.ignored_rows,
        name=name,
        finalized=finalized,
        manifest=manifest,
        event_id=event_id,
        event_hash=event_hash,
        leftovers=[f.path for f in check.delivery.leftovers] if removed is None else removed,
        leftovers_removed=removed is not None,
    )


_VERSION_SUFFIX = re.compile(r"^(?P<stem>.*?[_.-]?v)(?P<number>\d+)$", re.IGNORECASE)


def disputes(
    session: Session, roots: queries.RootMap, claimed: Iterable[int], holding: Iterable[int]
) -> list[DisputeNote]:
    """Of these versions, the ones whose origin is disputed, with what each side says (what an
    artist must be told at ingest: the delivery will block until a TD settles it): the
    `claimed` ones whose claims disagree (a claims query), and the ones `holding` bytes the
    ledger held before, whose bytes may be recorded as generated."""
    from provenance.obligations import Judge
    from provenance.store.facts import ledger_facts, origin_summaries

    summaries = origin_summaries(session, claimed)
    wanted = sorted({v for v, s in summaries.items() if s.disputed} | set(holding))
    if not wanted:
        return []
    judge = Judge(ledger_facts(session, roots, wanted))
    notes = []
    for version_id in wanted:
        judged = judge.judge(version_id)
        if not judged.disputed:
            continue
        notes.append(
            DisputeNote(
                asset=judged.version.name,
                version=judged.version.number,
                claimed=[o.alias for o in judged.summary.origins],
                files_say=list(judged.evidence),
                same_bytes_as=[
                    (d.holder.name, d.holder.number, d.origin.alias)
                    for d in judged.content_disputes
                ],
            )
        )
    return notes


def next_free_name(name: str, taken: Callable[[str], bool]) -> str:
    """The next version of a deliverable's name that is not `taken`: `EP103_VFX_v001` gives
    `EP103_VFX_v002` (padding kept), a name without a version gives `NAME_v002`."""
    match = _VERSION_SUFFIX.match(name)
    if match is None:
        stem, number, width = f"{name}_v", 1, 3
    else:
        stem, digits = match.group("stem"), match.group("number")
        number, width = int(digits), len(digits)
    while True:
        number += 1
        candidate = f"{stem}{number:0{width}d}"
        if not taken(candidate):
            return candidate


def _placed_here(roots: queries.RootMap) -> dict[str, Any]:
    """For an event's payload: the roots PROVENANCE_ROOT_MAP placed on this machine, if any (a
    farm node's say-so about where the show is belongs in the history it writes)."""
    placed = roots.overrides()
    return {"root_map": placed} if placed else {}


def _manifest_state(path: bytes, name: str, owners: dict[str, queries.ManifestOwner]) -> str:
    """What stands where deliverable `name`'s manifest belongs (see `VerifyReport`)."""
    from provenance.fingerprint import hash_file

    held = hash_file(path).digest if os.path.lexists(path) else None
    if held is None:
        return "missing"
    owner = owners.get(held)
    if owner is None:
        return "changed"  # (judged as a file of the delivery: `added`)
    if owner.name == name:
        return "present"
    ours = max((o.event_id for o in owners.values() if o.name == name), default=0)
    # A later finalize of the same delivery replaced it; an earlier one's means this one's
    # never reached its place (a finalize killed after its commit).
    return "later" if owner.event_id > ours else "earlier"


def _home(kind: DeliveryKind, source: bytes) -> bytes:
    """The folder a delivery's manifest goes to (see `deliveries.Delivery.home`)."""
    from provenance.deliveries import DeliveryKind

    return source if kind is DeliveryKind.FOLDER else os.path.dirname(source)


def _tristate(name: str, value: str) -> Tristate:
    try:
        return Tristate(value.lower())
    except ValueError:
        raise ProvenanceError(f"{name} is yes, no or unknown, not {value!r}.") from None


def _has_foreign_tables(session: Session) -> bool:
    return bool(table_names(session.connection()) - {"alembic_version"})


def _show(path: object) -> str:
    if isinstance(path, bytes):
        return display_path(path)
    return str(path)


def _insert_tool(
    session: Session,
    name: str,
    vendor: str | None,
    generative: bool,
    trains: Tristate,
    secured: Tristate,
) -> Tool:
    payload = {
        "tool": name,
        "vendor": vendor,
        "generative": generative,
        "trains_on_inputs": trains.value,
        "secured": secured.value,
    }
    with unit_of_work_event(session, "tool.add", payload) as unit:
        tool_id = session.execute(
            insert(Tool)
            .values(
                name=name,
                key=name.casefold(),
                vendor=vendor,
                generative=generative,
                trains_on_inputs=trains.value,
                secured=secured.value,
                created_at=unit.at,
                event_id=unit.event_id,
            )
            .returning(Tool.id)
        ).scalar_one()
    return session.execute(select(Tool).where(Tool.id == tool_id)).scalar_one()


def _find_tool(session: Session, name: str) -> Tool:
    tool = session.execute(select(Tool).where(Tool.key == name.casefold())).scalar()
    if tool is None:
        raise UnknownTool(_unknown_tool_message(session, name, None))
    return tool


def _unknown_tool_message(session: Session, name: str, origin: Origin | None) -> str:
    names = list(session.execute(select(Tool.name)).scalars())
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.4)
    close += [n for n in names if name.casefold() in n.casefold() and n not in close][:3]
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    need = (
        f" Origin {origin.alias} needs a registered generative tool." if origin is not None else ""
    )
    return (
        f"Unknown tool {name!r}.{hint}{need} Register it with "
        f'`provenance tools add "{name}" --vendor VENDOR --generative '
        "--trains-on-inputs yes|no|unknown --secured yes|no|unknown`."
    )


def _describe_tool(tool: Tool) -> str:
    kind = "generative" if tool.generative else "not generative"
    return (
        f"vendor {tool.vendor or '-'}, {kind}, trains on inputs: {tool.trains_on_inputs}, "
        f"secured: {tool.secured}"
    )


def _consents_by_key(session: Session, keys: Sequence[str]) -> dict[str, list[Consent]]:
    found: dict[str, list[Consent]] = {}
    if keys:
        for consent in session.execute(
            select(Consent).where(Consent.performer_key.in_(keys)).order_by(Consent.id)
        ).scalars():
            found.setdefault(consent.performer_key, []).append(consent)
    return found


def _claims(session: Session, version_id: int) -> list[ClaimInfo]:
    # A claim a file's own signal made names its tool even when nobody registered it.
    named = {
        (event_id, source): tool
        for event_id, source, tool in session.execute(
            select(SignalRecord.event_id, SignalRecord.source, SignalRecord.tool).where(
                SignalRecord.version_id == version_id, SignalRecord.tool.is_not(None)
            )
        )
    }
    rows = session.execute(
        select(Claim, Tool.name)
        .outerjoin(Tool, Tool.id == Claim.tool_id)
        .where(Claim.version_id == version_id)
        .order_by(Claim.id)
    )
    return [
        ClaimInfo(
            origin=Origin(claim.origin),
            tool=tool_name,
            unregistered_tool=(
                named.get((claim.event_id, claim.claimed_by)) if tool_name is None else None
            ),
            tool_version=claim.tool_version,
            claimed_by=claim.claimed_by,
            evidence=claim.evidence,
            note=claim.note,
            resolves=claim.resolves,
            at=claim.created_at,
            event_id=claim.event_id,
        )
        for claim, tool_name in rows
    ]


def _lineage_tree(
    start: int,
    edges: list[queries.Edge],
    refs: dict[int, AssetRef],
    up: bool,
    delivered: dict[int, list[DeliveredIn]] | None = None,
) -> LineageNode:
    following: dict[int, list[queries.Edge]] = {}
    for edge in edges:
        near = edge.child_id if up else edge.parent_id
        following.setdefault(near, []).append(edge)
    shown: set[int] = set()

    def build(version_id: int, kind: str | None, depth: int, trail: frozenset[int]) -> LineageNode:
        if version_id in shown:
            return LineageNode(refs[version_id], kind, depth, [], seen_before=True)
        shown.add(version_id)
        children = []
        for edge in following.get(version_id, []):
            far = edge.parent_id if up else edge.child_id
            if far in trail:
                continue
            children.append(build(far, edge.kind, depth + 1, trail | {far}))
        into = (delivered or {}).get(version_id, [])
        return LineageNode(refs[version_id], kind, depth, children, deliverables=into)

    return build(start, None, 0, frozenset({start}))


def _history(session: Session, roots: queries.RootMap, asset_id: int) -> list[HistoryEntry]:
    event_ids = queries.event_ids_for_asset(session, asset_id)
    if not event_ids:
        return []
    events = {
        e.id: e for e in session.execute(select(Event).where(Event.id.in_(event_ids))).scalars()
    }
    what: dict[int, list[str]] = {e: [] for e in event_ids}
    for number, digest, count, event_id in session.execute(
        select(
            AssetVersion.number,
            AssetVersion.digest,
            AssetVersion.member_count,
            AssetVersion.event_id,
        ).where(AssetVersion.asset_id == asset_id)
    ):
        files = "file" if count == 1 else "files"
        what[event_id].append(f"recorded version {number} ({count} {files}, {digest})")
    versions = select(AssetVersion.id).where(AssetVersion.asset_id == asset_id).scalar_subquery()
    for claim, tool_name, number in session.execute(
        select(Claim, Tool.name, AssetVersion.number)
        .outerjoin(Tool, Tool.id == Claim.tool_id)
        .join(AssetVersion, AssetVersion.id == Claim.version_id)
        .where(Claim.version_id.in_(versions))
        .order_by(Claim.id)
    ):
        origin = Origin(claim.origin)
        tool = (
            f" with {tool_name}{'@' + claim.tool_version if claim.tool_version else ''}"
            if tool_name
            else ""
        )
        verb = "resolved as" if claim.resolves else "claimed"
        note = f' ("{claim.note}")' if claim.note else ""
        what[claim.event_id].append(
            f"{claim.claimed_by} {verb} {origin.alias}{tool} on version {number} "
            f"[{claim.evidence}]{note}"
        )
    edge_rows = session.execute(
        select(LineageEdge).where(
            (LineageEdge.child_id.in_(versions)) | (LineageEdge.parent_id.in_(versions))
        )
    ).scalars()
    edges = list(edge_rows)
    refs = queries.asset_refs(
        session, roots, [e.child_id for e in edges] + [e.parent_id for e in edges]
    )
    for edge in edges:
        what[edge.event_id].append(
            f"{refs[edge.child_id].name} v{refs[edge.child_id].version} {edge.kind} "
            f"{refs[edge.parent_id].name} v{refs[edge.parent_id].version}"
        )
    for approval, number in session.execute(
        select(Approval, AssetVersion.number)
        .join(AssetVersion, AssetVersion.id == Approval.version_id)
        .where(Approval.version_id.in_(versions))
    ):
        scope = ", covering tool risk" if approval.covers_tool_risk else ""
        what[approval.event_id].append(
            f"approved version {number} ({approval.digest}) by {approval.approved_by}: "
            f"{approval.ref}{scope}"
        )
    for performer, number, event_id in session.execute(
        select(Likeness.performer, AssetVersion.number, Likeness.event_id)
        .join(AssetVersion, AssetVersion.id == Likeness.version_id)
        .where(Likeness.version_id.in_(versions))
    ):
        what[event_id].append(f"version {number} uses the likeness of {performer}")
    return [
        HistoryEntry(
            event_id=event_id,
            kind=events[event_id].kind,
            actor=events[event_id].actor,
            host=events[event_id].host,
            at=events[event_id].at,
            hash=events[event_id].hash,
            what="; ".join(what[event_id]),
        )
        for event_id in event_ids
    ]


@dataclasses.dataclass(frozen=True)
class _Roll:
    """A camera roll's ASC MHL history, and its files read for the history's other hashes."""

    history: MhlHistory
    readings: dict[str, FileDigests]
    """path (as the history names it) -> its digests, read for the history's other hashes."""
    detail: dict[str, Any]


def _record_roll(
    session: Session,
    roots: queries.RootMap,
    report: IngestReport,
    roll: _Roll,
    unit: UnitOfWork,
) -> MhlCheck:
    """Inside the ingest's unit of work: check the roll's recorded files against its history
    and claim `capture` for every asset version all of whose files match."""
    from provenance.interchange.mhl import compare
    from provenance.store.claims import ClaimSpec, add_claims

    history = roll.history
    root = history.root.rstrip(b"/")
    expected = history.expected()
    files, _ = mhl_listing(root)
    on_disk = [p.decode("utf-8", "surrogateescape") for p in files]
    recorded = _recorded_digests(
        session, roots, {p: os.path.join(root, os.fsencode(p)) for p in expected}
    )
    matched, findings = compare(history, recorded, roll.readings, on_disk)
    good = {recorded[p] for p in matched} - {recorded.get(f.path) for f in findings}
    versions = [ref.version_id for ref in report.assets]
    members: dict[int, set[str]] = {}
    for version_id, digest in session.execute(
        select(Member.version_id, Content.digest)
        .join(Content, Content.id == Member.content_id)
        .where(Member.version_id.in_(versions))
    ):
        members.setdefault(version_id, set()).add(digest)
    vouched = sorted(v for v, digests in members.items() if digests <= good)
    last = history.generations[-1]
    creator = last.creator
    claimant = ", ".join(creator.authors) or f"{creator.tool or 'ASC MHL'} on {creator.host}"
    claim = ClaimSpec(
        origin=Origin.DIGITAL_CAPTURE,
        tool_id=None,
        tool_version=None,
        claimed_by=f"{claimant} (ASC MHL)",
        evidence=Evidence.DECLARED,
        note=(
            f"ASC MHL {os.fsdecode(os.path.basename(last.file))}: {creator.describe()}; "
            f"{', '.join(history.formats)}"
        ),
        detail=json.dumps(roll.detail, sort_keys=True),
    )
    claimed = add_claims(session, vouched, claim, unit, skip_repeats=True) if vouched else []
    report.claims_added += len(claimed)
    return MhlCheck(
        history=os.path.dirname(last.file) if len(history.generations) > 1 else last.file,
        generations=len(history.generations),
        creator=creator.describe(),
        formats=history.formats,
        matched=len(matched),
        claimed=len(vouched),
        findings=tuple(findings),
    )


def _recorded_digests(
    session: Session, roots: queries.RootMap, paths: dict[str, bytes]
) -> dict[str, str | None]:
    """name -> the digest the ledger's stat cache recorded at that absolute path (None: none)."""
    by_root: dict[int, dict[bytes, str]] = {}
    for name, path in paths.items():
        root_id, relative = roots.split(path)
        by_root.setdefault(root_id, {})[relative] = name
    found: dict[str, str | None] = dict.fromkeys(paths)
    for root_id, names in by_root.items():
        for chunk in queries.chunked(sorted(names)):
            for relative, digest in session.execute(
                select(Location.path, Content.digest)
                .join(Content, Content.id == Location.content_id)
                .where(Location.root_id == root_id, Location.path.in_(chunk))
            ):
                found[names[relative]] = digest
    return found


def mhl_listing(root: bytes) -> tuple[set[bytes], list[str]]:
    """(every file under `root`, relative; the folders that hold none) outside its
    `ascmhl/` history: what an ASC MHL generation of the folder must list."""
    files: set[bytes] = set()
    empty: list[str] = []
    for folder, folders, names in os.walk(root):
        relative = os.path.relpath(folder, root)
        if relative == b".":
            folders[:] = [f for f in folders if f != b"ascmhl"]
            relative = b""
        for entry in names:
            files.add(os.path.join(relative, entry) if relative else entry)
        if relative and not names and not folders:
            empty.append(relative.decode("utf-8", "replace"))
    return files, empty


def _strong_findings(
    session: Session, check: DeliveryCheck, settled: dict[bytes, str], policy: Policy
) -> list[Finding]:
    """`approval-bytes-differ`: delivered versions whose bytes an approval's strong digest does
    not describe (`strong.approval_mismatches`)."""
    from provenance.store.exports import approval_strong_digests
    from provenance.strong import approval_mismatches

    delivered: dict[int, list[tuple[int | None, str]]] = {}
    for entry in check.entries:
        version_id = entry.resolution.recorded_as
        if version_id is not None:
            delivered.setdefault(version_id, []).append(
                (entry.resolution.frame, settled[entry.path])
            )
    versions = {v: judged.version for v, judged in check.judged.items()}
    return approval_mismatches(
        versions, delivered, approval_strong_digests(session, delivered), policy
    )


def _refuse_final_name(session: Session, name: str) -> None:
    """A finalize under a name already final is refused: its error names the next free one."""
    from provenance.finalizer import deliverable_exists

    if deliverable_exists(session, name):
        free = next_free_name(name, lambda n: deliverable_exists(session, n))
        raise ProvenanceError(
            f"A deliverable named {name!r} is already final. Give this one a new "
            f"version name (the next free one is {free!r}), or `provenance "
            f"verify {name}` the existing one (`provenance manifest write "
            f"{name}` writes its manifest and checkpoint again if they are missing)."
        )


def _settle_strong(
    session: Session,
    check: DeliveryCheck,
    strong_reading: StrongReading,
    policy: Policy,
    racy_window_ns: int,
) -> dict[bytes, str]:
    """The strong digest of each file of a finalize's check (path -> digest), from its strong
    reading; the approvals whose strong digests its bytes differ from go into the verdict."""
    from provenance.strong import settle_strong

    settled = settle_strong(
        strong_reading, [(e.path, e.digest) for e in check.entries], racy_window_ns
    )
    check.verdict.findings += _strong_findings(session, check, settled, policy)
    return settled


def _refusal_payload(
    name: str, source: bytes, policy: Policy, check: DeliveryCheck
) -> dict[str, Any]:
    """The `finalize.refused` event's payload: the rules that blocked the delivery."""
    return {
        "name": name,
        "delivery": display_path(source),
        "policy": policy.record_name,
        "policy_digest": policy.digest,
        "blocking": sorted({f.rule for f in check.verdict.findings if f.blocks}),
        "files": check.file_count,
    }


def _finalize_payload(
    name: str,
    source: bytes,
    policy: Policy,
    check: DeliveryCheck,
    roots: queries.RootMap,
    algorithm: str | None,
) -> dict[str, Any]:
    """The `finalize` event's payload: the policy it was judged by (a custom policy's changes
    whole), the roots placed on this machine, the strong digest's algorithm."""
    from provenance.policy import policy_changes

    payload = {
        "name": name,
        "delivery": display_path(source),
        "policy": policy.record_name,
        "policy_digest": policy.digest,
        "policy_changes": {r: s.value for r, s in policy_changes(policy).items()},
        "files": check.file_count,
        **_placed_here(roots),
    }
    if policy.custom:
        payload["policy_changes"] = policy.document()["changes"]
    if algorithm is not None:
        payload["strong"] = algorithm
    return payload


def _finalized_manifest(
    name: str,
    check: DeliveryCheck,
    unit: UnitOfWork,
    event_hash: str,
    checkpoint: dict[str, Any],
    algorithm: str | None,
    settled: dict[bytes, str],
) -> dict[str, Any]:
    """The manifest of a finalize (`unit`): its files, their strong digests, its checkpoint."""
    from provenance.finalizer import manifest_document
    from provenance.strong import add_strong_digests

    finalized_at = unit.at.isoformat()
    document = manifest_document(name, check, unit.event_id, event_hash, finalized_at)
    if algorithm is not None:
        add_strong_digests(document, check.delivery.home, algorithm, settled)
    document["checkpoint"] = checkpoint
    return document


def _keep_staged_manifest(
    session: Session, name: str, staged: StagedManifest, algorithm: str | None
) -> None:
    """Record a finalize's staged manifest, in its transaction. Its bytes are recorded: the one
    file a later sweep of this delivery may leave out (anything else at that name is judged
    like any other file); and kept, to be written again if it never reaches its place."""
    from provenance.strong import manifest_strong_digest

    written: dict[str, Any] = {
        "name": name,
        "path": display_path(staged.final),
        "digest": staged.digest,
        "size": staged.size,
    }
    if algorithm is not None:
        written["strong_digest"] = manifest_strong_digest(staged.temp, algorithm)
    with unit_of_work_event(session, MANIFEST_EVENT, written):
        keep_manifest(session, name, staged.body, staged.digest)


def _consents_by_performer(session: Session) -> dict[str, list[ConsentInfo]]:
    found: dict[str, list[ConsentInfo]] = {}
    for c in session.execute(select(Consent).order_by(Consent.id)).scalars():
        found.setdefault(c.performer_key, []).append(
            ConsentInfo(c.performer, c.scope, c.ref, c.recorded_by, c.created_at)
        )
    return found


def _origin_counts(rows: Sequence[ReportRow]) -> dict[str, int]:
    """Delivered assets by origin (`untracked`: files the ledger does not hold)."""
    counts: dict[str, int] = {}
    for row in rows:
        alias = row.origin.alias if row.origin is not None else "untracked"
        counts[alias] = counts.get(alias, 0) + 1
    return dict(sorted(counts.items(), key=lambda item: -item[1]))


def _no_deliverable(session: Session, name: str) -> TargetNotFound:
    from provenance.store import deliverables as store_deliverables

    known = store_deliverables.finalized_names(session)
    close = difflib.get_close_matches(name, known, n=3)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    return TargetNotFound(
        f"No finalized deliverable is named {name!r}.{hint} `provenance deliverables` lists them."
    )


def _neither_deliverable_nor_delivery(session: Session, target: str) -> TargetNotFound:
    """`report delivery` takes a deliverable's name or a delivery on disk: say both."""
    from provenance.store import deliverables as store_deliverables

    known = store_deliverables.finalized_names(session)
    close = difflib.get_close_matches(target, known, n=3)
    if close:
        named = f" Did you mean {', '.join(close)}?"
    elif known:
        named = " `provenance deliverables` lists the finalized ones."
    else:
        named = " No deliverable has been finalized yet."
    return TargetNotFound(
        f"{target!r} is neither a finalized deliverable nor a delivery on disk.{named} "
        "Or give a folder, a text file listing paths, a CSV pull list or an .otio timeline."
    )


def _finalize_history(held: list[DeliveredIn]) -> list[HistoryEntry]:
    """The finalize events of the deliverables that hold an asset's material, saying how."""
    by_event: dict[int, list[DeliveredIn]] = {}
    for item in held:
        by_event.setdefault(item.deliverable.event_id, []).append(item)
    entries = []
    for event_id, items in by_event.items():
        deliverable = items[0].deliverable
        holds = "; ".join(
            f"version {i.version.version} as {i.through.name} v{i.through.version}"
            if i.itself
            else f"version {i.version.version} in {i.through.name} v{i.through.version} ({i.how})"
            for i in items
        )
        entries.append(
            HistoryEntry(
                event_id=event_id,
                kind="finalize",
                actor=deliverable.actor,
                host=deliverable.host,
                at=deliverable.at,
                hash=deliverable.event_hash,
                what=f"finalized {deliverable.name} ({deliverable.files} files): delivers {holds}",
            )
        )
    return entries


# ---------------------------------------------------------------------------------------------
# Schema maintenance: work on ledgers whose schema is not current, so no Ledger is opened.


def _targets(values: Sequence[PathArg] | PathArg) -> list[str]:
    """Targets given as a list (one given on its own is taken as a list of one)."""
    if isinstance(values, (str, bytes, os.PathLike)):
        return [as_target(values)]
    return [as_target(value) for value in values]


@contextlib.contextmanager
def _os_errors(doing: str) -> Iterator[None]:
    """An OSError of the public API as a ProvenanceError saying what could not be done."""
    try:
        yield
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        raise ProvenanceError(
            f"Cannot {doing}: {exc.strerror or exc}{where}. Check the path and its permissions."
        ) from None


def _key_path(key: PathArg | None) -> Path | None:
    return as_path(key, "the checkpoint key") if key is not None else None


def _existing_engine(db: PathArg | None, cwd: PathArg | None) -> tuple[LedgerLocation, Engine]:
    location = locate_ledger(
        as_target(db, "db") if db is not None else None,
        as_path(cwd, "cwd") if cwd is not None else None,
    )
    path = location.sqlite_path
    if path is not None and not path.exists():
        raise LedgerNotFound(f"No ledger at {path}. Create it with `provenance --db {path} init`.")
    return location, create_ledger_engine(location)


def schema_status(
    db: PathArg | None = None, cwd: PathArg | None = None
) -> tuple[str, schema.SchemaState]:
    """(display URL, schema state) of a ledger, current or not."""
    location, engine = _existing_engine(db, cwd)
    try:
        return location.display_url, schema.schema_state(engine)
    finally:
        engine.dispose()


def upgrade_ledger(
    db: PathArg | None = None, cwd: PathArg | None = None, revision: str = "head"
) -> tuple[str, schema.SchemaState, schema.SchemaState]:
    """Upgrade a ledger's schema in one transaction: (display URL, before, after)."""
    location, engine = _existing_engine(db, cwd)
    try:
        before = schema.schema_state(engine)
        if before.current is None:
            raise NotALedger(
                f"{location.display_url} is not a provenance ledger. Create one with "
                "`provenance init`."
            )
        return location.display_url, before, schema.upgrade(engine, revision)
    finally:
        engine.dispose()


def create_db_roles(
    db: PathArg | None = None, cwd: PathArg | None = None
) -> tuple[str, RolesReport]:
    """Create the artist, TD and auditor group roles on a PostgreSQL ledger: (display URL, report)."""
    from provenance.store.roles import create_roles

    location, engine = _existing_engine(db, cwd)
    try:
        schema.require_current(engine, location.display_url)
        with translate_db_errors(engine):
            return location.display_url, create_roles(engine)
    except LedgerReadOnly as exc:
        raise ProvenanceError(
            f"Cannot create the roles ({str(exc).split('(', 1)[-1].split(')')[0]}). Run "
            "`provenance db roles` as the ledger's owner with the CREATEROLE privilege (or as a "
            "superuser)."
        ) from None
    finally:
        engine.dispose()

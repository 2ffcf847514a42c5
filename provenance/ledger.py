"""The Ledger facade: one unit of work per call, used by the CLI and by DCC publish hooks alike."""

from __future__ import annotations

import contextlib
import difflib
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from provenance.errors import (
    AuditFailed,
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
from provenance.records import (
    ApprovalInfo,
    AssetCard,
    AssetRef,
    ClaimInfo,
    ConsentInfo,
    DisclosureEntry,
    FileChange,
    HistoryEntry,
    IngestReport,
    LineageLink,
    LineageNode,
    ReprintReport,
    SceneLineage,
    SweepReport,
    ToolInfo,
    VerifyReport,
    display_path,
)
from provenance.scan import RACY_WINDOW_NS, looks_like_pattern, missing_frames
from provenance.store import queries, schema
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
from provenance.store.events import current_actor, unit_of_work_event
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
    Member,
    Tool,
    Tristate,
)
from provenance.store.queries import MANIFEST_EVENT
from provenance.store.signals import signals_by_version

# What reading the ledger (show, history, lineage: a command per file in publish hooks) does
# not need is imported by the methods that need it: hashing and its worker pools, the
# ingester, the finalizer, scene readers, the audit's signatures (cryptography) and the roles.
if TYPE_CHECKING:
    from provenance.audit import AuditReport
    from provenance.farm import Readings
    from provenance.finalizer import DeliveryCheck
    from provenance.fingerprint import Hasher
    from provenance.ingest import CacheRefresh, ClaimSpec, ParentSpec, Progress
    from provenance.policy import Policy
    from provenance.scenes import SceneRead
    from provenance.store.roles import RolesReport

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
        cwd: Path | None = None,
        racy_window_ns: int = RACY_WINDOW_NS,
    ) -> None:
        self.location = location
        self.engine = engine
        self.cwd = os.fsencode(os.path.abspath(cwd or Path.cwd()))
        self.racy_window_ns = racy_window_ns
        """How close to its recording a file's change must be for the stat cache to distrust it."""

    # -- opening -------------------------------------------------------------------------------

    @classmethod
    def open(
        cls, db: str | None = None, cwd: Path | None = None, racy_window_ns: int = RACY_WINDOW_NS
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
        cls, db: str | None = None, cwd: Path | None = None, racy_window_ns: int = RACY_WINDOW_NS
    ) -> Ledger:
        """Create a ledger (`db`, else `.provenance/ledger.db` in `cwd`), or open the one there."""
        folder = Path(cwd or Path.cwd())
        if db is None:
            db = (
                os.environ.get("PROVENANCE_DB")
                or os.environ.get("DATABASE_URL")
                or str(folder / LEDGER_DIR / LEDGER_FILE)
            )
        location = parse_ledger_url(db)
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
        paths: Sequence[str | os.PathLike[str] | bytes],
        origin: str | None = None,
        tool: str | None = None,
        by: str | None = None,
        contains: Sequence[str] = (),
        references: Sequence[str] = (),
        note: str | None = None,
        workers: int | None = None,
        progress: Progress | None = None,
        likeness: Sequence[str] = (),
        scene: str | os.PathLike[str] | bytes | None = None,
        allow_unresolved: bool = False,
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

        The whole run is one transaction and one event: it completes, or the ledger is as before.
        Files that cannot be read are left out and listed in the report (`report.ok` is False).

        `readings` (path -> (digest, stat, when the reading began)) are files read elsewhere, by
        a farm's shards (`provenance.farm`): they are recorded in the stat cache first, in the
        same transaction, so that only files changed since are read here.
        """
        from provenance.detect.trust import configured_anchors
        from provenance.fingerprint import Hasher
        from provenance.ingest import Ingester, add_likeness
        from provenance.scene_lineage import check_scene, plan_lineage, record_lineage
        from provenance.scenes import read_scene
        from provenance.store.seals import intent_digest

        if not paths:
            raise ProvenanceError("Nothing to ingest: name at least one file, folder or sequence.")
        targets = [self._absolute(p) for p in paths]
        for text, target in zip(paths, targets, strict=True):
            if not os.path.lexists(target) and not looks_like_pattern(os.fsdecode(target)):
                raise TargetNotFound(
                    f"{_show(text)!r} does not exist. Check the path (relative paths are read "
                    "from the current folder); give a sequence as name.####.ext."
                )
        configured_anchors()  # a trust list that cannot be used is an error now, not mid-run
        read = None
        if scene is not None:
            read = read_scene(self._absolute(scene))  # parsed before the write lock is taken
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
            }
            if readings:
                Ingester(
                    session, roots, None, hasher, racy_window_ns=self.racy_window_ns, detect=False
                ).record_readings(readings)
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
                if likeness:
                    add_likeness(session, [ref.version_id for ref in report.assets], likeness, unit)
            return report

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
        scene: str | os.PathLike[str] | bytes,
        workers: int | None = None,
    ) -> SceneLineage:
        """What `ingest --scene` would link for this scene, and how each input resolved.

        Records nothing (only the stat cache is refreshed, as a sweep does); inputs that would
        be recorded are listed with no version.
        """
        from provenance.fingerprint import Hasher
        from provenance.scene_lineage import lineage_report, plan_lineage
        from provenance.scenes import read_scene

        read = read_scene(self._absolute(scene))
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
        target: str,
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
        from provenance.ingest import add_claims, add_likeness

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
        self, child: str, contains: Sequence[str] = (), references: Sequence[str] = ()
    ) -> AssetCard:
        """Record what `child` was made from (`contains`) or only looked at (`references`)."""
        from provenance.ingest import add_edges

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
        target: str,
        ref: str,
        by: str,
        note: str | None = None,
        covers_tool_risk: bool = False,
    ) -> ApprovalInfo:
        """Record a written approval for exactly the asset's current bytes.

        `ref` names where the approval is on record (ticket, email); `by` who gave it. An
        approval does not carry over to a new version: changed bytes need a new approval.
        """
        from provenance.ingest import refresh_status

        if not ref.strip() or not by.strip():
            raise ProvenanceError(
                'An approval needs --ref (where it is on record, e.g. "NFX-1234 email '
                '2026-11-20") and --by (who gave it).'
            )
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
                refresh_status(session, resolved.version_id)
            return ApprovalInfo(asset, ref, by, note, covers_tool_risk, recorded_by, unit.at)

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
        delivery: str | os.PathLike[str] | bytes,
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

        source = self._absolute(delivery)
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
        return queries.find_roots(session, self.workspace) or queries.RootMap(
            self.workspace, -1, -2
        )

    def record_readings(self, readings: Readings) -> None:
        """Record files read elsewhere (a farm's shard: path -> (digest, stat, when the reading
        began)) in the stat cache, in one transaction. Only a cache: a finalize never trusts
        it."""
        from provenance.fingerprint import Hasher
        from provenance.ingest import Ingester

        with write_session(self.engine) as session, Hasher(1) as hasher:
            roots = queries.ensure_roots(session, self.workspace)
            Ingester(
                session, roots, None, hasher, racy_window_ns=self.racy_window_ns, detect=False
            ).record_readings(readings)

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
        delivery: str | os.PathLike[str] | bytes,
        name: str,
        policy: Policy | None = None,
        workers: int | None = None,
        progress: Progress | None = None,
        key: Path | None = None,
        checkpoints: Path | None = None,
        readings: Readings | None = None,
    ) -> SweepReport:
        """Mark a delivery final if nothing blocks; otherwise record only the refusal.

        The check and the mark happen in one transaction under the ledger's write lock, so a
        re-tag or approval made meanwhile cannot slip between them. On success the manifest
        (`provenance-manifest.json`) is written beside the delivery.

        `readings` are what this finalize's farm job read (`provenance.farm`): trusted as its
        own reading, in place of reading every byte here.
        """
        from provenance.audit import (
            audit,
            load_or_create_key,
            make_checkpoint,
            public_hex,
            write_checkpoint,
        )
        from provenance.detect.trust import configured_anchors
        from provenance.finalizer import (
            Reading,
            StagedManifest,
            check_delivery,
            deliverable_exists,
            manifest_document,
            read_every_file,
            record_cache,
            record_deliverable,
            stage_manifest,
        )
        from provenance.fingerprint import Hasher
        from provenance.ingest import CacheRefresh
        from provenance.policy import DEFAULT_POLICY

        name = name.strip()
        if not name:
            raise ProvenanceError("A deliverable needs --name (e.g. EP101_VFX_v003).")
        source = self._absolute(delivery)
        configured_anchors()
        signing_key, _ = load_or_create_key(key)
        folder = self.checkpoints_folder(checkpoints)
        staged: StagedManifest | None = None
        checkpoint: dict[str, Any] | None = None
        try:
            with Hasher(workers, yield_to_writer=False) as hasher:
                # Read every byte outside the lock, trusting no row of the ledger (a stat-cache
                # row is a cache any writer could forge). The locked check below trusts only
                # these readings, for files whose stat has not moved since, and reads the rest.
                if readings is not None:
                    reading = Reading(readings, CacheRefresh([], {}, time.time_ns()), 0, 0)
                    with contextlib.suppress(LedgerReadOnly):
                        self.record_readings(readings)
                else:
                    with read_session(self.engine) as session:
                        reading = read_every_file(
                            session, self._roots_for_reading(session), source, hasher,
                            self.racy_window_ns, progress,
                        )  # fmt: skip
                    self._refresh_cache(reading.refresh, hasher)
                with write_session(self.engine) as session:
                    trail = audit(session, folder, public_hex(signing_key.public_key()))
                    if not trail.ok:
                        raise AuditFailed(trail)
                    if deliverable_exists(session, name):
                        raise ProvenanceError(
                            f"A deliverable named {name!r} is already final. Give this one a new "
                            "version name (e.g. _v004), or `provenance verify` the existing one."
                        )
                    roots = queries.ensure_roots(session, self.workspace)
                    chosen = policy or DEFAULT_POLICY
                    check = check_delivery(
                        session, roots, source, chosen, hasher, self.racy_window_ns,
                        prior=reading.prior,
                    )  # fmt: skip
                    check.files_read += reading.files_read
                    check.bytes_read += reading.bytes_read
                    record_cache(session, roots, check.refresh, hasher, self.racy_window_ns)
                    verdict = check.verdict
                    if verdict.blocked or not check.file_count:
                        refusal = {
                            "name": name,
                            "delivery": display_path(source),
                            "policy": chosen.name,
                            "blocking": sorted({f.rule for f in verdict.findings if f.blocks}),
                            "files": check.file_count,
                        }
                        with unit_of_work_event(session, "finalize.refused", refusal) as refused:
                            pass
                        return _sweep_report(check, name=name, event_id=refused.event_id)
                    payload = {
                        "name": name,
                        "delivery": display_path(source),
                        "policy": chosen.name,
                        "policy_digest": chosen.digest,
                        "files": check.file_count,
                    }
                    with unit_of_work_event(session, "finalize", payload) as unit:
                        record_deliverable(session, name, check, unit)
                    event_id = unit.event_id
                    assert unit.hash is not None
                    event_hash = unit.hash
                    # The checkpoint of this moment (including the finalize event itself) travels
                    # in the manifest, so the deliverable can be checked against the log years on.
                    assert trail.chain is not None
                    checkpoint = make_checkpoint(trail.chain.appended(event_hash), signing_key)
                    finalized_at = unit.at.isoformat()
                    document = manifest_document(name, check, event_id, event_hash, finalized_at)
                    document["checkpoint"] = checkpoint
                    staged = stage_manifest(check.delivery, document)
                    # Its bytes are recorded: the one file a later sweep of this delivery may
                    # leave out (anything else at that name is judged like any other file).
                    written = {
                        "name": name,
                        "path": display_path(staged.final),
                        "digest": staged.digest,
                        "size": staged.size,
                    }
                    with unit_of_work_event(session, MANIFEST_EVENT, written):
                        pass
            staged_final = staged.final
            os.replace(staged.temp, staged_final)
            staged = None
            write_checkpoint(folder, checkpoint)
            return _sweep_report(
                check,
                name=name,
                finalized=True,
                manifest=staged_final,
                event_id=event_id,
                event_hash=event_hash,
            )
        finally:
            if staged is not None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(staged.temp)

    def verify(
        self,
        name: str,
        delivery: str | os.PathLike[str] | bytes | None = None,
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
            row = session.execute(select(Deliverable).where(Deliverable.name == name)).scalar()
            if row is None:
                known = list(session.execute(select(Deliverable.name)).scalars())
                close = difflib.get_close_matches(name, known, n=3)
                hint = f" Did you mean {', '.join(close)}?" if close else ""
                raise TargetNotFound(
                    f"No finalized deliverable is named {name!r}.{hint} "
                    "`provenance finalize DELIVERY --name NAME` records one."
                )
            source = self._absolute(delivery) if delivery is not None else row.source
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
        )

    # -- audit ---------------------------------------------------------------------------------

    def checkpoints_folder(self, folder: Path | None = None) -> Path:
        """Where checkpoints are kept: `folder`, else $PROVENANCE_CHECKPOINTS, else beside a SQLite
        ledger, else the user's data folder (named for the database)."""
        if folder is not None:
            return folder
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
        self, key: Path | None = None, folder: Path | None = None
    ) -> tuple[Path, dict[str, Any]]:
        """Sign the log's current size and Merkle root and keep it outside the database.

        Refused while the log does not verify: a checkpoint must never bless a tampered log.
        """
        from provenance.audit import (
            audit,
            load_or_create_key,
            make_checkpoint,
            public_hex,
            write_checkpoint,
        )

        signing_key, _ = load_or_create_key(key)
        where = self.checkpoints_folder(folder)
        with read_session(self._snapshot_engine()) as session:
            report = audit(session, where, public_hex(signing_key.public_key()))
            if not report.ok:
                raise AuditFailed(report)
        assert report.chain is not None
        document = make_checkpoint(report.chain, signing_key)
        return write_checkpoint(where, document), document

    def audit_verify(self, key: Path | None = None, folder: Path | None = None) -> AuditReport:
        """Recompute the chain and prove every stored checkpoint consistent with the log."""
        from provenance.audit import audit, trusted_public_key

        trusted = trusted_public_key(key)
        where = self.checkpoints_folder(folder)
        with read_session(self._snapshot_engine()) as session:
            return audit(session, where, trusted)

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

    # -- reading -------------------------------------------------------------------------------

    def show(self, target: str) -> AssetCard:
        with read_session(self.engine) as session:
            roots = self._read_roots(session, target)
            return self._card(
                session, roots, queries.resolve_target(session, roots, target, self.cwd)
            )

    def lineage(
        self, target: str, up: bool = True, depth: int = DEFAULT_LINEAGE_DEPTH
    ) -> LineageNode:
        """The tree of what `target` was made from (`up`) or everything made from it."""
        if depth < 1:
            raise ProvenanceError(f"The lineage depth must be at least 1, not {depth}.")
        with read_session(self.engine) as session:
            roots = self._read_roots(session, target)
            start = queries.resolve_target(session, roots, target, self.cwd).version_id
            edges = queries.lineage_edges(session, start, up=up, max_depth=depth)
            refs = queries.asset_refs(
                session, roots, [start, *(e.parent_id for e in edges), *(e.child_id for e in edges)]
            )
            return _lineage_tree(start, edges, refs, up)

    def history(self, target: str) -> list[HistoryEntry]:
        """Every event that touched the asset: versions, claims and lineage, oldest first."""
        with read_session(self.engine) as session:
            roots = self._read_roots(session, target)
            resolved = queries.resolve_target(session, roots, target, self.cwd)
            asset_id = session.execute(
                select(AssetVersion.asset_id).where(AssetVersion.id == resolved.version_id)
            ).scalar_one()
            return _history(session, roots, asset_id)

    # -- helpers -------------------------------------------------------------------------------

    def _absolute(self, path: str | os.PathLike[str] | bytes) -> bytes:
        raw = os.fsencode(path)
        return os.path.normpath(os.path.join(self.cwd, raw))

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
        from provenance.ingest import ClaimSpec

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
        from provenance.ingest import ParentSpec

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
        parents, children = queries.direct_links(session, version_id)
        linked = queries.asset_refs(session, roots, [v for _, v in parents + children])
        return AssetCard(
            asset=ref,
            versions=int(versions),
            status=version.status,
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
            created_at=version.created_at,
            signals=signals_by_version(session, [version_id]).get(version_id, []),
        )


# ---------------------------------------------------------------------------------------------


def _sweep_report(
    check: DeliveryCheck,
    name: str | None = None,
    finalized: bool = False,
    manifest: bytes | None = None,
    event_id: int | None = None,
    event_hash: str | None = None,
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
    )


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


def _claims(session: Session, version_id: int) -> list[ClaimInfo]:
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
    start: int, edges: list[queries.Edge], refs: dict[int, AssetRef], up: bool
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
        return LineageNode(refs[version_id], kind, depth, children)

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


__all__ = ["Ledger", "create_db_roles", "schema_status", "split_tool", "upgrade_ledger"]


# ---------------------------------------------------------------------------------------------
# Schema maintenance: work on ledgers whose schema is not current, so no Ledger is opened.


def _existing_engine(db: str | None, cwd: Path | None) -> tuple[LedgerLocation, Engine]:
    location = locate_ledger(db, cwd)
    path = location.sqlite_path
    if path is not None and not path.exists():
        raise LedgerNotFound(f"No ledger at {path}. Create it with `provenance --db {path} init`.")
    return location, create_ledger_engine(location)


def schema_status(db: str | None = None, cwd: Path | None = None) -> tuple[str, schema.SchemaState]:
    """(display URL, schema state) of a ledger, current or not."""
    location, engine = _existing_engine(db, cwd)
    try:
        return location.display_url, schema.schema_state(engine)
    finally:
        engine.dispose()


def upgrade_ledger(
    db: str | None = None, cwd: Path | None = None, revision: str = "head"
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


def create_db_roles(db: str | None = None, cwd: Path | None = None) -> tuple[str, RolesReport]:
    """Create the artist, TD and auditor group roles on a PostgreSQL ledger: (display URL, report)."""
    from provenance.store.roles import create_roles

    location, engine = _existing_engine(db, cwd)
    try:
        schema.require_current(engine, location.display_url)
        with translate_db_errors():
            return location.display_url, create_roles(engine)
    except LedgerReadOnly as exc:
        raise ProvenanceError(
            f"Cannot create the roles ({str(exc).split('(', 1)[-1].split(')')[0]}). Run "
            "`provenance db roles` as the ledger's owner with the CREATEROLE privilege (or as a "
            "superuser)."
        ) from None
    finally:
        engine.dispose()

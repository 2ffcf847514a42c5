"""Recording files and what is said of them: ingest (a scene's lineage too), tag, link, reprint."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from provenance.errors import LineageCycle, ProvenanceError, TargetNotFound, UnknownTool
from provenance.facade.asc_mhl import read_roll, record_roll
from provenance.facade.delivering import refresh_cache
from provenance.facade.places import (
    local_paths,
    placed_here,
    roots_for_reading,
    roots_here,
    target_list,
)
from provenance.facade.reading import asset_card
from provenance.facade.tools import insert_tool, split_tool, unknown_tool_message
from provenance.origins import Evidence, Origin, parse_origin
from provenance.paths import PathArg, as_bytes, as_target
from provenance.records import (
    AssetCard,
    DisputeNote,
    IngestReport,
    ReprintReport,
    SceneLineage,
    display_path,
)
from provenance.scan import looks_like_pattern
from provenance.store import queries
from provenance.store.engine import read_session, write_session
from provenance.store.events import current_actor, unit_of_work_event
from provenance.store.models import EdgeKind, Tool, Tristate

if TYPE_CHECKING:
    from provenance.farm import Readings
    from provenance.ingest import Progress
    from provenance.ledger import Ledger
    from provenance.scenes import SceneRead
    from provenance.store.claims import ClaimSpec, ParentSpec

__all__ = [
    "disputes",
    "ingest",
    "link",
    "reprint",
    "scene_inputs",
    "tag",
]


def ingest(
    ledger: Ledger,
    paths: Sequence[PathArg] | PathArg,
    origin: str | None,
    tool: str | None,
    by: str | None,
    contains: Sequence[PathArg],
    references: Sequence[PathArg],
    note: str | None,
    workers: int | None,
    progress: Progress | None,
    likeness: Sequence[str],
    scene: PathArg | None,
    allow_unresolved: bool,
    mhl: str | os.PathLike[str] | bytes | None,
    readings: Readings | None,
) -> IngestReport:
    from provenance.detect.trust import configured_anchors
    from provenance.fingerprint import Hasher
    from provenance.ingest import Ingester
    from provenance.scene_lineage import check_scene, plan_lineage, record_lineage
    from provenance.stat_cache import record_readings
    from provenance.store.claims import add_likeness
    from provenance.store.seals import intent_digest

    if isinstance(paths, (str, bytes, os.PathLike)):
        paths = [paths]  # (one path given on its own, not a list of its characters)
    contains, references = target_list(contains), target_list(references)
    if not paths:
        raise ProvenanceError("Nothing to ingest: name at least one file, folder or sequence.")
    targets = local_paths(ledger, *paths)
    for text, target in zip(paths, targets, strict=True):
        if not os.path.lexists(target) and not looks_like_pattern(os.fsdecode(target)):
            raise TargetNotFound(
                f"{_show(text)!r} does not exist. Check the path (relative paths are read "
                "from the current folder); give a sequence as name.####.ext."
            )
    configured_anchors()  # a trust list that cannot be used is an error now, not mid-run
    roll = read_roll(ledger, mhl, targets, origin, tool, workers) if mhl is not None else None
    read = None
    if scene is not None:
        read = _read_scene(ledger, scene)  # parsed before the write lock is taken
        check_scene(read, targets, allow_unresolved)
    with write_session(ledger.engine) as session, Hasher(workers) as hasher:
        roots = queries.ensure_roots(session, ledger.workspace)
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
        claim = _claim_spec(session, origin, tool, by, note) if origin else None
        if origin is None and tool is not None:
            raise ProvenanceError(
                "--tool needs --origin: say what the tool made (e.g. --origin human)."
            )
        parents = _parent_specs(ledger, session, roots, contains, references)
        scene_claim = _scene_claim(session, read, claim, origin, tool, by, note)
        payload = {
            "paths": [display_path(t) for t in targets],
            "origin": claim.origin.value if claim else None,
            "tool": tool,
            "by": claim.claimed_by if claim else None,
            "contains": list(contains),
            "references": list(references),
            "note": note,
            "likeness": list(likeness),
            **placed_here(roots),
        }
        if readings:
            record_readings(session, roots, readings)
        with unit_of_work_event(session, "ingest", payload) as unit:
            lineage = None
            if read is not None:
                plan = plan_lineage(
                    session, roots, read, hasher, ledger.racy_window_ns, exclude=targets
                )
                found, lineage = record_lineage(
                    session, roots, hasher, plan, unit, scene_claim, ledger.racy_window_ns
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
                ledger.racy_window_ns,
                intent=intent,
                scene_lineage=read is not None,
            )
            report = ingester.run(targets)
            report.scene = lineage
            if roll is not None:
                report.mhl = record_roll(session, roots, report, roll, unit)
            if likeness:
                add_likeness(session, [ref.version_id for ref in report.assets], likeness, unit)
            report.disputed = disputes(session, roots, ingester.claimed, ingester.holding_known)
        return report


def _scene_claim(
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
    return _claim_spec(session, origin, read.kind.tool, by, note)


def _read_scene(ledger: Ledger, scene: PathArg) -> SceneRead:
    """The scene, its paths placed on this machine by the ledger's roots (a script saved on
    Windows or on another mount reads the show where this machine has it)."""
    from provenance.scenes import read_scene

    roots = roots_here(ledger)
    path = roots.localize(as_bytes(scene), ledger.cwd)
    return read_scene(path, lambda spelled: roots.localize(spelled, b"/"))


def scene_inputs(ledger: Ledger, scene: PathArg, workers: int | None) -> SceneLineage:
    from provenance.fingerprint import Hasher
    from provenance.scene_lineage import lineage_report, plan_lineage

    read = _read_scene(ledger, scene)
    with Hasher(workers) as hasher:
        with read_session(ledger.engine) as session:
            roots = roots_for_reading(ledger, session)
            plan = plan_lineage(session, roots, read, hasher, ledger.racy_window_ns)
            lineage = lineage_report(session, roots, plan)
        refresh_cache(ledger, plan.refresh)
    return lineage


def tag(
    ledger: Ledger,
    target: PathArg,
    origin: str,
    tool: str | None,
    by: str | None,
    note: str | None,
    resolve: bool,
    likeness: Sequence[str],
) -> AssetCard:
    from provenance.store.claims import add_claims, add_likeness

    target = as_target(target)
    if resolve and not note:
        raise ProvenanceError(
            "A resolving claim needs --note saying why (it is what an auditor will read)."
        )
    with write_session(ledger.engine) as session:
        roots = queries.ensure_roots(session, ledger.workspace)
        resolved = queries.resolve_target(session, roots, target, ledger.cwd)
        claim = _claim_spec(session, origin, tool, by, note, resolves=resolve)
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
        return asset_card(session, roots, resolved)


def link(
    ledger: Ledger, child: PathArg, contains: Sequence[PathArg], references: Sequence[PathArg]
) -> AssetCard:
    from provenance.store.claims import add_edges

    child = as_target(child)
    contains, references = target_list(contains), target_list(references)
    if not contains and not references:
        raise ProvenanceError(
            "Name at least one parent with --from (contains) or --ref (references)."
        )
    with write_session(ledger.engine) as session:
        roots = queries.ensure_roots(session, ledger.workspace)
        resolved = queries.resolve_target(session, roots, child, ledger.cwd)
        parents = _parent_specs(ledger, session, roots, contains, references)
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
        return asset_card(session, roots, resolved)


def reprint(ledger: Ledger) -> ReprintReport:
    from provenance.detect.perceptual import image_prints  # numpy: on first use
    from provenance.fingerprint import hash_file
    from provenance.store.perceptual import record_prints, stale_contents

    report = ReprintReport()
    with write_session(ledger.engine) as session:
        roots = queries.ensure_roots(session, ledger.workspace)
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


def _claim_spec(
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
                raise UnknownTool(unknown_tool_message(session, name, origin))
            if not tool_row.generative:
                raise UnknownTool(
                    f"{tool_row.name!r} is registered as not generative, but origin "
                    f"{origin.alias} says a generative model made this. If the tool is "
                    f"generative, run `provenance tools set {tool_row.name!r} --generative`."
                )
        elif tool_row is None:
            tool_row = insert_tool(session, name, None, False, Tristate.UNKNOWN, Tristate.UNKNOWN)
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
    ledger: Ledger,
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
                resolved = queries.resolve_target(session, roots, text, ledger.cwd)
            except TargetNotFound:
                raise TargetNotFound(
                    f"The parent {text!r} is not in the ledger. Ingest it first "
                    f"(`provenance ingest {text}`), then record the lineage."
                ) from None
            specs.append(ParentSpec(resolved.version_id, kind))
    return specs


def disputes(
    session: Session, roots: queries.RootMap, claimed: Iterable[int], holding: Iterable[int]
) -> list[DisputeNote]:
    """Of these versions, the ones whose origin is disputed, with what each side says (what an
    artist must be told at ingest: the delivery will block until a TD settles it): the
    `claimed` ones whose claims disagree (a claims query), and the ones `holding` bytes the
    ledger held before, whose bytes may be recorded as generated."""
    from provenance.obligations import Judge
    from provenance.store.ledger_facts import ledger_facts, origin_summaries

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


def _show(path: object) -> str:
    if isinstance(path, bytes):
        return display_path(path)
    return str(path)

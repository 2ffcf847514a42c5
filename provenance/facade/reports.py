"""What people read about deliveries: the disclosure, the delivery report, the W3C PROV export."""

from __future__ import annotations

import datetime as dt
import difflib
import json
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from provenance.errors import ProvenanceError, TargetNotFound
from provenance.facade.delivering import check_unlocked
from provenance.facade.places import absolute_path, read_roots, roots_for_reading
from provenance.facade.reading import target_versions
from provenance.records import ConsentInfo, DeliverableInfo, DisclosureEntry, display_path
from provenance.store import queries
from provenance.store.engine import read_session
from provenance.store.models import Consent, Deliverable, DeliverableFile, Event, Tool

if TYPE_CHECKING:
    from prov.model import ProvDocument

    from provenance.ingest import Progress
    from provenance.ledger import Ledger
    from provenance.policy import Policy
    from provenance.report.model import DeliveryReport, DisclosureReport, ReportRow

__all__ = ["delivery_report", "disclosure", "disclosure_report", "no_deliverable", "prov_document"]


def disclosure(ledger: Ledger) -> list[DisclosureEntry]:
    from provenance.store.disclosure_facts import generative_uses

    with read_session(ledger.engine) as session:
        roots = queries.find_roots(session, ledger.workspace)
        if roots is None:
            return []
        return generative_uses(session, roots)


def disclosure_report(ledger: Ledger, deliverable: str | None) -> DisclosureReport:
    from provenance.obligations import describe_path
    from provenance.report.disclosure import (
        build_disclosure,
        manifest_warnings,
        read_recorded_manifest,
    )
    from provenance.report.model import LikenessUse
    from provenance.store import deliverables as store_deliverables
    from provenance.store.disclosure_facts import generative_uses

    made_at = dt.datetime.now(dt.timezone.utc)
    with read_session(ledger.engine) as session:
        infos = store_deliverables.deliverable_infos(
            session, roots_for_reading(ledger, session), refused=False
        )
        if deliverable is not None and deliverable not in {i.name for i in infos}:
            raise no_deliverable(session, deliverable)
        roots = queries.find_roots(session, ledger.workspace)
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
    ledger: Ledger,
    target: str,
    policy: Policy | None,
    workers: int | None,
    progress: Progress | None,
) -> DeliveryReport:
    from provenance.policy import DEFAULT_POLICY
    from provenance.store import deliverables as store_deliverables

    with read_session(ledger.engine) as session:
        info = store_deliverables.finalized_named(
            session, roots_for_reading(ledger, session), target
        )
        if info is None and not os.path.lexists(absolute_path(ledger, target)):
            raise _neither_deliverable_nor_delivery(session, target)
    if info is not None:
        return _finalized_report(ledger, info)
    return _swept_report(ledger, target, policy or DEFAULT_POLICY, workers, progress)


def _finalized_report(ledger: Ledger, info: DeliverableInfo) -> DeliveryReport:
    from provenance.obligations import Judge
    from provenance.policy import Finding, Severity
    from provenance.report.delivery import DeliveredFile, build_rows
    from provenance.report.disclosure import manifest_warnings, read_recorded_manifest
    from provenance.report.model import Checkpoint, DeliveryReport, PolicyInfo
    from provenance.store import deliverables as store_deliverables
    from provenance.store.ledger_facts import ledger_facts

    home = info.source if info.kind == "folder" else os.path.dirname(info.source)
    with read_session(ledger.engine) as session:
        roots = roots_for_reading(ledger, session)
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
        checkpoint=Checkpoint(info.event_id, info.event_hash, (document or {}).get("checkpoint")),
        rows=rows,
        loose=loose,
        files=len(files),
        made_at=dt.datetime.now(dt.timezone.utc),
        finalized_at=info.at,
        warnings_problem=problem if info.warnings else None,
        counts=_origin_counts(rows),
        workspace=display_path(ledger.workspace),
    )


def _swept_report(
    ledger: Ledger, target: str, policy: Policy, workers: int | None, progress: Progress | None
) -> DeliveryReport:
    from provenance.detect.trust import configured_anchors
    from provenance.fingerprint import Hasher
    from provenance.obligations import ToolFacts
    from provenance.policy import Severity
    from provenance.report.delivery import DeliveredFile, build_rows, policy_info
    from provenance.report.model import Checkpoint, DeliveryReport

    source = absolute_path(ledger, target)
    configured_anchors()
    with Hasher(workers) as hasher:
        check = check_unlocked(ledger, source, policy, hasher, progress)
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
    with read_session(ledger.engine) as session:
        roots = roots_for_reading(ledger, session)
        refs = queries.asset_refs(session, roots, versions)
        tools = {
            t.id: ToolFacts(t.name, t.generative, t.trains_on_inputs, t.secured)
            for t in session.execute(select(Tool)).scalars()
        }
        consents = _consents_by_performer(session)
        last = session.execute(select(Event.id, Event.hash).order_by(Event.id.desc())).first()
    verdict = check.verdict
    findings = [f for f in verdict.findings if f.severity is not Severity.OFF]
    rows, loose = build_rows(files, delivery.home, refs, verdict.judged, tools, findings, consents)
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
        workspace=display_path(ledger.workspace),
    )


def prov_document(ledger: Ledger, target: str | None, deliverable: str | None) -> ProvDocument:
    from provenance.interchange.w3c_prov import prov_document
    from provenance.store import deliverables as store_deliverables
    from provenance.store.exports import export_facts

    if target is not None and deliverable is not None:
        raise ProvenanceError("Export a TARGET or a --deliverable, not both.")
    with read_session(ledger.engine) as session:
        roots = roots_for_reading(ledger, session)
        if deliverable is not None:
            if store_deliverables.finalized_named(session, roots, deliverable) is None:
                raise no_deliverable(session, deliverable)
            facts = export_facts(session, roots, deliverables=[deliverable])
        elif target is not None:
            roots = read_roots(ledger, session, target)
            versions = target_versions(ledger, session, roots, target)
            facts = export_facts(session, roots, versions=versions)
        else:
            facts = export_facts(session, roots)
    return prov_document(facts)


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


def no_deliverable(session: Session, name: str) -> TargetNotFound:
    return TargetNotFound(
        f"No finalized deliverable is named {name!r}.{_deliverables_hint(session, name)}"
    )


def _neither_deliverable_nor_delivery(session: Session, target: str) -> TargetNotFound:
    """`report delivery` takes a deliverable's name or a delivery on disk: say both."""
    return TargetNotFound(
        f"{target!r} is neither a finalized deliverable nor a delivery on disk."
        f"{_deliverables_hint(session, target)} Or give a folder, a text file listing paths, a "
        "CSV pull list or an .otio timeline."
    )


def _deliverables_hint(session: Session, name: str) -> str:
    """The finalized names close to `name`, else where to find them, else that there are none."""
    from provenance.store import deliverables as store_deliverables

    known = store_deliverables.finalized_names(session)
    close = difflib.get_close_matches(name, known, n=3)
    if close:
        return f" Did you mean {', '.join(close)}?"
    if known:
        return " `provenance deliverables` lists the finalized ones."
    return " No deliverable has been finalized yet."

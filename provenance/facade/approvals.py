"""Written approvals bound to exact bytes (a strong digest if asked), and performers' consents."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import insert, select

from provenance.errors import ProvenanceError
from provenance.facade.places import read_roots
from provenance.paths import PathArg, as_target
from provenance.records import ApprovalInfo, ConsentInfo
from provenance.store import queries
from provenance.store.engine import read_session, write_session
from provenance.store.events import current_actor, unit_of_work_event
from provenance.store.models import Approval, Consent, Content, Location, Member

if TYPE_CHECKING:
    from provenance.ledger import Ledger

__all__ = ["add_consent", "approve", "consents"]


def approve(
    ledger: Ledger,
    target: PathArg,
    ref: str,
    by: str,
    note: str | None,
    covers_tool_risk: bool,
    strong: str | None,
    workers: int | None,
) -> ApprovalInfo:
    target = as_target(target)
    if not ref.strip() or not by.strip():
        raise ProvenanceError(
            'An approval needs --ref (where it is on record, e.g. "NFX-1234 email '
            '2026-11-20") and --by (who gave it).'
        )
    strong_digest = _strong_digest(ledger, target, strong, workers) if strong else None
    with write_session(ledger.engine) as session:
        roots = queries.ensure_roots(session, ledger.workspace)
        resolved = queries.resolve_target(session, roots, target, ledger.cwd)
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


def _strong_digest(
    ledger: Ledger, target: str, strong: str, workers: int | None
) -> tuple[int, str]:
    """(version, its strong digest): each member read where it was recorded, once, for
    xxh3-128 (which must be the member's) and the strong digest."""
    from provenance.digests import aggregate, digest_files
    from provenance.fingerprint import Hasher
    from provenance.strong import strong_algorithm

    algorithm = strong_algorithm(strong)
    with read_session(ledger.engine) as session:
        roots = read_roots(ledger, session, target)
        version_id = queries.resolve_target(session, roots, target, ledger.cwd).version_id
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


def add_consent(ledger: Ledger, performer: str, scope: str, ref: str) -> ConsentInfo:
    if not performer.strip() or not scope.strip() or not ref.strip():
        raise ProvenanceError(
            "A consent needs the performer's name, --scope (e.g. \"S01 digital double, "
            'ep 1-3") and --ref (e.g. "SAG consent form 88").'
        )
    recorded_by = current_actor()
    payload = {"performer": performer, "scope": scope, "ref": ref}
    with (
        write_session(ledger.engine) as session,
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


def consents(ledger: Ledger) -> list[ConsentInfo]:
    with read_session(ledger.engine) as session:
        return [
            ConsentInfo(c.performer, c.scope, c.ref, c.recorded_by, c.created_at)
            for c in session.execute(select(Consent).order_by(Consent.id)).scalars()
        ]

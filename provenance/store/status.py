"""An asset version's status, derived from its claims and approvals whenever it is read.

The status is what the guidelines make of a version: `standard`, or, for generated material
(its claims add up to a generative origin, `summarize_claims`), `temporary` until an approval
names exactly its bytes, then `approved`. It is never stored: a stored status is a cache that
anyone who can write the table could set to `approved` (schema 0010 dropped the column).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlalchemy import Connection, select

from provenance.obligations import covers_bytes
from provenance.origins import GENERATIVE, ClaimFacts, Origin, summarize_claims
from provenance.store.models import Approval, AssetStatus, AssetVersion, Claim
from provenance.store.queries import chunked

__all__ = ["generative_version_ids", "version_statuses"]


def version_statuses(connection: Connection, version_ids: Iterable[int]) -> dict[int, AssetStatus]:
    """The status of each version, a few statements a chunk of versions."""
    ids = sorted(set(version_ids))
    claims = _claims(connection, ids)
    approved: set[int] = set()
    for chunk in chunked(ids):
        approved.update(
            version_id
            for version_id, given_for, holds in connection.execute(
                select(Approval.version_id, Approval.digest, AssetVersion.digest)
                .join(AssetVersion, AssetVersion.id == Approval.version_id)
                .where(Approval.version_id.in_(chunk))
            )
            if covers_bytes(given_for, holds)
        )
    return {
        version_id: _status(claims.get(version_id, []), version_id in approved)
        for version_id in ids
    }


def generative_version_ids(connection: Connection) -> set[int]:
    """Every version whose claims add up to generated material (temporary or approved): those
    with a generative claim, less those a later resolving claim settled otherwise."""
    candidates = sorted(
        connection.execute(
            select(Claim.version_id)
            .where(Claim.origin.in_([origin.value for origin in GENERATIVE]))
            .distinct()
        ).scalars()
    )
    claims = _claims(connection, candidates)
    return {v for v in candidates if summarize_claims(claims.get(v, [])).generative}


def _claims(connection: Connection, ids: list[int]) -> Mapping[int, list[ClaimFacts]]:
    """Each version's claims, oldest first (as `summarize_claims` takes them)."""
    found: dict[int, list[ClaimFacts]] = {}
    for chunk in chunked(ids):
        for version_id, origin, resolves in connection.execute(
            select(Claim.version_id, Claim.origin, Claim.resolves)
            .where(Claim.version_id.in_(chunk))
            .order_by(Claim.version_id, Claim.id)
        ):
            found.setdefault(version_id, []).append(ClaimFacts(Origin(origin), bool(resolves)))
    return found


def _status(claims: list[ClaimFacts], approved: bool) -> AssetStatus:
    if not summarize_claims(claims).generative:
        return AssetStatus.STANDARD
    return AssetStatus.APPROVED if approved else AssetStatus.TEMPORARY

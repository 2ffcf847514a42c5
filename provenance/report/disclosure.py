"""The disclosure a vendor sends its studio contact: per finalized deliverable, each use of
generative AI (the element, its tools and their vetting, how it is in the deliverable and the
approval that covers it there), each likeness used with its consent, and every warning it was
finalized under.

The generative uses are `store.disclosure_facts.generative_uses` (one source of truth with the
ledger-wide list): each generated version with the deliverables it went into. Here they are regrouped by
deliverable.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import xxhash

from provenance.fingerprint import format_digest
from provenance.records import DeliverableInfo, DisclosureEntry, display_path
from provenance.report.model import (
    DeliverableDisclosure,
    DeliveredWarning,
    DisclosureReport,
    GenerativeUse,
    LikenessUse,
)

if TYPE_CHECKING:
    from provenance.store.deliverables import RecordedManifest

__all__ = ["build_disclosure", "manifest_warnings", "read_recorded_manifest"]


def build_disclosure(
    deliverables: Sequence[DeliverableInfo],
    entries: Sequence[DisclosureEntry],
    likeness: Iterable[tuple[str, LikenessUse]],
    warnings: Mapping[str, tuple[list[DeliveredWarning], str | None]],
    made_at: dt.datetime,
    only: str | None = None,
) -> DisclosureReport:
    """The report from its rows: `entries` (every generated version, with the deliverables it
    went into), `likeness` (deliverable name, use), the warnings each deliverable was finalized
    under (or why they cannot be listed). With `only`, that deliverable alone and no ledger-wide
    section."""
    uses: dict[str, list[GenerativeUse]] = {}
    for entry in entries:
        for use in entry.deliverables:
            uses.setdefault(use.deliverable, []).append(GenerativeUse(entry, use))
    liked: dict[str, list[LikenessUse]] = {}
    for name, item in likeness:
        liked.setdefault(name, []).append(item)
    sections = []
    for info in deliverables:
        if info.status != "finalized" or (only is not None and info.name != only):
            continue
        listed, problem = warnings.get(info.name, ([], None))
        sections.append(
            DeliverableDisclosure(
                deliverable=info,
                uses=sorted(
                    uses.get(info.name, []),
                    key=lambda u: (u.use.asset, u.entry.asset.name, u.entry.asset.version),
                ),
                likeness=sorted(liked.get(info.name, []), key=lambda u: (u.performer, u.asset)),
                warnings=listed,
                warnings_problem=problem,
            )
        )
    if only is None:
        return DisclosureReport(
            sections, [e for e in entries if not e.deliverables], made_at, list(entries)
        )
    inside = [e for e in entries if any(u.deliverable == only for u in e.deliverables)]
    return DisclosureReport(sections, [], made_at, inside)


def read_recorded_manifest(
    found: RecordedManifest | None,
) -> tuple[dict[str, Any] | None, str | None]:
    """A finalized deliverable's manifest, when its bytes are the ones the finalize recorded
    (else None, and why): as the ledger kept them, else as read beside the deliverable."""
    if found is None:
        return None, "no manifest is recorded for it"
    shown = display_path(found.path)
    body = found.body
    if body is None:
        try:
            with open(found.path, "rb") as handle:
                body = handle.read()
        except OSError as exc:
            return None, f"its manifest {shown} cannot be read ({exc.strerror})"
    if format_digest(xxhash.xxh3_128_hexdigest(body)) != found.digest:
        return None, f"its manifest {shown} is not the one the finalize wrote (its bytes changed)"
    try:
        document = json.loads(body)
    except ValueError:
        return None, f"its manifest {shown} is not JSON"
    return (document, None) if isinstance(document, dict) else (None, "its manifest is not JSON")


def manifest_warnings(document: Mapping[str, Any] | None) -> list[DeliveredWarning]:
    """The warnings a manifest lists (what a deliverable was finalized under)."""
    if document is None:
        return []
    return [
        DeliveredWarning(
            rule=str(item.get("rule")),
            asset=item.get("asset"),
            message=str(item.get("message", "")),
            fix=item.get("fix"),
        )
        for item in document.get("warnings", [])
    ]

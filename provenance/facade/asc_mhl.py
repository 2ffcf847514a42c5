"""ASC MHL both ways: a camera roll's history checked at ingest, a deliverable's written."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from provenance import __version__
from provenance.errors import ProvenanceError
from provenance.facade.places import absolute_path, roots_for_reading
from provenance.facade.reports import no_deliverable
from provenance.origins import Evidence, Origin
from provenance.records import IngestReport, MhlCheck, display_path
from provenance.store import queries
from provenance.store.engine import read_session, write_session
from provenance.store.events import UnitOfWork, current_actor, unit_of_work_event
from provenance.store.models import Content, Deliverable, DeliverableFile, Location, Member

if TYPE_CHECKING:
    from provenance.digests import FileDigests
    from provenance.ingest import Progress
    from provenance.interchange.mhl import History as MhlHistory
    from provenance.interchange.mhl import Written as MhlWritten
    from provenance.ledger import Ledger

__all__ = ["export_mhl", "mhl_listing", "read_roll", "record_roll"]


def read_roll(
    ledger: Ledger,
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
    history = mhl_format.read_history(absolute_path(ledger, mhl))
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


@dataclasses.dataclass(frozen=True)
class _Roll:
    """A camera roll's ASC MHL history, and its files read for the history's other hashes."""

    history: MhlHistory
    readings: dict[str, FileDigests]
    """path (as the history names it) -> its digests, read for the history's other hashes."""
    detail: dict[str, Any]


def record_roll(
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


def export_mhl(
    ledger: Ledger,
    name: str,
    hashes: Sequence[str],
    out: str | os.PathLike[str] | bytes | None,
    workers: int | None,
    progress: Progress | None,
) -> MhlWritten:
    from provenance.digests import digest_files
    from provenance.fingerprint import Hasher, hash_file
    from provenance.interchange import mhl
    from provenance.store import deliverables as store_deliverables

    formats = mhl.hash_formats(hashes)
    with read_session(ledger.engine) as session:
        info = store_deliverables.finalized_named(session, roots_for_reading(ledger, session), name)
        if info is None:
            raise no_deliverable(session, name)
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
    folder = None if out is None else os.path.join(absolute_path(ledger, out), b"ascmhl")
    generation, number = mhl.write_generation(
        home,
        entries,
        formats,
        comment=f"finalized deliverable {name} (ledger event #{info.event_id}, {info.event_hash})",
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
        write_session(ledger.engine) as session,
        unit_of_work_event(session, queries.MHL_EVENT, payload),
    ):
        pass
    return mhl.Written(generation, number, len(entries), sum(e.size for e in entries), formats)

"""The `roots` rows: declaring, moving and mapping show roots (each the unit of work of an event),
and what `provenance roots` lists.

Every check that keeps two folders from sharing one root's records lives here: a new place or
spelling of a root may not be, hold or lie in another root's; may not be, on this machine,
another folder than the root's own; and may not hide records already made under it as absolute
paths.
"""

from __future__ import annotations

import os

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from provenance.errors import ProvenanceError, TargetNotFound
from provenance.roots import (
    PlacedRoot,
    RootInfo,
    RootKind,
    RootMap,
    Spelling,
    aliases_text,
    check_root_name,
    default_root_name,
    spelling,
    try_spelling,
)
from provenance.store.events import UnitOfWork
from provenance.store.models import Asset, Location, LocationKind, Root
from provenance.store.queries import folder_bounds

__all__ = [
    "declare",
    "find_root",
    "map_spelling",
    "move",
    "present_at",
    "root_info",
    "root_infos",
    "unmap_spelling",
]


MOVE_SAMPLE = 1000
"""Recorded files a move looks for at the root's new place."""


def root_infos(session: Session, roots: RootMap) -> list[RootInfo]:
    """Every root the map places, with how many assets are recorded under each, `/` last."""
    counts = {
        root_id: count
        for root_id, count in session.execute(
            select(Asset.root_id, func.count()).group_by(Asset.root_id)
        )
    }
    infos = [info(root, int(counts.get(root.id, 0))) for root in roots.placed]
    infos.sort(key=lambda i: (i.kind is not RootKind.LEDGER, i.name))
    top = RootInfo(
        name="/",
        kind=RootKind.FILESYSTEM,
        here="/",
        placed_by="name",
        found=True,
        location=None,
        aliases=(),
        assets=int(counts.get(roots.absolute_id, 0)),
    )
    return [*infos, top]


def root_info(session: Session, roots: RootMap, root_id: int) -> RootInfo:
    """One root as `root_infos` lists it."""
    placed = roots.root(root_id)
    if placed is None:
        raise TargetNotFound(f"No root has id {root_id}.")
    count = session.execute(
        select(func.count()).select_from(Asset).where(Asset.root_id == root_id)
    ).scalar_one()
    return info(placed, int(count))


def info(root: PlacedRoot, assets: int = 0) -> RootInfo:
    record = root.record
    return RootInfo(
        name=record.shown_name,
        kind=root.kind,
        here=os.fsdecode(root.here),
        placed_by=root.placed_by,
        found=root.found,
        location=os.fsdecode(record.location) if record.location is not None else None,
        aliases=record.aliases,
        assets=assets,
        problems=root.problems,
        event_id=record.event_id,
    )


def find_root(roots: RootMap, given: str) -> PlacedRoot:
    """The root `given` names: by its name, its place here, its location or a mapped spelling."""
    if given.strip() == "/":  # (never placed: `/` is the map's absolute root)
        raise ProvenanceError(
            "`/` holds the paths outside every show root: it cannot be moved or mapped. Declare "
            "the show's folder as a root (`provenance roots add PATH`)."
        )
    spelled = try_spelling(given)
    for root in roots.placed:
        if given == root.record.shown_name:
            return root
    for root in roots.placed:
        known = (*root.spellings, try_spelling(root.here))
        if spelled is not None and (
            root.record.name == spelled.slashed or any(spelled.same(s) for s in known)
        ):
            return root
    names = ", ".join(r.record.shown_name for r in roots.placed) or "none yet"
    raise TargetNotFound(
        f"No root of the ledger is named or spelled {given!r} (roots: {names}). `provenance "
        "roots` lists them."
    )


def check_place(
    roots: RootMap,
    new: Spelling,
    root: PlacedRoot | None = None,
    mapping: bool = False,
) -> None:
    """Refuse a place or spelling (`new`) for `root` (None: a root being declared) that would let
    two folders share records. See the module's docstring."""
    if new.slashed in (b"/", b"//") or (new.windows and len(new.slashed) <= 3):
        raise ProvenanceError(
            f"{new.shown} is the top of a file system: a show root is the show's own folder."
        )
    for other in roots.placed:
        if root is not None and other.id == root.id:
            continue
        for known in (*other.spellings, try_spelling(other.here)):
            if known is not None and new.overlaps(known):
                relation = "holds"
                if new.under(known) is not None:
                    relation = "is" if new.same(known) else "lies inside"
                raise ProvenanceError(
                    f"{new.shown} {relation} root {other.record.shown_name} ({known.shown}): "
                    "roots neither share a folder nor nest. Choose the show's own folder."
                )
    if not new.native or not os.path.isdir(new.slashed):
        return
    real = os.path.realpath(new.slashed)
    for other in roots.placed:
        if other.found and (root is None or other.id != root.id):
            theirs = os.path.realpath(other.here)
            if real == theirs or real.startswith(theirs + b"/") or theirs.startswith(real + b"/"):
                raise ProvenanceError(
                    f"{new.shown} is, on this machine, root {other.record.shown_name}'s folder "
                    f"or one inside or around it ({os.fsdecode(other.here)}): two roots cannot "
                    "share a folder."
                )
    if mapping and root is not None and root.found and not os.path.samefile(new.slashed, root.here):
        raise ProvenanceError(
            f"{new.shown} is another folder than root {root.record.shown_name} on this "
            f"machine ({os.fsdecode(root.here)}): a mapping joins spellings of one folder, "
            "never two folders. (A copy of the show is a show of its own: move the root to "
            "it with `provenance roots move` if it replaces the original.)"
        )


def check_unrecorded_under(session: Session, roots: RootMap, new: Spelling) -> None:
    """Refuse a place where records were made as absolute paths: a root there would hide them."""
    if new.windows:
        return  # (`/` holds POSIX paths)
    prefix = new.slashed.lstrip(b"/") + b"/"
    low, high = folder_bounds(prefix)
    held = session.execute(
        select(func.count())
        .select_from(Asset)
        .where(Asset.root_id == roots.absolute_id, Asset.pattern >= low, Asset.pattern < high)
    ).scalar_one()
    if held:
        raise ProvenanceError(
            f"{held} assets are recorded under {new.shown} as absolute paths (made before a root "
            "was declared there): a root there would no longer find them. Declare a show's root "
            "before recording into it; moving existing records under a root is not supported."
        )


def declare(
    session: Session, roots: RootMap, where: str, name: str | None, unit: UnitOfWork
) -> int:
    """Record a new show root at `where` (named `name`, else the last part of `where`)."""
    new = spelling(where)
    chosen = check_root_name(name if name is not None else default_root_name(new))
    taken = session.execute(select(Root.id).where(Root.name == os.fsencode(chosen))).scalar()
    if taken is not None:
        raise ProvenanceError(
            f"A root is named {chosen!r} already. Give this one another name with --name."
        )
    check_place(roots, new)
    check_unrecorded_under(session, roots, new)
    root_id = session.execute(
        insert(Root)
        .values(
            name=os.fsencode(chosen), location=new.recorded, aliases="[]", event_id=unit.event_id
        )
        .returning(Root.id)
    ).scalar_one()
    unit.payload.update({"root": chosen, "location": new.shown})
    return int(root_id)


def move(session: Session, roots: RootMap, root: PlacedRoot, to: str, unit: UnitOfWork) -> Spelling:
    """Set a declared root's location."""
    if root.kind is RootKind.LEDGER and root.placed_by == "ledger":
        raise ProvenanceError(
            f"Root {root.record.shown_name} is the ledger's own folder: it is wherever the "
            "ledger is (copy or mount the show's folder, .provenance included, and its records "
            "come along), so there is no move to record. `roots map` adds another spelling "
            "of it (another platform)."
        )
    new = spelling(to)
    check_place(roots, new, root)
    check_unrecorded_under(session, roots, new)
    before = os.fsdecode(root.record.location) if root.record.location is not None else None
    aliases = [a for a in root.record.aliases if not new.same(try_spelling(a))]
    _change(session, root, unit, location=new.recorded, aliases=aliases_text(aliases))
    unit.payload.update({"root": root.record.shown_name, "from": before, "to": new.shown})
    return new


def map_spelling(
    session: Session, roots: RootMap, root: PlacedRoot, given: str, unit: UnitOfWork
) -> Spelling:
    """Add another spelling (mount, platform) of a root's folder."""
    new = spelling(given)
    known = [s for s in (*root.spellings, try_spelling(root.here)) if s is not None]
    if any(new.same(s) for s in known):
        raise ProvenanceError(
            f"{new.shown} is already a spelling of root {root.record.shown_name}: nothing to map."
        )
    check_place(roots, new, root, mapping=True)
    check_unrecorded_under(session, roots, new)
    _change(session, root, unit, aliases=aliases_text([*root.record.aliases, new.shown]))
    unit.payload.update({"root": root.record.shown_name, "spelling": new.shown})
    return new


def unmap_spelling(session: Session, root: PlacedRoot, given: str, unit: UnitOfWork) -> Spelling:
    """Remove a spelling `map_spelling` added."""
    gone = spelling(given)
    kept = [a for a in root.record.aliases if not gone.same(try_spelling(a))]
    if len(kept) == len(root.record.aliases):
        listed = ", ".join(root.record.aliases) or "none"
        raise ProvenanceError(
            f"{gone.shown} is not a mapped spelling of root {root.record.shown_name} (mapped: "
            f"{listed})."
        )
    _change(session, root, unit, aliases=aliases_text(kept))
    unit.payload.update({"root": root.record.shown_name, "spelling": gone.shown})
    return gone


def _change(session: Session, root: PlacedRoot, unit: UnitOfWork, **values: object) -> None:
    """Change a root in place: the event records its whole row (and takes a root no event had)."""
    if root.record.event_id is None:
        values["event_id"] = unit.event_id
    else:
        unit.changed("roots", root.id)
    session.execute(update(Root).where(Root.id == root.id).values(**values))


def present_at(session: Session, root_id: int, here: bytes) -> tuple[int, int]:
    """(files looked for, files found with their recorded size) of a sample of a root's recorded
    files at `here`: does the folder a root moves to hold the show?"""
    rows = session.execute(
        select(Location.path, Location.size)
        .where(Location.root_id == root_id, Location.kind == LocationKind.FILE.value)
        .order_by(Location.id)
        .limit(MOVE_SAMPLE)
    ).all()
    present = 0
    for relative, size in rows:
        try:
            present += os.stat(os.path.join(here, relative)).st_size == size
        except OSError:
            continue
    return len(rows), present

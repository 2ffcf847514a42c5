"""Scene lineage: a scene's inputs pinned to the asset versions whose bytes are on disk now.

A render made from a Nuke script (a USD stage, a Maya scene, an OTIO cut) contains what the
scene read when it ran. The scene names paths; the ledger names versions. Each input is found
on disk (every frame of a sequence, every tile of a UDIM set), fingerprinted through the stat
cache, and matched against every recorded version of the asset at that path, newest first: the
version whose members at the frames the scene reads have exactly those bytes is the one the
render contains, even when it is not the asset's latest (the sky was rolled back on disk).
The scene's paths arrive placed on this machine (`read_scene` with the ledger's roots): a scene
saved on Windows or on another mount is pinned as if it named this machine's paths, and one
naming a path no root places is refused (`check_scene`).

- `pinned`: the bytes on disk are a recorded version.
- `new-bytes`: an asset is recorded at the path but none of its versions has these bytes: they
  are recorded as its next version, with no claim (origin unknown), and pinned.
- `unrecorded`: nothing is recorded at the path: it is recorded as a new asset, origin
  unknown, and pinned.
- `missing`: nothing on disk. A recorded asset there is pinned at its latest version (the
  render read something at that path, and the ledger's newest word on it is the cautious one);
  otherwise nothing is linked and the input is listed.
- `output`: the scene's own output (a Read of the Write's render): not an input.

`plan_lineage` decides without writing (`provenance scene inputs`); `record_lineage` writes the
new versions and assets, and the scene file itself (as an asset made with its application,
linked as `references`: it is the recipe, not material), in the caller's unit of work.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from provenance.errors import SceneRefused
from provenance.fingerprint import Hasher
from provenance.ingest import Ingester
from provenance.origins import Origin
from provenance.records import AssetRef, PinnedInput, SceneLineage, display_path
from provenance.roots import ROOT_MAP_VARIABLE
from provenance.scan import (
    FRAME_NAME,
    UDIM_TOKEN,
    AssetKind,
    ScannedAsset,
    ScannedFile,
    StatFingerprint,
)
from provenance.scenes import UNMAPPED, SceneRead
from provenance.stat_cache import CacheRefresh, StatCache, record_refresh
from provenance.store import bulk
from provenance.store.claims import ClaimSpec, ParentSpec
from provenance.store.events import UnitOfWork
from provenance.store.ledger_facts import origin_summaries
from provenance.store.models import Asset, AssetVersion, Content, EdgeKind, Member
from provenance.store.queries import RootMap, asset_refs, chunked
from provenance.store.seals import PLAIN_INTENT, intent_digest

__all__ = ["check_scene", "lineage_report", "plan_lineage", "record_lineage"]


PINNED = "pinned"
NEW_BYTES = "new-bytes"
UNRECORDED = "unrecorded"
MISSING = "missing"
OUTPUT = "output"

_TOKEN = re.compile(rb"^(?P<head>.*?)(?:#+|<UDIM>)(?P<tail>[^#]*)$")


@dataclass
class _Input:
    """One path the scene reads (its nodes merged), as found on disk."""

    path: bytes
    nodes: list[str]
    ranges: list[tuple[int, int] | None]
    on_disk: ScannedAsset | None = None
    asset_path: bytes = b""
    """The recorded asset it is (or would be recorded as): the path, or the sequence a lone
    frame belongs to."""
    frame: int | None = None
    """For a lone frame read from a sequence: its frame number in that sequence."""
    status: str = ""
    version_id: int | None = None
    latest: int | None = None

    @property
    def frames_read(self) -> list[int]:
        """The frames of the asset on disk that the scene reads (all of them when it does not say)."""
        if self.on_disk is None or self.on_disk.kind is AssetKind.FILE:
            return [self.frame] if self.frame is not None else []
        frames = [m.frame for m in self.on_disk.members if m.frame is not None]
        if any(r is None for r in self.ranges):
            return frames
        return [f for f in frames if any(r[0] <= f <= r[1] for r in self.ranges if r)]


@dataclass
class LineagePlan:
    """What a scene's inputs are in the ledger, decided and not yet written."""

    read: SceneRead
    inputs: list[_Input]
    refresh: CacheRefresh
    digests: dict[bytes, tuple[str, StatFingerprint]] = field(default_factory=dict)

    @property
    def to_record(self) -> list[_Input]:
        return [i for i in self.inputs if i.status in (NEW_BYTES, UNRECORDED)]


def check_scene(read: SceneRead, targets: Sequence[bytes], allow_unresolved: bool) -> None:
    """Refuse a scene that names paths no show root places on this machine, that does not fit
    the render (no Write node writes it), or whose inputs cannot all be named (unless
    `allow_unresolved`)."""
    scene = display_path(read.path)
    unmapped = [f for f in read.findings if f.rule == UNMAPPED]
    if unmapped:
        # Not waived by allow_unresolved: the material is named, only its place is unknown here,
        # and mapping the root is the fix.
        listed = "\n".join(f"  {f.message}" for f in unmapped)
        raise SceneRefused(
            f"{scene} names paths spelled for another platform or mount that no show root "
            f"places on this machine, so what it reads there cannot be vouched for:\n{listed}\n"
            "Map the show's root to the spelling the scene uses (`provenance roots map ROOT "
            f"'SPELLING'`, ROOT as `provenance roots` lists it, or {ROOT_MAP_VARIABLE} on this "
            "machine), then ingest again. Nothing was recorded."
        )
    if read.names_outputs and not any(
        renders(target, output.path) for target in targets for output in read.outputs
    ):
        listed = "\n".join(f"  {o.node}: {display_path(o.path)}" for o in read.outputs)
        unresolved = "\n".join(
            f"  {f.node}.{f.knob}: {f.text}" for f in read.findings if f.rule == "output-unresolved"
        )
        named = ", ".join(display_path(t) for t in targets)
        raise SceneRefused(
            f"{named} is not written by {scene}: "
            + (f"its Write nodes write\n{listed}" if listed else "it has no enabled Write node")
            + (f"\nand these Write paths could not be read:\n{unresolved}" if unresolved else "")
            + "\nGive the script that rendered it (--scene), or the render that script writes. "
            "Nothing was recorded."
        )
    if read.unresolved and not allow_unresolved:
        listed = "\n".join(f"  {f.message}" for f in read.unresolved)
        raise SceneRefused(
            f"{scene} reads inputs whose paths cannot be worked out, so its lineage would be "
            f"incomplete:\n{listed}\nName each with --from PATH and pass --allow-unresolved "
            "(the ingest then records them as unresolved in its event), or make the paths "
            "plain in the scene. Nothing was recorded."
        )


def renders(target: bytes, output: bytes) -> bool:
    """Whether an ingest target (a file, a frame, a pattern or a folder) is what `output` names."""
    target = os.path.normpath(target)
    if target == output:
        return True
    if os.path.isdir(target):
        return output.startswith(target.rstrip(b"/") + b"/")
    return _sequence_key(target) is not None and _sequence_key(target) == _sequence_key(output)


def _outputs_of(outputs: Sequence[bytes], targets: Sequence[bytes]) -> Callable[[bytes], bool]:
    """Whether a path is one the scene writes or the ingest records (`renders`, for many paths)."""
    named = [os.path.normpath(p) for p in [*outputs, *targets]]
    exact = set(named)
    keys = {key for key in map(_sequence_key, named) if key is not None}
    folders = tuple(t.rstrip(b"/") + b"/" for t in named if os.path.isdir(t))
    return lambda path: path in exact or path.startswith(folders) or _sequence_key(path) in keys


def _sequence_key(path: bytes) -> tuple[bytes, bytes, bytes] | None:
    """(folder, head, tail) of a pattern or of a frame, whatever its padding."""
    from provenance.scenes import normalize_tokens

    folder, name = os.path.split(path)
    name = os.fsencode(normalize_tokens(os.fsdecode(name)))
    match = _TOKEN.match(name) or FRAME_NAME.match(name)
    if match is None:
        return None
    return folder, match.group("head"), match.group("tail")


# ---------------------------------------------------------------------------------------------
# Planning (reads only)


def plan_lineage(
    session: Session,
    roots: RootMap,
    read: SceneRead,
    hasher: Hasher,
    racy_window_ns: int,
    exclude: Sequence[bytes] = (),
) -> LineagePlan:
    """Find each input on disk, fingerprint it and match it to a recorded version. Writes nothing."""
    merged: dict[bytes, _Input] = {}
    for given in read.inputs:
        entry = merged.get(given.path)
        if entry is None:
            entry = merged[given.path] = _Input(given.path, [], [])
        entry.nodes.append(given.where)
        entry.ranges.append(given.frames)
    inputs = list(merged.values())
    outputs = [o.path for o in read.outputs]
    folders = _Folders()
    is_output = _outputs_of(outputs, exclude)
    for item in inputs:
        if is_output(item.path):
            item.status = OUTPUT
            continue
        item.on_disk = _on_disk(item.path, folders)
        item.asset_path = item.on_disk.pattern if item.on_disk is not None else item.path
    stream = StatCache(session, roots, hasher, racy_window_ns).stream()
    stream.take([m for i in inputs if i.on_disk is not None for m in i.on_disk.members], True)
    digests, refresh = stream.finish()
    recorded = _recorded_assets(session, roots, inputs)
    versions = _versions(session, {asset_id for asset_id, _ in recorded.values()})
    for item in inputs:
        if item.status == OUTPUT:
            continue
        asset = recorded.get(item.asset_path)
        if (
            item.on_disk is None
            or any(m.path not in digests for m in item.on_disk.members)
            or (item.on_disk.kind is not AssetKind.FILE and not item.frames_read)
        ):
            item.status = MISSING
            if asset is not None:
                item.version_id = versions[asset[0]][0][0]
            continue
        if asset is None:
            item.status = UNRECORDED
            continue
        wanted = [
            (m.frame if item.frame is None else item.frame, digests[m.path][0])
            for m in item.on_disk.members
            if m.frame is None or m.frame in set(item.frames_read)
        ]
        all_versions = versions[asset[0]]
        match = next(
            (v for v, members in all_versions if all(members.get(f) == d for f, d in wanted)), None
        )
        if match is None:
            item.status = NEW_BYTES
            continue
        item.status = PINNED
        item.version_id = match
        if match != all_versions[0][0]:
            item.latest = asset[1]
    return LineagePlan(read, inputs, refresh, digests)


_PATTERN = re.compile(rb"^(?P<head>.*?)(?P<token>#+|<UDIM>)(?P<tail>[^#]*)$")


class _Folders:
    """Folder listings, each read once, their names indexed by what surrounds a frame number
    (a script's 500 Reads often share a few folders)."""

    def __init__(self) -> None:
        self._index: dict[bytes, dict[tuple[bytes, bytes], list[tuple[int, bytes, bytes]]]] = {}

    def numbered(self, folder: bytes, head: bytes, tail: bytes) -> list[tuple[int, bytes, bytes]]:
        """(frame, digits, name) of the folder's names that are head + a number + tail."""
        index = self._index.get(folder)
        if index is None:
            index = self._index[folder] = {}
            try:
                names = os.listdir(folder)
            except OSError:
                names = []
            for name in names:
                match = FRAME_NAME.match(name)
                if match is not None:
                    digits = match.group("frame")
                    key = (match.group("head"), match.group("tail"))
                    index.setdefault(key, []).append((int(digits), digits, name))
        return index.get((head, tail), [])


def _on_disk(path: bytes, folders: _Folders) -> ScannedAsset | None:
    """The asset a path names as it is on disk: a file, or every frame or tile of a pattern
    (links followed, as the application reading them would); None when nothing is there."""
    folder, name = os.path.split(path)
    pattern = _PATTERN.match(name)
    if pattern is None:
        real = os.path.realpath(path) if os.path.islink(path) else path
        st = _regular(real)
        if st is None:
            return None
        return ScannedAsset(AssetKind.FILE, real, [ScannedFile(real, StatFingerprint.of(st))])
    head, token, tail = pattern.group("head"), pattern.group("token"), pattern.group("tail")
    udim = token == UDIM_TOKEN
    padding = 4 if udim else len(token)
    members: list[ScannedFile] = []
    widths: set[int] = set()
    for frame, digits, entry in sorted(folders.numbered(folder, head, tail)):
        # `####` also takes wider unpadded frames (10000), as a scan of the pattern does.
        if len(digits) != padding and (len(digits) < padding or digits.startswith(b"0")):
            continue
        full = os.path.join(folder, entry)
        st = _regular(full)
        if st is not None:
            members.append(ScannedFile(full, StatFingerprint.of(st), frame))
            widths.add(len(digits))
    if not members:
        return None
    if udim:
        return ScannedAsset(AssetKind.UDIM, path, members)
    # `%d` and `#` read 1001 as well as 0001: name the sequence by the digits on disk.
    width = widths.pop() if len(widths) == 1 else padding
    return ScannedAsset(
        AssetKind.SEQUENCE, os.path.join(folder, head + b"#" * width + tail), members
    )


def _regular(path: bytes) -> os.stat_result | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st if stat.S_ISREG(st.st_mode) else None


_ASSETS = select(Asset.pattern, Asset.id, Asset.latest_version).where(
    Asset.root_id == bindparam("root")
)


def _recorded_assets(
    session: Session, roots: RootMap, inputs: list[_Input]
) -> dict[bytes, tuple[int, int]]:
    """absolute asset path -> (asset id, latest version number), for the inputs' paths and,
    for a lone file that looks like a frame, the sequences or UDIM sets it could be part of."""
    candidates: dict[bytes, list[bytes]] = {}
    for item in inputs:
        if item.status == OUTPUT:
            continue
        names = [item.asset_path]
        if item.on_disk is None or item.on_disk.kind is AssetKind.FILE:
            names += _frame_of(item.asset_path)
        candidates[item.asset_path] = names
    wanted: dict[int, dict[bytes, bytes]] = {}
    for names in candidates.values():
        for name in names:
            root_id, relative = roots.split(name)
            wanted.setdefault(root_id, {})[relative] = name
    found: dict[bytes, tuple[int, int]] = {}
    connection = session.connection()
    for root_id, relatives in wanted.items():
        for relative, asset_id, latest in bulk.select_in(
            connection, _ASSETS, Asset.pattern, sorted(relatives), {"root": root_id}
        ):
            found[relatives[relative]] = (asset_id, latest)
    result: dict[bytes, tuple[int, int]] = {}
    for item in inputs:
        names = candidates.get(item.asset_path, [])
        for name in names:
            if name in found:
                if name != item.asset_path:
                    # A lone frame of a recorded sequence: it is that frame of the sequence.
                    match = FRAME_NAME.match(os.path.basename(item.asset_path))
                    assert match is not None
                    item.frame = int(match.group("frame"))
                    item.asset_path = name
                result[item.asset_path] = found[name]
                break
    return result


def _frame_of(path: bytes) -> list[bytes]:
    folder, name = os.path.split(path)
    match = FRAME_NAME.match(name)
    if match is None:
        return []
    head, digits, tail = match.group("head"), match.group("frame"), match.group("tail")
    names = [head + b"#" * len(digits) + tail, head + UDIM_TOKEN + tail]
    if len(digits) > 1 and not digits.startswith(b"0"):
        names.append(head + b"#" + tail)
    return [os.path.join(folder, n) for n in names]


def _versions(
    session: Session, asset_ids: set[int]
) -> dict[int, list[tuple[int, dict[int | None, str]]]]:
    """asset -> [(version id, {frame: digest})], newest version first."""
    members: dict[int, dict[int | None, str]] = {}
    owner: dict[int, tuple[int, int]] = {}
    connection = session.connection()
    for chunk in chunked(sorted(asset_ids)):
        rows = connection.execute(
            select(
                AssetVersion.asset_id,
                AssetVersion.number,
                AssetVersion.id,
                Member.frame,
                Content.digest,
            )
            .join(Member, Member.version_id == AssetVersion.id)
            .join(Content, Content.id == Member.content_id)
            .where(AssetVersion.asset_id.in_(chunk))
        )
        for asset_id, number, version_id, frame, digest in rows:
            owner[version_id] = (asset_id, number)
            members.setdefault(version_id, {})[frame] = digest
    by_asset: dict[int, list[tuple[int, int, dict[int | None, str]]]] = {}
    for version_id, (asset_id, number) in owner.items():
        by_asset.setdefault(asset_id, []).append((number, version_id, members[version_id]))
    return {
        asset_id: [(v, m) for _, v, m in sorted(found, key=lambda x: -x[0])]
        for asset_id, found in by_asset.items()
    }


# ---------------------------------------------------------------------------------------------
# Recording (in the caller's unit of work)


def record_lineage(
    session: Session,
    roots: RootMap,
    hasher: Hasher,
    plan: LineagePlan,
    unit: UnitOfWork,
    scene_claim: ClaimSpec | None,
    racy_window_ns: int,
) -> tuple[list[ParentSpec], SceneLineage]:
    """Record the inputs nobody recorded (origin unknown) and the scene file, and return the
    render's parents: `contains` each pinned input, `references` the scene."""
    record_refresh(session, roots, plan.refresh)
    to_record = plan.to_record
    if to_record:
        inputs = Ingester(
            session, roots, unit, hasher, racy_window_ns=racy_window_ns, intent=PLAIN_INTENT
        )
        report = inputs.run([i.asset_path for i in to_record])
        recorded = {ref.path: ref.version_id for ref in report.assets}
        for item in to_record:
            item.version_id = recorded.get(item.asset_path)
    scene = Ingester(
        session,
        roots,
        unit,
        hasher,
        scene_claim,
        racy_window_ns=racy_window_ns,
        intent=intent_digest({"claim": scene_claim} if scene_claim else None),
    )
    scene_refs = scene.run([plan.read.path]).assets
    scene_version = scene_refs[0].version_id if len(scene_refs) else None
    parents = [
        ParentSpec(version_id, EdgeKind.CONTAINS)
        for version_id in dict.fromkeys(i.version_id for i in plan.inputs)
        if version_id is not None
    ]
    if scene_version is not None:
        parents.append(ParentSpec(scene_version, EdgeKind.REFERENCES))
    unit.payload["scene"] = {
        "path": display_path(plan.read.path),
        "kind": plan.read.kind.value,
        "inputs": [
            {"path": display_path(i.asset_path), "status": i.status, "version_id": i.version_id}
            for i in plan.inputs
        ],
        "unresolved": [f.message for f in plan.read.unresolved],
    }
    return parents, lineage_report(session, roots, plan, scene_version)


def lineage_report(
    session: Session, roots: RootMap, plan: LineagePlan, scene_version: int | None = None
) -> SceneLineage:
    """The plan (or what was recorded) as the library reports it."""
    versions = [i.version_id for i in plan.inputs if i.version_id is not None]
    if scene_version is not None:
        versions.append(scene_version)
    refs: dict[int, AssetRef] = asset_refs(session, roots, versions) if versions else {}
    summaries = origin_summaries(session, versions) if versions else {}
    pinned = []
    for item in plan.inputs:
        ref = refs.get(item.version_id) if item.version_id is not None else None
        origin = summaries[item.version_id].origin if item.version_id is not None else None
        if origin is None and item.status in (NEW_BYTES, UNRECORDED):
            origin = Origin.UNKNOWN
        pinned.append(
            PinnedInput(
                path=item.asset_path,
                nodes=tuple(item.nodes),
                frames=tuple(item.frames_read),
                status=item.status,
                asset=ref,
                latest=item.latest,
                origin=origin,
            )
        )
    return SceneLineage(
        scene=plan.read.path,
        kind=plan.read.kind.value,
        tool=plan.read.kind.tool,
        inputs=pinned,
        outputs=[o.path for o in plan.read.outputs],
        findings=list(plan.read.findings),
        scene_asset=refs.get(scene_version) if scene_version is not None else None,
    )

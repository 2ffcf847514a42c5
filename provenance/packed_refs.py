"""Asset references held compactly: an ingest of a million files reports hundreds of thousands
of assets (`AssetRefs`, a sequence of `records.AssetRef` kept in a few flat arrays), and a
folder sealed as a copy keeps its assets' references as one packed block (`pack_folder`)."""

from __future__ import annotations

import struct
import sys
from array import array
from collections.abc import Iterable, Sequence
from typing import overload

from provenance.records import AssetRef

__all__ = ["AssetRefs", "pack_folder", "packed_here"]


def _xxh3_128_value(digest: str) -> bytes | None:
    """The 16 bytes of an `xxh3-128:<32 lowercase hex>` digest, else None."""
    if len(digest) != 41 or not digest.startswith("xxh3-128:") or digest != digest.lower():
        return None
    try:
        return bytes.fromhex(digest[9:])
    except ValueError:
        return None


_BYTE_ORDER = b"L" if sys.byteorder == "little" else b"B"
_COUNT = struct.Struct("=I")
_PACKED_KINDS = ("file", "sequence", "udim")


def pack_folder(refs: Sequence[tuple[int, int, int, bytes, str, str]]) -> bytes | None:
    """(asset id, version id, number, name within the folder, kind, digest) in a block that
    `AssetRefs.add_packed` reads back in a few array copies; None when a digest or kind is
    one the block has no room for."""
    numbers = array("q")
    kinds = bytearray()
    digests = bytearray()
    ends = array("Q")
    names = bytearray()
    for asset_id, version_id, number, name, kind, digest in refs:
        value = _xxh3_128_value(digest)
        if value is None or kind not in _PACKED_KINDS:
            return None
        numbers.extend((asset_id, version_id, number))
        kinds.append(_PACKED_KINDS.index(kind))
        digests += value
        names += name
        ends.append(len(names))
    return b"".join(
        (
            _BYTE_ORDER,
            _COUNT.pack(len(ends)),
            numbers.tobytes(),
            bytes(kinds),
            bytes(digests),
            ends.tobytes(),
            bytes(names),
        )
    )


def packed_here(block: bytes) -> bool:
    """Whether `pack_folder` made this block on a machine of this byte order."""
    return block[:1] == _BYTE_ORDER


class AssetRefs(Sequence[AssetRef]):
    """AssetRefs in the order they were added: a list, held in a few flat arrays.

    An ingest of a million files reports hundreds of thousands of assets. As AssetRef objects
    they took about 450 bytes each (300 MB for 640,000); here a folder is kept once, and a name,
    three numbers, a kind and a digest take about 80 bytes. Each AssetRef is made on access.
    """

    def __init__(self, refs: Iterable[AssetRef] = ()) -> None:
        self._numbers = array("q")
        """asset id, version id, version number: three a ref."""
        self._folders: list[bytes] = []
        self._folder_index: dict[bytes, int] = {}
        self._folder_of = array("L")
        self._names = bytearray()
        self._name_ends = array("Q")
        self._kinds: dict[str, int] = {}
        self._kind_names: list[str] = []
        """`_kinds` by index (an access must not rebuild this list)."""
        self._kind_of = bytearray()
        self._digests = bytearray()
        """16 bytes a ref: the xxh3-128 value; other digests are kept whole in `_other_digests`."""
        self._other_digests: dict[int, str] = {}
        for ref in refs:
            self.append(ref)

    def append(self, ref: AssetRef) -> None:
        self.add(ref.asset_id, ref.version_id, ref.version, ref.path, ref.kind, ref.digest)

    def add(
        self, asset_id: int, version_id: int, version: int, path: bytes, kind: str, digest: str
    ) -> None:
        """Append the ref these make (without making it)."""
        index = len(self._name_ends)
        self._numbers.extend((asset_id, version_id, version))
        head, slash, name = path.rpartition(b"/")
        folder = head + slash
        folder_id = self._folder_index.get(folder)
        if folder_id is None:
            folder_id = self._folder_index[folder] = len(self._folders)
            self._folders.append(folder)
        self._folder_of.append(folder_id)
        self._names += name
        self._name_ends.append(len(self._names))
        self._kind_of.append(self._kind_code(kind))
        value = _xxh3_128_value(digest)
        if value is None:
            value = bytes(16)
            self._other_digests[index] = digest
        self._digests += value

    def add_packed(self, folder: bytes, block: bytes) -> bool:
        """Append the refs `pack_folder` packed for `folder` (ending in `/`): a sealed folder's
        assets, added without making a ref or a tuple each. False (nothing added) when the
        block was packed on a machine of the other byte order."""
        if not packed_here(block):
            return False
        (count,) = _COUNT.unpack_from(block, 1)
        at = 1 + _COUNT.size
        numbers = array("q")
        numbers.frombytes(block[at : at + 24 * count])
        at += 24 * count
        kinds = block[at : at + count]
        at += count
        digests = block[at : at + 16 * count]
        at += 16 * count
        ends = array("Q")
        ends.frombytes(block[at : at + 8 * count])
        at += 8 * count
        folder_id = self._folder_index.get(folder)
        if folder_id is None:
            folder_id = self._folder_index[folder] = len(self._folders)
            self._folders.append(folder)
        table = bytearray(256)
        for code, kind in enumerate(_PACKED_KINDS):
            table[code] = self._kind_code(kind)
        base = len(self._names)
        self._numbers.extend(numbers)
        self._folder_of.extend(array("L", [folder_id]) * count)
        self._names += block[at:]
        self._name_ends.extend(array("Q", [base + end for end in ends]))
        self._kind_of += kinds.translate(table)
        self._digests += digests
        return True

    def _kind_code(self, kind: str) -> int:
        code = self._kinds.get(kind)
        if code is None:
            code = self._kinds[kind] = len(self._kind_names)
            self._kind_names.append(kind)
        return code

    def __len__(self) -> int:
        return len(self._name_ends)

    @overload
    def __getitem__(self, index: int) -> AssetRef: ...

    @overload
    def __getitem__(self, index: slice) -> list[AssetRef]: ...

    def __getitem__(self, index: int | slice) -> AssetRef | list[AssetRef]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("AssetRefs index out of range")
        start = self._name_ends[index - 1] if index else 0
        name = bytes(self._names[start : self._name_ends[index]])
        folder = self._folders[self._folder_of[index]]
        digest = self._other_digests.get(index)
        if digest is None:
            digest = "xxh3-128:" + self._digests[16 * index : 16 * index + 16].hex()
        asset_id, version_id, version = self._numbers[3 * index : 3 * index + 3]
        kind = self._kind_names[self._kind_of[index]]
        return AssetRef(asset_id, version_id, version, folder + name, kind, digest)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, AssetRefs | list):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"AssetRefs({list(self)!r})"

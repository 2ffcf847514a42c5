"""The ledger's Merkle tree: RFC 9162 (Certificate Transparency v2) hashing, proofs and their checks.

Pure: bytes in, bytes out; SHA-256 throughout. A leaf is the raw entry bytes; everything past
`leaf_hash` works on leaf hashes (32 bytes each), so a caller hashes each entry once and keeps it.
Generating a proof from bad arguments raises `ValueError`; verifying never raises: any proof or
claim that does not check out is simply `False`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

__all__ = [
    "EMPTY_ROOT",
    "CompactTree",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root",
    "verify_consistency",
    "verify_inclusion",
]


HASH_SIZE = 32
# RFC 9162 2.1.1: MTH({}) = HASH(), the hash of the empty string.
EMPTY_ROOT = hashlib.sha256().digest()
# The one-byte prefixes keep a leaf from ever hashing like an inner node (second preimages).
_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"


def leaf_hash(data: bytes) -> bytes:
    """HASH(0x00 || data): the hash of one entry as a leaf of the tree."""
    return hashlib.sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """HASH(0x01 || left || right): the hash of an inner node from its two children."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH over already-hashed leaves: the root of the tree that holds them, in order."""
    _check_leaf_hashes(leaf_hashes)
    if not leaf_hashes:
        return EMPTY_ROOT
    return _subtree_root(leaf_hashes, 0, len(leaf_hashes))


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int) -> list[bytes]:
    """PATH(index, D[n]) (RFC 9162 2.1.3.1): the siblings from leaf `index` up to the root."""
    _check_leaf_hashes(leaf_hashes)
    size = len(leaf_hashes)
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is outside a tree of {size} leaves")
    # PATH recurses into the half that holds the leaf and appends the other half's root, so the
    # walk down from the root meets the siblings in reverse order of the path.
    siblings: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        middle = start + _split(end - start)
        if index < middle:
            siblings.append(_subtree_root(leaf_hashes, middle, end))
            end = middle
        else:
            siblings.append(_subtree_root(leaf_hashes, start, middle))
            start = middle
    siblings.reverse()
    return siblings


def verify_inclusion(
    leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """Whether `proof` shows `leaf_hash` at `index` in the tree of `tree_size` leaves with `root`.

    RFC 9162 2.1.3.2, step by step; a wrong index, size, root or proof element gives `False`.
    """
    if not 0 <= index < tree_size:
        return False
    if not _all_hash_sized([leaf_hash, root, *proof]):
        return False
    fn, sn = index, tree_size - 1
    computed = leaf_hash
    for sibling in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            computed = node_hash(sibling, computed)
            # The last node of a level with no right sibling is carried up unchanged: skip the
            # levels where this subtree is the rightmost, incomplete one.
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            computed = node_hash(computed, sibling)
        fn >>= 1
        sn >>= 1
    return sn == 0 and computed == root


def consistency_proof(leaf_hashes: Sequence[bytes], old_size: int) -> list[bytes]:
    """PROOF(old_size, D[n]) (RFC 9162 2.1.4.1): shows the first `old_size` leaves are a prefix.

    RFC 9162 defines the proof for 0 < old_size < n; `old_size == n` gives the empty proof
    (its SUBPROOF base case), and `old_size == 0` is refused: the empty tree is a prefix of every
    tree, so there is nothing to prove.
    """
    _check_leaf_hashes(leaf_hashes)
    size = len(leaf_hashes)
    if old_size < 1:
        raise ValueError(
            f"old_size is {old_size}: RFC 9162 consistency proofs start from a tree of at least "
            "one leaf (every tree extends the empty tree; there is nothing to prove)"
        )
    if old_size > size:
        raise ValueError(f"old_size {old_size} is larger than the tree of {size} leaves")
    # SUBPROOF, unrolled: `remaining` is the part of the old tree inside [start, end), and
    # `whole_old_tree` is its `b` flag, true while that part is the whole old tree (whose root
    # the verifier already has, so it is left out).
    outer: list[bytes] = []
    start, end, remaining = 0, size, old_size
    whole_old_tree = True
    while remaining != end - start:
        half = _split(end - start)
        if remaining <= half:
            outer.append(_subtree_root(leaf_hashes, start + half, end))
            end = start + half
        else:
            outer.append(_subtree_root(leaf_hashes, start, start + half))
            start += half
            remaining -= half
            whole_old_tree = False
    proof = [] if whole_old_tree else [_subtree_root(leaf_hashes, start, end)]
    proof.extend(reversed(outer))
    return proof


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Whether `proof` shows the tree (`old_size`, `old_root`) is a prefix of (`new_size`, `new_root`).

    RFC 9162 2.1.4.2, step by step, for 0 < old_size < new_size. Equal sizes hold when the roots
    are equal and the proof is empty; `old_size == 0` and `old_size > new_size` are `False`.
    """
    if not _all_hash_sized([old_root, new_root, *proof]):
        return False
    if old_size < 1 or old_size > new_size:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if not proof:
        return False
    path = list(proof)
    # A power-of-two old tree is a complete subtree of the new one, so the proof omits its root.
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    old_computed = new_computed = path[0]
    for node in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            old_computed = node_hash(node, old_computed)
            new_computed = node_hash(node, new_computed)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            new_computed = node_hash(new_computed, node)
        fn >>= 1
        sn >>= 1
    return sn == 0 and old_computed == old_root and new_computed == new_root


class CompactTree:
    """An append-only tree that keeps only the roots of its complete subtrees (O(log n) memory).

    `CompactTree(hashes).root() == root(hashes)`; appending one leaf costs O(1) hashes on average.
    """

    __slots__ = ("_peaks", "_size")

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        # The roots of the complete subtrees that make up the tree, largest (leftmost) first:
        # one per set bit of the size.
        self._peaks: list[bytes] = []
        self._size = 0
        self.extend(leaf_hashes)

    @property
    def size(self) -> int:
        """The number of leaves appended so far."""
        return self._size

    def append(self, leaf_hash: bytes) -> None:
        """Add one leaf hash at the end of the tree."""
        if len(leaf_hash) != HASH_SIZE:
            raise ValueError(_wrong_size_message(self._size, leaf_hash))
        peaks = self._peaks
        peaks.append(leaf_hash)
        # Two complete subtrees of equal size merge, like carries in binary addition.
        carries = self._size
        while carries & 1:
            right = peaks.pop()
            peaks[-1] = node_hash(peaks[-1], right)
            carries >>= 1
        self._size += 1

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        """Add leaf hashes at the end of the tree, in order."""
        for one in leaf_hashes:
            self.append(one)

    def root(self) -> bytes:
        """MTH of the leaves so far."""
        if not self._peaks:
            return EMPTY_ROOT
        # MTH splits at the largest power of two, so the smaller subtrees on the right nest
        # inside each other: fold them from the right.
        computed = self._peaks[-1]
        for peak in reversed(self._peaks[:-1]):
            computed = node_hash(peak, computed)
        return computed


def _subtree_root(leaf_hashes: Sequence[bytes], start: int, end: int) -> bytes:
    """MTH of the non-empty `leaf_hashes[start:end]`, one level at a time."""
    level = list(leaf_hashes[start:end])
    sha256 = hashlib.sha256
    while len(level) > 1:
        pairs = iter(level)
        # Pairing stops short of an odd node out: it is the root of the incomplete rightmost
        # subtree, which MTH pairs only once the left side has grown to its height, so it moves
        # up a level unchanged.
        paired = [
            sha256(_NODE_PREFIX + left + right).digest()
            for left, right in zip(pairs, pairs, strict=False)
        ]
        if len(level) & 1:
            paired.append(level[-1])
        level = paired
    return level[0]


def _split(size: int) -> int:
    """The largest power of two smaller than `size` (> 1): where MTH splits a tree."""
    return 1 << ((size - 1).bit_length() - 1)


def _check_leaf_hashes(leaf_hashes: Sequence[bytes]) -> None:
    """Refuse anything that is not a leaf hash (the usual mistake: raw entries)."""
    if _all_hash_sized(leaf_hashes):
        return
    for position, one in enumerate(leaf_hashes):
        if len(one) != HASH_SIZE:
            raise ValueError(_wrong_size_message(position, one))


def _wrong_size_message(position: int, value: bytes) -> str:
    return (
        f"leaf hash {position} is {len(value)} bytes, not {HASH_SIZE}: "
        "pass leaf_hash(entry), not the entry itself"
    )


def _all_hash_sized(hashes: Iterable[bytes]) -> bool:
    return all(len(one) == HASH_SIZE for one in hashes)

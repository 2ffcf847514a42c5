"""The RFC 9162 Merkle tree (pure): published CT vectors, an independent naive model, forgeries."""

from __future__ import annotations

import hashlib

import pytest

from provenance.merkle import (
    EMPTY_ROOT,
    CompactTree,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    verify_consistency,
    verify_inclusion,
)

# The reference inputs of the Certificate Transparency Merkle tests (google/certificate-transparency
# merkle_tree_test.cc, transparency-dev/merkle testonly/constants.go); the hex below is theirs.
CT_ENTRIES = [
    bytes.fromhex(text)
    for text in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
CT_LEAF_HASHES = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
    "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
    "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
    "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
]
# CT_ROOTS[n] is the root of the first n entries.
CT_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
# (index, tree size, path)
CT_INCLUSION_PROOFS = [
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (0, 1, []),
]
# (old size, new size, proof)
CT_CONSISTENCY_PROOFS = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        3,
        7,
        [
            "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
            "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            "837dbb152e9b079010717e84e865da4ebc0fa198a806d59d31bf15accef22d0e",
        ],
    ),
    (4, 7, ["837dbb152e9b079010717e84e865da4ebc0fa198a806d59d31bf15accef22d0e"]),
    (
        6,
        7,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]

MAX_SIZE = 20
ENTRIES = CT_ENTRIES + [f"entry {number}".encode() for number in range(len(CT_ENTRIES), MAX_SIZE)]
LEAF_HASHES = [leaf_hash(entry) for entry in ENTRIES]


# A second implementation, written straight from the definitions of RFC 9162 2.1 (MTH, PATH,
# PROOF, SUBPROOF): recursive over copies of the raw entries, slow, and hard to get wrong. The
# module under test must agree with it everywhere.


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _largest_power_of_two_below(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def naive_mth(entries: list[bytes]) -> bytes:
    n = len(entries)
    if n == 0:
        return _sha256(b"")
    if n == 1:
        return _sha256(b"\x00" + entries[0])
    k = _largest_power_of_two_below(n)
    return _sha256(b"\x01" + naive_mth(entries[:k]) + naive_mth(entries[k:]))


def naive_path(m: int, entries: list[bytes]) -> list[bytes]:
    n = len(entries)
    if n == 1:
        return []
    k = _largest_power_of_two_below(n)
    if m < k:
        return [*naive_path(m, entries[:k]), naive_mth(entries[k:])]
    return [*naive_path(m - k, entries[k:]), naive_mth(entries[:k])]


def naive_proof(m: int, entries: list[bytes]) -> list[bytes]:
    return naive_subproof(m, entries, True)


def naive_subproof(m: int, entries: list[bytes], b: bool) -> list[bytes]:
    n = len(entries)
    if m == n:
        return [] if b else [naive_mth(entries)]
    k = _largest_power_of_two_below(n)
    if m <= k:
        return [*naive_subproof(m, entries[:k], b), naive_mth(entries[k:])]
    return [*naive_subproof(m - k, entries[k:], False), naive_mth(entries[:k])]


def _flip_bit(value: bytes, position: int = 0) -> bytes:
    changed = bytearray(value)
    changed[position] ^= 0x01
    return bytes(changed)


def _hexes(values: list[bytes]) -> list[str]:
    return [value.hex() for value in values]


# The published vectors.


def test_leaf_hashes_are_the_published_ones() -> None:
    assert _hexes([leaf_hash(entry) for entry in CT_ENTRIES]) == CT_LEAF_HASHES


def test_node_hash_prefixes_one_byte_and_concatenates() -> None:
    left, right = LEAF_HASHES[0], LEAF_HASHES[1]
    assert node_hash(left, right) == hashlib.sha256(b"\x01" + left + right).digest()
    assert node_hash(left, right).hex() == CT_ROOTS[2]
    assert node_hash(left, right) != node_hash(right, left)


def test_empty_tree_root_is_the_hash_of_nothing() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert root([]) == EMPTY_ROOT
    assert CompactTree().root() == EMPTY_ROOT


def test_the_roots_quoted_in_the_brief() -> None:
    assert root(LEAF_HASHES[:1]).hex() == (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    )
    assert root(LEAF_HASHES[:8]).hex() == (
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
    )


@pytest.mark.parametrize("size", range(len(CT_ROOTS)))
def test_published_root_for_each_size(size: int) -> None:
    assert root(LEAF_HASHES[:size]).hex() == CT_ROOTS[size]
    assert CompactTree(LEAF_HASHES[:size]).root().hex() == CT_ROOTS[size]
    assert naive_mth(CT_ENTRIES[:size]).hex() == CT_ROOTS[size]


@pytest.mark.parametrize(("index", "size", "path"), CT_INCLUSION_PROOFS)
def test_published_inclusion_proofs(index: int, size: int, path: list[str]) -> None:
    proof = inclusion_proof(LEAF_HASHES[:size], index)
    assert _hexes(proof) == path
    assert verify_inclusion(LEAF_HASHES[index], index, size, proof, bytes.fromhex(CT_ROOTS[size]))


@pytest.mark.parametrize(("old_size", "new_size", "path"), CT_CONSISTENCY_PROOFS)
def test_published_consistency_proofs(old_size: int, new_size: int, path: list[str]) -> None:
    proof = consistency_proof(LEAF_HASHES[:new_size], old_size)
    assert _hexes(proof) == path
    old_root, new_root = bytes.fromhex(CT_ROOTS[old_size]), bytes.fromhex(CT_ROOTS[new_size])
    assert verify_consistency(old_size, new_size, old_root, new_root, proof)


# Agreement with the naive model, for every size, index and old size up to MAX_SIZE.


@pytest.mark.parametrize("size", range(MAX_SIZE + 1))
def test_root_matches_the_rfc_definition(size: int) -> None:
    expected = naive_mth(ENTRIES[:size])
    assert root(LEAF_HASHES[:size]) == expected
    assert CompactTree(LEAF_HASHES[:size]).root() == expected


def test_compact_tree_root_after_every_append() -> None:
    tree = CompactTree()
    for size, one in enumerate(LEAF_HASHES, start=1):
        tree.append(one)
        assert tree.size == size
        assert tree.root() == naive_mth(ENTRIES[:size])


@pytest.mark.parametrize("size", range(1, MAX_SIZE + 1))
def test_inclusion_proofs_match_the_rfc_path(size: int) -> None:
    tree_root = naive_mth(ENTRIES[:size])
    for index in range(size):
        proof = inclusion_proof(LEAF_HASHES[:size], index)
        assert proof == naive_path(index, ENTRIES[:size])
        assert verify_inclusion(LEAF_HASHES[index], index, size, proof, tree_root)


@pytest.mark.parametrize("new_size", range(1, MAX_SIZE + 1))
def test_consistency_proofs_match_the_rfc_proof(new_size: int) -> None:
    new_root = naive_mth(ENTRIES[:new_size])
    for old_size in range(1, new_size + 1):
        proof = consistency_proof(LEAF_HASHES[:new_size], old_size)
        assert proof == naive_proof(old_size, ENTRIES[:new_size])
        old_root = naive_mth(ENTRIES[:old_size])
        assert verify_consistency(old_size, new_size, old_root, new_root, proof)


def test_a_tree_is_consistent_with_itself_by_the_empty_proof() -> None:
    tree_root = root(LEAF_HASHES)
    assert consistency_proof(LEAF_HASHES, len(LEAF_HASHES)) == []
    assert verify_consistency(MAX_SIZE, MAX_SIZE, tree_root, tree_root, [])
    assert not verify_consistency(MAX_SIZE, MAX_SIZE, tree_root, _flip_bit(tree_root), [])
    assert not verify_consistency(MAX_SIZE, MAX_SIZE, tree_root, tree_root, [tree_root])


# Inclusion proofs that must not verify.


@pytest.mark.parametrize("size", range(1, MAX_SIZE + 1))
def test_inclusion_fails_for_anything_but_the_true_claim(size: int) -> None:
    hashes = LEAF_HASHES[:size]
    tree_root = root(hashes)
    for index in range(size):
        proof = inclusion_proof(hashes, index)
        leaf = hashes[index]
        for position in range(len(proof)):
            tampered = list(proof)
            tampered[position] = _flip_bit(proof[position], position % 32)
            assert not verify_inclusion(leaf, index, size, tampered, tree_root)
        for other in range(-1, size + 1):
            if other != index:
                assert not verify_inclusion(leaf, other, size, proof, tree_root)
        assert not verify_inclusion(_flip_bit(leaf), index, size, proof, tree_root)
        assert not verify_inclusion(leaf, index, size, proof, _flip_bit(tree_root))
        if size < MAX_SIZE:
            bigger_root = root(LEAF_HASHES[: size + 1])
            assert not verify_inclusion(leaf, index, size + 1, proof, bigger_root)
        # A tree twice the size is a level taller: the path falls a level short of its root.
        assert not verify_inclusion(leaf, index, 2 * size, proof, tree_root)
        if proof:
            assert not verify_inclusion(leaf, index, size, proof[:-1], tree_root)
        assert not verify_inclusion(leaf, index, size, [*proof, tree_root], tree_root)


def test_inclusion_fails_for_a_proof_from_a_truncated_tree() -> None:
    # The log shows a leaf against the tree it had before its last append, but the client holds
    # the newer root (and size): the stale path must not pass for the current tree.
    for size in range(2, MAX_SIZE + 1):
        current_root = root(LEAF_HASHES[:size])
        for index in range(size - 1):
            stale = inclusion_proof(LEAF_HASHES[: size - 1], index)
            assert not verify_inclusion(LEAF_HASHES[index], index, size, stale, current_root)
            assert not verify_inclusion(LEAF_HASHES[index], index, size - 1, stale, current_root)


def test_inclusion_fails_for_malformed_hashes_instead_of_raising() -> None:
    proof = inclusion_proof(LEAF_HASHES[:8], 3)
    tree_root = root(LEAF_HASHES[:8])
    assert not verify_inclusion(LEAF_HASHES[3], 3, 8, [*proof[:-1], proof[-1][:31]], tree_root)
    assert not verify_inclusion(LEAF_HASHES[3][:16], 3, 8, proof, tree_root)
    assert not verify_inclusion(LEAF_HASHES[3], 3, 8, proof, tree_root + b"\x00")
    assert not verify_inclusion(LEAF_HASHES[3], 0, 0, [], EMPTY_ROOT)


# Consistency proofs that must not verify.


@pytest.mark.parametrize("new_size", range(2, MAX_SIZE + 1))
def test_consistency_fails_for_anything_but_the_true_claim(new_size: int) -> None:
    hashes = LEAF_HASHES[:new_size]
    new_root = root(hashes)
    for old_size in range(1, new_size):
        proof = consistency_proof(hashes, old_size)
        old_root = root(hashes[:old_size])
        for position in range(len(proof)):
            tampered = list(proof)
            tampered[position] = _flip_bit(proof[position], position % 32)
            assert not verify_consistency(old_size, new_size, old_root, new_root, tampered)
        assert not verify_consistency(old_size, new_size, _flip_bit(old_root), new_root, proof)
        assert not verify_consistency(old_size, new_size, old_root, _flip_bit(new_root), proof)
        assert not verify_consistency(old_size, new_size, old_root, new_root, proof[:-1])
        assert not verify_consistency(old_size, new_size, old_root, new_root, [*proof, new_root])
        assert not verify_consistency(old_size, new_size, old_root, new_root, [])
        # The same proof claimed for other sizes, and the sizes swapped.
        for other_old in range(1, new_size):
            if other_old != old_size:
                other_root = root(hashes[:other_old])
                assert not verify_consistency(other_old, new_size, other_root, new_root, proof)
        assert not verify_consistency(new_size, old_size, new_root, old_root, proof)
        # A tree twice the size is a level taller: the proof falls a level short of its root.
        assert not verify_consistency(old_size, 2 * new_size, old_root, new_root, proof)
        assert not verify_consistency(0, new_size, EMPTY_ROOT, new_root, proof)
        # A proof for a tree that lost its last leaf does not reach the longer tree's root.
        if old_size < new_size - 1:
            truncated = consistency_proof(hashes[:-1], old_size)
            assert not verify_consistency(old_size, new_size, old_root, new_root, truncated)


def test_consistency_catches_a_rewritten_early_leaf() -> None:
    # A log that changed entry 1 after publishing tree heads recomputes every root from there on.
    # The old heads a client holds then match no consistency proof the rewritten log can produce,
    # except for the head of size 1, which never contained entry 1.
    forged = list(LEAF_HASHES)
    forged[1] = leaf_hash(b"a different entry 1")
    forged_root = root(forged)
    forged_proofs = [consistency_proof(forged, size) for size in range(1, MAX_SIZE)]
    for old_size in range(2, MAX_SIZE):
        honest_old_root = root(LEAF_HASHES[:old_size])
        assert honest_old_root != root(forged[:old_size])
        for proof in forged_proofs:
            assert not verify_consistency(old_size, MAX_SIZE, honest_old_root, forged_root, proof)
    untouched_root = root(LEAF_HASHES[:1])
    assert verify_consistency(1, MAX_SIZE, untouched_root, forged_root, forged_proofs[0])


def test_consistency_fails_for_malformed_hashes_instead_of_raising() -> None:
    proof = consistency_proof(LEAF_HASHES[:8], 3)
    old_root, new_root = root(LEAF_HASHES[:3]), root(LEAF_HASHES[:8])
    assert not verify_consistency(3, 8, old_root, new_root, [*proof[:-1], proof[-1] + b"\x00"])
    assert not verify_consistency(3, 8, old_root[:31], new_root, proof)
    assert not verify_consistency(-1, 8, old_root, new_root, proof)


# Arguments the generators refuse.


def test_inclusion_proof_refuses_an_index_outside_the_tree() -> None:
    for index in (-1, 8, 9):
        with pytest.raises(ValueError, match="outside a tree of 8 leaves"):
            inclusion_proof(LEAF_HASHES[:8], index)
    with pytest.raises(ValueError, match="outside a tree of 0 leaves"):
        inclusion_proof([], 0)


def test_consistency_proof_refuses_old_sizes_the_rfc_does_not_define() -> None:
    with pytest.raises(ValueError, match="larger than the tree of 8 leaves"):
        consistency_proof(LEAF_HASHES[:8], 9)
    for old_size in (0, -1):
        with pytest.raises(ValueError, match="at least one leaf"):
            consistency_proof(LEAF_HASHES[:8], old_size)


def test_raw_entries_are_refused_where_leaf_hashes_belong() -> None:
    with pytest.raises(
        ValueError, match=r"leaf hash 2 is 1 bytes, not 32: pass leaf_hash\(entry\)"
    ):
        root([*LEAF_HASHES[:2], b"\x10"])
    with pytest.raises(ValueError, match="leaf hash 0 is 0 bytes"):
        inclusion_proof(CT_ENTRIES, 1)
    with pytest.raises(ValueError, match="leaf hash 0 is 0 bytes"):
        consistency_proof(CT_ENTRIES, 1)
    tree = CompactTree(LEAF_HASHES[:3])
    with pytest.raises(ValueError, match="leaf hash 3 is 2 bytes"):
        tree.append(b"ab")
    assert tree.size == 3


# Scale: no recursion limit, no quadratic copying.


def test_a_hundred_thousand_leaves() -> None:
    size = 100_000
    hashes = [leaf_hash(number.to_bytes(8, "big")) for number in range(size)]
    tree_root = root(hashes)
    assert CompactTree(hashes).root() == tree_root

    grown = [*hashes, leaf_hash(b"one more")]
    grown_root = root(grown)
    assert grown_root != tree_root

    index = 54_321
    path = inclusion_proof(grown, index)
    assert len(path) == 17
    assert verify_inclusion(hashes[index], index, size + 1, path, grown_root)
    assert verify_consistency(size, size + 1, tree_root, grown_root, consistency_proof(grown, size))

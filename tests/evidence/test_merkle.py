"""The Merkle tree against RFC 6962's reference vectors and its own brute-force definition.

The vectors are Certificate Transparency's (transparency-dev/merkle
``testonly/constants.go``, used by the Go, C++ and many other CT
implementations): the roots of the trees over the first 1..8 of eight leaf
inputs, and four inclusion proofs. Agreeing with them means a rights holder
can check our proofs with anyone's RFC 6962 verifier.
"""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clearance.evidence.merkle import (
    EMPTY_ROOT,
    MerkleBuilder,
    MerkleTree,
    leaf_hash,
    merkle_root,
    node_hash,
    reference_path,
    reference_root,
    root_from_path,
    verify_inclusion,
)

LEAVES = [
    bytes.fromhex(h)
    for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
              "606162636465666768696a6b6c6d6e6f")
]  # fmt: skip
ROOTS = [
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
INCLUSION = [  # (leaf index, tree size, path)
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]  # fmt: skip


def test_hashing_is_rfc6962() -> None:
    assert hashlib.sha256(b"").digest() == EMPTY_ROOT
    assert leaf_hash(b"ab") == hashlib.sha256(b"\x00ab").digest()
    assert (
        node_hash(b"L" * 32, b"R" * 32) == hashlib.sha256(b"\x01" + b"L" * 32 + b"R" * 32).digest()
    )


@pytest.mark.parametrize("size", range(9))
def test_roots_match_the_reference_vectors(size: int) -> None:
    hashes = [leaf_hash(d) for d in LEAVES[:size]]
    builder = MerkleBuilder()
    for h in hashes:
        builder.add_hash(h)
    assert builder.count == size
    assert builder.root().hex() == ROOTS[size]
    assert MerkleTree(hashes).root.hex() == ROOTS[size]
    assert reference_root(LEAVES[:size]).hex() == ROOTS[size]


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION)
def test_inclusion_paths_match_the_reference_vectors(
    index: int, size: int, path: list[str]
) -> None:
    hashes = [leaf_hash(d) for d in LEAVES[:size]]
    assert [h.hex() for h in MerkleTree(hashes).path(index)] == path
    assert [h.hex() for h in reference_path(index, LEAVES[:size])] == path
    root = bytes.fromhex(ROOTS[size])
    assert verify_inclusion(hashes[index], index, size, [bytes.fromhex(p) for p in path], root)


leaf_lists = st.lists(st.binary(max_size=12), min_size=1, max_size=70)


@settings(max_examples=150, deadline=None)
@given(leaf_lists)
def test_every_implementation_agrees_and_every_path_verifies(data: list[bytes]) -> None:
    hashes = [leaf_hash(d) for d in data]
    tree = MerkleTree(hashes)
    root = reference_root(data)
    assert tree.root == root == merkle_root(hashes)
    for i in range(len(data)):
        path = tree.path(i)
        assert path == reference_path(i, data)
        assert verify_inclusion(hashes[i], i, len(data), path, root)


@settings(max_examples=150, deadline=None)
@given(leaf_lists, st.data())
def test_every_tampered_path_fails(data: list[bytes], draw: st.DataObject) -> None:
    hashes = [leaf_hash(d) for d in data]
    tree = MerkleTree(hashes)
    n = len(data)
    i = draw.draw(st.integers(0, n - 1))
    path = tree.path(i)
    root = tree.root
    bad_leaf = leaf_hash(data[i] + b"x")
    assert not verify_inclusion(bad_leaf, i, n, path, root)
    if path:
        k = draw.draw(st.integers(0, len(path) - 1))
        bit = draw.draw(st.integers(0, 255))
        flipped = bytearray(path[k])
        flipped[bit // 8] ^= 1 << (bit % 8)
        assert not verify_inclusion(
            hashes[i], i, n, [*path[:k], bytes(flipped), *path[k + 1 :]], root
        )
        assert not verify_inclusion(hashes[i], i, n, path[:-1], root)  # truncated
    assert not verify_inclusion(hashes[i], i, n, [*path, b"\x00" * 32], root)  # extended
    other = draw.draw(st.integers(0, n - 1))
    if hashes[other] != hashes[i]:
        assert not verify_inclusion(hashes[i], other, n, path, root)  # wrong place
    assert not verify_inclusion(hashes[i], i, 2 * n + 1, path, root)  # a deeper tree
    assert root_from_path(hashes[i], n, n, path) is None  # index outside the tree


@settings(max_examples=200, deadline=None)
@given(leaf_lists, st.data())
def test_any_single_change_drop_add_or_swap_changes_the_root(
    data: list[bytes], draw: st.DataObject
) -> None:
    root = reference_root(data)
    i = draw.draw(st.integers(0, len(data) - 1))
    changed = [*data[:i], data[i] + b"!", *data[i + 1 :]]
    assert merkle_root([leaf_hash(d) for d in changed]) != root
    dropped = data[:i] + data[i + 1 :]
    assert merkle_root([leaf_hash(d) for d in dropped]) != root
    added = [*data[:i], draw.draw(st.binary(max_size=12)), *data[i:]]
    assert merkle_root([leaf_hash(d) for d in added]) != root
    j = draw.draw(st.integers(0, len(data) - 1))
    if data[i] != data[j]:
        swapped = list(data)
        swapped[i], swapped[j] = swapped[j], swapped[i]
        assert merkle_root([leaf_hash(d) for d in swapped]) != root


def test_a_leaf_cannot_pass_for_a_node() -> None:
    """The 0x00/0x01 prefixes: a two-leaf tree's root is not the hash of a one-leaf tree."""
    a, b = leaf_hash(b"a"), leaf_hash(b"b")
    assert merkle_root([a, b]) != merkle_root([leaf_hash(a + b)])

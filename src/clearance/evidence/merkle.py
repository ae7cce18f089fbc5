"""Merkle trees as RFC 6962 (Certificate Transparency) defines them, with inclusion proofs.

Why RFC 6962 and not a home-made tree: its hashing is specified byte for byte
(leaf ``SHA-256(0x00 || data)``, node ``SHA-256(0x01 || left || right)``; the
prefixes keep a leaf from passing for a node), its shape for any number of
leaves is fixed (the left subtree holds the largest power of two below ``n``),
and published test vectors and verifiers exist in many languages, so a rights
holder can check our proofs with someone else's code.

Three implementations, held to each other by tests:

* ``MerkleBuilder`` streams leaves in ``O(log n)`` memory (a stack of perfect
  subtrees, the binary counter of ``n``); ``verify`` folds the shard roots
  with it as it streams;
* ``merkle_root`` and ``MerkleTree`` work level by level over leaves held in
  memory (one shard), which is several times faster in Python; the tree
  keeps every level to answer inclusion paths in ``O(log n)`` each (``prove``);
* ``reference_root`` / ``reference_path`` are the RFC's recursive definitions,
  written out literally and slow: the brute-force truth for the tests.

``root_from_path`` is RFC 9162 section 2.1.3.2's verification algorithm.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").digest()
"""The root of a tree with no leaves (RFC 6962: the hash of the empty string)."""


def leaf_hash(data: bytes) -> bytes:
    """``SHA-256(0x00 || data)``."""
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


class MerkleBuilder:
    """Add leaf hashes one at a time; ``root()`` at any point. Memory: one hash per bit of n."""

    __slots__ = ("_count", "_stack")

    def __init__(self) -> None:
        self._stack: list[tuple[int, bytes]] = []  # (height, root) of perfect subtrees, left first
        self._count = 0

    @property
    def count(self) -> int:
        return self._count

    def add(self, data: bytes) -> None:
        """Add one leaf by its data."""
        self.add_hash(leaf_hash(data))

    def add_hash(self, h: bytes) -> None:
        """Add one leaf by its leaf hash."""
        height = 0
        while self._stack and self._stack[-1][0] == height:
            _, left = self._stack.pop()
            h = node_hash(left, h)
            height += 1
        self._stack.append((height, h))
        self._count += 1

    def root(self) -> bytes:
        """The RFC 6962 root of the leaves so far: the perfect subtrees folded right to left."""
        if not self._stack:
            return EMPTY_ROOT
        h = self._stack[-1][1]
        for _, left in reversed(self._stack[:-1]):
            h = node_hash(left, h)
        return h


class MerkleTree:
    """All levels of a tree over ``leaf_hashes``: its root and every leaf's inclusion path.

    Level ``j + 1`` pairs up level ``j``; an unpaired last node is carried up
    unchanged. That is the same tree as RFC 6962's recursive split, because the
    split point (the largest power of two below ``n``) always falls on a pair
    boundary of every level.
    """

    def __init__(self, leaf_hashes: Sequence[bytes]) -> None:
        levels = [list(leaf_hashes)]
        while len(levels[-1]) > 1:
            below = levels[-1]
            above = [node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)]
            if len(below) % 2:
                above.append(below[-1])
            levels.append(above)
        self._levels = levels

    @property
    def size(self) -> int:
        return len(self._levels[0])

    @property
    def root(self) -> bytes:
        return self._levels[-1][0] if self.size else EMPTY_ROOT

    def path(self, index: int) -> list[bytes]:
        """The audit path of leaf ``index``, bottom up (RFC 6962 ``PATH(m, D[n])``)."""
        if not 0 <= index < self.size:
            raise IndexError(f"leaf {index} is outside a tree of {self.size}")
        out: list[bytes] = []
        for level in self._levels[:-1]:
            sibling = index ^ 1
            if sibling < len(level):
                out.append(level[sibling])
            index //= 2
        return out


def merkle_root(leaf_hashes: Sequence[bytes]) -> bytes:
    """The root over leaf hashes held in memory, level by level."""
    level = list(leaf_hashes)
    if not level:
        return EMPTY_ROOT
    sha = hashlib.sha256
    while len(level) > 1:
        above = [
            sha(NODE_PREFIX + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)
        ]
        if len(level) % 2:
            above.append(level[-1])
        level = above
    return level[0]


def leaf_hashes(data: Sequence[bytes]) -> list[bytes]:
    """``leaf_hash`` of each, without a function call per leaf."""
    sha = hashlib.sha256
    return [sha(LEAF_PREFIX + d).digest() for d in data]


def root_from_path(h: bytes, index: int, size: int, path: Sequence[bytes]) -> bytes | None:
    """The root that ``path`` leads to from leaf hash ``h`` at ``index`` of ``size``.

    None when the path cannot belong to such a tree (too long, too short, or an
    index outside it). This is RFC 9162 section 2.1.3.2, step by step.
    """
    if not 0 <= index < size:
        return None
    fn, sn, r = index, size - 1, h
    for p in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def verify_inclusion(h: bytes, index: int, size: int, path: Sequence[bytes], root: bytes) -> bool:
    """Whether leaf hash ``h`` sits at ``index`` of the ``size``-leaf tree with ``root``."""
    return root_from_path(h, index, size, path) == root


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n >= 2)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def reference_root(data: Sequence[bytes]) -> bytes:
    """RFC 6962 section 2.1 ``MTH``, recursively over the leaf data (slow; tests only)."""
    n = len(data)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaf_hash(data[0])
    k = _split(n)
    return node_hash(reference_root(data[:k]), reference_root(data[k:]))


def reference_path(m: int, data: Sequence[bytes]) -> list[bytes]:
    """RFC 6962 section 2.1.1 ``PATH(m, D[n])``, recursively (slow; tests only)."""
    n = len(data)
    if n <= 1:
        return []
    k = _split(n)
    if m < k:
        return [*reference_path(m, data[:k]), reference_root(data[k:])]
    return [*reference_path(m - k, data[k:]), reference_root(data[:k])]

"""Brute-force Hamming search: the ground truth every faster index is held against.

It is slow but obviously right: XOR the query with every code, count the bits,
keep what lies within the radius. ``bruteforce_search`` is the reference that the
conformance tests compare ``HammingIndex`` with, so it stays as plain as it can
be. ``scan_hits`` is the same idea vectorised over blocks; the index uses it for
its small buffer of recent additions and when a radius is too large for its chunk
tables to pay off.

Codes are ``uint8`` arrays of shape ``(n, bits // 8)``. Internally they are read
as native ``uint64`` words (zero-padded to a whole word), which is all a Hamming
distance needs: XOR and popcount do not care about byte order.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

Words = NDArray[np.uint64]

_M1 = np.uint64(0x5555555555555555)
_M2 = np.uint64(0x3333333333333333)
_M4 = np.uint64(0x0F0F0F0F0F0F0F0F)
_H01 = np.uint64(0x0101010101010101)


def popcount64_swar(x: Words) -> NDArray[np.uint8]:
    """Bits set in each word, by the classic SWAR bit trick (numpy < 2 has no popcount)."""
    x = x - ((x >> np.uint64(1)) & _M1)
    x = (x & _M2) + ((x >> np.uint64(2)) & _M2)
    x = (x + (x >> np.uint64(4))) & _M4
    return ((x * _H01) >> np.uint64(56)).astype(np.uint8)


def popcount64(x: Words) -> NDArray[np.uint8]:
    """Bits set in each word: ``np.bitwise_count`` on numpy >= 2, SWAR otherwise."""
    count = getattr(np, "bitwise_count", None)
    if count is None:  # pragma: no cover - numpy < 2
        return popcount64_swar(x)
    result: NDArray[np.uint8] = count(x)
    return result


def code_words(codes: NDArray[np.uint8]) -> Words:
    """``(n, nbytes)`` bytes as ``(n, ceil(nbytes / 8))`` native uint64 words, zero-padded."""
    n, nbytes = codes.shape
    width = -(-nbytes // 8)
    if nbytes == width * 8 and codes.flags.c_contiguous:
        return codes.view(np.uint64).reshape(n, width)
    padded = np.zeros((n, width * 8), dtype=np.uint8)
    padded[:, :nbytes] = codes
    return padded.view(np.uint64).reshape(n, width)


def word_distances(words: Words, query: Words) -> NDArray[np.uint16]:
    """Hamming distance from one query ``(w,)`` to each code ``(n, w)``."""
    dist = np.zeros(words.shape[0], dtype=np.uint16)
    for k in range(words.shape[1]):
        dist += popcount64(words[:, k] ^ query[k])
    return dist


_BLOCK_ELEMENTS = 1 << 20
"""Distances computed per step of ``scan_hits``: big enough to amortise numpy's
per-call cost, small enough to stay in cache."""


def scan_hits(
    words: Words, queries: Words, radius: int
) -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.uint16]]:
    """Every (query, row, distance) within ``radius``, by exhaustive comparison.

    Returns parallel arrays ordered by query, then row.
    """
    n, nq = words.shape[0], queries.shape[0]
    found_q: list[NDArray[np.intp]] = []
    found_r: list[NDArray[np.intp]] = []
    found_d: list[NDArray[np.uint16]] = []
    if n == 0 or nq == 0:
        return _empty_hits()
    row_block = min(n, 1 << 16)
    query_block = max(1, _BLOCK_ELEMENTS // row_block)
    for q0 in range(0, nq, query_block):
        qs = queries[q0 : q0 + query_block]
        for r0 in range(0, n, row_block):
            block = words[r0 : r0 + row_block]
            dist = np.zeros((qs.shape[0], block.shape[0]), dtype=np.uint16)
            for k in range(words.shape[1]):
                dist += popcount64(qs[:, k, None] ^ block[None, :, k])
            qi, ri = np.nonzero(dist <= radius)
            if qi.size:
                found_q.append(qi + q0)
                found_r.append(ri + r0)
                found_d.append(dist[qi, ri])
    if not found_q:
        return _empty_hits()
    qcat = np.concatenate(found_q)
    rcat = np.concatenate(found_r)
    order = np.lexsort((rcat, qcat))
    return qcat[order], rcat[order], np.concatenate(found_d)[order]


def _empty_hits() -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.uint16]]:
    return np.empty(0, np.intp), np.empty(0, np.intp), np.empty(0, np.uint16)


def bruteforce_search(
    ids: Sequence[int] | NDArray[np.int64],
    codes: NDArray[np.uint8],
    queries: NDArray[np.uint8],
    radius: int,
) -> list[list[tuple[int, int]]]:
    """The reference answer: for each query, ``(id, distance)`` for every id within ``radius``.

    An id that holds several codes is reported once, at its nearest code's
    distance. Each list is sorted by distance, then id.
    """
    ids_arr = np.asarray(ids, dtype=np.int64)
    words = code_words(np.ascontiguousarray(codes, dtype=np.uint8))
    query_words = code_words(np.ascontiguousarray(queries, dtype=np.uint8))
    results: list[list[tuple[int, int]]] = []
    for query in query_words:
        dist = word_distances(words, query)
        best: dict[int, int] = {}
        for row in np.flatnonzero(dist <= radius).tolist():
            key, value = int(ids_arr[row]), int(dist[row])
            if key not in best or value < best[key]:
                best[key] = value
        results.append(sorted(best.items(), key=lambda item: (item[1], item[0])))
    return results

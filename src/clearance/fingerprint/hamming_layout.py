"""How a ``HammingIndex`` cuts its codes into chunks, and what each layout costs.

Why a module of its own: the layout is the index's one tuning decision
(see ``hamming``'s docstring for why multi-index hashing works). Picking it
needs a cost model (probes, cache misses, candidates, measured on a 2-core
x86-64, docs/benchmarks.md) and a memory budget, which are independent of
searching; the chunk-key helpers are shared by building and probing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np
from numpy.typing import NDArray

from clearance.core.errors import UserError
from clearance.fingerprint.hamming_bruteforce import Words

DEFAULT_RADIUS = 31
"""PDQ's match threshold: codes within 31 bits of each other are the same picture."""

TABLE_BYTES_PER_CODE = 88
"""Budget for the chunk tables, so that with 40 bytes of code and id a 256-bit
index stays within 128 bytes per code."""

MAX_CHUNK_BITS = 26
"""Widest chunk: a table of 2**26 slots is 256 MiB."""

_MAX_PROBES = 1 << 18
"""Above this many probes per query, scanning is always cheaper."""

# Cost model, in nanoseconds per query, measured on a 2-core x86-64 (see docs/benchmarks.md).
_QUERY_NS = 5000.0
_PROBE_NS = 6.0
_PROBE_MISS_NS = 30.0
_CANDIDATE_NS = 35.0
_SCAN_NS = 8.0
_CACHE_BYTES = 8 << 20


@dataclass(frozen=True, slots=True)
class ChunkLayout:
    """``chunks`` disjoint chunks of ``chunk_bits`` bits each, from the first bit of the code."""

    chunks: int
    chunk_bits: int

    def thresholds(self, radius: int) -> tuple[int, ...]:
        """Per-chunk bit budgets ``t_j`` with ``sum(t_j + 1) == radius + 1`` (-1: not probed).

        Spread as evenly as possible: ``radius=31`` over 16 chunks gives 1 each.
        """
        base, extra = divmod(radius + 1, self.chunks)
        return tuple(base if j < extra else base - 1 for j in range(self.chunks))

    def probes(self, radius: int) -> int:
        """Table lookups per query at ``radius``."""
        return sum(_ball_size(self.chunk_bits, t) for t in self.thresholds(radius))

    def table_bytes(self, count: int) -> int:
        rows = self.chunks * count * _index_width(count)
        offsets = self.chunks * ((1 << self.chunk_bits) + 1) * _index_width(self.chunks * count)
        return rows + offsets

    def cost_ns(self, count: int, radius: int) -> float:
        """Estimated cost of one query: a fixed overhead, probes (dearer once the
        tables leave the cache) and one random access per expected candidate."""
        probes = self.probes(radius)
        offsets_bytes = self.chunks * ((1 << self.chunk_bits) + 1) * 4
        miss = min(1.0, offsets_bytes / (8 * _CACHE_BYTES))
        candidates = probes * count / (1 << self.chunk_bits)
        return _QUERY_NS + probes * (_PROBE_NS + _PROBE_MISS_NS * miss) + candidates * _CANDIDATE_NS


def choose_layout(count: int, bits: int, radius: int = DEFAULT_RADIUS) -> ChunkLayout | None:
    """The cheapest layout for ``count`` codes whose tables fit the memory budget.

    ``None`` when scanning every code is cheaper (small indexes, huge radii).
    """
    best: ChunkLayout | None = None
    best_cost = count * _SCAN_NS
    budget = TABLE_BYTES_PER_CODE * count
    for chunks in range(1, min(bits, radius + 1) + 1):
        for chunk_bits in range(min(bits // chunks, MAX_CHUNK_BITS), 0, -1):
            layout = ChunkLayout(chunks, chunk_bits)
            if layout.table_bytes(count) <= budget:
                break
        else:
            continue
        if layout.probes(radius) > _MAX_PROBES:
            continue
        cost = layout.cost_ns(count, radius)
        if cost < best_cost:
            best, best_cost = layout, cost
    return best


def _ball_size(width: int, radius: int) -> int:
    """Keys within ``radius`` bits of a ``width``-bit key."""
    return sum(math.comb(width, k) for k in range(min(radius, width) + 1))


def _index_width(limit: int) -> int:
    return 4 if limit < (1 << 32) else 8


def _index_dtype(limit: int) -> type[np.unsignedinteger[Any]]:
    return np.uint32 if limit < (1 << 32) else np.uint64


def _flip_masks(width: int, radius: int) -> NDArray[np.intp]:
    """Every ``width``-bit mask with at most ``radius`` bits set, fewest bits first."""
    masks = [0]
    for k in range(1, min(radius, width) + 1):
        for bits in combinations(range(width), k):
            masks.append(sum(1 << b for b in bits))
    return np.array(masks, dtype=np.intp)


def _chunk_keys(big_endian: Words, layout: ChunkLayout) -> NDArray[np.intp]:
    """``(n, chunks)`` chunk values; bit 0 is the high bit of byte 0, as in PDQ."""
    if big_endian.shape[0] == 1:  # one query (a service's check): Python ints beat numpy's
        return _one_code_keys(big_endian[0].tolist(), layout)  # per-call cost 16 times over
    keys = np.empty((big_endian.shape[0], layout.chunks), dtype=np.intp)
    for j in range(layout.chunks):
        keys[:, j] = _chunk_key(big_endian, layout, j)
    return keys


def _one_code_keys(words: list[int], layout: ChunkLayout) -> NDArray[np.intp]:
    """``_chunk_keys`` of one code given as its big-endian words (the same values)."""
    code = 0
    for word in words:
        code = (code << 64) | word
    total, width = 64 * len(words), layout.chunk_bits
    mask = (1 << width) - 1
    keys = [(code >> (total - (j + 1) * width)) & mask for j in range(layout.chunks)]
    return np.array([keys], dtype=np.intp)


def _chunk_key(big_endian: Words, layout: ChunkLayout, chunk: int) -> Words:
    """Chunk ``chunk`` of each code, from its big-endian uint64 words."""
    width = layout.chunk_bits
    word, bit = divmod(chunk * width, 64)
    if bit + width <= 64:
        value = big_endian[:, word] >> np.uint64(64 - bit - width)
    else:
        low = bit + width - 64
        value = (big_endian[:, word] << np.uint64(low)) | (
            big_endian[:, word + 1] >> np.uint64(64 - low)
        )
    value &= np.uint64((1 << width) - 1)
    return value


def _check_layout(layout: ChunkLayout, bits: int) -> None:
    if layout.chunks < 1 or not 1 <= layout.chunk_bits <= MAX_CHUNK_BITS:
        raise UserError(f"chunks must be >= 1 and chunk_bits in 1..{MAX_CHUNK_BITS}: {layout}")
    if layout.chunks * layout.chunk_bits > bits:
        raise UserError(f"{layout} needs more than the {bits} bits of a code")

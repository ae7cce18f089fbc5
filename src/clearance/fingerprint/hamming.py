"""Exact Hamming-radius search over binary codes (PDQ: 256 bits, match at distance <= 31).

Why multi-index hashing: a linear scan (faiss ``IndexBinaryFlat``) touches every
code for every query. Cut each code into ``m`` disjoint chunks and give chunk
``j`` a threshold ``t_j`` with ``sum(t_j + 1) = radius + 1``. If every chunk of a
code differed from the query by more than its threshold, the code would be more
than ``radius`` bits away; so any code within the radius is within ``t_j`` bits of
the query in at least one chunk ``j`` (pigeonhole). For each chunk we therefore
look up every key within ``t_j`` bits of the query's key ("probes") and check only
the codes stored under those keys ("candidates"). The answer is exact: the same
as brute force, not an approximation.

Why the layout is chosen by size: probes cost one table lookup each, candidates
one random memory access each, and the number of candidates is
``probes * count / 2**chunk_bits``. Wider chunks mean many more probes but far
fewer candidates, and pay off only as the index grows (16 chunks of 15 bits at
100,000 codes, 13 of 19 at a million, 11 of 23 at ten million). ``choose_layout``
picks the cheapest layout whose tables fit the memory budget; a small index, or
a radius so large that probing would cost more than a scan, is scanned instead.

Why these arrays: each chunk's table is CSR-shaped, an ``offsets`` array with one
slot per key and the row numbers sorted by key, so a probe is two reads and a
bucket is contiguous. The codes are split into a head (first half of the bytes)
and a tail: a candidate's head alone puts random codes out of range, so the
tail is read only for the few that survive, and the head array is half as big
for the caches. Queries run in batches sized to keep the temporary arrays in
cache.

Updates: ``add`` goes to a small buffer searched by brute force, ``remove``
marks rows dead; the tables are rebuilt (and dead rows dropped) when the buffer
grows past a fraction of the index, on ``compact`` and on ``save``. The file
format (magic, JSON header with ``format_version``, 64-byte aligned raw arrays,
memory-mapped on load) is documented in ``docs/matching.md``.

Not thread-safe for concurrent mutation; searches may rebuild lazily.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from clearance.core.errors import UserError
from clearance.fingerprint.hamming_bruteforce import Words, code_words, popcount64, scan_hits
from clearance.fingerprint.hamming_file import (
    FORMAT_NAME,
    FORMAT_VERSION,
    MAGIC,
    _layout_json,
    _parse_layout,
    _read_file,
    _write_file,
)
from clearance.fingerprint.hamming_layout import (
    _MAX_PROBES,
    _SCAN_NS,
    DEFAULT_RADIUS,
    MAX_CHUNK_BITS,
    TABLE_BYTES_PER_CODE,
    ChunkLayout,
    _check_layout,
    _chunk_key,
    _chunk_keys,
    _flip_masks,
    _index_dtype,
    choose_layout,
)

__all__ = [
    "DEFAULT_RADIUS",
    "FORMAT_VERSION",
    "MAGIC",
    "MAX_CHUNK_BITS",
    "TABLE_BYTES_PER_CODE",
    "ChunkLayout",
    "HammingIndex",
    "choose_layout",
]


_DELTA_MIN = 1024
_DELTA_FRACTION = 1024
"""Rebuild once the buffer of additions holds more than max(1024, count / 1024) codes
(scanning the buffer then costs a small fraction of a search)."""

_DEAD_FRACTION = 8
"""Rebuild once more than 1/8 of the indexed rows are removed."""

_BATCH_WORK = 1 << 15
"""Probes plus expected candidates per query batch (keeps temporaries in cache)."""

_MAX_CANDIDATES = 1 << 20
"""Candidates checked in one step, bounding temporary memory when buckets are huge."""

Hits = tuple[NDArray[np.intp], NDArray[np.int64], NDArray[np.uint16]]


@dataclass(frozen=True, slots=True)
class _ProbeGroup:
    chunks: NDArray[np.intp]
    bases: NDArray[np.intp]
    masks: NDArray[np.intp]


@dataclass(frozen=True, slots=True)
class _Plan:
    groups: tuple[_ProbeGroup, ...]
    batch: int


class HammingIndex:
    """Exact radius search over ``bits``-bit codes, each stored under an int64 id.

    An id may hold several codes (``add`` it again); a search reports each id at
    most once, at its nearest code's distance. ``len`` counts codes.

    ``layout`` fixes the chunking (mainly for tests); by default it is chosen by
    ``choose_layout`` for the index size and ``design_radius`` at each rebuild.
    """

    def __init__(
        self,
        bits: int = 256,
        *,
        design_radius: int = DEFAULT_RADIUS,
        layout: ChunkLayout | None = None,
    ) -> None:
        if isinstance(bits, bool) or not isinstance(bits, int) or bits <= 0 or bits % 8:
            raise UserError(f"bits must be a positive multiple of 8, not {bits!r}")
        self.bits = bits
        self.nbytes = bits // 8
        self.design_radius = _check_radius(design_radius)
        if layout is not None:
            _check_layout(layout, bits)
        self._fixed_layout = layout
        words = -(-self.nbytes // 8)
        self._head_words = -(-words // 2)
        self._tail_words = words - self._head_words
        self._ids: NDArray[np.int64]
        self._head: Words
        self._tail: Words
        self._alive: NDArray[np.bool_] | None
        self._dead: int
        self._plans: dict[int, _Plan | None]
        self._layout: ChunkLayout | None
        self._offsets: NDArray[Any]
        self._rows: NDArray[Any]
        self._set_main(np.empty(0, np.int64), np.empty((0, words), np.uint64), None)
        self._delta_ids: list[NDArray[np.int64]] = []
        self._delta_words: list[Words] = []
        self._delta_count = 0

    # ----------------------------------------------------------------- updates

    def add(self, ids: Iterable[int] | NDArray[np.integer[Any]], codes: NDArray[np.uint8]) -> None:
        """Index ``codes`` (uint8, shape ``(n, bits // 8)``) under ``ids`` (n integers)."""
        codes_arr = self._check_codes(codes)
        ids_arr = _check_ids(ids)
        if ids_arr.shape[0] != codes_arr.shape[0]:
            raise UserError(f"got {ids_arr.shape[0]} ids for {codes_arr.shape[0]} codes")
        if ids_arr.shape[0] == 0:
            return
        self._delta_ids.append(ids_arr.copy())
        self._delta_words.append(code_words(codes_arr).copy())
        self._delta_count += ids_arr.shape[0]

    def remove(self, ids: Iterable[int] | NDArray[np.integer[Any]]) -> int:
        """Drop every code held by ``ids``; returns how many went (unknown ids are ignored)."""
        ids_arr = _check_ids(ids)
        if ids_arr.shape[0] == 0:
            return 0
        removed = 0
        if self._ids.shape[0]:
            hit = np.isin(self._ids, ids_arr)
            if self._alive is not None:
                hit &= self._alive
            dead = int(np.count_nonzero(hit))
            if dead:
                if self._alive is None:
                    self._alive = np.ones(self._ids.shape[0], dtype=bool)
                self._alive[hit] = False
                self._dead += dead
                removed += dead
        if self._delta_count:
            delta_ids, delta_words = self._consolidate_delta()
            keep = ~np.isin(delta_ids, ids_arr)
            removed += int(keep.shape[0] - np.count_nonzero(keep))
            self._delta_ids, self._delta_words = [delta_ids[keep]], [delta_words[keep]]
            self._delta_count = int(np.count_nonzero(keep))
        return removed

    def __len__(self) -> int:
        return int(self._ids.shape[0]) - self._dead + self._delta_count

    @property
    def memory_bytes(self) -> int:
        """Bytes held by the index's arrays (ids, codes, tables, buffer of additions)."""
        arrays = [self._ids, self._head, self._tail, self._offsets, self._rows]
        arrays += self._delta_ids + self._delta_words
        if self._alive is not None:
            arrays.append(self._alive)
        return sum(int(a.nbytes) for a in arrays)

    @property
    def layout(self) -> ChunkLayout | None:
        """The chunking of the built tables (``None``: the index is scanned)."""
        return self._layout

    def compact(self) -> None:
        """Merge pending additions and drop removed codes now, rebuilding the tables."""
        delta_ids, delta_words = self._consolidate_delta()
        ids, words = self._ids, np.concatenate([self._head, self._tail], axis=1)
        if self._alive is not None:
            ids, words = ids[self._alive], words[self._alive]
        ids = np.concatenate([ids, delta_ids])
        words = np.concatenate([words, delta_words])
        self._delta_ids, self._delta_words, self._delta_count = [], [], 0
        layout = self._fixed_layout
        if layout is None:
            layout = choose_layout(ids.shape[0], self.bits, self.design_radius)
        self._set_main(ids, words, layout)

    def export(self) -> tuple[NDArray[np.int64], NDArray[np.uint8]]:
        """Every live ``(ids, codes)`` pair (codes uint8 ``(n, bits // 8)``), as copies.

        What merging two indexes needs (``clearance.matching.segments``); the
        index itself is not changed.
        """
        delta_ids, delta_words = self._consolidate_delta()
        ids, words = self._ids, np.concatenate([self._head, self._tail], axis=1)
        if self._alive is not None:
            ids, words = ids[self._alive], words[self._alive]
        ids = np.concatenate([ids, delta_ids])
        words = np.ascontiguousarray(np.concatenate([words, delta_words]))
        codes = words.view(np.uint8).reshape(ids.shape[0], -1)[:, : self.nbytes]
        return ids.copy(), np.ascontiguousarray(codes)

    # ----------------------------------------------------------------- search

    def search(
        self, codes: NDArray[np.uint8], radius: int = DEFAULT_RADIUS
    ) -> list[list[tuple[int, int]]]:
        """For each query code, ``(id, distance)`` of every id within ``radius`` bits.

        Each list is sorted by distance, then id. Exact: the same as
        ``bruteforce_search``.
        """
        queries = self._check_codes(codes)
        radius = _check_radius(radius)
        if self._needs_rebuild():
            self.compact()
        query_words = code_words(queries)
        parts: list[Hits] = []
        if self._ids.shape[0]:
            parts.append(self._search_main(query_words, radius))
        if self._delta_count:
            delta_ids, delta_words = self._consolidate_delta()
            qi, rows, dist = scan_hits(delta_words, query_words, radius)
            parts.append((qi, delta_ids[rows], dist))
        return _collate(parts, queries.shape[0])

    def _search_main(self, queries: Words, radius: int) -> Hits:
        plan = self._plan(radius)
        head_q = np.ascontiguousarray(queries[:, : self._head_words])
        tail_q = np.ascontiguousarray(queries[:, self._head_words :])
        if plan is None:
            qi, rows, dist = scan_hits(self._head, head_q, radius)
            qi, rows, dist = self._finish(qi, rows, dist, tail_q, radius)
        else:
            assert self._layout is not None
            keys = _chunk_keys(queries.byteswap(), self._layout)
            found: list[tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.uint16]]] = []
            for q0 in range(0, queries.shape[0], plan.batch):
                batch = slice(q0, q0 + plan.batch)
                qi, rows, dist = self._probe(keys[batch], head_q[batch], plan, radius)
                qi, rows, dist = self._finish(qi, rows, dist, tail_q[batch], radius)
                found.append((qi + q0, rows, dist))
            qi = np.concatenate([f[0] for f in found])
            rows = np.concatenate([f[1] for f in found])
            dist = np.concatenate([f[2] for f in found])
        return qi, self._ids.take(rows), dist

    def _probe(
        self, keys: NDArray[np.intp], head_q: Words, plan: _Plan, radius: int
    ) -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.uint16]]:
        """Candidates of one query batch whose head is within ``radius``."""
        nq = keys.shape[0]
        slots = np.concatenate(
            [
                ((keys[:, g.chunks, None] ^ g.masks) + g.bases[:, None]).reshape(nq, -1)
                for g in plan.groups
            ],
            axis=1,
        )
        per_query = slots.shape[1]
        slots = slots.reshape(-1)
        start = self._offsets.take(slots)
        count = (self._offsets.take(slots + 1) - start).astype(np.intp)
        nonempty = np.flatnonzero(count)
        count, start = count[nonempty], start[nonempty].astype(np.intp)
        ends = np.cumsum(count)
        total = int(ends[-1]) if ends.shape[0] else 0
        # Huge buckets (thousands of identical codes) are checked in slices.
        cuts = np.searchsorted(ends, np.arange(_MAX_CANDIDATES, total, _MAX_CANDIDATES))
        bounds = np.unique(np.concatenate([[0], cuts, [nonempty.shape[0]]])).tolist()
        parts = [_no_hits()]
        for a, b in pairwise(bounds):
            sizes = count[a:b]
            seg_ends = np.cumsum(sizes)
            positions = np.repeat(start[a:b] - (seg_ends - sizes), sizes)
            positions += np.arange(positions.shape[0])
            rows = self._rows.take(positions).astype(np.intp)
            qi = np.repeat(nonempty[a:b] // per_query, sizes)
            parts.append(self._distance_filter(self._head, head_q, qi, rows, None, radius))
        if len(parts) == 2:
            return parts[1]
        return (
            np.concatenate([p[0] for p in parts]),
            np.concatenate([p[1] for p in parts]),
            np.concatenate([p[2] for p in parts]),
        )

    def _finish(
        self,
        qi: NDArray[np.intp],
        rows: NDArray[np.intp],
        dist: NDArray[np.uint16],
        tail_q: Words,
        radius: int,
    ) -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.uint16]]:
        """Add the tail distance and drop what is out of range or removed."""
        if self._tail_words:
            qi, rows, dist = self._distance_filter(self._tail, tail_q, qi, rows, dist, radius)
        if self._alive is not None:
            keep = self._alive[rows]
            qi, rows, dist = qi[keep], rows[keep], dist[keep]
        return qi, rows, dist

    @staticmethod
    def _distance_filter(
        stored: Words,
        queries: Words,
        qi: NDArray[np.intp],
        rows: NDArray[np.intp],
        dist: NDArray[np.uint16] | None,
        radius: int,
    ) -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.uint16]]:
        xor = stored.take(rows, axis=0)
        xor ^= queries.take(qi, axis=0)
        bits = popcount64(xor)
        total = bits[:, 0].astype(np.uint16)
        for k in range(1, bits.shape[1]):
            total += bits[:, k]
        if dist is not None:
            total += dist
        keep = np.flatnonzero(total <= radius)
        return qi[keep], rows[keep], total[keep]

    def _plan(self, radius: int) -> _Plan | None:
        if radius in self._plans:
            return self._plans[radius]
        layout = self._layout
        result: _Plan | None = None
        count = self._ids.shape[0]
        if (
            layout is not None
            and layout.probes(radius) <= _MAX_PROBES
            and layout.cost_ns(count, radius) < count * _SCAN_NS
        ):
            size = 1 << layout.chunk_bits
            groups = []
            for t in sorted(set(layout.thresholds(radius))):
                if t < 0:
                    continue
                chunks = np.array(
                    [j for j, tj in enumerate(layout.thresholds(radius)) if tj == t], np.intp
                )
                masks = _flip_masks(layout.chunk_bits, t)
                groups.append(_ProbeGroup(chunks, chunks * (size + 1), masks))
            work = layout.probes(radius) * (1 + count / size)
            result = _Plan(tuple(groups), int(max(1, min(4096, _BATCH_WORK // max(work, 1)))))
        self._plans[radius] = result
        return result

    # ----------------------------------------------------------------- storage

    def _set_main(self, ids: NDArray[np.int64], words: Words, layout: ChunkLayout | None) -> None:
        """Install ``words`` as the indexed codes and build the chunk tables for ``layout``."""
        self._ids = ids
        self._head = np.ascontiguousarray(words[:, : self._head_words])
        self._tail = np.ascontiguousarray(words[:, self._head_words :])
        self._alive = None
        self._dead = 0
        self._plans = {}
        self._layout = layout if ids.shape[0] else None
        count = ids.shape[0]
        if self._layout is None:
            self._offsets = np.zeros(0, np.uint32)
            self._rows = np.zeros(0, np.uint32)
            return
        chunks, size = self._layout.chunks, 1 << self._layout.chunk_bits
        big_endian = words.byteswap()
        offsets = np.empty(chunks * (size + 1), dtype=_index_dtype(chunks * count))
        rows = np.empty(chunks * count, dtype=_index_dtype(count))
        for j in range(chunks):
            key = _chunk_key(big_endian, self._layout, j)
            if count < (1 << 32):
                # Sort key and row together in one uint64: stable, and much faster than argsort.
                packed = key << np.uint64(32)
                packed |= np.arange(count, dtype=np.uint64)
                packed.sort()
                rows[j * count : (j + 1) * count] = packed & np.uint64(0xFFFFFFFF)
            else:  # pragma: no cover - over four billion codes
                rows[j * count : (j + 1) * count] = np.argsort(key, kind="stable")
            table = offsets[j * (size + 1) : (j + 1) * (size + 1)]
            table[0] = j * count
            np.cumsum(np.bincount(key.astype(np.intp), minlength=size), out=table[1:])
            table[1:] += j * count
        self._offsets, self._rows = offsets, rows

    def _consolidate_delta(self) -> tuple[NDArray[np.int64], Words]:
        width = self._head_words + self._tail_words
        if not self._delta_ids:
            return np.empty(0, np.int64), np.empty((0, width), np.uint64)
        if len(self._delta_ids) > 1:
            self._delta_ids = [np.concatenate(self._delta_ids)]
            self._delta_words = [np.concatenate(self._delta_words)]
        return self._delta_ids[0], self._delta_words[0]

    def _needs_rebuild(self) -> bool:
        count = self._ids.shape[0]
        if self._delta_count > max(_DELTA_MIN, count // _DELTA_FRACTION):
            return True
        return self._dead > 0 and self._dead * _DEAD_FRACTION > count

    # ----------------------------------------------------------------- validation

    def _check_codes(self, codes: NDArray[np.uint8]) -> NDArray[np.uint8]:
        arr = np.asarray(codes)
        if arr.dtype != np.uint8:
            raise UserError(f"codes must be a uint8 array, not {arr.dtype}")
        if arr.ndim != 2 or arr.shape[1] != self.nbytes:
            raise UserError(
                f"codes must have shape (n, {self.nbytes}) for {self.bits}-bit codes, "
                f"not {arr.shape}",
                hint="reshape a single code with code.reshape(1, -1)",
            )
        return np.ascontiguousarray(arr)

    # ----------------------------------------------------------------- files

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the index to ``path`` (compacting first); atomic: temporary file, then rename."""
        if self._delta_count or self._dead:
            self.compact()
        layout = self._layout
        header: dict[str, Any] = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "bits": self.bits,
            "count": int(self._ids.shape[0]),
            "design_radius": self.design_radius,
            "layout": _layout_json(layout),
            "fixed_layout": _layout_json(self._fixed_layout),
        }
        arrays: dict[str, NDArray[Any]] = {
            "ids": self._ids,
            "codes_head": self._head.view(np.uint8),
            "codes_tail": self._tail.view(np.uint8),
            "offsets": self._offsets,
            "rows": self._rows,
        }
        _write_file(Path(path), header, arrays)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> HammingIndex:
        """Open an index written by ``save``; its arrays are memory-mapped, not read."""
        header, arrays = _read_file(Path(path))
        bits = header["bits"]
        index = cls(
            bits,
            design_radius=header["design_radius"],
            layout=_parse_layout(header["fixed_layout"], bits),
        )
        index._ids = arrays["ids"]
        index._head = arrays["codes_head"].view(np.uint64)
        index._tail = arrays["codes_tail"].view(np.uint64)
        index._offsets = arrays["offsets"]
        index._rows = arrays["rows"]
        index._layout = _parse_layout(header["layout"], bits)
        return index


def _no_hits() -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.uint16]]:
    return np.empty(0, np.intp), np.empty(0, np.intp), np.empty(0, np.uint16)


def _check_ids(ids: Iterable[int] | NDArray[np.integer[Any]]) -> NDArray[np.int64]:
    arr = np.asarray(ids if isinstance(ids, np.ndarray) else list(ids))
    if arr.ndim != 1:
        raise UserError(f"ids must be one-dimensional, not shape {arr.shape}")
    if arr.shape[0] == 0:
        return np.empty(0, np.int64)
    if arr.dtype.kind not in "iu" or arr.dtype == np.bool_:
        raise UserError(f"ids must be integers, not {arr.dtype}")
    if arr.dtype == np.uint64 and int(arr.max()) > np.iinfo(np.int64).max:
        raise UserError("ids must fit in a signed 64-bit integer")
    return arr.astype(np.int64)


def _check_radius(radius: int) -> int:
    if isinstance(radius, bool) or not isinstance(radius, int | np.integer) or radius < 0:
        raise UserError(f"radius must be a non-negative integer, not {radius!r}")
    return int(radius)


def _collate(parts: list[Hits], nq: int) -> list[list[tuple[int, int]]]:
    """Per query, each id once at its smallest distance, sorted by (distance, id)."""
    if not parts:
        return [[] for _ in range(nq)]
    qi = np.concatenate([p[0] for p in parts])
    ids = np.concatenate([p[1] for p in parts])
    dist = np.concatenate([p[2] for p in parts])
    order = np.lexsort((dist, ids, qi))
    qi, ids, dist = qi[order], ids[order], dist[order]
    first = np.ones(qi.shape[0], dtype=bool)
    first[1:] = (qi[1:] != qi[:-1]) | (ids[1:] != ids[:-1])
    qi, ids, dist = qi[first], ids[first], dist[first]
    order = np.lexsort((ids, dist, qi))
    bounds = np.searchsorted(qi[order], np.arange(nq + 1)).tolist()
    pairs = list(zip(ids[order].tolist(), dist[order].tolist(), strict=True))
    return [pairs[bounds[i] : bounds[i + 1]] for i in range(nq)]

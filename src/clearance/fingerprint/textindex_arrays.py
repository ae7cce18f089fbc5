"""The arrays behind ``TextIndex``: word hashing in bulk and the sorted posting segments.

Why a module of its own: ``TextIndex`` (``textindex``) decides what to index
and how to chain hits into spans; this module holds the vectorised pieces it
is built from, which know nothing about documents or spans: hashing a batch
of normalised words without a Python call per word, sorting 64-bit keys with
their references, and a segment (sorted keys plus ``doc << 32 | position``
references, with a directory on the keys' top bits) that can be searched,
filtered and merged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from clearance.fingerprint.text import splitmix64, word_bounds

_U64 = np.uint64
_MIX = np.full(1, 0xD6E8FEB86659FD93, dtype=_U64)
_MASKS = np.array([(1 << (8 * i)) - 1 for i in range(9)], dtype=_U64)
_DIRECTORY_MIN_ENTRIES = 1 << 16
_SMALL_BUCKET = 64


def _hash_words(buf: bytes) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.int64]]:
    """Hash every space-separated word of normalised UTF-8 bytes; also return word starts.

    A word is read as little-endian 8-byte chunks, bytes past its end masked to
    zero. Its hash is ``splitmix64(chunk_0 + length * C)`` plus, for words over
    8 bytes, ``splitmix64(chunk_k + k * C)`` for each further chunk k (mod
    2**64). Everything is array arithmetic over a whole batch, no Python per
    word, and a word hashes the same wherever it occurs.
    """
    codes = np.frombuffer(buf, dtype=np.uint8)
    starts, ends = word_bounds(codes)
    if not len(starts):
        return np.zeros(0, _U64), starts
    padded = np.zeros(len(codes) + 8, np.uint8)
    padded[: len(codes)] = codes
    at_byte = np.ndarray((len(codes) + 1,), dtype="<u8", buffer=padded, strides=(1,))
    lengths = ends - starts
    first = at_byte[starts] & _MASKS[np.minimum(lengths, 8)]
    mixed = splitmix64(first + lengths.astype(_U64) * _MIX)
    long = np.flatnonzero(lengths > 8)
    if len(long):  # the 9th byte on: more chunks, for the few long words
        extra = (lengths[long] - 1) >> 3
        word = np.repeat(long, extra)
        k = np.arange(len(word)) - np.repeat(np.cumsum(extra) - extra, extra) + 1
        offset = starts[word] + 8 * k
        value = at_byte[offset] & _MASKS[np.minimum(ends[word] - offset, 8)]
        np.add.at(mixed, word, splitmix64(value + k.astype(_U64) * _MIX))
    return mixed, starts


def _sort_u64(
    keys: npt.NDArray[np.uint64],
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.int64]]:
    """``(np.sort(keys), np.argsort(keys))``, several times faster than ``np.argsort``.

    numpy's SIMD sort works on values only, so the index is packed into the low
    bits of each key, the packed values are sorted, and the few runs whose high
    bits tie are re-sorted on the full key.
    """
    n = len(keys)
    if n < 2:
        return keys.copy(), np.arange(n, dtype=np.int64)
    bits = (n - 1).bit_length()
    low = _U64((1 << bits) - 1)
    high = _U64(~np.uint64(low))
    packed = keys & high
    packed |= np.arange(n, dtype=_U64)
    packed.sort()
    packed &= low
    perm = packed.view(np.int64)
    ordered = keys[perm]
    if (ordered[1:] < ordered[:-1]).any():  # only where the high bits tie
        top = ordered & high
        tie = top[1:] == top[:-1]
        in_tie = np.zeros(n, dtype=bool)
        in_tie[1:] |= tie
        in_tie[:-1] |= tie
        where = np.flatnonzero(in_tie)
        order = np.lexsort((ordered[where], top[where]))
        perm[where] = perm[where][order]
        ordered[where] = ordered[where][order]
    return ordered, perm


@dataclass(slots=True, eq=False)
class _Segment:
    """Entries sorted by key: the n-gram hash and ``doc << 32 | word position``.

    Treated as immutable; ``bounds`` builds a bucket directory on first use.
    """

    keys: npt.NDArray[np.uint64]
    refs: npt.NDArray[np.uint64]
    _directory: tuple[int, npt.NDArray[np.int64]] | None = None

    def bounds(
        self, needles: npt.NDArray[np.uint64]
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """``searchsorted`` left and right bounds of each needle, cache-friendly.

        A plain binary search over a large array misses the cache (and the TLB)
        at almost every step. A directory on the keys' top bits (8 to 16
        entries per bucket, one byte per entry) sends each needle to one bucket;
        small buckets are compared whole (a few contiguous keys), the rare big
        ones (boilerplate n-grams) are searched alone.
        """
        if len(self.keys) < _DIRECTORY_MIN_ENTRIES:
            left = np.searchsorted(self.keys, needles, "left")
            return left, np.searchsorted(self.keys, needles, "right")
        shift, offsets = self._buckets()
        bucket = (needles >> _U64(shift)).astype(np.intp)
        lo, hi = offsets[bucket], offsets[bucket + 1]
        size = hi - lo
        small = size <= _SMALL_BUCKET
        count = np.where(small, size, 0)
        owner = np.repeat(np.arange(len(needles)), count)
        entry = lo[owner] + np.arange(len(owner)) - (np.cumsum(count) - count)[owner]
        probe, target = self.keys[entry], needles[owner]
        left = lo + np.bincount(owner[probe < target], minlength=len(needles))
        right = lo + np.bincount(owner[probe <= target], minlength=len(needles))
        for i in np.flatnonzero(~small).tolist():
            part = self.keys[lo[i] : hi[i]]
            left[i] = lo[i] + np.searchsorted(part, needles[i], "left")
            right[i] = lo[i] + np.searchsorted(part, needles[i], "right")
        return left, right

    def _buckets(self) -> tuple[int, npt.NDArray[np.int64]]:
        if self._directory is None:
            bits = max(1, min(28, (len(self.keys) // 8).bit_length()))
            top = (self.keys >> _U64(64 - bits)).astype(np.intp)
            offsets = np.zeros((1 << bits) + 1, np.int64)
            np.cumsum(np.bincount(top, minlength=1 << bits), out=offsets[1:])
            self._directory = (64 - bits, offsets)
        return self._directory

    @staticmethod
    def empty() -> _Segment:
        return _Segment(np.zeros(0, _U64), np.zeros(0, _U64))

    @staticmethod
    def sorted_from(parts: list[_Segment]) -> _Segment:
        """One sorted segment from unsorted parts; empties ``parts`` to free memory early."""
        keys = np.concatenate([p.keys for p in parts])
        refs = np.concatenate([p.refs for p in parts])
        parts.clear()
        ordered, perm = _sort_u64(keys)
        del keys
        return _Segment(ordered, refs[perm])

    def docs(self) -> npt.NDArray[np.int64]:
        return (self.refs >> _U64(32)).astype(np.int64)

    def __len__(self) -> int:
        return len(self.keys)

    def keep(self, live: npt.NDArray[np.bool_]) -> _Segment:
        mask = live[self.docs()]
        if mask.all():
            return self
        return _Segment(self.keys[mask], self.refs[mask])

    def merge(self, other: _Segment) -> _Segment:
        """Merge two sorted segments in linear time (``other`` is usually the smaller)."""
        if not len(other):
            return self
        if not len(self):
            return other
        at = np.searchsorted(self.keys, other.keys, side="right") + np.arange(len(other))
        from_self = np.ones(len(self) + len(other), dtype=bool)
        from_self[at] = False
        out = []
        for mine, theirs in ((self.keys, other.keys), (self.refs, other.refs)):
            merged = np.empty(len(from_self), dtype=_U64)
            merged[at] = theirs
            merged[from_self] = mine
            out.append(merged)
        return _Segment(out[0], out[1])

"""Append-only, immutable index segments, so a live guard can grow while it serves checks.

Why segments: the guard must pick up a newly registered work within seconds,
without a restart and without rebuilding a million-code index. Rebuilding is
what ``HammingIndex.add`` would eventually do, and it mutates the index in place,
which a concurrent search must never see. Instead each refresh builds a small,
fully built segment holding only the new codes, and publishes a *new* segment
list (the old one keeps serving the checks already running). Searches ask every
segment and keep each id's nearest distance.

Small segments keep their raw codes so they can be merged into one when there
are more than ``MAX_SEGMENTS``; the first (base) segment is never copied here,
only replaced by a full rebuild, which the live guard schedules when the small
ones have grown large.

Text 8-gram sets get the same treatment: each ``TextSegment`` is a sorted array
of 8-gram hashes with the work id of each, searched with ``searchsorted``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from clearance.fingerprint.hamming import HammingIndex

MAX_SEGMENTS = 8
"""Above this many segments, the small ones are merged into one."""


@dataclass(frozen=True, slots=True)
class _HammingSegment:
    index: HammingIndex
    ids: npt.NDArray[np.int64] | None
    """Raw ids and codes, kept for small segments only (for merging)."""
    codes: npt.NDArray[np.uint8] | None


def _built(ids: npt.NDArray[np.int64], codes: npt.NDArray[np.uint8], bits: int) -> HammingIndex:
    index = HammingIndex(bits)
    index.add(ids, codes)
    index.compact()  # fully built before anyone can search it: searches never mutate it
    return index


class HammingSegments:
    """Radius search over several immutable ``HammingIndex`` segments.

    ``search`` has ``HammingIndex.search``'s contract. ``with_codes`` returns a
    new object; an existing one is never changed after it is built, so any
    number of threads may search it while a refresh prepares the next one.
    """

    def __init__(self, bits: int = 256, segments: Sequence[_HammingSegment] = ()) -> None:
        self.bits = bits
        self._segments: tuple[_HammingSegment, ...] = tuple(segments)

    @staticmethod
    def build(
        ids: Iterable[int] | npt.NDArray[np.int64], codes: npt.NDArray[np.uint8], bits: int = 256
    ) -> HammingSegments:
        """One base segment holding ``codes`` (the result of a full build)."""
        ids_arr = np.asarray(list(ids) if not isinstance(ids, np.ndarray) else ids, np.int64)
        if not len(ids_arr):
            return HammingSegments(bits)
        return HammingSegments(bits, [_HammingSegment(_built(ids_arr, codes, bits), None, None)])

    def with_codes(
        self, ids: Iterable[int] | npt.NDArray[np.int64], codes: npt.NDArray[np.uint8]
    ) -> HammingSegments:
        """A new segment list: these plus ``codes`` in a new small segment (merged if many)."""
        ids_arr = np.asarray(list(ids) if not isinstance(ids, np.ndarray) else ids, np.int64)
        if not len(ids_arr):
            return self
        small = _HammingSegment(_built(ids_arr, codes, self.bits), ids_arr, codes)
        segments = [*self._segments, small]
        if len(segments) > MAX_SEGMENTS:
            keep = [s for s in segments if s.ids is None]
            merge = [s for s in segments if s.ids is not None]
            all_ids = np.concatenate([s.ids for s in merge if s.ids is not None])
            all_codes = np.concatenate([s.codes for s in merge if s.codes is not None])
            segments = [
                *keep,
                _HammingSegment(_built(all_ids, all_codes, self.bits), all_ids, all_codes),
            ]
        return HammingSegments(self.bits, segments)

    @property
    def small_codes(self) -> int:
        """Codes held outside the base segment (what a full rebuild would fold in)."""
        return sum(len(s.index) for s in self._segments if s.ids is not None)

    @property
    def segment_count(self) -> int:
        return len(self._segments)

    def __len__(self) -> int:
        return sum(len(s.index) for s in self._segments)

    def search(self, codes: npt.NDArray[np.uint8], radius: int) -> list[list[tuple[int, int]]]:
        """For each query code, ``(id, distance)`` within ``radius``, nearest first, ids once."""
        if not self._segments:
            return [[] for _ in range(len(codes))]
        if len(self._segments) == 1:
            return self._segments[0].index.search(codes, radius=radius)
        out: list[list[tuple[int, int]]] = []
        per_segment = [s.index.search(codes, radius=radius) for s in self._segments]
        for q in range(len(codes)):
            best: dict[int, int] = {}
            for hits in per_segment:
                for work_id, dist in hits[q]:
                    if dist < best.get(work_id, 1 << 30):
                        best[work_id] = dist
            out.append(sorted(best.items(), key=lambda kv: (kv[1], kv[0])))
        return out


@dataclass(frozen=True, slots=True)
class TextSegment:
    """Sorted 8-gram hashes and, aligned with them, the work each came from."""

    hashes: npt.NDArray[np.uint64]
    works: npt.NDArray[np.int64]

    @staticmethod
    def build(parts: Sequence[tuple[int, npt.NDArray[np.uint64]]]) -> TextSegment | None:
        """A segment from ``(work_id, 8-gram hashes)`` pairs; ``None`` when there are none."""
        if not parts:
            return None
        hashes = np.concatenate([grams for _, grams in parts])
        works = np.concatenate([np.full(len(g), w, dtype=np.int64) for w, g in parts])
        order = np.argsort(hashes, kind="stable")
        return TextSegment(hashes[order], works[order])

    def __len__(self) -> int:
        return int(self.hashes.shape[0])


def merge_text(segments: Sequence[TextSegment], new: TextSegment | None) -> tuple[TextSegment, ...]:
    """``segments`` plus ``new``; the small ones (all but the first) merged when there are many."""
    out = [*segments, *([new] if new is not None else [])]
    if len(out) > MAX_SEGMENTS:
        rest = out[1:]
        hashes = np.concatenate([s.hashes for s in rest])
        works = np.concatenate([s.works for s in rest])
        order = np.argsort(hashes, kind="stable")
        out = [out[0], TextSegment(hashes[order], works[order])]
    return tuple(out)

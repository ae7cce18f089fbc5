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

The scan's run index is the same object saved to disk: ``save`` merges every
segment into one ``HammingIndex`` file, and ``load`` opens it memory-mapped as
a single base segment, so a scan worker and a live guard search the same kind
of index.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

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

    def export(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint8]]:
        """Every ``(id, code)`` of every segment (what ``save`` and a full merge need)."""
        parts = [s.index.export() for s in self._segments]
        if not parts:
            return np.zeros(0, np.int64), np.zeros((0, self.bits // 8), np.uint8)
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write every segment merged into one ``HammingIndex`` file (atomically)."""
        if len(self._segments) == 1:
            self._segments[0].index.save(path)
            return
        ids, codes = self.export()
        index = HammingIndex(self.bits)
        if len(ids):
            index.add(ids, codes)
        index.save(path)

    @staticmethod
    def load(path: str | os.PathLike[str]) -> HammingSegments:
        """Open a saved index (memory-mapped) as one base segment."""
        index = HammingIndex.load(Path(path))
        if not len(index):
            return HammingSegments(index.bits)
        return HammingSegments(index.bits, [_HammingSegment(index, None, None)])

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


def merge_text(
    segments: Sequence[TextSegment], new: TextSegment | None, *, force: bool = False
) -> tuple[TextSegment, ...]:
    """``segments`` plus ``new``; the small ones (all but the first) merged when there are many.

    ``force`` merges every segment, the first included, into one (what ``save`` writes).
    """
    out = [*segments, *([new] if new is not None else [])]
    if force and len(out) > 1:
        hashes = np.concatenate([s.hashes for s in out])
        works = np.concatenate([s.works for s in out])
        order = np.argsort(hashes, kind="stable")
        return (TextSegment(hashes[order], works[order]),)
    if len(out) > MAX_SEGMENTS:
        rest = out[1:]
        hashes = np.concatenate([s.hashes for s in rest])
        works = np.concatenate([s.works for s in rest])
        order = np.argsort(hashes, kind="stable")
        out = [out[0], TextSegment(hashes[order], works[order])]
    return tuple(out)

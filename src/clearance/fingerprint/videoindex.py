"""The video half of ``clearance.fingerprint.mediaindex``: 1 fps frame PDQ hashes by work.

Why an index over frames rather than over videos: a query must be found in a
registered video (and a registered video in a query) from whichever seconds
they share, so each registered frame of usable quality goes into one exact
``HammingIndex`` under its row number, and a search reads, from the hits of
the query's frames, which frames of which recording match. That yields
``compare_videos``'s fractions without its query x reference distance
matrix (quadratic in the videos' lengths). Matching rules, the ``VideoHit``
fields and the file format are described in ``mediaindex``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from clearance.core.errors import UnsupportedInput, UserError
from clearance.core.files import atomic_write_bytes
from clearance.fingerprint.hamming import HammingIndex
from clearance.fingerprint.image import MIN_QUALITY
from clearance.fingerprint.mediafile import (
    check_starts,
    check_work_id,
    map_file,
    pack,
    unpack,
)
from clearance.fingerprint.video import FRAME_DISTANCE, MATCH_FRACTION, VideoHashes

__all__ = ["MIN_ALIGNED_FRAMES", "VideoHit", "VideoIndex"]

MIN_ALIGNED_FRAMES = 5
"""Frames agreeing on one alignment (+-1 s) that make a video match on their own."""

Ints = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class VideoHit:
    """A registered video found in the query: matched frames, span and alignment."""

    work_id: int
    score: float
    """``max(query_fraction, reference_fraction)``, 0..1."""
    matched_frames: int
    """Usable query frames within PDQ distance 31 of some frame of the recording."""
    query_span: tuple[float, float]
    """Seconds of the query, first to last frame at the best alignment (+1 s for the last)."""
    offset: float
    """Reference time minus query time at the best alignment, whole seconds."""
    query_fraction: float
    """Share of the query's usable frames that match (``compare_videos``'s)."""
    reference_fraction: float
    """Share of the recording's usable frames that occur in the query."""


class VideoIndex:
    """1 fps PDQ frame hashes by work id, searchable for clips and embeddings (see ``mediaindex``).

    Additions and removals go straight to the frame ``HammingIndex``, which
    buffers them, so a new registration is searchable at once.
    """

    def __init__(self) -> None:
        self._ids: list[int] = []
        self._videos: list[VideoHashes] = []
        self._starts: list[int] = [0]
        self._usable: list[int] = []
        self._dead: set[int] = set()
        self._frames = HammingIndex(256)
        self._starts_arr: Ints | None = None

    def add(self, work_id: int, hashes: VideoHashes) -> None:
        """Index one video of ``work_id`` (a later search sees it at once)."""
        work_id = check_work_id(work_id)
        codes = np.asarray(hashes.codes, dtype=np.uint8)
        n = codes.shape[0]
        if codes.ndim != 2 or codes.shape[1] != 32:
            raise UserError(f"video hashes must have shape (n, 32), not {codes.shape}")
        qualities = np.asarray(hashes.qualities).reshape(-1)
        seconds = np.asarray(hashes.seconds, dtype=np.float64).reshape(-1)
        if qualities.shape[0] != n or seconds.shape[0] != n:
            raise UserError("video hashes need one quality and one timestamp per frame")
        if not np.isfinite(seconds).all() or np.abs(seconds).max(initial=0.0) > 1e9:
            raise UserError("video frame timestamps must be finite seconds")
        start = self._starts[-1]
        usable = np.flatnonzero(qualities >= MIN_QUALITY)
        self._frames.add(usable + start, codes[usable])
        self._ids.append(int(work_id))
        self._videos.append(VideoHashes(codes, qualities.astype(np.int32), seconds))
        self._starts.append(start + n)
        self._usable.append(len(usable))
        self._starts_arr = None

    def remove(self, work_ids: Iterable[int]) -> None:
        """Forget every video of ``work_ids`` (unknown ids are ignored)."""
        gone = {check_work_id(w) for w in work_ids}
        rows = [
            np.arange(self._starts[e], self._starts[e + 1])
            for e, w in enumerate(self._ids)
            if w in gone and e not in self._dead
        ]
        for e, w in enumerate(self._ids):
            if w in gone:
                self._dead.add(e)
        if rows:
            self._frames.remove(np.concatenate(rows))

    def __len__(self) -> int:
        return len(self._ids) - len(self._dead)

    def compact(self) -> None:
        """Build the frame tables now, so later searches only read (safe from many threads)."""
        self._frames.compact()
        self._starts_arr = np.asarray(self._starts, dtype=np.int64)

    def search(self, query: VideoHashes) -> list[VideoHit]:
        """Every registered video sharing frames with ``query`` as described above, best first."""
        usable = np.flatnonzero(np.asarray(query.qualities) >= MIN_QUALITY)
        if not len(usable) or not len(self._frames):
            return []
        codes = np.ascontiguousarray(np.asarray(query.codes, dtype=np.uint8)[usable])
        pairs = [
            (i, row)
            for i, hits in enumerate(self._frames.search(codes, FRAME_DISTANCE))
            for row, _dist in hits
        ]
        if not pairs:
            return []
        if self._starts_arr is None:
            self._starts_arr = np.asarray(self._starts, dtype=np.int64)
        qi = np.array([p[0] for p in pairs], dtype=np.int64)
        rows = np.array([p[1] for p in pairs], dtype=np.int64)
        entries = np.searchsorted(self._starts_arr, rows, side="right") - 1
        q_seconds = np.asarray(query.seconds, dtype=np.float64)[usable]
        best: dict[int, VideoHit] = {}
        for entry in np.unique(entries).tolist():
            sel = entries == entry
            hit = self._verify(entry, qi[sel], rows[sel], q_seconds, len(usable))
            if hit is not None:
                old = best.get(hit.work_id)
                if old is None or (hit.score, hit.matched_frames) > (old.score, old.matched_frames):
                    best[hit.work_id] = hit
        return sorted(best.values(), key=lambda h: (-h.score, h.work_id))

    def _verify(
        self, entry: int, qi: Ints, rows: Ints, q_seconds: npt.NDArray[np.float64], n_query: int
    ) -> VideoHit | None:
        video = self._videos[entry]
        r_seconds = np.asarray(video.seconds, dtype=np.float64)[rows - self._starts[entry]]
        deltas = np.rint(r_seconds - q_seconds[qi]).astype(np.int64)
        values, counts = np.unique(deltas, return_counts=True)
        top = max(
            zip(counts.tolist(), values.tolist(), strict=True),
            key=lambda c: (c[0], -abs(c[1]), -c[1]),
        )
        mode = top[1]
        aligned = np.unique(qi[np.abs(deltas - mode) <= 1])
        matched = len(np.unique(qi))
        qf = matched / n_query
        rf = len(np.unique(rows)) / max(1, self._usable[entry])
        if max(qf, rf) < MATCH_FRACTION and len(aligned) < MIN_ALIGNED_FRAMES:
            return None
        span = (float(q_seconds[aligned].min()), float(q_seconds[aligned].max()) + 1.0)
        return VideoHit(
            self._ids[entry],
            round(max(qf, rf), 4),
            matched,
            (round(span[0], 3), round(span[1], 3)),
            float(mode),
            round(qf, 4),
            round(rf, 4),
        )

    def to_bytes(self) -> bytes:
        """The index in the versioned file format (removed videos dropped)."""
        live = [e for e in range(len(self._ids)) if e not in self._dead]
        videos = [self._videos[e] for e in live]
        lengths = [len(v) for v in videos]
        arrays: dict[str, npt.NDArray[Any]] = {
            "work_ids": np.array([self._ids[e] for e in live], dtype=np.int64),
            "starts": np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)]).astype(np.int64),
            "codes": np.concatenate([v.codes for v in videos]).astype(np.uint8)
            if videos
            else np.empty((0, 32), np.uint8),
            "qualities": np.concatenate([np.clip(v.qualities, 0, 255) for v in videos]).astype(
                np.uint8
            )
            if videos
            else np.empty(0, np.uint8),
            "seconds": np.concatenate([v.seconds for v in videos]).astype(np.float64)
            if videos
            else np.empty(0, np.float64),
        }
        return pack(
            b"CLRVIDIX", "clearance.video-index", {"frame_distance": FRAME_DISTANCE}, arrays
        )

    @staticmethod
    def from_bytes(data: bytes | npt.NDArray[np.uint8]) -> VideoIndex:
        """Read ``to_bytes`` output; anything else raises ``UnsupportedInput``."""
        _header, arrays = unpack(data, b"CLRVIDIX", "clearance.video-index", _VIDEO_ARRAYS)
        starts = arrays["starts"]
        n = check_starts(starts, len(arrays["work_ids"]), len(arrays["codes"]))
        if len(arrays["qualities"]) != n or len(arrays["seconds"]) != n:
            raise UnsupportedInput("corrupt video index: array lengths disagree")
        seconds = arrays["seconds"]
        if not np.isfinite(seconds).all() or np.abs(seconds).max(initial=0.0) > 1e9:
            raise UnsupportedInput("corrupt video index: frame timestamps out of range")
        index = VideoIndex()
        bounds = starts.tolist()
        for e, work_id in enumerate(arrays["work_ids"].tolist()):
            a, b = bounds[e], bounds[e + 1]
            index.add(
                work_id,
                VideoHashes(
                    arrays["codes"][a:b],
                    arrays["qualities"][a:b].astype(np.int32),
                    arrays["seconds"][a:b].astype(np.float64),
                ),
            )
        index._frames.compact()
        return index

    def save(self, path: str | os.PathLike[str]) -> None:
        atomic_write_bytes(Path(path), self.to_bytes())

    @staticmethod
    def load(path: str | os.PathLike[str]) -> VideoIndex:
        return VideoIndex.from_bytes(map_file(Path(path)))


_VIDEO_ARRAYS: dict[str, tuple[str, tuple[int, ...]]] = {
    "work_ids": ("<i8", ()),
    "starts": ("<i8", ()),
    "codes": ("|u1", (32,)),
    "qualities": ("|u1", ()),
    "seconds": ("<f8", ()),
}

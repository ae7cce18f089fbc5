"""Searchable indexes of registered audio and video, for the scan and the guard.

``clip_offset`` and ``compare_videos`` compare one query with one registered
recording. With thousands of registered works that is one full comparison per
work per query, so these indexes first pick the few works a query can match,
then verify only those. Both are pure numpy (no database) and report matches
in both directions: a query cut out of a registered recording, and a
registered recording embedded inside a longer query (a generated song that
reuses a registered melody), as well as partial overlaps.

API (the guard and the scan use nothing else)::

    index = AudioIndex()
    index.add(work_id, audio_fingerprint("song.wav"))    # AudioFingerprint
    hits = index.search(audio_fingerprint("query.mp3"))  # list[AudioHit], best first
    hits[0].work_id, hits[0].score, hits[0].offset, hits[0].query_span
    index.save("audio.cidx"); index = AudioIndex.load("audio.cidx")   # or to_bytes/from_bytes

    index = VideoIndex()
    index.add(work_id, video_hashes("film.mp4"))          # VideoHashes
    hits = index.search(video_hashes("query.mp4"))        # list[VideoHit], best first

Both also have ``remove(work_ids)`` and ``len()`` (recordings held). A work id
may hold several recordings; a search reports each work at most once, at its
best recording. ``offset`` is always *reference time minus query time*, in
seconds: positive when the query starts inside the registered recording,
negative when the registered recording starts inside the query.

**Audio** (AcoustID's approach): every Chromaprint word's top ``KEY_BITS`` bits
are keys of an inverted index (sorted keys plus row numbers, CSR-like). Each
query word looks up its key; each hit votes for (recording, alignment). The
best-voted alignments (``MIN_VOTES``, smoothed over +-1 word) are verified by
bit error rate over the aligned overlap: a window of ``MIN_CLIP_ITEMS`` words
slides along it, windows with BER <= ``MATCH_BER`` mark matching stretches,
and the longest stretch is the match (its span in the query, its BER; score
``1 - 2 * BER``: 1 for identical audio, 0 for unrelated).

**Video** (vPDQ's approach): every registered frame of PDQ quality >= 50 goes
into a ``HammingIndex`` under its row number. Each usable query frame is
searched at radius ``FRAME_DISTANCE`` (31); the exact hits give, per
recording, the query frames and reference frames that match, i.e. exactly
``compare_videos``'s fractions (without its query x reference matrix). A
recording matches when half the query's frames match it, or half of its own
frames occur in the query, or ``MIN_ALIGNED_FRAMES`` (5) frames agree on one
alignment; score ``max(query_fraction, reference_fraction)``. The video half
lives in ``videoindex`` and is re-exported here.

File format (both indexes, ``format_version`` 1, never pickled; see
``mediafile``): magic (``CLRAUDIX`` or ``CLRVIDIX``), header length (uint32
little-endian), a UTF-8 JSON header padded to 64 bytes, then raw
little-endian arrays at the 64-byte aligned offsets the header names.
``docs/matching.md`` lists the arrays. Damaged or foreign bytes raise
``UnsupportedInput``; a missing file ``InputNotFound``; a bad argument
``UserError``.
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
from clearance.fingerprint.audio import (
    MATCH_BER,
    MIN_CLIP_ITEMS,
    SECONDS_PER_ITEM,
    AudioFingerprint,
    audio_span,
)
from clearance.fingerprint.mediafile import (
    FORMAT_VERSION,
    check_starts,
    check_work_id,
    map_file,
    pack,
    unpack,
)
from clearance.fingerprint.videoindex import VideoHit, VideoIndex

__all__ = [
    "FORMAT_VERSION",
    "AudioHit",
    "AudioIndex",
    "VideoHit",
    "VideoIndex",
]

KEY_BITS = 28
"""Bits of each Chromaprint word used as its key (AcoustID's query strips the low 4)."""

SILENCE = 627964279
"""The word Chromaprint emits for digital silence: never a key."""

STOP_POSTINGS = 4096
"""A key stored more often than this (tones, silence) casts no votes."""

MIN_VOTES = 2
"""Votes (+-1 word) an alignment needs before it is verified."""

MAX_VERIFIED = 32
"""Best-voted recordings verified per query."""

Words = npt.NDArray[np.uint32]
Ints = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class AudioHit:
    """A registered recording found in the query: where, and how closely."""

    work_id: int
    score: float
    """``1 - 2 * bit_error_rate``, 0..1 (0: unrelated audio)."""
    offset: float
    """Reference time minus query time, seconds (negative: the recording starts in the query)."""
    query_span: tuple[float, float]
    """The matching stretch of the query's audio, seconds (``fingerprint.audio.audio_span``:
    the audio its matching words were computed from, so a 6 s excerpt spans about 6 s)."""
    bit_error_rate: float
    """Share of differing bits over the span (``MATCH_BER`` 0.30 at most)."""

    @property
    def reference_span(self) -> tuple[float, float]:
        """The matched stretch in the registered recording, in seconds."""
        return (self.query_span[0] + self.offset, self.query_span[1] + self.offset)


# ------------------------------------------------------------------- audio


@dataclass(frozen=True, slots=True)
class _AudioTable:
    """Recordings plus their inverted index (rows sorted by key); ``alive`` marks removals."""

    work_ids: Ints
    starts: Ints
    words: Words
    durations: npt.NDArray[np.float64]
    keys: Words
    rows: Words
    alive: npt.NDArray[np.bool_]

    @staticmethod
    def build(entries: list[tuple[int, Words, float]]) -> _AudioTable:
        lengths = np.array([len(w) for _, w, _ in entries], dtype=np.int64)
        words = (
            np.concatenate([w for _, w, _ in entries]).astype(np.uint32)
            if entries
            else np.empty(0, np.uint32)
        )
        if len(words) >= 1 << 32:
            raise UserError("an audio index holds fewer than 2**32 Chromaprint words")
        # One sort of (key, row) pairs: deterministic, and faster than a stable argsort.
        packed = (words >> np.uint32(32 - KEY_BITS)).astype(np.uint64) << np.uint64(32)
        packed = np.sort(packed | np.arange(len(words), dtype=np.uint64))
        return _AudioTable(
            np.array([i for i, _, _ in entries], dtype=np.int64),
            np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
            words,
            np.array([d for _, _, d in entries], dtype=np.float64),
            (packed >> np.uint64(32)).astype(np.uint32),
            (packed & np.uint64(0xFFFFFFFF)).astype(np.uint32),
            np.ones(len(entries), dtype=bool),
        )

    def entries(self) -> list[tuple[int, Words, float]]:
        return [
            (int(w), self.words[self.starts[i] : self.starts[i + 1]], float(self.durations[i]))
            for i, w in enumerate(self.work_ids.tolist())
            if self.alive[i]
        ]

    def remove(self, gone: set[int]) -> None:
        if len(self.work_ids):
            self.alive[np.isin(self.work_ids, list(gone))] = False

    def candidates(self, query: Words) -> list[tuple[int, int, int]]:
        """``(votes, entry, delta)`` of the best alignment per live recording, best first."""
        if not len(self.words) or not len(query):
            return []
        pos = np.flatnonzero(query != SILENCE)
        qkeys = query[pos] >> np.uint32(32 - KEY_BITS)
        lo = np.searchsorted(self.keys, qkeys, side="left")
        hi = np.searchsorted(self.keys, qkeys, side="right")
        counts = np.maximum(hi - lo, 0)  # keys of a damaged file may be out of order
        counts[counts > STOP_POSTINGS] = 0
        total = int(counts.sum())
        if not total:
            return []
        first = np.repeat(lo - (np.cumsum(counts) - counts), counts)
        rows = self.rows[first + np.arange(total)].astype(np.int64)
        qpos = np.repeat(pos, counts)
        if rows.max() >= len(self.words):  # a damaged file: rows are not checked on load
            qpos, rows = qpos[rows < len(self.words)], rows[rows < len(self.words)]
        entry = np.searchsorted(self.starts, rows, side="right") - 1
        delta = rows - self.starts[entry] - qpos
        live = self.alive[entry]
        entry, delta = entry[live], delta[live]
        packed, votes = np.unique((entry << 32) + (delta + (1 << 31)), return_counts=True)
        smoothed = votes.copy()
        for step in (-1, 1):
            at = np.searchsorted(packed, packed + step)
            ok = at < len(packed)
            ok[ok] = packed[at[ok]] == packed[ok] + step
            smoothed[ok] += votes[at[ok]]
        keep = smoothed >= MIN_VOTES
        packed, smoothed = packed[keep], smoothed[keep]
        entries = packed >> 32
        order = np.lexsort((packed, -smoothed, entries))  # per entry: most votes, then smallest
        best = (
            order[np.r_[True, entries[order][1:] != entries[order][:-1]]] if len(order) else order
        )
        picks = sorted(
            (-int(smoothed[i]), int(entries[i]), int((packed[i] & 0xFFFFFFFF) - (1 << 31)))
            for i in best
        )
        return [(-v, e, d) for v, e, d in picks[:MAX_VERIFIED]]


_POP8 = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def _bit_errors(a: Words, b: Words) -> Ints:
    x = np.ascontiguousarray(np.bitwise_xor(a, b), dtype="<u4")
    counts: Ints = _POP8[x.view(np.uint8).reshape(-1, 4)].sum(axis=1, dtype=np.int64)
    return counts


def _aligned_span(query: Words, ref: Words, delta: int) -> tuple[int, int, float] | None:
    """Longest stretch ``[start, stop)`` of the query matching ``ref`` at ``delta``, and its BER."""
    q0, q1 = max(0, -delta), min(len(query), len(ref) - delta)
    if q1 - q0 < MIN_CLIP_ITEMS:
        return None
    errors = _bit_errors(query[q0:q1], ref[q0 + delta : q1 + delta])
    window = MIN_CLIP_ITEMS
    sums = np.convolve(errors, np.ones(window, dtype=np.int64), mode="valid")
    good = sums <= MATCH_BER * 32 * window
    if not good.any():
        return None
    edges = np.diff(np.concatenate([[0], good.astype(np.int8), [0]]))
    run_starts, run_stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    best: tuple[int, int, float] | None = None
    for a, b in zip(run_starts.tolist(), run_stops.tolist(), strict=True):
        start, stop = a, b - 1 + window
        limit = MATCH_BER * 32  # trim edge words that mostly belong to other audio
        while stop - start > window and errors[start] > limit:
            start += 1
        while stop - start > window and errors[stop - 1] > limit:
            stop -= 1
        ber = float(errors[start:stop].sum()) / (32.0 * (stop - start))
        if ber <= MATCH_BER and (
            best is None or (stop - start, -ber) > (best[1] - best[0], -best[2])
        ):
            best = (start, stop, ber)
    if best is None:
        return None
    return best[0] + q0, best[1] + q0, best[2]


class AudioIndex:
    """Chromaprint recordings by work id, searchable for clips and embeddings (see module doc).

    Additions go to a small delta table (rebuilt at the next search), merged
    into the main table once it holds more than 1/8 of the words; removals
    are marks until the next merge. So a new registration is searchable at
    once without rebuilding the whole index.
    """

    def __init__(self) -> None:
        self._main = _AudioTable.build([])
        self._delta = _AudioTable.build([])
        self._pending: list[tuple[int, Words, float]] = []

    def add(self, work_id: int, fingerprint: AudioFingerprint) -> None:
        """Index one recording of ``work_id`` (a later search sees it at once)."""
        work_id = check_work_id(work_id)
        words = np.asarray(fingerprint.words, dtype=np.uint32).reshape(-1)
        duration = float(fingerprint.duration) or len(words) * SECONDS_PER_ITEM
        self._pending.append((int(work_id), words.copy(), duration))

    def remove(self, work_ids: Iterable[int]) -> None:
        """Forget every recording of ``work_ids`` (unknown ids are ignored)."""
        gone = {check_work_id(w) for w in work_ids}
        self._pending = [e for e in self._pending if e[0] not in gone]
        self._main.remove(gone)
        self._delta.remove(gone)

    def __len__(self) -> int:
        return int(self._main.alive.sum() + self._delta.alive.sum()) + len(self._pending)

    def _settle(self) -> None:
        """Fold pending additions into the delta table; merge into main when it grows."""
        if not self._pending:
            return
        entries = self._delta.entries() + self._pending
        self._pending = []
        if sum(len(w) for _, w, _ in entries) > max(1 << 16, len(self._main.words) // 8):
            self._main = _AudioTable.build(self._main.entries() + entries)
            self._delta = _AudioTable.build([])
        else:
            self._delta = _AudioTable.build(entries)

    def compact(self) -> None:
        """Merge everything into one table and drop removed recordings."""
        if self._pending or len(self._delta.work_ids) or not self._main.alive.all():
            entries = self._main.entries() + self._delta.entries() + self._pending
            self._main, self._delta = _AudioTable.build(entries), _AudioTable.build([])
            self._pending = []

    def search(self, query: AudioFingerprint) -> list[AudioHit]:
        """Every registered recording sharing at least ~5.6 s of audio (24 words) with ``query``,
        best first."""
        self._settle()
        q = np.asarray(query.words, dtype=np.uint32).reshape(-1)
        best: dict[int, AudioHit] = {}
        for table in (self._main, self._delta):
            for _votes, entry, delta in table.candidates(q):
                work_id = int(table.work_ids[entry])
                ref = table.words[table.starts[entry] : table.starts[entry + 1]]
                spans = [
                    (s[1] - s[0], -s[2], -abs(d), d, s)
                    for d in (delta - 1, delta, delta + 1)
                    if (s := _aligned_span(q, ref, d)) is not None
                ]
                if not spans:
                    continue
                *_, d, (start, stop, ber) = max(spans)
                begin, end = audio_span(start, stop)
                if query.duration > 0:  # the last word's frames may run past the end of the file
                    end = min(end, float(query.duration))
                hit = AudioHit(
                    work_id,
                    round(max(0.0, 1.0 - 2.0 * ber), 4),
                    round(d * SECONDS_PER_ITEM, 3),
                    (round(begin, 3), round(end, 3)),
                    round(ber, 4),
                )
                old = best.get(work_id)
                if old is None or (hit.score, -hit.offset) > (old.score, -old.offset):
                    best[work_id] = hit
        return sorted(best.values(), key=lambda h: (-h.score, h.work_id))

    def to_bytes(self) -> bytes:
        """The index in the versioned file format (compacted first)."""
        self.compact()
        t = self._main
        arrays: dict[str, npt.NDArray[Any]] = {
            "work_ids": t.work_ids,
            "starts": t.starts,
            "durations": t.durations,
            "words": t.words,
            "keys": t.keys,
            "rows": t.rows,
        }
        return pack(b"CLRAUDIX", "clearance.audio-index", {"key_bits": KEY_BITS}, arrays)

    @staticmethod
    def from_bytes(data: bytes | npt.NDArray[np.uint8]) -> AudioIndex:
        """Read ``to_bytes`` output; anything else raises ``UnsupportedInput``."""
        header, arrays = unpack(data, b"CLRAUDIX", "clearance.audio-index", _AUDIO_ARRAYS)
        if header.get("key_bits") != KEY_BITS:
            raise UnsupportedInput(f"audio index key_bits {header.get('key_bits')!r} != {KEY_BITS}")
        works = len(arrays["work_ids"])
        n = check_starts(arrays["starts"], works, len(arrays["words"]))
        if (
            len(arrays["keys"]) != n
            or len(arrays["rows"]) != n
            or len(arrays["durations"]) != works
        ):
            raise UnsupportedInput("corrupt audio index: array lengths disagree")
        if not np.isfinite(arrays["durations"]).all():
            raise UnsupportedInput("corrupt audio index: durations are not numbers")
        index = AudioIndex()
        index._main = _AudioTable(
            arrays["work_ids"].astype(np.int64),
            arrays["starts"].astype(np.int64),
            arrays["words"],
            arrays["durations"].astype(np.float64),
            arrays["keys"],
            arrays["rows"],
            np.ones(works, dtype=bool),
        )
        return index

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the index to ``path`` atomically (temporary file, then rename)."""
        atomic_write_bytes(Path(path), self.to_bytes())

    @staticmethod
    def load(path: str | os.PathLike[str]) -> AudioIndex:
        """Open a saved index; its large arrays are memory-mapped, not read."""
        return AudioIndex.from_bytes(map_file(Path(path)))


_AUDIO_ARRAYS: dict[str, tuple[str, tuple[int, ...]]] = {
    "work_ids": ("<i8", ()),
    "starts": ("<i8", ()),
    "durations": ("<f8", ()),
    "words": ("<u4", ()),
    "keys": ("<u4", ()),
    "rows": ("<u4", ()),
}

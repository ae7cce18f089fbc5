"""Text containment: which registered texts does this text reproduce, and how much of them?

The signal type for texts, used by the scan and the guard alike.

Stored side: the registry keeps each text's set of word 8-gram hashes
(``text-8grams``, ``clearance.fingerprint.text``); a text of fewer than 8
words is one hash of all its words. The index is a list of immutable
``TextSegment``\\ s (sorted hashes with the work of each) plus each work's
number of distinct 8-grams.

Query side: the text's normalised words, hashed as 8-grams *and* as 1- to
7-grams, so a short registered text (a title, a line, a slogan) is found as a
phrase too. Evidence, with the thresholds defined once here:

* **containment** ``>= CONTAINMENT`` (0.5): at least half the registered
  text's distinct 8-grams occur in the query: strong (a poem quoted in a long
  page is still the poem);
* a **run** of ``>= RUN_STRONG`` (30) words reproduced in order (gaps of one
  edited word allowed): strong; ``>= RUN_REVIEW`` (12) words: review;
* a **short registered text** (under 8 words): the query *is* that text after
  normalisation: strong; the query holds it as a phrase and it has at least
  ``SHORT_PHRASE_WORDS`` (4) words: review. One to three words inside a longer
  text say nothing about copying and are not matched.

``compare`` is the brute-force twin: Python sets over the same hashes, which
the index must agree with.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from clearance.core.files import atomic_path
from clearance.fingerprint.text import SHINGLE_WORDS, Tokens, ngram_hashes, tokenize, word_hashes
from clearance.matching.segments import MAX_SEGMENTS, TextSegment, merge_text
from clearance.matching.types import Match, Thresholds

ALGO = "text-8grams"
CONTAINMENT = Thresholds(strong=0.5)
RUN_STRONG = 30
RUN_REVIEW = 12
RUN = Thresholds(strong=RUN_STRONG, review=RUN_REVIEW)
SHORT_PHRASE_WORDS = 4
GAP = SHINGLE_WORDS + 2
"""One edited word removes 8 consecutive 8-grams; a run survives such gaps."""
MAX_TEXT_CHARS = 2_000_000
"""Texts longer than this are matched on their first ``MAX_TEXT_CHARS`` characters."""

_FILES = ("text.hashes.npy", "text.works.npy", "text.size-ids.npy", "text.sizes.npy")


def stored_hashes(data: bytes) -> npt.NDArray[np.uint64] | None:
    """A ``text-8grams`` record as hashes, or None when it is not whole uint64 values."""
    if not data or len(data) % 8:
        return None
    return np.frombuffer(data, "<u8").astype(np.uint64)


@dataclass(frozen=True, slots=True)
class TextQuery:
    """A query text's words (with spans) and its n-gram hashes, each computed once, when
    first needed (the 1- to 7-grams only when short texts are registered)."""

    tokens: Tokens
    hashes: npt.NDArray[np.uint64]
    """The word hashes."""
    _grams: dict[int, npt.NDArray[np.uint64]] = field(default_factory=dict)

    @staticmethod
    def of(text: str) -> TextQuery:
        tokens = tokenize(text[:MAX_TEXT_CHARS])
        words = list(tokens.words)
        hashes = word_hashes(words) if words else np.zeros(0, np.uint64)
        return TextQuery(tokens, hashes)

    def gram(self, n: int) -> npt.NDArray[np.uint64] | None:
        """The hash of each run of ``n`` words, in order; None when there are fewer words
        (for ``n`` = 8 a shorter text has one hash of all its words)."""
        if not self.words or (n > self.words and n != SHINGLE_WORDS):
            return None
        if n not in self._grams:
            self._grams[n] = ngram_hashes(self.hashes, n)
        return self._grams[n]

    @property
    def words(self) -> int:
        return len(self.tokens.words)

    def span(self, first: int, last_word: int) -> tuple[int, int]:
        """Character span of query words ``first .. last_word`` (inclusive)."""
        last = min(last_word, self.words - 1)
        return int(self.tokens.starts[first]), int(self.tokens.ends[last])


def _runs(positions: Sequence[int]) -> tuple[int, int]:
    """The longest chain of ``positions`` (sorted) with steps of at most ``GAP``: (first, last)."""
    start = prev = positions[0]
    best = (start, start)
    for p in positions[1:]:
        if p - prev > GAP:
            start = p
        prev = p
        if prev - start > best[1] - best[0]:
            best = (start, prev)
    return best


def _judge(
    work_id: int, query: TextQuery, positions: Sequence[int], unique: int, size: int
) -> Match | None:
    """The evidence of 8-gram hits at ``positions`` (sorted) of a work with ``size`` 8-grams."""
    containment = unique / max(1, size)
    first, last = _runs(positions)
    run_words = min(last - first + SHINGLE_WORDS, query.words)
    strong = containment >= CONTAINMENT.strong or run_words >= RUN_STRONG
    if not strong and run_words < RUN_REVIEW:
        return None
    span = query.span(first, last + SHINGLE_WORDS - 1)
    return Match(work_id, "text-containment", containment, None, span, strong)


def _judge_short(work_id: int, query: TextQuery, n: int, position: int) -> Match | None:
    """A short registered text of ``n`` words found at ``position`` of the query."""
    if query.words == n:
        return Match(work_id, "text-short", 1.0, None, query.span(0, n - 1), True)
    if n >= SHORT_PHRASE_WORDS:
        return Match(
            work_id, "text-short", 1.0, None, query.span(position, position + n - 1), False
        )
    return None


@dataclass(frozen=True)
class ShingleIndex:
    """Registered texts' 8-gram hashes in immutable segments, and each work's 8-gram count."""

    segments: tuple[TextSegment, ...] = ()
    sizes: Mapping[int, int] = field(default_factory=dict)
    short: int = -1
    """How many works have a single 8-gram hash (texts of 8 words or fewer): the short-text
    lookups are skipped when there are none. -1: count it from ``sizes``."""

    def __post_init__(self) -> None:
        if self.short < 0:
            object.__setattr__(self, "short", sum(1 for n in self.sizes.values() if n == 1))

    @staticmethod
    def build(records: Iterable[tuple[int, bytes]]) -> ShingleIndex:
        """An index of ``(work_id, text-8grams bytes)`` records (malformed ones skipped)."""
        return ShingleIndex().with_records(records)

    def with_records(self, records: Iterable[tuple[int, bytes]]) -> ShingleIndex:
        """A new index: this one plus ``records`` in a new segment (this one is unchanged).

        A work already present is skipped (its 8-grams never change).
        """
        parts: dict[int, npt.NDArray[np.uint64]] = {}
        for work_id, data in records:
            grams = stored_hashes(data)
            if grams is None or work_id in self.sizes:
                continue
            old = parts.get(work_id)
            parts[work_id] = grams if old is None else np.concatenate([old, grams])
        if not parts:
            return self
        unique = [(w, np.unique(g)) for w, g in sorted(parts.items())]
        sizes = dict(self.sizes)
        sizes.update({w: len(g) for w, g in unique})
        short = self.short + sum(1 for _, g in unique if len(g) == 1)
        return ShingleIndex(merge_text(self.segments, TextSegment.build(unique)), sizes, short)

    def __len__(self) -> int:
        return len(self.sizes)

    def search(self, query: TextQuery) -> list[Match]:
        """Every registered text the query reproduces (see the module docstring)."""
        eight = query.gram(SHINGLE_WORDS)
        if not self.segments or eight is None:
            return []
        hits: dict[int, set[int]] = {}
        if query.words >= SHINGLE_WORDS:
            for segment in self.segments:
                for at, work_id in _lookup(segment, eight):
                    hits.setdefault(work_id, set()).add(at)
        out: list[Match] = []
        for work_id, pos_set in sorted(hits.items()):
            positions = sorted(pos_set)
            unique = len(set(eight[positions].tolist()))
            match = _judge(work_id, query, positions, unique, self.sizes.get(work_id, 1))
            if match is not None:
                out.append(match)
        found = {m.work_id for m in out}
        if not self.short:  # no text of fewer than 8 words is registered
            return out
        for n in range(1, SHINGLE_WORDS):
            grams = query.gram(n)
            if grams is None:
                continue
            firsts: dict[int, int] = {}
            for segment in self.segments:
                for at, work_id in _lookup(segment, grams):
                    if self.sizes.get(work_id) == 1 and work_id not in found:
                        firsts[work_id] = min(at, firsts.get(work_id, at))
            for work_id, at in sorted(firsts.items()):
                match = _judge_short(work_id, query, n, at)
                if match is not None:
                    found.add(work_id)
                    out.append(match)
        return out

    def save(self, root: Path) -> None:
        """Write the index (all segments merged) as four ``.npy`` arrays under ``root``."""
        merged = merge_text(self.segments, None, force=True)
        hashes = merged[0].hashes if merged else np.zeros(0, np.uint64)
        works = merged[0].works if merged else np.zeros(0, np.int64)
        ids = np.array(sorted(self.sizes), dtype=np.int64)
        sizes = np.array([self.sizes[i] for i in ids.tolist()], dtype=np.int64)
        for name, arr in zip(_FILES, (hashes, works, ids, sizes), strict=True):
            _save_npy(root / name, arr)

    @staticmethod
    def load(root: Path) -> ShingleIndex:
        """Open a saved index; the big arrays are memory-mapped."""
        hashes = np.load(root / _FILES[0], mmap_mode="r", allow_pickle=False)
        works = np.load(root / _FILES[1], mmap_mode="r", allow_pickle=False)
        ids = np.load(root / _FILES[2], allow_pickle=False)
        sizes = np.load(root / _FILES[3], allow_pickle=False)
        segment = (TextSegment(hashes, works),) if len(hashes) else ()
        return ShingleIndex(segment, dict(zip(ids.tolist(), sizes.tolist(), strict=True)))

    FILES = _FILES


def _lookup(segment: TextSegment, grams: npt.NDArray[np.uint64]) -> list[tuple[int, int]]:
    """``(query position, work id)`` of every query hash found in ``segment``.

    The distinct hashes are looked up sorted (a sorted ``searchsorted`` walks the
    segment in order instead of jumping around it), then mapped back to positions.
    """
    distinct, where = np.unique(grams, return_inverse=True)
    lo = np.searchsorted(segment.hashes, distinct, side="left")
    hi = np.searchsorted(segment.hashes, distinct, side="right")
    found = hi > lo
    if not found.any():
        return []
    works = {
        int(k): set(np.asarray(segment.works[lo[k] : hi[k]]).tolist())
        for k in np.flatnonzero(found).tolist()
    }
    out: list[tuple[int, int]] = []
    for at in np.flatnonzero(found[where]).tolist():
        for work_id in works[int(where[at])]:
            out.append((at, int(work_id)))
    return out


def _save_npy(path: Path, arr: npt.NDArray[np.generic]) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.save(fh, np.ascontiguousarray(arr), allow_pickle=False)


def compare(query: TextQuery, work_id: int, stored: bytes) -> Match | None:
    """Brute force: the evidence of one registered ``text-8grams`` record in ``query``."""
    grams = stored_hashes(stored)
    full = query.gram(SHINGLE_WORDS)
    if grams is None or full is None:
        return None
    registered = set(grams.tolist())
    eight = full.tolist() if query.words >= SHINGLE_WORDS else []
    positions = [i for i, g in enumerate(eight) if g in registered]
    if positions:
        unique = len({eight[i] for i in positions})
        match = _judge(work_id, query, positions, unique, len(registered))
        if match is not None:
            return match
    if len(registered) != 1:
        return None
    for n in range(1, SHINGLE_WORDS):
        grams_n = query.gram(n)
        if grams_n is None:
            continue
        at = next((i for i, g in enumerate(grams_n.tolist()) if g in registered), None)
        if at is not None:
            return _judge_short(work_id, query, n, at)
    return None


__all__ = [
    "ALGO",
    "CONTAINMENT",
    "MAX_SEGMENTS",
    "MAX_TEXT_CHARS",
    "RUN",
    "RUN_REVIEW",
    "RUN_STRONG",
    "SHORT_PHRASE_WORDS",
    "ShingleIndex",
    "TextQuery",
    "compare",
    "stored_hashes",
]

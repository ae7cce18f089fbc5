"""Text containment index: which registered works does this text reproduce, and how much?

Whole-document similarity (MinHash) misses a registered passage inside a longer
output: the output's shingle set is mostly other text. Containment asks the
other question: what share of the *registered* work's word n-grams occur in the
query, and how long a stretch of it is reproduced in order.

Design, and why:

* **Short n-grams for retrieval.** Replacing one word in ten leaves about 59%
  of 5-grams intact but only 43% of 8-grams, so retrieval uses 5-grams of the
  normalised words (``clearance.fingerprint.text``: NFKC, case and punctuation
  folded) and tolerates edits.
* **An inverted index of numpy arrays**: every registered n-gram is one entry
  ``(key, doc, position)``, kept sorted by key. A query looks all its n-grams up
  at once (a directory on the keys' top bits picks a bucket of about eight
  entries, compared whole); there is no per-entry Python.
* **Runs with gaps.** Hits of one document are chained in order: a hit extends
  a chain when both its query and its document position advance by at most
  ``max_gap`` words. Hits on one diagonal are chained in bulk; chains on nearby
  diagonals (an inserted or deleted word) are then joined per candidate. A
  10%-edited passage stays one long span.
* **Boilerplate is skipped**: n-grams with more than ``max_postings`` entries
  say nothing about who was copied and would cost the most to look up.
* **Batches are sorted once**; single adds go to a small sorted delta that is
  merged into the main arrays lazily (when it outgrows an eighth of them), and
  removals are tombstones until the next merge. Saving compacts everything.

Word hashes are computed from the normalised UTF-8 bytes of a whole batch at
once (``textindex_arrays._hash_words``) rather than with text.py's per-word xxh3, which costs a
Python call per word; n-grams are then combined exactly as in text.py
(``ngram_hashes``). The saved format is described in ``TextIndex.save`` and in
docs/matching.md.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from clearance.core.errors import (
    ConflictError,
    InputNotFound,
    NotFound,
    RegistryVersionError,
    UnsupportedInput,
)
from clearance.fingerprint.text import (
    fold_text,
    ngram_hashes,
    normalise_text,
    tokenize,
)
from clearance.fingerprint.textindex_arrays import _hash_words, _Segment

WorkId = str | int

NGRAM_WORDS = 5
MAX_GAP = 24
MAX_POSTINGS = 1000
MIN_SPAN_WORDS = 50
FORMAT_NAME = "clearance-textindex"
FORMAT_VERSION = 1
HEADER_FILE = "textindex.json"
WORD_HASH = "chunk64-splitmix64"

_U64 = np.uint64
_BATCH_CHARS = 1 << 20
_PENDING_ENTRIES = 1 << 16
_DELTA_MIN_ENTRIES = 1 << 20
_MAX_RUNS = 512  # per candidate; more only happens with pathological repetition


@dataclass(frozen=True, slots=True)
class Match:
    """One registered work found in a query text."""

    id: WorkId
    containment: float
    """Share of the registered work's n-grams found anywhere in the query (0..1)."""
    span: tuple[int, int]
    """Character offsets ``[start, end)`` in the query of the longest shared span."""
    span_words: int
    """Length of that span in words of the registered work."""
    registered_words: tuple[int, int]
    """Word offsets ``[start, end)`` of that span in the registered work (see ``char_span``)."""
    matched_ngrams: int
    """Distinct n-grams of the registered work found in the query."""


def char_span(text: str, word_span: tuple[int, int]) -> tuple[int, int]:
    """Character offsets in ``text`` of its normalised words ``[start, end)``.

    Turns ``Match.registered_words`` into a span of the registered text, which
    the index does not keep.
    """
    tokens = tokenize(text)
    start, end = word_span
    if not 0 <= start < end <= len(tokens.words):
        raise ValueError(f"word span {word_span} outside a text of {len(tokens.words)} words")
    return int(tokens.starts[start]), int(tokens.ends[end - 1])


def containment(registered: str, query: str, *, ngram_words: int = NGRAM_WORDS) -> float:
    """Brute-force reference: share of ``registered``'s word n-grams present in ``query``.

    Plain Python tuples, no hashing; the index must agree with it.
    """
    reg = normalise_text(registered).split()
    qry = normalise_text(query).split()

    def grams(words: list[str], n: int) -> list[tuple[str, ...]]:
        n = min(n, len(words))
        return [tuple(words[i : i + n]) for i in range(len(words) - n + 1)] if words else []

    mine = grams(reg, ngram_words)
    if not mine:
        return 0.0
    theirs = set(grams(qry, len(mine[0])))
    return sum(g in theirs for g in mine) / len(mine)


def _check_id(work_id: object) -> None:
    if isinstance(work_id, bool) or not isinstance(work_id, str | int):
        raise TypeError(f"work ids are str or int, not {type(work_id).__name__}")


class TextIndex:
    """Find registered texts inside other texts (containment, longest shared span).

    ``add``/``add_many`` register texts under ids, ``query`` returns ``Match``es
    sorted by containment, ``save``/``load`` keep the index on disk. Not
    thread-safe: guard it with a lock if threads share it.
    """

    def __init__(
        self,
        *,
        ngram_words: int = NGRAM_WORDS,
        max_gap: int = MAX_GAP,
        max_postings: int = MAX_POSTINGS,
    ) -> None:
        if ngram_words < 1 or max_gap < 1 or max_postings < 1:
            raise ValueError("ngram_words, max_gap and max_postings must be >= 1")
        self.ngram_words = ngram_words
        self.max_gap = max_gap
        self.max_postings = max_postings
        self._ids: list[WorkId | None] = []
        self._doc_of: dict[WorkId, int] = {}
        self._doc_words = np.zeros(0, np.uint32)
        self._live = np.zeros(0, bool)
        self._short: dict[int, int] = {}  # word count -> live docs shorter than ngram_words
        self._main = _Segment.empty()
        self._delta = _Segment.empty()
        self._pending: list[_Segment] = []
        self._pending_entries = 0
        self._dead_entries = 0

    # -- registering -----------------------------------------------------

    def __len__(self) -> int:
        return len(self._doc_of)

    def __contains__(self, work_id: object) -> bool:
        return work_id in self._doc_of

    @property
    def nbytes(self) -> int:
        """Memory held by the index arrays (16 bytes per n-gram, plus directory and tables)."""
        arrays = [self._doc_words, self._live]
        for seg in (self._main, self._delta, *self._pending):
            arrays += [seg.keys, seg.refs]
            if seg._directory is not None:
                arrays.append(seg._directory[1])
        return sum(a.nbytes for a in arrays)

    def add(self, work_id: WorkId, text: str) -> None:
        """Register one text. Raises ``ConflictError`` if the id is taken."""
        self.add_many([(work_id, text)])

    def add_many(self, items: Iterable[tuple[WorkId, str]]) -> None:
        """Register many texts, hashed in batches and sorted once.

        All or nothing: an empty text (``UnsupportedInput``) or a taken id
        (``ConflictError``) leaves the index unchanged.
        """
        ids: list[WorkId] = []
        seen: set[WorkId] = set()
        counts: list[npt.NDArray[np.int64]] = []
        parts: list[_Segment] = []
        batch: list[tuple[WorkId, str]] = []
        chars = 0
        first_doc = len(self._ids)
        for work_id, text in items:
            _check_id(work_id)
            if work_id in self._doc_of or work_id in seen:
                raise ConflictError(f"text {work_id!r} is already in the index")
            seen.add(work_id)
            ids.append(work_id)
            batch.append((work_id, text))
            chars += len(text)
            if chars >= _BATCH_CHARS:
                counts.append(self._hash_batch(batch, first_doc + len(ids) - len(batch), parts))
                batch, chars = [], 0
        if batch:
            counts.append(self._hash_batch(batch, first_doc + len(ids) - len(batch), parts))
        if not ids:
            return
        seg = _Segment.sorted_from(parts)
        self._register(ids, np.concatenate(counts))
        if not len(self._main):
            self._main = seg
        elif len(seg) > len(self._main) // 8:
            self._main = self._main.merge(seg)
        else:
            self._pending.append(seg)
            self._pending_entries += len(seg)
            if self._pending_entries >= _PENDING_ENTRIES:
                self._flush()

    def _hash_batch(
        self, batch: list[tuple[WorkId, str]], first_doc: int, parts: list[_Segment]
    ) -> npt.NDArray[np.int64]:
        """Append the batch's entries to ``parts``; return each text's word count."""
        n = self.ngram_words
        norms = [fold_text(text) for _, text in batch]
        hashes, starts = _hash_words(" ".join(norms).encode("utf-8"))
        sizes = np.array([len(s) if s.isascii() else len(s.encode()) for s in norms], np.int64)
        doc_at = np.cumsum(sizes + 1) - sizes - 1
        first_word = np.searchsorted(starts, doc_at)
        words = np.diff(first_word, append=len(starts))
        if not words.all():
            empty = batch[int(np.flatnonzero(words == 0)[0])][0]
            raise UnsupportedInput(f"text {empty!r} has no words to index")
        doc = np.arange(first_doc, first_doc + len(batch), dtype=_U64) << _U64(32)
        refs = np.repeat(doc - first_word.astype(_U64), words) + np.arange(len(hashes), dtype=_U64)
        if len(hashes) >= n:  # n-grams that start at least n words before their text's end
            m = len(hashes) - n + 1
            last_start = np.repeat(first_word + words - n, words)[:m]
            ok = np.arange(m) <= last_start
            parts.append(_Segment(ngram_hashes(hashes, n)[ok], refs[:m][ok]))
        for i in np.flatnonzero(words < n).tolist():
            a = int(first_word[i])
            key = ngram_hashes(hashes[a : a + int(words[i])], n)
            parts.append(_Segment(key, refs[a : a + 1]))
        return words

    def _register(self, ids: list[WorkId], words: npt.NDArray[np.int64]) -> None:
        base = len(self._ids)
        self._ids.extend(ids)
        self._doc_of.update((work_id, base + i) for i, work_id in enumerate(ids))
        end = len(self._ids)
        if end > len(self._live):  # grow by doubling, so single adds stay O(1)
            size = max(end, 2 * len(self._live), 1024)
            doc_words, live = np.zeros(size, np.uint32), np.zeros(size, bool)
            doc_words[:base], live[:base] = self._doc_words[:base], self._live[:base]
            self._doc_words, self._live = doc_words, live
        self._doc_words[base:end] = words
        self._live[base:end] = True
        for k in words[words < self.ngram_words].tolist():
            self._short[k] = self._short.get(k, 0) + 1

    def remove(self, work_id: WorkId) -> None:
        """Forget a text. Raises ``NotFound`` for an unknown id."""
        doc = self._doc_of.pop(work_id, None)
        if doc is None:
            raise NotFound(f"text {work_id!r} is not in the index")
        self._ids[doc] = None
        self._live[doc] = False
        words = int(self._doc_words[doc])
        if words < self.ngram_words:
            self._short[words] -= 1
            if not self._short[words]:
                del self._short[words]
        self._dead_entries += max(words - self.ngram_words + 1, 1)

    def _sort_pending(self) -> None:
        if self._pending:
            self._delta = self._delta.merge(_Segment.sorted_from(self._pending)).keep(self._live)
            self._pending_entries = 0

    def _flush(self) -> None:
        """Sort pending adds into the delta; merge the delta into main when it is big."""
        self._sort_pending()
        big = max(_DELTA_MIN_ENTRIES, len(self._main) // 8)
        if len(self._delta) > big or self._dead_entries > max(len(self._main) // 4, 1 << 16):
            self._compact()

    def _compact(self) -> None:
        """Merge everything into main, drop removed texts and renumber documents densely."""
        self._sort_pending()
        live = self._live[: len(self._ids)]
        self._main = self._main.merge(self._delta).keep(self._live)
        self._delta = _Segment.empty()
        if live.all():
            return
        new_number = np.cumsum(live, dtype=np.int64) - 1
        seg = self._main
        low = seg.refs & _U64(0xFFFFFFFF)
        self._main = _Segment(seg.keys, (new_number[seg.docs()].astype(_U64) << _U64(32)) | low)
        ids = [i for i in self._ids if i is not None]
        self._ids = list(ids)
        self._doc_of = {work_id: doc for doc, work_id in enumerate(ids)}
        self._doc_words = self._doc_words[: len(live)][live]
        self._live = np.ones(len(ids), bool)
        self._dead_entries = 0

    # -- querying --------------------------------------------------------

    def query(
        self,
        text: str,
        *,
        min_containment: float = 0.0,
        min_span_words: int = MIN_SPAN_WORDS,
    ) -> list[Match]:
        """Registered texts reproduced in ``text``, highest containment first.

        A work is reported when at least ``min_containment`` of its n-grams
        occur in ``text`` and its longest shared span covers ``min_span_words``
        of its words (or all of them, for a work shorter than that). Text with
        no words gives an empty list.
        """
        tokens = tokenize(text)
        if not tokens.words or not self._doc_of:
            return []
        self._flush()
        hashes, _ = _hash_words(" ".join(tokens.words).encode("utf-8"))
        q, doc, d = self._hits(*self._needles(hashes))
        if not len(q):
            return []
        return self._matches(tokens.starts, tokens.ends, q, doc, d, min_containment, min_span_words)

    def _needles(
        self, hashes: npt.NDArray[np.uint64]
    ) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """The query's n-gram keys, their word positions and their lengths.

        Registered texts shorter than ``ngram_words`` are keyed by all their
        words, so the query is also cut into runs of those lengths, if any.
        """
        n = self.ngram_words
        lengths = [n] if len(hashes) >= n else []
        lengths += [k for k in sorted(self._short) if k <= len(hashes)]
        if not lengths:
            return np.zeros(0, _U64), np.zeros(0, np.int64), np.zeros(0, np.int64)
        grams = [ngram_hashes(hashes, k) for k in lengths]
        keys = np.concatenate(grams)
        qpos = np.concatenate([np.arange(len(g), dtype=np.int64) for g in grams])
        qlen = np.repeat(np.array(lengths, np.int64), [len(g) for g in grams])
        return keys, qpos, qlen

    def _hits(
        self,
        needles: npt.NDArray[np.uint64],
        qpos: npt.NDArray[np.int64],
        qlen: npt.NDArray[np.int64],
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Every (query position, document, document position) whose n-grams agree."""
        segments = [s for s in (self._main, self._delta) if len(s)]
        bounds = [(s, *s.bounds(needles)) for s in segments]
        postings = sum((hi - lo for _, lo, hi in bounds), np.zeros(len(needles), np.int64))
        common = postings > self.max_postings
        out_q, out_doc, out_d = [], [], []
        for seg, lo, hi in bounds:
            count = np.where(common, 0, hi - lo)
            total = int(count.sum())
            if not total:
                continue
            needle = np.repeat(np.arange(len(needles)), count)
            entry = lo[needle] + np.arange(total) - (np.cumsum(count) - count)[needle]
            ref = seg.refs[entry]
            doc = (ref >> _U64(32)).astype(np.int64)
            gram = np.minimum(self._doc_words[doc], self.ngram_words)
            keep = self._live[doc] & (gram == qlen[needle])
            out_q.append(qpos[needle][keep])
            out_doc.append(doc[keep])
            out_d.append((ref[keep] & _U64(0xFFFFFFFF)).astype(np.int64))
        if not out_q:
            empty = np.zeros(0, np.int64)
            return empty, empty, empty
        return np.concatenate(out_q), np.concatenate(out_doc), np.concatenate(out_d)

    def _matches(
        self,
        starts: npt.NDArray[np.int64],
        ends: npt.NDArray[np.int64],
        q: npt.NDArray[np.int64],
        doc: npt.NDArray[np.int64],
        d: npt.NDArray[np.int64],
        min_containment: float,
        min_span_words: int,
    ) -> list[Match]:
        n, g = self.ngram_words, self.max_gap
        diag = q - d
        order = np.lexsort((q, diag, doc))
        q, doc, d, diag = q[order], doc[order], d[order], diag[order]
        pairs: npt.NDArray[np.int64] = np.unique((doc << 32) | d)
        cand, matched = np.unique(pairs >> 32, return_counts=True)
        words = self._doc_words[cand].astype(np.int64)
        gram = np.minimum(words, n)
        share = matched / np.maximum(words - n + 1, 1)
        # Runs: consecutive hits of one document on one diagonal, at most g apart.
        new = np.ones(len(q), dtype=bool)
        new[1:] = (doc[1:] != doc[:-1]) | (diag[1:] != diag[:-1]) | (q[1:] - q[:-1] > g)
        first = np.flatnonzero(new)
        last = np.append(first[1:], len(q)) - 1
        r_doc, r_q0, r_q1, r_d0, r_d1 = doc[first], q[first], q[last], d[first], d[last]
        run_lo = np.asarray(np.searchsorted(r_doc, cand, "left"), dtype=np.intp)
        run_hi = np.asarray(np.searchsorted(r_doc, cand, "right"), dtype=np.intp)
        reach = np.add.reduceat(r_d1 - r_d0, run_lo) + (run_hi - run_lo - 1) * g + gram
        need: npt.NDArray[np.int64] = np.minimum(words, min_span_words)
        out = []
        for i in np.flatnonzero((share >= min_containment) & (reach >= need)).tolist():
            a, b = int(run_lo[i]), int(run_hi[i])
            q0, q1, d0, d1 = _best_chain(r_q0[a:b], r_q1[a:b], r_d0[a:b], r_d1[a:b], g)
            span_words = d1 - d0 + int(gram[i])
            if span_words < need[i]:
                continue
            work_id = self._ids[int(cand[i])]
            assert work_id is not None
            out.append(
                Match(
                    id=work_id,
                    containment=float(share[i]),
                    span=(int(starts[q0]), int(ends[q1 + int(gram[i]) - 1])),
                    span_words=span_words,
                    registered_words=(d0, d0 + span_words),
                    matched_ngrams=int(matched[i]),
                )
            )
        out.sort(key=lambda m: (-m.containment, -m.span_words))
        return out

    # -- storage ---------------------------------------------------------

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the index to the folder ``path`` (created; an older index there is replaced).

        Format version 1: ``textindex.json`` (the header: format name and
        version, parameters, counts, the ids in document-number order) and three
        ``.npy`` arrays, little-endian: ``keys`` (u8, sorted n-gram keys),
        ``refs`` (u8, per key: ``document << 32 | word where the n-gram
        starts``), ``doc_words`` (u4, words per document). Each file is written
        under a temporary name and renamed; the header last.
        """
        self._compact()
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        arrays = {
            "keys": self._main.keys.astype("<u8"),
            "refs": self._main.refs.astype("<u8"),
            "doc_words": self._doc_words[: len(self._ids)].astype("<u4"),
        }
        for name, array in arrays.items():
            tmp = folder / f"{name}.npy.tmp"
            with tmp.open("wb") as fh:
                np.save(fh, array, allow_pickle=False)
            os.replace(tmp, folder / f"{name}.npy")
        header = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "ngram_words": self.ngram_words,
            "max_gap": self.max_gap,
            "max_postings": self.max_postings,
            "word_hash": WORD_HASH,
            "documents": len(self._ids),
            "entries": len(self._main),
            "ids": self._ids,
        }
        tmp = folder / f"{HEADER_FILE}.tmp"
        tmp.write_text(json.dumps(header), encoding="utf-8")
        os.replace(tmp, folder / HEADER_FILE)

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, mmap: bool = True) -> TextIndex:
        """Open an index written by ``save``; with ``mmap`` the arrays stay on disk."""
        folder = Path(path)
        header_path = folder / HEADER_FILE
        if not header_path.is_file():
            raise InputNotFound(f"no text index at {folder}", hint=f"{HEADER_FILE} is missing")
        try:
            header = json.loads(header_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise UnsupportedInput(f"unreadable text index header {header_path}: {exc}") from exc
        if not isinstance(header, dict) or header.get("format") != FORMAT_NAME:
            raise UnsupportedInput(f"{header_path} is not a Clearance text index")
        version = header.get("format_version")
        if not isinstance(version, int) or version < 1:
            raise UnsupportedInput(f"{header_path} has no valid format_version")
        if version > FORMAT_VERSION:
            raise RegistryVersionError(
                f"text index format {version} is newer than this Clearance ({FORMAT_VERSION})",
                hint="upgrade Clearance",
            )
        if header.get("word_hash") != WORD_HASH:
            raise UnsupportedInput(f"{header_path}: unknown word_hash {header.get('word_hash')!r}")
        try:
            index = cls(
                ngram_words=int(header["ngram_words"]),
                max_gap=int(header["max_gap"]),
                max_postings=int(header["max_postings"]),
            )
            ids = header["ids"]
            documents, entries = int(header["documents"]), int(header["entries"])
        except (KeyError, TypeError, ValueError) as exc:
            raise UnsupportedInput(f"{header_path} is missing or garbles {exc}") from exc
        arrays = {
            "keys": ("<u8", entries),
            "refs": ("<u8", entries),
            "doc_words": ("<u4", documents),
        }
        loaded = {name: _load_array(folder, name, *spec, mmap) for name, spec in arrays.items()}
        if not isinstance(ids, list) or len(ids) != documents:
            raise UnsupportedInput(f"{header_path}: ids do not match the document count")
        for work_id in ids:
            try:
                _check_id(work_id)
            except TypeError as exc:
                raise UnsupportedInput(f"{header_path}: {exc}") from None
        if len(set(ids)) != len(ids):
            raise UnsupportedInput(f"{header_path}: duplicate ids")
        if entries and int(loaded["refs"].max() >> _U64(32)) >= documents:
            raise UnsupportedInput(f"{folder}: refs.npy names documents that do not exist")
        doc_words = np.array(loaded["doc_words"], dtype=np.uint32)
        if documents and not doc_words.all():
            raise UnsupportedInput(f"{folder}: doc_words.npy has an empty document")
        index._main = _Segment(loaded["keys"], loaded["refs"])
        index._register(ids, doc_words.astype(np.int64))
        return index


def _load_array(folder: Path, name: str, dtype: str, length: int, mmap: bool) -> Any:
    file = folder / f"{name}.npy"
    try:
        array = np.load(file, mmap_mode="r" if mmap and length else None, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise UnsupportedInput(f"unreadable text index array {file}: {exc}") from exc
    if array.dtype != np.dtype(dtype) or array.shape != (length,):
        raise UnsupportedInput(
            f"{file} holds {array.dtype}{list(array.shape)}, expected {dtype}[{length}]"
        )
    return array


def _best_chain(
    q0: npt.NDArray[np.int64],
    q1: npt.NDArray[np.int64],
    d0: npt.NDArray[np.int64],
    d1: npt.NDArray[np.int64],
    gap: int,
) -> tuple[int, int, int, int]:
    """Join one document's runs into the chain that spans most of it.

    Run j can precede run i when both the query and the document position
    advance from j's last hit to i's first hit by 1..``gap`` words (an inserted
    or deleted word moves a run to a neighbouring diagonal). For each run we keep
    the earliest document start of any chain ending there. Returns the chain's
    first and last hit positions ``(q_first, q_last, d_first, d_last)``.
    """
    if len(q0) > _MAX_RUNS:
        keep = np.sort(np.argsort(d1 - d0, kind="stable")[-_MAX_RUNS:])
        q0, q1, d0, d1 = q0[keep], q1[keep], d0[keep], d1[keep]
    order = np.lexsort((d0, q0))
    q0, q1, d0, d1 = q0[order], q1[order], d0[order], d1[order]
    start_q, start_d = q0.copy(), d0.copy()
    for i in range(1, len(q0)):
        dq = q0[i] - q1[:i]
        dd = d0[i] - d1[:i]
        ok = np.flatnonzero((dq > 0) & (dq <= gap) & (dd > 0) & (dd <= gap))
        if len(ok):
            j = int(ok[np.argmin(start_d[ok])])
            if start_d[j] < start_d[i]:
                start_q[i], start_d[i] = start_q[j], start_d[j]
    best = int(np.argmax(d1 - start_d))
    return int(start_q[best]), int(q1[best]), int(start_d[best]), int(d1[best])

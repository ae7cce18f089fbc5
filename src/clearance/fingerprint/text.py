"""Text fingerprints: normalised word 8-gram hashes and a MinHash signature.

Two questions need two fingerprints. "Is this registered text *inside* that
output?" is a containment question, answered by long shared runs of word
n-grams; we store the set of hashed word 8-grams for it. "Is this document a
near-copy of that one?" is a whole-document similarity question, which MinHash
answers; we store a 128-permutation datasketch signature for it.

Normalisation (``normalise_text``): Unicode NFKC, case folding, every
punctuation/symbol/control character folded to a space, whitespace collapsed.
``tokenize`` yields the same words together with each word's character offsets
in the *original* text, so a match can be pointed at in what the user sent.

Shingle hash format (version 1), so stored values stay comparable across runs:
each word is hashed with xxh3_64 (seed 0) over its UTF-8 bytes; the 8-gram
starting at word i hashes to ``splitmix64(sum_j w[i+j] * K**j mod 2**64)`` with
``K = 0x9E3779B97F4A7C15``. A text with fewer than 8 words yields one shingle of
all its words. The set is stored as sorted unique little-endian uint64.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import xxhash

SHINGLE_WORDS = 8
MINHASH_PERMUTATIONS = 128
MINHASH_SEED = 1
SHINGLE_FORMAT_VERSION = 1

_K = np.uint64(0x9E3779B97F4A7C15)
_FOLDED_CATEGORIES = ("P", "S", "C", "Z")
_ASCII_FOLD = str.maketrans(
    {chr(i): " " for i in range(128) if unicodedata.category(chr(i))[0] in _FOLDED_CATEGORIES}
)
_HANGUL_VOWELS_AND_FINALS = ((0x1160, 0x11FF), (0xD7B0, 0xD7FF))
_WORD = re.compile(r"[^ ]+")
# Character classes for tracing offsets (see _ClassTable).
_ATTACH, _UNSTABLE, _STABLE = "\x01", "\x02", "\x03"
_PIECE = re.compile(f"(?P<run>{_STABLE}+)(?!{_ATTACH})|(?P<unit>.{_ATTACH}*)", re.DOTALL)


class _FoldTable(dict[int, int]):
    """``str.translate`` table: folded categories to a space, every other character kept.

    Filled on demand from this interpreter's Unicode database, so folding runs
    inside ``str.translate`` instead of a Python loop per character.
    """

    def __missing__(self, code: int) -> int:
        value = 32 if unicodedata.category(chr(code))[0] in _FOLDED_CATEGORIES else code
        self[code] = value
        return value


class _ClassTable(dict[int, str]):
    """``str.translate`` table from a character to its class for offset tracing.

    * attach: NFKC may compose it with the character before (combining marks,
      Hangul vowel/final jamo, and characters that decompose to such);
    * unstable: normalises to something other than exactly itself (ligatures,
      full-width forms, ``ß``...);
    * stable: everything else; a run of stable characters normalises to itself,
      case-folded one character for one.
    """

    def __missing__(self, code: int) -> str:
        ch = chr(code)
        first = unicodedata.normalize("NFKD", ch)[:1] or ch
        if (
            unicodedata.category(ch)[0] == "M"
            or unicodedata.combining(ch)
            or unicodedata.category(first)[0] == "M"
            or unicodedata.combining(first)
            or any(a <= code <= b for a, b in _HANGUL_VOWELS_AND_FINALS)
        ):
            value = _ATTACH
        elif unicodedata.normalize("NFKC", ch) != ch or len(ch.casefold()) != 1:
            value = _UNSTABLE
        else:
            value = _STABLE
        self[code] = value
        return value


_FOLD = _FoldTable()
_CLASSES = _ClassTable()


def fold_text(text: str) -> str:
    """``normalise_text`` without collapsing whitespace: the same words, between spaces.

    Cheaper when the caller splits the words itself (``str.split()``).
    """
    folded = unicodedata.normalize("NFKC", text).casefold()
    return folded.translate(_ASCII_FOLD if folded.isascii() else _FOLD)


def normalise_text(text: str) -> str:
    """NFKC, casefold, punctuation and symbols to spaces, whitespace collapsed."""
    return " ".join(fold_text(text).split())


@dataclass(frozen=True, slots=True)
class Tokens:
    """The words of ``normalise_text(text)`` with their spans in ``text`` itself."""

    words: tuple[str, ...]
    starts: npt.NDArray[np.int64]
    """Character offset in the original text where each word begins."""
    ends: npt.NDArray[np.int64]
    """Character offset just past each word's last original character."""


def _no_tokens() -> Tokens:
    return Tokens((), np.zeros(0, np.int64), np.zeros(0, np.int64))


def word_bounds(
    codes: npt.NDArray[np.uint8] | npt.NDArray[np.uint32],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Start and end offsets of the runs of non-space (not 0x20) code units."""
    space = np.empty(len(codes) + 2, dtype=bool)
    space[0] = space[-1] = True
    np.equal(codes, 32, out=space[1:-1])
    edges = np.flatnonzero(space[1:] != space[:-1]).astype(np.int64)
    return edges[0::2].copy(), edges[1::2].copy()


def _ascii_tokens(text: str) -> Tokens:
    low = text.lower().translate(_ASCII_FOLD)
    starts, ends = word_bounds(np.frombuffer(low.encode("ascii"), dtype=np.uint8))
    return Tokens(tuple(low.split()), starts, ends)


def _traced_tokens(text: str) -> Tokens | None:
    """Normalise piece by piece, remembering which original characters each came from.

    NFKC only ever combines a character with the combining marks after it, so
    the text is cut into runs of stable characters (normalised one for one) and
    small units (a character with its marks, or one unstable character) whose
    output all traces back to the unit. Returns None in the (untested) case
    where the pieces do not reproduce ``normalise_text`` exactly.
    """
    pieces: list[str] = []
    table: list[tuple[int, int, int, bool]] = []  # (offset in output, start, end, one_to_one)
    out = 0
    for m in _PIECE.finditer(text.translate(_CLASSES)):
        a, b = m.span()
        piece = text[a:b]
        norm = piece.casefold() if m.lastgroup == "run" else ""
        one_to_one = len(norm) == b - a
        if not one_to_one:
            norm = unicodedata.normalize("NFKC", piece).casefold()
        pieces.append(norm)
        table.append((out, a, b, one_to_one))
        out += len(norm)
    folded = "".join(pieces).translate(_FOLD)
    words = tuple(folded.split())
    expected = normalise_text(text)
    if words != tuple(expected.split(" ") if expected else ()):
        return None
    if not words:
        return _no_tokens()
    first, end = word_bounds(np.frombuffer(folded.encode("utf-32-le"), dtype=np.uint32))
    last = end - 1
    out_at, src_a, src_b = (np.array([row[i] for row in table], dtype=np.int64) for i in range(3))
    exact = np.array([row[3] for row in table], dtype=bool)
    k = np.searchsorted(out_at, first, side="right") - 1
    starts = np.where(exact[k], src_a[k] + (first - out_at[k]), src_a[k])
    k = np.searchsorted(out_at, last, side="right") - 1
    ends = np.where(exact[k], src_a[k] + (last - out_at[k]) + 1, src_b[k])
    return Tokens(words, starts, ends)


def _approximate_tokens(text: str) -> Tokens:
    """Fallback: exact words, offsets scaled from the normalised text."""
    norm = normalise_text(text)
    spans = [m.span() for m in _WORD.finditer(norm)]
    if not spans:
        return _no_tokens()
    scale = len(text) / len(norm)
    starts = np.array([min(int(s * scale), len(text) - 1) for s, _ in spans], dtype=np.int64)
    ends = np.array([min(int(e * scale) + 1, len(text)) for _, e in spans], dtype=np.int64)
    return Tokens(tuple(norm[s:e] for s, e in spans), starts, np.maximum(ends, starts + 1))


def tokenize(text: str) -> Tokens:
    """The words of ``normalise_text(text)``, each with its character span in ``text``.

    A word's span covers every original character that normalised into it, so
    ``text[start:end]`` shows the word as the user wrote it (case, accents,
    ligatures and all). Words are exactly ``normalise_text(text).split(" ")``.
    """
    if text.isascii():
        return _ascii_tokens(text)
    traced = _traced_tokens(text)
    return traced if traced is not None else _approximate_tokens(text)


def splitmix64(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """The splitmix64 finaliser, element-wise (mod 2**64)."""
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return x


def word_hashes(words: list[str]) -> npt.NDArray[np.uint64]:
    """xxh3_64 of each word's UTF-8 bytes."""
    return np.fromiter(
        (xxhash.xxh3_64_intdigest(w.encode("utf-8")) for w in words),
        dtype=np.uint64,
        count=len(words),
    )


def ngram_hashes(w: npt.NDArray[np.uint64], n: int) -> npt.NDArray[np.uint64]:
    """Combine per-word hashes into the hash of every run of ``n`` words, in order.

    The n-gram starting at word i hashes to ``splitmix64(sum_j w[i+j] * K**j)``
    (mod 2**64). Fewer than ``n`` words give one hash of all of them.
    """
    if not len(w):
        return np.zeros(0, dtype=np.uint64)
    if len(w) < n:
        n = len(w)
    count = len(w) - n + 1
    acc = w[:count].astype(np.uint64)
    term = np.empty(count, dtype=np.uint64)
    power = np.ones(1, dtype=np.uint64)
    for j in range(1, n):
        power = power * _K
        np.multiply(w[j : j + count], power, out=term)
        acc += term
    return splitmix64(acc)


def shingle_hashes(words: list[str], n: int = SHINGLE_WORDS) -> npt.NDArray[np.uint64]:
    """Hashes of every word n-gram, in order (not deduplicated)."""
    return ngram_hashes(word_hashes(words), n)


@dataclass(frozen=True, slots=True)
class TextFingerprint:
    """What the registry stores for a text: shingle set and MinHash signature."""

    shingles: npt.NDArray[np.uint64]
    """Sorted unique 8-gram hashes."""
    minhash: npt.NDArray[np.uint64]
    """datasketch MinHash hash values, ``MINHASH_PERMUTATIONS`` long."""
    word_count: int

    def shingle_bytes(self) -> bytes:
        return self.shingles.astype("<u8").tobytes()

    def minhash_bytes(self) -> bytes:
        return self.minhash.astype("<u8").tobytes()

    def jaccard(self, other: TextFingerprint) -> float:
        """MinHash estimate of the Jaccard similarity of the two shingle sets."""
        return float(np.mean(self.minhash == other.minhash))


def _low32(value: bytes) -> int:
    return int.from_bytes(value[:4], "little")


def text_fingerprint(text: str) -> TextFingerprint:
    """Fingerprint a text for registration (see the module docstring for the format)."""
    words = normalise_text(text).split(" ") if text.strip() else []
    words = [w for w in words if w]
    shingles = np.unique(shingle_hashes(words))
    from datasketch import MinHash  # imported here: it pulls in scipy, costly at start-up

    mh = MinHash(num_perm=MINHASH_PERMUTATIONS, seed=MINHASH_SEED, hashfunc=_low32)
    if len(shingles):
        mh.update_batch([s.tobytes() for s in shingles.astype("<u8")])
    return TextFingerprint(shingles, np.asarray(mh.hashvalues, dtype=np.uint64), len(words))

"""Text fingerprints: normalised word 8-gram hashes and a MinHash signature.

Two questions need two fingerprints. "Is this registered text *inside* that
output?" is a containment question, answered by long shared runs of word
n-grams; we store the set of hashed word 8-grams for it. "Is this document a
near-copy of that one?" is a whole-document similarity question, which MinHash
answers; we store a 128-permutation datasketch signature for it.

Normalisation (``normalise_text``): Unicode NFKC, case folding, every
punctuation/symbol/control character folded to a space, whitespace collapsed.

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
from datasketch import MinHash

SHINGLE_WORDS = 8
MINHASH_PERMUTATIONS = 128
MINHASH_SEED = 1
SHINGLE_FORMAT_VERSION = 1

_K = np.uint64(0x9E3779B97F4A7C15)
_SPACE = re.compile(r"\s+")


def _fold_char(ch: str) -> str:
    cat = unicodedata.category(ch)
    if cat[0] in ("P", "S", "C", "Z"):
        return " "
    return ch


def normalise_text(text: str) -> str:
    """NFKC, casefold, punctuation and symbols to spaces, whitespace collapsed."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    folded = "".join(_fold_char(ch) for ch in folded)
    return _SPACE.sub(" ", folded).strip()


def _splitmix64(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def word_hashes(words: list[str]) -> npt.NDArray[np.uint64]:
    """xxh3_64 of each word's UTF-8 bytes."""
    return np.fromiter(
        (xxhash.xxh3_64_intdigest(w.encode("utf-8")) for w in words),
        dtype=np.uint64,
        count=len(words),
    )


def shingle_hashes(words: list[str], n: int = SHINGLE_WORDS) -> npt.NDArray[np.uint64]:
    """Hashes of every word n-gram, in order (not deduplicated)."""
    if not words:
        return np.zeros(0, dtype=np.uint64)
    w = word_hashes(words)
    if len(w) < n:
        n = len(w)
    count = len(w) - n + 1
    acc = np.zeros(count, dtype=np.uint64)
    power = np.ones(1, dtype=np.uint64)
    for j in range(n):
        acc += w[j : j + count] * power
        power = power * _K
    return _splitmix64(acc)


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
    mh = MinHash(num_perm=MINHASH_PERMUTATIONS, seed=MINHASH_SEED, hashfunc=_low32)
    if len(shingles):
        mh.update_batch([s.tobytes() for s in shingles.astype("<u8")])
    return TextFingerprint(shingles, np.asarray(mh.hashvalues, dtype=np.uint64), len(words))

"""Content fingerprints: exact hashes, PDQ image hashes, text shingles and MinHash.

The signal types built on them (thresholds, indexes, brute-force twins) live
in ``clearance.matching``, where the scan and the guard share them.

These are the keys the registry stores at registration and the scan and guard
look up later. Pure functions over bytes; no database, no network.
"""

from clearance.fingerprint.exact import sha256_bytes, sha256_file
from clearance.fingerprint.hamming import HammingIndex
from clearance.fingerprint.hamming_bruteforce import bruteforce_search
from clearance.fingerprint.image import (
    DEFAULT_MAX_PIXELS,
    MIN_QUALITY,
    ImageHash,
    image_hash,
)
from clearance.fingerprint.parallel import image_hashes
from clearance.fingerprint.regions import (
    RegionHashes,
    compare_regions,
    image_fingerprints,
    match_image,
    region_hashes,
)
from clearance.fingerprint.text import (
    MINHASH_PERMUTATIONS,
    SHINGLE_WORDS,
    TextFingerprint,
    normalise_text,
    text_fingerprint,
)

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "MINHASH_PERMUTATIONS",
    "MIN_QUALITY",
    "SHINGLE_WORDS",
    "HammingIndex",
    "ImageHash",
    "RegionHashes",
    "TextFingerprint",
    "bruteforce_search",
    "compare_regions",
    "image_fingerprints",
    "image_hash",
    "image_hashes",
    "match_image",
    "normalise_text",
    "region_hashes",
    "sha256_bytes",
    "sha256_file",
    "text_fingerprint",
]

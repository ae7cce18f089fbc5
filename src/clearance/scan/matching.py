"""Matching dataset items against the registry, with indexes built once per run.

Why build once: a scan may touch millions of items, and every registered image
and text must be looked up for each. The parent builds, from one pass over the
registry, (1) a PDQ ``HammingIndex`` of every image fingerprint of quality
>= 50, (2) an inverted map from each registered text's word 8-gram hashes to
its work ids, (3) the list of URL-prefix identifiers and (4) the audio
(Chromaprint) and video (1 fps frame PDQ) indexes of ``scan.media``. They are
written into the run directory (``.index/``) in versioned formats (the Hamming
index's own file format; the media indexes' format; ``.npy`` arrays with
``allow_pickle`` off; JSON), and each worker memory-maps them instead of
rebuilding them per shard.

Exact identifiers (SHA-256 of the bytes, a URL, a domain) are point lookups
that the store answers directly; each worker opens the store read-only.

A registered text matches an item when at least ``TEXT_CONTAINMENT`` of the
text's distinct 8-grams occur in the item (containment, not Jaccard: a
short poem inside a long web page is still the poem).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
from numpy.typing import NDArray

from clearance.core.errors import UserError
from clearance.core.models import IdentifierScheme, Work
from clearance.fingerprint.hamming import DEFAULT_RADIUS, HammingIndex
from clearance.fingerprint.image import MIN_QUALITY, image_hash
from clearance.fingerprint.text import SHINGLE_WORDS, normalise_text, shingle_hashes
from clearance.registry.identifiers import normalise_url
from clearance.registry.store import SqlStore
from clearance.scan.config import FORMAT_VERSION
from clearance.scan.media import MEDIA_FILES, MediaMatcher, build_media_indexes
from clearance.scan.readers import Item

TEXT_CONTAINMENT = 0.5
"""Share of a registered text's 8-grams that must occur in an item for a match."""

PDQ_RADIUS = DEFAULT_RADIUS

_PDQ_FILE = "pdq.hidx"
_TEXT_HASHES = "text-8grams.hashes.npy"
_TEXT_WORKS = "text-8grams.works.npy"
_TEXT_SIZE_IDS = "text-8grams.size-ids.npy"
_TEXT_SIZES = "text-8grams.sizes.npy"
_PREFIXES = "url-prefixes.json"
_META = "index.json"
_IDENTIFIER_KEYS = "identifier-keys.npy"
_KEYED = (IdentifierScheme.SHA256, IdentifierScheme.URL)
"""Identifier schemes looked up per item: the index holds a key of each registered value, so
the store is queried only for the few items whose key is present (not once per item)."""


def identifier_key(scheme: IdentifierScheme, value: str) -> int:
    """A 64-bit key of ``scheme:value`` (first 8 bytes of its SHA-256)."""
    digest = hashlib.sha256(f"{scheme.value}:{value}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


def build_index(store: SqlStore, root: Path, registry_state: str) -> dict[str, Any]:
    """Write the run's registry indexes under ``root``; return the metadata (also in index.json)."""
    root.mkdir(parents=True, exist_ok=True)
    ids: list[int] = []
    codes: list[bytes] = []
    for rows in store.iter_fingerprint_batches("pdq"):
        for work_id, data, quality in rows:
            if quality is not None and quality >= MIN_QUALITY and len(data) == 32:
                ids.append(work_id)
                codes.append(data)
    index = HammingIndex(256)
    if ids:
        index.add(ids, np.frombuffer(b"".join(codes), np.uint8).reshape(-1, 32))
    index.save(root / _PDQ_FILE)

    per_work: dict[int, list[NDArray[np.uint64]]] = {}
    for work_id, rec in store.iter_fingerprints("text-8grams"):
        per_work.setdefault(work_id, []).append(np.frombuffer(rec.data, "<u8").astype(np.uint64))
    hashes: list[NDArray[np.uint64]] = []
    works: list[NDArray[np.int64]] = []
    size_ids = np.array(sorted(per_work), dtype=np.int64)
    sizes = np.zeros(len(size_ids), dtype=np.int64)
    for i, work_id in enumerate(size_ids.tolist()):
        grams = np.unique(np.concatenate(per_work[work_id]))
        sizes[i] = len(grams)
        hashes.append(grams)
        works.append(np.full(len(grams), work_id, dtype=np.int64))
    all_hashes = np.concatenate(hashes) if hashes else np.empty(0, np.uint64)
    all_works = np.concatenate(works) if works else np.empty(0, np.int64)
    order = np.argsort(all_hashes, kind="stable")
    _save_npy(root / _TEXT_HASHES, all_hashes[order])
    _save_npy(root / _TEXT_WORKS, all_works[order])
    _save_npy(root / _TEXT_SIZE_IDS, size_ids)
    _save_npy(root / _TEXT_SIZES, sizes)

    keys = [
        identifier_key(scheme, value)
        for scheme in _KEYED
        for _work_id, value in store.iter_identifiers(scheme)
    ]
    _save_npy(root / _IDENTIFIER_KEYS, np.unique(np.array(keys, dtype=np.uint64)))
    prefixes = [
        [value, work_id] for work_id, value in store.iter_identifiers(IdentifierScheme.URL_PREFIX)
    ]
    _write_json(root / _PREFIXES, {"format_version": FORMAT_VERSION, "prefixes": prefixes})
    media = build_media_indexes(store, root)
    meta = {
        "format": "clearance.scan-index",
        "format_version": FORMAT_VERSION,
        "registry_state": registry_state,
        "pdq_codes": len(ids),
        "pdq_radius": PDQ_RADIUS,
        "text_works": len(size_ids),
        "text_8grams": len(all_hashes),
        "text_containment": TEXT_CONTAINMENT,
        "url_prefixes": len(prefixes),
        **media,
    }
    _write_json(root / _META, meta)
    return meta


def _save_npy(path: Path, arr: NDArray[Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        np.save(fh, arr, allow_pickle=False)
    tmp.replace(path)


def _write_json(path: Path, doc: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=2, sort_keys=True), encoding="utf-8")
    tmp.replace(path)


INDEX_FILES = (
    _PDQ_FILE,
    _TEXT_HASHES,
    _TEXT_WORKS,
    _TEXT_SIZE_IDS,
    _TEXT_SIZES,
    _PREFIXES,
    _IDENTIFIER_KEYS,
    *MEDIA_FILES,
    _META,
)
"""Every file ``build_index`` writes (the Ray engine ships them through its object store)."""


def index_meta(root: Path) -> dict[str, Any] | None:
    """The metadata of a complete index written by ``build_index``, or None when there is none.

    An index missing any of ``INDEX_FILES`` (say, written by an older Clearance) is None too,
    so the caller rebuilds it.
    """
    if not all((root / name).is_file() for name in INDEX_FILES):
        return None
    try:
        doc = json.loads((root / _META).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


@dataclass(slots=True)
class Match:
    """What the registry knows about one item: matched works and how each matched."""

    works: dict[int, Work] = field(default_factory=dict)
    how: dict[int, list[str]] = field(default_factory=dict)
    sha256: str | None = None
    pdq_quality: int | None = None

    def add(self, work: Work, how: str) -> None:
        self.works.setdefault(work.id, work)
        reasons = self.how.setdefault(work.id, [])
        if how not in reasons:
            reasons.append(how)


class Matcher:
    """A worker's view of the run's indexes plus an open store for point lookups."""

    def __init__(self, root: Path, store: SqlStore) -> None:
        self.store = store
        self.pdq = HammingIndex.load(root / _PDQ_FILE)
        self.text_hashes = np.load(root / _TEXT_HASHES, mmap_mode="r", allow_pickle=False)
        self.text_works = np.load(root / _TEXT_WORKS, mmap_mode="r", allow_pickle=False)
        size_ids = np.load(root / _TEXT_SIZE_IDS, allow_pickle=False)
        sizes = np.load(root / _TEXT_SIZES, allow_pickle=False)
        self.text_sizes = dict(zip(size_ids.tolist(), sizes.tolist(), strict=True))
        doc = json.loads((root / _PREFIXES).read_text(encoding="utf-8"))
        self.prefixes: dict[str, list[tuple[str, int]]] = {}
        for value, work_id in doc["prefixes"]:
            host = urlsplit(value).netloc
            self.prefixes.setdefault(host, []).append((value, int(work_id)))
        self.media = MediaMatcher(root)
        self.identifier_keys = np.load(root / _IDENTIFIER_KEYS, allow_pickle=False)
        self._works: dict[int, Work | None] = {}
        self._domains: dict[str, list[tuple[Work, str]]] = {}

    def work(self, work_id: int) -> Work | None:
        if work_id not in self._works:
            from clearance.core.errors import NotFound

            try:
                self._works[work_id] = self.store.get_work(work_id)
            except NotFound:  # removed since the index was built
                self._works[work_id] = None
        return self._works[work_id]

    def match(self, item: Item) -> Match:
        """Every registered work the item matches; ``ClearanceError`` for bad image/audio/video."""
        found = Match()
        digest = item.sha256
        if digest is None and item.data is not None:
            digest = hashlib.sha256(item.data).hexdigest()
        found.sha256 = digest
        if digest is not None and self._registered(IdentifierScheme.SHA256, digest):
            for w in self.store.find_works(IdentifierScheme.SHA256, digest):
                found.add(w, "sha256")
        if item.media == "image" and item.data is not None:
            self._match_image(item.data, found)
        if item.media in ("audio", "video") and item.data is not None:
            for work_id, how in self.media.hits(item):
                matched = self.work(work_id)
                if matched is not None:
                    found.add(matched, how)
        if item.text is not None:
            self._match_text(item.text, found)
        if item.url is not None:
            self._match_url(item.url, found)
        return found

    def _registered(self, scheme: IdentifierScheme, value: str) -> bool:
        """Whether some work may hold this identifier (a key hit; the store has the answer)."""
        key = np.uint64(identifier_key(scheme, value))
        at = int(np.searchsorted(self.identifier_keys, key))
        return at < len(self.identifier_keys) and self.identifier_keys[at] == key

    def _match_image(self, data: bytes, found: Match) -> None:
        h = image_hash(data)
        found.pdq_quality = h.quality
        if h.quality < MIN_QUALITY or len(self.pdq) == 0:
            return
        queries = np.frombuffer(b"".join(h.dihedral), np.uint8).reshape(-1, 32)
        best: dict[int, int] = {}
        for hits in self.pdq.search(queries, PDQ_RADIUS):
            for work_id, dist in hits:
                best[work_id] = min(dist, best.get(work_id, dist))
        for work_id, dist in sorted(best.items()):
            w = self.work(work_id)
            if w is not None:
                found.add(w, f"pdq:{dist}")

    def _match_text(self, text: str, found: Match) -> None:
        if not len(self.text_hashes):
            return
        words = [w for w in normalise_text(text).split(" ") if w]
        if not words:
            return
        grams = np.unique(shingle_hashes(words, SHINGLE_WORDS))
        left = np.searchsorted(self.text_hashes, grams, side="left")
        right = np.searchsorted(self.text_hashes, grams, side="right")
        hit = right > left
        if not hit.any():
            return
        picks = np.concatenate(
            [np.arange(a, b) for a, b in zip(left[hit].tolist(), right[hit].tolist(), strict=True)]
        )
        work_ids, counts = np.unique(np.asarray(self.text_works[picks]), return_counts=True)
        for work_id, count in zip(work_ids.tolist(), counts.tolist(), strict=True):
            size = self.text_sizes.get(work_id, 0)
            if size and count / size >= TEXT_CONTAINMENT:
                w = self.work(work_id)
                if w is not None:
                    found.add(w, f"text:{count / size:.2f}")

    def _match_url(self, url: str, found: Match) -> None:
        try:
            norm = normalise_url(url)
        except UserError:
            return
        if self._registered(IdentifierScheme.URL, norm):
            for w in self.store.find_works(IdentifierScheme.URL, norm):
                found.add(w, "url")
        host = urlsplit(norm).netloc
        for value, work_id in self.prefixes.get(host, ()):
            if norm.startswith(value):
                prefixed = self.work(work_id)
                if prefixed is not None:
                    found.add(prefixed, "url-prefix")
        hostname = urlsplit(norm).hostname or ""
        for work, label in self._domain_works(hostname):
            found.add(work, label)

    def _domain_works(self, hostname: str) -> list[tuple[Work, str]]:
        """Works claimed by domain for ``hostname`` or any parent domain (cached per host)."""
        cached = self._domains.get(hostname)
        if cached is None:
            cached = []
            labels = hostname.split(".")
            for i in range(len(labels)):
                suffix = ".".join(labels[i:])
                for w in self.store.find_works(IdentifierScheme.DOMAIN, suffix):
                    cached.append((w, "domain"))
            self._domains[hostname] = cached
        return cached

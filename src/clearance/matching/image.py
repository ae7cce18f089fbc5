"""Images: global PDQ with rotations and flips, crop/pad regions, and embeddings.

Three signal types, one decoded image. ``ImageQuery.decode`` decodes the item
once (upright, RGB, shrunk by a whole factor: ``fingerprint.image``) and
every stage reads that decode: the PDQ hash and its 8 dihedrals at once, the
region codes only when the cascade gets that far. The embedding stage wants
windows of at least ``QUERY_MIN_SIDE`` pixels, so it decodes a larger copy
only when it runs (an image no hash matched, with an embedder configured).

Thresholds, defined here once for the scan and the guard:

* ``PDQ``: Hamming distance <= 31 between any of the query's 8 dihedral
  hashes and a registered hash; both of quality >= 50 (a flat image never
  matches on its global hash alone).
* ``REGIONS``: a query region within 28 bits of a registered region (every
  region code already passed the quality filter; ``fingerprint.regions``).
* embeddings: the embedder's own ``block`` (strong) and ``review`` cosines.

Each type's brute-force twin (``compare_pdq``, ``compare_regions_of``,
``compare_embedding``) works on the stored records directly; the indexes must
agree with them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image

from clearance.core.files import atomic_path, atomic_write_text
from clearance.fingerprint.embedding import ImageEmbedder, embedding_algo, vector_from_bytes
from clearance.fingerprint.image import (
    DEFAULT_MAX_PIXELS,
    MIN_QUALITY,
    ImageHash,
    decode_image,
    hamming,
    hash_rgb,
)
from clearance.fingerprint.regions import (
    QUERY_SEARCHES,
    REGION_CLASSES,
    REGION_THRESHOLD,
    RegionHashes,
    regions_of_image,
)
from clearance.fingerprint.windows import best_similarities, decode_query
from clearance.matching.segments import HammingSegments
from clearance.matching.types import Match, Thresholds

PDQ_ALGO = "pdq"
REGIONS_ALGO = "pdq-regions"
PDQ = Thresholds(strong=31, distance=True)
REGIONS = Thresholds(strong=REGION_THRESHOLD, distance=True)

NO_EMBEDDER = "embedding: not run, no embedder configured (set CLEARANCE_EMBEDDER)"


@dataclass
class ImageQuery:
    """One image, decoded once; its PDQ hashes now, its region codes when first asked for."""

    source: bytes | Path
    rgb: Image.Image
    hash: ImageHash
    max_pixels: int = DEFAULT_MAX_PIXELS
    pixels: npt.NDArray[np.uint8] | None = field(default=None, repr=False)
    _regions: RegionHashes | None = field(default=None, repr=False)

    @staticmethod
    def decode(source: bytes | Path, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> ImageQuery:
        """Decode and hash; raises like ``image_hash`` (``UnsupportedInput``, ``ImageTooLarge``)."""
        rgb, width, height = decode_image(source, max_pixels=max_pixels)
        pixels = np.asarray(rgb, dtype=np.uint8)
        return ImageQuery(source, rgb, hash_rgb(rgb, width, height, pixels), max_pixels, pixels)

    def regions(self) -> RegionHashes:
        if self._regions is None:
            self._regions = regions_of_image(self.rgb, "query", self.pixels)
        return self._regions

    def pixels_for_windows(self) -> npt.NDArray[np.uint8]:
        """The image for the embedding's window search (a larger decode when it needs one)."""
        return decode_query(self.source, max_pixels=self.max_pixels)


def pdq_codes(records: Iterable[tuple[int, bytes, int | None]]) -> tuple[list[int], list[bytes]]:
    """The ``(work_id, code)`` pairs of ``pdq`` records that may match (32 bytes, quality >= 50)."""
    ids: list[int] = []
    codes: list[bytes] = []
    for work_id, data, quality in records:
        if quality is not None and quality >= MIN_QUALITY and len(data) == 32:
            ids.append(work_id)
            codes.append(data)
    return ids, codes


@dataclass(frozen=True)
class RegionIndex:
    """Registered region codes, one ``HammingSegments`` per region class (``whole``, ``part``,
    ``centre``), so each query region is searched only where it can line up
    (``fingerprint.regions.QUERY_SEARCHES``)."""

    classes: Mapping[str, HammingSegments] = field(
        default_factory=lambda: {c: HammingSegments() for c in REGION_CLASSES}
    )

    @staticmethod
    def build(records: Iterable[tuple[int, bytes]]) -> RegionIndex:
        return RegionIndex().with_records(records, base=True)

    def with_records(
        self, records: Iterable[tuple[int, bytes]], *, base: bool = False
    ) -> RegionIndex:
        """A new index: these codes plus those of the ``pdq-regions`` records (malformed
        records skipped), in a new segment per class (``base``: as the base segments)."""
        ids: dict[str, list[np.ndarray]] = {c: [] for c in REGION_CLASSES}
        codes: dict[str, list[np.ndarray]] = {c: [] for c in REGION_CLASSES}
        for work_id, data in records:
            try:
                regions = RegionHashes.from_bytes(data)
            except ValueError:
                continue
            for cls, arr in regions.by_class().items():
                ids[cls].append(np.full(len(arr), work_id, dtype=np.int64))
                codes[cls].append(arr)
        out = dict(self.classes)
        for cls in REGION_CLASSES:
            if not ids[cls]:
                continue
            new_ids, new_codes = np.concatenate(ids[cls]), np.concatenate(codes[cls])
            if base and not len(out[cls]):
                out[cls] = HammingSegments.build(new_ids, new_codes)
            else:
                out[cls] = out[cls].with_codes(new_ids, new_codes)
        return RegionIndex(out)

    def __len__(self) -> int:
        return sum(len(s) for s in self.classes.values())

    @property
    def small_codes(self) -> int:
        return sum(s.small_codes for s in self.classes.values())

    def save(self, root: Path) -> None:
        for cls in REGION_CLASSES:
            self.classes[cls].save(root / f"regions.{cls}.hidx")

    @staticmethod
    def load(root: Path) -> RegionIndex:
        return RegionIndex(
            {c: HammingSegments.load(root / f"regions.{c}.hidx") for c in REGION_CLASSES}
        )

    FILES = tuple(f"regions.{c}.hidx" for c in REGION_CLASSES)


def as_codes(chunks: list[bytes]) -> npt.NDArray[np.uint8]:
    return np.frombuffer(b"".join(chunks), np.uint8).reshape(-1, 32)


def _nearest(hits: Iterable[list[tuple[int, int]]]) -> dict[int, int]:
    best: dict[int, int] = {}
    for per_query in hits:
        for work_id, dist in per_query:
            best[work_id] = min(dist, best.get(work_id, dist))
    return best


def search_pdq(index: HammingSegments, codes: npt.NDArray[np.uint8]) -> list[Match]:
    """Works whose registered PDQ lies within ``PDQ`` of any of ``codes`` (one match each)."""
    if not len(index) or not len(codes):
        return []
    best = _nearest(index.search(codes, radius=int(PDQ.strong)))
    return [Match(w, "pdq", 1 - d / 256, d) for w, d in sorted(best.items())]


def search_pdq_each(index: HammingSegments, codes: npt.NDArray[np.uint8]) -> list[list[Match]]:
    """``search_pdq`` for many hashes at once, answered per hash (the bulk hash query)."""
    if not len(codes):
        return []
    if not len(index):
        return [[] for _ in range(len(codes))]
    return [
        [Match(w, "pdq", 1 - d / 256, d) for w, d in sorted(hits)]
        for hits in index.search(codes, radius=int(PDQ.strong))
    ]


def search_image_pdq(index: HammingSegments, query: ImageQuery) -> list[Match]:
    """Global PDQ with the query's 8 rotations/flips; nothing for a low-quality query."""
    if query.hash.low_quality:
        return []
    return search_pdq(index, as_codes(list(query.hash.dihedral)))


def search_regions(index: RegionIndex, query: ImageQuery) -> list[Match]:
    """Works with a registered region within ``REGIONS`` of a query region of a class that
    can line up with it (``fingerprint.regions.QUERY_SEARCHES``)."""
    if not len(index):
        return []
    regions = query.regions()
    if not len(regions):
        return []
    queries: dict[str, list[npt.NDArray[np.uint8]]] = {}
    for cls, codes in regions.by_class().items():
        for target in QUERY_SEARCHES[cls]:
            queries.setdefault(target, []).append(codes)
    hits: list[list[tuple[int, int]]] = []
    for target, parts in queries.items():  # one search per registered class
        segments = index.classes[target]
        if len(segments):
            hits += segments.search(np.concatenate(parts), radius=int(REGIONS.strong))
    best = _nearest(hits)
    return [Match(w, "region", 1 - d / 256, d) for w, d in sorted(best.items())]


def compare_pdq(
    query: ImageQuery, work_id: int, stored: bytes, quality: int | None
) -> Match | None:
    """Brute force: one registered PDQ record against the query's dihedral hashes."""
    if query.hash.low_quality or quality is None or quality < MIN_QUALITY or len(stored) != 32:
        return None
    dist = min(hamming(h, stored) for h in query.hash.dihedral)
    return Match(work_id, "pdq", 1 - dist / 256, dist) if PDQ.strength(dist) else None


def compare_regions_of(query: ImageQuery, work_id: int, stored: bytes) -> Match | None:
    """Brute force: one registered ``pdq-regions`` record against the query's regions."""
    from clearance.fingerprint.regions import compare_regions

    try:
        registered = RegionHashes.from_bytes(stored)
    except ValueError:
        return None
    found = compare_regions(query.regions(), registered, threshold=int(REGIONS.strong))
    if not found.matched:
        return None
    return Match(work_id, "region", 1 - found.distance / 256, found.distance)


# --------------------------------------------------------------------------- embeddings


@dataclass(frozen=True)
class EmbeddingIndex:
    """Stored vectors of one model: one L2-normalised row per vector, compared by matmul."""

    model_id: str = ""
    vectors: npt.NDArray[np.float32] = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    works: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))

    @staticmethod
    def empty(model_id: str, dim: int) -> EmbeddingIndex:
        return EmbeddingIndex(model_id, np.zeros((0, dim), np.float32), np.zeros(0, np.int64))

    @property
    def algo(self) -> str:
        return embedding_algo(self.model_id) if self.model_id else ""

    def __len__(self) -> int:
        return int(self.works.shape[0])

    def with_records(self, records: Iterable[tuple[int, bytes, int]]) -> EmbeddingIndex:
        """A new index: these vectors plus the well-formed ``(work, blob, version)`` records."""
        if not self.model_id:
            return self
        dim = int(self.vectors.shape[1])
        ids: list[int] = []
        rows: list[npt.NDArray[np.float32]] = []
        for work_id, data, version in records:
            vector = vector_from_bytes(data, dim) if version == 1 else None
            if vector is not None:
                ids.append(work_id)
                rows.append(vector)
        if not ids:
            return self
        return EmbeddingIndex(
            self.model_id,
            np.concatenate([self.vectors, np.stack(rows)]),
            np.concatenate([self.works, np.asarray(ids, np.int64)]),
        )

    def save(self, root: Path) -> None:
        for name, arr in (("embeddings.npy", self.vectors), ("embeddings.works.npy", self.works)):
            with atomic_path(root / name) as tmp, open(tmp, "wb") as fh:
                np.save(fh, np.ascontiguousarray(arr), allow_pickle=False)
        atomic_write_text(root / "embeddings.json", json.dumps({"model_id": self.model_id}))

    @staticmethod
    def load(root: Path) -> EmbeddingIndex:
        model = json.loads((root / "embeddings.json").read_text(encoding="utf-8"))["model_id"]
        vectors = np.load(root / "embeddings.npy", allow_pickle=False)
        works = np.load(root / "embeddings.works.npy", allow_pickle=False)
        return EmbeddingIndex(str(model), vectors, works)

    FILES = ("embeddings.npy", "embeddings.works.npy", "embeddings.json")


def embedding_note(index: EmbeddingIndex, embedder: ImageEmbedder | None) -> str | None:
    """Why the embedding stage cannot run (None when it can)."""
    if embedder is None:
        return NO_EMBEDDER
    if index.model_id != embedder.model_id:
        return f"embedding: not run, the index holds no vectors of model {embedder.model_id}"
    if not len(index):
        return (
            f"embedding: not run, no image registered with model {embedder.model_id} "
            "(register with the embedder configured)"
        )
    return None


def search_embedding(
    index: EmbeddingIndex, query: ImageQuery, embedder: ImageEmbedder
) -> list[Match]:
    """Best cosine per work over the query's windows: ``>= block`` strong, ``>= review`` weak."""
    sims = best_similarities(embedder, query.pixels_for_windows(), index.vectors)
    limits = Thresholds(strong=embedder.thresholds.block, review=embedder.thresholds.review)
    per_work: dict[int, float] = {}
    for row in np.flatnonzero(sims >= limits.review).tolist():  # type: ignore[operator]
        work_id = int(index.works[row])
        per_work[work_id] = max(float(sims[row]), per_work.get(work_id, -1.0))
    return [
        Match(w, "embedding", score, None, None, bool(limits.strength(score)))
        for w, score in sorted(per_work.items())
    ]


def compare_embedding(
    query_vector: npt.NDArray[np.float32], work_id: int, stored: bytes, embedder: ImageEmbedder
) -> Match | None:
    """Brute force: one stored vector against one query vector (cosine)."""
    vector = vector_from_bytes(stored, embedder.dim)
    if vector is None:
        return None
    score = float(np.dot(query_vector, vector))
    limits = Thresholds(strong=embedder.thresholds.block, review=embedder.thresholds.review)
    strong = limits.strength(score)
    return None if strong is None else Match(work_id, "embedding", score, None, None, strong)

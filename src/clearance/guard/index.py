"""The guard's in-memory view of the registry: image codes, region codes, text 8-grams, names.

Built once from the store (``GuardIndex.from_store``) and then queried per
output. Image codes of quality < 50 are left out, so a flat, low-quality hash
never matches on its own.

An index is never changed once built: ``clearance.guard.live`` applies new
registrations by building a *new* index that shares the unchanged parts and
adds small segments (``clearance.guard.segments``), then swaps one reference.
A check holds the index it started with, so it never sees a half-applied
change. ``watermark`` is the audit-log id the index reflects: everything
audited up to it is in the index (changes made while it was built may be
applied again by the next refresh, which is harmless: every step is
idempotent).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from clearance.core.models import Agreement, IdentifierScheme, Work, WorkKind
from clearance.fingerprint.embedding import ImageEmbedder, embedding_algo, vector_from_bytes
from clearance.fingerprint.image import MIN_QUALITY
from clearance.fingerprint.mediaindex import AudioIndex, VideoIndex
from clearance.fingerprint.regions import RegionHashes
from clearance.guard.media import build_media
from clearance.guard.names import NameMatcher
from clearance.guard.segments import HammingSegments, TextSegment
from clearance.registry.records import FingerprintRecord
from clearance.registry.store import RegistryStore


@dataclass(frozen=True, slots=True)
class FingerprintBatch:
    """A batch of stored fingerprints sorted by kind, ready to become index segments."""

    pdq_ids: list[int] = field(default_factory=list)
    pdq_codes: list[bytes] = field(default_factory=list)
    region_ids: list[int] = field(default_factory=list)
    region_codes: list[bytes] = field(default_factory=list)
    texts: list[tuple[int, npt.NDArray[np.uint64]]] = field(default_factory=list)

    def add(self, work_id: int, rec: FingerprintRecord, *, skip_text: Iterable[int] = ()) -> None:
        if rec.algo == "pdq":
            if (rec.quality or 0) >= MIN_QUALITY and len(rec.data) == 32:
                self.pdq_ids.append(work_id)
                self.pdq_codes.append(rec.data)
        elif rec.algo == "pdq-regions":
            regions = RegionHashes.from_bytes(rec.data)
            self.region_ids.extend([work_id] * len(regions))
            self.region_codes.append(regions.codes)
        elif rec.algo == "text-8grams" and work_id not in skip_text:
            self.texts.append((work_id, np.frombuffer(rec.data, "<u8").astype(np.uint64)))

    @staticmethod
    def codes(chunks: list[bytes]) -> npt.NDArray[np.uint8]:
        return np.frombuffer(b"".join(chunks), np.uint8).reshape(-1, 32)


@dataclass
class GuardIndex:
    """Everything ``check`` matches against, plus the works by id."""

    pdq: HammingSegments = field(default_factory=HammingSegments)
    regions: HammingSegments = field(default_factory=HammingSegments)
    text: tuple[TextSegment, ...] = ()
    text_sizes: dict[int, int] = field(default_factory=dict)
    names: NameMatcher = field(default_factory=NameMatcher)
    works: dict[int, Work] = field(default_factory=dict)
    watermark: int = 0
    agreements: dict[str, tuple[Agreement, ...]] = field(default_factory=dict)
    embedding_model: str = ""
    """The ``model_id`` whose stored vectors ``embeddings`` holds ("" when none was loaded)."""
    embeddings: npt.NDArray[np.float32] = field(
        default_factory=lambda: np.zeros((0, 0), np.float32)
    )
    """One L2-normalised row per stored vector; compared by brute-force matmul."""
    embedding_works: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    audio: tuple[AudioIndex, ...] = ()
    """Chromaprint indexes (one per refresh that brought audio; each compacted, read-only)."""
    video: tuple[VideoIndex, ...] = ()
    """1 fps PDQ frame indexes, likewise."""

    @staticmethod
    def from_store(store: RegistryStore, embedder: ImageEmbedder | None = None) -> GuardIndex:
        watermark = store.audit_watermark()  # read first: later changes are re-applied
        batch = FingerprintBatch()
        for algo in ("pdq", "pdq-regions", "text-8grams"):
            for work_id, rec in store.iter_fingerprints(algo):
                batch.add(work_id, rec)
        index = GuardIndex(watermark=watermark)
        index.pdq = HammingSegments.build(batch.pdq_ids, batch.codes(batch.pdq_codes))
        index.regions = HammingSegments.build(batch.region_ids, batch.codes(batch.region_codes))
        segment = TextSegment.build(batch.texts)
        index.text = (segment,) if segment is not None else ()
        for work_id, grams in batch.texts:
            index.text_sizes[work_id] = index.text_sizes.get(work_id, 0) + len(grams)
        audio, video = build_media(
            pair for algo in ("chromaprint", "video-pdq") for pair in store.iter_fingerprints(algo)
        )
        index.audio = (audio,) if audio is not None else ()
        index.video = (video,) if video is not None else ()
        for work_id, name in store.iter_identifiers(IdentifierScheme.NAME):
            try:
                index.names.add(work_id, name)
            except ValueError:
                continue
        for work in store.list_works():
            index.works[work.id] = work
        index.agreements = by_licensee(store.current_agreements(datetime.now(UTC)))
        if embedder is not None:
            index.load_embeddings(store, embedder)
        return index

    def load_embeddings(self, store: RegistryStore, embedder: ImageEmbedder) -> None:
        """Load the vectors stored for ``embedder.model_id`` only (other models' never mix)."""
        self.embedding_model = embedder.model_id
        self.embeddings = np.zeros((0, embedder.dim), np.float32)
        self.embedding_works = np.zeros(0, np.int64)
        ids, rows = self.embedding_rows(
            store.iter_fingerprints(embedding_algo(embedder.model_id)), embedder.dim
        )
        if ids:
            self.embeddings = np.stack(rows)
            self.embedding_works = np.asarray(ids, dtype=np.int64)

    def embedding_rows(
        self, records: Iterable[tuple[int, FingerprintRecord]], dim: int
    ) -> tuple[list[int], list[npt.NDArray[np.float32]]]:
        """The work ids and vectors among ``records`` that belong to this index's model."""
        algo = embedding_algo(self.embedding_model) if self.embedding_model else None
        rows: list[npt.NDArray[np.float32]] = []
        ids: list[int] = []
        for work_id, rec in records:
            if rec.algo != algo or rec.format_version != 1:
                continue
            vector = vector_from_bytes(rec.data, dim)
            if vector is not None:
                rows.append(vector)
                ids.append(work_id)
        return ids, rows

    def characters(self) -> list[Work]:
        return [w for w in self.works.values() if w.kind is WorkKind.CHARACTER]


def by_licensee(agreements: Iterable[Agreement]) -> dict[str, tuple[Agreement, ...]]:
    """Group agreements by licensee name, each group in id order."""
    out: dict[str, list[Agreement]] = {}
    for agreement in sorted(agreements, key=lambda a: a.id):
        out.setdefault(agreement.licensee, []).append(agreement)
    return {name: tuple(group) for name, group in out.items()}

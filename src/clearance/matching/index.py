"""``MatchIndex``: every signal type's index over one registry, built once, used by every job.

Why one object: the scan's run index, the index shipped to Ray actors and the
live guard's in-memory index are the same thing at different moments. It is
built from the registry's stored fingerprints and identifiers
(``from_store``), grown without mutation (``with_works``: every part returns
a new object that shares the unchanged segments, so a check in flight keeps
the index it started with), written to a directory in versioned formats
(``save``) and opened from one, memory-mapped (``load``).

What it holds depends on the level it was built for (``MatchLevel``):
``exact`` holds identifiers only, so a URL table's scan never reads a single
image code; ``pdq`` adds PDQ, texts, audio, video and character names;
``regions`` adds region codes; ``embedding`` adds the vectors of one model.

Removed works are not taken out of the segments: every job looks matched
works up in its view of the registry (``clearance.matching.matcher``), where
a removed work is gone, and a full rebuild drops their codes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from clearance.core.files import atomic_write_text
from clearance.core.models import Identifier, IdentifierScheme
from clearance.fingerprint.mediaindex import AudioIndex, VideoIndex
from clearance.fingerprint.mediarecords import AUDIO_ALGO, VIDEO_ALGO
from clearance.matching.exact import KEYED, IdentifierIndex
from clearance.matching.image import (
    PDQ,
    PDQ_ALGO,
    REGIONS,
    REGIONS_ALGO,
    EmbeddingIndex,
    RegionIndex,
    as_codes,
    pdq_codes,
)
from clearance.matching.media import build_media, save_media
from clearance.matching.names import NameMatcher
from clearance.matching.segments import MAX_SEGMENTS, HammingSegments
from clearance.matching.text import ALGO as TEXT_ALGO
from clearance.matching.text import CONTAINMENT, RUN_REVIEW, RUN_STRONG, ShingleIndex
from clearance.matching.types import MatchLevel
from clearance.registry.records import FingerprintRecord
from clearance.registry.store import RegistryStore

FORMAT = "clearance.match-index"
FORMAT_VERSION = 3
META = "index.json"
_PDQ_FILE = "pdq.hidx"
_NAMES_FILE = "names.json"

_FINGERPRINT_ALGOS = (PDQ_ALGO, REGIONS_ALGO, TEXT_ALGO, AUDIO_ALGO, VIDEO_ALGO)


@dataclass(frozen=True)
class EmbeddingModel:
    """Which model's stored vectors an index holds, and their length."""

    model_id: str
    dim: int


@dataclass(frozen=True)
class MatchIndex:
    """The registry's fingerprints and identifiers, one index per signal type."""

    level: MatchLevel = MatchLevel.EMBEDDING
    identifiers: IdentifierIndex = field(default_factory=IdentifierIndex)
    pdq: HammingSegments = field(default_factory=HammingSegments)
    regions: RegionIndex = field(default_factory=RegionIndex)
    text: ShingleIndex = field(default_factory=ShingleIndex)
    audio: tuple[AudioIndex, ...] = ()
    video: tuple[VideoIndex, ...] = ()
    names: NameMatcher = field(default_factory=NameMatcher)
    embeddings: EmbeddingIndex = field(default_factory=EmbeddingIndex)

    # ----------------------------------------------------------------- building

    @staticmethod
    def from_store(
        store: RegistryStore,
        *,
        level: MatchLevel = MatchLevel.EMBEDDING,
        embedding: EmbeddingModel | None = None,
    ) -> MatchIndex:
        """A full build from the registry (what a scan run and a guard start with)."""
        identifiers = IdentifierIndex.build(
            (work_id, Identifier(scheme, value))
            for scheme in (*KEYED, IdentifierScheme.URL_PREFIX)
            for work_id, value in store.iter_identifiers(scheme)
        )
        index = MatchIndex(level=level, identifiers=identifiers)
        if not level.reaches(MatchLevel.PDQ):
            return index
        ids, codes = [], []
        for rows in store.iter_fingerprint_batches(PDQ_ALGO):
            batch_ids, batch_codes = pdq_codes(rows)
            ids += batch_ids
            codes += batch_codes
        pdq = HammingSegments.build(ids, as_codes(codes))
        text = ShingleIndex.build((w, r.data) for w, r in store.iter_fingerprints(TEXT_ALGO))
        audio, video = build_media(
            (w, r.algo, r.data, r.format_version)
            for algo in (AUDIO_ALGO, VIDEO_ALGO)
            for w, r in store.iter_fingerprints(algo)
        )
        names = _names(store.iter_identifiers(IdentifierScheme.NAME))
        regions = RegionIndex()
        if level.reaches(MatchLevel.REGIONS):
            regions = RegionIndex.build(
                (w, r.data) for w, r in store.iter_fingerprints(REGIONS_ALGO)
            )
        embeddings = EmbeddingIndex()
        if level.reaches(MatchLevel.EMBEDDING) and embedding is not None:
            embeddings = EmbeddingIndex.empty(embedding.model_id, embedding.dim)
            embeddings = embeddings.with_records(
                (w, r.data, r.format_version) for w, r in store.iter_fingerprints(embeddings.algo)
            )
        return replace(
            index,
            pdq=pdq,
            regions=regions,
            text=text,
            audio=(audio,) if audio is not None else (),
            video=(video,) if video is not None else (),
            names=names,
            embeddings=embeddings,
        )

    def with_works(
        self,
        records: Iterable[tuple[int, FingerprintRecord]],
        identifiers: Iterable[tuple[int, Identifier]],
        renamed: dict[int, list[str]] | None = None,
    ) -> MatchIndex:
        """A new index that also holds ``records`` and ``identifiers`` (this one is unchanged).

        ``renamed`` maps works whose character names changed to their names now
        (an empty list drops them); adding the same fingerprint twice is harmless.
        """
        records = list(records)
        reach = self.level.reaches
        by_algo: dict[str, list[tuple[int, FingerprintRecord]]] = {}
        for work_id, rec in records:
            by_algo.setdefault(rec.algo, []).append((work_id, rec))
        out = replace(self, identifiers=self.identifiers.with_identifiers(identifiers))
        if not reach(MatchLevel.PDQ):
            return out
        ids, codes = pdq_codes((w, r.data, r.quality) for w, r in by_algo.get(PDQ_ALGO, []))
        audio, video = build_media(
            (w, r.algo, r.data, r.format_version)
            for algo in (AUDIO_ALGO, VIDEO_ALGO)
            for w, r in by_algo.get(algo, [])
        )
        names = self.names
        if renamed:
            names = names.without(renamed)
            for work_id, aliases in sorted(renamed.items()):
                names = _add_names(names, work_id, aliases)
        out = replace(
            out,
            pdq=self.pdq.with_codes(ids, as_codes(codes)),
            text=self.text.with_records((w, r.data) for w, r in by_algo.get(TEXT_ALGO, [])),
            audio=(*self.audio, audio) if audio is not None else self.audio,
            video=(*self.video, video) if video is not None else self.video,
            names=names,
        )
        if reach(MatchLevel.REGIONS):
            regions = self.regions.with_records(
                (w, r.data) for w, r in by_algo.get(REGIONS_ALGO, [])
            )
            out = replace(out, regions=regions)
        if reach(MatchLevel.EMBEDDING) and self.embeddings.model_id:
            algo = self.embeddings.algo
            vectors = ((w, r.data, r.format_version) for w, r in by_algo.get(algo, []))
            out = replace(out, embeddings=self.embeddings.with_records(vectors))
        return out

    @property
    def fragmented(self) -> bool:
        """Whether so many segments piled up that a full rebuild is due."""
        return len(self.audio) + len(self.video) > 2 * MAX_SEGMENTS

    @property
    def small_codes(self) -> int:
        """Image codes held outside the base segments (what a rebuild would fold in)."""
        return self.pdq.small_codes + self.regions.small_codes

    @property
    def base_codes(self) -> int:
        return len(self.pdq) - self.pdq.small_codes

    # ----------------------------------------------------------------- files

    def counts(self) -> dict[str, Any]:
        return {
            "identifiers": len(self.identifiers),
            "pdq_codes": len(self.pdq),
            "region_codes": len(self.regions),
            "text_works": len(self.text),
            "audio_recordings": sum(len(a) for a in self.audio),
            "video_recordings": sum(len(v) for v in self.video),
            "names": len(self.names),
            "embedding_vectors": len(self.embeddings),
        }

    def save(self, root: Path, **meta: Any) -> dict[str, Any]:
        """Write the index under ``root`` (``index.json`` last); return its metadata."""
        root.mkdir(parents=True, exist_ok=True)
        self.identifiers.save(root)
        self.pdq.save(root / _PDQ_FILE)
        self.regions.save(root)
        self.text.save(root)
        self.embeddings.save(root)
        audio = save_media(root, "audio", self.audio)
        video = save_media(root, "video", self.video)
        atomic_write_text(root / _NAMES_FILE, json.dumps(self.names.to_json()))
        doc = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "level": self.level.value,
            "segments": {"audio": audio, "video": video},
            "thresholds": {
                "pdq_radius": PDQ.strong,
                "region_radius": REGIONS.strong,
                "text_containment": CONTAINMENT.strong,
                "text_run_strong": RUN_STRONG,
                "text_run_review": RUN_REVIEW,
            },
            **self.counts(),
            **meta,
        }
        atomic_write_text(root / META, json.dumps(doc, indent=2, sort_keys=True))
        return doc

    @staticmethod
    def load(root: Path) -> MatchIndex:
        """Open an index written by ``save`` (raises ``OSError``/``ValueError`` if damaged)."""
        meta = index_meta(root)
        if meta is None:
            raise ValueError(f"{root} holds no complete match index")
        segments = meta.get("segments", {})
        return MatchIndex(
            level=MatchLevel.parse(meta["level"]),
            identifiers=IdentifierIndex.load(root),
            pdq=HammingSegments.load(root / _PDQ_FILE),
            regions=RegionIndex.load(root),
            text=ShingleIndex.load(root),
            audio=tuple(
                AudioIndex.load(root / f"audio.{i}.idx") for i in range(segments.get("audio", 0))
            ),
            video=tuple(
                VideoIndex.load(root / f"video.{i}.idx") for i in range(segments.get("video", 0))
            ),
            names=NameMatcher.from_json(
                json.loads((root / _NAMES_FILE).read_text(encoding="utf-8"))
            ),
            embeddings=EmbeddingIndex.load(root),
        )


def index_files(root: Path) -> list[Path]:
    """Every file of the index saved under ``root`` (for copying and shipping it)."""
    meta = index_meta(root)
    if meta is None:
        return []
    segments = meta.get("segments", {})
    names = [
        *IdentifierIndex.FILES,
        _PDQ_FILE,
        *RegionIndex.FILES,
        *ShingleIndex.FILES,
        *EmbeddingIndex.FILES,
        _NAMES_FILE,
        *(f"audio.{i}.idx" for i in range(segments.get("audio", 0))),
        *(f"video.{i}.idx" for i in range(segments.get("video", 0))),
        META,
    ]
    return [root / n for n in names]


def index_meta(root: Path) -> dict[str, Any] | None:
    """The metadata of a complete index under ``root``, or None (missing, damaged, older)."""
    try:
        doc = json.loads((root / META).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if (
        not isinstance(doc, dict)
        or doc.get("format") != FORMAT
        or doc.get("format_version") != FORMAT_VERSION
    ):
        return None
    segments = doc.get("segments")
    if not isinstance(segments, dict):
        return None
    names = [
        *IdentifierIndex.FILES,
        _PDQ_FILE,
        *RegionIndex.FILES,
        *ShingleIndex.FILES,
        *EmbeddingIndex.FILES,
        _NAMES_FILE,
    ]
    names += [f"audio.{i}.idx" for i in range(int(segments.get("audio", 0)))]
    names += [f"video.{i}.idx" for i in range(int(segments.get("video", 0)))]
    if not all((root / n).is_file() for n in names):
        return None
    return doc


def _add_names(names: NameMatcher, work_id: int, aliases: Iterable[str]) -> NameMatcher:
    for alias in aliases:
        try:
            names.add(work_id, alias)
        except ValueError:  # too short to match safely
            continue
    return names


def _names(pairs: Iterable[tuple[int, str]]) -> NameMatcher:
    names = NameMatcher()
    for work_id, alias in pairs:
        _add_names(names, work_id, [alias])
    return names

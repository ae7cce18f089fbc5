"""Audio and video: Chromaprint and 1 fps frame hashes against registered recordings.

Two signal types for the scan and the guard. Registered ``chromaprint`` and
``video-pdq`` records become ``AudioIndex``/``VideoIndex`` segments
(``fingerprint.mediarecords`` builds them, skipping malformed records); a
query is decoded from a path, or from bytes through a temporary file named
with the item's extension.

Thresholds, defined here once:

* ``AUDIO``: a registered recording shares a stretch of audio with the query
  at a bit error rate <= 0.30 (``fingerprint.audio``; score ``1 - 2 * BER``).
  The shortest stretch found at all is 24 Chromaprint words, about 5.6 s of
  audio; a shared stretch of ``AUDIO_STRONG_SECONDS`` (5 s) or more of audio
  is strong, so every audio match is strong: a 6 s excerpt of a registered
  recording is blocked, and audio has no review band.
* ``FRAMES``: half the query's frames match a registered video, half of the
  video's frames occur in the query, or 5 frames agree on one alignment
  (``fingerprint.videoindex``); every such hit is strong.

A match's ``span`` is the matching stretch of the query in milliseconds (for
audio, the audio its matching words describe: ``fingerprint.audio.audio_span``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from clearance.core.files import check_relative
from clearance.fingerprint.audio import audio_fingerprint
from clearance.fingerprint.mediaindex import AudioIndex, VideoIndex
from clearance.fingerprint.mediarecords import AUDIO_ALGO, VIDEO_ALGO, decode_bytes, media_indexes
from clearance.fingerprint.video import video_hashes
from clearance.matching.types import Match, Thresholds
from clearance.registry.register import AUDIO_EXTENSIONS, VIDEO_EXTENSIONS

AUDIO_STRONG_SECONDS = 5.0
AUDIO = Thresholds(strong=AUDIO_STRONG_SECONDS, review=0.0)
FRAMES = Thresholds(strong=0.0)

__all__ = [
    "AUDIO",
    "AUDIO_ALGO",
    "AUDIO_STRONG_SECONDS",
    "FRAMES",
    "VIDEO_ALGO",
    "build_media",
    "media_kind",
    "search_audio",
    "search_video",
]


def media_kind(name: str) -> str:
    """``audio``, ``video`` or ``image`` from a file name's extension."""
    suffix = Path(name).suffix.lower()
    if suffix in AUDIO_EXTENSIONS:
        return "audio"
    if suffix in VIDEO_EXTENSIONS:
        return "video"
    return "image"


def build_media(
    records: Iterable[tuple[int, str, bytes, int]],
) -> tuple[AudioIndex | None, VideoIndex | None]:
    """Compacted indexes of ``(work_id, algo, data, version)`` records (None for a kind with none).

    Compacted, so searching never mutates them and any number of threads may search.
    """
    built = media_indexes(records)
    audio = built.audio if len(built.audio) else None
    video = built.video if len(built.video) else None
    if audio is not None:
        audio.compact()
    if video is not None:
        video.compact()
    return audio, video


def _suffix(name: str) -> str:
    suffix = Path(name.split("?", 1)[0]).suffix.lower()
    return suffix if suffix in AUDIO_EXTENSIONS or suffix in VIDEO_EXTENSIONS else ""


def _best(matches: list[Match]) -> list[Match]:
    best: dict[int, Match] = {}
    for m in matches:  # one match per work: its best across segments
        if m.work_id not in best or m.better_than(best[m.work_id]):
            best[m.work_id] = m
    return sorted(best.values(), key=lambda m: (-m.score, m.work_id))


def search_audio(source: bytes | Path, name: str, indexes: Sequence[AudioIndex]) -> list[Match]:
    """Every registered recording the audio ``source`` reproduces (``UnsupportedInput`` if
    it cannot be decoded). Decoded only when some index holds a recording."""
    if not any(len(i) for i in indexes):
        return []
    query = (
        decode_bytes(source, _suffix(name), audio_fingerprint, name)
        if isinstance(source, bytes)
        else audio_fingerprint(source)
    )
    out: list[Match] = []
    for index in indexes:
        for a in index.search(query):
            start, end = a.query_span
            span = (round(start * 1000), round(end * 1000))
            strong = end - start >= AUDIO_STRONG_SECONDS
            out.append(Match(a.work_id, "chromaprint", a.score, None, span, strong))
    return _best(out)


def search_video(source: bytes | Path, name: str, indexes: Sequence[VideoIndex]) -> list[Match]:
    """Every registered video the ``source`` reproduces (``UnsupportedInput`` if undecodable)."""
    if not any(len(i) for i in indexes):
        return []
    frames = (
        decode_bytes(source, _suffix(name), video_hashes, name)
        if isinstance(source, bytes)
        else video_hashes(source)
    )
    out: list[Match] = []
    for index in indexes:
        for v in index.search(frames):
            span = (round(v.query_span[0] * 1000), round(v.query_span[1] * 1000))
            out.append(Match(v.work_id, "frames", v.score, None, span, True))
    return _best(out)


def save_media(root: Path, stem: str, indexes: Sequence[AudioIndex | VideoIndex]) -> int:
    """Write each segment as ``STEM.N.idx`` under ``root``; return how many were written."""
    for i, index in enumerate(indexes):
        check_relative(f"{stem}.{i}.idx")
        index.save(root / f"{stem}.{i}.idx")
    return len(indexes)

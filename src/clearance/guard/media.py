"""Audio and video outputs: does a generated song or clip reproduce a registered recording?

Why a module of its own: images, texts and names are matched in memory from
the request, but audio and video must be decoded from a file (PyAV), so they
need a path (an upload is spooled to a temporary file), a kind (from the file
extension) and the two media indexes of ``clearance.fingerprint.mediaindex``.

Evidence and thresholds (the indexes' own, ``docs/matching.md``):

* ``chromaprint``: a registered recording shares at least ~3 s of audio with
  the output, at a bit error rate <= 0.30 (score ``1 - 2 * BER``). A shared
  stretch of ``AUDIO_STRONG_SECONDS`` (5 s) or more is strong evidence; a
  shorter one asks for ``review``.
* ``frames``: 1 fps PDQ frames; half the output's frames match a registered
  video, half of the video's frames occur in the output, or 5 frames agree on
  one alignment. All such hits are strong evidence.

A match's ``span`` is the matching stretch of the output in milliseconds.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from clearance.fingerprint.audio import audio_fingerprint
from clearance.fingerprint.mediaindex import AudioIndex, VideoIndex
from clearance.fingerprint.mediarecords import decode_bytes, media_indexes
from clearance.fingerprint.video import video_hashes
from clearance.registry.records import FingerprintRecord
from clearance.registry.register import AUDIO_EXTENSIONS, VIDEO_EXTENSIONS

AUDIO_STRONG_SECONDS = 5.0

Hit = tuple[int, str, float, tuple[int, int], bool]
"""``(work_id, method, score, span_ms, strong)``."""


def media_kind(output: str | bytes | Path, label: str) -> str:
    """``audio``, ``video`` or ``image``, from the path's (or the upload name's) extension."""
    name = label if isinstance(output, bytes) else str(output)
    suffix = Path(name).suffix.lower()
    if suffix in AUDIO_EXTENSIONS:
        return "audio"
    if suffix in VIDEO_EXTENSIONS:
        return "video"
    return "image"


def build_media(
    records: Iterable[tuple[int, FingerprintRecord]],
) -> tuple[AudioIndex | None, VideoIndex | None]:
    """Indexes of the ``chromaprint`` and ``video-pdq`` records (``None`` for a kind with none).

    Built by ``mediarecords.media_indexes`` (malformed records skipped), then
    compacted, so searching them never mutates them and any number of threads
    may search at once.
    """
    built = media_indexes((w, r.algo, r.data, r.format_version) for w, r in records)
    audio = built.audio if len(built.audio) else None
    video = built.video if len(built.video) else None
    if audio is not None:
        audio.compact()
    if video is not None:
        video.compact()
    return audio, video


def media_hits(
    output: str | bytes | Path,
    kind: str,
    label: str,
    audio: Iterable[AudioIndex],
    video: Iterable[VideoIndex],
) -> list[Hit]:
    """Every registered recording the audio or video ``output`` reproduces, with its evidence."""
    suffix = Path(label).suffix.lower()
    hits: list[Hit] = []
    if kind == "audio":
        query = (
            decode_bytes(output, suffix, audio_fingerprint, label)
            if isinstance(output, bytes)
            else audio_fingerprint(Path(output))
        )
        for index in audio:
            for a in index.search(query):
                span = (round(a.query_span[0] * 1000), round(a.query_span[1] * 1000))
                strong = a.query_span[1] - a.query_span[0] >= AUDIO_STRONG_SECONDS
                hits.append((a.work_id, "chromaprint", a.score, span, strong))
    else:
        frames = (
            decode_bytes(output, suffix, video_hashes, label)
            if isinstance(output, bytes)
            else video_hashes(Path(output))
        )
        for vindex in video:
            for v in vindex.search(frames):
                span = (round(v.query_span[0] * 1000), round(v.query_span[1] * 1000))
                hits.append((v.work_id, "frames", v.score, span, True))
    best: dict[int, Hit] = {}
    for hit in hits:  # one hit per work: its best across segments
        if hit[0] not in best or hit[2] > best[hit[0]][2]:
            best[hit[0]] = hit
    return sorted(best.values(), key=lambda h: (-h[2], h[0]))

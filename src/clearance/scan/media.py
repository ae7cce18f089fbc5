"""Audio and video items in a scan: fingerprinted, then looked up in the run's media indexes.

Why a module of its own: matching audio and video needs two more indexes
(``clearance.fingerprint.mediaindex``), built once per run from the
registry's ``chromaprint`` and ``video-pdq`` fingerprints and written into
``.index/`` beside the PDQ and text indexes, and a way to decode items that
may be only bytes (a WebDataset member, a table's ``path`` read into memory):
the decoders read files, so such bytes go through a temporary file named
with the item's extension.

An audio or video item is decoded only when the registry holds at least one
recording of that kind; then a file that cannot be decoded raises
``UnsupportedInput`` and becomes the item's ``error`` row. Each match is
reported as ``chromaprint:SCORE`` or ``frames:SCORE`` (score 0..1, two
decimals) in the work's ``matched_by``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from clearance.fingerprint.audio import audio_fingerprint
from clearance.fingerprint.mediaindex import AudioIndex, VideoIndex
from clearance.fingerprint.mediarecords import AUDIO_ALGO, VIDEO_ALGO, decode_bytes, media_indexes
from clearance.fingerprint.video import video_hashes
from clearance.registry.register import AUDIO_EXTENSIONS, VIDEO_EXTENSIONS
from clearance.registry.store import SqlStore
from clearance.scan.readers import Item

AUDIO_FILE = "audio.cidx"
VIDEO_FILE = "video.vidx"
MEDIA_FILES = (AUDIO_FILE, VIDEO_FILE)
"""The files ``build_media_indexes`` writes (``AudioIndex``/``VideoIndex`` file format)."""

T = TypeVar("T")


def build_media_indexes(store: SqlStore, root: Path) -> dict[str, Any]:
    """Write the audio and video indexes under ``root``; return what they hold.

    A stored fingerprint that is not a whole number of records is skipped and
    counted, not fatal (``mediarecords.media_indexes``).
    """
    built = media_indexes(
        (work_id, rec.algo, rec.data, rec.format_version)
        for algo in (AUDIO_ALGO, VIDEO_ALGO)
        for work_id, rec in store.iter_fingerprints(algo)
    )
    built.audio.save(root / AUDIO_FILE)
    built.video.save(root / VIDEO_FILE)
    return built.counts()


def _suffix(source: str) -> str:
    path = urlsplit(source).path if "://" in source else source
    suffix = Path(path).suffix.lower()
    return suffix if suffix in AUDIO_EXTENSIONS or suffix in VIDEO_EXTENSIONS else ""


def _from_bytes(item: Item, decode: Callable[[Path], T]) -> T:
    """Run a file decoder over the item's bytes (errors name the item, not a temporary file)."""
    assert item.data is not None
    return decode_bytes(item.data, _suffix(item.source), decode, item.source)


class MediaMatcher:
    """A worker's audio and video indexes, loaded once per process."""

    def __init__(self, root: Path) -> None:
        self.audio = AudioIndex.load(root / AUDIO_FILE)
        self.video = VideoIndex.load(root / VIDEO_FILE)
        self._has_audio = len(self.audio) > 0
        self._has_video = len(self.video) > 0

    def hits(self, item: Item) -> list[tuple[int, str]]:
        """``(work_id, how)`` for every registered recording the item reproduces.

        Raises ``UnsupportedInput`` when the item's audio or video cannot be decoded.
        """
        if item.data is None:
            return []
        if item.media == "audio" and self._has_audio:
            fp = _from_bytes(item, audio_fingerprint)
            return [(h.work_id, f"chromaprint:{h.score:.2f}") for h in self.audio.search(fp)]
        if item.media == "video" and self._has_video:
            hashes = _from_bytes(item, video_hashes)
            return [(h.work_id, f"frames:{h.score:.2f}") for h in self.video.search(hashes)]
        return []

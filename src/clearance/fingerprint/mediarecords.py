"""From stored records and in-memory bytes to audio/video fingerprints and their indexes.

Why a module of its own: the matching core (``clearance.matching.media``,
which the scan and the guard share) builds ``AudioIndex``/``VideoIndex``
from the registry's ``chromaprint`` and ``video-pdq`` records, and must decode
media that arrive as bytes (a WebDataset member, an HTTP upload) with
decoders that read files. One place does each, with the same rules:

* a stored record that is not a whole number of entries (4-byte Chromaprint
  words, 33-byte frames) or of another format version is skipped and
  counted, never fatal;
* bytes go through a temporary file named with the right extension, and the
  temporary name never reaches an error message (it is replaced by the
  item's own name, so messages are the same in every process).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from clearance.core.errors import ClearanceError
from clearance.fingerprint.audio import AudioFingerprint
from clearance.fingerprint.mediaindex import AudioIndex, VideoIndex
from clearance.fingerprint.video import VideoHashes

T = TypeVar("T")

AUDIO_ALGO = "chromaprint"
VIDEO_ALGO = "video-pdq"


@dataclass(slots=True)
class MediaIndexes:
    """The two indexes built from stored records, with what went into them."""

    audio: AudioIndex
    video: VideoIndex
    audio_words: int = 0
    audio_skipped: int = 0
    video_frames: int = 0
    video_skipped: int = 0

    def counts(self) -> dict[str, int]:
        return {
            "audio_recordings": len(self.audio),
            "audio_words": self.audio_words,
            "audio_skipped": self.audio_skipped,
            "video_recordings": len(self.video),
            "video_frames": self.video_frames,
            "video_skipped": self.video_skipped,
        }


def media_indexes(records: Iterable[tuple[int, str, bytes, int]]) -> MediaIndexes:
    """Indexes of ``(work_id, algo, data, format_version)`` records (other algorithms: ignored)."""
    out = MediaIndexes(AudioIndex(), VideoIndex())
    for work_id, algo, data, version in records:
        if algo == AUDIO_ALGO:
            if version != 1 or not data or len(data) % 4:
                out.audio_skipped += 1
                continue
            fp = AudioFingerprint.from_bytes(data)
            out.audio.add(work_id, fp)
            out.audio_words += len(fp.words)
        elif algo == VIDEO_ALGO:
            if version != 1 or not data or len(data) % 33:
                out.video_skipped += 1
                continue
            hashes = VideoHashes.from_bytes(data)
            out.video.add(work_id, hashes)
            out.video_frames += len(hashes)
    return out


def decode_bytes(data: bytes, suffix: str, decode: Callable[[Path], T], name: str) -> T:
    """Run a file decoder over ``data`` through a temporary file ending in ``suffix``.

    A ``ClearanceError`` names ``name`` where it would have named the temporary file.
    """
    with tempfile.NamedTemporaryFile(prefix="clearance-", suffix=suffix) as fh:
        fh.write(data)
        fh.flush()
        try:
            return decode(Path(fh.name))
        except ClearanceError as exc:
            raise type(exc)(exc.message.replace(fh.name, name), hint=exc.hint) from None

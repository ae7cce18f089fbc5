"""Video fingerprints: PDQ hashes of frames sampled at 1 fps, matched as vPDQ does.

Meta's vPDQ hashes one frame per second and calls two videos the same when
enough of the query's frames are within PDQ distance of some frame of the
registered video. That survives re-encoding, resizing and trimming, and finds
a clip inside a longer video. We decode with PyAV (FFmpeg), keep the first
frame at or after each whole second, and hash it with ``image_hash``.

Stored format (``video-pdq`` v1): one 33-byte record per sampled frame, the
32-byte PDQ hash followed by one byte of PDQ quality.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from clearance.core.errors import InputNotFound, UnsupportedInput
from clearance.fingerprint.image import MIN_QUALITY, image_hash

FRAME_DISTANCE = 31
"""PDQ distance at which two frames count as the same picture."""

MATCH_FRACTION = 0.5
"""Share of the query's usable frames that must match the registered video."""

MAX_FRAMES = 4 * 3600
"""At most four hours of frames are hashed."""


@dataclass(frozen=True, slots=True)
class VideoHashes:
    """Per-second frame hashes: ``(n, 32)`` codes, their qualities and timestamps."""

    codes: np.ndarray
    qualities: np.ndarray
    seconds: np.ndarray

    def __len__(self) -> int:
        return int(self.codes.shape[0])

    def to_bytes(self) -> bytes:
        rec = np.concatenate([self.codes, self.qualities.astype(np.uint8)[:, None]], axis=1)
        return np.ascontiguousarray(rec, dtype=np.uint8).tobytes()

    @staticmethod
    def from_bytes(data: bytes) -> VideoHashes:
        rec = np.frombuffer(data, dtype=np.uint8).reshape(-1, 33)
        n = rec.shape[0]
        return VideoHashes(
            rec[:, :32].copy(), rec[:, 32].astype(np.int32), np.arange(n, dtype=np.float64)
        )


@dataclass(frozen=True, slots=True)
class VideoMatch:
    """How much of the query matched, and how much of the registered video it covered."""

    query_fraction: float
    reference_fraction: float
    matched_frames: int

    @property
    def matched(self) -> bool:
        return self.query_fraction >= MATCH_FRACTION


def video_hashes(path: str | Path, *, fps: float = 1.0) -> VideoHashes:
    """Sample frames at ``fps`` and hash each; raises ``UnsupportedInput`` for non-video files."""
    import av

    p = Path(path)
    if not p.exists():
        raise InputNotFound(f"no such file: {p}")
    codes: list[bytes] = []
    qualities: list[int] = []
    seconds: list[float] = []
    try:
        with av.open(str(p)) as container:
            if not container.streams.video:
                raise UnsupportedInput("file has no video stream")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            next_t = 0.0
            for frame in container.decode(stream):
                t = float(frame.time) if frame.time is not None else next_t
                if t + 1e-6 < next_t:
                    continue
                h = image_hash(frame.to_image())  # type: ignore[no-untyped-call]
                codes.append(h.pdq)
                qualities.append(h.quality)
                seconds.append(t)
                next_t = (int(t * fps + 1e-6) + 1) / fps
                if len(codes) >= MAX_FRAMES:
                    break
    except UnsupportedInput:
        raise
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise UnsupportedInput(f"cannot decode video: {exc}") from None
    if not codes:
        raise UnsupportedInput("video has no decodable frames")
    arr = np.frombuffer(b"".join(codes), dtype=np.uint8).reshape(-1, 32)
    return VideoHashes(arr, np.asarray(qualities, dtype=np.int32), np.asarray(seconds))


def compare_videos(query: VideoHashes, reference: VideoHashes) -> VideoMatch:
    """vPDQ-style comparison over frames of usable quality (brute force; videos are short)."""
    q = query.codes[query.qualities >= MIN_QUALITY]
    r = reference.codes[reference.qualities >= MIN_QUALITY]
    if len(q) == 0 or len(r) == 0:
        return VideoMatch(0.0, 0.0, 0)
    bits = np.unpackbits(np.bitwise_xor(q[:, None, :], r[None, :, :]), axis=2).sum(axis=2)
    close = bits <= FRAME_DISTANCE
    q_hit = close.any(axis=1)
    r_hit = close.any(axis=0)
    return VideoMatch(float(q_hit.mean()), float(r_hit.mean()), int(q_hit.sum()))

"""Audio fingerprints with Chromaprint, and finding a clip inside a recording.

Chromaprint (the AcoustID fingerprint) turns audio into one 32-bit word per
~0.124 s of sound, robust to re-encoding and level changes. We compute it with
pyacoustid's binding to libchromaprint (Debian's ``libchromaprint-tools``
brings the library; ``make install`` installs it), feeding it audio decoded by
PyAV, decode it to raw words, and store those.

A clip matches a recording when, at some alignment, the clip's words differ
from the recording's in few bits: unrelated audio differs in about half of
its bits, a re-encoded copy in well under a third. ``clip_offset`` slides the
clip over the recording and returns the best alignment and its bit error rate.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from clearance.core.errors import ExternalError, InputNotFound, UnsupportedInput

SECONDS_PER_ITEM = 4096 / 11025 / 3
"""Chromaprint's default algorithm emits one word every 1365 samples at 11025 Hz (about 0.124 s)."""

MAX_SECONDS = 6 * 3600
"""Longest audio fingerprinted (fpcalc's -length); a whole album fits."""

MATCH_BER = 0.30
"""Bit error rate at or below which an alignment counts as the same audio (random audio is ~0.5)."""

MIN_CLIP_ITEMS = 24
"""Words a match needs to be reliable: 24 word positions (3 s), about 5.6 s of audio."""

FRAME_SECONDS = 4096 / 11025
"""Chromaprint's analysis frame: 4096 samples at 11025 Hz (a new one every ``SECONDS_PER_ITEM``)."""
WORD_FRAMES = 16 + 5 - 1
"""Frames behind one word: a 16-frame classifier window over chroma smoothed by a 5-tap filter."""
WORD_SECONDS = (WORD_FRAMES - 1) * SECONDS_PER_ITEM + FRAME_SECONDS
"""The stretch of audio one word describes (about 2.72 s): word ``i`` covers
``[i * SECONDS_PER_ITEM, i * SECONDS_PER_ITEM + WORD_SECONDS]``. So ``n`` words
cover ``(n - 1) * SECONDS_PER_ITEM + WORD_SECONDS`` seconds: a 6 s file has 27 words."""


def audio_span(start: int, stop: int) -> tuple[float, float]:
    """The audio, in seconds, that the words ``[start, stop)`` were computed from."""
    return start * SECONDS_PER_ITEM, (stop - 1) * SECONDS_PER_ITEM + WORD_SECONDS


@dataclass(frozen=True, slots=True)
class AudioFingerprint:
    """Raw Chromaprint words and the audio's duration in seconds."""

    words: npt.NDArray[np.uint32]
    duration: float

    def to_bytes(self) -> bytes:
        return self.words.astype("<u4").tobytes()

    @staticmethod
    def from_bytes(data: bytes, duration: float = 0.0) -> AudioFingerprint:
        return AudioFingerprint(np.frombuffer(data, dtype="<u4").astype(np.uint32), duration)


@dataclass(frozen=True, slots=True)
class ClipMatch:
    """Where a clip sits in a recording: offset in words and seconds, and the bit error rate."""

    offset: int
    seconds: float
    bit_error_rate: float
    overlap: int

    @property
    def matched(self) -> bool:
        return self.bit_error_rate <= MATCH_BER and self.overlap >= MIN_CLIP_ITEMS


def _pcm_blocks(path: Path, rate: int) -> Iterator[bytes]:
    """Decode any audio PyAV (FFmpeg) reads to mono signed 16-bit PCM at ``rate`` Hz."""
    import av

    limit = MAX_SECONDS * rate * 2
    produced = 0
    with av.open(str(path)) as container:
        if not container.streams.audio:
            raise UnsupportedInput("file has no audio stream")
        resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
        for frame in container.decode(container.streams.audio[0]):
            for out in resampler.resample(frame):
                block = bytes(out.planes[0])[: out.samples * 2]
                produced += len(block)
                yield block
                if produced >= limit:
                    return
        for out in resampler.resample(None):
            yield bytes(out.planes[0])[: out.samples * 2]


def audio_fingerprint(path: str | Path) -> AudioFingerprint:
    """Chromaprint a file; raises ``UnsupportedInput`` if it holds no decodable audio.

    Audio is decoded with PyAV and fed to libchromaprint through pyacoustid
    (``acoustid.fingerprint``), rather than through ``fpcalc``, whose Debian build
    exits with an error status at the end of some valid files.
    """
    import av

    p = Path(path)
    if not p.exists():
        raise InputNotFound(f"no such file: {p}")
    try:
        import acoustid
        import chromaprint
    except (ImportError, OSError) as exc:
        raise ExternalError(
            f"Chromaprint is not available ({exc})",
            hint="run `make install` (it installs Debian's libchromaprint-tools)",
        ) from None
    rate = 11025
    try:
        blocks = list(_pcm_blocks(p, rate))
    except UnsupportedInput:
        raise
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise UnsupportedInput(f"cannot decode audio: {exc}") from None
    samples = sum(len(b) for b in blocks) // 2
    if samples < rate:
        raise UnsupportedInput("less than one second of audio")
    try:
        encoded = acoustid.fingerprint(rate, 1, iter(blocks), MAX_SECONDS)
    except acoustid.FingerprintGenerationError as exc:
        raise UnsupportedInput(f"cannot fingerprint audio: {exc}") from None
    words, _algorithm = chromaprint.decode_fingerprint(encoded)
    if not words:
        raise UnsupportedInput("no audio could be fingerprinted")
    arr = np.asarray([w & 0xFFFFFFFF for w in words], dtype=np.uint32)
    return AudioFingerprint(arr, samples / rate)


_POP8 = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def _popcount32(x: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint32]:
    b = x.view(np.uint8).reshape(*x.shape, 4)
    counts: npt.NDArray[np.uint32] = _POP8[b].sum(axis=-1, dtype=np.uint32)
    return counts


def clip_offset(clip: AudioFingerprint, recording: AudioFingerprint) -> ClipMatch | None:
    """Best alignment of ``clip`` inside ``recording`` (either may be the longer one)."""
    a, b = clip.words, recording.words
    if len(a) == 0 or len(b) == 0:
        return None
    if len(a) > len(b):
        a, b = b, a
    windows = np.lib.stride_tricks.sliding_window_view(b, len(a))
    errors = _popcount32(np.bitwise_xor(windows, a[None, :])).sum(axis=1)
    best = int(np.argmin(errors))
    ber = float(errors[best]) / (32.0 * len(a))
    return ClipMatch(best, best * SECONDS_PER_ITEM, ber, len(a))

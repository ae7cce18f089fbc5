"""Generated sample files for tests: photographs-like images, texts, broken files, bombs."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image


def textured_image(seed: int, size: tuple[int, int] = (320, 240)) -> Image.Image:
    """A deterministic image with enough structure for a high-quality PDQ hash."""
    rng = np.random.default_rng(seed)
    w, h = size
    y, x = np.mgrid[0:h, 0:w]
    base = np.zeros((h, w, 3), dtype=np.float64)
    for c in range(3):
        fx, fy, phase = rng.uniform(0.01, 0.08), rng.uniform(0.01, 0.08), rng.uniform(0, 6.28)
        base[..., c] = 127 + 60 * np.sin(x * fx + phase) * np.cos(y * fy)
    blocks = rng.integers(0, 255, size=(8, 8, 3)).astype(np.float64)
    base += 0.5 * np.kron(blocks, np.ones((h // 8 + 1, w // 8 + 1, 1)))[:h, :w] - 64
    return Image.fromarray(np.clip(base, 0, 255).astype(np.uint8), "RGB")


def write_image(
    path: Path, seed: int, fmt: str = "JPEG", size: tuple[int, int] = (320, 240)
) -> Path:
    textured_image(seed, size).save(path, fmt)
    return path


POEM = (
    "The sea is calm tonight. The tide is full, the moon lies fair upon the straits; "
    "on the French coast the light gleams and is gone; the cliffs of England stand, "
    "glimmering and vast, out in the tranquil bay."
)


def png_bomb_header(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` pixels, with almost no data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def write_music(
    path: Path,
    seed: int,
    seconds: float = 30.0,
    rate: int = 22050,
    noise: float = 0.0,
    start: float = 0.0,
) -> Path:
    """A deterministic melody (tones with harmonics, one note per 0.25 s) as 16-bit mono WAV.

    ``start`` cuts the same melody from a later point, so a clip can be made of a song.
    """
    import wave

    rng = np.random.default_rng(seed)
    total_notes = int((start + seconds) / 0.25) + 2
    freqs = 110.0 * 2 ** (rng.integers(0, 36, size=total_notes) / 12.0)
    t0 = int(start * rate)
    n = int(seconds * rate)
    t = (np.arange(n) + t0) / rate
    note = (t / 0.25).astype(int)
    f = freqs[note]
    phase = 2 * np.pi * f * t
    signal = np.sin(phase) + 0.5 * np.sin(2 * phase) + 0.25 * np.sin(3 * phase)
    signal *= 0.6 + 0.4 * np.sin(2 * np.pi * 0.5 * t)
    if noise:
        signal += noise * np.random.default_rng(seed + 99).standard_normal(n)
    pcm = (np.clip(signal / 2.0, -1, 1) * 30000).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return path


def write_video(
    path: Path,
    seed: int,
    seconds: int = 10,
    fps: int = 10,
    size: tuple[int, int] = (320, 240),
    first_scene: int = 0,
) -> Path:
    """An MPEG-4 video whose scene (a textured image) changes every second."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.bit_rate = 2_000_000
        for i in range(seconds * fps):
            scene = textured_image(seed * 1000 + first_scene + i // fps, (320, 240)).resize(size)
            frame = av.VideoFrame.from_image(scene)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path

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

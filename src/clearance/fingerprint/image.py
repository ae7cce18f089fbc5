"""PDQ image hashes with a decode fast path and a decompression-bomb guard.

PDQ (Meta) is the field's standard perceptual hash: 256 bits plus a 0-100
quality score; matches are at Hamming distance <= 31 and hashes of quality
< 50 are too flat to trust alone. PDQ box-filters the image down to 64x64
internally, so most of the pixels of a full decode are thrown away. We decode
JPEGs at reduced scale (Pillow's ``draft``: the IDCT itself scales by 1/2, 1/4
or 1/8) and shrink other formats by whole-pixel box averaging (``reduce``),
keeping both sides at least ``DECODE_MIN_SIDE`` pixels. Measured on 1-4 MP
photographs, that moves the hash by a median of about 4-8 bits from a
full-size hash while being 5-10x faster; a fractional resize to a fixed side
(what we did first) moved it twice as far for no extra speed, and going below
~250 px makes PDQ's own filter window collapse to 1 pixel and alias
(see benchmarks/bench_image.py and docs/benchmarks.md).

We also honour EXIF orientation, so a rotated-by-metadata photo hashes like
the picture a person sees, and we compute all 8 dihedral hashes at once so a
query can match rotated or flipped copies.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pdqhash
from PIL import Image, ImageOps, UnidentifiedImageError

from clearance.core.errors import ImageTooLarge, InputNotFound, UnsupportedInput

MIN_QUALITY = 50
"""Hashes below this PDQ quality are flagged and never match on their own."""

DEFAULT_MAX_PIXELS = 89_478_485
"""Pixel limit for decoding (Pillow's own default); larger images are refused as bombs."""

DECODE_MIN_SIDE = 256
"""Images are decoded/shrunk by whole factors while both sides stay at least this long."""


@dataclass(frozen=True, slots=True)
class ImageHash:
    """A PDQ hash: 32 bytes (bit 0 of the hash is the high bit of byte 0), quality, dihedrals.

    ``dihedral`` holds the 8 hashes of the image's rotations and flips, in
    pdqhash's order: original, rot90, rot180, rot270, flipX, flipY, flipPlus, flipMinus.
    """

    pdq: bytes
    quality: int
    dihedral: tuple[bytes, ...]
    width: int
    height: int

    @property
    def low_quality(self) -> bool:
        return self.quality < MIN_QUALITY

    @property
    def hex(self) -> str:
        return self.pdq.hex()


def _pack(bits: Any) -> bytes:
    return np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes()


def _open(source: str | Path | bytes | Image.Image) -> Image.Image:
    """Open lazily (header only). Pillow's own bomb check is replaced by ours in ``image_hash``."""
    if isinstance(source, Image.Image):
        return source
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            if isinstance(source, bytes | bytearray | memoryview):
                return Image.open(io.BytesIO(bytes(source)))
            path = Path(source)
            if not path.exists():
                raise InputNotFound(f"no such file: {path}")
            return Image.open(path)
    except Image.DecompressionBombError as exc:
        raise ImageTooLarge(f"image is over the pixel limit: {exc}") from None
    except UnidentifiedImageError:
        raise UnsupportedInput("not a readable image: unknown format or corrupt header") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise UnsupportedInput(f"not a readable image: {exc}") from None


def _to_rgb(img: Image.Image) -> Image.Image:
    """Convert any Pillow mode (1, L, P, LA, RGBA, CMYK, I;16, I, F ...) to 8-bit RGB."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        lo, hi = float(arr.min(initial=0.0)), float(arr.max(initial=0.0))
        scale = 255.0 / (hi - lo) if hi > lo else 0.0
        img = Image.fromarray(((arr - lo) * scale).astype(np.uint8))
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if img.mode != "RGB":
        return img.convert("RGB")
    return img


def _check_size(img: Image.Image, max_pixels: int) -> None:
    width, height = img.size
    if width * height > max_pixels:
        raise ImageTooLarge(
            f"image is {width}x{height} = {width * height} pixels, "
            f"over the pixel limit of {max_pixels}"
        )


def decode_image(
    source: str | Path | bytes | Image.Image,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    min_side: int = DECODE_MIN_SIDE,
) -> tuple[Image.Image, int, int]:
    """Decode for hashing: upright (EXIF), 8-bit RGB, shrunk by a whole factor.

    Returns the image and the original (stored, pre-EXIF) width and height. The
    shrink keeps both sides >= ``min_side`` (JPEG: ``draft``, others: ``reduce``),
    so PDQ still sees enough pixels to filter before its 64x64 decimation. Raises
    like ``image_hash``.
    """
    img = _open(source)
    width, height = img.size
    _check_size(img, max_pixels)
    try:
        if img.format == "JPEG":
            img.draft("RGB", (min_side, min_side))
        img = ImageOps.exif_transpose(img) or img
        img = _to_rgb(img)
        factor = min(img.size) // min_side
        if factor >= 2:
            img = img.reduce(factor)
        img.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise UnsupportedInput(f"cannot decode image: {exc}") from None
    if img.size[0] == 0 or img.size[1] == 0:
        raise UnsupportedInput("image has no pixels")
    return img, width, height


def hash_rgb(
    img: Image.Image, width: int, height: int, pixels: np.ndarray | None = None
) -> ImageHash:
    """PDQ (with dihedrals) of an already decoded RGB image; width/height are recorded as given.

    ``pixels`` is ``np.asarray(img)`` when the caller already has it (regions read the
    same array, so one decode is copied out of Pillow once).
    """
    pixels = np.asarray(img, dtype=np.uint8) if pixels is None else pixels
    if pixels.ndim != 3 or pixels.shape[0] == 0 or pixels.shape[1] == 0:
        raise UnsupportedInput("image has no pixels")
    hashes, quality = pdqhash.compute_dihedral(np.ascontiguousarray(pixels))
    packed = tuple(_pack(h) for h in hashes)
    return ImageHash(packed[0], int(quality), packed, width, height)


def image_hash(
    source: str | Path | bytes | Image.Image, *, max_pixels: int = DEFAULT_MAX_PIXELS
) -> ImageHash:
    """Hash an image given as a path, bytes or a PIL image.

    Raises ``ImageTooLarge`` over ``max_pixels`` (checked from the header, before
    decoding), ``UnsupportedInput`` for corrupt or non-image bytes and
    ``InputNotFound`` for a missing path.
    """
    img, width, height = decode_image(source, max_pixels=max_pixels)
    return hash_rgb(img, width, height)


def hamming(a: bytes, b: bytes) -> int:
    """Bit distance between two equal-length codes."""
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).bit_count()

"""PDQ fast path, batch hashing across processes, and the low-quality rule."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pdqhash
import pytest
from PIL import Image

from clearance.core.errors import (
    ClearanceError,
    ImageTooLarge,
    InputNotFound,
    UnsupportedInput,
)
from clearance.fingerprint.image import (
    DECODE_MIN_SIDE,
    MIN_QUALITY,
    decode_image,
    hamming,
    image_hash,
)
from clearance.fingerprint.parallel import image_hashes, map_sources
from clearance.fingerprint.regions import match_image
from tests.samples import png_bomb_header, textured_image


def _jpeg(img: Image.Image, quality: int = 92) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def _naive(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as im:
        bits, _ = pdqhash.compute(np.asarray(im.convert("RGB")))
    return np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes()


def test_hamming_counts_bits() -> None:
    assert hamming(b"\x00\xff", b"\x00\xff") == 0
    assert hamming(b"\x01\x00", b"\x00\x00") == 1
    assert hamming(bytes(32), b"\xff" * 32) == 256


@pytest.mark.parametrize("size", [(1600, 1000), (1000, 1500), (2048, 1536)])
def test_fast_path_stays_close_to_a_full_decode(size: tuple[int, int]) -> None:
    data = _jpeg(textured_image(3, size))
    fast = image_hash(data)
    assert (fast.width, fast.height) == size
    assert hamming(fast.pdq, _naive(data)) <= 16


def test_decode_shrinks_by_whole_factors_but_keeps_min_side() -> None:
    big = _jpeg(textured_image(4, (2000, 1200)))
    img, w, h = decode_image(big)
    assert (w, h) == (2000, 1200)
    assert min(img.size) >= DECODE_MIN_SIDE
    assert img.size[0] < 2000 and img.mode == "RGB"
    png = io.BytesIO()
    textured_image(4, (1200, 900)).save(png, "PNG")
    img, _, _ = decode_image(png.getvalue())
    assert img.size == (400, 300)  # reduce(3): 900 // 256 == 3
    small = _jpeg(textured_image(4, (300, 200)))
    assert decode_image(small)[0].size == (300, 200)


def test_errors_are_typed(tmp_path: Path) -> None:
    with pytest.raises(InputNotFound):
        image_hash(tmp_path / "missing.jpg")
    with pytest.raises(UnsupportedInput):
        image_hash(b"not an image at all")
    with pytest.raises(UnsupportedInput):
        image_hash(_jpeg(textured_image(1))[:300])  # truncated
    with pytest.raises(ImageTooLarge):
        image_hash(png_bomb_header(30_000, 30_000))
    with pytest.raises(ImageTooLarge):
        image_hash(_jpeg(textured_image(1)), max_pixels=1000)


def _batch(tmp_path: Path) -> list[str | Path | bytes | Image.Image]:
    good = tmp_path / "good.jpg"
    good.write_bytes(_jpeg(textured_image(9)))
    return [
        good,
        b"garbage",
        _jpeg(textured_image(10)),
        tmp_path / "missing.png",
        png_bomb_header(20_000, 20_000),
        textured_image(11),
    ]


def test_image_hashes_in_process_keeps_order_and_errors(tmp_path: Path) -> None:
    sources = _batch(tmp_path)
    seen: list[tuple[int, int, str]] = []
    results = image_hashes(sources, workers=1, progress=lambda d, t, c: seen.append((d, t, c)))
    assert len(results) == len(sources)
    assert isinstance(results[1], UnsupportedInput)
    assert isinstance(results[3], InputNotFound)
    assert isinstance(results[4], ImageTooLarge)
    for i in (0, 2, 5):
        item = results[i]
        assert not isinstance(item, ClearanceError)
        assert item.pdq == image_hash(sources[i]).pdq
    assert [s[0] for s in seen] == list(range(1, 7)) and seen[0][2].endswith("good.jpg")
    assert seen[1][2] == "#1"


def test_image_hashes_across_processes_matches_in_process(tmp_path: Path) -> None:
    sources = _batch(tmp_path) * 2
    done: list[int] = []
    one = image_hashes(sources, workers=1)
    two = image_hashes(sources, workers=2, chunksize=2, progress=lambda d, t, c: done.append(d))
    assert sorted(done) == list(range(1, len(sources) + 1))
    for a, b in zip(one, two, strict=True):
        if isinstance(a, ClearanceError):
            assert type(a) is type(b) and str(a) == str(b)
        else:
            assert not isinstance(b, ClearanceError) and a == b


def test_unexpected_exceptions_become_internal_errors() -> None:
    def boom(source: object) -> int:
        raise RuntimeError("bug")

    (result,) = map_sources(boom, [b"x"])
    assert isinstance(result, ClearanceError) and "RuntimeError" in str(result)
    with pytest.raises(ValueError):
        map_sources(image_hash, [b"x"], workers=0)


def test_low_quality_never_matches_alone() -> None:
    flat = Image.new("RGB", (300, 200), (120, 130, 140))
    a, b = image_hash(flat), image_hash(flat.copy())
    assert a.low_quality and a.quality < MIN_QUALITY
    assert hamming(a.pdq, b.pdq) == 0
    result = match_image(a, b)
    assert not result.matched and result.signal is None
    good = image_hash(textured_image(12))
    assert not good.low_quality
    assert match_image(good, image_hash(textured_image(12))).signal == "pdq"

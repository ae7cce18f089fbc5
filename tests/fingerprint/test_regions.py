"""Region hashes: PDQ conformance, border trimming, the stored format, crop/pad/rotation matches."""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
import pdqhash
import pytest
from PIL import Image, ImageFilter

from clearance.fingerprint.regions import (
    QUERY_LAYOUT,
    REGION_THRESHOLD,
    REGISTERED_LAYOUT,
    RegionHashes,
    compare_regions,
    image_fingerprints,
    match_image,
    pdq64,
    region_hashes,
    trim_box,
)
from tests.samples import textured_image

SIZE = (480, 360)


def _jpeg(img: Image.Image, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def _photo(seed: int) -> Image.Image:
    """A textured image with detail at several scales (like a photograph, unlike a flat card)."""
    rng = np.random.default_rng(seed)
    base = np.asarray(textured_image(seed, SIZE), dtype=np.float64)
    noise = Image.fromarray(rng.integers(0, 256, (45, 60, 3), dtype=np.uint8)).resize(
        SIZE, Image.Resampling.BICUBIC
    )
    mixed = 0.6 * base + 0.4 * np.asarray(noise, dtype=np.float64)
    return Image.fromarray(mixed.astype(np.uint8)).filter(ImageFilter.GaussianBlur(1))


def test_pdq64_is_pdqhash_on_64x64() -> None:
    rng = np.random.default_rng(1)
    images = []
    for k in range(24):
        small = rng.integers(0, 256, (4 + k % 9, 5 + k % 7), dtype=np.uint8)
        im = Image.fromarray(small).resize((64, 64), Image.Resampling.BICUBIC)
        images.append(np.asarray(im.filter(ImageFilter.GaussianBlur(k % 3))))
    stack = np.stack(images)
    codes, quality = pdq64(stack.astype(np.float32))
    for k, img in enumerate(images):
        bits, q = pdqhash.compute(np.repeat(img[:, :, None], 3, axis=2))
        assert codes[k].tobytes() == np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes()
        assert quality[k] == q


def test_layouts_are_well_formed() -> None:
    for layout in (REGISTERED_LAYOUT, QUERY_LAYOUT):
        names = [r.name for r in layout]
        assert len(set(names)) == len(names) <= 256
        for r in layout:
            x0, y0, x1, y1 = r.box
            assert 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1
    assert layout[0].name == "full"


@pytest.mark.parametrize("colour", [(0, 0, 0), (255, 255, 255), (40, 200, 90)])
def test_trim_finds_the_picture_inside_a_uniform_border(colour: tuple[int, int, int]) -> None:
    pic = _photo(2)
    canvas = Image.new("RGB", (600, 420), colour)
    canvas.paste(pic, (70, 25))
    decoded = Image.open(io.BytesIO(_jpeg(canvas))).convert("RGB")
    left, top, right, bottom = trim_box(np.asarray(decoded))
    assert abs(left - 70) <= 2 and abs(top - 25) <= 2
    assert abs(right - 550) <= 2 and abs(bottom - 385) <= 2


def test_trim_leaves_unbordered_and_flat_images_alone() -> None:
    pic = np.asarray(_photo(3))
    assert trim_box(pic) == (0, 0, SIZE[0], SIZE[1])
    flat = np.full((100, 80, 3), 200, dtype=np.uint8)
    assert trim_box(flat) == (0, 0, 80, 100)


def test_stored_form_round_trips() -> None:
    regs = region_hashes(_jpeg(_photo(4)))
    assert regs.kind == "registered" and 0 < len(regs) <= len(REGISTERED_LAYOUT)
    assert list(regs.ids) == sorted(regs.ids)
    assert all(q >= 50 for q in regs.qualities)
    blob = regs.to_bytes()
    assert len(blob) == 32 + 32 * len(regs)
    back = RegionHashes.from_bytes(blob)
    assert back.ids == regs.ids and back.codes == regs.codes
    with pytest.raises(ValueError):
        RegionHashes.from_bytes(blob[:-1])
    with pytest.raises(ValueError):
        RegionHashes.from_bytes(blob[:32] + blob[64:])


def test_flat_images_have_no_regions_and_match_nothing() -> None:
    flat = _jpeg(Image.new("RGB", (300, 300), (90, 90, 90)))
    reg, query = region_hashes(flat), region_hashes(flat, kind="query")
    assert len(reg) == 0 and len(query) == 0
    result = compare_regions(query, reg)
    assert not result.matched and result.query_region is None


def _crop(img: Image.Image, fraction: float, fx: float, fy: float) -> Image.Image:
    w, h = img.size
    cw, ch = round(w * (1 - fraction)), round(h * (1 - fraction))
    x, y = round((w - cw) * fx), round((h - ch) * fy)
    return img.crop((x, y, x + cw, y + ch))


def _pad(img: Image.Image, fraction: float, colour: tuple[int, int, int]) -> Image.Image:
    w, h = img.size
    out = Image.new("RGB", (round(w * (1 + fraction)), round(h * (1 + fraction))), colour)
    out.paste(img, (round(w * fraction * 0.3), round(h * fraction * 0.8)))
    return out


TRANSFORMS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "crop 5%": lambda im: _crop(im, 0.05, 0.3, 0.9),
    "crop 10%": lambda im: _crop(im, 0.10, 0.7, 0.2),
    "pad 20% white": lambda im: _pad(im, 0.2, (255, 255, 255)),
    "pad 20% colour": lambda im: _pad(im, 0.2, (30, 60, 200)),
    "rotate 4": lambda im: im.rotate(4, Image.Resampling.BILINEAR),
    "rotate -3": lambda im: im.rotate(-3, Image.Resampling.BILINEAR),
}


@pytest.mark.parametrize("name", list(TRANSFORMS))
def test_regions_match_where_global_pdq_fails(name: str) -> None:
    original = _photo(5)
    reg_hash, reg_regions = image_fingerprints(_jpeg(original, 95))
    query_hash, query_regions = image_fingerprints(_jpeg(TRANSFORMS[name](original)), kind="query")
    result = match_image(query_hash, reg_hash, query_regions, reg_regions)
    assert result.matched, (name, result)
    assert result.signal in ("pdq", "regions")
    regions = compare_regions(query_regions, reg_regions)
    assert regions.distance <= REGION_THRESHOLD
    assert all(d <= REGION_THRESHOLD for _, _, d in regions.pairs)


def test_unrelated_images_do_not_match() -> None:
    registered = [image_fingerprints(_jpeg(_photo(s))) for s in range(20, 26)]
    for q in range(30, 34):
        query = image_fingerprints(_jpeg(_photo(q)), kind="query")
        for reg in registered:
            result = match_image(query[0], reg[0], query[1], reg[1])
            assert not result.matched
            assert result.distance > REGION_THRESHOLD


def test_signals_are_reported() -> None:
    original = _photo(6)
    reg = image_fingerprints(_jpeg(original, 95))
    same = image_fingerprints(_jpeg(original, 60), kind="query")
    turned = image_fingerprints(_jpeg(original.transpose(Image.Transpose.ROTATE_90)), kind="query")
    assert match_image(same[0], reg[0], same[1], reg[1]).signal == "pdq"
    assert match_image(turned[0], reg[0], turned[1], reg[1]).signal == "pdq-dihedral"
    cropped = image_fingerprints(_jpeg(_crop(original, 0.1, 1.0, 0.0)), kind="query")
    result = match_image(cropped[0], reg[0], cropped[1], reg[1])
    assert result.signal == "regions" and "~" in result.detail
    # without region sets, only the global signal is tried
    assert not match_image(cropped[0], reg[0]).matched


@pytest.mark.parametrize(
    "op", [Image.Transpose.ROTATE_90, Image.Transpose.ROTATE_270, Image.Transpose.TRANSPOSE]
)
def test_a_padded_and_turned_copy_matches_by_a_turned_region(op: Image.Transpose) -> None:
    original = _photo(7)
    reg = image_fingerprints(_jpeg(original, 95))
    query = image_fingerprints(_jpeg(_pad(original.transpose(op), 0.2, (0, 0, 0))), kind="query")
    assert not match_image(query[0], reg[0]).matched  # global PDQ alone fails on padding
    result = compare_regions(query[1], reg[1])
    assert result.matched
    assert result.query_region is not None and result.query_region.startswith("full-")
    assert result.query_region != "full-raw" and result.registered_region == "full"

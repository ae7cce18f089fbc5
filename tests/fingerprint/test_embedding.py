"""The ONNX image embedder: loading, validation, vectors, windows and the stored blob."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from clearance.core.errors import InputNotFound, UserError
from clearance.fingerprint.embedding import (
    ImageEmbedder,
    OnnxImageEmbedder,
    embedding_algo,
    parse_sidecar,
    vector_bytes,
    vector_from_bytes,
)
from clearance.fingerprint.windows import best_similarities, query_windows, window_boxes
from tests.embedmodel import DIM, character_art, write_text_model, write_tiny_model

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> OnnxImageEmbedder:
    path = write_tiny_model(tmp_path_factory.mktemp("m") / "tiny.onnx")
    return OnnxImageEmbedder.from_path(path, threads=1)


def test_loads_with_sidecar_and_embeds_unit_vectors(model: OnnxImageEmbedder) -> None:
    assert isinstance(model, ImageEmbedder)
    assert model.dim == DIM and model.model_id.startswith("onnx-") and len(model.model_id) == 21
    assert model.thresholds.block == 0.9 and model.search.stride == 0.25
    arts = [np.asarray(character_art(i)) for i in range(3)]
    vecs = model.embed(arts)
    assert vecs.shape == (3, DIM) and vecs.dtype == np.float32
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert model.embed([]).shape == (0, DIM)
    again = model.embed(arts[:1])
    assert np.allclose(again[0], vecs[0], atol=1e-5)
    assert embedding_algo(model.model_id) == "emb:" + model.model_id
    assert len(embedding_algo("x" * 100)) == 32


def test_model_id_follows_the_file(tmp_path: Path, model: OnnxImageEmbedder) -> None:
    other = OnnxImageEmbedder.from_path(write_tiny_model(tmp_path / "b.onnx", seed=8))
    same = OnnxImageEmbedder.from_path(write_tiny_model(tmp_path / "c.onnx"))
    assert other.model_id != model.model_id and same.model_id == model.model_id


def test_model_without_sidecar_uses_clip_like_defaults(tmp_path: Path) -> None:
    path = write_tiny_model(tmp_path / "bare.onnx")
    path.with_suffix(".json").unlink()
    bare = OnnxImageEmbedder.from_path(path)
    pre = bare.sidecar.preprocess
    assert (pre.height, pre.width) == (64, 64)  # taken from the model's static input
    assert pre.resize == "center-crop" and pre.mean[0] == pytest.approx(0.48145466)
    assert bare.thresholds.block == 0.92 and bare.thresholds.review == 0.85


def test_bad_models_are_user_errors(tmp_path: Path) -> None:
    with pytest.raises(InputNotFound, match="not found"):
        OnnxImageEmbedder.from_path(tmp_path / "missing.onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"this is not a protobuf")
    with pytest.raises(UserError, match="cannot load"):
        OnnxImageEmbedder.from_path(junk)
    with pytest.raises(UserError, match="not an image encoder"):
        OnnxImageEmbedder.from_path(write_text_model(tmp_path / "text.onnx"))
    bad_size = write_tiny_model(tmp_path / "size.onnx", sidecar={"input_size": 224})
    with pytest.raises(UserError, match="input_size"):
        OnnxImageEmbedder.from_path(bad_size)
    bad_output = write_tiny_model(tmp_path / "out.onnx", sidecar={"output": "logits"})
    with pytest.raises(UserError, match="no output"):
        OnnxImageEmbedder.from_path(bad_output)


def test_uint8_nhwc_model_embeds_like_the_float_nchw_one(
    tmp_path: Path, model: OnnxImageEmbedder
) -> None:
    """The same encoder behind SSCD-style input (uint8 NHWC, normalised inside) gives the
    same vectors: the layout comes from the model's input shape, no mean/std is applied."""
    raw = OnnxImageEmbedder.from_path(write_tiny_model(tmp_path / "raw.onnx", raw_nhwc=True))
    pre = raw.sidecar.preprocess
    assert (pre.layout, pre.raw, pre.height) == ("NHWC", True, 64) and raw.dim == DIM
    assert pre.apply(np.zeros((30, 40, 3), np.uint8)).shape == (64, 64, 3)
    assert model.sidecar.preprocess.layout == "NCHW" and not model.sidecar.preprocess.raw
    arts = [np.asarray(character_art(i)) for i in range(3)]
    assert np.allclose(raw.embed(arts), model.embed(arts), atol=1e-5)
    said = write_tiny_model(tmp_path / "said.onnx", raw_nhwc=True, sidecar={"layout": "NHWC"})
    assert OnnxImageEmbedder.from_path(said).sidecar.preprocess.layout == "NHWC"


def test_input_conventions_that_do_not_fit_are_user_errors(tmp_path: Path) -> None:
    normalised = write_tiny_model(
        tmp_path / "norm.onnx", raw_nhwc=True, sidecar={"mean": [0.5, 0.5, 0.5]}
    )
    with pytest.raises(UserError, match="normalises them itself"):
        OnnxImageEmbedder.from_path(normalised)
    wrong = write_tiny_model(tmp_path / "wrong.onnx", raw_nhwc=True, sidecar={"layout": "NCHW"})
    with pytest.raises(UserError, match="sidecar says layout NCHW"):
        OnnxImageEmbedder.from_path(wrong)
    nchw = write_tiny_model(tmp_path / "nchw.onnx", sidecar={"layout": "NHWC"})
    with pytest.raises(UserError, match="not an image encoder"):
        OnnxImageEmbedder.from_path(nchw)


@pytest.mark.parametrize(
    ("doc", "needle"),
    [
        ("[1, 2]", "JSON object"),
        ("{not json", "not valid JSON"),
        ('{"thresold": 0.9}', "unknown field"),
        ('{"block": 0.5, "review": 0.9}', "must not exceed"),
        ('{"block": 2}', "block"),
        ('{"resize": "stretch"}', "resize"),
        ('{"mean": [0.5, 0.5]}', "mean"),
        ('{"std": [1, 0, 1]}', "std"),
        ('{"input_size": [0, 10]}', "input_size"),
        ('{"window_scales": [1.5]}', "window_scales"),
        ('{"refine_rounds": -1}', "refine_rounds"),
        ('{"format_version": 2}', "format_version"),
        ('{"layout": "HWC"}', "layout"),
    ],
)
def test_bad_sidecars_are_user_errors(doc: str, needle: str) -> None:
    with pytest.raises(UserError, match=needle):
        parse_sidecar(doc)


def test_sidecar_fields_are_read() -> None:
    side = parse_sidecar(
        json.dumps({"input_size": [320, 288], "resize": "squash", "block": 0.75, "review": 0.6})
    )
    assert (side.preprocess.height, side.preprocess.width) == (320, 288)
    assert side.preprocess.resize == "squash" and side.thresholds.review == 0.6


def test_embed_rejects_non_rgb_arrays(model: OnnxImageEmbedder) -> None:
    with pytest.raises(UserError, match="RGB uint8"):
        model.embed([np.zeros((10, 10), np.uint8)])


def test_vector_blob_round_trip() -> None:
    v = np.linspace(-1, 1, DIM).astype(np.float32)
    data = vector_bytes(v)
    assert len(data) == 4 * DIM
    back = vector_from_bytes(data, DIM)
    assert back is not None and np.array_equal(back, v)
    assert vector_from_bytes(data, DIM + 1) is None


def test_query_windows_cover_the_image() -> None:
    rgb = np.zeros((480, 640, 3), np.uint8)
    boxes = window_boxes(480, 640, (0.5, 2 / 3), stride=0.5)
    assert boxes[0].height == 480 and boxes[0].width == 640
    assert len(boxes) == 1 + 9 + 4  # 3x3 half-size windows, 2x2 two-thirds windows
    for b in boxes:
        assert b.top >= 0 and b.left >= 0 and b.top + b.height <= 480 and b.left + b.width <= 640
    # a picture at half the side, anywhere: some half-size window is within 1/8 of the side
    half = [b for b in boxes if b.height == 240]
    for top in range(0, 241, 20):
        assert min(abs(b.top - top) for b in half) <= 60
    assert len(query_windows(rgb, (0.5, 2 / 3))) == len(boxes)
    assert len(query_windows(np.zeros((40, 40, 3), np.uint8), (0.5,))) == 1  # too small


def test_best_similarities_finds_the_pasted_art(model: OnnxImageEmbedder) -> None:
    from clearance.fingerprint.windows import decode_query
    from tests.embedmodel import composite

    art = character_art(3)
    ref = model.embed([np.asarray(art)])
    out = composite(art, 11)
    assert best_similarities(model, decode_query(out), ref)[0] >= 0.9
    assert best_similarities(model, decode_query(out), np.zeros((0, DIM), np.float32)).size == 0


def test_core_import_does_not_load_onnxruntime() -> None:
    code = (
        "import sys, clearance, clearance.guard, clearance.service, clearance.registry; "
        "print('onnxruntime' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"

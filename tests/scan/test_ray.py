"""The Ray engine: the same decisions as the local engine, and resume across engines.

One local Ray serves the whole module (starting Ray is slow); the scan sees
it is already initialised and uses it instead of starting its own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from clearance.core import UserError
from clearance.scan import scan
from clearance.scan.shard import PARTS_DIR
from tests.samples import POEM

ROWS = 40
SHARD = 7


@pytest.fixture(scope="module")
def ray_local() -> Iterator[Any]:
    import ray

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="warning")
    try:
        yield ray
    finally:
        ray.shutdown()


def _dataset(path: Path) -> Path:
    rows = []
    for i in range(ROWS):
        if i % 4 == 0:
            rows.append({"url": f"https://dana.example/{i}.jpg", "n": i})
        elif i % 4 == 1:
            rows.append({"url": f"https://ben.example/lyrics/{i}", "n": i})
        elif i % 4 == 2:
            rows.append({"text": f"{POEM} number {i}", "n": i})
        else:
            rows.append({"text": f"row {i} has words of its own", "n": i})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _sorted_rows(out: Path) -> list[dict[str, object]]:
    return sorted(pq.read_table(out / "decisions.parquet").to_pylist(), key=lambda r: r["item_id"])


def _scan(data: Path, out: Path, registry: str, engine: str, **kw: Any) -> Any:
    return scan(
        data,
        out,
        registry=registry,
        purpose="train-ai",
        web="off",
        engine=engine,
        workers=kw.pop("workers", 2 if engine == "ray" else 1),
        shard_size=SHARD,
        **kw,
    )


def test_ray_equals_local_and_resumes(ray_local: Any, registry: str, tmp_path: Path) -> None:
    data = _dataset(tmp_path / "rows.jsonl")
    local = _scan(data, tmp_path / "local", registry, "local")
    ray_out = tmp_path / "ray"
    seen: list[tuple[int, int]] = []
    result = _scan(data, ray_out, registry, "ray", progress=lambda d, t: seen.append((d, t)))
    assert result.shards == local.shards == -(-ROWS // SHARD)
    # the actors count every decided item: the bar reaches the total before the final call
    assert seen[-2] == seen[-1] == (ROWS, ROWS) and seen == sorted(seen)
    assert _sorted_rows(ray_out) == _sorted_rows(tmp_path / "local")
    assert (ray_out / "cleared" / "rows.jsonl").read_bytes() == (
        tmp_path / "local" / "cleared" / "rows.jsonl"
    ).read_bytes()
    manifest = json.loads((ray_out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["config"]["engine"] == "ray"

    # A partly complete run: drop two shard records (and a part) as a kill would.
    parts = ray_out / PARTS_DIR
    (parts / "shard-000001.json").unlink()
    (parts / "shard-000004.json").unlink()
    (parts / "shard-000004.decisions.parquet").unlink()
    (ray_out / "decisions.parquet").unlink()
    resumed = _scan(data, ray_out, registry, "ray", resume=True)
    assert resumed.resumed_shards == result.shards - 2
    assert _sorted_rows(ray_out) == _sorted_rows(tmp_path / "local")


def test_ray_resumes_a_local_run(ray_local: Any, registry: str, tmp_path: Path) -> None:
    data = _dataset(tmp_path / "rows.jsonl")
    out = tmp_path / "out"
    first = _scan(data, out, registry, "local")
    expected = _sorted_rows(out)
    (out / PARTS_DIR / "shard-000002.json").unlink()
    again = _scan(data, out, registry, "ray", resume=True)
    assert again.resumed_shards == first.shards - 1
    assert _sorted_rows(out) == expected


def test_cli_starts_and_stops_its_own_ray(registry: str, tmp_path: Path) -> None:
    """Without a Ray in the process, ``--engine ray`` starts a local one for the run."""
    data = _dataset(tmp_path / "rows.jsonl")
    code = "import sys; from clearance.cli import main; sys.exit(main(sys.argv[1:]))"
    args = [sys.executable, "-c", code, "scan", str(data), "--out", str(tmp_path / "o")]
    args += ["--registry", registry, "--web", "off", "--engine", "ray", "--workers", "1"]
    args += ["--shard-size", "20", "--json"]
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    proc = subprocess.run(args, capture_output=True, text=True, timeout=240, env=env)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["shards"] == 2
    assert len(pq.read_table(tmp_path / "o" / "decisions.parquet")) == ROWS


@pytest.mark.parametrize("batch_format", ["pyarrow", "pandas", "numpy"])
def test_clearance_filter_in_a_ray_pipeline(
    ray_local: Any, registry: str, tmp_path: Path, batch_format: str
) -> None:
    from clearance.integrations.ray import ClearanceFilter

    data = _dataset(tmp_path / "rows.jsonl")
    expected = {r["n"]: r for r in _rows_with_decisions(data, registry, tmp_path)}
    items = [json.loads(line) for line in data.read_text(encoding="utf-8").splitlines()]
    ds = ray_local.data.from_items([{"url": None, "text": None, **r} for r in items])
    kwargs = {"registry": registry, "purpose": "train-ai", "web": "off"}
    every = ds.map_batches(
        ClearanceFilter,
        fn_constructor_kwargs=kwargs,
        batch_format=batch_format,
        batch_size=16,
        compute=ray_local.data.ActorPoolStrategy(size=1),
    ).take_all()
    assert len(every) == ROWS
    for row in every:
        want = expected[row["n"]]
        assert row["outcome"] == want["outcome"]
        assert list(row["reasons"]) == want["reasons"]
        assert row["perm_train-ai"] == want["perm_train-ai"]
    if batch_format != "pyarrow":
        return  # include_only is the same filter step for every format; once is enough
    kept = ds.map_batches(
        ClearanceFilter,
        fn_constructor_kwargs={**kwargs, "include_only": True},
        batch_format=batch_format,
        compute=ray_local.data.ActorPoolStrategy(size=1),
    ).take_all()
    assert sorted(r["n"] for r in kept) == sorted(
        n for n, r in expected.items() if r["outcome"] == "include"
    )


def _rows_with_decisions(data: Path, registry: str, tmp_path: Path) -> list[dict[str, Any]]:
    """The local scan's decisions joined to the input's ``n`` (by row order within the file)."""
    out = tmp_path / "expected"
    _scan(data, out, registry, "local")
    rows = pq.read_table(out / "decisions.parquet").to_pylist()
    assert len(rows) == ROWS
    return [{**r, "n": i} for i, r in enumerate(rows)]


def test_ray_address_needs_ray_engine(registry: str, tmp_path: Path) -> None:
    data = _dataset(tmp_path / "rows.jsonl")
    with pytest.raises(UserError, match="--ray-address"):
        scan(data, tmp_path / "o", registry=registry, ray_address="auto")

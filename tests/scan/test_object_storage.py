"""Inputs, outputs and shared caches on object storage (a local moto S3 server).

The same scan gives byte-identical decisions from a local path into a local
directory and from ``s3://`` into ``s3://``; a run killed part-way on S3
resumes there to the uninterrupted run's decisions; the site cache and the
index cache live on S3; names from data stay hostile; no credential reaches
an output.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from benchmarks.s3local import SECRET, LocalS3

from clearance.cli import main
from clearance.core import UserError
from clearance.scan import scan
from clearance.scan import web as scan_web
from clearance.scan.sites import fetch_sites
from tests.localsite import LocalSite, serve
from tests.samples import POEM

ROWS = 60
SHARD = 4
KILLED_ROWS = 24


def _rows(count: int = ROWS) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for i in range(count):
        if i % 4 == 0:
            rows.append({"url": f"https://dana.example/{i}.jpg", "text": None, "n": i})
        elif i % 4 == 1:
            rows.append({"url": f"https://ben.example/lyrics/{i}", "text": None, "n": i})
        elif i % 4 == 2:
            rows.append({"url": None, "text": f"{POEM} number {i}", "n": i})
        else:
            rows.append({"url": None, "text": f"row {i} has words of its own", "n": i})
    return rows


def _parquet(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(_rows()), path, row_group_size=16)
    return path


def _jsonl(path: Path, count: int = ROWS) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({k: v for k, v in r.items() if v is not None}) for r in _rows(count)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _scan(input: str | Path, out: str | Path, registry: str, **kw: object) -> object:
    options: dict[str, object] = {"workers": 1, "shard_size": SHARD, "web": "off"}
    options.update(kw)
    return scan(input, out, registry=registry, purpose="train-ai", **options)


def _sorted(table: pa.Table) -> list[dict[str, object]]:
    return sorted(table.to_pylist(), key=lambda r: str(r["item_id"]))


def test_local_and_s3_give_byte_identical_decisions(
    s3: LocalS3, registry: str, tmp_path: Path
) -> None:
    data = _parquet(tmp_path / "in" / "part-0.parquet")
    local = _scan(data, tmp_path / "out", registry)
    src = s3.upload(tmp_path / "in", s3.prefix("in"))
    out = s3.prefix("out")
    remote = _scan(f"{src}/*.parquet", out, registry)
    assert remote.out == out and str(remote.decisions) == f"{out}/decisions.parquet"  # type: ignore[attr-defined]
    assert (
        s3.read(f"{out}/decisions.parquet") == (tmp_path / "out" / "decisions.parquet").read_bytes()
    )
    assert (
        s3.read(f"{out}/cleared/part-0.parquet")
        == (tmp_path / "out" / "cleared" / "part-0.parquet").read_bytes()
    )
    keys = s3.keys(out)
    for name in ("manifest.json", "report.json", "report.html", "licenses.json", ".run.json"):
        assert name in keys
    assert sum(k.startswith(".parts/shard-") and k.endswith(".json") for k in keys) == ROWS // SHARD
    report = json.loads(s3.read(f"{out}/report.json"))
    assert report["outcomes"] == local.report["outcomes"]  # type: ignore[attr-defined]
    assert report["run"]["input"] == f"{src}/part-0.parquet"
    for name in (".run.json", "manifest.json", "report.json", "report.html"):
        text = s3.read(f"{out}/{name}").decode()
        assert SECRET not in text and "local-test-key" not in text, name
    manifest = json.loads(s3.read(f"{out}/manifest.json"))
    assert manifest["outputs"]["decisions.parquet"] == manifest["outputs"]["decisions.parquet"]
    assert manifest["config"]["input"] == src


def _cli(data: str, out: str, registry: str, *extra: str) -> subprocess.Popen[bytes]:
    code = "import sys; from clearance.cli import main; sys.exit(main(sys.argv[1:]))"
    args = [sys.executable, "-c", code, "scan", data, "--out", out, "--registry", registry]
    args += ["--purpose", "train-ai", "--web", "off", "--workers", "1", "--shard-size", "2"]
    args += ["--json", *extra]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _records(s3: LocalS3, out: str) -> int:
    try:
        keys = s3.keys(out)
    except FileNotFoundError:
        return 0
    return sum(k.startswith(".parts/shard-") and k.endswith(".json") for k in keys)


def test_killed_run_on_s3_resumes_to_the_same_decisions(
    s3: LocalS3, registry: str, tmp_path: Path
) -> None:
    data = _jsonl(tmp_path / "d.jsonl", KILLED_ROWS)
    _scan(data, tmp_path / "clean", registry, shard_size=2)
    src = s3.upload(data, f"{s3.prefix('in')}/d.jsonl")
    out = s3.prefix("killed")
    proc = _cli(src, out, registry)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None and _records(s3, out) < 3:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    first = _records(s3, out)
    assert 0 < first < KILLED_ROWS // 2, "the run must be killed part-way"
    with pytest.raises(UserError, match="not empty"):
        _scan(src, out, registry, shard_size=2)
    resumed = _scan(src, out, registry, shard_size=2, resume=True)
    assert resumed.resumed_shards >= first  # type: ignore[attr-defined]
    rows = pq.read_table(pa.BufferReader(s3.read(f"{out}/decisions.parquet")))
    assert _sorted(rows) == _sorted(pq.read_table(tmp_path / "clean" / "decisions.parquet"))
    assert (
        s3.read(f"{out}/cleared/d.jsonl")
        == (tmp_path / "clean" / "cleared" / "d.jsonl").read_bytes()
    )


def test_a_damaged_part_on_s3_is_redone(s3: LocalS3, registry: str, tmp_path: Path) -> None:
    data = _jsonl(tmp_path / "d.jsonl", KILLED_ROWS)
    out = s3.prefix("damaged")
    _scan(data, out, registry)
    expected = s3.read(f"{out}/decisions.parquet")
    fs = s3.fs()
    key = out.split("://", 1)[1]
    fs.pipe_file(f"{key}/.parts/shard-000003.decisions.parquet", b"junk")  # type: ignore[attr-defined]
    again = _scan(data, out, registry, resume=True)
    assert again.resumed_shards == KILLED_ROWS // SHARD - 1  # type: ignore[attr-defined]
    assert s3.read(f"{out}/decisions.parquet") == expected


def test_path_rows_of_a_table_on_s3_are_never_read(
    s3: LocalS3, registry: str, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text(POEM, encoding="utf-8")  # would match Ben's registered poem
    table = tmp_path / "t" / "paths.parquet"
    table.parent.mkdir()
    pq.write_table(pa.table({"path": [str(secret), "../secret.txt", "x.txt"]}), table)
    src = s3.upload(table, f"{s3.prefix('in')}/paths.parquet")
    out = tmp_path / "out"
    result = _scan(src, out, registry)
    rows = pq.read_table(out / "decisions.parquet").to_pylist()
    assert [r["outcome"] for r in rows] == ["error"] * 3
    assert all("local tables only" in r["error"] for r in rows)
    assert result.report["outcomes"]["error"] == 3  # type: ignore[attr-defined]


def test_refused_locations(s3: LocalS3, registry: str, tmp_path: Path) -> None:
    data = _jsonl(tmp_path / "d.jsonl")
    with pytest.raises(UserError, match="read only"):
        _scan(data, "hf://datasets/someone/out", registry)
    with pytest.raises(UserError, match="credentials"):
        _scan(data, f"s3://key:{SECRET}@{s3.bucket}/out", registry)
    with pytest.raises(UserError, match="credentials"):
        _scan(data, tmp_path / "o", registry, site_cache=f"s3://k:{SECRET}@{s3.bucket}/sites")
    src = s3.upload(data, f"{s3.prefix('in')}/d.jsonl")
    with pytest.raises(UserError, match="inside --out"):
        _scan(src, src.rsplit("/", 1)[0], registry)
    with pytest.raises(UserError, match="no such file"):
        _scan(f"{src}.missing", tmp_path / "o2", registry)
    code = main(["scan", data.as_posix(), "--out", "s3://no-such-bucket-here/x",
                 "--registry", registry, "--web", "off"])  # fmt: skip
    assert code == 2


def test_site_and_index_caches_on_s3(s3: LocalS3, registry: str, tmp_path: Path) -> None:
    with serve(LocalSite()) as site:
        site.routes["/robots.txt"] = (200, {}, b"User-agent: GPTBot\nDisallow: /\n")
        urls = [site.url(f"/img/{i}.jpg") for i in range(6)]
        table = tmp_path / "t.parquet"
        pq.write_table(pa.table({"url": urls}), table)
        sites = s3.prefix("sites")
        fetched = fetch_sites(table, sites, allow_private=True)
        assert fetched.origins == 1 and fetched.requests >= 3
        made = len(site.requests)
        assert any(k.endswith(".json") for k in s3.keys(sites))
        scan_web._caches.clear()  # a new worker: only the bucket is shared
        index = s3.prefix("index")
        common = {"allow_private": True, "web": "origin", "site_cache": sites, "index_cache": index}
        first = _scan(table, s3.prefix("o1"), registry, **common)
        assert len(site.requests) == made  # every site file came from the bucket
        entries = {k.split("/")[0] for k in s3.keys(index)}
        assert len(entries) == 1 and f"{entries.pop()}/index.json" in s3.keys(index)
        scan_web._caches.clear()
        second = _scan(table, tmp_path / "o2", registry, **common)
        assert len(site.requests) == made
        assert first.report["outcomes"] == second.report["outcomes"]  # type: ignore[attr-defined]
        manifest = json.loads((tmp_path / "o2" / "manifest.json").read_text(encoding="utf-8"))
        assert manifest["index"]["cache_key"].endswith(":regions")

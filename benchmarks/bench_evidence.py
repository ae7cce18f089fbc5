"""``clearance verify`` at scale: time and peak memory against reading the file, by run size.

The issue asks that ``verify`` recompute everything, streaming, in bounded
memory for a 10M-row scan. This benchmark writes a synthetic scan output of
``--rows`` decision rows (realistic columns: a URL, reasons, a permission per
usage, ~300 bytes of evidence JSON), in batches so that writing it is bounded
too; builds its manifest with the same evidence functions the scan uses
(timed: that is the scan-time tree step at this size); then runs, each in a
fresh process so that peak RSS is its own:

* ``verify``: ``clearance.evidence.verify_run`` (signature, fields, every
  shard's root and order, every file's digest);
* the baseline: the least any verifier must do, reading every row of
  ``decisions.parquet`` with pyarrow (without pre-buffering, as verify reads
  it) and hashing the file once.

Reported per size: wall time, rows/s, peak RSS of each, and verify/baseline as
a ratio. Bounded memory shows as a peak RSS that does not grow with the rows.

    python -m benchmarks.bench_evidence                       # 100k and 1M rows
    python -m benchmarks.bench_evidence --rows 10000000       # the issue's 10M
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PEAK = """
def peak():  # this process's own high-water RSS (VmHWM restarts at exec; ru_maxrss does not)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            print(int(line.split()[1]) * 1024)
"""
VERIFY = (
    PEAK
    + """
import sys
from clearance.evidence import verify_run
r = verify_run(sys.argv[1])
assert r.ok, r.findings
peak()
"""
)
BASELINE = (
    PEAK
    + """
import hashlib, sys, pyarrow.parquet as pq
p = sys.argv[1] + "/decisions.parquet"
n = 0
for b in pq.ParquetFile(p, pre_buffer=False).iter_batches(batch_size=4096):
    n += len(b.to_pylist())
with open(p, "rb") as fh:
    hashlib.file_digest(fh, "sha256")
peak()
"""
)


def _row(i: int) -> dict[str, Any]:
    host = f"site{i % 5000}.example"
    works = [
        {"id": i % 97, "owner": f"Owner {i % 97}", "title": f"work {i % 97}",
         "matched_by": ["domain"], "permission": "deny", "price": None, "disputed": False}
    ]  # fmt: skip
    evidence = {
        "evidence": [{"source": "robots.txt", "usage": "train-ai", "permission": "deny",
                      "detail": f"GPTBot disallowed /{i % 7}/"}],
        "works": works if i % 10 == 0 else [],
        "warnings": [],
    }  # fmt: skip
    deny = i % 3 == 0
    return {
        "item_id": hashlib.sha256(f"rows.parquet\0row:{i}".encode()).hexdigest()[:32],
        "source": f"https://{host}/images/{i}.jpg",
        "outcome": "exclude" if deny else "include",
        "reasons": ["robots.txt:train-ai=deny"] if deny else [],
        "work_ids": [i % 97] if i % 10 == 0 else [],
        "perm_tdm": "unknown",
        "perm_train-ai": "deny" if deny else "unknown",
        "perm_train-genai": "deny" if deny else "unknown",
        "perm_ai-input": "unknown",
        "perm_search": "unknown",
        "perm_output": "unknown",
        "evidence": json.dumps(evidence, sort_keys=True),
        "error": None,
    }


def synthetic_run(root: Path, rows: int, shard_size: int) -> tuple[Path, float]:
    """A scan output directory of ``rows`` decisions; returns it and the tree step's time."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from clearance.evidence import attest, merkle_section
    from clearance.evidence.tree import order_digest
    from clearance.scan.schema import DECISIONS_SCHEMA

    out = root / f"run-{rows}"
    (out / "cleared").mkdir(parents=True)
    shards: list[dict[str, Any]] = []
    # One shard's rows made once; each shard gets its own item ids and sources.
    template = pa.Table.from_pylist([_row(i) for i in range(shard_size)], schema=DECISIONS_SCHEMA)
    ids_at, source_at = (
        template.schema.get_field_index("item_id"),
        template.schema.get_field_index("source"),
    )
    with pq.ParquetWriter(out / "decisions.parquet", DECISIONS_SCHEMA) as writer:
        for start in range(0, rows, shard_size):
            n = min(rows, start + shard_size) - start
            ids = [hashlib.sha256(f"rows.parquet\0row:{i}".encode()).hexdigest()[:32]
                   for i in range(start, start + n)]  # fmt: skip
            sources = [
                f"https://site{i % 5000}.example/images/{i}.jpg" for i in range(start, start + n)
            ]
            table = template.slice(0, n)
            table = table.set_column(ids_at, template.schema.field(ids_at), pa.array(ids))
            table = table.set_column(source_at, template.schema.field(source_at), pa.array(sources))
            writer.write_table(table)  # one row group per shard, as the scan writes it
            shards.append(
                {"shard": len(shards), "name": "rows.parquet", "items": n,
                 "item_digest": order_digest(ids), "digests": {}}
            )  # fmt: skip
    with open(out / "decisions.parquet", "rb") as fh:
        digest = hashlib.file_digest(fh, "sha256").hexdigest()
    started = time.perf_counter()
    merkle = merkle_section(out / "decisions.parquet", shards)
    tree = time.perf_counter() - started
    manifest = {
        "format": "clearance.scan-manifest",
        "format_version": 1,
        "config": {"purpose": "train-genai", "mode": "opt-out", "shard_size": shard_size},
        "registry_state": "0" * 64,
        "index": None,
        "inputs": {},
        "outputs": {"decisions.parquet": digest},
        "shards": shards,
        "merkle": merkle,
    }
    doc = attest(manifest, Ed25519PrivateKey.generate())
    (out / "manifest.json").write_text(json.dumps(doc), encoding="utf-8")
    return out, tree


def in_child(code: str, arg: Path) -> tuple[float, int]:
    """Run ``code`` in a fresh Python; its wall time and peak RSS in bytes (Linux)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", code, str(arg)], env=env, capture_output=True, text=True
    )
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"child failed with {proc.returncode}: {proc.stderr[-2000:]}")
    return wall, int(proc.stdout.split()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_evidence", description=__doc__
    )
    parser.add_argument("--rows", type=int, action="append", help="run size (repeatable)")
    parser.add_argument("--shard-size", type=int, default=1000)
    parser.add_argument("--dir", default=None, help="where to write the runs (default: a temp dir)")
    args = parser.parse_args(argv)
    sizes = args.rows or [100_000, 1_000_000]
    print(f"machine: {os.cpu_count()} CPUs, 1-minute load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory(prefix="bench-evidence-", dir=args.dir) as tmp:
        for rows in sizes:
            started = time.perf_counter()
            out, tree = synthetic_run(Path(tmp), rows, args.shard_size)
            made = time.perf_counter() - started
            size = (out / "decisions.parquet").stat().st_size
            print(f"{rows:,} rows, shards of {args.shard_size:,}: decisions.parquet "
                  f"{size / 2**20:,.0f} MiB (written in {made:.1f} s)")  # fmt: skip
            print(f"    tree step at scan time: {tree:.2f} s ({rows / tree:,.0f} rows/s)")
            v_wall, v_rss = in_child(VERIFY, out)
            b_wall, b_rss = in_child(BASELINE, out)
            print(f"    verify:   {v_wall:7.2f} s  {rows / v_wall:>10,.0f} rows/s  "
                  f"peak RSS {v_rss / 2**20:,.0f} MiB")  # fmt: skip
            print(f"    baseline: {b_wall:7.2f} s  {rows / b_wall:>10,.0f} rows/s  "
                  f"peak RSS {b_rss / 2**20:,.0f} MiB  (read rows, hash file)")  # fmt: skip
            print(f"    verify / baseline: {v_wall / b_wall:.2f}x the time, "
                  f"{v_rss / b_rss:.2f}x the memory")  # fmt: skip
            for p in out.rglob("*"):
                if p.is_file():
                    p.unlink()


if __name__ == "__main__":
    main()

"""The Ray engine on a real two-node cluster, data on S3, the registry on PostgreSQL.

What ``docs/deploy-ray.md`` sizes a cluster by: rows per second per actor, and
how many actors per core pay. One run, one machine, the same data for every
configuration:

* a local S3 server (moto, in its own process) holds the input, a Parquet
  table of ``--rows`` URL rows over ``--origins`` origins, and every run's
  ``DIR``;
* the registry is a fresh PostgreSQL database (``CLEARANCE_TEST_PG``'s server)
  with URL, prefix and domain works, so rows match;
* a two-node Ray cluster on this machine (``benchmarks.raycluster``), each
  node declaring ``--cpus`` logical CPUs, so 1, 2 and 4 actors are
  0.5, 1 and 2 actors per core on a 2-core machine;
* baseline: the local engine with one worker, in the same run; ratios are
  against it. The local engine with as many workers as cores is shown too.
  Configurations run in ``--rounds`` alternating rounds (medians reported),
  so the load of other jobs falls on all of them alike.

Each configuration is scanned with ``--web off`` (the row pass: the site
files are a separate, network-bound pre-pass, ``bench_sites``). Reported:
end to end (planning, index, the run, assembly and upload), and steady rows/s
(from the first decided item to the last, from the progress counter), per
actor too. Every configuration's decisions are checked equal to the baseline's.

    python -m benchmarks.bench_cluster --rows 200000 --origins 1000 --rounds 3
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.raycluster import free_port, two_nodes
from benchmarks.s3local import LocalS3

PG_ADMIN = os.environ.get("CLEARANCE_TEST_PG", "postgresql://root@127.0.0.1:5432/postgres")


@contextmanager
def s3_server() -> Iterator[LocalS3]:
    """moto's S3 server in its own process (so it takes no GIL from the runs measured)."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    s3 = LocalS3(f"http://127.0.0.1:{port}", "bench")
    saved = {k: os.environ.get(k) for k in s3.env()}
    os.environ.update(s3.env())
    try:
        import boto3

        client = boto3.client("s3", endpoint_url=s3.endpoint)
        for _ in range(100):
            try:
                client.create_bucket(Bucket=s3.bucket)
                break
            except Exception:  # not listening yet
                time.sleep(0.1)
        yield s3
    finally:
        proc.kill()
        proc.wait()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextmanager
def pg_registry(origins: int) -> Iterator[str]:
    """A fresh PostgreSQL registry: a domain work per 10th origin, a prefix per 7th."""
    import psycopg

    from clearance.core import Permission, Usage
    from clearance.registry import add_works, init_store
    from clearance.registry.records import TermsChange

    name = f"clearance_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"{PG_ADMIN.rpartition('/')[0]}/{name}"
    try:
        store = init_store(url)
        deny = TermsChange({Usage.TRAIN_AI: Permission.DENY})
        try:
            add_works(store, [f"domain:o{i}.example" for i in range(0, origins, 10)],
                      owner="Ann", terms=deny)  # fmt: skip
            add_works(store, [f"https://o{i}.example/img/1*" for i in range(3, origins, 7)],
                      owner="Ben", terms=deny)  # fmt: skip
        finally:
            store.close()
        yield url
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def table(path: Path, rows: int, origins: int) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    urls = [f"https://o{i % origins}.example/img/{i}.jpg" for i in range(rows)]
    captions = [f"a photo, number {i}" for i in range(rows)]
    pq.write_table(pa.table({"URL": urls, "TEXT": captions}), path, row_group_size=50_000)
    return path


def digest(s3: LocalS3, out: str) -> str:
    import pyarrow as pa
    import pyarrow.parquet as pq

    t = pq.read_table(pa.BufferReader(s3.read(f"{out}/decisions.parquet")))
    t = t.sort_by("item_id")
    return hashlib.sha256(str(t.to_pylist()).encode()).hexdigest()


def run(s3: LocalS3, src: str, registry: str, shard: int, **options: Any) -> dict[str, Any]:
    from clearance.scan import scan

    out = s3.prefix("run")
    # only two instants are kept: the local engine calls this once per row in this very
    # process, and a list of 200,000 marks would make its run pay for our bookkeeping
    first: list[float] = []
    last: list[float] = []

    def progress(done: int, total: int) -> None:
        if done > 0 and not first:
            first.append(time.perf_counter())
        if done >= total and not last:
            last.append(time.perf_counter())

    gc.collect()  # the previous run's garbage is not this run's cost
    started = time.perf_counter()
    result = scan(src, out, registry=registry, purpose="train-ai", web="off", shard_size=shard,
                  progress=progress, **options)  # fmt: skip
    wall = time.perf_counter() - started
    items = int(result.report["items"])
    window = (last or [time.perf_counter()])[0] - (first or [started])[0]
    steady = items / max(window, 1e-9)
    return {"wall": wall, "rows_s": items / wall, "steady": steady, "digest": digest(s3, out)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_cluster", description=__doc__)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--origins", type=int, default=1000)
    parser.add_argument("--shard-size", type=int, default=5000)
    parser.add_argument("--cpus", type=int, default=2, help="logical CPUs per Ray node")
    parser.add_argument("--actors", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--rounds", type=int, default=2, help="each configuration, alternating")
    args = parser.parse_args(argv)

    import tempfile

    cores = os.cpu_count() or 1
    print(f"machine: {cores} CPUs, 1-minute load average {os.getloadavg()[0]:.1f}")
    with (
        tempfile.TemporaryDirectory(prefix="bench-cluster-") as tmp,
        s3_server() as s3,
        pg_registry(args.origins) as registry,
    ):
        data = table(Path(tmp) / "urls.parquet", args.rows, args.origins)
        src = s3.upload(data, f"{s3.prefix('in')}/urls.parquet")
        print(f"input: {args.rows:,} URL rows over {args.origins:,} origins at {src}")
        started = time.perf_counter()
        with two_nodes(s3.env(), cpus=args.cpus) as cluster:
            print(f"two-node cluster up in {time.perf_counter() - started:.1f} s "
                  f"({args.cpus} logical CPUs per node)")  # fmt: skip
            configs: list[tuple[str, int, dict[str, Any]]] = [
                ("local engine (baseline)", 1, {"workers": 1}),
                ("local engine", cores, {"workers": cores}),
            ]
            for n in args.actors:
                ray = {"engine": "ray", "ray_address": cluster.address, "workers": n}
                configs.append((f"ray, 2 nodes, {n / cores:g} actors/core", n, ray))
            runs: dict[str, list[dict[str, Any]]] = {name: [] for name, _, _ in configs}
            for round_no in range(args.rounds):  # rounds alternate: load falls on all alike
                for name, _, options in configs:
                    r = run(s3, src, registry, args.shard_size, **options)
                    r["load"] = os.getloadavg()[0]
                    runs[name].append(r)
                    line = f"round {round_no + 1}: {name}: {r['wall']:.1f} s, steady "
                    print(f"{line}{r['steady']:,.0f} rows/s, load {r['load']:.1f}", flush=True)
        base = _median(runs[configs[0][0]], "steady")
        digest0 = runs[configs[0][0]][0]["digest"]
        print()
        print("| engine | workers/actors | end to end (median) | steady rows/s (median) "
              "| per worker | vs baseline (steady) | load (1 min) | same decisions |")  # fmt: skip
        print("|---|---|---|---|---|---|---|---|")
        for name, n, _ in configs:
            rs = runs[name]
            steady = _median(rs, "steady")
            loads = f"{min(r['load'] for r in rs):.1f}–{max(r['load'] for r in rs):.1f}"
            same = all(r["digest"] == digest0 for r in rs)
            print(
                f"| {name} | {n} | {_median(rs, 'wall'):.1f} s | {steady:,.0f} | {steady / n:,.0f} "
                f"| {steady / base:.2f}× | {loads} | {'yes' if same else 'NO'} |"
            )


def _median(runs: list[dict[str, Any]], key: str) -> float:
    values = sorted(float(r[key]) for r in runs)
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


if __name__ == "__main__":
    main(sys.argv[1:])

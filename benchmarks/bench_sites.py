"""The site pre-pass (``clearance sites fetch``) against slow sites: origins per second per core.

A loopback server in another process answers for ``--origins`` origins
(127.10.X.Y:PORT, the bench_scan sites: robots.txt rules, ai.txt, tdmrep.json,
RSL licences), each answer after a random 50-200 ms (``--latency``), to
loopback peers only, and at most a bounded number of requests. Measured, in
one run:

* the pre-pass over a table of two URLs per origin: wall time, this
  process's CPU time, requests; origins per second and origins per CPU-second
  (per core);
* baseline: the same pre-pass one origin at a time (``--concurrency 1``) on
  the first ``--baseline`` origins; the ratio is the concurrency's gain;
* a second pre-pass over the same cache: no requests (resumable).

    python -m benchmarks.bench_sites --origins 1000
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import tempfile
import time
from pathlib import Path

from benchmarks.bench_scan import _answer, origin_host
from benchmarks.loopback import serve_forever


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_sites", description=__doc__)
    parser.add_argument("--origins", type=int, default=1000)
    parser.add_argument("--latency", type=float, nargs=2, default=(0.05, 0.2))
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--per-host", type=int, default=2)
    parser.add_argument("--baseline", type=int, default=20, help="origins of the serial run")
    args = parser.parse_args(argv)

    import pyarrow as pa
    import pyarrow.parquet as pq

    from clearance.scan import web as scan_web
    from clearance.scan.sites import fetch_sites

    print(f"machine: {os.cpu_count()} CPUs, 1-minute load average {os.getloadavg()[0]:.1f}")
    ctx = mp.get_context("spawn")
    port, counter = ctx.Value("i", 0), ctx.Value("q", 0, lock=False)
    limit = args.origins * 8 + 1000
    server = ctx.Process(
        target=serve_forever,
        args=(_answer, "0.0.0.0", port, counter, tuple(args.latency), limit),
        daemon=True,
    )
    server.start()
    while port.value == 0:
        time.sleep(0.05)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-sites-") as tmp:
            work = Path(tmp)

            def table(n: int, name: str) -> Path:
                urls = [
                    f"http://{origin_host(o)}:{port.value}/{d}/{o}.jpg"
                    for o in range(n)
                    for d in ("img", "photos")
                ]
                path = work / name
                pq.write_table(pa.table({"url": urls}), path)
                return path

            lo, hi = args.latency
            print(f"sites pre-pass: {args.origins:,} origins, {lo * 1e3:.0f}-{hi * 1e3:.0f} ms "
                  f"per answer, concurrency {args.concurrency}, "
                  f"per host {args.per_host}")  # fmt: skip
            base = fetch_sites(
                table(args.baseline, "base.parquet"), work / "base-cache",
                allow_private=True, concurrency=1, per_host=args.per_host,
            )  # fmt: skip
            base_rate = base.origins / base.seconds
            print(f"    serial ({base.origins} origins, concurrency 1): {base.seconds:.2f} s, "
                  f"{base_rate:.1f} origins/s, {base.requests} requests")  # fmt: skip
            scan_web._caches.clear()
            big = table(args.origins, "all.parquet")
            res = fetch_sites(
                big, work / "cache", allow_private=True,
                concurrency=args.concurrency, per_host=args.per_host,
            )  # fmt: skip
            rate = res.origins / res.seconds
            print(f"    pre-pass: {res.seconds:.2f} s wall, {res.cpu_seconds:.2f} s CPU, "
                  f"{res.requests:,} requests, {res.unreachable} unreachable")  # fmt: skip
            print(f"    {rate:,.0f} origins/s, {res.origins / res.cpu_seconds:,.0f} origins per "
                  f"CPU-second (per core); {rate / base_rate:.0f}x the serial run")  # fmt: skip
            scan_web._caches.clear()
            again = fetch_sites(big, work / "cache", allow_private=True)
            print(f"    again over the same cache: {again.seconds:.2f} s, {again.requests} "
                  "requests")  # fmt: skip
    finally:
        server.terminate()
        server.join(5)
    print(f"1-minute load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()

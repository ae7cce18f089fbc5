"""The registry as a service under load: the bulk URL query and hash-only checks on loopback.

* bulk: ``POST /v1/query/urls`` with 10,000 URLs a request (10% registered
  URLs, 5% under registered prefixes, 5% on registered domains, the rest
  unregistered), against a registry of ``--works`` URL claims; throughput in
  URLs/s and request p50/p99 from ``wrk``. Baseline, same run: the per-item
  path a scan takes for a bare URL (``IdentifierIndex.search`` then
  ``decide_item``, in process, no HTTP);
* hash-only: ``POST /v1/check`` with a client-side PDQ hash against
  ``--works`` PDQ codes, requests/s, p50/p99 and errors at ``--connections``;
  baseline, same run: ``check_pdq`` in process, one at a time.

The server is the FastAPI app under uvicorn (``--workers`` processes sharing
the port through SO_REUSEPORT, each holding the index, as ``clearance serve``
workers do), and the load client is ``wrk`` (C, one thread), all on the same
machine. The index is built in memory, not through a registry import, so the
run measures serving. Bounded: ``--seconds`` per load phase.

    python -m benchmarks.bench_service --works 1000000 --seconds 15
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import numpy as np

from clearance.core.models import Identifier, IdentifierScheme, Party, Terms, Work, WorkKind
from clearance.core.policy import Mode
from clearance.core.usage import Permission, Usage
from clearance.guard import check_pdq
from clearance.matching import MatchIndex, RegistryView, decide_item, matched_works
from clearance.matching.exact import IdentifierIndex, IdentifierQuery
from clearance.matching.segments import HammingSegments

BATCH = 10_000
_DENY = Terms({Usage.TRAIN_AI: Permission.DENY, Usage.OUTPUT: Permission.DENY})
_AT = datetime(2026, 1, 1, tzinfo=UTC)


class _Works(Mapping[int, Work]):
    """Every work id of the synthetic registry, made on demand (a million ``Work`` objects
    would only measure the allocator; lookups happen for matched works only)."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __getitem__(self, work_id: int) -> Work:
        if not 1 <= work_id <= self.n:
            raise KeyError(work_id)
        return Work(
            work_id,
            WorkKind.IMAGE,
            Party(work_id % 1000, f"owner{work_id % 1000}"),
            None,
            (),
            _DENY,
            _AT,
        )

    def __iter__(self) -> Iterator[int]:
        return iter(range(1, self.n + 1))

    def __len__(self) -> int:
        return self.n


def _url(k: int) -> str:
    return f"https://site{k % 20_000}.example/img/{k}.jpg"


def build_view(works: int, seed: int = 0) -> RegistryView:
    """``works`` claims: 98% URLs, 1% URL prefixes, 1% domains; and ``works`` PDQ codes."""
    pairs: list[tuple[int, Identifier]] = []
    for w in range(1, works + 1):
        if w % 100 == 0:
            pairs.append(
                (w, Identifier(IdentifierScheme.URL_PREFIX, f"https://pre{w}.example/art/"))
            )
        elif w % 100 == 1:
            pairs.append((w, Identifier(IdentifierScheme.DOMAIN, f"dom{w}.example")))
        else:
            pairs.append((w, Identifier(IdentifierScheme.URL, _url(w))))
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 256, size=(works, 32), dtype=np.uint8)
    index = MatchIndex(
        identifiers=IdentifierIndex.build(pairs),
        pdq=HammingSegments.build(np.arange(1, works + 1, dtype=np.int64), codes),
    )
    return RegistryView(index, _Works(works))


def query_batch(works: int, seed: int = 1) -> list[str]:
    rng = np.random.default_rng(seed)
    out: list[str] = []
    for i in range(BATCH):
        w = int(rng.integers(1, works + 1))
        roll = i % 20
        if roll < 2:  # 10%: a registered URL
            w = w - w % 100 + 50 if w - w % 100 + 50 <= works else 50
            out.append(_url(w))
        elif roll == 2:  # 5%: under a registered prefix
            out.append(f"https://pre{max(100, w - w % 100)}.example/art/{i}.png")
        elif roll == 3:  # 5%: on a registered domain (a subdomain)
            out.append(f"https://cdn.dom{w - w % 100 + 1}.example/{i}.png")
        else:
            out.append(f"https://other{i % 3000}.example/p/{w}/{i}.jpg")
    return out


def per_item_baseline(view: RegistryView, urls: list[str]) -> dict[str, Any]:
    """The per-item path: one ``IdentifierIndex.search`` and one ``decide_item`` per URL."""
    started = time.perf_counter()
    opted = 0
    for url in urls:
        found = matched_works(view.index.identifiers.search(IdentifierQuery(url=url)), view.work)
        decided = decide_item(found, (), purpose=Usage.TRAIN_AI, mode=Mode.OPT_OUT, at=_AT)
        opted += not decided.decision.allowed
    seconds = time.perf_counter() - started
    return {"urls_per_s": round(len(urls) / seconds), "opted_out": opted}


def _serve(works: int, port: int) -> None:
    import uvicorn

    from clearance.api import create_app
    from clearance.config import Settings

    view = build_view(works)
    app = create_app(Settings(registry=":memory:"), index=view)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", port))
    config = uvicorn.Config(app, log_level="warning", access_log=False, backlog=4096)
    uvicorn.Server(config).run(sockets=[sock])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(port: int, seconds: float = 900) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.5)
    raise SystemExit("the server did not start")


def _ms(text: str) -> float:
    value, unit = float(re.match(r"([\d.]+)", text).group(1)), re.sub(r"[\d.]", "", text)  # type: ignore[union-attr]
    return value * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(
    url: str, body: str, ctype: str, seconds: int, connections: int, rate: float = 0
) -> dict[str, Any]:
    """``wrk`` at full speed, or with ``rate`` > 0 paced to about ``rate`` requests/s in all:
    each connection waits ``connections / rate`` seconds before each request (wrk's
    ``delay()``), so the latencies are those of a service offered ``rate``, not of one
    driven to saturation by a closed loop (where latency is connections / throughput)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        lua.write(
            f'wrk.method = "POST"\nwrk.body = {json.dumps(body)}\n'
            f'wrk.headers["Content-Type"] = "{ctype}"\n'
        )
        if rate > 0:
            lua.write(f"function delay()\n  return {1000 * connections / rate:.1f}\nend\n")
    try:
        out = subprocess.run(
            ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", lua.name, url],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(lua.name)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    return {
        "requests_per_s": rps,
        "p50_ms": _ms(p50.group(1)) if p50 else None,
        "p99_ms": _ms(p99.group(1)) if p99 else None,
        "non_2xx": int(errors.group(1)) if errors else 0,
        "socket_errors": sum(int(g) for g in sock.groups()) if sock else 0,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--works", type=int, default=200_000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--bulk-connections", type=int, default=4)
    parser.add_argument("--connections", type=int, default=200)
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    started = time.perf_counter()
    view = build_view(args.works)
    built = time.perf_counter() - started
    urls = query_batch(args.works)
    baseline = per_item_baseline(view, urls)
    rng = np.random.default_rng(2)
    hashes = [rng.integers(0, 256, 32, dtype=np.uint8).tobytes() for _ in range(2000)]
    t = time.perf_counter()
    for h in hashes:
        check_pdq(view, h)
    in_process_checks = len(hashes) / (time.perf_counter() - t)
    port = _free_port()
    ctx = mp.get_context("spawn")
    servers = [
        ctx.Process(target=_serve, args=(args.works, port), daemon=True)
        for _ in range(args.workers)
    ]
    for s in servers:
        s.start()
    try:
        _wait(port)
        time.sleep(2.0 if args.workers > 1 else 0.0)  # every worker has bound the port
        base = f"http://127.0.0.1:{port}"
        load_before = os.getloadavg()
        bulk = wrk(
            f"{base}/v1/query/urls",
            "\n".join(urls),
            "text/plain",
            args.seconds,
            args.bulk_connections,
        )
        checks = wrk(
            f"{base}/v1/check",
            json.dumps({"pdq": "ab" * 32}),
            "application/json",
            args.seconds,
            args.connections,
        )
        load_after = os.getloadavg()
    finally:
        for s in servers:
            s.terminate()
    bulk_urls = bulk["requests_per_s"] * BATCH
    report = {
        "works": args.works,
        "index_build_s": round(built, 1),
        "workers": args.workers,
        "bulk_urls": {
            **bulk,
            "urls_per_s": round(bulk_urls),
            "connections": args.bulk_connections,
            "baseline": "per-item IdentifierIndex.search + decide_item, in process",
            "baseline_urls_per_s": baseline["urls_per_s"],
            "ratio_vs_baseline": round(bulk_urls / baseline["urls_per_s"], 2),
            "target_urls_per_s": 50_000,
        },
        "hash_only_checks": {
            **checks,
            "connections": args.connections,
            "baseline": "check_pdq in process, one at a time",
            "baseline_per_s": round(in_process_checks),
            "ratio_vs_baseline": round(checks["requests_per_s"] / in_process_checks, 2),
            "target_per_s": 1000,
        },
        "load_average_1m": [round(load_before[0], 2), round(load_after[0], 2)],
        "cpus": os.cpu_count(),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

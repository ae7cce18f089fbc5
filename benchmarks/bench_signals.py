"""Evaluating many URLs' opt-out signals: Clearance (site files once per origin) vs per-URL checks.

Baseline, in the same run on the same URLs: the datadiligence approach, one
request per URL to read its ``X-Robots-Tag`` and TDMRep headers. Ours:
``--web origin`` (robots.txt, ai.txt, tdmrep.json once per origin) and
``--web head`` (those plus one HEAD per URL, which reads everything the
baseline reads and more).

The sites are served by a small asyncio HTTP/1.1 server in another process on
127.0.0.1; ``site-N.test`` host names are resolved to it by the fetcher's
resolver, so every origin is a distinct host without any network.

    python -m benchmarks.bench_signals --urls 100000 --origins 1000   # make bench: 20,000 over 200
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import time
from collections.abc import Sequence

from benchmarks.loopback import serve_forever
from clearance.fetch import FetchConfig, Fetcher
from clearance.fetch.evaluate import SignalEvaluator, WebMode
from clearance.signals.mapping import evidence_from_robots_directives, evidence_from_tdmrep
from clearance.signals.tdmrep import tdmrep_from_headers
from clearance.signals.xrobots import x_robots_tag_from_headers


def _site_files(host: str, path: str) -> tuple[int, list[tuple[str, str]], bytes]:
    n = int(host.split(".")[0].split("-")[-1]) if host.startswith("site-") else 0
    if path == "/robots.txt":
        body = b"User-agent: *\nAllow: /\n"
        if n % 3 == 0:
            body = b"User-agent: GPTBot\nDisallow: /\n\nUser-agent: *\nAllow: /\n"
        return 200, [("Content-Type", "text/plain")], body
    if path == "/.well-known/tdmrep.json" and n % 5 == 0:
        rule = b'[{"location": "/*", "tdm-reservation": 1}]'
        return 200, [("Content-Type", "application/json")], rule
    if path in ("/ai.txt", "/.well-known/tdmrep.json"):
        return 404, [], b""
    headers = [("Content-Type", "image/jpeg")]
    if n % 7 == 0:
        headers.append(("X-Robots-Tag", "noai"))
    return 200, headers, b""


def _answer(host: str, path: str) -> tuple[int, list[tuple[str, str]], bytes]:
    return _site_files(host.split(":")[0], path)


async def _resolve(host: str, port: int) -> list[str]:
    return ["127.0.0.1"]


def _config() -> FetchConfig:
    return FetchConfig(
        agent="BenchBot",
        allow_private=True,
        per_host=8,
        max_connections=64,
        timeout=30,
        deadline=60,
    )


async def _ours(urls: Sequence[str], web: WebMode) -> float:
    async with Fetcher(_config(), resolver=_resolve) as fetcher:
        started = time.perf_counter()
        results = await SignalEvaluator(fetcher, web=web).evaluate_many(urls, concurrency=64)
        elapsed = time.perf_counter() - started
    assert len(results) == len(urls)
    return elapsed


async def _per_url(urls: Sequence[str]) -> float:
    """datadiligence-style: one request per URL, reading X-Robots-Tag and TDMRep headers."""
    async with Fetcher(_config(), resolver=_resolve) as fetcher:
        gate = asyncio.Semaphore(64)

        async def one(url: str) -> int:
            async with gate:
                r = await fetcher.get(url, method="HEAD")
            ev = evidence_from_robots_directives(x_robots_tag_from_headers(r.headers), image=True)
            ev += evidence_from_tdmrep(tdmrep_from_headers(r.headers))
            return len(ev)

        started = time.perf_counter()
        await asyncio.gather(*(one(u) for u in urls))
        return time.perf_counter() - started


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--urls", type=int, default=20_000)
    parser.add_argument("--origins", type=int, default=200)
    args = parser.parse_args(argv)
    ctx = mp.get_context("spawn")
    port, counter = ctx.Value("i", 0), ctx.Value("q", 0)
    server = ctx.Process(
        target=serve_forever, args=(_answer, "127.0.0.1", port, counter), daemon=True
    )
    server.start()
    while port.value == 0:
        time.sleep(0.05)
    origin = "http://site-{}.test:" + str(port.value)
    urls = [f"{origin.format(i % args.origins)}/img/{i}.jpg" for i in range(args.urls)]
    rows = []
    try:
        for name, coro in (
            ("per-URL header check (datadiligence-style)", lambda: _per_url(urls)),
            ("clearance --web origin", lambda: _ours(urls, WebMode.ORIGIN)),
            ("clearance --web head", lambda: _ours(urls, WebMode.HEAD)),
        ):
            before = counter.value
            elapsed = asyncio.run(coro())
            rows.append((name, elapsed, counter.value - before))
    finally:
        server.terminate()
    base = rows[0][1]
    print(f"{args.urls} URLs over {args.origins} origins (local server, one process)")
    header = ("method", "seconds", "URLs/s", "requests", "req/URL", "speed-up")
    print(f"{header[0]:45} " + " ".join(f"{h:>9}" for h in header[1:]))
    for name, elapsed, requests in rows:
        print(
            f"{name:45} {elapsed:9.2f} {args.urls / elapsed:9.0f} {requests:9d} "
            f"{requests / args.urls:9.3f} {base / elapsed:8.1f}x"
        )


if __name__ == "__main__":
    main()

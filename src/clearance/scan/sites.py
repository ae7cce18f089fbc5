"""``clearance sites fetch``: the site pre-pass, every distinct origin's files into a site cache.

Why: a scan of a table of billions of URL rows spends its network time on
one thing, each origin's robots.txt, ai.txt and tdmrep.json (and the RSL
licences robots.txt names). Fetching them once, before the scans and shared
by them (``--site-cache DIR``), makes every later scan of those origins
(and every rerun) make no requests at all, and separates the slow, polite,
network-bound part from the CPU-bound deciding.

It is polite as the scan's fetcher is (``clearance.fetch``): a declared
user agent (``--agent`` plus Clearance's product string), at most
``per_host`` requests in flight per host, bounded redirects, sizes and
times, the SSRF guard; a robots.txt answering 5xx (or not at all) is read
as "disallow all" for crawling (RFC 9309) and the site is reported as
unreachable. It is resumable: each file is written to the cache atomically
as it arrives, with its fetch time, and a rerun reads the files still fresh
(24 h) from the cache instead of asking again.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clearance.core.errors import UserError
from clearance.core.storage import check_uri, is_uri
from clearance.fetch.evaluate import SignalEvaluator, SitePolicy
from clearance.scan.formats import open_input
from clearance.scan.formats.columns import ColumnMap

CONCURRENCY = 32
"""Origins in flight at once (each host still gets at most ``per_host`` requests). The
fetcher costs a few ms of CPU per request: more in flight than the CPU can serve only
queues requests until they time out, and a timed-out site is reported unreachable."""
TOP = 20


@dataclass(frozen=True, slots=True)
class SitesResult:
    """What a pre-pass did: origins seen, requests made, unreachable sites, time taken."""

    site_cache: str
    urls: int
    origins: int
    requests: int
    unreachable: int
    top_unreachable: tuple[tuple[str, str], ...]
    seconds: float
    cpu_seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "site_cache": self.site_cache,
            "urls": self.urls,
            "origins": self.origins,
            "requests": self.requests,
            "unreachable": self.unreachable,
            "top_unreachable": [{"origin": o, "reason": r} for o, r in self.top_unreachable],
            "seconds": round(self.seconds, 3),
            "cpu_seconds": round(self.cpu_seconds, 3),
        }


def input_origins(
    input: str | os.PathLike[str], columns: ColumnMap | None = None
) -> tuple[int, list[str]]:
    """How many URL values the input holds, and its distinct origins in first-seen order."""
    from clearance.scan.columnar import url_origins

    spec = open_input(input, None, columns)
    seen: dict[str, None] = {}
    count = 0
    for shard in spec.plan(100_000):
        fmt = spec.format
        if hasattr(fmt, "read_table"):
            table = fmt.read_table(shard)
            column = fmt.columns.roles(table.column_names).get("url")
            values = table.column(column).to_pylist() if column is not None else []
        else:
            values = [item.url for item in fmt.read(shard).items]
        values = [v for v in values if v is not None]
        count += len(values)
        seen.update((o, None) for o in url_origins(values) if o is not None)
    return count, list(seen)


def fetch_sites(
    input: str | os.PathLike[str],
    site_cache: str | os.PathLike[str],
    *,
    agent: str = "Clearance",
    allow_private: bool = False,
    columns: str | None = None,
    per_host: int = 2,
    concurrency: int = CONCURRENCY,
    progress: Callable[[int, int], None] | None = None,
) -> SitesResult:
    """Fetch the site files of every distinct origin of ``input``'s URLs into ``site_cache``."""
    import asyncio

    from clearance.fetch.client import FetchConfig, Fetcher

    if per_host < 1 or concurrency < 1:
        raise UserError("--per-host and --concurrency must be at least 1")
    cache = check_uri(str(site_cache)) if is_uri(site_cache) else Path(site_cache).expanduser()
    started, cpu = time.perf_counter(), time.process_time()
    urls, origins = input_origins(input, ColumnMap.of(columns))
    config = FetchConfig(
        agent=agent, allow_private=allow_private, cache_dir=cache, per_host=per_host
    )

    async def go() -> tuple[list[SitePolicy], int]:
        async with Fetcher(config) as fetcher:
            evaluator = SignalEvaluator(fetcher)
            gate = asyncio.Semaphore(concurrency)
            done = 0

            async def one(origin: str) -> SitePolicy:
                nonlocal done
                async with gate:
                    policy = await evaluator.site(origin)
                done += 1
                if progress is not None:
                    progress(done, len(origins))
                return policy

            return list(await asyncio.gather(*map(one, origins))), fetcher.requests_made

    if progress is not None:
        progress(0, len(origins))
    policies, requests = asyncio.run(go())
    gone = sorted((p.origin, p.unreachable) for p in policies if p.unreachable)
    return SitesResult(
        str(cache),
        urls,
        len(origins),
        requests,
        len(gone),
        tuple(gone[:TOP]),
        time.perf_counter() - started,
        time.process_time() - cpu,
    )

"""Web signals for the URL rows of one shard: one event loop, one evaluator, per shard.

Why per shard: a worker process owns its shard from reading to writing, so
fetching inside it keeps shards independent (a killed run loses at most the
shards in flight). Site files are fetched once per origin within the shard
(the evaluator shares them), across a worker's shards as parsed policies kept
in memory (``SITE_CACHE``), and across workers through the fetcher's on-disk
cache in the run directory, so an origin is not refetched by every shard.
An unreachable site leaves its usages ``unknown`` (recorded as warnings),
never a silent allow.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from clearance.core.errors import ClearanceError
from clearance.core.models import Evidence
from clearance.core.usage import Permission
from clearance.fetch.client import FetchConfig, Fetcher
from clearance.fetch.evaluate import SignalEvaluator, SitePolicy, UrlSignals, WebMode

if TYPE_CHECKING:
    from clearance.scan.config import ScanConfig

T = TypeVar("T")
UNREACHABLE = "unreachable"
"""The evidence source of ``--on-unreachable exclude``."""
CONCURRENCY = 64
SITE_CACHE = 50_000
"""Parsed site policies a worker keeps between shards (a few KB each)."""


def with_evaluator(
    run: Callable[[SignalEvaluator], Awaitable[T]],
    *,
    web: str,
    agent: str,
    allow_private: bool,
    cache_dir: Path | str | None,
) -> T:
    """Run ``run(evaluator)`` on one event loop, with this process's parsed site policies
    (the same evaluator ``evaluate_shard_urls`` builds; ``scan.columnar`` uses it)."""
    config = FetchConfig(agent=agent, allow_private=allow_private, cache_dir=cache_dir)
    mode = WebMode.HEAD if web == "head" else WebMode.ORIGIN
    sites = _process_sites((agent, allow_private, str(cache_dir)))

    async def go() -> T:
        async with Fetcher(config) as fetcher:
            return await run(SignalEvaluator(fetcher, web=mode, site_cache=sites))

    return asyncio.run(go())


def evaluate_shard_urls(
    urls: Sequence[str],
    *,
    web: str,
    agent: str,
    allow_private: bool,
    cache_dir: Path | str | None,
) -> dict[str, UrlSignals]:
    """Evaluate each distinct URL once; ``web`` is ``origin`` or ``head``."""
    distinct = list(dict.fromkeys(urls))
    if not distinct or web == "off":
        return {}
    config = FetchConfig(agent=agent, allow_private=allow_private, cache_dir=cache_dir)
    mode = WebMode.HEAD if web == "head" else WebMode.ORIGIN
    sites = _process_sites((agent, allow_private, str(cache_dir)))

    async def go() -> list[UrlSignals]:
        async with Fetcher(config) as fetcher:
            evaluator = SignalEvaluator(fetcher, web=mode, site_cache=sites)
            return await evaluator.evaluate_many(distinct, concurrency=CONCURRENCY)

    return dict(zip(distinct, asyncio.run(go()), strict=True))


class _SiteCache(OrderedDict[str, SitePolicy]):
    """Parsed site policies of this worker process, newest last, at most ``SITE_CACHE`` of them.

    Entries expire after the fetcher's cache TTL, like the on-disk copies they
    were parsed from, so a long run still sees a site's changed files.
    """

    def __init__(self, ttl: float) -> None:
        super().__init__()
        self.ttl = ttl
        self.born: dict[str, float] = {}

    def get(self, key: str, default: SitePolicy | None = None) -> SitePolicy | None:  # type: ignore[override]
        if key in self and time.monotonic() - self.born[key] <= self.ttl:
            self.move_to_end(key)
            return self[key]
        return default

    def __setitem__(self, key: str, value: SitePolicy) -> None:
        super().__setitem__(key, value)
        self.born[key] = time.monotonic()
        while len(self) > SITE_CACHE:
            old, _ = self.popitem(last=False)
            self.born.pop(old, None)


_caches: dict[tuple[str, bool, str], _SiteCache] = {}


def cached_sites(agent: str, allow_private: bool, cache_dir: Path | str | None) -> _SiteCache:
    """This process's parsed site policies for one setting (what ``with_evaluator`` and
    ``evaluate_shard_urls`` read first); ``get`` honours the TTL."""
    return _process_sites((agent, allow_private, str(cache_dir)))


def _process_sites(key: tuple[str, bool, str]) -> _SiteCache:
    """This process's site cache for one (agent, allow_private, run cache) setting."""
    cache = _caches.get(key)
    if cache is None:
        _caches.clear()  # one run at a time per process: drop other runs' sites
        cache = _caches[key] = _SiteCache(FetchConfig().cache_ttl)
    return cache


def unreachable_evidence(signals: UrlSignals, config: ScanConfig) -> list[Evidence]:
    """What ``--on-unreachable`` makes of a URL whose site signals could not be read.

    ``include``: nothing (the signals that were read decide, unknown usages
    stay unknown); ``exclude``: a deny for the purpose, so the row is
    excluded through the resolver like any other deny (a licence agreement
    held still outranks it); ``error``: the row becomes an error row.
    """
    if signals.unreachable is None or config.on_unreachable == "include":
        return []
    why = f"site signals of {signals.origin} could not be read ({signals.unreachable})"
    if config.on_unreachable == "error":
        raise ClearanceError(why)
    return [
        Evidence(
            UNREACHABLE,
            config.purpose,
            Permission.DENY,
            detail=f"{why}; --on-unreachable exclude",
        )
    ]


def url_error(signals: UrlSignals, web: str) -> str | None:
    """Why a URL row is an error: an invalid URL, or (``head``) a page that did not answer."""
    if signals.error:
        return f"invalid URL: {signals.error}"
    if web == "head":
        for warning in signals.warnings:
            if warning.startswith("page unavailable"):
                return warning
    return None

"""Web signals for the URL rows of one shard: one event loop, one evaluator, per shard.

Why per shard: a worker process owns its shard from reading to writing, so
fetching inside it keeps shards independent (a killed run loses at most the
shards in flight). Site files are fetched once per origin within the shard
(the evaluator shares them), and across shards through the fetcher's on-disk
cache in the run directory, so an origin is not refetched by every shard.
An unreachable site leaves its usages ``unknown`` (recorded as warnings),
never a silent allow.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from clearance.fetch.client import FetchConfig, Fetcher
from clearance.fetch.evaluate import SignalEvaluator, UrlSignals, WebMode

CONCURRENCY = 64


def evaluate_shard_urls(
    urls: Sequence[str],
    *,
    web: str,
    agent: str,
    allow_private: bool,
    cache_dir: Path | None,
) -> dict[str, UrlSignals]:
    """Evaluate each distinct URL once; ``web`` is ``origin`` or ``head``."""
    distinct = list(dict.fromkeys(urls))
    if not distinct or web == "off":
        return {}
    config = FetchConfig(agent=agent, allow_private=allow_private, cache_dir=cache_dir)
    mode = WebMode.HEAD if web == "head" else WebMode.ORIGIN

    async def go() -> list[UrlSignals]:
        async with Fetcher(config) as fetcher:
            evaluator = SignalEvaluator(fetcher, web=mode)
            return await evaluator.evaluate_many(distinct, concurrency=CONCURRENCY)

    return dict(zip(distinct, asyncio.run(go()), strict=True))


def url_error(signals: UrlSignals, web: str) -> str | None:
    """Why a URL row is an error: an invalid URL, or (``head``) a page that did not answer."""
    if signals.error:
        return f"invalid URL: {signals.error}"
    if web == "head":
        for warning in signals.warnings:
            if warning.startswith("page unavailable"):
                return warning
    return None

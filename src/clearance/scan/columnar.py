"""Columnar URL decisions: a shard of URL rows decided as a join, on its Arrow table.

Why: a LAION-style table is billions of rows that are only a URL. Deciding
one is a join (URL -> origin -> the origin's parsed policy; the path
against the policy's patterns; the URL against the registry's URL, prefix
and domain claims), so doing it row by row through the general per-item
path (``shard.decide``: a URL parsed four times, a dozen ``Evidence``
objects, eight resolutions and a JSON document per row) wastes nearly all
of its time. Here a shard's URL rows are decided in bulk:

1. each URL is parsed once, with a strict pattern for plain ASCII
   ``http(s)://host[:port]/path`` URLs; the host part (its validity, the
   origin, its normalised form) is worked out once per distinct
   ``scheme://host:port`` by the same functions the per-row path calls;
2. the registry's URL, prefix and domain claims are looked up for all rows
   at once (``IdentifierIndex.search_urls``);
3. each origin's site policy is loaded once, and each URL's path is reduced
   to the set of the site's patterns it matches (``site_signature``);
4. rows with the same origin, the same matched patterns and the same matched
   claims have the same decision: it is made once, by the per-row path
   itself (``shard.decide`` on one representative row), and the decision
   columns are gathered for every row with one Arrow ``take``.

So the decisions and evidence are exactly the per-row path's, by
construction; ``tests/scan/test_columnar.py`` holds the two to agreement on
random tables. Rows the fast path cannot vouch for (a value in another role
column, a URL outside the strict pattern, a host the per-row path would
refuse) go through the per-row path, in place.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from clearance.core.errors import UserError
from clearance.fetch.client import origin_of
from clearance.fetch.evaluate import SignalEvaluator, SitePolicy, UrlSignals, site_signature
from clearance.registry.identifiers import normalise_url
from clearance.scan.config import ScanConfig
from clearance.scan.formats import Item, ShardData, ShardSpec
from clearance.scan.formats.base import item_id
from clearance.scan.formats.rows import row_item, url_problem
from clearance.scan.formats.tables import table_rows

_FAST = re.compile(r"(https?)://([A-Za-z0-9.-]{1,253}(?::[0-9]{1,5})?)(/[!-~]{0,1990})?", re.ASCII)
"""A plain URL: lower-case scheme, ASCII host, optional port, printable-ASCII path."""

SKIP_ROLES = ("path", "text", "image", "sha256", "isbn", "isrc", "iscc")
"""A row with a value in any of these goes through the per-row path."""


MEMO_SIZE = 200_000
"""Hosts and decisions a worker process keeps between shards of one run."""


@dataclass
class _Memo:
    """What a worker process keeps between the shards of one run: parsed hosts, each site
    policy's signature function, and one decision per key (each entry holds its policy, so
    the ``id`` in the key cannot be reused while the entry lives)."""

    run: tuple[Any, ...]
    worker: Any
    hosts: dict[tuple[str, str], tuple[str, str] | None] = field(default_factory=dict)
    signatures: dict[int, tuple[SitePolicy, Callable[[str], Hashable]]] = field(
        default_factory=dict
    )
    templates: dict[Hashable, tuple[SitePolicy | None, dict[str, Any]]] = field(
        default_factory=dict
    )

    def signature(self, policy: SitePolicy) -> Callable[[str], Hashable]:
        entry = self.signatures.get(id(policy))
        if entry is None or entry[0] is not policy:
            if len(self.signatures) >= MEMO_SIZE:
                self.signatures.clear()
            entry = self.signatures[id(policy)] = (policy, site_signature(policy))
        return entry[1]

    def remember(self, key: Hashable, policy: SitePolicy | None, row: dict[str, Any]) -> None:
        if len(self.templates) >= MEMO_SIZE:
            self.templates.clear()
        self.templates[key] = (policy, row)


_memo: list[_Memo] = []


def _memo_for(config: ScanConfig, as_of: datetime, worker: Any) -> _Memo:
    """This process's memo for the run (a new run, or another worker, starts a new one)."""
    run = (config.digest, as_of)
    if _memo and _memo[0].run == run and _memo[0].worker is worker:
        return _memo[0]
    _memo.clear()
    _memo.append(_Memo(run, worker))
    return _memo[0]


def _evaluate(
    run: Callable[[SignalEvaluator], Awaitable[None]],
    config: ScanConfig,
    cache_dir: Path | str | None,
) -> None:
    from clearance.scan.web import with_evaluator

    with_evaluator(
        run,
        web=config.web.value,
        agent=config.agent,
        allow_private=config.allow_private,
        cache_dir=cache_dir,
    )


def columnar_input(data_format: Any, config: ScanConfig) -> bool:
    """Whether a shard of this format can be decided here: an Arrow table, web signals
    from site files only (``origin``) or none (``off``), and ``config.columnar``."""
    return (
        config.columnar
        and config.web.value in ("origin", "off")
        and hasattr(data_format, "read_table")
    )


def _netloc_info(scheme: str, netloc: str) -> tuple[str, str] | None:
    """``(normalised scheme://host[:port], origin)``, or None when the per-row path would
    refuse the host (then its rows go through the per-row path, which says why)."""
    probe = f"{scheme}://{netloc}/"
    if url_problem(probe) is not None:
        return None
    try:
        origin = origin_of(probe)
        norm = normalise_url(probe)
    except (UserError, ValueError):
        return None
    return norm[:-1], origin


def url_origins(urls: list[Any]) -> list[str | None]:
    """The origin of each URL (None: not an http(s) URL the scan would fetch for); plain
    URLs by the fast pattern and one ``origin_of`` per distinct host, the rest one by one."""
    hosts: dict[tuple[str, str], str | None] = {}
    out: list[str | None] = []
    for value in urls:
        if not isinstance(value, str):
            out.append(None)
            continue
        url = value.strip()
        m = _FAST.fullmatch(url)
        if m is not None:
            host = (m.group(1), m.group(2))
            if host not in hosts:
                info = _netloc_info(*host)
                hosts[host] = info[1] if info is not None else None
            out.append(hosts[host])
            continue
        try:
            out.append(origin_of(url) if url_problem(url) is None else None)
        except (UserError, ValueError):
            out.append(None)
    return out


def decide_columnar(
    spec: ShardSpec,
    fmt: Any,
    worker: Any,
    config: ScanConfig,
    as_of: datetime,
    cache_dir: Path | str | None,
    decide: Callable[..., dict[str, Any]],
) -> tuple[ShardData, Any]:
    """The shard's data (its Arrow table as ``raw``) and its decisions as an Arrow table;
    ``decide`` is the per-row path (``shard.decide``), which makes each distinct decision."""
    import numpy as np
    import pyarrow as pa

    from clearance.scan.schema import DECISIONS_SCHEMA
    from clearance.scan.web import CONCURRENCY, cached_sites

    table = fmt.read_table(spec)
    data = ShardData(spec, [], raw=table)
    n = table.num_rows
    roles = fmt.columns.roles(table.column_names)
    skip = [*SKIP_ROLES, "caption"] if config.match_captions else list(SKIP_ROLES)
    urls: list[Any] = [None] * n
    url_column = roles.get("url")
    if url_column is not None and pa.types.is_string(table.schema.field(url_column).type):
        urls = table.column(url_column).to_pylist()
    blocked = np.zeros(n, dtype=bool)
    for role in skip:
        if role in roles:
            blocked |= table.column(roles[role]).is_valid().to_numpy()
    blocked_rows = blocked.tolist()

    memo = _memo_for(config, as_of, worker)
    # 1. parse: (normalised URL, origin) per fast row; the rest go through the per-row path
    hosts = memo.hosts
    fast: list[int] = []
    norms: list[str] = []
    origins: list[str] = []
    stripped: list[str] = []
    for i, value in enumerate(urls):
        if value is None or blocked_rows[i]:
            continue
        url = value.strip()
        m = _FAST.fullmatch(url)
        if m is None:
            continue
        host = (m.group(1), m.group(2))
        if host not in hosts:
            if len(hosts) >= MEMO_SIZE:
                hosts.clear()
            hosts[host] = _netloc_info(*host)
        info = hosts[host]
        if info is None:
            continue
        rest = (m.group(3) or "").split("#", 1)[0]
        path, _, query = rest.partition("?")
        fast.append(i)
        norms.append(info[0] + (path or "/") + ("?" + query if query else ""))
        origins.append(info[1])
        stripped.append(url)
    fast_set = set(fast)
    slow = [i for i in range(n) if i not in fast_set]

    # 2. the registry's URL, prefix and domain claims, for every fast row at once
    found = worker.index.identifiers.search_urls(norms)
    claims: list[tuple[tuple[int, str], ...]] = []
    for matches in found:
        kept = tuple((m.work_id, m.method) for m in matches if worker.work(m.work_id) is not None)
        claims.append(kept)

    slow_items: list[Item] = []
    if slow:
        sub = table.take(pa.array(slow, pa.int64()))
        table_dir = fmt.table_dir(spec)
        for i, row in zip(slow, table_rows(sub, fmt.columns), strict=True):
            slow_items.append(
                row_item(
                    spec.name,
                    spec.start + i,
                    row,
                    table_dir,
                    fmt.base_dir,
                    captions=config.match_captions,
                )
            )

    # 3. site policies (this process's parsed copies first), each URL's key
    web_on = config.web.value != "off"
    data.sparse = dict(zip(slow, slow_items, strict=True))
    slow_urls = [it.url for it in slow_items if it.url is not None and it.error is None]
    distinct = list(dict.fromkeys(origins))
    policies: dict[str, SitePolicy] = {}
    missing: list[str] = []
    if web_on:
        sites = cached_sites(config.agent, config.allow_private, cache_dir)
        for origin in distinct:
            policy = sites.get(origin)
            if policy is None:
                missing.append(origin)
            else:
                policies[origin] = policy
    keys: list[Hashable] = []
    need: dict[Hashable, int] = {}
    done: list[bool] = []

    def compute_keys() -> None:
        if done:
            return
        done.append(True)
        signatures = {o: memo.signature(p) for o, p in policies.items()}
        for j, url in enumerate(stripped):
            origin = origins[j]
            policy = policies.get(origin)
            sig = signatures[origin](url) if policy is not None else ()
            key: Hashable = (origin, id(policy), sig, claims[j])
            keys.append(key)
            if key not in memo.templates:
                need.setdefault(key, j)

    signals: dict[str, UrlSignals] = {}

    async def evaluate(evaluator: SignalEvaluator) -> None:
        import asyncio

        gate = asyncio.Semaphore(CONCURRENCY)

        async def load(origin: str) -> SitePolicy:
            async with gate:
                return await evaluator.site(origin)

        loaded = await asyncio.gather(*map(load, missing))
        policies.update(zip(missing, loaded, strict=True))
        compute_keys()
        todo = list(dict.fromkeys([stripped[j] for j in need.values()] + slow_urls))
        results = await evaluator.evaluate_many(todo, concurrency=CONCURRENCY)
        signals.update(zip(todo, results, strict=True))

    if web_on and (missing or slow_urls):
        _evaluate(evaluate, config, cache_dir)
    else:
        compute_keys()
        if web_on and need:
            _evaluate(evaluate, config, cache_dir)  # the sites are cached: no requests

    # 4. one decision per key, made by the per-row path on a representative row
    for key, j in need.items():
        rep = Item("", "", url=stripped[j])
        memo.remember(key, policies.get(origins[j]), decide(rep, worker, signals, config, as_of))
    slow_rows = [decide(it, worker, signals, config, as_of) for it in slow_items]
    index_of: dict[Hashable, int] = {}
    templates: list[dict[str, Any]] = []
    for key in keys:
        if key not in index_of:
            index_of[key] = len(templates)
            templates.append(memo.templates[key][1])

    decided = pa.Table.from_pylist(templates, schema=DECISIONS_SCHEMA).take(
        pa.array([index_of[k] for k in keys], pa.int64())
    )
    ids = [item_id(spec.name, f"row:{spec.start + i}") for i in fast]
    decided = decided.set_column(0, DECISIONS_SCHEMA.field(0), pa.array(ids, pa.string()))
    decided = decided.set_column(
        1, DECISIONS_SCHEMA.field(1), pa.array([u[:2000] for u in stripped], pa.string())
    )
    if slow_rows:
        both = pa.concat_tables([decided, pa.Table.from_pylist(slow_rows, schema=DECISIONS_SCHEMA)])
        order = np.empty(n, dtype=np.int64)
        order[np.array(fast, dtype=np.int64)] = np.arange(len(fast))
        order[np.array(slow, dtype=np.int64)] = np.arange(len(fast), n)
        decided = both.take(pa.array(order))
    return data, decided.combine_chunks()

"""Evaluating every opt-out signal that applies to a URL, with the evidence for each usage.

Site-level files (robots.txt, ai.txt, /.well-known/tdmrep.json and the RSL
licences robots.txt points to) are fetched once per origin and shared by every
URL of that origin. Depending on ``web``:

* ``origin``: site-level files only (what a dataset scan of many URLs wants);
* ``head``:  plus a HEAD request per URL for its headers (X-Robots-Tag, TDMRep,
  Content-Usage, Link rel=license, HTTP 402);
* ``full``:  plus a GET of the page, for HTML meta tags and links as well
  (what ``clearance signals`` does).

Unreachable or refused files are never a silent allow: RFC 9309 reads a 5xx or
unreachable robots.txt as "disallow all", and every usage stays ``unknown``
unless something else speaks; both are recorded as evidence and warnings.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable, MutableMapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from clearance.core import Evidence, Mode, Permission, Usage, UserError, resolve
from clearance.fetch.client import FetchConfig, Fetcher, FetchResult, origin_of
from clearance.signals.agents import training_tokens
from clearance.signals.aipref import parse_content_usage_fields
from clearance.signals.aitxt import AiTxt, parse_aitxt
from clearance.signals.html_meta import parse_html_meta
from clearance.signals.mapping import (
    PROTOCOL_USAGES,
    evidence_from_aitxt,
    evidence_from_content_usage,
    evidence_from_pay_per_crawl,
    evidence_from_robots,
    evidence_from_robots_directives,
    evidence_from_rsl,
    evidence_from_tdmrep,
)
from clearance.signals.paycrawl import parse_pay_per_crawl
from clearance.signals.robots import Access, RobotsTxt, parse_robots, robots_for_status
from clearance.signals.robots_paths import (
    PatternSet,
    canonical_path,
    canonical_pattern,
    request_path,
)
from clearance.signals.rsl import RslDocument, parse_rsl, rsl_links_from_headers
from clearance.signals.tdmrep import (
    TdmRepFile,
    combine,
    parse_tdm_policy,
    parse_tdmrep_json,
    tdmrep_from_headers,
    tdmrep_from_html,
)
from clearance.signals.xrobots import x_robots_tag_from_headers

MAX_PAGE_BYTES = 2 * 1024 * 1024


class WebMode(StrEnum):
    OFF = "off"
    ORIGIN = "origin"
    HEAD = "head"
    FULL = "full"


@dataclass(frozen=True, slots=True)
class SitePolicy:
    """The site-level files of one origin, parsed, with how each fetch went."""

    origin: str
    robots: RobotsTxt
    robots_fetch: FetchResult
    aitxt: AiTxt | None
    tdmrep: TdmRepFile | None
    rsl: tuple[tuple[str, RslDocument], ...]
    warnings: tuple[str, ...] = ()
    unreachable: str | None = None
    """Why some of the site's signals could not be read (None when all could)."""


@dataclass(frozen=True, slots=True)
class UrlSignals:
    """Everything known about one URL: crawl permission, evidence per usage, licences offered."""

    url: str
    agent: str
    crawl_allowed: bool
    crawl_evidence: tuple[dict[str, str], ...]
    evidence: tuple[Evidence, ...]
    licenses: tuple[dict[str, Any], ...] = ()
    warnings: tuple[str, ...] = ()
    error: str | None = None
    origin: str = ""
    unreachable: str | None = None
    """Why the site's signals could not (all) be read: ``SitePolicy.unreachable``."""

    def permission(self, usage: Usage) -> Permission:
        return resolve(self.evidence, usage, Mode.OPT_OUT).permission

    def to_dict(self) -> dict[str, Any]:
        usages: dict[str, Any] = {}
        for usage in PROTOCOL_USAGES:
            decision = resolve(self.evidence, usage, Mode.OPT_OUT)
            relevant = [e for e in self.evidence if e.usage is usage or e in decision.evidence]
            usages[usage.value] = {
                "permission": decision.permission.value,
                "evidence": [_evidence_json(e) for e in _unique(relevant)],
            }
        out: dict[str, Any] = {
            "url": self.url,
            "agent": self.agent,
            "crawl": {"allowed": self.crawl_allowed, "evidence": list(self.crawl_evidence)},
            "usages": usages,
            "licenses": list(self.licenses),
            "warnings": list(self.warnings),
        }
        if self.error:
            out["error"] = self.error
        if self.unreachable:
            out["unreachable"] = self.unreachable
        return out


def _unique(items: Sequence[Evidence]) -> list[Evidence]:
    return list(dict.fromkeys(items))


def _evidence_json(e: Evidence) -> dict[str, str]:
    return {
        "source": e.source,
        "usage": e.usage.value,
        "permission": e.permission.value,
        "detail": e.detail,
        "raw": e.raw,
    }


def _payment_json(doc: RslDocument, url: str, rsl_url: str) -> list[dict[str, Any]]:
    content = doc.content_for(url)
    if content is None:
        return []
    out: list[dict[str, Any]] = []
    for lic in content.licenses:
        for payment in lic.payments:
            out.append(
                {
                    "source": "rsl",
                    "url": rsl_url,
                    "content": content.url,
                    "server": content.server,
                    "payment": {
                        "type": payment.type,
                        "amounts": [
                            {
                                "value": str(a.value) if a.value is not None else None,
                                "currency": a.currency,
                            }
                            for a in payment.amounts
                        ],
                        "standard": list(payment.standard),
                        "custom": list(payment.custom),
                    },
                }
            )
    return out


def unread(r: FetchResult) -> str | None:
    """Why a site file could not be read: refused (a private address), no answer (DNS,
    connection, timeout) or a 5xx. None when the site answered (a 404 is an answer; so is
    a redirect loop, which RFC 9309 reads as "unavailable")."""
    if r.too_many_redirects:
        return None
    if r.blocked:
        return f"address refused ({r.error})"
    if r.status is None:
        return r.error or "no answer"
    if r.status >= 500:
        return f"HTTP {r.status}"
    return None


def site_signature(site: SitePolicy) -> Callable[[str], Hashable]:
    """A function giving, for a URL of this site, a key such that two URLs with equal keys
    get equal evidence and warnings from ``SignalEvaluator.evaluate`` in ``origin`` mode.

    Why: a dataset holds many URLs per site, and every site-level protocol
    decides a URL by which of the site's path patterns match it: robots.txt
    rules and Content-Usage/Content-Signal lines (longest match, RFC 9309
    comparison form, ``/robots.txt`` always allowed), ai.txt lines, the
    first matching ``tdmrep.json`` rule, the longest matching RSL
    ``<content>``. The key is that set of matches, so a scan evaluates one URL
    per key and shares its answer (``scan.columnar``); the agreement test
    holds it to evaluating every URL.
    """
    robots = site.robots
    patterns: list[str] = []
    if robots.access is Access.PARSED:
        for g in (robots.preamble, *robots.groups):
            for r in g.rules:
                pattern = canonical_pattern(r.pattern)
                patterns.append(pattern)
                slash = pattern.rfind("/")
                if slash >= 0 and pattern.startswith("/index.htm", slash):
                    patterns.append(pattern[: slash + 1] + "$")
            patterns += [canonical_pattern(p.path) for p in g.content_usage]
            patterns += [canonical_pattern(p.path) for p in g.content_signals]
    rules = PatternSet([p for p in patterns if p])
    aitxt, tdm = site.aitxt, site.tdmrep
    with_aitxt = aitxt is not None and bool(aitxt.groups or aitxt.preamble.rules)
    # tdmrep.json: the first rule whose location matches wins, so the set of matching
    # locations decides (``TdmRepRule.matches``: canonical pattern on ``path_of``, again
    # canonicalised)
    locations = PatternSet([canonical_pattern(r.location) for r in tdm.rules]) if tdm else None
    docs = [doc for _, doc in site.rsl if doc.contents]

    def key(url: str) -> Hashable:
        path = canonical_path(request_path(url))
        out: list[Hashable] = [
            path == "/robots.txt" or path.startswith("/robots.txt?"),
            rules.matching(path),
        ]
        if with_aitxt:
            assert aitxt is not None
            verdict = aitxt.check(url)
            out += (verdict.allowed, id(verdict.rule))
        if locations is not None and locations.patterns:
            stripped = url.strip()
            tdm_path = path if stripped == url else canonical_path(request_path(stripped))
            out.append(locations.matching(canonical_path(tdm_path)))
        out += [id(doc.content_for(url)) for doc in docs]
        return tuple(out)

    return key


class SignalEvaluator:
    """Evaluates URLs against their sites' signals; site files are fetched once per origin."""

    def __init__(
        self,
        fetcher: Fetcher,
        *,
        web: WebMode = WebMode.FULL,
        site_cache: MutableMapping[str, SitePolicy] | None = None,
    ) -> None:
        """``site_cache``: parsed site policies kept by the caller across evaluators
        (a scan worker keeps one per process, so its next shard does not reread and
        reparse every site's files from the on-disk cache)."""
        self.fetcher = fetcher
        self.agent = fetcher.config.agent
        self.web = web
        self._sites: dict[str, asyncio.Task[SitePolicy]] = {}
        self._site_cache = site_cache
        self._training = training_tokens()
        self._named_tokens: dict[str, tuple[str, ...]] = {}

    async def site(self, origin: str) -> SitePolicy:
        if self._site_cache is not None:
            cached = self._site_cache.get(origin)
            if cached is not None:
                return cached
        task = self._sites.get(origin)
        if task is None:
            task = self._sites[origin] = asyncio.ensure_future(self._load_site(origin))
        policy = await asyncio.shield(task)
        if self._site_cache is not None:
            self._site_cache[origin] = policy
        return policy

    async def _load_site(self, origin: str) -> SitePolicy:
        f = self.fetcher
        robots_r, ai_r, tdm_r = await asyncio.gather(
            f.policy_file(origin + "/robots.txt"),
            f.policy_file(origin + "/ai.txt"),
            f.policy_file(origin + "/.well-known/tdmrep.json"),
        )
        warnings: list[str] = []
        if robots_r.status is not None and 200 <= robots_r.status < 300:
            robots = parse_robots(robots_r.body)
        elif robots_r.too_many_redirects:
            # RFC 9309 2.3.1.2: past five redirects the file MAY be taken as
            # unavailable, which (like a 4xx) allows crawling. Say so as it is:
            # no 404 was ever answered.
            robots = replace(
                robots_for_status(404),
                status=None,
                reason=(
                    f"robots.txt: more than {f.config.max_redirects} redirects, "
                    "treated as unavailable (RFC 9309): allow all"
                ),
            )
            warnings.append(
                f"robots.txt unavailable ({robots_r.error}): treated as unavailable, "
                "crawling allowed"
            )
        else:
            robots = robots_for_status(robots_r.status)
        if not robots_r.too_many_redirects and (robots_r.status is None or robots_r.status >= 500):
            warnings.append(
                f"robots.txt unavailable ({robots_r.error or robots_r.status}): "
                "crawling disallowed, usages unknown"
            )
        aitxt = parse_aitxt(ai_r.body) if ai_r.status == 200 else None
        tdm = parse_tdmrep_json(tdm_r.body) if tdm_r.status == 200 else None
        if tdm is not None and tdm.warnings:
            warnings.extend(f"tdmrep.json: {w}" for w in tdm.warnings)
        rsl: list[tuple[str, RslDocument]] = []
        for lic_url in robots.licenses[:5]:
            doc = await self._rsl(lic_url, warnings)
            if doc is not None:
                rsl.append((lic_url, doc))
        warnings.extend(f"robots.txt: {w}" for w in robots.warnings[:10])
        unreachable = "; ".join(
            f"{name}: {why}"
            for name, r in (("robots.txt", robots_r), ("ai.txt", ai_r), ("tdmrep.json", tdm_r))
            if (why := unread(r)) is not None
        )
        return SitePolicy(
            origin,
            robots,
            robots_r,
            aitxt,
            tdm,
            tuple(rsl),
            tuple(warnings),
            unreachable or None,
        )

    async def _rsl(self, url: str, warnings: list[str]) -> RslDocument | None:
        try:
            origin_of(url)
        except Exception:
            warnings.append(f"ignored RSL licence with a non-http URL: {url!r}")
            return None
        r = await self.fetcher.policy_file(url)
        if r.status != 200:
            warnings.append(f"RSL licence {url} unavailable ({r.error or r.status})")
            return None
        return parse_rsl(r.body)

    def _named(self, site: SitePolicy) -> tuple[str, ...]:
        """The AI-training tokens the site's robots.txt names (computed once per site).

        ``evidence_from_robots`` checks only named tokens; passing just those
        saves ~90 lookups per URL.
        """
        named = self._named_tokens.get(site.origin)
        if named is None:
            named = tuple(t for t in self._training if site.robots.names(t))
            self._named_tokens[site.origin] = named
        return named

    async def evaluate(self, url: str) -> UrlSignals:
        """Evaluate one URL; a bad URL becomes an error result, never an exception."""
        try:
            origin = origin_of(url)
        except Exception as exc:
            return UrlSignals(url, self.agent, False, (), (), error=str(exc))
        site = await self.site(origin)
        evidence: list[Evidence] = []
        warnings = list(site.warnings)
        licenses: list[dict[str, Any]] = []
        verdict = site.robots.check(self.agent, url)
        crawl = (
            {
                "source": "robots.txt",
                "detail": verdict.reason or site.robots.reason or "",
                "raw": verdict.rule.raw if verdict.rule is not None else "",
            },
        )
        evidence += evidence_from_robots(
            site.robots, url, training_tokens=self._named(site), agent=self.agent
        )
        if site.aitxt is not None:
            evidence += evidence_from_aitxt(site.aitxt, url)
        tdm_layers = [site.tdmrep.lookup(url)] if site.tdmrep is not None else []
        for rsl_url, doc in site.rsl:
            evidence += evidence_from_rsl(doc, url)
            licenses += _payment_json(doc, url, rsl_url)
        if self.web in (WebMode.HEAD, WebMode.FULL):
            page = await self.fetcher.get(
                url, method="HEAD" if self.web is WebMode.HEAD else "GET", max_bytes=MAX_PAGE_BYTES
            )
            if page.status is None:
                warnings.append(f"page unavailable: {page.error}")
            else:
                evidence += await self._page(page, tdm_layers, licenses, warnings)
        if tdm_layers:
            combined = combine(*tdm_layers)
            policy = None
            if combined.effective_policy:
                try:  # the URL is the site's (TDMRep's tdm-policy): it may be anything
                    origin_of(combined.effective_policy)
                except UserError:
                    warnings.append(
                        f"ignored TDMRep policy with an invalid URL: "
                        f"{combined.effective_policy[:200]!r}"
                    )
                else:
                    pr = await self.fetcher.policy_file(combined.effective_policy)
                    policy = parse_tdm_policy(pr.body) if pr.status == 200 else None
            evidence += evidence_from_tdmrep(combined, policy)
        return UrlSignals(
            url,
            self.agent,
            verdict.allowed,
            crawl,
            tuple(evidence),
            tuple(licenses),
            tuple(dict.fromkeys(warnings)),
            origin=origin,
            unreachable=site.unreachable,
        )

    async def _page(
        self,
        page: FetchResult,
        tdm_layers: list[Any],
        licenses: list[dict[str, Any]],
        warnings: list[str],
    ) -> list[Evidence]:
        headers = page.headers
        image = (page.header("content-type") or "").startswith("image/")
        out = evidence_from_robots_directives(x_robots_tag_from_headers(headers), image=image)
        usage_values = page.header_values("content-usage")
        if usage_values:
            out += evidence_from_content_usage(
                parse_content_usage_fields(usage_values), raw=", ".join(usage_values)
            )
        tdm_layers.append(tdmrep_from_headers(headers))
        rsl_links = list(rsl_links_from_headers(headers, base_url=page.final_url))
        out += evidence_from_pay_per_crawl(parse_pay_per_crawl(page.status, headers))
        if page.status == 402 and page.header("crawler-price"):
            licenses.append(
                {
                    "source": "http-402",
                    "url": page.final_url,
                    "payment": {"type": "crawl", "price": page.header("crawler-price")},
                }
            )
        ctype = page.header("content-type") or ""
        if page.body and ("html" in ctype or not ctype):
            html = parse_html_meta(page.body, base_url=page.final_url)
            out += evidence_from_robots_directives(html.robots, image=image)
            tdm_layers.append(tdmrep_from_html(html))
            rsl_links += list(html.rsl_links)
            warnings.extend(f"html: {w}" for w in html.warnings[:5])
        for link in dict.fromkeys(rsl_links):
            doc = await self._rsl(link, warnings)
            if doc is not None:
                out += evidence_from_rsl(doc, page.url)
                licenses += _payment_json(doc, page.url, link)
        return out

    async def evaluate_many(
        self,
        urls: Sequence[str],
        *,
        concurrency: int = 256,
        progress: Callable[[int], None] | None = None,
    ) -> list[UrlSignals]:
        """Evaluate many URLs concurrently; results come back in input order."""
        gate = asyncio.Semaphore(concurrency)
        done = 0

        async def one(u: str) -> UrlSignals:
            nonlocal done
            async with gate:
                result = await self.evaluate(u)
            done += 1
            if progress is not None:
                progress(done)
            return result

        return list(await asyncio.gather(*(one(u) for u in urls)))


@dataclass(frozen=True, slots=True)
class EvaluationRun:
    results: list[UrlSignals]
    requests_made: int
    origins: int = field(default=0)


def evaluate_urls(
    urls: Sequence[str],
    config: FetchConfig,
    *,
    web: WebMode = WebMode.FULL,
    progress: Callable[[int], None] | None = None,
) -> EvaluationRun:
    """Synchronous entry point: evaluate ``urls`` with a fresh fetcher."""

    async def go() -> EvaluationRun:
        async with Fetcher(config) as fetcher:
            ev = SignalEvaluator(fetcher, web=web)
            results = await ev.evaluate_many(urls, progress=progress)
            origins = len({urlsplit(u).netloc for u in urls})
            return EvaluationRun(results, fetcher.requests_made, origins)

    return asyncio.run(go())

"""The polite fetcher: bounded, identifiable, cached HTTP for policy files and page headers.

Rules it keeps, whoever calls it:
* an identifiable user agent (the crawler's product token plus Clearance's product string);
* at most ``max_redirects`` (5) redirects, each hop re-checked by the SSRF guard;
* policy files read up to 500 KiB (RFC 9309's minimum), the rest dropped and flagged;
* connect/read timeouts and an overall deadline per request, so a server that
  never answers costs a bounded time;
* at most ``per_host`` requests in flight per host;
* policy files cached per URL in memory (and optionally on disk) for 24 h, and
  concurrent requests for the same file share one fetch, so one robots.txt
  fetch serves every URL of its site.

Network failures never raise: they come back as a ``FetchResult`` with ``status``
None and an ``error``, which the signal evaluation records as evidence.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import math
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from clearance import __version__
from clearance.core.errors import AddressBlocked, UserError
from clearance.core.storage import Location
from clearance.core.validation import split_http_url
from clearance.fetch.ssrf import AddressPolicy, GuardedTransport, Resolver, system_resolver

_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")
PRODUCT = (
    f"Clearance/{__version__} (+https://github.com/clearance-project/clearance; rights clearance)"
)
MAX_POLICY_BYTES = 500 * 1024
DEFAULT_TTL = 24 * 3600.0


@dataclass(frozen=True, slots=True)
class FetchConfig:
    """How the fetcher behaves; built from settings by the service layer."""

    agent: str = "Clearance"
    allow_private: bool = False
    timeout: float = 10.0
    connect_timeout: float = 5.0
    deadline: float = 30.0
    max_redirects: int = 5
    max_policy_bytes: int = MAX_POLICY_BYTES
    per_host: int = 4
    max_connections: int = 200
    max_keepalive: int = 16
    """Idle connections kept open. Site files are read once per origin, so most
    connections are never reused, and a large idle pool makes every new origin
    slower (the pool is scanned on each request)."""
    cache_ttl: float = DEFAULT_TTL
    cache_dir: Path | str | None = None
    """A local directory or an object-store URI (``core.storage``) every node can reach."""
    extra_allowed_addresses: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if not _TOKEN.fullmatch(self.agent):
            raise UserError(
                f"--agent {self.agent[:80]!r} is not a robots.txt product token",
                hint="letters, digits, '_' and '-' only, at most 64",
            )
        for name in ("timeout", "connect_timeout", "deadline"):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0 < value <= 3600):
                raise UserError(f"{name} must be between 0 and 3600 seconds, not {value!r}")

    @property
    def user_agent(self) -> str:
        if self.agent.lower() == "clearance":
            return PRODUCT
        return f"{self.agent} (compatible; {PRODUCT})"


@dataclass(frozen=True, slots=True)
class FetchResult:
    """What one fetch produced. ``status`` is None when no HTTP answer came back."""

    url: str
    final_url: str
    status: int | None
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    truncated: bool = False
    error: str | None = None
    redirects: tuple[str, ...] = ()
    fetched_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    from_cache: bool = False
    blocked: bool = False
    too_many_redirects: bool = False

    def header(self, name: str) -> str | None:
        """The first value of a header (case-insensitive), or None."""
        key = name.lower()
        for k, v in self.headers:
            if k == key:
                return v
        return None

    def header_values(self, name: str) -> list[str]:
        key = name.lower()
        return [v for k, v in self.headers if k == key]

    def to_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "final_url": self.final_url,
            "status": self.status,
            "headers": [list(h) for h in self.headers],
            "truncated": self.truncated,
            "error": self.error,
            "redirects": list(self.redirects),
            "fetched_at": self.fetched_at.isoformat(),
            "blocked": self.blocked,
            "too_many_redirects": self.too_many_redirects,
        }

    @staticmethod
    def from_json(doc: dict[str, Any], body: bytes) -> FetchResult:
        return FetchResult(
            url=doc["url"],
            final_url=doc["final_url"],
            status=doc["status"],
            headers=tuple((str(k), str(v)) for k, v in doc["headers"]),
            body=body,
            truncated=bool(doc["truncated"]),
            error=doc["error"],
            redirects=tuple(doc["redirects"]),
            fetched_at=datetime.fromisoformat(doc["fetched_at"]),
            from_cache=True,
            blocked=bool(doc.get("blocked")),
            too_many_redirects=bool(doc.get("too_many_redirects")),
        )


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of an http(s) URL; raises ``UserError`` for anything else.

    The URL must also be one httpx will request (its IDNA 2008 host rules are
    stricter than ``urlsplit``), so a bad host fails here, as a user error,
    not later inside a fetch.
    """
    parts = split_http_url(url)
    try:
        httpx.URL(url.strip())
    except (httpx.InvalidURL, UnicodeError, ValueError) as exc:
        raise UserError(f"not a valid URL ({exc}): {url!r}") from None
    default = 80 if parts.scheme.lower() == "http" else 443
    port = parts.port
    host = parts.hostname
    assert host is not None  # split_http_url checked it
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme.lower()}://{host}" + (f":{port}" if port and port != default else "")


class _DiskCache:
    """One JSON file per URL, written atomically; expired entries are ignored.

    The directory may be an object-store URI (``core.storage.Location``), so
    every node of a cluster shares one site cache: an entry is one object,
    written whole by one PUT.
    """

    def __init__(self, root: Path | str, ttl: float) -> None:
        self.root = Location(root, what="the cache directory")
        self.ttl = ttl
        local = self.root.local
        if local is None:
            return
        try:
            local.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"cannot use {local} as the cache directory: {exc.strerror}") from None
        if not local.is_dir():
            raise UserError(f"cannot use {local} as the cache directory: not a directory")

    def _name(self, url: str) -> str:
        return hashlib.sha256(url.encode()).hexdigest() + ".json"

    def get(self, url: str) -> FetchResult | None:
        try:
            doc = json.loads(self.root.read_text(self._name(url)))
            result = FetchResult.from_json(doc["meta"], bytes.fromhex(doc["body"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if (datetime.now(UTC) - result.fetched_at).total_seconds() > self.ttl:
            return None
        return result

    def put(self, result: FetchResult) -> None:
        # a cache: a full disk or a vanished directory costs a refetch, not the run
        with contextlib.suppress(OSError):
            self.root.write_text(
                self._name(result.url),
                json.dumps(
                    {"format_version": 1, "meta": result.to_json(), "body": result.body.hex()}
                ),
            )


class Fetcher:
    """Async polite fetcher. Use as ``async with Fetcher(config) as f: ...``."""

    def __init__(
        self, config: FetchConfig = FetchConfig(), *, resolver: Resolver = system_resolver
    ) -> None:
        self.config = config
        policy = AddressPolicy(config.allow_private, config.extra_allowed_addresses)
        limits = httpx.Limits(
            max_connections=config.max_connections,
            max_keepalive_connections=min(config.max_keepalive, config.max_connections),
            keepalive_expiry=5.0,
        )
        self._client = httpx.AsyncClient(
            transport=GuardedTransport(policy, limits=limits, resolver=resolver),
            headers={"User-Agent": config.user_agent},
            timeout=httpx.Timeout(config.timeout, connect=config.connect_timeout),
            follow_redirects=False,
            trust_env=False,
        )
        self._host_slots: dict[str, asyncio.Semaphore] = {}
        self._memory: dict[str, tuple[float, FetchResult]] = {}
        self._inflight: dict[str, asyncio.Future[FetchResult]] = {}
        self._disk = _DiskCache(config.cache_dir, config.cache_ttl) if config.cache_dir else None
        self.requests_made = 0

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    def _slot(self, url: str) -> asyncio.Semaphore:
        host = urlsplit(url).netloc.lower()
        slot = self._host_slots.get(host)
        if slot is None:
            slot = self._host_slots[host] = asyncio.Semaphore(self.config.per_host)
        return slot

    async def _one(
        self, method: str, url: str, max_bytes: int
    ) -> tuple[httpx.Response, bytes, bool]:
        async with self._slot(url):
            self.requests_made += 1
            async with self._client.stream(method, url) as response:
                chunks: list[bytes] = []
                size = 0
                truncated = False
                if method != "HEAD":
                    async for chunk in response.aiter_raw():
                        chunks.append(chunk)
                        size += len(chunk)
                        if size > max_bytes:
                            truncated = True
                            break
                body = b"".join(chunks)[:max_bytes]
                if not truncated and response.headers.get("content-encoding"):
                    body = _decode_content(response, body)[:max_bytes]
                return response, body, truncated

    async def get(
        self, url: str, *, method: str = "GET", max_bytes: int | None = None
    ) -> FetchResult:
        """Fetch ``url`` following redirects; never raises for network failures."""
        origin_of(url)  # validates the URL
        limit = self.config.max_policy_bytes if max_bytes is None else max_bytes
        try:
            return await asyncio.wait_for(self._follow(url, method, limit), self.config.deadline)
        except TimeoutError:
            return FetchResult(
                url, url, None, error=f"no complete answer within {self.config.deadline:g}s"
            )

    async def _follow(self, url: str, method: str, limit: int) -> FetchResult:
        current = url
        hops: list[str] = []
        for _ in range(self.config.max_redirects + 1):
            try:
                response, body, truncated = await self._one(method, current, limit)
            except AddressBlocked as exc:
                return FetchResult(
                    url, current, None, error=str(exc), redirects=tuple(hops), blocked=True
                )
            except httpx.TimeoutException as exc:
                return FetchResult(
                    url,
                    current,
                    None,
                    error=f"timeout: {type(exc).__name__}",
                    redirects=tuple(hops),
                )
            except (httpx.HTTPError, httpx.InvalidURL, UnicodeError, ValueError, OSError) as exc:
                # UnicodeError: httpx decodes a server's Location with idna, which raises
                # its own errors for hostile hosts (``http://xn--a/``)
                return FetchResult(
                    url, current, None, error=f"{type(exc).__name__}: {exc}", redirects=tuple(hops)
                )
            location = response.headers.get("location")
            if response.status_code in (301, 302, 303, 307, 308) and location:
                try:  # the Location header is the server's: any string at all
                    nxt = urljoin(current, location)
                    scheme = urlsplit(nxt).scheme
                except ValueError:
                    nxt, scheme = location, ""
                if scheme not in ("http", "https"):
                    return FetchResult(
                        url,
                        current,
                        None,
                        error=f"redirect to non-http URL {nxt[:200]!r}",
                        redirects=tuple(hops),
                    )
                try:
                    origin_of(nxt)
                except UserError as exc:
                    return FetchResult(
                        url,
                        current,
                        None,
                        error=f"redirect to an invalid URL: {exc}",
                        redirects=tuple(hops),
                    )
                hops.append(nxt)
                current = nxt
                continue
            headers = tuple((k.lower(), v) for k, v in response.headers.multi_items())
            return FetchResult(
                url, current, response.status_code, headers, body, truncated, redirects=tuple(hops)
            )
        return FetchResult(
            url,
            current,
            None,
            error=f"more than {self.config.max_redirects} redirects",
            redirects=tuple(hops),
            too_many_redirects=True,
        )

    async def policy_file(self, url: str) -> FetchResult:
        """Fetch a site policy file (robots.txt, ai.txt, tdmrep.json, RSL) through the caches.

        Concurrent calls for the same URL share one request.
        """
        now = time.monotonic()
        cached = self._memory.get(url)
        if cached is not None and now - cached[0] < self.config.cache_ttl:
            return cached[1]
        pending = self._inflight.get(url)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[FetchResult] = asyncio.get_running_loop().create_future()
        self._inflight[url] = future
        try:
            result = self._disk.get(url) if self._disk else None
            if result is None:
                result = await self.get(url)
                if self._disk is not None and not result.blocked:
                    # a refused address is this run's rule (--allow-private), not the site's
                    self._disk.put(result)
            self._memory[url] = (time.monotonic(), result)
            future.set_result(result)
            return result
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved; waiters re-raise it
            raise
        finally:
            del self._inflight[url]

    async def get_many(self, urls: Sequence[str], *, method: str = "GET") -> list[FetchResult]:
        """Fetch many URLs concurrently (bounded per host), results in input order."""
        return list(await asyncio.gather(*(self.get(u, method=method) for u in urls)))


def _decode_content(response: httpx.Response, raw: bytes) -> bytes:
    """Undo Content-Encoding for a body we read raw (gzip, deflate, br where supported)."""
    import zlib

    encoding = response.headers.get("content-encoding", "").lower().strip()
    try:
        if encoding in ("gzip", "x-gzip"):
            return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(raw, MAX_POLICY_BYTES * 4)
        if encoding == "deflate":
            return zlib.decompressobj().decompress(raw, MAX_POLICY_BYTES * 4)
    except zlib.error:
        return raw
    return raw

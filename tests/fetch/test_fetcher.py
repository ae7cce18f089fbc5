"""The polite fetcher against local servers: limits, redirects, caching, timeouts, SSRF guard."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from clearance.core import AddressBlocked, UserError
from clearance.fetch import AddressPolicy, FetchConfig, Fetcher, check_addresses, origin_of
from tests.localsite import LocalSite, serve


@pytest.fixture
def site() -> Iterator[LocalSite]:
    with serve(LocalSite()) as s:
        yield s


def fetcher(**kw: object) -> Fetcher:
    cfg = FetchConfig(allow_private=True, timeout=1.0, connect_timeout=1.0, deadline=3.0, **kw)  # type: ignore[arg-type]
    return Fetcher(cfg)


def run(coro: object) -> object:
    return asyncio.run(coro)  # type: ignore[arg-type]


def test_get_reads_status_headers_and_identifies_itself(site: LocalSite) -> None:
    site.routes["/robots.txt"] = (200, {"X-Robots-Tag": "noai"}, b"User-agent: *\nDisallow: /x\n")

    async def go() -> None:
        async with fetcher(agent="ExampleBot") as f:
            r = await f.get(site.url("/robots.txt"))
            assert r.status == 200 and r.body.startswith(b"User-agent")
            assert r.header("x-robots-tag") == "noai"

    run(go())
    ua = site.requests[0][2]
    assert ua.startswith("ExampleBot (compatible; Clearance/")


def test_policy_files_are_capped_at_500_kib(site: LocalSite) -> None:
    site.routes["/robots.txt"] = (200, {}, b"# filler\n" * (10 * 1024 * 1024 // 9))

    async def go() -> None:
        async with fetcher() as f:
            r = await f.get(site.url("/robots.txt"))
            assert r.truncated and len(r.body) == 500 * 1024

    run(go())


def test_redirects_followed_up_to_five_then_flagged(site: LocalSite) -> None:
    for i in range(7):
        site.routes[f"/r{i}"] = (302, {"Location": f"/r{i + 1}"}, b"")
    site.routes["/r7"] = (200, {}, b"done")
    site.routes["/loop"] = (301, {"Location": "/loop"}, b"")

    async def go() -> None:
        async with fetcher() as f:
            ok = await f.get(site.url("/r2"))
            assert ok.status == 200 and len(ok.redirects) == 5 and ok.body == b"done"
            too_many = await f.get(site.url("/r0"))
            assert too_many.status is None and too_many.too_many_redirects
            loop = await f.get(site.url("/loop"))
            assert loop.too_many_redirects and "5 redirects" in (loop.error or "")

    run(go())


def test_server_that_never_answers_times_out(site: LocalSite) -> None:
    site.hang.add("/robots.txt")

    async def go() -> None:
        async with fetcher() as f:
            r = await f.get(site.url("/robots.txt"))
            assert r.status is None and "timeout" in (r.error or "")

    run(go())


def test_unreachable_port_is_an_error_result_not_an_exception() -> None:
    async def go() -> None:
        async with fetcher() as f:
            r = await f.get("http://127.0.0.1:9/robots.txt")
            assert r.status is None and r.error

    run(go())


def test_policy_file_fetched_once_for_many_concurrent_callers(
    site: LocalSite, tmp_path: Path
) -> None:
    site.routes["/robots.txt"] = (200, {}, b"User-agent: *\nAllow: /\n")

    async def go() -> None:
        async with fetcher(cache_dir=tmp_path / "cache") as f:
            results = await asyncio.gather(
                *(f.policy_file(site.url("/robots.txt")) for _ in range(200))
            )
            assert {r.status for r in results} == {200}
            assert f.requests_made == 1
        async with fetcher(cache_dir=tmp_path / "cache") as f:  # a new process: disk cache
            again = await f.policy_file(site.url("/robots.txt"))
            assert (
                again.from_cache and again.body.startswith(b"User-agent") and f.requests_made == 0
            )

    run(go())
    assert site.count("/robots.txt") == 1


def test_ssrf_guard_refuses_loopback_by_default(site: LocalSite) -> None:
    site.routes["/secret"] = (200, {}, b"internal")

    async def go() -> None:
        async with Fetcher(FetchConfig(timeout=1.0)) as f:
            r = await f.get(site.url("/secret"))
            assert r.blocked and r.status is None and "not a public address" in (r.error or "")
            r = await f.get(f"http://localhost:{site.port}/secret")
            assert r.blocked

    run(go())
    assert site.count("/secret") == 0


def test_ssrf_guard_applies_on_every_redirect() -> None:
    """127.0.0.2 stands in for a public host that redirects to a private one: refused."""
    with (
        serve(LocalSite(host="127.0.0.1")) as private,
        serve(LocalSite(host="127.0.0.2")) as public,
    ):
        private.routes["/admin"] = (200, {}, b"internal")
        public.routes["/page"] = (302, {"Location": private.url("/admin")}, b"")

        async def go() -> None:
            cfg = FetchConfig(timeout=1.0, extra_allowed_addresses=frozenset({"127.0.0.2"}))
            async with Fetcher(cfg) as f:
                r = await f.get(public.url("/page"))
                assert r.blocked and r.redirects == (private.url("/admin"),)

        run(go())
        assert public.count("/page") == 1 and private.count("/admin") == 0


def test_ssrf_guard_checks_resolved_addresses_not_names() -> None:
    """A public-looking name that resolves to a private address is refused at connect time."""

    async def rebinding(host: str, port: int) -> list[str]:
        return ["10.0.0.7"]

    async def go() -> None:
        async with Fetcher(FetchConfig(timeout=1.0), resolver=rebinding) as f:
            r = await f.get("http://public.example.com/robots.txt")
            assert r.blocked and "10.0.0.7" in (r.error or "")

    run(go())


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "::1",
        "fe80::1",
        "fc00::1",
        "0.0.0.0",
        "::ffff:127.0.0.1",
        "100.64.0.1",
        "224.0.0.1",
        # IPv6 addresses that carry to a private IPv4 one (issue #11)
        "64:ff9b::7f00:1",  # NAT64 (RFC 6052) of 127.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254, the cloud metadata service
        "64:ff9b:1::808:808",  # local-use NAT64 (RFC 8215): translated to anything
        "::127.0.0.1",  # IPv4-compatible
        "::a00:1",  # IPv4-compatible 10.0.0.1
        "2002:7f00:1::1",  # 6to4 of 127.0.0.1
        "2002:a9fe:a9fe::",  # 6to4 of 169.254.169.254
        "2001::1",  # Teredo
    ],
)
def test_non_public_addresses_are_blocked(address: str) -> None:
    with pytest.raises(AddressBlocked):
        check_addresses("h", [address], AddressPolicy())
    assert check_addresses("h", [address], AddressPolicy(allow_private=True)) == address


def test_public_addresses_pass_and_mixed_answers_are_refused() -> None:
    assert check_addresses("h", ["93.184.216.34"], AddressPolicy()) == "93.184.216.34"
    for wrapped in ("64:ff9b::5db8:d822", "2002:5db8:d822::1", "::ffff:93.184.216.34"):
        assert check_addresses("h", [wrapped], AddressPolicy()) == wrapped
    with pytest.raises(AddressBlocked):
        check_addresses("h", ["93.184.216.34", "127.0.0.1"], AddressPolicy())


@pytest.mark.parametrize(
    "url",
    [
        "ftp://x/y",
        "not a url",
        "http://",
        "http://h:99999/",
        "https://[::1",  # urlsplit's ValueError (issue #11)
        "https://x.example:99999/",
        "https://☃.net/",  # IDNA 2008 refuses it (httpx would, later)
        "https://ex\u2100ample.com/",  # NFKC-normalises into the host's syntax
        "http://a\x00b.example/",
    ],
)
def test_bad_urls_are_user_errors(url: str) -> None:
    with pytest.raises(UserError):
        origin_of(url)


def test_a_redirect_to_an_unusable_url_is_an_error_result(site: LocalSite) -> None:
    site.routes["/bad-host"] = (302, {"Location": "https://[::1/x"}, b"")
    site.routes["/bad-idna"] = (302, {"Location": "http://xn--a/"}, b"")

    async def go() -> None:
        async with fetcher() as f:
            for path in ("/bad-host", "/bad-idna"):
                r = await f.get(site.url(path))
                assert r.status is None and r.error, r  # a result, not an exception

    run(go())

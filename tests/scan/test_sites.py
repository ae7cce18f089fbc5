"""The shared site cache (``--site-cache``) and the ``clearance sites fetch`` pre-pass."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from clearance.cli import main
from clearance.scan import scan
from clearance.scan import web as scan_web
from clearance.scan.sites import fetch_sites
from tests.localsite import LocalSite, serve
from tests.scan.conftest import decisions


@pytest.fixture
def sites() -> Iterator[list[LocalSite]]:
    with serve(LocalSite()) as a, serve(LocalSite()) as b:
        a.routes["/robots.txt"] = (200, {}, b"User-agent: GPTBot\nDisallow: /\n")
        b.routes["/robots.txt"] = (503, {}, b"")  # unreachable: crawling disallowed
        yield [a, b]


def _table(path: Path, sites: list[LocalSite]) -> Path:
    urls = [s.url(f"/img/{i}.jpg") for i in range(5) for s in sites]
    pq.write_table(pa.table({"URL": urls, "TEXT": ["a caption"] * len(urls)}), path)
    return path


def _requests(sites: list[LocalSite]) -> int:
    return sum(len(s.requests) for s in sites)


def test_second_scan_makes_no_requests(
    tmp_path: Path, registry: str, sites: list[LocalSite]
) -> None:
    table = _table(tmp_path / "t.parquet", sites)
    cache = tmp_path / "sites"
    common = {"registry": registry, "allow_private": True, "workers": 1, "site_cache": str(cache)}
    first = scan(table, tmp_path / "one", **common)
    made = _requests(sites)
    assert made >= 6  # robots.txt, ai.txt, tdmrep.json of two origins
    scan_web._caches.clear()  # a new process: only the directory is shared
    second = scan(table, tmp_path / "two", **common)
    assert _requests(sites) == made
    assert decisions(tmp_path / "one") == {k: {**v} for k, v in decisions(tmp_path / "two").items()}
    assert first.report["unreachable"]["items"] == second.report["unreachable"]["items"] == 5


def test_sites_fetch_then_scan(
    tmp_path: Path, registry: str, sites: list[LocalSite], capsys: pytest.CaptureFixture[str]
) -> None:
    table = _table(tmp_path / "t.parquet", sites)
    cache = tmp_path / "sites"
    result = fetch_sites(table, cache, allow_private=True)
    assert (result.urls, result.origins, result.unreachable) == (10, 2, 1)
    assert result.top_unreachable[0][0] == sites[1].origin
    assert "HTTP 503" in result.top_unreachable[0][1]
    made = _requests(sites)
    assert all("Clearance/" in ua for s in sites for _, _, ua in s.requests)  # declared agent
    scan_web._caches.clear()
    again = fetch_sites(table, cache, allow_private=True)  # resumable: nothing fresh refetched
    assert again.requests == 0 and _requests(sites) == made
    scan_web._caches.clear()
    scan(table, tmp_path / "out", registry=registry, allow_private=True, workers=1,
         site_cache=str(cache))  # fmt: skip
    assert _requests(sites) == made
    code = main(["sites", "fetch", str(table), "--site-cache", str(cache), "--allow-private",
                 "--json"])  # fmt: skip
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["origins"] == 2 and doc["requests"] == 0


def test_refused_addresses_are_not_cached(tmp_path: Path, sites: list[LocalSite]) -> None:
    table = _table(tmp_path / "t.parquet", sites)
    cache = tmp_path / "sites"
    refused = fetch_sites(table, cache)  # no --allow-private: loopback refused, not asked
    assert refused.unreachable == 2 and _requests(sites) == 0
    scan_web._caches.clear()
    allowed = fetch_sites(table, cache, allow_private=True)
    assert allowed.requests > 0 and allowed.unreachable == 1

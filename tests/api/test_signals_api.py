"""``GET /v1/signals?url=``: the evaluation ``clearance signals`` makes, against a loopback
site the test starts, and the service's ``allow_private`` setting honoured."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from clearance.api import create_app
from clearance.cli import main
from clearance.config import Settings
from clearance.core.errors import UserError
from clearance.registry import create_key, init_store
from tests.localsite import LocalSite, serve


@pytest.fixture
def site() -> Iterator[LocalSite]:
    with serve(LocalSite()) as s:
        s.routes.update(
            {
                "/robots.txt": (
                    200,
                    {"Content-Type": "text/plain"},
                    b"User-agent: *\nAllow: /\nContent-Usage: /notes/ train-ai=n, search=y\n",
                ),
                "/notes/a.html": (
                    200,
                    {"Content-Type": "text/html", "tdm-reservation": "1"},
                    b"<html><head></head></html>",
                ),
            }
        )
        yield s


def _client(tmp_path: Path, *, allow_private: bool) -> TestClient:
    registry = str(tmp_path / "registry.db")
    init_store(registry).close()
    return TestClient(create_app(Settings(registry=registry, allow_private=allow_private)))


def test_signals_answer_as_the_cli_does(
    site: LocalSite, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = site.url("/notes/a.html")
    with _client(tmp_path, allow_private=True) as client:
        r = client.get("/v1/signals", params={"url": url})
        assert r.status_code == 200, r.text
        doc = r.json()
        assert doc["usages"]["train-ai"]["permission"] == "deny"
        assert doc["usages"]["tdm"]["permission"] == "deny"  # the page's TDMRep header
        assert doc["crawl"]["allowed"] is True
        assert main(["signals", url, "--allow-private", "--json"]) == 0
        cli = json.loads(capsys.readouterr().out)[0]
        assert {u: v["permission"] for u, v in doc["usages"].items()} == {
            u: v["permission"] for u, v in cli["usages"].items()
        }
        origin = client.get("/v1/signals", params={"url": url, "web": "origin"}).json()
        assert origin["usages"]["train-ai"]["permission"] == "deny"
        # bad input is a 400 with the error shape, never a 500
        for params in (
            {"url": "ftp://x.example/a"},
            {"url": "not a url"},
            {"url": url, "web": "sideways"},
            {"url": url, "agent": "bad agent!"},
            {},
        ):
            r = client.get("/v1/signals", params=params)
            assert r.status_code == 400, (params, r.text)
            assert set(r.json()) == {"error", "type"}


def test_a_private_address_is_refused_unless_the_service_allows_it(
    site: LocalSite, tmp_path: Path
) -> None:
    with _client(tmp_path, allow_private=False) as client:
        for url in (site.url("/notes/a.html"), "http://localhost:9/", "http://[::1]:9/"):
            r = client.get("/v1/signals", params={"url": url})
            assert r.status_code == 403, (url, r.text)
            body = r.json()
            assert body["type"] == "AddressBlocked" and "not a public address" in body["error"]
            assert "CLEARANCE_ALLOW_PRIVATE" in body["error"]
    assert site.requests == []  # refused before anything was fetched


def test_a_key_on_signals_is_checked(site: LocalSite, tmp_path: Path) -> None:
    registry = str(tmp_path / "registry.db")
    with init_store(registry) as store:
        token = create_key(store, "GenCo", "licensee")[1]
    app = create_app(Settings(registry=registry, allow_private=True))
    with TestClient(app) as client:
        url = site.url("/notes/a.html")
        ok = client.get(
            "/v1/signals", params={"url": url}, headers={"Authorization": f"Bearer {token}"}
        )
        assert ok.status_code == 200
        bad = client.get(
            "/v1/signals", params={"url": url}, headers={"Authorization": "Bearer clr_nope"}
        )
        assert bad.status_code == 401 and bad.json()["type"] == "Unauthorized"


def test_allow_private_reads_from_the_environment() -> None:
    assert Settings.from_env({"CLEARANCE_ALLOW_PRIVATE": "true"}).allow_private is True
    assert Settings.from_env({"CLEARANCE_ALLOW_PRIVATE": "0"}).allow_private is False
    assert Settings.from_env(Settings(allow_private=True).environment()).allow_private is True
    with pytest.raises(UserError, match="true or false"):
        Settings.from_env({"CLEARANCE_ALLOW_PRIVATE": "maybe"})

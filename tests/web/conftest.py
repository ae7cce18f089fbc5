"""The web app's fixtures: a registry, the served site (API plus web) and signed-in clients."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from clearance.cli.webapp import create_site
from clearance.config import Settings
from clearance.registry import init_store
from tests.conftest import PG_ADMIN

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class Site:
    settings: Settings
    datasets: Path
    client: TestClient


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found is not None, "the page has no form token"
    return found.group(1)


def new_client(site: Site) -> TestClient:
    return TestClient(site.client.app, follow_redirects=False)


def sign_up(client: TestClient, email: str, name: str, role: str) -> None:
    token = csrf_of(client.get("/signup").text)
    answer = client.post(
        "/signup",
        data={
            "csrf": token,
            "email": email,
            "name": name,
            "role": role,
            "password": "a long passphrase",
        },
    )
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == f"/{role}"


def form_token(client: TestClient, path: str) -> str:
    return csrf_of(client.get(path).text)


def wait_for_scan(client: TestClient, job: int, timeout: float = 60) -> str:
    """Poll the scan's progress fragment (as htmx does) until it has finished."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        html = client.get(f"/developer/scans/{job}/progress").text
        if "hx-get" not in html:
            return html
        time.sleep(0.1)
    raise AssertionError(f"scan {job} did not finish")


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    """A served site on a fresh registry (each backend), with an operator's datasets folder."""
    yield from served_site(request.param, tmp_path_factory)


def served_site(
    backend: str, tmp_path_factory: pytest.TempPathFactory, **settings: object
) -> Iterator[Site]:
    """The ``site`` fixture's body: ``settings`` adds to the site's ``Settings``."""
    root = tmp_path_factory.mktemp("web")
    if backend == "sqlite":
        registry = str(root / "registry.db")
        yield from _site(root, registry, settings)
        return
    name = f"clearance_test_web_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield from _site(root, PG_ADMIN.rpartition("/")[0] + "/" + name, settings)
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _site(root: Path, registry: str, extra: dict[str, object]) -> Iterator[Site]:
    init_store(registry).close()
    datasets = root / "datasets"
    datasets.mkdir()
    settings = Settings(
        registry=registry, web_datasets=str(datasets), web_scans=str(root / "scans"), **extra
    )  # type: ignore[arg-type]
    app = create_site(settings)
    with TestClient(app, follow_redirects=False) as client:
        yield Site(settings, datasets, client)

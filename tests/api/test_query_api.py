"""The bulk query (``/v1/query/urls``, ``/v1/query/hashes``): Spawning's shape, answers equal
to the per-item matching core's, the batch limit, live updates and the asker's licences."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from clearance.api import create_app
from clearance.config import Settings
from clearance.core import Permission, Price, Usage
from clearance.core.policy import Mode
from clearance.fingerprint import image_hash
from clearance.matching import MatchedWork, Query, decide_item, match, matched_works
from clearance.matching.bulk import MAX_ITEMS
from clearance.registry import (
    TermsChange,
    add_works,
    create_key,
    grant_agreement,
    init_store,
    open_store,
)
from clearance.registry.store import SqlStore
from tests.conftest import registry_copy, registry_template
from tests.samples import write_image

DENY_TRAIN = TermsChange({Usage.TRAIN_AI: Permission.DENY})
LICENSE_TRAIN = TermsChange({Usage.TRAIN_AI: Permission.LICENSE}, price=Price.parse("2", "EUR"))

URLS = [
    "https://zed.example/a.jpg",
    "HTTPS://ZED.example:443/a.jpg#frag",
    "https://zed.example/b.jpg",
    "https://pre.example/art/one.png",
    "https://pre.example/other.png",
    "https://img.dom.example/x?y=1",
    "http://dom.example",
    "https://example.org/",
    "ftp://zed.example/a.jpg",
    "not a url",
]


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def prepared(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path, str]]:
    """Once per backend: the claims every test queries, GenCo's agreement and key."""
    root = tmp_path_factory.mktemp(f"query-{request.param}")
    art = write_image(root / "art.png", 51, "PNG")
    with registry_template(request.param, root) as template:
        with init_store(template) as store:
            add_works(store, [str(art)], owner="Ann", terms=DENY_TRAIN)
            add_works(store, ["https://zed.example/a.jpg"], owner="Zed", terms=DENY_TRAIN)
            add_works(store, ["https://pre.example/art/*"], owner="Pre", terms=LICENSE_TRAIN)
            add_works(store, ["domain:dom.example"], owner="Dom", terms=DENY_TRAIN)
            grant_agreement(store, "GenCo", "Pre", usages=["train-ai"])
            token = create_key(store, "GenCo", "licensee")[1]
        yield template, art, token


@pytest.fixture
def registry_location(prepared: tuple[str, Path, str], tmp_path: Path) -> Iterator[str]:
    """Here: a copy of the prepared registry (a test adds claims to it)."""
    with registry_copy(prepared[0], tmp_path) as location:
        yield location


@pytest.fixture
def setup(
    prepared: tuple[str, Path, str], registry_location: str
) -> Iterator[tuple[TestClient, str, Path]]:
    with TestClient(create_app(Settings(registry=registry_location))) as client:
        yield client, prepared[2], prepared[1]


def _per_item(store: SqlStore, url: str, licensee: str | None = None) -> tuple[bool, dict]:
    """The per-item path: the matching cascade on one URL, then ``decide_item``."""
    from clearance.matching import RegistryView

    view = RegistryView.from_store(store)
    result = match(view.index, Query(url=url), view.work)
    works: list[MatchedWork] = matched_works(result.matches, view.work)
    decided = decide_item(
        works,
        (),
        purpose=Usage.TRAIN_AI,
        mode=Mode.OPT_OUT,
        agreements=view.licensed_to(licensee),
        at=datetime.now(UTC),
    )
    usages = {u.value: p.value for u, p in decided.permissions.items()}
    return not decided.decision.allowed, usages


def test_urls_in_spawnings_shape_agree_with_the_per_item_path(
    setup: tuple[TestClient, str, Path], registry_location: str
) -> None:
    client, token, _ = setup
    body = "\n".join(["", *URLS, "  "]) + "\n"
    r = client.post("/v1/query/urls", content=body, headers={"content-type": "text/plain"})
    assert r.status_code == 200, r.text
    rows = r.json()["urls"]
    assert [row["url"] for row in rows] == URLS  # blank lines dropped, order kept
    got = {row["url"]: (row["optOut"], row["usages"]) for row in rows}
    with open_store(registry_location) as store:
        for url in URLS[:8]:
            assert got[url] == _per_item(store, url), url
    opted = {url for url, (out, _) in got.items() if out}
    assert opted == {URLS[0], URLS[1], URLS[3], URLS[5], URLS[6]}
    assert got[URLS[3]][1]["train-ai"] == "license" and got[URLS[7]][1]["train-ai"] == "unknown"
    for bad in rows[8:]:
        assert bad["optOut"] is False and bad["error"]
    # with GenCo's key, its licence for Pre's prefix counts
    r = client.post("/v1/query/urls", content=URLS[3], headers={"Authorization": f"Bearer {token}"})
    (row,) = r.json()["urls"]
    with open_store(registry_location) as store:
        assert (row["optOut"], row["usages"]) == _per_item(store, URLS[3], "GenCo")
    assert row["optOut"] is False
    # opt-in mode: what nobody reserved is not allowed either
    r = client.post("/v1/query/urls", params={"mode": "opt-in"}, content=URLS[7])
    assert r.json()["urls"][0]["optOut"] is True


def test_hashes_sha256_and_pdq(setup: tuple[TestClient, str, Path]) -> None:
    client, _, art = setup
    digest = hashlib.sha256(art.read_bytes()).hexdigest()
    pdq = image_hash(art).pdq.hex()
    far = bytes(32).hex()
    body = "\n".join(
        [digest, f"sha256:{digest.upper()}", f"pdq:{pdq}", f"pdq:{far}", "zz", "a" * 64]
    )
    r = client.post("/v1/query/hashes", content=body)
    assert r.status_code == 200, r.text
    rows = r.json()["hashes"]
    assert [row["optOut"] for row in rows] == [True, True, True, False, False, False]
    assert rows[0]["works"] == rows[2]["works"] and len(rows[0]["works"]) == 1
    assert rows[0]["usages"]["train-ai"] == "deny" and "error" in rows[4]
    assert rows[5]["usages"]["train-ai"] == "unknown" and rows[5]["works"] == []


def test_batch_limit_and_bad_input(setup: tuple[TestClient, str, Path]) -> None:
    client, _, _ = setup
    body = "\n".join(f"https://x.example/{i}" for i in range(MAX_ITEMS))
    r = client.post("/v1/query/urls", content=body)
    assert r.status_code == 200 and len(r.json()["urls"]) == MAX_ITEMS
    r = client.post("/v1/query/urls", content=body + "\nhttps://x.example/one-more")
    assert r.status_code == 413
    assert "10001 URLs in one query, over the limit of 10000" in r.json()["error"]
    assert (
        client.post("/v1/query/hashes", content="\n".join(["a" * 64] * 10_001)).status_code == 413
    )
    assert client.post("/v1/query/urls", content=b"\xff\xfe").status_code == 400
    assert client.post("/v1/query/urls", params={"purpose": "nope"}, content="x").status_code == 400
    assert client.post("/v1/query/urls", params={"mode": "nope"}, content="x").status_code == 400
    r = client.post("/v1/query/urls", content="")
    assert r.status_code == 200 and r.json() == {"urls": []}


def test_a_new_claim_is_answered_by_the_next_query(
    setup: tuple[TestClient, str, Path], registry_location: str
) -> None:
    client, _, _ = setup
    url = "https://late.example/new.jpg"
    assert client.post("/v1/query/urls", content=url).json()["urls"][0]["optOut"] is False
    with open_store(registry_location) as store:
        add_works(store, ["domain:late.example"], owner="Late", terms=DENY_TRAIN)
    assert client.post("/v1/query/urls", content=url).json()["urls"][0]["optOut"] is True

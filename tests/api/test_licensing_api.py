"""The licensing endpoints: offers (public), requests (their parties; only the owner decides),
runs and notices (the licensee's), royalties (the owner's), on SQLite and PostgreSQL."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from clearance.api import create_app
from clearance.cli import main
from clearance.config import Settings
from clearance.registry import create_key, open_store
from tests.conftest import registry_copy, registry_template
from tests.samples import write_image

Served = tuple[TestClient, dict[str, str], dict[str, int]]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass(frozen=True)
class Prepared:
    backend: str
    template: str
    root: Path
    keys: dict[str, str]


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def prepared(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Prepared]:
    """Once per backend: PubCo's and ArtCo's priced works, a scan needing both, GenCo's two
    requests and the keys. Each test gets a copy (``served``): the scan and the argon2
    hashes are the slow part, and they are the same for every test."""
    root = tmp_path_factory.mktemp(f"licensing-api-{request.param}")
    with registry_template(request.param, root) as template:
        yield Prepared(request.param, template, root, _prepare(template, root))


def _prepare(registry: str, root: Path) -> dict[str, str]:
    reg = ("--registry", registry)
    art, data = root / "art", root / "data"
    art.mkdir()
    data.mkdir()
    for name, seed in (("a.jpg", 1), ("b.jpg", 2)):
        write_image(art / name, seed)
    write_image(root / "c.jpg", 3)
    for copy, source in (("a1.jpg", art / "a.jpg"), ("c1.jpg", root / "c.jpg")):
        shutil.copy(source, data / copy)
    shutil.copy(art / "a.jpg", root / "output.jpg")
    prices = "train-genai=0.02/item,output=0.01/output"
    steps = [
        ["init"],
        ["works", "add", str(art), "--owner", "PubCo", "--license", prices, "--currency", "EUR"],
        [
            "works",
            "add",
            str(root / "c.jpg"),
            "--owner",
            "ArtCo",
            "--license",
            "train-genai=0.05EUR/item",
        ],
        ["scan", str(data), "--out", str(root / "s1"), "--workers", "1"],
        [
            "license",
            "request",
            "--scan",
            str(root / "s1"),
            "--licensee",
            "GenCo",
            "--usage",
            "output",
        ],
    ]
    for step in steps:
        assert main([*step, *reg]) == 0, step
    with open_store(registry) as store:
        return {
            "pubco": create_key(store, "PubCo", "owner")[1],
            "artco": create_key(store, "ArtCo", "owner")[1],
            "genco": create_key(store, "GenCo", "licensee")[1],
            "other": create_key(store, "OtherAI", "licensee")[1],
            "admin": create_key(store, "Operator", "admin")[1],
        }


@pytest.fixture
def registry(prepared: Prepared, tmp_path: Path) -> Iterator[str]:
    """A copy of the prepared registry for one test (tests accept and reject requests)."""
    with registry_copy(prepared.template, tmp_path) as location:
        yield location


@pytest.fixture
def served(prepared: Prepared, registry: str) -> Iterator[Served]:
    keys = prepared.keys
    app = create_app(Settings(registry=registry, api_key_burst=1000))
    with TestClient(app) as client:
        listed = client.get("/v1/licenses/requests", headers=bearer(keys["admin"])).json()
        ids = {r["owner"]: r["id"] for r in listed["requests"]}
        yield client, keys, ids


def _error(r: Any, status: int, kind: str | None = None) -> dict[str, str]:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error", "type"} and body["error"]
    if kind is not None:
        assert body["type"] == kind, body
    return dict(body)


def test_offers_are_public_and_filter_by_owner_and_usage(served: Served) -> None:
    client, _, _ = served
    everything = client.get("/v1/offers").json()
    assert everything["count"] == len(everything["offers"]) == 5
    pub = client.get("/v1/offers", params={"owner": "PubCo", "usage": "output"}).json()
    assert {(o["owner"], o["usage"], o["price"]["per"]) for o in pub["offers"]} == {
        ("PubCo", "output", "output")
    }
    assert pub["count"] == 2  # both of PubCo's works
    _error(client.get("/v1/offers", params={"usage": "flying"}), 400)
    _error(client.get("/v1/offers", params={"owner": "Nobody"}), 404, "NotFound")


def test_requests_are_seen_by_their_parties_only(served: Served) -> None:
    client, keys, ids = served
    _error(client.get("/v1/licenses/requests"), 401, "Unauthorized")
    seen = {
        who: [
            (r["owner"], r["licensee"])
            for r in client.get("/v1/licenses/requests", headers=bearer(keys[who])).json()[
                "requests"
            ]
        ]
        for who in ("pubco", "artco", "genco", "other", "admin")
    }
    assert seen["pubco"] == [("PubCo", "GenCo")] and seen["artco"] == [("ArtCo", "GenCo")]
    assert (
        sorted(seen["genco"])
        == sorted(seen["admin"])
        == [
            ("ArtCo", "GenCo"),
            ("PubCo", "GenCo"),
        ]
    )
    assert seen["other"] == []
    r = client.get(
        "/v1/licenses/requests", params={"status": "accepted"}, headers=bearer(keys["genco"])
    )
    assert r.json()["count"] == 0
    _error(
        client.get("/v1/licenses/requests", params={"status": "x"}, headers=bearer(keys["genco"])),
        400,
    )
    assert set(ids) == {"PubCo", "ArtCo"}


def test_only_the_owner_decides_and_only_once(served: Served, registry: str) -> None:
    client, keys, ids = served
    pub, art = ids["PubCo"], ids["ArtCo"]
    for verb in ("accept", "reject"):
        path = f"/v1/licenses/requests/{pub}/{verb}"
        _error(client.post(path), 401, "Unauthorized")
        for wrong in ("artco", "genco", "other"):  # another owner, the licensee, a stranger
            _error(client.post(path, headers=bearer(keys[wrong])), 403, "Forbidden")
        _error(
            client.post(f"/v1/licenses/requests/99999/{verb}", headers=bearer(keys["pubco"])), 404
        )
        _error(client.post(f"/v1/licenses/requests/0/{verb}", headers=bearer(keys["pubco"])), 400)
    r = client.post(f"/v1/licenses/requests/{pub}/accept", headers=bearer(keys["pubco"]))
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["request"]["status"] == "accepted"
    assert [a["licensee"] for a in doc["agreements"]] == ["GenCo"]
    assert doc["agreements"][0]["prices"]["output"]["per"] == "output"
    for verb in ("accept", "reject"):  # decided: a conflict, in the error tree's shape
        body = _error(
            client.post(f"/v1/licenses/requests/{pub}/{verb}", headers=bearer(keys["pubco"])),
            409,
            "ConflictError",
        )
        assert "already accepted" in body["error"]
    # an admin acts for an owner, and is the audited actor
    r = client.post(f"/v1/licenses/requests/{art}/reject", headers=bearer(keys["admin"]))
    assert r.status_code == 200 and r.json()["request"]["status"] == "rejected"
    with open_store(registry) as store:
        actors = {(e.action, e.actor) for e in store.audit_log()}
    assert ("license.accept", "PubCo") in actors and ("license.reject", "Operator") in actors


def test_notices_runs_and_royalties_belong_to_their_party(served: Served) -> None:
    client, keys, ids = served
    pubco, genco = bearer(keys["pubco"]), bearer(keys["genco"])
    assert client.post(f"/v1/licenses/requests/{ids['PubCo']}/accept", headers=pubco).is_success
    now = datetime.now(UTC)
    period = f"{now.year}-Q{(now.month - 1) // 3 + 1}"
    work = client.get("/v1/works", params={"owner": "PubCo"}).json()["works"][0]["id"]
    # PubCo opts the work out of training: GenCo, holding an agreement on it, is told
    r = client.put(f"/v1/works/{work}/terms", json={"deny": ["train-genai"]}, headers=pubco)
    assert r.status_code == 200, r.text
    for path in ("/v1/notices", "/v1/runs", "/v1/royalties"):
        _error(client.get(path, params={"period": period}), 401, "Unauthorized")
    notices = client.get("/v1/notices", headers=genco).json()
    assert [(n["licensee"], n["work_id"], n["usage"], n["after"]) for n in notices["notices"]] == [
        ("GenCo", work, "train-genai", "deny")
    ]
    assert client.get("/v1/notices", headers=bearer(keys["other"])).json()["notices"] == []
    _error(
        client.get("/v1/notices", params={"licensee": "GenCo"}, headers=bearer(keys["other"])),
        403,
        "Forbidden",
    )
    admin = bearer(keys["admin"])
    assert client.get("/v1/notices", params={"licensee": "GenCo"}, headers=admin).json()["count"]
    assert client.get("/v1/runs", headers=genco).json() == {"runs": [], "count": 0}
    _error(client.get("/v1/runs", params={"licensee": "GenCo"}, headers=pubco), 403)
    # royalties: the owner's own statement; a licensee key, or another owner, is refused
    doc = client.get("/v1/royalties", params={"period": period}, headers=pubco).json()
    assert doc["period"] and [o["owner"] for o in doc["owners"]] in ([], ["PubCo"])
    _error(client.get("/v1/royalties", params={"period": period}, headers=genco), 403)
    _error(
        client.get("/v1/royalties", params={"period": period, "owner": "ArtCo"}, headers=pubco),
        403,
        "Forbidden",
    )
    r = client.get("/v1/royalties", params={"period": period, "owner": "ArtCo"}, headers=admin)
    assert r.status_code == 200
    _error(client.get("/v1/royalties", params={"period": "2026-Q9"}, headers=pubco), 400)
    _error(client.get("/v1/royalties", headers=pubco), 400)


def test_the_output_ledger_reaches_the_owners_statement(served: Served, prepared: Prepared) -> None:
    """An output checked with GenCo's key under the accepted licence is on PubCo's statement."""
    client, keys, ids = served
    pubco, genco = bearer(keys["pubco"]), bearer(keys["genco"])
    assert client.post(f"/v1/licenses/requests/{ids['PubCo']}/accept", headers=pubco).is_success
    upload = {"file": ("out.jpg", (prepared.root / "output.jpg").read_bytes(), "image/jpeg")}
    r = client.post("/v1/check", files=upload, headers=genco)
    assert r.status_code == 200 and r.json()["verdict"] == "allow", r.text
    now = datetime.now(UTC)
    period = f"{now.year}-Q{(now.month - 1) // 3 + 1}"
    doc = client.get("/v1/royalties", params={"period": period}, headers=pubco).json()
    assert [(o["owner"], o["amounts"]) for o in doc["owners"]] == [("PubCo", {"EUR": "0.01"})]
    assert doc["totals"] == {"EUR": "0.01"}


def test_no_route_reads_a_server_path(served: Served) -> None:
    """Requests from a scan directory and recorded runs read paths: the API has neither."""
    client, keys, _ = served
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/v1/offers", "/v1/licenses/requests", "/v1/notices", "/v1/royalties"} <= set(paths)
    assert "post" not in paths["/v1/licenses/requests"] and "post" not in paths["/v1/runs"]
    r = client.post("/v1/licenses/requests", json={"scan": "/etc"}, headers=bearer(keys["genco"]))
    assert r.status_code == 405

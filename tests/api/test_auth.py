"""API keys and roles: keys stored hashed, 401 without a key, 403 for another party's,
usage recorded only for the authenticated licensee, per-key rates, CORS off, /docs off."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from clearance.api import create_app
from clearance.cli import main
from clearance.config import Settings
from clearance.core import Permission, Price, Usage
from clearance.registry import (
    TermsChange,
    add_works,
    create_key,
    grant_agreement,
    init_store,
    list_keys,
    list_usage_events,
    open_store,
    revoke_key,
)
from tests.conftest import registry_copy, registry_template
from tests.samples import textured_image, write_image


def _png(seed: int) -> bytes:
    buf = io.BytesIO()
    textured_image(seed, (320, 240)).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def prepared(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path, dict[str, str]]]:
    """Once per backend: Ann's licensed image, Zed's work, GenCo's agreement, keys for each
    role (argon2 hashes: the slow part). Each test gets a copy (``auth_registry``)."""
    root = tmp_path_factory.mktemp(f"auth-{request.param}")
    art = write_image(root / "art.png", 41, "PNG")
    with registry_template(request.param, root) as template:
        with init_store(template) as store:
            add_works(
                store,
                [str(art)],
                owner="Ann",
                terms=TermsChange(
                    {Usage.OUTPUT: Permission.LICENSE}, price=Price.parse("1", "EUR")
                ),
            )
            add_works(store, ["https://zed.example/page"], owner="Zed")
            grant_agreement(store, "GenCo", "Ann")
            keys = {
                "ann": create_key(store, "Ann", "owner")[1],
                "zed": create_key(store, "Zed", "owner")[1],
                "genco": create_key(store, "GenCo", "licensee")[1],
                "admin": create_key(store, "Operator", "admin")[1],
            }
        yield template, root, keys


@pytest.fixture
def auth_registry(prepared: tuple[str, Path, dict[str, str]], tmp_path: Path) -> Iterator[str]:
    with registry_copy(prepared[0], tmp_path) as location:
        yield location


@pytest.fixture
def served(
    prepared: tuple[str, Path, dict[str, str]], auth_registry: str
) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """A copy of the prepared registry, and a client."""
    app = create_app(Settings(registry=auth_registry, api_key_burst=1000))
    with TestClient(app) as client:
        yield client, prepared[2]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_keys_create_prints_the_key_once_and_stores_only_its_argon2_hash(
    registry_location: str, capsys: pytest.CaptureFixture[str]
) -> None:
    init_store(registry_location).close()
    reg = ("--registry", registry_location)
    assert main(["keys", "create", "--party", "Ann", "--role", "owner", *reg, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["party"] == "Ann" and doc["key"].startswith("clr_")
    with open_store(registry_location) as store:
        with store.engine.connect() as conn:
            rows = conn.execute(text("SELECT key_id, hash, role FROM api_keys")).all()
            dump = " ".join(str(r) for r in conn.execute(text("SELECT * FROM audit_log")))
        assert len(rows) == 1 and rows[0].hash.startswith("$argon2id$")
        assert doc["key"] not in rows[0].hash and doc["key"] not in dump
        assert rows[0].key_id in doc["key"] and rows[0].role == "owner"
    assert main(["keys", "list", *reg, "--json"]) == 0
    listed = capsys.readouterr().out
    assert doc["key"] not in listed and json.loads(listed)["keys"][0]["party"] == "Ann"
    assert main(["keys", "create", "--party", "Ann", "--role", "boss", *reg]) == 2
    assert "unknown role" in capsys.readouterr().err
    key_id = json.loads(listed)["keys"][0]["key_id"]
    assert main(["keys", "revoke", key_id, *reg, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["revoked"]["revoked_at"]
    # `keys generate` (Ed25519 signing keys) is still there, beside the API keys
    assert main(["keys", "generate", "--help"]) == 0


def _writes(work_ann: int, key_id: str) -> list[tuple[str, str, dict[str, Any]]]:
    """Every write endpoint, as (method, path, request kwargs) acting on Ann's things."""
    terms = {"deny": ["train-ai"]}
    return [
        ("POST", "/v1/works", {"json": {"url": "https://ann.example/a.jpg", "owner": "Ann"}}),
        (
            "POST",
            "/v1/works/upload",
            {"files": {"file": ("a.png", _png(7), "image/png")}, "data": {"owner": "Ann"}},
        ),
        ("PUT", f"/v1/works/{work_ann}/terms", {"json": terms}),
        ("DELETE", f"/v1/works/{work_ann}", {}),
        ("PUT", "/v1/parties/Ann/terms", {"json": terms}),
        ("POST", "/v1/keys", {"json": {"party": "Ann", "role": "owner"}}),
        ("DELETE", f"/v1/keys/{key_id}", {}),
        ("POST", f"/v1/disputes/{work_ann}/resolve", {"json": {"keep": "Ann", "reason": "x"}}),
    ]


def test_every_write_needs_a_key_and_the_right_party(
    served: tuple[TestClient, dict[str, str]],
) -> None:
    client, keys = served
    ann_work = client.get("/v1/works", params={"owner": "Ann"}).json()["works"][0]["id"]
    ann_key_id = keys["ann"].split("_")[1]
    for method, path, kwargs in _writes(ann_work, ann_key_id):
        r = client.request(method, path, **kwargs)
        assert r.status_code == 401, (method, path, r.text)
        assert r.headers["www-authenticate"] == "Bearer"
        assert set(r.json()) == {"error", "type"}
        r = client.request(method, path, headers=bearer("clr_000000000000_" + "x" * 43), **kwargs)
        assert r.status_code == 401, (method, path, r.text)
        for wrong in ("zed", "genco"):
            r = client.request(method, path, headers=bearer(keys[wrong]), **kwargs)
            assert r.status_code == 403, (wrong, method, path, r.text)
            assert r.json()["type"] == "Forbidden"
    # nothing changed: Ann's work is there with its terms, no key was revoked
    work = client.get(f"/v1/works/{ann_work}").json()["work"]
    assert work["stated_terms"] == {"output": "license"}
    assert client.get("/v1/works", params={"owner": "Ann"}).json()["count"] == 1
    assert all(
        k["revoked_at"] is None
        for k in client.get("/v1/keys", headers=bearer(keys["admin"])).json()["keys"]
    )


def test_the_owner_and_an_admin_may_write_and_are_the_audited_actors(
    served: tuple[TestClient, dict[str, str]], auth_registry: str
) -> None:
    client, keys = served
    ann = bearer(keys["ann"])
    r = client.post("/v1/works", json={"prefix": "https://ann.example/art/"}, headers=ann)
    assert r.status_code == 201, r.text
    prefix_work = r.json()["work"]
    assert prefix_work["owner"] == "Ann"
    assert prefix_work["identifiers"] == [
        {"scheme": "url-prefix", "value": "https://ann.example/art/"}
    ]
    r = client.post(
        "/v1/works/upload",
        files={"file": ("sun.png", _png(8), "image/png")},
        data={"deny": "train-ai,output", "title": "Sun"},
        headers=ann,
    )
    assert r.status_code == 201, r.text
    uploaded = r.json()["work"]
    assert uploaded["kind"] == "image" and uploaded["title"] == "Sun" and uploaded["sha256"]
    assert uploaded["stated_terms"] == {"train-ai": "deny", "output": "deny"}
    r = client.put(f"/v1/works/{uploaded['id']}/terms", json={"allow": ["search"]}, headers=ann)
    assert r.status_code == 200 and r.json()["work"]["stated_terms"]["search"] == "allow"
    r = client.put("/v1/parties/Ann/terms", json={"deny": ["tdm"]}, headers=ann)
    assert r.status_code == 200 and r.json()["terms"]["train-ai"] == "deny"
    assert client.get("/v1/parties/Ann/terms").json()["stated_terms"] == {"tdm": "deny"}
    r = client.delete(f"/v1/works/{prefix_work['id']}", headers=ann)
    assert r.status_code == 200 and client.get(f"/v1/works/{prefix_work['id']}").status_code == 404
    # an admin acts for anyone, and is named as the actor
    admin = bearer(keys["admin"])
    r = client.post("/v1/works", json={"domain": "zed.example", "owner": "Zed"}, headers=admin)
    assert r.status_code == 201 and r.json()["work"]["owner"] == "Zed"
    with open_store(auth_registry) as store:
        actors = {(e.action, e.actor) for e in store.audit_log()}
    assert ("work.create", "Ann") in actors and ("terms.set", "Ann") in actors
    assert ("work.remove", "Ann") in actors and ("work.create", "Operator") in actors


def test_usage_is_recorded_only_for_the_authenticated_licensee(
    served: tuple[TestClient, dict[str, str]],
    auth_registry: str,
    prepared: tuple[str, Path, dict[str, str]],
) -> None:
    client, keys = served
    art = (prepared[1] / "art.png").read_bytes()
    upload = {"file": ("out.png", art, "image/png")}
    # anonymous, naming GenCo: answered (licensed), but nothing reaches GenCo's ledger
    r = client.post("/v1/check", files=upload, data={"licensee": "GenCo"})
    assert r.status_code == 200 and r.json()["verdict"] == "allow"
    with open_store(auth_registry) as store:
        assert list_usage_events(store) == []
    # with another party's key, naming GenCo: refused
    r = client.post(
        "/v1/check", files=upload, data={"licensee": "GenCo"}, headers=bearer(keys["zed"])
    )
    assert r.status_code == 403
    # with GenCo's key: the check is GenCo's, and its event is recorded under GenCo
    r = client.post("/v1/check", files=upload, headers=bearer(keys["genco"]))
    assert r.status_code == 200 and r.json()["verdict"] == "allow"
    with open_store(auth_registry) as store:
        events = list_usage_events(store)
    assert len(events) == 1 and events[0].licensee == "GenCo" and events[0].basis.value == "licence"
    # a Zed key checks as Zed: no agreement, so the licensed work needs a licence
    r = client.post("/v1/check", files=upload, headers=bearer(keys["zed"]))
    assert r.json()["verdict"] == "block"


def test_a_revoked_key_stops_at_once(
    served: tuple[TestClient, dict[str, str]], auth_registry: str
) -> None:
    client, keys = served
    ok = client.put("/v1/parties/Ann/terms", json={"deny": ["tdm"]}, headers=bearer(keys["ann"]))
    assert ok.status_code == 200
    with open_store(auth_registry) as store:
        key = next(k for k in list_keys(store, party="Ann"))
        revoke_key(store, key.key_id)
    r = client.put("/v1/parties/Ann/terms", json={"deny": ["tdm"]}, headers=bearer(keys["ann"]))
    assert r.status_code == 401
    # a bad key on a read is refused too, never treated as anonymous
    assert (
        client.get("/v1/works", headers=bearer(keys["ann"])).status_code == 200
    )  # reads: no check
    assert (
        client.post("/v1/check", json={"text": "x"}, headers=bearer(keys["ann"])).status_code == 401
    )
    assert (
        client.post(
            "/v1/check", json={"text": "x"}, headers={"Authorization": "Basic x"}
        ).status_code
        == 401
    )


def test_per_key_rate_limit_cors_off_and_docs_offline(registry_location: str) -> None:
    with init_store(registry_location) as store:
        token = create_key(store, "GenCo", "licensee")[1]
    app = create_app(Settings(registry=registry_location, api_key_burst=2, api_key_rate=0.01))
    with TestClient(app) as client:
        codes = [
            client.post("/v1/check", json={"text": "a story"}, headers=bearer(token)).status_code
            for _ in range(3)
        ]
        assert codes == [200, 200, 429]
        r = client.post("/v1/check", json={"text": "a story"}, headers=bearer(token))
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        # anonymous requests are not a key's: they still pass
        assert client.post("/v1/check", json={"text": "a story"}).status_code == 200
        pre = client.options(
            "/v1/check",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
        assert "access-control-allow-origin" not in pre.headers
        assert client.get("/docs").status_code == 404 and client.get("/redoc").status_code == 404
        paths = client.get("/openapi.json").json()["paths"]
        assert {"/v1/check", "/v1/works", "/v1/works/upload", "/v1/keys"} <= set(paths)
    app = create_app(Settings(registry=registry_location, cors_origins="https://ok.example"))
    with TestClient(app) as client:
        pre = client.options(
            "/v1/check",
            headers={"Origin": "https://ok.example", "Access-Control-Request-Method": "POST"},
        )
        assert pre.headers["access-control-allow-origin"] == "https://ok.example"

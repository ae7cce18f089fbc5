"""``/v1/parties`` and ``/v1/declarations``: reads open, writes by the party's own key or an
admin's (401 without, 403 with another's), levels in every work read, and ``/v1/check``
under ``CLEARANCE_MIN_VERIFICATION``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from clearance.api import create_app
from clearance.config import Settings
from clearance.core import Permission, Usage
from clearance.evidence.keys import public_b64, sign
from clearance.registry import TermsChange, add_works, create_key, init_store
from clearance.registry.declarations import export_declarations
from clearance.registry.parties import add_key, key_proof_message
from tests.localsite import LocalSite
from tests.parties.conftest import domain_of, publish

POEM = " ".join(f"ann's verse {i} runs on about the sea and the long road home" for i in range(12))


@pytest.fixture
def served(
    registry_location: str, tmp_path: Path
) -> Iterator[tuple[TestClient, dict[str, str], str]]:
    poem = tmp_path / "poem.txt"
    poem.write_text(POEM, encoding="utf-8")
    with init_store(registry_location) as store:
        add_works(
            store, [str(poem)], owner="Ann", terms=TermsChange({Usage.OUTPUT: Permission.DENY})
        )
        keys = {
            "ann": create_key(store, "Ann", "owner")[1],
            "zed": create_key(store, "Zed", "owner")[1],
            "admin": create_key(store, "Operator", "admin")[1],
        }
    app = create_app(Settings(registry=registry_location, allow_private=True, api_key_burst=1000))
    with TestClient(app) as client:
        yield client, keys, registry_location


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _error(response: Any, status: int) -> None:
    assert response.status_code == status, (response.status_code, response.text)
    assert set(response.json()) == {"error", "type"}


def test_parties_are_read_openly_and_written_by_their_own_or_an_admin_key(
    served: tuple[TestClient, dict[str, str], str],
) -> None:
    client, keys, _ = served
    _error(client.post("/v1/parties", json={"name": "Newco"}), 401)
    _error(client.post("/v1/parties", json={"name": "Newco"}, headers=bearer(keys["zed"])), 403)
    made = client.post(
        "/v1/parties",
        json={"name": "Newco", "contact": "hi@newco.example"},
        headers=bearer(keys["admin"]),
    )
    assert made.status_code == 201 and made.json()["party"]["verification"] == "self"
    assert (
        client.post("/v1/parties", json={"name": "Ann"}, headers=bearer(keys["ann"])).status_code
        == 200
    )
    ann = client.get("/v1/parties/Ann").json()["party"]
    assert ann["verification"] == "self" and ann["identities"] == []
    _error(client.get("/v1/parties/Nobody"), 404)
    assert {p["name"] for p in client.get("/v1/parties").json()["parties"]} >= {"Ann", "Newco"}
    _error(client.get("/v1/parties", params={"min_verification": "gold"}), 400)
    _error(
        client.post("/v1/parties", json={"name": "X", "extra": 1}, headers=bearer(keys["admin"])),
        400,
    )
    reason = {"reason": "contract on file"}
    _error(client.post("/v1/parties/Ann/verify", json=reason, headers=bearer(keys["ann"])), 403)
    done = client.post("/v1/parties/Ann/verify", json=reason, headers=bearer(keys["admin"]))
    assert done.status_code == 200 and done.json()["party"]["verification"] == "admin"
    work = client.get("/v1/works").json()["works"][0]
    assert work["owner_verification"] == "admin" and work["claims"][0]["verification"] == "admin"


def test_domain_and_key_verification_over_http(
    served: tuple[TestClient, dict[str, str], str],
    site: LocalSite,
    signing_key: Ed25519PrivateKey,
) -> None:
    client, keys, _ = served
    domain = domain_of(site)
    _error(client.post("/v1/parties/Ann/domains", json={"domain": domain}), 401)
    _error(
        client.post(
            "/v1/parties/Ann/domains", json={"domain": domain}, headers=bearer(keys["zed"])
        ),
        403,
    )
    started = client.post(
        "/v1/parties/Ann/domains", json={"domain": domain}, headers=bearer(keys["ann"])
    )
    assert started.status_code == 201
    challenge = started.json()["challenge"]
    url = f"/v1/parties/Ann/domains/{domain}/verify"
    _error(client.post(url, headers=bearer(keys["ann"])), 422)  # not published yet
    publish(site, challenge["publish"] + "\n")
    _error(client.post(url, headers=bearer(keys["zed"])), 403)
    done = client.post(url, headers=bearer(keys["ann"]))
    assert done.status_code == 200 and done.json()["party"]["verification"] == "domain"
    _error(
        client.post(
            "/v1/parties/Ann/domains", json={"domain": "not a domain"}, headers=bearer(keys["ann"])
        ),
        400,
    )

    public = signing_key.public_key()
    body = {
        "public_key": public_b64(public),
        "proof": _b64(sign(signing_key, key_proof_message("Ann", public))),
    }
    _error(client.post("/v1/parties/Zed/keys", json=body, headers=bearer(keys["zed"])), 400)
    _error(client.post("/v1/parties/Ann/keys", json=body, headers=bearer(keys["zed"])), 403)
    for bad in ({**body, "proof": "!!"}, {**body, "public_key": "AAAA"}, {"public_key": "x"}):
        response = client.post("/v1/parties/Ann/keys", json=bad, headers=bearer(keys["ann"]))
        assert 400 <= response.status_code < 500, response.text
    bound = client.post("/v1/parties/Ann/keys", json=body, headers=bearer(keys["ann"]))
    assert bound.status_code == 201 and bound.json()["party"]["verification"] == "key"


def _b64(data: bytes) -> str:
    from clearance.evidence.canonical import b64encode

    return b64encode(data)


def test_declarations_import_needs_the_key_partys_api_key(
    served: tuple[TestClient, dict[str, str], str],
    tmp_path: Path,
    signing_key: Ed25519PrivateKey,
) -> None:
    client, keys, location = served
    with init_store(str(tmp_path / "origin.db")) as origin:
        add_works(
            origin,
            ["https://ann.example/fox.jpg"],
            owner="Ann",
            terms=TermsChange({Usage.TRAIN_AI: Permission.DENY}),
        )
        add_key(origin, "Ann", signing_key.public_key(), actor="Ann")
        data = json.dumps(export_declarations(origin, "Ann", signing_key))
    with init_store(location) as store:
        add_key(store, "Ann", signing_key.public_key(), actor="Operator")
    _error(client.post("/v1/declarations", content=data), 401)
    _error(client.post("/v1/declarations", content=data, headers=bearer(keys["zed"])), 403)
    done = client.post("/v1/declarations", content=data, headers=bearer(keys["ann"]))
    assert done.status_code == 200, done.text
    assert done.json()["works"][0]["work"]["owner_verification"] == "key"
    for junk in ("", "{", "[1]", '{"format": 1}', data.replace('"train-ai"', '"search"', 1)):
        response = client.post("/v1/declarations", content=junk, headers=bearer(keys["ann"]))
        assert 400 <= response.status_code < 500, (junk[:40], response.text)


def test_the_service_ignores_claims_below_its_minimum_level(
    registry_location: str, tmp_path: Path
) -> None:
    poem = tmp_path / "poem.txt"
    poem.write_text(POEM, encoding="utf-8")
    with init_store(registry_location) as store:
        add_works(
            store, [str(poem)], owner="Zed", terms=TermsChange({Usage.OUTPUT: Permission.DENY})
        )
    settings = Settings.from_env(
        {"CLEARANCE_MIN_VERIFICATION": "domain"}, registry=registry_location
    )
    with TestClient(create_app(settings)) as client:
        verdict = client.post("/v1/check", json={"text": POEM}).json()
        assert verdict["verdict"] == "allow"
        assert any("ignored-for-verification" in r for r in verdict["reasons"])
    with TestClient(create_app(Settings(registry=registry_location))) as client:
        assert client.post("/v1/check", json={"text": POEM}).json()["verdict"] == "block"
    with pytest.raises(Exception, match="CLEARANCE_MIN_VERIFICATION"):
        Settings(min_verification="gold")

"""``/v1/receipts``: a licensee posts a signed root with per-owner proofs; each owner reads theirs.

The signed scan is the evidence tests' (rows of Dana's domain excluded, Ben Music's lyrics
needing a licence); the API's registry is a fresh one holding the parties and their keys.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from clearance.api import create_app
from clearance.config import Settings
from clearance.evidence import load_public_key, prove, verify_proof
from clearance.registry import create_key, init_store
from tests.evidence.conftest import keypair, pristine, read_manifest  # noqa: F401
from tests.mangle import JSON, mangled, paths
from tests.scan.conftest import registry  # noqa: F401  (the session registry the scan used)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def api(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TestClient, dict[str, dict[str, str]]]]:
    """One service per backend for the module (argon2 makes each key cost a second)."""
    import uuid

    import psycopg

    from tests.conftest import PG_ADMIN, _pg_url

    location = str(tmp_path_factory.mktemp("receipts") / "r.db")
    if request.param == "postgres":
        name = f"clearance_test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        location = _pg_url(name)
    try:
        with init_store(location) as store:
            tokens = {
                name: create_key(store, name, role)[1]
                for name, role in (
                    ("GenCo", "licensee"),
                    ("Dana", "owner"),
                    ("Ben Music", "owner"),
                    ("Eve", "owner"),
                    ("Ops", "admin"),
                )
            }
        with TestClient(create_app(Settings(registry=location))) as client:
            yield client, {n: {"Authorization": f"Bearer {t}"} for n, t in tokens.items()}
    finally:
        if request.param == "postgres":
            with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _body(run: Path, *owners: str) -> dict[str, Any]:
    return {
        "dataset": "crawl-2026",
        "root": {k: read_manifest(run)["attestation"][k] for k in ("statement", "signature")},
        "proofs": [prove(run, owner=o) for o in owners],
    }


def test_owners_see_what_a_licensees_dataset_excluded_and_verify_it_offline(
    api: tuple[TestClient, dict[str, dict[str, str]]],
    pristine: Path,  # noqa: F811
    keypair: tuple[Path, Path],  # noqa: F811
) -> None:
    client, keys = api
    body = _body(pristine, "Dana", "Ben Music")
    assert client.post("/v1/receipts", json=body).status_code == 401
    assert client.post("/v1/receipts", json=body, headers=keys["Dana"]).status_code == 403
    made = client.post("/v1/receipts", json=body, headers=keys["GenCo"])
    assert made.status_code == 201, made.text
    assert [r["new"] for r in made.json()["receipts"]] == [True, True]
    again = client.post("/v1/receipts", json=body, headers=keys["GenCo"])
    assert again.status_code == 200 and not any(r["new"] for r in again.json()["receipts"])

    rows = pq.read_table(pristine / "decisions.parquet").to_pylist()
    dana_works = {
        w["id"]
        for r in rows
        if r["outcome"] == "exclude"
        for w in json.loads(r["evidence"])["works"]
        if w["owner"] == "Dana"
    }
    (mine,) = client.get("/v1/receipts", headers=keys["Dana"]).json()["receipts"]
    assert mine["owner"] == "Dana" and mine["licensee"] == "GenCo"
    assert mine["works_excluded"] == len(dana_works) >= 1
    assert mine["message"].startswith("dataset crawl-2026 of GenCo excluded ")
    (ben,) = client.get("/v1/receipts", headers=keys["Ben Music"]).json()["receipts"]
    assert ben["works_excluded"] == 0 and ben["items"] > 0  # needs a licence, not excluded
    assert client.get("/v1/receipts", headers=keys["Eve"]).json()["count"] == 0
    assert client.get("/v1/receipts", headers=keys["GenCo"]).json()["count"] == 2
    assert client.get("/v1/receipts", headers=keys["Ops"]).json()["count"] == 2
    assert client.get("/v1/receipts?owner=Dana", headers=keys["Eve"]).status_code == 403
    assert client.get("/v1/receipts").status_code == 401

    one = client.get(f"/v1/receipts/{mine['id']}", headers=keys["Dana"])
    assert one.status_code == 200
    check = verify_proof(
        one.json()["proof"], root=mine["run_root"], pubkey=load_public_key(keypair[1])
    )
    assert check.ok and mine["key_id"] == check.key_id
    assert client.get(f"/v1/receipts/{mine['id']}", headers=keys["Eve"]).status_code == 403
    assert client.get(f"/v1/receipts/{mine['id']}", headers=keys["GenCo"]).status_code == 200
    assert client.get("/v1/receipts/999999", headers=keys["Dana"]).status_code == 404


def test_a_receipt_that_does_not_verify_stores_nothing(
    api: tuple[TestClient, dict[str, dict[str, str]]],
    pristine: Path,  # noqa: F811
) -> None:
    client, keys = api
    before = client.get("/v1/receipts", headers=keys["Ops"]).json()["count"]
    good = _body(pristine, "Dana")
    post = lambda body: client.post("/v1/receipts", json=body, headers=keys["GenCo"])  # noqa: E731

    tampered = copy.deepcopy(good)
    tampered["proofs"][0]["proofs"][0]["row"]["outcome"] = "include"
    assert post(tampered).status_code == 422
    forged = copy.deepcopy(good)
    forged["root"]["statement"]["items"] += 1
    assert post(forged).status_code == 422
    unsigned = copy.deepcopy(good)
    unsigned["root"]["signature"] = None
    assert post(unsigned).status_code == 422
    stranger = copy.deepcopy(good)
    stranger["proofs"][0]["subject"] = {"owner": "Nobody"}
    assert post(stranger).status_code == 422  # the rows are not Nobody's
    unknown = post(_body(pristine, "Dana", "Ben"))  # Ben has no party in this registry
    assert unknown.status_code == 404 and "Ben" in unknown.json()["error"]
    for junk in ({}, {"dataset": "x"}, {**good, "extra": 1}, {**good, "proofs": []}, [1]):
        answer = post(junk)
        assert 400 <= answer.status_code < 500 and set(answer.json()) == {"error", "type"}
    assert client.post(
        "/v1/receipts", content=b'{"dataset": 1, "dataset": 2}', headers=keys["GenCo"]
    ).status_code in (400, 422)
    assert client.get("/v1/receipts", headers=keys["Ops"]).json()["count"] == before


def test_a_mangled_receipt_is_a_4xx_never_a_500(
    api: tuple[TestClient, dict[str, dict[str, str]]],
    pristine: Path,  # noqa: F811
) -> None:
    client, keys = api
    good = _body(pristine, "Dana")
    every = paths(good)[1:]

    @settings(max_examples=30, deadline=None, derandomize=True, database=None)
    @given(st.sampled_from(every), JSON)
    def mangle(path: tuple[Any, ...], value: Any) -> None:
        body = mangled(good, path, value)
        answer = client.post("/v1/receipts", json=body, headers=keys["GenCo"])
        assert answer.status_code < 500, (path, value, answer.text)
        if answer.status_code >= 400:
            assert set(answer.json()) == {"error", "type"}

    mangle()

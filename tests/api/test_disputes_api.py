"""/v1/disputes over HTTP: an uploaded near-duplicate is a disputed claim; an admin resolves it."""

from __future__ import annotations

import io

from fastapi.testclient import TestClient
from PIL import ImageOps

from clearance.api import create_app
from clearance.config import Settings
from clearance.registry import create_key, init_store, open_store
from tests.samples import textured_image


def _images() -> tuple[bytes, bytes]:
    im = textured_image(7, (480, 360))
    original, sepia = io.BytesIO(), io.BytesIO()
    im.save(original, "PNG")
    ImageOps.colorize(im.convert("L"), "#402010", "#f0e0c0").save(sepia, "JPEG", quality=90)
    return original.getvalue(), sepia.getvalue()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_disputes_over_http(registry_location: str) -> None:
    with init_store(registry_location) as store:
        keys = {
            "ann": create_key(store, "Ann", "owner")[1],
            "zed": create_key(store, "Zed", "owner")[1],
            "admin": create_key(store, "Operator", "admin")[1],
        }
    original, sepia = _images()
    app = create_app(Settings(registry=registry_location, api_key_burst=1000))
    with TestClient(app) as client:
        r = client.post(
            "/v1/works/upload",
            files={"file": ("ann.png", original, "image/png")},
            data={"deny": "output"},
            headers=bearer(keys["ann"]),
        )
        assert r.status_code == 201, r.text
        work_id = r.json()["work"]["id"]
        r = client.post(
            "/v1/works/upload",
            files={"file": ("zed.jpg", sepia, "image/jpeg")},
            data={"license": "output=1EUR/output"},
            headers=bearer(keys["zed"]),
        )
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "disputed" and r.json()["work"]["id"] == work_id
        work = client.get(f"/v1/works/{work_id}").json()["work"]
        assert work["owner"] == "Ann" and work["disputed"]
        assert [(c["party"], c["status"]) for c in work["claims"]] == [
            ("Ann", "disputed"),
            ("Zed", "disputed"),
        ]
        r = client.post("/v1/check", files={"file": ("out.jpg", sepia, "image/jpeg")})
        assert r.json()["verdict"] == "block"
        assert any("disputed" in reason for reason in r.json()["reasons"])

        listed = client.get("/v1/disputes").json()
        assert listed["count"] == 1 and listed["disputes"][0]["id"] == work_id
        shown = client.get(f"/v1/disputes/{work_id}").json()["dispute"]
        zed = shown["claims"][1]
        assert zed["party"] == "Zed" and zed["evidence"][0]["method"] in ("pdq", "region")
        assert zed["verification"] == "self" and shown["first_claim"] == "Ann"
        assert client.get("/v1/disputes/999").status_code == 404
        assert client.get("/v1/disputes/0").status_code == 400

        path = f"/v1/disputes/{work_id}/resolve"
        body = {"keep": "Ann", "reason": "Ann registered the original first"}
        assert client.post(path, json=body).status_code == 401
        assert client.post(path, json=body, headers=bearer(keys["zed"])).status_code == 403
        admin = bearer(keys["admin"])
        bad = client.post(path, json={"keep": "Bob", "reason": "x"}, headers=admin)
        assert bad.status_code == 400 and "no open claim" in bad.json()["error"]
        assert client.post(path, json={"keep": "Ann"}, headers=admin).status_code == 400
        r = client.post(path, json=body, headers=admin)
        assert r.status_code == 200, r.text
        assert r.json()["dispute"]["status"] == "resolved"
        assert r.json()["dispute"]["resolution"]["actor"] == "Operator"
        assert client.post(path, json=body, headers=admin).status_code == 400  # not disputed
        assert not client.get(f"/v1/works/{work_id}").json()["work"]["disputed"]
        assert client.get("/v1/disputes").json()["count"] == 0
        r = client.post(
            "/v1/works/upload",
            files={"file": ("zed.jpg", sepia, "image/jpeg")},
            headers=bearer(keys["zed"]),
        )
        assert r.status_code == 409  # a rejected claim is not made again
    with open_store(registry_location) as store:
        actions = {(e.action, e.actor) for e in store.audit_log()}
    assert ("claim.dispute", "Zed") in actions and ("claim.resolve", "Operator") in actions

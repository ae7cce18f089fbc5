"""POST /v1/check: multipart uploads, JSON text, client-side PDQ hashes, and clear 4xx errors."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from clearance.api import create_app
from clearance.config import Settings
from clearance.core import Permission, Usage
from clearance.fingerprint import image_hash
from clearance.registry import TermsChange, init_store
from clearance.registry.characters import add_character
from tests.samples import png_bomb_header, textured_image


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    refs = tmp_path / "refs"
    refs.mkdir()
    textured_image(61, (480, 360)).save(refs / "hero.png")
    with init_store(str(tmp_path / "r.db")) as store:
        add_character(
            store,
            "Pikachu",
            owner="Games Co",
            images=refs,
            terms=TermsChange({Usage.OUTPUT: Permission.DENY}),
        )
    return TestClient(create_app(Settings(registry=str(tmp_path / "r.db"))))


def _png(seed: int, size: tuple[int, int] = (300, 225)) -> bytes:
    buf = io.BytesIO()
    textured_image(seed, (480, 360)).resize(size).save(buf, "PNG")
    return buf.getvalue()


def test_upload_of_reference_art_is_blocked(client: TestClient) -> None:
    r = client.post(
        "/v1/check",
        files={"file": ("out.png", _png(61), "image/png")},
        data={"prompt": "a cute mouse"},
    )
    assert r.status_code == 200
    doc = r.json()
    assert doc["verdict"] == "block" and doc["input"] == "out.png"
    assert doc["matches"][0]["kind"] == "character" and "pdq" in doc["checks_run"]


def test_json_text_and_prompt(client: TestClient) -> None:
    r = client.post("/v1/check", json={"prompt": "draw P1kachu please", "text": "a story"})
    assert r.status_code == 200 and r.json()["verdict"] == "block"
    r = client.post("/v1/check", json={"prompt": "draw a mouse", "text": "a story"})
    assert r.json()["verdict"] == "allow"


def test_client_side_pdq_hash(client: TestClient) -> None:
    pdq = image_hash(_png(61)).pdq.hex()
    assert client.post("/v1/check", json={"pdq": pdq}).json()["verdict"] == "block"
    other = image_hash(_png(62)).pdq.hex()
    assert client.post("/v1/check", json={"pdq": other}).json()["verdict"] == "allow"


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        ({"files": {"file": ("x.png", b"not an image at all", "image/png")}}, 415),
        ({"files": {"file": ("bomb.png", png_bomb_header(50_000, 50_000), "image/png")}}, 413),
        ({"files": {"file": ("empty.png", b"", "image/png")}}, 400),
        ({"json": {"text": "   "}}, 400),
        ({"json": {"text": "x" * 2_000_001}}, 400),
        ({"json": {"pdq": "zz"}}, 400),
        ({"json": {"pdq": "ab" * 8}}, 400),
        ({"json": ["not", "an", "object"]}, 400),
        ({"content": b"{broken", "headers": {"content-type": "application/json"}}, 400),
        ({"json": {}}, 400),
    ],
)
def test_bad_requests_are_4xx_never_500(
    client: TestClient, kwargs: dict[str, object], status: int
) -> None:
    r = client.post("/v1/check", **kwargs)  # type: ignore[arg-type]
    assert r.status_code == status, r.text
    assert set(r.json()) == {"error", "type"}


def test_oversized_upload_is_413(client: TestClient) -> None:
    r = client.post(
        "/v1/check",
        content=b"x" * 10,
        headers={
            "content-type": "multipart/form-data; boundary=x",
            "content-length": str(30 * 1024 * 1024),
        },
    )
    assert r.status_code == 413


def test_healthz(client: TestClient) -> None:
    assert client.get("/healthz").json()["status"] == "ok"

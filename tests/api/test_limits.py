"""What one HTTP client can make the server spend, and the error shape (issue #11, items 4, 7, 8).

Each test is one attack or one piece of bad input from the issue, replayed
against the app: a declared 81 MP image, two hours of audio, a chunked body
over the limit, a body that never finishes, a malformed multipart boundary,
JSON nested deeper than Python's stack, a NUL in ``licensee``, two ``file``
parts. Every answer is a 4xx with ``{"error", "type"}``.
"""

from __future__ import annotations

import asyncio
import io
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from clearance.api import create_app
from clearance.api.limits import Busy, DecodeGate
from clearance.config import Settings
from clearance.registry import init_store
from tests.samples import png_bomb_header, textured_image


@pytest.fixture
def registry(tmp_path: Path) -> str:
    location = str(tmp_path / "r.db")
    init_store(location).close()
    return location


def _client(registry: str, **limits: object) -> TestClient:
    return TestClient(create_app(Settings(registry=registry, **limits)))  # type: ignore[arg-type]


def _png() -> bytes:
    buf = io.BytesIO()
    textured_image(3, (64, 48)).save(buf, "PNG")
    return buf.getvalue()


def _silent_flac(seconds: int, rate: int = 2000) -> bytes:
    """``seconds`` of silence as FLAC: two hours fit in about a megabyte."""
    import av
    import numpy as np

    buf = io.BytesIO()
    block = rate * 10
    zeros = np.zeros((1, block), dtype=np.int16)
    with av.open(buf, "w", format="flac") as container:
        stream = container.add_stream("flac", rate=rate, layout="mono")
        for i in range(seconds // 10):
            frame = av.AudioFrame.from_ndarray(zeros, format="s16", layout="mono")
            frame.sample_rate, frame.pts = rate, i * block
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buf.getvalue()


def _assert_error(response: object, status: int) -> dict[str, str]:
    r = response  # an httpx.Response
    assert r.status_code == status, r.text  # type: ignore[attr-defined]
    doc = r.json()  # type: ignore[attr-defined]
    assert set(doc) == {"error", "type"} and doc["error"], doc
    return doc  # type: ignore[no-any-return]


def test_a_png_declaring_81_megapixels_is_refused_before_decoding(registry: str) -> None:
    client = _client(registry)
    bomb = png_bomb_header(9000, 9000)  # 81 MP, under 1 KB: 400 MB once decoded
    doc = _assert_error(client.post("/v1/check", files={"file": ("x.png", bomb)}), 413)
    assert "81000000 pixels" in doc["error"] and doc["type"] == "ImageTooLarge"
    for disguise in ("clip.mp4", "song.wav", "notes"):  # a bomb under another name is one too
        _assert_error(client.post("/v1/check", files={"file": (disguise, bomb)}), 413)
    small = _client(registry, api_max_pixels=1000)
    _assert_error(small.post("/v1/check", files={"file": ("x.png", _png())}), 413)
    assert _client(registry).post("/v1/check", files={"file": ("x.png", _png())}).status_code == 200


def test_two_hours_of_audio_are_refused_before_decoding(registry: str) -> None:
    client = _client(registry)
    silence = _silent_flac(2 * 3600)  # cost 308 MB to decode before the limit
    doc = _assert_error(client.post("/v1/check", files={"file": ("a.flac", silence)}), 413)
    assert doc["type"] == "MediaTooLong" and "7200 s" in doc["error"]


def test_a_chunked_body_over_the_limit_is_413_not_400(registry: str) -> None:
    client = _client(registry, api_max_body_bytes=4096)

    def chunks() -> Iterator[bytes]:
        for _ in range(8):
            yield b"x" * 1024

    r = client.post(
        "/v1/check", content=chunks(), headers={"content-type": "multipart/form-data; boundary=b"}
    )
    _assert_error(r, 413)
    r = client.post("/v1/check", content=chunks(), headers={"content-type": "application/json"})
    _assert_error(r, 413)
    declared = client.post(
        "/v1/check",
        content=b"{}",
        headers={"content-type": "application/json", "content-length": "5000"},
    )
    _assert_error(declared, 413)


def test_a_body_that_never_finishes_is_408(registry: str) -> None:
    """Driven over raw ASGI: the test client would read the whole body before the app ran."""
    app = create_app(Settings(registry=registry, api_body_timeout=0.3))
    pending = [{"type": "http.request", "body": b'{"text": "a st', "more_body": True}]
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        if pending:
            return pending.pop(0)
        await asyncio.sleep(30)  # the rest never comes
        return {"type": "http.request", "body": b'ory"}', "more_body": False}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/check",
        "raw_path": b"/v1/check",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json")],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }
    started = time.monotonic()
    asyncio.run(asyncio.wait_for(app(scope, receive, send), 10))
    assert time.monotonic() - started < 5
    assert sent[0]["status"] == 408
    body = json.loads(b"".join(m.get("body", b"") for m in sent[1:]))  # type: ignore[misc]
    assert body["type"] == "BodyTimeout" and "0.3 s" in body["error"]


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        # a malformed multipart boundary: was FastAPI's own {"detail": ...}
        (
            {
                "content": b'--b\r\nContent-Disposition: form-data; name="text"\r\n\r\nhi',
                "headers": {"content-type": "multipart/form-data; boundary=b"},
            },
            400,
        ),
        ({"content": b"x", "headers": {"content-type": "multipart/form-data"}}, 400),
        # JSON nested deeper than Python's stack: was a 500
        ({"content": b"[" * 100_000, "headers": {"content-type": "application/json"}}, 400),
        (
            {"content": b'{"a":' * 50_000 + b"1" + b"}" * 50_000},
            400,
        ),
        # a NUL (or an escape sequence) in licensee: was a 500 on PostgreSQL
        ({"json": {"text": "a story", "licensee": "Gen\x00Co"}}, 400),
        ({"data": {"text": "a story", "licensee": "Gen\x1b[2JCo"}}, 400),
        ({"json": {"pdq": ["ab"] * 32}}, 400),
        ({"json": {"text": 5}}, 400),
        ({"data": {"text": "a story", "mode": "x"}}, 400),
    ],
)
def test_bad_bodies_are_4xx_in_one_shape(
    registry: str, kwargs: dict[str, object], status: int
) -> None:
    client = _client(registry)
    _assert_error(client.post("/v1/check", **kwargs), status)  # type: ignore[arg-type]


def test_two_file_parts_are_refused_not_half_read(registry: str) -> None:
    client = _client(registry)
    files = [("file", ("a.png", _png())), ("file", ("b.png", _png()))]
    doc = _assert_error(client.post("/v1/check", files=files), 400)
    assert "'file'" in doc["error"]
    doubled = client.post("/v1/check", data={"text": ["one", "two"]})
    _assert_error(doubled, 400)


def test_unknown_routes_and_methods_use_the_same_shape(registry: str) -> None:
    client = _client(registry)
    assert _assert_error(client.get("/nope"), 404)["type"] == "NotFound"
    assert _assert_error(client.get("/v1/check"), 405)["type"] == "MethodNotAllowed"


def test_the_decode_gate_bounds_concurrent_decodes() -> None:
    async def scenario() -> list[str]:
        gate = DecodeGate(slots=1, queue=1)
        order: list[str] = []
        release = asyncio.Event()

        async def holder() -> None:
            async with gate:
                order.append("first in")
                await release.wait()

        async def waiter() -> None:
            async with gate:
                order.append("second in")

        first = asyncio.create_task(holder())
        await asyncio.sleep(0)
        second = asyncio.create_task(waiter())
        await asyncio.sleep(0)
        with pytest.raises(Busy):  # one decoding, one waiting: the third is turned away
            async with gate:
                pass
        order.append("third refused")
        release.set()
        await asyncio.gather(first, second)
        return order

    assert asyncio.run(scenario()) == ["first in", "third refused", "second in"]


def test_docs_security_lists_every_limit_setting_with_its_default() -> None:
    """docs/security.md's table of limits is held to ``SETTINGS``."""
    from clearance.config import SETTINGS

    doc = (Path(__file__).parents[2] / "docs" / "security.md").read_text(encoding="utf-8")
    rows = {
        cells[0].strip("` "): cells[1].split("(")[0].strip()
        for line in doc.splitlines()
        if line.startswith("| `") and len(cells := line.strip("|").split("|")) > 2
    }
    for name, default, _help in SETTINGS:
        if name.startswith("api_") or name == "max_pixels":
            assert name in rows, f"docs/security.md does not list {name}"
            assert float(rows[name]) == float(default), (name, rows[name], default)  # type: ignore[arg-type]


def test_a_nul_in_licensee_is_400_on_both_backends(registry_location: str) -> None:
    """Was a 500 on PostgreSQL, which refuses NUL in text."""
    init_store(registry_location).close()
    app = create_app(Settings(registry=registry_location))
    try:
        client = TestClient(app)
        for body in (
            {"text": "a story", "licensee": "Gen\x00Co"},
            {"prompt": "x", "licensee": "\x00"},
        ):
            _assert_error(client.post("/v1/check", json=body), 400)
        assert (
            client.post("/v1/check", json={"text": "a story", "licensee": "GenCo"}).status_code
            == 200
        )
    finally:
        guard = app.state.guard
        guard.close()
        if guard.store is not None:
            guard.store.close()

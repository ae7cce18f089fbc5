"""``/healthz``, ``/readyz`` and ``/metrics`` (Prometheus text format)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from clearance.api import create_app
from clearance.config import Settings
from clearance.registry import add_works, init_store


def test_readyz_and_metrics(registry_location: str) -> None:
    with init_store(registry_location) as store:
        add_works(store, ["https://a.example/x.jpg"], owner="Ann")
    with TestClient(create_app(Settings(registry=registry_location))) as client:
        assert client.get("/healthz").json()["status"] == "ok"
        ready = client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["works"] == 1
        for _ in range(3):
            client.post("/v1/query/urls", content="https://a.example/x.jpg")
        client.get("/v1/works/999")
        r = client.get("/metrics")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
        text = r.text
        assert (
            'clearance_http_requests_total{route="/v1/query/urls",method="POST",status="200"} 3'
            in text
        )
        assert 'route="/v1/works/{work_id}",method="GET",status="404"} 1' in text
        assert re.search(r"^clearance_index_works 1$", text, re.M)
        for line in text.splitlines():  # every sample line is `name{labels} value`
            assert line.startswith("#") or re.fullmatch(r"[a-z_]+(\{.*\})? [0-9.e+-]+", line)

"""``clearance serve --workers 2`` on PostgreSQL: every worker sees a registration made
through another, within the sync interval; one ``/metrics`` scrape counts every worker's
requests; ``--log-format json`` writes one JSON object a line."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from benchmarks.bench_service import audit_registrations, registration_plan, run_writers

from clearance.registry import create_key, init_store, open_store
from tests.conftest import throwaway_pg_database

POLL = 0.2  # CLEARANCE_GUARD_POLL_SECONDS: the sync interval under test
URL = "https://ann.example/gallery/a.jpg"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Workers:
    base: str
    key: str
    log: Path
    pids: frozenset[str]
    registry: str
    writer_keys: list[str]


def _ask(base: str, path: str, **kwargs: object) -> httpx.Response:
    """One request on a fresh connection, so the kernel may hand it to any worker."""
    with httpx.Client(base_url=base, timeout=10) as client:
        return client.request(kwargs.pop("method", "GET"), path, **kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workers]:
    """Two workers on one PostgreSQL registry, polling it every 0.2 s, logging JSON."""
    with throwaway_pg_database() as registry:
        yield from _serve_two_workers(registry, tmp_path_factory)


def _serve_two_workers(
    registry: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Workers]:
    with init_store(registry) as store:
        key = create_key(store, "Ann", "owner")[1]
        writer_keys = [create_key(store, f"O{w % 4}", "owner")[1] for w in range(8)]
    root = tmp_path_factory.mktemp("workers")
    log = root / "serve.log"
    port = _free_port()
    env = {
        **os.environ,
        "CLEARANCE_REGISTRY": "",
        "CLEARANCE_GUARD_SYNC": "poll",
        "CLEARANCE_GUARD_POLL_SECONDS": str(POLL),
    }
    command = [sys.executable, "-m", "clearance", "serve", "--port", str(port)]
    command += ["--workers", "2", "--log-format", "json", "--registry", registry]
    with log.open("wb") as err:
        proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=err)
    base = f"http://127.0.0.1:{port}"
    try:
        pids: set[str] = set()
        deadline = time.monotonic() + 90
        while len(pids) < 2:  # both workers up: each answers under its own pid
            assert proc.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, f"saw only workers {pids}"
            try:
                r = _ask(base, "/healthz")
            except httpx.HTTPError:
                time.sleep(0.2)
                continue
            pids.add(r.headers["x-clearance-worker"])
        yield Workers(base, key, log, frozenset(pids), registry, writer_keys)
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _opted_out(base: str) -> tuple[str, bool]:
    r = _ask(base, "/v1/query/urls", method="POST", content=URL)
    assert r.status_code == 200, r.text
    return r.headers["x-clearance-worker"], r.json()["urls"][0]["optOut"]


def test_every_worker_answers_with_a_registration_made_through_one(workers: Workers) -> None:
    seen = {pid: opted for pid, opted in (_opted_out(workers.base) for _ in range(8))}
    assert not any(seen.values()), "opted out before the registration"
    r = _ask(
        workers.base,
        "/v1/works",
        method="POST",
        json={"url": URL, "terms": {"deny": ["train-ai"]}},
        headers={"Authorization": f"Bearer {workers.key}"},
    )
    assert r.status_code == 201, r.text
    writer = r.headers["x-clearance-worker"]
    registered = time.monotonic()
    answered: dict[str, float] = {}
    while set(answered) != workers.pids:
        # generous: the bound is the sync interval plus a refresh on a loaded 2-core machine
        assert time.monotonic() - registered < 50 * POLL, f"only {sorted(answered)} caught up"
        pid, opted = _opted_out(workers.base)
        if opted:
            answered.setdefault(pid, time.monotonic() - registered)
        else:
            assert pid not in answered, f"worker {pid} went back to the old index"
    assert writer in workers.pids
    # each worker's index now reflects the same audit watermark
    marks = {}
    deadline = time.monotonic() + 10
    while len(marks) < 2 and time.monotonic() < deadline:
        r = _ask(workers.base, "/readyz")
        marks[r.headers["x-clearance-worker"]] = r.json()["watermark"]
    assert len(set(marks.values())) == 1, marks


def test_one_scrape_counts_every_workers_requests(workers: Workers) -> None:
    before = _scrape_total(workers.base)
    asked: set[str] = set()
    for _ in range(20):
        asked.add(_ask(workers.base, "/v1/works/999999").headers["x-clearance-worker"])
    deadline = time.monotonic() + 15  # the other worker writes its numbers within a second
    while (total := _scrape_total(workers.base)) != before + 20:
        assert total < before + 20 and time.monotonic() < deadline, (before, total)
        time.sleep(0.2)
    text = _ask(workers.base, "/metrics").text
    for pid in workers.pids:  # each worker's own index, labelled
        assert re.search(rf'^clearance_index_works{{worker="{pid}"}} \d+$', text, re.M), text


def _scrape_total(base: str) -> int:
    text = _ask(base, "/metrics").text
    found = re.search(
        r'^clearance_http_requests_total\{route="/v1/works/\{work_id\}",method="GET",'
        r'status="404"\} (\d+)$',
        text,
        re.M,
    )
    return int(found.group(1)) if found else 0


def test_json_log_lines(workers: Workers) -> None:
    """One JSON object a line, from both workers; the keyed write names its party."""
    rid = "test-request-42"
    r = _ask(workers.base, "/healthz", headers={"X-Request-ID": rid})
    assert r.headers["x-request-id"] == rid
    odd = _ask(workers.base, "/healthz", headers={"X-Request-ID": "bad id!"})
    assert odd.headers["x-request-id"] != "bad id!"  # not echoed: a fresh one
    auth = {"Authorization": f"Bearer {workers.key}", "X-Request-ID": "write-1"}
    body = {"url": "https://ann.example/other.jpg"}
    assert _ask(workers.base, "/v1/works", method="POST", json=body, headers=auth).is_success
    deadline = time.monotonic() + 10
    while True:
        lines = workers.log.read_text(errors="replace").splitlines()
        docs = [json.loads(line) for line in lines if line.startswith("{")]
        ids = {d.get("request_id") for d in docs}
        if {rid, "write-1"} <= ids or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert "JSON lines" in lines[0]  # serve's address line comes first, plain
    assert all(line.startswith("{") for line in lines[1:]), lines
    requests = [d for d in docs if d["event"] == "request"]
    for doc in requests:
        assert {"time", "level", "method", "path", "status", "duration_ms", "request_id"} <= set(
            doc
        )
    assert {str(d["worker"]) for d in requests} == set(workers.pids)
    assert any(d["request_id"] == rid and d["path"] == "/healthz" for d in requests)
    write = [d for d in requests if d["request_id"] == "write-1"]
    assert [(d["method"], d["path"], d["status"], d.get("party")) for d in write] == [
        ("POST", "/v1/works", 201, "Ann")
    ]
    assert all("party" not in d for d in requests if d["path"] == "/healthz")


def test_eight_writers_through_two_workers(workers: Workers) -> None:
    """Overlapping registrations by eight writers (four owners) at once, through both
    workers: one work per content, contested ones disputed by all four, no 5xx.
    (The benchmark runs the same at a larger size: bench_service --phases registration.)"""
    contents = 24
    report = run_writers(workers.base, workers.writer_keys, contents)
    assert set(report["statuses"]) <= {"200", "201"}, report["statuses"]
    assert report["statuses"]["201"] == contents  # each content created once, by one writer
    with open_store(workers.registry) as store:
        mine = [w for w in store.list_works() if w.owner.name.startswith("O")]
    audit = audit_registrations(mine, contents)
    assert audit == {"works": contents, "lost": 0, "doubled": 0, "wrong": 0}


def test_registration_plan_overlaps_as_documented() -> None:
    plans = [set(registration_plan(24, w)) for w in range(8)]
    assert set.intersection(*plans) == {0, 3, 6, 9, 12, 15, 18, 21}  # contested: all eight
    assert plans[1] == plans[5]  # the two writers of owner O1

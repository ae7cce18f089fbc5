"""``clearance serve`` end to end: a real uvicorn process that sees new registrations live."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from clearance.cli import main
from clearance.core import Permission, Usage
from clearance.registry import TermsChange, add_works, init_store
from tests.samples import textured_image


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(base: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text(errors="replace")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise AssertionError("clearance serve did not start")


@dataclass(frozen=True)
class Served:
    base: str
    port: int
    registry: str
    root: Path


def start_serve(
    registry: str, log: Path, env: dict[str, str] | None = None
) -> tuple[str, int, subprocess.Popen[bytes]]:
    """A ``clearance serve`` process on a free loopback port, ready: (base URL, port, process).

    ``env`` adds ``CLEARANCE_*`` settings; stderr (the access log) goes to ``log``.
    The caller terminates the process.
    """
    port = _free_port()
    full = {**os.environ, "CLEARANCE_REGISTRY": "", **(env or {})}
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "clearance", "serve", "--port", str(port), "-r", registry],
            env=full,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, proc, log)
    except BaseException:
        proc.terminate()
        proc.wait(timeout=10)
        raise
    return base, port, proc


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One ``clearance serve`` process for the module, with 1-second header and body deadlines."""
    root = tmp_path_factory.mktemp("serve")
    registry = str(root / "r.db")
    init_store(registry).close()
    env = {"CLEARANCE_API_HEADER_TIMEOUT": "1", "CLEARANCE_API_BODY_TIMEOUT": "1"}
    base, port, proc = start_serve(registry, root / "serve.log", env)
    try:
        yield Served(base, port, registry, root)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_serve_picks_up_a_registration_without_restart(served: Served) -> None:
    image = served.root / "art.png"
    textured_image(71, (400, 300)).save(image)
    base = served.base
    files = {"file": ("art.png", image.read_bytes(), "image/png")}
    assert httpx.post(f"{base}/v1/check", files=files).json()["verdict"] == "allow"
    with init_store(served.registry) as store:
        add_works(
            store, [str(image)], owner="Ada", terms=TermsChange({Usage.OUTPUT: Permission.DENY})
        )
    verdict = httpx.post(f"{base}/v1/check", files=files).json()
    assert verdict["verdict"] == "block" and verdict["matches"][0]["owner"] == "Ada"
    assert httpx.get(f"{base}/healthz").json()["works"] == 1


def test_serve_refuses_a_missing_registry(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # in process: it fails before uvicorn starts (a subprocess only adds its start-up)
    assert main(["serve", "-r", str(tmp_path / "none.db")]) == 2
    err = capsys.readouterr().err
    assert "clearance init" in err or "registry" in err


@pytest.mark.parametrize(
    ("flags", "named"),
    [(["--workers", "0"], "--workers"), (["--log-format", "xml"], "--log-format")],
)
def test_serve_bad_flags(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], named: str
) -> None:
    registry = str(tmp_path / "r.db")
    init_store(registry).close()
    assert main(["serve", "-r", registry, *flags]) == 2
    assert named in capsys.readouterr().err


def test_slow_headers_and_slow_bodies_are_cut_off(served: Served) -> None:
    """Slowloris: one header line every 0.3 s used to hold a connection for ever."""
    port = served.port
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"POST /v1/check HTTP/1.1\r\nHost: x\r\n")
        started = time.monotonic()
        answer = b""
        while time.monotonic() - started < 8:
            try:
                sock.sendall(b"X-Slow: 1\r\n")
            except OSError:
                break
            sock.settimeout(0.3)
            try:
                chunk = sock.recv(4096)
            except TimeoutError:
                continue
            answer += chunk
            if not chunk or b"408" in answer:
                break
        assert time.monotonic() - started < 4, "a slow client kept its connection"
        assert answer.startswith(b"HTTP/1.1 408") or answer == b""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            b"POST /v1/check HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n"
            b'content-length: 100\r\n\r\n{"text": '
        )
        sock.settimeout(5)
        answer = sock.recv(4096)
        while b"}" not in answer and (chunk := sock.recv(4096)):
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 408"), answer
        assert b'"type":"BodyTimeout"' in answer.replace(b" ", b"")


def test_serve_says_where_it_listens_and_logs_each_request(served: Served) -> None:
    """The address first, then one Common Log Format line per request, on stderr."""
    import re

    assert httpx.get(f"{served.base}/healthz?probe=1").status_code == 200
    assert httpx.post(f"{served.base}/v1/check", content=b"{").status_code == 400
    log = served.root / "serve.log"
    deadline = time.monotonic() + 10
    pattern = re.compile(
        r"^127\.0\.0\.1 - - \[\d{2}/\w{3}/\d{4}:\d{2}:\d{2}:\d{2} \+0000\] "
        r'"(GET /healthz\?probe=1|POST /v1/check) HTTP/1\.1" (200|400) \d+$'
    )
    wanted = ('"GET /healthz?probe=1 HTTP/1.1" 200', '"POST /v1/check HTTP/1.1" 400')

    def found(lines: list[str]) -> list[bool]:
        # the module's server also logged other tests' requests (a POST /v1/check 200
        # among them), so wait for these two lines, not for any two
        hits = [line for line in lines if pattern.match(line)]
        return [any(w in h for h in hits) for w in wanted]

    while time.monotonic() < deadline:
        lines = log.read_text(errors="replace").splitlines()
        if all(found(lines)):
            break
        time.sleep(0.1)
    assert f"on http://127.0.0.1:{served.port} " in lines[0], lines
    assert found(lines) == [True, True], lines


def test_access_log_lines_are_one_line_whatever_the_path() -> None:
    from datetime import UTC, datetime

    from clearance.api.accesslog import log_line

    scope = {"type": "http", "client": ("10.0.0.1", 5), "method": "GET", "http_version": "1.1",
             "raw_path": b'/a"b\n\x1b[31m', "query_string": b"q=1"}  # fmt: skip
    line = log_line(scope, 404, 0, datetime(2026, 12, 4, 15, 41, 8, tzinfo=UTC))
    assert line == (
        '10.0.0.1 - - [04/Dec/2026:15:41:08 +0000] "GET /a\\"b\\x0a\\x1b[31m?q=1 HTTP/1.1" 404 -'
    )


def test_json_log_lines_are_one_json_object_whatever_the_path() -> None:
    import json
    from datetime import UTC, datetime

    from clearance.api.accesslog import PARTY, json_line, request_id

    scope = {"type": "http", "client": ("10.0.0.1", 5), "method": "GET", "http_version": "1.1",
             "raw_path": b'/a"b\n\x1b[31m', "query_string": b"q=1"}  # fmt: skip
    scope["state"] = {PARTY: "Ann"}
    at = datetime(2026, 12, 4, 15, 41, 8, 123000, tzinfo=UTC)
    line = json_line(scope, 503, 12, at, 0.0042, "rid-1")
    assert "\n" not in line
    doc = json.loads(line)
    assert doc["path"] == '/a"b\n\x1b[31m' and doc["query"] == "q=1"
    assert (doc["time"], doc["level"], doc["status"], doc["party"]) == (
        "2026-12-04T15:41:08.123Z",
        "error",
        503,
        "Ann",
    )
    assert doc["duration_ms"] == 4.2 and doc["request_id"] == "rid-1"
    # a client's id is echoed only when it is short and plain
    assert request_id({"headers": [(b"x-request-id", b"abc-1.2_3")]}) == "abc-1.2_3"
    made = {request_id({"headers": [(b"x-request-id", b"a b")]}) for _ in range(3)}
    assert len(made) == 3 and "a b" not in made

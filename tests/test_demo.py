"""``make demo`` runs end to end, and every command it prints can be pasted into a shell."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from clearance.demo import run_demo
from clearance.registry import open_store
from clearance.registry.accounts import authenticate
from tests.test_docs import parse


def test_the_demo_prints_commands_a_shell_can_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    assert run_demo(tmp_path / "demo") == 0
    out = capsys.readouterr().out
    commands = [line[2:] for line in out.splitlines() if line.startswith("$ clearance ")]
    assert len(commands) > 15
    owners = set()
    for line in commands:
        words = shlex.split(line, comments=True)  # what a shell makes of the pasted line
        parse(words[1:])
        if "--owner" in words:
            owners.add(words[words.index("--owner") + 1])
    assert "Dana (claims Ben's photo)" in owners and "Ann (illustrator, opts out)" in owners
    # it ends with the web app: the command that serves it, the address and working logins
    assert any(c.startswith("clearance serve --registry ") for c in commands)
    assert "The web app: http://127.0.0.1:8000" in out and "genco@demo.example" in out
    with open_store(str(tmp_path / "demo" / "clearance.db")) as store:
        assert authenticate(store, "ann@demo.example", "clearance-demo").role.value == "creator"
    tables = [line for line in out.splitlines() if line.startswith(("│", "┃"))]
    assert tables and all(len(line) <= 80 and "…" not in line for line in tables)
    _serves_the_demo_registry(tmp_path / "demo")


def _serves_the_demo_registry(out: Path) -> None:
    """``python -m clearance.demo --serve --reuse``: the address first, then answers."""
    import socket
    import subprocess
    import sys
    import time

    import httpx

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = out / "serve.log"
    command = [sys.executable, "-m", "clearance.demo", str(out), "--serve", "--reuse"]
    with log.open("wb") as sink:
        proc = subprocess.Popen([*command, "--port", str(port)], stdout=sink, stderr=sink)
    try:
        deadline = time.monotonic() + 60
        while f"on http://127.0.0.1:{port} " not in log.read_text(errors="replace"):
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        base = f"http://127.0.0.1:{port}"
        while True:
            try:
                ready = httpx.get(f"{base}/readyz", timeout=2)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        assert ready.json()["works"] > 5
        url = "https://ann-illustrates.example/gallery/1.jpg"
        answer = httpx.post(f"{base}/v1/query/urls", content=url).json()["urls"][0]
        assert answer["optOut"] is True  # Ann's domain claim denies train-ai
        assert "Authorization: Bearer " in log.read_text()  # the printed key, to paste
    finally:
        proc.terminate()
        proc.wait(timeout=20)

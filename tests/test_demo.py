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

"""``make demo`` runs end to end, and every command it prints can be pasted into a shell."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from clearance.demo import run_demo
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
    tables = [line for line in out.splitlines() if line.startswith(("│", "┃"))]
    assert tables and all(len(line) <= 80 and "…" not in line for line in tables)

"""``clearance accounts create|list``: an operator makes the first admin account."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from clearance.cli import main
from clearance.registry import open_store
from clearance.registry.accounts import authenticate


def test_an_operator_creates_an_admin_account(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    reg = str(tmp_path / "r.db")
    assert main(["init", "--registry", reg]) == 0
    capsys.readouterr()
    monkeypatch.setattr("sys.stdin", io.StringIO("operator passphrase\n"))
    args = ["accounts", "create", "op@example.com", "--party", "Ops", "--registry", reg]
    assert main([*args, "--json"]) == 0
    made = json.loads(capsys.readouterr().out)
    assert (made["email"], made["party"], made["role"]) == ("op@example.com", "Ops", "admin")
    with open_store(reg) as store:
        assert authenticate(store, "op@example.com", "operator passphrase").party == "Ops"
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["accounts", "create", "other@example.com", *args[3:]]) == 2
    assert "at least 10" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("operator passphrase\n"))
    assert main(["accounts", "create", "x@example.com", "--party", "Ops", "--registry", reg]) == 2
    assert "already in the registry" in capsys.readouterr().err
    assert main(["accounts", "list", "--registry", reg, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["count"] == 1

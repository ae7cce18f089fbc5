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


def test_the_demo_seeds_a_creator_and_a_developer(tmp_path: Path) -> None:
    from rich.console import Console

    from clearance.demo import print_web_access, seed_web_accounts

    reg = str(tmp_path / "demo.db")
    assert main(["init", "--registry", reg]) == 0
    accounts = seed_web_accounts(reg)
    assert seed_web_accounts(reg) == accounts  # a second call changes nothing
    roles = {a["role"] for a in accounts}
    assert {"creator", "developer", "admin"} <= roles
    with open_store(reg) as store:
        for a in accounts:
            assert authenticate(store, a["email"], a["password"]).party == a["party"]
    console = Console(record=True, width=200)
    print_web_access(console, "http://127.0.0.1:8000/", accounts)
    text = console.export_text()
    assert "http://127.0.0.1:8000/creator" in text and "genco@demo.example" in text

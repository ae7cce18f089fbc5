"""The CLI contract: commands, --json documents, exit codes, registry selection."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from clearance.cli import main
from tests.samples import POEM, write_image


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, Any, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    doc = json.loads(out) if "--json" in args and code == 0 else out
    return code, doc, err


def test_round_trip_on_both_backends(
    registry_location: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reg = ("--registry", registry_location)
    code, doc, _ = run(capsys, "init", *reg, "--json")
    assert code == 0 and doc["revision"] == "0004" and doc["works"] == 0
    img = write_image(tmp_path / "art.jpg", 11)
    (tmp_path / "poem.txt").write_text(POEM, encoding="utf-8")
    code, doc, _ = run(
        capsys,
        "works",
        "add",
        str(img),
        str(tmp_path / "poem.txt"),
        "--owner",
        "Ann",
        "--deny",
        "tdm",
        "--license",
        "output",
        "--price",
        "0.05",
        "--currency",
        "eur",
        "--per",
        "item",
        *reg,
        "--json",
    )
    assert code == 0
    works = doc["works"]
    assert [w["kind"] for w in works] == ["image", "text"]
    assert all(len(w["sha256"]) == 64 for w in works)
    assert works[0]["terms"] == {
        "tdm": "deny",
        "train-ai": "deny",
        "train-genai": "deny",
        "ai-input": "deny",
        "search": "unknown",
        "output": "license",
    }
    assert works[0]["price"] == {"amount": "0.05", "currency": "EUR", "per": "item"}
    assert doc["skipped"] == []
    code, doc, _ = run(capsys, "works", "list", *reg, "--json")
    assert code == 0 and doc["count"] == 2
    first = doc["works"][0]["id"]
    code, doc, _ = run(
        capsys,
        "terms",
        "set",
        "--work",
        str(first),
        "--allow",
        "search",
        "--unset",
        "output",
        *reg,
        "--json",
    )
    assert code == 0 and doc["work"]["terms"]["search"] == "allow"
    assert doc["work"]["terms"]["output"] == "unknown" and doc["work"]["price"] is None
    code, doc, _ = run(capsys, "terms", "set", "--owner", "Ann", "--deny", "output", *reg, "--json")
    assert code == 0 and doc["terms"]["output"] == "deny"
    code, doc, _ = run(capsys, "works", "show", str(first), *reg, "--json")
    assert doc["work"]["terms"]["output"] == "deny"  # owner default fills the unset usage
    code, out, _ = run(capsys, "works", "show", str(first), *reg)
    assert code == 0 and "terms.output" in out
    code, doc, _ = run(capsys, "works", "add", str(img), "--owner", "Bob", *reg, "--json")
    assert doc["works"][0]["status"] == "disputed" and doc["works"][0]["disputed"] is True
    code, out, _ = run(capsys, "works", "show", str(first), *reg)
    assert "Bob: disputed" in out
    code, doc, _ = run(capsys, "works", "remove", str(first), *reg, "--json")
    assert code == 0 and doc["removed"]["id"] == first
    code, doc, _ = run(capsys, "works", "list", *reg, "--json")
    assert doc["count"] == 1
    code, doc, _ = run(capsys, "audit", *reg, "--json")
    assert "work.remove" in [e["action"] for e in doc["entries"]]


@pytest.mark.parametrize(
    "args",
    [
        ("works", "add", "MISSING.jpg", "--owner", "A"),
        ("works", "add", "domain:example.com", "--owner", "A", "--deny", "training"),
        ("works", "add", "domain:example.com", "--owner", "A", "--license", "output"),
        ("works", "add", "domain:example.com", "--owner", "A", "--deny", "tdm", "--allow", "tdm"),
        (
            "works",
            "add",
            "domain:example.com",
            "--owner",
            "A",
            "--license",
            "output",
            "--price",
            "1",
        ),
        ("works", "show", "999"),
        ("works", "remove", "999"),
        ("terms", "set", "--deny", "tdm"),
        ("works", "add", "--bogus-flag"),
        ("works", "add", "domain:example.com", "--owner", "A", "--kind", "sculpture"),
    ],
)
def test_user_errors_exit_2_with_one_line(
    args: tuple[str, ...], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reg = str(tmp_path / "r.db")
    assert main(["init", "--registry", reg]) == 0
    capsys.readouterr()
    code, out, err = run(capsys, *args, "--registry", reg)
    assert code == 2
    assert "Traceback" not in err
    assert out == ""


def test_uninitialised_registry_is_a_user_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "works", "list", "--registry", str(tmp_path / "none.db"))
    assert code == 2 and "clearance init" in err


def test_unreachable_database_exits_3(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "works", "list", "--registry", "postgresql://root@127.0.0.1:1/none")
    assert code == 3
    assert "cannot reach the registry" in err and "Traceback" not in err
    code, _, err = run(
        capsys, "--debug", "works", "list", "--registry", "postgresql://root@127.0.0.1:1/none"
    )
    assert code == 3 and "Traceback" in err


def test_registry_precedence_flag_then_env_then_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CLEARANCE_REGISTRY", raising=False)
    assert main(["init", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["registry"] == str(tmp_path / "clearance.db")
    monkeypatch.setenv("CLEARANCE_REGISTRY", str(tmp_path / "env.db"))
    assert main(["init", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["registry"] == str(tmp_path / "env.db")
    assert main(["init", "--json", "--registry", str(tmp_path / "flag.db")]) == 0
    assert json.loads(capsys.readouterr().out)["registry"] == str(tmp_path / "flag.db")


def test_console_script_runs(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "clearance"
    result = subprocess.run(
        [str(exe), "works", "list", "--registry", str(tmp_path / "x.db")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") <= 2 and "error:" in result.stderr

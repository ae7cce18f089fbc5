"""``clearance agreements grant|list|revoke`` and ``clearance usage list``: JSON and exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from clearance.cli import main
from tests.samples import write_image


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, Any, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    doc = json.loads(out) if "--json" in args and code == 0 else out
    return code, doc, err


@pytest.fixture
def reg(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[str, str]:
    location = str(tmp_path / "r.db")
    assert main(["init", "--registry", location]) == 0
    img = write_image(tmp_path / "art.jpg", 21)
    args = ["works", "add", str(img), "--owner", "Studio", "--registry", location]
    assert main([*args, "--license", "output", "--price", "1", "--currency", "EUR"]) == 0
    capsys.readouterr()
    return "--registry", location


def test_grant_list_revoke(reg: tuple[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    code, doc, _ = run(
        capsys,
        "agreements",
        "grant",
        "--licensee",
        "GenCo",
        "--owner",
        "Studio",
        "--work",
        "1",
        "--usage",
        "output,ai-input",
        "--until",
        "2099-12-31",
        "--reference",
        "C-1",
        *reg,
        "--json",
    )
    assert code == 0
    a = doc["agreement"]
    assert a["usages"] == ["ai-input", "output"] and a["work_id"] == 1
    assert a["ends_at"].startswith("2100-01-01T00:00:00") and a["reference"] == "C-1"
    code, doc, _ = run(capsys, "agreements", "list", "--licensee", "GenCo", *reg, "--json")
    assert code == 0 and [x["id"] for x in doc["agreements"]] == [a["id"]]
    code, out, _ = run(capsys, "agreements", "list", *reg)
    assert code == 0 and "GenCo may use Studio's work 1" in out
    code, out, _ = run(capsys, "agreements", "revoke", str(a["id"]), *reg)
    assert code == 0 and "revoked" in out
    code, _, err = run(capsys, "agreements", "revoke", str(a["id"]), *reg)
    assert code == 2 and "already revoked" in err
    code, doc, _ = run(capsys, "audit", *reg, "--json")
    actions = [e["action"] for e in doc["entries"]]
    assert "agreement.grant" in actions and "agreement.revoke" in actions


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--licensee", "GenCo", "--owner", "Nobody"], "no party named 'Nobody'"),
        (["--licensee", "GenCo", "--owner", "Studio", "--work", "99"], "no work with id 99"),
        (["--licensee", "GenCo", "--owner", "Studio", "--usage", "outptu"], "unknown usage"),
        (["--licensee", "GenCo", "--owner", "Studio", "--until", "soon"], "not a date"),
        (["--licensee", "GenCo", "--owner", "Studio", "--until", "2001-01-01"], "before it"),
    ],
)
def test_bad_grants_exit_2(
    reg: tuple[str, str], capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, _, err = run(capsys, "agreements", "grant", *args, *reg)
    assert code == 2 and message in err


def test_usage_list_and_unknown_licensee(
    reg: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, doc, _ = run(capsys, "usage", "list", *reg, "--json")
    assert code == 0 and doc == {"events": []}
    code, out, _ = run(capsys, "usage", "list", "--work", "1", *reg)
    assert code == 0 and "usage events" in out
    code, _, err = run(capsys, "usage", "list", "--licensee", "Nobody", *reg)
    assert code == 2 and "no party named 'Nobody'" in err
    code, _, err = run(capsys, "agreements", "list", "--licensee", "Nobody", *reg)
    assert code == 2

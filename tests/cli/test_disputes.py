"""`works add` opens disputes for near-duplicates; `clearance disputes` resolves them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from PIL import ImageOps

from clearance.cli import main
from tests.samples import textured_image


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, Any, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    doc = json.loads(out) if "--json" in args and code == 0 else out
    return code, doc, err


def test_disputes_from_the_command_line(
    registry_location: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reg = ("--registry", registry_location)
    im = textured_image(7, (480, 360))
    im.save(tmp_path / "ann.png")
    ImageOps.colorize(im.convert("L"), "#402010", "#f0e0c0").save(tmp_path / "zed.jpg")
    assert run(capsys, "init", *reg, "--json")[0] == 0
    code, doc, _ = run(
        capsys, "works", "add", str(tmp_path / "ann.png"), "--owner", "Ann", "--deny", "output",
        *reg, "--json",
    )  # fmt: skip
    assert code == 0
    work_id = doc["works"][0]["id"]
    code, doc, _ = run(
        capsys, "works", "add", str(tmp_path / "zed.jpg"), "--owner", "Zed",
        "--license", "train-genai=0.02EUR/item", *reg, "--json",
    )  # fmt: skip
    assert code == 0 and doc["works"][0]["status"] == "disputed"
    assert doc["works"][0]["id"] == work_id and doc["works"][0]["owner"] == "Ann"

    code, doc, _ = run(capsys, "disputes", "list", *reg, "--json")
    assert code == 0 and doc["count"] == 1 and doc["disputes"][0]["id"] == work_id
    code, doc, _ = run(capsys, "disputes", "show", str(work_id), *reg, "--json")
    dispute = doc["dispute"]
    assert dispute["status"] == "open" and dispute["first_claim"] == "Ann"
    ann, zed = dispute["claims"]
    assert ann["owner"] and ann["terms"]["permissions"] == {"output": "deny"}
    assert zed["terms"]["prices"]["train-genai"]["amount"] == "0.02"
    assert zed["evidence"][0]["method"] in ("pdq", "region") and zed["verification"] == "self"
    code, out, _ = run(capsys, "disputes", "show", str(work_id), *reg)
    assert code == 0 and "Zed" in out and "pdq:" in out and "(first)" in out

    code, _, err = run(
        capsys, "disputes", "resolve", str(work_id), "--keep", "Bob", "--reason", "x", *reg
    )
    assert code == 2 and "no open claim" in err
    code, _, err = run(capsys, "disputes", "show", "999", *reg)
    assert code == 2
    code, _, err = run(capsys, "disputes", "resolve", str(work_id), "--keep", "Zed", *reg)
    assert code == 2 and "--reason" in err
    code, doc, _ = run(
        capsys, "disputes", "resolve", str(work_id), "--keep", "Zed", "--reason",
        "Zed shot it", "--actor", "Operator", *reg, "--json",
    )  # fmt: skip
    assert code == 0 and doc["dispute"]["status"] == "resolved"
    assert doc["dispute"]["owner"] == "Zed" and doc["dispute"]["resolution"]["actor"] == "Operator"
    code, doc, _ = run(capsys, "works", "show", str(work_id), *reg, "--json")
    assert doc["work"]["owner"] == "Zed" and not doc["work"]["disputed"]
    assert doc["work"]["terms"]["train-genai"] == "license"
    code, doc, _ = run(capsys, "audit", *reg, "--json")
    resolved = [e for e in doc["entries"] if e["action"] == "claim.resolve"]
    assert resolved and resolved[0]["actor"] == "Operator"
    code, _, err = run(capsys, "disputes", "resolve", str(work_id), "--keep", "Zed",
                       "--reason", "again", *reg)  # fmt: skip
    assert code == 2 and "not disputed" in err
    code, _, err = run(capsys, "works", "add", str(tmp_path / "ann.png"), "--owner", "Ann", *reg)
    assert code == 2 and "rejected" in err

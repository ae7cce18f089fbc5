"""Decision rules: modes, purposes, reasons, licences.json totals and report.json counts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import clearance
from clearance.scan import scan
from tests.samples import POEM
from tests.scan.conftest import decisions, read_json

URLS = [
    "https://dana.example/1.jpg",
    "https://ben.example/lyrics/a",
    "https://ben.example/lyrics/b",
    "https://ben.example/lyrics/c",
    "https://cleo.example/photo.jpg",
    "https://free.example/1.jpg",
]


def _jsonl(path: Path, rows: list[dict[str, str]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    rows = [{"url": u} for u in URLS] + [{"text": POEM}, {"text": POEM + " again"}]
    return _jsonl(tmp_path / "d.jsonl", rows)


@pytest.mark.parametrize(
    ("purpose", "mode", "expected"),
    [
        (
            "train-genai",
            "opt-out",
            ["exclude", "needs-license", "needs-license", "needs-license", "include", "include"],
        ),
        (
            "train-genai",
            "opt-in",
            ["exclude", "needs-license", "needs-license", "needs-license", "include", "exclude"],
        ),
        ("search", "opt-out", ["include"] * 6),
        ("search", "opt-in", ["exclude"] * 6),
        ("tdm", "opt-out", ["include", "include", "include", "include", "include", "include"]),
        ("ai-input", "opt-out", ["include"] * 6),
    ],
)
def test_modes_and_purposes(
    tmp_path: Path, registry: str, dataset: Path, purpose: str, mode: str, expected: list[str]
) -> None:
    out = tmp_path / "out"
    scan(dataset, out, registry=registry, web="off", workers=1, purpose=purpose, mode=mode)
    rows = decisions(out)
    assert [rows[u]["outcome"] for u in URLS] == expected
    cfg = read_json(out / "manifest.json")["config"]
    assert (cfg["purpose"], cfg["mode"]) == (purpose, mode)


def test_reasons_and_permission_columns(tmp_path: Path, registry: str, dataset: Path) -> None:
    out = tmp_path / "out"
    scan(dataset, out, registry=registry, web="off", workers=1)
    row = decisions(out)["https://dana.example/1.jpg"]
    assert row["reasons"] == ["registry:train-ai=deny"]
    assert row["perm_train-ai"] == row["perm_train-genai"] == "deny"
    assert row["perm_tdm"] == row["perm_search"] == "unknown"
    assert row["work_ids"] and row["error"] is None
    ev = json.loads(row["evidence"])
    assert ev["evidence"][0]["detail"].endswith("by Dana")
    assert ev["works"][0]["matched_by"] == ["domain"]


def test_licenses_and_report(tmp_path: Path, registry: str, dataset: Path) -> None:
    out = tmp_path / "out"
    result = clearance.scan(dataset, out, registry=registry, web="off", workers=1)
    lic = read_json(out / "licenses.json")
    assert lic["format_version"] == 1 and lic["items"] == 5
    owners = {o["owner"]: o for o in lic["owners"]}
    # per item: 2 texts x 0.02 EUR; per run: 5 EUR once for 3 URLs under the prefix
    assert owners["Ben"]["totals"] == {"EUR": "0.04"}
    assert owners["Ben"]["works"][0]["item_count"] == 2
    assert owners["Ben Music"]["totals"] == {"EUR": "5"}
    assert owners["Ben Music"]["works"][0]["item_count"] == 3
    assert lic["totals"] == {"EUR": "5.04"}
    report = read_json(out / "report.json")
    assert report == result.report
    assert report["format_version"] == 1 and report["items"] == 8
    assert report["outcomes"] == {
        "include": 2,
        "exclude": 1,
        "needs-license": 5,
        "review": 0,
        "error": 0,
    }
    assert report["by_reason_source"] == {"registry": 7}
    assert report["by_domain"]["ben.example"] == {"items": 3, "needs-license": 3}
    assert report["by_owner"]["Dana"] == {"items": 1, "exclude": 1}
    manifest = read_json(out / "manifest.json")
    assert manifest["format_version"] == 1
    assert len(manifest["registry_state"]) == 64 and list(manifest["inputs"]) == ["d.jsonl"]
    html = (out / "report.html").read_text(encoding="utf-8")
    assert (
        html.startswith("<!doctype html>") and f"<b>{report['outcomes']['include']:,}</b>" in html
    )
    assert {
        "decisions.parquet",
        "report.json",
        "report.html",
        "licenses.json",
        "cleared/d.jsonl",
    } <= set(manifest["outputs"])
    assert manifest["shards"][0]["items"] == 8

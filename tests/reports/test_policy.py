"""The copyright policy (Art. 53(1)(c)) follows the configuration it is generated from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clearance.cli import main
from clearance.core.errors import InvalidUsage, UserError
from clearance.reports import copyright_policy, render
from clearance.reports.document import Field, Table


def _read(doc: object) -> dict[str, str]:
    table = next(e for s in doc.sections for e in s.entries if isinstance(e, Table))  # type: ignore[attr-defined]
    return {r[0]: r[2] for r in table.rows}


def test_protocols_read_follow_the_web_mode() -> None:
    off = _read(copyright_policy(web="off", contact="x@example.org"))
    assert (
        off["Clearance rights registry"] == "yes"
        and off["C2PA / CAWG training-and-data-mining assertion"] == "yes"
    )
    assert off["robots.txt (RFC 9309)"] == "no (needs --web origin)"
    origin = _read(copyright_policy(web="origin", contact="x@example.org"))
    assert (
        origin["robots.txt (RFC 9309)"] == "yes"
        and origin["X-Robots-Tag noai / noimageai"] == "no (needs --web head)"
    )
    head = _read(copyright_policy(web="head", contact="x@example.org"))
    assert all(v == "yes" for v in head.values())


def test_mode_decides_unknown_sources() -> None:
    def unknown(mode: str) -> str:
        doc = copyright_policy(mode=mode, contact="x@example.org")
        return next(
            e.value
            for s in doc.sections
            for e in s.entries
            if isinstance(e, Field) and e.label == "Content nobody reserved or allowed"
        )

    assert unknown("opt-out").startswith("used")
    assert unknown("opt-in").startswith("not used")


def test_from_a_scan_and_its_contact(scans: list[Path], info: Path) -> None:
    doc = copyright_policy(scan_dir=scans[0], info=info)
    md = render(doc, "md")
    assert "train-ai" in md and "Example AI SAS" in md and "legal@example.ai" in md
    assert "no (needs --web origin)" in md  # the scans ran with --web off
    assert doc.missing == []
    assert "not legal advice" in md


def test_a_missing_contact_is_listed_not_invented() -> None:
    doc = copyright_policy()
    assert doc.missing == ["provider.name", "policy.contact"]
    assert "**Not provided** (`policy.contact`" in render(doc, "md")


def test_bad_settings_are_user_errors(tmp_path: Path) -> None:
    with pytest.raises(InvalidUsage):
        copyright_policy(mode="sometimes")
    with pytest.raises(UserError, match="--web"):
        copyright_policy(web="full")
    with pytest.raises(UserError, match="does not exist"):
        copyright_policy(scan_dir=tmp_path)


def test_cli_policy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "--format", "md", "--contact", "rights@example.org"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# Copyright policy") and "rights@example.org" in out
    assert main(["policy", "--json", "--mode", "opt-in"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["format"] == "clearance.copyright-policy" and "policy.contact" in doc["missing"]
    path = tmp_path / "policy.html"
    assert main(["policy", "--format", "html", "--out", str(path)]) == 0
    assert path.read_text().startswith("<!DOCTYPE html>")
    assert main(["policy", "--format", "pdf"]) == 2
    assert main(["policy", "--web", "sometimes"]) == 2

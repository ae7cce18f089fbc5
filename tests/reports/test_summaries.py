"""The EU summary and the AB 2013 disclosure from a two-dataset run, in all three formats."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from clearance.cli import main
from clearance.core.errors import UserError
from clearance.reports import render, summarize, write_document
from clearance.reports.document import Document, Field, Section, Table
from tests.reports.conftest import HOSTS

EU_SECTIONS = [
    ("1.", "General information"),
    ("1.1.", "Provider identification"),
    ("1.2.", "Model identification"),
    ("1.3.", "Modalities, overall training data size and other characteristics"),
    ("2.", "List of data sources"),
    ("2.1.", "Publicly available datasets"),
    ("2.2.", "Private non-publicly available datasets obtained from third parties"),
    ("2.2.1.", "Datasets commercially licensed by rightsholders or their representatives"),
    ("2.2.2.", "Private datasets obtained from other third parties"),
    ("2.3.", "Data crawled and scraped from online sources"),
    ("2.4.", "User data"),
    ("2.5.", "Synthetic data"),
    ("2.6.", "Other sources of data"),
    ("3.", "Data processing aspects"),
    ("3.1.", "Respect of reservation of rights from text and data mining exception or limitation"),
    ("3.2.", "Removal of illegal content"),
    ("3.3.", "Other information (optional)"),
]


def walk(sections: list[Section]) -> list[Section]:
    out = []
    for s in sections:
        out.append(s)
        out += walk(s.sections)
    return out


def section(doc: Document, number: str) -> Section:
    return next(s for s in walk(doc.sections) if s.number == number)


def tables(s: Section) -> list[Table]:
    return [e for e in s.entries if isinstance(e, Table)]


def field(s: Section, label: str) -> Field:
    return next(e for e in s.entries if isinstance(e, Field) and e.label.startswith(label))


def test_the_eu_summary_has_the_templates_sections(scans: list[Path], info: Path) -> None:
    doc = summarize(scans, "eu-summary", info)
    assert [(s.number, s.title) for s in walk(doc.sections)] == EU_SECTIONS


def test_the_eu_summary_fills_in_what_the_scans_know(scans: list[Path], info: Path) -> None:
    doc = summarize(scans, "eu-summary", info)
    rows = [r for d in scans for r in pq.read_table(d / "decisions.parquet").to_pylist()]
    used = sum(r["outcome"] == "include" for r in rows)
    assert f"{used:,} of {len(rows):,} items" in field(section(doc, "1.3."), "Items used").value
    # 2.3: hosts ranked by items used; the top 10% of the hosts with content used
    (crawlers, domains) = tables(section(doc, "2.3."))
    assert crawlers.rows == (("ExampleBot", "collecting training data", "follows robots.txt"),)
    assert [r[0] for r in domains.rows] == ["h19.example", "h18.example"]  # 10% of 20, by volume
    assert domains.rows[0][1] == HOSTS
    # 2.2.1: the licences the scans found, by rights holder
    licences = tables(section(doc, "2.2.1."))[1]
    holders = {r[0]: r[1] for r in licences.rows}
    assert holders["Ben Music"] == 3 + 10  # 3 lyrics URLs in web-images, 10 in texts
    assert "Ben" in holders
    # 3.1: protocols read per dataset, items excluded per protocol and per registry owner
    per_dataset, per_protocol, per_owner = tables(section(doc, "3.1."))
    assert [r[0] for r in per_dataset.rows] == ["web-images", "texts"]
    assert per_protocol.rows[0][0] == "Clearance rights registry (registry)"
    owners = {r[0]: r for r in per_owner.rows}
    assert owners["Dana"][2] == 4 + 10  # excluded: 4 in web-images, 10 in texts
    assert owners["Ben Music"][3] == 13
    # 3.3: each scan's root
    roots = tables(section(doc, "3.3."))[0].rows
    manifests = [json.loads((d / "manifest.json").read_text()) for d in scans]
    assert [r[1] for r in roots] == [m["merkle"]["root"] for m in manifests]


def test_provider_statements_come_from_the_info_file_and_gaps_are_listed(
    scans: list[Path], info: Path
) -> None:
    doc = summarize(scans, "eu-summary", info)
    assert field(section(doc, "1.1."), "Provider name").value == "Example AI SAS"
    assert field(section(doc, "1.2."), "Date of placement").value == "2026-03-01"
    assert field(section(doc, "3.1."), "Signatory").value == "yes"
    assert field(section(doc, "2.2.1."), "Scanned datasets in this category").value == "yes: 1"
    assert doc.missing == [
        "crawling.content",
        "user_data",
        "synthetic_data",
        "illegal_content_measures",
    ]
    for key in doc.missing:
        assert any(
            isinstance(e, Field) and e.source == "missing" and e.key == key
            for s in walk(doc.sections)
            for e in s.entries
        )


def test_without_an_info_file_nothing_is_invented(scans: list[Path]) -> None:
    doc = summarize(scans, "eu-summary", None)
    values = [
        e
        for s in walk(doc.sections)
        for e in s.entries
        if isinstance(e, Field) and e.source == "info"
    ]
    assert all(e.value in ("not applicable", "none stated") for e in values)
    assert "provider.name" in doc.missing and "model.modalities" in doc.missing
    assert "datasets.<name>.kind" not in doc.missing  # per-dataset kinds are listed by name
    assert "datasets.web-images.kind" in doc.missing
    md = render(doc, "md")
    assert "Example AI" not in md and "**Not provided** (`provider.name`" in md


def test_sme_lists_the_top_5_percent(scans: list[Path], info: Path, tmp_path: Path) -> None:
    sme = tmp_path / "sme.yaml"
    sme.write_text(info.read_text() + "\n", encoding="utf-8")
    sme.write_text(sme.read_text().replace("provider:\n", "provider:\n  sme: true\n"))
    doc = summarize(scans, "eu-summary", sme)
    assert [r[0] for r in tables(section(doc, "2.3."))[1].rows] == ["h19.example"]


def test_the_ab2013_disclosure(scans: list[Path], info: Path) -> None:
    doc = summarize(scans, "ab2013", info)
    datasets = section(doc, "(a)").sections
    assert [s.title for s in datasets] == ["Dataset 1: Web images", "Dataset 2: Licensed texts"]
    for s in datasets:
        labels = [e.label for e in s.entries if isinstance(e, Field)]
        assert [label.split(")")[0] + ")" for label in labels] == [f"({n})" for n in range(1, 12)]
    web = datasets[0]
    rows = pq.read_table(scans[0] / "decisions.parquet").to_pylist()
    used = sum(r["outcome"] == "include" for r in rows)
    assert field(web, "(3)").value == f"{used:,} items used ({len(rows):,} scanned)"
    assert field(web, "(1)").value == "the sites listed in 2.3"
    assert field(web, "(11)").value == "2026-01-10"
    assert field(web, "(7)").source == "missing"
    assert "Ben Music" in field(web, "(6)").note
    assert "datasets.texts.owner" in doc.missing and "synthetic_data" in doc.missing
    assert field(section(doc, "(a)(12)"), "Whether").source == "missing"


@pytest.mark.parametrize("kind", ["eu-summary", "ab2013"])
@pytest.mark.parametrize("suffix", [".md", ".html", ".json"])
def test_every_format_renders(
    scans: list[Path], info: Path, tmp_path: Path, kind: str, suffix: str
) -> None:
    doc = summarize(scans, kind, info)
    path = write_document(doc, tmp_path / f"summary{suffix}")
    text = path.read_text(encoding="utf-8")
    if suffix == ".json":
        parsed: dict[str, Any] = json.loads(text)
        assert parsed["format"] == doc.format and parsed["missing"] == doc.missing
        assert parsed["sections"][0]["title"] == doc.sections[0].title
    elif suffix == ".html":
        assert text.startswith("<!DOCTYPE html>") and "<script" not in text
        assert "example-gen 1.0 &lt;beta&gt;" in text and "<beta>" not in text
    else:
        assert text.startswith("# ") and "example-gen 1.0 <beta>" in text
    assert not list(tmp_path.glob(".*.tmp"))


def test_cli_report(
    scans: list[Path], info: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "eu.md"
    code = main(
        [
            "report",
            *map(str, scans),
            "--format",
            "eu-summary",
            "--info",
            str(info),
            "--out",
            str(out),
            "--json",
        ]
    )
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and doc["out"] == str(out) and doc["scans"] == 2 and out.is_file()
    assert doc["missing"] == [
        "crawling.content",
        "user_data",
        "synthetic_data",
        "illegal_content_measures",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "eu-sumary", "--out", "x.md"], "--format must be one of"),
        (["--format", "ab2013", "--out", "x.pdf"], "end --out with"),
        (["--format", "ab2013", "--out", "no/such/dir/x.md"], "does not exist"),
        (["--format", "ab2013", "--out", "x.md", "--info", "missing.yaml"], "does not exist"),
        (["--format", "ab2013", "--out", "x.md", "--info", "BAD"], "not valid YAML"),
        (["--format", "ab2013", "--out", "x.md", "--info", "LIST"], "must hold a YAML mapping"),
        (["--format", "eu-summary", "--out", "x.md", "--info", "KIND"], "use one of"),
    ],
)
def test_cli_report_errors_exit_2(
    scans: list[Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "BAD").write_text("a: [1, 2\n", encoding="utf-8")
    (tmp_path / "LIST").write_text("- a\n- b\n", encoding="utf-8")
    (tmp_path / "KIND").write_text("datasets:\n  texts: {kind: stolen}\n", encoding="utf-8")
    code = main(["report", *map(str, scans), *args])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err


def test_a_directory_that_is_not_a_scan(tmp_path: Path) -> None:
    with pytest.raises(UserError):
        summarize([tmp_path], "eu-summary")
    with pytest.raises(UserError, match="at least one"):
        summarize([], "eu-summary")


def test_two_scans_with_the_same_name_are_refused(scans: list[Path], tmp_path: Path) -> None:
    import shutil

    twin = tmp_path / "texts"
    shutil.copytree(scans[1], twin)
    with pytest.raises(UserError, match="two scan directories are named 'texts'"):
        summarize([scans[1], twin], "ab2013")

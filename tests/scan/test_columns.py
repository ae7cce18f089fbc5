"""Column roles: LAION's and img2dataset's layouts with no flags, ``--columns``, captions."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from clearance.cli import main
from clearance.core.errors import UserError
from clearance.scan import ScanConfig, scan
from clearance.scan.formats import open_input
from clearance.scan.formats.columns import ColumnMap, parse_columns
from tests.samples import POEM
from tests.scan.conftest import decisions

LAION = {  # LAION-400M's own columns
    "SAMPLE_ID": [1, 2, 3],
    "URL": [
        "https://dana.example/a.jpg",
        "https://cleo.example/photo.jpg",
        "https://free.example/b.jpg",
    ],
    "TEXT": ["a photo", POEM, "another photo"],
    "HEIGHT": [10, 20, 30],
    "WIDTH": [10, 20, 30],
    "LICENSE": ["?", "?", "?"],
    "NSFW": ["UNLIKELY"] * 3,
    "similarity": [0.3, 0.31, 0.32],
}


def test_laion_layout_scans_with_no_flags(tmp_path: Path, registry: str) -> None:
    table = tmp_path / "laion.parquet"
    pq.write_table(pa.table(LAION), table)
    out = tmp_path / "out"
    result = scan(table, out, registry=registry, web="off", purpose="train-ai")
    rows = decisions(out)
    assert set(rows) == set(LAION["URL"])  # URL is the url role: sources are the URLs
    assert rows["https://dana.example/a.jpg"]["outcome"] == "exclude"  # domain claim
    # TEXT is a caption, not the content: Ben's poem in it is not matched by default
    assert rows["https://cleo.example/photo.jpg"]["work_ids"] != []
    assert all("Ben" not in json.dumps(json.loads(r["evidence"])["works"]) for r in rows.values())
    cleared = pq.read_table(out / "cleared" / "laion.parquet")
    assert cleared.column_names == list(LAION)  # the table's own names, every column kept
    assert cleared.column("URL").to_pylist() == LAION["URL"][1:]
    assert result.report["items"] == 3


def test_captions_matched_only_when_asked(tmp_path: Path, registry: str) -> None:
    table = tmp_path / "laion.parquet"
    pq.write_table(pa.table(LAION), table)
    out = tmp_path / "out"
    scan(table, out, registry=registry, web="off", purpose="train-ai", match_captions=True)
    row = decisions(out)["https://cleo.example/photo.jpg"]
    owners = {w["owner"] for w in json.loads(row["evidence"])["works"]}
    assert "Ben" in owners
    assert row["outcome"] == "needs-license"


def test_columns_flag_maps_a_table_of_its_own(tmp_path: Path, registry: str) -> None:
    table = tmp_path / "own.jsonl"
    table.write_text(
        json.dumps({"link": "https://dana.example/x.jpg", "body": "hello"})
        + "\n"
        + json.dumps({"link": "https://free.example/y.jpg", "body": POEM})
        + "\n",
        encoding="utf-8",
    )
    with pytest.raises(UserError, match="none of the columns"):
        scan(table, tmp_path / "refused", registry=registry, web="off")
    out = tmp_path / "out"
    scan(table, out, registry=registry, web="off", purpose="train-ai", columns="url=link,text=body")
    rows = decisions(out)
    assert rows["https://dana.example/x.jpg"]["outcome"] == "exclude"
    assert rows["https://free.example/y.jpg"]["outcome"] == "needs-license"  # the poem, as text
    # cleared JSONL keeps the original lines byte for byte
    assert (out / "cleared" / "own.jsonl").read_text(encoding="utf-8") == ""


def test_columns_cli_and_errors(
    tmp_path: Path, registry: str, capsys: pytest.CaptureFixture[str]
) -> None:
    table = tmp_path / "t.csv"
    table.write_text("Link,Caption\nhttps://free.example/a.jpg,hi\n", encoding="utf-8")
    code = main(
        ["scan", str(table), "--out", str(tmp_path / "o"), "--registry", registry,
         "--web", "off", "--columns", "url=Link,caption=Caption", "--json"],
    )  # fmt: skip
    assert code == 0
    assert json.loads(capsys.readouterr().out)["outcomes"]["include"] == 1
    for bad, message in [
        ("url", "not ROLE=COLUMN"),
        ("colour=Link", "unknown role"),
        ("url=Link,url=Caption", "twice"),
        ("url=Link,text=Link", "two roles"),
        ("url=Missing", "has no column 'Missing'"),
    ]:
        code = main(
            ["scan", str(table), "--out", str(tmp_path / "x"), "--registry", registry,
             "--web", "off", "--columns", bad],
        )  # fmt: skip
        assert code == 2
        assert message in capsys.readouterr().err


def test_roles_of_known_layouts() -> None:
    img2dataset = ["url", "caption", "key", "status", "error_message", "width", "sha256"]
    assert ColumnMap().roles(img2dataset) == {
        "url": "url",
        "caption": "caption",
        "sha256": "sha256",
    }
    assert ColumnMap().roles(["URL", "TEXT", "similarity"]) == {"url": "URL", "caption": "TEXT"}
    # an explicit role takes its column away from the recognised layout
    assert ColumnMap.of("text=TEXT").roles(["URL", "TEXT"]) == {"text": "TEXT", "url": "URL"}
    assert parse_columns({"caption": "TEXT", "url": "URL"}) == "url=URL,caption=TEXT"
    assert ScanConfig.build(columns={"url": "URL"}).columns == "url=URL"


def test_caption_alone_is_not_content(tmp_path: Path) -> None:
    table = tmp_path / "c.parquet"
    pq.write_table(pa.table({"caption": ["x"], "key": ["1"]}), table)
    with pytest.raises(UserError, match="none of the columns url, path, text, image"):
        open_input(table)
    open_input(table, columns=ColumnMap(match_captions=True))  # a caption to match: accepted

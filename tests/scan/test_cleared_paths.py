"""``cleared/`` is a dataset of its own: every ``path`` in a cleared table names a file in it.

A re-scan of ``cleared/`` used to make every path row an error ("cannot read
.../cleared/files/brick.png"): the rows kept their relative paths, but the
files stayed behind. Now the files are linked into ``cleared/`` and paths that
would not lead there are rewritten relative to the cleared table.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from clearance.scan import scan
from tests.samples import write_image
from tests.scan.conftest import ANN_SEED, FREE_SEED, decisions


def _dataset(root: Path) -> list[dict[str, str]]:
    """Path rows of every awkward kind: plain, ``..``, through a link, absolute; one denied."""
    (root / "data" / "files").mkdir(parents=True)
    (root / "shared").mkdir()
    write_image(root / "data" / "files" / "brick.png", FREE_SEED, "PNG")
    write_image(root / "shared" / "stone.png", FREE_SEED + 1, "PNG")
    write_image(root / "data" / "files" / "ann.png", ANN_SEED, "PNG")  # Ann denies tdm
    os.symlink("../../shared/stone.png", root / "data" / "files" / "link.png")
    write_image(root / "data" / "abs.png", FREE_SEED + 2, "PNG")
    return [
        {"path": "files/brick.png", "caption": "a brick"},
        {"path": "../shared/stone.png", "caption": "a stone"},
        {"path": "files/link.png", "caption": "a link"},
        {"path": str(root / "data" / "abs.png"), "caption": "absolute"},
        {"path": "files/ann.png", "caption": "Ann's"},
    ]


def _write(table: Path, rows: list[dict[str, str]]) -> None:
    if table.suffix == ".jsonl":
        table.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    elif table.suffix == ".csv":
        with table.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, ["path", "caption"])
            writer.writeheader()
            writer.writerows(rows)
    else:
        pq.write_table(pa.Table.from_pylist(rows), table)


def _paths(table: Path) -> list[str]:
    if table.suffix == ".jsonl":
        lines = table.read_text(encoding="utf-8").splitlines()
        return [json.loads(line)["path"] for line in lines]
    if table.suffix == ".csv":
        with table.open(newline="", encoding="utf-8") as fh:
            return [r["path"] for r in csv.DictReader(fh)]
    return [str(p) for p in pq.read_table(table).column("path").to_pylist()]


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet"])
def test_a_rescan_of_cleared_is_clean(tmp_path: Path, registry: str, suffix: str) -> None:
    rows = _dataset(tmp_path)
    table = tmp_path / "data" / f"data{suffix}"
    _write(table, rows)
    out = tmp_path / "out"
    scan(table, out, registry=registry, web="off", workers=1, base_dir=str(tmp_path))
    first = decisions(out)
    assert [r["outcome"] for r in first.values()].count("include") == 4
    cleared = out / "cleared" / table.name
    paths = _paths(cleared)
    assert len(paths) == 4
    for value in paths:  # each names a file inside cleared/, whatever the input row said
        assert not Path(value).is_absolute()
        target = (cleared.parent / value).resolve()
        assert target.is_file() and target.is_relative_to((out / "cleared").resolve())
    assert "data/files/brick.png" in paths  # cleared/ mirrors the base directory
    again = tmp_path / "again"
    scan(cleared, again, registry=registry, web="off", workers=1)
    second = pq.read_table(again / "decisions.parquet").to_pylist()
    assert [r["outcome"] for r in second] == ["include"] * 4, second


def test_jsonl_lines_that_need_no_rewrite_stay_byte_for_byte(tmp_path: Path, registry: str) -> None:
    (tmp_path / "files").mkdir()
    write_image(tmp_path / "files" / "brick.png", FREE_SEED, "PNG")
    line = '{"caption":  "spacing kept",   "path": "files/brick.png"}\n'
    (tmp_path / "d.jsonl").write_text(line, encoding="utf-8")
    scan(tmp_path / "d.jsonl", tmp_path / "out", registry=registry, web="off", workers=1)
    cleared = tmp_path / "out" / "cleared"
    assert (cleared / "d.jsonl").read_text(encoding="utf-8") == line
    assert (cleared / "files" / "brick.png").read_bytes() == (
        tmp_path / "files" / "brick.png"
    ).read_bytes()

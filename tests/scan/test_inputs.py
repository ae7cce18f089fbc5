"""Inputs that are not a dataset get an error naming what was expected; the CLI face."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import clearance
from clearance.cli import main
from clearance.core import InputNotFound, UnsupportedInput, UserError
from clearance.scan import scan
from clearance.scan.formats import open_input


def test_missing_path(tmp_path: Path, registry: str) -> None:
    with pytest.raises(InputNotFound, match="no such file"):
        scan(tmp_path / "nope", tmp_path / "out", registry=registry)


def test_empty_glob(tmp_path: Path, registry: str) -> None:
    with pytest.raises(UserError, match="no files match"):
        scan(str(tmp_path / "*.parquet"), tmp_path / "out", registry=registry)


def test_parquet_without_usable_column(tmp_path: Path, registry: str) -> None:
    pq.write_table(pa.table({"caption": ["a"], "width": [3]}), tmp_path / "d.parquet")
    with pytest.raises(UserError, match="none of the columns url, path, text, image") as info:
        scan(tmp_path / "d.parquet", tmp_path / "out", registry=registry)
    assert "caption, width" in str(info.value)


def test_other_bad_inputs(tmp_path: Path, registry: str) -> None:
    (tmp_path / "x.xlsx").write_bytes(b"PK")
    with pytest.raises(UnsupportedInput, match="unknown file type"):
        open_input(tmp_path / "x.xlsx")
    (tmp_path / "bad.parquet").write_bytes(b"not parquet")
    with pytest.raises(UnsupportedInput, match="not a readable Parquet"):
        open_input(tmp_path / "bad.parquet")
    (tmp_path / "a.csv").write_text("url\nhttps://a.example/\n", encoding="utf-8")
    (tmp_path / "b.jsonl").write_text('{"url": "https://a.example/"}\n', encoding="utf-8")
    with pytest.raises(UserError, match="mixes input formats"):
        open_input(str(tmp_path / "[ab].*"))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UserError, match="holds no files"):
        open_input(empty)
    hf = tmp_path / "hf"
    hf.mkdir()
    (hf / "dataset_info.json").write_text("{}", encoding="utf-8")
    with pytest.raises(UnsupportedInput, match="Hugging Face"):
        open_input(hf)


def test_ray_engine_is_not_faked(
    tmp_path: Path, registry: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without Ray, ``engine="ray"`` is our error with the install hint, never a local run."""
    (tmp_path / "a.jsonl").write_text('{"url": "https://a.example/"}\n', encoding="utf-8")
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(UserError, match="needs Ray") as err:
        scan(tmp_path / "a.jsonl", tmp_path / "out", registry=registry, engine="ray")
    assert "clearance[ray]" in str(err.value.hint)
    assert not (tmp_path / "out").exists()


def test_bad_rows_become_error_rows(tmp_path: Path, registry: str) -> None:
    (tmp_path / "a.jsonl").write_text(
        '{"url": "https://a.example/"}\nnot json\n[1, 2]\n{"caption": "no usable value"}\n',
        encoding="utf-8",
    )
    result = scan(tmp_path / "a.jsonl", tmp_path / "out", registry=registry, web="off", workers=1)
    assert result.report["outcomes"] == {
        "include": 1,
        "exclude": 0,
        "needs-license": 0,
        "review": 0,
        "error": 3,
    }


def test_shard_plan_is_deterministic(tmp_path: Path) -> None:
    lines = "".join(json.dumps({"text": f"t{i}"}) + "\n" for i in range(10))
    (tmp_path / "a.jsonl").write_text(lines, encoding="utf-8")
    spec = open_input(tmp_path / "a.jsonl")
    plan = spec.plan(4)
    assert [(s.start, s.stop) for s in plan] == [(0, 4), (4, 8), (8, 10)]
    assert plan == open_input(tmp_path / "a.jsonl").plan(4)


def test_cli_json_and_exit_codes(
    tmp_path: Path, registry: str, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "a.jsonl"
    data.write_text('{"url": "https://dana.example/x"}\n{"text": "hello"}\n', encoding="utf-8")
    out = tmp_path / "out"
    args = ["scan", str(data), "--out", str(out), "--registry", registry, "--web", "off"]
    code = main([*args, "--workers", "1", "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    doc = json.loads(captured.out)
    assert doc["outcomes"]["exclude"] == 1 and doc["outcomes"]["include"] == 1
    assert doc["files"]["report.json"] == str(out.resolve() / "report.json")
    # without --resume a non-empty DIR is refused; without --json a summary table is printed
    assert main([*args, "--workers", "1"]) == 2
    assert "not empty" in capsys.readouterr().err
    assert main([*args, "--workers", "1", "--resume"]) == 0
    assert "include" in capsys.readouterr().out
    assert (
        main(
            ["scan", str(tmp_path / "*.csv"), "--out", str(tmp_path / "o2"), "--registry", registry]
        )
        == 2
    )
    assert "no files match" in capsys.readouterr().err
    pq.write_table(pa.table({"caption": ["a"]}), tmp_path / "c.parquet")
    assert (
        main(
            [
                "scan",
                str(tmp_path / "c.parquet"),
                "--out",
                str(tmp_path / "o3"),
                "--registry",
                registry,
            ]
        )
        == 2
    )
    assert "none of the columns" in capsys.readouterr().err
    assert (
        main([*args[:3], str(tmp_path / "o4"), "--registry", registry, "--purpose", "output"]) == 2
    )
    o5 = str(tmp_path / "o5")
    assert main([*args[:3], o5, "--registry", registry, "--ray-address", "x"]) == 2
    assert "needs --engine ray" in capsys.readouterr().err


def test_python_api_is_lazy_and_callable() -> None:
    code = (
        "import sys, clearance; heavy = [m for m in ('sqlalchemy', 'PIL', 'httpx', 'numpy', "
        "'pyarrow') if m in sys.modules]; assert not heavy, heavy; "
        "assert callable(clearance.scan); import clearance.scan.runner; "
        "assert callable(clearance.scan); from clearance import scan; assert callable(scan)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    assert "scan" in clearance.__all__


def test_every_decisions_column_is_documented() -> None:
    from clearance.scan.schema import DECISIONS_SCHEMA

    doc = (Path(__file__).parents[2] / "docs" / "scan.md").read_text(encoding="utf-8")
    missing = [name for name in DECISIONS_SCHEMA.names if f"`{name}`" not in doc]
    assert not missing

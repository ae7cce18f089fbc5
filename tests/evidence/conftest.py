"""Fixtures for evidence tests: one signed scan, made once, copied for each test to tamper with.

The scan is a JSONL of 40 rows in shards of 7 (so there are several shards,
the last one short) against the scan tests' registry: rows of Dana's domain
(excluded), of Ben Music's lyrics prefix (needing a licence), copies of Ben's
poem (needing a licence for train-ai) and rows of their own (included).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from clearance.evidence import generate_keypair
from clearance.scan import scan
from tests.samples import POEM
from tests.scan.conftest import registry  # noqa: F401  (the session registry fixture)

ROWS = 40
SHARD = 7


def dataset(path: Path, rows: int = ROWS) -> Path:
    out = []
    for i in range(rows):
        if i % 4 == 0:
            out.append({"url": f"https://dana.example/{i}.jpg", "n": i})
        elif i % 4 == 1:
            out.append({"url": f"https://ben.example/lyrics/{i}", "n": i})
        elif i % 4 == 2:
            out.append({"text": f"{POEM} number {i}", "n": i})
        else:
            out.append({"text": f"row {i} has words of its own", "n": i})
    path.write_text("".join(json.dumps(r) + "\n" for r in out), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def keypair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return generate_keypair(tmp_path_factory.mktemp("keys") / "operator.key")


@pytest.fixture(scope="session")
def pristine(
    tmp_path_factory: pytest.TempPathFactory,
    registry: str,  # noqa: F811
    keypair: tuple[Path, Path],
) -> Path:
    root = tmp_path_factory.mktemp("signed-scan")
    data = dataset(root / "rows.jsonl")
    out = root / "out"
    scan(
        data,
        out,
        registry=registry,
        purpose="train-ai",
        web="off",
        workers=1,
        shard_size=SHARD,
        sign_key=keypair[0],
    )
    return out


@pytest.fixture
def run(pristine: Path, tmp_path: Path) -> Path:
    """A fresh copy of the signed scan, free to tamper with."""
    out = tmp_path / "out"
    shutil.copytree(pristine, out)
    return out


def read_rows(out: Path) -> tuple[list[dict[str, Any]], pa.Schema]:
    table = pq.read_table(out / "decisions.parquet")
    return table.to_pylist(), table.schema


def write_rows(out: Path, rows: list[dict[str, Any]], schema: pa.Schema) -> None:
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), out / "decisions.parquet")


def read_manifest(out: Path) -> dict[str, Any]:
    return json.loads((out / "manifest.json").read_text(encoding="utf-8"))


def write_manifest(out: Path, doc: dict[str, Any]) -> None:
    (out / "manifest.json").write_text(json.dumps(doc, indent=2), encoding="utf-8")

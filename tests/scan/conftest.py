"""Fixtures for the dataset scan: one small SQLite registry with works of every kind.

The registry is built once per session (scans only read it) and holds:
Ann's image (deny tdm), Ben's poem (licence train-ai at 0.02 EUR per item),
Cleo's image (allow everything), a domain and a URL prefix of Dana's (deny
train-ai; licence at 5 EUR per run) and one exact URL of Cleo's (allow).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from benchmarks.s3local import LocalS3, serve_s3

from clearance.core import Permission, Price, Usage
from clearance.registry import add_works, init_store
from clearance.registry.records import TermsChange
from tests.samples import POEM, write_image

ANN_SEED, CLEO_SEED, FREE_SEED = 101, 103, 107


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = tmp_path_factory.mktemp("registry")
    location = str(root / "r.db")
    store = init_store(location)
    try:
        ann = write_image(root / "ann.png", ANN_SEED, "PNG")
        cleo = write_image(root / "cleo.jpg", CLEO_SEED)
        poem = root / "poem.txt"
        poem.write_text(POEM, encoding="utf-8")
        add_works(store, [str(ann)], owner="Ann", terms=TermsChange({Usage.TDM: Permission.DENY}))
        add_works(
            store,
            [str(poem)],
            owner="Ben",
            terms=TermsChange(
                {Usage.TRAIN_AI: Permission.LICENSE}, price=Price.parse("0.02", "EUR")
            ),
        )
        add_works(
            store, [str(cleo)], owner="Cleo", terms=TermsChange({Usage.TDM: Permission.ALLOW})
        )
        add_works(
            store,
            ["domain:dana.example"],
            owner="Dana",
            terms=TermsChange({Usage.TRAIN_AI: Permission.DENY}),
        )
        add_works(
            store,
            ["https://ben.example/lyrics/*"],
            owner="Ben Music",
            terms=TermsChange(
                {Usage.TRAIN_AI: Permission.LICENSE}, price=Price.parse("5", "EUR", "run")
            ),
        )
        add_works(
            store,
            ["https://cleo.example/photo.jpg"],
            owner="Cleo",
            terms=TermsChange({Usage.TDM: Permission.ALLOW}),
        )
    finally:
        store.close()
    return location


@pytest.fixture(scope="session")
def s3() -> Iterator[LocalS3]:
    """A local S3 server (moto) with one bucket; this process's AWS_* variables point at it."""
    with serve_s3() as server:
        yield server


def decisions(out: Path) -> dict[str, dict[str, Any]]:
    """decisions.parquet as {source: row}."""
    return {r["source"]: r for r in pq.read_table(out / "decisions.parquet").to_pylist()}


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))

"""``clearance mirror`` end to end: two ``clearance serve`` processes on loopback, one mirroring
the other, and scans that decide every row the same against the source and the mirrors.

Server A serves the source registry and its feed. ``clearance mirror A`` fills a SQLite
registry, which server B serves with its own feed key; ``clearance mirror B`` fills a
PostgreSQL registry from it (a mirror of a mirror). Scans of the same inputs against the
three registries must write the same ``decisions.parquet`` rows, before and after the
source changes (a removal, terms, a new work) and the mirrors catch up incrementally.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from clearance.cli import main
from clearance.core import Permission, Price, Usage
from clearance.evidence import generate_keypair
from clearance.registry import (
    TermsChange,
    add_works,
    init_store,
    parse_identifier,
    register_identifier,
)
from tests.api.test_serve import start_serve
from tests.samples import POEM, textured_image, write_image


@dataclass(frozen=True)
class Server:
    base: str
    registry: str
    key: Path


def _serve(root: Path, name: str, registry: str) -> tuple[Server, subprocess.Popen[bytes]]:
    key, _ = generate_keypair(root / f"{name}.key")
    base, _, proc = start_serve(registry, root / f"{name}.log", {"CLEARANCE_FEED_KEY": str(key)})
    return Server(base, registry, key), proc


@dataclass(frozen=True)
class World:
    root: Path
    a: Server
    b: Server
    pg: str
    inputs: tuple[Path, Path]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    import uuid

    import psycopg

    from tests.conftest import PG_ADMIN, _pg_url

    root = tmp_path_factory.mktemp("mirror")
    source = str(root / "source.db")
    folder = root / "data"
    folder.mkdir()
    art = write_image(root / "art.png", 51, "PNG")
    other = write_image(root / "other.png", 52, "PNG")
    (root / "poem.txt").write_text(POEM, encoding="utf-8")
    with init_store(source) as store:
        add_works(
            store,
            [str(art), str(root / "poem.txt")],
            owner="Ann",
            terms=TermsChange(
                {Usage.TRAIN_GENAI: Permission.LICENSE, Usage.OUTPUT: Permission.DENY},
                prices={Usage.TRAIN_GENAI: Price.parse("0.02", "EUR")},
            ),
        )
        add_works(store, [str(other)], owner="Bob", terms=TermsChange({Usage.TDM: Permission.DENY}))
        register_identifier(
            store,
            parse_identifier("https://cy.example/gallery/*"),
            owner="Cy",
            terms=TermsChange({Usage.TRAIN_AI: Permission.DENY}),
        )
    # the scanned data: the registered images (one cropped), the poem, an unrelated image
    image = textured_image(51, (320, 240))
    image.crop((20, 10, 300, 230)).save(folder / "crop.png")
    (folder / "art.png").write_bytes(art.read_bytes())
    (folder / "other.png").write_bytes(other.read_bytes())
    (folder / "poem.txt").write_text(POEM, encoding="utf-8")
    write_image(folder / "fresh.png", 53, "PNG")
    urls = root / "urls.parquet"
    pq.write_table(
        pa.table(
            {
                "url": [
                    "https://cy.example/gallery/a.jpg",
                    "https://cy.example/about.html",
                    "https://elsewhere.example/x.png",
                ]
            }
        ),
        urls,
    )
    pg_name = f"clearance_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{pg_name}"')
    procs: list[subprocess.Popen[bytes]] = []
    try:
        a, proc = _serve(root, "a", source)
        procs.append(proc)
        mirror_a = str(root / "mirror.db")
        assert main(["mirror", a.base, "-r", mirror_a]) == 0
        b, proc = _serve(root, "b", mirror_a)
        procs.append(proc)
        yield World(root, a, b, _pg_url(pg_name), (folder, urls))
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=10)
        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')


def _decisions(world: World, registry: str, name: str) -> list[list[dict[str, Any]]]:
    out = []
    for n, data in enumerate(world.inputs):
        target = world.root / "scans" / f"{name}-{n}"
        args = ["scan", str(data), "--out", str(target), "-r", registry, "--web", "off"]
        assert main([*args, "--workers", "1", "--json"]) == 0
        rows = pq.read_table(target / "decisions.parquet").to_pylist()
        out.append(sorted(rows, key=lambda r: r["item_id"]))
    return out


def _mirror(url: str, registry: str, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    capsys.readouterr()
    assert main(["mirror", url, "-r", registry, "--json"]) == 0
    doc: dict[str, Any] = json.loads(capsys.readouterr().out)
    return doc


def test_scans_against_the_source_and_its_mirrors_decide_alike(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    first = _mirror(world.b.base, world.pg, capsys)
    assert first["snapshot"] and first["created"] == 4
    source = _decisions(world, world.a.registry, "a")
    assert {r["outcome"] for r in source[0]} >= {"exclude", "include"}
    assert any(r["work_ids"] for r in source[1])  # the URL prefix claim decided a row
    assert _decisions(world, world.b.registry, "b") == source
    assert _decisions(world, world.pg, "pg") == source
    files = {"file": ("art.png", (world.inputs[0] / "art.png").read_bytes(), "image/png")}
    verdicts = [httpx.post(f"{s.base}/v1/check", files=files).json() for s in (world.a, world.b)]
    for verdict in verdicts:
        verdict.pop("latency_ms")
    assert verdicts[0] == verdicts[1] and verdicts[0]["verdict"] == "block"

    # the source changes; each mirror fetches only the changes
    with init_store(world.a.registry) as store:
        works = {w.title: w for w in store.list_works()}
        store.remove_work(works["other.png"].id)
        store.set_work_terms(works["art.png"].id, TermsChange({Usage.TRAIN_GENAI: Permission.DENY}))
        store.set_party_terms("Cy", TermsChange({Usage.TRAIN_GENAI: Permission.ALLOW}))
        add_works(store, [str(world.inputs[0] / "fresh.png")], owner="Dee")
    a_to_b = _mirror(world.a.base, world.b.registry, capsys)
    assert not a_to_b["snapshot"] and (a_to_b["created"], a_to_b["removed"]) == (1, 1)
    b_to_pg = _mirror(world.b.base, world.pg, capsys)
    assert not b_to_pg["snapshot"] and (b_to_pg["created"], b_to_pg["removed"]) == (1, 1)
    changed = _decisions(world, world.a.registry, "a2")
    assert changed != source
    assert _decisions(world, world.b.registry, "b2") == changed
    assert _decisions(world, world.pg, "pg2") == changed


def test_a_feed_signed_by_another_key_exits_4(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    _, wrong = generate_keypair(world.root / "wrong.key")
    target = str(world.root / "refused.db")
    assert main(["mirror", world.a.base, "-r", target, "--pubkey", str(wrong)]) == 4
    assert "pinned key" in capsys.readouterr().err
    with init_store(target) as store:
        assert store.count_works() == 0
    assert main(["mirror", "ftp://x", "-r", target]) == 2
    assert main(["mirror", "http://127.0.0.1:1", "-r", str(world.root / "x.db")]) == 3


def test_serve_refuses_a_feed_key_it_cannot_load(tmp_path: Path) -> None:
    registry = str(tmp_path / "r.db")
    init_store(registry).close()
    (tmp_path / "bad.key").write_text("not a key")
    env = {**os.environ, "CLEARANCE_FEED_KEY": str(tmp_path / "bad.key")}
    result = subprocess.run(
        [sys.executable, "-m", "clearance", "serve", "-r", registry],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert result.returncode == 2 and "not a PEM private key" in result.stderr, result.stderr

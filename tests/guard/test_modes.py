"""Short registered texts, opt-in mode and the embedder note: the scan and the guard agree.

Each of these was a disagreement between the two jobs (issue #10): a 5-word
title was excluded by the scan and allowed by the guard; the guard had no
mode, so a text licensed for training only was reproduced verbatim in
opt-in mode; a pre-hashed check with an embedder configured said "no
embedder configured".
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from clearance.api import create_app
from clearance.cli import main
from clearance.config import Settings
from clearance.core import Permission, Price, Usage
from clearance.fingerprint.embedding import OnnxImageEmbedder
from clearance.guard import Guard, GuardIndex, check
from clearance.registry import SqlStore, TermsChange, add_works, init_store
from clearance.scan import scan
from tests.embedmodel import write_tiny_model

ODE = "Ode on a Grecian Urn"
POEM = " ".join(f"line{i} of the long poem that goes on and on" for i in range(12))


@pytest.fixture
def world(tmp_path: Path, registry_location: str) -> SqlStore:
    (tmp_path / "ode.txt").write_text(ODE, encoding="utf-8")
    (tmp_path / "poem.txt").write_text(POEM, encoding="utf-8")
    store = init_store(registry_location)
    add_works(store, [str(tmp_path / "ode.txt")], owner="Keats",
              terms=TermsChange({Usage.OUTPUT: Permission.DENY}))  # fmt: skip
    add_works(
        store,
        [str(tmp_path / "poem.txt")],
        owner="Ben",
        terms=TermsChange({Usage.TRAIN_AI: Permission.LICENSE}, price=Price.parse("1", "USD")),
    )
    yield store
    store.close()


def test_a_short_registered_text_is_found_by_both_jobs(world: SqlStore, tmp_path: Path) -> None:
    index = GuardIndex.from_store(world)
    v = check(index, text="ODE ON A GRECIAN URN!")
    assert v.verdict == "block" and [m.method for m in v.matches] == ["text-short"]
    inside = check(index, text="Tonight I read the Ode on a Grecian Urn aloud, twice.")
    assert inside.verdict == "review"  # a short phrase inside a text: weak evidence
    assert check(index, text="an urn that is Grecian").verdict == "allow"
    items = tmp_path / "items"
    items.mkdir()
    (items / "ode.txt").write_text("ODE ON A GRECIAN URN!", encoding="utf-8")
    scan(items, tmp_path / "out", registry=world.url, web="off", workers=1)
    (row,) = pq.read_table(tmp_path / "out" / "decisions.parquet").to_pylist()
    (work,) = json.loads(row["evidence"])["works"]
    assert work["matched_by"] == ["text-short:1.00"] and row["perm_output"] == "deny"
    assert row["work_ids"] == [m.work_id for m in v.matches]


def test_opt_in_blocks_what_the_owner_did_not_allow_for_output(world: SqlStore) -> None:
    index = GuardIndex.from_store(world)
    out = f"Here it is: {POEM}"
    allowed = check(index, text=out)
    assert allowed.verdict == "allow" and "attribution" in allowed.reasons[0]
    blocked = check(index, text=out, mode="opt-in")
    assert blocked.verdict == "block" and blocked.mode == "opt-in"
    assert "no explicit permission" in blocked.reasons[0]
    assert blocked.to_dict()["works"][0]["allowed"] is False
    # a weak match (a 15-word quote) asks for review in opt-in mode, it does not block
    quote = " ".join(POEM.split()[:15])
    assert check(index, text=f"as the poet said, {quote}, indeed", mode="opt-in").verdict == (
        "review"
    )


def test_mode_on_the_command_line_and_over_http(
    world: SqlStore, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["check", "--text", POEM, "--mode", "opt-in", "--json", "-r", world.url])
    assert code == 4  # blocked
    (doc,) = json.loads(capsys.readouterr().out)
    assert doc["verdict"] == "block" and doc["mode"] == "opt-in"
    assert main(["check", "--text", POEM, "--mode", "sometimes", "-r", world.url]) == 2
    client = TestClient(create_app(Settings(registry=world.url)))
    assert client.post("/v1/check", json={"text": POEM}).json()["verdict"] == "allow"
    answer = client.post("/v1/check", json={"text": POEM, "mode": "opt-in"})
    assert answer.json()["verdict"] == "block"
    assert client.post("/v1/check", json={"text": POEM, "mode": 3}).status_code == 400
    strict = TestClient(create_app(Settings(registry=world.url, mode="opt-in")))
    assert strict.post("/v1/check", json={"text": POEM}).json()["verdict"] == "block"


def test_a_hash_check_with_an_embedder_says_why_embeddings_did_not_run(
    world: SqlStore, tmp_path: Path
) -> None:
    embedder = OnnxImageEmbedder.from_path(write_tiny_model(tmp_path / "m.onnx"), threads=1)
    with Guard(world, embedder=embedder) as guard:
        v = guard.check_pdq(bytes(32))
    assert "embedding: not run, a hash has no pixels" in v.reasons
    assert not any("no embedder configured" in r for r in v.reasons)

"""Proofs round-trip, and every kind of tampering with one makes it fail."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clearance.core.errors import NotFound, UserError
from clearance.evidence import (
    MalformedEvidence,
    VerificationFailed,
    load_public_key,
    prove,
    verify_proof,
)
from clearance.evidence.canonical import b64decode, b64encode
from clearance.evidence.encoding import encode_json_view
from clearance.evidence.keys import generate_keypair
from tests.evidence.conftest import read_manifest, read_rows, write_manifest, write_rows


def rows_of(out: Path) -> list[dict[str, Any]]:
    return pq.read_table(out / "decisions.parquet").to_pylist()


def root_of(out: Path) -> str:
    return str(read_manifest(out)["merkle"]["root"])


def test_a_proof_for_one_item_round_trips(pristine: Path, keypair: tuple[Path, Path]) -> None:
    row = rows_of(pristine)[17]
    doc = prove(pristine, item=row["item_id"])
    assert doc["subject"] == {"item": row["item_id"]}
    (entry,) = doc["proofs"]
    assert entry["row"] == row and entry["shard"] == 2
    assert len(json.dumps(doc)) < 6000  # small: one row, two short paths, the signed root
    key = load_public_key(keypair[1])
    by_key = verify_proof(doc, root=root_of(pristine), pubkey=key)
    assert by_key.ok and by_key.anchor == "pubkey" and by_key.signed
    by_manifest = verify_proof(doc, manifest=read_manifest(pristine))
    assert by_manifest.ok and by_manifest.anchor == "manifest"
    assert verify_proof(doc, manifest=read_manifest(pristine), pubkey=key).ok
    assert by_key.items[0]["outcome"] == row["outcome"]
    again = json.loads(json.dumps(doc))  # as written to disk and read back
    assert verify_proof(again, root=root_of(pristine), pubkey=key).ok


def test_a_proof_for_a_work_covers_every_matching_item(
    pristine: Path, keypair: tuple[Path, Path]
) -> None:
    rows = rows_of(pristine)
    work = next(w for r in rows for w in r["work_ids"])
    expected = {r["item_id"] for r in rows if work in r["work_ids"]}
    doc = prove(pristine, work=work)
    assert {e["item_id"] for e in doc["proofs"]} == expected and len(expected) > 1
    check = verify_proof(doc, root=root_of(pristine), pubkey=load_public_key(keypair[1]))
    assert check.ok, check.failures


def test_a_proof_for_an_owner(pristine: Path, keypair: tuple[Path, Path]) -> None:
    rows = rows_of(pristine)
    expected = {
        r["item_id"]
        for r in rows
        if any(w["owner"] == "Dana" for w in json.loads(r["evidence"])["works"])
    }
    doc = prove(pristine, owner="Dana")
    assert {e["item_id"] for e in doc["proofs"]} == expected and expected
    check = verify_proof(doc, root=root_of(pristine), pubkey=load_public_key(keypair[1]))
    assert check.ok
    assert {i["outcome"] for i in check.items} == {"exclude"}  # Dana's opt-out was honoured
    assert all(i["works"][0]["owner"] == "Dana" for i in check.items)


def test_nothing_to_prove(pristine: Path) -> None:
    with pytest.raises(NotFound, match="concerns item"):
        prove(pristine, item="0" * 32)
    with pytest.raises(NotFound):
        prove(pristine, owner="Nobody")
    with pytest.raises(UserError, match="exactly one"):
        prove(pristine, item="x", owner="y")
    with pytest.raises(UserError, match="exactly one"):
        prove(pristine)


def test_prove_refuses_a_tampered_run(run: Path) -> None:
    rows, schema = read_rows(run)
    rows[3]["reasons"] = ["forged:train-ai=allow"]
    write_rows(run, rows, schema)
    with pytest.raises(VerificationFailed, match="shard 0"):
        prove(run, item=rows[3]["item_id"])
    doc = read_manifest(run)
    doc["merkle"]["shards"][0]["root"] = "0" * 64
    write_manifest(run, doc)
    with pytest.raises(VerificationFailed, match="signed root"):
        prove(run, item=rows[3]["item_id"])


@pytest.fixture(scope="module")
def owner_proof(pristine: Path) -> dict[str, Any]:
    return prove(pristine, owner="Ben Music")


def _tampered(doc: dict[str, Any], how: str) -> dict[str, Any]:
    d = copy.deepcopy(doc)
    e = d["proofs"][0]
    if how == "outcome":
        e["row"]["outcome"] = "include"
    elif how == "outcome-and-leaf":  # consistent row and leaf: the path no longer leads home
        e["row"]["outcome"] = "include"
        e["leaf"] = b64encode(encode_json_view(e["row"]))
    elif how == "item-id":
        e["item_id"] = "0" * 32
    elif how == "path":
        e["path"][0] = ("0" if e["path"][0][0] != "0" else "1") + e["path"][0][1:]
    elif how == "run-path":
        e["run_path"][-1] = ("0" if e["run_path"][-1][0] != "0" else "1") + e["run_path"][-1][1:]
    elif how == "leaf-index":
        e["leaf_index"] = (e["leaf_index"] + 1) % e["shard_items"]
    elif how == "shard":
        e["shard"] = (e["shard"] + 1) % e["shards"]
    elif how == "shard-root":
        e["shard_root"] = "ab" * 32
    elif how == "statement-root":
        d["root"]["statement"]["run_root"] = "ab" * 32
    elif how == "statement-mode":
        d["root"]["statement"]["mode"] = "opt-in"
    elif how == "subject":
        d["subject"] = {"owner": "Someone Else"}
    elif how == "signature":
        sig = b64decode(d["root"]["signature"]["value"], "sig")
        d["root"]["signature"]["value"] = b64encode(bytes([sig[0] ^ 1]) + sig[1:])
    elif how == "other-row":
        d["proofs"][0], d["proofs"][1] = (
            {**d["proofs"][0], "path": d["proofs"][1]["path"]},
            d["proofs"][1],
        )
    return d


TAMPERINGS = (
    "outcome",
    "outcome-and-leaf",
    "item-id",
    "path",
    "run-path",
    "leaf-index",
    "shard",
    "shard-root",
    "statement-root",
    "statement-mode",
    "subject",
    "signature",
    "other-row",
)


@pytest.mark.parametrize("how", TAMPERINGS)
def test_a_tampered_proof_fails(
    how: str, owner_proof: dict[str, Any], pristine: Path, keypair: tuple[Path, Path]
) -> None:
    key = load_public_key(keypair[1])
    assert verify_proof(owner_proof, root=root_of(pristine), pubkey=key).ok
    bad = _tampered(owner_proof, how)
    by_key = verify_proof(bad, root=root_of(pristine), pubkey=key)
    assert not by_key.ok and by_key.failures
    by_manifest = verify_proof(bad, manifest=read_manifest(pristine))
    assert not by_manifest.ok or how == "signature"  # a manifest check trusts the manifest's copy


def test_a_proof_against_another_key_or_root_fails(
    owner_proof: dict[str, Any], pristine: Path, tmp_path: Path
) -> None:
    _, other = generate_keypair(tmp_path / "other.key")
    check = verify_proof(owner_proof, root=root_of(pristine), pubkey=load_public_key(other))
    assert not check.ok and any("not by" in f for f in check.failures)
    wrong_root = verify_proof(owner_proof, root="cd" * 32, pubkey=load_public_key(other))
    assert not wrong_root.ok


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_single_character_change_to_a_digest_fails(
    data: st.DataObject, owner_proof: dict[str, Any], pristine: Path, keypair: tuple[Path, Path]
) -> None:
    """Every hex digit of every path, shard root and run root matters."""
    d = copy.deepcopy(owner_proof)
    n = data.draw(st.integers(0, len(d["proofs"]) - 1))
    e = d["proofs"][n]
    field = data.draw(st.sampled_from(["path", "run_path", "shard_root"]))
    if field == "shard_root":
        text, put = e["shard_root"], lambda v: e.__setitem__("shard_root", v)
    else:
        if not e[field]:
            return
        k = data.draw(st.integers(0, len(e[field]) - 1))
        text, put = e[field][k], lambda v, k=k, f=field: e[f].__setitem__(k, v)
    pos = data.draw(st.integers(0, 63))
    digit = data.draw(st.sampled_from("0123456789abcdef").filter(lambda c: c != text[pos]))
    put(text[:pos] + digit + text[pos + 1 :])
    check = verify_proof(d, root=root_of(pristine), pubkey=load_public_key(keypair[1]))
    assert not check.ok


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.update(format="x"), "not a clearance.proof"),
        (lambda d: d.update(format_version=9), "format_version"),
        (lambda d: d.update(proofs=[]), "no proofs"),
        (lambda d: d.update(subject={"item": "a", "work": 1}), "subject"),
        (lambda d: d["root"].pop("statement"), "no statement"),
        (lambda d: d["proofs"][0].update(path="ab"), "list of at most"),
        (lambda d: d["proofs"][0].update(path=["zz"]), "64 hex digits"),
        (lambda d: d["proofs"][0].update(leaf="!!"), "base64"),
        (lambda d: d["proofs"][0].update(leaf_index=-1), "non-negative"),
        (lambda d: d["root"]["signature"].update(alg="RSA"), "not Ed25519"),
    ],
)
def test_malformed_proofs_are_user_errors(
    owner_proof: dict[str, Any], pristine: Path, keypair: tuple[Path, Path], edit: Any, message: str
) -> None:
    d = copy.deepcopy(owner_proof)
    edit(d)
    with pytest.raises(MalformedEvidence, match=message):
        verify_proof(d, root=root_of(pristine), pubkey=load_public_key(keypair[1]))


def test_a_trust_anchor_is_required(owner_proof: dict[str, Any], pristine: Path) -> None:
    with pytest.raises(UserError, match="--manifest"):
        verify_proof(owner_proof)
    with pytest.raises(UserError, match="--pubkey"):
        verify_proof(owner_proof, root=root_of(pristine))

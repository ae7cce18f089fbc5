"""The CLI faces: keys, verify, prove, verify-proof; their exit codes and JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clearance.cli import main
from tests.evidence.conftest import read_manifest, read_rows, write_rows


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_keys_generate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "keys", "generate", "--out", str(tmp_path / "k"), "--json")
    doc = json.loads(out)
    assert code == 0 and doc["public_key"] == str(tmp_path / "k.pub") and len(doc["key_id"]) == 16
    code, _, err = run_cli(capsys, "keys", "generate", "--out", str(tmp_path / "k"))
    assert code == 2 and "exists" in err


def test_verify_ok_and_tampered(
    run: Path, keypair: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_cli(capsys, "verify", str(run), "--pubkey", str(keypair[1]))
    assert code == 0 and "OK" in out and "pinned" in out
    rows, schema = read_rows(run)
    write_rows(run, rows[:-1], schema)
    code, out, _ = run_cli(capsys, "verify", str(run), "--json")
    doc = json.loads(out)
    assert code == 4 and not doc["ok"]
    assert [f["kind"] for f in doc["findings"]] == ["row-dropped"]
    code, out, _ = run_cli(capsys, "verify", str(run))
    assert code == 4 and "row-dropped" in out and "1 difference" in out


def test_verify_malformed_inputs_exit_2(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (run / "manifest.json").write_text("{", encoding="utf-8")
    code, out, err = run_cli(capsys, "verify", str(run))
    assert code == 2 and "not valid JSON" in err and "Traceback" not in err + out
    code, _, err = run_cli(capsys, "verify", str(tmp_path / "none"))
    assert code == 2
    bad_key = tmp_path / "bad.pub"
    bad_key.write_text("-----BEGIN PUBLIC KEY-----\nxx\n-----END PUBLIC KEY-----\n")
    code, _, err = run_cli(capsys, "verify", str(run), "--pubkey", str(bad_key))
    assert code == 2 and "public key" in err


def test_prove_and_verify_proof(
    pristine: Path, keypair: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    proof = tmp_path / "dana.json"
    code, out, _ = run_cli(
        capsys, "prove", str(pristine), "--owner", "Dana", "--out", str(proof), "--json"
    )
    assert code == 0 and json.loads(out)["items"] > 0
    root = read_manifest(pristine)["merkle"]["root"]
    code, out, _ = run_cli(
        capsys, "verify-proof", str(proof), "--root", root, "--pubkey", str(keypair[1])
    )
    assert code == 0 and "verified" in out and "exclude" in out
    code, out, _ = run_cli(
        capsys,
        "verify-proof",
        str(proof),
        "--manifest",
        str(pristine / "manifest.json"),
        "--json",
    )
    assert code == 0 and json.loads(out)["ok"]
    doc = json.loads(proof.read_text(encoding="utf-8"))
    doc["proofs"][0]["row"]["outcome"] = "include"
    proof.write_text(json.dumps(doc), encoding="utf-8")
    code, out, _ = run_cli(
        capsys, "verify-proof", str(proof), "--root", root, "--pubkey", str(keypair[1])
    )
    assert code == 4 and "does not verify" in out
    code, out, _ = run_cli(capsys, "prove", str(pristine), "--item", doc["proofs"][0]["item_id"])
    assert code == 0 and json.loads(out)["format"] == "clearance.proof"  # stdout without --out


@pytest.mark.parametrize(
    "args",
    [
        ["--root", "ab" * 32],  # no --pubkey
        [],  # no anchor
        ["--root", "xyz", "--pubkey", "KEY"],
        ["--manifest", "M", "--root", "ab" * 32],
    ],
)
def test_verify_proof_usage_errors_exit_2(
    args: list[str],
    pristine: Path,
    keypair: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    proof = tmp_path / "p.json"
    assert run_cli(capsys, "prove", str(pristine), "--owner", "Dana", "--out", str(proof))[0] == 0
    args = [
        str(keypair[1]) if a == "KEY" else str(pristine / "manifest.json") if a == "M" else a
        for a in args
    ]
    code, out, err = run_cli(capsys, "verify-proof", str(proof), *args)
    assert code == 2 and "Traceback" not in out + err


def test_malformed_proof_files_exit_2(
    tmp_path: Path, keypair: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    proof = tmp_path / "p.json"
    for content in ("not json", "[]", '{"format": "clearance.proof"}'):
        proof.write_text(content, encoding="utf-8")
        code, _, err = run_cli(
            capsys, "verify-proof", str(proof), "--root", "ab" * 32, "--pubkey", str(keypair[1])
        )
        assert code == 2 and err.startswith("error:"), (content, err)
    code, _, err = run_cli(capsys, "verify-proof", str(tmp_path / "missing.json"), "--root", "ab")
    assert code == 2


def test_prove_errors_exit_2(pristine: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(capsys, "prove", str(pristine), "--item", "0" * 32)[0] == 2
    assert run_cli(capsys, "prove", str(pristine))[0] == 2
    code, _, err = run_cli(capsys, "prove", str(pristine), "--owner", "Dana", "--out", "/no/dir/p")
    assert code == 2 and "does not exist" in err

"""``verify`` names every kind of tampering with a scan's output, and passes an untouched one.

Each test copies one signed scan, changes one thing, and asserts the finding's
kind and where it points. With the shard parts still in ``.parts/`` the
finding names the item; without them (deleted after the run), the shard.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from clearance.core.errors import InputNotFound
from clearance.evidence import MalformedEvidence, load_public_key, verify_run
from clearance.evidence.keys import generate_keypair
from tests.evidence.conftest import (
    SHARD,
    read_manifest,
    read_rows,
    write_manifest,
    write_rows,
)


def kinds(out: Path, **kw: object) -> list[tuple[str, str]]:
    return [(f.kind, f.where) for f in verify_run(out, **kw).findings]  # type: ignore[arg-type]


def test_an_untouched_run_verifies_with_the_operators_key(
    pristine: Path, keypair: tuple[Path, Path]
) -> None:
    report = verify_run(pristine, pubkey=load_public_key(keypair[1]))
    assert report.ok, report.findings
    assert report.items == 40 and report.shards == -(-40 // SHARD)
    assert report.signed and report.pinned
    assert report.run_root == read_manifest(pristine)["merkle"]["root"]
    assert report.files == 5  # decisions, reports, licences, cleared/rows.jsonl
    unpinned = verify_run(pristine)
    assert unpinned.ok and not unpinned.pinned
    assert any("--pubkey" in n for n in unpinned.notes)


@pytest.mark.parametrize("parts", [True, False], ids=["with-parts", "without-parts"])
def test_a_changed_row(run: Path, parts: bool) -> None:
    if not parts:
        shutil.rmtree(run / ".parts")
    rows, schema = read_rows(run)
    victim = rows[9]
    victim["outcome"] = "include" if victim["outcome"] != "include" else "exclude"
    write_rows(run, rows, schema)
    found = verify_run(run).findings
    assert [f.kind for f in found] == ["row-changed"]
    if parts:
        assert found[0].where == f"item {victim['item_id']}"
        assert "row 9 " in found[0].detail and "outcome" in found[0].detail
    else:
        assert found[0].where == "shard 1 (rows 7-13)"


@pytest.mark.parametrize("parts", [True, False], ids=["with-parts", "without-parts"])
def test_a_dropped_row(run: Path, parts: bool) -> None:
    if not parts:
        shutil.rmtree(run / ".parts")
    rows, schema = read_rows(run)
    victim = rows.pop(16)
    write_rows(run, rows, schema)
    found = verify_run(run).findings
    assert [f.kind for f in found] == ["row-dropped"]  # only shard 2: later shards realigned
    assert found[0].where == (f"item {victim['item_id']}" if parts else "shard 2 (rows 14-19)")


@pytest.mark.parametrize("parts", [True, False], ids=["with-parts", "without-parts"])
def test_a_dropped_first_row_of_a_shard(run: Path, parts: bool) -> None:
    if not parts:
        shutil.rmtree(run / ".parts")
    rows, schema = read_rows(run)
    victim = rows.pop(14)  # the first row of shard 2: its recorded first item is gone
    write_rows(run, rows, schema)
    found = verify_run(run).findings
    assert [f.kind for f in found] == ["row-dropped"]
    assert found[0].where == (f"item {victim['item_id']}" if parts else "shard 2 (rows 14-19)")


@pytest.mark.parametrize("parts", [True, False], ids=["with-parts", "without-parts"])
def test_an_added_row(run: Path, parts: bool) -> None:
    if not parts:
        shutil.rmtree(run / ".parts")
    rows, schema = read_rows(run)
    forged = {**rows[3], "item_id": "f" * 32, "source": "https://forged.example/x.jpg"}
    rows.insert(30, forged)
    write_rows(run, rows, schema)
    found = verify_run(run).findings
    assert [f.kind for f in found] == ["row-added"]
    assert found[0].where == ("item " + "f" * 32 if parts else "shard 4 (rows 28-35)")


@pytest.mark.parametrize("parts", [True, False], ids=["with-parts", "without-parts"])
def test_a_duplicated_row(run: Path, parts: bool) -> None:
    if not parts:
        shutil.rmtree(run / ".parts")
    rows, schema = read_rows(run)
    rows.insert(25, dict(rows[24]))
    write_rows(run, rows, schema)
    found = verify_run(run).findings
    assert [f.kind for f in found] == ["row-added"]
    if parts:
        assert found[0].where == f"item {rows[24]['item_id']}" and "2 times" in found[0].detail


@pytest.mark.parametrize("parts", [True, False], ids=["with-parts", "without-parts"])
def test_reordered_rows(run: Path, parts: bool) -> None:
    if not parts:
        shutil.rmtree(run / ".parts")
    rows, schema = read_rows(run)
    rows[22], rows[24] = rows[24], rows[22]  # inside shard 3: the shard's root is unchanged
    write_rows(run, rows, schema)
    found = verify_run(run).findings
    assert [f.kind for f in found] == ["rows-reordered"]
    assert found[0].where.startswith("shard 3")
    if parts:
        assert "row 22 " in found[0].detail


def test_a_rewritten_file_with_the_same_rows(run: Path) -> None:
    table = pq.read_table(run / "decisions.parquet")
    pq.write_table(table, run / "decisions.parquet", compression="gzip")
    found = verify_run(run).findings
    assert [(f.kind, f.where) for f in found] == [("file-changed", "decisions.parquet")]
    assert "every row is as recorded" in found[0].detail


def test_an_added_column(run: Path) -> None:
    table = pq.read_table(run / "decisions.parquet")
    pq.write_table(table.append_column("note", [["x"] * table.num_rows]), run / "decisions.parquet")
    assert kinds(run) == [("column-added", "decisions.parquet:note")]


def test_a_removed_column(run: Path) -> None:
    table = pq.read_table(run / "decisions.parquet")
    pq.write_table(table.drop_columns(["reasons"]), run / "decisions.parquet")
    assert kinds(run) == [("column-removed", "decisions.parquet:reasons")]


def test_missing_decisions(run: Path) -> None:
    (run / "decisions.parquet").unlink()
    assert kinds(run) == [("file-missing", "decisions.parquet")]


def test_a_changed_cleared_file(run: Path) -> None:
    cleared = run / "cleared" / "rows.jsonl"
    cleared.write_bytes(cleared.read_bytes() + b'{"url": "https://dana.example/smuggled.jpg"}\n')
    assert kinds(run) == [("file-changed", "cleared/rows.jsonl")]


def test_a_missing_cleared_file(run: Path) -> None:
    (run / "cleared" / "rows.jsonl").unlink()
    assert kinds(run) == [("file-missing", "cleared/rows.jsonl")]


def test_an_added_cleared_file(run: Path) -> None:
    (run / "cleared" / "extra.jsonl").write_text("{}\n", encoding="utf-8")
    assert kinds(run) == [("file-added", "cleared/extra.jsonl")]


def test_a_changed_report(run: Path) -> None:
    (run / "licenses.json").write_text("{}", encoding="utf-8")
    assert kinds(run) == [("file-changed", "licenses.json")]


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda m: m["config"].update(mode="opt-in"), ("manifest-field-edited", "/config/mode")),
        (lambda m: m.update(registry_state="0" * 64), ("manifest-field-edited", "/registry_state")),
        (lambda m: m["shards"][2].update(items=99), ("manifest-field-edited", "/shards")),
        (lambda m: m["config"].pop("agent"), ("manifest-field-removed", "/config/agent")),
        (lambda m: m.update(note="hello"), ("manifest-field-added", "/note")),
    ],
    ids=["config-mode", "registry-state", "shards", "removed", "added"],
)
def test_an_edited_manifest_field(run: Path, edit: object, expected: tuple[str, str]) -> None:
    doc = read_manifest(run)
    edit(doc)  # type: ignore[operator]
    write_manifest(run, doc)
    found = kinds(run)
    assert expected in found
    assert all(k.startswith("manifest-field") or k == "attestation-edited" for k, _ in found)


def test_an_edited_output_digest_and_a_forged_root(run: Path) -> None:
    doc = read_manifest(run)
    doc["outputs"]["report.json"] = "0" * 64
    doc["merkle"]["shards"][1]["root"] = "1" * 64
    write_manifest(run, doc)
    found = kinds(run)
    assert ("manifest-field-edited", "/outputs/report.json") in found
    assert ("manifest-field-edited", "/merkle/shards") in found
    assert ("file-changed", "report.json") in found  # against the edited digest


def test_an_edited_statement_breaks_the_signature(run: Path, keypair: tuple[Path, Path]) -> None:
    doc = read_manifest(run)
    doc["attestation"]["statement"]["items"] = 41
    write_manifest(run, doc)
    found = kinds(run, pubkey=load_public_key(keypair[1]))
    assert ("signature-bad", "/attestation/signature") in found
    assert ("attestation-edited", "/attestation/statement/items") in found


def test_a_bad_signature(run: Path, keypair: tuple[Path, Path]) -> None:
    doc = read_manifest(run)
    sig = doc["attestation"]["signature"]
    sig["value"] = sig["value"][:10] + ("A" if sig["value"][10] != "A" else "B") + sig["value"][11:]
    write_manifest(run, doc)
    assert kinds(run, pubkey=load_public_key(keypair[1])) == [
        ("signature-bad", "/attestation/signature")
    ]
    assert kinds(run) == [("signature-bad", "/attestation/signature")]


def test_a_resigned_manifest_is_caught_by_the_pinned_key(
    run: Path, keypair: tuple[Path, Path], tmp_path: Path
) -> None:
    """An attacker edits the manifest and re-signs with their own key: only --pubkey catches it."""
    from clearance.evidence import attest, load_signing_key

    doc = read_manifest(run)
    doc["config"]["mode"] = "opt-in"
    theirs, _ = generate_keypair(tmp_path / "attacker.key")
    write_manifest(run, attest(doc, load_signing_key(theirs)))
    assert verify_run(run).ok  # self-consistent, signed by *a* key...
    found = kinds(run, pubkey=load_public_key(keypair[1]))
    assert ("key-mismatch", "/attestation/signature") in found
    assert ("signature-bad", "/attestation/signature") in found


def test_an_unsigned_run_fails_when_a_key_is_expected(
    run: Path, keypair: tuple[Path, Path]
) -> None:
    doc = read_manifest(run)
    doc["attestation"]["signature"] = None
    write_manifest(run, doc)
    report = verify_run(run)
    assert report.ok and not report.signed and report.notes
    assert kinds(run, pubkey=load_public_key(keypair[1])) == [
        ("signature-missing", "/attestation/signature")
    ]


def test_a_stripped_attestation(run: Path) -> None:
    doc = read_manifest(run)
    del doc["attestation"]
    write_manifest(run, doc)
    assert kinds(run) == [("attestation-missing", "/attestation")]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b'{"format": "clearance.scan-manifest", "format": "x"}', "duplicate key"),
        (b'{"format": "clearance.scan-manifest", "n": NaN}', "not JSON"),
        (b"[]", "is not a clearance.scan-manifest"),
        (b'{"format": "clearance.scan-manifest"}', "no merkle section"),
        (b"\xff\xfe", "not valid JSON"),
    ],
)
def test_malformed_manifests_are_user_errors(run: Path, content: bytes, message: str) -> None:
    (run / "manifest.json").write_bytes(content)
    with pytest.raises(MalformedEvidence, match=message):
        verify_run(run)


def test_malformed_manifest_fields_are_user_errors(run: Path) -> None:
    original = read_manifest(run)
    for edit, message in (
        (lambda m: m["merkle"].update(root="xyz"), "64 hex digits"),
        (lambda m: m["merkle"]["shards"][0].update(items=-1), "non-negative"),
        (lambda m: m["outputs"].update({"../../etc/passwd": "0" * 64}), "outside the run"),
        (lambda m: m["attestation"]["signature"].update(alg="RSA"), "not Ed25519"),
        (lambda m: m["attestation"]["signature"].update(value="***"), "base64"),
        (lambda m: m["merkle"].update(format_version=2), "format_version"),
    ):
        doc = json.loads(json.dumps(original))
        edit(doc)
        write_manifest(run, doc)
        with pytest.raises(MalformedEvidence, match=message):
            verify_run(run)


def test_a_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(InputNotFound):
        verify_run(tmp_path / "nope")
    with pytest.raises(InputNotFound):
        verify_run(tmp_path)  # no manifest.json


def test_a_corrupt_decisions_file_is_a_user_error(run: Path) -> None:
    (run / "decisions.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(MalformedEvidence, match=r"decisions\.parquet"):
        verify_run(run)


def test_an_empty_input(tmp_path: Path, registry: str) -> None:
    from clearance.scan import scan

    data = tmp_path / "empty.jsonl"
    data.write_text("", encoding="utf-8")
    out = tmp_path / "out"
    scan(data, out, registry=registry, web="off", workers=1)
    report = verify_run(out)
    assert report.ok and report.items == 0 and report.shards == 0
    assert report.run_root == hashlib.sha256(b"").hexdigest()
    _, schema = read_rows(out)
    write_rows(
        out, [{c: None for c in schema.names} | {"item_id": "x", "outcome": "include"}], schema
    )
    assert kinds(out) == [("row-added", "decisions.parquet")]

"""``--min-verification``: claims of parties verified below the level are not acted on, and
say so (``ignored-for-verification``) in the guard's reasons and the scan's evidence."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from clearance.cli import main
from clearance.core import Permission, Usage
from clearance.core.errors import UserError
from clearance.guard import GuardIndex, check
from clearance.registry import SqlStore, TermsChange, add_works, init_store
from clearance.registry.parties import verify_admin
from clearance.scan import ScanConfig, scan
from tests.scan.conftest import decisions

ZED = " ".join(f"zed's line {i} of a poem he says is his and denies to all" for i in range(12))
ANN = " ".join(f"ann's verse {i} runs on about the sea and the long road home" for i in range(12))


@pytest.fixture
def world(tmp_path: Path, registry_location: str) -> Iterator[SqlStore]:
    """Zed (self) and Ann (admin-verified) each deny every use of their poem."""
    store = init_store(registry_location)
    for name, text in (("Zed", ZED), ("Ann", ANN)):
        path = tmp_path / f"{name}.txt"
        path.write_text(text, encoding="utf-8")
        add_works(
            store,
            [str(path)],
            owner=name,
            terms=TermsChange({Usage.TDM: Permission.DENY, Usage.OUTPUT: Permission.DENY}),
        )
    verify_admin(store, "Ann", "contract on file", actor="Operator")
    yield store
    store.close()


def test_the_guard_ignores_claims_below_the_level_and_says_so(world: SqlStore) -> None:
    index = GuardIndex.from_store(world)
    assert check(index, text=ZED).verdict == "block"
    ignored = check(index, text=ZED, min_verification="domain")
    assert ignored.verdict == "allow" and ignored.usage_events == ()
    assert any(
        "ignored-for-verification" in r and "below the minimum domain" in r for r in ignored.reasons
    )
    (work,) = ignored.to_dict()["works"]
    assert work["owner_verification"] == "self" and "ignored-for-verification" in work
    kept = check(index, text=ANN, min_verification="admin")
    assert kept.verdict == "block" and kept.to_dict()["works"][0]["owner_verification"] == "admin"
    assert check(index, text=ANN + " " + ZED, min_verification="key").verdict == "block"
    with pytest.raises(UserError):
        check(index, text=ZED, min_verification="gold")


def test_the_check_command_takes_the_flag(
    world: SqlStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reg = ["--registry", world.url]
    assert main(["check", "--text", ZED, *reg]) == 4
    capsys.readouterr()
    assert main(["check", "--text", ZED, "--min-verification", "domain", *reg, "--json"]) == 0
    (doc,) = json.loads(capsys.readouterr().out)
    assert any("ignored-for-verification" in r for r in doc["reasons"])
    assert main(["check", "--text", ZED, "--min-verification", "gold", *reg]) == 2


def test_the_scan_ignores_them_too_and_records_why(world: SqlStore, tmp_path: Path) -> None:
    items = tmp_path / "items"
    items.mkdir()
    (items / "zed.txt").write_text(ZED, encoding="utf-8")
    (items / "ann.txt").write_text(ANN, encoding="utf-8")
    common = {"registry": world.url, "web": "off", "workers": 1}
    scan(items, tmp_path / "all", **common)
    assert {s.rsplit("/", 1)[-1]: r["outcome"] for s, r in decisions(tmp_path / "all").items()} == {
        "zed.txt": "exclude",
        "ann.txt": "exclude",
    }
    scan(items, tmp_path / "verified", min_verification="admin", **common)
    rows = {s.rsplit("/", 1)[-1]: r for s, r in decisions(tmp_path / "verified").items()}
    assert rows["ann.txt"]["outcome"] == "exclude"
    zed = rows["zed.txt"]
    assert zed["outcome"] == "include"
    assert "ignored-for-verification:tdm=unknown" in zed["reasons"]
    evidence = json.loads(zed["evidence"])
    (work,) = evidence["works"]
    assert work["permission"] == "unknown" and work["stated_permission"] == "deny"
    assert "below the minimum admin" in work["ignored-for-verification"]
    assert any(
        e["source"] == "ignored-for-verification" and "tdm=deny not acted on" in e["detail"]
        for e in evidence["evidence"]
    )
    manifest = json.loads((tmp_path / "verified" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["config"]["min_verification"] == "admin"


def test_the_level_is_part_of_the_scan_configuration() -> None:
    assert ScanConfig().to_dict()["min_verification"] == "self"
    assert ScanConfig.build(min_verification="KEY").min_verification == "key"
    assert ScanConfig.build(min_verification="key").digest != ScanConfig.build().digest
    with pytest.raises(UserError):
        ScanConfig.build(min_verification="gold")

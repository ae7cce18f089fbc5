"""``clearance parties``: create, list, show, verify-domain (twice), add-key, verify --admin."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from clearance.cli import main
from clearance.registry import add_works, init_store, open_store
from tests.localsite import LocalSite
from tests.parties.conftest import domain_of, publish


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, Any, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, json.loads(out) if "--json" in args and code == 0 else out, err


def test_the_parties_commands_end_to_end(
    tmp_path: Path,
    site: LocalSite,
    keypair: tuple[Path, Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    reg = ("-r", str(tmp_path / "r.db"))
    with init_store(reg[1]) as store:
        add_works(store, ["https://ann.example/fox.jpg"], owner="Ann")
    code, doc, _ = run(
        capsys, "parties", "create", "Ann", "--contact", "ann@example.org", *reg, "--json"
    )
    assert code == 0 and doc["party"]["verification"] == "self"
    domain = domain_of(site)
    code, doc, _ = run(
        capsys,
        "parties",
        "verify-domain",
        "Ann",
        "--domain",
        domain,
        "--allow-private",
        *reg,
        "--json",
    )
    assert code == 0 and doc["challenge"]["url"].startswith(f"http://{domain}/.well-known/")
    publish(site, doc["challenge"]["publish"])
    code, out, _ = run(
        capsys, "parties", "verify-domain", "Ann", "--domain", domain, "--allow-private", *reg
    )
    assert code == 0 and "verified domain" in out
    code, _, err = run(capsys, "parties", "verify-domain", "Zed", "--domain", domain, *reg)
    assert code == 2 and "no party named" in err
    code, doc, _ = run(
        capsys, "parties", "add-key", "Ann", "--pubkey", str(keypair[1]), *reg, "--json"
    )
    assert code == 0 and doc["party"]["verification"] == "key"
    assert run(capsys, "parties", "verify", "Ann", "--reason", "seen", *reg)[0] == 2
    assert run(capsys, "parties", "verify", "Ann", "--admin", *reg)[0] == 2
    code, doc, _ = run(
        capsys, "parties", "verify", "Ann", "--admin", "--reason", "seen", *reg, "--json"
    )
    assert code == 0 and doc["party"]["verification"] == "admin"
    code, doc, _ = run(capsys, "parties", "show", "Ann", *reg, "--json")
    assert [(i["kind"], i["status"]) for i in doc["party"]["identities"]] == [
        ("domain", "verified"),
        ("key", "verified"),
        ("admin", "verified"),
    ]
    code, doc, _ = run(capsys, "parties", "list", "--min-verification", "admin", *reg, "--json")
    assert [p["name"] for p in doc["parties"]] == ["Ann"]
    assert run(capsys, "parties", "list", "--min-verification", "gold", *reg)[0] == 2
    assert run(capsys, "parties", "show", "Nobody", *reg)[0] == 2
    code, out, _ = run(capsys, "works", "show", "1", *reg)
    assert "verified: admin" in out
    with open_store(reg[1]) as store:
        actors = [(e.actor, e.action) for e in store.audit_log() if e.entity == "party"]
    assert ("Ann", "party.domain.start") in actors and ("clearance", "party.verify") in actors

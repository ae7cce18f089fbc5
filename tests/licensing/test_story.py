"""Issue #13, done when: the whole licensing story in one test, on SQLite and on PostgreSQL.

1. An owner offers different training and output prices (and publishes them as RSL).
2. A scan needs licences and produces requests.
3. The owner accepts (and a stranger cannot).
4. A re-scan with ``--licensee`` includes the works.
5. A run is recorded twice, and counted once.
6. Outputs are checked under the licence (the usage event carries its amount).
7. Statements come out for a period and for a pool, exact to the cent.
8. The owner then opts out; ``impact`` lists the run, ``notices`` the licensee's notice.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from clearance.cli import main
from clearance.core.usage import Permission, Usage
from clearance.licensing.offers import RSL_USAGE, offers_from_rsl
from clearance.signals.mapping import evidence_from_rsl
from clearance.signals.rsl import parse_rsl
from tests.samples import write_image


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, Any, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    doc = json.loads(out) if "--json" in args and code == 0 else out
    return code, doc, err


def ok(capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    code, doc, err = cli(capsys, *args)
    assert code == 0, (args, err)
    return doc


def test_licensing_that_pays(
    registry_location: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reg = ("--registry", registry_location)
    art, data = tmp_path / "art", tmp_path / "data"
    art.mkdir()
    data.mkdir()
    for name, seed in (("a.jpg", 1), ("b.jpg", 2), ("c.jpg", 3)):
        write_image(art / name, seed)
    for copy, source in (("a1.jpg", "a"), ("a2.jpg", "a"), ("b1.jpg", "b"), ("c1.jpg", "c")):
        shutil.copy(art / f"{source}.jpg", data / copy)
    write_image(data / "free.jpg", 9)
    shutil.copy(art / "a.jpg", tmp_path / "output.jpg")  # a model output reproducing work 1
    (art / "c.jpg").rename(tmp_path / "c.jpg")
    ok(capsys, "init", *reg)

    # 1. different training and output prices; the offers, and their RSL round trip
    prices = "train-genai=0.02/item,output=0.01/output"
    ok(capsys, "works", "add", str(art), "--owner", "PubCo", "--contact", "rights@pub.example",
       "--license", prices, "--currency", "EUR", *reg)  # fmt: skip
    ok(capsys, "works", "add", str(tmp_path / "c.jpg"), "--owner", "ArtCo",
       "--license", "train-genai=0.05EUR/item;territory=EU", *reg)  # fmt: skip
    offers = ok(capsys, "offers", "list", "--owner", "PubCo", *reg, "--json")["offers"]
    assert {(o["work_id"], o["usage"], o["price"]["per"]) for o in offers} == {
        (1, "train-genai", "item"), (1, "output", "output"),
        (2, "train-genai", "item"), (2, "output", "output"),
    }  # fmt: skip
    rsl_file = tmp_path / "pubco.rsl.xml"
    ok(capsys, "offers", "export", "--owner", "ArtCo", "--format", "rsl", "--out", str(rsl_file),
       *reg)  # fmt: skip
    document = parse_rsl(rsl_file.read_bytes())
    assert document.warnings == ()
    read_back = offers_from_rsl(document)
    assert [(o.token, o.price.to_dict()) for o in read_back] == [
        (RSL_USAGE[Usage.TRAIN_GENAI], {"amount": "0.05", "currency": "EUR", "per": "item",
                                        "territory": "EU"}),
    ]  # fmt: skip
    said = {e.usage: e.permission for e in evidence_from_rsl(document.contents[0])}
    assert said[Usage.TRAIN_GENAI] is Permission.LICENSE

    # 2. a scan needs licences and produces one request per owner
    s1 = tmp_path / "s1"
    ok(capsys, "scan", str(data), "--out", str(s1), "--workers", "1", *reg)
    bill = json.loads((s1 / "licenses.json").read_text())
    assert bill["items"] == 4 and bill["totals"] == {"EUR": "0.11"}
    assert [(o["owner"], o["contact"]) for o in bill["owners"]] == [
        ("ArtCo", None),
        ("PubCo", "rights@pub.example"),
    ]
    asked = ok(capsys, "license", "request", "--scan", str(s1), "--licensee", "GenCo",
               "--usage", "output", *reg, "--json")["requests"]  # fmt: skip
    by_owner = {r["owner"]: r for r in asked}
    assert by_owner["PubCo"]["totals"] == {"EUR": "0.06"} and by_owner["PubCo"]["item_count"] == 3
    assert by_owner["ArtCo"]["totals"] == {"EUR": "0.05"}
    again = ok(capsys, "license", "request", "--scan", str(s1), "--licensee", "GenCo",
               "--usage", "output", *reg, "--json")["requests"]  # fmt: skip
    assert [r["id"] for r in again] == [r["id"] for r in asked]  # the same scan asks once

    # 3. only the owner accepts
    pub = by_owner["PubCo"]["id"]
    code, _, err = cli(capsys, "license", "accept", str(pub), "--owner", "ArtCo", *reg)
    assert code == 2 and "only the owner" in err
    code, _, err = cli(capsys, "license", "accept", "999", "--owner", "PubCo", *reg)
    assert code == 2 and "no licence request" in err
    accepted = ok(capsys, "license", "accept", str(pub), "--owner", "PubCo", *reg, "--json")
    assert accepted["request"]["status"] == "accepted"
    deals = accepted["agreements"]
    assert [d["work_id"] for d in deals] == [1, 2]
    assert deals[0]["prices"]["output"] == {"amount": "0.01", "currency": "EUR", "per": "output"}
    assert deals[0]["manifest_digest"] == by_owner["PubCo"]["manifest_digest"]
    ok(capsys, "license", "accept", str(by_owner["ArtCo"]["id"]), "--owner", "ArtCo", *reg)

    # 4. a re-scan with --licensee includes the works, naming the agreement
    s2 = tmp_path / "s2"
    ok(capsys, "scan", str(data), "--out", str(s2), "--workers", "1", "--licensee", "GenCo", *reg)
    report = json.loads((s2 / "report.json").read_text())
    assert report["outcomes"]["include"] == 5 and report["outcomes"]["needs-license"] == 0
    assert json.loads((s2 / "licenses.json").read_text())["owners"] == []

    # 5. a run recorded twice is counted once
    run = ok(capsys, "runs", "record", "--scan", str(s2), "--name", "gen-1", "--model", "m1",
             "--licensee", "GenCo", *reg, "--json")  # fmt: skip
    assert run["created"] and run["run"]["totals"] == {"EUR": "0.11"} and run["run"]["items"] == 4
    twice = ok(capsys, "runs", "record", "--scan", str(s2), "--name", "gen-1", "--model", "m1",
               "--licensee", "GenCo", *reg, "--json")  # fmt: skip
    assert not twice["created"] and twice["run"]["id"] == run["run"]["id"]
    assert len(ok(capsys, "runs", "list", *reg, "--json")["runs"]) == 1

    # 6. an output checked under the licence carries the per-output amount
    checked = ok(capsys, "check", str(tmp_path / "output.jpg"), "--licensee", "GenCo", *reg,
                 "--json")  # fmt: skip
    assert "allow" in json.dumps(checked)
    events = ok(capsys, "usage", "list", "--licensee", "GenCo", *reg, "--json")["events"]
    assert [(e["work_id"], e["amount"], e["currency"]) for e in events] == [(1, "0.01", "EUR")]
    owned = ok(capsys, "usage", "list", "--owner", "PubCo", *reg, "--json")["events"]
    assert owned == events
    assert ok(capsys, "usage", "list", "--owner", "ArtCo", *reg, "--json")["events"] == []

    # 7. statements for the period and for a pool, exact to the cent
    now = datetime.now(UTC)
    period = f"{now.year}-Q{(now.month - 1) // 3 + 1}"
    doc = ok(capsys, "royalties", "--period", period, *reg, "--json")
    amounts = {o["owner"]: o["amounts"] for o in doc["owners"]}
    assert amounts == {"ArtCo": {"EUR": "0.05"}, "PubCo": {"EUR": "0.07"}}
    assert doc["totals"] == {"EUR": "0.12"}
    pool = ok(capsys, "royalties", "--period", period, "--pool", "100.01", "--currency", "EUR",
              *reg, "--json")  # fmt: skip
    shares = {o["owner"]: o["amounts"]["EUR"] for o in pool["owners"]}
    assert shares == {"PubCo": "80.01", "ArtCo": "20.00"}  # 4:1 units, largest remainder
    assert pool["totals"] == {"EUR": "100.01"}
    csv_text = ok(capsys, "royalties", "--period", period, "--owner", "PubCo", "--csv", *reg)
    assert "0.02 EUR x 2 items" in csv_text and "ArtCo" not in csv_text
    html = tmp_path / "pubco.html"
    ok(capsys, "royalties", "--period", period, "--owner", "PubCo", "--html", "--out", str(html),
       *reg)  # fmt: skip
    assert "gen-1" in html.read_text() and "0.07 EUR" in html.read_text()
    code, _, err = cli(capsys, "royalties", "--period", "2026-Q9", *reg)
    assert code == 2

    # 8. the owner opts out: impact lists the run, notices tell the licensee
    ok(capsys, "terms", "set", "--work", "1", "--deny", "train-genai", *reg)
    uses = ok(capsys, "impact", "--work", "1", *reg, "--json")["uses"]
    runs = [u for u in uses if u["kind"] == "run"]
    assert [(u["name"], u["licensee"], u["items"], u["agreement_id"]) for u in runs] == [
        ("gen-1", "GenCo", 2, deals[0]["id"])
    ]
    assert runs[0]["terms_then"]["train-genai"] == "license"
    assert runs[0]["terms_now"]["train-genai"] == "deny"
    notices = ok(capsys, "notices", "--licensee", "GenCo", *reg, "--json")["notices"]
    assert [(n["work_id"], n["usage"], n["before"], n["after"]) for n in notices] == [
        (1, "train-genai", "license", "deny")
    ]
    audit = ok(capsys, "audit", "verify", *reg, "--json")  # amounts hashed into the chain
    assert audit["ok"] and [r["rows"] for r in audit["ledgers"]][1] == 1

"""Offers and their RSL round trip, the append-only licensing ledgers, and bad input (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from clearance.cli import main
from clearance.core.errors import UserError
from clearance.core.models import Identifier, IdentifierScheme, Price, WorkKind
from clearance.core.usage import Permission, Usage
from clearance.licensing import parse_license
from clearance.licensing.offers import RSL_USAGE, export_rsl, list_offers, offers_from_rsl
from clearance.licensing.requests import ends_after
from clearance.licensing.runs import record_run, run_key
from clearance.registry import SqlStore, TermsChange, WorkSpec
from clearance.signals.mapping import evidence_from_rsl
from clearance.signals.rsl import parse_rsl


def _work(store: SqlStore, owner: str, key: str, license: str, url: str | None = None) -> int:
    _, priced = parse_license([license], currency="EUR")
    idents = (Identifier(IdentifierScheme.SHA256, key * 64),)
    if url:
        idents += (Identifier(IdentifierScheme.URL, url),)
    spec = WorkSpec(WorkKind.IMAGE, owner, idents, terms=TermsChange.from_flags(prices=priced))
    return store.register(spec).work.id


def test_every_price_model_round_trips_through_rsl(store: SqlStore) -> None:
    _work(store, "Pub", "a", "train-genai=0.02/item;term=P1Y;territory=DE+FR,search=3/run",
          url="https://pub.example/a.jpg")  # fmt: skip
    _work(store, "Pub", "b", "ai-input=0.5USD/output,tdm=2/pool,output=0.01/output")
    store.set_party_terms(
        "Pub",
        TermsChange.from_flags(prices=parse_license(["train-ai=7/run"], currency="GBP")[1]),
    )
    offers = list_offers(store, owner="Pub")
    assert len(offers) == 6 and offers[0].work_id is None  # the owner's default first
    document, warnings = export_rsl(offers)
    assert warnings == ["work 2: RSL has no token for output; not exported"]
    parsed = parse_rsl(document)
    assert parsed.warnings == ()
    expected = sorted(
        (o.url or ("" if o.work_id is None else f"urn:clearance:work:{o.work_id}"),
         RSL_USAGE[o.usage], json.dumps(o.price.to_dict(), sort_keys=True))
        for o in offers if o.usage is not Usage.OUTPUT
    )  # fmt: skip
    got = sorted(
        (o.url, o.token, json.dumps(o.price.to_dict(), sort_keys=True))
        for o in offers_from_rsl(parsed)
    )
    assert got == expected
    for content in parsed.contents:  # our own signal mapping reads each offer as a licence
        said = {e.usage: e.permission for e in evidence_from_rsl(content)}
        assert Permission.LICENSE in said.values()


def test_offers_filter_by_usage_through_broader_offers(store: SqlStore) -> None:
    _work(store, "Pub", "a", "tdm=1/item")
    _work(store, "Art", "b", "output=1/output")
    assert [o.usage for o in list_offers(store, usage=Usage.TRAIN_GENAI)] == [Usage.TDM]
    assert [o.owner for o in list_offers(store, usage=Usage.OUTPUT)] == ["Art"]


def test_terms_end_agreements() -> None:
    from datetime import UTC, datetime

    start = datetime(2027, 1, 31, tzinfo=UTC)
    one_month = Price.parse("1", "EUR", term="P1M")
    assert ends_after(start, [one_month]) == datetime(2027, 2, 28, tzinfo=UTC)
    year = Price.parse("1", "EUR", term="P1Y6M10D")
    assert ends_after(start, [year, Price.parse("1", "EUR")]) == datetime(2028, 8, 10, tzinfo=UTC)
    assert ends_after(start, [Price.parse("1", "EUR")]) is None


def test_the_licensing_ledgers_are_append_only(store: SqlStore, tmp_path: Path) -> None:
    work = _work(store, "Pub", "a", "train-genai=1/item")
    store.set_work_terms(work, TermsChange({Usage.TRAIN_GENAI: Permission.DENY}))
    with store.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO runs (run_key, name, licensee_id, purpose, manifests, created_at) "
                "VALUES ('k', 'r', 1, 'train-genai', '[]', '2026-01-01')"
            )
        )
    for statement in (
        "UPDATE terms_history SET terms = '{}'",
        "DELETE FROM terms_history",
        "UPDATE runs SET name = 'x'",
        "DELETE FROM runs",
    ):
        with pytest.raises(DBAPIError), store.engine.begin() as conn:
            conn.execute(text(statement))


def test_runs_refuse_bad_scans(store: SqlStore, tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no scan directory"):
        record_run(store, [str(tmp_path / "nope")], name="r", licensee="GenCo")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "manifest.json").write_text("[1, 2]")
    with pytest.raises(UserError, match="not a JSON object"):
        record_run(store, [str(bad)], name="r", licensee="GenCo")
    (bad / "manifest.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(UserError, match="not a Clearance scan manifest"):
        record_run(store, [str(bad)], name="r", licensee="GenCo")
    with pytest.raises(UserError, match="at least one scan"):
        record_run(store, [], name="r", licensee="GenCo")
    assert run_key(["b", "a", "a"]) == run_key(["a", "b"])


@pytest.mark.parametrize(
    "args",
    [
        ["license", "request", "--scan", "/nonexistent", "--licensee", "GenCo"],
        ["license", "accept", "5", "--owner", "Pub"],
        ["license", "reject", "5", "--owner", "Pub"],
        ["license", "list", "--status", "maybe"],
        ["offers", "list", "--usage", "dance"],
        ["offers", "export", "--owner", "Pub", "--format", "odrl"],
        ["runs", "record", "--scan", "/nonexistent", "--name", "r", "--licensee", "GenCo"],
        ["royalties", "--period", "2026-Q0"],
        ["royalties", "--period", "2026-Q4", "--pool", "10"],
        ["royalties", "--period", "2026-Q4", "--pool", "abc", "--currency", "EUR"],
        ["royalties", "--period", "2026-Q4", "--pool", "1", "--currency", "EURO"],
        ["royalties", "--period", "2026-Q4", "--owner", "Nobody"],
        ["royalties", "--period", "2026-Q4", "--csv", "--html"],
        ["impact"],
        ["impact", "--work", "9"],
        ["notices", "--licensee", "Nobody"],
    ],
)
def test_bad_input_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    reg = ["--registry", str(tmp_path / "r.db")]
    assert main(["init", *reg]) == 0
    capsys.readouterr()
    assert main([*args, *reg]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "Traceback" not in err

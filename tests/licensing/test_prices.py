"""Issue #13, parts 1 and 2: a price model per usage, and registration that never silently
changes terms (on SQLite and the real PostgreSQL)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import text

from clearance.cli import main
from clearance.core import InvalidTerms, Permission, Price, PricePer, Usage
from clearance.core.errors import ConflictError, UserError
from clearance.licensing import parse_license
from clearance.registry import SqlStore, TermsChange, add_works, init_store
from clearance.registry.engine import make_engine, registry_url
from clearance.registry.history import history_of
from clearance.registry.migrate import _config, _sqlite_pragma
from tests.registry.oldschema import insert_old_work


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, Any, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    doc = json.loads(out) if "--json" in args and code == 0 else out
    return code, doc, err


def test_the_grammar_reads_prices_per_usage() -> None:
    bare, priced = parse_license(
        ["train-genai=0.02/item,output=0.01EUR/output", "tdm=5 USD/run;term=P1Y;territory=de+fr"],
        currency="EUR",
    )
    assert bare == ()
    assert priced[Usage.TRAIN_GENAI] == Price(Decimal("0.02"), "EUR", PricePer.ITEM)
    assert priced[Usage.OUTPUT] == Price(Decimal("0.01"), "EUR", PricePer.OUTPUT)
    assert priced[Usage.TDM] == Price(Decimal(5), "USD", PricePer.RUN, "P1Y", "DE+FR")
    bare, priced = parse_license(["output", "train-ai=1/pool"], currency="EUR")
    assert bare == (Usage.OUTPUT,) and priced[Usage.TRAIN_AI].per is PricePer.POOL


@pytest.mark.parametrize(
    "value",
    [
        "train-genai=0.02/item",  # no currency anywhere
        "train-genai=abc/item",
        "train-genai=-1EUR/item",
        "train-genai=1EUR/week",
        "train-genai=1EUR/item;term=forever",
        "train-genai=1EUR/item;territory=Mars",
        "train-genai=1EUR/item;colour=red",
        "train-genai=1EUR/item,train-genai=2EUR/item",
        "nonsense=1EUR/item",
        "train-genai=1.0000000001EUR/item",
    ],
)
def test_bad_prices_are_user_errors(value: str) -> None:
    with pytest.raises(UserError):
        parse_license([value])


def test_setting_the_output_price_keeps_the_training_price(store: SqlStore) -> None:
    _, priced = parse_license(["train-genai=0.02/item,output=0.01/output"], currency="EUR")
    work = store.register(_spec("Pub", "a", TermsChange.from_flags(prices=priced))).work
    assert work.terms.price_for(Usage.TRAIN_GENAI) == Price.parse("0.02", "EUR", "item")
    out = Price.parse("0.03", "EUR", "output")
    change = TermsChange.from_flags(license=(Usage.OUTPUT,), price=out)
    assert change is not None
    updated = store.set_work_terms(work.id, change)
    assert updated.terms.prices == {
        Usage.TRAIN_GENAI: Price.parse("0.02", "EUR", "item"),
        Usage.OUTPUT: out,
    }
    entry = store.audit_log()[-1]
    assert entry.action == "terms.set"
    assert entry.detail["before"]["prices"]["output"]["amount"] == "0.01"
    assert entry.detail["after"]["prices"]["output"]["amount"] == "0.03"
    assert entry.detail["after"]["prices"]["train-genai"]["amount"] == "0.02"
    with store.engine.connect() as conn:
        states = history_of(conn, work.id)
    assert [t.prices[Usage.OUTPUT].amount for _, _, t in states] == [
        Decimal("0.01"),
        Decimal("0.03"),
    ]


def test_re_registering_with_other_terms_is_refused(store: SqlStore, tmp_path: Path) -> None:
    img = tmp_path / "a.txt"
    img.write_text("a registered text with several words in it", encoding="utf-8")
    first = TermsChange({Usage.TRAIN_GENAI: Permission.LICENSE}, price=Price.parse("0.02", "EUR"))
    work = add_works(store, [str(img)], owner="Pub", terms=first).registrations[0].work
    again = add_works(store, [str(img)], owner="Pub", terms=first).registrations[0]
    assert again.work.id == work.id and again.work.terms == work.terms
    other = TermsChange(
        {Usage.TRAIN_GENAI: Permission.LICENSE, Usage.OUTPUT: Permission.DENY},
        price=Price.parse("5", "EUR", "run"),
    )
    with pytest.raises(ConflictError, match="terms set --work"):
        add_works(store, [str(img)], owner="Pub", terms=other)
    assert store.get_work(work.id).terms == work.terms
    changed = add_works(store, [str(img)], owner="Pub", terms=other, update_terms=True)
    terms = changed.registrations[0].work.terms
    assert terms.permissions[Usage.OUTPUT] is Permission.DENY
    assert terms.prices[Usage.TRAIN_GENAI] == Price.parse("5", "EUR", "run")
    entry = store.audit_log()[-1]
    assert entry.action == "terms.set" and entry.detail["before"] != entry.detail["after"]


def test_an_identifier_on_several_works_is_an_error(store: SqlStore) -> None:
    for key in "abc":
        store.register(_spec("Pub", key, None, extra="isbn:9780306406157"))
    with pytest.raises(UserError, match="matches 3 works: 1, 2, 3"):
        add_works(store, ["isbn:9780306406157"], owner="Pub")


def test_cli_prices_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    reg = ("--registry", str(tmp_path / "r.db"))
    assert main(["init", *reg]) == 0
    capsys.readouterr()
    add = ["works", "add", "isbn:9780306406157", "--owner", "PubCo", *reg]
    code, doc, _ = run(
        capsys, *add, "--license", "train-genai=0.02/item,output=0.01/output", "--currency", "EUR",
        "--json",
    )  # fmt: skip
    assert code == 0 and doc["works"][0]["prices"]["output"]["per"] == "output"
    set_out = ["terms", "set", "--work", "1", "--license", "output", "--price", "0.03"]
    code, doc, _ = run(capsys, *set_out, "--currency", "EUR", "--per", "output", *reg, "--json")
    assert code == 0
    assert doc["work"]["prices"]["train-genai"] == {
        "amount": "0.02",
        "currency": "EUR",
        "per": "item",
    }
    assert doc["work"]["prices"]["output"]["amount"] == "0.03"
    code, _, err = run(capsys, *add, "--license", "train-genai=5EUR/run")
    assert code == 2 and "terms set --work 1" in err and "--update-terms" in err
    for bad in (["--license", "train-genai=x/item"], ["--license", "output", "--price", "1"],
                ["--license", "output=1EURO/output"], ["--license", "output", "--price", "1",
                "--currency", "EUR", "--per", "week"]):  # fmt: skip
        code, _, err = run(capsys, "terms", "set", "--work", "1", *bad, *reg)
        assert code == 2 and err.startswith("error:"), (bad, err)


def test_upgrade_from_0003_keeps_prices_and_seeds_history(registry_location: str) -> None:
    engine = make_engine(registry_url(registry_location))
    try:
        with engine.begin() as conn:
            cfg = _config()
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0002")
            conn.execute(text("INSERT INTO meta (key, value) VALUES ('format_version', '1')"))
            work = _old_work_with_price(conn)
        with engine.connect() as conn:  # 0003 rebuilds tables: foreign keys off, as init does
            if engine.dialect.name == "sqlite":
                _sqlite_pragma(conn, "PRAGMA foreign_keys=OFF")
            with conn.begin():
                cfg = _config()
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "0003")
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0003"
    finally:
        engine.dispose()
    with init_store(registry_location) as store:
        got = store.get_work(work)
        assert got.terms.prices == {
            Usage.TRAIN_GENAI: Price.parse("0.02", "EUR"),
            Usage.OUTPUT: Price.parse("0.02", "EUR"),
        }
        with store.engine.connect() as conn:
            states = history_of(conn, work)
        assert len(states) == 1 and states[0][1] == "migration 0004"
        assert all(r.ok for r in store.verify_ledger())
        change = TermsChange.from_flags(
            license=(Usage.OUTPUT,), price=Price.parse("0.01", "EUR", "output")
        )
        assert change is not None
        updated = store.set_work_terms(work, change)
        assert updated.terms.prices[Usage.TRAIN_GENAI] == Price.parse("0.02", "EUR")
        assert updated.terms.prices[Usage.OUTPUT] == Price.parse("0.01", "EUR", "output")


def _old_work_with_price(conn: Any) -> int:
    """A work licensed for training and output at one price, written as 0003 stored it."""
    work = insert_old_work(conn, "Pub", "d" * 64)
    for usage in ("train-genai", "output"):
        conn.execute(
            text(
                "INSERT INTO terms (work_id, usage, permission, price_amount, price_currency, "
                "price_per, updated_at) VALUES (:w, :u, 'license', '0.02', 'EUR', 'item', :at)"
            ),
            {"w": work, "u": usage, "at": "2026-01-01 00:00:00"},
        )
    return work


def _spec(owner: str, key: str, terms: TermsChange | None, extra: str | None = None) -> Any:
    from clearance.core.models import Identifier, IdentifierScheme, WorkKind
    from clearance.registry import WorkSpec, parse_identifier

    idents = (Identifier(IdentifierScheme.SHA256, key * 64),)
    if extra:
        idents += (parse_identifier(extra),)
    return WorkSpec(WorkKind.TEXT, owner, idents, terms=terms)


def test_invalid_terms_class_is_exit_2() -> None:
    assert InvalidTerms.exit_code == 2

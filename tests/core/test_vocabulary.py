"""Usage parsing, terms validation, implications and the error tree's exit codes."""

from __future__ import annotations

from decimal import Decimal

import pytest

from clearance.core import (
    ClearanceError,
    ExternalError,
    ImageTooLarge,
    InvalidTerms,
    InvalidUsage,
    Permission,
    Price,
    RegistryUnavailable,
    Terms,
    Usage,
    UserError,
    narrower_usages,
    parse_usages,
)


def test_parse_usages_accepts_commas_repeats_and_all() -> None:
    assert parse_usages(["tdm,train-ai", " train-ai ", "SEARCH"]) == (
        Usage.TDM,
        Usage.TRAIN_AI,
        Usage.SEARCH,
    )
    assert set(parse_usages(["all"])) == set(Usage)


def test_unknown_usage_is_a_user_error_naming_the_valid_ones() -> None:
    with pytest.raises(InvalidUsage) as info:
        parse_usages(["train"])
    assert info.value.exit_code == 2
    assert "train-genai" in str(info.value)


def test_implication_closure() -> None:
    assert narrower_usages(Usage.TDM) == {Usage.TRAIN_AI, Usage.TRAIN_GENAI, Usage.AI_INPUT}
    assert narrower_usages(Usage.TRAIN_AI) == {Usage.TRAIN_GENAI}
    assert narrower_usages(Usage.OUTPUT) == frozenset()


def test_terms_need_a_price_for_licences() -> None:
    with pytest.raises(InvalidTerms):
        Terms({Usage.OUTPUT: Permission.LICENSE})
    price = Price.parse("0.10", "usd", "run")
    terms = Terms({Usage.OUTPUT: Permission.LICENSE}, {Usage.OUTPUT: price})
    assert terms.price == Price(Decimal("0.10"), "USD", Price.parse("1", "EUR", "run").per)
    assert terms.price_for(Usage.OUTPUT) == terms.price
    assert terms.price_for(Usage.TRAIN_AI) is None


@pytest.mark.parametrize(
    ("amount", "currency", "per"),
    [
        ("-1", "EUR", "item"),
        ("abc", "EUR", "item"),
        ("1", "EURO", "item"),
        ("1", "EUR", "month"),
        ("NaN", "EUR", "item"),
        ("inf", "EUR", "item"),
    ],
)
def test_bad_prices_are_user_errors(amount: str, currency: str, per: str) -> None:
    with pytest.raises(InvalidTerms):
        Price.parse(amount, currency, per)


def test_effective_terms_merge_party_defaults_and_implications() -> None:
    default = Terms({Usage.SEARCH: Permission.ALLOW, Usage.TDM: Permission.DENY})
    own = Terms({Usage.SEARCH: Permission.DENY})
    eff = own.merged_over(default).effective()
    assert eff[Usage.SEARCH] is Permission.DENY
    assert eff[Usage.TRAIN_GENAI] is Permission.DENY
    assert eff[Usage.OUTPUT] is Permission.UNKNOWN


def test_error_tree_codes() -> None:
    assert issubclass(ImageTooLarge, UserError) and ImageTooLarge.http_status == 413
    assert issubclass(RegistryUnavailable, ExternalError) and RegistryUnavailable.exit_code == 3
    assert issubclass(ExternalError, ClearanceError) and UserError.exit_code == 2
    assert str(UserError("bad", hint="fix it")) == "bad (fix it)"


def test_import_clearance_stays_light() -> None:
    import subprocess
    import sys

    code = (
        "import sys, clearance; heavy = [m for m in ('sqlalchemy', 'PIL', 'httpx', 'numpy', "
        "'psycopg') if m in sys.modules]; print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""

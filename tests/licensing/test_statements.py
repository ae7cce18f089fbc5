"""Issue #13, part 6: money is exact. Property tests over random usage tables, prices and pools:
statements sum exactly (to the pool, or to the owners' amounts), every owner's amount equals
the formula, and currencies are never added together."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clearance.core.errors import UserError
from clearance.core.models import Price, PricePer
from clearance.core.money import format_minor, parse_minor, split_largest_remainder, to_minor
from clearance.licensing.charges import charge
from clearance.licensing.statements import Line, Period, compose

OWNERS = ["Ann", "Bob", "Cy", "Dee"]
CURRENCIES = ["EUR", "USD", "JPY", "KWD"]
AT = datetime(2026, 11, 5, tzinfo=UTC)


@given(
    total=st.integers(0, 10**12),
    weights=st.dictionaries(st.sampled_from(OWNERS), st.integers(0, 10**6), min_size=1),
)
def test_largest_remainder_sums_exactly_and_stays_within_one_unit(
    total: int, weights: dict[str, int]
) -> None:
    shares = split_largest_remainder(total, weights)
    whole = sum(weights.values())
    if whole == 0:
        assert set(shares.values()) == {0}
        return
    assert sum(shares.values()) == total
    for key, weight in weights.items():
        quota = Fraction(total * weight, whole)
        assert quota - 1 < shares[key] < quota + 1
        assert shares[key] == int(quota) or shares[key] == int(quota) + 1


def test_largest_remainder_breaks_ties_by_key() -> None:
    assert split_largest_remainder(100, {"b": 1, "a": 1, "c": 1}) == {"a": 34, "b": 33, "c": 33}
    assert split_largest_remainder(1, {"x": 0, "y": 2}) == {"x": 0, "y": 1}


def test_minor_units() -> None:
    assert to_minor(Decimal("0.005"), "EUR") == 1 and to_minor(Decimal("0.0049"), "EUR") == 0
    assert to_minor(Decimal("12.5"), "JPY") == 13 and format_minor(1234, "KWD") == "1.234"
    assert parse_minor("100.00", "EUR") == 10000 and parse_minor("7", "JPY") == 7
    for bad, cur in (("1.001", "EUR"), ("0.5", "JPY"), ("-1", "EUR"), ("x", "EUR")):
        with pytest.raises(UserError):
            parse_minor(bad, cur)


price_models = st.builds(
    lambda amount, cur, per: Price.parse(amount, cur, per),
    st.decimals(min_value=0, max_value=1000, places=4, allow_nan=False, allow_infinity=False),
    st.sampled_from(CURRENCIES),
    st.sampled_from(["item", "run", "output", "pool"]),
)
usage_rows = st.lists(
    st.tuples(
        st.sampled_from(OWNERS),
        price_models,
        st.integers(0, 5000),
        st.booleans(),  # under an agreement
    ),
    max_size=40,
)


def _entries(rows: list[tuple[str, Price, int, bool]]) -> list[tuple[str, None, Line]]:
    out = []
    for i, (owner, price, units, licensed) in enumerate(rows):
        amount = charge(price, units)
        out.append(
            (
                owner,
                None,
                Line(
                    "output" if price.per is PricePer.OUTPUT else "run",
                    f"r{i}",
                    AT,
                    i + 1,
                    "GenCo",
                    i + 1 if licensed else None,
                    "train-genai",
                    units,
                    price,
                    amount,
                    price.currency if amount is not None else None,
                ),
            )
        )
    return out


@settings(max_examples=150)
@given(rows=usage_rows)
def test_priced_statements_add_up_and_each_owner_is_the_formula(
    rows: list[tuple[str, Price, int, bool]],
) -> None:
    statement = compose(Period.parse("2026-Q4"), _entries(rows))
    for currency in {p.currency for _, p, _, _ in rows}:
        owners_sum = sum(o.amounts.get(currency, 0) for o in statement.owners)
        assert statement.totals.get(currency, 0) == owners_sum
    for o in statement.owners:
        for currency, minor in o.amounts.items():  # the formula, recomputed by hand
            exact = sum(
                (charge(p, n) or Decimal(0))
                for owner, p, n, _ in rows
                if owner == o.owner and p.currency == currency
            )
            cents = exact.scaleb({"JPY": 0, "KWD": 3}.get(currency, 2)).quantize(
                Decimal(1), rounding=ROUND_HALF_UP
            )
            assert minor == int(cents)
        assert set(o.amounts) <= {p.currency for own, p, _, _ in rows if own == o.owner}


@settings(max_examples=150)
@given(rows=usage_rows, pool=st.integers(0, 10**11), currency=st.sampled_from(CURRENCIES))
def test_pool_statements_sum_exactly_to_the_pool(
    rows: list[tuple[str, Price, int, bool]], pool: int, currency: str
) -> None:
    statement = compose(Period.parse("2026-Q4"), _entries(rows), pool=(pool, currency))
    weights: dict[str, Fraction] = {}
    for owner, price, units, licensed in rows:
        if licensed:
            w = price.amount if price.per is PricePer.POOL else 1
            weights[owner] = weights.get(owner, Fraction(0)) + Fraction(w) * units
    whole = sum(weights.values(), Fraction(0))
    shares = [o.amounts.get(currency, 0) for o in statement.owners]
    if whole == 0:
        assert sum(shares) == 0
        return
    assert sum(shares) == pool == statement.totals[currency]
    for o in statement.owners:
        quota = pool * weights.get(o.owner, Fraction(0)) / whole
        assert quota - 1 < o.amounts.get(currency, 0) < quota + 1
        assert set(o.amounts) <= {currency}


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("2026-Q4", "2026-10-01", "2027-01-01"),
        ("2026-q1", "2026-01-01", "2026-04-01"),
        ("2026-11", "2026-11-01", "2026-12-01"),
        ("2026-12", "2026-12-01", "2027-01-01"),
        ("2026", "2026-01-01", "2027-01-01"),
    ],
)
def test_periods(text: str, start: str, end: str) -> None:
    period = Period.parse(text)
    assert period.start.date().isoformat() == start and period.end.date().isoformat() == end


@pytest.mark.parametrize("bad", ["2026-Q5", "2026-13", "26-Q1", "Q4", "", "2026-Q4x", "0001"])
def test_bad_periods_are_user_errors(bad: str) -> None:
    with pytest.raises(UserError):
        Period.parse(bad)

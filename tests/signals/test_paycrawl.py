"""Pay-per-crawl: HTTP 402 with crawler-price, crawler-charged receipts, crawler-error."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clearance.core import Price, PricePer
from clearance.signals.paycrawl import parse_crawler_price, parse_pay_per_crawl


def test_documented_402() -> None:
    headers = httpx.Headers({"date": "Fri, 06 Jun 2025 08:42:38 GMT", "crawler-price": "USD 0.01"})
    p = parse_pay_per_crawl(402, headers)
    assert p.payment_required
    assert p.price == Price(Decimal("0.01"), "USD", PricePer.ITEM)
    assert p.charged is None
    assert p.raw == "crawler-price: USD 0.01"
    assert p.warnings == ()


def test_documented_charge_receipt() -> None:
    p = parse_pay_per_crawl(200, {"crawler-charged": "USD 0.01"})
    assert not p.payment_required
    assert p.charged == Price(Decimal("0.01"), "USD", PricePer.ITEM)


def test_forbidden() -> None:
    p = parse_pay_per_crawl(403, [("crawler-error", "CrawlerForbidden")])
    assert p.forbidden
    assert not p.payment_required


@pytest.mark.parametrize(
    ("value", "amount", "currency", "warns"),
    [
        ("USD 0.01", "0.01", "USD", False),
        ("eur 1", "1", "EUR", False),
        ("  GBP   2.50 ", "2.50", "GBP", False),
        ("0.05 USD", "0.05", "USD", True),
        ("$0.02", "0.02", "USD", True),
    ],
)
def test_price_forms(value: str, amount: str, currency: str, warns: bool) -> None:
    price, warnings = parse_crawler_price(value)
    assert price is not None
    assert (price.amount, price.currency) == (Decimal(amount), currency)
    assert bool(warnings) is warns


@pytest.mark.parametrize("value", ["", "free", "USD", "USD -1", "USD 1e5", "USD ten", "US 1"])
def test_unreadable_prices(value: str) -> None:
    price, warnings = parse_crawler_price(value)
    assert price is None
    assert warnings


def test_402_without_price_warns() -> None:
    p = parse_pay_per_crawl(402, {})
    assert not p.payment_required
    assert p.warnings


def test_price_on_wrong_status_warns() -> None:
    p = parse_pay_per_crawl(200, {"crawler-price": "USD 0.01"})
    assert not p.payment_required
    assert p.warnings


def test_repeated_headers_first_wins() -> None:
    p = parse_pay_per_crawl(402, [("crawler-price", "USD 0.01"), ("crawler-price", "USD 0.02")])
    assert p.price is not None and p.price.amount == Decimal("0.01")
    assert p.warnings


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(st.none(), st.integers(0, 999)),
    st.lists(
        st.tuples(
            st.sampled_from(["crawler-price", "crawler-charged", "crawler-error", "x"]),
            st.text(max_size=40),
        ),
        max_size=4,
    ),
)
def test_never_raises(status: int | None, headers: list[tuple[str, str]]) -> None:
    parse_pay_per_crawl(status, headers)

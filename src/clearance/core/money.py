"""Money held exactly: integer minor units per ISO 4217 currency, and a pool split that adds up.

Why a module of its own: royalty statements must be recomputable to the cent
from the ledger, so amounts are never floats. A line item is an exact
``Decimal`` (a per-item price may be a fraction of a cent); an owner's amount
is that exact sum rounded once, half up, to the currency's minor unit and held
as an integer; a statement's total is the sum of those integers, so it adds up
exactly. A pool is split by the largest-remainder method (Hamilton): every
share gets the floor of its exact quota, and the units left over go, one
each, to the largest remainders (ties by key), so the shares sum to the pool.
Amounts in different currencies are never added together.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from clearance.core.errors import InvalidTerms

_ZERO_DECIMALS = frozenset(
    {"BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI"}
    | {"VND", "VUV", "XAF", "XOF", "XPF"}
)
_THREE_DECIMALS = frozenset({"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"})


def minor_digits(currency: str) -> int:
    """Digits of the currency's minor unit: 2 for EUR and USD, 0 for JPY, 3 for KWD."""
    if currency in _ZERO_DECIMALS:
        return 0
    if currency in _THREE_DECIMALS:
        return 3
    return 2


def to_minor(amount: Decimal, currency: str) -> int:
    """An exact amount rounded half up to whole minor units (cents for EUR)."""
    scaled = amount.scaleb(minor_digits(currency))
    return int(scaled.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def parse_minor(text: str, currency: str) -> int:
    """A pool or payment typed by a person, in minor units; more decimals than the
    currency has is an error (a pool of 100.005 EUR cannot be paid out)."""
    raw = text.strip()
    try:
        value = Decimal(raw)
    except ArithmeticError:
        raise InvalidTerms(f"amount {text[:40]!r} is not a number") from None
    if len(raw) > 40 or not value.is_finite() or value < 0:
        raise InvalidTerms(f"amount {text[:40]!r} must be a finite amount >= 0")
    scaled = value.scaleb(minor_digits(currency))
    if scaled != scaled.to_integral_value():
        raise InvalidTerms(
            f"amount {text!r} has more decimals than {currency} has ({minor_digits(currency)})"
        )
    if scaled >= Decimal(10) ** 18:
        raise InvalidTerms(f"amount {text[:40]!r} is too large")
    return int(scaled)


def format_minor(units: int, currency: str) -> str:
    """Minor units as a decimal string in major units: ``1234`` EUR -> ``12.34``."""
    digits = minor_digits(currency)
    return format(Decimal(units).scaleb(-digits), "f") if digits else str(units)


def split_largest_remainder(total: int, weights: Mapping[str, int | Fraction]) -> dict[str, int]:
    """Split ``total`` minor units in proportion to ``weights``; the shares sum to ``total``.

    Each key gets ``floor(total * w / W)``; the ``total - sum(floors)`` units left
    go one each to the keys with the largest remainders (ties: the smaller key).
    Keys with zero weight get 0; with no positive weight nothing can be split
    and every share is 0.
    """
    if total < 0:
        raise ValueError("a pool cannot be negative")
    positive = {k: Fraction(w) for k, w in weights.items() if w > 0}
    whole = sum(positive.values(), Fraction(0))
    shares = {k: 0 for k in weights}
    if not positive or total == 0:
        return shares
    remainders: list[tuple[Fraction, str]] = []
    for key, weight in positive.items():
        quota = total * weight / whole
        floor = quota.numerator // quota.denominator
        shares[key] = floor
        remainders.append((quota - floor, key))
    left = total - sum(shares.values())
    remainders.sort(key=lambda rk: (-rk[0], rk[1]))
    for _, key in remainders[:left]:
        shares[key] += 1
    return shares


__all__ = [
    "format_minor",
    "minor_digits",
    "parse_minor",
    "split_largest_remainder",
    "to_minor",
]

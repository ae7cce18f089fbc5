"""What one line of use costs under a price model: the one formula every amount comes from.

``item``: price x items (each item a run used); ``run``: the price once per run
that used the work; ``output``: price x outputs; ``pool``: nothing here (the
pool is split by ``statements``). Exact ``Decimal`` arithmetic: a line is never
rounded; only an owner's total is, once (``clearance.core.money``).
"""

from __future__ import annotations

from decimal import Decimal

from clearance.core.models import Price, PricePer


def charge(price: Price | None, units: int) -> Decimal | None:
    """The exact amount owed for ``units`` items (or outputs) under ``price``; None if the
    model is not charged per unit (a pool share) or there is no price."""
    if price is None or price.per is PricePer.POOL:
        return None
    if price.per is PricePer.RUN:
        return price.amount if units > 0 else Decimal(0)
    return price.amount * units


def describe_formula(price: Price, units: int) -> str:
    """``0.02 EUR x 3 items`` (the formula shown on statements and requests)."""
    unit = {PricePer.ITEM: "items", PricePer.OUTPUT: "outputs"}.get(price.per)
    if unit is not None:
        return f"{price.amount_text} {price.currency} x {units} {unit}"
    if price.per is PricePer.RUN:
        return f"{price.amount_text} {price.currency} flat per run"
    return f"pool share: {units} units x weight {price.amount_text}"


__all__ = ["charge", "describe_formula"]

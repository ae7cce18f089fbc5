"""HTTP 402 pay-per-crawl: a site that answers a crawler with a price instead of a page.

Cloudflare's pay-per-crawl answers an unpaid AI crawler with ``402 Payment
Required`` and ``crawler-price: USD 0.01``; a crawler that pays sends
``crawler-exact-price`` or ``crawler-max-price`` and gets the page with
``crawler-charged: USD 0.01``. A blocked crawler gets ``403`` with
``crawler-error: CrawlerForbidden``. For Clearance this is a licensing offer
with a price attached (or, for the block, a refusal), so the response status
and headers are read into a typed ``clearance.core.Price`` here and given
meaning in ``mapping``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from clearance.core import Price, PricePer
from clearance.signals.xrobots import HeaderInput, header_values

_PRICE = re.compile(r"^\s*([A-Za-z]{3})\s+([0-9]+(?:\.[0-9]+)?)\s*$")
_PRICE_REVERSED = re.compile(r"^\s*\$?([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]{3})?\s*$")


@dataclass(frozen=True, slots=True)
class PayPerCrawl:
    """What a response said about paying for the crawl.

    ``price`` is the asking price (``crawler-price``), ``charged`` what was paid
    (``crawler-charged``), ``error`` the ``crawler-error`` code if any.
    """

    status: int | None = None
    price: Price | None = None
    charged: Price | None = None
    error: str | None = None
    raw: str = ""
    warnings: tuple[str, ...] = ()

    @property
    def payment_required(self) -> bool:
        """A 402 that names a price: the content is offered for a fee."""
        return self.status == 402 and self.price is not None

    @property
    def forbidden(self) -> bool:
        """The site blocks this crawler outright (``crawler-error: CrawlerForbidden``)."""
        return (self.error or "").lower() == "crawlerforbidden"


def parse_crawler_price(value: str) -> tuple[Price | None, tuple[str, ...]]:
    """Read ``USD 0.01`` (also, leniently, ``0.01 USD`` and ``$0.01``) into a ``Price`` per item."""
    m = _PRICE.match(value)
    if m:
        currency, amount = m.group(1).upper(), m.group(2)
        warnings: tuple[str, ...] = ()
    else:
        r = _PRICE_REVERSED.match(value)
        if not r:
            return None, (f"crawler price {value[:60]!r} is not 'CUR amount'",)
        amount, currency = r.group(1), (r.group(2) or "USD").upper()
        warnings = (f"crawler price {value[:60]!r} read as '{currency} {amount}'",)
    try:
        dec = Decimal(amount)
    except InvalidOperation:  # pragma: no cover - the regex admits only decimals
        return None, (f"crawler price amount {amount!r} is not a number",)
    return Price(dec, currency, PricePer.ITEM), warnings


def parse_pay_per_crawl(status: int | None, headers: HeaderInput) -> PayPerCrawl:
    """Read a response's status and ``crawler-*`` headers; never raises."""
    warnings: list[str] = []
    raws: list[str] = []

    def one(name: str) -> Price | None:
        values = header_values(headers, name)
        if not values:
            return None
        if len(set(values)) > 1:
            warnings.append(f"several {name} headers; the first is used")
        raws.append(f"{name}: {values[0]}")
        price, w = parse_crawler_price(values[0])
        warnings.extend(w)
        return price

    price = one("crawler-price")
    charged = one("crawler-charged")
    errors = header_values(headers, "crawler-error")
    error = errors[0].strip() if errors else None
    if error:
        raws.append(f"crawler-error: {error}")
    if status == 402 and price is None:
        warnings.append("HTTP 402 without a readable crawler-price")
    if price is not None and status not in (402, None):
        warnings.append(f"crawler-price on an HTTP {status} response")
    return PayPerCrawl(status, price, charged, error, "; ".join(raws), tuple(warnings))

"""The ``--license`` grammar: which usages are licensed, and each one's price model.

One flag says it all, so an owner can offer training and outputs at different
prices in one command::

    --license train-genai=0.02/item,output=0.01/output --currency EUR
    --license 'train-genai=0.02EUR/item;term=P1Y;territory=EU'
    --license output --price 0.01 --currency EUR --per output   (today's form)

``ENTRY := USAGE | USAGE=AMOUNT[CUR]/UNIT[;term=PERIOD][;territory=CODES]``,
entries separated by commas or given in repeated flags. ``UNIT`` is ``item``
(each item per training run), ``run`` (flat per run), ``output`` (each
output) or ``pool`` (a share of a revenue pool; the amount is the weight).
A bare usage takes ``--price/--currency/--per``; an entry without a currency
takes ``--currency``. A usage named twice with different prices is an error.

It lives in the core (pure, standard library) so every face and the
registry's ``TermsChange`` read prices the same way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from clearance.core.errors import InvalidTerms
from clearance.core.models import Price
from clearance.core.usage import Usage, parse_usages

_PRICED = re.compile(
    r"^(?P<usage>[A-Za-z-]+)\s*=\s*(?P<amount>[0-9][0-9.eE+-]*)\s*(?P<cur>[A-Za-z]{3})?"
    r"\s*/\s*(?P<unit>[A-Za-z]+)(?P<opts>(?:;[^;]*)*)$"
)


def parse_license(
    values: Iterable[str], *, currency: str | None = None
) -> tuple[tuple[Usage, ...], dict[Usage, Price]]:
    """Parse ``--license`` values into bare usages (priced by ``--price``) and priced ones."""
    bare: list[Usage] = []
    priced: dict[Usage, Price] = {}
    for value in values:
        for entry in value.split(","):
            text = entry.strip()
            if not text:
                continue
            if "=" not in text:
                bare.extend(u for u in parse_usages([text]) if u not in bare)
                continue
            found = _PRICED.match(text)
            if not found:
                raise InvalidTerms(
                    f"cannot read licence price {text[:80]!r}",
                    hint="write USAGE=AMOUNT/UNIT, e.g. train-genai=0.02/item (see docs/cli.md)",
                )
            cur = found["cur"] or currency
            if cur is None:
                raise InvalidTerms(
                    f"{text[:80]!r} has no currency", hint="write 0.02EUR/item or add --currency"
                )
            options: dict[str, str] = {}
            for opt in found["opts"].split(";")[1:]:
                key, sep, val = opt.partition("=")
                key = key.strip().lower()
                if not sep or key not in ("term", "territory") or key in options:
                    raise InvalidTerms(
                        f"unknown licence option {opt[:40]!r}",
                        hint="use ;term=P1Y or ;territory=EU",
                    )
                options[key] = val
            price = Price.parse(
                found["amount"],
                cur,
                found["unit"],
                term=options.get("term"),
                territory=options.get("territory"),
            )
            for usage in parse_usages([found["usage"]]):
                if usage in priced and priced[usage] != price:
                    raise InvalidTerms(f"usage {usage.value} is given two prices")
                priced[usage] = price
    clash = [u.value for u in bare if u in priced]
    if clash:
        raise InvalidTerms(f"usage {', '.join(clash)} is given both a price and --price")
    return tuple(bare), priced


__all__ = ["parse_license"]

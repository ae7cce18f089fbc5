"""Option declarations shared by several commands, so every command spells them the same way."""

from __future__ import annotations

import math
import os
from typing import Annotated, Any

import typer

from clearance.config import Settings
from clearance.core.validation import MAX_COUNT, MAX_ID
from clearance.registry.records import TermsChange

MAX_WORKERS = 256
"""The most worker processes a flag may ask for."""


def IdArg(help: str = "The id.") -> Any:
    """A positional row id, bounded so it can name a row (1..2147483647)."""
    return typer.Argument(metavar="ID", min=1, max=MAX_ID, help=help)


def IdOpt(*names: str, help: str) -> Any:
    """An optional row-id flag (``--work ID``), bounded like ``IdArg``."""
    return typer.Option(*names, metavar="ID", min=1, max=MAX_ID, help=help)


def CountOpt(*names: str, help: str, minimum: int = 1) -> Any:
    """A ``--limit``/``--offset`` flag, bounded to what every backend accepts."""
    return typer.Option(*names, min=minimum, max=MAX_COUNT, help=help)


def WorkersOpt(help: str) -> Any:
    """A ``--workers`` flag: 1..256 processes."""
    return typer.Option("--workers", min=1, max=MAX_WORKERS, help=help)


def finite_seconds(value: float | None) -> float | None:
    """Typer callback: refuse NaN and infinity, which pass any min/max range check."""
    if value is not None and not math.isfinite(value):
        raise typer.BadParameter("must be a finite number of seconds")
    return value


RegistryOpt = Annotated[
    str | None,
    typer.Option(
        "--registry",
        "-r",
        metavar="PATH|URL",
        help="SQLite file or postgresql:// URL (env CLEARANCE_REGISTRY; default ./clearance.db).",
    ),
]
MinVerificationOpt = Annotated[
    str | None,
    typer.Option(
        "--min-verification",
        metavar="self|domain|key|admin",
        help="Act only on claims whose claimant is verified at this level or above; the "
        "others are reported as ignored-for-verification (env CLEARANCE_MIN_VERIFICATION).",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document to stdout.")]
WideOpt = Annotated[
    bool,
    typer.Option("--wide", help="Keep every table row on one line (tables wrap to fit otherwise)."),
]
DenyOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--deny", metavar="USAGES", help="Usages to deny (comma list, repeatable, or 'all')."
    ),
]
AllowOpt = Annotated[
    list[str] | None, typer.Option("--allow", metavar="USAGES", help="Usages to allow.")
]
LicenseOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--license",
        metavar="USAGE=PRICE/UNIT,...",
        help=(
            "Usages allowed only under a paid licence, each with its price: "
            "train-genai=0.02/item,output=0.01/output (units item, run, output, pool; "
            "currency inline 0.02EUR/item or --currency), or bare usages priced by --price."
        ),
    ),
]
PriceOpt = Annotated[
    str | None, typer.Option("--price", metavar="AMOUNT", help="Licence price, a decimal amount.")
]
CurrencyOpt = Annotated[
    str | None, typer.Option("--currency", metavar="CUR", help="ISO 4217 currency code, e.g. EUR.")
]
PerOpt = Annotated[
    str,
    typer.Option(
        "--per",
        metavar="item|run|output|pool",
        help="What --price is charged for (per item, flat per run, per output, pool share).",
    ),
]


def settings(registry: str | None) -> Settings:
    """Settings for this invocation: flag > CLEARANCE_* environment > defaults."""
    return Settings.from_env(os.environ, registry=registry)


def terms_change(
    deny: list[str] | None,
    allow: list[str] | None,
    license: list[str] | None,
    price: str | None,
    currency: str | None,
    per: str,
    unset: list[str] | None = None,
) -> TermsChange | None:
    """Validate the terms flags into a ``TermsChange`` (or None when none were given)."""
    return TermsChange.parse(
        deny=deny or [],
        allow=allow or [],
        license=license or [],
        unset=unset or [],
        price=price,
        currency=currency,
        per=per,
    )

"""``clearance terms set|show``: per-work terms and an owner's default terms."""

from __future__ import annotations

from typing import Annotated

import typer

from clearance.cli.options import (
    AllowOpt,
    CurrencyOpt,
    DenyOpt,
    IdOpt,
    JsonOpt,
    LicenseOpt,
    PerOpt,
    PriceOpt,
    RegistryOpt,
    WideOpt,
    settings,
    terms_change,
)
from clearance.cli.output import emit_json, safe, stdout, terms_text, work_detail
from clearance.core.errors import UserError
from clearance.core.models import Terms, prices_to_dict
from clearance.service import open_registry

app = typer.Typer(help="Set and show terms per work or per owner.", no_args_is_help=True)

WorkOpt = Annotated[int | None, IdOpt("--work", help="The work whose terms change.")]
OwnerOpt = Annotated[
    str | None,
    typer.Option("--owner", help="Change this owner's default terms for all their works."),
]


def _terms_doc(owner: str, terms: Terms) -> dict[str, object]:
    return {
        "owner": owner,
        "terms": {u.value: p.value for u, p in terms.effective().items()},
        "stated_terms": {u.value: p.value for u, p in terms.permissions.items()},
        "price": terms.price.to_dict() if terms.price else None,
        "prices": prices_to_dict(terms.prices),
    }


@app.command("set")
def set_(
    work: WorkOpt = None,
    owner: OwnerOpt = None,
    deny: DenyOpt = None,
    allow: AllowOpt = None,
    license: LicenseOpt = None,
    price: PriceOpt = None,
    currency: CurrencyOpt = None,
    per: PerOpt = "item",
    unset: Annotated[
        list[str] | None,
        typer.Option(
            "--unset",
            metavar="USAGES",
            help="Usages to clear back to unknown (or to the owner default).",
        ),
    ] = None,
    registry: RegistryOpt = None,
    wide: WideOpt = False,
    json: JsonOpt = False,
) -> None:
    """Set terms on one work (--work) or an owner's default terms (--owner)."""
    if (work is None) == (owner is None):
        raise UserError("give exactly one of --work ID or --owner NAME")
    change = terms_change(deny, allow, license, price, currency, per, unset)
    if change is None:
        raise UserError("no terms given", hint="use --deny, --allow, --license or --unset")
    cfg = settings(registry)
    with open_registry(cfg) as store:
        if work is not None:
            updated = store.set_work_terms(work, change, actor=cfg.actor)
            if json:
                emit_json({"work": updated.to_dict()})
            else:
                stdout(wide).print(work_detail(updated, wide=wide))
            return
        assert owner is not None
        terms = store.set_party_terms(owner, change, actor=cfg.actor)
    doc = _terms_doc(owner, terms)
    if json:
        emit_json(doc)
    else:
        _print_terms(owner, terms)


def _print_terms(owner: str, terms: Terms) -> None:
    lines = terms_text(terms).splitlines()
    stdout().print(f"default terms for {safe(owner)}:", highlight=False)
    for line in lines:
        stdout().print(f"  {line}", highlight=False)


@app.command("show")
def show(
    owner: Annotated[str, typer.Option("--owner", help="The owner whose default terms to show.")],
    registry: RegistryOpt = None,
    json: JsonOpt = False,
) -> None:
    """Show an owner's default terms."""
    with open_registry(settings(registry)) as store:
        terms = store.party_terms(owner)
    doc = _terms_doc(owner, terms)
    if json:
        emit_json(doc)
    else:
        _print_terms(owner, terms)

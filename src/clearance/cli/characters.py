"""``clearance characters add``: protect a character by name, aliases and reference art."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from clearance.cli.options import (
    AllowOpt,
    CurrencyOpt,
    DenyOpt,
    JsonOpt,
    LicenseOpt,
    PerOpt,
    PriceOpt,
    RegistryOpt,
    settings,
    terms_change,
)
from clearance.cli.output import emit_json, safe, stdout, work_detail
from clearance.registry.characters import add_character
from clearance.service import build_embedder, open_registry

app = typer.Typer(
    help="Register characters (names, aliases, reference images).", no_args_is_help=True
)


@app.command("add")
def add(
    name: Annotated[str, typer.Argument(metavar="NAME")],
    owner: Annotated[str, typer.Option("--owner", help="The rights holder's name.")],
    images: Annotated[
        Path | None,
        typer.Option("--images", metavar="DIR", help="Reference images (a folder or one file)."),
    ] = None,
    alias: Annotated[
        list[str] | None,
        typer.Option("--alias", metavar="A", help="Another name; repeat for more."),
    ] = None,
    deny: DenyOpt = None,
    allow: AllowOpt = None,
    license: LicenseOpt = None,
    price: PriceOpt = None,
    currency: CurrencyOpt = None,
    per: PerOpt = "item",
    registry: RegistryOpt = None,
    json: JsonOpt = False,
) -> None:
    """Register a character work with its aliases and reference art."""
    cfg = settings(registry)
    change = terms_change(deny, allow, license, price, currency, per)
    with open_registry(cfg) as store:
        summary = add_character(
            store,
            name,
            owner=owner,
            aliases=alias or [],
            images=images,
            terms=change,
            actor=cfg.actor,
            max_pixels=cfg.max_pixels,
            embedder=build_embedder(cfg),
        )
    work = summary.registration.work
    if json:
        emit_json(
            {
                "work": work.to_dict() | {"status": summary.registration.status.value},
                "images": summary.images,
                "fingerprints_added": summary.registration.fingerprints_added,
                "skipped": [{"path": s.path, "reason": s.reason} for s in summary.skipped],
            }
        )
        return
    stdout().print(work_detail(work))
    stdout().print(
        f"{summary.registration.status.value}: {summary.images} reference images "
        f"({summary.registration.fingerprints_added} new fingerprints stored), "
        f"{len(summary.skipped)} skipped"
    )
    for s in summary.skipped:
        stdout().print(f"  skipped {safe(s.path)}: {safe(s.reason)}", highlight=False)

"""``clearance offers list|export``: owners' licence terms as published offers (and RSL)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from clearance.cli.options import JsonOpt, RegistryOpt, WideOpt, settings
from clearance.cli.output import emit_json, new_table, safe, stderr, stdout
from clearance.core.files import write_output_text
from clearance.core.usage import parse_usage
from clearance.licensing.offers import check_format, export_rsl, list_offers
from clearance.service import open_registry

app = typer.Typer(
    help="Owners' licence terms as offers, and their RSL export.", no_args_is_help=True
)


def write_out(path: Path, text: str) -> None:
    """Write a command's ``--out`` file atomically; a bad place is a user error (exit 2)."""
    write_output_text(path, text)


OwnerOpt = Annotated[str | None, typer.Option("--owner", help="Only this owner's offers.")]


@app.command("list")
def list_(
    owner: OwnerOpt = None,
    usage: Annotated[
        str | None, typer.Option("--usage", help="Only offers that license this usage.")
    ] = None,
    registry: RegistryOpt = None,
    wide: WideOpt = False,
    json: JsonOpt = False,
) -> None:
    """List every licensable usage with its price model, by owner and work."""
    wanted = parse_usage(usage) if usage is not None else None
    with open_registry(settings(registry)) as store:
        offers = list_offers(store, owner=owner, usage=wanted)
    if json:
        emit_json({"offers": [o.to_dict() for o in offers], "count": len(offers)})
        return
    table = new_table(
        "owner", "work", "usage", "price", "contact", title=f"{len(offers)} offers", wide=wide
    )
    for o in offers:
        work = f"{o.work_id} {o.title or ''}".strip() if o.work_id else "all works (default)"
        table.add_row(
            safe(o.owner),
            safe(work),
            o.usage.value,
            safe(o.price.describe()),
            safe(o.contact or ""),
        )
    stdout(wide).print(table)


@app.command("export")
def export(
    owner: Annotated[str, typer.Option("--owner", help="The owner whose offers to publish.")],
    fmt: Annotated[str, typer.Option("--format", metavar="rsl", help="Output format.")] = "rsl",
    out: Annotated[
        Path | None, typer.Option("--out", help="Write to this file (default: stdout).")
    ] = None,
    registry: RegistryOpt = None,
) -> None:
    """Write an owner's offers as an RSL 1.0 document (output offers have no RSL token)."""
    check_format(fmt)
    with open_registry(settings(registry)) as store:
        offers = list_offers(store, owner=owner)
    document, warnings = export_rsl(offers)
    for warning in warnings:
        stderr.print(f"warning: {safe(warning)}", highlight=False)
    if out is None:
        typer.echo(document, nl=False)
    else:
        write_out(out, document)

"""``clearance royalties``: per-owner royalty statements for a period, exact to the cent."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from clearance.cli.offers import write_out
from clearance.cli.options import JsonOpt, RegistryOpt, WideOpt, settings
from clearance.cli.output import emit_json, new_table, safe, stdout
from clearance.core.errors import UserError
from clearance.licensing.statements import royalty_statement, statement_csv, statement_html
from clearance.service import open_registry


def royalties_command(
    period: Annotated[
        str, typer.Option("--period", metavar="PERIOD", help="2026-Q4, 2026-11 or 2026.")
    ],
    owner: Annotated[
        str | None, typer.Option("--owner", metavar="NAME", help="Only this owner's statement.")
    ] = None,
    pool: Annotated[
        str | None,
        typer.Option("--pool", metavar="AMOUNT", help="Split this pool by licensed units."),
    ] = None,
    currency: Annotated[
        str | None, typer.Option("--currency", metavar="CUR", help="The pool's currency.")
    ] = None,
    csv: Annotated[bool, typer.Option("--csv", help="CSV: line items and totals.")] = False,
    html: Annotated[bool, typer.Option("--html", help="A self-contained HTML statement.")] = False,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write to this file (default: stdout).")
    ] = None,
    registry: RegistryOpt = None,
    wide: WideOpt = False,
    json: JsonOpt = False,
) -> None:
    """Royalty statements: each owner's amounts with the formula and the lines behind them."""
    if json + csv + html > 1:
        raise UserError("choose one of --json, --csv and --html")
    with open_registry(settings(registry)) as store:
        statement = royalty_statement(store, period, owner=owner, pool=pool, currency=currency)
    text = None
    if csv:
        text = statement_csv(statement)
    elif html:
        text = statement_html(statement)
    elif json and out is not None:
        import json as json_module

        text = json_module.dumps(statement.to_dict(), indent=2) + "\n"
    if text is not None:
        if out is not None:
            write_out(out, text)
        else:
            typer.echo(text, nl=False)
        return
    if json:
        emit_json(statement.to_dict())
        return
    doc = statement.to_dict()
    table = new_table(
        "owner",
        "amount",
        "runs",
        "outputs",
        "works",
        "formula",
        title=f"royalties {doc['period']} ({doc['mode']})",
        wide=wide,
    )
    for o in doc["owners"]:
        table.add_row(
            safe(o["owner"]),
            ", ".join(f"{v} {c}" for c, v in o["amounts"].items()) or "-",
            safe(", ".join(o["runs"])),
            str(o["outputs"]),
            ", ".join(str(w) for w in o["works"]),
            safe(o["formula"]),
        )
    stdout(wide).print(table)
    totals = ", ".join(f"{v} {c}" for c, v in doc["totals"].items()) or "nothing owed"
    stdout().print(f"total: {totals}", highlight=False)

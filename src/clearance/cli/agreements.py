"""``clearance agreements grant|list|revoke`` and ``clearance usage list``: licences and their use.

Thin wrappers over ``clearance.registry.agreements``: an agreement lets a
licensee use an owner's works (one work, or all of them) for some usages, and
the output guard records one usage event per output it allowed under a licence
or with attribution.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Annotated

import typer

from clearance.cli.options import CountOpt, IdArg, IdOpt, JsonOpt, RegistryOpt, WideOpt, settings
from clearance.cli.output import emit_json, new_table, safe, stdout
from clearance.core.models import Agreement
from clearance.registry.agreements import (
    grant_agreement,
    list_agreements,
    list_usage_events,
    parse_agreement_usages,
    parse_when,
    revoke_agreement,
)
from clearance.service import open_registry

app = typer.Typer(help="Grant, list and revoke licence agreements.", no_args_is_help=True)
usage_app = typer.Typer(help="The usage-event ledger (licensed and attributed outputs).")

LicenseeOpt = Annotated[
    str | None, typer.Option("--licensee", metavar="PARTY", help="Only this licensee's.")
]


def until_text(ends_at: datetime | None, written: str | None = None) -> str:
    """When an agreement ends, as the user wrote it (``--until 2027-12-31``: that day included).

    A stored end at midnight UTC is shown as the day before, inclusive, which is
    how a bare ``--until`` date is stored; any other end as an ISO date-time.
    """
    if ends_at is None:
        return "open-ended"
    if written is not None:
        written = written.strip()
        return f"until {written} (inclusive)" if len(written) == 10 else f"until {written}"
    utc = ends_at.astimezone(UTC)
    if utc.timetz() == time(tzinfo=UTC):
        return f"until {(utc - timedelta(days=1)).date().isoformat()} (inclusive)"
    return f"until {utc.isoformat(timespec='seconds')}"


def _describe(a: Agreement, until: str | None = None) -> str:
    owner = safe(a.owner)
    scope = f"{owner}'s work {a.work_id}" if a.work_id is not None else f"all of {owner}'s works"
    usages = ",".join(u.value for u in a.usages)
    return (
        f"agreement {a.id} \\[{a.status.value}]: {safe(a.licensee)} may use "
        f"{scope} for {usages} {until_text(a.ends_at, until)}"
    )


@app.command("grant")
def grant(
    licensee: Annotated[str, typer.Option("--licensee", metavar="PARTY", help="Who is licensed.")],
    owner: Annotated[str, typer.Option("--owner", metavar="PARTY", help="The rights holder.")],
    work: Annotated[int | None, IdOpt("--work", help="One work (default: all works).")] = None,
    usage: Annotated[
        list[str] | None,
        typer.Option("--usage", metavar="USAGES", help="Usages granted (default output)."),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option("--until", metavar="DATE", help="Last day (inclusive) or ISO date-time."),
    ] = None,
    reference: Annotated[
        str | None, typer.Option("--reference", metavar="TEXT", help="e.g. a contract id.")
    ] = None,
    registry: RegistryOpt = None,
    json: JsonOpt = False,
) -> None:
    """Grant a licensee an agreement on one of the owner's works, or on all of them."""
    usages = parse_agreement_usages(usage or ["output"])
    ends_at = parse_when(until, end_of_day=True) if until is not None else None
    cfg = settings(registry)
    with open_registry(cfg) as store:
        agreement = grant_agreement(
            store, licensee, owner, work, usages, None, ends_at, reference, actor=cfg.actor
        )
    if json:
        emit_json({"agreement": agreement.to_dict()})
    else:
        stdout().print(f"granted {_describe(agreement, until)}", highlight=False)


@app.command("list")
def list_(
    licensee: LicenseeOpt = None, registry: RegistryOpt = None, json: JsonOpt = False
) -> None:
    """List agreements, oldest first."""
    with open_registry(settings(registry)) as store:
        found = list_agreements(store, licensee=licensee)
    if json:
        emit_json({"agreements": [a.to_dict() for a in found]})
        return
    for a in found:
        stdout().print(
            _describe(a) + (f" ({safe(a.reference)})" if a.reference else ""), highlight=False
        )
    if not found:
        stdout().print("no agreements")


@app.command("revoke")
def revoke(
    agreement_id: Annotated[int, IdArg("The agreement to revoke.")],
    registry: RegistryOpt = None,
    json: JsonOpt = False,
) -> None:
    """Revoke an agreement; it stays on record as revoked."""
    cfg = settings(registry)
    with open_registry(cfg) as store:
        agreement = revoke_agreement(store, agreement_id, actor=cfg.actor)
    if json:
        emit_json({"agreement": agreement.to_dict()})
    else:
        stdout().print(f"revoked {_describe(agreement)}", highlight=False)


@usage_app.command("list")
def usage_list(
    licensee: LicenseeOpt = None,
    work: Annotated[int | None, IdOpt("--work", help="Only this work's.")] = None,
    owner: Annotated[
        str | None, typer.Option("--owner", metavar="PARTY", help="Only this owner's works'.")
    ] = None,
    limit: Annotated[int, CountOpt("--limit", help="Newest N events.")] = 100,
    registry: RegistryOpt = None,
    wide: WideOpt = False,
    json: JsonOpt = False,
) -> None:
    """List recorded usage events, oldest first."""
    with open_registry(settings(registry)) as store:
        events = list_usage_events(store, licensee, work, limit=limit, owner=owner)
    if json:
        emit_json({"events": [e.to_dict() for e in events]})
        return
    table = new_table(
        "id",
        "at",
        "work",
        "licensee",
        "basis",
        "agreement",
        "amount",
        "method",
        "input",
        title="usage events",
        wide=wide,
    )
    for e in events:
        table.add_row(
            str(e.id),
            e.at.isoformat(timespec="seconds"),
            str(e.work_id),
            safe(e.licensee or ""),
            e.basis.value,
            str(e.agreement_id or ""),
            f"{e.amount} {e.currency}" if e.amount is not None else "",
            safe(e.method),
            safe(e.input_label),
        )
    stdout(wide).print(table)

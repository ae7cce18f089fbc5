"""``clearance license request|list|accept|reject``: licence requests from scans, and the
owner's answer (acceptance creates agreements with the agreed prices)."""

from __future__ import annotations

from typing import Annotated

import typer

from clearance.cli.options import IdArg, JsonOpt, RegistryOpt, settings
from clearance.cli.output import emit_json, safe, stdout
from clearance.licensing.requests import (
    LicenseRequest,
    accept_request,
    list_requests,
    reject_request,
    request_licenses,
)
from clearance.service import open_registry

app = typer.Typer(
    help="Request licences from a scan; owners accept or reject.", no_args_is_help=True
)

OwnerOpt = Annotated[str, typer.Option("--owner", metavar="NAME", help="The works' owner.")]


def _line(r: LicenseRequest) -> str:
    totals = ", ".join(f"{v} {c}" for c, v in r.totals.items()) or "no amount"
    works = len({line["work_id"] for line in r.lines})
    contact = f" <{safe(r.contact)}>" if r.contact else ""
    return (
        f"request {r.id} \\[{r.status}]: {safe(r.licensee)} asks {safe(r.owner)}{contact} for "
        f"{works} works ({r.purpose.value}), {totals}"
    )


def _show(found: list[LicenseRequest], json: bool, empty: str) -> None:
    """Requests as JSON (``{"requests": [...]}``), or a line each (``empty`` when none)."""
    if json:
        emit_json({"requests": [r.to_dict() for r in found]})
        return
    for r in found:
        stdout().print(_line(r), highlight=False)
    if not found:
        stdout().print(empty)


@app.command("request")
def request(
    scan: Annotated[str, typer.Option("--scan", metavar="DIR", help="A finished scan's output.")],
    licensee: Annotated[str, typer.Option("--licensee", metavar="PARTY", help="Who asks.")],
    usage: Annotated[
        list[str] | None,
        typer.Option("--usage", metavar="USAGES", help="Usages beyond the scan's purpose."),
    ] = None,
    registry: RegistryOpt = None,
    json: JsonOpt = False,
) -> None:
    """Turn a scan's licenses.json into one request per owner."""
    cfg = settings(registry)
    with open_registry(cfg) as store:
        found = request_licenses(store, scan, licensee, usages=usage or [], actor=cfg.actor)
    _show(found, json, "nothing to request: the scan needs no licence")


@app.command("list")
def list_(
    owner: Annotated[str | None, typer.Option("--owner", help="Only this owner's.")] = None,
    licensee: Annotated[
        str | None, typer.Option("--licensee", help="Only this licensee's.")
    ] = None,
    status: Annotated[
        str | None, typer.Option("--status", metavar="pending|accepted|rejected")
    ] = None,
    registry: RegistryOpt = None,
    json: JsonOpt = False,
) -> None:
    """List licence requests, oldest first."""
    with open_registry(settings(registry)) as store:
        found = list_requests(store, owner=owner, licensee=licensee, status=status)
    _show(found, json, "no requests")


@app.command("accept")
def accept(
    request_id: Annotated[int, IdArg("The request.")],
    owner: OwnerOpt,
    registry: RegistryOpt = None,
    json: JsonOpt = False,
) -> None:
    """Accept a request (owner only): one agreement per work, with the agreed prices."""
    cfg = settings(registry)
    with open_registry(cfg) as store:
        found, agreements = accept_request(store, request_id, owner, actor=cfg.actor)
    if json:
        emit_json({"request": found.to_dict(), "agreements": [a.to_dict() for a in agreements]})
        return
    stdout().print(_line(found), highlight=False)
    ids = ", ".join(str(a.id) for a in agreements)
    stdout().print(f"agreements granted: {ids}", highlight=False)


@app.command("reject")
def reject(
    request_id: Annotated[int, IdArg("The request.")],
    owner: OwnerOpt,
    registry: RegistryOpt = None,
    json: JsonOpt = False,
) -> None:
    """Reject a request (owner only); it stays on record."""
    cfg = settings(registry)
    with open_registry(cfg) as store:
        found = reject_request(store, request_id, owner, actor=cfg.actor)
    if json:
        emit_json({"request": found.to_dict()})
    else:
        stdout().print(_line(found), highlight=False)

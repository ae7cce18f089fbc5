"""A creator's licence requests (accept, reject) and royalty statements (page and CSV):
``license accept|reject`` and ``royalties`` in the browser."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from clearance.core.errors import UserError
from clearance.licensing.requests import accept_request, get_request, list_requests, reject_request
from clearance.licensing.statements import royalty_statement, statement_csv
from clearance.registry.accounts import Account, AccountRole

from .context import web
from .render import HEADERS, WebRoute, page, redirect
from .session import flash, read_form, require

router = APIRouter(prefix="/creator", route_class=WebRoute, include_in_schema=False)


async def _creator(request: Request) -> Account:
    return await require(request, AccountRole.CREATOR)


@router.get("/requests")
async def requests(request: Request) -> Response:
    account = await _creator(request)
    found = await run_in_threadpool(
        lambda: list_requests(web(request).store(), owner=account.party)
    )
    return await page(request, "creator/requests.html", requests=list(reversed(found)))


@router.post("/requests/{request_id}/{decision}")
async def decide(request: Request, request_id: int, decision: str) -> Response:
    account = await _creator(request)
    async with read_form(request):
        pass
    store = web(request).store()
    if decision not in ("accept", "reject"):
        raise UserError("choose accept or reject")
    found = await run_in_threadpool(get_request, store, request_id)
    if found.owner != account.party:
        raise UserError("that request is not for you")
    if decision == "accept":
        _, made = await run_in_threadpool(
            lambda: accept_request(store, request_id, account.party, actor=account.party)
        )
        note = f"Accepted request {request_id}: {len(made)} agreement(s) made."
    else:
        await run_in_threadpool(
            lambda: reject_request(store, request_id, account.party, actor=account.party)
        )
        note = f"Rejected request {request_id}."
    return flash(request, redirect("/creator/requests"), note)


def current_period() -> str:
    now = datetime.now(UTC)
    return f"{now.year}-Q{(now.month - 1) // 3 + 1}"


@router.get("/statements")
async def statements(request: Request) -> Response:
    account = await _creator(request)
    period = request.query_params.get("period", "").strip()[:16] or current_period()
    try:
        statement = await run_in_threadpool(
            lambda: royalty_statement(web(request).store(), period, owner=account.party)
        )
    except UserError as exc:
        return await page(
            request,
            "creator/statements.html",
            status=exc.http_status,
            error=exc.message,
            period=period,
        )
    return await page(
        request, "creator/statements.html", statement=statement.to_dict(), period=period
    )


@router.get("/statements.csv")
async def statements_csv(request: Request) -> Response:
    account = await _creator(request)
    period = request.query_params.get("period", "").strip()[:16] or current_period()
    statement = await run_in_threadpool(
        lambda: royalty_statement(web(request).store(), period, owner=account.party)
    )
    return Response(
        statement_csv(statement),
        media_type="text/csv; charset=utf-8",
        headers={
            **HEADERS,
            "Content-Disposition": f'attachment; filename="royalties-{statement.period.label}.csv"',
        },
    )

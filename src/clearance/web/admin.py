"""Admins' pages: parties (with their works, accounts and keys) and API keys.

Disputes and verification requests get their pages from the ``disputes`` and
``parties`` work (the issue's service levels); ``admin/home.html`` keeps
their place, marked, until they are wired here.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from clearance.core.errors import UserError
from clearance.registry import Role, create_key, list_keys, revoke_key
from clearance.registry.accounts import Account, AccountRole, list_accounts, list_parties

from .context import web
from .render import WebRoute, page, redirect
from .session import flash, read_form, require, text

router = APIRouter(prefix="/admin", route_class=WebRoute, include_in_schema=False)
PER_PAGE = 100


async def _admin(request: Request) -> Account:
    return await require(request, AccountRole.ADMIN)


@router.get("")
async def home(request: Request) -> Response:
    await _admin(request)
    return await page(request, "admin/home.html")


@router.get("/parties")
async def parties(request: Request) -> Response:
    await _admin(request)
    try:
        page_no = max(1, min(int(request.query_params.get("page", "1")), 100_000))
    except ValueError:
        page_no = 1
    store = web(request).store()
    found, accounts = await run_in_threadpool(
        lambda: (
            list_parties(store, limit=PER_PAGE, offset=(page_no - 1) * PER_PAGE),
            list_accounts(store),
        )
    )
    return await page(
        request,
        "admin/parties.html",
        parties=found,
        accounts=accounts,
        page_no=page_no,
        more=len(found) == PER_PAGE,
    )


async def _keys_page(
    request: Request, *, status: int = 200, error: str | None = None, **extra: object
) -> Response:
    found = await run_in_threadpool(list_keys, web(request).store())
    return await page(
        request,
        "admin/keys.html",
        status=status,
        error=error,
        keys=list(reversed(found)),
        roles=[r.value for r in Role],
        **extra,
    )


@router.get("/keys")
async def keys(request: Request) -> Response:
    await _admin(request)
    return await _keys_page(request)


@router.post("/keys")
async def create(request: Request) -> Response:
    account = await _admin(request)
    async with read_form(request) as form:
        party, role = text(form, "party", limit=300), text(form, "role", limit=20)
    try:
        if not party:
            raise UserError("name the party the key acts for")
        made, token = await run_in_threadpool(
            lambda: create_key(web(request).store(), party, role, actor=account.party)
        )
    except UserError as exc:
        return await _keys_page(request, status=exc.http_status, error=exc.message, party=party)
    return await _keys_page(request, created=made, token=token)


@router.post("/keys/{key_id}/revoke")
async def revoke(request: Request, key_id: str) -> Response:
    account = await _admin(request)
    async with read_form(request):
        pass
    if len(key_id) != 12 or any(c not in "0123456789abcdef" for c in key_id):
        raise UserError("not a key id")
    await run_in_threadpool(lambda: revoke_key(web(request).store(), key_id, actor=account.party))
    return flash(request, redirect("/admin/keys"), f"Key {key_id} revoked.")

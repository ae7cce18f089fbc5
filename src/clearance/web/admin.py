"""Admins' pages: parties (with their works, accounts, keys and levels), API keys, disputes
and verification requests.

* Disputes: ``registry.disputes`` (``clearance disputes list|show|resolve``):
  both sides' claims with their evidence and verification levels; resolving
  keeps one claim, with a reason, audited with the admin's party as the actor.
* Verification: parties with identities waiting for a check (a domain token
  issued, not yet confirmed), and the operator's verification
  (``registry.parties.verify_admin``, ``clearance parties verify --admin``)
  with a reason.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from clearance.core.errors import UserError
from clearance.registry import Role, create_key, list_keys, revoke_key
from clearance.registry import parties as identity
from clearance.registry.accounts import Account, AccountRole, list_accounts, list_parties
from clearance.registry.disputes import get_dispute, list_disputes, resolve_dispute

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


@router.get("/disputes")
async def disputes(request: Request) -> Response:
    await _admin(request)
    resolved = request.query_params.get("resolved") == "1"
    found = await run_in_threadpool(lambda: list_disputes(web(request).store(), resolved=resolved))
    return await page(request, "admin/disputes.html", disputes=found, resolved=resolved)


async def _dispute_page(
    request: Request,
    work_id: int,
    *,
    status: int = 200,
    error: str | None = None,
    **extra: object,
) -> Response:
    found = await run_in_threadpool(get_dispute, web(request).store(), work_id)
    return await page(
        request,
        "admin/dispute.html",
        status=status,
        error=error,
        dispute=found,
        open_claims=[c for c in found.claims if c.status.value == "disputed"],
        **extra,
    )


@router.get("/disputes/{work_id}")
async def dispute(request: Request, work_id: int) -> Response:
    await _admin(request)
    return await _dispute_page(request, work_id)


@router.post("/disputes/{work_id}/resolve")
async def resolve(request: Request, work_id: int) -> Response:
    account = await _admin(request)
    async with read_form(request) as form:
        keep, reason = text(form, "keep", limit=300), text(form, "reason", limit=2000)
    try:
        if not keep:
            raise UserError("choose the claim to keep")
        if not reason:
            raise UserError("say why: the reason goes to the audit log")
        await run_in_threadpool(
            lambda: resolve_dispute(
                web(request).store(), work_id, keep=keep, reason=reason, actor=account.party
            )
        )
    except UserError as exc:
        if exc.http_status == 404:
            raise
        return await _dispute_page(
            request, work_id, status=exc.http_status, error=exc.message, keep=keep, reason=reason
        )
    return flash(
        request,
        redirect(f"/admin/disputes/{work_id}"),
        f"Dispute {work_id} resolved: {keep} keeps the work.",
    )


async def _verification_page(
    request: Request, *, status: int = 200, error: str | None = None, **extra: object
) -> Response:
    waiting = await run_in_threadpool(
        lambda: identity.list_parties(web(request).store(), pending=True)
    )
    return await page(
        request,
        "admin/verification.html",
        status=status,
        error=error,
        waiting=waiting,
        **extra,
    )


@router.get("/verification")
async def verification(request: Request) -> Response:
    await _admin(request)
    return await _verification_page(request, party=request.query_params.get("party", "")[:300])


@router.post("/verification")
async def verify(request: Request) -> Response:
    """The operator verifies a party (level ``admin``), saying how."""
    account = await _admin(request)
    async with read_form(request) as form:
        party, reason = text(form, "party", limit=300), text(form, "reason", limit=2000)
    try:
        if not party:
            raise UserError("name the party to verify")
        info = await run_in_threadpool(
            lambda: identity.verify_admin(web(request).store(), party, reason, actor=account.party)
        )
    except UserError as exc:
        return await _verification_page(
            request, status=exc.http_status, error=exc.message, party=party, reason=reason
        )
    return flash(
        request,
        redirect("/admin/verification"),
        f"{info.party.name} is verified by the operator (level {info.party.verification.value}).",
    )

"""The home page, sign up, sign in and sign out."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from clearance.core.errors import UserError
from clearance.registry.accounts import (
    Account,
    AccountRole,
    authenticate,
    close_session,
    create_account,
    open_session,
)

from .context import web
from .render import WebRoute, page, redirect
from .session import SESSION, cookie_args, read_form, secret, text, visitor

router = APIRouter(route_class=WebRoute, include_in_schema=False)

HOME = {
    AccountRole.CREATOR: "/creator",
    AccountRole.DEVELOPER: "/developer",
    AccountRole.ADMIN: "/admin",
}


@router.get("/")
async def home(request: Request) -> Response:
    who = await visitor(request)
    if who.account is not None:
        return redirect(HOME[who.account.role])
    return await page(request, "home.html")


def _next(value: str, fallback: str) -> str:
    """Where to go after signing in: a path on this site only."""
    if value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value[:500]
    return fallback


async def _signed_in(request: Request, account: Account, where: str) -> Response:
    token, _csrf = await run_in_threadpool(open_session, web(request).store(), account)
    response = redirect(where)
    response.set_cookie(SESSION, token, samesite="lax", max_age=14 * 86400, **cookie_args(request))  # type: ignore[arg-type]
    return response


@router.get("/signup")
async def signup_form(request: Request) -> Response:
    role = request.query_params.get("as", "creator")
    return await page(request, "signup.html", form={"role": role})


@router.post("/signup")
async def signup(request: Request) -> Response:
    async with read_form(request) as form:
        fields = {n: text(form, n, limit=300) for n in ("email", "name", "role")}
        password = secret(form, "password")
    try:
        role = AccountRole.parse(fields["role"] or "creator")
        if role is AccountRole.ADMIN:
            raise UserError("choose creator or developer")
        if not fields["name"]:
            raise UserError("enter your name, or your studio's or company's")
        account = await run_in_threadpool(
            lambda: create_account(
                web(request).store(), fields["email"], password, party=fields["name"], role=role
            )
        )
    except UserError as exc:
        return await page(
            request, "signup.html", status=exc.http_status, error=exc.message, form=fields
        )
    return await _signed_in(request, account, HOME[account.role])


@router.get("/signin")
async def signin_form(request: Request) -> Response:
    return await page(request, "signin.html", next=_next(request.query_params.get("next", ""), ""))


@router.post("/signin")
async def signin(request: Request) -> Response:
    async with read_form(request) as form:
        email, password = text(form, "email", limit=300), secret(form, "password")
        where = text(form, "next", limit=500)
    try:
        account = await run_in_threadpool(authenticate, web(request).store(), email, password)
    except UserError as exc:
        return await page(
            request,
            "signin.html",
            status=exc.http_status,
            error=exc.message,
            email=email,
            next=where,
        )
    return await _signed_in(request, account, _next(where, HOME[account.role]))


@router.post("/signout")
async def signout(request: Request) -> Response:
    async with read_form(request):
        pass
    who = await visitor(request)
    if who.token:
        await run_in_threadpool(close_session, web(request).store(), who.token)
    response = redirect("/")
    response.delete_cookie(SESSION, path="/")
    return response

"""Who is visiting: the session cookie, the CSRF token every form carries, the flash note.

* Signed in: the ``clearance_session`` cookie holds a random token; the
  registry keeps its SHA-256 with the session's CSRF token
  (``registry.accounts``). HttpOnly, SameSite=Lax, Secure when
  ``web_secure_cookies`` is on.
* Signed out: the sign-up and sign-in forms carry a double-submit token, the
  ``clearance_csrf`` cookie (HttpOnly, SameSite=Strict) repeated in a hidden
  field.
* Every POST checks the token (``read_form``) and, when the browser sends an
  ``Origin``, that it is this site. A mismatch is a 403 page, never a change.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

from fastapi import Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException

from clearance.core.errors import Forbidden, Unauthorized, UserError
from clearance.registry.accounts import Account, AccountRole, find_session

from .context import web

SESSION = "clearance_session"
ANON_CSRF = "clearance_csrf"
FLASH = "clearance_flash"


@dataclass
class Visitor:
    account: Account | None
    csrf: str
    token: str | None = None
    new_csrf: bool = False  # the anonymous token must be set on the response

    @property
    def role(self) -> AccountRole | None:
        return self.account.role if self.account else None


async def visitor(request: Request) -> Visitor:
    """The request's visitor (read once per request)."""
    found: Visitor | None = getattr(request.state, "visitor", None)
    if found is not None:
        return found
    token = request.cookies.get(SESSION)
    if token:
        session = await run_in_threadpool(find_session, web(request).store(), token)
        if session is not None:
            found = Visitor(session[0], session[1], token)
    if found is None:
        anon = request.cookies.get(ANON_CSRF, "")
        if len(anon) < 32 or len(anon) > 64:
            found = Visitor(None, secrets.token_urlsafe(32), new_csrf=True)
        else:
            found = Visitor(None, anon)
    request.state.visitor = found
    return found


def cookie_args(request: Request) -> dict[str, object]:
    return {"httponly": True, "secure": web(request).settings.web_secure_cookies, "path": "/"}


def finish(request: Request, response: Response) -> Response:
    """Set the anonymous CSRF cookie when this visit made one; clear a shown flash note."""
    found: Visitor | None = getattr(request.state, "visitor", None)
    if found is not None and found.new_csrf:
        response.set_cookie(ANON_CSRF, found.csrf, samesite="strict", **cookie_args(request))  # type: ignore[arg-type]
    if getattr(request.state, "flash_shown", False):
        response.delete_cookie(FLASH, path="/")
    return response


def flash(request: Request, response: Response, note: str) -> Response:
    """A one-line note shown on the next page (after a redirect)."""
    value = quote(note[:300], safe=" .,:;()'")
    response.set_cookie(FLASH, value, samesite="strict", max_age=60, **cookie_args(request))  # type: ignore[arg-type]
    return response


def take_flash(request: Request) -> str | None:
    note = request.cookies.get(FLASH)
    if note:
        request.state.flash_shown = True
    return unquote(note)[:300] if note else None


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    host = request.headers.get("host", "")
    return urlsplit(origin).netloc == host


@asynccontextmanager
async def read_form(request: Request, *, max_files: int = 0) -> AsyncIterator[FormData]:
    """The POSTed form once its CSRF token (and Origin, when sent) is checked; 403 otherwise.

    Its uploads are closed when the ``async with`` block ends.
    """
    if not _same_origin(request):
        raise Forbidden("this form was sent from another site")
    who = await visitor(request)
    try:
        form = await request.form(max_files=max_files, max_fields=64)
    except HTTPException as exc:  # a malformed body, too many files or fields: Starlette's 400
        raise UserError(f"the form could not be read: {exc.detail}") from None
    try:
        sent = form.get("csrf")
        if isinstance(sent, UploadFile) or not sent or not hmac.compare_digest(str(sent), who.csrf):
            raise Forbidden("this form has expired: reload the page and try again")
        yield form
    finally:
        await form.close()


def secret(form: FormData, name: str) -> str:
    """A password field exactly as typed ('' when absent)."""
    value = form.get(name)
    return value[:1000] if isinstance(value, str) else ""


def text(form: FormData, name: str, *, limit: int = 2000) -> str:
    """A text field ('' when absent); a file where text belongs counts as absent."""
    value = form.get(name)
    if not isinstance(value, str):
        return ""
    return value.strip()[:limit]


async def require(request: Request, *roles: AccountRole) -> Account:
    """The signed-in account, in one of ``roles`` (any when none given); 401 or 403 otherwise."""
    who = await visitor(request)
    if who.account is None:
        raise Unauthorized("sign in to see this page")
    if roles and who.account.role not in roles and who.account.role is not AccountRole.ADMIN:
        names = " or ".join(r.value for r in roles)
        raise Forbidden(f"this page is for {names} accounts")
    return who.account

"""Pages: the Jinja2 environment, ``page`` (a template with the visitor and CSRF token), and
``WebRoute``, which turns every error a visitor can cause into a page, never a JSON body or a 500.

* ``Unauthorized`` on a GET: a redirect to the sign-in page, back here after.
* Any other ``ClearanceError`` (bad input, not found, forbidden): the error
  page with the error's own status. Forms catch ``UserError`` themselves and
  show it inline, next to what was typed (``page(..., error=...)``).
* A request FastAPI cannot validate (a path id that is not a number): 400.

Every response carries a strict Content-Security-Policy: scripts and styles
only from ``/static``, nothing inline, no framing.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from jinja2 import Environment, PackageLoader, select_autoescape

from clearance import __version__
from clearance.core.errors import ClearanceError, Unauthorized, UserError

from .context import web
from .session import finish, take_flash, visitor

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("clearance.web", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["version"] = __version__
    return env


async def page(request: Request, name: str, *, status: int = 200, **context: Any) -> Response:
    """Render template ``name`` for this visitor."""
    who = await visitor(request)
    template = web(request).templates.get_template(name)
    html = template.render(
        request=request,
        visitor=who,
        account=who.account,
        csrf=who.csrf,
        flash=take_flash(request),
        path=request.url.path,
        **context,
    )
    return finish(request, HTMLResponse(html, status_code=status, headers=HEADERS))


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers=HEADERS)


async def error_page(request: Request, exc: ClearanceError) -> Response:
    if isinstance(exc, Unauthorized) and request.method == "GET":
        return redirect("/signin?next=" + quote(request.url.path))
    return await page(
        request,
        "error.html",
        status=exc.http_status if 400 <= exc.http_status < 600 else 500,
        message=exc.message,
        hint=exc.hint,
    )


class WebRoute(APIRoute):
    """An APIRoute whose errors become pages (see the module's docstring)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except ClearanceError as exc:
                return await error_page(request, exc)
            except RequestValidationError:
                return await error_page(request, UserError("that address is not a page here"))

        return route

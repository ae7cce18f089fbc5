"""An access log in the Common Log Format, one line per request, for ``clearance serve``.

Why our own: uvicorn's access log leaves out the date and the response size
and is not the format log tools read. This ASGI middleware sees the request
line, the status and every body chunk, and logs, when the response is done::

    127.0.0.1 - - [04/Dec/2026:15:41:08 +0000] "POST /v1/check HTTP/1.1" 200 512

to the ``clearance.access`` logger (``serve`` sends it to stderr). Nothing
from the request is trusted: the path and query are percent-escaped as
sent, and control characters or quotes in them are escaped, so one request
is always one line.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime
from typing import Any

LOGGER = "clearance.access"
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_log = logging.getLogger(LOGGER)


def _clean(text: str) -> str:
    """One line, no bare quotes: control characters, quotes and backslashes escaped."""
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return "".join(out)


def log_line(scope: Scope, status: int, size: int, at: datetime) -> str:
    """The Common Log Format line for one request."""
    client = scope.get("client")
    host = client[0] if client else "-"
    path = scope.get("raw_path") or scope.get("path", "").encode()
    target = path.decode("latin-1")
    if scope.get("query_string"):
        target += "?" + bytes(scope["query_string"]).decode("latin-1")
    request = f"{scope.get('method', '-')} {target} HTTP/{scope.get('http_version', '1.1')}"
    when = at.astimezone(UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")
    return f'{host} - - [{when}] "{_clean(request)}" {status} {size if size else "-"}'


class AccessLog:
    """ASGI middleware: log each HTTP request in the Common Log Format when it ends."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        status, size = 500, 0

        async def counting(message: Message) -> None:
            nonlocal status, size
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body":
                size += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, counting)
        finally:
            if _log.isEnabledFor(logging.INFO):
                _log.info(log_line(scope, status, size, datetime.now(UTC)))

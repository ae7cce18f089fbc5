"""The server's access log, one line per request: the Common Log Format, or JSON.

Why our own: uvicorn's access log leaves out the date and the response size
and is not the format log tools read. This ASGI middleware sees the request
line, the status and every body chunk, and logs, when the response is done,
either the Common Log Format (the default, ``log_format = "clf"``)::

    127.0.0.1 - - [04/Dec/2026:15:41:08 +0000] "POST /v1/check HTTP/1.1" 200 512

or, with ``log_format = "json"`` (``clearance serve --log-format json``), one
JSON object a line for a log pipeline::

    {"time": "2026-12-04T15:41:08.123Z", "level": "info", "event": "request",
     "method": "POST", "path": "/v1/check", "status": 200, "duration_ms": 1.94,
     "bytes": 512, "client": "127.0.0.1", "request_id": "9f1c...", "worker": 4242,
     "party": "GenCo"}

``party`` is there when the request carried a valid API key
(``clearance.api.auth`` records it in the request's state). Every response
carries ``X-Request-ID`` (the client's own, when it sent a plain one, else a
new one) and ``X-Clearance-Worker`` (the worker process's id, so a client or
a test can tell which of ``serve --workers N`` answered).

Both go to the ``clearance.access`` logger (``serve`` sends it to stderr).
Nothing from the request is trusted: in the CLF line the path and query are
percent-escaped as sent and control characters or quotes are escaped; JSON
escapes them itself. One request is always one line.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import re
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime
from typing import Any

LOGGER = "clearance.access"
PARTY = "clearance_party"
"""The key in the request's state (``scope["state"]``) where auth records the key's party."""
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_log = logging.getLogger(LOGGER)
_REQUEST_ID = re.compile(rb"[A-Za-z0-9._-]{1,64}")


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


def _target(scope: Scope) -> tuple[str, str]:
    path = scope.get("raw_path") or scope.get("path", "").encode()
    query = bytes(scope.get("query_string") or b"").decode("latin-1")
    return path.decode("latin-1"), query


def log_line(scope: Scope, status: int, size: int, at: datetime) -> str:
    """The Common Log Format line for one request."""
    client = scope.get("client")
    host = client[0] if client else "-"
    path, query = _target(scope)
    target = f"{path}?{query}" if query else path
    request = f"{scope.get('method', '-')} {target} HTTP/{scope.get('http_version', '1.1')}"
    when = at.astimezone(UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")
    return f'{host} - - [{when}] "{_clean(request)}" {status} {size if size else "-"}'


def json_line(
    scope: Scope, status: int, size: int, at: datetime, seconds: float, request_id: str
) -> str:
    """The JSON object for one request, on one line."""
    client = scope.get("client")
    path, query = _target(scope)
    doc: dict[str, Any] = {
        "time": _iso(at),
        "level": "error" if status >= 500 else "info",
        "event": "request",
        "method": scope.get("method", "-"),
        "path": path,
        "status": status,
        "duration_ms": round(seconds * 1000, 3),
        "bytes": size,
        "client": client[0] if client else None,
        "request_id": request_id,
        "worker": os.getpid(),
    }
    if query:
        doc["query"] = query
    party = (scope.get("state") or {}).get(PARTY)
    if party is not None:
        doc["party"] = party
    return json.dumps(doc, ensure_ascii=True)


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


_PREFIX = uuid.uuid4().hex[:12]  # per process (a worker started by fork gets a new one below)
_COUNTER = itertools.count(1)


def request_id(scope: Scope) -> str:
    """The client's ``X-Request-ID`` when it is short and plain, else a new one: a random
    per-process prefix and a counter (unique without a random draw per request)."""
    for name, value in scope.get("headers") or ():
        if name == b"x-request-id" and _REQUEST_ID.fullmatch(value):
            return str(value.decode("ascii"))
    return f"{_PREFIX}-{next(_COUNTER):x}"


def _new_process() -> None:
    global _PREFIX, _COUNTER
    _PREFIX, _COUNTER = uuid.uuid4().hex[:12], itertools.count(1)


os.register_at_fork(after_in_child=_new_process)


class JsonFormatter(logging.Formatter):
    """The server's own log records (uvicorn's warnings and errors) as JSON lines."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "time": _iso(datetime.fromtimestamp(record.created, UTC)),
            "level": record.levelname.lower(),
            "event": "server",
            "logger": record.name,
            "message": record.getMessage(),
            "worker": record.process,
        }
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=True)


class AccessLog:
    """ASGI middleware: log each HTTP request when it ends; tag its response with
    ``X-Request-ID`` and ``X-Clearance-Worker``."""

    def __init__(self, app: ASGIApp, *, log_format: str = "clf") -> None:
        self.app = app
        self.json = log_format == "json"
        self.worker = str(os.getpid()).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        status, size = 500, 0
        started = time.perf_counter()
        rid = request_id(scope)
        if not isinstance(scope.get("state"), dict):
            scope["state"] = {}  # where auth leaves the key's party for the JSON line

        async def counting(message: Message) -> None:
            nonlocal status, size
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = [
                    *message.get("headers", ()),
                    (b"x-request-id", rid.encode()),
                    (b"x-clearance-worker", self.worker),
                ]
                message = {**message, "headers": headers}
            elif message["type"] == "http.response.body":
                size += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, counting)
        finally:
            if _log.isEnabledFor(logging.INFO):
                now = datetime.now(UTC)
                if self.json:
                    seconds = time.perf_counter() - started
                    _log.info(json_line(scope, status, size, now, seconds, rid))
                else:
                    _log.info(log_line(scope, status, size, now))

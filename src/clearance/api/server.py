"""Running the API under uvicorn, with a deadline on request headers (slowloris).

Why a module: uvicorn has a keep-alive timeout but none for a request's
headers, so a client that sends one header byte every few seconds holds a
connection (and a slot of ``limit_concurrency``) forever, and a few hundred
of them take a server off the air. ``GuardedHttpProtocol`` is uvicorn's own
HTTP protocol plus a once-a-second check: a connection that has been waiting
for a request's headers longer than ``Settings.api_header_timeout`` gets a 408
and is closed. The body has its own deadline (``clearance.api.limits``).

``serve`` hands the settings to uvicorn's worker processes as ``CLEARANCE_*``
variables; each worker builds the app with ``clearance.api.app_from_env`` and
its protocol reads the same variables.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from dataclasses import replace
from functools import cache
from typing import Any

from clearance.api.accesslog import LOGGER
from clearance.config import Settings

try:  # uvicorn picks httptools when it is installed ("auto"); so do we
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as _Base
except ImportError:  # pragma: no cover - without uvicorn[standard]
    from uvicorn.protocols.http.h11_impl import H11Protocol as _Base  # type: ignore[assignment]

_TIMEOUT_BODY = b'{"error": "the request headers did not arrive in time", "type": "Timeout"}'
_TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n"
    + f"content-length: {len(_TIMEOUT_BODY)}\r\n\r\n".encode()
    + _TIMEOUT_BODY
)


@cache
def _header_timeout() -> float:
    return Settings.from_env(os.environ).api_header_timeout


class GuardedHttpProtocol(_Base):
    """uvicorn's HTTP protocol with a deadline for each request's headers."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clearance_timeout = _header_timeout()
        self._clearance_since: float | None = None
        self._clearance_tick: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._clearance_since = self.loop.time()
        self._clearance_schedule()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._clearance_tick is not None:
            self._clearance_tick.cancel()
            self._clearance_tick = None
        super().connection_lost(exc)

    def _clearance_schedule(self) -> None:
        self._clearance_tick = self.loop.call_later(
            min(1.0, self._clearance_timeout / 4), self._clearance_check
        )

    def _clearance_check(self) -> None:
        self._clearance_tick = None
        if self.transport.is_closing():
            return
        now = self.loop.time()
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            self._clearance_since = None  # a request is in hand; its body has its own deadline
        elif self._clearance_since is None:
            self._clearance_since = now  # waiting for the next request's headers from now
        elif now - self._clearance_since > self._clearance_timeout:
            self.transport.write(_TIMEOUT_RESPONSE)
            self.transport.close()
            return
        self._clearance_schedule()


PROTOCOL = f"{__name__}:GuardedHttpProtocol"


def log_config(log_format: str = "clf") -> dict[str, Any]:
    """uvicorn's logging: its own warnings and errors, and our access log, on stderr.

    Every worker process applies it, so each writes its requests' lines
    (``clearance.api.accesslog``: the Common Log Format, or with ``json`` one
    JSON object a line, uvicorn's own records included).
    """
    json_lines = log_format == "json"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "plain": {"format": "%(message)s"},
            "server": (
                {"()": "clearance.api.accesslog.JsonFormatter"}
                if json_lines
                else {"format": "%(levelname)s: %(message)s"}
            ),
        },
        "handlers": {
            "access": {
                "class": "logging.StreamHandler",
                "formatter": "plain",
                "stream": "ext://sys.stderr",
            },
            "server": {
                "class": "logging.StreamHandler",
                "formatter": "server",
                "stream": "ext://sys.stderr",
            },
        },
        "loggers": {
            "uvicorn": {"handlers": ["server"], "level": "WARNING", "propagate": False},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
            LOGGER: {"handlers": ["access"], "level": "INFO", "propagate": False},
        },
    }


def serve(
    settings: Settings,
    *,
    host: str,
    port: int,
    workers: int,
    factory: str = "clearance.api:app_from_env",
) -> None:
    """Serve the app ``factory`` builds (default: the API alone) until interrupted.

    ``clearance serve`` passes ``clearance.cli.webapp:app_from_env``: the API
    with the web app mounted on it. With several workers, their ``/metrics``
    counters meet in a fresh temporary directory (``Settings.metrics_dir``,
    unless one is set), removed at the end.
    """
    import uvicorn

    with contextlib.ExitStack() as stack:
        if workers > 1 and not settings.metrics_dir:
            shared = stack.enter_context(tempfile.TemporaryDirectory(prefix="clearance-metrics-"))
            settings = replace(settings, metrics_dir=shared)
        os.environ.update(settings.environment())  # what every worker's app and protocol read
        _header_timeout.cache_clear()
        uvicorn.run(
            factory,
            factory=True,
            host=host,
            port=port,
            workers=workers,
            http=PROTOCOL,
            loop=settings.event_loop,  # asyncio by default: fair under overload (config.py)
            limit_concurrency=settings.api_max_connections,
            timeout_keep_alive=5,
            h11_max_incomplete_event_size=16 * 1024,
            log_config=log_config(settings.log_format),
            access_log=False,  # uvicorn's own; ours is clearance.access
        )

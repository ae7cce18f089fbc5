"""``clearance serve``: run the HTTP API (``POST /v1/check``) under uvicorn.

The settings travel to uvicorn's worker processes as ``CLEARANCE_*``
environment variables; each worker builds the app with
``clearance.api.app_from_env`` and keeps its own live guard index. The limits
on what one client may cost (body size and time, header time, decodes,
pixels, seconds) are settings too: docs/security.md.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import replace
from typing import Annotated

import typer

from clearance.cli.options import MAX_WORKERS, RegistryOpt, settings
from clearance.cli.output import stderr
from clearance.core.errors import UserError
from clearance.service import open_registry


def serve_command(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="TCP port.")] = 8000,
    workers: Annotated[
        int,
        typer.Option(
            "--workers", min=1, max=MAX_WORKERS, help="Worker processes (each holds the index)."
        ),
    ] = 1,
    log_format: Annotated[
        str | None,
        typer.Option(
            "--log-format",
            help="Access log on stderr: 'clf' (Common Log Format, the default) or 'json' "
            "(one JSON object a line).",
        ),
    ] = None,
    registry: RegistryOpt = None,
) -> None:
    """Serve the guard over HTTP until interrupted."""
    try:
        from clearance.api.server import serve
    except ImportError:
        raise UserError(
            "the HTTP API needs its extra", hint="pip install 'clearance[api]'"
        ) from None
    _check_host(host)
    config = settings(registry)
    if log_format is not None:
        if log_format not in ("clf", "json"):
            raise UserError(f"--log-format must be 'clf' or 'json', not {log_format[:40]!r}")
        config = replace(config, log_format=log_format)
    with open_registry(config) as store:  # fail here, with a clear message, not in every worker
        works = store.count_works()
    if config.feed_key:  # the feed's signing key too (CLEARANCE_FEED_KEY)
        from clearance.evidence import load_signing_key

        load_signing_key(config.feed_key)
    where = f"[{host}]" if ":" in host else host
    stderr.print(
        f"serving the guard for {works} works on http://{where}:{port} "
        f"({workers} worker{'s' * (workers != 1)}; the web app at http://{where}:{port}/, "
        "POST /v1/check, GET /healthz; "
        f"Ctrl-C stops; access log below, {_LOG_NAMES[config.log_format]})",
        highlight=False,
        soft_wrap=True,
    )
    serve(
        config, host=host, port=port, workers=workers, factory="clearance.cli.webapp:app_from_env"
    )


_LOG_NAMES = {"clf": "Common Log Format", "json": "JSON lines"}

_HOSTNAME = re.compile(
    r"(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
)


def _check_host(host: str) -> None:
    """An IP address or a host name: anything else would fail deep inside uvicorn."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if not _HOSTNAME.fullmatch(host):
            raise UserError(f"--host {host[:80]!r} is not an IP address or a host name") from None

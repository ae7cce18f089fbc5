"""``clearance serve``: run the HTTP API (``POST /v1/check``) under uvicorn.

The settings travel to uvicorn's worker processes as ``CLEARANCE_*``
environment variables; each worker builds the app with
``clearance.api.app_from_env`` and keeps its own live guard index.
"""

from __future__ import annotations

import os
from typing import Annotated

import typer

from clearance.cli.options import RegistryOpt, settings
from clearance.core.errors import UserError
from clearance.service import open_registry


def serve_command(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port.")] = 8000,
    workers: Annotated[
        int, typer.Option("--workers", help="Worker processes (each holds the index).")
    ] = 1,
    registry: RegistryOpt = None,
) -> None:
    """Serve the guard over HTTP until interrupted."""
    try:
        import uvicorn
    except ImportError:
        raise UserError(
            "the HTTP API needs its extra", hint="pip install 'clearance[api]'"
        ) from None
    if workers < 1 or not 0 < port < 65536:
        raise UserError("--workers must be >= 1 and --port within 1..65535")
    config = settings(registry)
    with open_registry(config):  # fail here, with a clear message, not in every worker
        pass
    os.environ["CLEARANCE_REGISTRY"] = config.registry
    uvicorn.run(
        "clearance.api:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
    )

"""``mount_web``: the web app's pages, static files and scan jobs added to a FastAPI app."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from clearance.config import Settings
from clearance.registry import ContentCheck, SqlStore

from . import account, admin, creator, developer, identity, publish, royalties, terms
from .context import WebContext
from .jobs import ScanJobs
from .render import environment

STATIC = Path(__file__).parent / "static"


def mount_web(
    app: FastAPI,
    settings: Settings,
    store: Callable[[], SqlStore],
    *,
    content_check: Callable[[], ContentCheck] | None = None,
) -> WebContext:
    """Add the pages to ``app``; ``store`` is the registry store the app already uses and
    ``content_check`` registration's near-duplicate check (the API's)."""
    jobs = ScanJobs(
        Path(settings.web_scans), registry=settings.registry, allow_private=settings.allow_private
    )
    context = WebContext(settings, store, environment(), jobs, content_check)
    app.state.web = context
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for module in (account, creator, identity, terms, royalties, publish, developer, admin):
        app.include_router(module.router)
    return context

"""What every page reaches through ``request.app.state.web``: settings, store, templates, jobs.

Why a module: the routers (``account``, ``creator``, ``developer``, ``admin``)
share these without importing each other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fastapi import Request
from jinja2 import Environment

from clearance.config import Settings
from clearance.registry import ContentCheck, SqlStore

from .jobs import ScanJobs


@dataclass
class WebContext:
    settings: Settings
    store: Callable[[], SqlStore]
    templates: Environment
    jobs: ScanJobs
    content_check: Callable[[], ContentCheck] | None = None
    """Registration's near-duplicate check (``clearance.service.content_check``), as the API's."""

    @property
    def datasets(self) -> Path | None:
        """The folder developers may scan by path, or None when that is off."""
        return Path(self.settings.web_datasets).resolve() if self.settings.web_datasets else None


def web(request: Request) -> WebContext:
    found: WebContext = request.app.state.web
    return found

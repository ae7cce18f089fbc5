"""The process app ``clearance serve`` runs: the HTTP API with the web app mounted on it.

Why here, above both faces: ``api`` and ``web`` are faces of one layer and do
not import each other (tests/test_layers.py), yet they are served by one
process from one registry store. This module joins them: the API's
``create_app`` builds the app and its store, and ``mount_web`` adds the pages
on that same store. uvicorn's workers build it through ``app_from_env``.
"""

from __future__ import annotations

import os

from fastapi import FastAPI

from clearance.api import create_app
from clearance.config import Settings
from clearance.web import mount_web


def create_site(settings: Settings) -> FastAPI:
    """The API and the web app for ``settings`` (the registry must exist)."""
    app = create_app(settings)
    mount_web(
        app,
        settings,
        app.state.services.store,
        content_check=app.state.services.content_check,
    )
    return app


def app_from_env() -> FastAPI:
    """``create_site`` for the ``CLEARANCE_*`` environment (uvicorn's ``--factory`` entry)."""
    return create_site(Settings.from_env(os.environ))

"""Wiring: builds the registry store (and, later, fetchers and indexes) from ``Settings``.

Faces call these functions instead of constructing backends themselves, so the
CLI, the API and the demo all open the registry the same way.
"""

from __future__ import annotations

from clearance.config import Settings
from clearance.registry import SqlStore, init_store, open_store


def open_registry(settings: Settings) -> SqlStore:
    """Open the configured registry; it must already be initialised."""
    return open_store(settings.registry)


def init_registry(settings: Settings) -> SqlStore:
    """Create or upgrade the configured registry and open it."""
    return init_store(settings.registry)

"""What every route reaches through ``request.app.state.services``: settings, guard, store, keys.

Why a module: the routers (``works``, ``query``, ``keys``) and the app factory
share these without importing each other. The store that writes and key
checks use is the guard's own when it has one; a guard serving a prebuilt
index (benchmarks, tests) has none, and the configured registry is then
opened on first use.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from fastapi import Request

from clearance.config import Settings
from clearance.guard.live import Guard
from clearance.matching.conflicts import ContentChecker
from clearance.registry import SqlStore
from clearance.service import content_check, open_registry

from .auth import Auth
from .limits import DecodeGate


@dataclass
class Services:
    settings: Settings
    guard: Guard
    gate: DecodeGate | None = None
    auth: Auth | None = None
    _store: SqlStore | None = None
    _checker: ContentChecker | None = None
    _owned: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def store(self) -> SqlStore:
        """The registry store for writes and key checks (opened once, on first use)."""
        if isinstance(self.guard.store, SqlStore):
            return self.guard.store
        with self._lock:
            if self._store is None:
                self._store = open_registry(self.settings)
                self._owned = True
            return self._store

    def content_check(self) -> ContentChecker:
        """Registration's near-duplicate check, against the guard's view kept current."""
        store = self.guard.store if self.guard.store is not None else self.store()
        with self._lock:
            if self._checker is None:
                live = self.guard.store is not None
                self._checker = content_check(
                    store, self.settings, views=self.guard.fresh if live else None
                )
            return self._checker

    def close(self) -> None:
        self.guard.close()
        if self.guard.store is not None:
            self.guard.store.close()
        if self._owned and self._store is not None:
            self._store.close()

    def keys(self) -> Auth:
        assert self.auth is not None
        return self.auth

    def decode_gate(self) -> DecodeGate:
        assert self.gate is not None
        return self.gate


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found

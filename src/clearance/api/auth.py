"""Who is asking: ``Authorization: Bearer <key>`` turned into the key's party and role.

Reads are open to anyone; a request that carries a key is held to it (a bad
or revoked key is a 401 even where no key is needed, never silently
anonymous). Writes need a key (401 without one) whose party may act for what
they change (403 otherwise: ``ApiKey.require_party``). Every keyed request
spends one token of its key's rate (``limits.KeyRates``, 429 when empty).

The key check itself (``registry.apikeys.KeyVerifier``) reads one row and,
the first time a process sees a key, runs argon2: both off the event loop.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from clearance.core.errors import Forbidden, Unauthorized
from clearance.registry import SqlStore
from clearance.registry.apikeys import ApiKey, KeyVerifier, Role

from .accesslog import PARTY
from .limits import KeyRates


class Auth:
    """The app's key checks and per-key rates (one per server worker)."""

    def __init__(self, store: Callable[[], SqlStore], rates: KeyRates) -> None:
        self._store = store
        self._verifier: KeyVerifier | None = None
        self.rates = rates

    @property
    def verifier(self) -> KeyVerifier:
        if self._verifier is None:
            self._verifier = KeyVerifier(self._store())
        return self._verifier

    async def principal(self, request: Request) -> ApiKey | None:
        """The request's key, or None when it carries none; 401 for a bad one."""
        header = request.headers.get("authorization")
        if header is None:
            return None
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("send the API key as 'Authorization: Bearer <key>'")
        key = await run_in_threadpool(self.verifier.verify, token)
        request.scope.setdefault("state", {})[PARTY] = key.party  # for the JSON access log
        self.rates.take(key.key_id)
        return key

    async def require(self, request: Request) -> ApiKey:
        """The request's key; 401 without one."""
        key = await self.principal(request)
        if key is None:
            raise Unauthorized(
                "this request changes the registry and needs an API key",
                hint="send 'Authorization: Bearer <key>' (clearance keys create)",
            )
        return key


def require_owner(key: ApiKey, party: str, what: str) -> None:
    """403 unless ``key`` may change ``party``'s works: an owner key of that party, or admin."""
    if key.role is Role.LICENSEE:
        raise Forbidden(f"a licensee key may not change {what}")
    key.require_party(party, what)


def require_admin(key: ApiKey, what: str) -> None:
    if key.role is not Role.ADMIN:
        raise Forbidden(f"only an admin key may {what}")

"""API keys: which party a request acts for, in which role, and what that party may change.

Why a module of its own: the HTTP API used to take any owner or licensee name
from any caller, so anyone could register works under another's name, change
their terms, or inflate another company's licensed usage. A key binds a
request to one party and one role:

* ``owner`` registers works for its party and changes only its own works and terms;
* ``licensee`` checks outputs under its own agreements (its usage is recorded);
* ``admin`` acts for any party (an operator).

A token is ``clr_<key_id>_<secret>``: ``key_id`` (12 hex digits) finds the row
and may be shown and logged; the whole token is stored only as an argon2 hash
(argon2-cffi's defaults, RFC 9106's low-memory profile) and shown once, when
the key is created. Verifying argon2 costs tens of milliseconds on purpose,
too much per request, so a ``KeyVerifier`` remembers the SHA-256 of each token
it has verified together with the stored hash it matched; each request still
reads the key's row (one indexed query), so a revoked key stops working at once.

Creating and revoking a key is audited (entity ``key``) in the same transaction.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, insert, select, update

from clearance.core.errors import Forbidden, NotFound, Unauthorized, UserError
from clearance.core.validation import check_id, clean_name, storable
from clearance.registry import schema as s
from clearance.registry.bulkreads import aware
from clearance.registry.engine import database_errors
from clearance.registry.store import SqlStore

PREFIX = "clr_"
_TOKEN = re.compile(r"clr_([0-9a-f]{12})_([A-Za-z0-9_-]{32,64})")
_HASHER = PasswordHasher()


class Role(StrEnum):
    """What a key's party may do through the API."""

    OWNER = "owner"
    LICENSEE = "licensee"
    ADMIN = "admin"

    @staticmethod
    def parse(text: str) -> Role:
        try:
            return Role(text.strip().lower())
        except ValueError:
            raise UserError(f"unknown role {text!r}", hint="use owner, licensee or admin") from None


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A key as the registry holds it (never the token itself)."""

    id: int
    key_id: str
    party: str
    role: Role
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def may_act_for(self, party: str) -> bool:
        """Whether this key may change what ``party`` owns (its own party, or any as admin)."""
        return self.role is Role.ADMIN or party.strip() == self.party

    def require_party(self, party: str, what: str = "this") -> None:
        """Raise ``Forbidden`` unless this key may act for ``party``."""
        if not self.may_act_for(party):
            raise Forbidden(f"the key of {self.party!r} may not change {what} of {party!r}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "key_id": self.key_id,
            "party": self.party,
            "role": self.role.value,
            "created_at": self.created_at.isoformat(),
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
        }


def _now() -> datetime:
    return datetime.now(UTC)


def _key(row: Any) -> ApiKey:
    return ApiKey(
        id=int(row.id),
        key_id=row.key_id,
        party=row.party_name,
        role=Role(row.role),
        created_at=aware(row.created_at),
        revoked_at=aware(row.revoked_at) if row.revoked_at is not None else None,
    )


def _query() -> Any:
    return select(s.api_keys, s.parties.c.name.label("party_name")).join(
        s.parties, s.parties.c.id == s.api_keys.c.party_id
    )


def create_key(
    store: SqlStore, party: str, role: Role | str, *, actor: str = "clearance"
) -> tuple[ApiKey, str]:
    """A new key for ``party`` (created if new) in ``role``; returns it and its token.

    The token is returned only here: the registry keeps its argon2 hash.
    """
    role = Role.parse(role) if isinstance(role, str) else role
    party = clean_name(party, "party name")
    key_id = secrets.token_hex(6)
    token = f"{PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
    digest = _HASHER.hash(token)
    with store._write() as conn:
        party_id = store._ensure_party(conn, party, actor)
        row_id = conn.execute(
            insert(s.api_keys)
            .values(
                key_id=key_id,
                party_id=party_id,
                role=role.value,
                hash=digest,
                created_at=_now(),
            )
            .returning(s.api_keys.c.id)
        ).scalar_one()
        store._audit(
            conn,
            actor,
            "key.create",
            "key",
            row_id,
            {"party": party, "role": role.value, "key_id": key_id},
        )
        return _get(conn, int(row_id)), token


def _get(conn: Connection, row_id: int) -> ApiKey:
    row = conn.execute(_query().where(s.api_keys.c.id == row_id)).first()
    if row is None:
        raise NotFound(f"no API key with id {row_id}")
    return _key(row)


def list_keys(store: SqlStore, *, party: str | None = None) -> list[ApiKey]:
    """Every key (revoked ones included), oldest first; only ``party``'s when given."""
    query = _query().order_by(s.api_keys.c.id)
    if party is not None:
        query = query.where(s.parties.c.name == party.strip())
    with database_errors("read"), store.engine.connect() as conn:
        if party is not None and not storable(party.strip()):
            return []
        return [_key(r) for r in conn.execute(query)]


def revoke_key(store: SqlStore, key: int | str, *, actor: str = "clearance") -> ApiKey:
    """Revoke a key by row id or by its public ``key_id``; revoking twice is harmless."""
    with store._write() as conn:
        if isinstance(key, int):
            check_id(key, "key id")
            where = s.api_keys.c.id == key
        else:
            where = s.api_keys.c.key_id == key.strip().lower()
        row = conn.execute(_query().where(where)).first()
        if row is None:
            raise NotFound(f"no API key {key!r}")
        found = _key(row)
        if not found.active:
            return found
        conn.execute(
            update(s.api_keys).where(s.api_keys.c.id == found.id).values(revoked_at=_now())
        )
        store._audit(
            conn,
            actor,
            "key.revoke",
            "key",
            found.id,
            {"party": found.party, "key_id": found.key_id},
        )
        return _get(conn, found.id)


class KeyVerifier:
    """Turns a presented token into its ``ApiKey``; raises ``Unauthorized`` for a bad one.

    Thread-safe. Remembers verified tokens (by SHA-256, with the hash they
    matched) so argon2 runs once per key and process, not once per request.
    """

    def __init__(self, store: SqlStore, *, remember: int = 10_000) -> None:
        self.store = store
        self.remember = remember
        self._verified: dict[bytes, str] = {}
        self._lock = threading.Lock()

    def verify(self, token: str) -> ApiKey:
        found = _TOKEN.fullmatch(token.strip())
        if found is None:
            raise Unauthorized("not a Clearance API key", hint="send Authorization: Bearer clr_…")
        with database_errors("read"), self.store.engine.connect() as conn:
            row = conn.execute(_query().where(s.api_keys.c.key_id == found.group(1))).first()
        if row is None or row.revoked_at is not None:
            raise Unauthorized("unknown or revoked API key")
        seen = hashlib.sha256(token.strip().encode()).digest()
        with self._lock:
            known = self._verified.get(seen)
        if known is None or not hmac.compare_digest(known, row.hash):
            try:
                _HASHER.verify(row.hash, token.strip())
            except (VerificationError, InvalidHashError):
                raise Unauthorized("unknown or revoked API key") from None
            with self._lock:
                if len(self._verified) >= self.remember:
                    self._verified.clear()
                self._verified[seen] = row.hash
        return _key(row)


__all__ = ["PREFIX", "ApiKey", "KeyVerifier", "Role", "create_key", "list_keys", "revoke_key"]

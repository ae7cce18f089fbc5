"""Web accounts: a person who signs in to the web app, acting for one party.

Why a module of its own, beside ``apikeys``: an API key is a token a program
holds; a web account is a person with an email and a password, who signs in
and gets a session cookie. Both bind what is done to one party, and both keep
only argon2 hashes (argon2-cffi's defaults, as ``apikeys``).

* An account is a ``creator`` (registers works and sets terms as its party),
  a ``developer`` (scans, requests licences as its party) or an ``admin``.
* Signing up names a new party. A party that already exists is refused,
  unless ``claim=True`` (an operator, or the demo, attaching an account to a
  party the registry already knows): anyone could otherwise take over
  another owner's works by typing their name.
* A session is a random token in an HttpOnly cookie; the registry stores its
  SHA-256 only, with the CSRF token the session's forms must carry and an
  expiry. Signing out deletes it.

Creating an account is audited (entity ``account``); sessions are not (they
change nothing in the registry).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, insert, select

from clearance.core.errors import ConflictError, Unauthorized, UserError
from clearance.core.validation import clean_name
from clearance.registry import schema as s
from clearance.registry.bulkreads import aware
from clearance.registry.engine import database_errors
from clearance.registry.store import SqlStore, level_of

_HASHER = PasswordHasher()
_EMAIL = re.compile(r"[^@\s]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?")
MIN_PASSWORD = 10
MAX_PASSWORD = 256
SESSION_DAYS = 14
# A hash to verify against when the email is unknown, so a wrong email costs as
# long as a wrong password (no account enumeration by timing).
_DUMMY = _HASHER.hash("not a password of anyone")


class AccountRole(StrEnum):
    """What a web account is for."""

    CREATOR = "creator"
    DEVELOPER = "developer"
    ADMIN = "admin"

    @staticmethod
    def parse(text: str) -> AccountRole:
        try:
            return AccountRole(text.strip().lower())
        except ValueError:
            raise UserError(
                f"unknown account type {text[:40]!r}", hint="creator, developer or admin"
            ) from None


@dataclass(frozen=True, slots=True)
class Account:
    """A web account as the registry holds it (never its password)."""

    id: int
    email: str
    party: str
    role: AccountRole
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "email": self.email,
            "party": self.party,
            "role": self.role.value,
            "created_at": self.created_at.isoformat(),
        }


def clean_email(text: str) -> str:
    """An email address, lower-cased; ``UserError`` for anything that is not one."""
    email = text.strip().lower()
    if len(email) > 254 or not _EMAIL.fullmatch(email):
        raise UserError("enter an email address like ann@example.com")
    return email


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"choose a password of at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise UserError(f"a password has at most {MAX_PASSWORD} characters")
    return password


def _now() -> datetime:
    return datetime.now(UTC)


def _query() -> Any:
    return select(
        s.web_accounts.c.id,
        s.web_accounts.c.email,
        s.web_accounts.c.role,
        s.web_accounts.c.hash,
        s.web_accounts.c.created_at,
        s.parties.c.name.label("party_name"),
    ).join(s.parties, s.parties.c.id == s.web_accounts.c.party_id)


def _account(row: Any) -> Account:
    return Account(
        id=int(row.id),
        email=row.email,
        party=row.party_name,
        role=AccountRole(row.role),
        created_at=aware(row.created_at),
    )


def create_account(
    store: SqlStore,
    email: str,
    password: str,
    *,
    party: str,
    role: AccountRole | str,
    claim: bool = False,
) -> Account:
    """A new account for a new party (``claim=True``: for an existing one too).

    Raises ``UserError`` for a bad email, password or party name, and
    ``ConflictError`` when the email has an account or the party exists.
    """
    role = AccountRole.parse(role) if isinstance(role, str) else role
    email = clean_email(email)
    digest = _HASHER.hash(check_password(password))
    name = clean_name(party, "name")
    with store._write() as conn:
        taken = conn.execute(
            select(s.web_accounts.c.id).where(s.web_accounts.c.email == email)
        ).scalar()
        if taken is not None:
            raise ConflictError("an account with this email exists; sign in instead")
        exists = conn.execute(select(s.parties.c.id).where(s.parties.c.name == name)).scalar()
        if exists is not None and not claim:
            raise ConflictError(
                f"the name {name!r} is already in the registry; choose another",
                hint="an administrator can attach an account to an existing party",
            )
        party_id = store._ensure_party(conn, name, name)
        row_id = conn.execute(
            insert(s.web_accounts)
            .values(email=email, party_id=party_id, role=role.value, hash=digest, created_at=_now())
            .returning(s.web_accounts.c.id)
        ).scalar_one()
        store._audit(
            conn, name, "account.create", "account", row_id, {"party": name, "role": role.value}
        )
        row = conn.execute(_query().where(s.web_accounts.c.id == row_id)).one()
        return _account(row)


def authenticate(store: SqlStore, email: str, password: str) -> Account:
    """The account for this email and password; ``Unauthorized`` otherwise (one message)."""
    wrong = Unauthorized("wrong email or password")
    try:
        key = clean_email(email)
    except UserError:
        raise wrong from None
    if not password or len(password) > MAX_PASSWORD:
        raise wrong
    with database_errors("read"), store.engine.connect() as conn:
        row = conn.execute(_query().where(s.web_accounts.c.email == key)).first()
    try:
        _HASHER.verify(row.hash if row is not None else _DUMMY, password)
    except (VerificationError, InvalidHashError):
        raise wrong from None
    if row is None:
        raise wrong
    return _account(row)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(store: SqlStore, account: Account, *, days: int = SESSION_DAYS) -> tuple[str, str]:
    """A new session for ``account``: its cookie token and its CSRF token."""
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    now = _now()
    with store._write() as conn:
        conn.execute(
            delete(s.web_sessions).where(s.web_sessions.c.expires_at < now)  # tidy on the way
        )
        conn.execute(
            insert(s.web_sessions).values(
                token_hash=_token_hash(token),
                account_id=account.id,
                csrf=csrf,
                created_at=now,
                expires_at=now + timedelta(days=days),
            )
        )
    return token, csrf


def find_session(store: SqlStore, token: str) -> tuple[Account, str] | None:
    """The signed-in account and its CSRF token for a cookie token, or None."""
    if not token or len(token) > 128:
        return None
    query = (
        _query()
        .add_columns(s.web_sessions.c.csrf, s.web_sessions.c.expires_at)
        .join(s.web_sessions, s.web_sessions.c.account_id == s.web_accounts.c.id)
        .where(s.web_sessions.c.token_hash == _token_hash(token))
    )
    with database_errors("read"), store.engine.connect() as conn:
        row = conn.execute(query).first()
    if row is None or aware(row.expires_at) <= _now():
        return None
    return _account(row), str(row.csrf)


def close_session(store: SqlStore, token: str) -> None:
    """Sign out: the session's row is deleted (harmless when there is none)."""
    with store._write() as conn:
        conn.execute(
            delete(s.web_sessions).where(s.web_sessions.c.token_hash == _token_hash(token))
        )


def list_accounts(store: SqlStore, *, party: str | None = None) -> list[Account]:
    """Every account, oldest first (only ``party``'s when given)."""
    query = _query().order_by(s.web_accounts.c.id)
    if party is not None:
        query = query.where(s.parties.c.name == party.strip())
    with database_errors("read"), store.engine.connect() as conn:
        return [_account(r) for r in conn.execute(query)]


@dataclass(frozen=True, slots=True)
class PartySummary:
    """A party with what it holds: for the admin's list of parties."""

    name: str
    contact: str | None
    created_at: datetime
    works: int
    accounts: int
    keys: int
    verification: str = "self"
    """The party's verification level (``registry.parties``)."""


def list_parties(store: SqlStore, *, limit: int = 200, offset: int = 0) -> list[PartySummary]:
    """Parties, oldest first, with their counts of works, web accounts and active API keys."""

    def counted(table: Any, where: Any = None) -> Any:
        column = table.c.owner_id if table is s.works else table.c.party_id
        query = select(column.label("pid"), func.count().label("n"))
        if where is not None:
            query = query.where(where)
        return query.group_by(column).subquery()

    works = counted(s.works)
    accounts = counted(s.web_accounts)
    keys = counted(s.api_keys, s.api_keys.c.revoked_at.is_(None))
    query = (
        select(
            s.parties.c.name,
            s.parties.c.contact,
            s.parties.c.created_at,
            s.parties.c.verification,
            func.coalesce(works.c.n, 0).label("works"),
            func.coalesce(accounts.c.n, 0).label("accounts"),
            func.coalesce(keys.c.n, 0).label("keys"),
        )
        .outerjoin(works, works.c.pid == s.parties.c.id)
        .outerjoin(accounts, accounts.c.pid == s.parties.c.id)
        .outerjoin(keys, keys.c.pid == s.parties.c.id)
        .order_by(s.parties.c.id)
        .limit(limit)
        .offset(offset)
    )
    with database_errors("read"), store.engine.connect() as conn:
        return [
            PartySummary(
                r.name,
                r.contact,
                aware(r.created_at),
                int(r.works),
                int(r.accounts),
                int(r.keys),
                level_of(r.verification).value,
            )
            for r in conn.execute(query)
        ]


__all__ = [
    "Account",
    "AccountRole",
    "PartySummary",
    "authenticate",
    "clean_email",
    "close_session",
    "create_account",
    "find_session",
    "list_accounts",
    "list_parties",
    "open_session",
]

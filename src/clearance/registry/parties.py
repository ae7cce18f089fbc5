"""Parties and verified identity: who a party is, and how sure the registry is of it.

Why a module of its own: anyone could register any file under any owner name,
and a claim by a stranger counted as much as one by the real rights holder.
Each party now holds identities, each at a level (``core.VerificationLevel``):

* ``self``: none verified, a name the party gave itself;
* ``domain``: the party published the token the registry issued at
  ``https://DOMAIN/.well-known/clearance-verification.txt``, fetched through the
  guarded fetcher (``clearance.fetch``: SSRF guard, limits, a declared agent);
* ``key``: an Ed25519 public key bound to the party signs its declarations
  (``registry.declarations``); over the HTTP API the binding needs a proof
  that the caller holds the private key (``key_proof_message``);
* ``admin``: an operator verified the party, with a reason.

The party's level (``parties.verification``) is its highest verified identity,
written in the same transaction as the identity that changed it, so every read
of a work carries its claimant's level at no extra query. Every step is audited
(entity ``party``, so a live guard reloads the party's works) with the acting
party as the actor.

A domain and a key each belong to one party: verifying a domain, or binding a
key, that another party holds verified is a ``ConflictError`` (an operator
sorts it out).
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import secrets
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Connection, insert, select, text, update

from clearance.core.errors import (
    AddressBlocked,
    ConflictError,
    FetchError,
    NotFound,
    UserError,
)
from clearance.core.models import Party, VerificationLevel
from clearance.core.validation import clean_name, clean_text_field, storable
from clearance.evidence import keys as ed25519
from clearance.evidence.canonical import b64decode
from clearance.fetch.client import FetchConfig, Fetcher, FetchResult, origin_of
from clearance.registry import schema as s
from clearance.registry.bulkreads import aware
from clearance.registry.engine import database_errors
from clearance.registry.store import SqlStore, level_of, party_of

WELL_KNOWN = "/.well-known/clearance-verification.txt"
"""Where a party publishes its domain token (one token per line; other lines are ignored)."""
TOKEN_PREFIX = "clearance-verification="
MAX_TOKEN_FILE = 64 * 1024
_DOMAIN = re.compile(
    r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*(:[0-9]{1,5})?"
)


class IdentityKind(StrEnum):
    """The identities a party can hold above ``self``; each is worth its level."""

    DOMAIN = "domain"
    KEY = "key"
    ADMIN = "admin"

    @property
    def level(self) -> VerificationLevel:
        return VerificationLevel(self.value)


class IdentityStatus(StrEnum):
    PENDING = "pending"
    VERIFIED = "verified"
    REVOKED = "revoked"


class DomainNotVerified(UserError):
    """The domain's verification file was read but does not hold the party's token."""

    http_status = 422


@dataclass(frozen=True, slots=True)
class Identity:
    """One identity of a party (never its domain token: that is shown to the party only)."""

    kind: IdentityKind
    value: str
    status: IdentityStatus
    created_at: datetime
    verified_at: datetime | None = None
    verified_by: str | None = None
    public_key: str | None = None

    @property
    def level(self) -> VerificationLevel:
        return self.kind.level

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind.value,
            "level": self.level.value,
            "value": self.value,
            "status": self.status.value,
            "created_at": self.created_at.isoformat(),
            "verified_at": self.verified_at.isoformat() if self.verified_at else None,
            "verified_by": self.verified_by,
        }
        if self.public_key is not None:
            out["public_key"] = self.public_key
        return out


@dataclass(frozen=True, slots=True)
class PartyInfo:
    """A party with its level and every identity it holds."""

    party: Party
    created_at: datetime
    identities: tuple[Identity, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.party.id,
            "name": self.party.name,
            "contact": self.party.contact,
            "verification": self.party.verification.value,
            "identities": [i.to_dict() for i in self.identities],
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class DomainChallenge:
    """What a party publishes to verify a domain, and where."""

    party: str
    domain: str
    token: str
    url: str
    status: IdentityStatus
    issued: bool = False
    """True when this call issued the token (the party has yet to publish it)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "party": self.party,
            "domain": self.domain,
            "token": self.token,
            "url": self.url,
            "publish": f"{TOKEN_PREFIX}{self.token}",
            "status": self.status.value,
        }


def _now() -> datetime:
    return datetime.now(UTC)


# -- reading -----------------------------------------------------------------------------------


def _identity(row: Any) -> Identity:
    return Identity(
        kind=IdentityKind(row.kind),
        value=row.value,
        status=IdentityStatus(row.status),
        created_at=aware(row.created_at),
        verified_at=aware(row.verified_at) if row.verified_at is not None else None,
        verified_by=row.verified_by,
        public_key=row.public_key,
    )


def _info(conn: Connection, row: Any) -> PartyInfo:
    idents = conn.execute(
        select(s.party_identities)
        .where(s.party_identities.c.party_id == row.id)
        .order_by(s.party_identities.c.id)
    )
    return PartyInfo(party_of(row), aware(row.created_at), tuple(_identity(r) for r in idents))


def _party_row(conn: Connection, name: str) -> Any:
    key = name.strip() if isinstance(name, str) else ""
    row = (
        conn.execute(select(s.parties).where(s.parties.c.name == key)).first()
        if key and storable(key)
        else None
    )
    if row is None:
        raise NotFound(f"no party named {name!r}", hint="create it: clearance parties create NAME")
    return row


def get_party(store: SqlStore, name: str) -> PartyInfo:
    """A party with its level and identities; ``NotFound`` for an unknown name."""
    with database_errors("read"), store.engine.connect() as conn:
        return _info(conn, _party_row(conn, name))


def list_parties(
    store: SqlStore,
    *,
    min_verification: VerificationLevel | str | None = None,
    pending: bool = False,
) -> list[PartyInfo]:
    """Every party (at ``min_verification`` or above when given), oldest first; ``pending``:
    only parties with an identity waiting for its check (a domain token issued, unconfirmed)."""
    floor = VerificationLevel.parse(min_verification) if min_verification else None
    query = select(s.parties).order_by(s.parties.c.id)
    if pending:
        waiting = select(s.party_identities.c.party_id).where(
            s.party_identities.c.status == IdentityStatus.PENDING.value
        )
        query = query.where(s.parties.c.id.in_(waiting))
    with database_errors("read"), store.engine.connect() as conn:
        rows = conn.execute(query).all()
        out = [_info(conn, r) for r in rows]
    if floor is not None:
        out = [p for p in out if p.party.verification.at_least(floor)]
    return out


# -- writing -----------------------------------------------------------------------------------


def create_party(
    store: SqlStore, name: str, *, contact: str | None = None, actor: str | None = None
) -> tuple[PartyInfo, bool]:
    """Create a party at level ``self``; returns it and whether it is new (an existing one is
    returned as it is, its contact updated when one is given)."""
    clean = clean_name(name, "party name")
    contact = clean_text_field(contact, "contact")
    with store._write() as conn:
        found = conn.execute(select(s.parties.c.id).where(s.parties.c.name == clean)).scalar()
        store._ensure_party(conn, clean, actor or clean)
        row = _party_row(conn, clean)
        if contact is not None and row.contact != contact:
            conn.execute(update(s.parties).where(s.parties.c.id == row.id).values(contact=contact))
            detail = {"before": row.contact, "after": contact}
            store._audit(conn, actor or clean, "party.contact", "party", row.id, detail)
            row = _party_row(conn, clean)
        return _info(conn, row), found is None


def _recompute(store: SqlStore, conn: Connection, party_id: int) -> VerificationLevel:
    """Set the party's level to its highest verified identity; return it."""
    kinds = conn.execute(
        select(s.party_identities.c.kind).where(
            s.party_identities.c.party_id == party_id,
            s.party_identities.c.status == IdentityStatus.VERIFIED.value,
        )
    ).scalars()
    level = max(
        (IdentityKind(k).level for k in kinds),
        key=lambda v: v.rank,
        default=VerificationLevel.SELF,
    )
    conn.execute(
        update(s.parties).where(s.parties.c.id == party_id).values(verification=level.value)
    )
    return level


def _lock_identity(store: SqlStore, conn: Connection, kind: IdentityKind, value: str) -> None:
    """On PostgreSQL, serialise writers of one identity (a domain, a key) for the transaction,
    so two parties cannot both verify it at once; SQLite's ``BEGIN IMMEDIATE`` already does."""
    if store.dialect == "postgresql":
        key = zlib.crc32(f"party-identity:{kind.value}:{value}".encode()) - (1 << 31)
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


def _verified_elsewhere(
    conn: Connection, kind: IdentityKind, value: str, party_id: int
) -> str | None:
    """The name of another party holding this identity verified, if any."""
    found = conn.execute(
        select(s.parties.c.name)
        .join(s.party_identities, s.party_identities.c.party_id == s.parties.c.id)
        .where(
            s.party_identities.c.kind == kind.value,
            s.party_identities.c.value == value,
            s.party_identities.c.status == IdentityStatus.VERIFIED.value,
            s.party_identities.c.party_id != party_id,
        )
    ).scalar()
    return str(found) if found is not None else None


def _verify(
    store: SqlStore,
    conn: Connection,
    row: Any,
    kind: IdentityKind,
    value: str,
    *,
    actor: str,
    public_key: str | None = None,
    detail: dict[str, Any] | None = None,
) -> Identity:
    """Mark (or add) the identity verified, raise the party's level, audit it."""
    _lock_identity(store, conn, kind, value)
    other = _verified_elsewhere(conn, kind, value, row.id)
    if other is not None:
        raise ConflictError(
            f"{kind.value} {value!r} is verified for another party ({other!r})",
            hint="an operator can resolve it",
        )
    where = (
        s.party_identities.c.party_id == row.id,
        s.party_identities.c.kind == kind.value,
        s.party_identities.c.value == value,
    )
    existing = conn.execute(select(s.party_identities).where(*where)).first()
    now = _now()
    if existing is None:
        conn.execute(
            insert(s.party_identities).values(
                party_id=row.id,
                kind=kind.value,
                value=value,
                public_key=public_key,
                status=IdentityStatus.VERIFIED.value,
                created_at=now,
                verified_at=now,
                verified_by=actor,
            )
        )
    elif existing.status == IdentityStatus.VERIFIED.value:
        return _identity(existing)
    else:
        conn.execute(
            update(s.party_identities)
            .where(*where)
            .values(status=IdentityStatus.VERIFIED.value, verified_at=now, verified_by=actor)
        )
    before = level_of(row.verification)
    after = _recompute(store, conn, row.id)
    store._audit(
        conn,
        actor,
        "party.verify",
        "party",
        row.id,
        {
            "party": row.name,
            "identity": kind.value,
            "value": value,
            "before": before.value,
            "after": after.value,
        }
        | (detail or {}),
    )
    return _identity(conn.execute(select(s.party_identities).where(*where)).one())


def verify_admin(store: SqlStore, name: str, reason: str, *, actor: str) -> PartyInfo:
    """An operator verifies ``name`` (level ``admin``); ``reason`` says how, and is audited."""
    text = clean_text_field(reason, "reason")
    if not text or not text.strip():
        raise UserError("an operator's verification needs a reason", hint="add --reason TEXT")
    with store._write() as conn:
        row = _party_row(conn, name)
        _verify(store, conn, row, IdentityKind.ADMIN, text.strip(), actor=actor)
        return _info(conn, _party_row(conn, name))


# -- keys --------------------------------------------------------------------------------------


def key_proof_message(party: str, public_key: Ed25519PublicKey) -> bytes:
    """What a party signs to prove it holds the private key it binds (``add_key``'s proof)."""
    return f"clearance-key-proof/1\n{party.strip()}\n{ed25519.public_b64(public_key)}".encode()


def add_key(
    store: SqlStore,
    name: str,
    public_key: Ed25519PublicKey,
    *,
    actor: str,
    proof: bytes | None = None,
) -> PartyInfo:
    """Bind an Ed25519 public key to the party (level ``key``).

    ``proof``, when given, must be the key's signature over
    ``key_proof_message``: the HTTP API requires it, so no one binds a key
    they do not hold (and then claims another's declarations). The command
    line is the operator's and may bind a key without it.
    """
    clean = clean_name(name, "party name")
    if proof is not None and not ed25519.check(
        public_key, proof, key_proof_message(clean, public_key)
    ):
        raise UserError(
            "the proof is not this key's signature over the key proof message",
            hint="sign 'clearance-key-proof/1\\nPARTY\\nPUBLIC_KEY_BASE64' with the private key",
        )
    kid = ed25519.key_id(public_key)
    with store._write() as conn:
        row = _party_row(conn, clean)
        _verify(
            store,
            conn,
            row,
            IdentityKind.KEY,
            kid,
            actor=actor,
            public_key=ed25519.public_b64(public_key),
            detail={"proof": proof is not None},
        )
        return _info(conn, _party_row(conn, clean))


def party_for_key(store: SqlStore, public_key: Ed25519PublicKey) -> Party:
    """The party this key is bound to (verified); ``NotFound`` when none is."""
    kid = ed25519.key_id(public_key)
    raw = ed25519.public_b64(public_key)
    with database_errors("read"), store.engine.connect() as conn:
        row = conn.execute(
            select(s.parties)
            .join(s.party_identities, s.party_identities.c.party_id == s.parties.c.id)
            .where(
                s.party_identities.c.kind == IdentityKind.KEY.value,
                s.party_identities.c.value == kid,
                s.party_identities.c.public_key == raw,
                s.party_identities.c.status == IdentityStatus.VERIFIED.value,
            )
        ).first()
    if row is None:
        raise NotFound(
            f"key {kid} is not bound to any party here",
            hint="bind it first: clearance parties add-key NAME --pubkey FILE",
        )
    return party_of(row)


def parse_public_key_text(text: str, what: str = "public_key") -> Ed25519PublicKey:
    """A public key sent as text: PEM, or base64 of the raw 32 bytes."""
    if not isinstance(text, str) or len(text) > 4096:
        raise UserError(f"{what} must be a PEM or base64 Ed25519 public key")
    return ed25519.parse_public_key(text.encode("utf-8", "replace"), what)


def parse_signature_text(text: str, what: str = "proof") -> bytes:
    raw = b64decode(text, what)
    if len(raw) != 64:
        raise UserError(f"{what} must be a base64 Ed25519 signature (64 bytes)")
    return raw


# -- domains -----------------------------------------------------------------------------------


def clean_domain(text: str) -> str:
    """A domain as a party names it: ``example.org`` (``host:port`` for tests and intranets)."""
    if not isinstance(text, str):
        raise UserError("the domain must be text")
    clean = text.strip().lower().removesuffix(".")
    if clean.startswith("domain:"):
        clean = clean.removeprefix("domain:")
    if not clean or len(clean) > 260 or not _DOMAIN.fullmatch(clean):
        raise UserError(
            f"{text[:80]!r} is not a domain name", hint="give the bare domain: example.org"
        )
    origin_of(f"https://{clean}/")  # as strict as the fetcher about the host
    return clean


def verification_url(domain: str, *, allow_private: bool = False) -> str:
    """``https://DOMAIN/.well-known/clearance-verification.txt``.

    With ``allow_private`` (tests and intranets) a private or loopback IP
    address is read over plain HTTP: such a host has no certificate to check.
    """
    host = domain.rsplit(":", 1)[0] if domain.count(":") == 1 else domain
    scheme = "https"
    if allow_private:
        try:
            addr = ipaddress.ip_address(host)
        except ValueError:
            addr = None
        if addr is not None and (addr.is_private or addr.is_loopback):
            scheme = "http"
    return f"{scheme}://{domain}{WELL_KNOWN}"


def start_domain(
    store: SqlStore, name: str, domain: str, *, actor: str, allow_private: bool = False
) -> DomainChallenge:
    """Issue (or repeat) the token ``name`` publishes to verify ``domain``."""
    clean = clean_domain(domain)
    with store._write() as conn:
        row = _party_row(conn, name)
        _lock_identity(store, conn, IdentityKind.DOMAIN, clean)
        other = _verified_elsewhere(conn, IdentityKind.DOMAIN, clean, row.id)
        if other is not None:
            raise ConflictError(
                f"domain {clean!r} is verified for another party ({other!r})",
                hint="an operator can resolve it",
            )
        where = (
            s.party_identities.c.party_id == row.id,
            s.party_identities.c.kind == IdentityKind.DOMAIN.value,
            s.party_identities.c.value == clean,
        )
        existing = conn.execute(select(s.party_identities).where(*where)).first()
        if existing is not None and existing.token:
            return DomainChallenge(
                row.name,
                clean,
                existing.token,
                verification_url(clean, allow_private=allow_private),
                IdentityStatus(existing.status),
            )
        token = secrets.token_urlsafe(24)
        conn.execute(
            insert(s.party_identities).values(
                party_id=row.id,
                kind=IdentityKind.DOMAIN.value,
                value=clean,
                token=token,
                status=IdentityStatus.PENDING.value,
                created_at=_now(),
            )
        )
        store._audit(
            conn, actor, "party.domain.start", "party", row.id, {"party": row.name, "domain": clean}
        )
        url = verification_url(clean, allow_private=allow_private)
        return DomainChallenge(row.name, clean, token, url, IdentityStatus.PENDING, issued=True)


Fetch = Callable[[str], FetchResult]
"""Reads one URL (``fetch_verification_file`` in production; the guarded fetcher)."""


def fetch_verification_file(url: str, config: FetchConfig) -> FetchResult:
    """GET ``url`` through the guarded fetcher (SSRF guard, limits, the declared agent)."""

    async def go() -> FetchResult:
        async with Fetcher(config) as fetcher:
            return await fetcher.get(url, max_bytes=MAX_TOKEN_FILE)

    return asyncio.run(go())


def token_published(body: bytes, token: str) -> bool:
    """Whether the file holds the token: a line ``clearance-verification=TOKEN`` (or the bare
    token), surrounding blanks ignored."""
    text = body.decode("utf-8", "replace")
    wanted = {token, f"{TOKEN_PREFIX}{token}"}
    return any(line.strip() in wanted for line in text.splitlines())


def confirm_domain(
    store: SqlStore,
    name: str,
    domain: str,
    *,
    actor: str,
    config: FetchConfig | None = None,
    fetch: Fetch | None = None,
) -> PartyInfo:
    """Fetch the domain's verification file; if it holds the party's token, verify the domain.

    ``ConflictError`` when no token was issued; ``FetchError`` (exit 3, 502) when
    the site cannot be read; ``AddressBlocked`` when the SSRF guard refuses its
    address; ``DomainNotVerified`` when the file does not hold the token.
    """
    clean = clean_domain(domain)
    config = config or FetchConfig()
    with database_errors("read"), store.engine.connect() as conn:
        row = _party_row(conn, name)
        pending = conn.execute(
            select(s.party_identities).where(
                s.party_identities.c.party_id == row.id,
                s.party_identities.c.kind == IdentityKind.DOMAIN.value,
                s.party_identities.c.value == clean,
            )
        ).first()
    if pending is None or not pending.token:
        raise ConflictError(
            f"no token was issued to {row.name!r} for {clean}",
            hint=f"start with: clearance parties verify-domain {row.name!r} --domain {clean}",
        )
    if pending.status == IdentityStatus.VERIFIED.value:
        return get_party(store, row.name)
    url = verification_url(clean, allow_private=config.allow_private)
    result = (fetch or (lambda u: fetch_verification_file(u, config)))(url)
    if result.blocked:
        raise AddressBlocked(
            f"{url}: {result.error}", hint="private addresses need --allow-private"
        )
    if result.status is None:
        raise FetchError(f"cannot read {url}: {result.error}")
    if result.status != 200:
        raise DomainNotVerified(
            f"{url} answered HTTP {result.status}",
            hint=f"publish '{TOKEN_PREFIX}{pending.token}' there",
        )
    if not token_published(result.body, pending.token):
        raise DomainNotVerified(
            f"{url} does not hold the token issued to {row.name!r}",
            hint=f"publish '{TOKEN_PREFIX}{pending.token}' there",
        )
    with store._write() as conn:
        row = _party_row(conn, row.name)
        _verify(store, conn, row, IdentityKind.DOMAIN, clean, actor=actor, detail={"url": url})
        return _info(conn, _party_row(conn, row.name))


__all__ = [
    "TOKEN_PREFIX",
    "WELL_KNOWN",
    "DomainChallenge",
    "DomainNotVerified",
    "Identity",
    "IdentityKind",
    "IdentityStatus",
    "PartyInfo",
    "add_key",
    "clean_domain",
    "confirm_domain",
    "create_party",
    "fetch_verification_file",
    "get_party",
    "key_proof_message",
    "list_parties",
    "party_for_key",
    "start_domain",
    "token_published",
    "verification_url",
    "verify_admin",
]

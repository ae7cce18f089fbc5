"""Frozen domain types shared by every layer.

They carry no behaviour beyond validation and small derived views, so stores,
parsers and jobs can pass them around freely and tests can build them by hand.
Serialisation to JSON lives with the face that needs it (``to_dict``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from clearance.core.errors import InvalidTerms, UserError
from clearance.core.usage import ALL_USAGES, Permission, Usage, narrower_usages
from clearance.core.validation import MAX_PRICE, MAX_PRICE_DECIMALS


class WorkKind(StrEnum):
    """The medium of a registered work."""

    IMAGE = "image"
    TEXT = "text"
    AUDIO = "audio"
    VIDEO = "video"
    CHARACTER = "character"
    OTHER = "other"


class IdentifierScheme(StrEnum):
    """The kinds of identifier a work can carry."""

    SHA256 = "sha256"
    URL = "url"
    URL_PREFIX = "url-prefix"
    DOMAIN = "domain"
    ISCC = "iscc"
    ISBN = "isbn"
    ISRC = "isrc"
    NAME = "name"
    """A character's name or alias (the first one is the character's key)."""


class PricePer(StrEnum):
    """What a licence price is charged for: its price model.

    ``item``: each item a training run uses (per item per run); ``run``: a flat
    fee per run that uses the work; ``output``: each output (inference or guard
    use) that reproduces the work; ``pool``: a share of a revenue pool, the
    amount being the weight of each item or output (see docs/licensing.md).
    """

    ITEM = "item"
    RUN = "run"
    OUTPUT = "output"
    POOL = "pool"


class AgreementStatus(StrEnum):
    """State of a licence agreement: agreements are revoked, never deleted."""

    ACTIVE = "active"
    REVOKED = "revoked"


class UsageBasis(StrEnum):
    """Why a recorded use was allowed: under a licence, or freely with attribution."""

    LICENCE = "licence"
    ATTRIBUTION = "attribution"


class VerificationLevel(StrEnum):
    """How well a party's identity is verified, weakest first (a party's level is its highest
    verified identity; see docs/parties.md).

    ``self``: unverified, a name the party gave itself; ``domain``: the party published a
    token at ``https://DOMAIN/.well-known/clearance-verification.txt``; ``key``: an Ed25519
    key bound to the party signs its declarations; ``admin``: an operator verified it.
    """

    SELF = "self"
    DOMAIN = "domain"
    KEY = "key"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        """0 for ``self`` up to 3 for ``admin``: levels compare by rank."""
        return _LEVELS.index(self)

    def at_least(self, other: VerificationLevel) -> bool:
        """Whether this level is ``other`` or higher."""
        return self.rank >= other.rank

    @staticmethod
    def parse(text: str | VerificationLevel) -> VerificationLevel:
        """A level from user input (``domain``); ``UserError`` naming the valid ones."""
        if isinstance(text, VerificationLevel):
            return text
        try:
            return VerificationLevel(str(text).strip().lower())
        except ValueError:
            valid = "|".join(v.value for v in VerificationLevel)
            raise UserError(
                f"unknown verification level {str(text)[:40]!r}", hint=f"use {valid}"
            ) from None


_LEVELS: tuple[VerificationLevel, ...] = tuple(VerificationLevel)


class ClaimStatus(StrEnum):
    """State of an ownership claim on a work."""

    ACTIVE = "active"
    DISPUTED = "disputed"
    REJECTED = "rejected"
    """Set aside when an admin resolved a dispute for another claimant (kept as history)."""


_CURRENCY = re.compile(r"^[A-Z]{3}$")
_PRICE_QUANTUM = Decimal(1).scaleb(-MAX_PRICE_DECIMALS)
_TERM = re.compile(r"^P(?=\d)(?:(\d{1,3})Y)?(?:(\d{1,4})M)?(?:(\d{1,5})D)?$")
_TERRITORY = re.compile(r"^(?:[A-Z]{2}|EU|WORLD)(?:\+(?:[A-Z]{2}|EU))*$")


def parse_term(text: str) -> str:
    """An ISO 8601 period of years, months and days (``P1Y``, ``P6M``, ``P1Y6M``, ``P30D``)."""
    clean = text.strip().upper()
    if not _TERM.match(clean):
        raise InvalidTerms(
            f"term {text[:40]!r} is not a period", hint="use an ISO 8601 period: P1Y, P6M, P30D"
        )
    return clean


def parse_territory(text: str) -> str:
    """ISO 3166-1 alpha-2 codes (or ``EU``) joined by ``+``, or ``WORLD``."""
    clean = text.strip().upper()
    if not _TERRITORY.match(clean):
        raise InvalidTerms(
            f"territory {text[:40]!r} is not a list of country codes",
            hint="e.g. DE, DE+FR, EU or WORLD",
        )
    return clean


def term_parts(term: str) -> tuple[int, int, int]:
    """``P1Y6M`` -> (1, 6, 0): years, months, days."""
    found = _TERM.match(term)
    if not found:
        raise InvalidTerms(f"term {term!r} is not a period")
    y, m, d = (int(g) if g else 0 for g in found.groups())
    return y, m, d


@dataclass(frozen=True, slots=True)
class Price:
    """A licence price model: an exact decimal amount in an ISO 4217 currency, charged per
    item, per run, per output or as a share of a pool; optionally for a term (an ISO 8601
    period, e.g. ``P1Y``) and a territory (``DE+FR``, ``EU``, ``WORLD``)."""

    amount: Decimal
    currency: str
    per: PricePer = PricePer.ITEM
    term: str | None = None
    territory: str | None = None

    @staticmethod
    def parse(
        amount: str | Decimal | float,
        currency: str,
        per: str = "item",
        *,
        term: str | None = None,
        territory: str | None = None,
    ) -> Price:
        """Validate and build a price from user input; raise ``InvalidTerms``."""
        text = str(amount).strip()
        if len(text) > 64:
            raise InvalidTerms(f"price {text[:20]!r}... is not a plain amount ({len(text)} chars)")
        try:
            value = Decimal(text)
        except (InvalidOperation, ValueError):
            raise InvalidTerms(f"price {amount!r} is not a number") from None
        if not value.is_finite() or value < 0:
            raise InvalidTerms(f"price {amount!r} must be a finite amount >= 0")
        if value >= MAX_PRICE:
            raise InvalidTerms(f"price {amount!r} must be below {MAX_PRICE:,}")
        if value != value.quantize(_PRICE_QUANTUM):
            raise InvalidTerms(
                f"price {amount!r} has more than {MAX_PRICE_DECIMALS} decimal places"
            )
        exponent = value.as_tuple().exponent
        assert isinstance(exponent, int)  # finite
        if exponent > 0:  # 1E+3 -> 1000: stored and shown in plain notation
            value = value.quantize(Decimal(1))
        elif -exponent > MAX_PRICE_DECIMALS:  # 0.50000000000000 -> 0.500000000
            value = value.quantize(_PRICE_QUANTUM)
        if value == 0:
            value = Decimal(0)  # -0, 0E-9 -> 0
        cur = currency.strip().upper()
        if not _CURRENCY.match(cur):
            raise InvalidTerms(f"currency {currency!r} is not a 3-letter ISO 4217 code")
        try:
            unit = PricePer(per.strip().lower())
        except ValueError:
            valid = ", ".join(f"'{p.value}'" for p in PricePer)
            raise InvalidTerms(f"--per must be one of {valid}, not {per!r}") from None
        return Price(
            value,
            cur,
            unit,
            parse_term(term) if term else None,
            parse_territory(territory) if territory else None,
        )

    @property
    def amount_text(self) -> str:
        """The amount in plain notation (``0.000000001``, never ``1E-9``)."""
        return format(self.amount, "f")

    def describe(self) -> str:
        """``0.02 EUR per item`` (plus ``, term P1Y, territory EU`` when set)."""
        head = f"{self.amount_text} {self.currency} per {self.per.value}"
        if self.per is PricePer.POOL:
            head = f"a share of a {self.currency} pool, weight {self.amount_text}"
        extra = [f"term {self.term}"] if self.term else []
        extra += [f"territory {self.territory}"] if self.territory else []
        return head + (", " + ", ".join(extra) if extra else "")

    def text(self) -> str:
        """The price as a person reads it: ``1 USD per item`` (``describe``)."""
        return self.describe()

    def to_dict(self) -> dict[str, str]:
        out = {"amount": self.amount_text, "currency": self.currency, "per": self.per.value}
        if self.term:
            out["term"] = self.term
        if self.territory:
            out["territory"] = self.territory
        return out

    @staticmethod
    def from_dict(doc: Mapping[str, Any]) -> Price:
        """A price read back from its ``to_dict`` form (validated again)."""
        return Price.parse(
            str(doc["amount"]),
            str(doc["currency"]),
            str(doc.get("per", "item")),
            term=doc.get("term"),
            territory=doc.get("territory"),
        )


def price_for(prices: Mapping[Usage, Price], usage: Usage) -> Price | None:
    """The price of ``usage`` in a price table (terms, an agreement): its own, else that of
    the first broader usage in the table (vocabulary order) that reaches it."""
    if usage in prices:
        return prices[usage]
    for broader in ALL_USAGES:
        if broader in prices and usage in narrower_usages(broader):
            return prices[broader]
    return None


def prices_to_dict(prices: Mapping[Usage, Price]) -> dict[str, dict[str, str]]:
    """``{"train-genai": {...}, "output": {...}}`` in vocabulary order."""
    return {u.value: prices[u].to_dict() for u in ALL_USAGES if u in prices}


@dataclass(frozen=True, slots=True)
class Terms:
    """An owner's stated permission per usage, plus a price model per licensed usage.

    Only usages the owner spoke about are present in ``permissions``; the rest are
    unknown. ``effective()`` applies the implication rules (a statement on ``tdm``
    reaches ``train-ai``, ``train-genai`` and ``ai-input``) and fills in unknowns.
    ``prices`` holds one ``Price`` per licensed usage (training may cost per item
    while outputs cost per output); ``price_for`` finds the one that applies.
    """

    permissions: Mapping[Usage, Permission] = field(default_factory=dict)
    prices: Mapping[Usage, Price] = field(default_factory=dict)

    def __post_init__(self) -> None:
        licensed = [u for u, p in self.permissions.items() if p is Permission.LICENSE]
        missing = [u for u in licensed if u not in self.prices]
        if missing:
            names = ", ".join(u.value for u in missing)
            raise InvalidTerms(f"licensed usages ({names}) need a price", hint="add --price")

    @property
    def price(self) -> Price | None:
        """The first licensed usage's price (vocabulary order); ``price_for`` is per usage."""
        for usage in ALL_USAGES:
            if usage in self.prices:
                return self.prices[usage]
        return None

    def price_for(self, usage: Usage) -> Price | None:
        """The price of licensing ``usage``: its own, else that of a broader licensed usage."""
        return price_for(self.prices, usage)

    def effective(self) -> dict[Usage, Permission]:
        """Permission per usage after implications: the most restrictive statement wins."""
        out: dict[Usage, Permission] = {u: Permission.UNKNOWN for u in ALL_USAGES}
        for usage, perm in self.permissions.items():
            for target in (usage, *narrower_usages(usage)):
                out[target] = strictest(out[target], perm)
        return out

    def stated_by(self, usage: Usage) -> Usage | None:
        """The stated usage whose statement gives ``usage`` its effective permission.

        ``usage`` itself when the owner spoke about it, a broader usage when the
        permission is implied (``tdm`` for ``train-ai``), None when it is unset.
        """
        effective = self.effective()[usage]
        if usage in self.permissions and self.permissions[usage] is effective:
            return usage
        for stated, perm in self.permissions.items():
            if perm is effective and usage in narrower_usages(stated):
                return stated
        return None

    def merged_over(self, default: Terms | None) -> Terms:
        """These terms with usages they leave unset taken from ``default`` (a party default)."""
        if default is None:
            return self
        perms = dict(default.permissions)
        perms.update(self.permissions)
        prices = {
            u: (self.prices[u] if u in self.permissions else default.prices[u])
            for u, p in perms.items()
            if p is Permission.LICENSE and (u in self.prices or u in default.prices)
        }
        return Terms(perms, prices)

    def to_dict(self) -> dict[str, Any]:
        """Stated permissions and prices (the shape kept in the terms history)."""
        return {
            "permissions": {u.value: p.value for u, p in self.permissions.items()},
            "prices": prices_to_dict(self.prices),
        }

    @staticmethod
    def from_dict(doc: Mapping[str, Any]) -> Terms:
        """Terms read back from their ``to_dict`` form (a stored price is kept as it is, even
        one outside today's bounds; a licensed usage without a price is dropped)."""
        perms = {Usage(u): Permission(p) for u, p in dict(doc.get("permissions") or {}).items()}
        prices: dict[Usage, Price] = {}
        for u, p in dict(doc.get("prices") or {}).items():
            try:
                prices[Usage(u)] = Price.from_dict(p)
            except InvalidTerms:  # a price stored before prices were bounded
                prices[Usage(u)] = Price(Decimal(p["amount"]), p["currency"], PricePer(p["per"]))
        perms = {u: p for u, p in perms.items() if p is not Permission.LICENSE or u in prices}
        return Terms(perms, {u: prices[u] for u, p in perms.items() if p is Permission.LICENSE})


def claimed_terms(note: str | None) -> Terms | None:
    """The terms a claimant stated with a claim, read from the claim's JSON ``note``.

    The registry writes ``{"stated_terms": Terms.to_dict(), ...}``; claims made before
    that kept the change as ``{"terms": {"set", "price", "prices"}}``, read here too.
    None when the note holds no terms (the owner's own claim: the work's terms are theirs).
    """
    if not note:
        return None
    try:
        doc = json.loads(note)
        if not isinstance(doc, dict):
            return None
        if isinstance(doc.get("stated_terms"), dict):
            return Terms.from_dict(doc["stated_terms"])
        change = doc.get("terms")
        if not isinstance(change, dict):
            return None
        price = change.get("price")
        prices = dict(change.get("prices") or {})
        perms = dict(change.get("set") or {})
        for usage, perm in perms.items():
            if perm == Permission.LICENSE.value and usage not in prices and price:
                prices[usage] = price
        return Terms.from_dict({"permissions": perms, "prices": prices})
    except (ValueError, KeyError, TypeError, InvalidTerms):
        return None  # a damaged note states nothing


_RANK = {
    Permission.UNKNOWN: 0,
    Permission.ALLOW: 1,
    Permission.LICENSE: 2,
    Permission.DENY: 3,
}


def strictest(a: Permission, b: Permission) -> Permission:
    """The more restrictive of two permissions: deny > license > allow > unknown."""
    return a if _RANK[a] >= _RANK[b] else b


@dataclass(frozen=True, slots=True)
class Party:
    """A rights holder, licensee or other actor, with its verification level.

    ``verification`` is the highest level among the party's verified identities
    (``self`` when none is verified); a claim shows its claimant's level, and
    scans and the guard can ignore claims below a minimum (``--min-verification``).
    """

    id: int
    name: str
    contact: str | None = None
    verification: VerificationLevel = VerificationLevel.SELF


@dataclass(frozen=True, slots=True)
class Identifier:
    """One way to recognise a work: a content hash, URL, URL prefix, domain, ISCC, ISBN, ISRC."""

    scheme: IdentifierScheme
    value: str


@dataclass(frozen=True, slots=True)
class Claim:
    """A party's claim to own a work. Two parties claiming the same work makes both disputed."""

    party: str
    status: ClaimStatus
    created_at: datetime
    note: str | None = None
    verification: VerificationLevel = VerificationLevel.SELF
    """The claimant's verification level when the claim was read."""


@dataclass(frozen=True, slots=True)
class Work:
    """A registered work with its owner, identifiers and terms."""

    id: int
    kind: WorkKind
    owner: Party
    title: str | None
    identifiers: tuple[Identifier, ...]
    terms: Terms
    created_at: datetime
    claims: tuple[Claim, ...] = ()

    @property
    def sha256(self) -> str | None:
        for ident in self.identifiers:
            if ident.scheme is IdentifierScheme.SHA256:
                return ident.value
        return None

    @property
    def disputed(self) -> bool:
        return any(c.status is ClaimStatus.DISPUTED for c in self.claims)

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape used by ``--json`` output and the HTTP API."""
        return {
            "id": self.id,
            "kind": self.kind.value,
            "title": self.title,
            "owner": self.owner.name,
            "owner_verification": self.owner.verification.value,
            "sha256": self.sha256,
            "identifiers": [{"scheme": i.scheme.value, "value": i.value} for i in self.identifiers],
            "terms": {u.value: p.value for u, p in self.terms.effective().items()},
            "stated_terms": {u.value: p.value for u, p in self.terms.permissions.items()},
            "price": self.terms.price.to_dict() if self.terms.price else None,
            "prices": prices_to_dict(self.terms.prices),
            "disputed": self.disputed,
            "claims": [
                {
                    "party": c.party,
                    "status": c.status.value,
                    "verification": c.verification.value,
                    "created_at": c.created_at.isoformat(),
                }
                for c in self.claims
            ],
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class Evidence:
    """One observation about one usage: where it came from and what it said.

    ``agreement_id`` is set when the evidence is an active licence agreement held
    by the user; it outranks every preference (contracts override preferences).
    ``work_id`` names the registered work the evidence is about (registry terms
    and agreements); an agreement with a ``work_id`` overrides only that work's
    own terms, never another matched work's (see ``core.policy.resolve``).
    """

    source: str
    usage: Usage
    permission: Permission
    detail: str = ""
    raw: str = ""
    observed_at: datetime | None = None
    agreement_id: int | None = None
    work_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "source": self.source,
            "usage": self.usage.value,
            "permission": self.permission.value,
            "detail": self.detail,
            "raw": self.raw,
        }
        if self.observed_at is not None:
            out["observed_at"] = self.observed_at.isoformat()
        if self.agreement_id is not None:
            out["agreement_id"] = self.agreement_id
        if self.work_id is not None:
            out["work_id"] = self.work_id
        return out


@dataclass(frozen=True, slots=True)
class Decision:
    """The resolved answer for one usage.

    ``permission`` is what the evidence says; ``allowed`` is what the chosen mode
    makes of it (in opt-out mode ``unknown`` is allowed, in opt-in mode it is not);
    ``licensed`` is true when an active agreement carried the decision.
    """

    usage: Usage
    permission: Permission
    allowed: bool
    licensed: bool
    mode: str
    evidence: tuple[Evidence, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "usage": self.usage.value,
            "permission": self.permission.value,
            "allowed": self.allowed,
            "licensed": self.licensed,
            "mode": self.mode,
            "evidence": [e.to_dict() for e in self.evidence],
        }


@dataclass(frozen=True, slots=True)
class Agreement:
    """A licence: ``licensee`` may use ``owner``'s work (or every work, ``work_id`` None).

    It grants ``usages`` from ``starts_at`` until ``ends_at`` (exclusive; None
    means open-ended) while its status is active. A grant on a broad usage
    reaches the narrower ones (``tdm`` covers ``train-ai``); ``output`` covers
    only itself.
    """

    id: int
    licensee: str
    owner: str
    work_id: int | None
    usages: tuple[Usage, ...]
    starts_at: datetime
    ends_at: datetime | None = None
    status: AgreementStatus = AgreementStatus.ACTIVE
    reference: str | None = None
    created_at: datetime | None = None
    prices: Mapping[Usage, Price] = field(default_factory=dict)
    """The price model agreed per usage (from the offer it accepted); empty for a bare grant."""
    manifest_digest: str | None = None
    """The scan manifest the licence request came from (SHA-256 of ``manifest.json``)."""
    request_id: int | None = None

    def in_force(self, at: datetime) -> bool:
        """Active and within its period at ``at``."""
        return (
            self.status is AgreementStatus.ACTIVE
            and self.starts_at <= at
            and (self.ends_at is None or at < self.ends_at)
        )

    def grants(self, usage: Usage) -> bool:
        """Whether the granted usages reach ``usage`` (directly or by implication)."""
        return any(u is usage or usage in narrower_usages(u) for u in self.usages)

    def covers(self, usage: Usage, work: Work, at: datetime) -> bool:
        """Whether this agreement licenses ``usage`` of ``work`` at ``at``."""
        return (
            self.in_force(at)
            and work.owner.name == self.owner
            and (self.work_id is None or self.work_id == work.id)
            and self.grants(usage)
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "licensee": self.licensee,
            "owner": self.owner,
            "work_id": self.work_id,
            "usages": [u.value for u in self.usages],
            "starts_at": self.starts_at.isoformat(),
            "ends_at": self.ends_at.isoformat() if self.ends_at else None,
            "status": self.status.value,
            "reference": self.reference,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "prices": prices_to_dict(self.prices),
            "manifest_digest": self.manifest_digest,
            "request_id": self.request_id,
        }


@dataclass(frozen=True, slots=True)
class UsageEvent:
    """One recorded use of a work: an output allowed under a licence or with attribution.

    The guard builds these (``id`` None); the registry stores them append-only
    and the licensing side turns them into royalty statements.
    """

    at: datetime
    work_id: int
    basis: UsageBasis
    method: str
    score: float
    input_label: str
    verdict: str
    licensee: str | None = None
    agreement_id: int | None = None
    kind: str = "inference"
    id: int | None = None
    amount: Decimal | None = None
    """What the use costs under the licence (a per-output price), exact; None if unpriced."""
    currency: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "at": self.at.isoformat(),
            "kind": self.kind,
            "work_id": self.work_id,
            "licensee": self.licensee,
            "agreement_id": self.agreement_id,
            "basis": self.basis.value,
            "method": self.method,
            "score": round(self.score, 4),
            "input": self.input_label,
            "verdict": self.verdict,
        }
        if self.amount is not None:
            out["amount"] = format(self.amount, "f")
            out["currency"] = self.currency
        if self.id is not None:
            out = {"id": self.id, **out}
        return out

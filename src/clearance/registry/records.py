"""Inputs and outputs of the store that are not domain types: what to register, what happened.

Kept apart from ``store`` so callers (registration, faces, tests) can build
requests without importing SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from clearance.core.errors import InvalidTerms
from clearance.core.licence_grammar import parse_license
from clearance.core.models import Identifier, Price, Work, WorkKind
from clearance.core.usage import Permission, Usage, parse_usages


@dataclass(frozen=True, slots=True)
class FingerprintRecord:
    """One stored fingerprint: algorithm name, blob format version, bytes, optional quality."""

    algo: str
    data: bytes
    format_version: int = 1
    quality: int | None = None


@dataclass(frozen=True, slots=True)
class TermsChange:
    """A change to a scope's terms: usages to set, usages to clear, and licence prices.

    ``prices`` gives a licensed usage its own price model; ``price`` is the
    price of every licensed usage in ``set`` that has none in ``prices`` (the
    old one-price form). A licensed usage with neither keeps the price it
    already has. Only the usages named change: setting the output price leaves
    the training price as it was.
    """

    set: Mapping[Usage, Permission] = field(default_factory=dict)
    unset: frozenset[Usage] = frozenset()
    price: Price | None = None
    prices: Mapping[Usage, Price] = field(default_factory=dict)

    def __post_init__(self) -> None:
        both = self.unset & set(self.set)
        if both:
            names = ", ".join(sorted(u.value for u in both))
            raise InvalidTerms(f"usages both set and unset: {names}")
        if self.price is not None and Permission.LICENSE not in self.set.values():
            raise InvalidTerms("a price only applies to licensed usages", hint="add --license")
        for usage in self.prices:
            if self.set.get(usage) is not Permission.LICENSE:
                raise InvalidTerms(
                    f"a price for {usage.value} needs {usage.value} licensed",
                    hint="name it under --license",
                )
        for usage, perm in self.set.items():
            if perm is Permission.UNKNOWN:
                raise InvalidTerms(f"cannot set {usage.value} to unknown", hint="use --unset")

    def price_of(self, usage: Usage) -> Price | None:
        """The price this change gives ``usage`` (None: keep the stored one)."""
        return self.prices.get(usage, self.price)

    @staticmethod
    def from_flags(
        *,
        deny: tuple[Usage, ...] = (),
        allow: tuple[Usage, ...] = (),
        license: tuple[Usage, ...] = (),
        unset: tuple[Usage, ...] = (),
        price: Price | None = None,
        prices: Mapping[Usage, Price] | None = None,
    ) -> TermsChange | None:
        """Build a change from the CLI's ``--deny/--allow/--license/--unset/--price`` lists.

        ``prices``: the usages licensed with their own price (``--license
        train-genai=0.02/item``). A usage named under two different permissions
        is an error; None means no change.
        """
        priced = dict(prices or {})
        license = tuple(dict.fromkeys((*license, *priced)))
        seen: dict[Usage, Permission] = {}
        for perm, usages in (
            (Permission.DENY, deny),
            (Permission.ALLOW, allow),
            (Permission.LICENSE, license),
        ):
            for usage in usages:
                if usage in seen and seen[usage] is not perm:
                    raise InvalidTerms(
                        f"usage {usage.value} is both {seen[usage].value} and {perm.value}"
                    )
                seen[usage] = perm
        bare = [u for u in license if u not in priced]
        if price is not None and license and not bare:
            raise InvalidTerms(
                "--price prices only bare usages under --license",
                hint="every licensed usage here has its own USAGE=AMOUNT/UNIT price",
            )
        if bare and price is None:
            raise InvalidTerms(
                "--license needs a price",
                hint="add --price AMOUNT --currency CUR, or write USAGE=AMOUNT/UNIT",
            )
        change = TermsChange(seen, frozenset(unset), price if bare else None, priced)
        return None if change.empty else change

    @staticmethod
    def parse(
        *,
        deny: Iterable[str] = (),
        allow: Iterable[str] = (),
        license: Iterable[str] = (),
        unset: Iterable[str] = (),
        price: str | None = None,
        currency: str | None = None,
        per: str = "item",
    ) -> TermsChange | None:
        """Validate usage names (comma lists, ``all``) and prices as the faces take them.

        The CLI's ``--deny/--allow/--license/--unset/--price/--currency/--per`` and
        the API's terms bodies both come here; ``--license`` takes bare usages
        (priced by ``price``) and ``USAGE=AMOUNT/UNIT`` entries
        (``core.licence_grammar``). None means no change.
        """
        bare, priced = parse_license(license, currency=currency)
        parsed_price = None
        if price is not None:
            if currency is None:
                raise InvalidTerms("a price needs a currency", hint="e.g. --currency EUR")
            parsed_price = Price.parse(price, currency, per)
        elif currency is not None and not priced:
            raise InvalidTerms("a currency needs a price", hint="add --price")
        return TermsChange.from_flags(
            deny=parse_usages(deny),
            allow=parse_usages(allow),
            license=bare,
            unset=parse_usages(unset),
            price=parsed_price,
            prices=priced,
        )

    @property
    def empty(self) -> bool:
        return not self.set and not self.unset and self.price is None and not self.prices


@dataclass(frozen=True, slots=True)
class WorkSpec:
    """What to register. The first identifier is the work's key for de-duplication."""

    kind: WorkKind
    owner: str
    identifiers: tuple[Identifier, ...]
    title: str | None = None
    fingerprints: tuple[FingerprintRecord, ...] = ()
    terms: TermsChange | None = None
    update_terms: bool = False
    """Registering known bytes (or an identifier) again may change their terms only with this
    set (``works add --update-terms``); otherwise different terms are a ``ConflictError``."""
    source: Path | None = field(default=None, compare=False)
    """The file the fingerprints were computed from, for the near-duplicate check
    (``Resemblance``); None for a work known by identifiers alone."""


@dataclass(frozen=True, slots=True)
class Resemblance:
    """Another registered work whose content a registration reproduces, and the evidence.

    ``matches`` are the matching core's own descriptions of each match
    (``clearance.matching.Match.to_dict`` plus its ``label``): which fingerprint
    matched, at what distance or score. The store keeps them in the claim's note,
    so an admin sees both sides' evidence when resolving the dispute.
    """

    work_id: int
    matches: tuple[Mapping[str, Any], ...]


ContentCheck = Callable[[WorkSpec], Sequence[Resemblance]]
"""Finds the registered works a ``WorkSpec``'s content reproduces, best first.

The registry cannot match content itself (matching sits above it), so the faces pass
one in (``clearance.service.content_check``); ``SqlStore.register`` calls it inside
the registration's transaction, after the lock that serialises content registrations.
"""


class RegistrationStatus(StrEnum):
    CREATED = "created"
    EXISTING = "existing"
    DISPUTED = "disputed"


@dataclass(frozen=True, slots=True)
class Registration:
    """The outcome of registering one ``WorkSpec``."""

    work: Work
    status: RegistrationStatus
    fingerprints_added: int = 0
    """Fingerprints stored by this call (all of them for a new work; the new ones otherwise)."""


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One row of the append-only audit log."""

    id: int
    at: datetime
    actor: str
    action: str
    entity: str
    entity_id: int | None
    detail: Mapping[str, Any]

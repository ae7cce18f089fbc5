"""Signed declarations: a party's works and terms as JSON that can travel to other registries.

Why: a rights holder states its opt-outs once, signs them with its Ed25519
key (the ``key`` level of ``registry.parties``), and any registry that knows
the key can take them in, with no trust in whoever carried the file. The
document (``clearance.declarations``, format version 1; docs/formats.md)::

    {"format": "clearance.declarations", "format_version": 1,
     "party": {"name": "Ann", "verification": "key"},
     "key": {"algorithm": "Ed25519", "public_key": "<base64>", "key_id": "<16 hex>"},
     "issued_at": "2026-12-04T18:00:00+00:00",
     "works": [{"kind": "image", "title": "fox",
                "identifiers": [{"scheme": "iscc", "value": "ISCC:..."},
                                {"scheme": "sha256", "value": "..."}],
                "content_usage": "train-ai=n, search=y",
                "usages": {"train-ai": "deny", "search": "allow", "output": "license"},
                "prices": {"output": {"amount": "0.01", "currency": "EUR", "per": "output"}}}],
     "signature": "<base64 Ed25519 signature>"}

``content_usage`` is the aipref ``Content-Usage`` statement (``signals.aipref``)
of the allow/deny part, which any aipref reader understands; ``usages`` (the
``core.usage`` vocabulary, with prices) adds what aipref has no label for:
licences and ``output``. A document may carry only ``content_usage``; when it
carries both they must agree. The signature is over the RFC 8785 canonical
JSON of the document without ``signature`` (``evidence.canonical``).

Reading (``parse_declarations``) is strict and never raises anything but a
``UserError`` (exit 2, HTTP 4xx): bad JSON, a wrong shape or a signature that
does not verify is ``MalformedEvidence``. Importing registers each work for
the party its key is bound to here, with that party as the actor.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from clearance.core.errors import InvalidTerms, UserError
from clearance.core.models import (
    Identifier,
    IdentifierScheme,
    Party,
    Price,
    Work,
    WorkKind,
    prices_to_dict,
)
from clearance.core.usage import Permission, Usage
from clearance.core.validation import clean_data_text
from clearance.evidence import keys as ed25519
from clearance.evidence.canonical import b64decode, b64encode, canonical_json, parse_json
from clearance.evidence.errors import MalformedEvidence
from clearance.registry.identifiers import parse_identifier
from clearance.registry.parties import IdentityKind, get_party, party_for_key
from clearance.registry.records import Registration, TermsChange, WorkSpec
from clearance.registry.store import SqlStore
from clearance.signals.aipref import parse_content_usage
from clearance.signals.mapping import content_usage_statement, evidence_from_content_usage

FORMAT = "clearance.declarations"
FORMAT_VERSION = 1
MAX_WORKS = 100_000
"""The most works one declaration file may carry."""
MAX_BYTES = 64 * 1024 * 1024
"""The largest declaration file read."""
_TOP = {"format", "format_version", "party", "key", "issued_at", "works", "signature"}
_WORK = {"kind", "title", "identifiers", "content_usage", "usages", "prices"}


@dataclass(frozen=True, slots=True)
class DeclaredWork:
    """One work of a declaration: what identifies it and the terms its owner states."""

    kind: WorkKind
    identifiers: tuple[Identifier, ...]
    title: str | None = None
    terms: TermsChange | None = None


@dataclass(frozen=True, slots=True)
class Declarations:
    """A parsed declaration whose signature verified."""

    party: str
    public_key: Ed25519PublicKey
    key_id: str
    issued_at: datetime
    works: tuple[DeclaredWork, ...]
    digest: str


@dataclass(frozen=True, slots=True)
class ImportResult:
    party: str
    key_id: str
    registrations: tuple[Registration, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "party": self.party,
            "key_id": self.key_id,
            "works": [
                {"id": r.work.id, "status": r.status.value, "work": r.work.to_dict()}
                for r in self.registrations
            ],
            "count": len(self.registrations),
        }


# -- export ------------------------------------------------------------------------------------


def _work_doc(work: Work) -> dict[str, Any]:
    stated = work.terms.permissions
    return {
        "kind": work.kind.value,
        "title": work.title,
        "identifiers": [
            {"scheme": i.scheme.value, "value": i.value}
            for i in sorted(work.identifiers, key=lambda i: i.scheme is not IdentifierScheme.ISCC)
            if i.scheme is not IdentifierScheme.NAME
        ],
        "content_usage": content_usage_statement(stated),
        "usages": {u.value: p.value for u, p in stated.items()},
        "prices": prices_to_dict(work.terms.prices),
    }


def export_declarations(
    store: SqlStore, party: str, signing_key: Ed25519PrivateKey, *, at: datetime | None = None
) -> dict[str, Any]:
    """Every work of ``party`` with its stated terms, signed with ``signing_key``.

    The key must be bound to the party here (``parties add-key``): a registry
    that imports the file then knows whose declarations they are.
    """
    info = get_party(store, party)
    public = signing_key.public_key()
    kid = ed25519.key_id(public)
    bound = any(
        i.kind is IdentityKind.KEY and i.value == kid and i.status.value == "verified"
        for i in info.identities
    )
    if not bound:
        raise UserError(
            f"key {kid} is not bound to {info.party.name!r}",
            hint=f"bind it first: clearance parties add-key {info.party.name!r} --pubkey KEY.pub",
        )
    works = [w for w in store.list_works(owner=info.party.name) if _exportable(w)]
    doc: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "party": {"name": info.party.name, "verification": info.party.verification.value},
        "key": {
            "algorithm": ed25519.ALGORITHM,
            "public_key": ed25519.public_b64(public),
            "key_id": kid,
        },
        "issued_at": (at or datetime.now(UTC)).isoformat(),
        "works": [_work_doc(w) for w in works],
    }
    doc["signature"] = b64encode(ed25519.sign(signing_key, canonical_json(doc)))
    return doc


def _exportable(work: Work) -> bool:
    return any(i.scheme is not IdentifierScheme.NAME for i in work.identifiers)


# -- parse -------------------------------------------------------------------------------------


def _bad(message: str) -> MalformedEvidence:
    return MalformedEvidence(f"declaration: {message}")


def _obj(value: object, what: str, allowed: set[str] | None = None) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise _bad(f"{what} must be an object")
    if allowed is not None:
        unknown = sorted(set(value) - allowed)
        if unknown:
            raise _bad(f"{what} has unknown fields: {', '.join(unknown)[:200]}")
    return value


def _str(value: object, what: str, *, optional: bool = False) -> str:
    if value is None and optional:
        return ""
    if not isinstance(value, str):
        raise _bad(f"{what} must be a string")
    return value


def _terms(doc: Mapping[str, Any], where: str) -> TermsChange | None:
    """The work's stated terms: ``usages`` (with ``prices``), checked against ``content_usage``."""
    raw_usages = doc.get("usages")
    raw_prices = _obj(doc.get("prices") or {}, f"{where}.prices")
    statement = _str(doc.get("content_usage"), f"{where}.content_usage", optional=True)
    aipref: dict[Usage, Permission] = {}
    if statement.strip():
        prefs = parse_content_usage(statement)
        if not prefs.valid:
            raise _bad(f"{where}.content_usage is not an aipref statement: {statement[:80]!r}")
        for ev in evidence_from_content_usage(prefs):
            aipref[ev.usage] = ev.permission
    try:
        if raw_usages is None:
            stated = aipref
        else:
            stated = {
                Usage(_str(k, f"{where}.usages")): Permission(_str(v, f"{where}.usages.{k}"))
                for k, v in _obj(raw_usages, f"{where}.usages").items()
            }
        prices = {
            Usage(_str(k, f"{where}.prices")): Price.from_dict(_obj(v, f"{where}.prices.{k}"))
            for k, v in raw_prices.items()
        }
    except (ValueError, KeyError, TypeError, InvalidTerms) as exc:
        raise _bad(f"{where}: bad usages or prices ({exc})") from None
    for usage, perm in aipref.items():
        if stated.get(usage) is not perm:
            raise _bad(f"{where}: content_usage says {usage.value}={perm.value}, usages do not")
    if any(p is Permission.UNKNOWN for p in stated.values()):
        raise _bad(f"{where}.usages: a usage is stated as allow, deny or license, not unknown")
    if not stated:
        return None
    unpriced = [u.value for u, p in stated.items() if p is Permission.LICENSE and u not in prices]
    if unpriced:
        raise _bad(f"{where}: licensed usages without a price: {', '.join(unpriced)}")
    try:
        return TermsChange(dict(stated), prices=prices)
    except InvalidTerms as exc:
        raise _bad(f"{where}: {exc}") from None


def _identifiers(value: object, where: str) -> tuple[Identifier, ...]:
    if not isinstance(value, list) or not value:
        raise _bad(f"{where}.identifiers must be a non-empty list")
    out: list[Identifier] = []
    for n, item in enumerate(value[:64]):
        ident = _obj(item, f"{where}.identifiers[{n}]", {"scheme", "value"})
        scheme = _str(ident.get("scheme"), f"{where}.identifiers[{n}].scheme")
        text = _str(ident.get("value"), f"{where}.identifiers[{n}].value")
        if scheme == IdentifierScheme.URL.value:
            spelled = text
        elif scheme == IdentifierScheme.URL_PREFIX.value:
            spelled = text + "*"
        else:
            spelled = f"{scheme}:{text}"
        try:
            parsed = parse_identifier(spelled)
        except UserError as exc:
            raise _bad(f"{where}.identifiers[{n}]: {exc}") from None
        if parsed.scheme.value != scheme:
            raise _bad(f"{where}.identifiers[{n}]: {scheme!r} does not match its value")
        out.append(parsed)
    return tuple(dict.fromkeys(out))


def _work(value: object, n: int) -> DeclaredWork:
    where = f"works[{n}]"
    doc = _obj(value, where, _WORK)
    try:
        kind = WorkKind(_str(doc.get("kind", "other"), f"{where}.kind"))
    except ValueError:
        raise _bad(f"{where}.kind is not a kind of work") from None
    title = doc.get("title")
    if title is not None:
        title = clean_data_text(_str(title, f"{where}.title"), limit=1000)
    return DeclaredWork(
        kind, _identifiers(doc.get("identifiers"), where), title, _terms(doc, where)
    )


def parse_declarations(data: bytes | str) -> Declarations:
    """Read a declaration and check its signature; ``MalformedEvidence`` for anything wrong.

    Pure: bytes in, a verified ``Declarations`` out. The key it names is not
    yet trusted here: ``import_declarations`` looks it up in the registry.
    """
    if len(data) > MAX_BYTES:
        raise _bad(f"over {MAX_BYTES} bytes")
    try:
        doc = _obj(parse_json(data, "declaration"), "the document", _TOP)
    except RecursionError:
        raise _bad("nested too deeply") from None
    if doc.get("format") != FORMAT:
        raise _bad(f"format must be {FORMAT!r}")
    if doc.get("format_version") != FORMAT_VERSION or isinstance(doc.get("format_version"), bool):
        raise _bad(f"format_version {doc.get('format_version')!r} is not {FORMAT_VERSION}")
    party = _obj(doc.get("party"), "party", {"name", "verification", "domains"})
    name = _str(party.get("name"), "party.name").strip()
    if not name or len(name) > 255:
        raise _bad("party.name must be a name of 1 to 255 characters")
    key_doc = _obj(doc.get("key"), "key", {"algorithm", "public_key", "key_id"})
    if key_doc.get("algorithm") != ed25519.ALGORITHM:
        raise _bad(f"key.algorithm must be {ed25519.ALGORITHM!r}")
    public = ed25519.public_from_raw(
        b64decode(key_doc.get("public_key"), "key.public_key"), "key.public_key"
    )
    kid = ed25519.key_id(public)
    if key_doc.get("key_id", kid) != kid:
        raise _bad("key.key_id does not match key.public_key")
    signature = b64decode(doc.get("signature"), "signature")
    body = {k: v for k, v in doc.items() if k != "signature"}
    if not ed25519.check(public, signature, canonical_json(body)):
        raise _bad(f"the signature does not verify with key {kid}")
    try:
        issued = datetime.fromisoformat(_str(doc.get("issued_at"), "issued_at"))
    except ValueError:
        raise _bad("issued_at is not an ISO 8601 time") from None
    if issued.tzinfo is None:
        issued = issued.replace(tzinfo=UTC)
    works = doc.get("works")
    if not isinstance(works, list):
        raise _bad("works must be a list")
    if len(works) > MAX_WORKS:
        raise _bad(f"{len(works)} works, over {MAX_WORKS}")
    parsed = tuple(_work(w, n) for n, w in enumerate(works))
    digest = hashlib.sha256(canonical_json(body)).hexdigest()
    return Declarations(name, public, kid, issued, parsed, digest)


# -- import ------------------------------------------------------------------------------------


def import_declarations(
    store: SqlStore, data: bytes | str, *, authorize: Callable[[Party], None] | None = None
) -> ImportResult:
    """Verify a declaration and register its works for the party its key is bound to.

    The key must be bound (verified) to a party here, and that party's name
    must be the one the declaration gives: otherwise nothing is registered.
    Each work is registered (or claimed, when another owner holds it) as
    ``clearance works add`` would, with the declared terms replacing the
    party's earlier ones, and the party as the actor. ``authorize`` (the HTTP
    API's key check) is called with that party before anything is written.
    """
    decl = parse_declarations(data)
    owner = party_for_key(store, decl.public_key)
    if owner.name != decl.party:
        raise UserError(
            f"the declaration is by {decl.party!r}, but key {decl.key_id} belongs to "
            f"{owner.name!r} here"
        )
    if authorize is not None:
        authorize(owner)
    done: list[Registration] = []
    for work in decl.works:
        spec = WorkSpec(
            work.kind,
            owner.name,
            work.identifiers,
            work.title,
            (),
            work.terms,
            update_terms=True,
        )
        done.append(store.register(spec, actor=owner.name))
    with store._write() as conn:
        store._audit(
            conn,
            owner.name,
            "declarations.import",
            "party",
            owner.id,
            {
                "key_id": decl.key_id,
                "digest": decl.digest,
                "issued_at": decl.issued_at.isoformat(),
                "works": [r.work.id for r in done],
            },
        )
    return ImportResult(owner.name, decl.key_id, tuple(done))


__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "Declarations",
    "DeclaredWork",
    "ImportResult",
    "export_declarations",
    "import_declarations",
    "parse_declarations",
]

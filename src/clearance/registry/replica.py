"""Applying verified feed records to a local registry: the mirror's write side.

Why a module of its own: ``registry.mirror`` fetches and checks a feed;
this module turns its records into rows. Every field of a record is checked
again here (``parse_upsert``: a ``MalformedEvidence`` naming the first bad
one), even though the record's signature verified: a key signs what its
server sent, not that it is sane.

A new work is inserted under the *same id* it has in the source (scan
decisions name works by id, so a scan against the mirror reads as one
against the source), 500 records to a transaction and a statement per table;
a changed one is brought to the record's state (its title, owner, terms and
claims; new identifiers and fingerprints added; a work whose source dropped
an identifier or fingerprint is removed and inserted again, so every index
forgets the old codes); a removed one is removed as ``remove_work`` removes
it. Each change is audited in the mirror's own log (actor: the caller's,
detail: the source and version), so a guard or a service on the mirror sees
it as it sees a local change; a record that changes nothing writes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, text, update

from clearance.core.errors import UserError
from clearance.core.models import (
    ClaimStatus,
    Identifier,
    IdentifierScheme,
    Price,
    Terms,
    VerificationLevel,
    WorkKind,
)
from clearance.core.usage import Permission, Usage
from clearance.core.validation import MAX_TEXT_FIELD_CHARS, clean_name, storable
from clearance.evidence.canonical import b64decode
from clearance.evidence.errors import MalformedEvidence
from clearance.registry import history
from clearance.registry import schema as s
from clearance.registry.records import FingerprintRecord, TermsChange
from clearance.registry.store import MAX_IDENTIFIER_CHARS, SqlStore, terms_row

_CHUNK = 500


# -- records in, checked ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Incoming:
    """An upsert record, every field checked."""

    work_id: int
    version: int
    kind: WorkKind
    title: str | None
    owner: str
    contact: str | None
    identifiers: tuple[Identifier, ...]
    fingerprints: tuple[FingerprintRecord, ...]
    terms: Terms
    claims: tuple[tuple[str, str, datetime], ...]
    created_at: datetime
    levels: tuple[tuple[str, VerificationLevel], ...] = ()
    """Each named party's verification level as the source registry states it."""


def _bad(n: int, what: str) -> MalformedEvidence:
    return MalformedEvidence(f"feed record {n}: {what}")


def _text(n: int, value: object, what: str, *, limit: int, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or not storable(value, limit=limit):
        raise _bad(n, f"{what} must be text of at most {limit} characters")
    return value


def _when(n: int, value: object, what: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise _bad(n, f"{what} is not an ISO 8601 time") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _terms(n: int, doc: object) -> Terms:
    if not isinstance(doc, dict):
        raise _bad(n, "terms must be an object")
    perms, raw_prices = doc.get("permissions"), doc.get("prices")
    if not isinstance(perms, dict) or not isinstance(raw_prices, dict):
        raise _bad(n, "terms need permissions and prices objects")
    try:
        permissions = {Usage(u): Permission(p) for u, p in perms.items()}
        prices = {Usage(u): Price.from_dict(p) for u, p in raw_prices.items()}
        return Terms(permissions, prices)
    except (ValueError, TypeError, KeyError, UserError) as exc:
        raise _bad(n, f"terms are not valid ({exc})") from None


def _level(n: int, value: object) -> VerificationLevel:
    """A stated verification level (absent: ``self``, as a feed before levels existed)."""
    if value is None:
        return VerificationLevel.SELF
    try:
        return VerificationLevel(str(value))
    except ValueError:
        raise _bad(n, f"unknown verification level {str(value)[:20]!r}") from None


def parse_upsert(n: int, record: Mapping[str, Any]) -> Incoming:
    """Check one upsert record's fields (``MalformedEvidence`` naming the first bad one)."""
    owner = record.get("owner")
    if not isinstance(owner, dict):
        raise _bad(n, "owner must be an object")
    try:
        name = clean_name(str(owner.get("name")), "owner name")
        kind = WorkKind(str(record.get("kind")))
    except (UserError, ValueError) as exc:
        raise _bad(n, str(exc)) from None
    idents: dict[Identifier, None] = {}  # in the record's order, once each
    raw_idents = record.get("identifiers")
    if not isinstance(raw_idents, list) or not raw_idents:
        raise _bad(n, "identifiers must be a non-empty list")
    for i in raw_idents:
        if not isinstance(i, dict):
            raise _bad(n, "each identifier must be an object")
        try:
            scheme = IdentifierScheme(str(i.get("scheme")))
        except ValueError:
            raise _bad(n, f"unknown identifier scheme {i.get('scheme')!r}") from None
        value = _text(n, i.get("value"), "an identifier", limit=MAX_IDENTIFIER_CHARS)
        assert value is not None
        idents[Identifier(scheme, value)] = None
    fps: list[FingerprintRecord] = []
    raw_fps = record.get("fingerprints")
    if not isinstance(raw_fps, list):
        raise _bad(n, "fingerprints must be a list")
    for f in raw_fps:
        if not isinstance(f, dict):
            raise _bad(n, "each fingerprint must be an object")
        algo = _text(n, f.get("algo"), "a fingerprint's algo", limit=32)
        version, quality = f.get("format_version"), f.get("quality")
        if isinstance(version, bool) or not isinstance(version, int) or not 0 <= version < 2**31:
            raise _bad(n, "a fingerprint's format_version must be an integer")
        if quality is not None and (
            isinstance(quality, bool) or not isinstance(quality, int) or abs(quality) >= 2**31
        ):
            raise _bad(n, "a fingerprint's quality must be an integer or null")
        assert algo is not None
        data = b64decode(f.get("data"), "fingerprint data")
        fps.append(FingerprintRecord(algo, data, version, quality))
    claims: list[tuple[str, str, datetime]] = []
    levels: dict[str, VerificationLevel] = {}
    raw_claims = record.get("claims")
    if not isinstance(raw_claims, list):
        raise _bad(n, "claims must be a list")
    for c in raw_claims:
        if not isinstance(c, dict):
            raise _bad(n, "each claim must be an object")
        try:
            party = clean_name(str(c.get("party")), "claimant")
            status = ClaimStatus(str(c.get("status"))).value
        except (UserError, ValueError) as exc:
            raise _bad(n, str(exc)) from None
        claims.append((party, status, _when(n, c.get("created_at"), "a claim's created_at")))
        levels[party] = _level(n, c.get("verification"))
    levels[name] = _level(n, owner.get("verification"))
    return Incoming(
        work_id=int(record["work_id"]),
        version=int(record["version"]),
        kind=kind,
        title=_text(n, record.get("title"), "title", limit=MAX_TEXT_FIELD_CHARS, optional=True),
        owner=name,
        contact=_text(
            n, owner.get("contact"), "owner contact", limit=MAX_TEXT_FIELD_CHARS, optional=True
        ),
        identifiers=tuple(idents),
        fingerprints=tuple(fps),
        terms=_terms(n, record.get("terms")),
        claims=tuple(claims),
        created_at=_when(n, record.get("created_at"), "created_at"),
        levels=tuple(levels.items()),
    )


# -- applying --------------------------------------------------------------------------------


@dataclass
class Applied:
    """What applying records changed in the mirror."""

    created: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0

    def add(self, other: Applied) -> None:
        self.created += other.created
        self.updated += other.updated
        self.removed += other.removed
        self.unchanged += other.unchanged


def _have(conn: Connection, work_id: int) -> tuple[set[tuple[str, str]], set[tuple[str, bytes]]]:
    idents = {
        (r.scheme, r.value)
        for r in conn.execute(
            select(s.identifiers.c.scheme, s.identifiers.c.value).where(
                s.identifiers.c.work_id == work_id
            )
        )
    }
    fps = {
        (r.algo, bytes(r.data))
        for r in conn.execute(
            select(s.fingerprints.c.algo, s.fingerprints.c.data).where(
                s.fingerprints.c.work_id == work_id
            )
        )
    }
    return idents, fps


def _set_terms(store: SqlStore, conn: Connection, w: Incoming, actor: str) -> bool:
    """Make the work's own terms the record's; True when they changed."""
    stated = store._terms_from_rows(
        conn.execute(select(s.terms).where(s.terms.c.work_id == w.work_id)).all()
    )
    if stated == w.terms:
        return False
    licensed = {
        u: p for u, p in w.terms.prices.items() if w.terms.permissions.get(u) is Permission.LICENSE
    }
    change = TermsChange(
        set=dict(w.terms.permissions),
        unset=frozenset(set(stated.permissions) - set(w.terms.permissions)),
        prices=licensed,
    )
    store._apply_terms(conn, work_id=w.work_id, party_id=None, change=change)
    history.record(
        conn, work_id=w.work_id, party_id=None, terms=w.terms, actor=actor, cause="mirror"
    )
    return True


def _set_claims(store: SqlStore, conn: Connection, w: Incoming, actor: str) -> bool:
    now = {
        (r.name, r.status)
        for r in conn.execute(
            select(s.parties.c.name, s.claims.c.status)
            .join(s.parties, s.parties.c.id == s.claims.c.party_id)
            .where(s.claims.c.work_id == w.work_id)
        )
    }
    if now == {(party, status) for party, status, _ in w.claims}:
        return False
    conn.execute(delete(s.claims).where(s.claims.c.work_id == w.work_id))
    for party, status, at in w.claims:
        party_id = store._ensure_party(conn, party, actor)
        conn.execute(
            insert(s.claims).values(
                work_id=w.work_id, party_id=party_id, status=status, created_at=at
            )
        )
    return True


class _Parties:
    """Party ids by name for one transaction: looked up in bulk, created (audited) when new,
    their contact brought to the records' (audited when it changes)."""

    def __init__(self, store: SqlStore, conn: Connection, actor: str) -> None:
        self.store, self.conn, self.actor = store, conn, actor
        self.ids: dict[str, int] = {}
        self.contacts: dict[str, str | None] = {}
        self.levels: dict[str, str] = {}

    def load(self, names: Iterable[str]) -> None:
        wanted = sorted(set(names) - set(self.ids))
        for start in range(0, len(wanted), _CHUNK):
            for row in self.conn.execute(
                select(
                    s.parties.c.id, s.parties.c.name, s.parties.c.contact, s.parties.c.verification
                ).where(s.parties.c.name.in_(wanted[start : start + _CHUNK]))
            ):
                self.ids[row.name] = int(row.id)
                self.contacts[row.name] = row.contact
                self.levels[row.name] = row.verification or VerificationLevel.SELF.value

    def id(self, name: str) -> int:
        if name not in self.ids:
            self.ids[name] = self.store._ensure_party(self.conn, name, self.actor)
            self.contacts[name] = None
            self.levels[name] = VerificationLevel.SELF.value
        return self.ids[name]

    def level(self, name: str, level: VerificationLevel, detail: dict[str, Any]) -> None:
        """Bring a party's verification level to the source's (audited when it changes): a
        mirror states how sure the source registry is of each claimant."""
        party_id = self.id(name)
        if self.levels.get(name) != level.value:
            self.conn.execute(
                update(s.parties).where(s.parties.c.id == party_id).values(verification=level.value)
            )
            after = {"after": level.value, **detail}
            self.store._audit(self.conn, self.actor, "party.verification", "party", party_id, after)
            self.levels[name] = level.value

    def owner(self, w: Incoming, detail: dict[str, Any]) -> int:
        party_id = self.id(w.owner)
        for name, level in w.levels:
            self.level(name, level, detail)
        if w.contact is not None and self.contacts.get(w.owner) != w.contact:
            self.conn.execute(
                update(s.parties).where(s.parties.c.id == party_id).values(contact=w.contact)
            )
            after = {"after": w.contact, **detail}
            self.store._audit(self.conn, self.actor, "party.contact", "party", party_id, after)
            self.contacts[w.owner] = w.contact
        return party_id


def _insert_many(
    store: SqlStore,
    conn: Connection,
    works: Sequence[Incoming],
    parties: _Parties,
    actor: str,
    source: str,
) -> None:
    """Insert new works under their source ids, a statement per table, each audited."""
    if not works:
        return
    parties.load([w.owner for w in works] + [c[0] for w in works for c in w.claims])
    now = datetime.now(UTC)
    rows: dict[str, list[dict[str, Any]]] = {"works": [], "ids": [], "fps": [], "claims": []}
    terms: list[dict[str, Any]] = []
    for w in works:
        detail = {"mirror": source, "version": w.version}
        rows["works"].append(
            {
                "id": w.work_id,
                "kind": w.kind.value,
                "title": w.title,
                "owner_id": parties.owner(w, detail),
                "created_at": w.created_at,
            }
        )
        rows["ids"] += [
            {"work_id": w.work_id, "scheme": i.scheme.value, "value": i.value}
            for i in w.identifiers
        ]
        seen: set[tuple[str, bytes]] = set()
        for fp in w.fingerprints:
            if (fp.algo, fp.data) not in seen:
                seen.add((fp.algo, fp.data))
                rows["fps"].append(
                    {
                        "work_id": w.work_id,
                        "algo": fp.algo,
                        "format_version": fp.format_version,
                        "data": fp.data,
                        "quality": fp.quality,
                        "created_at": now,
                    }
                )
        claimed: set[str] = set()
        for party, status, at in w.claims:
            if party not in claimed:  # one claim per party and work
                claimed.add(party)
                rows["claims"].append(
                    {
                        "work_id": w.work_id,
                        "party_id": parties.id(party),
                        "status": status,
                        "created_at": at,
                    }
                )
        terms += [
            terms_row(w.work_id, None, usage, perm, w.terms.prices.get(usage))
            for usage, perm in w.terms.permissions.items()
        ]
    for table, key in (
        (s.works, "works"),
        (s.identifiers, "ids"),
        (s.fingerprints, "fps"),
        (s.claims, "claims"),
    ):
        if rows[key]:
            conn.execute(insert(table), rows[key])
    if terms:
        conn.execute(insert(s.terms), terms)
    for w in works:
        if w.terms.permissions:
            history.record(
                conn, work_id=w.work_id, party_id=None, terms=w.terms, actor=actor, cause="mirror"
            )
        store._audit(
            conn, actor, "work.create", "work", w.work_id, {"mirror": source, "version": w.version}
        )


def _update(
    store: SqlStore, conn: Connection, w: Incoming, parties: _Parties, actor: str, source: str
) -> str:
    """Bring an existing work to the record's state: ``updated`` or ``unchanged``."""
    detail = {"mirror": source, "version": w.version}
    parties.load([w.owner])
    owner_id = parties.owner(w, detail)
    row = conn.execute(select(s.works).where(s.works.c.id == w.work_id)).one()
    idents, fps = _have(conn, w.work_id)
    incoming = {(i.scheme.value, i.value) for i in w.identifiers}
    if not idents <= incoming or not fps <= {(f.algo, f.data) for f in w.fingerprints}:
        # the source dropped an identifier or fingerprint: the work is replaced whole, so
        # every index drops the old codes (a removal, then a creation under the same id)
        store._delete_work(conn, w.work_id, actor, detail)
        _insert_many(store, conn, [w], parties, actor, source)
        return "updated"
    grown = (row.kind, row.title, row.owner_id) != (w.kind.value, w.title, owner_id)
    if grown:
        conn.execute(
            update(s.works)
            .where(s.works.c.id == w.work_id)
            .values(kind=w.kind.value, title=w.title, owner_id=owner_id)
        )
    grown = bool(store._add_identifiers(conn, w.work_id, w.identifiers)) or grown
    grown = bool(store._add_fingerprints(conn, w.work_id, w.fingerprints)) or grown
    changed = _set_terms(store, conn, w, actor)
    changed = _set_claims(store, conn, w, actor) or changed
    if grown:
        store._audit(conn, actor, "work.update", "work", w.work_id, detail)
    elif changed:
        store._audit(conn, actor, "terms.set", "work", w.work_id, detail)
    return "updated" if grown or changed else "unchanged"


def apply_records(
    store: SqlStore,
    records: Iterable[Mapping[str, Any]],
    *,
    source: str,
    actor: str = "clearance",
) -> Applied:
    """Apply verified feed records to ``store``, 500 to a transaction; idempotent."""
    out = Applied()
    batch: list[tuple[int, Mapping[str, Any]]] = []

    def flush() -> None:
        with store._write() as conn:
            ids = [int(r["work_id"]) for _, r in batch]
            have = {
                int(i)
                for i in conn.execute(select(s.works.c.id).where(s.works.c.id.in_(ids))).scalars()
            }
            parties = _Parties(store, conn, actor)
            fresh: dict[int, Incoming] = {}
            for n, record in batch:
                work_id = int(record["work_id"])
                if work_id in fresh:  # the same work twice in one answer: apply in order
                    _insert_many(store, conn, list(fresh.values()), parties, actor, source)
                    out.created += len(fresh)
                    have.update(fresh)
                    fresh.clear()
                if record["op"] == "remove":
                    if work_id in have:
                        detail = {"mirror": source, "version": record["version"]}
                        store._delete_work(conn, work_id, actor, detail)
                        have.discard(work_id)
                        out.removed += 1
                    else:
                        out.unchanged += 1
                    continue
                w = parse_upsert(n, record)
                if work_id in have:
                    what = _update(store, conn, w, parties, actor, source)
                    setattr(out, what, getattr(out, what) + 1)
                else:
                    fresh[work_id] = w
            _insert_many(store, conn, list(fresh.values()), parties, actor, source)
            out.created += len(fresh)
            _bump_sequence(conn)
        batch.clear()

    for n, record in enumerate(records):
        batch.append((n, record))
        if len(batch) >= _CHUNK:
            flush()
    if batch:
        flush()
    return out


def _bump_sequence(conn: Connection) -> None:
    """PostgreSQL: move the works id sequence past the ids inserted explicitly."""
    if conn.dialect.name != "postgresql":
        return  # SQLite's AUTOINCREMENT already counts explicit ids
    conn.execute(
        text(
            "SELECT setval(pg_get_serial_sequence('works', 'id'), "
            "GREATEST((SELECT COALESCE(MAX(id), 1) FROM works), "
            "(SELECT last_value FROM works_id_seq)))"
        )
    )


def drop_missing(store: SqlStore, keep: set[int], *, source: str, actor: str) -> int:
    """After a snapshot: remove the mirrored works it no longer holds (a restarted first run)."""
    with store.engine.connect() as conn:
        local = {int(i) for i in conn.execute(select(s.works.c.id)).scalars()}
    stale = sorted(local - keep)
    detail = {"mirror": source, "reason": "not in the snapshot"}
    for start in range(0, len(stale), _CHUNK):
        with store._write() as conn:
            for work_id in stale[start : start + _CHUNK]:
                store._delete_work(conn, work_id, actor, detail)
    return len(stale)


__all__ = ["Applied", "Incoming", "apply_records", "drop_missing", "parse_upsert"]

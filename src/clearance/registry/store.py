"""The registry store: one interface, one SQLAlchemy Core implementation for SQLite and PostgreSQL.

``RegistryStore`` is the interface the jobs depend on. ``SqlStore`` implements it
for both backends; the differences (WAL and ``BEGIN IMMEDIATE`` on SQLite, an
advisory lock per content key on PostgreSQL) live in ``engine`` and ``_lock_key``.
Every change runs in one transaction together with its audit-log row, so a
crash leaves the registry as it was before the change or after it, never between.

Ownership rules: the same key (for example the same SHA-256) registered again by
the same owner returns the existing work (idempotent); registered by a different
owner it adds a *disputed* claim to the existing work and marks the first claim
disputed too. Nothing is overwritten silently.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import stat
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, delete, func, insert, select, text, update

from clearance.core.errors import ConflictError, InvalidTerms, NotFound, UserError
from clearance.core.models import (
    Agreement,
    Claim,
    ClaimStatus,
    Identifier,
    IdentifierScheme,
    Party,
    Price,
    PricePer,
    Terms,
    VerificationLevel,
    Work,
    WorkKind,
    prices_to_dict,
)
from clearance.core.usage import Permission, Usage
from clearance.core.validation import (
    MAX_ID,
    check_count,
    check_id,
    clean_data_text,
    clean_name,
    clean_text_field,
    storable,
)
from clearance.registry import agreement_rows, history, ledger
from clearance.registry import schema as s
from clearance.registry.bulkreads import BulkReads, aware
from clearance.registry.engine import database_errors, make_engine, redact, registry_url
from clearance.registry.migrate import check_version
from clearance.registry.records import (
    AuditEntry,
    ContentCheck,
    FingerprintRecord,
    Registration,
    RegistrationStatus,
    Resemblance,
    TermsChange,
    WorkSpec,
)

MAX_IDENTIFIER_CHARS = 8192
"""The longest identifier value (a URL, usually)."""


class RegistryStore(Protocol):
    """What the jobs need from a registry, whatever the backend."""

    def register(
        self, spec: WorkSpec, *, actor: str = ..., similar: ContentCheck | None = ...
    ) -> Registration: ...
    def get_work(self, work_id: int) -> Work: ...
    def list_works(
        self,
        *,
        owner: str | None = None,
        kind: WorkKind | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Work]: ...
    def find_works(self, scheme: IdentifierScheme, value: str) -> list[Work]: ...
    def remove_work(self, work_id: int, *, actor: str = ...) -> Work: ...
    def set_work_terms(self, work_id: int, change: TermsChange, *, actor: str = ...) -> Work: ...
    def set_party_terms(self, owner: str, change: TermsChange, *, actor: str = ...) -> Terms: ...
    def party_terms(self, owner: str) -> Terms: ...
    def get_party(self, name: str) -> Party: ...
    def iter_fingerprints(self, algo: str) -> Iterator[tuple[int, FingerprintRecord]]: ...
    def iter_fingerprint_batches(
        self, algo: str, batch: int = ...
    ) -> Iterator[list[tuple[int, bytes, int | None]]]: ...
    def iter_identifiers(self, scheme: IdentifierScheme) -> Iterator[tuple[int, str]]: ...
    def audit_log(self, *, limit: int | None = None) -> list[AuditEntry]: ...
    def current_agreements(self, at: datetime) -> list[Agreement]: ...
    def audit_watermark(self) -> int: ...
    def audit_since(self, after: int, upto: int | None = None) -> list[AuditEntry]: ...
    def works_by_ids(self, ids: Sequence[int]) -> list[Work]: ...
    def fingerprints_of(self, work_ids: Sequence[int]) -> list[tuple[int, FingerprintRecord]]: ...
    def count_works(self, *, owner: str | None = None, kind: WorkKind | None = None) -> int: ...
    def state_digest(self) -> str: ...
    def close(self) -> None: ...


_PENDING_AUDIT = "clearance_pending_audit"


def _now() -> datetime:
    return datetime.now(UTC)


def stored_price(row: Any) -> Price:
    """A price read back from the registry.

    Prices are bounded when they are set (``Price.parse``); one stored by an
    older Clearance may lie outside today's bounds and is still read as it is,
    so one registrant's old row cannot make every read of the registry fail.
    """
    term = getattr(row, "term", None)
    territory = getattr(row, "territory", None)
    try:
        return Price.parse(
            row.price_amount, row.price_currency, row.price_per, term=term, territory=territory
        )
    except InvalidTerms:
        return Price(
            Decimal(row.price_amount), row.price_currency, PricePer(row.price_per), term, territory
        )


_CONTENT_LOCK = -(1 << 62) + 14
"""The PostgreSQL advisory lock every registration checked for near-duplicates takes."""


def level_of(value: str | None) -> VerificationLevel:
    """A stored verification level (an unknown one, written by a newer Clearance, is ``self``:
    a level nobody can check grants nothing)."""
    try:
        return VerificationLevel(value or "self")
    except ValueError:
        return VerificationLevel.SELF


def party_of(row: Any) -> Party:
    """A ``Party`` from a ``parties`` row (with its verification level)."""
    return Party(row.id, row.name, row.contact, level_of(row.verification))


def terms_row(
    work_id: int | None, party_id: int | None, usage: Usage, perm: Permission, price: Price | None
) -> dict[str, Any]:
    """One ``terms`` row: a scope's permission for a usage, with its price when licensed."""
    return {
        "work_id": work_id,
        "party_id": party_id,
        "usage": usage.value,
        "permission": perm.value,
        "updated_at": _now(),
        "price_amount": price.amount_text if price else None,
        "price_currency": price.currency if price else None,
        "price_per": price.per.value if price else None,
        "term": price.term if price else None,
        "territory": price.territory if price else None,
    }


def _lock_key(scheme: str, value: str) -> int:
    return zlib.crc32(f"{scheme}:{value}".encode()) - (1 << 31)


class SqlStore(BulkReads):
    """``RegistryStore`` over SQLAlchemy Core; works on SQLite and PostgreSQL."""

    def __init__(self, engine: Engine, *, check: bool = True) -> None:
        self.engine = engine
        self._write_engine = engine.execution_options(clearance_write=True)
        if check:
            try:
                check_version(engine)
            except BaseException:
                engine.dispose()
                raise

    @property
    def url(self) -> str:
        return redact(self.engine.url.render_as_string(hide_password=False))

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> SqlStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- helpers -----------------------------------------------------------------------------

    @contextlib.contextmanager
    def _write(self) -> Iterator[Connection]:
        """One write transaction; its audit rows are chained onto the log just before commit."""
        with database_errors("write"), self._write_engine.begin() as conn:
            conn.info[_PENDING_AUDIT] = []
            try:
                yield conn
                ledger.append(conn, s.audit_log, conn.info[_PENDING_AUDIT])
            finally:
                conn.info.pop(_PENDING_AUDIT, None)

    def _audit(
        self,
        conn: Connection,
        actor: str,
        action: str,
        entity: str,
        entity_id: int | None,
        detail: dict[str, Any],
    ) -> None:
        row = {
            "at": _now(),
            "actor": actor,
            "action": action,
            "entity": entity,
            "entity_id": entity_id,
            "detail": json.dumps(detail, sort_keys=True, default=str),
        }
        pending = conn.info.get(_PENDING_AUDIT)
        if pending is None:  # a transaction not opened by ``_write``: append at once
            ledger.append(conn, s.audit_log, [row])
        else:
            pending.append(row)

    def _ensure_party(self, conn: Connection, name: str, actor: str) -> int:
        clean = clean_name(name, "owner name")
        found = conn.execute(select(s.parties.c.id).where(s.parties.c.name == clean)).scalar()
        if found is not None:
            return int(found)
        if self.dialect == "postgresql":
            # two writers may create the same new party at once (SQLite's writers queue
            # behind BEGIN IMMEDIATE; PostgreSQL's do not): the second waits for the first
            # to commit, inserts nothing, and reads the first one's row
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            made = conn.execute(
                pg_insert(s.parties)
                .values(name=clean, created_at=_now())
                .on_conflict_do_nothing(index_elements=["name"])
                .returning(s.parties.c.id)
            ).scalar()
            if made is None:
                return int(
                    conn.execute(
                        select(s.parties.c.id).where(s.parties.c.name == clean)
                    ).scalar_one()
                )
            pid = made
        else:
            pid = conn.execute(
                insert(s.parties).values(name=clean, created_at=_now()).returning(s.parties.c.id)
            ).scalar_one()
        self._audit(conn, actor, "party.create", "party", pid, {"name": clean})
        return int(pid)

    def _party_id(self, conn: Connection, name: str) -> int:
        key = name.strip()
        found = (
            conn.execute(select(s.parties.c.id).where(s.parties.c.name == key)).scalar()
            if storable(key)
            else None
        )
        if found is None:
            raise NotFound(f"no party named {name!r}")
        return int(found)

    @staticmethod
    def _terms_from_rows(rows: Sequence[Any]) -> Terms:
        perms: dict[Usage, Permission] = {}
        prices: dict[Usage, Price] = {}
        for row in rows:
            perm = Permission(row.permission)
            if perm is Permission.LICENSE and row.price_amount is None:
                continue  # cannot be: a licensed row is always priced
            perms[Usage(row.usage)] = perm
            if perm is Permission.LICENSE:
                prices[Usage(row.usage)] = stored_price(row)
        return Terms(perms, prices)

    def _load_works(self, conn: Connection, ids: Sequence[int]) -> list[Work]:
        if not ids:
            return []
        rows = conn.execute(
            select(
                s.works,
                s.parties.c.name.label("owner_name"),
                s.parties.c.contact,
                s.parties.c.verification,
            )
            .join(s.parties, s.parties.c.id == s.works.c.owner_id)
            .where(s.works.c.id.in_(ids))
        ).all()
        idents: dict[int, list[Identifier]] = {}
        for r in conn.execute(
            select(s.identifiers)
            .where(s.identifiers.c.work_id.in_(ids))
            .order_by(s.identifiers.c.id)
        ):
            idents.setdefault(r.work_id, []).append(Identifier(IdentifierScheme(r.scheme), r.value))
        work_terms: dict[int, list[Any]] = {}
        for r in conn.execute(select(s.terms).where(s.terms.c.work_id.in_(ids))):
            work_terms.setdefault(r.work_id, []).append(r)
        owners = {r.owner_id for r in rows}
        party_terms: dict[int, list[Any]] = {}
        for r in conn.execute(select(s.terms).where(s.terms.c.party_id.in_(owners))):
            party_terms.setdefault(r.party_id, []).append(r)
        claims: dict[int, list[Claim]] = {}
        for r in conn.execute(
            select(s.claims, s.parties.c.name, s.parties.c.verification)
            .join(s.parties, s.parties.c.id == s.claims.c.party_id)
            .where(s.claims.c.work_id.in_(ids))
            .order_by(s.claims.c.id)
        ):
            claims.setdefault(r.work_id, []).append(
                Claim(
                    r.name,
                    ClaimStatus(r.status),
                    aware(r.created_at),
                    r.note,
                    level_of(r.verification),
                )
            )
        by_id: dict[int, Work] = {}
        for r in rows:
            own = self._terms_from_rows(work_terms.get(r.id, []))
            default = self._terms_from_rows(party_terms.get(r.owner_id, []))
            by_id[r.id] = Work(
                id=r.id,
                kind=WorkKind(r.kind),
                owner=Party(r.owner_id, r.owner_name, r.contact, level_of(r.verification)),
                title=r.title,
                identifiers=tuple(idents.get(r.id, [])),
                terms=own.merged_over(default),
                created_at=aware(r.created_at),
                claims=tuple(claims.get(r.id, [])),
            )
        return [by_id[i] for i in ids if i in by_id]

    def _apply_terms(
        self,
        conn: Connection,
        *,
        work_id: int | None,
        party_id: int | None,
        change: TermsChange,
        existing: Terms | None = None,
    ) -> tuple[Terms, Terms]:
        """Apply ``change`` to one scope; return its stated terms before and after.

        Each licensed usage keeps its own price: the one the change gives it,
        else the one it already had, else the one it inherits (``existing``, a
        work's terms merged over its owner's defaults). Usages the change does
        not name are left exactly as they were.
        """
        scope = (
            s.terms.c.work_id == work_id if work_id is not None else s.terms.c.party_id == party_id
        )
        rows = conn.execute(select(s.terms).where(scope)).all()
        before = self._terms_from_rows(rows)
        if change.unset:
            conn.execute(
                delete(s.terms).where(scope, s.terms.c.usage.in_([u.value for u in change.unset]))
            )
        missing: list[str] = []
        for usage, perm in change.set.items():
            price: Price | None = None
            if perm is Permission.LICENSE:
                price = change.price_of(usage) or before.prices.get(usage)
                if price is None and existing is not None:
                    price = existing.price_for(usage)
                if price is None:
                    missing.append(usage.value)
                    continue
            conn.execute(delete(s.terms).where(scope, s.terms.c.usage == usage.value))
            conn.execute(insert(s.terms).values(terms_row(work_id, party_id, usage, perm, price)))
        if missing:
            raise UserError(
                f"licensed usages ({', '.join(missing)}) need a price",
                hint="add --price, or write USAGE=AMOUNT/UNIT",
            )
        after = self._terms_from_rows(conn.execute(select(s.terms).where(scope)).all())
        return before, after

    def _terms_changed(
        self,
        conn: Connection,
        *,
        work: Work | None,
        party_id: int,
        before: Terms,
        after: Terms,
        actor: str,
        change: TermsChange,
        cause: str = "terms.set",
    ) -> None:
        """Record a scope's new terms: history, notices for opt-outs, and the audit row."""
        work_id = work.id if work is not None else None
        history.record(
            conn,
            work_id=work_id,
            party_id=None if work is not None else party_id,
            terms=after,
            actor=actor,
            cause=cause,
        )
        if work is not None:
            default = self._terms_from_rows(
                conn.execute(select(s.terms).where(s.terms.c.party_id == party_id)).all()
            )
            was, now = before.merged_over(default), after.merged_over(default)
        else:
            was, now = before, after
        queued = history.queue_notices(
            conn, owner_id=party_id, work_id=work_id, before=was, after=now
        )
        detail = _change_detail(change) | {"before": before.to_dict(), "after": after.to_dict()}
        if queued:
            detail["notices"] = queued
        entity, entity_id = ("work", work_id) if work is not None else ("party", party_id)
        self._audit(conn, actor, "terms.set", entity, entity_id, detail)

    # -- registration ------------------------------------------------------------------------

    def register(
        self,
        spec: WorkSpec,
        *,
        actor: str = "clearance",
        similar: ContentCheck | None = None,
    ) -> Registration:
        """Register one work (see the module docstring for the ownership rules).

        With ``similar`` (the matching core's near-duplicate check), content that
        reproduces *another* owner's work (a recoloured photo, a retyped text, a
        re-encoded song) becomes a disputed claim on that work instead of a new
        work; the same owner's near-duplicates are new works as before.
        """
        if not spec.identifiers:
            raise UserError("a work needs at least one identifier")
        for ident in spec.identifiers:
            if not storable(ident.value, limit=MAX_IDENTIFIER_CHARS):
                raise UserError(f"identifier {ident.value[:80]!r} cannot be stored")
        if spec.title is not None:
            spec = replace(spec, title=clean_data_text(spec.title))
        key = spec.identifiers[0]
        with self._write() as conn:
            if self.dialect == "postgresql":
                conn.execute(
                    text("SELECT pg_advisory_xact_lock(:k)"),
                    {"k": _lock_key(key.scheme.value, key.value)},
                )
            owner_id = self._ensure_party(conn, spec.owner, actor)
            matches = conn.execute(
                select(s.works.c.id, s.works.c.owner_id)
                .join(s.identifiers, s.identifiers.c.work_id == s.works.c.id)
                .where(
                    s.identifiers.c.scheme == key.scheme.value, s.identifiers.c.value == key.value
                )
                .order_by(s.works.c.id)
            ).all()
            distinct = sorted({int(m.id) for m in matches})
            if len(distinct) > 1:
                raise UserError(
                    f"{key.scheme.value}:{key.value[:200]} matches {len(distinct)} works: "
                    + ", ".join(str(i) for i in distinct),
                    hint="name one work: clearance terms set --work ID",
                )
            own = [m.id for m in matches if m.owner_id == owner_id]
            if own:
                work_id = own[0]
                added = self._add_identifiers(conn, work_id, spec.identifiers)
                if added:
                    self._audit(conn, actor, "identifiers.add", "work", work_id, {"added": added})
                new_fps = self._add_fingerprints(conn, work_id, spec.fingerprints)
                if new_fps:  # e.g. new reference art for an existing character
                    self._audit(
                        conn,
                        actor,
                        "fingerprints.add",
                        "work",
                        work_id,
                        {"added": sorted({fp.algo for fp in new_fps}), "count": len(new_fps)},
                    )
                if spec.terms is not None and not spec.terms.empty:
                    current = self._load_works(conn, [work_id])[0]
                    before, after = self._apply_terms(
                        conn,
                        work_id=work_id,
                        party_id=None,
                        change=spec.terms,
                        existing=current.terms,
                    )
                    if before != after:
                        if not spec.update_terms:
                            raise ConflictError(
                                f"work {work_id} is already registered with other terms "
                                f"({_terms_text(before)}; asked: {_terms_text(after)})",
                                hint=f"change them with `clearance terms set --work {work_id}` "
                                "or add --update-terms",
                            )
                        self._terms_changed(
                            conn,
                            work=current,
                            party_id=owner_id,
                            before=before,
                            after=after,
                            actor=actor,
                            change=spec.terms,
                            cause="works.add",
                        )
                return Registration(
                    self._load_works(conn, [work_id])[0],
                    RegistrationStatus.EXISTING,
                    fingerprints_added=len(new_fps),
                )
            if matches:
                key_match = {
                    "method": key.scheme.value,
                    "label": key.scheme.value,
                    "score": 1.0,
                    "distance": 0,
                    "strong": True,
                }
                return self._dispute(conn, int(matches[0].id), owner_id, spec, actor, (key_match,))
            if similar is not None and spec.source is not None:
                if self.dialect == "postgresql":  # near-duplicates have no common key: one
                    conn.execute(  # content registration at a time sees every other one
                        text("SELECT pg_advisory_xact_lock(:k)"), {"k": _CONTENT_LOCK}
                    )
                others = self._others_works(conn, owner_id, similar(spec))
                if others:
                    best = others[0]
                    return self._dispute(conn, best.work_id, owner_id, spec, actor, best.matches)
            work_id = conn.execute(
                insert(s.works)
                .values(
                    kind=spec.kind.value, title=spec.title, owner_id=owner_id, created_at=_now()
                )
                .returning(s.works.c.id)
            ).scalar_one()
            self._add_identifiers(conn, work_id, spec.identifiers)
            stored = self._add_fingerprints(conn, work_id, spec.fingerprints)
            conn.execute(
                insert(s.claims).values(
                    work_id=work_id,
                    party_id=owner_id,
                    status=ClaimStatus.ACTIVE.value,
                    created_at=_now(),
                )
            )
            if spec.terms is not None and not spec.terms.empty:
                _, after = self._apply_terms(
                    conn, work_id=work_id, party_id=None, change=spec.terms
                )
                history.record(
                    conn, work_id=work_id, party_id=None, terms=after, actor=actor, cause="create"
                )
            self._audit(
                conn,
                actor,
                "work.create",
                "work",
                work_id,
                {
                    "kind": spec.kind.value,
                    "owner": spec.owner,
                    "title": spec.title,
                    "identifiers": [f"{i.scheme.value}:{i.value}" for i in spec.identifiers],
                    "fingerprints": [fp.algo for fp in spec.fingerprints],
                    "terms": _change_detail(spec.terms) if spec.terms else None,
                },
            )
            return Registration(
                self._load_works(conn, [work_id])[0],
                RegistrationStatus.CREATED,
                fingerprints_added=len(stored),
            )

    def _others_works(
        self, conn: Connection, owner_id: int, found: Sequence[Resemblance]
    ) -> list[Resemblance]:
        """The resemblances to works of owners other than ``owner_id`` (order kept)."""
        if not found:
            return []
        owners = dict(
            conn.execute(
                select(s.works.c.id, s.works.c.owner_id).where(
                    s.works.c.id.in_([r.work_id for r in found])
                )
            ).all()
        )
        return [r for r in found if r.work_id in owners and owners[r.work_id] != owner_id]

    def _dispute(
        self,
        conn: Connection,
        work_id: int,
        owner_id: int,
        spec: WorkSpec,
        actor: str,
        evidence: Sequence[Mapping[str, Any]],
    ) -> Registration:
        """``spec``'s owner claims another owner's work: a disputed claim, both sides marked.

        The claim's note keeps what the claimant asked for (title, stated terms,
        identifiers) and the evidence that tied their content to the work, so
        ``clearance disputes show`` can lay both sides out. Claiming again changes
        nothing; a claim an admin already rejected is a ``ConflictError``.
        """
        claim = conn.execute(
            select(s.claims.c.id, s.claims.c.status, s.claims.c.note).where(
                s.claims.c.work_id == work_id, s.claims.c.party_id == owner_id
            )
        ).first()
        if claim is not None and claim.status == ClaimStatus.REJECTED.value:
            raise ConflictError(
                f"{spec.owner}'s claim on work {work_id} was rejected when its dispute was "
                "resolved",
                hint=f"see `clearance disputes show {work_id}`",
            )
        changed = False
        if claim is None:
            stated = self._stated_terms(conn, spec.terms)
            note = {
                "title": spec.title,
                "kind": spec.kind.value,
                "terms": _change_detail(spec.terms) if spec.terms else None,
                "stated_terms": stated.to_dict(),
                "identifiers": [f"{i.scheme.value}:{i.value}" for i in spec.identifiers],
                "fingerprints": sorted({fp.algo for fp in spec.fingerprints}),
                "evidence": [dict(e) for e in evidence],
            }
            conn.execute(
                insert(s.claims).values(
                    work_id=work_id,
                    party_id=owner_id,
                    status=ClaimStatus.DISPUTED.value,
                    note=json.dumps(note, sort_keys=True, default=str),
                    created_at=_now(),
                )
            )
            changed = True
        opened = conn.execute(
            update(s.claims)
            .where(s.claims.c.work_id == work_id, s.claims.c.status == ClaimStatus.ACTIVE.value)
            .values(status=ClaimStatus.DISPUTED.value)
        ).rowcount
        if changed or opened:
            self._audit(
                conn,
                actor,
                "claim.dispute",
                "work",
                work_id,
                {
                    "claimant": spec.owner,
                    "key": f"{spec.identifiers[0].scheme.value}:{spec.identifiers[0].value}",
                    "evidence": [dict(e) for e in evidence],
                },
            )
        return Registration(self._load_works(conn, [work_id])[0], RegistrationStatus.DISPUTED)

    def _stated_terms(self, conn: Connection, change: TermsChange | None) -> Terms:
        """The terms a claimant states with a claim: the change's permissions and prices."""
        if change is None or change.empty:
            return Terms()
        prices: dict[Usage, Price] = {}
        for usage, perm in change.set.items():
            price = change.price_of(usage)
            if perm is Permission.LICENSE:
                if price is None:
                    raise UserError(
                        f"licensed usage {usage.value} needs a price",
                        hint="add --price, or write USAGE=AMOUNT/UNIT",
                    )
                prices[usage] = price
        return Terms(dict(change.set), prices)

    def _add_identifiers(
        self, conn: Connection, work_id: int, idents: Iterable[Identifier]
    ) -> list[str]:
        """Insert the identifiers the work lacks; returns them as ``scheme:value``."""
        added: list[str] = []
        have = {
            (r.scheme, r.value)
            for r in conn.execute(
                select(s.identifiers.c.scheme, s.identifiers.c.value).where(
                    s.identifiers.c.work_id == work_id
                )
            )
        }
        for ident in idents:
            if (ident.scheme.value, ident.value) not in have:
                conn.execute(
                    insert(s.identifiers).values(
                        work_id=work_id, scheme=ident.scheme.value, value=ident.value
                    )
                )
                have.add((ident.scheme.value, ident.value))
                added.append(f"{ident.scheme.value}:{ident.value}")
        return added

    def _add_fingerprints(
        self, conn: Connection, work_id: int, records: Sequence[FingerprintRecord]
    ) -> list[FingerprintRecord]:
        """Insert the fingerprints the work does not hold yet (same algo and bytes); return them."""
        have = {
            (r.algo, bytes(r.data))
            for r in conn.execute(
                select(s.fingerprints.c.algo, s.fingerprints.c.data).where(
                    s.fingerprints.c.work_id == work_id
                )
            )
        }
        new: list[FingerprintRecord] = []
        for fp in records:
            if (fp.algo, fp.data) in have:
                continue
            have.add((fp.algo, fp.data))
            new.append(fp)
        if new:
            conn.execute(
                insert(s.fingerprints),
                [
                    {
                        "work_id": work_id,
                        "algo": fp.algo,
                        "format_version": fp.format_version,
                        "data": fp.data,
                        "quality": fp.quality,
                        "created_at": _now(),
                    }
                    for fp in new
                ],
            )
        return new

    # -- reads -------------------------------------------------------------------------------

    def get_work(self, work_id: int) -> Work:
        check_id(work_id, "work id")
        with database_errors("read"), self.engine.connect() as conn:
            found = self._load_works(conn, [work_id])
        if not found:
            raise NotFound(f"no work with id {work_id}")
        return found[0]

    def list_works(
        self,
        *,
        owner: str | None = None,
        kind: WorkKind | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Work]:
        if limit is not None:
            check_count(limit, "limit")
        check_count(offset, "offset", minimum=0)
        query = select(s.works.c.id).order_by(s.works.c.id)
        with database_errors("read"), self.engine.connect() as conn:
            if owner is not None:
                query = query.where(s.works.c.owner_id == self._party_id(conn, owner))
            if kind is not None:
                query = query.where(s.works.c.kind == kind.value)
            if limit is not None:
                query = query.limit(limit)
            if offset:
                query = query.offset(offset)
            ids = list(conn.execute(query).scalars())
            out: list[Work] = []
            for start in range(0, len(ids), 500):
                out.extend(self._load_works(conn, ids[start : start + 500]))
            return out

    def find_works(self, scheme: IdentifierScheme, value: str) -> list[Work]:
        with database_errors("read"), self.engine.connect() as conn:
            ids = list(
                conn.execute(
                    select(s.identifiers.c.work_id)
                    .where(s.identifiers.c.scheme == scheme.value, s.identifiers.c.value == value)
                    .order_by(s.identifiers.c.work_id)
                ).scalars()
            )
            return self._load_works(conn, ids)

    def get_party(self, name: str) -> Party:
        with database_errors("read"), self.engine.connect() as conn:
            row = (
                conn.execute(select(s.parties).where(s.parties.c.name == name.strip())).first()
                if storable(name.strip())
                else None
            )
        if row is None:
            raise NotFound(f"no party named {name!r}")
        return party_of(row)

    def party_terms(self, owner: str) -> Terms:
        with database_errors("read"), self.engine.connect() as conn:
            pid = self._party_id(conn, owner)
            return self._terms_from_rows(
                conn.execute(select(s.terms).where(s.terms.c.party_id == pid)).all()
            )

    def works_by_ids(self, ids: Sequence[int]) -> list[Work]:
        """The works with these ids that still exist, in the order given."""
        ids = [i for i in ids if 1 <= i <= MAX_ID]  # an id out of range names no work
        with database_errors("read"), self.engine.connect() as conn:
            out: list[Work] = []
            for start in range(0, len(ids), 500):
                out.extend(self._load_works(conn, list(ids[start : start + 500])))
            return out

    def current_agreements(self, at: datetime) -> list[Agreement]:
        """Active agreements not yet ended at ``at``, including those that start later.

        The guard loads these once and checks each agreement's period per output,
        so an agreement that starts or ends while the index is loaded is honoured.
        """
        with database_errors("read"), self.engine.connect() as conn:
            return agreement_rows.current(conn, at)

    def count_works(self, *, owner: str | None = None, kind: WorkKind | None = None) -> int:
        """How many works there are (of ``owner``, of ``kind``): ``list_works``'s total."""
        query = select(func.count()).select_from(s.works)
        with database_errors("read"), self.engine.connect() as conn:
            if owner is not None:
                query = query.where(s.works.c.owner_id == self._party_id(conn, owner))
            if kind is not None:
                query = query.where(s.works.c.kind == kind.value)
            return int(conn.execute(query).scalar_one())

    def verify_ledger(self) -> list[ledger.ChainReport]:
        """Check the hash chains of the audit log and the usage ledger (``registry.ledger``)."""
        with database_errors("read"):
            return ledger.verify_ledger(self.engine)

    def state_digest(self) -> str:
        """A digest that changes whenever the registry changes (every change is audited)."""
        with database_errors("read"), self.engine.connect() as conn:
            row = conn.execute(
                select(func.count(), func.max(s.audit_log.c.id)).select_from(s.audit_log)
            ).one()
        return hashlib.sha256(f"{self.url}|{row[0]}|{row[1]}".encode()).hexdigest()

    # -- changes -----------------------------------------------------------------------------

    def remove_work(self, work_id: int, *, actor: str = "clearance") -> Work:
        check_id(work_id, "work id")
        with self._write() as conn:
            found = self._load_works(conn, [work_id])
            if not found:
                raise NotFound(f"no work with id {work_id}")
            work = found[0]
            self._delete_work(
                conn,
                work_id,
                actor,
                {
                    "owner": work.owner.name,
                    "kind": work.kind.value,
                    "title": work.title,
                    "identifiers": [f"{i.scheme.value}:{i.value}" for i in work.identifiers],
                },
            )
            return work

    def _delete_work(
        self, conn: Connection, work_id: int, actor: str, detail: dict[str, Any]
    ) -> None:
        """Inside a write: delete a work and its rows, revoke its agreements, audit each step."""
        for table in (s.identifiers, s.fingerprints, s.terms, s.claims):
            conn.execute(delete(table).where(table.c.work_id == work_id))
        conn.execute(delete(s.works).where(s.works.c.id == work_id))
        for agreement_id in agreement_rows.revoke_on_work(conn, work_id):
            revoked = {"reason": "work removed"}
            self._audit(conn, actor, "agreement.revoke", "agreement", agreement_id, revoked)
        self._audit(conn, actor, "work.remove", "work", work_id, detail)

    def set_work_terms(
        self, work_id: int, change: TermsChange, *, actor: str = "clearance"
    ) -> Work:
        check_id(work_id, "work id")
        with self._write() as conn:
            found = self._load_works(conn, [work_id])
            if not found:
                raise NotFound(f"no work with id {work_id}")
            work = found[0]
            before, after = self._apply_terms(
                conn, work_id=work_id, party_id=None, change=change, existing=work.terms
            )
            self._terms_changed(
                conn,
                work=work,
                party_id=work.owner.id,
                before=before,
                after=after,
                actor=actor,
                change=change,
            )
            return self._load_works(conn, [work_id])[0]

    def set_party_contact(self, name: str, contact: str, *, actor: str = "clearance") -> Party:
        """Record where a party is reached (listed in bills, requests and statements)."""
        clean = clean_text_field(contact, "contact")
        with self._write() as conn:
            pid = self._ensure_party(conn, name, actor)
            before = conn.execute(select(s.parties.c.contact).where(s.parties.c.id == pid)).scalar()
            if before != clean:
                conn.execute(update(s.parties).where(s.parties.c.id == pid).values(contact=clean))
                detail = {"before": before, "after": clean}
                self._audit(conn, actor, "party.contact", "party", pid, detail)
            row = conn.execute(select(s.parties).where(s.parties.c.id == pid)).one()
            return party_of(row)

    def set_party_terms(
        self, owner: str, change: TermsChange, *, actor: str = "clearance"
    ) -> Terms:
        with self._write() as conn:
            pid = self._ensure_party(conn, owner, actor)
            before, after = self._apply_terms(conn, work_id=None, party_id=pid, change=change)
            self._terms_changed(
                conn,
                work=None,
                party_id=pid,
                before=before,
                after=after,
                actor=actor,
                change=change,
            )
            return self._terms_from_rows(
                conn.execute(select(s.terms).where(s.terms.c.party_id == pid)).all()
            )


def _change_detail(change: TermsChange | None) -> dict[str, Any]:
    if change is None:
        return {}
    return {
        "set": {u.value: p.value for u, p in change.set.items()},
        "unset": sorted(u.value for u in change.unset),
        "price": change.price.to_dict() if change.price else None,
        "prices": prices_to_dict(change.prices),
    }


def _terms_text(terms: Terms) -> str:
    """``train-genai=license 0.02 EUR per item, output=deny`` (or ``no terms``)."""
    parts = []
    for usage, perm in terms.permissions.items():
        price = terms.prices.get(usage)
        parts.append(f"{usage.value}={perm.value}" + (f" {price.describe()}" if price else ""))
    return ", ".join(parts) or "no terms"


def open_store(location: str, *, check: bool = True) -> SqlStore:
    """Open the registry at a path or URL; raise if it is missing or not initialised."""
    from clearance.core.errors import RegistryNotInitialised
    from clearance.registry.engine import sqlite_path

    url = registry_url(location)
    path = sqlite_path(url)
    if check and path is not None and not path.exists():
        raise RegistryNotInitialised(
            f"no registry at {path}", hint="run `clearance init` or pass --registry"
        )
    if path is not None:
        _regular_or_absent(path)
    return SqlStore(make_engine(url), check=check)


def _regular_or_absent(path: Path) -> None:
    """Refuse a registry path that is a directory, FIFO or device (SQLite would hang or fail)."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise UserError(f"cannot use {path} as the registry: {exc.strerror or exc}") from None
    if stat.S_ISDIR(mode):
        raise UserError(f"{path} is a directory", hint="give a file path for the registry")
    if not stat.S_ISREG(mode):
        raise UserError(f"{path} is not a regular file", hint="give a file path for the registry")


def init_store(location: str) -> SqlStore:
    """Create (or upgrade) the registry at ``location`` and open it."""
    from clearance.registry.engine import sqlite_path
    from clearance.registry.migrate import upgrade

    url = registry_url(location)
    path = sqlite_path(url)
    if path is not None:
        _regular_or_absent(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"cannot create {path.parent}: {exc.strerror}") from None
    engine = make_engine(url)
    try:
        upgrade(engine)
    except BaseException:
        engine.dispose()
        raise
    return SqlStore(engine)


__all__ = ["PricePer", "RegistryStore", "SqlStore", "init_store", "open_store"]

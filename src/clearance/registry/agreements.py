"""Licence agreements and the usage-event ledger, stored in the registry.

An agreement lets a licensee use an owner's work (or all of the owner's works)
for some usages during a period. The output guard reads the agreements in
force to turn a ``license`` term into ``allow``, and writes back one usage
event per output it allowed under a licence or with attribution; the licensing
side turns those events into royalty statements.

These queries live beside ``store`` rather than in it to keep ``SqlStore``
small; they take the store and use its engine, its party helpers and its
audit writer, so every grant and revocation is audited in the same
transaction as the change. Usage events are not audited one by one: the
``usage_events`` table is itself an append-only ledger (triggers refuse UPDATE
and DELETE, as for the audit log).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, and_, insert, or_, select, update

from clearance.core.errors import ConflictError, NotFound, UserError
from clearance.core.models import (
    Agreement,
    AgreementStatus,
    Price,
    UsageBasis,
    UsageEvent,
    prices_to_dict,
)
from clearance.core.usage import Usage, parse_usages
from clearance.core.validation import (
    check_count,
    check_id,
    clean_data_text,
    clean_name,
    clean_text_field,
    utc_datetime,
)
from clearance.registry import agreement_rows, ledger
from clearance.registry import schema as s
from clearance.registry.bulkreads import aware
from clearance.registry.engine import database_errors
from clearance.registry.store import SqlStore


def _now() -> datetime:
    return datetime.now(UTC)


def format_usages(usages: Iterable[Usage]) -> str:
    """The stored form of a usage set: canonical names, comma-separated, in vocabulary order."""
    chosen = set(usages)
    return ",".join(u.value for u in Usage if u in chosen)


def parse_agreement_usages(values: Iterable[str | Usage]) -> tuple[Usage, ...]:
    """Validate ``--usage`` values (comma lists, repeats, ``all``) into a non-empty usage set."""
    found = parse_usages(v.value if isinstance(v, Usage) else str(v) for v in values)
    if not found:
        raise UserError("an agreement needs at least one usage", hint="e.g. --usage output")
    chosen = set(found)
    return tuple(u for u in Usage if u in chosen)


def parse_when(text: str, *, end_of_day: bool = False) -> datetime:
    """Parse an ISO date or date-time; naive values are UTC.

    A bare date with ``end_of_day`` means the whole day is included, so
    ``--until 2027-12-31`` ends the agreement at 2028-01-01T00:00Z (exclusive).
    """
    raw = text.strip()
    try:
        if len(raw) == 10:
            day = date.fromisoformat(raw)
            start = datetime.combine(day, time(), tzinfo=UTC)
            return start + timedelta(days=1) if end_of_day else start
        return aware(datetime.fromisoformat(raw))
    except ValueError:
        raise UserError(
            f"not a date: {text!r}", hint="use YYYY-MM-DD or an ISO date-time"
        ) from None
    except OverflowError:  # --until 9999-12-31: the day after is past datetime's range
        raise UserError(
            f"the date {text!r} is out of range", hint="use a date before 9999-12-31"
        ) from None


_agreements_query = agreement_rows.agreements_query
_agreement = agreement_rows.agreement_from_row


def _get(conn: Connection, agreement_id: int) -> Agreement:
    row = conn.execute(_agreements_query().where(s.agreements.c.id == agreement_id)).first()
    if row is None:
        raise NotFound(f"no agreement with id {agreement_id}")
    return _agreement(row)


def grant_agreement(
    store: SqlStore,
    licensee: str,
    owner: str,
    work_id: int | None = None,
    usages: Sequence[str | Usage] = ("output",),
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    reference: str | None = None,
    *,
    actor: str = "clearance",
    prices: Mapping[Usage, Price] | None = None,
    manifest_digest: str | None = None,
    request_id: int | None = None,
    conn: Connection | None = None,
) -> Agreement:
    """Record that ``licensee`` may use ``owner``'s work (all works if ``work_id`` is None).

    The owner (and the work, which must be the owner's) must exist; the
    licensee becomes a party if it is new. Raises ``NotFound`` or ``UserError``.
    ``prices`` is the agreed price model per usage and ``manifest_digest`` the
    scan it was requested for (``clearance license accept``); ``conn`` grants
    inside a write transaction the caller already holds.
    """
    granted = parse_agreement_usages(usages)
    start = utc_datetime(starts_at, "start") if starts_at is not None else _now()
    end = utc_datetime(ends_at, "end") if ends_at is not None else None
    if end is not None and end <= start:
        raise UserError(
            f"the agreement would end ({end.isoformat()}) before it starts ({start.isoformat()})"
        )
    licensee = clean_name(licensee, "licensee name")
    if work_id is not None:
        check_id(work_id, "work id")
    reference = clean_text_field(reference, "reference")
    if licensee == owner.strip():
        raise UserError(f"{owner!r} owns these works and needs no licence for them")
    if conn is None:
        with store._write() as own:
            return grant_agreement(
                store,
                licensee,
                owner,
                work_id,
                granted,
                start,
                end,
                reference,
                actor=actor,
                prices=prices,
                manifest_digest=manifest_digest,
                request_id=request_id,
                conn=own,
            )
    owner_id = store._party_id(conn, owner)
    if work_id is not None:
        holder = conn.execute(select(s.works.c.owner_id).where(s.works.c.id == work_id)).scalar()
        if holder is None:
            raise NotFound(f"no work with id {work_id}")
        if holder != owner_id:
            raise UserError(f"work {work_id} does not belong to {owner!r}")
    licensee_id = store._ensure_party(conn, licensee, actor)
    new_id = conn.execute(
        insert(s.agreements)
        .values(
            licensee_id=licensee_id,
            owner_id=owner_id,
            work_id=work_id,
            usages=format_usages(granted),
            starts_at=start,
            ends_at=end,
            status=AgreementStatus.ACTIVE.value,
            reference=reference,
            created_at=_now(),
            prices=json.dumps(prices_to_dict(prices), sort_keys=True) if prices else None,
            manifest_digest=manifest_digest,
            request_id=request_id,
        )
        .returning(s.agreements.c.id)
    ).scalar_one()
    agreement = _get(conn, int(new_id))
    store._audit(conn, actor, "agreement.grant", "agreement", agreement.id, _detail(agreement))
    return agreement


def revoke_agreement(store: SqlStore, agreement_id: int, *, actor: str = "clearance") -> Agreement:
    """Revoke an agreement (it stays on record); ``ConflictError`` if already revoked."""
    check_id(agreement_id, "agreement id")
    with store._write() as conn:
        current = _get(conn, agreement_id)
        if current.status is AgreementStatus.REVOKED:
            raise ConflictError(f"agreement {agreement_id} is already revoked")
        conn.execute(
            update(s.agreements)
            .where(s.agreements.c.id == agreement_id)
            .values(status=AgreementStatus.REVOKED.value)
        )
        store._audit(conn, actor, "agreement.revoke", "agreement", agreement_id, _detail(current))
        return _get(conn, agreement_id)


def revoke_work_agreements(
    store: SqlStore, conn: Connection, work_id: int, *, actor: str, reason: str
) -> list[int]:
    """Inside an open write transaction: revoke every active agreement on one work."""
    ids = agreement_rows.revoke_on_work(conn, work_id)
    for agreement_id in ids:
        store._audit(conn, actor, "agreement.revoke", "agreement", agreement_id, {"reason": reason})
    return ids


def list_agreements(
    store: SqlStore, licensee: str | None = None, active_at: datetime | None = None
) -> list[Agreement]:
    """Agreements, oldest first; only one licensee's, and only those in force at a time."""
    query = _agreements_query()
    with database_errors("read"), store.engine.connect() as conn:
        if licensee is not None:
            query = query.where(s.agreements.c.licensee_id == store._party_id(conn, licensee))
        if active_at is not None:
            at = aware(active_at)
            query = query.where(
                s.agreements.c.status == AgreementStatus.ACTIVE.value,
                s.agreements.c.starts_at <= at,
                or_(s.agreements.c.ends_at.is_(None), s.agreements.c.ends_at > at),
            )
        return [_agreement(r) for r in conn.execute(query)]


def active_agreements(store: SqlStore, at: datetime) -> list[Agreement]:
    """Every agreement in force at ``at``."""
    return list_agreements(store, active_at=at)


def current_agreements(store: SqlStore, at: datetime) -> list[Agreement]:
    """Active agreements not yet ended at ``at``, including those that start later."""
    return store.current_agreements(at)


def record_usage_events(store: SqlStore, events: Iterable[UsageEvent]) -> int:
    """Append usage events to the ledger in one transaction; return how many.

    A licensee name the registry does not know is recorded as no licensee.
    Labels come from data (an upload's file name), so control characters and
    undecodable bytes in them are escaped rather than refused. Each event is
    chained onto the ledger's hash chain (``registry.ledger``).
    """
    batch = list(events)
    if not batch:
        return 0
    for e in batch:
        check_id(e.work_id, "work id")
        if e.agreement_id is not None:
            check_id(e.agreement_id, "agreement id")
    names = {clean_data_text(e.licensee).strip() for e in batch if e.licensee}
    with store._write() as conn:
        ids = {
            r.name: int(r.id)
            for r in conn.execute(
                select(s.parties.c.id, s.parties.c.name).where(s.parties.c.name.in_(names))
            )
        }
        rows = [
            {
                "at": aware(e.at),
                "kind": clean_data_text(e.kind, limit=16),
                "work_id": e.work_id,
                "licensee_id": ids.get(clean_data_text(e.licensee).strip()) if e.licensee else None,
                "agreement_id": e.agreement_id,
                "basis": e.basis.value,
                "method": clean_data_text(e.method, limit=32),
                "score": float(e.score),
                "input_label": clean_data_text(e.input_label),
                "verdict": clean_data_text(e.verdict, limit=16),
                "amount": format(e.amount, "f") if e.amount is not None else None,
                "currency": e.currency if e.amount is not None else None,
            }
            for e in batch
        ]
        ledger.append(conn, s.usage_events, rows)
    return len(batch)


def list_usage_events(
    store: SqlStore,
    licensee: str | None = None,
    work_id: int | None = None,
    *,
    limit: int | None = None,
    owner: str | None = None,
) -> list[UsageEvent]:
    """Recorded usage events, oldest first (the newest ``limit``), for a licensee, a work
    and/or an owner (the owner of the agreement, else of the work still registered)."""
    if work_id is not None:
        check_id(work_id, "work id")
    if limit is not None:
        check_count(limit, "limit")
    query = (
        select(s.usage_events, s.parties.c.name.label("licensee"))
        .outerjoin(s.parties, s.parties.c.id == s.usage_events.c.licensee_id)
        .order_by(s.usage_events.c.id)
    )
    with database_errors("read"), store.engine.connect() as conn:
        conditions = []
        if licensee is not None:
            conditions.append(s.usage_events.c.licensee_id == store._party_id(conn, licensee))
        if work_id is not None:
            conditions.append(s.usage_events.c.work_id == work_id)
        if owner is not None:
            pid = store._party_id(conn, owner)
            conditions.append(
                or_(
                    s.usage_events.c.agreement_id.in_(
                        select(s.agreements.c.id).where(s.agreements.c.owner_id == pid)
                    ),
                    and_(
                        s.usage_events.c.agreement_id.is_(None),
                        s.usage_events.c.work_id.in_(
                            select(s.works.c.id).where(s.works.c.owner_id == pid)
                        ),
                    ),
                )
            )
        if conditions:
            query = query.where(and_(*conditions))
        if limit is not None:  # the newest ``limit``, still returned oldest first
            query = query.order_by(None).order_by(s.usage_events.c.id.desc()).limit(limit)
        rows = list(conn.execute(query).all())
    if limit is not None:
        rows.reverse()
    return [
        UsageEvent(
            at=aware(r.at),
            work_id=int(r.work_id),
            basis=UsageBasis(r.basis),
            method=r.method,
            score=float(r.score),
            input_label=r.input_label,
            verdict=r.verdict,
            licensee=r.licensee,
            agreement_id=r.agreement_id,
            kind=r.kind,
            id=int(r.id),
            amount=Decimal(r.amount) if r.amount is not None else None,
            currency=r.currency,
        )
        for r in rows
    ]


def _detail(agreement: Agreement) -> dict[str, Any]:
    doc = agreement.to_dict()
    doc.pop("id")
    doc.pop("created_at")
    return doc


__all__ = [
    "active_agreements",
    "current_agreements",
    "format_usages",
    "grant_agreement",
    "list_agreements",
    "list_usage_events",
    "parse_agreement_usages",
    "parse_when",
    "record_usage_events",
    "revoke_agreement",
    "revoke_work_agreements",
]

"""Agreement rows: the one query that reads them, and the one update that revokes a work's.

Why a module of its own: the store (``SqlStore.current_agreements``, and
``remove_work``, which revokes the removed work's agreements in the same
transaction) and the agreements module (grants, revocations, listings) both
read and revoke agreement rows. Kept here, below both, so neither imports the
other.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Select, or_, select, update
from sqlalchemy.orm import aliased

from clearance.core.errors import InvalidTerms
from clearance.core.models import Agreement, AgreementStatus, Price, PricePer
from clearance.core.usage import Usage, parse_usages
from clearance.registry import schema as s
from clearance.registry.bulkreads import aware

_licensee = aliased(s.parties)
_owner = aliased(s.parties)


def agreements_query() -> Select[Any]:
    """Every agreement with its licensee's and owner's names, in id order."""
    return (
        select(s.agreements, _licensee.c.name.label("licensee"), _owner.c.name.label("owner"))
        .join(_licensee, _licensee.c.id == s.agreements.c.licensee_id)
        .join(_owner, _owner.c.id == s.agreements.c.owner_id)
        .order_by(s.agreements.c.id)
    )


def prices_from_json(text: str | None) -> dict[Usage, Price]:
    """An agreement's stored price models (JSON ``{usage: price}``); empty when none."""
    if not text:
        return {}
    out: dict[Usage, Price] = {}
    for usage, doc in json.loads(text).items():
        try:
            out[Usage(usage)] = Price.from_dict(doc)
        except InvalidTerms:  # stored under older bounds: read as it is
            out[Usage(usage)] = Price(
                Decimal(doc["amount"]), doc["currency"], PricePer(doc.get("per", "item"))
            )
    return out


def agreement_from_row(row: Any) -> Agreement:
    mapping = row._mapping
    return Agreement(
        id=int(row.id),
        licensee=row.licensee,
        owner=row.owner,
        work_id=row.work_id,
        usages=parse_usages([row.usages]),
        starts_at=aware(row.starts_at),
        ends_at=aware(row.ends_at) if row.ends_at is not None else None,
        status=AgreementStatus(row.status),
        reference=row.reference,
        created_at=aware(row.created_at),
        prices=prices_from_json(mapping.get("prices")),
        manifest_digest=mapping.get("manifest_digest"),
        request_id=mapping.get("request_id"),
    )


def current(conn: Connection, at: datetime) -> list[Agreement]:
    """Active agreements not yet ended at ``at``, including those that start later."""
    at = aware(at)
    query = agreements_query().where(
        s.agreements.c.status == AgreementStatus.ACTIVE.value,
        or_(s.agreements.c.ends_at.is_(None), s.agreements.c.ends_at > at),
    )
    return [agreement_from_row(r) for r in conn.execute(query)]


def revoke_on_work(conn: Connection, work_id: int) -> list[int]:
    """Inside an open write transaction: revoke every active agreement on one work.

    Returns their ids; the caller audits each revocation in the same transaction.
    """
    ids = [
        int(i)
        for i in conn.execute(
            select(s.agreements.c.id).where(
                s.agreements.c.work_id == work_id,
                s.agreements.c.status == AgreementStatus.ACTIVE.value,
            )
        ).scalars()
    ]
    for agreement_id in ids:
        conn.execute(
            update(s.agreements)
            .where(s.agreements.c.id == agreement_id)
            .values(status=AgreementStatus.REVOKED.value)
        )
    return ids

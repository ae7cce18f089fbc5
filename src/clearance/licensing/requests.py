"""Licence requests from a scan's bill, and the owner's acceptance or rejection.

``request_licenses`` turns a scan's ``licenses.json`` (what is still needed)
into one request per owner, each listing works, item counts and the amount
per usage in decimal strings, priced from the registry's current terms (the
file says which works; the registry says what they cost). Asking again for
the same scan returns the same requests (keyed by licensee, owner and the
scan's manifest digest).

Only the owner can decide a request. Accepting creates one agreement per
work, carrying the agreed price model per usage, the scan's manifest digest
and the request id, in the same transaction as the request's new status and
their audit rows.
"""

from __future__ import annotations

import calendar
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.orm import aliased

from clearance.core.errors import ConflictError, NotFound, UserError
from clearance.core.models import Agreement, Price, PricePer, term_parts
from clearance.core.usage import Usage, parse_usages
from clearance.core.validation import check_id, clean_name
from clearance.licensing.charges import charge, describe_formula
from clearance.licensing.scans import read_scan
from clearance.registry import schema as s
from clearance.registry.agreements import grant_agreement
from clearance.registry.bulkreads import aware
from clearance.registry.engine import database_errors
from clearance.registry.store import SqlStore

STATUSES = ("pending", "accepted", "rejected")


@dataclass(frozen=True, slots=True)
class LicenseRequest:
    """A licensee's request for one owner's works, as found in one scan."""

    id: int
    licensee: str
    owner: str
    contact: str | None
    status: str
    purpose: Usage
    manifest_digest: str
    lines: tuple[dict[str, Any], ...]
    totals: dict[str, str]
    created_at: datetime
    decided_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "licensee": self.licensee,
            "owner": self.owner,
            "contact": self.contact,
            "status": self.status,
            "purpose": self.purpose.value,
            "manifest_digest": self.manifest_digest,
            "works": list(self.lines),
            "item_count": sum(
                line["items"] for line in self.lines if line["usage"] == self.purpose
            ),
            "totals": self.totals,
            "created_at": self.created_at.isoformat(),
            "decided_at": self.decided_at.isoformat() if self.decided_at else None,
        }


_licensee = aliased(s.parties)
_owner = aliased(s.parties)


def _query() -> Any:
    return (
        select(
            s.license_requests,
            _licensee.c.name.label("licensee"),
            _owner.c.name.label("owner"),
            _owner.c.contact.label("contact"),
        )
        .join(_licensee, _licensee.c.id == s.license_requests.c.licensee_id)
        .join(_owner, _owner.c.id == s.license_requests.c.owner_id)
        .order_by(s.license_requests.c.id)
    )


def _from_row(r: Any) -> LicenseRequest:
    return LicenseRequest(
        id=int(r.id),
        licensee=r.licensee,
        owner=r.owner,
        contact=r.contact,
        status=r.status,
        purpose=Usage(r.purpose),
        manifest_digest=r.manifest_digest,
        lines=tuple(json.loads(r.lines)),
        totals=json.loads(r.totals),
        created_at=aware(r.created_at),
        decided_at=aware(r.decided_at) if r.decided_at is not None else None,
    )


def _get(conn: Connection, request_id: int) -> LicenseRequest:
    row = conn.execute(_query().where(s.license_requests.c.id == request_id)).first()
    if row is None:
        raise NotFound(f"no licence request with id {request_id}", hint="see `license list`")
    return _from_row(row)


def _lines(
    store: SqlStore, owner: str, entries: Sequence[Any], usages: Sequence[Usage]
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    ids: list[int] = []
    counts: dict[int, int] = {}
    for entry in entries:
        try:
            work_id, items = int(entry["work_id"]), int(entry["item_count"])
        except (KeyError, TypeError, ValueError):
            raise UserError("licenses.json: a work entry lacks work_id or item_count") from None
        ids.append(work_id)
        counts[work_id] = items
    lines: list[dict[str, Any]] = []
    totals: dict[str, Decimal] = {}
    for work in store.works_by_ids(ids):
        if work.owner.name != owner:
            continue  # ownership changed since the scan: the owner's request leaves it out
        for usage in usages:
            price = work.terms.price_for(usage)
            if price is None:
                continue  # not offered under licence (allowed, denied or unknown)
            items = counts[work.id]
            later = usage is Usage.OUTPUT or price.per in (PricePer.OUTPUT, PricePer.POOL)
            amount = None if later else charge(price, items)
            lines.append(
                {
                    "work_id": work.id,
                    "title": work.title,
                    "usage": usage.value,
                    "items": items,
                    "price": price.to_dict(),
                    "formula": (
                        f"billed later: {price.describe()}"
                        if later
                        else describe_formula(price, items)
                    ),
                    "amount": format(amount, "f") if amount is not None else None,
                }
            )
            if amount is not None:
                totals[price.currency] = totals.get(price.currency, Decimal(0)) + amount
    return lines, {c: format(v, "f") for c, v in sorted(totals.items())}


def request_licenses(
    store: SqlStore,
    scan_dir: str,
    licensee: str,
    *,
    usages: Sequence[str | Usage] = (),
    actor: str = "clearance",
) -> list[LicenseRequest]:
    """One request per owner for what the scan still needs; the same scan asks only once.

    ``usages`` adds usages beyond the scan's purpose (``output``, to use the
    works in outputs too), each at the owner's price for it.
    """
    licensee = clean_name(licensee, "licensee name")
    scan = read_scan(scan_dir)
    wanted = [scan.purpose] + [
        u for u in parse_usages(str(u) for u in usages) if u is not scan.purpose
    ]
    out: list[LicenseRequest] = []
    for entry in scan.licenses["owners"]:
        if not isinstance(entry, dict) or not isinstance(entry.get("owner"), str):
            raise UserError("licenses.json: an owner entry is malformed")
        owner = entry["owner"]
        if owner == licensee:
            continue
        lines, totals = _lines(store, owner, entry.get("works") or [], wanted)
        if not lines:
            continue
        with store._write() as conn:
            owner_id = store._party_id(conn, owner)
            licensee_id = store._ensure_party(conn, licensee, actor)
            found = conn.execute(
                select(s.license_requests.c.id).where(
                    s.license_requests.c.licensee_id == licensee_id,
                    s.license_requests.c.owner_id == owner_id,
                    s.license_requests.c.manifest_digest == scan.manifest_digest,
                )
            ).scalar()
            if found is None:
                found = conn.execute(
                    insert(s.license_requests)
                    .values(
                        licensee_id=licensee_id,
                        owner_id=owner_id,
                        status="pending",
                        purpose=scan.purpose.value,
                        manifest_digest=scan.manifest_digest,
                        lines=json.dumps(lines, sort_keys=True),
                        totals=json.dumps(totals, sort_keys=True),
                        created_at=datetime.now(UTC),
                    )
                    .returning(s.license_requests.c.id)
                ).scalar_one()
                detail = {
                    "licensee": licensee,
                    "owner": owner,
                    "manifest_digest": scan.manifest_digest,
                    "totals": totals,
                }
                store._audit(conn, actor, "license.request", "request", int(found), detail)
            out.append(_get(conn, int(found)))
    return out


def list_requests(
    store: SqlStore,
    *,
    owner: str | None = None,
    licensee: str | None = None,
    status: str | None = None,
) -> list[LicenseRequest]:
    """Requests, oldest first, filtered by owner, licensee and status."""
    if status is not None and status not in STATUSES:
        raise UserError(f"unknown status {status!r}", hint="valid: " + ", ".join(STATUSES))
    query = _query()
    with database_errors("read"), store.engine.connect() as conn:
        if owner is not None:
            query = query.where(s.license_requests.c.owner_id == store._party_id(conn, owner))
        if licensee is not None:
            query = query.where(s.license_requests.c.licensee_id == store._party_id(conn, licensee))
        if status is not None:
            query = query.where(s.license_requests.c.status == status)
        return [_from_row(r) for r in conn.execute(query)]


def get_request(store: SqlStore, request_id: int) -> LicenseRequest:
    """One request by id (``NotFound`` for none): who may decide it is its ``owner``."""
    check_id(request_id, "request id")
    with database_errors("read"), store.engine.connect() as conn:
        return _get(conn, request_id)


def _decide(
    conn: Connection, store: SqlStore, request_id: int, owner: str, status: str, actor: str
) -> LicenseRequest:
    check_id(request_id, "request id")
    request = _get(conn, request_id)
    if owner.strip() != request.owner:
        raise UserError(
            f"only the owner of request {request_id} can decide it, and {owner!r} is not",
            hint="pass --owner with the name of the works' owner",
        )
    if request.status != "pending":
        raise ConflictError(f"request {request_id} is already {request.status}")
    conn.execute(
        update(s.license_requests)
        .where(s.license_requests.c.id == request_id)
        .values(status=status, decided_at=datetime.now(UTC))
    )
    store._audit(conn, actor, f"license.{status[:-2]}", "request", request_id, {"owner": owner})
    return request


def ends_after(start: datetime, prices: Sequence[Price]) -> datetime | None:
    """When an agreement on these prices ends: after the shortest term among them (or never)."""
    ends: list[datetime] = []
    for price in prices:
        if price.term:
            years, months, days = term_parts(price.term)
            month = start.month - 1 + months + 12 * years
            year, month = start.year + month // 12, month % 12 + 1
            day = min(start.day, calendar.monthrange(year, month)[1])
            ends.append(start.replace(year=year, month=month, day=day) + timedelta(days=days))
    return min(ends) if ends else None


def accept_request(
    store: SqlStore, request_id: int, owner: str, *, actor: str = "clearance"
) -> tuple[LicenseRequest, list[Agreement]]:
    """The owner accepts: one agreement per work with the agreed prices; the request's status."""
    with store._write() as conn:
        request = _decide(conn, store, request_id, owner, "accepted", actor)
        per_work: dict[int, dict[Usage, Price]] = {}
        for line in request.lines:
            per_work.setdefault(int(line["work_id"]), {})[Usage(line["usage"])] = Price.from_dict(
                line["price"]
            )
        start = datetime.now(UTC)
        agreements = [
            grant_agreement(
                store,
                request.licensee,
                request.owner,
                work_id,
                tuple(prices),
                start,
                ends_after(start, list(prices.values())),
                f"request {request.id}",
                actor=actor,
                prices=prices,
                manifest_digest=request.manifest_digest,
                request_id=request.id,
                conn=conn,
            )
            for work_id, prices in sorted(per_work.items())
        ]
        return _get(conn, request_id), agreements


def reject_request(
    store: SqlStore, request_id: int, owner: str, *, actor: str = "clearance"
) -> LicenseRequest:
    """The owner rejects the request (it stays on record)."""
    with store._write() as conn:
        _decide(conn, store, request_id, owner, "rejected", actor)
        return _get(conn, request_id)


__all__ = [
    "LicenseRequest",
    "accept_request",
    "ends_after",
    "get_request",
    "list_requests",
    "reject_request",
    "request_licenses",
]

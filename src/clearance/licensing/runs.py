"""The run ledger: which training run used which works, how many items, under which agreement,
and for what amount.

``record_run`` reads cleared scans (their ``decisions.parquet``: each
included item names the works it matched and the agreement that covered
each) and appends one run with a line per (work, agreement). The amount of a
line is the one formula of ``charges`` applied to the agreed price model (the
agreement's, else the work's current price for the purpose). A run is keyed
by the SHA-256 of its scans' sorted manifest digests, so recording the same
scans again returns the run already recorded: counted once. ``runs`` and
``run_lines`` are append-only (triggers, revision 0004).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, insert, select

from clearance.core.errors import UserError
from clearance.core.models import Price, price_for
from clearance.core.usage import Usage
from clearance.core.validation import clean_name
from clearance.licensing.charges import charge, describe_formula
from clearance.licensing.scans import read_scan, used_works
from clearance.registry import schema as s
from clearance.registry.agreement_rows import agreement_from_row, agreements_query
from clearance.registry.bulkreads import aware
from clearance.registry.engine import database_errors
from clearance.registry.store import SqlStore


@dataclass(frozen=True, slots=True)
class RunLine:
    """One work's use in one run."""

    work_id: int
    owner: str
    usage: Usage
    items: int
    agreement_id: int | None
    permission: str
    price: Price | None
    amount: Decimal | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "work_id": self.work_id,
            "owner": self.owner,
            "usage": self.usage.value,
            "items": self.items,
            "agreement_id": self.agreement_id,
            "permission": self.permission,
            "price": self.price.to_dict() if self.price else None,
            "formula": describe_formula(self.price, self.items) if self.price else None,
            "amount": format(self.amount, "f") if self.amount is not None else None,
            "currency": self.price.currency if self.price and self.amount is not None else None,
        }


@dataclass(frozen=True, slots=True)
class Run:
    """A recorded training run."""

    id: int
    name: str
    model: str | None
    licensee: str
    purpose: Usage
    manifests: tuple[str, ...]
    created_at: datetime
    lines: tuple[RunLine, ...]

    def to_dict(self) -> dict[str, Any]:
        totals: dict[str, Decimal] = {}
        for line in self.lines:
            if line.amount is not None and line.price is not None:
                cur = line.price.currency
                totals[cur] = totals.get(cur, Decimal(0)) + line.amount
        return {
            "id": self.id,
            "name": self.name,
            "model": self.model,
            "licensee": self.licensee,
            "purpose": self.purpose.value,
            "manifest_digests": list(self.manifests),
            "created_at": self.created_at.isoformat(),
            "works": len({line.work_id for line in self.lines}),
            "items": sum(line.items for line in self.lines),
            "lines": [line.to_dict() for line in self.lines],
            "totals": {c: format(v, "f") for c, v in sorted(totals.items())},
        }


def run_key(digests: Sequence[str]) -> str:
    """The run's identity: SHA-256 over its scans' manifest digests, sorted and de-duplicated."""
    return hashlib.sha256("\n".join(sorted(set(digests))).encode()).hexdigest()


def _stored_line_price(text: str | None) -> Price | None:
    return Price.from_dict(json.loads(text)) if text else None


def load_runs(conn: Connection, where: Any = None) -> list[Run]:
    """Runs with their lines, oldest first (``where``: a condition on ``runs``)."""
    query = (
        select(s.runs, s.parties.c.name.label("licensee"))
        .join(s.parties, s.parties.c.id == s.runs.c.licensee_id)
        .order_by(s.runs.c.id)
    )
    if where is not None:
        query = query.where(where)
    runs = conn.execute(query).all()
    if not runs:
        return []
    lines: dict[int, list[RunLine]] = {}
    for r in conn.execute(
        select(s.run_lines, s.parties.c.name.label("owner"))
        .join(s.parties, s.parties.c.id == s.run_lines.c.owner_id)
        .where(s.run_lines.c.run_id.in_([int(r.id) for r in runs]))
        .order_by(s.run_lines.c.id)
    ):
        lines.setdefault(int(r.run_id), []).append(
            RunLine(
                work_id=int(r.work_id),
                owner=r.owner,
                usage=Usage(r.usage),
                items=int(r.items),
                agreement_id=r.agreement_id,
                permission=r.permission,
                price=_stored_line_price(r.price),
                amount=Decimal(r.amount) if r.amount is not None else None,
            )
        )
    return [
        Run(
            id=int(r.id),
            name=r.name,
            model=r.model,
            licensee=r.licensee,
            purpose=Usage(r.purpose),
            manifests=tuple(json.loads(r.manifests)),
            created_at=aware(r.created_at),
            lines=tuple(lines.get(int(r.id), [])),
        )
        for r in runs
    ]


def record_run(
    store: SqlStore,
    scans: Sequence[str],
    *,
    name: str,
    licensee: str,
    model: str | None = None,
    actor: str = "clearance",
) -> tuple[Run, bool]:
    """Record a run built from cleared scans; (the run, whether it was new).

    Every scan must share one purpose, and a scan made for another licensee
    (``--licensee``) is refused: its agreements are not this licensee's.
    """
    if not scans:
        raise UserError("a run needs at least one scan", hint="pass --scan DIR")
    name = clean_name(name, "run name")
    licensee = clean_name(licensee, "licensee name")
    model = clean_name(model, "model name") if model is not None else None
    read = [read_scan(d) for d in scans]
    purposes = {scan.purpose for scan in read}
    if len(purposes) > 1:
        names = ", ".join(sorted(p.value for p in purposes))
        raise UserError(f"the scans were made for different purposes ({names})")
    purpose = purposes.pop()
    for scan in read:
        if scan.licensee is not None and scan.licensee != licensee:
            raise UserError(
                f"{scan.path} was scanned for licensee {scan.licensee!r}, not {licensee!r}"
            )
    digests = sorted({scan.manifest_digest for scan in read})
    key = run_key(digests)
    used: dict[tuple[int, str, int | None, str], int] = {}
    for scan in read:
        for u in used_works(scan):
            k = (u.work_id, u.owner, u.agreement_id, u.permission)
            used[k] = used.get(k, 0) + u.items
    with store._write() as conn:
        existing = load_runs(conn, s.runs.c.run_key == key)
        if existing:
            return existing[0], False
        licensee_id = store._ensure_party(conn, licensee, actor)
        agreements = {
            a.id: a
            for a in (
                agreement_from_row(r)
                for r in conn.execute(
                    agreements_query().where(
                        s.agreements.c.id.in_([k[2] for k in used if k[2] is not None])
                    )
                )
            )
        }
        works = {w.id: w for w in store.works_by_ids(sorted({k[0] for k in used}))}
        run_id = conn.execute(
            insert(s.runs)
            .values(
                run_key=key,
                name=name,
                model=model,
                licensee_id=licensee_id,
                purpose=purpose.value,
                manifests=json.dumps(digests),
                created_at=datetime.now(UTC),
            )
            .returning(s.runs.c.id)
        ).scalar_one()
        rows = []
        for (work_id, owner, agreement_id, permission), items in sorted(
            used.items(), key=lambda kv: (kv[0][0], kv[0][2] or 0)
        ):
            agreement = agreements.get(agreement_id) if agreement_id is not None else None
            if agreement_id is not None and (agreement is None or agreement.licensee != licensee):
                raise UserError(f"agreement {agreement_id} in the scan is not {licensee!r}'s")
            price = price_for(agreement.prices, purpose) if agreement is not None else None
            if price is None and agreement is not None and work_id in works:
                price = works[work_id].terms.price_for(purpose)
            amount = charge(price, items)
            rows.append(
                {
                    "run_id": run_id,
                    "work_id": work_id,
                    "owner_id": store._party_id(conn, owner),
                    "usage": purpose.value,
                    "items": items,
                    "agreement_id": agreement_id,
                    "permission": permission,
                    "price": json.dumps(price.to_dict(), sort_keys=True) if price else None,
                    "amount": format(amount, "f") if amount is not None else None,
                    "currency": price.currency if price and amount is not None else None,
                }
            )
        if rows:
            conn.execute(insert(s.run_lines), rows)
        run = load_runs(conn, s.runs.c.id == run_id)[0]
        detail: dict[str, Any] = {
            "name": name,
            "model": model,
            "licensee": licensee,
            "run_key": key,
        }
        detail["totals"] = run.to_dict()["totals"]
        store._audit(conn, actor, "run.record", "run", int(run_id), detail)
        return run, True


def list_runs(store: SqlStore, *, licensee: str | None = None) -> list[Run]:
    """Recorded runs, oldest first."""
    with database_errors("read"), store.engine.connect() as conn:
        where = None
        if licensee is not None:
            where = s.runs.c.licensee_id == store._party_id(conn, licensee)
        return load_runs(conn, where)


__all__ = ["Run", "RunLine", "list_runs", "load_runs", "record_run", "run_key"]

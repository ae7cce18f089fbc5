"""Royalty statements: per-owner amounts for a period, with the formula and the line items.

Every amount is recomputed from the ledger, never typed in:

* **Priced statement** (the default). Line items are the period's run lines
  (``runs.created_at`` in the period) and its usage events that carry an
  amount (outputs under a per-output price). Each line's amount is exact (the
  ``charges`` formula, recorded with the line). An owner's amount per currency
  is the exact sum of their lines, rounded half up once to minor units
  (``core.money``); the statement's total per currency is the sum of the
  owners' rounded amounts, so it adds up exactly.
* **Pool statement** (``pool``): a pool of ``P`` minor units in one currency
  is split among owners by their licensed units in the period (each item a
  run used under an agreement, each output under a licence), a unit weighing
  1, or the weight of a ``pool`` price (``train-genai=2/pool``). Owner ``i``
  gets ``floor(P * w_i / W)`` plus one unit for the largest remainders, so the
  shares sum to ``P`` exactly.

Currencies are never added together: totals are per currency.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy import select

from clearance.core.errors import UserError
from clearance.core.models import Price, PricePer
from clearance.core.money import format_minor, parse_minor, split_largest_remainder, to_minor
from clearance.core.usage import Usage
from clearance.licensing.charges import describe_formula
from clearance.licensing.runs import load_runs
from clearance.registry import schema as s
from clearance.registry.agreement_rows import agreement_from_row, agreements_query
from clearance.registry.bulkreads import aware
from clearance.registry.engine import database_errors
from clearance.registry.store import SqlStore

_PERIOD = re.compile(r"^(\d{4})(?:-(?:Q([1-4])|(\d{2})))?$")


@dataclass(frozen=True, slots=True)
class Period:
    """A half-open span of time: ``2026-Q4``, ``2026-11`` or ``2026``."""

    label: str
    start: datetime
    end: datetime

    @staticmethod
    def parse(text: str) -> Period:
        found = _PERIOD.match(text.strip().upper())
        if not found:
            raise UserError(
                f"period {text[:40]!r} is not a year, quarter or month",
                hint="e.g. 2026, 2026-Q4 or 2026-11",
            )
        year = int(found[1])
        if not 1970 <= year <= 9998:
            raise UserError(f"period {text!r} is out of range (1970..9998)")
        if found[2]:
            first, months = (int(found[2]) - 1) * 3 + 1, 3
        elif found[3]:
            first, months = int(found[3]), 1
            if not 1 <= first <= 12:
                raise UserError(f"period {text!r} names no month")
        else:
            first, months = 1, 12
        start = datetime.combine(date(year, first, 1), datetime.min.time(), tzinfo=UTC)
        last = first - 1 + months
        end = datetime.combine(
            date(year + last // 12, last % 12 + 1, 1), datetime.min.time(), tzinfo=UTC
        )
        return Period(text.strip().upper(), start, end)


@dataclass(frozen=True, slots=True)
class Line:
    """One line item: a run's use of a work, or an output under a licence."""

    kind: str  # "run" or "output"
    ref: str  # the run's name / the usage event's id
    at: datetime
    work_id: int
    licensee: str | None
    agreement_id: int | None
    usage: str
    units: int
    price: Price | None
    amount: Decimal | None
    currency: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "ref": self.ref,
            "at": self.at.isoformat(),
            "work_id": self.work_id,
            "licensee": self.licensee,
            "agreement_id": self.agreement_id,
            "usage": self.usage,
            "units": self.units,
            "price": self.price.to_dict() if self.price else None,
            "formula": describe_formula(self.price, self.units) if self.price else None,
            "amount": format(self.amount, "f") if self.amount is not None else None,
            "currency": self.currency,
        }


@dataclass(slots=True)
class OwnerStatement:
    """What one owner is owed: per currency, in minor units, and the lines behind it."""

    owner: str
    contact: str | None
    lines: list[Line] = field(default_factory=list)
    exact: dict[str, Decimal] = field(default_factory=dict)
    amounts: dict[str, int] = field(default_factory=dict)
    weight: Fraction = Fraction(0)
    formula: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "owner": self.owner,
            "contact": self.contact,
            "amounts": {c: format_minor(v, c) for c, v in sorted(self.amounts.items())},
            "amounts_minor": dict(sorted(self.amounts.items())),
            "exact": {c: format(v, "f") for c, v in sorted(self.exact.items())},
            "weight": str(self.weight),
            "formula": self.formula,
            "runs": sorted({ln.ref for ln in self.lines if ln.kind == "run"}),
            "outputs": sum(ln.units for ln in self.lines if ln.kind == "output"),
            "works": sorted({ln.work_id for ln in self.lines}),
            "lines": [ln.to_dict() for ln in self.lines],
        }


@dataclass(frozen=True, slots=True)
class Statement:
    """A statement for a period: every owner's amounts, and the totals per currency."""

    period: Period
    owners: tuple[OwnerStatement, ...]
    totals: dict[str, int]
    pool: tuple[int, str] | None = None

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "format": "clearance.royalty-statement",
            "format_version": 1,
            "period": self.period.label,
            "from": self.period.start.isoformat(),
            "until": self.period.end.isoformat(),
            "mode": "pool" if self.pool else "prices",
            "owners": [o.to_dict() for o in self.owners],
            "totals": {c: format_minor(v, c) for c, v in sorted(self.totals.items())},
            "totals_minor": dict(sorted(self.totals.items())),
        }
        if self.pool:
            units, cur = self.pool
            doc["pool"] = {"amount": format_minor(units, cur), "currency": cur}
            if not self.owners or all(o.weight == 0 for o in self.owners):
                doc["pool"]["undistributed"] = format_minor(units, cur)
        return doc


def _lines(store: SqlStore, period: Period) -> list[tuple[str, str | None, Line]]:
    """(owner, contact, line) for every run line and priced or licensed output in the period."""
    out: list[tuple[str, str | None, Line]] = []
    start, end = period.start, period.end
    with database_errors("read"), store.engine.connect() as conn:
        contacts = {
            r.name: r.contact for r in conn.execute(select(s.parties.c.name, s.parties.c.contact))
        }
        runs = load_runs(conn, (s.runs.c.created_at >= start) & (s.runs.c.created_at < end))
        for run in runs:
            for rl in run.lines:
                line = Line(
                    "run",
                    run.name,
                    run.created_at,
                    rl.work_id,
                    run.licensee,
                    rl.agreement_id,
                    rl.usage.value,
                    rl.items,
                    rl.price,
                    rl.amount,
                    rl.price.currency if rl.price and rl.amount is not None else None,
                )
                out.append((rl.owner, contacts.get(rl.owner), line))
        events = conn.execute(
            select(s.usage_events, s.parties.c.name.label("licensee"))
            .outerjoin(s.parties, s.parties.c.id == s.usage_events.c.licensee_id)
            .where(
                s.usage_events.c.at >= start,
                s.usage_events.c.at < end,
                s.usage_events.c.basis == "licence",
            )
            .order_by(s.usage_events.c.id)
        ).all()
        agreement_ids = sorted({int(e.agreement_id) for e in events if e.agreement_id})
        agreements = {
            a.id: a
            for a in (
                agreement_from_row(r)
                for r in conn.execute(
                    agreements_query().where(s.agreements.c.id.in_(agreement_ids))
                )
            )
        }
        owners_of_works = {
            int(r.id): r.name
            for r in conn.execute(
                select(s.works.c.id, s.parties.c.name)
                .join(s.parties, s.parties.c.id == s.works.c.owner_id)
                .where(s.works.c.id.in_(sorted({int(e.work_id) for e in events})))
            )
        }
    for e in events:
        agreement = agreements.get(int(e.agreement_id)) if e.agreement_id else None
        owner = agreement.owner if agreement else owners_of_works.get(int(e.work_id))
        if owner is None:
            continue  # a removed work used without an agreement: no one to pay
        amount = Decimal(e.amount) if e.amount is not None else None
        price = agreement.prices.get(Usage.OUTPUT) if agreement is not None else None
        if amount is not None and (price is None or price.amount != amount):
            price = Price(amount, e.currency, PricePer.OUTPUT)
        line = Line(
            "output",
            str(e.id),
            aware(e.at),
            int(e.work_id),
            e.licensee,
            e.agreement_id,
            "output",
            1,
            price,
            amount,
            e.currency if amount is not None else None,
        )
        out.append((owner, contacts.get(owner), line))
    return out


def royalty_statement(
    store: SqlStore,
    period: str,
    *,
    owner: str | None = None,
    pool: str | None = None,
    currency: str | None = None,
) -> Statement:
    """The statement for ``period`` (``2026-Q4``); ``pool`` with ``currency`` splits a pool.

    With ``owner``, only that owner's part is shown, but a pool is still split
    over every owner (their share does not depend on who asks).
    """
    span = Period.parse(period)
    if (pool is None) != (currency is None):
        raise UserError("--pool needs --currency (and --currency needs --pool)")
    pool_minor: tuple[int, str] | None = None
    if pool is not None and currency is not None:
        cur = Price.parse("0", currency).currency
        pool_minor = (parse_minor(pool, cur), cur)
    if owner is not None:
        store.get_party(owner)  # an unknown owner is an error, not an empty statement
    return compose(span, _lines(store, span), owner=owner, pool=pool_minor)


def compose(
    span: Period,
    entries: Sequence[tuple[str, str | None, Line]],
    *,
    owner: str | None = None,
    pool: tuple[int, str] | None = None,
) -> Statement:
    """The statement from its line items (pure: the property tests drive it directly)."""
    pool_minor = pool
    by_owner: dict[str, OwnerStatement] = {}
    for name, contact, line in entries:
        entry = by_owner.setdefault(name, OwnerStatement(name, contact))
        entry.lines.append(line)
        if line.amount is not None and line.currency is not None:
            entry.exact[line.currency] = entry.exact.get(line.currency, Decimal(0)) + line.amount
        if line.agreement_id is not None:
            weight = line.price.amount if line.price and line.price.per is PricePer.POOL else 1
            entry.weight += Fraction(weight) * line.units
    totals: dict[str, int] = {}
    if pool_minor is None:
        for entry in by_owner.values():
            entry.amounts = {c: to_minor(v, c) for c, v in entry.exact.items()}
            entry.formula = "; ".join(
                f"{c}: sum of {sum(1 for ln in entry.lines if ln.currency == c)} lines = "
                f"{format(v, 'f')}, rounded half up to {format_minor(entry.amounts[c], c)}"
                for c, v in sorted(entry.exact.items())
            )
            for c, v in entry.amounts.items():
                totals[c] = totals.get(c, 0) + v
    else:
        units, cur = pool_minor
        whole = sum((e.weight for e in by_owner.values()), Fraction(0))
        shares = split_largest_remainder(units, {k: e.weight for k, e in by_owner.items()})
        for key, entry in by_owner.items():
            entry.amounts = {cur: shares[key]} if shares[key] or entry.weight else {}
            entry.formula = (
                f"{format_minor(units, cur)} {cur} x {entry.weight} / {whole} licensed units, "
                "largest remainder"
            )
        totals = {cur: sum(shares.values())}
    chosen = [by_owner[k] for k in sorted(by_owner) if owner is None or k == owner.strip()]
    if owner is not None:
        totals = {}
        for entry in chosen:
            for c, v in entry.amounts.items():
                totals[c] = totals.get(c, 0) + v
    return Statement(span, tuple(chosen), totals, pool_minor)


def statement_csv(statement: Statement) -> str:
    """One row per line item, then one row per owner and currency with its amount."""
    import csv
    import io

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")

    def row(cells: list[Any]) -> None:
        writer.writerow([_defused(str(c)) for c in cells])

    row(
        [
            *("period", "owner", "kind", "ref", "at", "work_id", "licensee", "agreement_id"),
            *("usage", "units", "formula", "amount", "currency"),
        ]
    )
    for o in statement.owners:
        for ln in o.lines:
            d = ln.to_dict()
            row(
                [
                    *(statement.period.label, o.owner, ln.kind, ln.ref, d["at"], ln.work_id),
                    *(ln.licensee or "", ln.agreement_id or "", ln.usage, ln.units),
                    *(d["formula"] or "", d["amount"] or "", ln.currency or ""),
                ]
            )
        for c, v in sorted(o.amounts.items()):
            row(
                [
                    *(statement.period.label, o.owner, "total", "", "", "", "", "", "", ""),
                    *(o.formula, format_minor(v, c), c),
                ]
            )
    return buf.getvalue()


def _defused(cell: str) -> str:
    """A cell from data that a spreadsheet would run as a formula gets a leading '."""
    return "'" + cell if cell[:1] in ("=", "+", "-", "@") else cell


def statement_html(statement: Statement) -> str:
    """A self-contained HTML statement: per owner, amounts, formula and line items."""
    from html import escape as e

    doc = statement.to_dict()
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>Royalty statement {e(statement.period.label)}</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}</style></head><body>",
        f"<h1>Royalty statement {e(statement.period.label)}</h1>",
        f"<p>{e(doc['from'])} to {e(doc['until'])} (exclusive); mode: {e(doc['mode'])}</p>",
        "<p>Totals: "
        + e(", ".join(f"{v} {c}" for c, v in doc["totals"].items()) or "nothing owed")
        + "</p>",
    ]
    for o in doc["owners"]:
        amounts = ", ".join(f"{v} {c}" for c, v in o["amounts"].items()) or "nothing owed"
        contact = f" &lt;{e(o['contact'])}&gt;" if o["contact"] else ""
        parts.append(f"<h2>{e(o['owner'])}{contact}: {e(amounts)}</h2>")
        parts.append(f"<p>Formula: {e(o['formula'])}</p>")
        parts.append(
            "<table><tr><th>kind</th><th>run / event</th><th>at</th><th>work</th>"
            "<th>licensee</th><th>agreement</th><th>usage</th><th>units</th>"
            "<th>formula</th><th>amount</th></tr>"
        )
        for ln in o["lines"]:
            amount = f"{ln['amount']} {ln['currency']}" if ln["amount"] is not None else ""
            cells = [
                ln["kind"],
                ln["ref"],
                ln["at"],
                ln["work_id"],
                ln["licensee"] or "",
                ln["agreement_id"] or "",
                ln["usage"],
                ln["units"],
                ln["formula"] or "",
                amount,
            ]
            parts.append("<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in cells) + "</tr>")
        parts.append("</table>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


__all__ = [
    "Line",
    "OwnerStatement",
    "Period",
    "Statement",
    "royalty_statement",
    "statement_csv",
    "statement_html",
]

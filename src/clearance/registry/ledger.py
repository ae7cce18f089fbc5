"""The hash chain over the two ledgers (``audit_log`` and ``usage_events``), and its check.

Why: the append-only triggers stop Clearance's own code and a careless
operator, but not whoever owns the database: a superuser can drop a trigger,
rewrite a row and put the trigger back. So every ledger row also carries
``prev_hash`` (the previous row's ``row_hash``; 64 zeros for the first row)
and ``row_hash = sha256(prev_hash + "\\n" + canonical JSON of the row)``.
Changing, deleting, inserting or reordering any row breaks the chain from
that row on, and ``verify_ledger`` (``clearance audit verify``) says where.
Recomputing the whole chain after a rewrite is only caught against a head
recorded outside the database (``--anchor``); docs/security.md says so.

Chain format 1, what is hashed per row (canonical JSON: sorted keys, no
spaces, UTF-8): for ``audit_log`` ``at`` (UTC ISO 8601 with microseconds),
``actor``, ``action``, ``entity``, ``entity_id``, ``detail``; for
``usage_events`` ``at``, ``kind``, ``work_id``, ``licensee_id``,
``agreement_id``, ``basis``, ``method``, ``score`` (the float's ``repr``),
``input_label``, ``verdict``. Row ids are not hashed (the chain order is).

Concurrent writers: a row's ``prev_hash`` must be the hash of the row that
precedes it in id order, so appending takes a lock first. On SQLite every
write transaction already holds the database's write lock (``BEGIN
IMMEDIATE``); on PostgreSQL ``append`` takes a transaction-scoped advisory
lock per ledger, reads the head and inserts while holding it, so ids (drawn
from the sequence after the lock) and the chain agree. Stores buffer their
audit rows and append them at the end of each transaction, so the lock is
held only for the commit.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, Table, insert, select, text

from clearance.registry import schema as s

CHAIN_FORMAT = 1
GENESIS = "0" * 64

_AUDIT_FIELDS = ("at", "actor", "action", "entity", "entity_id", "detail")
_EVENT_FIELDS = (
    "at",
    "kind",
    "work_id",
    "licensee_id",
    "agreement_id",
    "basis",
    "method",
    "score",
    "input_label",
    "verdict",
)
_FIELDS = {"audit_log": _AUDIT_FIELDS, "usage_events": _EVENT_FIELDS}
_OPTIONAL_FIELDS = {"audit_log": (), "usage_events": ("amount", "currency")}
"""Hashed only when set (revision 0004 added them), so rows written before still verify."""
_PG_LOCK = {"audit_log": 1, "usage_events": 2}
_PG_LOCK_SPACE = 0x434C52  # "CLR": the first key of the two-key advisory lock form
LEDGERS = ("audit_log", "usage_events")


def _canonical(value: Any) -> Any:
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).isoformat(timespec="microseconds")
    if isinstance(value, float):
        return repr(value)
    return value


def row_payload(table: str, row: Mapping[str, Any]) -> bytes:
    """The bytes hashed for one row of ``table`` (chain format 1)."""
    doc = {name: _canonical(row[name]) for name in _FIELDS[table]}
    for name in _OPTIONAL_FIELDS[table]:
        if row.get(name) is not None:
            doc[name] = _canonical(row[name])
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def chain_hash(prev_hash: str, payload: bytes) -> str:
    """``sha256(prev_hash + "\\n" + payload)`` as 64 hex digits."""
    return hashlib.sha256(prev_hash.encode("ascii") + b"\n" + payload).hexdigest()


def _lock(conn: Connection, table: str) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(
            text("SELECT pg_advisory_xact_lock(:space, :key)"),
            {"space": _PG_LOCK_SPACE, "key": _PG_LOCK[table]},
        )


def head(conn: Connection, table: Table) -> str:
    """The newest row's hash, or ``GENESIS`` for an empty ledger."""
    found = conn.execute(
        select(table.c.row_hash).order_by(table.c.id.desc()).limit(1)
    ).scalar_one_or_none()
    return str(found) if found is not None else GENESIS


def chained(prev: str, table: str, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` with ``prev_hash`` and ``row_hash`` filled in, continuing from ``prev``."""
    out: list[dict[str, Any]] = []
    for row in rows:
        # stored as UTC: SQLite keeps the wall time and drops the zone, so any
        # other zone would read back as a different instant (and hash)
        clean = {**row, "at": datetime.fromisoformat(_canonical(row["at"]))}
        digest = chain_hash(prev, row_payload(table, clean))
        out.append({**clean, "prev_hash": prev, "row_hash": digest})
        prev = digest
    return out


def append(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Inside a write transaction: lock the ledger, chain ``rows`` onto its head, insert them."""
    if not rows:
        return
    _lock(conn, table.name)
    prepared = chained(head(conn, table), table.name, rows)
    conn.execute(insert(table), prepared)


# -- verification ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChainReport:
    """What ``verify_ledger`` found in one ledger."""

    table: str
    rows: int
    head: str
    last_id: int | None
    problem: str | None = None
    problem_id: int | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "ok": self.ok,
            "rows": self.rows,
            "last_id": self.last_id,
            "head": self.head,
            "problem": self.problem,
            "problem_id": self.problem_id,
        }


def _rows(engine: Engine, table: Table, batch: int = 5_000) -> Iterator[Any]:
    """Every row in id order, read in keyset pages (no long-lived cursor, any backend)."""
    after = 0
    while True:
        with engine.connect() as conn:
            page = conn.execute(
                select(table).where(table.c.id > after).order_by(table.c.id).limit(batch)
            ).all()
        if not page:
            return
        yield from page
        after = int(page[-1].id)


def verify_chain(engine: Engine, table: Table) -> ChainReport:
    """Walk one ledger in id order and recompute every link; stop at the first broken one."""
    prev = GENESIS
    rows = 0
    last_id: int | None = None
    for row in _rows(engine, table):
        mapping = row._mapping
        if row.prev_hash != prev:
            what = (
                "the first row does not start the chain"
                if last_id is None
                else f"its prev_hash does not match row {last_id}'s hash "
                "(rows before it were changed, removed, added or reordered)"
            )
            return ChainReport(table.name, rows, prev, last_id, f"row {row.id}: {what}", row.id)
        digest = chain_hash(prev, row_payload(table.name, mapping))
        if row.row_hash != digest:
            return ChainReport(
                table.name,
                rows,
                prev,
                last_id,
                f"row {row.id}: its content does not match its hash (the row was rewritten)",
                row.id,
            )
        prev = digest
        rows += 1
        last_id = int(row.id)
    return ChainReport(table.name, rows, prev, last_id)


def verify_ledger(engine: Engine) -> list[ChainReport]:
    """Check both ledgers' hash chains; one report per ledger."""
    return [verify_chain(engine, s.audit_log), verify_chain(engine, s.usage_events)]


def row_hash_at(engine: Engine, table: Table, row_id: int) -> str | None:
    """The stored hash of one ledger row, or None if there is no such row."""
    with engine.connect() as conn:
        found = conn.execute(select(table.c.row_hash).where(table.c.id == row_id)).scalar()
    return None if found is None else str(found)


ANCHOR_FORMAT = 1


def anchor_of(reports: Sequence[ChainReport]) -> dict[str, Any]:
    """The heads to keep outside the database (``clearance audit verify --anchor FILE``)."""
    return {
        "format_version": ANCHOR_FORMAT,
        "chain_format": CHAIN_FORMAT,
        "ledgers": {
            r.table: {"rows": r.rows, "last_id": r.last_id, "head": r.head} for r in reports
        },
    }


def check_anchor(
    engine: Engine, reports: Sequence[ChainReport], anchor: Mapping[str, Any]
) -> list[str]:
    """Problems found comparing the ledgers with heads recorded earlier (empty: none).

    A verified chain whose anchored row still carries the anchored hash has
    every row up to it unchanged (each hash covers all rows before it). A
    chain recomputed after a rewrite, or cut short, no longer does.
    """
    problems: list[str] = []
    ledgers = anchor.get("ledgers")
    if anchor.get("format_version") != ANCHOR_FORMAT or not isinstance(ledgers, Mapping):
        return ["the anchor file is not a Clearance ledger anchor (format_version 1)"]
    tables = {"audit_log": s.audit_log, "usage_events": s.usage_events}
    current = {r.table: r for r in reports}
    for name, then in ledgers.items():
        table = tables.get(str(name))
        if table is None or not isinstance(then, Mapping):
            problems.append(f"the anchor names an unknown ledger {name!r}")
            continue
        last_id, head_then = then.get("last_id"), then.get("head")
        if last_id is None:
            continue  # the ledger was empty then
        if not isinstance(last_id, int) or not isinstance(head_then, str):
            problems.append(f"{name}: the anchor's entry is malformed")
            continue
        stored = row_hash_at(engine, table, last_id)
        if stored is None:
            problems.append(
                f"{name}: anchored row {last_id} is gone (the ledger was cut short or rebuilt)"
            )
        elif stored != head_then:
            problems.append(
                f"{name}: anchored row {last_id} now hashes to {stored[:16]}…, "
                f"not {head_then[:16]}… (the history up to it was rewritten)"
            )
        elif name in current and current[name].rows < int(then.get("rows", 0)):
            problems.append(f"{name}: fewer rows than when anchored (rows were removed)")
    return problems


__all__ = [
    "ANCHOR_FORMAT",
    "CHAIN_FORMAT",
    "GENESIS",
    "LEDGERS",
    "ChainReport",
    "anchor_of",
    "append",
    "chain_hash",
    "chained",
    "check_anchor",
    "head",
    "row_hash_at",
    "row_payload",
    "verify_chain",
    "verify_ledger",
]

"""Ledger integrity: ids are never reused, the ledgers refuse rewrites and carry a hash chain.

* SQLite reused a removed work's id (``INTEGER PRIMARY KEY`` hands out
  ``max(id) + 1``), so the audit rows, agreements and usage events of a removed
  work became the next work's. Every table is rebuilt with ``AUTOINCREMENT``
  (the documented procedure: foreign keys off, new table, copy, drop, rename,
  ``foreign_key_check``), and each id counter is raised past every id the
  history still mentions, so ids removed *before* this upgrade are not handed
  out again either. PostgreSQL sequences never go back; nothing to do there.
* The append-only triggers stopped UPDATE and DELETE but not SQLite's
  ``INSERT OR REPLACE`` (which deletes without firing delete triggers) nor
  PostgreSQL's ``TRUNCATE``: new triggers refuse both on ``audit_log`` and
  ``usage_events``.
* ``prev_hash`` and ``row_hash`` are added to both ledgers and filled in for
  the existing rows, in id order (chain format 1, ``clearance.registry.ledger``).

Runs with foreign keys off on SQLite (``clearance.registry.migrate`` turns
them off around the upgrade, as the rebuild requires).

Revision ID: 0003
Revises: 0002
Create Date: 2027-01-10
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.schema import CreateTable

from clearance.registry.ledger import GENESIS, chain_hash, row_payload

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)
_LEDGERS = ("audit_log", "usage_events")
_INDEXES = (
    ("ix_works_owner", "works", "owner_id"),
    ("ix_identifiers_scheme_value", "identifiers", "scheme, value"),
    ("ix_fingerprints_algo", "fingerprints", "algo"),
    ("ix_fingerprints_work", "fingerprints", "work_id"),
    ("ix_agreements_licensee", "agreements", "licensee_id"),
    ("ix_agreements_owner", "agreements", "owner_id"),
    ("ix_usage_events_work", "usage_events", "work_id"),
    ("ix_usage_events_licensee", "usage_events", "licensee_id"),
)


def _tables() -> list[sa.Table]:
    """The schema at this revision, parents first, every table with AUTOINCREMENT (SQLite)."""
    md = sa.MetaData()
    auto: dict[str, Any] = {"sqlite_autoincrement": True}

    def chain() -> tuple[sa.Column[str], sa.Column[str]]:
        return (
            sa.Column("prev_hash", sa.String(64), nullable=False),
            sa.Column("row_hash", sa.String(64), nullable=False),
        )

    return [
        sa.Table(
            "parties",
            md,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("name", sa.String(255), nullable=False, unique=True),
            sa.Column("contact", sa.Text),
            sa.Column("created_at", _TS, nullable=False),
            **auto,
        ),
        sa.Table(
            "works",
            md,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("kind", sa.String(16), nullable=False),
            sa.Column("title", sa.Text),
            sa.Column("owner_id", sa.Integer, sa.ForeignKey("parties.id"), nullable=False),
            sa.Column("created_at", _TS, nullable=False),
            **auto,
        ),
        sa.Table(
            "identifiers",
            md,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column(
                "work_id",
                sa.Integer,
                sa.ForeignKey("works.id", ondelete="CASCADE"),
                nullable=False,
            ),
            sa.Column("scheme", sa.String(16), nullable=False),
            sa.Column("value", sa.Text, nullable=False),
            sa.UniqueConstraint(
                "work_id", "scheme", "value", name="uq_identifiers_work_scheme_value"
            ),
            **auto,
        ),
        sa.Table(
            "fingerprints",
            md,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column(
                "work_id",
                sa.Integer,
                sa.ForeignKey("works.id", ondelete="CASCADE"),
                nullable=False,
            ),
            sa.Column("algo", sa.String(32), nullable=False),
            sa.Column("format_version", sa.Integer, nullable=False),
            sa.Column("data", sa.LargeBinary, nullable=False),
            sa.Column("quality", sa.Integer),
            sa.Column("created_at", _TS, nullable=False),
            **auto,
        ),
        sa.Table(
            "terms",
            md,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("work_id", sa.Integer, sa.ForeignKey("works.id", ondelete="CASCADE")),
            sa.Column("party_id", sa.Integer, sa.ForeignKey("parties.id", ondelete="CASCADE")),
            sa.Column("usage", sa.String(16), nullable=False),
            sa.Column("permission", sa.String(16), nullable=False),
            sa.Column("price_amount", sa.String(40)),
            sa.Column("price_currency", sa.String(3)),
            sa.Column("price_per", sa.String(8)),
            sa.Column("updated_at", _TS, nullable=False),
            sa.CheckConstraint(
                "(work_id IS NULL) <> (party_id IS NULL)", name="ck_terms_one_scope"
            ),
            sa.UniqueConstraint("work_id", "usage", name="uq_terms_work_usage"),
            sa.UniqueConstraint("party_id", "usage", name="uq_terms_party_usage"),
            **auto,
        ),
        sa.Table(
            "claims",
            md,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column(
                "work_id",
                sa.Integer,
                sa.ForeignKey("works.id", ondelete="CASCADE"),
                nullable=False,
            ),
            sa.Column("party_id", sa.Integer, sa.ForeignKey("parties.id"), nullable=False),
            sa.Column("status", sa.String(16), nullable=False),
            sa.Column("note", sa.Text),
            sa.Column("created_at", _TS, nullable=False),
            sa.UniqueConstraint("work_id", "party_id", name="uq_claims_work_party"),
            **auto,
        ),
        sa.Table(
            "audit_log",
            md,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("at", _TS, nullable=False),
            sa.Column("actor", sa.String(255), nullable=False),
            sa.Column("action", sa.String(64), nullable=False),
            sa.Column("entity", sa.String(32), nullable=False),
            sa.Column("entity_id", sa.Integer),
            sa.Column("detail", sa.Text, nullable=False),
            *chain(),
            **auto,
        ),
        sa.Table(
            "agreements",
            md,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("licensee_id", sa.Integer, sa.ForeignKey("parties.id"), nullable=False),
            sa.Column("owner_id", sa.Integer, sa.ForeignKey("parties.id"), nullable=False),
            sa.Column("work_id", sa.Integer),
            sa.Column("usages", sa.Text, nullable=False),
            sa.Column("starts_at", _TS, nullable=False),
            sa.Column("ends_at", _TS),
            sa.Column("status", sa.String(16), nullable=False),
            sa.Column("reference", sa.Text),
            sa.Column("created_at", _TS, nullable=False),
            sa.CheckConstraint("status IN ('active', 'revoked')", name="ck_agreements_status"),
            sa.CheckConstraint(
                "ends_at IS NULL OR ends_at > starts_at", name="ck_agreements_period"
            ),
            **auto,
        ),
        sa.Table(
            "usage_events",
            md,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("at", _TS, nullable=False),
            sa.Column("kind", sa.String(16), nullable=False),
            sa.Column("work_id", sa.Integer, nullable=False),
            sa.Column("licensee_id", sa.Integer, sa.ForeignKey("parties.id")),
            sa.Column("agreement_id", sa.Integer, sa.ForeignKey("agreements.id")),
            sa.Column("basis", sa.String(16), nullable=False),
            sa.Column("method", sa.String(32), nullable=False),
            sa.Column("score", sa.Float, nullable=False),
            sa.Column("input_label", sa.Text, nullable=False),
            sa.Column("verdict", sa.String(16), nullable=False),
            *chain(),
            sa.CheckConstraint("basis IN ('licence', 'attribution')", name="ck_usage_events_basis"),
            **auto,
        ),
    ]


def _chained_copy(bind: sa.Connection, old: str, new: sa.Table, batch: int = 5_000) -> None:
    """Copy a ledger into ``new`` in id order, filling in its hash chain."""
    columns = [c.name for c in new.columns if c.name not in ("prev_hash", "row_hash")]
    source = sa.table(old, *(sa.column(c) for c in columns))
    prev, after = GENESIS, 0
    while True:
        page = bind.execute(
            sa.select(source).where(source.c.id > after).order_by(source.c.id).limit(batch)
        ).all()
        if not page:
            return
        rows = []
        for r in page:
            row = dict(r._mapping)
            row["at"] = _stored_at(row["at"])
            digest = chain_hash(prev, row_payload(new.name.removeprefix("_new_"), row))
            rows.append({**row, "prev_hash": prev, "row_hash": digest})
            prev = digest
        bind.execute(sa.insert(new), rows)
        after = int(page[-1].id)


def _stored_at(value: Any) -> Any:
    """SQLite hands timestamps back naive (stored as UTC) and sometimes as text."""
    from datetime import UTC, datetime

    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def _sqlite_upgrade(bind: sa.Connection) -> None:
    dialect = bind.dialect
    for table in _tables():
        name = table.name
        ddl = str(CreateTable(table).compile(dialect=dialect)).strip()
        head = f"CREATE TABLE {name} ("
        assert ddl.startswith(head), ddl[:80]
        temp = f"_new_{name}"
        bind.exec_driver_sql(f"CREATE TABLE {temp} (" + ddl[len(head) :])
        new = table.to_metadata(sa.MetaData(), name=temp)
        if name in _LEDGERS:
            _chained_copy(bind, name, new)
        else:
            cols = ", ".join(c.name for c in table.columns)
            bind.exec_driver_sql(
                f"INSERT INTO {temp} ({cols}) SELECT {cols} FROM {name} ORDER BY id"
            )
        bind.exec_driver_sql(f"DROP TABLE {name}")
        bind.exec_driver_sql(f"ALTER TABLE {temp} RENAME TO {name}")
    for index, table_name, cols in _INDEXES:
        bind.exec_driver_sql(f"CREATE INDEX {index} ON {table_name} ({cols})")
    for ledger in _LEDGERS:
        for event in ("UPDATE", "DELETE"):
            bind.exec_driver_sql(
                f"CREATE TRIGGER {ledger}_no_{event.lower()} BEFORE {event} ON {ledger} "
                f"BEGIN SELECT RAISE(ABORT, '{ledger} is append-only'); END"
            )
        # INSERT OR REPLACE deletes the old row without firing delete triggers
        bind.exec_driver_sql(
            f"CREATE TRIGGER {ledger}_no_replace BEFORE INSERT ON {ledger} "
            f"WHEN EXISTS (SELECT 1 FROM {ledger} WHERE id = NEW.id) "
            f"BEGIN SELECT RAISE(ABORT, '{ledger} is append-only'); END"
        )
    _raise_sqlite_counters(bind)
    problems = bind.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if problems:
        raise RuntimeError(f"foreign key check failed after the rebuild: {problems[:5]}")


def _raise_sqlite_counters(bind: sa.Connection) -> None:
    """Set each AUTOINCREMENT counter past every id the history still mentions."""
    mentioned = {
        "works": [
            "SELECT max(id) FROM works",
            "SELECT max(entity_id) FROM audit_log WHERE entity = 'work'",
            "SELECT max(work_id) FROM agreements",
            "SELECT max(work_id) FROM usage_events",
        ],
        "parties": [
            "SELECT max(id) FROM parties",
            "SELECT max(entity_id) FROM audit_log WHERE entity = 'party'",
        ],
        "agreements": [
            "SELECT max(id) FROM agreements",
            "SELECT max(entity_id) FROM audit_log WHERE entity = 'agreement'",
            "SELECT max(agreement_id) FROM usage_events",
        ],
    }
    for table in (t.name for t in _tables()):
        queries = mentioned.get(table, [f"SELECT max(id) FROM {table}"])
        high = max(int(bind.exec_driver_sql(q).scalar() or 0) for q in queries)
        bind.exec_driver_sql("DELETE FROM sqlite_sequence WHERE name = ?", (table,))
        if high:
            bind.exec_driver_sql(
                "INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", (table, high)
            )


def _postgres_upgrade(bind: sa.Connection) -> None:
    for ledger in _LEDGERS:
        op.add_column(ledger, sa.Column("prev_hash", sa.String(64)))
        op.add_column(ledger, sa.Column("row_hash", sa.String(64)))
        bind.exec_driver_sql(f"ALTER TABLE {ledger} DISABLE TRIGGER {ledger}_append_only")
        table = next(t for t in _tables() if t.name == ledger)
        columns = [c.name for c in table.columns if c.name not in ("prev_hash", "row_hash")]
        source = sa.table(ledger, *(sa.column(c) for c in [*columns, "prev_hash", "row_hash"]))
        prev, after = GENESIS, 0
        while True:
            page = bind.execute(
                sa.select(*(source.c[c] for c in columns))
                .where(source.c.id > after)
                .order_by(source.c.id)
                .limit(5_000)
            ).all()
            if not page:
                break
            updates = []
            for r in page:
                row = dict(r._mapping)
                digest = chain_hash(prev, row_payload(ledger, row))
                updates.append({"rid": row["id"], "p": prev, "h": digest})
                prev = digest
            bind.execute(
                sa.update(source)
                .where(source.c.id == sa.bindparam("rid"))
                .values(prev_hash=sa.bindparam("p"), row_hash=sa.bindparam("h")),
                updates,
            )
            after = int(page[-1].id)
        bind.exec_driver_sql(f"ALTER TABLE {ledger} ENABLE TRIGGER {ledger}_append_only")
        op.alter_column(ledger, "prev_hash", nullable=False)
        op.alter_column(ledger, "row_hash", nullable=False)
    bind.exec_driver_sql(
        "CREATE FUNCTION clearance_ledger_no_truncate() RETURNS trigger AS $$ "
        "BEGIN RAISE EXCEPTION '%% is append-only', TG_TABLE_NAME; END; $$ LANGUAGE plpgsql"
    )
    for ledger in _LEDGERS:
        bind.exec_driver_sql(
            f"CREATE TRIGGER {ledger}_no_truncate BEFORE TRUNCATE ON {ledger} "
            "FOR EACH STATEMENT EXECUTE FUNCTION clearance_ledger_no_truncate()"
        )


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        _sqlite_upgrade(bind)
    elif bind.dialect.name == "postgresql":
        _postgres_upgrade(bind)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for ledger in _LEDGERS:
            bind.exec_driver_sql(f"DROP TRIGGER IF EXISTS {ledger}_no_truncate ON {ledger}")
        bind.exec_driver_sql("DROP FUNCTION IF EXISTS clearance_ledger_no_truncate()")
    elif bind.dialect.name == "sqlite":
        for ledger in _LEDGERS:
            bind.exec_driver_sql(f"DROP TRIGGER IF EXISTS {ledger}_no_replace")
    for ledger in _LEDGERS:  # AUTOINCREMENT stays: it only ever keeps ids unique
        op.drop_column(ledger, "row_hash")
        op.drop_column(ledger, "prev_hash")

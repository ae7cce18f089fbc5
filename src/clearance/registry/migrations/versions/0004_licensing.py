"""Licensing that pays: prices per usage, terms history, requests, the run ledger, notices.

* ``terms`` rows already carry a price each; they gain ``term`` (an ISO 8601
  period) and ``territory``, and every licensed usage now keeps its own price
  model (per item, per run, per output, pool share).
* ``terms_history``: the full stated terms of a scope (a work, or an owner's
  defaults) after every change, append-only, so any past decision can be
  explained as of its date. Seeded with each scope's terms as they are now.
* ``agreements`` gain ``prices`` (the agreed price model per usage, JSON),
  ``manifest_digest`` (the scan a request came from) and ``request_id``.
* ``usage_events`` gain ``amount`` and ``currency`` (hashed into the chain only
  when set, so the existing chain still verifies).
* ``license_requests`` (one per owner, from a scan's ``licenses.json``),
  ``runs`` and ``run_lines`` (the run ledger: which works, how many items,
  under which agreement, what amount) and ``notices`` (queued when terms
  turn from allow or licence to deny). The ledgers refuse UPDATE and DELETE.

Revision ID: 0004
Revises: 0003
Create Date: 2027-02-01
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)
_APPEND_ONLY = ("terms_history", "runs", "run_lines", "notices")
_AUTO: dict[str, Any] = {"sqlite_autoincrement": True}


def _append_only(dialect: str) -> None:
    if dialect == "sqlite":
        for table in _APPEND_ONLY:
            for event in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
                )
            op.execute(
                f"CREATE TRIGGER {table}_no_replace BEFORE INSERT ON {table} "
                f"WHEN EXISTS (SELECT 1 FROM {table} WHERE id = NEW.id) "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            )
    elif dialect == "postgresql":
        op.execute(
            "CREATE FUNCTION clearance_append_only() RETURNS trigger AS $$ "
            "BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END; $$ LANGUAGE plpgsql"
        )
        for table in _APPEND_ONLY:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION clearance_append_only()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION clearance_append_only()"
            )


def _seed_history(bind: sa.Connection) -> None:
    """One history row per scope with terms: its stated terms as they are at the upgrade."""
    terms = sa.table(
        "terms",
        *(
            sa.column(c)
            for c in (
                "work_id",
                "party_id",
                "usage",
                "permission",
                "price_amount",
                "price_currency",
                "price_per",
                "updated_at",
            )
        ),
    )
    scopes: dict[tuple[Any, Any], dict[str, Any]] = {}
    for r in bind.execute(sa.select(terms).order_by(terms.c.work_id, terms.c.party_id)):
        doc = scopes.setdefault(
            (r.work_id, r.party_id), {"permissions": {}, "prices": {}, "at": r.updated_at}
        )
        doc["permissions"][r.usage] = r.permission
        if r.permission == "license" and r.price_amount is not None:
            doc["prices"][r.usage] = {
                "amount": r.price_amount,
                "currency": r.price_currency,
                "per": r.price_per or "item",
            }
        doc["at"] = max(doc["at"], r.updated_at)
    history = sa.table(
        "terms_history",
        *(sa.column(c) for c in ("at", "actor", "work_id", "party_id", "terms", "cause")),
    )
    rows = [
        {
            "at": doc.pop("at"),
            "actor": "migration 0004",
            "work_id": work_id,
            "party_id": party_id,
            "terms": json.dumps(doc, sort_keys=True),
            "cause": "upgrade",
        }
        for (work_id, party_id), doc in scopes.items()
    ]
    if rows:
        bind.execute(sa.insert(history), rows)


def upgrade() -> None:
    bind = op.get_bind()
    op.add_column("terms", sa.Column("term", sa.String(16)))
    op.add_column("terms", sa.Column("territory", sa.String(64)))
    op.add_column("agreements", sa.Column("prices", sa.Text))
    op.add_column("agreements", sa.Column("manifest_digest", sa.String(64)))
    op.add_column("agreements", sa.Column("request_id", sa.Integer))
    op.add_column("usage_events", sa.Column("amount", sa.String(48)))
    op.add_column("usage_events", sa.Column("currency", sa.String(3)))
    op.create_table(
        "terms_history",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", _TS, nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("work_id", sa.Integer),  # no FK: history outlives a removed work
        sa.Column("party_id", sa.Integer),
        sa.Column("terms", sa.Text, nullable=False),
        sa.Column("cause", sa.String(32), nullable=False),
        **_AUTO,
    )
    op.create_index("ix_terms_history_work", "terms_history", ["work_id"])
    op.create_index("ix_terms_history_party", "terms_history", ["party_id"])
    op.create_table(
        "license_requests",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("licensee_id", sa.Integer, sa.ForeignKey("parties.id"), nullable=False),
        sa.Column("owner_id", sa.Integer, sa.ForeignKey("parties.id"), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("manifest_digest", sa.String(64), nullable=False),
        sa.Column("lines", sa.Text, nullable=False),
        sa.Column("totals", sa.Text, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("decided_at", _TS),
        sa.CheckConstraint(
            "status IN ('pending', 'accepted', 'rejected')", name="ck_license_requests_status"
        ),
        sa.UniqueConstraint(
            "licensee_id", "owner_id", "manifest_digest", name="uq_license_requests_scan"
        ),
        **_AUTO,
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_key", sa.String(64), nullable=False, unique=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("model", sa.String(255)),
        sa.Column("licensee_id", sa.Integer, sa.ForeignKey("parties.id"), nullable=False),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("manifests", sa.Text, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        **_AUTO,
    )
    op.create_table(
        "run_lines",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("work_id", sa.Integer, nullable=False),
        sa.Column("owner_id", sa.Integer, sa.ForeignKey("parties.id"), nullable=False),
        sa.Column("usage", sa.String(16), nullable=False),
        sa.Column("items", sa.Integer, nullable=False),
        sa.Column("agreement_id", sa.Integer, sa.ForeignKey("agreements.id")),
        sa.Column("permission", sa.String(16), nullable=False),
        sa.Column("price", sa.Text),
        sa.Column("amount", sa.String(48)),
        sa.Column("currency", sa.String(3)),
        **_AUTO,
    )
    op.create_index("ix_run_lines_run", "run_lines", ["run_id"])
    op.create_index("ix_run_lines_work", "run_lines", ["work_id"])
    op.create_table(
        "notices",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", _TS, nullable=False),
        sa.Column("licensee_id", sa.Integer, sa.ForeignKey("parties.id"), nullable=False),
        sa.Column("owner_id", sa.Integer, sa.ForeignKey("parties.id"), nullable=False),
        sa.Column("work_id", sa.Integer),
        sa.Column("usage", sa.String(16), nullable=False),
        sa.Column("before", sa.String(16), nullable=False),
        sa.Column("after", sa.String(16), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        **_AUTO,
    )
    op.create_index("ix_notices_licensee", "notices", ["licensee_id"])
    _append_only(bind.dialect.name)
    _seed_history(bind)


def downgrade() -> None:
    bind = op.get_bind()
    for table in ("notices", "run_lines", "runs", "license_requests", "terms_history"):
        op.drop_table(table)
    if bind.dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS clearance_append_only()")
    for table, column in (
        ("usage_events", "currency"),
        ("usage_events", "amount"),
        ("agreements", "request_id"),
        ("agreements", "manifest_digest"),
        ("agreements", "prices"),
        ("terms", "territory"),
        ("terms", "term"),
    ):
        op.drop_column(table, column)

"""Initial registry schema: parties, works, identifiers, fingerprints, terms, claims, audit log.

The audit log is append-only: triggers refuse UPDATE and DELETE on it, on both
SQLite and PostgreSQL, so history cannot be rewritten through the store.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "parties",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(255), nullable=False, unique=True),
        sa.Column("contact", sa.Text),
        sa.Column("created_at", _TS, nullable=False),
    )
    op.create_table(
        "works",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("title", sa.Text),
        sa.Column("owner_id", sa.Integer, sa.ForeignKey("parties.id"), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
    )
    op.create_index("ix_works_owner", "works", ["owner_id"])
    op.create_table(
        "identifiers",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "work_id", sa.Integer, sa.ForeignKey("works.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("scheme", sa.String(16), nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.UniqueConstraint("work_id", "scheme", "value", name="uq_identifiers_work_scheme_value"),
    )
    op.create_index("ix_identifiers_scheme_value", "identifiers", ["scheme", "value"])
    op.create_table(
        "fingerprints",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "work_id", sa.Integer, sa.ForeignKey("works.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("algo", sa.String(32), nullable=False),
        sa.Column("format_version", sa.Integer, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("quality", sa.Integer),
        sa.Column("created_at", _TS, nullable=False),
    )
    op.create_index("ix_fingerprints_algo", "fingerprints", ["algo"])
    op.create_index("ix_fingerprints_work", "fingerprints", ["work_id"])
    op.create_table(
        "terms",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("work_id", sa.Integer, sa.ForeignKey("works.id", ondelete="CASCADE")),
        sa.Column("party_id", sa.Integer, sa.ForeignKey("parties.id", ondelete="CASCADE")),
        sa.Column("usage", sa.String(16), nullable=False),
        sa.Column("permission", sa.String(16), nullable=False),
        sa.Column("price_amount", sa.String(40)),
        sa.Column("price_currency", sa.String(3)),
        sa.Column("price_per", sa.String(8)),
        sa.Column("updated_at", _TS, nullable=False),
        sa.CheckConstraint("(work_id IS NULL) <> (party_id IS NULL)", name="ck_terms_one_scope"),
        sa.UniqueConstraint("work_id", "usage", name="uq_terms_work_usage"),
        sa.UniqueConstraint("party_id", "usage", name="uq_terms_party_usage"),
    )
    op.create_table(
        "claims",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "work_id", sa.Integer, sa.ForeignKey("works.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("party_id", sa.Integer, sa.ForeignKey("parties.id"), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("created_at", _TS, nullable=False),
        sa.UniqueConstraint("work_id", "party_id", name="uq_claims_work_party"),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", _TS, nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("entity", sa.String(32), nullable=False),
        sa.Column("entity_id", sa.Integer),
        sa.Column("detail", sa.Text, nullable=False),
    )
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_log_no_{event.lower()} BEFORE {event} ON audit_log "
                "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
            )
    elif dialect == "postgresql":
        op.execute(
            "CREATE FUNCTION clearance_audit_append_only() RETURNS trigger AS $$ "
            "BEGIN RAISE EXCEPTION 'audit_log is append-only'; END; $$ LANGUAGE plpgsql"
        )
        op.execute(
            "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION clearance_audit_append_only()"
        )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table in ("audit_log", "claims", "terms", "fingerprints", "identifiers", "works"):
        op.drop_table(table)
    op.drop_table("parties")
    op.drop_table("meta")
    if dialect == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS clearance_audit_append_only()")

"""Licence agreements and the usage-event ledger.

``agreements`` records who may use whose works for which usages, and when;
agreements are never deleted, only revoked, so the history stays readable.
``usage_events`` is the ledger the licensing side turns into royalties: one row
per allowed output under a licence or with attribution. Like the audit log it
is append-only, enforced by triggers on both SQLite and PostgreSQL.

``agreements.work_id`` and ``usage_events.work_id`` carry no foreign key on
purpose: a work may be removed (a takedown) while its agreements and the
events recorded against it must stay as history. Removing a work revokes its
agreements instead (see ``SqlStore.remove_work``).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "agreements",
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
        sa.CheckConstraint("ends_at IS NULL OR ends_at > starts_at", name="ck_agreements_period"),
    )
    op.create_index("ix_agreements_licensee", "agreements", ["licensee_id"])
    op.create_index("ix_agreements_owner", "agreements", ["owner_id"])
    op.create_table(
        "usage_events",
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
        sa.CheckConstraint("basis IN ('licence', 'attribution')", name="ck_usage_events_basis"),
    )
    op.create_index("ix_usage_events_work", "usage_events", ["work_id"])
    op.create_index("ix_usage_events_licensee", "usage_events", ["licensee_id"])
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER usage_events_no_{event.lower()} BEFORE {event} ON usage_events "
                "BEGIN SELECT RAISE(ABORT, 'usage_events is append-only'); END"
            )
    elif dialect == "postgresql":
        op.execute(
            "CREATE FUNCTION clearance_usage_events_append_only() RETURNS trigger AS $$ "
            "BEGIN RAISE EXCEPTION 'usage_events is append-only'; END; $$ LANGUAGE plpgsql"
        )
        op.execute(
            "CREATE TRIGGER usage_events_append_only BEFORE UPDATE OR DELETE ON usage_events "
            "FOR EACH ROW EXECUTE FUNCTION clearance_usage_events_append_only()"
        )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.drop_table("usage_events")
    op.drop_table("agreements")
    if dialect == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS clearance_usage_events_append_only()")

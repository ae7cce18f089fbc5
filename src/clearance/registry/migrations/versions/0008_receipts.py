"""Receipts: a licensee's signed scan root and the per-owner proofs it posted.

``receipts`` holds one row per (licensee, owner, run root): the dataset's
name, the signed root's run root, key id and public key, what the owner's
proof shows (rows, rows excluded, distinct works excluded) and the proof
document itself, so the owner can download it and check it offline.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "receipts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("licensee_id", sa.Integer, sa.ForeignKey("parties.id"), nullable=False),
        sa.Column("owner_id", sa.Integer, sa.ForeignKey("parties.id"), nullable=False),
        sa.Column("dataset", sa.String(255), nullable=False),
        sa.Column("run_root", sa.String(64), nullable=False),
        sa.Column("key_id", sa.String(16), nullable=False),
        sa.Column("public_key", sa.String(64), nullable=False),
        sa.Column("items", sa.Integer, nullable=False),
        sa.Column("items_excluded", sa.Integer, nullable=False),
        sa.Column("works_excluded", sa.Integer, nullable=False),
        sa.Column("proof", sa.Text, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.UniqueConstraint("licensee_id", "owner_id", "run_root", name="uq_receipts_scan"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_receipts_owner", "receipts", ["owner_id"])
    op.create_index("ix_receipts_licensee", "receipts", ["licensee_id"])


def downgrade() -> None:
    op.drop_index("ix_receipts_licensee", table_name="receipts")
    op.drop_index("ix_receipts_owner", table_name="receipts")
    op.drop_table("receipts")

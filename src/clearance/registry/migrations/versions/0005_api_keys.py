"""API keys: who may write through the HTTP API, as which party and in which role.

``api_keys`` holds one row per key: the party it acts for, its role (owner,
licensee or admin), a public ``key_id`` (the lookup part of the token, safe
to show and log) and the argon2 hash of the whole token. The token itself is
shown once, when the key is created, and never stored. A revoked key keeps its
row (``revoked_at``), so the audit log's references to it stay readable.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("key_id", sa.String(32), nullable=False, unique=True),
        sa.Column("party_id", sa.Integer, sa.ForeignKey("parties.id"), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("hash", sa.Text, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("revoked_at", _TS),
        sa.CheckConstraint("role IN ('owner', 'licensee', 'admin')", name="ck_api_keys_role"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_api_keys_party", "api_keys", ["party_id"])


def downgrade() -> None:
    op.drop_index("ix_api_keys_party", table_name="api_keys")
    op.drop_table("api_keys")

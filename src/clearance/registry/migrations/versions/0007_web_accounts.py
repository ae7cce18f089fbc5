"""Web accounts and their sessions: how a person signs in to the web app as a party.

``web_accounts`` holds one row per person: an email (lower-cased, unique), the
party the account acts for (a creator's works are that party's works; a
developer's requests and agreements are that party's), what the account is for
(``creator``, ``developer`` or ``admin``) and the argon2 hash of the password.
``web_sessions`` holds signed-in sessions: the SHA-256 of the cookie's token
(never the token), the CSRF token every form of that session must carry, and
when the session ends. Signing out deletes the row.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "web_accounts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String(254), nullable=False, unique=True),
        sa.Column("party_id", sa.Integer, sa.ForeignKey("parties.id"), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("hash", sa.Text, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.CheckConstraint(
            "role IN ('creator', 'developer', 'admin')", name="ck_web_accounts_role"
        ),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_web_accounts_party", "web_accounts", ["party_id"])
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column(
            "account_id",
            sa.Integer,
            sa.ForeignKey("web_accounts.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("expires_at", _TS, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_web_sessions_account", "web_sessions", ["account_id"])


def downgrade() -> None:
    op.drop_index("ix_web_sessions_account", table_name="web_sessions")
    op.drop_table("web_sessions")
    op.drop_index("ix_web_accounts_party", table_name="web_accounts")
    op.drop_table("web_accounts")

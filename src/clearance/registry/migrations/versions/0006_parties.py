"""Parties and verified identity: a level per party, and the identities behind it.

``parties.verification`` holds the party's level (``self``, ``domain``, ``key``
or ``admin``): the highest of its verified identities, kept in the same
transaction as the identity that raised it, so every read of a work gets its
claimant's level with the owner's row. Existing parties start at ``self``.

``party_identities`` holds one row per identity: a domain (with the token the
party publishes at ``/.well-known/clearance-verification.txt``; ``pending``
until it is fetched and found), an Ed25519 public key (``value`` its key id,
``public_key`` the raw key in base64) or an operator's verification
(``value`` the reason). Rows are revoked, never deleted.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column(
        "parties",
        sa.Column("verification", sa.String(16), nullable=False, server_default="self"),
    )
    op.create_table(
        "party_identities",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("party_id", sa.Integer, sa.ForeignKey("parties.id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("public_key", sa.Text),
        sa.Column("token", sa.String(64)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("verified_at", _TS),
        sa.Column("verified_by", sa.String(255)),
        sa.CheckConstraint("kind IN ('domain', 'key', 'admin')", name="ck_party_identities_kind"),
        sa.CheckConstraint(
            "status IN ('pending', 'verified', 'revoked')", name="ck_party_identities_status"
        ),
        sa.UniqueConstraint(
            "party_id", "kind", "value", name="uq_party_identities_party_kind_value"
        ),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_party_identities_kind_value", "party_identities", ["kind", "value"])


def downgrade() -> None:
    op.drop_index("ix_party_identities_kind_value", table_name="party_identities")
    op.drop_table("party_identities")
    with op.batch_alter_table("parties") as batch:
        batch.drop_column("verification")

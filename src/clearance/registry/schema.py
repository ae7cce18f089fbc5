"""The registry's tables as SQLAlchemy Core objects, used by the store's queries.

The schema itself is created and evolved only by the Alembic migrations in
``migrations/versions``; this module mirrors the newest revision so queries
are checked by SQLAlchemy. ``FORMAT_VERSION`` is written to the ``meta`` table
and bumped whenever a stored blob format (see docs/formats.md) changes.
"""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

FORMAT_VERSION = 1
HEAD_REVISION = "0001"

metadata = MetaData()

meta = Table(
    "meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

parties = Table(
    "parties",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(255), nullable=False, unique=True),
    Column("contact", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

works = Table(
    "works",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("title", Text),
    Column("owner_id", Integer, ForeignKey("parties.id"), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_works_owner", "owner_id"),
)

identifiers = Table(
    "identifiers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("work_id", Integer, ForeignKey("works.id", ondelete="CASCADE"), nullable=False),
    Column("scheme", String(16), nullable=False),
    Column("value", Text, nullable=False),
    UniqueConstraint("work_id", "scheme", "value", name="uq_identifiers_work_scheme_value"),
    Index("ix_identifiers_scheme_value", "scheme", "value"),
)

fingerprints = Table(
    "fingerprints",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("work_id", Integer, ForeignKey("works.id", ondelete="CASCADE"), nullable=False),
    Column("algo", String(32), nullable=False),
    Column("format_version", Integer, nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("quality", Integer),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_fingerprints_algo", "algo"),
    Index("ix_fingerprints_work", "work_id"),
)

terms = Table(
    "terms",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("work_id", Integer, ForeignKey("works.id", ondelete="CASCADE")),
    Column("party_id", Integer, ForeignKey("parties.id", ondelete="CASCADE")),
    Column("usage", String(16), nullable=False),
    Column("permission", String(16), nullable=False),
    Column("price_amount", String(40)),
    Column("price_currency", String(3)),
    Column("price_per", String(8)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("(work_id IS NULL) <> (party_id IS NULL)", name="ck_terms_one_scope"),
    UniqueConstraint("work_id", "usage", name="uq_terms_work_usage"),
    UniqueConstraint("party_id", "usage", name="uq_terms_party_usage"),
)

claims = Table(
    "claims",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("work_id", Integer, ForeignKey("works.id", ondelete="CASCADE"), nullable=False),
    Column("party_id", Integer, ForeignKey("parties.id"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("note", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("work_id", "party_id", name="uq_claims_work_party"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(255), nullable=False),
    Column("action", String(64), nullable=False),
    Column("entity", String(32), nullable=False),
    Column("entity_id", Integer),
    Column("detail", Text, nullable=False),
)

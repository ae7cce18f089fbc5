"""The registry's tables as SQLAlchemy Core objects, used by the store's queries.

Since revision ``0003`` no id is ever reused (``AUTOINCREMENT`` on SQLite,
sequences on PostgreSQL), and the two ledgers (``audit_log``,
``usage_events``) carry a hash chain (``prev_hash``, ``row_hash``; see
``registry.ledger``). Since ``0005`` ``api_keys`` holds the HTTP API's keys
(argon2 hashes only; ``registry.apikeys``). Since ``0006`` each party carries its
``verification`` level and ``party_identities`` holds the identities behind it
(domains, Ed25519 keys, operator verifications; ``registry.parties``).
(argon2 hashes only; ``registry.apikeys``). Since ``0008`` ``receipts`` holds
the scan receipts licensees post for rights holders (``registry.receipts``).
Since ``0007`` ``web_accounts`` and ``web_sessions`` hold the web app's sign-in
(``registry.accounts``).

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
    Float,
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
HEAD_REVISION = "0008"

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
    Column("verification", String(16), nullable=False, server_default="self"),  # 0006
    sqlite_autoincrement=True,
)

party_identities = Table(
    "party_identities",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("party_id", Integer, ForeignKey("parties.id"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("value", Text, nullable=False),
    Column("public_key", Text),
    Column("token", String(64)),
    Column("status", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("verified_at", DateTime(timezone=True)),
    Column("verified_by", String(255)),
    CheckConstraint("kind IN ('domain', 'key', 'admin')", name="ck_party_identities_kind"),
    CheckConstraint(
        "status IN ('pending', 'verified', 'revoked')", name="ck_party_identities_status"
    ),
    UniqueConstraint("party_id", "kind", "value", name="uq_party_identities_party_kind_value"),
    Index("ix_party_identities_kind_value", "kind", "value"),
    sqlite_autoincrement=True,
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
    sqlite_autoincrement=True,
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
    sqlite_autoincrement=True,
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
    sqlite_autoincrement=True,
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
    Column("term", String(16)),
    Column("territory", String(64)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("(work_id IS NULL) <> (party_id IS NULL)", name="ck_terms_one_scope"),
    UniqueConstraint("work_id", "usage", name="uq_terms_work_usage"),
    UniqueConstraint("party_id", "usage", name="uq_terms_party_usage"),
    sqlite_autoincrement=True,
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
    sqlite_autoincrement=True,
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
    Column("prev_hash", String(64), nullable=False),
    Column("row_hash", String(64), nullable=False),
    sqlite_autoincrement=True,
)

agreements = Table(
    "agreements",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("licensee_id", Integer, ForeignKey("parties.id"), nullable=False),
    Column("owner_id", Integer, ForeignKey("parties.id"), nullable=False),
    Column("work_id", Integer),  # no FK: agreements outlive a removed work (see 0002)
    Column("usages", Text, nullable=False),
    Column("starts_at", DateTime(timezone=True), nullable=False),
    Column("ends_at", DateTime(timezone=True)),
    Column("status", String(16), nullable=False),
    Column("reference", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("prices", Text),  # JSON: the agreed price model per usage (0004)
    Column("manifest_digest", String(64)),
    Column("request_id", Integer),
    CheckConstraint("status IN ('active', 'revoked')", name="ck_agreements_status"),
    CheckConstraint("ends_at IS NULL OR ends_at > starts_at", name="ck_agreements_period"),
    Index("ix_agreements_licensee", "licensee_id"),
    Index("ix_agreements_owner", "owner_id"),
    sqlite_autoincrement=True,
)

usage_events = Table(
    "usage_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("work_id", Integer, nullable=False),  # no FK: the ledger outlives a removed work
    Column("licensee_id", Integer, ForeignKey("parties.id")),
    Column("agreement_id", Integer, ForeignKey("agreements.id")),
    Column("basis", String(16), nullable=False),
    Column("method", String(32), nullable=False),
    Column("score", Float, nullable=False),
    Column("input_label", Text, nullable=False),
    Column("verdict", String(16), nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("row_hash", String(64), nullable=False),
    Column("amount", String(48)),  # 0004: exact decimal, hashed only when set
    Column("currency", String(3)),
    CheckConstraint("basis IN ('licence', 'attribution')", name="ck_usage_events_basis"),
    Index("ix_usage_events_work", "work_id"),
    Index("ix_usage_events_licensee", "licensee_id"),
    sqlite_autoincrement=True,
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("key_id", String(32), nullable=False, unique=True),
    Column("party_id", Integer, ForeignKey("parties.id"), nullable=False),
    Column("role", String(16), nullable=False),
    Column("hash", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
    CheckConstraint("role IN ('owner', 'licensee', 'admin')", name="ck_api_keys_role"),
    Index("ix_api_keys_party", "party_id"),
    sqlite_autoincrement=True,
)

# -- 0004: licensing -------------------------------------------------------------------------

terms_history = Table(
    "terms_history",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(255), nullable=False),
    Column("work_id", Integer),  # no FK: history outlives a removed work
    Column("party_id", Integer),
    Column("terms", Text, nullable=False),  # JSON: Terms.to_dict() after the change
    Column("cause", String(32), nullable=False),
    Index("ix_terms_history_work", "work_id"),
    Index("ix_terms_history_party", "party_id"),
    sqlite_autoincrement=True,
)

license_requests = Table(
    "license_requests",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("licensee_id", Integer, ForeignKey("parties.id"), nullable=False),
    Column("owner_id", Integer, ForeignKey("parties.id"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("purpose", String(16), nullable=False),
    Column("manifest_digest", String(64), nullable=False),
    Column("lines", Text, nullable=False),
    Column("totals", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("decided_at", DateTime(timezone=True)),
    CheckConstraint(
        "status IN ('pending', 'accepted', 'rejected')", name="ck_license_requests_status"
    ),
    UniqueConstraint("licensee_id", "owner_id", "manifest_digest", name="uq_license_requests_scan"),
    sqlite_autoincrement=True,
)

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_key", String(64), nullable=False, unique=True),
    Column("name", String(255), nullable=False),
    Column("model", String(255)),
    Column("licensee_id", Integer, ForeignKey("parties.id"), nullable=False),
    Column("purpose", String(16), nullable=False),
    Column("manifests", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    sqlite_autoincrement=True,
)

run_lines = Table(
    "run_lines",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", Integer, ForeignKey("runs.id"), nullable=False),
    Column("work_id", Integer, nullable=False),
    Column("owner_id", Integer, ForeignKey("parties.id"), nullable=False),
    Column("usage", String(16), nullable=False),
    Column("items", Integer, nullable=False),
    Column("agreement_id", Integer, ForeignKey("agreements.id")),
    Column("permission", String(16), nullable=False),
    Column("price", Text),
    Column("amount", String(48)),
    Column("currency", String(3)),
    Index("ix_run_lines_run", "run_id"),
    Index("ix_run_lines_work", "work_id"),
    sqlite_autoincrement=True,
)

notices = Table(
    "notices",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("licensee_id", Integer, ForeignKey("parties.id"), nullable=False),
    Column("owner_id", Integer, ForeignKey("parties.id"), nullable=False),
    Column("work_id", Integer),
    Column("usage", String(16), nullable=False),
    Column("before", String(16), nullable=False),
    Column("after", String(16), nullable=False),
    Column("detail", Text, nullable=False),
    Index("ix_notices_licensee", "licensee_id"),
    sqlite_autoincrement=True,
)

# -- 0008: receipts --------------------------------------------------------------------------

receipts = Table(
    "receipts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("licensee_id", Integer, ForeignKey("parties.id"), nullable=False),
    Column("owner_id", Integer, ForeignKey("parties.id"), nullable=False),
    Column("dataset", String(255), nullable=False),
    Column("run_root", String(64), nullable=False),
    Column("key_id", String(16), nullable=False),
    Column("public_key", String(64), nullable=False),
    Column("items", Integer, nullable=False),
    Column("items_excluded", Integer, nullable=False),
    Column("works_excluded", Integer, nullable=False),
    Column("proof", Text, nullable=False),  # the clearance.proof document, canonical JSON
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("licensee_id", "owner_id", "run_root", name="uq_receipts_scan"),
    Index("ix_receipts_owner", "owner_id"),
    Index("ix_receipts_licensee", "licensee_id"),
    sqlite_autoincrement=True,
)

# -- 0007: web accounts ----------------------------------------------------------------------

web_accounts = Table(
    "web_accounts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("email", String(254), nullable=False, unique=True),
    Column("party_id", Integer, ForeignKey("parties.id"), nullable=False),
    Column("role", String(16), nullable=False),
    Column("hash", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("role IN ('creator', 'developer', 'admin')", name="ck_web_accounts_role"),
    Index("ix_web_accounts_party", "party_id"),
    sqlite_autoincrement=True,
)

web_sessions = Table(
    "web_sessions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column(
        "account_id", Integer, ForeignKey("web_accounts.id", ondelete="CASCADE"), nullable=False
    ),
    Column("csrf", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Index("ix_web_sessions_account", "account_id"),
    sqlite_autoincrement=True,
)

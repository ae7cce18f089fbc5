"""The rights registry: parties, works, identifiers, fingerprints, terms, claims, audit log,
licence agreements and the usage-event ledger.

One store interface (``RegistryStore``) with SQLite (the embedded default, a
file path) and PostgreSQL (a ``postgresql://`` URL) backends through SQLAlchemy
Core, and Alembic migrations that create and upgrade the schema.
"""

from clearance.registry.agreements import (
    active_agreements,
    grant_agreement,
    list_agreements,
    list_usage_events,
    record_usage_events,
    revoke_agreement,
)
from clearance.registry.apikeys import ApiKey, KeyVerifier, Role, create_key, list_keys, revoke_key
from clearance.registry.disputes import (
    Dispute,
    get_dispute,
    list_disputes,
    resolve_dispute,
)
from clearance.registry.engine import DEFAULT_REGISTRY, registry_url
from clearance.registry.identifiers import parse_identifier, parse_target
from clearance.registry.records import (
    AuditEntry,
    ContentCheck,
    FingerprintRecord,
    Registration,
    RegistrationStatus,
    Resemblance,
    TermsChange,
    WorkSpec,
)
from clearance.registry.register import (
    AddSummary,
    Skipped,
    add_upload,
    add_works,
    detect_kind,
    register_identifier,
)
from clearance.registry.store import RegistryStore, SqlStore, init_store, open_store

__all__ = [
    "DEFAULT_REGISTRY",
    "AddSummary",
    "ApiKey",
    "AuditEntry",
    "ContentCheck",
    "Dispute",
    "FingerprintRecord",
    "KeyVerifier",
    "Registration",
    "RegistrationStatus",
    "RegistryStore",
    "Resemblance",
    "Role",
    "Skipped",
    "SqlStore",
    "TermsChange",
    "WorkSpec",
    "active_agreements",
    "add_upload",
    "add_works",
    "create_key",
    "detect_kind",
    "get_dispute",
    "grant_agreement",
    "init_store",
    "list_agreements",
    "list_disputes",
    "list_keys",
    "list_usage_events",
    "open_store",
    "parse_identifier",
    "parse_target",
    "record_usage_events",
    "register_identifier",
    "registry_url",
    "resolve_dispute",
    "revoke_agreement",
    "revoke_key",
]

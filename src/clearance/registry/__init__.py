"""The rights registry: parties, works, identifiers, fingerprints, terms, claims, audit log.

One store interface (``RegistryStore``) with SQLite (the embedded default, a
file path) and PostgreSQL (a ``postgresql://`` URL) backends through SQLAlchemy
Core, and Alembic migrations that create and upgrade the schema.
"""

from clearance.registry.engine import DEFAULT_REGISTRY, registry_url
from clearance.registry.identifiers import parse_identifier, parse_target
from clearance.registry.records import (
    AuditEntry,
    FingerprintRecord,
    Registration,
    RegistrationStatus,
    TermsChange,
    WorkSpec,
)
from clearance.registry.register import AddSummary, Skipped, add_works, detect_kind
from clearance.registry.store import RegistryStore, SqlStore, init_store, open_store

__all__ = [
    "DEFAULT_REGISTRY",
    "AddSummary",
    "AuditEntry",
    "FingerprintRecord",
    "Registration",
    "RegistrationStatus",
    "RegistryStore",
    "Skipped",
    "SqlStore",
    "TermsChange",
    "WorkSpec",
    "add_works",
    "detect_kind",
    "init_store",
    "open_store",
    "parse_identifier",
    "parse_target",
    "registry_url",
]

"""Alembic migrations for the registry; run through ``clearance.registry.migrate``."""

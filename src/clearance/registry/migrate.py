"""Creating and upgrading a registry's schema with Alembic, and checking its version.

``clearance init`` calls ``upgrade``: it creates a new registry or brings an old
one to the newest revision, and is safe to run twice. Opening a store calls
``check_version`` so a registry that was never initialised, or was written by a
newer Clearance, fails with a clear message instead of a SQL error.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, insert, inspect, select, update

from clearance.core.errors import RegistryNotInitialised, RegistryVersionError
from clearance.registry import schema
from clearance.registry.engine import database_errors

_MIGRATIONS = Path(__file__).parent / "migrations"


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with database_errors("schema check"), engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _sqlite_pragma(conn: Connection, statement: str) -> None:
    """Run a PRAGMA on the driver connection, outside any transaction."""
    raw = conn.connection.dbapi_connection
    assert raw is not None
    raw.execute(statement)


def upgrade(engine: Engine) -> str:
    """Create or upgrade the schema to the newest revision; return that revision."""
    with database_errors("migration"):
        with engine.connect() as conn:
            sqlite = engine.dialect.name == "sqlite"
            if sqlite:  # table rebuilds (0003) must not cascade; only settable outside BEGIN
                _sqlite_pragma(conn, "PRAGMA foreign_keys=OFF")
            try:
                with conn.execution_options(clearance_write=True).begin():
                    cfg = _config()
                    cfg.attributes["connection"] = conn
                    command.upgrade(cfg, "head")
            finally:
                if sqlite:
                    _sqlite_pragma(conn, "PRAGMA foreign_keys=ON")
        with engine.begin() as conn:
            existing = conn.execute(
                select(schema.meta.c.value).where(schema.meta.c.key == "format_version")
            ).scalar_one_or_none()
            if existing is None:
                conn.execute(
                    insert(schema.meta).values(
                        key="format_version", value=str(schema.FORMAT_VERSION)
                    )
                )
            elif int(existing) < schema.FORMAT_VERSION:
                conn.execute(
                    update(schema.meta)
                    .where(schema.meta.c.key == "format_version")
                    .values(value=str(schema.FORMAT_VERSION))
                )
    return head_revision()


def check_version(engine: Engine) -> None:
    """Raise unless the registry is initialised at a revision this code understands."""
    with database_errors("schema check"), engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            raise RegistryNotInitialised(
                "the registry is not initialised", hint="run `clearance init` first"
            )
        revision = MigrationContext.configure(conn).get_current_revision()
        fmt = conn.execute(
            select(schema.meta.c.value).where(schema.meta.c.key == "format_version")
        ).scalar_one_or_none()
    known = {s.revision for s in ScriptDirectory.from_config(_config()).walk_revisions()}
    if revision not in known:
        raise RegistryVersionError(
            f"the registry is at schema revision {revision!r}, unknown to this Clearance",
            hint="upgrade Clearance",
        )
    if revision != head_revision():
        raise RegistryVersionError(
            f"the registry is at schema revision {revision}, older than {head_revision()}",
            hint="run `clearance init` to upgrade it",
        )
    if fmt is None or int(fmt) > schema.FORMAT_VERSION:
        raise RegistryVersionError(
            f"the registry's format version {fmt!r} is newer than this Clearance's "
            f"{schema.FORMAT_VERSION}",
            hint="upgrade Clearance",
        )

"""Revision 0006: a registry at 0005 upgrades, its parties start at ``self`` (both backends)."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect, text

from clearance.core.models import VerificationLevel
from clearance.registry import init_store
from clearance.registry.engine import make_engine, registry_url
from clearance.registry.migrate import _config, _sqlite_pragma
from clearance.registry.schema import HEAD_REVISION
from tests.registry.oldschema import insert_old_work


def test_upgrade_from_0005_gives_every_party_the_self_level(registry_location: str) -> None:
    engine = make_engine(registry_url(registry_location))
    try:
        with engine.begin() as conn:
            cfg = _config()
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0002")
            conn.execute(text("INSERT INTO meta (key, value) VALUES ('format_version', '1')"))
            work = insert_old_work(conn, "Ann", "a" * 64)
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                _sqlite_pragma(conn, "PRAGMA foreign_keys=OFF")
            with conn.begin():
                cfg = _config()
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "0005")
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0005"
            assert "verification" not in {c["name"] for c in inspect(conn).get_columns("parties")}
    finally:
        engine.dispose()
    with init_store(registry_location) as store:
        with store.engine.connect() as conn:
            version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
            assert version == HEAD_REVISION
            assert "party_identities" in inspect(conn).get_table_names()
        got = store.get_work(work)
        assert got.owner.verification is VerificationLevel.SELF
        assert got.claims[0].verification is VerificationLevel.SELF
        assert got.to_dict()["owner_verification"] == "self"
        assert store.get_party("Ann").verification is VerificationLevel.SELF
        assert all(r.ok for r in store.verify_ledger())

"""docs/deploy.md's two PostgreSQL roles, run as written: the app works, and cannot rewrite.

The grants are read from the document itself, so the advice cannot drift
from what the store needs: everything Clearance does as the service role
succeeds, and TRUNCATE, DELETE, UPDATE and dropping a trigger on the ledgers
are refused by the database's own permissions, not only by our triggers.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from clearance.core import IdentifierScheme, UsageBasis, UsageEvent
from clearance.core.models import Identifier, WorkKind
from clearance.registry import (
    FingerprintRecord,
    KeyVerifier,
    WorkSpec,
    create_key,
    grant_agreement,
    init_store,
    open_store,
    record_usage_events,
    revoke_agreement,
    revoke_key,
)

DEPLOY = Path(__file__).parents[2] / "docs" / "deploy.md"


def _grants() -> list[str]:
    """The statements the document tells the owner to run after every ``clearance init``."""
    sql = DEPLOY.read_text(encoding="utf-8").split("```sql", 1)[1].split("```", 1)[0]
    after = sql.split("after every `clearance init`", 1)[1]
    statements = re.sub(r"--[^\n]*", "", after)
    return [s.strip() for s in statements.split(";") if s.strip()]


@pytest.fixture
def roles(pg_database: str) -> Iterator[tuple[str, str]]:
    """(owner URL, app URL) for a fresh database owned by a fresh owner role."""
    suffix = uuid.uuid4().hex[:8]
    owner, app = f"clr_owner_{suffix}", f"clr_app_{suffix}"
    base, _, dbname = pg_database.rpartition("/")
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {owner} LOGIN")
        conn.execute(f"CREATE ROLE {app} LOGIN")
        conn.execute(f'ALTER DATABASE "{dbname}" OWNER TO {owner}')
        conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        conn.execute(f"GRANT USAGE, CREATE ON SCHEMA public TO {owner}")
        conn.execute(f"GRANT USAGE ON SCHEMA public TO {app}")

    def url(role: str) -> str:
        return base.replace("root@", f"{role}@") + "/" + dbname

    try:
        yield url(owner), url(app)
    finally:
        with psycopg.connect(pg_database, autocommit=True) as conn:
            conn.execute(f"DROP OWNED BY {app}")
            conn.execute(f"REASSIGN OWNED BY {owner} TO CURRENT_USER")
            conn.execute(f"DROP OWNED BY {owner}")
        with psycopg.connect(base + "/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
            conn.execute(f"DROP ROLE {app}")
            conn.execute(f"DROP ROLE {owner}")


def test_the_service_role_works_and_cannot_rewrite_the_ledgers(roles: tuple[str, str]) -> None:
    owner_url, app_url = roles
    init_store(owner_url).close()
    app_role = psycopg.conninfo.conninfo_to_dict(app_url.replace("+psycopg", ""))["user"]
    with psycopg.connect(owner_url, autocommit=True) as conn:
        for statement in _grants():
            conn.execute(statement.replace("clearance_app", str(app_role)))
    with open_store(app_url) as store:
        spec = WorkSpec(
            WorkKind.IMAGE,
            "Ann",
            (Identifier(IdentifierScheme.SHA256, "a" * 64),),
            fingerprints=(FingerprintRecord("pdq", b"\x01" * 32, 1, 90),),
        )
        work = store.register(spec).work.id
        deal = grant_agreement(store, "GenCo", "Ann", work)
        event = UsageEvent(datetime.now(UTC), work, UsageBasis.LICENCE, "pdq", 1.0, "x", "allow")
        record_usage_events(store, [event])
        revoke_agreement(store, deal.id)
        key, token = create_key(store, "Ann", "owner")
        assert KeyVerifier(store).verify(token).party == "Ann"
        revoke_key(store, key.key_id)
        store.remove_work(work)
        assert all(r.ok for r in store.verify_ledger())
    with psycopg.connect(app_url.replace("+psycopg", ""), autocommit=True) as conn:
        for attack in (
            "TRUNCATE audit_log",
            "DELETE FROM usage_events",
            "UPDATE audit_log SET actor = 'x'",
            "DROP TRIGGER audit_log_append_only ON audit_log",
            "ALTER TABLE usage_events DISABLE TRIGGER USER",
            "CREATE TABLE sneaky (id int)",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(attack)

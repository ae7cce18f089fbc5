"""Rows written the way Clearance before revision 0003 wrote them, for upgrade tests.

Today's store cannot write to an old schema (it chains every ledger row), so
upgrade tests fill old registries with plain SQL: one party, one work with its
identifier, fingerprint and claim, and the audit rows the old store wrote.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import Connection, text


def insert_old_work(conn: Connection, owner: str, sha256: str, *, title: str = "art") -> int:
    """Register one image work by ``owner`` with raw SQL, as revision 0001/0002 did; its id."""
    now = datetime.now(UTC)
    party = conn.execute(text("SELECT id FROM parties WHERE name = :n"), {"n": owner}).scalar()
    if party is None:
        conn.execute(
            text("INSERT INTO parties (name, created_at) VALUES (:n, :at)"), {"n": owner, "at": now}
        )
        party = conn.execute(text("SELECT id FROM parties WHERE name = :n"), {"n": owner}).scalar()
        _audit(conn, now, "party.create", "party", party, json.dumps({"name": owner}))
    conn.execute(
        text("INSERT INTO works (kind, title, owner_id, created_at) VALUES ('image', :t, :o, :at)"),
        {"t": title, "o": party, "at": now},
    )
    work = int(conn.execute(text("SELECT max(id) FROM works")).scalar_one())
    conn.execute(
        text("INSERT INTO identifiers (work_id, scheme, value) VALUES (:w, 'sha256', :v)"),
        {"w": work, "v": sha256},
    )
    conn.execute(
        text(
            "INSERT INTO fingerprints (work_id, algo, format_version, data, quality, created_at) "
            "VALUES (:w, 'pdq', 1, :d, 90, :at)"
        ),
        {"w": work, "d": b"\x01" * 32, "at": now},
    )
    conn.execute(
        text(
            "INSERT INTO claims (work_id, party_id, status, created_at) "
            "VALUES (:w, :p, 'active', :at)"
        ),
        {"w": work, "p": party, "at": now},
    )
    _audit(conn, now, "work.create", "work", work, json.dumps({"owner": owner}))
    return work


def _audit(
    conn: Connection, at: datetime, action: str, entity: str, entity_id: int, detail: str
) -> None:
    conn.execute(
        text(
            "INSERT INTO audit_log (at, actor, action, entity, entity_id, detail) "
            "VALUES (:at, 'clearance', :a, :e, :i, :d)"
        ),
        {"at": at, "a": action, "e": entity, "i": entity_id, "d": detail},
    )

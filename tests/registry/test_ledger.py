"""Ledger integrity (issue #11): ids are never reused, the ledgers refuse rewrites, hash chains.

Each test reproduces an attack on the registry's history, on SQLite and on the
real PostgreSQL: reusing a removed work's id, ``INSERT OR REPLACE`` and
``TRUNCATE`` past the append-only triggers, a superuser who rewrites a row
behind the triggers' back, and many writers at once.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from clearance.cli import main
from clearance.core import IdentifierScheme, UsageBasis, UsageEvent
from clearance.core.models import Identifier, WorkKind
from clearance.registry import (
    FingerprintRecord,
    SqlStore,
    WorkSpec,
    grant_agreement,
    init_store,
    list_agreements,
    list_usage_events,
    open_store,
    record_usage_events,
)
from clearance.registry import schema as s
from clearance.registry.engine import make_engine, registry_url
from clearance.registry.ledger import chained
from clearance.registry.migrate import _config
from tests.registry.oldschema import insert_old_work


def _work(store: SqlStore, owner: str, key: str) -> int:
    spec = WorkSpec(
        WorkKind.IMAGE,
        owner,
        (Identifier(IdentifierScheme.SHA256, key * 64),),
        fingerprints=(FingerprintRecord("pdq", key.encode() * 32, 1, 90),),
    )
    return store.register(spec).work.id


def _event(work_id: int, licensee: str = "GenCo", agreement: int | None = None) -> UsageEvent:
    return UsageEvent(
        at=datetime.now(UTC),
        work_id=work_id,
        basis=UsageBasis.LICENCE if agreement else UsageBasis.ATTRIBUTION,
        method="pdq",
        score=0.97,
        input_label="out.png",
        verdict="allow",
        licensee=licensee,
        agreement_id=agreement,
    )


@contextmanager
def superuser(store: SqlStore, table: str) -> Iterator[Connection]:
    """A connection that writes ``table`` behind its append-only triggers, as a DBA could."""
    with store.engine.begin() as conn:
        if store.dialect == "postgresql":
            conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
            yield conn
            conn.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))
            return
        triggers = conn.execute(
            text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = :t"),
            {"t": table},
        ).all()
        for name, _ in triggers:
            conn.execute(text(f"DROP TRIGGER {name}"))
        yield conn
        for _, sql in triggers:
            conn.execute(text(sql))


def test_a_removed_works_id_is_never_reused(store: SqlStore) -> None:
    ann = _work(store, "Ann", "a")
    deal = grant_agreement(store, "GenCo", "Ann", ann)
    record_usage_events(store, [_event(ann, agreement=deal.id)])
    store.remove_work(ann)
    zed = _work(store, "Zed", "z")
    assert zed > ann
    assert list_usage_events(store, work_id=zed) == []
    assert [a.work_id for a in list_agreements(store)] == [ann]
    zeds_history = [e.action for e in store.audit_log() if (e.entity, e.entity_id) == ("work", zed)]
    assert zeds_history == ["work.create"]


def test_upgrade_from_0002_keeps_history_chains_it_and_reuses_no_id(
    registry_location: str,
) -> None:
    engine = make_engine(registry_url(registry_location))
    try:
        with engine.begin() as conn:
            cfg = _config()
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0002")
            conn.execute(text("INSERT INTO meta (key, value) VALUES ('format_version', '1')"))
            kept = insert_old_work(conn, "Bob", "b" * 64)
            gone = insert_old_work(conn, "Ann", "a" * 64)
            licensee = insert_old_work(conn, "GenCo", "c" * 64)  # makes GenCo a party
            now = datetime.now(UTC)
            conn.execute(
                text(
                    "INSERT INTO agreements (licensee_id, owner_id, work_id, usages, starts_at, "
                    "status, created_at) SELECT g.owner_id, a.owner_id, a.id, 'output', :at, "
                    "'revoked', :at FROM works a, works g WHERE a.id = :gone AND g.id = :lic"
                ),
                {"at": now, "gone": gone, "lic": licensee},
            )
            conn.execute(
                text(
                    "INSERT INTO usage_events (at, kind, work_id, basis, method, score, "
                    "input_label, verdict) VALUES (:at, 'inference', :w, 'attribution', 'pdq', "
                    "0.5, 'x.png', 'allow')"
                ),
                {"at": now, "w": gone},
            )
            for table in ("identifiers", "fingerprints", "claims"):
                conn.execute(text(f"DELETE FROM {table} WHERE work_id = :w"), {"w": gone})
            conn.execute(text("DELETE FROM works WHERE id = :w"), {"w": gone})
            # before 0003, SQLite would hand Ann's id to the next work
            conn.execute(text("DELETE FROM works WHERE id = :w"), {"w": licensee})
            conn.execute(text("DELETE FROM identifiers WHERE work_id = :w"), {"w": licensee})
            conn.execute(text("DELETE FROM fingerprints WHERE work_id = :w"), {"w": licensee})
            conn.execute(text("DELETE FROM claims WHERE work_id = :w"), {"w": licensee})
            audit_rows = conn.execute(text("SELECT count(*) FROM audit_log")).scalar_one()
    finally:
        engine.dispose()
    with init_store(registry_location) as store:
        assert store.get_work(kept).owner.name == "Bob"
        assert [e.work_id for e in list_usage_events(store)] == [gone]
        reports = store.verify_ledger()
        assert [(r.table, r.ok, r.rows) for r in reports] == [
            ("audit_log", True, audit_rows),
            ("usage_events", True, 1),
        ]
        zed = _work(store, "Zed", "z")
        assert zed > licensee > gone  # no id the history mentions comes back
        assert list_usage_events(store, work_id=zed) == []
        assert all(r.ok for r in store.verify_ledger())


def test_the_ledgers_refuse_replace_and_truncate(store: SqlStore) -> None:
    work = _work(store, "Ann", "a")
    record_usage_events(store, [_event(work)])
    if store.dialect == "sqlite":
        attacks = [
            "INSERT OR REPLACE INTO audit_log (id, at, actor, action, entity, detail, prev_hash,"
            " row_hash) SELECT id, at, 'mallory', action, entity, detail, prev_hash, row_hash"
            " FROM audit_log WHERE id = (SELECT min(id) FROM audit_log)",
            "REPLACE INTO usage_events SELECT * FROM usage_events",
        ]
    else:
        attacks = [
            "TRUNCATE audit_log",
            "TRUNCATE usage_events CASCADE",
            "INSERT INTO usage_events SELECT * FROM usage_events "
            "ON CONFLICT (id) DO UPDATE SET input_label = 'x'",
        ]
    for sql in attacks:
        with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as conn:
            conn.execute(text(sql))
    assert next(e.actor for e in store.audit_log()) == "clearance"
    assert len(list_usage_events(store)) == 1
    assert all(r.ok for r in store.verify_ledger())


def test_verify_finds_a_row_rewritten_behind_the_triggers(store: SqlStore) -> None:
    works = [_work(store, "Ann", k) for k in "abc"]
    record_usage_events(store, [_event(w) for w in works])
    assert all(r.ok for r in store.verify_ledger())
    victim = store.audit_log()[1].id
    with superuser(store, "audit_log") as conn:
        conn.execute(text("UPDATE audit_log SET actor = 'mallory' WHERE id = :i"), {"i": victim})
    audit, events = store.verify_ledger()
    assert not audit.ok and audit.problem_id == victim and "rewritten" in (audit.problem or "")
    assert events.ok
    middle = list_usage_events(store)[1].id
    with superuser(store, "usage_events") as conn:
        conn.execute(text("DELETE FROM usage_events WHERE id = :i"), {"i": middle})
    _, events = store.verify_ledger()
    assert not events.ok and events.problem_id == list_usage_events(store)[-1].id
    assert "prev_hash" in (events.problem or "")


def test_chains_hold_under_concurrent_writers(registry_location: str) -> None:
    init_store(registry_location).close()
    errors: list[BaseException] = []
    go = threading.Barrier(4)

    def writer(n: int) -> None:
        try:
            with open_store(registry_location) as mine:
                go.wait()
                for i in range(6):
                    work = _work(mine, f"Owner{n}", f"{n}{i}")
                    record_usage_events(mine, [_event(work), _event(work)])
        except BaseException as exc:  # reported below, with the thread's own traceback
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    with open_store(registry_location) as store:
        audit, events = store.verify_ledger()
        assert audit.ok and events.ok, (audit.problem, events.problem)
        assert events.rows == 4 * 6 * 2
        assert audit.rows == 4 * (1 + 6)  # a party.create and six work.create per writer


def test_audit_verify_cli_and_its_anchor(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    registry = str(tmp_path / "r.db")
    with init_store(registry) as store:
        for k in "ab":
            _work(store, "Ann", k)
    anchor = tmp_path / "heads.json"
    assert main(["audit", "verify", "-r", registry, "--anchor", str(anchor), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] and [x["rows"] for x in doc["ledgers"]] == [3, 0]
    assert json.loads(anchor.read_text())["ledgers"]["audit_log"]["rows"] == 3
    # a thorough forger rewrites a row and recomputes the whole chain after it
    with open_store(registry) as store, superuser(store, "audit_log") as conn:
        rows = [
            dict(r._mapping) for r in conn.execute(s.audit_log.select().order_by(s.audit_log.c.id))
        ]
        rows[0]["actor"] = "mallory"
        fixed = chained("0" * 64, "audit_log", rows)
        conn.execute(text("DELETE FROM audit_log"))
        conn.execute(s.audit_log.insert(), fixed)
    assert main(["audit", "verify", "-r", registry]) == 0  # the chain alone cannot tell
    capsys.readouterr()
    assert main(["audit", "verify", "-r", registry, "--anchor", str(anchor)]) == 4
    err = capsys.readouterr().err
    assert err.startswith("error:") and err.count("\n") == 1 and "rewritten" in err
    assert main(["audit", "-r", registry, "--limit", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["entries"][0]["action"] == "work.create"


def test_text_the_database_cannot_store_is_refused_or_escaped(store: SqlStore) -> None:
    """Was: a 500 from PostgreSQL ("text fields cannot contain NUL") on a licensee or label."""
    from clearance.core import NotFound, UserError

    work = _work(store, "Ann", "a")
    with pytest.raises(NotFound):
        list_agreements(store, licensee="Gen\x00Co")
    with pytest.raises(UserError, match="control character"):
        grant_agreement(store, "Gen\x00Co", "Ann", work)
    hostile = UsageEvent(
        at=datetime.now(UTC),
        work_id=work,
        basis=UsageBasis.ATTRIBUTION,
        method="pdq",
        score=1.0,
        input_label="out\x00\x1b[2J\udcff.png",
        verdict="allow",
        licensee="Gen\x00Co",
    )
    record_usage_events(store, [hostile])
    (stored,) = list_usage_events(store)
    assert stored.input_label == "out\\x00\\x1b[2J\ufffd.png" and stored.licensee is None
    assert all(r.ok for r in store.verify_ledger())


def test_a_price_stored_before_prices_were_bounded_still_reads(store: SqlStore) -> None:
    """One registrant's old out-of-range price must not make every read fail."""
    from clearance.core import Permission, Price, Usage
    from clearance.registry import TermsChange

    work = _work(store, "Ann", "a")
    store.set_work_terms(
        work, TermsChange({Usage.OUTPUT: Permission.LICENSE}, price=Price.parse("1", "EUR"))
    )
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE terms SET price_amount = '1E+99999999999999'"))
    price = store.get_work(work).terms.price
    assert price is not None and price.amount > 10**12

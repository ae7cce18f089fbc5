"""Licence agreements and the usage-event ledger, on SQLite and on the real PostgreSQL.

Also: the 0001 -> 0002 upgrade in place, and the append-only usage_events table.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from clearance.core import (
    AgreementStatus,
    ConflictError,
    IdentifierScheme,
    NotFound,
    Usage,
    UsageBasis,
    UsageEvent,
    UserError,
)
from clearance.core.errors import InvalidUsage, RegistryVersionError
from clearance.core.models import Identifier, WorkKind
from clearance.registry import (
    FingerprintRecord,
    SqlStore,
    WorkSpec,
    active_agreements,
    grant_agreement,
    init_store,
    list_agreements,
    list_usage_events,
    open_store,
    record_usage_events,
    revoke_agreement,
)
from clearance.registry.agreements import format_usages, parse_agreement_usages, parse_when
from clearance.registry.engine import make_engine, registry_url
from clearance.registry.migrate import _config
from tests.registry.oldschema import insert_old_work

NOW = datetime.now(UTC)


def _work(store: SqlStore, owner: str = "Studio", key: str = "a") -> int:
    spec = WorkSpec(
        WorkKind.IMAGE,
        owner,
        (Identifier(IdentifierScheme.SHA256, key * 64),),
        fingerprints=(FingerprintRecord("pdq", b"\x01" * 32, 1, 90),),
    )
    return store.register(spec).work.id


def _event(
    work_id: int, licensee: str | None = "GenCo", agreement: int | None = None
) -> UsageEvent:
    basis = UsageBasis.LICENCE if agreement else UsageBasis.ATTRIBUTION
    return UsageEvent(NOW, work_id, basis, "pdq", 0.97, "out.png", "allow", licensee, agreement)


def test_grant_list_revoke_with_audit(store: SqlStore) -> None:
    work_id = _work(store)
    a = grant_agreement(store, "GenCo", "Studio", work_id, reference="C-42", actor="tester")
    assert a.licensee == "GenCo" and a.owner == "Studio" and a.work_id == work_id
    assert a.usages == (Usage.OUTPUT,) and a.status is AgreementStatus.ACTIVE
    assert a.reference == "C-42" and a.ends_at is None and a.in_force(NOW + timedelta(days=1))
    wide = grant_agreement(store, "Other", "Studio", usages=["tdm", "output"])
    assert wide.usages == (Usage.TDM, Usage.OUTPUT) and wide.grants(Usage.TRAIN_GENAI)
    assert [x.id for x in list_agreements(store)] == [a.id, wide.id]
    assert [x.id for x in list_agreements(store, licensee="GenCo")] == [a.id]
    revoked = revoke_agreement(store, a.id, actor="tester")
    assert revoked.status is AgreementStatus.REVOKED
    assert [x.id for x in active_agreements(store, datetime.now(UTC))] == [wide.id]
    actions = [(e.action, e.entity_id) for e in store.audit_log() if e.entity == "agreement"]
    assert actions == [
        ("agreement.grant", a.id),
        ("agreement.grant", wide.id),
        ("agreement.revoke", a.id),
    ]
    grant = next(e for e in store.audit_log() if e.action == "agreement.grant")
    assert grant.actor == "tester" and grant.detail["licensee"] == "GenCo"
    assert grant.detail["usages"] == ["output"] and grant.detail["reference"] == "C-42"
    with pytest.raises(ConflictError):
        revoke_agreement(store, a.id)


def test_periods_and_active_at(store: SqlStore) -> None:
    _work(store)
    past = grant_agreement(
        store,
        "GenCo",
        "Studio",
        starts_at=NOW - timedelta(days=10),
        ends_at=NOW - timedelta(days=1),
    )
    future = grant_agreement(store, "GenCo", "Studio", starts_at=NOW + timedelta(days=5))
    assert active_agreements(store, NOW) == []
    assert [x.id for x in active_agreements(store, NOW - timedelta(days=5))] == [past.id]
    assert [x.id for x in active_agreements(store, NOW + timedelta(days=6))] == [future.id]
    assert [x.id for x in store.current_agreements(NOW)] == [future.id]  # what the guard loads


def test_bad_grants_are_clear_user_errors(store: SqlStore) -> None:
    work_id = _work(store)
    _work(store, owner="Elsewhere", key="b")
    with pytest.raises(NotFound, match="no party named 'Nobody'"):
        grant_agreement(store, "GenCo", "Nobody")
    with pytest.raises(NotFound, match="no work with id 999"):
        grant_agreement(store, "GenCo", "Studio", 999)
    with pytest.raises(UserError, match="does not belong"):
        grant_agreement(store, "GenCo", "Elsewhere", work_id)
    with pytest.raises(UserError, match="needs no licence"):
        grant_agreement(store, "Studio", "Studio")
    with pytest.raises(InvalidUsage):
        grant_agreement(store, "GenCo", "Studio", usages=["outputs"])
    with pytest.raises(UserError, match="at least one usage"):
        grant_agreement(store, "GenCo", "Studio", usages=[" , "])
    with pytest.raises(UserError, match="before it starts"):
        grant_agreement(store, "GenCo", "Studio", ends_at=NOW - timedelta(days=1))
    with pytest.raises(NotFound):
        revoke_agreement(store, 12345)
    with pytest.raises(NotFound):
        list_agreements(store, licensee="Nobody")
    assert list_agreements(store) == []  # nothing half-written


def test_removing_a_work_revokes_its_agreements(store: SqlStore) -> None:
    work_id = _work(store)
    one = grant_agreement(store, "GenCo", "Studio", work_id)
    wide = grant_agreement(store, "GenCo", "Studio")
    store.remove_work(work_id)
    status = {a.id: a.status for a in list_agreements(store)}
    assert status == {one.id: AgreementStatus.REVOKED, wide.id: AgreementStatus.ACTIVE}


def test_usage_events_are_recorded_and_filtered(store: SqlStore) -> None:
    w1, w2 = _work(store), _work(store, key="b")
    a = grant_agreement(store, "GenCo", "Studio", w1)
    n = record_usage_events(
        store, [_event(w1, agreement=a.id), _event(w2), _event(w2, licensee="Stranger")]
    )
    assert n == 3 and record_usage_events(store, []) == 0
    events = list_usage_events(store)
    assert [(e.work_id, e.licensee, e.basis, e.agreement_id) for e in events] == [
        (w1, "GenCo", UsageBasis.LICENCE, a.id),
        (w2, "GenCo", UsageBasis.ATTRIBUTION, None),
        (w2, None, UsageBasis.ATTRIBUTION, None),  # an unknown licensee is recorded as none
    ]
    assert events[0].kind == "inference" and events[0].at.tzinfo is not None
    assert [e.work_id for e in list_usage_events(store, licensee="GenCo", work_id=w2)] == [w2]
    assert [e.id for e in list_usage_events(store, limit=1)] == [events[-1].id]
    with pytest.raises(NotFound):
        list_usage_events(store, licensee="Nobody")


def test_usage_events_are_append_only(store: SqlStore) -> None:
    w1 = _work(store)
    record_usage_events(store, [_event(w1)])
    for sql in ("UPDATE usage_events SET score = 0", "DELETE FROM usage_events"):
        with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as conn:
            conn.execute(text(sql))
    assert len(list_usage_events(store)) == 1
    store.remove_work(w1)  # the ledger outlives the work
    assert [e.work_id for e in list_usage_events(store)] == [w1]


def test_upgrade_from_0001_in_place(registry_location: str) -> None:
    engine = make_engine(registry_url(registry_location))
    try:
        with engine.begin() as conn:
            cfg = _config()
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0001")
            conn.execute(text("INSERT INTO meta (key, value) VALUES ('format_version', '1')"))
            work_id = insert_old_work(conn, "Studio", "a" * 64)
    finally:
        engine.dispose()
    with pytest.raises(RegistryVersionError, match="older than 0004"):
        open_store(registry_location)
    with init_store(registry_location) as store:
        assert store.get_work(work_id).owner.name == "Studio"
        a = grant_agreement(store, "GenCo", "Studio", work_id)
        record_usage_events(store, [_event(work_id, agreement=a.id)])
        assert len(list_usage_events(store)) == 1
        with store.engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0004"
        assert all(r.ok for r in store.verify_ledger())
    with open_store(registry_location) as store:
        assert list_agreements(store)[0].id == a.id


def test_parse_when() -> None:
    assert parse_when("2027-12-31", end_of_day=True) == datetime(2028, 1, 1, tzinfo=UTC)
    assert parse_when("2027-12-31") == datetime(2027, 12, 31, tzinfo=UTC)
    assert parse_when("2027-06-01T12:00:00+02:00").utcoffset() == timedelta(hours=2)
    assert parse_when("2027-06-01T12:00").tzinfo is UTC
    with pytest.raises(UserError, match="not a date"):
        parse_when("next tuesday")


@given(st.lists(st.sampled_from([*[u.value for u in Usage], "all", "", " OUTPUT "]), max_size=6))
def test_usage_values_parse_and_round_trip(values: list[str]) -> None:
    joined = [",".join(values[:2]), *values[2:]]
    try:
        usages = parse_agreement_usages(joined)
    except UserError:
        assert not any(v.strip() for v in values)
        return
    assert usages and len(set(usages)) == len(usages)
    assert parse_agreement_usages([format_usages(usages)]) == usages
    expected = {Usage(v.strip().lower()) for v in values if v.strip() and v != "all"}
    assert set(usages) == (set(Usage) if "all" in values else expected)


@given(st.text(max_size=20))
def test_usage_parsing_never_crashes(value: str) -> None:
    try:
        usages = parse_agreement_usages([value])
    except UserError:
        return
    assert all(isinstance(u, Usage) for u in usages)

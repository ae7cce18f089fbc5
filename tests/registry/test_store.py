"""The store contract, run on SQLite and on the real PostgreSQL server."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from clearance.core import (
    ClaimStatus,
    IdentifierScheme,
    NotFound,
    Permission,
    Price,
    RegistryNotInitialised,
    Usage,
    UserError,
)
from clearance.core.models import Identifier, WorkKind
from clearance.registry import (
    FingerprintRecord,
    RegistrationStatus,
    SqlStore,
    TermsChange,
    WorkSpec,
    init_store,
    open_store,
)

SHA_A = "a" * 64


def spec(owner: str = "Alice", value: str = SHA_A, **kw: object) -> WorkSpec:
    return WorkSpec(
        kind=WorkKind.IMAGE,
        owner=owner,
        identifiers=(Identifier(IdentifierScheme.SHA256, value),),
        fingerprints=(FingerprintRecord("pdq", b"\x01" * 32, 1, 90),),
        **kw,  # type: ignore[arg-type]
    )


def test_init_is_idempotent_and_records_versions(registry_location: str) -> None:
    init_store(registry_location).close()
    with init_store(registry_location) as store:
        assert store.count_works() == 0
        with store.engine.connect() as conn:
            assert (
                conn.execute(text("SELECT value FROM meta WHERE key='format_version'")).scalar()
                == "1"
            )
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0004"


def test_open_uninitialised_is_a_clear_user_error(registry_location: str) -> None:
    with pytest.raises(RegistryNotInitialised):
        open_store(registry_location)


def test_register_is_idempotent_for_same_owner(store: SqlStore) -> None:
    first = store.register(spec())
    again = store.register(spec())
    assert first.status is RegistrationStatus.CREATED
    assert again.status is RegistrationStatus.EXISTING
    assert again.work.id == first.work.id
    assert store.count_works() == 1


def test_second_owner_makes_a_dispute_not_an_overwrite(store: SqlStore) -> None:
    first = store.register(spec("Alice", terms=TermsChange({Usage.TRAIN_AI: Permission.DENY})))
    other = store.register(spec("Bob", terms=TermsChange({Usage.TRAIN_AI: Permission.ALLOW})))
    assert other.status is RegistrationStatus.DISPUTED
    assert other.work.id == first.work.id
    work = store.get_work(first.work.id)
    assert work.owner.name == "Alice"
    assert work.terms.effective()[Usage.TRAIN_AI] is Permission.DENY
    assert [(c.party, c.status) for c in work.claims] == [
        ("Alice", ClaimStatus.DISPUTED),
        ("Bob", ClaimStatus.DISPUTED),
    ]
    assert work.disputed
    assert any(e.action == "claim.dispute" for e in store.audit_log())


def test_terms_set_unset_price_and_owner_defaults(store: SqlStore) -> None:
    work = store.register(spec()).work
    price = Price.parse("2.50", "EUR", "item")
    updated = store.set_work_terms(
        work.id, TermsChange({Usage.OUTPUT: Permission.LICENSE}, price=price)
    )
    assert updated.terms.price is not None and updated.terms.price.amount == Decimal("2.50")
    assert updated.terms.effective()[Usage.OUTPUT] is Permission.LICENSE
    store.set_party_terms(
        "Alice", TermsChange({Usage.TDM: Permission.DENY, Usage.OUTPUT: Permission.ALLOW})
    )
    merged = store.get_work(work.id).terms.effective()
    assert merged[Usage.TRAIN_GENAI] is Permission.DENY  # from the owner default, implied
    assert merged[Usage.OUTPUT] is Permission.LICENSE  # the work's own terms win
    unset = store.set_work_terms(work.id, TermsChange(unset=frozenset({Usage.OUTPUT})))
    assert unset.terms.effective()[Usage.OUTPUT] is Permission.ALLOW
    assert store.party_terms("Alice").permissions[Usage.TDM] is Permission.DENY


def test_license_without_any_price_is_refused_and_nothing_changes(store: SqlStore) -> None:
    work = store.register(spec()).work
    before = len(store.audit_log())
    with pytest.raises(UserError):
        store.set_work_terms(work.id, TermsChange({Usage.OUTPUT: Permission.LICENSE}))
    assert store.get_work(work.id).terms.permissions == {}
    assert len(store.audit_log()) == before


def test_remove_and_not_found(store: SqlStore) -> None:
    work = store.register(spec()).work
    removed = store.remove_work(work.id)
    assert removed.id == work.id
    with pytest.raises(NotFound):
        store.get_work(work.id)
    with pytest.raises(NotFound):
        store.remove_work(work.id)
    assert store.find_works(IdentifierScheme.SHA256, SHA_A) == []
    assert [e.action for e in store.audit_log()][-1] == "work.remove"


def test_audit_log_is_append_only(store: SqlStore) -> None:
    store.register(spec())
    for statement in ("UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as conn:
            conn.execute(text(statement))
    assert len(store.audit_log()) >= 2


def test_list_find_and_fingerprints(store: SqlStore) -> None:
    a = store.register(spec("Alice", "a" * 64)).work
    b = store.register(spec("Bob", "b" * 64)).work
    url = store.register(
        WorkSpec(WorkKind.OTHER, "Bob", (Identifier(IdentifierScheme.DOMAIN, "example.com"),))
    ).work
    assert [w.id for w in store.list_works()] == [a.id, b.id, url.id]
    assert [w.id for w in store.list_works(owner="Bob")] == [b.id, url.id]
    assert [w.id for w in store.list_works(kind=WorkKind.IMAGE, limit=1, offset=1)] == [b.id]
    assert [w.id for w in store.find_works(IdentifierScheme.DOMAIN, "example.com")] == [url.id]
    fps = list(store.iter_fingerprints("pdq"))
    assert [(wid, fp.quality) for wid, fp in fps] == [(a.id, 90), (b.id, 90)]
    with pytest.raises(NotFound):
        store.list_works(owner="Nobody")


def test_failed_registration_leaves_no_trace(store: SqlStore) -> None:
    """A failure mid-transaction (here: a NULL blob) rolls the whole registration back."""
    bad = WorkSpec(
        WorkKind.IMAGE,
        "Alice",
        (Identifier(IdentifierScheme.SHA256, "c" * 64),),
        fingerprints=(FingerprintRecord("pdq", None),),
    )  # type: ignore[arg-type]
    digest = store.state_digest()
    with pytest.raises(DBAPIError):
        store.register(bad)
    assert store.count_works() == 0
    assert store.state_digest() == digest
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM parties")).scalar() == 0


def test_concurrent_registrations_of_the_same_bytes_make_one_work(store: SqlStore) -> None:
    errors: list[BaseException] = []

    def worker(owner: str) -> None:
        try:
            store.register(spec(owner))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(f"Owner{i % 2}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert store.count_works() == 1
    work = store.find_works(IdentifierScheme.SHA256, SHA_A)[0]
    assert {c.party for c in work.claims} == {"Owner0", "Owner1"}


def test_iter_identifiers_by_scheme(store: SqlStore) -> None:
    a = store.register(
        WorkSpec(
            WorkKind.OTHER,
            "Ann",
            (Identifier(IdentifierScheme.URL_PREFIX, "https://b.example/art/"),),
        )
    ).work
    b = store.register(
        WorkSpec(
            WorkKind.OTHER, "Bob", (Identifier(IdentifierScheme.URL_PREFIX, "https://a.example/"),)
        )
    ).work
    store.register(spec())
    assert list(store.iter_identifiers(IdentifierScheme.URL_PREFIX)) == [
        (b.id, "https://a.example/"),
        (a.id, "https://b.example/art/"),
    ]

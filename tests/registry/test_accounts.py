"""Web accounts and sessions on SQLite and PostgreSQL: argon2 hashes, one message for a wrong
email or password, a new party per sign-up, sessions found by token and ended by sign-out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from clearance.core.errors import ConflictError, Unauthorized, UserError
from clearance.registry import SqlStore, create_key
from clearance.registry import schema as s
from clearance.registry.accounts import (
    AccountRole,
    authenticate,
    close_session,
    create_account,
    find_session,
    list_accounts,
    list_parties,
    open_session,
)

PASSWORD = "correct horse battery"


def test_an_account_is_a_new_party_with_a_hashed_password(store: SqlStore) -> None:
    made = create_account(store, " Ann@Example.com ", PASSWORD, party="Ann", role="creator")
    assert (made.email, made.party, made.role) == ("ann@example.com", "Ann", AccountRole.CREATOR)
    with store.engine.connect() as conn:
        stored = conn.execute(select(s.web_accounts.c.hash)).scalar_one()
    assert stored.startswith("$argon2") and PASSWORD not in stored
    assert authenticate(store, "ANN@example.com", PASSWORD) == made
    for email, password in (("ann@example.com", "wrong one!!"), ("bob@example.com", PASSWORD)):
        with pytest.raises(Unauthorized, match="wrong email or password"):
            authenticate(store, email, password)
    assert store.audit_log()[-1].action == "account.create"
    assert store.audit_log()[-1].actor == "Ann"


def test_sign_up_refuses_a_taken_email_or_an_existing_party(store: SqlStore) -> None:
    create_account(store, "ann@example.com", PASSWORD, party="Ann", role="creator")
    with pytest.raises(ConflictError, match="sign in"):
        create_account(store, "ann@example.com", PASSWORD, party="Other", role="creator")
    create_key(store, "Zed", "owner")  # Zed exists in the registry, with no account
    with pytest.raises(ConflictError, match="already in the registry"):
        create_account(store, "zed@example.com", PASSWORD, party="Zed", role="creator")
    claimed = create_account(
        store, "zed@example.com", PASSWORD, party="Zed", role="creator", claim=True
    )
    assert claimed.party == "Zed"
    for email, password, party in (
        ("nope", PASSWORD, "N"),
        ("n@example.com", "short", "N"),
        ("n@example.com", PASSWORD, " "),
    ):
        with pytest.raises(UserError):
            create_account(store, email, password, party=party, role="developer")
    with pytest.raises(UserError, match="account type"):
        create_account(store, "n@example.com", PASSWORD, party="N", role="king")
    assert [a.email for a in list_accounts(store)] == ["ann@example.com", "zed@example.com"]


def test_sessions_are_found_by_token_expire_and_end(store: SqlStore) -> None:
    account = create_account(store, "dev@example.com", PASSWORD, party="GenCo", role="developer")
    token, csrf = open_session(store, account)
    found = find_session(store, token)
    assert found == (account, csrf)
    with store.engine.connect() as conn:
        hashes = list(conn.execute(select(s.web_sessions.c.token_hash)).scalars())
    assert token not in hashes  # only its digest is stored
    assert find_session(store, token + "x") is None and find_session(store, "") is None
    other, _ = open_session(store, account)
    close_session(store, token)
    assert find_session(store, token) is None and find_session(store, other) is not None
    with store._write() as conn:
        conn.execute(
            update(s.web_sessions).values(expires_at=datetime.now(UTC) - timedelta(days=1))
        )
    assert find_session(store, other) is None


def test_list_parties_counts_works_accounts_and_active_keys(store: SqlStore) -> None:
    create_account(store, "ann@example.com", PASSWORD, party="Ann", role="creator")
    key, _ = create_key(store, "Ann", "owner")
    create_key(store, "Ann", "owner")
    from clearance.registry import revoke_key

    revoke_key(store, key.key_id)
    rows = {p.name: p for p in list_parties(store)}
    assert (rows["Ann"].works, rows["Ann"].accounts, rows["Ann"].keys) == (0, 1, 1)

"""Parties and verified identity in the registry (``registry.parties``), on both backends."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from clearance.core.errors import AddressBlocked, ConflictError, FetchError, NotFound, UserError
from clearance.core.models import VerificationLevel
from clearance.evidence.keys import sign
from clearance.fetch import FetchConfig
from clearance.registry import SqlStore, add_works
from clearance.registry.parties import (
    DomainNotVerified,
    add_key,
    clean_domain,
    confirm_domain,
    create_party,
    get_party,
    key_proof_message,
    list_parties,
    party_for_key,
    start_domain,
    token_published,
    verify_admin,
)
from tests.localsite import LocalSite
from tests.parties.conftest import domain_of, publish

PRIVATE = FetchConfig(allow_private=True, timeout=5, deadline=10)


def test_levels_rise_with_each_verified_identity_and_reach_the_works(
    store: SqlStore, site: LocalSite, signing_key: Ed25519PrivateKey
) -> None:
    info, created = create_party(store, "Ann", contact="ann@example.org")
    assert created and info.party.verification is VerificationLevel.SELF
    assert create_party(store, "Ann")[1] is False
    add_works(store, ["https://ann.example/fox.jpg"], owner="Ann")
    domain = domain_of(site)

    challenge = start_domain(store, "Ann", domain, actor="Ann", allow_private=True)
    assert (
        challenge.issued
        and challenge.url == f"http://{domain}/.well-known/clearance-verification.txt"
    )
    again = start_domain(store, "Ann", domain, actor="Ann")
    assert again.token == challenge.token and not again.issued  # the same token, not a new one
    publish(site, f"# clearance\nclearance-verification={challenge.token}\n")
    info = confirm_domain(store, "Ann", domain, actor="Ann", config=PRIVATE)
    assert info.party.verification is VerificationLevel.DOMAIN
    assert [(i.kind.value, i.value, i.status.value) for i in info.identities] == [
        ("domain", domain, "verified")
    ]
    work = store.list_works(owner="Ann")[0]
    assert work.owner.verification is VerificationLevel.DOMAIN
    assert work.claims[0].verification is VerificationLevel.DOMAIN

    info = add_key(store, "Ann", signing_key.public_key(), actor="Ann")
    assert info.party.verification is VerificationLevel.KEY
    assert party_for_key(store, signing_key.public_key()).name == "Ann"
    info = verify_admin(store, "Ann", "met at the office, passport seen", actor="Operator")
    assert info.party.verification is VerificationLevel.ADMIN
    assert get_party(store, "Ann").to_dict()["verification"] == "admin"
    assert [p.party.name for p in list_parties(store, min_verification="key")] == ["Ann"]

    audit = [(e.actor, e.action) for e in store.audit_log() if e.entity == "party"]
    assert ("Ann", "party.domain.start") in audit
    assert audit[-3:] == [
        ("Ann", "party.verify"),
        ("Ann", "party.verify"),
        ("Operator", "party.verify"),
    ]
    last = store.audit_log(limit=1)[0]
    assert last.detail["before"] == "key" and last.detail["after"] == "admin"
    assert all(r.ok for r in store.verify_ledger())


def test_a_domain_is_verified_only_by_the_token_it_publishes(
    store: SqlStore, site: LocalSite
) -> None:
    create_party(store, "Ann")
    create_party(store, "Zed")
    domain = domain_of(site)
    with pytest.raises(ConflictError):  # no token issued yet
        confirm_domain(store, "Ann", domain, actor="Ann", config=PRIVATE)
    ann = start_domain(store, "Ann", domain, actor="Ann")
    zed = start_domain(store, "Zed", domain, actor="Zed")
    assert ann.token != zed.token
    assert [p.party.name for p in list_parties(store, pending=True)] == ["Ann", "Zed"]
    with pytest.raises(DomainNotVerified, match="HTTP 404"):
        confirm_domain(store, "Ann", domain, actor="Ann", config=PRIVATE)
    publish(site, f"clearance-verification={zed.token}")
    with pytest.raises(DomainNotVerified, match="does not hold"):
        confirm_domain(store, "Ann", domain, actor="Ann", config=PRIVATE)
    with pytest.raises(AddressBlocked):  # the guarded fetcher refuses loopback by default
        confirm_domain(store, "Zed", domain, actor="Zed", config=FetchConfig())
    assert (
        confirm_domain(store, "Zed", domain, actor="Zed", config=PRIVATE).party.verification
        == "domain"
    )
    assert [p.party.name for p in list_parties(store, pending=True)] == ["Ann"]
    publish(site, f"{ann.token}\n")  # now Ann's token: the domain is Zed's already
    with pytest.raises(ConflictError, match="another party"):
        confirm_domain(store, "Ann", domain, actor="Ann", config=PRIVATE)
    assert get_party(store, "Ann").party.verification is VerificationLevel.SELF
    create_party(store, "Bob")
    start_domain(store, "Bob", "127.0.0.1:1", actor="Bob")  # nothing listens there
    with pytest.raises(FetchError):
        confirm_domain(store, "Bob", "127.0.0.1:1", actor="Bob", config=PRIVATE)


def test_keys_belong_to_one_party_and_the_proof_must_verify(
    store: SqlStore, signing_key: Ed25519PrivateKey
) -> None:
    create_party(store, "Ann")
    create_party(store, "Mallory")
    public = signing_key.public_key()
    with pytest.raises(UserError, match="proof"):
        add_key(store, "Mallory", public, actor="Mallory", proof=b"\x00" * 64)
    with pytest.raises(UserError, match="proof"):  # Ann's proof does not name Mallory
        add_key(
            store,
            "Mallory",
            public,
            actor="Mallory",
            proof=sign(signing_key, key_proof_message("Ann", public)),
        )
    proof = sign(signing_key, key_proof_message("Ann", public))
    assert add_key(store, "Ann", public, actor="Ann", proof=proof).party.verification == "key"
    with pytest.raises(ConflictError):
        add_key(store, "Mallory", public, actor="Mallory")
    with pytest.raises(NotFound):
        add_key(store, "Nobody", public, actor="Nobody")
    with pytest.raises(NotFound):
        party_for_key(store, Ed25519PrivateKey.generate().public_key())
    with pytest.raises(UserError, match="reason"):
        verify_admin(store, "Ann", "  ", actor="Operator")


@pytest.mark.parametrize(
    "bad",
    ["", "https://ann.example/", "ann.example/x", "a b", "ann..example", "-a.example", "x" * 300],
)
def test_a_domain_must_be_a_bare_host(bad: str) -> None:
    with pytest.raises(UserError):
        clean_domain(bad)


def test_domains_and_tokens_are_read_leniently() -> None:
    assert clean_domain(" Ann.Example. ") == "ann.example"
    assert clean_domain("domain:ann.example") == "ann.example"
    assert token_published(b"\xff\xfe junk\r\n  clearance-verification=abc \r\n", "abc")
    assert token_published(b"abc", "abc")
    assert not token_published(b"clearance-verification=abcd", "abc")
    assert VerificationLevel.parse("Domain") is VerificationLevel.DOMAIN
    assert VerificationLevel.ADMIN.at_least(VerificationLevel.KEY)
    assert not VerificationLevel.SELF.at_least(VerificationLevel.DOMAIN)
    with pytest.raises(UserError):
        VerificationLevel.parse("gold")


def test_one_key_goes_to_one_party_under_concurrent_writers(registry_location: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from clearance.registry import init_store

    key = Ed25519PrivateKey.generate().public_key()
    names = [f"P{i}" for i in range(6)]
    with init_store(registry_location) as store:
        for name in names:
            create_party(store, name)

        def bind(name: str) -> str:
            try:
                add_key(store, name, key, actor=name)
            except ConflictError:
                return "conflict"
            return "bound"

        with ThreadPoolExecutor(6) as pool:
            results = list(pool.map(bind, names))
        assert sorted(results) == ["bound"] + ["conflict"] * 5
        assert sum(get_party(store, n).party.verification == "key" for n in names) == 1

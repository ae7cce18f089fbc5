"""The public feed and the mirror, in process: a source registry, its feed app, a mirror store.

The mirror talks to the feed through FastAPI's ``TestClient`` (an ``httpx.Client``),
so the whole HTTP path (ETags, 304, the signed heads) runs without a socket; the
two-server test with uvicorn is tests/cli/test_mirror.py.
"""

from __future__ import annotations

import copy
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from clearance.api import create_app
from clearance.config import Settings
from clearance.core import Permission, Price, Usage
from clearance.core.errors import ClearanceError, ConflictError, UserError
from clearance.evidence import MalformedEvidence, VerificationFailed, generate_keypair
from clearance.evidence.canonical import b64decode
from clearance.evidence.keys import load_signing_key
from clearance.registry import (
    SqlStore,
    TermsChange,
    add_works,
    feed,
    init_store,
    parse_identifier,
    register_identifier,
)
from clearance.registry.mirror import mirror, read_state
from clearance.registry.parties import verify_admin
from clearance.registry.replica import apply_records
from tests.mangle import JSON, mangled, paths
from tests.samples import POEM, write_image

URL = "http://testserver"


def _works(store: SqlStore) -> dict[int, dict[str, Any]]:
    out = {}
    for w in store.list_works():
        doc = w.to_dict()
        doc.pop("created_at")
        for c in doc["claims"]:
            c.pop("created_at")
        out[w.id] = doc
    fps = sorted((wid, fp.algo, fp.data) for wid, fp in store.fingerprints_of(sorted(out)))
    return {**out, 0: {"fingerprints": fps}}


@pytest.fixture
def source(tmp_path: Path) -> Iterator[tuple[SqlStore, TestClient, Path]]:
    registry = str(tmp_path / "source.db")
    key, pub = generate_keypair(tmp_path / "feed.key")
    art = write_image(tmp_path / "art.png", 41, "PNG")
    poem = tmp_path / "poem.txt"
    poem.write_text(POEM, encoding="utf-8")
    with init_store(registry) as store:
        add_works(
            store,
            [str(art), str(poem)],
            owner="Ann",
            terms=TermsChange(
                {Usage.TRAIN_GENAI: Permission.LICENSE, Usage.OUTPUT: Permission.DENY},
                prices={Usage.TRAIN_GENAI: Price.parse("0.02", "EUR")},
            ),
        )
        register_identifier(
            store,
            parse_identifier("https://bob.example/gallery/*"),
            owner="Bob",
            terms=TermsChange({Usage.TDM: Permission.DENY}),
        )
        store.set_party_contact("Ann", "ann@example.org")
        app = create_app(Settings(registry=registry, feed_key=str(key)))
        with TestClient(app, base_url=URL) as client:
            yield store, client, pub


def test_a_mirror_holds_the_same_works_under_the_same_ids(
    source: tuple[SqlStore, TestClient, Path], registry_location: str, tmp_path: Path
) -> None:
    store, client, _ = source
    with init_store(registry_location) as local:
        first = mirror(local, URL, client=client)
        assert first.snapshot and first.applied.created == 3
        assert _works(local) == _works(store)
        assert read_state(local).cursor == store.audit_watermark()  # type: ignore[union-attr]

        # terms, a removal, a new work and an owner's default terms, then only the changes
        ann = [w for w in store.list_works() if w.owner.name == "Ann"]
        store.set_work_terms(ann[0].id, TermsChange({Usage.OUTPUT: Permission.ALLOW}))
        store.remove_work(ann[1].id)
        store.set_party_terms("Bob", TermsChange({Usage.AI_INPUT: Permission.DENY}))
        add_works(store, [str(write_image(tmp_path / "new.png", 42, "PNG"))], owner="Cy")
        second = mirror(local, URL, client=client)
        assert not second.snapshot and second.since == first.cursor
        assert (second.applied.created, second.applied.removed) == (1, 1)
        assert _works(local) == _works(store)
        # the mirror's own audit log carries each change, so its guard and scans follow it
        assert local.audit_watermark() > 0
        assert all(r.ok for r in local.verify_ledger())
        # a claimant's verification level travels with its works
        verify_admin(store, "Ann", "checked by the operator", actor="operator")
        mirror(local, URL, client=client)
        assert _works(local) == _works(store)
        assert {
            w.owner.verification.value for w in local.list_works() if w.owner.name == "Ann"
        } == {"admin"}
        # nothing new: the changes are empty, then a 304
        mirror(local, URL, client=client)
        again = mirror(local, URL, client=client)
        assert again.not_modified and again.applied.created == 0
        assert _works(local) == _works(store)


def test_a_new_local_registration_on_a_postgres_mirror_gets_a_fresh_id(
    source: tuple[SqlStore, TestClient, Path], pg_database: str
) -> None:
    store, client, _ = source
    with init_store(pg_database) as local:
        mirror(local, URL, client=client)
        made = register_identifier(local, parse_identifier("isbn:9780306406157"), owner="Zed")
        assert made.work.id > max(w.id for w in store.list_works())


def test_changes_answer_304_for_its_etag_and_409_for_a_cursor_ahead(
    source: tuple[SqlStore, TestClient, Path],
) -> None:
    store, client, _ = source
    answer = client.get("/v1/feed/changes", params={"since": 0})
    assert answer.status_code == 200 and answer.json()["cursor"] == store.audit_watermark()
    etag = answer.headers["etag"]
    cached = client.get("/v1/feed/changes", params={"since": 0}, headers={"If-None-Match": etag})
    assert cached.status_code == 304 and not cached.content
    snap = client.get("/v1/feed/snapshot.parquet")
    assert snap.status_code == 200 and snap.headers["x-clearance-cursor"] == str(
        store.audit_watermark()
    )
    table = pq.read_table(io.BytesIO(snap.content))
    assert table.num_rows == 3 and set(table.column("verification").to_pylist()) == {"self"}
    headers = {"If-None-Match": snap.headers["etag"]}
    assert client.get("/v1/feed/snapshot.parquet", headers=headers).status_code == 304
    store.set_party_terms("Bob", TermsChange({Usage.OUTPUT: Permission.DENY}))
    assert client.get("/v1/feed/snapshot.parquet", headers=headers).status_code == 200
    ahead = client.get("/v1/feed/changes", params={"since": 10_000})
    assert ahead.status_code == 409 and ahead.json()["type"] == "ConflictError"
    for bad in ("-1", "x", str(2**40)):
        assert client.get("/v1/feed/changes", params={"since": bad}).status_code == 400
    key = client.get("/v1/feed/key").json()
    assert key["alg"] == "Ed25519" and len(key["key_id"]) == 16


def test_the_feed_is_404_without_a_key(tmp_path: Path) -> None:
    registry = str(tmp_path / "r.db")
    init_store(registry).close()
    with TestClient(create_app(Settings(registry=registry))) as client:
        for path in ("/v1/feed/key", "/v1/feed/snapshot.parquet", "/v1/feed/changes?since=0"):
            answer = client.get(path)
            assert answer.status_code == 404 and "CLEARANCE_FEED_KEY" in answer.json()["error"]


def _changes(store: SqlStore, key_path: Path, since: int = 0) -> dict[str, Any]:
    return feed.changes(store, since, load_signing_key(key_path))


def test_every_tampering_is_refused(source: tuple[SqlStore, TestClient, Path]) -> None:
    store, _, pub = source
    from clearance.evidence import load_public_key

    key = load_public_key(pub)
    key_path = pub.with_suffix("")
    doc = _changes(store, key_path)
    assert len(feed.read_changes(doc, key, since=0).records) == 3

    edited = copy.deepcopy(doc)
    edited["records"][0]["record"]["terms"]["permissions"]["output"] = "allow"
    with pytest.raises(VerificationFailed, match="records are not the ones"):
        feed.read_changes(edited, key, since=0)
    dropped = copy.deepcopy(doc)
    dropped["records"].pop()
    with pytest.raises(VerificationFailed, match="names 3 records but 2"):
        feed.read_changes(dropped, key, since=0)
    resigned = copy.deepcopy(doc)  # a record whose signature is another's
    resigned["records"][0]["signature"] = resigned["records"][1]["signature"]
    with pytest.raises(VerificationFailed, match="record 0: the signature"):
        feed.read_changes(resigned, key, since=0)
    _, other_pub = generate_keypair(pub.parent / "other.key")
    with pytest.raises(VerificationFailed, match="not by the pinned key"):
        feed.read_changes(doc, load_public_key(other_pub), since=0)
    with pytest.raises(VerificationFailed, match="another request"):
        feed.read_changes(doc, key, since=1)
    # an old record replayed into a later answer: its version is not after the cursor
    oldest = min(r["record"]["version"] for r in doc["records"])
    later = feed.changes(store, oldest, load_signing_key(key_path))
    with pytest.raises(VerificationFailed, match="replayed"):
        feed.read_changes(_forged(doc, since=oldest, key_path=key_path), key, since=oldest)
    assert feed.read_changes(later, key, since=oldest).since == oldest
    for junk in (None, [], {"head": 1}, {"head": {"format": "x"}, "signature": {}}):
        with pytest.raises(MalformedEvidence):
            feed.read_changes(junk, key, since=0)
    with pytest.raises(MalformedEvidence):
        feed.read_snapshot(b"not parquet", key)


def _forged(doc: dict[str, Any], *, since: int, key_path: Path) -> dict[str, Any]:
    """A relay with the signing key's records but a head claiming ``since``: re-signed."""
    records = [feed.sign_record(r["record"], load_signing_key(key_path)) for r in doc["records"]]
    head = feed.make_head(
        "changes", records, cursor=doc["cursor"], since=since, key=load_signing_key(key_path)
    )
    return {**head, "records": [r.to_dict() for r in records]}


def test_a_registry_with_its_own_works_or_another_source_is_refused(
    source: tuple[SqlStore, TestClient, Path], tmp_path: Path
) -> None:
    _, client, _ = source
    with init_store(str(tmp_path / "own.db")) as local:
        register_identifier(local, parse_identifier("isbn:9780306406157"), owner="Zed")
        with pytest.raises(UserError, match="not mirrored"):
            mirror(local, URL, client=client)
    with init_store(str(tmp_path / "m.db")) as local:
        mirror(local, URL, client=client)
        with pytest.raises(UserError, match="mirrors http://testserver"):
            mirror(local, "http://elsewhere.example", client=client)
        _, other = generate_keypair(tmp_path / "o.key")
        from clearance.evidence import load_public_key

        with pytest.raises(UserError, match="pinned"):
            mirror(local, URL, client=client, pubkey=load_public_key(other))
    with init_store(str(tmp_path / "n.db")) as local:
        from clearance.evidence import load_public_key

        _, other = generate_keypair(tmp_path / "p.key")
        with pytest.raises(VerificationFailed):
            mirror(local, URL, client=client, pubkey=load_public_key(other))
    with pytest.raises(ConflictError), init_store(str(tmp_path / "m.db")) as local:
        from clearance.registry.mirror import MirrorState, write_state

        state = read_state(local)
        assert state is not None
        write_state(local, MirrorState(**{**state.__dict__, "cursor": 99_999, "etag": None}))
        mirror(local, URL, client=client)


def test_a_mangled_record_signed_by_the_feed_key_is_refused_cleanly(
    source: tuple[SqlStore, TestClient, Path], tmp_path: Path
) -> None:
    """The feed's own key signs a record it never wrote: the mirror still only says 2 (or 4)."""
    store, _, pub = source
    key = load_signing_key(pub.with_suffix(""))
    from clearance.evidence import load_public_key

    public = load_public_key(pub)
    doc = _changes(store, pub.with_suffix(""))
    good = doc["records"][0]["record"]
    every = paths(good)[1:]
    local = init_store(str(tmp_path / "m.db"))

    @settings(max_examples=80, deadline=None, derandomize=True, database=None)
    @given(st.sampled_from(every), JSON)
    def mangle(path: tuple[Any, ...], value: Any) -> None:
        record = mangled(good, path, value)
        try:
            signed = feed.sign_record(record, key)
        except MalformedEvidence:
            return  # not even canonical JSON (an integer beyond 2**53)
        head = feed.make_head("changes", [signed], cursor=doc["cursor"], since=0, key=key)
        answer = {**head, "records": [signed.to_dict()]}
        try:
            batch = feed.read_changes(answer, public, since=0)
            apply_records(local, batch.records, source=URL)
        except (ClearanceError, VerificationFailed):
            pass

    try:
        mangle()
    finally:
        local.close()


def test_applying_records_is_idempotent_and_follows_every_kind_of_change(
    source: tuple[SqlStore, TestClient, Path], store: SqlStore
) -> None:
    """Title and owner changes, a dropped fingerprint, a removal: each audited once, then quiet."""
    origin, _, pub = source
    doc = _changes(origin, pub.with_suffix(""))
    record = next(r["record"] for r in doc["records"] if len(r["record"]["fingerprints"]) > 1)
    work_id = record["work_id"]

    def apply(rec: dict[str, Any]) -> tuple[Any, list[str]]:
        mark = store.audit_watermark()
        done = apply_records(store, [rec], source=URL)
        return done, [e.action for e in store.audit_since(mark)]

    done, actions = apply(record)
    assert done.created == 1 and "work.create" in actions
    assert apply(record) == (type(done)(unchanged=1), [])  # a replay writes nothing
    renamed = {**record, "title": "renamed", "owner": {**record["owner"], "name": "Zed"}}
    done, actions = apply(renamed)
    assert done.updated == 1 and actions[-1] == "work.update"
    assert (store.get_work(work_id).title, store.get_work(work_id).owner.name) == ("renamed", "Zed")
    fewer = {**renamed, "fingerprints": renamed["fingerprints"][1:]}
    done, actions = apply(fewer)
    assert done.updated == 1 and actions[-2:] == ["work.remove", "work.create"]
    kept = [fp.data for _, fp in store.fingerprints_of([work_id])]
    assert kept == [b64decode(f["data"], "x") for f in fewer["fingerprints"]]
    terms = {**fewer, "terms": {"permissions": {"output": "allow"}, "prices": {}}}
    done, actions = apply(terms)
    assert done.updated == 1 and actions == ["terms.set"]
    assert store.get_work(work_id).terms.permissions == {Usage.OUTPUT: Permission.ALLOW}
    removal = feed.removal_record(work_id, record["version"] + 1)
    assert apply(removal)[0].removed == 1
    assert apply(removal) == (type(done)(unchanged=1), [])
    assert all(r.ok for r in store.verify_ledger())


def test_a_postgresql_registry_publishes_the_same_feed(pg_database: str, tmp_path: Path) -> None:
    key_path, pub = generate_keypair(tmp_path / "feed.key")
    key = load_signing_key(key_path)
    from clearance.evidence import load_public_key

    public = load_public_key(pub)
    with init_store(pg_database) as origin, init_store(str(tmp_path / "m.db")) as local:
        add_works(origin, [str(write_image(tmp_path / "a.png", 43, "PNG"))], owner="Ann")
        register_identifier(origin, parse_identifier("domain:ann.example"), owner="Ann")
        origin.set_party_terms("Ann", TermsChange({Usage.TDM: Permission.DENY}))
        cursor, data = feed.snapshot(origin, key)
        batch = feed.read_snapshot(data, public)
        assert batch.cursor == cursor == origin.audit_watermark()
        assert apply_records(local, batch.records, source=URL).created == 2
        assert _works(local) == _works(origin)
        first = min(w.id for w in origin.list_works())
        origin.remove_work(first)
        changes = feed.read_changes(feed.changes(origin, cursor, key), public, since=cursor)
        assert [r["op"] for r in changes.records] == ["remove"]
        apply_records(local, changes.records, source=URL)
        assert _works(local) == _works(origin)

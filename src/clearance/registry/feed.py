"""The public registry feed: each work as a signed record; a snapshot, and changes since a cursor.

Why: an AI developer should be able to scan offline against the public
registry, and another registry should be able to carry its claims, without
trusting whoever relays them. So each work travels as one *record* (its
identifiers, fingerprints, terms as decisions read them, price models and its
claimant's verification level) signed with the server's Ed25519 feed key
(``evidence.keys``), and every answer carries a signed *head* that names how
many records it holds and a digest over them, so a relay can neither edit a
record nor silently drop one.

The cursor is the ``audit_log`` id: every registration, terms change, claim
and removal is audited in the same transaction, so "the changes since cursor
C" are the works named by the audit entries after C, each sent in its current
state (an upsert) or as a removal when it is gone. A record's ``version`` is
the newest audit id that touched the work (or its owner's default terms), so
a record in the changes after C always has ``version > C``: an old record
replayed into a newer answer is refused by the mirror (``registry.mirror``).

Record (``clearance.feed-record`` version 1; canonical JSON, RFC 8785)::

    {"format", "format_version", "op": "upsert", "work_id", "version", "kind", "title",
     "owner": {"name", "contact", "verification"}, "identifiers": [{"scheme", "value"}],
     "fingerprints": [{"algo", "format_version", "quality", "data": base64}],
     "terms": {"permissions", "prices"}, "effective": {usage: permission},
     "claims": [{"party", "status", "created_at"}], "created_at"}
    {"format", "format_version", "op": "remove", "work_id", "version"}

``terms`` are the work's stated terms with its owner's defaults merged in
(what the scan and the guard decide from); ``effective`` adds the implications
(``tdm`` reaches ``train-ai``). The snapshot is a Parquet file (one row per
live work; the signed head in the file's metadata); the changes are JSON.
docs/api.md and docs/formats.md describe both.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import Connection, func, select

from clearance.core.errors import ConflictError, UserError
from clearance.core.models import Party, Work
from clearance.core.validation import MAX_ID
from clearance.evidence import keys
from clearance.evidence.canonical import b64decode, b64encode, canonical_json, parse_json
from clearance.evidence.errors import MalformedEvidence, VerificationFailed
from clearance.registry import schema as s
from clearance.registry.engine import database_errors
from clearance.registry.records import FingerprintRecord
from clearance.registry.store import SqlStore

RECORD_FORMAT = "clearance.feed-record"
HEAD_FORMAT = "clearance.feed-head"
SNAPSHOT_FORMAT = "clearance.feed-snapshot"
FEED_VERSION = 1
MAX_CHANGES = 10_000
"""The most audit entries one changes answer covers (``limit``)."""
DEFAULT_CHANGES = 1_000
_BATCH = 500
_HEAD_KEY = b"clearance.feed.head"
_HEAD_SIGNATURE_KEY = b"clearance.feed.head_signature"


def verification_level(party: Party) -> str:
    """The claimant's verification level: ``self``, ``domain``, ``key`` or ``admin``."""
    return party.verification.value


# -- records ---------------------------------------------------------------------------------


def work_record(
    work: Work, fingerprints: Sequence[FingerprintRecord], version: int
) -> dict[str, Any]:
    """The feed record of a live work (``op: upsert``)."""
    return {
        "format": RECORD_FORMAT,
        "format_version": FEED_VERSION,
        "op": "upsert",
        "work_id": work.id,
        "version": version,
        "kind": work.kind.value,
        "title": work.title,
        "owner": {
            "name": work.owner.name,
            "contact": work.owner.contact,
            "verification": verification_level(work.owner),
        },
        "identifiers": [{"scheme": i.scheme.value, "value": i.value} for i in work.identifiers],
        "fingerprints": [
            {
                "algo": fp.algo,
                "format_version": fp.format_version,
                "quality": fp.quality,
                "data": b64encode(fp.data),
            }
            for fp in fingerprints
        ],
        "terms": work.terms.to_dict(),
        "effective": {u.value: p.value for u, p in work.terms.effective().items()},
        "claims": [
            {
                "party": c.party,
                "status": c.status.value,
                "created_at": c.created_at.isoformat(),
                "verification": c.verification.value,
            }
            for c in work.claims
        ],
        "created_at": work.created_at.isoformat(),
    }


def removal_record(work_id: int, version: int) -> dict[str, Any]:
    """The feed record of a removed work (``op: remove``)."""
    return {
        "format": RECORD_FORMAT,
        "format_version": FEED_VERSION,
        "op": "remove",
        "work_id": work_id,
        "version": version,
    }


@dataclass(frozen=True, slots=True)
class SignedRecord:
    """One record, its canonical bytes and the feed key's signature over them."""

    record: dict[str, Any]
    data: bytes
    signature: bytes

    def to_dict(self) -> dict[str, Any]:
        return {"record": self.record, "signature": b64encode(self.signature)}


def sign_record(record: dict[str, Any], key: Ed25519PrivateKey) -> SignedRecord:
    data = canonical_json(record)
    return SignedRecord(record, data, keys.sign(key, data))


def records_digest(records: Iterable[bytes]) -> str:
    """SHA-256 over the SHA-256 of each record's canonical bytes, in order (hex)."""
    outer = hashlib.sha256()
    for data in records:
        outer.update(hashlib.sha256(data).digest())
    return outer.hexdigest()


def make_head(
    kind: str,
    records: Sequence[SignedRecord],
    *,
    cursor: int,
    since: int | None = None,
    more: bool = False,
    key: Ed25519PrivateKey,
) -> dict[str, Any]:
    """The signed head of a snapshot or changes answer: ``{"head": {...}, "signature": {...}}``."""
    head = {
        "format": HEAD_FORMAT,
        "format_version": FEED_VERSION,
        "kind": kind,
        "since": since,
        "cursor": cursor,
        "more": more,
        "count": len(records),
        "records_sha256": records_digest(r.data for r in records),
    }
    public = key.public_key()
    return {
        "head": head,
        "signature": {
            "alg": keys.ALGORITHM,
            "key_id": keys.key_id(public),
            "value": b64encode(keys.sign(key, canonical_json(head))),
        },
    }


def public_key_document(key: Ed25519PrivateKey) -> dict[str, Any]:
    """What ``GET /v1/feed/key`` publishes: the public key, raw (base64) and PEM, and its id."""
    from cryptography.hazmat.primitives import serialization

    public = key.public_key()
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")
    return {
        "alg": keys.ALGORITHM,
        "key_id": keys.key_id(public),
        "public_key": keys.public_b64(public),
        "pem": pem,
    }


# -- reading the store -----------------------------------------------------------------------


def _versions(conn: Connection, works: Sequence[Work]) -> dict[int, int]:
    """Per work, the newest audit id about it or its owner (the record's ``version``)."""
    log = s.audit_log
    out: dict[int, int] = {}
    ids = [w.id for w in works]
    for entity_id, newest in conn.execute(
        select(log.c.entity_id, func.max(log.c.id))
        .where(log.c.entity == "work", log.c.entity_id.in_(ids))
        .group_by(log.c.entity_id)
    ):
        out[int(entity_id)] = int(newest)
    owners = sorted({w.owner.id for w in works})
    by_party = {
        int(entity_id): int(newest)
        for entity_id, newest in conn.execute(
            select(log.c.entity_id, func.max(log.c.id))
            .where(log.c.entity == "party", log.c.entity_id.in_(owners))
            .group_by(log.c.entity_id)
        )
    }
    for w in works:
        out[w.id] = max(out.get(w.id, 0), by_party.get(w.owner.id, 0))
    return out


def _removed_versions(conn: Connection, ids: Sequence[int]) -> dict[int, int]:
    log = s.audit_log
    return {
        int(entity_id): int(newest)
        for entity_id, newest in conn.execute(
            select(log.c.entity_id, func.max(log.c.id))
            .where(log.c.entity == "work", log.c.entity_id.in_(list(ids)))
            .group_by(log.c.entity_id)
        )
    }


def _records_for(store: SqlStore, ids: Sequence[int]) -> list[dict[str, Any]]:
    """Records for these work ids (upserts for live works, removals for gone ones), in id order."""
    out: list[dict[str, Any]] = []
    for start in range(0, len(ids), _BATCH):
        batch = list(ids[start : start + _BATCH])
        works = store.works_by_ids(batch)
        fps: dict[int, list[FingerprintRecord]] = {}
        for work_id, fp in store.fingerprints_of([w.id for w in works]):
            fps.setdefault(work_id, []).append(fp)
        live = {w.id: w for w in works}
        with database_errors("read"), store.engine.connect() as conn:
            versions = _versions(conn, works)
            gone = _removed_versions(conn, [i for i in batch if i not in live])
        for work_id in batch:
            if work_id in live:
                work = live[work_id]
                out.append(work_record(work, fps.get(work_id, []), versions.get(work_id, 0)))
            elif work_id in gone:
                out.append(removal_record(work_id, gone[work_id]))
    return out


def snapshot(store: SqlStore, key: Ed25519PrivateKey) -> tuple[int, bytes]:
    """The cursor and the Parquet bytes of every live work's signed record.

    The cursor is read first: a change committed while the snapshot is read
    may already show in it and comes again in the changes after the cursor,
    where applying it twice changes nothing.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    cursor = store.audit_watermark()
    with database_errors("read"), store.engine.connect() as conn:
        ids = [int(i) for i in conn.execute(select(s.works.c.id).order_by(s.works.c.id)).scalars()]
    signed = [sign_record(r, key) for r in _records_for(store, ids)]
    head = make_head("snapshot", signed, cursor=cursor, key=key)
    table = pa.table(
        {
            "work_id": pa.array([r.record["work_id"] for r in signed], pa.int64()),
            "version": pa.array([r.record["version"] for r in signed], pa.int64()),
            "owner": pa.array([r.record["owner"]["name"] for r in signed], pa.string()),
            "kind": pa.array([r.record["kind"] for r in signed], pa.string()),
            "verification": pa.array(
                [r.record["owner"]["verification"] for r in signed], pa.string()
            ),
            "record": pa.array([r.data.decode("utf-8") for r in signed], pa.string()),
            "signature": pa.array([b64encode(r.signature) for r in signed], pa.string()),
        }
    )
    table = table.replace_schema_metadata(
        {
            b"format": SNAPSHOT_FORMAT.encode(),
            b"format_version": str(FEED_VERSION).encode(),
            _HEAD_KEY: canonical_json(head["head"]),
            _HEAD_SIGNATURE_KEY: canonical_json(head["signature"]),
        }
    )
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd")
    return cursor, buf.getvalue()


def check_cursor(value: int, what: str = "since") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_ID:
        raise UserError(f"{what} must be a cursor between 0 and {MAX_ID}")
    return value


def changes(
    store: SqlStore, since: int, key: Ed25519PrivateKey, *, limit: int = DEFAULT_CHANGES
) -> dict[str, Any]:
    """The signed records of every work changed after cursor ``since`` (``limit`` audit entries).

    ``cursor`` in the answer is where the next call starts; ``more`` says
    whether the audit log holds entries past it. A ``since`` beyond this
    feed's newest entry is a ``ConflictError``: the cursor is another feed's,
    or this one was rebuilt.
    """
    check_cursor(since)
    if not 1 <= limit <= MAX_CHANGES:
        raise UserError(f"limit must be between 1 and {MAX_CHANGES}")
    log = s.audit_log
    with database_errors("read"), store.engine.connect() as conn:
        newest = int(conn.execute(select(func.max(log.c.id))).scalar() or 0)
        if since > newest:
            raise ConflictError(
                f"cursor {since} is ahead of this feed (its newest is {newest})",
                hint="the feed was rebuilt or the cursor is another feed's: mirror afresh",
            )
        entries = conn.execute(
            select(log.c.id, log.c.entity, log.c.entity_id)
            .where(log.c.id > since)
            .order_by(log.c.id)
            .limit(limit)
        ).all()
        touched: set[int] = set()
        parties: set[int] = set()
        for entry in entries:
            if entry.entity_id is None:
                continue
            if entry.entity == "work":
                touched.add(int(entry.entity_id))
            elif entry.entity == "party":
                parties.add(int(entry.entity_id))
        if parties:  # an owner's default terms (or identity) reach all their works
            touched.update(
                int(i)
                for i in conn.execute(
                    select(s.works.c.id).where(s.works.c.owner_id.in_(sorted(parties)))
                ).scalars()
            )
    cursor = int(entries[-1].id) if entries else since
    more = cursor < newest
    signed = [sign_record(r, key) for r in _records_for(store, sorted(touched))]
    head = make_head("changes", signed, cursor=cursor, since=since, more=more, key=key)
    return {
        "format": "clearance.feed-changes",
        "format_version": FEED_VERSION,
        "since": since,
        "cursor": cursor,
        "more": more,
        **head,
        "records": [r.to_dict() for r in signed],
    }


# -- checking what arrived -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FeedBatch:
    """A snapshot or changes answer whose head and every record verified against the key."""

    kind: str
    since: int | None
    cursor: int
    more: bool
    records: tuple[dict[str, Any], ...]


def _check_head(doc: object, signature: object, pubkey: Ed25519PublicKey) -> dict[str, Any]:
    if not isinstance(doc, dict) or doc.get("format") != HEAD_FORMAT:
        raise MalformedEvidence(f"the feed's head is not a {HEAD_FORMAT}")
    if doc.get("format_version") != FEED_VERSION:
        raise MalformedEvidence(
            f"feed head format_version {doc.get('format_version')!r} is not {FEED_VERSION}"
        )
    if not isinstance(signature, dict) or signature.get("alg") != keys.ALGORITHM:
        raise MalformedEvidence("the feed's head has no Ed25519 signature")
    if signature.get("key_id") != keys.key_id(pubkey):
        raise VerificationFailed(
            f"the feed is signed by key {str(signature.get('key_id'))[:32]!r}, "
            f"not by the pinned key {keys.key_id(pubkey)}"
        )
    value = b64decode(signature.get("value"), "feed head signature")
    if not keys.check(pubkey, value, canonical_json(doc)):
        raise VerificationFailed("the feed head's signature is not valid for the pinned key")
    for name in ("cursor", "count"):
        value_ = doc.get(name)
        if isinstance(value_, bool) or not isinstance(value_, int) or value_ < 0:
            raise MalformedEvidence(f"feed head {name} must be a non-negative integer")
    return doc


def _check_record(
    n: int, data: bytes, signature: bytes, pubkey: Ed25519PublicKey
) -> dict[str, Any]:
    if not keys.check(pubkey, signature, data):
        raise VerificationFailed(f"feed record {n}: the signature is not valid for the pinned key")
    record = parse_json(data, f"feed record {n}")
    if canonical_json(record) != data:
        raise MalformedEvidence(f"feed record {n} is not in canonical form")
    if not isinstance(record, dict) or record.get("format") != RECORD_FORMAT:
        raise MalformedEvidence(f"feed record {n} is not a {RECORD_FORMAT}")
    if record.get("format_version") != FEED_VERSION:
        raise MalformedEvidence(f"feed record {n} has an unknown format_version")
    if record.get("op") not in ("upsert", "remove"):
        raise MalformedEvidence(f"feed record {n} has an unknown op {record.get('op')!r}")
    for name in ("work_id", "version"):
        value = record.get(name)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_ID:
            raise MalformedEvidence(f"feed record {n}: {name} must be an id")
    if record["work_id"] < 1:
        raise MalformedEvidence(f"feed record {n}: work_id must be an id")
    return record


def _batch(
    head: dict[str, Any], pairs: Sequence[tuple[bytes, bytes]], pubkey: Ed25519PublicKey
) -> FeedBatch:
    if head["count"] != len(pairs):
        raise VerificationFailed(
            f"the feed's head names {head['count']} records but {len(pairs)} arrived"
        )
    if head.get("records_sha256") != records_digest(data for data, _ in pairs):
        raise VerificationFailed("the records are not the ones the feed's head names")
    records = tuple(_check_record(n, data, sig, pubkey) for n, (data, sig) in enumerate(pairs))
    since = head.get("since")
    if head.get("kind") == "changes":
        if isinstance(since, bool) or not isinstance(since, int):
            raise MalformedEvidence("a changes head must name its since cursor")
        for n, record in enumerate(records):
            if record["version"] <= since:
                raise VerificationFailed(
                    f"feed record {n} (work {record['work_id']}) is version "
                    f"{record['version']}, older than the cursor {since} (a replayed record)"
                )
    elif head.get("kind") != "snapshot":
        raise MalformedEvidence(f"unknown feed head kind {head.get('kind')!r}")
    return FeedBatch(
        kind=str(head["kind"]),
        since=since if isinstance(since, int) else None,
        cursor=int(head["cursor"]),
        more=bool(head.get("more")),
        records=records,
    )


def read_changes(doc: object, pubkey: Ed25519PublicKey, *, since: int) -> FeedBatch:
    """Verify a changes answer (``GET /v1/feed/changes``) against ``pubkey``."""
    if not isinstance(doc, dict):
        raise MalformedEvidence("the feed's changes answer is not a JSON object")
    head = _check_head(doc.get("head"), doc.get("signature"), pubkey)
    if head.get("kind") != "changes" or head.get("since") != since:
        raise VerificationFailed(f"the feed answered another request than changes since {since}")
    entries = doc.get("records")
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise MalformedEvidence("the feed's records must be a list of objects")
    pairs = [
        (
            canonical_json(e.get("record")),
            b64decode(e.get("signature"), f"feed record {n} signature"),
        )
        for n, e in enumerate(entries)
    ]
    return _batch(head, pairs, pubkey)


def read_snapshot(data: bytes, pubkey: Ed25519PublicKey) -> FeedBatch:
    """Verify a snapshot (``GET /v1/feed/snapshot.parquet``) against ``pubkey``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(io.BytesIO(data), columns=["record", "signature"])
        meta = pq.read_schema(io.BytesIO(data)).metadata or {}
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise MalformedEvidence(
            f"the feed snapshot is not a readable Parquet file: {exc}"
        ) from None
    if meta.get(b"format") != SNAPSHOT_FORMAT.encode():
        raise MalformedEvidence(f"the feed snapshot is not a {SNAPSHOT_FORMAT}")
    head = _check_head(
        parse_json(meta.get(_HEAD_KEY, b""), "feed snapshot head"),
        parse_json(meta.get(_HEAD_SIGNATURE_KEY, b""), "feed snapshot head signature"),
        pubkey,
    )
    if head.get("kind") != "snapshot":
        raise VerificationFailed("the snapshot's head is not a snapshot head")
    records = table.column("record").to_pylist()
    sigs = table.column("signature").to_pylist()
    if not all(isinstance(r, str) for r in records):
        raise MalformedEvidence("the snapshot's record column must hold strings")
    pairs = [
        (r.encode("utf-8"), b64decode(sig, f"snapshot row {n} signature"))
        for n, (r, sig) in enumerate(zip(records, sigs, strict=True))
    ]
    return _batch(head, pairs, pubkey)


def public_key_from(doc: Mapping[str, Any]) -> Ed25519PublicKey:
    """The key in a ``GET /v1/feed/key`` answer (its ``public_key``, base64)."""
    raw = b64decode(doc.get("public_key"), "feed public_key")
    return keys.public_from_raw(raw, "feed public_key")


__all__ = [
    "DEFAULT_CHANGES",
    "MAX_CHANGES",
    "FeedBatch",
    "SignedRecord",
    "changes",
    "public_key_document",
    "public_key_from",
    "read_changes",
    "read_snapshot",
    "removal_record",
    "sign_record",
    "snapshot",
    "verification_level",
    "work_record",
]

"""Mirroring a public registry feed into a local registry, and keeping it current.

``mirror(store, url, client=...)`` pulls ``GET /v1/feed/snapshot.parquet``
the first time and ``GET /v1/feed/changes?since=CURSOR`` after that, checks
every head and record against the pinned feed key (``registry.feed``), and
applies the records (``registry.replica``: under the source's work ids, each
change audited in the mirror's own log, a replayed record writing nothing).

The mirror's state (source URL, pinned key, cursor, last ETag) is one row of
the ``meta`` table (key ``mirror``). A registry mirrors one feed: a registry
holding works that were not mirrored, or mirrored from another URL, is
refused, since the ids would collide. The key is pinned on the first run
(``--pubkey``, or the server's ``/v1/feed/key`` trusted on first use) and
every later answer must be signed by it. The state is written before the
snapshot is applied, so a first run cut short is finished by the next one
(which takes the snapshot again and drops what it no longer holds).

Errors: a bad signature, a record older than the cursor, a head that does not
match its records: ``VerificationFailed`` (exit 4); a record that is not well
formed: ``MalformedEvidence`` (exit 2); the network: ``FetchError`` (exit 3).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select, update

from clearance.core.errors import ConflictError, FetchError, UserError
from clearance.evidence import keys
from clearance.evidence.canonical import b64decode
from clearance.evidence.errors import VerificationFailed
from clearance.registry import schema as s
from clearance.registry.feed import (
    DEFAULT_CHANGES,
    FeedBatch,
    public_key_from,
    read_changes,
    read_snapshot,
)
from clearance.registry.replica import Applied, apply_records, drop_missing
from clearance.registry.store import SqlStore

if TYPE_CHECKING:
    import httpx
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

STATE_KEY = "mirror"


# -- state -----------------------------------------------------------------------------------


@dataclass
class MirrorState:
    url: str
    public_key: str
    key_id: str
    cursor: int | None = None
    etag: str | None = None
    """The ETag of the last changes answer for ``since == cursor`` (sent as If-None-Match)."""
    etag_since: int | None = None

    def to_json(self) -> str:
        return json.dumps(
            {
                "url": self.url,
                "public_key": self.public_key,
                "key_id": self.key_id,
                "cursor": self.cursor,
                "etag": self.etag,
                "etag_since": self.etag_since,
            },
            sort_keys=True,
        )


def read_state(store: SqlStore) -> MirrorState | None:
    with store.engine.connect() as conn:
        raw = conn.execute(select(s.meta.c.value).where(s.meta.c.key == STATE_KEY)).scalar()
    if raw is None:
        return None
    doc = json.loads(raw)
    return MirrorState(
        str(doc["url"]),
        str(doc["public_key"]),
        str(doc["key_id"]),
        doc.get("cursor"),
        doc.get("etag"),
        doc.get("etag_since"),
    )


def write_state(store: SqlStore, state: MirrorState) -> None:
    with store._write() as conn:
        found = conn.execute(select(s.meta.c.key).where(s.meta.c.key == STATE_KEY)).scalar()
        if found is None:
            conn.execute(insert(s.meta).values(key=STATE_KEY, value=state.to_json()))
        else:
            conn.execute(
                update(s.meta).where(s.meta.c.key == STATE_KEY).values(value=state.to_json())
            )


# -- pulling ---------------------------------------------------------------------------------


@dataclass
class MirrorResult:
    """One ``mirror`` run: where it started and ended, and what changed."""

    url: str
    key_id: str
    since: int | None
    cursor: int
    snapshot: bool
    requests: int = 0
    not_modified: bool = False
    applied: Applied = field(default_factory=Applied)

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "key_id": self.key_id,
            "since": self.since,
            "cursor": self.cursor,
            "snapshot": self.snapshot,
            "requests": self.requests,
            "not_modified": self.not_modified,
            "created": self.applied.created,
            "updated": self.applied.updated,
            "removed": self.applied.removed,
            "unchanged": self.applied.unchanged,
        }


def normalise_url(url: str) -> str:
    clean = url.strip().rstrip("/")
    if not clean.startswith(("http://", "https://")) or len(clean) > 2048:
        raise UserError(f"{url[:200]!r} is not an http:// or https:// URL of a Clearance server")
    return clean


def _get(client: httpx.Client, url: str, **kwargs: Any) -> httpx.Response:
    import httpx

    try:
        response = client.get(url, **kwargs)
    except httpx.HTTPError as exc:
        raise FetchError(f"cannot fetch {url}: {exc}") from None
    if response.status_code == 304:
        return response
    if response.status_code != 200:
        try:
            message = str(response.json().get("error"))[:300]
        except (ValueError, AttributeError):
            message = response.text[:200]
        error = ConflictError if response.status_code == 409 else FetchError
        raise error(f"{url} answered {response.status_code}: {message}")
    return response


def _json(response: httpx.Response, what: str) -> Any:
    from clearance.evidence.canonical import parse_json

    return parse_json(response.content, what)


def _pin(
    store: SqlStore, url: str, client: httpx.Client, pubkey: Ed25519PublicKey | None
) -> tuple[MirrorState, int]:
    """The mirror's state, created (and the key pinned) on the first run; requests made."""
    state = read_state(store)
    requests = 0
    if state is not None:
        if state.url != url:
            raise UserError(
                f"this registry mirrors {state.url}, not {url}",
                hint="mirror each feed into its own registry",
            )
        if pubkey is not None and keys.public_b64(pubkey) != state.public_key:
            raise UserError(
                f"this mirror is pinned to feed key {state.key_id}, not {keys.key_id(pubkey)}",
                hint="a feed that changed its key must be mirrored afresh",
            )
        return state, requests
    if store.count_works() > 0:
        raise UserError(
            "this registry already holds works that were not mirrored",
            hint="mirror into a new registry (its work ids are the source's)",
        )
    if pubkey is None:
        pubkey = public_key_from(_json(_get(client, f"{url}/v1/feed/key"), "the feed key"))
        requests += 1
    state = MirrorState(url, keys.public_b64(pubkey), keys.key_id(pubkey))
    write_state(store, state)
    return state, requests


def mirror(
    store: SqlStore,
    url: str,
    *,
    client: httpx.Client,
    pubkey: Ed25519PublicKey | None = None,
    actor: str = "clearance",
    limit: int = DEFAULT_CHANGES,
) -> MirrorResult:
    """Bring ``store`` up to date with the feed at ``url`` (see the module docstring)."""
    url = normalise_url(url)
    state, requests = _pin(store, url, client, pubkey)
    key = keys.public_from_raw(b64decode(state.public_key, "pinned key"), "pinned key")
    result = MirrorResult(url, state.key_id, state.cursor, state.cursor or 0, state.cursor is None)
    result.requests = requests
    if state.cursor is None:
        response = _get(client, f"{url}/v1/feed/snapshot.parquet")
        result.requests += 1
        batch = read_snapshot(response.content, key)
        result.applied.add(apply_records(store, batch.records, source=url, actor=actor))
        keep = {int(r["work_id"]) for r in batch.records}
        result.applied.removed += drop_missing(store, keep, source=url, actor=actor)
        state.cursor = batch.cursor
        write_state(store, state)
    while True:
        assert state.cursor is not None
        since = state.cursor
        fresh = state.etag is not None and state.etag_since == since
        headers = {"If-None-Match": state.etag} if fresh and state.etag else {}
        response = _get(
            client,
            f"{url}/v1/feed/changes",
            params={"since": since, "limit": limit},
            headers=headers,
        )
        result.requests += 1
        if response.status_code == 304:
            result.not_modified = True
            break
        changes: FeedBatch = read_changes(_json(response, "the feed's changes"), key, since=since)
        if changes.cursor < since:
            raise VerificationFailed(f"the feed went back from cursor {since} to {changes.cursor}")
        result.applied.add(apply_records(store, changes.records, source=url, actor=actor))
        state.cursor = changes.cursor
        state.etag, state.etag_since = response.headers.get("etag"), since
        write_state(store, state)
        if not changes.more:
            break
    result.cursor = state.cursor
    return result


__all__ = ["MirrorResult", "MirrorState", "mirror", "normalise_url", "read_state", "write_state"]

"""Proofs for rights holders: one row, its Merkle path and the signed root, checkable alone.

``prove`` writes a small JSON document (``clearance.proof`` version 1)::

    {"format": "clearance.proof", "format_version": 1,
     "subject": {"item": ID} | {"work": N} | {"owner": NAME},
     "root": {"statement": {...}, "signature": {...}},      as in manifest.json
     "proofs": [{"item_id", "row", "leaf", "shard", "shards", "leaf_index",
                 "shard_items", "path", "shard_root", "run_path"}, ...]}

``leaf`` is the row's canonical encoding (base64) and ``row`` its decoded JSON
view; ``path`` leads from the leaf to ``shard_root`` and ``run_path`` from the
shard root to the statement's ``run_root`` (hex digests, RFC 6962 audit
paths, bottom up). A rights holder checks it with ``verify_proof`` and the
operator's public key (or the manifest) without seeing the dataset or any
other row: the paths are hashes, which reveal nothing about the rows they
summarise.

The document is also the body of the planned ``POST /v1/receipts`` (a signed
root plus per-owner proofs), so it can be posted as it is.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from clearance.core.errors import NotFound, UserError
from clearance.evidence import keys
from clearance.evidence.attest import SignedRoot, manifest_body, signed_root
from clearance.evidence.canonical import b64decode, b64encode, canonical_json, digest_json, hex32
from clearance.evidence.encoding import decode_row
from clearance.evidence.errors import MalformedEvidence, VerificationFailed
from clearance.evidence.manifest import DECISIONS, load_manifest, parse_manifest
from clearance.evidence.merkle import MerkleTree, leaf_hash, root_from_path
from clearance.evidence.tree import iter_shards

PROOF_FORMAT = "clearance.proof"
PROOF_VERSION = 1
MAX_PATH = 64


def _subject(item: str | None, work: int | None, owner: str | None) -> dict[str, Any]:
    given = {k: v for k, v in (("item", item), ("work", work), ("owner", owner)) if v is not None}
    if len(given) != 1:
        raise UserError("give exactly one of --item, --work or --owner")
    return given


def _works(row: Mapping[str, Any]) -> list[dict[str, Any]]:
    try:
        doc = json.loads(row.get("evidence") or "{}")
    except (TypeError, ValueError):
        return []
    works = doc.get("works") if isinstance(doc, dict) else None
    return [w for w in works if isinstance(w, dict)] if isinstance(works, list) else []


def concerns(row: Mapping[str, Any], subject: Mapping[str, Any]) -> bool:
    """Whether a decoded row is about the subject (an item, a work, or an owner's works)."""
    if "item" in subject:
        return bool(row.get("item_id") == subject["item"])
    if "work" in subject:
        ids = row.get("work_ids")
        return isinstance(ids, list) and subject["work"] in ids
    return any(w.get("owner") == subject["owner"] for w in _works(row))


def prove(
    out_dir: str | os.PathLike[str],
    *,
    item: str | None = None,
    work: int | None = None,
    owner: str | None = None,
) -> dict[str, Any]:
    """The proof document for one item, every item matching a work, or every item of an owner.

    Raises ``NotFound`` when no row concerns the subject, and
    ``VerificationFailed`` when the rows or the manifest do not lead to the
    signed root (run ``clearance verify`` to see what changed).
    """
    subject = _subject(item, work, owner)
    out = Path(out_dir)
    manifest = load_manifest(out)
    attestation = manifest.attestation()
    if attestation is None:
        raise MalformedEvidence(
            "the manifest has no root statement to prove against",
            hint="rerun the scan with --resume (and --sign-key) to add one",
        )
    shard_roots = [s.root for s in manifest.shards]
    run_tree = MerkleTree([leaf_hash(r) for r in shard_roots])
    if run_tree.root != attestation.run_root:
        raise VerificationFailed(
            "the manifest's shard roots do not lead to its signed root",
            hint=f"run: clearance verify {out}",
        )
    entries: list[dict[str, Any]] = []
    counts = [s.items for s in manifest.shards]
    for shard in iter_shards(out / DECISIONS, counts, manifest.columns):
        if "item" in subject:
            hits = [n for n, i in enumerate(shard.ids) if i == subject["item"]]
        else:
            hits = [n for n, leaf in enumerate(shard.leaves) if concerns(decode_row(leaf), subject)]
        if not hits:
            continue
        pairs = shard.sorted_pairs()
        tree = MerkleTree([leaf_hash(leaf) for _, leaf in pairs])
        if tree.root != shard_roots[shard.index] or shard.items != counts[shard.index]:
            raise VerificationFailed(
                f"shard {shard.index} of {DECISIONS} does not match the manifest",
                hint=f"run: clearance verify {out}",
            )
        where = {pair: k for k, pair in enumerate(pairs)}
        for n in hits:
            leaf = shard.leaves[n]
            k = where[((shard.ids[n] or "").encode("utf-8"), leaf)]
            entries.append(
                {
                    "item_id": shard.ids[n],
                    "row": decode_row(leaf),
                    "leaf": b64encode(leaf),
                    "shard": shard.index,
                    "shards": len(shard_roots),
                    "leaf_index": k,
                    "shard_items": shard.items,
                    "path": [h.hex() for h in tree.path(k)],
                    "shard_root": shard_roots[shard.index].hex(),
                    "run_path": [h.hex() for h in run_tree.path(shard.index)],
                }
            )
        if "item" in subject:
            break  # item ids are unique; the rest of the file cannot hold it
    if not entries:
        what = next(iter(subject.items()))
        raise NotFound(f"no decision row in {out} concerns {what[0]} {what[1]!r}")
    doc = {
        "format": PROOF_FORMAT,
        "format_version": PROOF_VERSION,
        "subject": subject,
        "root": attestation.to_dict(),
        "proofs": entries,
    }
    check = verify_proof(doc, root=attestation.run_root.hex(), require_signature=False)
    if not check.ok:  # our own proof must verify; anything else is a bug
        raise VerificationFailed(f"the proof does not verify: {'; '.join(check.failures)}")
    return doc


@dataclass(frozen=True, slots=True)
class ProofCheck:
    """The outcome of ``verify_proof``: ``ok`` when every entry leads to a trusted root."""

    ok: bool
    failures: tuple[str, ...]
    subject: dict[str, Any]
    run_root: str
    signed: bool
    key_id: str | None
    anchor: str
    """What the root was checked against: ``pubkey``, ``manifest`` or ``root``."""
    items: tuple[dict[str, Any], ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": "clearance.proof-check",
            "format_version": 1,
            "ok": self.ok,
            "failures": list(self.failures),
            "subject": self.subject,
            "run_root": self.run_root,
            "signed": self.signed,
            "key_id": self.key_id,
            "anchor": self.anchor,
            "items": list(self.items),
        }


def _hexes(value: object, what: str) -> list[bytes]:
    if not isinstance(value, list) or len(value) > MAX_PATH:
        raise MalformedEvidence(f"{what} must be a list of at most {MAX_PATH} digests")
    return [hex32(v, what) for v in value]


def _index(value: object, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise MalformedEvidence(f"{what} must be a non-negative integer")
    return value


def _read_proof(doc: object) -> tuple[dict[str, Any], SignedRoot, list[dict[str, Any]]]:
    if not isinstance(doc, dict) or doc.get("format") != PROOF_FORMAT:
        raise MalformedEvidence(f"not a {PROOF_FORMAT} document")
    if doc.get("format_version") != PROOF_VERSION:
        raise MalformedEvidence(
            f"proof format_version {doc.get('format_version')!r} is not {PROOF_VERSION}"
        )
    subject = doc.get("subject")
    if (
        not isinstance(subject, dict)
        or len(subject) != 1
        or not set(subject)
        <= {
            "item",
            "work",
            "owner",
        }
    ):
        raise MalformedEvidence("proof subject must be one of item, work or owner")
    root = signed_root(doc.get("root"), "proof root")
    entries = doc.get("proofs")
    if not isinstance(entries, list) or not entries:
        raise MalformedEvidence("proof has no proofs")
    if not all(isinstance(e, dict) for e in entries):
        raise MalformedEvidence("each proof entry must be an object")
    return subject, root, entries


def _check_entry(
    n: int, e: dict[str, Any], root: SignedRoot, subject: dict[str, Any]
) -> str | None:
    """None when entry ``n`` leads to the statement's root; else why not."""
    leaf = b64decode(e.get("leaf"), f"proofs[{n}].leaf")
    try:
        row = decode_row(leaf)
    except MalformedEvidence as exc:
        return f"proofs[{n}]: the leaf is not a row encoding ({exc})"
    if canonical_json(e.get("row")) != canonical_json(row):
        return f"proofs[{n}]: the row shown is not the row in the leaf"
    if row.get("item_id") != e.get("item_id"):
        return f"proofs[{n}]: item_id is not the row's"
    if not concerns(row, subject):
        return f"proofs[{n}]: the row does not concern the subject {subject}"
    shard_root = hex32(e.get("shard_root"), f"proofs[{n}].shard_root")
    path = _hexes(e.get("path"), f"proofs[{n}].path")
    run_path = _hexes(e.get("run_path"), f"proofs[{n}].run_path")
    index, items = _index(e.get("leaf_index"), "leaf_index"), _index(e.get("shard_items"), "items")
    shard, shards = _index(e.get("shard"), "shard"), _index(e.get("shards"), "shards")
    if shards != root.statement.get("shards"):
        return f"proofs[{n}]: the run has {root.statement.get('shards')} shards, not {shards}"
    if root_from_path(leaf_hash(leaf), index, items, path) != shard_root:
        return f"proofs[{n}]: the path does not lead from the row to its shard root"
    if root_from_path(leaf_hash(shard_root), shard, shards, run_path) != root.run_root:
        return f"proofs[{n}]: the shard root does not lead to the signed run root"
    return None


def verify_proof(
    doc: object,
    *,
    manifest: object | None = None,
    root: str | None = None,
    pubkey: Ed25519PublicKey | None = None,
    require_signature: bool = True,
) -> ProofCheck:
    """Check a proof document against a trusted root, without the dataset.

    The trusted root is either ``manifest`` (the scan's ``manifest.json``
    document: its statement must be the proof's, and the manifest must match
    its statement; with ``pubkey`` its signature is checked too), or ``root``
    (hex) with ``pubkey``: the statement must name that root and be signed by
    that key. Raises ``MalformedEvidence`` for a document that is not a
    proof; a proof that does not verify is ``ok=False`` with the reasons.
    """
    subject, signed, entries = _read_proof(doc)
    failures: list[str] = []
    if manifest is not None:
        anchor = "manifest"
        parsed = parse_manifest(manifest)
        att = parsed.attestation()
        if att is None:
            raise MalformedEvidence("the manifest has no root statement")
        if canonical_json(att.statement) != canonical_json(signed.statement):
            failures.append("the proof's statement is not the manifest's")
        if digest_json(manifest_body(parsed.doc)) != att.statement.get("manifest_sha256"):
            failures.append("the manifest does not match its own statement")
        if pubkey is not None:
            anchor = "pubkey"
            failures += _signature_failures(att, pubkey)
    elif root is not None:
        anchor = "root"
        if hex32(root, "--root") != signed.run_root:
            failures.append(f"the proof's run root is {signed.run_root.hex()}, not {root.lower()}")
        if pubkey is not None:
            anchor = "pubkey"
            failures += _signature_failures(signed, pubkey)
        elif require_signature:
            raise UserError("--root needs --pubkey", hint="or check against --manifest")
    else:
        raise UserError("give --manifest, or --root with --pubkey")
    items = []
    for n, e in enumerate(entries):
        problem = _check_entry(n, e, signed, subject)
        if problem:
            failures.append(problem)
        items.append(_summary(e, problem is None))
    return ProofCheck(
        ok=not failures,
        failures=tuple(failures),
        subject=subject,
        run_root=signed.run_root.hex(),
        signed=signed.signature is not None,
        key_id=signed.key_id,
        anchor=anchor,
        items=tuple(items),
    )


def _signature_failures(signed: SignedRoot, pubkey: Ed25519PublicKey) -> list[str]:
    if signed.signature is None:
        return ["the root is not signed"]
    out = []
    if signed.key_id != keys.key_id(pubkey):
        out.append(f"signed by key {signed.key_id}, not by {keys.key_id(pubkey)}")
    if not signed.signature_valid(pubkey):
        out.append("the signature over the root statement is not valid for the given key")
    return out


def _summary(entry: dict[str, Any], verified: bool) -> dict[str, Any]:
    row = entry.get("row") if isinstance(entry.get("row"), dict) else {}
    assert isinstance(row, dict)
    return {
        "item_id": entry.get("item_id"),
        "source": row.get("source"),
        "outcome": row.get("outcome"),
        "reasons": row.get("reasons"),
        "works": [
            {k: w.get(k) for k in ("id", "owner", "title", "permission")} for w in _works(row)
        ],
        "verified": verified,
    }

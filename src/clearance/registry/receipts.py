"""Receipts: a licensee's signed scan root with per-owner proofs, kept for each rights holder.

Why: a proof of exclusion (``clearance prove --owner NAME``) is only useful if
the rights holder gets it. A licensee posts the run's signed root and one
proof per owner (``POST /v1/receipts``); each proof is verified here, against
that root and the public key that signed it (``evidence.proofs.verify_proof``),
before anything is stored. Each owner then reads, with their own key, "dataset
X of company Y excluded N of your works", and downloads the proof to check it
offline with ``clearance verify-proof``.

What a receipt establishes: the rows shown are in the run whose root the key
signed, with the outcomes shown. It does not establish whose key that is (an
owner compares the key id with the one the company publishes), nor that the
run was the dataset used for training (docs/compliance.md).

One receipt per (licensee, owner, run root): posting the same one again
changes nothing. Each new receipt is audited (entity ``receipt``) in the
transaction that stores it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, and_, insert, select
from sqlalchemy.orm import aliased

from clearance.core.errors import NotFound, UserError
from clearance.core.validation import check_id, clean_name, storable
from clearance.evidence import keys
from clearance.evidence.attest import signed_root
from clearance.evidence.canonical import canonical_json, parse_json
from clearance.evidence.errors import MalformedEvidence, VerificationFailed
from clearance.evidence.proofs import verify_proof
from clearance.registry import schema as s
from clearance.registry.bulkreads import aware
from clearance.registry.engine import database_errors
from clearance.registry.store import SqlStore

MAX_PROOFS = 1_000
"""The most per-owner proofs one post may carry."""

_licensee = aliased(s.parties)
_owner = aliased(s.parties)


@dataclass(frozen=True, slots=True)
class Receipt:
    """One owner's receipt for one scan run of one licensee."""

    id: int
    dataset: str
    licensee: str
    owner: str
    run_root: str
    key_id: str
    public_key: str
    items: int
    items_excluded: int
    works_excluded: int
    created_at: datetime
    proof: dict[str, Any] | None = None

    @property
    def message(self) -> str:
        works = "work" if self.works_excluded == 1 else "works"
        return (
            f"dataset {self.dataset} of {self.licensee} excluded "
            f"{self.works_excluded} of your {works}"
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "dataset": self.dataset,
            "licensee": self.licensee,
            "owner": self.owner,
            "message": self.message,
            "run_root": self.run_root,
            "key_id": self.key_id,
            "public_key": self.public_key,
            "items": self.items,
            "items_excluded": self.items_excluded,
            "works_excluded": self.works_excluded,
            "created_at": self.created_at.isoformat(),
        }
        if self.proof is not None:
            out["proof"] = self.proof
        return out


@dataclass(frozen=True, slots=True)
class _Checked:
    owner: str
    items: int
    items_excluded: int
    works_excluded: int
    proof: bytes


def _check_post(doc: object) -> tuple[str, Any, list[_Checked]]:
    """Verify a post's root and every proof: the dataset, the root, each owner's counts."""
    if not isinstance(doc, dict):
        raise UserError("the receipt must be a JSON object with dataset, root and proofs")
    unknown = sorted(set(doc) - {"dataset", "root", "proofs"})
    if unknown:
        raise UserError(f"unknown receipt fields: {', '.join(unknown)[:200]}")
    raw = doc.get("dataset")
    dataset = clean_name(raw if isinstance(raw, str) else "", "dataset")
    root = signed_root(doc.get("root"), "receipt root")
    public = root.public_key()
    if public is None:
        raise MalformedEvidence("the receipt's root is not signed", hint="scan with --sign-key")
    if root.key_id != keys.key_id(public) or not root.signature_valid(public):
        raise VerificationFailed("the root's signature is not valid for the key it names")
    proofs = doc.get("proofs")
    if not isinstance(proofs, list) or not 1 <= len(proofs) <= MAX_PROOFS:
        raise UserError(f"proofs must be a list of 1 to {MAX_PROOFS} proof documents")
    checked: list[_Checked] = []
    seen: set[str] = set()
    statement = canonical_json(root.statement)
    for n, proof in enumerate(proofs):
        subject = proof.get("subject") if isinstance(proof, dict) else None
        if not isinstance(subject, dict) or set(subject) != {"owner"}:
            raise MalformedEvidence(f"proofs[{n}] must be a proof for one owner (prove --owner)")
        owner = clean_name(str(subject["owner"]), "owner")
        if owner in seen:
            raise UserError(f"two proofs for owner {owner!r}")
        seen.add(owner)
        check = verify_proof(proof, root=root.run_root.hex(), pubkey=public)
        inner = proof.get("root") if isinstance(proof, dict) else None
        if not isinstance(inner, dict) or canonical_json(inner.get("statement")) != statement:
            raise VerificationFailed(f"proofs[{n}] is for another root statement")
        if not check.ok:
            raise VerificationFailed(f"proofs[{n}] does not verify: {'; '.join(check.failures)}")
        excluded = [it for it in check.items if it.get("outcome") == "exclude"]
        works = {
            w.get("id") for it in excluded for w in it.get("works") or () if w.get("owner") == owner
        }
        checked.append(
            _Checked(owner, len(check.items), len(excluded), len(works), canonical_json(proof))
        )
    return dataset, root, checked


def _query() -> Select[Any]:
    return select(
        s.receipts, _licensee.c.name.label("licensee"), _owner.c.name.label("owner")
    ).select_from(
        s.receipts.join(_licensee, _licensee.c.id == s.receipts.c.licensee_id).join(
            _owner, _owner.c.id == s.receipts.c.owner_id
        )
    )


def _receipt(row: Any, *, proof: bool) -> Receipt:
    return Receipt(
        id=int(row.id),
        dataset=row.dataset,
        licensee=row.licensee,
        owner=row.owner,
        run_root=row.run_root,
        key_id=row.key_id,
        public_key=row.public_key,
        items=int(row.items),
        items_excluded=int(row.items_excluded),
        works_excluded=int(row.works_excluded),
        created_at=aware(row.created_at),
        proof=parse_json(row.proof, "stored proof") if proof else None,
    )


def post_receipts(
    store: SqlStore, doc: object, *, licensee: str, actor: str = "clearance"
) -> list[tuple[Receipt, bool]]:
    """Verify and store a licensee's receipts; each with True when it is new.

    ``doc`` is ``{"dataset": NAME, "root": {"statement", "signature"}, "proofs":
    [proof, ...]}`` with one ``clearance.proof`` document per owner, as
    ``clearance prove --owner`` writes them. Every owner must be a party of
    this registry (404 otherwise); nothing is stored unless everything verifies.
    """
    dataset, root, checked = _check_post(doc)
    public = root.public_key()
    assert public is not None
    licensee = clean_name(licensee, "licensee")
    out: list[tuple[Receipt, bool]] = []
    with store._write() as conn:
        licensee_id = store._ensure_party(conn, licensee, actor)
        for c in checked:
            owner_id = store._party_id(conn, c.owner)
            where = and_(
                s.receipts.c.licensee_id == licensee_id,
                s.receipts.c.owner_id == owner_id,
                s.receipts.c.run_root == root.run_root.hex(),
            )
            found = conn.execute(select(s.receipts.c.id).where(where)).scalar()
            new = found is None
            if new:
                found = conn.execute(
                    insert(s.receipts)
                    .values(
                        licensee_id=licensee_id,
                        owner_id=owner_id,
                        dataset=dataset,
                        run_root=root.run_root.hex(),
                        key_id=keys.key_id(public),
                        public_key=keys.public_b64(public),
                        items=c.items,
                        items_excluded=c.items_excluded,
                        works_excluded=c.works_excluded,
                        proof=c.proof.decode("utf-8"),
                        created_at=datetime.now(UTC),
                    )
                    .returning(s.receipts.c.id)
                ).scalar_one()
                store._audit(
                    conn,
                    actor,
                    "receipt.create",
                    "receipt",
                    int(found),
                    {
                        "dataset": dataset,
                        "licensee": licensee,
                        "owner": c.owner,
                        "run_root": root.run_root.hex(),
                        "works_excluded": c.works_excluded,
                    },
                )
            row = conn.execute(_query().where(s.receipts.c.id == found)).one()
            out.append((_receipt(row, proof=False), new))
    return out


def list_receipts(
    store: SqlStore, *, owner: str | None = None, licensee: str | None = None
) -> list[Receipt]:
    """Receipts (without their proofs), oldest first; only ``owner``'s / ``licensee``'s if given."""
    query = _query().order_by(s.receipts.c.id)
    for name in (owner, licensee):
        if name is not None and not storable(name.strip()):
            return []
    if owner is not None:
        query = query.where(_owner.c.name == owner.strip())
    if licensee is not None:
        query = query.where(_licensee.c.name == licensee.strip())
    with database_errors("read"), store.engine.connect() as conn:
        return [_receipt(r, proof=False) for r in conn.execute(query)]


def get_receipt(store: SqlStore, receipt_id: int) -> Receipt:
    """One receipt with its proof document."""
    check_id(receipt_id, "receipt id")
    with database_errors("read"), store.engine.connect() as conn:
        row = conn.execute(_query().where(s.receipts.c.id == receipt_id)).first()
    if row is None:
        raise NotFound(f"no receipt with id {receipt_id}")
    return _receipt(row, proof=True)


__all__ = ["MAX_PROOFS", "Receipt", "get_receipt", "list_receipts", "post_receipts"]

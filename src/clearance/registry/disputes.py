"""Disputes: two or more parties claim one work; an admin keeps one claim.

A dispute is opened by ``SqlStore.register`` when a registration's key (the
same bytes, URL or identifier) or, with the matching core's near-duplicate
check, its content (a recoloured photo, a retyped text) belongs to another
owner's work: the newcomer gets a *disputed* claim on that work, never a work
of their own, and every claim on it is marked disputed. While it is disputed
the decider applies the strictest term of all the claims
(``clearance.matching.decide``).

A dispute is named by its work's id (a work has at most one dispute open at a
time; the audit log keeps every earlier one). ``get_dispute`` lays both sides
out: each claim's party, when it was made (the earliest first), the party's
verification level, the terms it states and the evidence that tied the
claimant's content to the work (which fingerprints matched, at what distance
or score). ``resolve_dispute`` keeps one claim: its party becomes (or stays)
the work's owner, with the terms that claim states; the other claims are
rejected (kept as history: claiming again is a ``ConflictError``); licence
agreements granted by an owner who lost the work are revoked. One
transaction, audited with the acting party as the actor.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, exists, select, update

from clearance.core.errors import NotFound, UserError
from clearance.core.models import ClaimStatus, Party, Terms, Work, claimed_terms
from clearance.core.usage import Usage
from clearance.core.validation import check_id, clean_name, clean_text_field
from clearance.registry import agreement_rows
from clearance.registry import schema as s
from clearance.registry.bulkreads import aware
from clearance.registry.engine import database_errors
from clearance.registry.records import TermsChange
from clearance.registry.store import SqlStore

OPEN = "open"
RESOLVED = "resolved"


def verification_of(party: Party) -> str:
    """A party's verification level (``self``, ``domain``, ``key``, ``admin``): the one place
    disputes read it."""
    return party.verification.value


@dataclass(frozen=True, slots=True)
class DisputeClaim:
    """One side of a dispute: who claims the work, since when, on what terms and evidence."""

    party: str
    status: ClaimStatus
    created_at: datetime
    verification: str
    owner: bool
    """Whether this party holds the work in the registry now."""
    terms: Terms
    """The terms the claim states (the owner's: the work's own terms)."""
    title: str | None = None
    identifiers: tuple[str, ...] = ()
    evidence: tuple[Mapping[str, Any], ...] = ()
    """What tied this claimant's content to the work (the matching core's matches)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "party": self.party,
            "status": self.status.value,
            "created_at": self.created_at.isoformat(),
            "verification": self.verification,
            "owner": self.owner,
            "terms": self.terms.to_dict(),
            "title": self.title,
            "identifiers": list(self.identifiers),
            "evidence": [dict(e) for e in self.evidence],
        }


@dataclass(frozen=True, slots=True)
class Dispute:
    """The claims on one work, and how (and whether) they were resolved."""

    work: Work
    status: str
    """``open`` while any claim is disputed, else ``resolved``."""
    claims: tuple[DisputeClaim, ...]
    """Oldest first: ``claims[0]`` came first."""
    resolution: Mapping[str, Any] | None = None
    """The last resolution (``at``, ``actor``, ``keep``, ``reason``, ``rejected``)."""

    @property
    def id(self) -> int:
        return self.work.id

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "work_id": self.work.id,
            "status": self.status,
            "title": self.work.title,
            "kind": self.work.kind.value,
            "owner": self.work.owner.name,
            "first_claim": self.claims[0].party if self.claims else None,
            "claims": [c.to_dict() for c in self.claims],
            "resolution": dict(self.resolution) if self.resolution else None,
        }


def _note(text: str | None) -> dict[str, Any]:
    try:
        doc = json.loads(text) if text else {}
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


def _claim_rows(conn: Connection, work_id: int) -> list[Any]:
    return list(
        conn.execute(
            select(
                s.claims.c.id,
                s.claims.c.party_id,
                s.claims.c.status,
                s.claims.c.note,
                s.claims.c.created_at,
                s.parties.c.name,
            )
            .join(s.parties, s.parties.c.id == s.claims.c.party_id)
            .where(s.claims.c.work_id == work_id)
            .order_by(s.claims.c.created_at, s.claims.c.id)
        ).all()
    )


def _resolution(conn: Connection, work_id: int) -> dict[str, Any] | None:
    row = conn.execute(
        select(s.audit_log.c.at, s.audit_log.c.actor, s.audit_log.c.detail)
        .where(
            s.audit_log.c.entity == "work",
            s.audit_log.c.entity_id == work_id,
            s.audit_log.c.action == "claim.resolve",
        )
        .order_by(s.audit_log.c.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    detail = _note(row.detail)
    return {"at": aware(row.at).isoformat(), "actor": row.actor} | {
        k: detail.get(k) for k in ("keep", "previous_owner", "rejected", "reason")
    }


def _dispute(store: SqlStore, conn: Connection, work: Work) -> Dispute:
    rows = _claim_rows(conn, work.id)
    claims: list[DisputeClaim] = []
    for r in rows:
        note = _note(r.note)
        owner = r.party_id == work.owner.id
        stated = claimed_terms(r.note)
        terms = work.terms if owner else (stated if stated is not None else Terms())
        evidence = note.get("evidence")
        claims.append(
            DisputeClaim(
                party=r.name,
                status=ClaimStatus(r.status),
                created_at=aware(r.created_at),
                verification=verification_of(store.get_party(r.name)),
                owner=owner,
                terms=terms,
                title=note.get("title", work.title if owner else None),
                identifiers=tuple(str(i) for i in note.get("identifiers") or ()),
                evidence=tuple(e for e in evidence if isinstance(e, dict))
                if isinstance(evidence, list)
                else (),
            )
        )
    status = OPEN if any(c.status is ClaimStatus.DISPUTED for c in claims) else RESOLVED
    return Dispute(work, status, tuple(claims), _resolution(conn, work.id))


def _disputed_ids(
    conn: Connection, statuses: Sequence[ClaimStatus], party: str | None = None
) -> list[int]:
    query = select(s.claims.c.work_id).where(s.claims.c.status.in_([st.value for st in statuses]))
    if party is not None:  # the few disputed claims first, then the party's on their works
        theirs = s.claims.alias("theirs")
        party_id = select(s.parties.c.id).where(s.parties.c.name == party).scalar_subquery()
        query = query.where(
            exists().where(theirs.c.work_id == s.claims.c.work_id, theirs.c.party_id == party_id)
        )
    return sorted(int(i) for i in conn.execute(query.distinct()).scalars())


def list_disputes(
    store: SqlStore, *, resolved: bool = False, party: str | None = None
) -> list[Dispute]:
    """Open disputes, oldest work first (``resolved``: also those an admin resolved;
    ``party``: only those where that party holds a claim, on either side)."""
    statuses = [ClaimStatus.DISPUTED] + ([ClaimStatus.REJECTED] if resolved else [])
    with database_errors("read"), store.engine.connect() as conn:
        ids = _disputed_ids(conn, statuses, party)
        out: list[Dispute] = []
        for start in range(0, len(ids), 500):
            for work in store._load_works(conn, ids[start : start + 500]):
                out.append(_dispute(store, conn, work))
    return out


def get_dispute(store: SqlStore, work_id: int) -> Dispute:
    """The dispute over work ``work_id`` (open or resolved); ``NotFound`` if there was none."""
    check_id(work_id, "dispute id")
    with database_errors("read"), store.engine.connect() as conn:
        found = store._load_works(conn, [work_id])
        if not found:
            raise NotFound(f"no dispute {work_id}: no work with that id")
        dispute = _dispute(store, conn, found[0])
    if len(dispute.claims) < 2:
        raise NotFound(f"no dispute {work_id}: work {work_id} has a single claim")
    return dispute


def resolve_dispute(
    store: SqlStore, work_id: int, *, keep: str, reason: str, actor: str
) -> Dispute:
    """End the dispute over ``work_id`` for the claim of ``keep`` (see the module docstring).

    ``UserError`` when the work is not disputed or ``keep`` holds no open claim on
    it; ``reason`` is required (it goes to the audit log).
    """
    check_id(work_id, "dispute id")
    keep = clean_name(keep, "--keep party")
    actor = clean_name(actor, "actor")
    text = (clean_text_field(reason, "reason") or "").strip()
    if not text:
        raise UserError("a resolution needs a reason", hint="pass --reason TEXT")
    with store._write() as conn:
        found = store._load_works(conn, [work_id])
        if not found:
            raise NotFound(f"no dispute {work_id}: no work with that id")
        work = found[0]
        rows = _claim_rows(conn, work_id)
        open_rows = [r for r in rows if r.status == ClaimStatus.DISPUTED.value]
        if not open_rows:
            raise UserError(f"work {work_id} is not disputed")
        kept = next((r for r in open_rows if r.name == keep), None)
        if kept is None:
            names = ", ".join(r.name for r in open_rows)
            raise UserError(f"{keep} holds no open claim on work {work_id} (claims: {names})")
        previous = work.owner.name
        rejected = [r for r in open_rows if r.id != kept.id]
        if kept.party_id != work.owner.id:
            _move_work(store, conn, work, kept, actor)
        for r in rejected:
            note = _note(r.note)
            if r.party_id == work.owner.id:  # the old owner's side, kept as history
                note |= {"title": work.title, "stated_terms": work.terms.to_dict()}
            conn.execute(
                update(s.claims)
                .where(s.claims.c.id == r.id)
                .values(
                    status=ClaimStatus.REJECTED.value,
                    note=json.dumps(note, sort_keys=True, default=str) if note else None,
                )
            )
        conn.execute(
            update(s.claims).where(s.claims.c.id == kept.id).values(status=ClaimStatus.ACTIVE.value)
        )
        store._audit(
            conn,
            actor,
            "claim.resolve",
            "work",
            work_id,
            {
                "keep": kept.name,
                "previous_owner": previous,
                "rejected": [r.name for r in rejected],
                "reason": text,
            },
        )
    return get_dispute(store, work_id)  # after the commit: its audit row is chained then


def _move_work(store: SqlStore, conn: Connection, work: Work, kept: Any, actor: str) -> None:
    """Give ``work`` to the kept claimant, with the terms their claim states.

    The work's own terms become the claim's (usages it does not state are
    unset, so the new owner's defaults apply); agreements the old owner granted
    on the work are revoked, each audited.
    """
    stated = claimed_terms(kept.note) or Terms()
    conn.execute(update(s.works).where(s.works.c.id == work.id).values(owner_id=kept.party_id))
    own = conn.execute(select(s.terms.c.usage).where(s.terms.c.work_id == work.id)).scalars()
    unset = frozenset(Usage(u) for u in own) - set(stated.permissions)
    change = TermsChange(dict(stated.permissions), unset, None, dict(stated.prices))
    if not change.empty:
        before, after = store._apply_terms(conn, work_id=work.id, party_id=None, change=change)
        store._terms_changed(
            conn,
            work=work,
            party_id=int(kept.party_id),
            before=before,
            after=after,
            actor=actor,
            change=change,
            cause="dispute.resolve",
        )
    for agreement_id in agreement_rows.revoke_on_work(conn, work.id):
        detail = {"reason": f"work {work.id} now belongs to {kept.name} (dispute resolved)"}
        store._audit(conn, actor, "agreement.revoke", "agreement", agreement_id, detail)


__all__ = [
    "Dispute",
    "DisputeClaim",
    "get_dispute",
    "list_disputes",
    "resolve_dispute",
    "verification_of",
]

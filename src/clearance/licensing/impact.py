"""What an opt-out reaches: every recorded run and scan that used a work, and the notices.

``impact`` lists, for one work or all of an owner's works, each recorded run
that used it (when, which licensee and model, how many items, under which
agreement, and the work's terms *as they were then*, from the terms history)
and each scan a licence was requested or granted for (by manifest digest).
``notices`` lists what the registry queued for licensees when a usage they
relied on turned to deny (``registry.history.queue_notices``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import aliased

from clearance.core.errors import NotFound, UserError
from clearance.core.validation import check_id
from clearance.licensing.runs import load_runs
from clearance.registry import schema as s
from clearance.registry.agreement_rows import agreement_from_row, agreements_query
from clearance.registry.bulkreads import aware
from clearance.registry.engine import database_errors
from clearance.registry.history import terms_as_of
from clearance.registry.store import SqlStore


@dataclass(frozen=True, slots=True)
class Use:
    """One recorded use of a work: a run, or a scan a licence was requested for."""

    kind: str  # "run" or "scan"
    at: datetime
    work_id: int
    owner: str
    licensee: str
    name: str | None
    model: str | None
    items: int
    agreement_id: int | None
    manifest_digests: tuple[str, ...]
    terms_then: dict[str, str]
    terms_now: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "at": self.at.isoformat(),
            "work_id": self.work_id,
            "owner": self.owner,
            "licensee": self.licensee,
            "name": self.name,
            "model": self.model,
            "items": self.items,
            "agreement_id": self.agreement_id,
            "manifest_digests": list(self.manifest_digests),
            "terms_then": self.terms_then,
            "terms_now": self.terms_now,
        }


def impact(store: SqlStore, *, work_id: int | None = None, owner: str | None = None) -> list[Use]:
    """Every recorded run and requested scan that used the work (or the owner's works)."""
    if (work_id is None) == (owner is None):
        raise UserError("give exactly one of --work ID or --owner NAME")
    if work_id is not None:
        check_id(work_id, "work id")
    out: list[Use] = []
    with database_errors("read"), store.engine.connect() as conn:
        if owner is not None:
            owner_id = store._party_id(conn, owner)
            line_filter = s.run_lines.c.owner_id == owner_id
        else:
            line_filter = s.run_lines.c.work_id == work_id
            known = (
                conn.execute(select(s.run_lines.c.id).where(line_filter).limit(1)).scalar()
                or conn.execute(select(s.works.c.id).where(s.works.c.id == work_id)).scalar()
            )
            if known is None:
                raise NotFound(f"no work with id {work_id}, and no run used one")
        run_ids = sorted(
            {
                int(i)
                for i in conn.execute(select(s.run_lines.c.run_id).where(line_filter)).scalars()
            }
        )
        owner_ids = {
            r.name: int(r.id) for r in conn.execute(select(s.parties.c.id, s.parties.c.name))
        }
        now = datetime.now().astimezone()
        for run in load_runs(conn, s.runs.c.id.in_(run_ids)) if run_ids else []:
            for line in run.lines:
                if work_id is not None and line.work_id != work_id:
                    continue
                if owner is not None and line.owner != owner.strip():
                    continue
                oid = owner_ids[line.owner]
                then = terms_as_of(conn, line.work_id, oid, run.created_at).effective()
                current = terms_as_of(conn, line.work_id, oid, now).effective()
                out.append(
                    Use(
                        "run",
                        run.created_at,
                        line.work_id,
                        line.owner,
                        run.licensee,
                        run.name,
                        run.model,
                        line.items,
                        line.agreement_id,
                        run.manifests,
                        {u.value: p.value for u, p in then.items()},
                        {u.value: p.value for u, p in current.items()},
                    )
                )
        licensee = aliased(s.parties)
        owner_party = aliased(s.parties)
        requests = conn.execute(
            select(
                s.license_requests,
                licensee.c.name.label("licensee"),
                owner_party.c.name.label("owner"),
            )
            .join(licensee, licensee.c.id == s.license_requests.c.licensee_id)
            .join(owner_party, owner_party.c.id == s.license_requests.c.owner_id)
            .order_by(s.license_requests.c.id)
        ).all()
        agreements = {
            (a.request_id, a.work_id): a
            for a in (
                agreement_from_row(r)
                for r in conn.execute(
                    agreements_query().where(s.agreements.c.request_id.is_not(None))
                )
            )
        }
        for r in requests:
            if owner is not None and r.owner != owner.strip():
                continue
            at = aware(r.created_at)
            seen: set[int] = set()
            for line in json.loads(r.lines):
                wid = int(line["work_id"])
                if (work_id is not None and wid != work_id) or wid in seen:
                    continue
                seen.add(wid)
                oid = int(r.owner_id)
                then = terms_as_of(conn, wid, oid, at).effective()
                current = terms_as_of(conn, wid, oid, now).effective()
                agreement = agreements.get((int(r.id), wid))
                out.append(
                    Use(
                        "scan",
                        at,
                        wid,
                        r.owner,
                        r.licensee,
                        f"request {r.id} ({r.status})",
                        None,
                        int(line["items"]),
                        agreement.id if agreement else None,
                        (r.manifest_digest,),
                        {u.value: p.value for u, p in then.items()},
                        {u.value: p.value for u, p in current.items()},
                    )
                )
    out.sort(key=lambda u: (u.at, u.kind, u.work_id))
    return out


@dataclass(frozen=True, slots=True)
class Notice:
    """A licensee is told that a usage it relied on turned to deny."""

    id: int
    at: datetime
    licensee: str
    owner: str
    work_id: int | None
    usage: str
    before: str
    after: str
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "licensee": self.licensee,
            "owner": self.owner,
            "work_id": self.work_id,
            "usage": self.usage,
            "before": self.before,
            "after": self.after,
            "detail": self.detail,
        }


def list_notices(store: SqlStore, *, licensee: str | None = None) -> list[Notice]:
    """Queued notices, oldest first; only one licensee's with ``licensee``."""
    who = aliased(s.parties)
    whose = aliased(s.parties)
    query = (
        select(s.notices, who.c.name.label("licensee"), whose.c.name.label("owner"))
        .join(who, who.c.id == s.notices.c.licensee_id)
        .join(whose, whose.c.id == s.notices.c.owner_id)
        .order_by(s.notices.c.id)
    )
    with database_errors("read"), store.engine.connect() as conn:
        if licensee is not None:
            query = query.where(s.notices.c.licensee_id == store._party_id(conn, licensee))
        rows = conn.execute(query).all()
    return [
        Notice(
            int(r.id),
            aware(r.at),
            r.licensee,
            r.owner,
            r.work_id,
            r.usage,
            r.before,
            r.after,
            r.detail,
        )
        for r in rows
    ]


__all__ = ["Notice", "Use", "impact", "list_notices"]

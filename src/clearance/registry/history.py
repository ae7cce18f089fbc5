"""The full history of terms, and the notices queued when terms turn to deny.

Why: an opt-out must reach models already trained. A decision taken last
quarter is explained by the terms *as they were then*, so every change to a
scope's terms (a work's own, or an owner's defaults) appends that scope's
whole stated terms to ``terms_history``, in the same transaction as the change
and its audit row. ``terms_as_of`` reads them back for any date.

When a usage goes from ``allow`` or ``license`` to ``deny``, each licensee
that holds an agreement on the work, or recorded a run that used it, gets a
notice (``notices``), queued in the same transaction. Both tables are
append-only (triggers, revision 0004).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert, or_, select

from clearance.core.models import AgreementStatus, Terms
from clearance.core.usage import ALL_USAGES, Permission, Usage
from clearance.registry import schema as s
from clearance.registry.bulkreads import aware


def record(
    conn: Connection,
    *,
    work_id: int | None,
    party_id: int | None,
    terms: Terms,
    actor: str,
    cause: str,
) -> None:
    """Append a scope's stated terms after a change."""
    conn.execute(
        insert(s.terms_history).values(
            at=datetime.now(UTC),
            actor=actor,
            work_id=work_id,
            party_id=party_id,
            terms=json.dumps(terms.to_dict(), sort_keys=True),
            cause=cause,
        )
    )


def terms_from_doc(doc: Mapping[str, Any]) -> Terms:
    """A history row's JSON back to ``Terms`` (prices kept as stored, not re-bounded)."""
    return Terms.from_dict(doc)


def _latest(conn: Connection, column: Any, key: int, at: datetime) -> Terms | None:
    row = conn.execute(
        select(s.terms_history.c.terms)
        .where(column == key, s.terms_history.c.at <= aware(at))
        .order_by(s.terms_history.c.id.desc())
        .limit(1)
    ).scalar()
    return None if row is None else terms_from_doc(json.loads(row))


def terms_as_of(conn: Connection, work_id: int, owner_id: int, at: datetime) -> Terms:
    """A work's terms (its own over its owner's defaults) as they stood at ``at``."""
    own = _latest(conn, s.terms_history.c.work_id, work_id, at) or Terms()
    default = _latest(conn, s.terms_history.c.party_id, owner_id, at)
    return own.merged_over(default)


def history_of(conn: Connection, work_id: int) -> list[tuple[datetime, str, Terms]]:
    """Every recorded state of a work's own terms: (when, who, terms), oldest first."""
    rows = conn.execute(
        select(s.terms_history)
        .where(s.terms_history.c.work_id == work_id)
        .order_by(s.terms_history.c.id)
    ).all()
    return [(aware(r.at), r.actor, terms_from_doc(json.loads(r.terms))) for r in rows]


_OPEN = (Permission.ALLOW, Permission.LICENSE)


def turned_to_deny(before: Terms, after: Terms) -> list[tuple[Usage, Permission]]:
    """Usages that went from allow or licence to deny: (usage, what it was)."""
    was, now = before.effective(), after.effective()
    return [(u, was[u]) for u in ALL_USAGES if was[u] in _OPEN and now[u] is Permission.DENY]


def queue_notices(
    conn: Connection,
    *,
    owner_id: int,
    work_id: int | None,
    before: Terms,
    after: Terms,
) -> int:
    """Queue a notice for each licensee affected by usages turning to deny; how many.

    Affected: a licensee holding an active agreement on the work (or on all the
    owner's works), or one whose recorded runs used the work (any of the
    owner's works, for a change to the owner's defaults).
    """
    changed = turned_to_deny(before, after)
    if not changed:
        return 0
    agreements = select(s.agreements.c.licensee_id).where(
        s.agreements.c.owner_id == owner_id,
        s.agreements.c.status == AgreementStatus.ACTIVE.value,
    )
    runs = (
        select(s.runs.c.licensee_id)
        .join(s.run_lines, s.run_lines.c.run_id == s.runs.c.id)
        .where(s.run_lines.c.owner_id == owner_id)
    )
    if work_id is not None:
        agreements = agreements.where(
            or_(s.agreements.c.work_id.is_(None), s.agreements.c.work_id == work_id)
        )
        runs = runs.where(s.run_lines.c.work_id == work_id)
    licensees = sorted(
        {int(i) for i in conn.execute(agreements).scalars()}
        | {int(i) for i in conn.execute(runs).scalars()}
    )
    scope = f"work {work_id}" if work_id is not None else "all works (owner default)"
    rows = [
        {
            "at": datetime.now(UTC),
            "licensee_id": licensee,
            "owner_id": owner_id,
            "work_id": work_id,
            "usage": usage.value,
            "before": was.value,
            "after": Permission.DENY.value,
            "detail": f"{scope}: {usage.value} changed from {was.value} to deny",
        }
        for licensee in licensees
        for usage, was in changed
    ]
    if rows:
        conn.execute(insert(s.notices), rows)
    return len(rows)

"""From evidence to one decisions.parquet row: include, exclude, needs-license or error.

The rule is the policy resolver's, applied to the run's purpose and mode:
allowed -> ``include``; not allowed but the strongest statement is a licence
-> ``needs-license``; otherwise -> ``exclude``. Registry works speak through
their owners' stated terms (the resolver applies the implications, so a deny
of ``tdm`` excludes ``train-genai``). The row keeps every piece of evidence
bearing on the purpose as a short reason string, the permission for every
usage (so one run answers "what else could I use this for"), and the full
evidence as JSON, so a decision can always be traced back to its sources.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from clearance.core.models import Evidence, Work
from clearance.core.policy import Mode, resolve
from clearance.core.usage import ALL_USAGES, Permission, Usage, broader_usages
from clearance.scan.matching import Match

OUTCOMES = ("include", "exclude", "needs-license", "error")
PERM_COLUMNS = tuple(f"perm_{u.value}" for u in ALL_USAGES)


def registry_evidence(work: Work) -> list[Evidence]:
    """The work's stated terms (party defaults merged in) as ``registry`` evidence."""
    detail = f"work {work.id} by {work.owner.name}" + (" (disputed)" if work.disputed else "")
    return [
        Evidence("registry", usage, perm, detail=detail)
        for usage, perm in sorted(work.terms.permissions.items(), key=lambda kv: kv[0].value)
    ]


def bears_on(evidence: Evidence, purpose: Usage) -> bool:
    return evidence.usage is purpose or evidence.usage in broader_usages(purpose)


def reason(evidence: Evidence) -> str:
    return f"{evidence.source}:{evidence.usage.value}={evidence.permission.value}"


def _work_json(work: Work, how: Sequence[str], purpose: Usage) -> dict[str, Any]:
    price = work.terms.price
    return {
        "id": work.id,
        "owner": work.owner.name,
        "title": work.title,
        "matched_by": list(how),
        "permission": work.terms.effective()[purpose].value,
        "price": price.to_dict() if price is not None else None,
        "disputed": work.disputed,
    }


def decide_row(
    item_id: str,
    source: str,
    match: Match | None,
    evidence: Sequence[Evidence],
    *,
    purpose: Usage,
    mode: Mode,
    warnings: Sequence[str] = (),
    error: str | None = None,
) -> dict[str, Any]:
    """One decisions.parquet row (see docs/scan.md for the columns)."""
    works = match.works if match is not None else {}
    detail: dict[str, Any] = {
        "evidence": [e.to_dict() for e in evidence],
        "works": [_work_json(w, match.how[w.id], purpose) for w in works.values()]
        if match is not None
        else [],
        "warnings": list(dict.fromkeys(warnings)),
    }
    if match is not None and match.sha256:
        detail["sha256"] = match.sha256
    row: dict[str, Any] = {
        "item_id": item_id,
        "source": source,
        "work_ids": sorted(works),
        "evidence": json.dumps(detail, sort_keys=True, ensure_ascii=False),
        "error": error,
    }
    if error is not None:
        row.update({"outcome": "error", "reasons": []})
        row.update({c: None for c in PERM_COLUMNS})
        return row
    decision = resolve(evidence, purpose, mode)
    if decision.allowed:
        outcome = "include"
    elif decision.permission is Permission.LICENSE:
        outcome = "needs-license"
    else:
        outcome = "exclude"
    row["outcome"] = outcome
    row["reasons"] = sorted({reason(e) for e in evidence if bears_on(e, purpose)})
    for usage in ALL_USAGES:
        row[f"perm_{usage.value}"] = resolve(evidence, usage, mode).permission.value
    return row

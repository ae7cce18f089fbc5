"""From a matched item to one ``decisions.parquet`` row.

The deciding is ``clearance.matching.decide.decide_item`` (the guard's
deciding lives next to it and uses the same evidence): allowed ->
``include``; not allowed with a licence as the strongest statement ->
``needs-license``; otherwise ``exclude``; ``review`` when weak matches alone
would change whether the item may be used. This module only lays the answer
out as a row: every piece of evidence bearing on the purpose as a short
reason string, the permission for every usage (so one run answers "what else
could I use this for"), and the full evidence as JSON, so a decision can
always be traced back to its sources.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from clearance.core.models import Evidence
from clearance.core.usage import ALL_USAGES, Permission, Usage, broader_usages
from clearance.matching.decide import (
    DISPUTED_SOURCE,
    IGNORED_SOURCE,
    OUTCOMES,
    ItemDecision,
    MatchedWork,
)

PERM_COLUMNS = tuple(f"perm_{u.value}" for u in ALL_USAGES)

__all__ = [
    "OUTCOMES",
    "PERM_COLUMNS",
    "bears_on",
    "decision_row",
    "error_row",
    "reason",
    "reason_text",
    "source_label",
]


def bears_on(evidence: Evidence, purpose: Usage) -> bool:
    return evidence.usage is purpose or evidence.usage in broader_usages(purpose)


def reason(evidence: Evidence) -> str:
    """``registry:train-genai=license``; an agreement's reason names it: ``... (agreement 3)``."""
    text = f"{evidence.source}:{evidence.usage.value}={evidence.permission.value}"
    if evidence.agreement_id is not None:
        text += f" (agreement {evidence.agreement_id})"
    return text


OPT_IN_SOURCE = "opt-in"
"""The reason source of an item excluded in opt-in mode because nobody allowed it."""
REASON_SOURCES = {
    OPT_IN_SOURCE: "No explicit permission (opt-in)",
    "review": "Weak match (review)",
    IGNORED_SOURCE: "Claim not acted on (claimant below the minimum verification)",
    DISPUTED_SOURCE: "Disputed registry claims (strictest applies)",
}
"""How a report names a reason source that is not a place evidence came from."""
_VERBS = {
    "deny": "denied",
    "license": "needs a licence",
    "allow": "allowed",
    "unknown": "not stated",
}


def reason_text(text: str) -> str:
    """A reason string as a sentence: ``registry:tdm=deny`` -> ``registry: tdm denied``."""
    source, _, rest = text.partition(":")
    if source == OPT_IN_SOURCE:
        usage = rest.partition("=")[0]
        return f"no explicit permission for {usage} (opt-in)"
    if source == "review":
        return f"needs review: {rest}"
    usage, eq, perm = rest.rpartition("=")
    if not eq or perm not in _VERBS:
        return text
    return f"{source}: {usage} {_VERBS[perm]}"


def source_label(source: str) -> str:
    """What a report calls a reason source (``opt-in``: No explicit permission (opt-in))."""
    return REASON_SOURCES.get(source, source)


def _detail(
    evidence: Sequence[Evidence],
    works: Sequence[MatchedWork],
    purpose: Usage,
    warnings: Sequence[str],
    sha256: str | None,
    unreachable: Mapping[str, str] | None = None,
) -> str:
    licensed: dict[int, int] = {}
    for e in evidence:
        if e.agreement_id is not None and e.work_id is not None and bears_on(e, purpose):
            licensed[e.work_id] = min(licensed.get(e.work_id, e.agreement_id), e.agreement_id)
    doc: dict[str, Any] = {
        "evidence": [e.to_dict() for e in evidence],
        "works": [w.to_dict(purpose) | {"agreement_id": licensed.get(w.work.id)} for w in works],
        "warnings": list(dict.fromkeys(warnings)),
    }
    if sha256:
        doc["sha256"] = sha256
    if unreachable:
        doc["unreachable"] = dict(unreachable)
    return json.dumps(doc, sort_keys=True, ensure_ascii=False)


def decision_row(
    item_id: str,
    source: str,
    decided: ItemDecision,
    works: Sequence[MatchedWork],
    *,
    purpose: Usage,
    warnings: Sequence[str] = (),
    sha256: str | None = None,
    unreachable: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """One decisions.parquet row (see docs/scan.md for the columns); ``unreachable``:
    ``{"origin", "reason"}`` of a URL whose site signals could not be read."""
    reasons = {reason(e) for e in decided.evidence if bears_on(e, purpose)}
    if decided.review:
        weak = sorted({m.label() for w in works if not w.strong for m in w.matches})
        reasons.add(f"review:weak match ({', '.join(weak)})")
    if decided.outcome == "exclude" and decided.decision.permission is Permission.UNKNOWN:
        # opt-in mode: nothing denied the item, but nothing allowed it either
        reasons.add(f"{OPT_IN_SOURCE}:{purpose.value}={Permission.UNKNOWN.value}")
    row: dict[str, Any] = {
        "item_id": item_id,
        "source": source,
        "outcome": decided.outcome,
        "reasons": sorted(reasons),
        "work_ids": sorted(w.work.id for w in works),
        "evidence": _detail(decided.evidence, works, purpose, warnings, sha256, unreachable),
        "error": None,
    }
    for usage in ALL_USAGES:
        row[f"perm_{usage.value}"] = decided.permissions[usage].value
    return row


def error_row(
    item_id: str,
    source: str,
    error: str,
    *,
    purpose: Usage,
    works: Sequence[MatchedWork] = (),
    evidence: Sequence[Evidence] = (),
    warnings: Sequence[str] = (),
    sha256: str | None = None,
    unreachable: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The row of an item that could not be read or checked."""
    row: dict[str, Any] = {
        "item_id": item_id,
        "source": source,
        "outcome": "error",
        "reasons": [],
        "work_ids": sorted(w.work.id for w in works),
        "evidence": _detail(evidence, works, purpose, warnings, sha256, unreachable),
        "error": error,
    }
    row.update({c: None for c in PERM_COLUMNS})
    return row

"""The policy resolver: many pieces of evidence in, one decision per usage out.

Order among sources (protocols digest, after aipref's "contracts override
preferences" and "any disallow wins"):

    active licence agreement > deny > license-required > allow > unknown

Statements about a broader usage reach the narrower ones (``tdm`` covers
``train-ai`` and ``ai-input``; ``train-ai`` covers ``train-genai``), so a deny
of ``tdm`` denies training. Resolution is a fold over a total order, which is
why it is independent of the order of the evidence and monotone: adding a deny
can never make a usage more allowed.

Modes:
* ``opt-out``: what nobody reserved is allowed (the EU TDM exception's default);
* ``opt-in``: only an explicit allow, or a licence held, counts ("authorization first").
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from clearance.core.errors import InvalidUsage
from clearance.core.models import Decision, Evidence, strictest
from clearance.core.usage import ALL_USAGES, Permission, Usage, broader_usages


class Mode(StrEnum):
    """How ``unknown`` is treated."""

    OPT_OUT = "opt-out"
    OPT_IN = "opt-in"

    @staticmethod
    def parse(text: str) -> Mode:
        try:
            return Mode(text.strip().lower())
        except ValueError:
            raise InvalidUsage(f"unknown mode {text!r}", hint="use opt-out or opt-in") from None


def _applies_to(evidence: Evidence, usage: Usage) -> bool:
    return evidence.usage is usage or evidence.usage in broader_usages(usage)


def resolve(
    evidence: Iterable[Evidence], usage: Usage, mode: Mode | str = Mode.OPT_OUT
) -> Decision:
    """Resolve the evidence that bears on ``usage`` into one ``Decision``.

    An active agreement that names a work (``Evidence.work_id``) licenses that
    work only: the terms of any *other* matched work still count, so a licence
    from one owner never clears an item that also reproduces another owner's
    denied work. An agreement without a work, or one covering every matched
    work, carries the decision against every preference (site signals included).
    """
    mode = Mode.parse(mode) if isinstance(mode, str) else mode
    relevant = tuple(
        sorted(
            (e for e in evidence if _applies_to(e, usage)),
            key=lambda e: (
                e.source,
                e.usage.value,
                e.permission.value,
                e.detail,
                e.raw,
                e.work_id if e.work_id is not None else -1,
                e.agreement_id if e.agreement_id is not None else -1,
            ),
        )
    )
    agreements = tuple(
        e for e in relevant if e.agreement_id is not None and e.permission is not Permission.DENY
    )
    if agreements:
        covered = {e.work_id for e in agreements}
        if None not in covered:
            others = tuple(
                e
                for e in relevant
                if e.agreement_id is None and e.work_id is not None and e.work_id not in covered
            )
            blocking = _fold(others)
            if blocking in (Permission.DENY, Permission.LICENSE):
                support = tuple(e for e in others if e.permission is blocking)
                return Decision(usage, blocking, False, False, mode.value, support)
        return Decision(usage, Permission.LICENSE, True, True, mode.value, agreements)

    preferences = tuple(e for e in relevant if e.agreement_id is None)
    permission = _fold(preferences)
    if permission is Permission.ALLOW:
        allowed = True
    elif permission is Permission.UNKNOWN:
        allowed = mode is Mode.OPT_OUT
    else:
        allowed = False
    support = tuple(e for e in preferences if e.permission is permission)
    return Decision(usage, permission, allowed, False, mode.value, support)


def _fold(evidence: Iterable[Evidence]) -> Permission:
    permission = Permission.UNKNOWN
    for e in evidence:
        permission = strictest(permission, e.permission)
    return permission


def resolve_all(
    evidence: Iterable[Evidence],
    mode: Mode | str = Mode.OPT_OUT,
    usages: Iterable[Usage] = ALL_USAGES,
) -> dict[Usage, Decision]:
    """Resolve every usage in ``usages`` from the same evidence."""
    items = tuple(evidence)
    return {u: resolve(items, u, mode) for u in usages}

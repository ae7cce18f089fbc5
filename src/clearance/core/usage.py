"""Clearance's canonical usage vocabulary and permission values.

Every opt-out protocol maps onto these few usages (see docs/signals.md and the
protocol digest). The implication rules live here too, because they are part
of the vocabulary's meaning: ``tdm`` covers ``train-ai`` and ``ai-input``, and
``train-ai`` covers ``train-genai``. A reservation on a broader usage therefore
applies to every narrower one.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from functools import cache

from clearance.core.errors import InvalidUsage


class Usage(StrEnum):
    """A way a work may be used."""

    TDM = "tdm"
    TRAIN_AI = "train-ai"
    TRAIN_GENAI = "train-genai"
    AI_INPUT = "ai-input"
    SEARCH = "search"
    OUTPUT = "output"


class Permission(StrEnum):
    """What a piece of evidence, or a resolved decision, says about one usage."""

    ALLOW = "allow"
    DENY = "deny"
    LICENSE = "license"
    UNKNOWN = "unknown"


ALL_USAGES: tuple[Usage, ...] = tuple(Usage)

# Direct implications: a statement about the key applies to every usage listed.
_COVERS: dict[Usage, tuple[Usage, ...]] = {
    Usage.TDM: (Usage.TRAIN_AI, Usage.AI_INPUT),
    Usage.TRAIN_AI: (Usage.TRAIN_GENAI,),
}


@cache
def narrower_usages(usage: Usage) -> frozenset[Usage]:
    """Every usage that ``usage`` covers, transitively (not including itself)."""
    out: set[Usage] = set()
    stack = list(_COVERS.get(usage, ()))
    while stack:
        u = stack.pop()
        if u not in out:
            out.add(u)
            stack.extend(_COVERS.get(u, ()))
    return frozenset(out)


@cache
def broader_usages(usage: Usage) -> frozenset[Usage]:
    """Every usage whose statements also apply to ``usage`` (not including itself)."""
    return frozenset(u for u in Usage if usage in narrower_usages(u))


def parse_usage(text: str, *, valid: str | None = None) -> Usage:
    """Parse one usage name; raise ``InvalidUsage`` naming the valid ones.

    ``valid`` replaces the list of valid names in the hint, for callers that
    accept only some usages (a scan's ``--purpose``).
    """
    key = text.strip().lower()
    try:
        return Usage(key)
    except ValueError:
        names = valid or ", ".join(u.value for u in Usage) + ", all"
        raise InvalidUsage(f"unknown usage {text!r}", hint=f"valid: {names}") from None


def parse_usages(values: Iterable[str]) -> tuple[Usage, ...]:
    """Parse comma-separated and/or repeated usage names; ``all`` means every usage.

    The order of first appearance is kept and duplicates are dropped.
    """
    out: list[Usage] = []
    for value in values:
        for part in value.split(","):
            name = part.strip()
            if not name:
                continue
            items = ALL_USAGES if name.lower() == "all" else (parse_usage(name),)
            for u in items:
                if u not in out:
                    out.append(u)
    return tuple(out)


def parse_permission(text: str) -> Permission:
    """Parse one permission value."""
    key = text.strip().lower()
    try:
        return Permission(key)
    except ValueError:
        valid = ", ".join(p.value for p in Permission)
        raise InvalidUsage(f"unknown permission {text!r}", hint=f"valid: {valid}") from None

"""Cloudflare Content Signals: ``Content-Signal: search=yes, ai-input=yes, ai-train=no``.

Why this module exists: Content Signals look like aipref's ``Content-Usage``
but are a different vocabulary with different spellings (``yes``/``no``
instead of the Tokens ``y``/``n``; ``ai-train`` and ``ai-input`` instead of
``train-ai`` and ``ai-use``) and no structured-field grammar. Parsing them with
the aipref parser would read every value as unknown, and mapping one label set
onto the other silently would mix two declarations up. So they get their own
lenient reader, and ``mapping`` says what each signal means.

The value is a comma-separated list of ``name=value`` pairs. Names and values
are compared case-insensitively and with surrounding space removed. A value
other than ``yes``/``no`` is unknown, with a warning. When one statement gives
the same signal twice with different values, the more restrictive (``no``)
wins and a warning says so: a conflicting declaration is read the way that
cannot over-grant.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

KNOWN_SIGNALS: tuple[str, ...] = ("search", "ai-input", "ai-train")
"""The signals Cloudflare's Content Signals Policy defines."""


class Signal(StrEnum):
    """An explicit signal value."""

    YES = "yes"
    NO = "no"


@dataclass(frozen=True, slots=True)
class ContentSignals:
    """One Content-Signal statement: explicit ``yes``/``no`` per signal name.

    ``signals`` holds every name with a ``yes``/``no`` value (known names and
    others alike); names absent from it are unknown. ``raw`` is the value as
    given.
    """

    signals: Mapping[str, Signal] = field(default_factory=dict)
    raw: str = ""
    warnings: tuple[str, ...] = ()

    def get(self, name: str) -> Signal | None:
        """The explicit signal for ``name``, or None when it is unknown."""
        return self.signals.get(name.lower())


_VALUES = {"yes": Signal.YES, "no": Signal.NO}


def parse_content_signal(value: str | bytes) -> ContentSignals:
    """Parse one ``Content-Signal`` value. Never raises."""
    raw = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    signals: dict[str, Signal] = {}
    warnings: list[str] = []
    for part in raw.split(","):
        item = part.strip()
        if not item:
            continue
        name, eq, val = item.partition("=")
        name = name.strip().lower()
        val = val.strip().strip('"').strip().lower()
        if not eq or not name:
            warnings.append(f"Content-Signal item {item!r} is not name=value; ignored")
            continue
        sig = _VALUES.get(val)
        if sig is None:
            warnings.append(f"Content-Signal {name}={val!r}: value is not yes or no; unknown")
            continue
        if name not in KNOWN_SIGNALS:
            warnings.append(f"Content-Signal {name!r} is not a known signal")
        prev = signals.get(name)
        if prev is not None and prev is not sig:
            warnings.append(f"Content-Signal {name} is given as both yes and no; no wins")
            sig = Signal.NO
        signals[name] = sig
    if not signals and not warnings:
        warnings.append("empty Content-Signal statement")
    return ContentSignals(signals, raw, tuple(warnings))


def combine(statements: Iterable[ContentSignals]) -> ContentSignals:
    """Combine statements per signal: any ``no`` wins, then any ``yes``, else unknown."""
    out: dict[str, Signal] = {}
    raws: list[str] = []
    warnings: list[str] = []
    for st in statements:
        raws.append(st.raw)
        warnings.extend(st.warnings)
        for name, sig in st.signals.items():
            if sig is Signal.NO or name not in out:
                out[name] = sig
    return ContentSignals(out, " | ".join(raws), tuple(warnings))

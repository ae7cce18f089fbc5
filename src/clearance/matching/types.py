"""The shared vocabulary of matching: a ``Match``, a signal type's thresholds, the cascade level.

Why one ``Match`` type: the scan (training data) and the guard (generated
outputs) must find the same works for the same content, and say so in the
same words. Both get their matches from ``clearance.matching.matcher`` and
describe them with ``Match.label`` (the scan's ``matched_by`` strings) and
``Match.to_dict`` (the guard's JSON), so neither can drift.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from clearance.core.errors import UserError


class MatchLevel(StrEnum):
    """How far down the cascade a job goes (``--match``).

    * ``exact``: identifiers only (SHA-256 of the bytes, URL, URL prefix,
      domain, ISBN/ISRC/ISCC); nothing is decoded.
    * ``pdq``: plus content fingerprints: global PDQ with rotations/flips for
      images, text containment, Chromaprint audio, video frames.
    * ``regions``: plus crop/pad region hashes for images PDQ did not match.
    * ``embedding``: plus the image embedder (when one is configured) for
      images neither PDQ nor regions matched.
    """

    EXACT = "exact"
    PDQ = "pdq"
    REGIONS = "regions"
    EMBEDDING = "embedding"

    @staticmethod
    def parse(value: MatchLevel | str) -> MatchLevel:
        if isinstance(value, MatchLevel):
            return value
        try:
            return MatchLevel(str(value).strip().lower())
        except ValueError:
            names = "|".join(level.value for level in MatchLevel)
            raise UserError(f"--match must be one of {names}, not {value!r}") from None

    def reaches(self, other: MatchLevel) -> bool:
        """Whether this level runs the stage ``other`` (levels are ordered)."""
        order = list(MatchLevel)
        return order.index(self) >= order.index(other)


@dataclass(frozen=True, slots=True)
class Thresholds:
    """A signal type's limits, in its own unit.

    For distances (PDQ, regions: Hamming bits) a value at or under ``strong``
    is strong evidence; for scores (containment, cosine, seconds of audio) a
    value at or over ``strong`` is. ``review`` (or None) is the weaker limit
    that asks a person to look.
    """

    strong: float
    review: float | None = None
    distance: bool = False

    def strength(self, value: float) -> bool | None:
        """True: strong; False: review; None: no match."""
        if self.distance:
            if value <= self.strong:
                return True
            return False if self.review is not None and value <= self.review else None
        if value >= self.strong:
            return True
        return False if self.review is not None and value >= self.review else None


@dataclass(frozen=True, slots=True)
class Match:
    """One registered work found in an item or output, by one signal type.

    ``method`` names the signal type (``sha256``, ``url``, ``url-prefix``,
    ``domain``, ``isbn``, ``isrc``, ``iscc``, ``pdq``, ``region``,
    ``embedding``, ``text-containment``, ``text-short``, ``chromaprint``,
    ``frames``, ``alias``); ``score`` is 0..1 (1 - distance/256 for hashes);
    ``span`` locates the match in the query (characters for text, ms for
    audio/video); ``strong`` False means the evidence only asks for review.
    """

    work_id: int
    method: str
    score: float = 1.0
    distance: int | None = None
    span: tuple[int, int] | None = None
    strong: bool = True

    def label(self) -> str:
        """The short form the scan writes in ``matched_by`` (``pdq:12``, ``text:0.85``)."""
        if self.method in ("pdq", "region"):
            return f"{self.method}:{self.distance}"
        if self.method == "text-containment":
            return f"text:{self.score:.2f}"
        if self.method in ("text-short", "chromaprint", "frames", "embedding"):
            return f"{self.method}:{self.score:.2f}"
        return self.method

    def to_dict(self) -> dict[str, Any]:
        return {
            "work_id": self.work_id,
            "method": self.method,
            "score": round(self.score, 4),
            "distance": self.distance,
            "span": list(self.span) if self.span else None,
            "strong": self.strong,
        }

    def better_than(self, other: Match) -> bool:
        """Strong before weak, then the higher score (used to keep one match per work)."""
        return (self.strong, self.score) > (other.strong, other.score)


def best_per_work(matches: list[Match]) -> dict[int, list[Match]]:
    """Matches grouped by work, each work's list best first (strong, then score)."""
    out: dict[int, list[Match]] = {}
    for m in matches:
        out.setdefault(m.work_id, []).append(m)
    for group in out.values():
        group.sort(key=lambda m: (not m.strong, -m.score, m.method))
    return out

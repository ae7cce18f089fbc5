"""``check``: may this generated output reach the user? A verdict with its evidence.

The guard is thin on purpose. Matching is ``clearance.matching.matcher``'s
cascade (the scan runs the same one): identifiers, global PDQ with
rotations/flips, crop/pad regions where PDQ finds nothing, the embedder where
both find nothing and one is configured; text containment with the
short-text rule; Chromaprint and video frames; character names in the prompt
and the text. Deciding is ``clearance.matching.decide.decide_output``: each
matched work's ``output`` terms and the licensee's agreements covering it
become evidence, ``core.resolve`` decides in the chosen mode, and the
verdict maps those decisions:

* a strongly matched work the output may not use -> ``block`` (output denied;
  a licence needed and not held; in opt-in mode, no explicit permission);
* only weakly matched works it may not use -> ``review``;
* otherwise ``allow``, and each matched work yields one ``UsageEvent`` (basis
  ``licence`` under an agreement, else ``attribution``) in
  ``Verdict.usage_events``. ``check`` stays pure: the caller records them
  (``registry.record_usage_events``).

``min_verification`` (``--min-verification``, ``CLEARANCE_MIN_VERIFICATION``):
a matched work whose claimant is below that level is not acted on: it neither
blocks nor yields a usage event, and its reason says ``ignored-for-verification``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from clearance.core.errors import UserError
from clearance.core.models import PricePer, UsageBasis, UsageEvent, VerificationLevel, Work
from clearance.core.policy import Mode
from clearance.core.usage import Permission, Usage
from clearance.fingerprint.embedding import ImageEmbedder
from clearance.matching.decide import WorkVerdict, decide_output, matched_works, output_reason
from clearance.matching.image import NO_EMBEDDER, search_pdq
from clearance.matching.matcher import MatchResult, Query, match
from clearance.matching.media import media_kind
from clearance.matching.text import MAX_TEXT_CHARS
from clearance.matching.types import Match, MatchLevel
from clearance.matching.view import RegistryView

__all__ = ["MAX_TEXT_CHARS", "NO_EMBEDDER", "GuardMatch", "Verdict", "check", "check_pdq"]


@dataclass(frozen=True, slots=True)
class GuardMatch:
    """A ``Match`` as the guard reports it: with the work's owner and kind."""

    work_id: int
    owner: str
    kind: str
    method: str
    score: float
    distance: int | None = None
    span: tuple[int, int] | None = None
    strong: bool = True

    @staticmethod
    def of(m: Match, work: Work | None) -> GuardMatch:
        owner = work.owner.name if work else "?"
        kind = work.kind.value if work else "?"
        return GuardMatch(m.work_id, owner, kind, m.method, m.score, m.distance, m.span, m.strong)

    def to_dict(self) -> dict[str, Any]:
        return {
            "work_id": self.work_id,
            "owner": self.owner,
            "kind": self.kind,
            "method": self.method,
            "score": round(self.score, 4),
            "distance": self.distance,
            "span": list(self.span) if self.span else None,
            "strong": self.strong,
        }


@dataclass(frozen=True, slots=True)
class Verdict:
    input: str
    verdict: str
    matches: tuple[GuardMatch, ...]
    checks_run: tuple[str, ...]
    latency_ms: float
    reasons: tuple[str, ...] = field(default_factory=tuple)
    usage_events: tuple[UsageEvent, ...] = field(default_factory=tuple)
    mode: str = Mode.OPT_OUT.value
    works: tuple[WorkVerdict, ...] = field(default_factory=tuple)
    """Each matched work's decision for ``output``, and what it does to the verdict."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "input": self.input,
            "verdict": self.verdict,
            "mode": self.mode,
            "works": [_work_json(v) for v in self.works],
            "matches": [m.to_dict() for m in self.matches],
            "checks_run": list(self.checks_run),
            "latency_ms": round(self.latency_ms, 2),
            "reasons": list(self.reasons),
            "usage_events": [e.to_dict() for e in self.usage_events],
        }


def _work_json(v: WorkVerdict) -> dict[str, Any]:
    return {
        "work_id": v.matched.work.id,
        "owner": v.matched.work.owner.name,
        "owner_verification": v.matched.work.owner.verification.value,
        "strong": v.matched.strong,
        "permission": v.decision.permission.value,
        "allowed": v.decision.allowed,
        "licensed": v.decision.licensed,
        "agreement_id": v.agreement,
        "verdict": v.verdict,
    } | ({"ignored-for-verification": v.ignored} if v.ignored else {})


def _verdict(
    view: RegistryView,
    result: MatchResult,
    *,
    label: str,
    licensee: str | None,
    mode: Mode,
    started: float,
    min_verification: VerificationLevel = VerificationLevel.SELF,
) -> Verdict:
    """Decide the matches (``decide_output``) and build the verdict with its usage events."""
    at = datetime.now(UTC)
    licensee = (licensee.strip() or None) if licensee else None
    agreements = view.licensed_to(licensee)
    works = matched_works(result.matches, view.work, min_verification=min_verification)
    verdict, per_work = decide_output(works, mode=mode, agreements=agreements, at=at)
    reasons = [output_reason(v, licensee) for v in per_work]
    unlicensed = any(
        v.verdict != "allow" and v.decision.permission is Permission.LICENSE for v in per_work
    )
    if unlicensed and licensee is not None:
        reasons.append(
            f"licensee {licensee!r} holds no agreement in force covering output of these works"
            if licensee in view.agreements
            else f"licensee {licensee!r} holds no agreement in force (unknown, or none granted)"
        )
    events: list[UsageEvent] = []
    if verdict == "allow":  # a blocked or held output is not used, so nothing is recorded
        by_id = {a.id: a for a in agreements}
        for v in per_work:
            if v.ignored:
                continue  # a claim not acted on is owed nothing
            best = v.matched.best
            price = None
            if v.decision.licensed:  # the agreed price, else the work's price for outputs
                agreed = by_id.get(v.agreement or 0)
                price = (agreed.prices.get(Usage.OUTPUT) if agreed else None) or (
                    v.matched.work.terms.price_for(Usage.OUTPUT)
                )
            if price is not None and price.per not in (PricePer.OUTPUT, PricePer.ITEM):
                price = None  # per run or a pool share: nothing is owed per output
            events.append(
                UsageEvent(
                    at=at,
                    work_id=v.matched.work.id,
                    basis=UsageBasis.LICENCE if v.decision.licensed else UsageBasis.ATTRIBUTION,
                    method=best.method,
                    score=best.score,
                    input_label=label,
                    verdict=verdict,
                    licensee=licensee,
                    agreement_id=v.agreement if v.decision.licensed else None,
                    amount=price.amount if price is not None else None,
                    currency=price.currency if price is not None else None,
                )
            )
    matches = tuple(GuardMatch.of(m, view.work(m.work_id)) for m in result.matches)
    elapsed = (time.perf_counter() - started) * 1000
    return Verdict(
        label,
        verdict,
        matches,
        tuple(result.checks),
        elapsed,
        tuple(reasons) + tuple(n for n in result.notes if n),
        tuple(events),
        mode.value,
        tuple(per_work),
    )


def check_pdq(
    index: RegistryView,
    pdq: bytes,
    *,
    prompt: str | None = None,
    label: str = "pdq",
    licensee: str | None = None,
    embedder: ImageEmbedder | None = None,
    mode: Mode | str = Mode.OPT_OUT,
    min_verification: VerificationLevel | str = VerificationLevel.SELF,
) -> Verdict:
    """Check a PDQ hash computed by the client (32 bytes), for clients that hash locally.

    Only the global hash is compared (no rotations/flips, regions or
    embedding: the client sent one hash, no pixels), plus the prompt's names.
    """
    started = time.perf_counter()
    if len(pdq) != 32:
        raise UserError("a PDQ hash is 32 bytes (64 hex digits)")
    mode = Mode.parse(mode) if isinstance(mode, str) else mode
    result = match(index.index, Query(prompt=prompt), index.work, names=True)
    found = search_pdq(index.index.pdq, np.frombuffer(pdq, np.uint8).reshape(1, 32))
    result.matches[:0] = [m for m in found if index.work(m.work_id) is not None]
    result.checks.insert(0, "pdq")
    result.notes.append("embedding: not run, a hash has no pixels" if embedder else NO_EMBEDDER)
    return _verdict(
        index,
        result,
        label=label,
        licensee=licensee,
        mode=mode,
        started=started,
        min_verification=VerificationLevel.parse(min_verification),
    )


def check(
    index: RegistryView,
    output: str | bytes | Path | None = None,
    *,
    text: str | None = None,
    prompt: str | None = None,
    label: str = "output",
    licensee: str | None = None,
    embedder: ImageEmbedder | None = None,
    mode: Mode | str = Mode.OPT_OUT,
    min_verification: VerificationLevel | str = VerificationLevel.SELF,
) -> Verdict:
    """Check one output (``output``: an image, audio or video, as bytes or a path) and/or ``text``.

    The output's kind comes from its extension (for bytes, ``label``'s, e.g. an
    upload's file name): audio and video are matched by Chromaprint and by
    1 fps frame hashes, anything else as an image.

    ``embedder`` (the one ``index`` was built with) adds the embedding check
    for images the hashes did not match; without it the reasons say so.

    ``licensee`` names the party generating the output: its agreements in force
    turn ``output=license`` matches into ``allow`` (an unknown name holds none).
    ``mode``: in ``opt-in`` mode an output may reproduce a registered work only
    when its owner allowed ``output`` (or licensed it to the licensee).
    ``min_verification``: claims of parties verified below it are not acted on.
    """
    started = time.perf_counter()
    mode = Mode.parse(mode) if isinstance(mode, str) else mode
    if output is None and text is None and prompt is None:
        raise UserError("nothing to check: give an image, a text or a prompt")
    if text is not None and len(text) > MAX_TEXT_CHARS:
        raise UserError(f"text is {len(text)} characters, over the limit of {MAX_TEXT_CHARS}")
    if text is not None and not text.strip() and output is None and prompt is None:
        raise UserError("the text to check is empty")
    query = Query(text=text or None, prompt=prompt, name=label)
    if output is not None:
        name = label if isinstance(output, bytes) else str(output)
        query.media = media_kind(name)
        query.name = name if isinstance(output, bytes) else label
        if isinstance(output, bytes):
            query.data = output
        else:
            query.path = Path(output)
    result = match(
        index.index,
        query,
        index.work,
        level=MatchLevel.EMBEDDING,
        embedder=embedder,
        names=True,
    )
    return _verdict(
        index,
        result,
        label=label,
        licensee=licensee,
        mode=mode,
        started=started,
        min_verification=VerificationLevel.parse(min_verification),
    )

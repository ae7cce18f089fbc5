"""``check``: may this generated output reach the user? A verdict with its evidence.

Each match names a registered work; the work's ``output`` terms decide:

* ``deny``  -> ``block``;
* ``license`` -> ``block`` with the offer attached (licence agreements are not
  stored yet, so no licensee holds one; the licensing issue adds them);
* ``allow`` -> ``allow``, with the attribution listed;
* unstated -> ``allow`` (nobody reserved outputs), with the match listed.

Strong evidence is a global PDQ match (distance <= 31, either side's quality >= 50,
the query's 8 rotations/flips included), a region match (distance <= 28), a
registered text of which at least half the 8-grams, or a run of at least 30
words, appears in the output, or a character's name or alias in the prompt or
text. Weaker text overlaps (a run of 12 to 29 words) give ``review``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from clearance.core.errors import UserError
from clearance.core.models import Work
from clearance.core.usage import Permission, Usage
from clearance.fingerprint.image import decode_image, hash_rgb
from clearance.fingerprint.regions import regions_of_image
from clearance.fingerprint.text import ngram_hashes, tokenize, word_hashes
from clearance.guard.index import GuardIndex

SHINGLE = 8
PDQ_RADIUS = 31
REGION_RADIUS = 28
TEXT_CONTAINMENT = 0.5
TEXT_RUN_BLOCK = 30
TEXT_RUN_REVIEW = 12
TEXT_GAP = SHINGLE + 2
"""One edited word removes SHINGLE consecutive 8-grams; a run survives such gaps."""
MAX_TEXT_CHARS = 2_000_000


@dataclass(frozen=True, slots=True)
class GuardMatch:
    work_id: int
    owner: str
    kind: str
    method: str
    score: float
    distance: int | None = None
    span: tuple[int, int] | None = None
    strong: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "work_id": self.work_id,
            "owner": self.owner,
            "kind": self.kind,
            "method": self.method,
            "score": round(self.score, 4),
            "distance": self.distance,
            "span": list(self.span) if self.span else None,
        }


@dataclass(frozen=True, slots=True)
class Verdict:
    input: str
    verdict: str
    matches: tuple[GuardMatch, ...]
    checks_run: tuple[str, ...]
    latency_ms: float
    reasons: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {
            "input": self.input,
            "verdict": self.verdict,
            "matches": [m.to_dict() for m in self.matches],
            "checks_run": list(self.checks_run),
            "latency_ms": round(self.latency_ms, 2),
            "reasons": list(self.reasons),
        }


def _image_matches(index: GuardIndex, data: bytes | Path, out: list[GuardMatch]) -> list[str]:
    """Global PDQ (and its rotations/flips) first; regions only where that finds nothing."""
    rgb, width, height = decode_image(data)
    h = hash_rgb(rgb, width, height)
    if not h.low_quality:
        queries = np.frombuffer(b"".join(h.dihedral), np.uint8).reshape(-1, 32)
        best: dict[int, int] = {}
        for hits in index.pdq.search(queries, radius=PDQ_RADIUS):
            for work_id, dist in hits:
                best[work_id] = min(dist, best.get(work_id, 256))
        for work_id, dist in best.items():
            out.append(_match(index, work_id, "pdq", 1 - dist / 256, dist))
        if best:
            return ["pdq"]
    regions = regions_of_image(rgb, "query")
    if len(regions):
        found: dict[int, int] = {}
        for hits in index.regions.search(regions.array(), radius=REGION_RADIUS):
            for work_id, dist in hits:
                found[work_id] = min(dist, found.get(work_id, 256))
        for work_id, dist in found.items():
            out.append(_match(index, work_id, "region", 1 - dist / 256, dist))
    return ["pdq", "region"]


def _text_matches(index: GuardIndex, text: str, out: list[GuardMatch]) -> None:
    tokens = tokenize(text)
    if len(tokens.words) < SHINGLE or not len(index.text_hashes):
        return
    grams = ngram_hashes(word_hashes(list(tokens.words)), SHINGLE)
    lo = np.searchsorted(index.text_hashes, grams, side="left")
    hi = np.searchsorted(index.text_hashes, grams, side="right")
    positions: dict[int, list[int]] = {}
    for at in np.flatnonzero(hi > lo).tolist():
        for work_id in set(index.text_works[lo[at] : hi[at]].tolist()):
            positions.setdefault(work_id, []).append(at)
    for work_id, pos in positions.items():
        unique = len(set(grams[pos].tolist()))
        containment = unique / max(1, index.text_sizes.get(work_id, 1))
        start = prev = pos[0]
        best = (pos[0], pos[0])
        for p in pos[1:]:
            if p - prev > TEXT_GAP:
                start = p
            prev = p
            if prev - start > best[1] - best[0]:
                best = (start, prev)
        run_words = best[1] - best[0] + SHINGLE
        last = min(best[1] + SHINGLE - 1, len(tokens.words) - 1)
        span = (int(tokens.starts[best[0]]), int(tokens.ends[last]))
        strong = containment >= TEXT_CONTAINMENT or run_words >= TEXT_RUN_BLOCK
        if strong or run_words >= TEXT_RUN_REVIEW:
            out.append(_match(index, work_id, "text-containment", containment, None, span, strong))


def _match(
    index: GuardIndex,
    work_id: int,
    method: str,
    score: float,
    distance: int | None,
    span: tuple[int, int] | None = None,
    strong: bool = True,
) -> GuardMatch:
    work = index.works.get(work_id)
    owner = work.owner.name if work else "?"
    kind = work.kind.value if work else "?"
    return GuardMatch(work_id, owner, kind, method, score, distance, span, strong)


def _decide(index: GuardIndex, matches: list[GuardMatch]) -> tuple[str, list[str]]:
    verdict = "allow"
    reasons: list[str] = []
    for m in matches:
        work: Work | None = index.works.get(m.work_id)
        perm = work.terms.effective()[Usage.OUTPUT] if work else Permission.UNKNOWN
        if not m.strong:
            reasons.append(f"work {m.work_id}: partial {m.method} evidence, needs review")
            if verdict == "allow":
                verdict = "review"
            continue
        if perm is Permission.DENY:
            verdict = "block"
            reasons.append(f"work {m.work_id} ({m.owner}): output=deny")
        elif perm is Permission.LICENSE:
            verdict = "block"
            price = work.terms.price.to_dict() if work and work.terms.price else None
            reasons.append(f"work {m.work_id} ({m.owner}): output needs a licence, offer {price}")
        else:
            reasons.append(f"work {m.work_id} ({m.owner}): output={perm.value}; attribution")
    return verdict, reasons


def check_pdq(
    index: GuardIndex, pdq: bytes, *, prompt: str | None = None, label: str = "pdq"
) -> Verdict:
    """Check a PDQ hash computed by the client (32 bytes), for clients that hash locally.

    Only the global hash is compared (no rotations/flips or regions: the client
    sent one hash), plus the prompt's names.
    """
    started = time.perf_counter()
    if len(pdq) != 32:
        raise UserError("a PDQ hash is 32 bytes (64 hex digits)")
    matches: list[GuardMatch] = []
    query = np.frombuffer(pdq, np.uint8).reshape(1, 32)
    for work_id, dist in index.pdq.search(query, radius=PDQ_RADIUS)[0]:
        matches.append(_match(index, work_id, "pdq", 1 - dist / 256, dist))
    checks = ["pdq"]
    if prompt:
        for found in {m.key: m for m in index.names.find(prompt)}.values():
            matches.append(_match(index, found.key, "alias", 1.0, None, found.span))
        checks.append("alias")
    verdict, reasons = _decide(index, matches)
    elapsed = (time.perf_counter() - started) * 1000
    return Verdict(label, verdict, tuple(matches), tuple(checks), elapsed, tuple(reasons))


def check(
    index: GuardIndex,
    output: str | bytes | Path | None = None,
    *,
    text: str | None = None,
    prompt: str | None = None,
    label: str = "output",
) -> Verdict:
    """Check one output: image bytes or a path (``output``) and/or ``text``, plus the prompt."""
    started = time.perf_counter()
    if output is None and text is None and prompt is None:
        raise UserError("nothing to check: give an image, a text or a prompt")
    if text is not None and len(text) > MAX_TEXT_CHARS:
        raise UserError(f"text is {len(text)} characters, over the limit of {MAX_TEXT_CHARS}")
    if text is not None and not text.strip() and output is None and prompt is None:
        raise UserError("the text to check is empty")
    matches: list[GuardMatch] = []
    checks: list[str] = []
    if output is not None:
        checks += _image_matches(
            index, output if isinstance(output, bytes) else Path(output), matches
        )
    if text:
        _text_matches(index, text, matches)
        checks.append("text-containment")
    alias_sources = [s for s in (prompt, text) if s]
    if alias_sources:
        seen: set[int] = set()
        for source in alias_sources:
            for found in index.names.find(source):
                if found.key not in seen:
                    seen.add(found.key)
                    m = _match(index, found.key, "alias", 1.0, None, found.span)
                    matches.append(m)
        checks.append("alias")
    verdict, reasons = _decide(index, matches)
    elapsed = (time.perf_counter() - started) * 1000
    return Verdict(label, verdict, tuple(matches), tuple(checks), elapsed, tuple(reasons))

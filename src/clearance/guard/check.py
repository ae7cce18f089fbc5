"""``check``: may this generated output reach the user? A verdict with its evidence.

Each match names a registered work; the work's ``output`` terms decide:

* ``deny``  -> ``block``;
* ``license`` -> ``allow`` when the ``licensee`` holds an agreement in force
  covering ``output`` for that work (or all of its owner's works), else
  ``block`` with the offer attached;
* ``allow`` -> ``allow``, with the attribution listed;
* unstated -> ``allow`` (nobody reserved outputs), with the match listed.

When the verdict is ``allow``, each matched work yields one ``UsageEvent``
(basis ``licence`` or ``attribution``) in ``Verdict.usage_events``. ``check``
stays pure: the caller records them (``registry.record_usage_events``).

Strong evidence is a global PDQ match (distance <= 31, either side's quality >= 50,
the query's 8 rotations/flips included), a region match (distance <= 28), a
registered text of which at least half the 8-grams, or a run of at least 30
words, appears in the output, or a character's name or alias in the prompt or
text. With an image embedder configured, an image the hashes did not match
is cut into windows and embedded; a cosine >= the model's ``block`` threshold
against a work's stored vector is strong, >= ``review`` weak (method
``embedding``; docs/guard.md). Weaker text overlaps (a run of 12 to 29 words) give ``review``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from clearance.core.errors import UserError
from clearance.core.models import Agreement, UsageBasis, UsageEvent, Work
from clearance.core.usage import Permission, Usage
from clearance.fingerprint.embedding import ImageEmbedder
from clearance.fingerprint.image import decode_image, hash_rgb
from clearance.fingerprint.regions import regions_of_image
from clearance.fingerprint.text import ngram_hashes, tokenize, word_hashes
from clearance.fingerprint.windows import best_similarities, decode_query
from clearance.guard.index import GuardIndex
from clearance.guard.media import media_hits, media_kind

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
    usage_events: tuple[UsageEvent, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {
            "input": self.input,
            "verdict": self.verdict,
            "matches": [m.to_dict() for m in self.matches],
            "checks_run": list(self.checks_run),
            "latency_ms": round(self.latency_ms, 2),
            "reasons": list(self.reasons),
            "usage_events": [e.to_dict() for e in self.usage_events],
        }


NO_EMBEDDER = "embedding: not run, no embedder configured (set CLEARANCE_EMBEDDER)"


def _image_matches(
    index: GuardIndex,
    data: bytes | Path,
    out: list[GuardMatch],
    embedder: ImageEmbedder | None = None,
    notes: list[str] | None = None,
) -> list[str]:
    """A cascade: global PDQ (and its rotations/flips) first; regions only where that
    finds nothing; the embedding only where both found nothing and an embedder is
    configured (why it did not run goes to ``notes``)."""
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
        if found:
            return ["pdq", "region"]
    return ["pdq", "region", *_embedding_matches(index, data, out, embedder, notes)]


def _embedding_matches(
    index: GuardIndex,
    data: bytes | Path,
    out: list[GuardMatch],
    embedder: ImageEmbedder | None,
    notes: list[str] | None,
) -> list[str]:
    """Best cosine per work over the output's windows: ``>= block`` strong, ``>= review`` weak."""
    note = None
    if embedder is None:
        note = NO_EMBEDDER
    elif index.embedding_model != embedder.model_id:
        note = f"embedding: not run, the index holds no vectors of model {embedder.model_id}"
    elif not len(index.embeddings):
        note = (
            f"embedding: not run, no image registered with model {embedder.model_id} "
            "(register with the embedder configured)"
        )
    if note is not None or embedder is None:
        if notes is not None and note is not None:
            notes.append(note)
        return []
    sims = best_similarities(embedder, decode_query(data), index.embeddings)
    limits = embedder.thresholds
    per_work: dict[int, float] = {}
    for row in np.flatnonzero(sims >= limits.review).tolist():
        work_id = int(index.embedding_works[row])
        per_work[work_id] = max(float(sims[row]), per_work.get(work_id, -1.0))
    for work_id, score in per_work.items():
        strong = score >= limits.block
        out.append(_match(index, work_id, "embedding", score, None, None, strong))
    return ["embedding"]


def _text_matches(index: GuardIndex, text: str, out: list[GuardMatch]) -> None:
    tokens = tokenize(text)
    if len(tokens.words) < SHINGLE or not index.text:
        return
    grams = ngram_hashes(word_hashes(list(tokens.words)), SHINGLE)
    found: dict[int, set[int]] = {}
    for segment in index.text:
        lo = np.searchsorted(segment.hashes, grams, side="left")
        hi = np.searchsorted(segment.hashes, grams, side="right")
        for at in np.flatnonzero(hi > lo).tolist():
            for work_id in set(segment.works[lo[at] : hi[at]].tolist()):
                found.setdefault(work_id, set()).add(at)
    for work_id, pos_set in found.items():
        if work_id not in index.works:
            continue  # removed since the index was built
        pos = sorted(pos_set)
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


def _licence_for(
    index: GuardIndex, licensee: str | None, work: Work | None, at: datetime
) -> Agreement | None:
    """The licensee's first agreement in force covering ``output`` of ``work`` at ``at``."""
    if licensee is None or work is None:
        return None
    for agreement in index.agreements.get(licensee, ()):
        if agreement.covers(Usage.OUTPUT, work, at):
            return agreement
    return None


def _decide(
    index: GuardIndex,
    matches: list[GuardMatch],
    licensee: str | None = None,
    label: str = "output",
) -> tuple[str, list[str], list[UsageEvent]]:
    verdict = "allow"
    reasons: list[str] = []
    at = datetime.now(UTC)
    licensee = (licensee.strip() or None) if licensee else None
    used: dict[int, tuple[GuardMatch, UsageBasis, Agreement | None]] = {}
    unlicensed = False
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
            agreement = _licence_for(index, licensee, work, at)
            if agreement is not None:
                ref = f", {agreement.reference}" if agreement.reference else ""
                reasons.append(
                    f"work {m.work_id} ({m.owner}): output licensed to {licensee} "
                    f"under agreement {agreement.id}{ref}"
                )
                used.setdefault(m.work_id, (m, UsageBasis.LICENCE, agreement))
                continue
            verdict = "block"
            unlicensed = True
            price = work.terms.price.to_dict() if work and work.terms.price else None
            reasons.append(f"work {m.work_id} ({m.owner}): output needs a licence, offer {price}")
        else:
            reasons.append(f"work {m.work_id} ({m.owner}): output={perm.value}; attribution")
            used.setdefault(m.work_id, (m, UsageBasis.ATTRIBUTION, None))
    if unlicensed and licensee is not None:
        reasons.append(
            f"licensee {licensee!r} holds no agreement in force covering output of these works"
            if licensee in index.agreements
            else f"licensee {licensee!r} holds no agreement in force (unknown, or none granted)"
        )
    events: list[UsageEvent] = []
    if verdict == "allow":  # a blocked or held output is not used, so nothing is recorded
        for m, basis, agreement in used.values():
            events.append(
                UsageEvent(
                    at=at,
                    work_id=m.work_id,
                    basis=basis,
                    method=m.method,
                    score=m.score,
                    input_label=label,
                    verdict=verdict,
                    licensee=licensee,
                    agreement_id=agreement.id if agreement else None,
                )
            )
    return verdict, reasons, events


def check_pdq(
    index: GuardIndex,
    pdq: bytes,
    *,
    prompt: str | None = None,
    label: str = "pdq",
    licensee: str | None = None,
    embedder: ImageEmbedder | None = None,
) -> Verdict:
    """Check a PDQ hash computed by the client (32 bytes), for clients that hash locally.

    Only the global hash is compared (no rotations/flips, regions or
    embedding: the client sent one hash, no pixels), plus the prompt's names.
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
    matches = [m for m in matches if m.work_id in index.works]  # drop works removed since
    verdict, reasons, events = _decide(index, matches, licensee, label)
    reasons.append("embedding: not run, a hash has no pixels" if embedder else NO_EMBEDDER)
    elapsed = (time.perf_counter() - started) * 1000
    return Verdict(
        label, verdict, tuple(matches), tuple(checks), elapsed, tuple(reasons), tuple(events)
    )


def check(
    index: GuardIndex,
    output: str | bytes | Path | None = None,
    *,
    text: str | None = None,
    prompt: str | None = None,
    label: str = "output",
    licensee: str | None = None,
    embedder: ImageEmbedder | None = None,
) -> Verdict:
    """Check one output (``output``: an image, audio or video, as bytes or a path) and/or ``text``.

    The output's kind comes from its extension (for bytes, ``label``'s, e.g. an
    upload's file name): audio and video files are matched by Chromaprint and
    by 1 fps frame hashes (``clearance.guard.media``), anything else as an image.

    ``embedder`` (the one ``index`` was built with) adds the embedding check
    for images the hashes did not match; without it the reasons say so.

    ``licensee`` names the party generating the output: its agreements in force
    turn ``output=license`` matches into ``allow`` (an unknown name holds none).
    """
    started = time.perf_counter()
    if output is None and text is None and prompt is None:
        raise UserError("nothing to check: give an image, a text or a prompt")
    if text is not None and len(text) > MAX_TEXT_CHARS:
        raise UserError(f"text is {len(text)} characters, over the limit of {MAX_TEXT_CHARS}")
    if text is not None and not text.strip() and output is None and prompt is None:
        raise UserError("the text to check is empty")
    matches: list[GuardMatch] = []
    checks: list[str] = []
    notes: list[str] = []
    kind = media_kind(output, label) if output is not None else None
    if output is not None and kind == "image":
        checks += _image_matches(
            index, output if isinstance(output, bytes) else Path(output), matches, embedder, notes
        )
    elif output is not None and kind is not None:
        hits = media_hits(output, kind, label, index.audio, index.video)
        for work_id, method, score, span, strong in hits:
            matches.append(_match(index, work_id, method, score, None, span, strong))
        checks.append("chromaprint" if kind == "audio" else "frames")
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
    matches = [m for m in matches if m.work_id in index.works]  # drop works removed since
    verdict, reasons, events = _decide(index, matches, licensee, label)
    elapsed = (time.perf_counter() - started) * 1000
    return Verdict(
        label,
        verdict,
        tuple(matches),
        tuple(checks),
        elapsed,
        tuple(reasons) + tuple(notes),
        tuple(events),
    )

"""The bulk query: thousands of URLs or content hashes at once, each answered with whether
it is opted out and its permission per usage (Spawning's ``optOut`` shape, plus ours).

Why here: it is the scan's decision for a bare URL or hash, made against the
live ``RegistryView`` a service keeps current, so it uses the same lookups
(``IdentifierIndex.search_urls``, ``HammingSegments`` at the PDQ threshold)
and the same decider (``decide_item``, hence ``core.resolve``). A batch is
matched in one vectorised pass; each distinct set of matched works is decided
once per call (most URLs match nothing and share one answer).

``opt_out`` is True when the item may not be used for ``purpose`` (default
``train-ai``) without more: a deny, or a licence that the asker does not hold.
``usages`` is the resolved permission for every usage.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from clearance.core.errors import UserError
from clearance.core.models import IdentifierScheme
from clearance.core.policy import Mode
from clearance.core.usage import Permission, Usage
from clearance.matching.decide import MatchedWork, decide_item, strictest_terms
from clearance.matching.exact import identifier_key
from clearance.matching.image import search_pdq_each
from clearance.matching.types import Match
from clearance.matching.view import RegistryView

MAX_ITEMS = 10_000
"""The most URLs or hashes one bulk query may carry."""

_HEX64 = re.compile(r"[0-9a-fA-F]{64}")


class BatchTooLarge(UserError):
    """More than ``MAX_ITEMS`` URLs or hashes in one bulk query."""

    http_status = 413


def check_batch(count: int, what: str) -> None:
    """Raise ``BatchTooLarge`` for more than ``MAX_ITEMS`` items."""
    if count > MAX_ITEMS:
        raise BatchTooLarge(
            f"{count} {what} in one query, over the limit of {MAX_ITEMS}",
            hint=f"split them into queries of at most {MAX_ITEMS}",
        )


@dataclass(frozen=True, slots=True)
class BulkAnswer:
    """One item's answer: opted out for the purpose?, the permission per usage, the works."""

    opt_out: bool
    usages: Mapping[Usage, Permission]
    works: tuple[int, ...]

    def usages_dict(self) -> dict[str, str]:
        return {u.value: p.value for u, p in self.usages.items()}


class _Decisions:
    """Decides each distinct set of matched works once (per query)."""

    def __init__(
        self, view: RegistryView, mode: Mode, purpose: Usage, licensee: str | None, at: datetime
    ) -> None:
        self.view = view
        self.mode = mode
        self.purpose = purpose
        self.agreements = view.licensed_to(licensee)
        self.at = at
        self._cache: dict[tuple[tuple[int, str], ...], BulkAnswer] = {}
        self._by_terms: dict[
            tuple[tuple[str, str], ...], tuple[bool, Mapping[Usage, Permission]]
        ] = {}

    def answer(self, pairs: Sequence[tuple[int, str]]) -> BulkAnswer:
        key = tuple(p for p in pairs if self.view.work(p[0]) is not None)
        found = self._cache.get(key)
        if found is None:
            matched: dict[int, list[Match]] = {}
            for work_id, method in key:
                matched.setdefault(work_id, []).append(Match(work_id, method))
            works = [
                MatchedWork(w, tuple(matched[w.id]))
                for w in (self.view.works[i] for i in sorted(matched))
            ]
            opt_out, usages = self._decide(works)
            found = BulkAnswer(opt_out, usages, tuple(sorted(matched)))
            self._cache[key] = found
        return found

    def _decide(self, works: list[MatchedWork]) -> tuple[bool, Mapping[Usage, Permission]]:
        """``decide_item`` for the works; without agreements, once per distinct set of stated
        terms (the decision then depends on nothing else: every match here is strong, and
        only an agreement's evidence is scoped to a work)."""
        terms: tuple[tuple[str, str], ...] | None = None
        if not self.agreements:
            terms = tuple(
                sorted(
                    {
                        (u.value, p.value)
                        for mw in works
                        for u, p in strictest_terms(mw.work).permissions.items()
                    }
                )
            )
            known = self._by_terms.get(terms)
            if known is not None:
                return known
        decided = decide_item(
            works, (), purpose=self.purpose, mode=self.mode, agreements=self.agreements, at=self.at
        )
        out = (not decided.decision.allowed, dict(decided.permissions))
        if terms is not None:
            self._by_terms[terms] = out
        return out


def query_urls(
    view: RegistryView,
    urls: Sequence[str],
    *,
    mode: Mode = Mode.OPT_OUT,
    purpose: Usage = Usage.TRAIN_AI,
    licensee: str | None = None,
    at: datetime | None = None,
) -> list[BulkAnswer | None]:
    """Each URL's answer from its URL, URL-prefix and domain claims; None: not an http(s) URL."""
    check_batch(len(urls), "URLs")
    decisions = _Decisions(view, mode, purpose, licensee, at or datetime.now(UTC))
    return [
        None if pairs is None else decisions.answer(pairs)
        for pairs in view.index.identifiers.search_raw_urls(urls)
    ]


def parse_hash(text: str) -> tuple[str, bytes] | None:
    """``sha256:HEX``, ``pdq:HEX`` or bare HEX (a SHA-256) into (kind, 32 bytes), else None."""
    kind, sep, value = text.strip().partition(":")
    if not sep:
        kind, value = "sha256", kind
    kind = kind.lower()
    if kind not in ("sha256", "pdq") or not _HEX64.fullmatch(value):
        return None
    return kind, bytes.fromhex(value)


def query_hashes(
    view: RegistryView,
    hashes: Sequence[str],
    *,
    mode: Mode = Mode.OPT_OUT,
    purpose: Usage = Usage.TRAIN_AI,
    licensee: str | None = None,
    at: datetime | None = None,
) -> list[BulkAnswer | None]:
    """Each hash's answer: a SHA-256 by exact lookup, a PDQ hash within the PDQ threshold
    (the global hash only, as the guard's ``check_pdq``); None for a malformed one."""
    check_batch(len(hashes), "hashes")
    decisions = _Decisions(view, mode, purpose, licensee, at or datetime.now(UTC))
    parsed = [parse_hash(h) for h in hashes]
    sha: list[tuple[int, bytes]] = []
    pdq: list[tuple[int, bytes]] = []
    for i, p in enumerate(parsed):
        if p is not None:
            (sha if p[0] == "sha256" else pdq).append((i, p[1]))
    pairs: dict[int, list[tuple[int, str]]] = {}
    keys = [identifier_key(IdentifierScheme.SHA256, digest.hex()) for _, digest in sha]
    for (i, _), works in zip(sha, view.index.identifiers.lookup_keys(keys), strict=True):
        pairs[i] = [(w, "sha256") for w in works]
    if pdq:
        codes = np.frombuffer(b"".join(code for _, code in pdq), np.uint8).reshape(-1, 32)
        for (i, _), found in zip(pdq, search_pdq_each(view.index.pdq, codes), strict=True):
            pairs[i] = sorted({(m.work_id, "pdq") for m in found})
    return [None if p is None else decisions.answer(pairs[i]) for i, p in enumerate(parsed)]

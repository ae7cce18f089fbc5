"""From matches to decisions: the one place where matched works, their owners' terms and
licence agreements become ``Evidence``, and ``core.resolve`` decides.

Both jobs use it:

* the scan decides an *item* for its purpose: the evidence of every matched
  work (its owner's stated terms, and the licensee's agreements covering it)
  plus the item's embedded and web signals, resolved for the purpose and the
  mode (``decide_item``);
* the guard decides an *output*: may it reproduce each matched work? Each
  matched work's evidence is resolved for ``output`` in the mode
  (``decide_output``), and the verdict is a thin mapping of those decisions.

A claim whose claimant is below the job's minimum verification level
(``--min-verification``; ``core.VerificationLevel``) is not acted on: its
work's terms and agreements give way to ``ignored-for-verification``
evidence that states nothing (``unknown``) but names what was ignored and
why, so the scan's reasons and the guard's say so and nothing is silent.

Weak matches (a short text run, an embedding between its review and block
thresholds, under 5 s of shared audio, a short registered phrase) never
decide alone. The scan resolves with and without them and says ``review``
when they would change whether the item may be used; the guard says
``review`` for a weakly matched work it would otherwise block.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from clearance.core.models import (
    Agreement,
    ClaimStatus,
    Decision,
    Evidence,
    Terms,
    VerificationLevel,
    Work,
    claimed_terms,
    strictest,
)
from clearance.core.policy import Mode, resolve
from clearance.core.usage import ALL_USAGES, Permission, Usage
from clearance.matching.matcher import WorkLookup
from clearance.matching.types import Match, best_per_work

OUTCOMES = ("include", "exclude", "needs-license", "review", "error")
VERDICTS = ("allow", "review", "block")
IGNORED_SOURCE = "ignored-for-verification"
"""The evidence source of a claim not acted on: its claimant is below the minimum level."""


@dataclass(frozen=True, slots=True)
class MatchedWork:
    """A registered work and every match that found it (best first)."""

    work: Work
    matches: tuple[Match, ...]
    min_verification: VerificationLevel = VerificationLevel.SELF
    """The job's minimum claimant level: below it the work's claim is not acted on."""

    @property
    def ignored(self) -> str | None:
        """Why the work's claims are not acted on (every claimant's level is too low), or
        None. A disputed work is acted on while any of its open claims is verified enough."""
        below = [c for c in claims_of(self.work) if below_minimum(c, self.min_verification)]
        if len(below) < len(claims_of(self.work)):
            return None
        return "; ".join(below_minimum(c, self.min_verification) or "" for c in below)

    @property
    def strong(self) -> bool:
        return any(m.strong for m in self.matches)

    @property
    def best(self) -> Match:
        return self.matches[0]

    def to_dict(self, usage: Usage) -> dict[str, Any]:
        """The ``works`` entry of a decision's evidence JSON (``docs/scan.md``).

        ``price`` is the price model of licensing ``usage`` (each usage has its own).
        """
        terms = strictest_terms(self.work, self.min_verification)
        price = terms.price_for(usage)
        stated = terms.effective()[usage]
        ignored = self.ignored
        out: dict[str, Any] = {
            "id": self.work.id,
            "owner": self.work.owner.name,
            "owner_verification": self.work.owner.verification.value,
            "contact": self.work.owner.contact,
            "title": self.work.title,
            "matched_by": [m.label() for m in self.matches],
            "strong": self.strong,
            "permission": (Permission.UNKNOWN if ignored else stated).value,
            "price": price.to_dict() if price is not None and not ignored else None,
            "disputed": self.work.disputed,
        }
        if ignored:
            out[IGNORED_SOURCE] = ignored
            out["stated_permission"] = stated.value
        return out


def matched_works(
    matches: Iterable[Match],
    works: WorkLookup,
    *,
    min_verification: VerificationLevel = VerificationLevel.SELF,
) -> list[MatchedWork]:
    """The matches grouped by work, in work id order (works that are gone are dropped);
    claims below ``min_verification`` are marked ``ignored``."""
    out: list[MatchedWork] = []
    for work_id, group in sorted(best_per_work(list(matches)).items()):
        work = works(work_id)
        if work is not None:
            out.append(MatchedWork(work, tuple(group), min_verification))
    return out


DISPUTED_SOURCE = "disputed"
"""The evidence source of a disputed work's claims (``disputed:output=deny`` in a scan's
reasons), so every decision about a disputed work says so."""


@dataclass(frozen=True, slots=True)
class ClaimTerms:
    """One claim that bears on a work's decisions: who, the terms it states, their level."""

    party: str
    terms: Terms
    verification: VerificationLevel
    owner: bool


def claims_of(work: Work) -> list[ClaimTerms]:
    """Whose terms bear on ``work``: its owner's (the work's terms), and while it is disputed
    the terms each other open claim states, in claim order."""
    out = [ClaimTerms(work.owner.name, work.terms, work.owner.verification, True)]
    if work.disputed:
        for claim in work.claims:
            if claim.status is ClaimStatus.DISPUTED and claim.party != work.owner.name:
                stated = claimed_terms(claim.note)
                terms = stated if stated is not None else Terms()
                out.append(ClaimTerms(claim.party, terms, claim.verification, False))
    return out


def below_minimum(claim: ClaimTerms, minimum: VerificationLevel) -> str | None:
    """Why ``claim`` is not acted on (its claimant is verified below ``minimum``), or None."""
    if claim.verification.at_least(minimum):
        return None
    return (
        f"claimant {claim.party} is verified at {claim.verification.value}, "
        f"below the minimum {minimum.value}"
    )


def strictest_terms(
    work: Work, min_verification: VerificationLevel = VerificationLevel.SELF
) -> Terms:
    """The terms a decision applies to ``work``: its own, or while it is disputed the
    strictest statement of its claims (those verified at ``min_verification`` or above)
    per usage, deny > license > allow; a licensed usage's price is that of the first
    claim that licenses it."""
    claims = [c for c in claims_of(work) if not below_minimum(c, min_verification)]
    if not work.disputed or not claims:
        return work.terms
    perms: dict[Usage, Permission] = {}
    for claim in claims:
        for usage, perm in claim.terms.permissions.items():
            perms[usage] = strictest(perms.get(usage, Permission.UNKNOWN), perm)
    prices = {
        usage: next(c.terms.prices[usage] for c in claims if c.terms.permissions.get(usage) is perm)
        for usage, perm in perms.items()
        if perm is Permission.LICENSE
    }
    return Terms(perms, prices)


def disputants(work: Work) -> list[str]:
    """The parties with an open claim on ``work`` other than its owner (none: undisputed)."""
    return [c.party for c in claims_of(work) if not c.owner]


def _ignored(work: Work, claim: ClaimTerms, why: str) -> list[Evidence]:
    return [
        Evidence(
            IGNORED_SOURCE,
            usage,
            Permission.UNKNOWN,
            detail=f"work {work.id} by {claim.party}: {usage.value}={perm.value} "
            f"not acted on ({why})",
            work_id=work.id,
        )
        for usage, perm in sorted(claim.terms.permissions.items(), key=lambda kv: kv[0].value)
    ]


def ignored_evidence(matched: MatchedWork) -> list[Evidence]:
    """Claims not acted on: one ``unknown`` evidence per stated usage of each, saying what
    was stated and why it is ignored (``unknown`` never moves ``core.resolve``'s fold)."""
    out: list[Evidence] = []
    for claim in claims_of(matched.work):
        out += _ignored(matched.work, claim, below_minimum(claim, matched.min_verification) or "")
    return out


def terms_evidence(
    work: Work, min_verification: VerificationLevel = VerificationLevel.SELF
) -> list[Evidence]:
    """The work's stated terms (party defaults merged) as ``registry`` evidence about it.

    A disputed work gives every open claim's terms instead, as ``disputed`` evidence:
    ``core.resolve`` folds them, so the strictest claim decides each usage. A claim
    verified below ``min_verification`` gives ``ignored-for-verification`` evidence.
    """
    if not work.disputed:
        detail = f"work {work.id} by {work.owner.name}"
        return [
            Evidence("registry", usage, perm, detail=detail, work_id=work.id)
            for usage, perm in sorted(work.terms.permissions.items(), key=lambda kv: kv[0].value)
        ]
    out: list[Evidence] = []
    for claim in claims_of(work):
        why = below_minimum(claim, min_verification)
        if why:
            out += _ignored(work, claim, why)
            continue
        side = "owner" if claim.owner else "claimant"
        detail = f"work {work.id} (disputed): {claim.party}'s claim ({side})"
        out += [
            Evidence(DISPUTED_SOURCE, usage, perm, detail=detail, work_id=work.id)
            for usage, perm in sorted(claim.terms.permissions.items(), key=lambda kv: kv[0].value)
        ]
    return out


def agreement_evidence(agreements: Iterable[Agreement], work: Work, at: datetime) -> list[Evidence]:
    """The agreements in force at ``at`` that cover ``work``, one evidence per granted usage.

    None while the work is disputed: an agreement binds the claimant who granted it,
    not the others, so the strictest claim decides until an admin resolves the dispute.
    """
    out: list[Evidence] = []
    if work.disputed:
        return out
    for a in agreements:
        if not a.in_force(at) or a.owner != work.owner.name:
            continue
        if a.work_id is not None and a.work_id != work.id:
            continue
        ref = f" ({a.reference})" if a.reference else ""
        detail = f"agreement {a.id}{ref}: {a.licensee} licensed by {a.owner}"
        for usage in a.usages:
            out.append(
                Evidence(
                    "agreement",
                    usage,
                    Permission.LICENSE,
                    detail=detail,
                    raw=a.reference or "",
                    agreement_id=a.id,
                    work_id=work.id,
                )
            )
    return out


def work_evidence(
    matched: MatchedWork, agreements: Iterable[Agreement], at: datetime
) -> list[Evidence]:
    """The work's terms and the agreements covering it; for an ignored claim, only
    ``ignored_evidence`` (its agreements are not acted on either)."""
    if matched.ignored:
        return ignored_evidence(matched)
    return terms_evidence(matched.work, matched.min_verification) + agreement_evidence(
        agreements, matched.work, at
    )


# --------------------------------------------------------------------------- the scan


@dataclass(frozen=True, slots=True)
class ItemDecision:
    """A dataset item's outcome for the purpose, and the permission for every usage."""

    outcome: str
    decision: Decision
    evidence: tuple[Evidence, ...]
    permissions: Mapping[Usage, Permission]

    @property
    def review(self) -> bool:
        return self.outcome == "review"


def decide_item(
    works: Sequence[MatchedWork],
    signals: Sequence[Evidence],
    *,
    purpose: Usage,
    mode: Mode,
    agreements: Sequence[Agreement] = (),
    at: datetime,
) -> ItemDecision:
    """Resolve an item: its matched works' evidence plus its own (embedded, web) signals.

    Outcome: ``include`` when allowed; ``needs-license`` when a licence is the
    strongest statement; ``exclude`` otherwise; ``review`` when the weak
    matches alone would change whether the item may be used.
    """
    strong_ev: list[Evidence] = list(signals)
    all_ev: list[Evidence] = list(signals)
    for mw in works:
        ev = work_evidence(mw, agreements, at)
        all_ev += ev
        if mw.strong:
            strong_ev += ev
    decided = resolve(strong_ev, purpose, mode)
    if decided.allowed != resolve(all_ev, purpose, mode).allowed:
        outcome = "review"
    elif decided.allowed:
        outcome = "include"
    elif decided.permission is Permission.LICENSE:
        outcome = "needs-license"
    else:
        outcome = "exclude"
    permissions = {u: resolve(strong_ev, u, mode).permission for u in ALL_USAGES}
    return ItemDecision(outcome, decided, tuple(all_ev), permissions)


# --------------------------------------------------------------------------- the guard


@dataclass(frozen=True, slots=True)
class WorkVerdict:
    """The guard's answer for one matched work: its decision for ``output`` and what follows."""

    matched: MatchedWork
    decision: Decision
    verdict: str

    @property
    def ignored(self) -> str | None:
        """Why the work's claim was not acted on (below the minimum verification), or None."""
        return self.matched.ignored

    @property
    def agreement(self) -> int | None:
        """The id of the agreement that licensed the work (the lowest, when several did)."""
        found = self._agreement_evidence()
        return found.agreement_id if found else None

    def agreement_text(self) -> str:
        """``12`` or ``12, C-7`` (with the agreement's reference)."""
        found = self._agreement_evidence()
        if found is None:
            return ""
        return f"{found.agreement_id}, {found.raw}" if found.raw else str(found.agreement_id)

    def _agreement_evidence(self) -> Evidence | None:
        found = [e for e in self.decision.evidence if e.agreement_id is not None]
        return min(found, key=lambda e: e.agreement_id or 0) if found else None


def decide_output(
    works: Sequence[MatchedWork],
    *,
    mode: Mode,
    agreements: Sequence[Agreement] = (),
    at: datetime,
) -> tuple[str, list[WorkVerdict]]:
    """May an output reproduce these works? ``block`` if a strongly matched work may not be
    used for ``output``, ``review`` if only a weakly matched one may not, else ``allow``."""
    verdicts: list[WorkVerdict] = []
    for mw in works:
        decision = resolve(work_evidence(mw, agreements, at), Usage.OUTPUT, mode)
        verdict = "allow" if decision.allowed else "block" if mw.strong else "review"
        if mw.ignored:  # the claim is not acted on: the work holds nothing back
            verdict = "allow"
        verdicts.append(WorkVerdict(mw, decision, verdict))
    overall = "allow"
    for v in verdicts:
        if VERDICTS.index(v.verdict) > VERDICTS.index(overall):
            overall = v.verdict
    return overall, verdicts


def price_text(work: Work, min_verification: VerificationLevel = VerificationLevel.SELF) -> str:
    """``1 USD per output`` (or ``no price set``): the price of licensing ``output``."""
    price = strictest_terms(work, min_verification).price_for(Usage.OUTPUT)
    if price is None:
        return "no price set"
    return price.describe()


def output_reason(v: WorkVerdict, licensee: str | None) -> str:
    """One line saying why this work allows, blocks or holds the output."""
    w = v.matched.work
    others = disputants(w)
    if others:
        head = f"work {w.id} ({w.owner.name}; disputed by {', '.join(others)}: strictest claim)"
    else:
        head = f"work {w.id} ({w.owner.name})"
    d = v.decision
    if v.ignored:
        return f"{head}: {IGNORED_SOURCE}: {v.ignored}; its terms are not acted on"
    if v.verdict == "review":
        method = v.matched.best.method
        return f"{head}: partial {method} evidence, needs review (output {d.permission.value})"
    if d.licensed:
        return f"{head}: output licensed to {licensee} under agreement {v.agreement_text()}"
    if d.allowed:
        stated = "allowed" if d.permission is Permission.ALLOW else "not restricted"
        return f"{head}: output {stated} by the owner; attribution"
    if d.permission is Permission.DENY:
        return f"{head}: output denied by the owner"
    if d.permission is Permission.LICENSE:
        return f"{head}: output needs a licence: {price_text(w, v.matched.min_verification)}"
    return f"{head}: output not allowed (opt-in: the owner gave no explicit permission)"

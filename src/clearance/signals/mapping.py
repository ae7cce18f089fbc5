"""The one mapping from every protocol's values onto Clearance's usages.

Each protocol's section turns that protocol's parsed result into ``Evidence``
(source, usage, permission, detail, raw). ``docs/signals.md`` documents the same
table; a test holds the two together. Parsers never decide usages themselves:
they report what the file says, and this module says what it means.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from clearance.core import Evidence, Permission, Usage
from clearance.core.models import strictest
from clearance.core.usage import narrower_usages
from clearance.signals.aipref import Pref, UsagePrefs
from clearance.signals.aitxt import AiTxt
from clearance.signals.c2pa import C2paTrainingMining, TrainingMiningEntry, TrainingUse
from clearance.signals.content_signal import ContentSignals, Signal
from clearance.signals.iptc_xmp import SEE_CODES, DataMining, IptcDataMining
from clearance.signals.paycrawl import PayPerCrawl
from clearance.signals.robots import Access, RobotsTxt, Rule
from clearance.signals.rsl import RslContent, RslDocument, RslLicense
from clearance.signals.tdmrep import TdmPolicy, TdmRepSignal
from clearance.signals.xrobots import RobotsDirectives

# --- robots.txt, ai.txt, aipref Content-Usage, Content-Signal (section A) ---
#
# Choices made here, beyond the protocol digest (docs/signals.md carries the same table):
# * robots.txt: a path disallowed for a known AI-training crawler token reserves
#   train-ai for that path. By default only groups that name such a token count: a
#   ``*`` group blocks every crawler, which is crawl policy rather than an AI
#   reservation (``include_global=True`` counts it too). An Allow for those tokens is
#   no grant, because robots.txt permits crawling, not use. The crawling agent's own
#   answer is ``RobotsTxt.is_allowed``, not evidence, and a stand-in for a fetch
#   status (4xx allow-all, 5xx disallow-all) states no preference at all.
# * aipref labels: ``train-ai`` and ``search``; legacy ``train-genai``, ``ai-use`` and
#   ``ai-output`` (both ai-input), ``tdm``, and ``all``/``bots`` (every usage). A broad
#   label yields wherever the same statement names a usage it covers, or a narrower
#   one: the older drafts let the more specific label win.
# * Content-Signal: ``ai-train`` is train-ai, ``ai-input`` ai-input, ``search`` search.
# * ai.txt: a line that decides a media path is a train-ai deny or allow; silence is
#   nothing. Every section A function says yes/no as allow/deny, never ``license``.

SECTION_A_SOURCES = ("robots.txt", "ai.txt", "content-usage", "content-signal")
"""Evidence source names produced by section A."""

_AIPREF_LABELS: dict[str, tuple[Usage, ...]] = {
    "train-ai": (Usage.TRAIN_AI,),
    "search": (Usage.SEARCH,),
    "train-genai": (Usage.TRAIN_GENAI,),
    "ai-use": (Usage.AI_INPUT,),
    "ai-output": (Usage.AI_INPUT,),
    "tdm": (Usage.TDM,),
}
_AIPREF_BROAD = ("all", "bots")
_AIPREF_PERMISSION = {Pref.ALLOW: Permission.ALLOW, Pref.DISALLOW: Permission.DENY}
_SIGNAL_USAGE = {"ai-train": Usage.TRAIN_AI, "ai-input": Usage.AI_INPUT, "search": Usage.SEARCH}
_SIGNAL_PERMISSION = {Signal.YES: Permission.ALLOW, Signal.NO: Permission.DENY}


def evidence_from_content_usage(
    prefs: UsagePrefs, *, where: str = "Content-Usage header", raw: str | None = None
) -> list[Evidence]:
    """aipref ``Content-Usage``: ``y`` allows and ``n`` denies the label's usages."""
    out: list[Evidence] = []
    stated: set[Usage] = set()
    text = prefs.raw if raw is None else raw
    for label, usages in _AIPREF_LABELS.items():
        pref = prefs.get(label)
        if pref is not None:
            for usage in usages:
                stated.add(usage)
                detail = f"{where}: {label}={pref.value}"
                out.append(Evidence("content-usage", usage, _AIPREF_PERMISSION[pref], detail, text))
    for label in _AIPREF_BROAD:
        pref = prefs.get(label)
        if pref is None:
            continue
        for usage in PROTOCOL_USAGES:
            if usage in stated or stated & narrower_usages(usage):
                continue  # the statement is more specific about this usage
            detail = f"{where}: {label}={pref.value} (legacy label for every usage)"
            out.append(Evidence("content-usage", usage, _AIPREF_PERMISSION[pref], detail, text))
    return out


def content_usage_statement(permissions: Mapping[Usage, Permission]) -> str:
    """The aipref ``Content-Usage`` statement of stated permissions: ``train-ai=n, search=y``.

    The inverse of ``evidence_from_content_usage`` for the usages aipref has a
    label for (``ai-input`` as the legacy ``ai-use``); ``allow`` is ``y`` and
    ``deny`` is ``n``. A licence, and ``output``, have no aipref label: a
    declaration carries those in its own ``usages`` (``registry.declarations``).
    """
    parts = []
    for label, usages in _AIPREF_LABELS.items():
        if label == "ai-output":
            continue  # a second legacy name for ai-input: ai-use says it
        perm = permissions.get(usages[0])
        if perm is Permission.ALLOW or perm is Permission.DENY:
            parts.append(f"{label}={'y' if perm is Permission.ALLOW else 'n'}")
    return ", ".join(parts)


def evidence_from_content_signal(
    signals: ContentSignals, *, where: str = "Content-Signal", raw: str | None = None
) -> list[Evidence]:
    """Cloudflare Content Signals: ``yes`` allows and ``no`` denies the signal's usage."""
    out: list[Evidence] = []
    text = signals.raw if raw is None else raw
    for name, usage in _SIGNAL_USAGE.items():
        sig = signals.get(name)
        if sig is not None:
            detail = f"{where}: {name}={sig.value}"
            out.append(Evidence("content-signal", usage, _SIGNAL_PERMISSION[sig], detail, text))
    return out


def _by_line(blocked: tuple[str, Rule]) -> int:
    return blocked[1].line


def evidence_from_robots(
    robots: RobotsTxt,
    path_or_url: str,
    *,
    training_tokens: Iterable[str] = (),
    agent: str = "*",
    include_global: bool = False,
) -> list[Evidence]:
    """Everything robots.txt says about the use of one path.

    * ``train-ai`` deny when the path is disallowed for any of ``training_tokens``
      (AI-training crawler product tokens, e.g. from ai-robots.json);
    * the Content-Usage and Content-Signal lines that apply to ``agent`` (a
      product token; ``*`` for the ``*`` groups) on that path, if it is crawlable.
    """
    if robots.access is not Access.PARSED:
        return []
    out: list[Evidence] = []
    blocked: list[tuple[str, Rule]] = []
    unnamed = False
    for token in dict.fromkeys(training_tokens):
        if not robots.names(token):
            unnamed = True
            continue
        verdict = robots.check(token, path_or_url)
        if not verdict.allowed and verdict.rule is not None:
            blocked.append((token, verdict.rule))
    if include_global and unnamed:
        verdict = robots.check("*", path_or_url)
        if not verdict.allowed and verdict.rule is not None:
            blocked.append(("the * group", verdict.rule))
    if blocked:
        who = "; ".join(f"{token} (line {rule.line}: {rule.raw})" for token, rule in blocked)
        detail = f"robots.txt disallows it for AI-training crawlers: {who}"
        raw = "\n".join(dict.fromkeys(rule.raw for _, rule in sorted(blocked, key=_by_line)))
        out.append(Evidence("robots.txt", Usage.TRAIN_AI, Permission.DENY, detail, raw))
    usage = robots.content_usage(agent, path_or_url)
    if usage is not None:
        where = "robots.txt " + ", ".join(f"line {p.line}" for p in usage.lines)
        raw = "\n".join(p.raw for p in usage.lines)
        out.extend(evidence_from_content_usage(usage.value, where=where, raw=raw))
    signal = robots.content_signal(agent, path_or_url)
    if signal is not None:
        where = "robots.txt " + ", ".join(f"line {p.line}" for p in signal.lines)
        raw = "\n".join(p.raw for p in signal.lines)
        out.extend(evidence_from_content_signal(signal.value, where=where, raw=raw))
    return out


def evidence_from_aitxt(aitxt: AiTxt, path_or_url: str, *, agent: str = "*") -> list[Evidence]:
    """Spawning ai.txt: the line that decides a media path allows or denies train-ai."""
    verdict = aitxt.check(path_or_url, agent)
    if verdict.allowed is None or verdict.rule is None:
        return []
    permission = Permission.ALLOW if verdict.allowed else Permission.DENY
    detail = f"ai.txt {verdict.reason}"
    return [Evidence("ai.txt", Usage.TRAIN_AI, permission, detail, verdict.rule.raw)]


# --- TDMRep, RSL, X-Robots-Tag / meta robots, pay-per-crawl, IPTC, C2PA (section B) ---
#
# Choices made here, beyond the protocol digest (docs/signals.md carries the same table):
# * "Every usage" means every usage a web protocol can speak about: tdm, train-ai,
#   train-genai, ai-input and search. ``output`` is carried by registry terms only.
# * TDMRep ``tdm-reservation: 0`` is an explicit "not reserved": tdm allow.
# * RSL ``ai-index`` (inclusion in an AI retrieval index) is a precondition of
#   ai-input: prohibiting it denies ai-input, permitting it alone permits nothing.
#   ``<permits type="usage">`` is a closed list, so usages it leaves out are denied;
#   several <license> elements are alternatives, so a usage is left out only when no
#   licence permits it. A permitted usage is ``allow`` only when the licence is free
#   and unconditional; a paid or attribution payment, a licence ``server``, user/geo
#   limits or reporting duties make it ``license`` with the terms in the detail.
# * X-Robots-Tag / meta robots: ``noai`` denies train-ai and ai-input, ``noimageai``
#   denies train-ai for images, ``noindex``/``none`` deny search (``noimageindex``
#   for images). A directive scoped to any crawler counts unless ``bot`` narrows it.
# * HTTP 402 with ``crawler-price`` (or a ``crawler-charged`` receipt) is ``license``
#   on tdm (the crawl is the mining; tdm reaches train-ai and ai-input), not search;
#   ``crawler-error: CrawlerForbidden`` is a tdm deny.
# * IPTC ``DMI-PROHIBITED-EXCEPTSEARCHENGINEINDEXING`` also allows search explicitly.
# * C2PA/CAWG: the active manifest decides; ingredient assertions come from a separate
#   function so the caller chooses whether a source's terms bear on the derived asset.
#   CAWG's entries are separate uses, so within one assertion the most specific entry
#   decides a use: a ``data_mining`` (tdm) statement reaches train-ai, train-genai and
#   ai-input only where the assertion does not state them itself. Because a tdm
#   statement reaches every narrower usage in ``core.resolve``, a broad entry that is
#   stricter than a narrower one the assertion states is given to the usages it leaves
#   unstated instead (and tdm itself then carries no evidence from that assertion).

PROTOCOL_USAGES: tuple[Usage, ...] = (
    Usage.TDM,
    Usage.TRAIN_AI,
    Usage.TRAIN_GENAI,
    Usage.AI_INPUT,
    Usage.SEARCH,
)
"""What "every usage" means for a web protocol (``output`` lives in registry terms only)."""

SECTION_B_SOURCES = (
    "tdmrep.json",
    "tdmrep-header",
    "tdmrep-meta",
    "epub",
    "pdf-xmp",
    "rsl",
    "x-robots-tag",
    "meta-robots",
    "http-402",
    "iptc",
    "c2pa",
)
"""Evidence source names produced by section B."""


def evidence_from_tdmrep(signal: TdmRepSignal, policy: TdmPolicy | None = None) -> list[Evidence]:
    """TDMRep: 1 denies tdm (naming the policy, if any), 0 allows it, unset says nothing."""
    source = signal.source or "tdmrep.json"
    if signal.reservation == 1:
        detail = "TDM rights reserved (tdm-reservation: 1)"
        if signal.effective_policy:
            detail += f"; licence policy {signal.effective_policy}"
            if policy is not None:
                detail += f": {policy.summary()}"
        return [Evidence(source, Usage.TDM, Permission.DENY, detail, signal.raw)]
    if signal.reservation == 0:
        detail = "TDM rights not reserved (tdm-reservation: 0)"
        return [Evidence(source, Usage.TDM, Permission.ALLOW, detail, signal.raw)]
    return []


_RSL_PERMITS: dict[str, tuple[Usage, ...]] = {
    "all": PROTOCOL_USAGES,
    "ai-all": (Usage.TRAIN_AI, Usage.TRAIN_GENAI, Usage.AI_INPUT),
    "ai-train": (Usage.TRAIN_AI, Usage.TRAIN_GENAI),
    "ai-input": (Usage.AI_INPUT,),
    "ai-index": (),
    "search": (Usage.SEARCH,),
}
_RSL_PROHIBITS: dict[str, tuple[Usage, ...]] = {**_RSL_PERMITS, "ai-index": (Usage.AI_INPUT,)}
_TDM_PARTS = frozenset({Usage.TDM, Usage.TRAIN_AI, Usage.TRAIN_GENAI, Usage.AI_INPUT})


def _rsl_usages(tokens: frozenset[str], table: dict[str, tuple[Usage, ...]]) -> set[Usage]:
    return {u for tok in tokens for u in table.get(tok, ())}


def _rsl_terms(content: RslContent, lic: RslLicense) -> tuple[Permission, str]:
    """``allow`` for a free, unconditional licence; otherwise ``license`` and why."""
    notes: list[str] = []
    paid = [p.describe() for p in lic.payments if not p.is_free]
    if paid:
        notes.append("payment " + ", ".join(paid))
    if content.server:
        notes.append(f"licence must be obtained from {content.server}")
    notes.extend(lic.conditions)
    if content.terms:
        notes.append(f"terms {content.terms}")
    permission = (
        Permission.LICENSE if paid or content.server or lic.conditions else Permission.ALLOW
    )
    return permission, "; ".join(notes) if notes else "free"


def _rsl_content(content: RslContent) -> list[Evidence]:
    where = f"RSL <content url={content.url!r}>"
    out: list[Evidence] = []
    granted_any: set[Usage] = set()
    denied_any: set[Usage] = set()
    for lic in content.licenses:
        permitted = lic.permitted("usage")
        prohibited = lic.prohibited("usage")
        grants = set(PROTOCOL_USAGES) if permitted is None else _rsl_usages(permitted, _RSL_PERMITS)
        denies = _rsl_usages(prohibited, _RSL_PROHIBITS)
        granted_any |= grants
        permission, terms = _rsl_terms(content, lic)
        raw = "permits usage: " + (
            " ".join(sorted(permitted)) if permitted is not None else "(all)"
        )
        for usage in PROTOCOL_USAGES:
            if usage in denies:
                detail = f"{where} prohibits it ({' '.join(sorted(prohibited))})"
                raw_deny = "prohibits usage: " + " ".join(sorted(prohibited))
                out.append(Evidence("rsl", usage, Permission.DENY, detail, raw_deny))
                denied_any.add(usage)
            elif usage in grants:
                out.append(Evidence("rsl", usage, permission, f"{where} permits it: {terms}", raw))
    if not content.licenses:
        return out
    for usage in PROTOCOL_USAGES:
        if usage in granted_any or usage in denied_any:
            continue
        if usage is Usage.TDM and granted_any & _TDM_PARTS:
            continue  # a tdm deny would reach the AI usages the licence does permit
        detail = f"{where} permits only listed usages, and not this one"
        out.append(Evidence("rsl", usage, Permission.DENY, detail, "closed <permits> list"))
    return out


def evidence_from_rsl(rsl: RslDocument | RslContent, url: str | None = None) -> list[Evidence]:
    """RSL: a prohibition denies, a free permit allows, a paid or conditional one licenses.

    Given a document and ``url``, only the most specific ``<content>`` covering
    the URL counts; without ``url`` every ``<content>`` counts.
    """
    if isinstance(rsl, RslContent):
        return _rsl_content(rsl)
    if url is not None:
        content = rsl.content_for(url)
        return _rsl_content(content) if content is not None else []
    return [e for content in rsl.contents for e in _rsl_content(content)]


def evidence_from_robots_directives(
    directives: RobotsDirectives, *, bot: str | None = None, image: bool = False
) -> list[Evidence]:
    """``noai``/``noimageai``/``noindex`` from X-Robots-Tag or meta robots.

    With ``bot=None`` a directive scoped to any crawler counts (naming an AI
    crawler is a reservation against AI use); with a ``bot`` only the unscoped
    directives and that crawler's count. ``image`` says the work is an image,
    which is when ``noimageai`` and ``noimageindex`` apply.
    """
    source = directives.source
    chosen = directives.directives if bot is None else directives.for_bot(bot)
    out: list[Evidence] = []
    for d in chosen:
        raw = f"{d.bot}: {d.name}" if d.bot else d.name
        scope = f" for {d.bot}" if d.bot else ""
        targets: tuple[Usage, ...] = ()
        if d.name == "noai":
            targets = (Usage.TRAIN_AI, Usage.AI_INPUT)
        elif d.name == "noimageai" and image:
            targets = (Usage.TRAIN_AI,)
        elif d.name in ("noindex", "none") or (d.name == "noimageindex" and image):
            targets = (Usage.SEARCH,)
        for usage in targets:
            out.append(Evidence(source, usage, Permission.DENY, f"{d.name}{scope}", raw))
    return out


def evidence_from_pay_per_crawl(response: PayPerCrawl) -> list[Evidence]:
    """HTTP 402 with a price (or a charge receipt) licenses tdm; CrawlerForbidden denies it."""
    if response.forbidden:
        detail = "the site blocks this crawler (crawler-error: CrawlerForbidden)"
        return [Evidence("http-402", Usage.TDM, Permission.DENY, detail, response.raw)]
    price = response.price if response.payment_required else response.charged
    if price is None:
        return []
    what = "pay-per-crawl price" if response.payment_required else "pay-per-crawl charged"
    detail = f"{what} {price.amount} {price.currency} per request"
    return [Evidence("http-402", Usage.TDM, Permission.LICENSE, detail, response.raw)]


_IPTC_DENIES: dict[DataMining, tuple[Usage, ...]] = {
    DataMining.PROHIBITED: PROTOCOL_USAGES,
    DataMining.PROHIBITED_SEE_CONSTRAINT: PROTOCOL_USAGES,
    DataMining.PROHIBITED_SEE_EMBEDDED: PROTOCOL_USAGES,
    DataMining.PROHIBITED_SEE_LINKED: PROTOCOL_USAGES,
    DataMining.PROHIBITED_EXCEPT_SEARCH: (
        Usage.TDM,
        Usage.TRAIN_AI,
        Usage.TRAIN_GENAI,
        Usage.AI_INPUT,
    ),
    DataMining.PROHIBITED_AIML_TRAINING: (Usage.TRAIN_AI,),
    DataMining.PROHIBITED_GENAIML_TRAINING: (Usage.TRAIN_GENAI,),
}


def evidence_from_iptc(result: IptcDataMining) -> list[Evidence]:
    """IPTC ``plus:DataMining``: ALLOWED allows every usage, PROHIBITED* deny per the code."""
    code = result.code
    if code is None or code is DataMining.UNSPECIFIED:
        return []
    raw = result.raw or code.uri
    if code is DataMining.ALLOWED:
        return [Evidence("iptc", u, Permission.ALLOW, code.value, raw) for u in PROTOCOL_USAGES]
    detail = code.value
    if code in SEE_CODES:
        detail += f": {result.other_constraints}" if result.other_constraints else " (no text)"
    out = [Evidence("iptc", u, Permission.DENY, detail, raw) for u in _IPTC_DENIES[code]]
    if code is DataMining.PROHIBITED_EXCEPT_SEARCH:
        out.append(Evidence("iptc", Usage.SEARCH, Permission.ALLOW, code.value, raw))
    return out


_C2PA_USAGE = {
    "data_mining": Usage.TDM,
    "ai_training": Usage.TRAIN_AI,
    "ai_generative_training": Usage.TRAIN_GENAI,
    "ai_inference": Usage.AI_INPUT,
}


def _children(usage: Usage) -> tuple[Usage, ...]:
    """The usages ``usage`` covers directly (tdm: train-ai and ai-input)."""
    below = narrower_usages(usage)
    return tuple(
        u for u in PROTOCOL_USAGES if u in below and not any(u in narrower_usages(o) for o in below)
    )


def _stricter(a: Permission, b: Permission) -> bool:
    return a is not b and strictest(a, b) is a


def _placements(stated: dict[Usage, Permission]) -> dict[Usage, list[Usage]]:
    """Where each stated usage's permission goes so that no narrower statement is overridden.

    A statement stays on its own usage when every narrower usage the assertion
    states keeps its own statement and is at least as strict (``core.resolve``
    then changes nothing for them). Otherwise it goes to each directly covered
    usage the assertion leaves unstated, recursively, and its own usage gets
    nothing: the assertion says different things about the uses it covers.
    """
    kept: dict[Usage, bool] = {}

    def fits(usage: Usage, permission: Permission) -> bool:
        return all(
            keeps(v) and not _stricter(permission, stated[v])
            for v in narrower_usages(usage)
            if v in stated
        )

    def keeps(usage: Usage) -> bool:
        if usage not in kept:
            kept[usage] = fits(usage, stated[usage])
        return kept[usage]

    def targets(usage: Usage, permission: Permission) -> list[Usage]:
        if fits(usage, permission):
            return [usage]
        return [t for c in _children(usage) if c not in stated for t in targets(c, permission)]

    return {u: targets(u, p) for u, p in stated.items()}


def _c2pa_assertion(
    entries: list[TrainingMiningEntry], state: str | None, where: str
) -> list[Evidence]:
    """One training-mining assertion: each use's entry, the most specific entry deciding a use."""
    read: list[tuple[TrainingMiningEntry, TrainingUse, Usage, Permission]] = []
    stated: dict[Usage, Permission] = {}
    for e in entries:
        usage = _C2PA_USAGE.get(e.kind or "")
        if usage is None or e.use is None:
            continue
        permission = Permission.ALLOW if e.use is TrainingUse.ALLOWED else Permission.DENY
        stated[usage] = strictest(stated.get(usage, Permission.UNKNOWN), permission)
        read.append((e, e.use, usage, permission))
    places = _placements(stated)
    out: list[Evidence] = []
    for e, use, usage, permission in read:
        detail = f"{e.label} {e.key}: {use.value} ({where} {e.manifest})"
        if use is TrainingUse.CONSTRAINED:
            detail += f"; constraint: {e.constraint_info or 'none given (read as notAllowed)'}"
        if state and state.lower() == "invalid":
            detail += "; manifest does not validate"
        over = [
            b.key
            for b, _, broad, p in read
            if usage in narrower_usages(broad) and p is not permission
        ]
        if over:
            detail += f"; more specific than {', '.join(over)}, which does not decide this use"
        raw = f"{e.key}={e.raw_use}"
        for target in places[usage]:
            text = detail
            if target is not usage:
                text += f"; applied to {target.value}, which the assertion does not state"
            out.append(Evidence("c2pa", target, permission, text, raw))
    return out


def _c2pa_entries(
    entries: tuple[TrainingMiningEntry, ...], state: str | None, where: str
) -> list[Evidence]:
    assertions: dict[tuple[str, str], list[TrainingMiningEntry]] = {}
    for e in entries:
        assertions.setdefault((e.manifest, e.label), []).append(e)
    return [ev for group in assertions.values() for ev in _c2pa_assertion(group, state, where)]


def evidence_from_c2pa(result: C2paTrainingMining) -> list[Evidence]:
    """C2PA/CAWG training-mining of the active manifest: allowed allows; notAllowed and
    constrained deny (constraint text in the detail); within an assertion the most
    specific entry decides a use."""
    return _c2pa_entries(result.entries, result.validation_state, "active manifest")


def evidence_from_c2pa_ingredients(result: C2paTrainingMining) -> list[Evidence]:
    """The same reading for assertions in ingredient manifests, kept apart from the decision."""
    return _c2pa_entries(result.ingredient_entries, result.validation_state, "ingredient manifest")

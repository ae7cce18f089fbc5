"""The operator's copyright policy (EU AI Act Art. 53(1)(c)), written from its configuration.

Art. 53(1)(c) asks a provider for "a policy to comply with Union law on
copyright and related rights, and in particular to identify and comply with
... a reservation of rights expressed pursuant to Article 4(3) of Directive
(EU) 2019/790". What Clearance does is configuration, so the policy is
generated from it rather than written by hand: the protocols read (which
depend on ``--web``), their precedence (the resolver's one order), the mode,
how unknown and unreachable sources are treated, and where to complain. A
hand-written policy drifts from what the crawler does; this one cannot.

``PROTOCOLS`` is also what the EU summary uses to name the protocols behind
each exclusion.
"""

from __future__ import annotations

from dataclasses import dataclass

from clearance.reports.document import Document, Field, Section, Table, Text, stated
from clearance.reports.info import ModelInfo


@dataclass(frozen=True, slots=True)
class Protocol:
    sources: tuple[str, ...]
    """Evidence source names (the ``SOURCE`` of ``SOURCE:usage=permission`` reasons)."""
    name: str
    expresses: str
    web: tuple[str, ...]
    """The ``--web`` modes that read it; empty: read from the item itself or the registry."""


PROTOCOLS = (
    Protocol(
        ("registry", "disputed"),
        "Clearance rights registry",
        "rights holders' claims on works (matched by SHA-256, PDQ image hash, text, audio or "
        "video fingerprint, URL, URL prefix or domain) and their terms per usage",
        (),
    ),
    Protocol(
        ("robots.txt",),
        "robots.txt (RFC 9309)",
        "groups for AI-training crawler tokens (GPTBot, CCBot, Google-Extended, ...) reserve "
        "AI training for the paths they disallow",
        ("origin", "head"),
    ),
    Protocol(
        ("content-usage",),
        "IETF AI Preferences (Content-Usage)",
        "train-ai and search preferences in robots.txt (and in the HTTP header with --web head)",
        ("origin", "head"),
    ),
    Protocol(
        ("content-signal",),
        "Content Signals (robots.txt)",
        "ai-train, ai-input and search signals",
        ("origin", "head"),
    ),
    Protocol(("ai.txt",), "ai.txt", "media files reserved from AI training", ("origin", "head")),
    Protocol(
        ("tdmrep.json", "tdmrep-header"),
        "W3C TDMRep",
        "a reservation of text and data mining under Art. 4(3) DSM (site file; HTTP header "
        "with --web head)",
        ("origin", "head"),
    ),
    Protocol(
        ("rsl",),
        "RSL 1.0 licences",
        "permitted and prohibited uses, and paid licences, from licences robots.txt (or a Link "
        "header) names",
        ("origin", "head"),
    ),
    Protocol(
        ("x-robots-tag",),
        "X-Robots-Tag noai / noimageai",
        "no AI training or AI use of the resource",
        ("head",),
    ),
    Protocol(("http-402",), "HTTP 402 pay-per-crawl", "access only for a price", ("head",)),
    Protocol(
        ("c2pa",),
        "C2PA / CAWG training-and-data-mining assertion",
        "data mining, AI training, generative training and inference preferences signed into "
        "the file",
        (),
    ),
    Protocol(
        ("iptc",),
        "IPTC Photo Metadata plus:DataMining",
        "data-mining and AI-training prohibitions in the image's XMP",
        (),
    ),
    Protocol(
        ("xmp", "epub", "pdf-xmp"),
        "TDMRep in file metadata",
        "a text-and-data-mining reservation in XMP, EPUB or PDF metadata",
        (),
    ),
)


def protocol_name(source: str) -> str:
    for p in PROTOCOLS:
        if source in p.sources:
            return p.name
    return source


def protocols_read(web: str) -> list[Protocol]:
    """The protocols a scan with ``--web web`` reads."""
    return [p for p in PROTOCOLS if not p.web or web in p.web]


PRECEDENCE = (
    "an active licence agreement with the rights holder",
    "any reservation (deny), from any source: one disallow wins",
    "a requirement to obtain a licence",
    "an explicit allow",
    "unknown: nobody said anything",
)


def build_policy(
    *,
    purpose: str,
    mode: str,
    web: str,
    agent: str,
    info: ModelInfo,
    contact: str | None = None,
) -> Document:
    """The copyright policy for a scan configuration (from ``--scan DIR`` or flags)."""
    provider = info.get("provider.name")
    complaint = (
        contact
        or info.get("policy.contact", required=False)
        or info.get("provider.contact", required=False)
    )
    if complaint is None:
        info.missing.append("policy.contact")
    scope = Section("1.", "Scope")
    scope.entries += [
        stated(provider, "Provider", "provider.name"),
        Field("Use the content is collected for", purpose, "policy"),
        Field("Mode", mode, "policy"),
        Field("Crawler user agent (robots.txt product token)", agent, "policy"),
        Text(
            "This policy sets out how the provider identifies and complies with reservations "
            "of rights expressed under Article 4(3) of Directive (EU) 2019/790, as Article "
            "53(1)(c) of Regulation (EU) 2024/1689 (AI Act) requires. It is generated from the "
            "configuration of the Clearance scans that decide, item by item, which content may "
            "be used.",
            "policy",
        ),
    ]
    read = Section("2.", "Machine-readable reservations honoured")
    how = {
        "origin": "site-level files (robots.txt, ai.txt, tdmrep.json, RSL) once per origin",
        "head": "site-level files once per origin, plus each URL's own headers",
        "off": "no web requests",
    }.get(web, web)
    read.entries.append(
        Table(
            ("protocol", "what it expresses", "read"),
            tuple(
                (
                    p.name,
                    p.expresses,
                    "yes" if (not p.web or web in p.web) else f"no (needs --web {p.web[0]})",
                )
                for p in PROTOCOLS
            ),
            caption=f"Read with --web {web}: {how}. Signals embedded in the files themselves "
            "and registry claims are always read.",
            source="policy",
        )
    )
    order = Section("3.", "Precedence")
    order.entries += [
        Text(
            "Every statement about an item becomes evidence for a usage; the evidence is "
            "resolved in one fixed order, strongest first:",
            "policy",
        ),
        Table(
            ("rank", "statement"),
            tuple((str(i), s) for i, s in enumerate(PRECEDENCE, 1)),
            source="policy",
        ),
        Text(
            "A statement about a broader use reaches the narrower ones: a text-and-data-mining "
            "reservation also reserves AI training and AI input, and a reservation of AI "
            "training also reserves generative training. An allow never overrides a "
            "reservation from another source.",
            "policy",
        ),
    ]
    unknown = Section("4.", "Unknown and unreachable sources")
    unknown.entries += [
        Field(
            "Content nobody reserved or allowed",
            "used (the default of the Art. 4 exception)"
            if mode == "opt-out"
            else "not used: only content explicitly allowed or licensed is used",
            "policy",
        ),
        Field(
            "A site whose policy files cannot be fetched (unreachable, 5xx)",
            "no reservation can be read, so its usages stay unknown and a warning is recorded"
            + (
                "; in this mode that means its content is used"
                if mode == "opt-out"
                else "; in this mode that means its content is not used"
            ),
            "policy",
        ),
        Field(
            "An item that cannot be read or checked",
            "not used: it is recorded as an error, never silently allowed",
            "policy",
        ),
        Field(
            "Content that needs a licence",
            "not used until a licence is held",
            "policy",
        ),
    ]
    records = Section("5.", "Records and proof")
    records.entries.append(
        Text(
            "Each scan keeps, for every item, the decision and the evidence behind it, in a "
            "manifest whose Merkle root is signed. A rights holder can ask for a proof that a "
            "given work was excluded, or used under a named licence; the proof can be checked "
            "with the provider's public key, without access to the dataset.",
            "policy",
        )
    )
    complaints = Section("6.", "Complaints")
    complaints.entries.append(
        stated(complaint, "Contact for rights holders' complaints", "policy.contact")
    )
    return Document(
        format="clearance.copyright-policy",
        title="Copyright policy" + (f" of {provider}" if provider else ""),
        intro=[
            "Generated by Clearance from the operator's scan configuration. It describes "
            "technical measures; it is not legal advice and does not by itself establish "
            "compliance with any law.",
        ],
        sections=[scope, read, order, unknown, records, complaints],
        missing=list(info.missing),
        references=[
            "Regulation (EU) 2024/1689 (AI Act), Article 53(1)(c)",
            "Directive (EU) 2019/790, Article 4(3)",
        ],
    )

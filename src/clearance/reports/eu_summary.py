"""The public summary of training content (EU AI Act Art. 53(1)(d)) on the AI Office's template.

The sections and field names are those of the AI Office's "Template for the
Public Summary of Training Content for general-purpose AI models" (published
with its Explanatory Notice on 24 July 2025). What the scans know is filled
in from them (``reports.facts``): items used, their sources by kind, the
crawled domains ranked by volume with the share the template asks for, the
licences the scans found to be required, the protocols read and the items
excluded per protocol and per registry owner. Everything else is the
provider's statement from the info file, and is listed as missing when the
file does not say it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from clearance.core.errors import UserError
from clearance.reports.document import Document, Field, Section, Table, Text, stated
from clearance.reports.facts import ScanFacts, combined
from clearance.reports.info import ModelInfo
from clearance.reports.policy import protocol_name, protocols_read

DATASET_KINDS = ("public", "licensed", "private", "crawled", "user", "synthetic", "other")
TOP_SHARE, TOP_SHARE_SME, TOP_MAX_SME = 0.10, 0.05, 1000
TEMPLATE = (
    "European Commission, AI Office: Explanatory Notice and Template for the Public Summary "
    "of Training Content for general-purpose AI models, 24 July 2025 "
    "(https://digital-strategy.ec.europa.eu/en/library/explanatory-notice-and-template-"
    "public-summary-training-content-general-purpose-ai-models)"
)


def dataset_kinds(scans: Sequence[ScanFacts], info: ModelInfo) -> dict[str, str | None]:
    """Each scan's template category (``datasets.<name>.kind``), None where unstated."""
    out: dict[str, str | None] = {}
    for f in scans:
        kind = info.dataset(f.name).get("kind")
        if kind is not None and kind not in DATASET_KINDS:
            raise UserError(
                f"datasets.{f.name}.kind is {kind!r}",
                hint=f"use one of {', '.join(DATASET_KINDS)}",
            )
        out[f.name] = kind
    return out


def top_domains(facts: ScanFacts, sme: bool) -> tuple[list[tuple[str, int, int]], int, int]:
    """(domain, items used, items excluded) of the top share by items used; and how many."""
    used = sorted(
        ((d, c["include"], c["exclude"] + c["needs-license"]) for d, c in facts.domains.items()),
        key=lambda t: (-t[1], t[0]),
    )
    with_content = [t for t in used if t[1] > 0]
    n = len(with_content)
    want = math.ceil(n * (TOP_SHARE_SME if sme else TOP_SHARE))
    if sme:
        want = min(want, TOP_MAX_SME)
    return with_content[:want], want, n


def _datasets_table(
    scans: Sequence[ScanFacts], kinds: dict[str, str | None], info: ModelInfo, kind: str
) -> Table:
    rows = []
    for f in scans:
        if kinds[f.name] != kind:
            continue
        ds = info.dataset(f.name)
        rows.append(
            (
                ds.get("name", required=False) or f.name,
                ds.get("link", required=False),
                f.included,
                f.items,
            )
        )
    return Table(
        ("dataset", "link", "items used", "items scanned"),
        tuple(rows),
        caption="Scanned datasets the info file puts in this category",
    )


def _uses(kinds: dict[str, str | None], kind: str) -> Field:
    label = "Scanned datasets in this category"
    n = sum(1 for k in kinds.values() if k == kind)
    if n:
        return Field(label, f"yes: {n}", "info", note="per datasets.<name>.kind")
    if all(k is not None for k in kinds.values()):
        return Field(label, "none", "info")
    return Field(label, None, "missing", "datasets.<name>.kind")


def build_eu_summary(scans: Sequence[ScanFacts], info: ModelInfo) -> Document:
    total = combined(scans)
    kinds = dataset_kinds(scans, info)
    sme = info.get("provider.sme", required=False) == "yes"

    general = Section("1.", "General information")
    s11 = Section("1.1.", "Provider identification")
    s11.entries += [
        stated(info.get("provider.name"), "Provider name", "provider.name"),
        stated(info.get("provider.contact"), "Provider contact details", "provider.contact"),
        Field(
            "Authorised representative name and contact details",
            info.get("provider.authorised_representative", required=False) or "not applicable",
            "info",
            "provider.authorised_representative",
        ),
    ]
    s12 = Section("1.2.", "Model identification")
    s12.entries += [
        stated(info.get("model.name"), "Versioned model name(s)", "model.name"),
        Field(
            "Model dependencies",
            info.get("model.dependencies", required=False) or "none stated",
            "info",
            "model.dependencies",
        ),
        stated(
            info.get("model.placed_on_market"),
            "Date of placement of the model on the Union market",
            "model.placed_on_market",
        ),
    ]
    s13 = Section("1.3.", "Modalities, overall training data size and other characteristics")
    s13.entries += [
        stated(info.get("model.modalities"), "Modality", "model.modalities"),
        stated(
            info.get("model.training_data_size"), "Training data size", "model.training_data_size"
        ),
        stated(info.get("model.content_types"), "Types of content", "model.content_types"),
        stated(
            info.get("model.latest_data_acquisition"),
            "Latest date of data acquisition/collection for model training",
            "model.latest_data_acquisition",
        ),
        stated(
            info.get("model.languages"),
            "Description of the linguistic characteristics of the overall training data",
            "model.languages",
        ),
        Field(
            "Other relevant characteristics",
            info.get("model.other_characteristics", required=False) or "none stated",
            "info",
        ),
        Field(
            "Items used from the scanned datasets",
            f"{total.included:,} of {total.items:,} items scanned in {len(scans)} dataset(s)",
            "scan",
        ),
        Table(
            ("media type (from file extensions)", "items scanned"),
            tuple(sorted(total.media.items(), key=lambda kv: (-kv[1], kv[0]))),
            caption="What the scans can tell about modality; the provider's statement above "
            "is authoritative",
        ),
    ]
    general.sections += [s11, s12, s13]

    sources = Section("2.", "List of data sources")
    s21 = Section("2.1.", "Publicly available datasets")
    s21.entries += [
        _uses(kinds, "public"),
        _datasets_table(scans, kinds, info, "public"),
        Field(
            "General description of other publicly available datasets",
            info.get("public_datasets_other", required=False) or "none stated",
            "info",
        ),
    ]
    s22 = Section("2.2.", "Private non-publicly available datasets obtained from third parties")
    s221 = Section(
        "2.2.1.", "Datasets commercially licensed by rightsholders or their representatives"
    )
    s221.entries += [
        _uses(kinds, "licensed"),
        _datasets_table(scans, kinds, info, "licensed"),
        Table(
            ("rights holder", "items that need a licence", "price totals"),
            tuple(
                (
                    owner or "(web licence signals, no registered owner)",
                    e["items"],
                    ", ".join(f"{v} {c}" for c, v in sorted(e["totals"].items())) or "-",
                )
                for owner, e in sorted(total.licences.items())
            ),
            caption="Licences the scans found to be required (licenses.json). These items "
            "are not in the cleared data unless the provider holds the licence.",
        ),
    ]
    s222 = Section("2.2.2.", "Private datasets obtained from other third parties")
    s222.entries += [_uses(kinds, "private"), _datasets_table(scans, kinds, info, "private")]
    s22.sections += [s221, s222]

    s23 = Section("2.3.", "Data crawled and scraped from online sources")
    crawlers = info.doc.get("crawlers")
    question = "Were crawlers used by the provider or on its behalf?"
    if isinstance(crawlers, list):
        s23.entries.append(Field(question, "yes" if crawlers else "no", "info", "crawlers"))
        s23.entries.append(
            Table(
                ("crawler", "purpose", "behaviour"),
                tuple(
                    (c.get("name"), c.get("purpose"), c.get("behaviour"))
                    for c in crawlers
                    if isinstance(c, dict)
                ),
                caption="Crawler name(s), purposes and general behaviour (info file)",
                source="info",
            )
        )
    else:
        info.missing.append("crawlers")
        s23.entries.append(Field(question, None, "missing", "crawlers"))
    s23.entries += [
        stated(info.get("crawling.period"), "Period of data collection", "crawling.period"),
        stated(
            info.get("crawling.content"),
            "Comprehensive description of the type of content and online sources crawled",
            "crawling.content",
        ),
    ]
    top, want, n = top_domains(total, sme)
    share = f"top {TOP_SHARE_SME:.0%} (at most {TOP_MAX_SME})" if sme else f"top {TOP_SHARE:.0%}"
    s23.entries += [
        Field(
            "Domains of items with a URL source",
            f"{len(total.domains):,} domains; {n:,} with content used; "
            f"{total.source_kinds['web']:,} items with a URL source",
            "scan",
        ),
        Table(
            ("domain", "items used", "items excluded or needing a licence"),
            tuple(top),
            caption=f"Summary of the most relevant domain names crawled: the {share} of the "
            f"{n:,} domains with content used, ranked by items used ({want:,} listed). "
            "Volume is counted in items (the scans record items, not bytes); domains are "
            "host names.",
        ),
    ]
    s24 = Section("2.4.", "User data")
    s24.entries += [stated(info.get("user_data"), "User data", "user_data")]
    s25 = Section("2.5.", "Synthetic data")
    s25.entries += [stated(info.get("synthetic_data"), "Synthetic data", "synthetic_data")]
    s26 = Section("2.6.", "Other sources of data")
    s26.entries += [
        Field(
            "Other sources of data",
            info.get("other_sources", required=False) or "none stated",
            "info",
        ),
        _datasets_table(scans, kinds, info, "other"),
    ]
    unassigned = [f.name for f in scans if kinds[f.name] is None]
    if unassigned:
        s26.entries.append(
            Text(
                "Scanned datasets without a template category in the info file: "
                + ", ".join(unassigned)
                + " (set datasets.<name>.kind).",
            )
        )
    sources.sections += [s21, s22, s23, s24, s25, s26]

    processing = Section("3.", "Data processing aspects")
    s31 = Section(
        "3.1.", "Respect of reservation of rights from text and data mining exception or limitation"
    )
    s31.entries += [
        stated(
            info.get("code_of_practice_signatory"),
            "Signatory to the General-Purpose AI Code of Practice",
            "code_of_practice_signatory",
        ),
        Text(
            "Before training, every item of every dataset below was checked with Clearance "
            f"for the use {total.purpose!r} in mode {total.mode!r}: matched against a "
            "registry of rights holders' works, and checked for the machine-readable "
            "reservations embedded in it and, where the scan consulted the web, those its "
            "website publishes. Items with a reservation, or needing a licence, were left "
            "out of the cleared data.",
        ),
        Table(
            (
                "dataset",
                "protocols read",
                "items scanned",
                "used",
                "excluded",
                "need a licence",
                "errors",
            ),
            tuple(
                (
                    f.name,
                    ", ".join(p.name for p in protocols_read(f.web)),
                    f.items,
                    f.outcomes["include"],
                    f.outcomes["exclude"],
                    f.outcomes["needs-license"],
                    f.outcomes["error"],
                )
                for f in scans
            ),
            caption="Per dataset",
        ),
        Table(
            ("protocol (evidence source)", "items excluded", "items needing a licence"),
            tuple(
                (
                    f"{protocol_name(src)} ({src})",
                    c["exclude"],
                    c["needs-license"],
                )
                for src, c in sorted(
                    total.by_protocol.items(), key=lambda kv: (-sum(kv[1].values()), kv[0])
                )
            ),
            caption="Items excluded per protocol (an item reserved by several protocols is "
            "counted under each)",
        ),
        Table(
            ("registry owner", "works", "items excluded", "items needing a licence"),
            tuple(
                (owner, len(total.owner_works[owner]), c["exclude"], c["needs-license"])
                for owner, c in sorted(
                    total.by_owner.items(), key=lambda kv: (-sum(kv[1].values()), kv[0])
                )
            ),
            caption="Items excluded per registry claim",
        ),
    ]
    if total.unexplained_excludes:
        s31.entries.append(
            Text(
                f"{total.unexplained_excludes:,} further items were excluded because no source "
                "allowed them (opt-in mode)."
            )
        )
    measures = info.get("tdm_measures", required=False)
    if measures:
        s31.entries.append(Field("Further measures", measures, "info"))
    s32 = Section("3.2.", "Removal of illegal content")
    s32.entries.append(
        stated(
            info.get("illegal_content_measures"),
            "Measures taken to avoid or remove illegal content",
            "illegal_content_measures",
        )
    )
    s33 = Section("3.3.", "Other information (optional)")
    s33.entries += [
        Table(
            ("dataset", "run root (SHA-256 Merkle root of its decisions)", "signing key id"),
            tuple((s["name"], s["run_root"], s["key_id"] or "unsigned") for s in total.scans),
            caption="Each scan's decisions are committed to by a signed Merkle root; "
            "`clearance verify DIR --pubkey KEY` checks a scan, `clearance prove` gives a "
            "rights holder a proof for their works",
        )
    ]
    other = info.get("other_information", required=False)
    if other:
        s33.entries.append(Field("Other information", other, "info"))
    processing.sections += [s31, s32, s33]

    return Document(
        format="clearance.eu-summary",
        title="Public summary of training content"
        + (
            f": {info.get('model.name', required=False)}"
            if info.get("model.name", required=False)
            else ""
        ),
        intro=[
            "Drawn up under Article 53(1)(d) of Regulation (EU) 2024/1689 (AI Act) on the AI "
            "Office's template. Values marked [scan] were measured by Clearance scans of the "
            "training datasets; values marked [info] are the provider's statements. It is not "
            "legal advice.",
        ],
        sections=[general, sources, processing],
        missing=list(info.missing),
        scans=total.scans,
        references=[TEMPLATE, "Regulation (EU) 2024/1689, Article 53(1)(c) and (d)"],
    )

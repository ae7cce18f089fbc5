"""Section B of the mapping: TDMRep, RSL, X-Robots-Tag/meta robots, 402, IPTC, C2PA -> Evidence."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clearance.core import Evidence, Permission, Usage, resolve_all
from clearance.core.usage import narrower_usages
from clearance.signals.c2pa import parse_manifest_store, read_c2pa
from clearance.signals.html_meta import parse_html_meta
from clearance.signals.iptc_xmp import DataMining, IptcDataMining, read_iptc_data_mining
from clearance.signals.mapping import (
    PROTOCOL_USAGES,
    SECTION_B_SOURCES,
    evidence_from_c2pa,
    evidence_from_c2pa_ingredients,
    evidence_from_iptc,
    evidence_from_pay_per_crawl,
    evidence_from_robots_directives,
    evidence_from_rsl,
    evidence_from_tdmrep,
)
from clearance.signals.paycrawl import parse_pay_per_crawl
from clearance.signals.rsl import parse_rsl
from clearance.signals.tdmrep import (
    TdmRepSignal,
    combine,
    parse_tdm_policy,
    parse_tdmrep_json,
    tdmrep_from_epub,
    tdmrep_from_headers,
    tdmrep_from_html,
    tdmrep_from_pdf,
)
from clearance.signals.xrobots import parse_x_robots_tag, x_robots_tag_from_headers

ALLOW, DENY, LICENSE, UNKNOWN = (
    Permission.ALLOW,
    Permission.DENY,
    Permission.LICENSE,
    Permission.UNKNOWN,
)
C2PA_CORPUS = Path(__file__).parent.parent / "corpus" / "c2pa"
RSL_CORPUS = Path(__file__).parent.parent / "corpus" / "rsl"


def stated(evidence: list[Evidence]) -> dict[Usage, Permission]:
    """The strictest statement per usage, as stated (no implications)."""
    rank = {UNKNOWN: 0, ALLOW: 1, LICENSE: 2, DENY: 3}
    out: dict[Usage, Permission] = {}
    for e in evidence:
        if rank[e.permission] >= rank[out.get(e.usage, UNKNOWN)]:
            out[e.usage] = e.permission
    return out


def decided(evidence: list[Evidence]) -> dict[Usage, Permission]:
    """What the core resolver makes of the evidence (implications applied)."""
    return {u: d.permission for u, d in resolve_all(evidence).items()}


def check_sources(evidence: list[Evidence]) -> None:
    assert {e.source for e in evidence} <= set(SECTION_B_SOURCES)


# --- TDMRep ---


def test_tdmrep_reserved_denies_tdm_and_everything_under_it() -> None:
    ev = evidence_from_tdmrep(
        parse_tdmrep_json('[{"location": "/", "tdm-reservation": 1}]').lookup("/a")
    )
    check_sources(ev)
    assert [(e.source, e.usage, e.permission) for e in ev] == [("tdmrep.json", Usage.TDM, DENY)]
    d = decided(ev)
    assert d[Usage.TRAIN_AI] is d[Usage.TRAIN_GENAI] is d[Usage.AI_INPUT] is DENY
    assert d[Usage.SEARCH] is UNKNOWN


def test_tdmrep_not_reserved_allows_tdm() -> None:
    ev = evidence_from_tdmrep(
        TdmRepSignal(0, "https://ignored", "tdmrep-header", "tdm-reservation: 0")
    )
    assert [(e.usage, e.permission) for e in ev] == [(Usage.TDM, ALLOW)]
    assert "ignored" not in ev[0].detail  # the policy is not processed when not reserved


def test_tdmrep_unset_says_nothing() -> None:
    assert evidence_from_tdmrep(tdmrep_from_headers({})) == []


def test_tdmrep_policy_in_detail() -> None:
    policy = parse_tdm_policy(
        json.dumps(
            {
                "@type": "Offer",
                "profile": "http://www.w3.org/ns/tdmrep",
                "assigner": {"vcard:hasEmail": "mailto:tdm@pub.example"},
                "permission": [{"action": "tdm:mine", "duty": [{"action": "compensate"}]}],
            }
        )
    )
    signal = TdmRepSignal(1, "https://pub.example/policy.json", "tdmrep-meta", "tdm-reservation: 1")
    (e,) = evidence_from_tdmrep(signal, policy)
    assert e.source == "tdmrep-meta"
    assert "https://pub.example/policy.json" in e.detail
    assert "compensate" in e.detail and "tdm@pub.example" in e.detail
    assert e.raw == "tdm-reservation: 1"


def test_tdmrep_combined_source_is_the_deciding_layer() -> None:
    c = combine(TdmRepSignal(0, None, "tdmrep.json"), TdmRepSignal(1, None, "pdf-xmp"))
    (e,) = evidence_from_tdmrep(c)
    assert (e.source, e.permission) == ("pdf-xmp", DENY)


# --- RSL ---

NS = 'xmlns="https://rslstandard.org/rsl"'


def rsl(content: str, url: str = "/") -> list[Evidence]:
    ev = evidence_from_rsl(parse_rsl(f"<rsl {NS}>{content}</rsl>"), url)
    check_sources(ev)
    return ev


def test_rsl_prohibit_only_allows_the_rest_for_free() -> None:
    ev = rsl(
        '<content url="/"><license><prohibits type="usage">ai-train</prohibits></license></content>'
    )
    s = stated(ev)
    assert s[Usage.TRAIN_AI] is DENY and s[Usage.TRAIN_GENAI] is DENY
    assert s[Usage.AI_INPUT] is ALLOW and s[Usage.SEARCH] is ALLOW and s[Usage.TDM] is ALLOW
    d = decided(ev)
    assert d[Usage.TRAIN_AI] is DENY and d[Usage.AI_INPUT] is ALLOW


def test_rsl_prohibition_beats_permit() -> None:
    ev = rsl(
        '<content url="/"><license><permits type="usage">all</permits>'
        '<prohibits type="usage">ai-input</prohibits></license></content>'
    )
    d = decided(ev)
    assert d[Usage.AI_INPUT] is DENY
    assert d[Usage.TRAIN_AI] is ALLOW and d[Usage.SEARCH] is ALLOW


def test_rsl_paid_permit_is_license_with_terms() -> None:
    ev = rsl(
        '<content url="/"><license><permits type="usage">ai-all</permits>'
        '<payment type="training"><amount currency="USD">0.25</amount>'
        "<standard>https://collective.example/std</standard></payment></license>"
        "<terms>https://site.example/terms</terms></content>"
    )
    s = stated(ev)
    assert s[Usage.TRAIN_AI] is s[Usage.TRAIN_GENAI] is s[Usage.AI_INPUT] is LICENSE
    assert s[Usage.SEARCH] is DENY  # closed permits list
    assert Usage.TDM not in s  # a tdm deny would reach the licensed AI usages
    lic = next(e for e in ev if e.usage is Usage.TRAIN_AI)
    assert "training 0.25 USD" in lic.detail
    assert "https://collective.example/std" in lic.detail
    assert "https://site.example/terms" in lic.detail
    d = decided(ev)
    assert d[Usage.TRAIN_AI] is LICENSE and d[Usage.SEARCH] is DENY


def test_rsl_free_permit_is_allow_but_server_makes_it_license() -> None:
    free = rsl(
        '<content url="/"><license><permits type="usage">search</permits></license></content>'
    )
    assert stated(free)[Usage.SEARCH] is ALLOW
    assert decided(free)[Usage.TRAIN_AI] is DENY  # nothing but search is permitted
    server = rsl(
        '<content url="/" server="https://ls.example"><license>'
        '<permits type="usage">search</permits><payment type="free"/></license></content>'
    )
    (e,) = [e for e in server if e.usage is Usage.SEARCH]
    assert e.permission is LICENSE and "https://ls.example" in e.detail


def test_rsl_attribution_and_conditions_are_license() -> None:
    ev = rsl(
        '<content url="/"><license><permits type="usage">ai-input</permits>'
        '<payment type="attribution"/></license></content>'
    )
    assert stated(ev)[Usage.AI_INPUT] is LICENSE
    ev = rsl(
        '<content url="/"><license><permits type="usage">ai-input</permits>'
        '<permits type="user">non-commercial</permits></license></content>'
    )
    e = next(e for e in ev if e.usage is Usage.AI_INPUT)
    assert e.permission is LICENSE and "non-commercial" in e.detail


def test_rsl_all_and_ai_index() -> None:
    ev = rsl('<content url="/"><license><permits type="usage">all</permits></license></content>')
    assert stated(ev) == {u: ALLOW for u in PROTOCOL_USAGES}
    assert Usage.OUTPUT not in stated(ev)
    ev = rsl(
        '<content url="/"><license><prohibits type="usage">ai-index</prohibits></license></content>'
    )
    assert stated(ev)[Usage.AI_INPUT] is DENY and stated(ev)[Usage.TRAIN_AI] is ALLOW
    ev = rsl(
        '<content url="/"><license><permits type="usage">ai-index</permits></license></content>'
    )
    assert decided(ev)[Usage.AI_INPUT] is DENY  # indexing alone does not permit use at inference


def test_rsl_licences_are_alternatives() -> None:
    ev = rsl(
        '<content url="/"><license><permits type="usage">search</permits></license>'
        '<license><permits type="usage">ai-train</permits><payment type="purchase">'
        '<amount currency="EUR">100</amount></payment></license></content>'
    )
    d = decided(ev)
    assert d[Usage.SEARCH] is ALLOW
    assert d[Usage.TRAIN_AI] is LICENSE  # offered by the second licence, not denied by the first
    assert d[Usage.AI_INPUT] is DENY  # neither licence permits it


def test_rsl_content_selection_by_url() -> None:
    doc = parse_rsl((RSL_CORPUS / "paid-subscription.xml").read_bytes())
    site = decided(evidence_from_rsl(doc, "https://example.org/blog/post"))
    assert site[Usage.TRAIN_AI] is LICENSE  # attribution
    api = stated(evidence_from_rsl(doc, "/api/users"))
    assert api[Usage.TRAIN_AI] is LICENSE and api[Usage.SEARCH] is DENY
    assert (
        evidence_from_rsl(
            parse_rsl(f'<rsl {NS}><content url="/x"><license/></content></rsl>'), "/y"
        )
        == []
    )
    every = evidence_from_rsl(doc)
    assert {e.detail.split(">")[0] for e in every} == {
        "RSL <content url='/'",
        "RSL <content url='/api'",
    }


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "prohibit-training.xml",
            {Usage.TRAIN_AI: DENY, Usage.AI_INPUT: ALLOW, Usage.SEARCH: ALLOW},
        ),
        (
            "collective-use.xml",
            {Usage.TRAIN_AI: LICENSE, Usage.AI_INPUT: LICENSE, Usage.SEARCH: DENY},
        ),
        (
            "attribution-inference.xml",
            {Usage.TRAIN_AI: DENY, Usage.AI_INPUT: LICENSE, Usage.SEARCH: LICENSE},
        ),
        ("server-free.xml", {Usage.TRAIN_AI: LICENSE, Usage.AI_INPUT: DENY, Usage.SEARCH: LICENSE}),
    ],
)
def test_rsl_corpus_decisions(name: str, expected: dict[Usage, Permission]) -> None:
    doc = parse_rsl((RSL_CORPUS / name).read_bytes())
    d = decided(evidence_from_rsl(doc, "https://park.example/dataset/a"))
    assert {u: d[u] for u in expected} == expected


# --- X-Robots-Tag / meta robots ---


def test_noai_denies_train_and_input() -> None:
    ev = evidence_from_robots_directives(parse_x_robots_tag("noai"))
    check_sources(ev)
    assert stated(ev) == {Usage.TRAIN_AI: DENY, Usage.AI_INPUT: DENY}
    assert decided(ev)[Usage.TRAIN_GENAI] is DENY
    assert decided(ev)[Usage.SEARCH] is UNKNOWN
    assert all(e.source == "x-robots-tag" and e.raw == "noai" for e in ev)


def test_noimageai_only_for_images() -> None:
    d = parse_x_robots_tag("noimageai")
    assert evidence_from_robots_directives(d) == []
    assert stated(evidence_from_robots_directives(d, image=True)) == {Usage.TRAIN_AI: DENY}


def test_noindex_denies_search() -> None:
    assert stated(evidence_from_robots_directives(parse_x_robots_tag("noindex"))) == {
        Usage.SEARCH: DENY
    }
    assert stated(evidence_from_robots_directives(parse_x_robots_tag("none"))) == {
        Usage.SEARCH: DENY
    }
    d = parse_x_robots_tag("noimageindex")
    assert evidence_from_robots_directives(d) == []
    assert stated(evidence_from_robots_directives(d, image=True)) == {Usage.SEARCH: DENY}


def test_bot_scoping() -> None:
    d = parse_x_robots_tag("GPTBot: noai")
    (e, _) = evidence_from_robots_directives(d)
    assert e.raw == "GPTBot: noai" and "GPTBot" in e.detail
    assert stated(evidence_from_robots_directives(d, bot="gptbot"))[Usage.TRAIN_AI] is DENY
    assert evidence_from_robots_directives(d, bot="CCBot") == []


def test_meta_robots_source() -> None:
    page = parse_html_meta('<meta name="robots" content="noai, noimageai">')
    ev = evidence_from_robots_directives(page.robots, image=True)
    check_sources(ev)
    assert {e.source for e in ev} == {"meta-robots"}
    assert stated(ev) == {Usage.TRAIN_AI: DENY, Usage.AI_INPUT: DENY}


# --- pay-per-crawl ---


def test_402_is_a_tdm_license_with_the_price() -> None:
    (e,) = evidence_from_pay_per_crawl(parse_pay_per_crawl(402, {"crawler-price": "USD 0.01"}))
    assert (e.source, e.usage, e.permission) == ("http-402", Usage.TDM, LICENSE)
    assert "0.01 USD" in e.detail
    assert e.raw == "crawler-price: USD 0.01"
    d = decided([e])
    assert d[Usage.TRAIN_AI] is LICENSE and d[Usage.AI_INPUT] is LICENSE
    assert d[Usage.SEARCH] is UNKNOWN


def test_charged_forbidden_and_nothing() -> None:
    (e,) = evidence_from_pay_per_crawl(parse_pay_per_crawl(200, {"crawler-charged": "EUR 0.5"}))
    assert e.permission is LICENSE
    assert e.detail == "pay-per-crawl charged 0.5 EUR per request"
    (e,) = evidence_from_pay_per_crawl(
        parse_pay_per_crawl(403, {"crawler-error": "CrawlerForbidden"})
    )
    assert (e.usage, e.permission) == (Usage.TDM, DENY)
    assert evidence_from_pay_per_crawl(parse_pay_per_crawl(402, {})) == []
    assert evidence_from_pay_per_crawl(parse_pay_per_crawl(200, {})) == []


# --- IPTC ---

ALL_DENY = {u: DENY for u in PROTOCOL_USAGES}
AI_DENY = {Usage.TDM: DENY, Usage.TRAIN_AI: DENY, Usage.TRAIN_GENAI: DENY, Usage.AI_INPUT: DENY}


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (DataMining.UNSPECIFIED, {}),
        (DataMining.ALLOWED, {u: ALLOW for u in PROTOCOL_USAGES}),
        (DataMining.PROHIBITED, ALL_DENY),
        (DataMining.PROHIBITED_EXCEPT_SEARCH, {**AI_DENY, Usage.SEARCH: ALLOW}),
        (DataMining.PROHIBITED_AIML_TRAINING, {Usage.TRAIN_AI: DENY}),
        (DataMining.PROHIBITED_GENAIML_TRAINING, {Usage.TRAIN_GENAI: DENY}),
        (DataMining.PROHIBITED_SEE_CONSTRAINT, ALL_DENY),
        (DataMining.PROHIBITED_SEE_EMBEDDED, ALL_DENY),
        (DataMining.PROHIBITED_SEE_LINKED, ALL_DENY),
    ],
)
def test_iptc_codes(code: DataMining, expected: dict[Usage, Permission]) -> None:
    ev = evidence_from_iptc(IptcDataMining(code, code.uri))
    check_sources(ev)
    assert stated(ev) == expected


def test_iptc_implications_and_constraint_text() -> None:
    d = decided(evidence_from_iptc(IptcDataMining(DataMining.PROHIBITED_AIML_TRAINING, "x")))
    assert d[Usage.TRAIN_GENAI] is DENY and d[Usage.AI_INPUT] is UNKNOWN
    d = decided(evidence_from_iptc(IptcDataMining(DataMining.PROHIBITED_GENAIML_TRAINING, "x")))
    assert d[Usage.TRAIN_AI] is UNKNOWN and d[Usage.TRAIN_GENAI] is DENY
    ev = evidence_from_iptc(
        IptcDataMining(DataMining.PROHIBITED_SEE_CONSTRAINT, "x", "Licence from agency X only")
    )
    assert all("Licence from agency X only" in e.detail for e in ev)
    assert evidence_from_iptc(IptcDataMining(None, "DMI-BOGUS")) == []


# --- C2PA ---


def test_c2pa_real_files() -> None:
    cawg = evidence_from_c2pa(read_c2pa(C2PA_CORPUS / "c2pa_C_with_CAWG_data.jpg"))
    check_sources(cawg)
    assert stated(cawg) == {Usage.AI_INPUT: DENY, Usage.TRAIN_GENAI: DENY}
    d = decided(cawg)
    assert d[Usage.TRAIN_AI] is UNKNOWN and d[Usage.TDM] is UNKNOWN
    legacy = evidence_from_c2pa(read_c2pa(C2PA_CORPUS / "datadiligence_sample_c2pa.png"))
    assert stated(legacy) == AI_DENY
    wav = evidence_from_c2pa(read_c2pa(C2PA_CORPUS / "c2pa_sample1_signed.wav"))
    assert stated(wav) == AI_DENY
    assert evidence_from_c2pa(read_c2pa(C2PA_CORPUS / "c2pa_C.jpg")) == []
    assert evidence_from_c2pa(read_c2pa(C2PA_CORPUS / "c2pa_A_no_manifest.jpg")) == []


def test_c2pa_uses_and_ingredients() -> None:
    store = {
        "active_manifest": "a",
        "manifests": {
            "a": {
                "assertions": [
                    {
                        "label": "cawg.training-mining",
                        "data": {
                            "entries": {
                                "cawg.ai_training": {
                                    "use": "constrained",
                                    "constraint_info": "ask us",
                                },
                                "cawg.data_mining": {"use": "allowed"},
                                "cawg.ai_inference": {"use": "constrained"},
                            }
                        },
                    }
                ]
            },
            "b": {
                "assertions": [
                    {
                        "label": "c2pa.training-mining",
                        "data": {"entries": {"c2pa.data_mining": {"use": "notAllowed"}}},
                    }
                ]
            },
        },
    }
    r = parse_manifest_store(store)
    ev = evidence_from_c2pa(r)
    assert stated(ev) == {Usage.TRAIN_AI: DENY, Usage.TDM: ALLOW, Usage.AI_INPUT: DENY}
    train = next(e for e in ev if e.usage is Usage.TRAIN_AI)
    assert "ask us" in train.detail and train.raw == "cawg.ai_training=constrained"
    bare = next(e for e in ev if e.usage is Usage.AI_INPUT)
    assert "read as notAllowed" in bare.detail
    ing = evidence_from_c2pa_ingredients(r)
    assert stated(ing) == {Usage.TDM: DENY}
    assert "ingredient manifest b" in ing[0].detail
    assert decided(ev)[Usage.TDM] is ALLOW  # the ingredient does not decide unless passed in


def _cawg(entries: dict[str, str], label: str = "cawg.training-mining") -> list[Evidence]:
    """The evidence of one active manifest holding one training-mining assertion."""
    data = {"entries": {f"cawg.{k}": {"use": v} for k, v in entries.items()}}
    store = {
        "active_manifest": "m",
        "manifests": {"m": {"assertions": [{"label": label, "data": data}]}},
    }
    return evidence_from_c2pa(parse_manifest_store(store))


def test_cawg_the_more_specific_entry_decides_its_use() -> None:
    # A third-party test manifest (conformance case qe-test-mixed): data_mining constrained
    # must not override the explicit ai_training: allowed of the same assertion.
    ev = _cawg(
        {
            "data_mining": "constrained",
            "ai_training": "allowed",
            "ai_generative_training": "notAllowed",
            "ai_inference": "notAllowed",
        }
    )
    d = decided(ev)
    assert d[Usage.TRAIN_AI] is ALLOW
    assert d[Usage.TRAIN_GENAI] is DENY and d[Usage.AI_INPUT] is DENY
    assert d[Usage.TDM] is UNKNOWN  # data mining is reserved, but tdm covers the allowed use
    train = next(e for e in ev if e.usage is Usage.TRAIN_AI)
    assert "more specific than cawg.data_mining" in train.detail


def test_cawg_a_broad_entry_reaches_only_the_uses_left_unstated() -> None:
    ev = _cawg({"data_mining": "notAllowed", "ai_inference": "allowed"})
    d = decided(ev)
    assert d[Usage.AI_INPUT] is ALLOW
    assert d[Usage.TRAIN_AI] is DENY and d[Usage.TRAIN_GENAI] is DENY
    assert d[Usage.TDM] is UNKNOWN
    moved = next(e for e in ev if e.usage is Usage.TRAIN_AI)
    assert moved.raw == "cawg.data_mining=notAllowed"
    assert "applied to train-ai, which the assertion does not state" in moved.detail


def test_cawg_agreeing_entries_keep_the_broad_statement() -> None:
    ev = _cawg(
        {"data_mining": "notAllowed", "ai_training": "notAllowed", "ai_inference": "constrained"}
    )
    assert stated(ev) == {Usage.TDM: DENY, Usage.TRAIN_AI: DENY, Usage.AI_INPUT: DENY}
    ev = _cawg({"data_mining": "allowed", "ai_training": "notAllowed"})
    d = decided(ev)
    assert d[Usage.TDM] is ALLOW and d[Usage.AI_INPUT] is ALLOW
    assert d[Usage.TRAIN_AI] is DENY and d[Usage.TRAIN_GENAI] is DENY


def test_cawg_a_mixed_broad_use_stays_unknown() -> None:
    # ai_training (non-generative, in CAWG) denied, generative training allowed: the explicit
    # entries decide their own uses; train-ai, which covers both, gets no single answer, and
    # data_mining's allow must not reach the denied use through it.
    ev = _cawg(
        {"data_mining": "allowed", "ai_training": "notAllowed", "ai_generative_training": "allowed"}
    )
    d = decided(ev)
    assert d[Usage.TRAIN_GENAI] is ALLOW
    assert d[Usage.TRAIN_AI] is UNKNOWN
    assert d[Usage.AI_INPUT] is ALLOW and d[Usage.TDM] is UNKNOWN


def test_cawg_separate_assertions_do_not_override_each_other() -> None:
    store = {
        "active_manifest": "m",
        "manifests": {
            "m": {
                "assertions": [
                    {
                        "label": "cawg.training-mining",
                        "data": {"entries": {"cawg.data_mining": {"use": "notAllowed"}}},
                    },
                    {
                        "label": "c2pa.training-mining",
                        "data": {"entries": {"c2pa.ai_training": {"use": "allowed"}}},
                    },
                ]
            }
        },
    }
    d = decided(evidence_from_c2pa(parse_manifest_store(store)))
    assert d[Usage.TDM] is DENY and d[Usage.TRAIN_AI] is DENY  # any deny wins across sources


_CAWG_KINDS = ("data_mining", "ai_training", "ai_generative_training", "ai_inference")
_CAWG_USAGE = {
    "data_mining": Usage.TDM,
    "ai_training": Usage.TRAIN_AI,
    "ai_generative_training": Usage.TRAIN_GENAI,
    "ai_inference": Usage.AI_INPUT,
}
# The CAWG entries that speak to a usage, most specific first.
_CAWG_CHAIN = {
    Usage.TDM: ("data_mining",),
    Usage.TRAIN_AI: ("ai_training", "data_mining"),
    Usage.TRAIN_GENAI: ("ai_generative_training", "ai_training", "data_mining"),
    Usage.AI_INPUT: ("ai_inference", "data_mining"),
}


@pytest.mark.parametrize(
    "uses", list(itertools.product((None, "allowed", "notAllowed", "constrained"), repeat=4))
)
def test_cawg_every_combination_follows_the_most_specific_entry(
    uses: tuple[str | None, ...],
) -> None:
    """Properties from CAWG's rule, checked on all 256 assertions of the four uses:

    * a use gets the answer of the most specific entry that speaks to it, or none;
    * no broader entry reaches a use stated more loosely below it (no override);
    * a use whose covered uses all agree with that entry gets exactly its answer.
    """
    entries = {k: u for k, u in zip(_CAWG_KINDS, uses, strict=True) if u is not None}
    perm = {k: ALLOW if u == "allowed" else DENY for k, u in entries.items()}
    d = decided(_cawg(entries))
    for usage, chain in _CAWG_CHAIN.items():
        nearest = next((perm[k] for k in chain if k in perm), UNKNOWN)
        below = {
            perm[k] for k, u in _CAWG_USAGE.items() if u in narrower_usages(usage) and k in perm
        }
        assert d[usage] in (nearest, UNKNOWN), (usage, entries)
        if nearest is DENY and ALLOW in below:
            assert d[usage] is UNKNOWN, (usage, entries)
        if below <= {nearest}:
            assert d[usage] is nearest, (usage, entries)


def test_every_source_name_is_documented() -> None:
    assert len(set(SECTION_B_SOURCES)) == len(SECTION_B_SOURCES) == 11


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=1500), st.sampled_from([None, 200, 402, 403]))
def test_every_section_b_reader_and_mapping_survives_junk(data: bytes, status: int | None) -> None:
    """Arbitrary bytes through every pure reader and on into Evidence: nothing raises."""
    text = data.decode("latin-1")
    headers = [(name, text[:200]) for name in ("x-robots-tag", "tdm-reservation", "crawler-price")]
    page = parse_html_meta(data)
    evidence = [
        *evidence_from_tdmrep(
            combine(
                parse_tdmrep_json(data).lookup(text[:50]),
                tdmrep_from_headers(headers),
                tdmrep_from_html(page),
                tdmrep_from_epub(data),
                tdmrep_from_pdf(data),
            ),
            parse_tdm_policy(data),
        ),
        *evidence_from_rsl(parse_rsl(data), text[:50] or None),
        *evidence_from_robots_directives(x_robots_tag_from_headers(headers), image=True),
        *evidence_from_robots_directives(page.robots),
        *evidence_from_pay_per_crawl(parse_pay_per_crawl(status, headers)),
        *evidence_from_iptc(read_iptc_data_mining(data)),
        *evidence_from_c2pa(parse_manifest_store(data)),
    ]
    check_sources(evidence)
    resolve_all(evidence)

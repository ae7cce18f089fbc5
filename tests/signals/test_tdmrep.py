"""TDMRep: the W3C spec's examples, every layer, precedence, the ODRL policy, and junk input."""

from __future__ import annotations

import io
import json
import zipfile
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clearance.signals.tdmrep import (
    TdmRepSignal,
    combine,
    find_opf,
    parse_reservation,
    parse_tdm_policy,
    parse_tdmrep_json,
    tdmrep_from_epub,
    tdmrep_from_headers,
    tdmrep_from_html,
    tdmrep_from_opf,
    tdmrep_from_pdf,
    tdmrep_from_xmp,
)

# --- the spec's own examples (W3C TDMRep CG final report, sections 3.2 and 4) ---

SPEC_ALL = '[{"location": "/", "tdm-reservation": 1}]'

SPEC_GROUPS = """
[
  {"location": "/directory-a/", "tdm-reservation": 1},
  {"location": "/directory-b/html/", "tdm-reservation": 1,
   "tdm-policy": "https://provider.com/policies/policy.json"},
  {"location": "/directory-b/images/*.jpg", "tdm-reservation": 0}
]
"""

SPEC_HTML = """<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="tdm-reservation" content="1">
    <meta name="tdm-policy" content="https://provider.com/policies/policy.json">
    <title>Document title</title>
  </head>
  <body>...</body>
</html>"""

SPEC_POLICY_CONSENT = """{
  "@context": ["http://www.w3.org/ns/odrl.jsonld", {"tdm": "http://www.w3.org/ns/tdmrep#"}],
  "@type": "Offer",
  "profile": "http://www.w3.org/ns/tdmrep",
  "uid": "https://provider.com/policies/1",
  "assigner": {
    "uid": "https://provider.com",
    "vcard:fn": "Provider",
    "vcard:hasEmail": "mailto:contact@provider.com",
    "vcard:hasAddress": {"vcard:street-address": "111 Street Address",
                         "vcard:country-name": "France"},
    "vcard:hasURL": "https://provider.com/tdm/licensing.html"
  },
  "permission": [{"action": "tdm:mine", "duty": [{"action": "obtainConsent"}]}]
}"""

SPEC_POLICY_PAID = """{
  "@context": ["http://www.w3.org/ns/odrl.jsonld", {"tdm": "http://www.w3.org/ns/tdmrep#"}],
  "@type": "Offer",
  "profile": "http://www.w3.org/ns/tdmrep",
  "uid": "https://provider.com/policies/1",
  "assigner": {"uid": "https://provider.com", "vcard:fn": "Provider",
               "vcard:hasEmail": "mailto:contact@provider.com"},
  "permission": [{
    "action": "tdm:mine",
    "duty": [{"action": "compensate"}],
    "constraint": [{"leftOperand": "purpose", "operator": "eq",
                    "rightOperand": "tdm:non-research"}]
  }]
}"""


def test_spec_site_wide_opt_out() -> None:
    f = parse_tdmrep_json(SPEC_ALL)
    assert f.warnings == ()
    for path in ("/", "/anything/at/all.html", "https://example.com/x?y=1"):
        s = f.lookup(path)
        assert s.reservation == 1
        assert s.source == "tdmrep.json"


def test_spec_three_groups() -> None:
    f = parse_tdmrep_json(SPEC_GROUPS)
    assert len(f.rules) == 3
    a = f.lookup("https://provider.com/directory-a/paper.pdf")
    assert (a.reservation, a.policy) == (1, None)
    b = f.lookup("/directory-b/html/page.html")
    assert (b.reservation, b.policy) == (1, "https://provider.com/policies/policy.json")
    assert b.effective_policy == b.policy
    c = f.lookup("/directory-b/images/photo.jpg")
    assert c.reservation == 0
    assert c.effective_policy is None
    unmatched = f.lookup("/directory-b/images/photo.png")
    assert unmatched.reservation is None


def test_first_matching_rule_wins_not_longest() -> None:
    f = parse_tdmrep_json(
        '[{"location": "/", "tdm-reservation": 0}, {"location": "/private/", "tdm-reservation": 1}]'
    )
    assert f.lookup("/private/x").reservation == 0


def test_dollar_anchor_and_wildcards() -> None:
    f = parse_tdmrep_json(
        '[{"location": "/this/path/exactly$", "tdm-reservation": 1},'
        ' {"location": "/this/*/then", "tdm-reservation": 0},'
        ' {"location": "*.pdf$", "tdm-reservation": 1}]'
    )
    assert f.lookup("/this/path/exactly").reservation == 1
    assert f.lookup("/this/path/exactly/more").reservation is None
    assert f.lookup("/this/a/b/then/x").reservation == 0
    assert f.lookup("/docs/report.pdf").reservation == 1
    assert f.lookup("/docs/report.pdf?x=1").reservation is None


def test_percent_encoding_is_normalised() -> None:
    f = parse_tdmrep_json(
        '[{"location": "/path/foo-%24", "tdm-reservation": 1},'
        ' {"location": "/%7Euser/", "tdm-reservation": 1}]'
    )
    assert f.lookup("/path/foo-%24").reservation == 1
    assert f.lookup("/~user/page").reservation == 1


def test_matching_is_case_sensitive() -> None:
    f = parse_tdmrep_json('[{"location": "/Private/", "tdm-reservation": 1}]')
    assert f.lookup("/private/x").reservation is None


@pytest.mark.parametrize(
    ("value", "expected", "warns"),
    [
        (1, 1, False),
        (0, 0, False),
        ("1", 1, False),
        (" 0 ", 0, False),
        (True, 1, True),
        (1.0, 1, True),
        (2, None, True),
        ("yes", None, True),
        (None, None, False),
        ([1], None, True),
    ],
)
def test_reservation_values(value: object, expected: int | None, warns: bool) -> None:
    got, warnings = parse_reservation(value)
    assert got == expected
    assert bool(warnings) is warns


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not json",
        "{",
        "null",
        "42",
        '"string"',
        "[1, 2, 3]",
        '[{"tdm-reservation": 1}]',
        '[{"location": 5, "tdm-reservation": 1}]',
        "[" * 100_000,
    ],
)
def test_malformed_tdmrep_json_never_raises(text: str) -> None:
    f = parse_tdmrep_json(text)
    assert f.rules == ()
    assert f.lookup("/").reservation is None
    if text:
        assert f.warnings


def test_lenient_shapes() -> None:
    single = parse_tdmrep_json('{"location": "/", "tdm-reservation": "1"}')
    assert single.lookup("/a").reservation == 1
    assert any("object" in w for w in single.warnings)
    url_loc = parse_tdmrep_json('[{"location": "https://x.org/a/", "TDM-Reservation": 1}]')
    assert url_loc.lookup("/a/b").reservation == 1
    no_slash = parse_tdmrep_json('[{"location": "a/", "tdm_reservation": 1}]')
    assert no_slash.lookup("/a/b").reservation == 1
    invalid = parse_tdmrep_json('[{"location": "/", "tdm-reservation": 2}]')
    assert invalid.lookup("/x").reservation is None
    assert invalid.warnings


def test_bom_and_non_utf8() -> None:
    bom = b"\xef\xbb\xbf" + SPEC_ALL.encode()
    assert parse_tdmrep_json(bom).lookup("/").reservation == 1
    latin = '[{"location": "/caf\xe9/", "tdm-reservation": 1}]'.encode("latin-1")
    f = parse_tdmrep_json(latin)
    assert f.lookup("/caf\xe9/x").reservation == 1
    assert any("UTF-8" in w for w in f.warnings)


# --- headers and HTML ---


def test_spec_header_examples() -> None:
    s = tdmrep_from_headers({"Content-type": "image/jpg", "tdm-reservation": "1"})
    assert (s.reservation, s.policy, s.source) == (1, None, "tdmrep-header")
    s = tdmrep_from_headers(
        [("TDM-Reservation", "1"), ("tdm-policy", "https://provider.com/policies/policy.json")]
    )
    assert (s.reservation, s.policy) == (1, "https://provider.com/policies/policy.json")
    assert "tdm-reservation: 1" in s.raw


def test_conflicting_headers_reserve() -> None:
    s = tdmrep_from_headers([("tdm-reservation", "0"), ("tdm-reservation", "1")])
    assert s.reservation == 1
    assert s.warnings
    assert tdmrep_from_headers([("tdm-reservation", "1, 1")]).reservation == 1
    assert tdmrep_from_headers({}).reservation is None
    assert tdmrep_from_headers({"tdm-reservation": "maybe"}).reservation is None


def test_spec_html_example() -> None:
    s = tdmrep_from_html(SPEC_HTML)
    assert (s.reservation, s.policy, s.source) == (
        1,
        "https://provider.com/policies/policy.json",
        "tdmrep-meta",
    )


def test_html_variants() -> None:
    assert tdmrep_from_html('<meta name="tdm:reservation" content="1">').reservation == 1
    assert tdmrep_from_html("<meta name=TDM-Reservation content=0>").reservation == 0
    assert tdmrep_from_html("<p>nothing here</p>").reservation is None
    cp1252 = '<meta name="tdm-reservation" content="1"><p>caf\xe9 \u20ac</p>'.encode("cp1252")
    assert tdmrep_from_html(cp1252).reservation == 1


# --- EPUB ---

OPF3 = """<?xml version="1.0" encoding="UTF-8"?>
<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="id"
         prefix="tdm: http://www.w3.org/ns/tdmrep#">
  <metadata xmlns:dc="http://purl.org/dc/elements/1.1/">
    <dc:title>Document title</dc:title>
    <meta property="tdm:reservation">1</meta>
    <meta property="tdm:policy">https://provider.com/policies/policy.json</meta>
  </metadata>
</package>"""

OPF2 = """<?xml version="1.0"?>
<package xmlns="http://www.idpf.org/2007/opf" version="2.0">
  <metadata><meta name="tdm:reservation" content="0"/><meta name="cover" content="c"/></metadata>
</package>"""


def _epub(opf: str, path: str = "OEBPS/content.opf", container: bool = True) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("mimetype", "application/epub+zip")
        if container:
            zf.writestr(
                "META-INF/container.xml",
                '<?xml version="1.0"?><container version="1.0" '
                'xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles>'
                f'<rootfile full-path="{path}" media-type="application/oebps-package+xml"/>'
                "</rootfiles></container>",
            )
        zf.writestr(path, opf)
    return buf.getvalue()


def test_epub3_opf() -> None:
    s = tdmrep_from_opf(OPF3)
    assert (s.reservation, s.policy, s.source) == (
        1,
        "https://provider.com/policies/policy.json",
        "epub",
    )
    assert s.warnings == ()


def test_epub3_without_prefix_warns() -> None:
    s = tdmrep_from_opf(OPF3.replace('prefix="tdm: http://www.w3.org/ns/tdmrep#"', ""))
    assert s.reservation == 1
    assert any("prefix" in w for w in s.warnings)


def test_epub2_opf() -> None:
    assert tdmrep_from_opf(OPF2).reservation == 0


def test_broken_opf_is_read_leniently() -> None:
    s = tdmrep_from_opf('<package><metadata><meta property="tdm:reservation">1</meta><oops>')
    assert s.reservation == 1
    assert any("leniently" in w for w in s.warnings)


def test_opf_entities_are_not_expanded() -> None:
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE p [<!ENTITY a "1"><!ENTITY b "&a;&a;&a;&a;&a;">]>'
        '<package><metadata><meta property="tdm:reservation">&b;</meta></metadata></package>'
    )
    s = tdmrep_from_opf(bomb)
    assert s.reservation is None
    assert s.warnings


def test_epub_file_via_container() -> None:
    data = _epub(OPF3)
    path, opf, warnings = find_opf(data)
    assert path == "OEBPS/content.opf"
    assert opf is not None and b"tdm:reservation" in opf
    assert warnings == ()
    assert tdmrep_from_epub(data).reservation == 1


def test_epub_without_container_finds_opf_by_name() -> None:
    s = tdmrep_from_epub(_epub(OPF2, "book.opf", container=False))
    assert s.reservation == 0
    assert s.warnings


def test_not_an_epub() -> None:
    s = tdmrep_from_epub(b"PK\x03\x04 not really a zip")
    assert s.reservation is None
    assert s.warnings


# --- PDF XMP ---

PDF_XMP = """<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:tdm="http://www.w3.org/ns/tdmrep/">
<tdm:reservation>1</tdm:reservation><tdm:policy>https://p.example/policy.json</tdm:policy>
</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>"""


def _pdf(xmp: str, compress: bool = False) -> bytes:
    body = xmp.encode("utf-8")
    filt = b""
    if compress:
        body, filt = zlib.compress(body), b" /Filter /FlateDecode"
    return (
        b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Metadata 2 0 R >>\nendobj\n"
        b"2 0 obj\n<< /Type /Metadata /Subtype /XML"
        + filt
        + b" /Length "
        + str(len(body)).encode()
        + b" >>\nstream\n"
        + body
        + b"\nendstream\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
    )


def test_pdf_xmp() -> None:
    s = tdmrep_from_pdf(_pdf(PDF_XMP))
    assert (s.reservation, s.policy, s.source) == (1, "https://p.example/policy.json", "pdf-xmp")


def test_pdf_xmp_compressed_stream() -> None:
    assert tdmrep_from_pdf(_pdf(PDF_XMP, compress=True)).reservation == 1


def test_pdf_xmp_attribute_form_and_near_miss_namespace() -> None:
    attr = (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
        'xmlns:tdm="http://www.w3.org/ns/tdm/" tdm:reservation="0"/></rdf:RDF></x:xmpmeta>'
    )
    s = tdmrep_from_xmp(attr)
    assert s.reservation == 0
    assert any("namespace" in w for w in s.warnings)


def test_pdf_without_xmp() -> None:
    s = tdmrep_from_pdf(b"%PDF-1.4\n1 0 obj << >> endobj\n%%EOF")
    assert s.reservation is None


# --- precedence ---


def test_combine_precedence_order() -> None:
    well_known = TdmRepSignal(0, None, "tdmrep.json")
    header = TdmRepSignal(1, "https://h/policy", "tdmrep-header")
    meta = TdmRepSignal(0, None, "tdmrep-meta")
    assert combine(well_known, header).reservation == 1
    # given in any order, the layers are applied lowest precedence first
    c = combine(meta, header, well_known)
    assert (c.reservation, c.source) == (0, "tdmrep-meta")
    epub = TdmRepSignal(1, None, "epub")
    assert combine(epub, meta).reservation == 1


def test_missing_layer_does_not_reset() -> None:
    well_known = TdmRepSignal(1, "https://p/policy", "tdmrep.json", "rule")
    header = tdmrep_from_headers({"content-type": "text/html"})
    meta = tdmrep_from_html("<meta name='tdm-reservation' content='bogus'>")
    c = combine(well_known, header, meta)
    assert (c.reservation, c.policy, c.source) == (1, "https://p/policy", "tdmrep.json")
    assert c.warnings  # the bogus meta value is reported
    assert combine().reservation is None


def test_combine_policy_only_layer_keeps_reservation() -> None:
    c = combine(
        TdmRepSignal(1, None, "tdmrep.json"), TdmRepSignal(None, "https://x", "tdmrep-meta")
    )
    assert (c.reservation, c.policy) == (1, "https://x")


# --- ODRL policy ---


def test_spec_policy_consent() -> None:
    p = parse_tdm_policy(SPEC_POLICY_CONSENT)
    assert p.warnings == ()
    assert (p.uid, p.type, p.profile) == (
        "https://provider.com/policies/1",
        "Offer",
        "http://www.w3.org/ns/tdmrep",
    )
    assert p.requires_consent and not p.requires_compensation
    assert dict(p.assigner)["hasEmail"] == "mailto:contact@provider.com"
    assert "obtainConsent" in p.summary() and "contact@provider.com" in p.summary()


def test_spec_policy_paid_non_research() -> None:
    p = parse_tdm_policy(SPEC_POLICY_PAID)
    assert p.requires_compensation
    assert p.mine[0].purposes == ("tdm:non-research",)
    assert "tdm:non-research" in p.summary()


def test_policy_full_iris_and_odd_shapes() -> None:
    doc = {
        "@type": "http://www.w3.org/ns/odrl/2/Offer",
        "profile": "http://www.w3.org/ns/tdmrep",
        "permission": {
            "action": {"@id": "http://www.w3.org/ns/tdmrep#mine"},
            "duty": {"action": "http://www.w3.org/ns/odrl/2/compensate"},
            "constraint": {"leftOperand": "purpose", "rightOperand": "tdm:research"},
        },
    }
    p = parse_tdm_policy(json.dumps(doc))
    assert p.type == "Offer"
    assert p.requires_compensation
    assert p.mine[0].purposes == ("tdm:research",)


# The spec's second full example (sec-policy-examples, w3c/tdm-reservation-protocol @1a547b5)
# verbatim: it has a trailing comma after vcard:hasEmail, so it is not valid JSON.
SPEC_POLICY_TRAILING_COMMA = """{
    "@context": [
      "http://www.w3.org/ns/odrl.jsonld",
      "http://www.w3.org/ns/tdmrep.jsonld"
  ],
  "@type": "Offer",
  "profile": "http://www.w3.org/ns/tdmrep",
  "uid": "https://provider.com/policies/1",
  "assigner": {
    "uid": "https://provider.com",
    "vcard:fn": "Provider",
    "vcard:hasEmail": "mailto:contact@provider.com",
  },
  "permission": [{
      "action": "tdm:mine",
      "duty": [{
        "action": "compensate"
        }
      ],
      "constraint": [{
        "leftOperand": "purpose",
        "operator": "eq",
        "rightOperand": "tdm:non-research"
        }
      ]
    }
  ]
}"""


def test_spec_policy_with_a_trailing_comma_is_read_with_a_warning() -> None:
    with pytest.raises(ValueError):
        json.loads(SPEC_POLICY_TRAILING_COMMA)
    p = parse_tdm_policy(SPEC_POLICY_TRAILING_COMMA)
    assert p.requires_compensation and not p.requires_consent
    assert p.mine[0].purposes == ("tdm:non-research",)
    assert dict(p.assigner)["hasEmail"] == "mailto:contact@provider.com"
    assert p.warnings == ("policy has trailing commas (not valid JSON); read without them",)


def test_only_trailing_commas_are_forgiven() -> None:
    p = parse_tdm_policy(
        '{"@type": "Offer", "uid": "a,}", "permission": [{"action": "tdm:mine"},],}'
    )
    assert p.uid == "a,}" and len(p.mine) == 1
    for text in ("{\"uid\": 'x',}", '{"permission": [1,,]}', "{uid: 1,}", '{"a": 1,} // c'):
        p = parse_tdm_policy(text)
        assert any("not valid JSON" in w for w in p.warnings), text


@pytest.mark.parametrize("text", ["", "[]", "{}", '{"@type": "Set"}', "nope", '{"permission": 5}'])
def test_bad_policies_warn(text: str) -> None:
    p = parse_tdm_policy(text)
    assert p.warnings
    assert not p.requires_consent


# --- fuzz ---


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_no_reader_raises_on_bytes(data: bytes) -> None:
    parse_tdmrep_json(data).lookup("/a")
    tdmrep_from_html(data)
    tdmrep_from_opf(data)
    tdmrep_from_epub(data)
    tdmrep_from_pdf(data)
    parse_tdm_policy(data)


@settings(max_examples=200, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(
                st.sampled_from(["location", "tdm-reservation", "tdm-policy", "x"]),
                inner,
                max_size=4,
            )
        ),
        max_leaves=20,
    ),
    st.text(max_size=30),
)
def test_no_raise_on_arbitrary_json(doc: object, path: str) -> None:
    try:
        text = json.dumps(doc)
    except ValueError:
        return
    parse_tdmrep_json(text).lookup(path)
    parse_tdm_policy(text).summary()


def test_hostile_pattern_does_not_backtrack() -> None:
    import time

    f = parse_tdmrep_json(json.dumps([{"location": "/" + "*a" * 40 + "b", "tdm-reservation": 1}]))
    start = time.perf_counter()
    assert f.lookup("/" + "a" * 20_000).reservation is None
    assert time.perf_counter() - start < 2.0

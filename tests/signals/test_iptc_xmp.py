"""IPTC plus:DataMining in XMP: every container, every value form, hostile XML, junk bytes."""

from __future__ import annotations

import hashlib
import io
import struct
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, PngImagePlugin, TiffImagePlugin

from clearance.signals.iptc_xmp import (
    DataMining,
    parse_data_mining_value,
    parse_xmp_data_mining,
    read_iptc_data_mining,
)
from clearance.signals.xmp import find_xmp_packets, parse_xmp

PLUS = "http://ns.useplus.org/ldf/xmp/1.0/"
VOCAB = "http://ns.useplus.org/ldf/vocab/"


def xmp(body: str, *, attrs: str = "") -> bytes:
    """A complete XMP packet whose rdf:Description holds ``body`` (and ``attrs``)."""
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        f'<rdf:Description rdf:about="" xmlns:plus="{PLUS}" {attrs}>{body}</rdf:Description>'
        '</rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
    ).encode()


def dm(code: str) -> bytes:
    return xmp(f"<plus:DataMining>{code}</plus:DataMining>")


def image_bytes(fmt: str, packet: bytes) -> bytes:
    im = Image.new("RGB", (16, 16), (200, 30, 30))
    buf = io.BytesIO()
    if fmt == "PNG":
        info = PngImagePlugin.PngInfo()
        info.add_itxt("XML:com.adobe.xmp", packet.decode("utf-8"), zip=True)
        im.save(buf, "PNG", pnginfo=info)
    elif fmt == "TIFF":
        ifd = TiffImagePlugin.ImageFileDirectory_v2()
        ifd[700] = packet
        ifd.tagtype[700] = 1
        im.save(buf, "TIFF", tiffinfo=ifd)
    else:
        im.save(buf, fmt, xmp=packet)
    return buf.getvalue()


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "TIFF", "WEBP"])
@pytest.mark.parametrize("code", list(DataMining))
def test_every_code_in_every_container(fmt: str, code: DataMining) -> None:
    data = image_bytes(fmt, dm(VOCAB + code.value))
    r = read_iptc_data_mining(data)
    assert r.code is code
    assert r.raw == code.uri
    # SEECONSTRAINT without its plus:OtherConstraints text is worth a warning
    assert bool(r.warnings) is (code is DataMining.PROHIBITED_SEE_CONSTRAINT)


def test_attribute_and_resource_forms() -> None:
    attr = xmp("", attrs=f'plus:DataMining="{VOCAB}DMI-PROHIBITED-AIMLTRAINING"')
    assert parse_xmp_data_mining(attr).code is DataMining.PROHIBITED_AIML_TRAINING
    res = xmp(f'<plus:DataMining rdf:resource="{VOCAB}DMI-ALLOWED"/>')
    assert parse_xmp_data_mining(res).code is DataMining.ALLOWED


def test_other_constraints_lang_alt() -> None:
    packet = xmp(
        f"<plus:DataMining>{VOCAB}DMI-PROHIBITED-SEECONSTRAINT</plus:DataMining>"
        "<plus:OtherConstraints><rdf:Alt>"
        '<rdf:li xml:lang="de">Nur mit Lizenz</rdf:li>'
        '<rdf:li xml:lang="x-default">Only with a licence from the agency</rdf:li>'
        "</rdf:Alt></plus:OtherConstraints>"
    )
    r = parse_xmp_data_mining(packet)
    assert r.code is DataMining.PROHIBITED_SEE_CONSTRAINT
    assert r.other_constraints == "Only with a licence from the agency"
    assert r.warnings == ()


def test_see_constraint_without_text_warns() -> None:
    r = parse_xmp_data_mining(dm(VOCAB + "DMI-PROHIBITED-SEECONSTRAINT"))
    assert r.code is DataMining.PROHIBITED_SEE_CONSTRAINT
    assert r.warnings


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("DMI-PROHIBITED", DataMining.PROHIBITED),
        ("dmi-prohibited-genaimltraining", DataMining.PROHIBITED_GENAIML_TRAINING),
        ("http://ns.useplus.org/ldf/vocab/dmi-allowed", DataMining.ALLOWED),
        ("https://ns.useplus.org/ldf/vocab/DMI-PROHIBITED", DataMining.PROHIBITED),
        (" DMI_PROHIBITED_AIMLTRAINING ", DataMining.PROHIBITED_AIML_TRAINING),
    ],
)
def test_lenient_codes_warn(value: str, code: DataMining) -> None:
    got, warnings = parse_data_mining_value(value)
    assert got is code
    assert warnings


@pytest.mark.parametrize("value", ["DMI-MAYBE", "yes", "", "http://ns.useplus.org/ldf/vocab/"])
def test_invalid_codes(value: str) -> None:
    r = parse_xmp_data_mining(dm(value)) if value else parse_xmp_data_mining(dm(" "))
    assert r.code is None
    if value:
        assert r.raw == value
        assert r.warnings


def test_no_data_mining() -> None:
    r = read_iptc_data_mining(image_bytes("JPEG", xmp("<plus:Licensee>x</plus:Licensee>")))
    assert r.code is None and not r.present
    plain = io.BytesIO()
    Image.new("RGB", (4, 4)).save(plain, "PNG")
    r = read_iptc_data_mining(plain.getvalue())
    assert (r.code, r.warnings) == (None, ())


def test_conflicting_values_take_most_restrictive() -> None:
    packet = xmp(
        f"<plus:DataMining>{VOCAB}DMI-ALLOWED</plus:DataMining>"
        f"<plus:DataMining>{VOCAB}DMI-PROHIBITED</plus:DataMining>"
    )
    r = parse_xmp_data_mining(packet)
    assert r.code is DataMining.PROHIBITED
    assert r.warnings


def _app1(payload: bytes) -> bytes:
    return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload


def test_jpeg_extended_xmp() -> None:
    ext = dm(VOCAB + "DMI-PROHIBITED-GENAIMLTRAINING") + b" " * 70_000  # spans two segments
    guid = hashlib.md5(ext).hexdigest().upper().encode()
    main = xmp(
        '<xmpNote:HasExtendedXMP xmlns:xmpNote="http://ns.adobe.com/xmp/note/">'
        + guid.decode()
        + "</xmpNote:HasExtendedXMP>"
    )
    half = 60_000
    segments = _app1(b"http://ns.adobe.com/xap/1.0/\x00" + main)
    for offset in (0, half):
        chunk = ext[offset : offset + half]
        header = (
            b"http://ns.adobe.com/xmp/extension/\x00" + guid + struct.pack(">II", len(ext), offset)
        )
        segments += _app1(header + chunk)
    plain = io.BytesIO()
    Image.new("RGB", (8, 8)).save(plain, "JPEG")
    data = plain.getvalue()[:2] + segments + plain.getvalue()[2:]
    packets, warnings = find_xmp_packets(data)
    assert len(packets) == 2 and warnings == ()
    assert read_iptc_data_mining(data).code is DataMining.PROHIBITED_GENAIML_TRAINING


def test_incomplete_extended_xmp_warns() -> None:
    guid = b"0" * 32
    seg = _app1(
        b"http://ns.adobe.com/xmp/extension/\x00" + guid + struct.pack(">II", 1000, 0) + b"<x"
    )
    data = b"\xff\xd8" + seg + b"\xff\xd9"
    _packets, warnings = find_xmp_packets(data)
    assert any("incomplete" in w for w in warnings)


def test_png_text_chunk_variants() -> None:
    packet = dm(VOCAB + "DMI-PROHIBITED")

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    base = io.BytesIO()
    Image.new("RGB", (4, 4)).save(base, "PNG")
    png = base.getvalue()
    for kind, body in (
        (b"tEXt", b"XML:com.adobe.xmp\x00" + packet),
        (b"zTXt", b"XML:com.adobe.xmp\x00\x00" + zlib.compress(packet)),
        (b"iTXt", b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + packet),
    ):
        data = png[:33] + chunk(kind, body) + png[33:]
        assert read_iptc_data_mining(data).code is DataMining.PROHIBITED, kind


def test_raw_packet_in_unknown_container() -> None:
    data = b"GIF89a....junk...." + dm(VOCAB + "DMI-ALLOWED") + b"...more junk"
    assert read_iptc_data_mining(data).code is DataMining.ALLOWED


# --- hostile XML ---

XXE = (
    b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
    b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
    b'xmlns:plus="http://ns.useplus.org/ldf/xmp/1.0/"><plus:OtherConstraints>&xxe;'
    b"</plus:OtherConstraints></rdf:Description></rdf:RDF></x:xmpmeta>"
)

LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'.encode()
        for i in range(1, 10)
    )
    + b']><x:xmpmeta xmlns:x="adobe:ns:meta/">&lol9;</x:xmpmeta>'
)


@pytest.mark.parametrize("packet", [XXE, LAUGHS], ids=["xxe", "billion-laughs"])
def test_hostile_xmp_is_refused(packet: bytes) -> None:
    root, warnings = parse_xmp(packet)
    assert root is None
    assert warnings and "refused" in warnings[0]
    r = parse_xmp_data_mining(packet)
    assert r.code is None and r.other_constraints is None and r.warnings


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_hostile_xmp_inside_an_image(fmt: str) -> None:
    r = read_iptc_data_mining(image_bytes(fmt, LAUGHS))
    assert r.code is None
    assert any("refused" in w for w in r.warnings)


def test_malformed_and_non_utf8_packets() -> None:
    assert parse_xmp_data_mining(b"<x:xmpmeta><unclosed>").warnings
    assert parse_xmp_data_mining(b"no xml at all").warnings
    latin = (
        '<?xml version="1.0" encoding="ISO-8859-1"?>'
        + dm(VOCAB + "DMI-PROHIBITED")
        .decode()
        .split("?>", 1)[1]
        .replace(
            "<plus:DataMining>",
            "<plus:OtherConstraints>caf\xe9</plus:OtherConstraints><plus:DataMining>",
        )
    ).encode("latin-1")
    r = parse_xmp_data_mining(latin)
    assert r.code is DataMining.PROHIBITED
    assert r.other_constraints == "caf\xe9"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xff\xd8",
        b"\xff\xd8\xff\xe1\x00\x01",
        b"\x89PNG\r\n\x1a\n\xff\xff\xff\xff",
        b"II*\x00\xff\xff\xff\xff",
        b"MM\x00*\x00\x00\x00\x08\xff\xff",
        b"RIFF\x00\x00\x00\x00WEBPXMP \xff\xff\xff\xff",
        b"%PDF-1.4 >> stream\n\x00\x01 endstream",
    ],
)
def test_truncated_containers(data: bytes) -> None:
    r = read_iptc_data_mining(data)
    assert r.code is None


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(
        [
            b"",
            b"\xff\xd8",
            b"\x89PNG\r\n\x1a\n",
            b"II*\x00",
            b"MM\x00*",
            b"RIFF\x00\x00\x00\x00WEBP",
            b"%PDF-",
        ]
    ),
    st.binary(max_size=3000),
)
def test_never_raises_on_bytes(prefix: bytes, data: bytes) -> None:
    read_iptc_data_mining(prefix + data)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200))
def test_never_raises_on_packet_text(text: str) -> None:
    parse_xmp_data_mining(text)
    parse_xmp_data_mining(xmp(f"<plus:DataMining>{text}</plus:DataMining>").replace(b"&", b"&amp;"))

"""Find XMP packets inside media files and read properties from them, safely.

Several opt-out signals live in XMP: IPTC ``plus:DataMining`` in photos and
TDMRep ``tdm:reservation`` in PDFs. Each container hides the packet in its own
place (a JPEG APP1 segment, a PNG ``iTXt`` chunk, TIFF tag 700, a WebP ``XMP ``
chunk, a PDF metadata stream), so this module knows those places once and the
protocol parsers only ask for properties.

XMP is XML, and XML from the web is hostile: every packet is parsed with
``defusedxml`` with DTDs and entities refused, so an XXE or billion-laughs
packet becomes a warning, never an expansion, a file read or a crash. Every
read is bounded (packet size, decompressed size, chunk count) so that a
crafted file cannot make a parser allocate without limit.
"""

from __future__ import annotations

import re
import struct
import zlib
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

MAX_PACKET_BYTES = 4 * 1024 * 1024
"""The largest XMP packet we read (real packets are a few KiB; extended XMP can reach a few MiB)."""

MAX_PACKETS = 32
"""At most this many packets are returned from one file."""

RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

_JPEG_XMP = b"http://ns.adobe.com/xap/1.0/\x00"
_JPEG_EXT_XMP = b"http://ns.adobe.com/xmp/extension/\x00"
_PNG_SIG = b"\x89PNG\r\n\x1a\n"
_PNG_KEYWORD = b"XML:com.adobe.xmp"
_XPACKET_BEGIN = re.compile(rb"<\?xpacket\s+begin")
_XPACKET_END = re.compile(rb"<\?xpacket\s+end[^>]*>")
_XMPMETA_BEGIN = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?xmpmeta\b")
_XMPMETA_END = re.compile(rb"</(?:[A-Za-z_][\w.-]*:)?xmpmeta\s*>")
_PDF_STREAM = re.compile(rb">>\s*stream\r?\n")


def find_xmp_packets(data: bytes) -> tuple[tuple[bytes, ...], tuple[str, ...]]:
    """Every XMP packet found in ``data``, by container type, plus warnings.

    JPEG, PNG, TIFF, WebP and PDF are read structurally; anything else (and any
    of those whose structure yields nothing) is scanned for a raw
    ``<?xpacket`` / ``<x:xmpmeta>`` block, which is how most writers embed XMP.
    """
    warnings: list[str] = []
    data = bytes(data)
    try:
        if data.startswith(b"\xff\xd8"):
            packets = _jpeg_packets(data, warnings)
        elif data.startswith(_PNG_SIG):
            packets = _png_packets(data, warnings)
        elif data[:4] in (b"II*\x00", b"MM\x00*"):
            packets = _tiff_packets(data, warnings)
        elif data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            packets = _webp_packets(data, warnings)
        elif data.lstrip()[:5] == b"%PDF-":
            packets = _pdf_packets(data, warnings)
        else:
            packets = []
        walked = data[:2] == b"\xff\xd8" and not warnings
    except (struct.error, IndexError, ValueError, zlib.error) as exc:  # defensive: never raise
        warnings.append(f"could not walk the file structure: {exc}")
        packets = []
        walked = False
    if not packets and not walked:
        # A JPEG whose segments walked cleanly holds its XMP in APP1 only (XMP part 3);
        # the raw scan of the whole file (~0.7 ms for a 1 MP photo) is for the rest.
        packets = _scan_packets(data)
    unique: list[bytes] = []
    for p in packets:
        if p and p not in unique:
            unique.append(p[:MAX_PACKET_BYTES])
    if len(unique) > MAX_PACKETS:
        warnings.append(f"more than {MAX_PACKETS} XMP packets; only the first are read")
        unique = unique[:MAX_PACKETS]
    return tuple(unique), tuple(warnings)


def _scan_packets(data: bytes) -> list[bytes]:
    """Raw ``<?xpacket`` blocks, else ``<x:xmpmeta>`` blocks; linear in the size of ``data``."""
    found = _between(data, _XPACKET_BEGIN, _XPACKET_END)
    return found or _between(data, _XMPMETA_BEGIN, _XMPMETA_END)


def _between(data: bytes, begin: re.Pattern[bytes], end: re.Pattern[bytes]) -> list[bytes]:
    found: list[bytes] = []
    pos = 0
    while len(found) <= MAX_PACKETS:
        b = begin.search(data, pos)
        if b is None:
            break
        e = end.search(data, b.end())
        if e is None:
            break
        found.append(data[b.start() : e.end()])
        pos = e.end()
    return found


def _jpeg_packets(data: bytes, warnings: list[str]) -> list[bytes]:
    """APP1 segments: the main packet, then extended XMP reassembled per GUID."""
    packets: list[bytes] = []
    extended: dict[bytes, tuple[int, dict[int, bytes]]] = {}
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            warnings.append(f"JPEG marker expected at byte {pos}")
            break
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0xD9, 0xDA):  # end of image, start of scan: no more metadata
            break
        if 0xD0 <= marker <= 0xD8 or marker == 0x01:  # markers without a length
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if length < 2:
            warnings.append(f"JPEG segment with length {length} at byte {pos}")
            break
        body = data[pos + 4 : pos + 2 + length]
        if len(body) < length - 2:
            warnings.append("JPEG truncated inside a segment")
        if marker == 0xE1 and body.startswith(_JPEG_XMP):
            packets.append(body[len(_JPEG_XMP) :])
        elif marker == 0xE1 and body.startswith(_JPEG_EXT_XMP):
            rest = body[len(_JPEG_EXT_XMP) :]
            if len(rest) >= 40:
                guid = rest[:32]
                full, offset = struct.unpack(">II", rest[32:40])
                size, chunks = extended.setdefault(guid, (full, {}))
                if full == size and offset < MAX_PACKET_BYTES:
                    chunks[offset] = rest[40:]
        pos += 2 + length
    for guid, (full, chunks) in extended.items():
        joined = b"".join(chunks[k] for k in sorted(chunks))
        if full > MAX_PACKET_BYTES:
            warnings.append(f"extended XMP {guid!r} claims {full} bytes; ignored")
        elif len(joined) != full:
            warnings.append(f"extended XMP {guid!r} is incomplete ({len(joined)} of {full} bytes)")
        else:
            packets.append(joined)
    return packets


def _png_packets(data: bytes, warnings: list[str]) -> list[bytes]:
    """``iTXt`` chunks keyed ``XML:com.adobe.xmp`` (also ``tEXt``/``zTXt``, seen in the wild)."""
    packets: list[bytes] = []
    pos = len(_PNG_SIG)
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if len(body) < length:
            warnings.append("PNG truncated inside a chunk")
        if kind == b"IEND":
            break
        if kind in (b"iTXt", b"tEXt", b"zTXt"):
            keyword, _, rest = body.partition(b"\x00")
            if keyword == _PNG_KEYWORD:
                text = _png_text(kind, rest, warnings)
                if text:
                    packets.append(text)
        pos += 12 + length
    return packets


def _png_text(kind: bytes, rest: bytes, warnings: list[str]) -> bytes | None:
    if kind == b"tEXt":
        return rest
    if kind == b"zTXt":
        return _inflate(rest[1:], warnings)
    if len(rest) < 2:
        return None
    compressed, text = rest[0], rest[2:]
    _lang, _, text = text.partition(b"\x00")
    _translated, _, text = text.partition(b"\x00")
    return _inflate(text, warnings) if compressed else text


def _inflate(raw: bytes, warnings: list[str]) -> bytes | None:
    try:
        d = zlib.decompressobj()
        out = d.decompress(raw, MAX_PACKET_BYTES)
    except zlib.error as exc:
        warnings.append(f"compressed XMP could not be inflated: {exc}")
        return None
    if d.unconsumed_tail:
        warnings.append(f"compressed XMP inflates past {MAX_PACKET_BYTES} bytes; truncated")
    return out


def _tiff_packets(data: bytes, warnings: list[str]) -> list[bytes]:
    """Tag 700 (XMLPacket) in each IFD of the main chain."""
    endian = "<" if data[:2] == b"II" else ">"
    (offset,) = struct.unpack(endian + "I", data[4:8])
    packets: list[bytes] = []
    seen: set[int] = set()
    while offset and offset not in seen and len(seen) < 64:
        seen.add(offset)
        if offset + 2 > len(data):
            warnings.append("TIFF IFD offset past the end of the file")
            break
        (count,) = struct.unpack(endian + "H", data[offset : offset + 2])
        for i in range(count):
            entry = data[offset + 2 + 12 * i : offset + 14 + 12 * i]
            if len(entry) < 12:
                warnings.append("TIFF truncated inside an IFD")
                return packets
            tag, _type, n, value = struct.unpack(endian + "HHII", entry)
            if tag == 700:
                if n <= 4:
                    packets.append(entry[8 : 8 + n])
                elif n <= MAX_PACKET_BYTES and value + n <= len(data):
                    packets.append(data[value : value + n])
                else:
                    warnings.append("TIFF XMP tag points outside the file")
        nxt = data[offset + 2 + 12 * count : offset + 6 + 12 * count]
        offset = struct.unpack(endian + "I", nxt)[0] if len(nxt) == 4 else 0
    return packets


def _webp_packets(data: bytes, warnings: list[str]) -> list[bytes]:
    packets: list[bytes] = []
    pos = 12
    while pos + 8 <= len(data):
        kind = data[pos : pos + 4]
        (size,) = struct.unpack("<I", data[pos + 4 : pos + 8])
        body = data[pos + 8 : pos + 8 + size]
        if len(body) < size:
            warnings.append("WebP truncated inside a chunk")
        if kind == b"XMP ":
            packets.append(body)
        pos += 8 + size + (size & 1)
    return packets


def _pdf_packets(data: bytes, warnings: list[str]) -> list[bytes]:
    """Raw packets first (PDF/A keeps metadata uncompressed), then Flate metadata streams."""
    packets = _scan_packets(data)
    for m in _PDF_STREAM.finditer(data):
        head = data[max(0, m.start() - 1000) : m.start()]
        head = head[max(head.rfind(b"obj"), 0) :]
        if b"/Metadata" not in head or b"/FlateDecode" not in head:
            continue
        start = m.end()
        end = data.find(b"endstream", start)
        if end < 0:
            continue
        inflated = _inflate(data[start:end].rstrip(b"\r\n"), warnings)
        if inflated:
            packets.extend(_scan_packets(inflated) or [inflated])
        if len(packets) > MAX_PACKETS:
            break
    return packets


def parse_xmp(packet: bytes | str) -> tuple[Element | None, tuple[str, ...]]:
    """Parse one packet with ``defusedxml`` (no DTD, no entities); ``None`` + a warning if bad."""
    raw = packet.encode("utf-8", "replace") if isinstance(packet, str) else bytes(packet)
    if len(raw) > MAX_PACKET_BYTES:
        return None, (f"XMP packet larger than {MAX_PACKET_BYTES} bytes; not parsed",)
    start = raw.find(b"<")
    if start < 0:
        return None, ("XMP packet holds no XML",)
    raw = raw[start:].rstrip(b"\x00 \t\r\n")
    try:
        return fromstring(raw, forbid_dtd=True, forbid_entities=True, forbid_external=True), ()
    except DefusedXmlException as exc:
        return None, (f"XMP refused: {type(exc).__name__} (DTDs and entities are not allowed)",)
    except (ParseError, ValueError, UnicodeError, RecursionError) as exc:
        return None, (f"XMP is not well-formed XML: {exc}",)


def xmp_values(root: Element, namespace: str, name: str) -> list[str]:
    """Every value of property ``{namespace}name`` anywhere in an XMP tree.

    XMP writes a simple property three ways, and all are read: as an attribute
    of ``rdf:Description``, as element text, or as ``rdf:resource`` on an empty
    element. For arrays (``rdf:Alt``/``Bag``/``Seq``) each ``rdf:li`` counts;
    a language alternative puts ``x-default`` first.
    """
    qname = f"{{{namespace}}}{name}"
    values: list[str] = []
    for el in root.iter():
        attr = el.get(qname)
        if attr is not None:
            values.append(attr.strip())
        if el.tag != qname:
            continue
        resource = el.get(f"{{{RDF_NS}}}resource")
        if resource is not None:
            values.append(resource.strip())
            continue
        items = [li for li in el.iter(f"{{{RDF_NS}}}li")]
        if items:
            items.sort(key=lambda li: li.get(XML_LANG) != "x-default")
            for li in items:
                text = li.get(f"{{{RDF_NS}}}resource") or "".join(li.itertext())
                if text.strip():
                    values.append(text.strip())
            continue
        text = "".join(el.itertext()).strip()
        if text:
            values.append(text)
    return values


def namespaces_used(root: Element) -> frozenset[str]:
    """Every namespace URI that names an element or attribute in the tree."""
    out: set[str] = set()
    for el in root.iter():
        for key in (el.tag, *el.attrib):
            if isinstance(key, str) and key.startswith("{"):
                out.add(key[1:].partition("}")[0])
    return frozenset(out)

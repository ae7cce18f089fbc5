"""W3C TDMRep: the EU text-and-data-mining reservation (DSM Art. 4) in every place it is written.

TDMRep states one bit (``tdm-reservation``: 1 reserved, 0 not reserved, any
other value unset) and an optional link to an ODRL policy (``tdm-policy``).
The same two fields can appear in five layers, and the spec orders them:
``/.well-known/tdmrep.json`` < HTTP headers < HTML ``<meta>`` < EPUB/PDF
metadata, where a layer that lacks the fields does not reset earlier values.
Each layer has its own reader here, all returning the same ``TdmRepSignal``,
so ``combine`` can apply the precedence in one place.

Readers are pure and lenient: strings for numbers, booleans, stray
whitespace, a single object instead of an array, non-UTF-8 bytes and broken
XML are all accepted with a warning; nothing raises. A value we cannot read
is "unset" and, like an absent one, does not reset an earlier layer (the
conservative reading: a broken page cannot erase a site-wide reservation).
The policy parser reads the TDMRep ODRL profile (``Offer``, ``tdm:mine``,
duties ``obtainConsent``/``compensate``, purpose ``tdm:research`` /
``tdm:non-research``) from a policy the caller fetched.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, replace
from html.parser import HTMLParser
from typing import Any
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from clearance.signals.base import decode_text
from clearance.signals.html_meta import HtmlSignals, parse_html_meta
from clearance.signals.robots_paths import (
    canonical_path,
    canonical_pattern,
    compile_pattern,
    request_path,
)
from clearance.signals.tdmrep_policy import TDM_PROFILE as TDM_PROFILE
from clearance.signals.tdmrep_policy import TDM_VOCAB as TDM_VOCAB
from clearance.signals.tdmrep_policy import TdmPolicy as TdmPolicy
from clearance.signals.tdmrep_policy import TdmPolicyPermission as TdmPolicyPermission
from clearance.signals.tdmrep_policy import parse_tdm_policy as parse_tdm_policy
from clearance.signals.xmp import find_xmp_packets, namespaces_used, parse_xmp, xmp_values
from clearance.signals.xrobots import HeaderInput, header_values

TDM_XMP_NS = "http://www.w3.org/ns/tdmrep/"
LAYERS = ("tdmrep.json", "tdmrep-header", "tdmrep-meta", "epub", "pdf-xmp")
"""Layer names, lowest precedence first; they are also the evidence source names."""

MAX_OPF_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class TdmRepSignal:
    """The two TDMRep fields as one layer (or a combination of layers) stated them.

    ``reservation`` is 1 (reserved), 0 (not reserved) or ``None`` (unset).
    """

    reservation: int | None = None
    policy: str | None = None
    source: str = ""
    raw: str = ""
    warnings: tuple[str, ...] = ()

    @property
    def effective_policy(self) -> str | None:
        """The policy URL, which the spec says to ignore unless rights are reserved."""
        return self.policy if self.reservation == 1 else None


def parse_reservation(value: object) -> tuple[int | None, tuple[str, ...]]:
    """Read one ``tdm-reservation`` value: 1 or 0, anything else unset (with a warning)."""
    if value is None:
        return None, ()
    if isinstance(value, bool):
        return int(value), (f"tdm-reservation {value!r} is a boolean; read as {int(value)}",)
    if isinstance(value, int | float) and value in (0, 1):
        note = () if isinstance(value, int) else (f"tdm-reservation {value!r} is not an integer",)
        return int(value), note
    if isinstance(value, str) and value.strip() in ("0", "1"):
        return int(value.strip()), ()
    return None, (f"tdm-reservation {str(value)[:80]!r} is neither 0 nor 1; treated as unset",)


def _policy(value: object) -> tuple[str | None, tuple[str, ...]]:
    if value is None:
        return None, ()
    if not isinstance(value, str):
        return None, (f"tdm-policy {str(value)[:80]!r} is not a URL string; ignored",)
    return (value.strip() or None), ()


def _from_values(
    reservations: Iterable[str], policies: Iterable[str], source: str, label: str
) -> TdmRepSignal:
    """One layer from possibly repeated raw values: any valid 1 wins over 0; last policy wins."""
    warnings: list[str] = []
    seen: list[int] = []
    raws: list[str] = []
    for value in reservations:
        for part in value.split(","):
            raws.append(part.strip())
            r, w = parse_reservation(part)
            warnings.extend(w)
            if r is not None:
                seen.append(r)
    if len(set(seen)) > 1:
        warnings.append(f"conflicting {label} values {sorted(set(seen))}; 1 (reserved) is used")
    reservation = max(seen) if seen else None
    policy = None
    for value in policies:
        p, w = _policy(value)
        warnings.extend(w)
        policy = p or policy
    raw = f"tdm-reservation: {', '.join(raws)}" if raws else ""
    if policy:
        raw = f"{raw}; tdm-policy: {policy}" if raw else f"tdm-policy: {policy}"
    return TdmRepSignal(reservation, policy, source, raw, tuple(warnings))


# --- /.well-known/tdmrep.json -------------------------------------------------


@dataclass(frozen=True, slots=True)
class TdmRepRule:
    """One rule of ``tdmrep.json``: a robots-style ``location`` pattern and its fields."""

    location: str
    reservation: int | None
    policy: str | None = None

    def matches(self, url_or_path: str) -> bool:
        """Whether the rule covers ``url_or_path`` (``*`` any run, trailing ``$`` anchors)."""
        return pattern_matches(self.location, path_of(url_or_path))


@dataclass(frozen=True, slots=True)
class TdmRepFile:
    """A parsed ``tdmrep.json``: rules in file order (the first match wins)."""

    rules: tuple[TdmRepRule, ...] = ()
    warnings: tuple[str, ...] = ()

    def rule_for(self, url_or_path: str) -> TdmRepRule | None:
        return next((r for r in self.rules if r.matches(url_or_path)), None)

    def lookup(self, url_or_path: str) -> TdmRepSignal:
        """The signal for one resource; unset when no rule matches."""
        rule = self.rule_for(url_or_path)
        if rule is None:
            return TdmRepSignal(source="tdmrep.json", warnings=self.warnings)
        raw = f"location {rule.location!r}: tdm-reservation {rule.reservation}"
        return TdmRepSignal(rule.reservation, rule.policy, "tdmrep.json", raw, self.warnings)


def path_of(url_or_path: str) -> str:
    """The path, params and query of a URL (or a path) in RFC 9309's comparison form.

    ``/`` when empty; never raises (``request_path`` reads what ``urlsplit`` rejects).
    """
    return canonical_path(request_path(url_or_path.strip()))


def pattern_matches(pattern: str, path: str) -> bool:
    """Robots-style path matching (RFC 9309), the one robots.txt uses (``compile_pattern``).

    ``*`` is any run, a final ``$`` anchors the end, otherwise the pattern need
    only match a prefix. Both sides are compared in RFC 9309's form, so
    ``/path/foo-%24`` matches ``/path/foo-$`` (the spec's own example) and
    ``%62`` matches ``b``; hostile patterns such as ``/*a*a*a*b`` stay linear.
    """
    return compile_pattern(canonical_pattern(pattern))(canonical_path(path))


def _location(value: object, index: int, warnings: list[str]) -> str | None:
    if not isinstance(value, str):
        warnings.append(f"rule {index}: missing or non-string location; rule skipped")
        return None
    loc = value.strip()
    if "://" in loc:
        warnings.append(f"rule {index}: location {loc!r} is a URL; its path is used")
        loc = request_path(loc)
    if not loc:
        warnings.append(f"rule {index}: empty location read as '/'")
        return "/"
    if not loc.startswith(("/", "*")):
        warnings.append(f"rule {index}: location {loc!r} does not start with '/'")
        loc = "/" + loc
    return loc


def parse_tdmrep_json(data: bytes | str) -> TdmRepFile:
    """Parse ``/.well-known/tdmrep.json``; malformed input gives no rules and warnings."""
    text, decode_warnings = decode_text(data)
    warnings = list(decode_warnings)
    try:
        doc: Any = json.loads(text)
    except (ValueError, RecursionError) as exc:
        warnings.append(f"tdmrep.json is not valid JSON: {str(exc)[:120]}")
        return TdmRepFile((), tuple(warnings))
    if isinstance(doc, dict):
        warnings.append("tdmrep.json is an object, not an array; read as one rule")
        doc = [doc]
    if not isinstance(doc, list):
        warnings.append("tdmrep.json is not an array of rules")
        return TdmRepFile((), tuple(warnings))
    rules: list[TdmRepRule] = []
    for i, item in enumerate(doc):
        if not isinstance(item, dict):
            warnings.append(f"rule {i}: not an object; skipped")
            continue
        fields = {str(k).strip().lower().replace("_", "-"): v for k, v in item.items()}
        loc = _location(fields.get("location"), i, warnings)
        if loc is None:
            continue
        if "tdm-reservation" not in fields:
            warnings.append(f"rule {i}: no tdm-reservation; the rule matches but says nothing")
        reservation, w1 = parse_reservation(fields.get("tdm-reservation"))
        policy, w2 = _policy(fields.get("tdm-policy"))
        warnings.extend(f"rule {i}: {w}" for w in (*w1, *w2))
        rules.append(TdmRepRule(loc, reservation, policy))
    return TdmRepFile(tuple(rules), tuple(warnings))


# --- HTTP headers and HTML meta ----------------------------------------------------


def tdmrep_from_headers(headers: HeaderInput) -> TdmRepSignal:
    """The ``tdm-reservation`` / ``tdm-policy`` response headers."""
    return _from_values(
        header_values(headers, "tdm-reservation"),
        header_values(headers, "tdm-policy"),
        "tdmrep-header",
        "tdm-reservation header",
    )


def tdmrep_from_html(html: bytes | str | HtmlSignals) -> TdmRepSignal:
    """``<meta name="tdm-reservation">`` / ``tdm-policy`` in a page (or its collected signals)."""
    signals = html if isinstance(html, HtmlSignals) else parse_html_meta(html)
    signal = _from_values(
        signals.tdm_reservation, signals.tdm_policy, "tdmrep-meta", "tdm-reservation meta"
    )
    return replace(signal, warnings=(*signals.warnings, *signal.warnings))


# --- EPUB ---------------------------------------------------------------------


class _LooseMeta(HTMLParser):
    """Fallback for OPF files that are not well-formed XML: collect ``<meta>`` leniently."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.metas: list[tuple[dict[str, str], str]] = []
        self._open: dict[str, str] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._flush()
        if tag.lower().rpartition(":")[2] == "meta":
            self._open = {k.lower(): (v or "") for k, v in attrs}

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        self._flush()

    def _flush(self) -> None:
        if self._open is not None:
            self.metas.append((self._open, "".join(self._text)))
        self._open, self._text = None, []


def _opf_metas(text: str, warnings: list[str]) -> tuple[list[tuple[dict[str, str], str]], str]:
    """(attributes, text) of every ``<meta>`` in an OPF, and the package ``prefix`` attribute."""
    try:
        root = fromstring(text.encode("utf-8"))  # defusedxml: entities and external refs refused
    except (DefusedXmlException, ParseError, ValueError, RecursionError) as exc:
        warnings.append(f"OPF is not acceptable XML ({type(exc).__name__}: {exc}); read leniently")
        loose = _LooseMeta()
        try:
            loose.feed(text)
            loose.close()
        except (AssertionError, ValueError, IndexError):
            pass
        m = re.search(r"""<(?:\w+:)?package\b[^>]*\bprefix\s*=\s*["']([^"']*)""", text)
        return loose.metas, m.group(1) if m else ""
    metas = []
    for el in root.iter():
        if isinstance(el.tag, str) and el.tag.rpartition("}")[2] == "meta":
            attrs = {k.rpartition("}")[2].lower(): v for k, v in el.attrib.items()}
            metas.append((attrs, "".join(el.itertext())))
    return metas, root.get("prefix", "")


def tdmrep_from_opf(opf: bytes | str) -> TdmRepSignal:
    """TDMRep in an EPUB package document: EPUB 3 ``<meta property="tdm:reservation">1</meta>``
    or EPUB 2 ``<meta name="tdm:reservation" content="1"/>`` (``tdm-reservation`` accepted too)."""
    text, decode_warnings = decode_text(opf, limit=MAX_OPF_BYTES)
    warnings = list(decode_warnings)
    metas, prefix = _opf_metas(text, warnings)
    reservations: list[str] = []
    policies: list[str] = []
    epub3 = False
    for attrs, body in metas:
        prop = attrs.get("property", "").strip().lower()
        name = attrs.get("name", "").strip().lower()
        key = prop or name
        value = body.strip() if prop else attrs.get("content", body).strip()
        if key in ("tdm:reservation", "tdm-reservation"):
            reservations.append(value)
        elif key in ("tdm:policy", "tdm-policy"):
            policies.append(value)
        else:
            continue
        epub3 = epub3 or (prop.startswith("tdm:"))
    if epub3 and "tdm:" not in prefix:
        warnings.append("EPUB 3 uses tdm: properties without declaring the tdm: prefix")
    signal = _from_values(reservations, policies, "epub", "EPUB tdm:reservation")
    return replace(signal, warnings=(*warnings, *signal.warnings))


def find_opf(epub: bytes) -> tuple[str | None, bytes | None, tuple[str, ...]]:
    """The package document of an ``.epub``: its path and bytes, via ``META-INF/container.xml``."""
    warnings: list[str] = []
    try:
        with zipfile.ZipFile(io.BytesIO(epub)) as zf:
            names = zf.namelist()
            path: str | None = None
            if "META-INF/container.xml" in names:
                container = _read_member(zf, "META-INF/container.xml")
                m = re.search(rb"""full-path\s*=\s*["']([^"']+)["']""", container or b"")
                if m:
                    path = m.group(1).decode("utf-8", "replace")
            else:
                warnings.append("EPUB has no META-INF/container.xml")
            if path is None or path not in names:
                if path is not None:
                    warnings.append(f"container.xml names {path!r}, which is not in the EPUB")
                path = next((n for n in names if n.lower().endswith(".opf")), None)
                if path is None:
                    return None, None, (*warnings, "EPUB has no package document (.opf)")
                warnings.append(f"package document found by name: {path}")
            return path, _read_member(zf, path), tuple(warnings)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        return None, None, (*warnings, f"not a readable EPUB (zip): {exc}")
    except (NotImplementedError, RuntimeError) as exc:  # unsupported compression, encryption
        return None, None, (*warnings, f"EPUB member cannot be read: {exc}")


def _read_member(zf: zipfile.ZipFile, name: str) -> bytes | None:
    with zf.open(name) as fh:
        return fh.read(MAX_OPF_BYTES)


def tdmrep_from_epub(epub: bytes) -> TdmRepSignal:
    """TDMRep from an ``.epub`` file's package metadata."""
    _path, opf, warnings = find_opf(epub)
    if opf is None:
        return TdmRepSignal(source="epub", warnings=warnings)
    signal = tdmrep_from_opf(opf)
    return replace(signal, warnings=(*warnings, *signal.warnings))


# --- PDF (XMP) ----------------------------------------------------------------------


def tdmrep_from_xmp(packet: bytes | str, source: str = "pdf-xmp") -> TdmRepSignal:
    """``tdm:reservation`` / ``tdm:policy`` from one XMP packet (namespace ``TDM_XMP_NS``).

    Near-miss namespaces seen in the wild (``.../tdmrep#``, ``.../ns/tdm/``) are
    read with a warning.
    """
    root, parse_warnings = parse_xmp(packet)
    if root is None:
        return TdmRepSignal(source=source, warnings=parse_warnings)
    warnings = list(parse_warnings)
    reservations: list[str] = []
    policies: list[str] = []
    for ns in sorted(namespaces_used(root)):
        if ns != TDM_XMP_NS and not ns.startswith("http://www.w3.org/ns/tdm"):
            continue
        found_r = xmp_values(root, ns, "reservation")
        found_p = xmp_values(root, ns, "policy")
        if (found_r or found_p) and ns != TDM_XMP_NS:
            warnings.append(f"TDMRep XMP in namespace {ns!r}; expected {TDM_XMP_NS!r}")
        reservations.extend(found_r)
        policies.extend(found_p)
    signal = _from_values(reservations, policies, source, "XMP tdm:reservation")
    return replace(signal, warnings=(*warnings, *signal.warnings))


def tdmrep_from_pdf(pdf: bytes) -> TdmRepSignal:
    """TDMRep from a PDF's XMP metadata; the last packet that states it wins (incremental saves
    append newer metadata)."""
    packets, find_warnings = find_xmp_packets(pdf)
    warnings = list(find_warnings)
    best = TdmRepSignal(source="pdf-xmp")
    for packet in packets:
        signal = tdmrep_from_xmp(packet)
        warnings.extend(signal.warnings)
        if signal.reservation is not None or signal.policy is not None:
            if best.reservation is not None and signal.reservation not in (None, best.reservation):
                warnings.append("PDF XMP packets disagree on tdm:reservation; the last is used")
            best = signal
    return replace(best, warnings=tuple(warnings))


# --- precedence ---------------------------------------------------------------------


def combine(*layers: TdmRepSignal) -> TdmRepSignal:
    """Apply TDMRep precedence: layers sorted by ``LAYERS`` (unknown sources keep their place,
    after known ones), each later one overriding only the fields it actually states."""
    rank = {name: i for i, name in enumerate(LAYERS)}
    ordered = sorted(layers, key=lambda s: rank.get(s.source, len(LAYERS)))
    out = TdmRepSignal()
    warnings: list[str] = []
    for layer in ordered:
        warnings.extend(layer.warnings)
        if layer.reservation is not None:
            out = replace(out, reservation=layer.reservation, source=layer.source, raw=layer.raw)
        if layer.policy is not None:
            out = replace(out, policy=layer.policy)
            if out.reservation is None:
                out = replace(out, source=layer.source, raw=layer.raw)
    return replace(out, warnings=tuple(warnings))

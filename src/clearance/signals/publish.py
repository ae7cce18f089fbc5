"""Writers: an owner's terms as the files they can publish on their own site.

Why here, beside the parsers: what a creator publishes must mean, to every
crawler and to our own scan, exactly what their registry terms say. So each
writer is the inverse of a parser in this package, and the tests read every
file written here back through that parser and ``mapping`` (the round trip).

From the effective permission per usage (``Terms.effective()``):

* ``robots.txt``: one group naming every known AI *training* crawler
  (``agents.training_tokens``) with ``Disallow: /`` when training is reserved
  (denied or licence-only), one for the AI-input crawlers when ``ai-input``
  is, and an aipref ``Content-Usage`` line for the ``*`` group;
* ``ai.txt`` (Spawning): ``Disallow: *`` and ``Disallow: /`` when training is
  reserved, ``Allow: /`` when it is allowed;
* ``tdmrep.json``: ``tdm-reservation: 1`` when text and data mining or any
  AI usage is reserved, with a ``tdm-policy`` link (the RSL file) when the
  owner licenses something;
* the IPTC ``plus:DataMining`` code to stamp into images (and an exiftool
  command line).

RSL is ``licensing.offers.export_rsl`` (it needs prices from the registry);
this module only links to it. ``consequences`` says, in plain words, what
one usage's setting writes into each file; the web app shows it beside the
choice.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping
from dataclasses import dataclass

from clearance.core.errors import UnsupportedInput
from clearance.core.usage import Permission, Usage
from clearance.signals.agents import AgentClass, known_agents
from clearance.signals.iptc_xmp import DataMining

PLUS_VOCAB = "http://ns.useplus.org/ldf/vocab/"
_TRAINING = (Usage.TDM, Usage.TRAIN_AI, Usage.TRAIN_GENAI)
_RESERVED = (Permission.DENY, Permission.LICENSE)


@dataclass(frozen=True, slots=True)
class SiteFiles:
    """The files for an owner's site, by the name to publish them under."""

    robots_txt: str
    ai_txt: str
    tdmrep_json: str
    iptc_code: DataMining

    @property
    def exiftool(self) -> str:
        """The command that stamps the IPTC code into every image of a folder (``#=``: the
        code's URI as it is, not exiftool's description of it)."""
        return (
            f"exiftool -XMP-plus:DataMining#='{PLUS_VOCAB}{self.iptc_code.value}' "
            "-overwrite_original -ext jpg -ext jpeg -ext png -ext tif -r FOLDER"
        )

    def as_dict(self) -> dict[str, str]:
        return {
            "robots.txt": self.robots_txt,
            "ai.txt": self.ai_txt,
            "tdmrep.json": self.tdmrep_json,
        }


def _reserved(perms: Mapping[Usage, Permission], *usages: Usage) -> bool:
    return any(perms.get(u, Permission.UNKNOWN) in _RESERVED for u in usages)


def _allowed(perms: Mapping[Usage, Permission], *usages: Usage) -> bool:
    return all(perms.get(u, Permission.UNKNOWN) is Permission.ALLOW for u in usages)


def training_reserved(perms: Mapping[Usage, Permission]) -> bool:
    """Whether tdm, train-ai or train-genai is reserved (denied, or only under licence)."""
    return _reserved(perms, *_TRAINING)


def _tokens(cls: AgentClass) -> list[str]:
    return sorted({a.token for a in known_agents().values() if a.agent_class is cls}, key=str.lower)


def robots_txt(perms: Mapping[Usage, Permission]) -> str:
    """robots.txt groups for AI crawlers, plus an aipref ``Content-Usage`` line."""
    lines = ["# AI crawler rules written by Clearance from the owner's registered terms."]
    for reserved, cls, what in (
        (training_reserved(perms), AgentClass.TRAINING, "AI training crawlers"),
        (_reserved(perms, Usage.AI_INPUT, Usage.TDM), AgentClass.AI_INPUT, "AI assistants"),
    ):
        if not reserved:
            continue
        lines += ["", f"# {what}: reserved"]
        lines += [f"User-agent: {token}" for token in _tokens(cls)]
        lines.append("Disallow: /")
    labels = []
    for label, reserved_by, usage in (
        ("train-ai", (Usage.TRAIN_AI, Usage.TDM), Usage.TRAIN_AI),
        ("search", (Usage.SEARCH,), Usage.SEARCH),
    ):
        if _reserved(perms, *reserved_by):
            labels.append(f"{label}=n")
        elif _allowed(perms, usage):
            labels.append(f"{label}=y")
    lines += ["", "User-agent: *"]
    if labels:
        lines.append("Content-Usage: " + ", ".join(labels))
    lines.append("Allow: /")
    return "\n".join(lines) + "\n"


def ai_txt(perms: Mapping[Usage, Permission]) -> str:
    """Spawning's ai.txt: every medium reserved from training, or allowed, or nothing said."""
    lines = ["# ai.txt written by Clearance from the owner's registered terms.", "User-Agent: *"]
    if training_reserved(perms):
        lines += ["Disallow: *", "Disallow: /"]
    elif _allowed(perms, Usage.TRAIN_AI):
        lines.append("Allow: /")
    return "\n".join(lines) + "\n"


def tdmrep_json(perms: Mapping[Usage, Permission], *, policy_url: str | None = None) -> str:
    """TDMRep's ``/.well-known/tdmrep.json``: one rule for the whole site."""
    reserved = _reserved(perms, *_TRAINING, Usage.AI_INPUT)
    rule: dict[str, object] = {"location": "/*", "tdm-reservation": 1 if reserved else 0}
    if reserved and policy_url and Permission.LICENSE in perms.values():
        rule["tdm-policy"] = policy_url
    return json.dumps([rule], indent=2) + "\n"


def iptc_code(perms: Mapping[Usage, Permission]) -> DataMining:
    """The PLUS Data Mining code that says the same as the terms, as nearly as it can."""
    if _reserved(perms, Usage.TDM) and _reserved(perms, Usage.SEARCH):
        return DataMining.PROHIBITED
    if _reserved(perms, Usage.TDM):
        return DataMining.PROHIBITED_EXCEPT_SEARCH
    if _reserved(perms, Usage.TRAIN_AI):
        return DataMining.PROHIBITED_AIML_TRAINING
    if _reserved(perms, Usage.TRAIN_GENAI):
        return DataMining.PROHIBITED_GENAIML_TRAINING
    if _allowed(perms, Usage.TDM, Usage.TRAIN_AI):
        return DataMining.ALLOWED
    return DataMining.UNSPECIFIED


def site_files(perms: Mapping[Usage, Permission], *, policy_url: str | None = None) -> SiteFiles:
    """Every file for the owner's site from their effective permissions."""
    return SiteFiles(
        robots_txt=robots_txt(perms),
        ai_txt=ai_txt(perms),
        tdmrep_json=tdmrep_json(perms, policy_url=policy_url),
        iptc_code=iptc_code(perms),
    )


def consequences(usage: Usage, permission: Permission) -> list[str]:
    """What setting ``usage`` to ``permission`` says in each protocol, in plain words."""
    if permission is Permission.UNKNOWN:
        return ["Nothing is published: crawlers and scans fall back to their own defaults."]
    verb = {Permission.DENY: "refuses", Permission.LICENSE: "reserves (for a licence)"}.get(
        permission, "allows"
    )
    reserved = permission in _RESERVED
    out = [f"Clearance's registry {verb} {usage.value}: every scan and output check sees it."]
    if usage in _TRAINING:
        if reserved:
            out.append("robots.txt: Disallow: / for every known AI training crawler.")
            out.append("ai.txt: Disallow: * (no media for AI training).")
            out.append("tdmrep.json: tdm-reservation 1.")
            out.append("IPTC plus:DataMining: prohibited for AI/ML training.")
        else:
            out.append("robots.txt: Content-Usage train-ai=y; ai.txt: Allow: /.")
    elif usage is Usage.AI_INPUT:
        out.append(
            "robots.txt: Disallow: / for AI assistants; tdmrep.json: tdm-reservation 1."
            if reserved
            else "robots.txt: AI assistants are not blocked."
        )
    elif usage is Usage.SEARCH:
        out.append("robots.txt: Content-Usage search=n." if reserved else "robots.txt: search=y.")
    elif usage is Usage.OUTPUT:
        out.append(
            "The output guard blocks generated outputs that match your works"
            + (
                " unless the developer holds a licence."
                if permission is Permission.LICENSE
                else "."
            )
            if reserved
            else "Generated outputs that match your works are allowed."
        )
    if permission is Permission.LICENSE:
        out.append("RSL: a licence offer with your price (linked from tdmrep.json's tdm-policy).")
    return out


_XMP_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"


def xmp_packet(code: DataMining) -> bytes:
    """An XMP packet that says ``plus:DataMining`` is ``code`` (and nothing else)."""
    return (
        b'<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        b'<rdf:Description rdf:about="" xmlns:plus="http://ns.useplus.org/ldf/xmp/1.0/">'
        b"<plus:DataMining>" + (PLUS_VOCAB + code.value).encode() + b"</plus:DataMining>"
        b"</rdf:Description></rdf:RDF></x:xmpmeta>"
        b'<?xpacket end="w"?>'
    )


def stamp_jpeg(data: bytes, code: DataMining) -> bytes:
    """The JPEG with its XMP replaced by one packet carrying ``plus:DataMining``.

    The image data is copied byte for byte (no re-encoding); other metadata
    segments (EXIF, ICC, IPTC-IIM) are kept. Raises ``UnsupportedInput`` for
    anything that is not a well-formed JPEG up to its first scan.
    """
    if not data.startswith(b"\xff\xd8"):
        raise UnsupportedInput("only JPEG images can be stamped here", hint="use exiftool")
    kept: list[bytes] = []
    pos = 2
    while True:
        if pos + 4 > len(data) or data[pos] != 0xFF:
            raise UnsupportedInput("this JPEG is damaged before its image data")
        marker = data[pos + 1]
        if marker == 0xDA:  # start of scan: the rest is image data
            break
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        end = pos + 2 + length
        if length < 2 or end > len(data):
            raise UnsupportedInput("this JPEG is damaged before its image data")
        body = data[pos + 4 : end]
        if not (marker == 0xE1 and body.startswith((_XMP_HEADER, b"http://ns.adobe.com/xmp/"))):
            kept.append(data[pos:end])
        pos = end
    payload = _XMP_HEADER + xmp_packet(code)
    segment = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    # after APP0 (JFIF) and any EXIF APP1, which readers expect first
    head = 0
    while head < len(kept) and kept[head][1] in (0xE0, 0xE1):
        head += 1
    return b"\xff\xd8" + b"".join(kept[:head]) + segment + b"".join(kept[head:]) + data[pos:]


__all__ = [
    "PLUS_VOCAB",
    "SiteFiles",
    "ai_txt",
    "consequences",
    "iptc_code",
    "robots_txt",
    "site_files",
    "stamp_jpeg",
    "tdmrep_json",
    "training_reserved",
    "xmp_packet",
]

"""TDMRep ODRL policies: what a rights holder asks for when mining is reserved.

A ``tdm-policy`` URL points to an ODRL 2.2 ``Offer`` in JSON-LD with the
profile ``http://www.w3.org/ns/tdmrep`` and the action ``tdm:mine``; its duties
(``obtainConsent``, ``compensate``) and ``purpose`` constraints
(``tdm:research`` / ``tdm:non-research``) are the terms of a licence. A policy
that cannot be fetched or parsed is not an error: its conditions stay unknown.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from clearance.signals.base import decode_text

TDM_VOCAB = "http://www.w3.org/ns/tdmrep#"
TDM_PROFILE = "http://www.w3.org/ns/tdmrep"


@dataclass(frozen=True, slots=True)
class TdmPolicyPermission:
    """One ODRL permission: action (``tdm:mine``), target, duties and purpose constraints."""

    action: str
    target: str | None = None
    duties: tuple[str, ...] = ()
    purposes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TdmPolicy:
    """A TDMRep ODRL policy (an ``Offer``): who to ask, and on what conditions mining is offered."""

    uid: str | None = None
    type: str | None = None
    profile: str | None = None
    assigner: tuple[tuple[str, str], ...] = ()
    permissions: tuple[TdmPolicyPermission, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def mine(self) -> tuple[TdmPolicyPermission, ...]:
        return tuple(p for p in self.permissions if p.action == "tdm:mine")

    @property
    def requires_consent(self) -> bool:
        return any("obtainConsent" in p.duties for p in self.mine)

    @property
    def requires_compensation(self) -> bool:
        return any("compensate" in p.duties for p in self.mine)

    def summary(self) -> str:
        """One line for evidence details: what is offered, for which purposes, on which duties."""
        parts = []
        for p in self.mine:
            text = "tdm:mine"
            if p.purposes:
                text += " for " + "/".join(p.purposes)
            if p.duties:
                text += " with duty " + "+".join(p.duties)
            parts.append(text)
        contact = dict(self.assigner)
        who = contact.get("hasEmail") or contact.get("hasURL") or contact.get("uid")
        out = "; ".join(parts) or "no tdm:mine permission"
        return f"{out} (contact {who})" if who else out


def _short(value: str) -> str:
    for prefix, short in ((TDM_VOCAB, "tdm:"), ("http://www.w3.org/ns/odrl/2/", ""), ("odrl:", "")):
        if value.startswith(prefix):
            return short + value[len(prefix) :]
    return value


def _ids(value: Any) -> list[str]:
    """Action / operand values: a string, an object with ``@id``/``rdf:value``, or a list."""
    if isinstance(value, str):
        return [_short(value.strip())]
    if isinstance(value, dict):
        inner = value.get("@id") or value.get("rdf:value") or value.get("action")
        return _ids(inner) if inner is not None else []
    if isinstance(value, list):
        return [v for item in value for v in _ids(item)]
    return []


_JSON_PIECE = re.compile(r'"(?:[^"\\]|\\.)*"|(?P<trail>,(?=\s*[}\]]))|[^",]+|.', re.S)


def _without_trailing_commas(text: str) -> str:
    """``text`` with every comma that closes an object or array dropped (strings untouched).

    The spec's own second policy example has one after ``vcard:hasEmail``; a
    hand-written policy often does. Nothing else non-JSON is accepted.
    """
    return "".join(m.group(0) for m in _JSON_PIECE.finditer(text) if m.group("trail") is None)


def _load(text: str, warnings: list[str]) -> tuple[Any, str | None]:
    """Parse the JSON, forgiving only trailing commas (with a warning); (doc, error)."""
    try:
        return json.loads(text), None
    except (ValueError, RecursionError) as exc:
        error = f"policy is not valid JSON: {str(exc)[:120]}"
    lenient = _without_trailing_commas(text)
    if lenient == text:
        return None, error
    try:
        doc = json.loads(lenient)
    except (ValueError, RecursionError):
        return None, error
    warnings.append("policy has trailing commas (not valid JSON); read without them")
    return doc, None


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else ([] if value is None else [value])


def parse_tdm_policy(data: bytes | str) -> TdmPolicy:
    """Parse a fetched TDMRep policy (JSON-LD, ODRL 2.2 profile); never raises."""
    text, decode_warnings = decode_text(data)
    warnings = list(decode_warnings)
    doc, error = _load(text, warnings)
    if error is not None:
        return TdmPolicy(warnings=(*warnings, error))
    if isinstance(doc, list) and doc and isinstance(doc[0], dict):
        warnings.append("policy is an array; its first object is read")
        doc = doc[0]
    if not isinstance(doc, dict):
        return TdmPolicy(warnings=(*warnings, "policy is not a JSON object"))
    kind = doc.get("@type", doc.get("type"))
    kind = _short(kind) if isinstance(kind, str) else None
    if kind != "Offer":
        warnings.append(f"policy @type is {kind!r}, expected 'Offer'")
    profile = doc.get("profile")
    profile = profile if isinstance(profile, str) else None
    if profile is None or profile.rstrip("/#") != TDM_PROFILE:
        warnings.append(f"policy profile is {profile!r}, expected {TDM_PROFILE!r}")
    uid = doc.get("uid", doc.get("@id"))
    assigner: list[tuple[str, str]] = []
    raw_assigner = doc.get("assigner")
    if isinstance(raw_assigner, str):
        assigner.append(("uid", raw_assigner))
    elif isinstance(raw_assigner, dict):
        for k, v in raw_assigner.items():
            if isinstance(v, str):
                assigner.append((str(k).removeprefix("vcard:"), v))
    permissions: list[TdmPolicyPermission] = []
    for item in _as_list(doc.get("permission")):
        if not isinstance(item, dict):
            warnings.append("a permission is not an object; skipped")
            continue
        duties = tuple(a for d in _as_list(item.get("duty")) for a in _ids(d))
        purposes = tuple(
            r
            for c in _as_list(item.get("constraint"))
            if isinstance(c, dict) and _ids(c.get("leftOperand")) == ["purpose"]
            for r in _ids(c.get("rightOperand"))
        )
        target = item.get("target")
        for action in _ids(item.get("action")) or [""]:
            if action != "tdm:mine":
                warnings.append(f"permission action {action!r} is not tdm:mine")
            permissions.append(
                TdmPolicyPermission(
                    action, target if isinstance(target, str) else None, duties, purposes
                )
            )
    if not permissions:
        warnings.append("policy has no permission")
    return TdmPolicy(
        uid if isinstance(uid, str) else None,
        kind,
        profile,
        tuple(assigner),
        tuple(permissions),
        tuple(warnings),
    )

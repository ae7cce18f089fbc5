"""What one or more finished scans know, gathered once for every compliance summary.

A training run usually combines several datasets, each scanned into its own
directory. ``collect`` reads each directory's ``manifest.json``,
``licenses.json`` and, streaming in record batches, the columns of
``decisions.parquet`` it needs (never the whole table), and returns
``ScanFacts`` per scan; ``combined`` adds them up. Memory grows with the
number of distinct domains and owners, not with the number of rows.

Only what the files say is recorded here: counts of items by outcome and by
kind of source, items per domain, items excluded per opt-out protocol and per
registry owner, licences needed, and the run's root and signing key. What
the scans cannot know comes from the info file (``reports.info``).
"""

from __future__ import annotations

import json
import os
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from clearance.core.errors import InputNotFound, UserError
from clearance.core.files import read_regular

COLUMNS = ("source", "outcome", "reasons", "evidence")
BLOCKING = ("deny", "license")


@dataclass(slots=True)
class ScanFacts:
    """The facts of one scan directory (or, after ``combined``, of several)."""

    name: str
    input: str = ""
    input_kind: str = ""
    purpose: str = ""
    mode: str = ""
    web: str = ""
    agent: str = ""
    registry_state: str = ""
    run_root: str | None = None
    key_id: str | None = None
    items: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    source_kinds: Counter[str] = field(default_factory=Counter)
    """Items by kind of source: ``web`` (an http(s) URL) or ``local`` (a file or a row)."""
    media: Counter[str] = field(default_factory=Counter)
    """Items by media type guessed from the file extension of the source (``unknown`` if none)."""
    domains: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    by_protocol: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    """Per evidence source: items it denied (``exclude``) or licence-bound (``needs-license``)."""
    by_owner: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    """Per registry owner whose terms blocked the purpose: items excluded / needing a licence."""
    owner_works: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    unexplained_excludes: int = 0
    """Excluded items with no deny among their reasons (opt-in mode: nobody allowed them)."""
    licences: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Owner -> {"items", "totals"} from licenses.json; key ``""`` for unregistered items."""
    scans: list[dict[str, Any]] = field(default_factory=list)
    """One entry per scan directory: name, input, purpose, mode, web, items, run root, key."""

    @property
    def included(self) -> int:
        return self.outcomes["include"]


@cache
def _media_of_suffix() -> dict[str, str]:
    """The registry's extension sets (imported on first use: the registry module is heavy)."""
    from clearance.registry import register as r

    out: dict[str, str] = {}
    for name, exts in (
        ("image", r.IMAGE_EXTENSIONS),
        ("text", r.TEXT_EXTENSIONS),
        ("audio", r.AUDIO_EXTENSIONS),
        ("video", r.VIDEO_EXTENSIONS),
    ):
        out.update(dict.fromkeys(exts, name))
    return out


def _media(source: str) -> str:
    path = urlsplit(source).path if "://" in source else source.split("#", 1)[0]
    suffix = PurePosixPath(path).suffix.lower()
    return _media_of_suffix().get(suffix, "other" if suffix else "unknown")


MAX_JSON_BYTES = 256 * 1024 * 1024


def _read_json(path: Path) -> Any:
    try:
        return json.loads(read_regular(path, MAX_JSON_BYTES).decode("utf-8"))
    except FileNotFoundError:
        raise InputNotFound(
            f"{path} does not exist", hint="is it a scan output directory?"
        ) from None
    except (OSError, ValueError) as exc:
        raise UserError(f"{path} is not readable JSON: {exc}") from None


def _owners(evidence: str | None) -> list[dict[str, Any]]:
    try:
        doc = json.loads(evidence or "{}")
    except ValueError:
        return []
    works = doc.get("works") if isinstance(doc, dict) else None
    return [w for w in works if isinstance(w, dict)] if isinstance(works, list) else []


def scan_facts(out_dir: str | os.PathLike[str]) -> ScanFacts:
    """The facts of the scan output in ``out_dir``."""
    import pyarrow.parquet as pq

    out = Path(out_dir)
    if not out.is_dir():
        raise InputNotFound(f"{out} is not a scan output directory")
    manifest = _read_json(out / "manifest.json")
    if not isinstance(manifest, dict) or manifest.get("format") != "clearance.scan-manifest":
        raise UserError(f"{out / 'manifest.json'} is not a scan manifest")
    config = manifest.get("config") if isinstance(manifest.get("config"), dict) else {}
    assert isinstance(config, dict)
    facts = ScanFacts(
        name=out.name,
        input=str(config.get("input", "")),
        input_kind=str(config.get("input_kind", "")),
        purpose=str(config.get("purpose", "")),
        mode=str(config.get("mode", "")),
        web=str(config.get("web", "")),
        agent=str(config.get("agent", "")),
        registry_state=str(manifest.get("registry_state", "")),
    )
    merkle = manifest.get("merkle")
    if isinstance(merkle, dict):
        facts.run_root = merkle.get("root")
    att = manifest.get("attestation")
    if isinstance(att, dict) and isinstance(att.get("signature"), dict):
        facts.key_id = att["signature"].get("key_id")
    try:
        pf = pq.ParquetFile(out / "decisions.parquet", pre_buffer=False)  # flat memory
        batches = pf.iter_batches(batch_size=8192, columns=list(COLUMNS))
        for batch in batches:
            _add_batch(facts, *(batch.column(c).to_pylist() for c in COLUMNS))
    except FileNotFoundError:
        raise InputNotFound(f"{out / 'decisions.parquet'} does not exist") from None
    except (OSError, ValueError, KeyError) as exc:
        raise UserError(f"{out / 'decisions.parquet'} cannot be read: {exc}") from None
    _add_licences(facts, _read_json(out / "licenses.json"))
    facts.scans.append(
        {
            "name": facts.name,
            "input": facts.input,
            "input_kind": facts.input_kind,
            "purpose": facts.purpose,
            "mode": facts.mode,
            "web": facts.web,
            "items": facts.items,
            "included": facts.included,
            "run_root": facts.run_root,
            "key_id": facts.key_id,
        }
    )
    return facts


def _add_batch(
    facts: ScanFacts,
    sources: Sequence[str | None],
    outcomes: Sequence[str],
    reasons: Sequence[list[str] | None],
    evidence: Sequence[str | None],
) -> None:
    for source, outcome, why, ev in zip(sources, outcomes, reasons, evidence, strict=True):
        facts.items += 1
        facts.outcomes[outcome] += 1
        src = source or ""
        web = src.startswith(("http://", "https://"))
        facts.source_kinds["web" if web else "local"] += 1
        facts.media[_media(src)] += 1
        if web:
            host = urlsplit(src).hostname
            if host:
                facts.domains[host][outcome] += 1
        if outcome not in ("exclude", "needs-license"):
            continue
        blocking = {r.split(":", 1)[0] for r in why or () if r.rsplit("=", 1)[-1] in BLOCKING}
        for protocol in blocking:
            facts.by_protocol[protocol][outcome] += 1
        if outcome == "exclude" and not any(r.endswith("=deny") for r in why or ()):
            facts.unexplained_excludes += 1
        for work in _owners(ev):
            if work.get("permission") in BLOCKING and isinstance(work.get("owner"), str):
                facts.by_owner[work["owner"]][outcome] += 1
                if isinstance(work.get("id"), int):
                    facts.owner_works[work["owner"]].add(work["id"])


def _add_licences(facts: ScanFacts, licenses: Any) -> None:
    if not isinstance(licenses, dict):
        return
    for owner in licenses.get("owners") or []:
        if not isinstance(owner, dict) or not isinstance(owner.get("owner"), str):
            continue
        entry = facts.licences.setdefault(owner["owner"], {"items": 0, "totals": Counter()})
        for work in owner.get("works") or []:
            if isinstance(work, dict):
                entry["items"] += int(work.get("item_count") or 0)
        for currency, amount in (owner.get("totals") or {}).items():
            entry["totals"][currency] += _decimal(amount)
    unregistered = licenses.get("unregistered") or []
    if unregistered:
        entry = facts.licences.setdefault("", {"items": 0, "totals": Counter()})
        entry["items"] += len(unregistered)


def _decimal(text: Any) -> Any:
    from decimal import Decimal, InvalidOperation

    try:
        return Decimal(str(text))
    except InvalidOperation:
        return Decimal(0)


def collect(dirs: Iterable[str | os.PathLike[str]]) -> list[ScanFacts]:
    out = [scan_facts(d) for d in dirs]
    if not out:
        raise UserError("give at least one scan directory")
    names = [f.name for f in out]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise UserError(
            f"two scan directories are named {dup!r}",
            hint="the info file keys datasets by directory name; rename one",
        )
    return out


def combined(all_facts: Sequence[ScanFacts]) -> ScanFacts:
    """The sum of several scans' facts (configuration fields joined when they differ)."""
    total = ScanFacts(name="all scans")
    for f in all_facts:
        total.items += f.items
        total.outcomes.update(f.outcomes)
        total.source_kinds.update(f.source_kinds)
        total.media.update(f.media)
        for d, c in f.domains.items():
            total.domains[d].update(c)
        for p, c in f.by_protocol.items():
            total.by_protocol[p].update(c)
        for o, c in f.by_owner.items():
            total.by_owner[o].update(c)
        for o, w in f.owner_works.items():
            total.owner_works[o] |= w
        total.unexplained_excludes += f.unexplained_excludes
        for owner, entry in f.licences.items():
            t = total.licences.setdefault(owner, {"items": 0, "totals": Counter()})
            t["items"] += entry["items"]
            t["totals"].update(entry["totals"])
        total.scans += f.scans
    for name in ("purpose", "mode", "web", "agent"):
        values = sorted({getattr(f, name) for f in all_facts})
        setattr(total, name, ", ".join(values))
    return total

"""The run's final files, assembled from the finished shards.

``decisions.parquet`` is the shard parts concatenated in shard order;
``report.json`` counts outcomes by reason source, domain and owner;
``licenses.json`` groups the items that need a licence by owner and work
with each owner's price and the totals; ``manifest.json`` records the run's
configuration, the registry state and SHA-256 digests of inputs, outputs
and shards, so a result can be checked and reproduced later. All carry
``format_version`` (see docs/scan.md) and are written atomically.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from decimal import Context, Decimal, DecimalException
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from clearance.core.files import atomic_path, atomic_write_text
from clearance.matching.decide import OUTCOMES
from clearance.scan.config import FORMAT_VERSION

TOP_DOMAINS = 50
TOP_UNREACHABLE = 20
_MONEY = Context(prec=40, Emax=30, Emin=-30, traps=[])
"""Arithmetic for bills: a price whose total would leave this range is reported, not summed."""


def dump_json(doc: Any) -> str:
    """A JSON document as every scan output writes it."""
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_json(path: Path, doc: Any) -> None:
    """Write a JSON document atomically."""
    atomic_write_text(path, dump_json(doc))


def assemble_decisions(parts: Path, records: Sequence[dict[str, Any]], out: Path) -> Any:
    """Concatenate the decisions parts into ``out``; return them as one Arrow table."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from clearance.scan.schema import DECISIONS_SCHEMA

    tables = []
    with atomic_path(out) as tmp, pq.ParquetWriter(tmp, DECISIONS_SCHEMA) as writer:
        for rec in records:
            table = pq.read_table(parts / rec["decisions_part"], schema=DECISIONS_SCHEMA)
            writer.write_table(table)
            tables.append(table)
    return pa.concat_tables(tables) if tables else DECISIONS_SCHEMA.empty_table()


def _domain(source: str | None) -> str | None:
    if not source or "://" not in source:
        return None
    try:
        return urlsplit(source).hostname
    except ValueError:  # an invalid URL (an error row): no domain to count
        return None


_NETLOC = r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<netloc>[^/?#]*)"
"""Scheme and netloc of a URL source (``urlsplit`` reads host and port from these alone)."""

DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(source: str | None) -> str | None:
    """``scheme://host:port`` of a URL source (the port always written), or None."""
    if not source or "://" not in source:
        return None
    try:
        parts = urlsplit(source)
        host, port = parts.hostname, parts.port
    except ValueError:  # an invalid URL or port (an error row): no origin to count
        return None
    scheme = parts.scheme.lower()
    if not host:
        return None
    port = port if port is not None else DEFAULT_PORTS.get(scheme)
    host = f"[{host}]" if ":" in host else host
    return f"{scheme}://{host}" + (f":{port}" if port is not None else "")


def _top(counts: dict[str, Counter[str]]) -> dict[str, dict[str, int]]:
    top = sorted(counts.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))[:TOP_DOMAINS]
    return {k: {"items": sum(c.values()), **dict(c)} for k, c in top}


def _codes(column: Any) -> tuple[Any, list[Any]]:
    """Dictionary codes of an Arrow column (numpy, -1 for null) and the distinct values."""
    import numpy as np
    import pyarrow as pa

    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    encoded = column.dictionary_encode() if len(column) else None
    if encoded is None:
        return np.zeros(0, np.int64), []
    codes = np.asarray(encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False), np.int64)
    values: list[Any] = pa.array(encoded.dictionary).to_pylist()
    return codes, values


def _per_netloc(
    sources: Any, of: Callable[[str | None], str | None], *, scheme: bool
) -> tuple[Any, list[str | None]]:
    """Per row, a code into a list of ``of(source)`` values (``_domain`` or ``origin_of``),
    computed once per distinct scheme and netloc (``scheme=False``: per netloc); sources
    that are not plain URLs are read one by one."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    column = sources.combine_chunks() if len(sources) else pa.array([], pa.string())
    plain = pc.and_kleene(
        pc.match_substring_regex(column, _NETLOC),
        pc.invert(pc.match_substring_regex(column, "[\x00-\x20]")),
    ).fill_null(False)
    parts = pc.extract_regex(column, _NETLOC)
    head = parts.field("scheme") if scheme else pa.scalar("http")
    prefix = pc.binary_join_element_wise(head, parts.field("netloc"), "://")
    codes, values = _codes(pc.if_else(plain, prefix, pa.scalar(None, pa.string())))
    keys = [of(v) for v in values]
    odd = np.flatnonzero(~np.asarray(plain.to_numpy(zero_copy_only=False), bool))
    if len(odd):
        extra: dict[str | None, int] = {}
        for i in odd.tolist():
            key = of(column[i].as_py())
            codes[i] = extra.setdefault(key, len(keys) + len(extra))
        keys += list(extra)
    return codes, keys


def build_report(
    rows: Any, config: dict[str, Any], run: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Counts by outcome, by reason source (and what it said), by domain and origin (top 50)
    and by owner; the URL rows whose site signals could not be read (``unreachable``: how
    many, from how many origins, what they became, the top 20 origins with the reason);
    ``run``: what was scanned and how (shown at the top of report.html).

    ``rows``: the decisions as an Arrow table (or a list of row dicts). Rows are counted
    by their distinct values (an evidence document is read once however many rows share it).
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from clearance.scan.schema import DECISIONS_SCHEMA

    table = (
        rows if isinstance(rows, pa.Table) else pa.Table.from_pylist(list(rows), DECISIONS_SCHEMA)
    )
    n = table.num_rows
    outcome_codes, outcome_names = _codes(table.column("outcome"))
    evidence_codes, documents = _codes(table.column("evidence"))
    reasons = pc.binary_join(table.column("reasons"), "\x1f")
    reason_codes, reason_texts = _codes(reasons)
    domain_codes, hosts = _per_netloc(table.column("source"), _domain, scheme=False)
    origin_codes, origins = _per_netloc(table.column("source"), origin_of, scheme=True)

    outcomes = Counter({o: 0 for o in OUTCOMES})
    by_source: Counter[str] = Counter()
    by_permission: dict[str, Counter[str]] = defaultdict(Counter)
    by_domain: dict[str, Counter[str]] = defaultdict(Counter)
    by_origin: dict[str, Counter[str]] = defaultdict(Counter)
    by_owner: dict[str, Counter[str]] = defaultdict(Counter)
    owner_works: dict[str, set[int]] = defaultdict(set)
    unreachable: Counter[str] = Counter()
    unreachable_outcomes: Counter[str] = Counter()
    unreachable_reasons: dict[str, str] = {}

    def grouped(*codes: Any) -> list[tuple[tuple[int, ...], int]]:
        """The distinct combinations of the code columns (each >= -1) and their counts.

        The columns are packed into one int64 key (mixed radix: at most two columns of at
        most ``n + 1`` values each), so ``np.unique`` sorts a flat array instead of rows.
        """
        if not n:
            return []
        radices = [int(c.max()) + 2 for c in codes]
        key = np.zeros(n, np.int64)
        for c, radix in zip(codes, radices, strict=True):
            key = key * radix + (c + 1)
        keys, counts = np.unique(key, return_counts=True)
        digits = []
        for radix in reversed(radices):
            digits.append(keys % radix - 1)
            keys = keys // radix
        columns = [d.tolist() for d in reversed(digits)]
        return [(tuple(col[i] for col in columns), int(c)) for i, c in enumerate(counts.tolist())]

    for (o,), count in grouped(outcome_codes):
        outcomes[outcome_names[o]] += count
    for (r,), count in grouped(reason_codes):
        said: set[tuple[str, str]] = set()
        for reason in (reason_texts[r] if r >= 0 else "").split("\x1f"):
            if reason:
                source, _, rest = reason.partition(":")
                said.add((source, rest.rpartition("=")[2] if "=" in rest else "unknown"))
        for source in {s for s, _ in said}:
            by_source[source] += count
        for source, permission in said:
            by_permission[source][permission] += count
    for (o, d), count in grouped(outcome_codes, domain_codes):
        if d >= 0 and hosts[d]:
            by_domain[str(hosts[d])][outcome_names[o]] += count
    for (o, d), count in grouped(outcome_codes, origin_codes):
        if d >= 0 and origins[d]:
            by_origin[str(origins[d])][outcome_names[o]] += count
    parsed = [json.loads(doc or "{}") for doc in documents]
    for (o, e), count in grouped(outcome_codes, evidence_codes):
        outcome = outcome_names[o]
        detail = parsed[e] if e >= 0 else {}
        works = detail.get("works", [])
        for owner in {w["owner"] for w in works}:
            by_owner[owner][outcome] += count
        for w in works:
            if w.get("id") is not None:
                owner_works[w["owner"]].add(int(w["id"]))
        site = detail.get("unreachable")
        if site:
            unreachable[site["origin"]] += count
            unreachable_outcomes[outcome] += count
            unreachable_reasons.setdefault(site["origin"], site["reason"])
    return {
        "format": "clearance.scan-report",
        "format_version": FORMAT_VERSION,
        "items": n,
        "purpose": config["purpose"],
        "mode": config["mode"],
        "run": run or {},
        "outcomes": dict(outcomes),
        "by_reason_source": dict(sorted(by_source.items())),
        "by_reason_permission": {
            s: dict(sorted(c.items())) for s, c in sorted(by_permission.items())
        },
        "by_domain": _top(by_domain),
        "domains": len(by_domain),
        "by_origin": _top(by_origin),
        "origins": len(by_origin),
        "by_owner": {o: {"items": sum(c.values()), **dict(c)} for o, c in sorted(by_owner.items())},
        "owner_works": {o: len(ids) for o, ids in sorted(owner_works.items())},
        "unreachable": {
            "items": sum(unreachable.values()),
            "origins": len(unreachable),
            "on_unreachable": config.get("on_unreachable") or "include",
            "outcomes": dict(sorted(unreachable_outcomes.items())),
            "top": [
                {"origin": o, "items": c, "reason": unreachable_reasons[o]}
                for o, c in sorted(unreachable.items(), key=lambda kv: (-kv[1], kv[0]))[
                    :TOP_UNREACHABLE
                ]
            ],
        },
    }


def build_licenses(rows: Any, purpose: str) -> dict[str, Any]:
    """Items needing a licence, by owner and work; totals per currency.

    A per-item price is charged for every item matching the work; a per-run
    price once per work, however many items match it; a per-output price is
    not a training price (the work is listed with no amount) and a pool share
    is paid from a pool (``clearance royalties --pool``). Works the licensee
    already holds an agreement for (``--licensee``) are not billed again: only
    what is still needed is. Each owner's registered contact is listed. Items
    that need a licence only because of a web signal (RSL, HTTP 402) have no
    registry owner and are listed under ``unregistered`` without a price.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(rows, pa.Table):  # only the rows needing a licence are read
        rows = rows.filter(pc.equal(rows.column("outcome"), "needs-license")).to_pylist()
    owners: dict[str, dict[str, Any]] = {}
    unregistered: list[dict[str, str]] = []
    for row in rows:
        if row["outcome"] != "needs-license":
            continue
        works = [
            w
            for w in json.loads(row["evidence"] or "{}").get("works", [])
            if w["permission"] == "license" and w.get("agreement_id") is None
        ]
        if not works:
            unregistered.append(
                {"item_id": row["item_id"], "source": row["source"], "reasons": row["reasons"]}
            )
        for w in works:
            owner = owners.setdefault(
                w["owner"], {"owner": w["owner"], "contact": w.get("contact"), "works": {}}
            )
            entry = owner["works"].setdefault(
                str(w["id"]),
                {"work_id": w["id"], "title": w["title"], "price": w["price"], "items": []},
            )
            entry["items"].append({"item_id": row["item_id"], "source": row["source"]})
    totals: dict[str, Decimal] = {}
    problems: list[str] = []
    for owner in owners.values():
        owner_totals: dict[str, Decimal] = {}
        for entry in owner["works"].values():
            price = entry["price"]
            entry["item_count"] = len(entry["items"])
            cost = _cost(price, len(entry["items"]))
            entry["amount"] = None if cost is None else str(cost)
            if cost is None:
                if price is not None and price.get("per", "item") in ("item", "run"):
                    problems.append(f"work {entry['work_id']}: price {price!r} cannot be billed")
                continue
            currency = price["currency"]
            owner_totals[currency] = _MONEY.add(owner_totals.get(currency, Decimal(0)), cost)
        owner["works"] = sorted(owner["works"].values(), key=lambda e: e["work_id"])
        owner["totals"] = {c: str(v) for c, v in sorted(owner_totals.items())}
        for currency, value in owner_totals.items():
            totals[currency] = _MONEY.add(totals.get(currency, Decimal(0)), value)
    return {
        "format": "clearance.scan-licenses",
        "format_version": FORMAT_VERSION,
        "purpose": purpose,
        "items": sum(1 for r in rows if r["outcome"] == "needs-license"),
        "owners": [owners[k] for k in sorted(owners)],
        "unregistered": unregistered,
        "totals": {c: str(v) for c, v in sorted(totals.items())},
        "warnings": problems,
    }


def _cost(price: dict[str, Any] | None, items: int) -> Decimal | None:
    """A work's bill: its per-item price times the items, or its per-run price once.

    None for no price, or one that cannot be computed exactly (an absurd
    magnitude written by an older Clearance): the bill says so instead of failing.
    """
    if price is None:
        return None
    try:
        amount = Decimal(str(price["amount"]))
        per = price.get("per", "item")
        if per not in ("item", "run"):  # per output or a pool share: not billed per scan
            return None
        cost = amount if per == "run" else _MONEY.multiply(amount, Decimal(items))
    except (DecimalException, KeyError, TypeError, ValueError):
        return None
    if not cost.is_finite() or abs(cost.adjusted()) > 30:
        return None
    return cost


def build_manifest(
    config: dict[str, Any],
    *,
    registry_state: str,
    inputs: dict[str, str],
    outputs: dict[str, str],
    shards: Sequence[dict[str, Any]],
    index: dict[str, Any] | None,
    merkle: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The manifest; ``merkle``: the rows' roots (``clearance.evidence.merkle_section``)."""
    return {
        "format": "clearance.scan-manifest",
        "format_version": FORMAT_VERSION,
        "config": config,
        "registry_state": registry_state,
        "index": index,
        "inputs": inputs,
        "outputs": outputs,
        "shards": [
            {
                "shard": s["shard"],
                "name": s["name"],
                "items": s["items"],
                "item_digest": s["item_digest"],
                "digests": s["digests"],
            }
            for s in shards
        ],
        **({"merkle": merkle} if merkle is not None else {}),
    }

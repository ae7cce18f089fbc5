"""The columnar URL path agrees with the per-row path, row by row, on random tables.

Each seed draws a registry of URL, prefix and domain claims, four local sites
with random robots.txt (wildcards, ``$``, percent-escapes, Content-Usage),
ai.txt, tdmrep.json and RSL files (one site answers 503, one port is dead), and
a Parquet table of random URLs over them: plain ones, ones the fast parser
leaves to the per-row path (upper-case schemes, user info, non-ASCII, bad
ports, non-http), rows with a text or sha256 value, captions. Both paths scan
it; every column of every decision row must be equal.
"""

from __future__ import annotations

import random
import socket
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from clearance.core import Permission, Price, Usage
from clearance.matching.exact import IdentifierIndex, IdentifierQuery
from clearance.registry import add_works, init_store
from clearance.registry.identifiers import parse_identifier
from clearance.registry.records import TermsChange
from clearance.scan import scan
from clearance.signals.robots_paths import PatternSet, compile_pattern
from tests.localsite import LocalSite, serve

SEGMENTS = ["img", "photos", "a$b", "a%24b", "x*y", "x%2Ay", "index.html", "p", "Q", "%7Efoo"]
PATTERNS = ["/", "/img/", "/photos", "/*.jpg", "/*.jpg$", "/a$b", "/a%24b", "/x%2Ay", "/p*q",
            "/index.html", "/*?s=", "/Q$", "/~foo", ""]  # fmt: skip
TOKENS = ["GPTBot", "CCBot", "img2dataset", "AI2Bot", "Google-Extended", "*", "Clearance"]


@pytest.fixture(scope="module")
def sites() -> Iterator[list[LocalSite]]:
    with ExitStack() as stack:
        yield [stack.enter_context(serve(LocalSite())) for _ in range(4)]


def _dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _robots(rng: random.Random) -> bytes:
    lines = []
    for _ in range(rng.randint(1, 3)):
        lines += [f"User-agent: {t}" for t in rng.sample(TOKENS, rng.randint(1, 2))]
        for _ in range(rng.randint(0, 4)):
            verb = rng.choice(["Allow", "Disallow", "Disallow", "Content-Usage"])
            pattern = rng.choice(PATTERNS)
            lines.append(
                f"Content-Usage: {pattern} train-ai=n"
                if verb == "Content-Usage"
                else f"{verb}: {pattern}"
            )
        lines.append("")
    return "\n".join(lines).encode()


def _site_files(rng: random.Random, site: LocalSite) -> None:
    site.routes.clear()
    site.routes["/robots.txt"] = (200, {"Content-Type": "text/plain"}, _robots(rng))
    if rng.random() < 0.5:
        rules = "\n".join(
            f"Disallow: {rng.choice(['*.jpg', '/img/', '*.png$', '/p'])}" for _ in "ab"
        )
        site.routes["/ai.txt"] = (200, {}, f"User-agent: *\n{rules}\n".encode())
    if rng.random() < 0.5:
        rules = ",".join(
            f'{{"location": "{rng.choice(PATTERNS) or "/"}", '
            f'"tdm-reservation": {rng.randint(0, 1)}}}'
            for _ in range(rng.randint(1, 3))
        )
        site.routes["/.well-known/tdmrep.json"] = (200, {}, f"[{rules}]".encode())
    if rng.random() < 0.3:
        site.routes["/robots.txt"] = (
            200,
            {},
            site.routes["/robots.txt"][2] + f"\nLicense: {site.origin}/license.xml\n".encode(),  # type: ignore[index]
        )
        content = rng.choice(["/img/", "/", f"{site.origin}/photos/", "/*.jpg$"])
        site.routes["/license.xml"] = (
            200,
            {"Content-Type": "application/rsl+xml"},
            (
                '<rsl xmlns="https://rslstandard.org/rsl"><content url="'
                + content
                + '"><license><permits type="usage">search</permits>'
                '<payment type="use"><amount currency="USD">0.01</amount></payment>'
                "</license></content></rsl>"
            ).encode(),
        )
    if rng.random() < 0.15:
        site.routes["/robots.txt"] = (503, {}, b"")


def _url(rng: random.Random, origins: list[str]) -> str:
    origin = rng.choice(origins)
    path = "/" + "/".join(rng.choice(SEGMENTS) for _ in range(rng.randint(0, 3)))
    if rng.random() < 0.2:
        path += rng.choice([".jpg", ".png", "?s=1", "?", "#frag", "?s=1#x", ".jpg?a=b"])
    url = origin + path
    odd = rng.random()
    if odd < 0.04:
        url = url.replace("http://", "HTTP://")
    elif odd < 0.06:
        url = url.replace("http://", "http://user@")
    elif odd < 0.08:
        url = url + "/caf\u00e9"
    elif odd < 0.09:
        url = "ftp://example.com/x"
    elif odd < 0.10:
        url = "http://127.0.0.1:99999/x"
    elif odd < 0.12:
        url = "  " + url + " "
    return url


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_columnar_agrees_with_per_row(tmp_path: Path, sites: list[LocalSite], seed: int) -> None:
    rng = random.Random(seed)
    for site in sites:
        _site_files(rng, site)
    origins = [s.origin for s in sites] + [
        f"http://localhost:{sites[0].port}",
        f"http://127.0.0.1:{_dead_port()}",
    ]
    db = str(tmp_path / "r.db")
    store = init_store(db)
    try:
        claims = [f"{rng.choice(origins)}/{rng.choice(SEGMENTS)}" for _ in range(3)]
        claims += [f"{rng.choice(origins)}/{rng.choice(SEGMENTS)}/*" for _ in range(3)]
        claims += ["domain:localhost"]
        for i, claim in enumerate(claims):
            perm = rng.choice([Permission.DENY, Permission.ALLOW, Permission.LICENSE])
            price = Price.parse("1", "EUR") if perm is Permission.LICENSE else None
            terms = TermsChange({Usage.TRAIN_AI: perm}, price=price)
            add_works(store, [claim], owner=f"O{i % 3}", terms=terms)
    finally:
        store.close()
    n = 600
    urls = [_url(rng, origins) for _ in range(n)]
    for i in rng.sample(range(n), 20):  # the claimed URLs themselves
        urls[i] = rng.choice(claims).removesuffix("/*").replace("domain:", "http://") + "/"
    text = [("some text" if rng.random() < 0.03 else None) for _ in range(n)]
    sha = [("ab" * 32 if rng.random() < 0.02 else None) for _ in range(n)]
    caption = [f"caption {i}" for i in range(n)]
    table = tmp_path / "t.parquet"
    pq.write_table(pa.table({"url": urls, "text": text, "sha256": sha, "caption": caption}), table)
    common = {"registry": db, "allow_private": True, "workers": 1, "shard_size": 250}
    for mode in ("opt-out", "opt-in"):
        a = scan(table, tmp_path / f"col-{mode}", mode=mode, columnar=True, **common)
        b = scan(table, tmp_path / f"row-{mode}", mode=mode, columnar=False, **common)
        cols = pq.read_table(a.decisions).to_pylist()
        rows = pq.read_table(b.decisions).to_pylist()
        assert len(cols) == len(rows) == n
        for i, (c, r) in enumerate(zip(cols, rows, strict=True)):
            assert c == r, f"row {i} ({urls[i]!r}) differs"
        # the same report, but for the run's own clock (``run.as_of``: two scans, two times)
        assert {**a.report, "run": {**a.report["run"], "as_of": None}} == {
            **b.report,
            "run": {**b.report["run"], "as_of": None},
        }
        assert pq.read_table(tmp_path / f"col-{mode}" / "cleared" / "t.parquet").equals(
            pq.read_table(tmp_path / f"row-{mode}" / "cleared" / "t.parquet")
        )
    assert {r["outcome"] for r in cols} >= {"include", "exclude", "error"}


def test_search_urls_agrees_with_search() -> None:
    rng = random.Random(5)
    hosts = ["a.example", "b.a.example", "c.example", "a.example:8080"]
    pairs = []
    for w in range(1, 40):
        host = rng.choice(hosts)
        kind = rng.random()
        value = (
            f"domain:{host.split(':')[0]}"
            if kind < 0.2
            else f"https://{host}/{rng.choice(SEGMENTS)}" + ("*" if kind < 0.6 else "")
        )
        pairs.append((w, parse_identifier(value)))
    index = IdentifierIndex.build(pairs)
    urls = [f"https://{rng.choice(hosts)}/{rng.choice(SEGMENTS)}/{i}" for i in range(300)]
    urls += [f"https://{h}/{s}" for h in hosts for s in SEGMENTS]
    batch = index.search_urls(urls)
    assert any(batch)
    for url, got in zip(urls, batch, strict=True):
        assert got == index.search(IdentifierQuery(url=url))


def test_pattern_set_agrees_with_each_pattern() -> None:
    rng = random.Random(7)
    patterns = [p for p in PATTERNS if p] + ["/img", "/img/$", "/*", "/p*q$"]
    paths = [
        "/" + "/".join(rng.choice(SEGMENTS) for _ in range(rng.randint(0, 3))) for _ in range(300)
    ]
    paths += ["/img", "/img/", "/pq", "/p/q", "/Q", "/"]
    patterns_set = PatternSet(patterns)
    for path in paths:
        expected = tuple(i for i, p in enumerate(patterns_set.patterns) if compile_pattern(p)(path))
        assert patterns_set.matching(path) == expected, path


def test_report_counts_agree_with_a_row_by_row_count() -> None:
    """``build_report`` counts distinct values; a plain loop over the rows is its twin."""
    import json
    from collections import Counter, defaultdict
    from urllib.parse import urlsplit

    from clearance.scan.outputs import build_report, origin_of

    rng = random.Random(11)
    sources = ["https://a.example/x", "http://B.example:8080/y?q#f", "https://user@c.example/",
               "http://[::1]/z", "http://[bad/", "a.jpg", "name#3", "x://h/p", " http://d.example/",
               "http://e.example/\tp", None]  # fmt: skip
    gone = {"unreachable": {"origin": "http://a.example", "reason": "x"}}
    docs = [
        json.dumps({"works": [{"owner": o, "id": len(o) + k} for k, o in owners], **extra})
        for owners in ([], [(1, "Ann")], [(2, "Ann"), (3, "Ben")])
        for extra in ({}, gone)
    ]
    rows = [
        {
            "item_id": str(i),
            "source": rng.choice(sources),
            "outcome": rng.choice(["include", "exclude", "error", "needs-license"]),
            "reasons": rng.choice(
                [[], ["registry:tdm=deny"], ["robots.txt:train-ai=deny", "registry:train-ai=allow"]]
            ),
            "work_ids": [],
            "evidence": rng.choice(docs),
            "error": None,
        }
        for i in range(400)
    ]
    report = build_report(rows, {"purpose": "train-ai", "mode": "opt-out"})

    def domain(source: str | None) -> str | None:
        if not source or "://" not in source:
            return None
        try:
            return urlsplit(source).hostname
        except ValueError:
            return None

    by_domain: dict[str, Counter[str]] = defaultdict(Counter)
    by_origin: dict[str, Counter[str]] = defaultdict(Counter)
    by_source: Counter[str] = Counter()
    by_permission: dict[str, Counter[str]] = defaultdict(Counter)
    owners: dict[str, Counter[str]] = defaultdict(Counter)
    owner_works: dict[str, set[int]] = defaultdict(set)
    unreachable = 0
    for row in rows:
        host = domain(row["source"])
        if host:
            by_domain[host][row["outcome"]] += 1
        origin = origin_of(row["source"])
        if origin:
            by_origin[origin][row["outcome"]] += 1
        for source in {r.split(":", 1)[0] for r in row["reasons"]}:
            by_source[source] += 1
        for source, said in {(r.split(":", 1)[0], r.rpartition("=")[2]) for r in row["reasons"]}:
            by_permission[source][said] += 1
        doc = json.loads(row["evidence"])
        for owner in {w["owner"] for w in doc["works"]}:
            owners[owner][row["outcome"]] += 1
        for w in doc["works"]:
            owner_works[w["owner"]].add(w["id"])
        unreachable += "unreachable" in doc
    assert report["by_reason_source"] == dict(sorted(by_source.items()))
    assert report["domains"] == len(by_domain)
    assert report["by_domain"] == {d: {"items": sum(c.values()), **c} for d, c in by_domain.items()}
    assert report["by_owner"] == {o: {"items": sum(c.values()), **c} for o, c in owners.items()}
    assert report["unreachable"]["items"] == unreachable
    assert report["origins"] == len(by_origin)
    assert report["by_origin"] == {o: {"items": sum(c.values()), **c} for o, c in by_origin.items()}
    assert report["by_reason_permission"] == {s: dict(c) for s, c in by_permission.items()}
    assert report["owner_works"] == {o: len(ids) for o, ids in owner_works.items()}
    assert report["outcomes"]["include"] == sum(r["outcome"] == "include" for r in rows)

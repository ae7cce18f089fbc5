"""``IdentifierIndex.search_raw_urls`` (the bulk query's vectorised pass) agrees with ``search``
(the per-item path every scan and check takes), URL by URL."""

from __future__ import annotations

import random

from clearance.core.models import Identifier, IdentifierScheme
from clearance.matching.exact import IdentifierIndex, IdentifierQuery
from clearance.registry.identifiers import parse_identifier

HOSTS = ["a.example", "b.a.example", "c.example", "C.Example.", "d.example:8080", "e.example"]
PATHS = ["/", "/x", "/x/y.jpg", "/x/y.jpg?q=1", "/art/one", "/art", "/z#f"]


def _urls(rng: random.Random, n: int) -> list[str]:
    out = []
    for _ in range(n):
        scheme = rng.choice(["http", "https", "HTTPS", "ftp"])
        out.append(f"{scheme}://{rng.choice(HOSTS)}{rng.choice(PATHS)}")
    out += ["not a url", "https://[::1]/", "https://bad host/", "http://x..y/", ""]
    return out


def test_search_urls_agrees_with_search_item_by_item() -> None:
    rng = random.Random(7)
    registered: list[tuple[int, Identifier]] = []
    for work_id, url in enumerate(_urls(rng, 40)[:40], start=1):
        if url.lower().startswith(("http://", "https://")):
            registered.append((work_id, parse_identifier(url)))
    registered += [
        (100, Identifier(IdentifierScheme.DOMAIN, "a.example")),
        (101, Identifier(IdentifierScheme.DOMAIN, "c.example")),
        (102, parse_identifier("https://d.example:8080/art*")),
        (103, parse_identifier("http://e.example/x*")),
        (104, Identifier(IdentifierScheme.SHA256, "0" * 64)),
    ]
    half = len(registered) // 2  # two segments, as a live index grows
    index = IdentifierIndex.build(registered[:half]).with_identifiers(registered[half:])
    queries = _urls(rng, 400)
    bulk = index.search_raw_urls(queries)
    for url, got in zip(queries, bulk, strict=True):
        query = IdentifierQuery(url=url)
        if query.normalised_url() is None:
            assert got is None, url
            continue
        expected = tuple(sorted((m.work_id, m.method) for m in index.search(query)))
        assert got == expected, url
    assert any(got for got in bulk)  # the generated batch does hit registered claims

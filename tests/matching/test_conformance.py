"""Every signal type's index agrees with its brute-force twin (python-threatexchange's rule).

Identifiers, text containment (with the short-text rule), PDQ with dihedrals
and regions: for generated registries and queries, what the index finds (in
one segment or grown over several) is exactly what comparing the query with
every stored record one by one finds.
"""

from __future__ import annotations

import random

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageOps

from clearance.core.models import Identifier, IdentifierScheme
from clearance.fingerprint.regions import regions_of_image
from clearance.fingerprint.text import normalise_text, shingle_hashes
from clearance.matching import exact, image, text
from clearance.matching.exact import IdentifierIndex, IdentifierQuery
from clearance.matching.segments import HammingSegments
from clearance.matching.text import ShingleIndex, TextQuery
from tests.samples import textured_image

HOSTS = ["a.example", "b.a.example", "c.example"]
PATHS = ["/", "/x", "/x/y", "/x/y.jpg", "/z?q=1"]


def _idents() -> st.SearchStrategy[Identifier]:
    url = st.builds(lambda h, p: f"https://{h}{p}", st.sampled_from(HOSTS), st.sampled_from(PATHS))
    return st.one_of(
        url.map(lambda u: Identifier(IdentifierScheme.URL, u)),
        url.map(lambda u: Identifier(IdentifierScheme.URL_PREFIX, u)),
        st.sampled_from(HOSTS).map(lambda h: Identifier(IdentifierScheme.DOMAIN, h)),
        st.sampled_from(["9780306406157", "9781861972712"]).map(
            lambda v: Identifier(IdentifierScheme.ISBN, v)
        ),
        st.sampled_from(["ab" * 32, "cd" * 32]).map(
            lambda v: Identifier(IdentifierScheme.SHA256, v)
        ),
    )


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.integers(1, 6), _idents()), max_size=12),
    st.integers(1, 4),
    st.sampled_from(HOSTS),
    st.sampled_from(PATHS),
    st.sampled_from([None, "ab" * 32]),
)
def test_identifier_index_equals_brute_force(
    registered: list[tuple[int, Identifier]], parts: int, host: str, path: str, digest: str | None
) -> None:
    normalised = [
        (w, Identifier(i.scheme, exact.normalise_url(i.value)))
        if i.scheme in (IdentifierScheme.URL, IdentifierScheme.URL_PREFIX)
        else (w, i)
        for w, i in registered
    ]
    index = IdentifierIndex()
    for k in range(parts):  # grown in several segments
        index = index.with_identifiers(normalised[k::parts])
    query = IdentifierQuery(
        digest,
        f"HTTPS://{host.upper()}{path}",
        (Identifier(IdentifierScheme.ISBN, "9780306406157"),),
    )
    found = {(m.work_id, m.method) for m in index.search(query)}
    truth = set()
    for work_id, ident in normalised:
        m = exact.compare(query, work_id, ident)
        if m is not None:
            truth.add((m.work_id, m.method))
    assert found == truth


VOCAB = [a + b for a in ("ka", "lo", "mi", "ne", "ru") for b in "bdgkl"]


def _words(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(VOCAB) for _ in range(n))


@settings(max_examples=120, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 3))
def test_text_index_equals_brute_force(seed: int, parts: int) -> None:
    rng = random.Random(seed)
    docs = {i: _words(rng, rng.choice([1, 3, 4, 6, 8, 9, 20, 60])) for i in range(1, 9)}
    records = [
        (i, np.unique(shingle_hashes(normalise_text(d).split())).astype("<u8").tobytes())
        for i, d in docs.items()
    ]
    index = ShingleIndex()
    for k in range(parts):
        index = index.with_records(records[k::parts])
    source = docs[rng.choice(list(docs))].split()
    a = rng.randrange(len(source))
    b = rng.randrange(a, len(source)) + 1
    shape = rng.choice(["alone", "inside", "excerpt", "noise"])
    if shape == "alone":
        query = " ".join(source).upper() + "!"
    elif shape == "inside":
        query = f"{_words(rng, 10)} {' '.join(source)} {_words(rng, 10)}"
    elif shape == "excerpt":
        query = f"{_words(rng, 5)} {' '.join(source[a:b])} {_words(rng, 5)}"
    else:
        query = _words(rng, rng.randint(1, 40))
    q = TextQuery.of(query)
    found = {(m.work_id, m.method, m.strong, round(m.score, 6)) for m in index.search(q)}
    truth = set()
    for work_id, data in records:
        m = text.compare(q, work_id, data)
        if m is not None:
            truth.add((m.work_id, m.method, m.strong, round(m.score, 6)))
    assert found == truth


def test_short_texts_follow_the_rule() -> None:
    title = np.unique(shingle_hashes(normalise_text("Ode on a Grecian Urn").split()))
    two = np.unique(shingle_hashes(["love", "story"]))
    index = ShingleIndex.build([(1, title.astype("<u8").tobytes()), (2, two.tobytes())])

    def found(query: str) -> list[tuple[int, str, bool]]:
        return [(m.work_id, m.method, m.strong) for m in index.search(TextQuery.of(query))]

    assert found("ODE ON A GRECIAN URN!") == [(1, "text-short", True)]
    assert found("I read the Ode on a Grecian Urn today") == [(1, "text-short", False)]
    assert found("Love story") == [(2, "text-short", True)]
    assert found("a love story for the ages") == []  # two words inside a text say nothing
    assert found("an ode on a grecian") == []


def _edits(im: Image.Image) -> list[Image.Image]:
    w, h = im.size
    return [
        im,
        im.crop((w // 20, h // 20, w - w // 20, h - h // 20)),
        ImageOps.expand(im, border=w // 6, fill=(0, 0, 0)),
        ImageOps.flip(im),
        im.rotate(3, Image.Resampling.BICUBIC),
        textured_image(999, (320, 240)),
    ]


def test_pdq_and_regions_equal_brute_force() -> None:
    originals = [textured_image(seed, (320, 240)) for seed in (11, 12, 13)]
    pdq_records, region_records = [], []
    for work_id, im in enumerate(originals, 1):
        q = image.ImageQuery.decode(_png(im))
        pdq_records.append((work_id, q.hash.pdq, q.hash.quality))
        region_records.append((work_id, regions_of_image(q.rgb, "registered").to_bytes()))
    ids, codes = image.pdq_codes(pdq_records)
    half = len(ids) // 2
    pdq_index = HammingSegments.build(ids[:half], image.as_codes(codes[:half])).with_codes(
        ids[half:], image.as_codes(codes[half:])
    )
    region_index = image.RegionIndex.build(region_records[:1]).with_records(region_records[1:])
    hits = 0
    for im in originals:
        for edited in _edits(im):
            q = image.ImageQuery.decode(_png(edited))
            found = {(m.work_id, m.distance) for m in image.search_image_pdq(pdq_index, q)}
            truth = {
                (m.work_id, m.distance)
                for w, data, quality in pdq_records
                if (m := image.compare_pdq(q, w, data, quality)) is not None
            }
            assert found == truth
            found = {(m.work_id, m.distance) for m in image.search_regions(region_index, q)}
            truth = {
                (m.work_id, m.distance)
                for w, data in region_records
                if (m := image.compare_regions_of(q, w, data)) is not None
            }
            assert found == truth
            hits += bool(found)
    assert hits >= 10  # crops, pads and rotations are found by regions


def _png(im: Image.Image) -> bytes:
    import io

    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()

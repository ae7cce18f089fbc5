"""TextIndex: finding registered texts inside other texts, and the tokenizer under it."""

from __future__ import annotations

import hashlib
import json
import random
import unicodedata
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clearance.core.errors import (
    ConflictError,
    InputNotFound,
    NotFound,
    RegistryVersionError,
    UnsupportedInput,
)
from clearance.fingerprint import textindex, textindex_arrays
from clearance.fingerprint.text import normalise_text, text_fingerprint, tokenize
from clearance.fingerprint.textindex import (
    FORMAT_VERSION,
    HEADER_FILE,
    Match,
    TextIndex,
    char_span,
    containment,
)

VOCAB = [f"{a}{b}" for a in ("ka", "lo", "mi", "ne", "ru", "ta", "vo") for b in "bdfgklmnprstvz"]


def words(rng: random.Random, n: int) -> list[str]:
    return [rng.choice(VOCAB) + rng.choice(VOCAB) for _ in range(n)]


@pytest.fixture(scope="module")
def corpus() -> dict[int, str]:
    rng = random.Random(42)
    return {i: " ".join(words(rng, rng.randint(120, 400))) for i in range(60)}


@pytest.fixture
def index(corpus: dict[int, str]) -> TextIndex:
    idx = TextIndex()
    idx.add_many(corpus.items())
    return idx


def long_doc(corpus: dict[int, str], min_words: int) -> int:
    return next(i for i, text in corpus.items() if len(text.split()) >= min_words)


def embed(rng: random.Random, passage: str, before: int = 300, after: int = 300) -> tuple[str, int]:
    head = " ".join(words(rng, before)) + " "
    return head + passage + " " + " ".join(words(rng, after)), len(head)


def test_exact_passage_is_found_with_its_offsets(index: TextIndex, corpus: dict[int, str]) -> None:
    doc = corpus[7].split()
    passage = " ".join(doc[20:120])
    query, at = embed(random.Random(1), passage)
    [match] = index.query(query)
    assert match.id == 7
    assert match.span == (at, at + len(passage))
    assert match.registered_words == (20, 120)
    assert match.span_words == 100
    assert match.matched_ngrams == 96
    assert match.containment == pytest.approx(96 / (len(doc) - 4))
    assert match.containment == pytest.approx(containment(corpus[7], query))
    start, end = char_span(corpus[7], match.registered_words)
    assert corpus[7][start:end] == passage


def test_whole_work_copied_has_full_containment(index: TextIndex, corpus: dict[int, str]) -> None:
    query, _ = embed(random.Random(2), corpus[3])
    [match] = index.query(query)
    assert (match.id, match.containment) == (3, 1.0)
    assert match.span_words == len(corpus[3].split())


def test_edited_passage_stays_one_span(index: TextIndex, corpus: dict[int, str]) -> None:
    rng = random.Random(3)
    source = long_doc(corpus, 300)
    doc = corpus[source].split()[:300]
    edited = [w if i % 10 != 4 else rng.choice(VOCAB) for i, w in enumerate(doc)]
    query, at = embed(rng, " ".join(edited))
    [match] = index.query(query)
    assert match.id == source
    assert match.span_words >= 290
    assert match.span[0] - at < 40 and match.containment > 0.3


def test_inserted_and_deleted_words_join_neighbouring_diagonals(
    index: TextIndex, corpus: dict[int, str]
) -> None:
    source = long_doc(corpus, 240)
    doc = corpus[source].split()[:240]
    edited = [*doc[:60], "extra", "words", *doc[60:150], *doc[153:]]
    query, _ = embed(random.Random(4), " ".join(edited))
    [match] = index.query(query)
    assert match.id == source
    assert match.registered_words == (0, 240)


def test_unrelated_text_and_scattered_short_quotes_do_not_match(
    index: TextIndex, corpus: dict[int, str]
) -> None:
    rng = random.Random(5)
    assert index.query(" ".join(words(rng, 2000))) == []
    quotes = [" ".join(corpus[i].split()[10:18]) for i in range(10)]
    assert index.query(" filler ".join(quotes)) == []
    assert index.query(" filler ".join(quotes), min_span_words=8)


def test_thresholds(index: TextIndex, corpus: dict[int, str]) -> None:
    passage = " ".join(corpus[5].split()[:60])
    query, _ = embed(random.Random(6), passage)
    assert [m.id for m in index.query(query)] == [5]
    assert index.query(query, min_span_words=61) == []
    share = index.query(query)[0].containment
    assert index.query(query, min_containment=share + 0.01) == []


def test_results_sorted_by_containment(index: TextIndex, corpus: dict[int, str]) -> None:
    query = " ".join(corpus[1].split()[:80]) + " and " + corpus[2] + " and " + corpus[4]
    found = index.query(query)
    assert {m.id for m in found} == {1, 2, 4}
    assert [m.containment for m in found] == sorted((m.containment for m in found), reverse=True)


def test_short_texts() -> None:
    idx = TextIndex()
    idx.add_many([("haiku", "Old pond, frog jumps"), ("one", "Hello")])
    idx.add("long", " ".join(words(random.Random(7), 100)))
    query = "An old pond; a frog. Old pond... FROG JUMPS in!"
    [match] = idx.query(query)
    assert match.id == "haiku" and match.containment == 1.0 and match.span_words == 4
    assert query[match.span[0] : match.span[1]] == "Old pond... FROG JUMPS"
    assert [m.id for m in idx.query("hello")] == ["one"]
    assert idx.query("frog jumps") == []
    assert idx.query("x") == []


def test_empty_text() -> None:
    idx = TextIndex()
    assert idx.query("anything at all") == []
    idx.add("a", "some words here to index")
    assert idx.query("") == []
    assert idx.query(" \n\t ... !!! ") == []
    with pytest.raises(UnsupportedInput, match="'b' has no words"):
        idx.add("b", "")
    with pytest.raises(UnsupportedInput):
        idx.add_many([("c", "fine text"), ("d", " -- ... ")])
    assert len(idx) == 1 and "c" not in idx


def test_folding_of_case_accents_width_and_punctuation() -> None:
    registered = "Crème brûlée, the ﬁnest dessert: naïve CAFÉ owners serve it daily " * 8
    idx = TextIndex()
    idx.add("recipe", registered)
    query = (
        "Intro. "
        + "CRÈME BRÛLÉE the finest — dessert; Naïve café owners! serve it daily " * 8
        + " Outro."
    )
    [match] = idx.query(query)
    assert match.id == "recipe" and match.containment == 1.0
    assert query[match.span[0] : match.span[0] + 12] == "CRÈME BRÛLÉE"
    assert query[: match.span[1]].endswith("daily")
    width = "Ｃｒèｍｅ ｂｒûｌéｅ the ﬁnest dessert naive cafe"
    assert normalise_text(width).startswith("crème brûlée the finest")


def test_span_offsets_follow_the_original_characters() -> None:
    text = "ＡＢＣ  ﬁne,e\u0301te\u0301! Straße ½ ｶﾞ 가\u11a8"
    tokens = tokenize(text)
    pieces = [text[a:b] for a, b in zip(tokens.starts, tokens.ends, strict=True)]
    assert tokens.words == ("abc", "fine", "été", "strasse", "1", "2", "ガ", "각")
    assert pieces == ["ＡＢＣ", "ﬁne", "e\u0301te\u0301", "Straße", "½", "½", "ｶﾞ", "가\u11a8"]


def test_save_and_load_round_trip(index: TextIndex, corpus: dict[int, str], tmp_path: Path) -> None:
    index.add("late", "a text added after the batch " * 20)
    index.remove(9)
    query, _ = embed(random.Random(8), corpus[20])
    expected = index.query(query)
    index.save(tmp_path / "idx")
    header = json.loads((tmp_path / "idx" / HEADER_FILE).read_text())
    assert header["format_version"] == FORMAT_VERSION and header["documents"] == len(index)
    assert index.nbytes > 16 * header["entries"]
    for mmap in (True, False):
        loaded = TextIndex.load(tmp_path / "idx", mmap=mmap)
        assert len(loaded) == len(index) == 60
        assert loaded.query(query) == expected
        assert [m.id for m in loaded.query("a text added after the batch " * 20)] == ["late"]
        assert 9 not in loaded and loaded.query(corpus[9]) == []
    loaded = TextIndex.load(tmp_path / "idx")
    loaded.add(9, corpus[9])
    loaded.save(tmp_path / "idx")  # overwrite while the old arrays are memory-mapped
    assert [m.id for m in TextIndex.load(tmp_path / "idx").query(corpus[9])] == [9]


def test_empty_index_round_trip(tmp_path: Path) -> None:
    TextIndex().save(tmp_path)
    loaded = TextIndex.load(tmp_path)
    assert len(loaded) == 0 and loaded.query("nothing here") == []


def test_load_refuses_bad_folders(index: TextIndex, tmp_path: Path) -> None:
    with pytest.raises(InputNotFound):
        TextIndex.load(tmp_path / "missing")
    index.save(tmp_path)
    header_path = tmp_path / HEADER_FILE
    header = json.loads(header_path.read_text())
    header_path.write_text(json.dumps({**header, "format_version": FORMAT_VERSION + 1}))
    with pytest.raises(RegistryVersionError):
        TextIndex.load(tmp_path)
    header_path.write_text(json.dumps({**header, "format": "something else"}))
    with pytest.raises(UnsupportedInput):
        TextIndex.load(tmp_path)
    header_path.write_text(json.dumps({**header, "word_hash": "xxh3"}))
    with pytest.raises(UnsupportedInput, match="word_hash"):
        TextIndex.load(tmp_path)
    header_path.write_text("{not json")
    with pytest.raises(UnsupportedInput):
        TextIndex.load(tmp_path)
    header_path.write_text(json.dumps({**header, "entries": header["entries"] + 1}))
    with pytest.raises(UnsupportedInput, match="expected"):
        TextIndex.load(tmp_path)
    header_path.write_text(json.dumps({**header, "ids": [True] * header["documents"]}))
    with pytest.raises(UnsupportedInput):
        TextIndex.load(tmp_path)
    (tmp_path / "refs.npy").write_bytes(b"garbage")
    header_path.write_text(json.dumps(header))
    with pytest.raises(UnsupportedInput):
        TextIndex.load(tmp_path)


def test_remove_and_ids(index: TextIndex, corpus: dict[int, str]) -> None:
    assert len(index) == 60 and 4 in index
    index.remove(4)
    assert len(index) == 59 and 4 not in index
    assert index.query(corpus[4]) == []
    with pytest.raises(NotFound):
        index.remove(4)
    with pytest.raises(ConflictError):
        index.add(5, "taken")
    with pytest.raises(ConflictError):
        index.add_many([("new", "fine words"), ("new", "again")])
    assert "new" not in index
    with pytest.raises(TypeError):
        index.add(1.5, "float ids are refused")  # type: ignore[arg-type]
    index.add(4, corpus[4])
    assert [m.id for m in index.query(corpus[4])] == [4]


def test_incremental_adds_merge_like_a_batch(
    corpus: dict[int, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(textindex, "_PENDING_ENTRIES", 500)
    monkeypatch.setattr(textindex, "_DELTA_MIN_ENTRIES", 2000)
    rng = random.Random(9)
    batch = TextIndex()
    batch.add_many(corpus.items())
    single = TextIndex()
    for doc, text in corpus.items():
        single.add(doc, text)
        if doc % 7 == 0:
            single.remove(doc)
            single.add(doc, text)
        if doc % 5 == 0:
            passage = " ".join(corpus[rng.randrange(doc + 1)].split()[:80])
            single.query(passage)
    for doc in (0, 13, 33, 59):
        query, _ = embed(rng, " ".join(corpus[doc].split()[30:200]))
        assert single.query(query) == batch.query(query)
        assert single.query(query)[0].id == doc


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    docs=st.lists(st.lists(st.sampled_from(VOCAB[:12]), min_size=1, max_size=30), max_size=8),
    query=st.lists(st.sampled_from(VOCAB[:12]), max_size=60),
    n=st.integers(2, 6),
)
def test_containment_agrees_with_brute_force(
    docs: list[list[str]], query: list[str], n: int
) -> None:
    idx = TextIndex(ngram_words=n, max_postings=10**6)
    idx.add_many((i, " ".join(d)) for i, d in enumerate(docs))
    text = " ".join(query)
    found = {m.id: m for m in idx.query(text, min_span_words=0)}
    for i, d in enumerate(docs):
        expected = containment(" ".join(d), text, ngram_words=n)
        assert (found[i].containment if i in found else 0.0) == pytest.approx(expected)
    for m in found.values():
        first, last = m.registered_words
        assert 0 <= first < last <= len(docs[int(m.id)]) and m.span_words == last - first
        assert 0 <= m.span[0] < m.span[1] <= len(text)


def test_text_fingerprint_format_is_unchanged() -> None:
    """The registry stores these bytes: the refactor of text.py must not move them."""
    text = (
        "Crème Brûlée — the ﬁnest dessert! ΣΊΣΥΦΟΣ, Straße ½ ｶﾞ 가\u11a8. " * 3
        + "The quick brown fox jumps over the lazy dog, again and again."
    )
    fp = text_fingerprint(text)
    digest = hashlib.sha256(fp.shingle_bytes() + fp.minhash_bytes()).hexdigest()
    assert (digest, fp.word_count) == (
        "195b4dd3aad89800913dcac2e7c49144412634a60682762d9233d3b317519370",
        45,
    )


def _reference_normalise(text: str) -> str:
    """normalise_text as first written (one Python call per character)."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    folded = "".join(
        " " if unicodedata.category(ch)[0] in ("P", "S", "C", "Z") else ch for ch in folded
    )
    return " ".join(folded.split())


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_tokenize_matches_normalise_text(text: str) -> None:
    expected = _reference_normalise(text)
    assert normalise_text(text) == expected
    tokens = tokenize(text)
    assert list(tokens.words) == (expected.split(" ") if expected else [])
    assert len(tokens.starts) == len(tokens.ends) == len(tokens.words)
    assert all(0 <= a < b <= len(text) for a, b in zip(tokens.starts, tokens.ends, strict=True))
    assert list(tokens.starts) == sorted(tokens.starts)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(), min_size=1, max_size=5), st.text())
def test_add_and_query_never_crash(texts: list[str], query: str) -> None:
    idx = TextIndex(ngram_words=3)
    for i, text in enumerate(texts):
        try:
            idx.add(i, text)
        except UnsupportedInput:
            assert not normalise_text(text)
    for m in idx.query(query + " " + " ".join(texts), min_span_words=1):
        assert isinstance(m, Match) and 0 < m.containment <= 1
        assert 0 <= m.span[0] < m.span[1]


def test_sort_u64_matches_numpy() -> None:
    rng = np.random.default_rng(0)
    keys = rng.integers(0, 2**64 - 1, 50_000, dtype=np.uint64, endpoint=True)
    keys[:20_000] = keys[20_000:40_000]  # ties
    keys[:100] = keys[:100] & np.uint64(0xFFFF)  # equal high bits, different low bits
    ordered, perm = textindex_arrays._sort_u64(keys)
    assert np.array_equal(ordered, np.sort(keys))
    assert np.array_equal(keys[perm], ordered)
    assert np.array_equal(np.sort(perm), np.arange(len(keys)))


def test_char_span_checks_its_range() -> None:
    assert char_span("Hello, big world", (1, 3)) == (7, 16)
    with pytest.raises(ValueError):
        char_span("two words", (1, 3))


def test_bucket_directory_bounds_match_searchsorted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(textindex_arrays, "_DIRECTORY_MIN_ENTRIES", 16)
    monkeypatch.setattr(textindex_arrays, "_SMALL_BUCKET", 4)
    rng = np.random.default_rng(1)
    keys = rng.integers(0, 2**64 - 1, 5_000, dtype=np.uint64, endpoint=True)
    keys[:300] = keys[300]  # one boilerplate key: a big bucket
    keys = np.sort(keys)
    seg = textindex_arrays._Segment(keys, np.zeros(len(keys), np.uint64))
    needles = np.concatenate([keys[::7], rng.integers(0, 2**63, 500, dtype=np.uint64)])
    needles = np.append(needles, [np.uint64(0), np.uint64(2**64 - 1)])
    left, right = seg.bounds(needles)
    assert np.array_equal(left, np.searchsorted(keys, needles, "left"))
    assert np.array_equal(right, np.searchsorted(keys, needles, "right"))

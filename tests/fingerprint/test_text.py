"""Text fingerprints: normalisation, tokens with their original spans, and the stored format."""

from __future__ import annotations

import hashlib
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from clearance.fingerprint.text import normalise_text, text_fingerprint, tokenize


def test_folding_of_case_accents_width_and_punctuation() -> None:
    query = "CRÈME BRÛLÉE the finest — dessert; Naïve café owners! serve it daily"
    assert normalise_text(query) == normalise_text(
        "Crème brûlée, the ﬁnest dessert: naïve CAFÉ owners serve it daily"
    )
    width = "Ｃｒèｍｅ ｂｒûｌéｅ the ﬁnest dessert naive cafe"
    assert normalise_text(width).startswith("crème brûlée the finest")


def test_span_offsets_follow_the_original_characters() -> None:
    text = "ＡＢＣ  ﬁne,e\u0301te\u0301! Straße ½ ｶﾞ 가\u11a8"
    tokens = tokenize(text)
    pieces = [text[a:b] for a, b in zip(tokens.starts, tokens.ends, strict=True)]
    assert tokens.words == ("abc", "fine", "été", "strasse", "1", "2", "ガ", "각")
    assert pieces == ["ＡＢＣ", "ﬁne", "e\u0301te\u0301", "Straße", "½", "½", "ｶﾞ", "가\u11a8"]


def test_text_fingerprint_format_is_unchanged() -> None:
    """The registry stores these bytes: no refactor may move them."""
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

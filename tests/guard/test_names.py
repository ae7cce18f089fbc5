"""Character names in prompts: case, diacritics, spacing, obfuscation, word boundaries."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clearance.guard import NameMatcher, fold_name


@pytest.fixture
def matcher() -> NameMatcher:
    return NameMatcher({1: ["SpongeBob SquarePants", "SpongeBob"], 2: ["Pikachu"], 3: ["Bob"]})


@pytest.mark.parametrize(
    "prompt",
    [
        "draw spongebob at the beach",
        "Draw SPONGEBOB",
        "a picture of Sponge Bob",
        "sponge-bob!",
        "Sp0ngeB0b eating",
        "spöngebob",
        "S p o n g e b o b"[0:0] + "Spongebob_SquarePants",
        "sp0nge b0b squarepants",
        "5P0NG3B0B",
    ],
)
def test_obfuscated_forms_are_found(matcher: NameMatcher, prompt: str) -> None:
    keys = {m.key for m in matcher.find(prompt)}
    assert 1 in keys, prompt


def test_spans_point_at_the_original_text(matcher: NameMatcher) -> None:
    text = "Please paint Sp0nge Bob and pikachu."
    matches = {(m.key, m.text) for m in matcher.find(text)}
    assert (1, "Sp0nge Bob") in matches and (2, "pikachu") in matches
    for m in matcher.find(text):
        assert text[m.span[0] : m.span[1]] == m.text


@pytest.mark.parametrize("prompt", ["a bobcat in the snow", "kebob stand", "sponge cake", "pika"])
def test_word_boundaries_and_unrelated_text(matcher: NameMatcher, prompt: str) -> None:
    assert matcher.find(prompt) == []


def test_short_aliases_are_refused() -> None:
    with pytest.raises(ValueError):
        NameMatcher({1: ["Al"]})


def test_fold_name() -> None:
    assert fold_name("Pokémon") == fold_name("POKEMON") == fold_name("P0k3m0n")


@given(st.text(max_size=300))
def test_never_crashes(text: str) -> None:
    NameMatcher({1: ["SpongeBob"], 2: ["Ash Ketchum"]}).find(text)

"""C2PA / CAWG training-mining: real signed files, ingredients, corrupt input, missing package."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clearance.core import InputNotFound, UnsupportedInput
from clearance.signals.c2pa import (
    C2paTrainingMining,
    TrainingUse,
    parse_manifest_store,
    read_c2pa,
)

CORPUS = Path(__file__).parent.parent / "corpus" / "c2pa"
NOT = TrainingUse.NOT_ALLOWED


def uses(r: C2paTrainingMining) -> dict[str, TrainingUse | None]:
    return {e.key: e.use for e in r.entries}


def test_cawg_jpeg() -> None:
    r = read_c2pa((CORPUS / "c2pa_C_with_CAWG_data.jpg").read_bytes())
    assert r.active_manifest == "urn:c2pa:822f2ec0-ef27-4d95-88b4-74586c12873d"
    assert uses(r) == {"cawg.ai_inference": NOT, "cawg.ai_generative_training": NOT}
    assert {e.label for e in r.entries} == {"cawg.training-mining"}
    assert r.use_of("ai_inference") is NOT
    assert r.use_of("ai_training") is None
    assert r.ingredient_entries == ()
    assert r.validation_state == "Valid"
    assert r.warnings == ()


def test_cawg_wav_all_four() -> None:
    r = read_c2pa(CORPUS / "c2pa_sample1_signed.wav")
    assert uses(r) == {
        "cawg.ai_training": NOT,
        "cawg.data_mining": NOT,
        "cawg.ai_inference": NOT,
        "cawg.ai_generative_training": NOT,
    }


def test_legacy_c2pa_png() -> None:
    r = read_c2pa(str(CORPUS / "datadiligence_sample_c2pa.png"))
    assert r.active_manifest == "urn:uuid:8368fc8a-2601-45ec-8b3c-fceaadc5ab8f"
    assert uses(r) == {
        "c2pa.ai_generative_training": NOT,
        "c2pa.ai_inference": NOT,
        "c2pa.ai_training": NOT,
        "c2pa.data_mining": NOT,
    }
    assert {e.label for e in r.entries} == {"c2pa.training-mining"}
    assert {e.kind for e in r.entries} == {
        "data_mining",
        "ai_inference",
        "ai_generative_training",
        "ai_training",
    }


def test_manifest_without_training_mining() -> None:
    r = read_c2pa((CORPUS / "c2pa_C.jpg").read_bytes())
    assert r.has_manifest
    assert r.entries == ()
    assert r.warnings == ()


def test_no_manifest_is_empty() -> None:
    r = read_c2pa((CORPUS / "c2pa_A_no_manifest.jpg").read_bytes())
    assert r == C2paTrainingMining()
    assert not r.has_manifest


def test_bytes_and_path_agree() -> None:
    for path in CORPUS.glob("*.*"):
        if path.suffix in (".jpg", ".png", ".wav"):
            assert read_c2pa(path) == read_c2pa(path.read_bytes()), path.name


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"garbage that is no media file",
        (CORPUS / "c2pa_C_with_CAWG_data.jpg").read_bytes()[:4000],
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 100,
    ],
    ids=["empty", "garbage", "truncated-jpeg", "bad-png"],
)
def test_corrupt_input_warns(data: bytes) -> None:
    r = read_c2pa(data)
    assert r.entries == ()
    assert not r.has_manifest


def test_truncated_jpeg_warns() -> None:
    r = read_c2pa((CORPUS / "c2pa_C_with_CAWG_data.jpg").read_bytes()[:4000])
    assert r.warnings


def test_missing_path() -> None:
    with pytest.raises(InputNotFound):
        read_c2pa(CORPUS / "no-such-file.jpg")


def test_importing_the_signals_stays_light() -> None:
    code = (
        "import sys, clearance.signals.mapping, clearance.signals.c2pa; "
        "sys.exit('c2pa' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_missing_package_gives_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "c2pa", None)
    with pytest.raises(UnsupportedInput) as info:
        read_c2pa(b"anything")
    assert "c2pa-python" in str(info.value)
    assert info.value.hint == "pip install c2pa-python"


# --- manifest-store JSON (pure) ---


def _store() -> dict[str, object]:
    return {
        "active_manifest": "urn:active",
        "validation_state": "Valid",
        "manifests": {
            "urn:active": {
                "assertions": [
                    {
                        "label": "cawg.training-mining",
                        "data": {
                            "entries": {
                                "cawg.ai_training": {
                                    "use": "constrained",
                                    "constraint_info": "only with a licence from https://x",
                                },
                                "cawg.data_mining": {"use": "allowed"},
                            }
                        },
                    },
                    {
                        "label": "c2pa.training-mining__1",
                        "data": {"entries": {"c2pa.ai_inference": {"use": "notAllowed"}}},
                    },
                    {"label": "c2pa.actions.v2", "data": {"actions": []}},
                ],
                "ingredients": [{"title": "source.jpg", "active_manifest": "urn:source"}],
            },
            "urn:source": {
                "assertions": [
                    {
                        "label": "c2pa.training-mining",
                        "data": {"entries": {"c2pa.ai_generative_training": {"use": "notAllowed"}}},
                    }
                ]
            },
        },
    }


def test_active_and_ingredients_are_kept_apart() -> None:
    r = parse_manifest_store(json.dumps(_store()))
    assert uses(r) == {
        "cawg.ai_training": TrainingUse.CONSTRAINED,
        "cawg.data_mining": TrainingUse.ALLOWED,
        "c2pa.ai_inference": NOT,
    }
    (constrained,) = [e for e in r.entries if e.use is TrainingUse.CONSTRAINED]
    assert constrained.constraint_info == "only with a licence from https://x"
    assert constrained.manifest == "urn:active"
    (ing,) = r.ingredient_entries
    assert (ing.key, ing.use, ing.manifest) == ("c2pa.ai_generative_training", NOT, "urn:source")
    assert r.use_of("ai_generative_training") is None  # an ingredient does not decide
    assert r.warnings == ()


def test_mapping_input_and_conflicting_statements() -> None:
    store = _store()
    active = store["manifests"]["urn:active"]  # type: ignore[index]
    active["assertions"].append(
        {
            "label": "cawg.training-mining",
            "data": {"entries": {"cawg.data_mining": {"use": "notAllowed"}}},
        }
    )
    r = parse_manifest_store(store)
    assert r.use_of("data_mining") is NOT


def test_lenient_values_warn() -> None:
    store = {
        "active_manifest": "m",
        "validation_state": "Invalid",
        "manifests": {
            "m": {
                "assertions": [
                    {
                        "label": "cawg.training-mining",
                        "data": {
                            "entries": {
                                "cawg.ai_training": {"use": "not_allowed"},
                                "ai_inference": "allowed",
                                "cawg.ai_teleport": {"use": "allowed"},
                                "cawg.data_mining": {"use": "perhaps"},
                            }
                        },
                    },
                    {"label": "cawg.training-mining", "data": {"entries": []}},
                ]
            }
        },
    }
    r = parse_manifest_store(store)
    assert uses(r) == {
        "cawg.ai_training": NOT,
        "ai_inference": TrainingUse.ALLOWED,
        "cawg.ai_teleport": TrainingUse.ALLOWED,
        "cawg.data_mining": None,
    }
    teleport = next(e for e in r.entries if e.key == "cawg.ai_teleport")
    assert teleport.kind is None
    text = " ".join(r.warnings)
    for needle in ("not_allowed", "prefix", "ai_teleport", "perhaps", "entries", "validate"):
        assert needle in text


@pytest.mark.parametrize("text", ["", "[]", "null", "{", '{"manifests": 5}', '"x"'])
def test_bad_store_json(text: str) -> None:
    r = parse_manifest_store(text)
    assert r.entries == ()


@settings(max_examples=200, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=10),
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(
                st.sampled_from(
                    [
                        "active_manifest",
                        "manifests",
                        "assertions",
                        "label",
                        "data",
                        "entries",
                        "use",
                        "cawg.training-mining",
                        "m",
                        "cawg.ai_training",
                    ]
                ),
                inner,
                max_size=4,
            )
        ),
        max_leaves=25,
    )
)
def test_store_parser_never_raises(doc: object) -> None:
    parse_manifest_store(json.dumps(doc))


@settings(max_examples=30, deadline=None)
@given(st.binary(max_size=600))
def test_reader_never_raises_on_bytes(data: bytes) -> None:
    read_c2pa(data)

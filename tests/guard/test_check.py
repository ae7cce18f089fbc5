"""The guard end to end: characters in prompts and images, passages in texts, verdicts by terms."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from clearance.cli import main
from clearance.core import Permission, Price, Usage
from clearance.guard import GuardIndex, check
from clearance.registry import SqlStore, TermsChange, add_works, init_store
from clearance.registry.characters import add_character
from tests.samples import textured_image

LYRIC = (
    "under the harbour lights we sang until the morning came and every wave that broke "
    "the silence seemed to call your name so we walked along the water where the gulls "
    "were flying low and the lanterns of the fishing boats were swaying to and fro"
)
FILLER = (
    "The model continues with an ordinary paragraph about weather, trains, cooking and "
    "gardening, none of which comes from any registered work at all. "
) * 6


@pytest.fixture
def guarded(tmp_path: Path) -> tuple[SqlStore, GuardIndex, Path]:
    store = init_store(str(tmp_path / "r.db"))
    refs = tmp_path / "refs"
    refs.mkdir()
    textured_image(51, (480, 360)).save(refs / "hero.png")
    add_character(
        store,
        "SpongeBob SquarePants",
        owner="Studio",
        aliases=["SpongeBob"],
        images=refs,
        terms=TermsChange({Usage.OUTPUT: Permission.DENY}),
    )
    (tmp_path / "lyric.txt").write_text(LYRIC, encoding="utf-8")
    add_works(
        store,
        [str(tmp_path / "lyric.txt")],
        owner="Ben",
        terms=TermsChange(
            {Usage.OUTPUT: Permission.LICENSE}, price=Price.parse("0.10", "EUR", "item")
        ),
    )
    textured_image(52, (400, 300)).save(tmp_path / "free.png")
    add_works(
        store,
        [str(tmp_path / "free.png")],
        owner="Cleo",
        terms=TermsChange({Usage.OUTPUT: Permission.ALLOW}),
    )
    yield store, GuardIndex.from_store(store), tmp_path
    store.close()


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


@pytest.mark.parametrize(
    "prompt", ["draw SpongeBob surfing", "Sp0ngeB0b at night", "a sponge bob squarepants poster"]
)
def test_character_named_in_prompt_is_blocked(
    guarded: tuple[SqlStore, GuardIndex, Path], prompt: str
) -> None:
    _, index, _ = guarded
    v = check(index, prompt=prompt)
    assert v.verdict == "block" and v.matches[0].method == "alias" and "alias" in v.checks_run


def test_reference_art_reproduced_is_blocked(guarded: tuple[SqlStore, GuardIndex, Path]) -> None:
    _, index, _ = guarded
    ref = textured_image(51, (480, 360))
    w, h = ref.size
    variants = {
        "resized": ref.resize((240, 180)),
        "cropped": ref.crop((int(w * 0.05), int(h * 0.05), int(w * 0.95), int(h * 0.95))),
        "recoloured": Image.eval(ref, lambda v: min(255, int(v * 0.85) + 20)),
    }
    for name, img in variants.items():
        v = check(index, _png(img), label=name)
        assert v.verdict == "block", (name, v.to_dict())
        assert {m.method for m in v.matches} & {"pdq", "region"}


def test_unrelated_outputs_are_allowed(guarded: tuple[SqlStore, GuardIndex, Path]) -> None:
    _, index, _ = guarded
    other = textured_image(77, (400, 300))
    draw = ImageDraw.Draw(other)
    draw.rectangle((10, 10, 100, 60), fill=(255, 0, 0))
    assert check(index, _png(other), prompt="a red box on a pattern").verdict == "allow"
    assert check(index, text=FILLER, prompt="write about gardens").verdict == "allow"


def test_allowed_work_is_allowed_with_attribution(
    guarded: tuple[SqlStore, GuardIndex, Path],
) -> None:
    _, index, tmp = guarded
    v = check(index, (tmp / "free.png").read_bytes())
    assert v.verdict == "allow" and v.matches and "attribution" in v.reasons[0]


def test_passage_inside_longer_text_is_blocked_with_span(
    guarded: tuple[SqlStore, GuardIndex, Path],
) -> None:
    _, index, _ = guarded
    words = LYRIC.split()
    words[5] = "SANG"  # case and a light edit
    words[20] = "altered"
    output = FILLER + " ".join(words) + ". " + FILLER
    v = check(index, text=output)
    assert v.verdict == "block"
    (m,) = [m for m in v.matches if m.method == "text-containment"]
    start, end = m.span  # type: ignore[misc]
    assert FILLER.strip() not in output[start:end]
    assert output[start:end].lower().startswith("under the harbour")
    assert "licence" in " ".join(v.reasons) and "0.10" in " ".join(v.reasons)


def test_bad_inputs_are_user_errors(guarded: tuple[SqlStore, GuardIndex, Path]) -> None:
    from clearance.core import UnsupportedInput, UserError

    _, index, _ = guarded
    with pytest.raises(UserError):
        check(index, text="   ")
    with pytest.raises(UserError):
        check(index, text="x" * 2_000_001)
    with pytest.raises(UnsupportedInput):
        check(index, b"GIF89a not really")
    with pytest.raises(UserError):
        check(index)


def test_cli_check_json(
    guarded: tuple[SqlStore, GuardIndex, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, _, tmp = guarded
    reg = str(tmp / "r.db")
    img = tmp / "out.png"
    textured_image(51, (480, 360)).resize((300, 225)).save(img)
    code = main(["check", str(img), "--prompt", "a yellow sponge", "--registry", reg, "--json"])
    assert code == 4  # blocked: a shell `if` or a CI step can gate on it
    (doc,) = json.loads(capsys.readouterr().out)
    assert doc["verdict"] == "block" and doc["input"] == str(img)
    m = doc["matches"][0]
    assert set(m) >= {"work_id", "owner", "kind", "method", "score", "distance", "span"}
    assert m["kind"] == "character" and m["owner"] == "Studio"
    assert isinstance(doc["latency_ms"], float) and "pdq" in doc["checks_run"]
    bad = tmp / "fake.png"
    bad.write_bytes(b"not an image")
    assert main(["check", str(bad), "--registry", reg]) == 2

"""The guard's embedding check: art composited onto another background, with a test model."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from PIL import Image

from clearance.cli import main
from clearance.core import Permission, Usage
from clearance.fingerprint.embedding import OnnxImageEmbedder, embedding_algo
from clearance.guard import GuardIndex, check, check_pdq
from clearance.guard.check import NO_EMBEDDER
from clearance.registry import SqlStore, TermsChange, add_works, init_store
from clearance.registry.characters import add_character
from clearance.scan import scan
from tests.embedmodel import (
    character_art,
    composite,
    measure_rates,
    unrelated_image,
    write_tiny_model,
)

HERO = 11


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def embedder(tmp_path_factory: pytest.TempPathFactory) -> OnnxImageEmbedder:
    path = write_tiny_model(tmp_path_factory.mktemp("model") / "tiny.onnx")
    return OnnxImageEmbedder.from_path(path, threads=1)


@pytest.fixture
def guarded(tmp_path: Path, embedder: OnnxImageEmbedder) -> tuple[SqlStore, GuardIndex, Path]:
    store = init_store(str(tmp_path / "r.db"))
    refs = tmp_path / "refs"
    refs.mkdir()
    character_art(HERO).save(refs / "hero.png")
    character_art(HERO + 1).save(refs / "hero-side.png")
    add_character(
        store,
        "Captain Blob",
        owner="Studio",
        images=refs,
        terms=TermsChange({Usage.OUTPUT: Permission.DENY}),
        embedder=embedder,
    )
    character_art(HERO + 2).save(tmp_path / "poster.png")
    add_works(
        store,
        [str(tmp_path / "poster.png")],
        owner="Gallery",
        terms=TermsChange({Usage.OUTPUT: Permission.DENY}),
        embedder=embedder,
    )
    yield store, GuardIndex.from_store(store, embedder), tmp_path
    store.close()


def test_vectors_are_stored_per_reference_image(
    guarded: tuple[SqlStore, GuardIndex, Path], embedder: OnnxImageEmbedder
) -> None:
    store, index, _ = guarded
    rows = list(store.iter_fingerprints(embedding_algo(embedder.model_id)))
    assert len(rows) == 3 and all(len(r.data) == 4 * embedder.dim for _, r in rows)
    assert all(r.format_version == 1 for _, r in rows)
    assert index.index.embeddings.vectors.shape == (3, embedder.dim)
    assert index.index.embeddings.model_id == embedder.model_id


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_composited_art_is_blocked_by_embedding_only(
    guarded: tuple[SqlStore, GuardIndex, Path], embedder: OnnxImageEmbedder, seed: int
) -> None:
    _, index, _ = guarded
    out = _png(composite(character_art(HERO), seed))  # half the side, anywhere, on noise/photo
    hashes_only = check(index, out)
    assert hashes_only.verdict == "allow" and not hashes_only.matches  # PDQ and regions miss it
    assert NO_EMBEDDER in hashes_only.reasons
    v = check(index, out, embedder=embedder)
    assert v.verdict == "block", v.to_dict()
    assert v.checks_run == ("pdq", "region", "embedding")
    (m,) = v.matches
    assert m.method == "embedding" and m.kind == "character" and m.score >= 0.9
    assert m.distance is None and v.to_dict()["matches"][0]["method"] == "embedding"


def test_the_scan_finds_composites_as_the_guard_does(
    guarded: tuple[SqlStore, GuardIndex, Path], embedder: OnnxImageEmbedder
) -> None:
    """``--match embedding`` runs the guard's cascade in the scan: same work, same answer."""
    store, index, tmp = guarded
    items = tmp / "items"
    items.mkdir()
    for seed in (1, 2):
        (items / f"composite{seed}.png").write_bytes(_png(composite(character_art(HERO), seed)))
    (items / "unrelated.png").write_bytes(_png(unrelated_image(3)))
    model = Path(embedder.path)
    regions_only = scan(items, tmp / "regions", registry=store.url, web="off", workers=1)
    assert regions_only.report["outcomes"]["include"] == 3  # the cascade stops at regions
    scan(items, tmp / "embed", registry=store.url, web="off", workers=1,
         match="embedding", embedder=str(model))  # fmt: skip
    rows = {
        Path(r["source"]).name: r
        for r in pq.read_table(tmp / "embed" / "decisions.parquet").to_pylist()
    }
    for name in ("composite1.png", "composite2.png", "unrelated.png"):
        v = check(index, (items / name).read_bytes(), embedder=embedder, label=name)
        assert rows[name]["work_ids"] == sorted({m.work_id for m in v.matches}), name
        assert rows[name]["perm_output"] == ("deny" if v.verdict == "block" else "unknown")
    assert rows["composite1.png"]["work_ids"] and not rows["unrelated.png"]["work_ids"]


def test_reproductions_are_blocked(
    guarded: tuple[SqlStore, GuardIndex, Path], embedder: OnnxImageEmbedder
) -> None:
    _, index, _ = guarded
    ref = character_art(HERO)
    w, h = ref.size
    variants = {
        "resized": ref.resize((240, 180)),
        "cropped": ref.crop((int(w * 0.05), int(h * 0.05), int(w * 0.95), int(h * 0.95))),
        "recoloured": Image.eval(ref, lambda v: min(255, int(v * 0.85) + 20)),
        "composited-photo": composite(ref, 7),
    }
    for name, img in variants.items():
        v = check(index, _png(img), embedder=embedder, label=name)
        assert v.verdict == "block", (name, v.to_dict())


def test_unrelated_images_are_allowed(
    guarded: tuple[SqlStore, GuardIndex, Path], embedder: OnnxImageEmbedder
) -> None:
    _, index, _ = guarded
    for seed in range(6):  # other characters, photo-like textures, noise
        v = check(index, _png(unrelated_image(seed)), embedder=embedder)
        assert v.verdict == "allow" and not v.matches, v.to_dict()
        assert "embedding" in v.checks_run


def test_measured_rates_of_the_test_model(embedder: OnnxImageEmbedder) -> None:
    """docs/guard.md reports this measurement at 50 pairs; a smaller run keeps the suite fast."""
    rates = measure_rates(embedder, 10, seed=1000)
    assert rates["fpr_flag"] == 0.0 and rates["tpr_block"] >= 0.8, rates


def test_another_model_ignores_stored_vectors(
    guarded: tuple[SqlStore, GuardIndex, Path], embedder: OnnxImageEmbedder
) -> None:
    store, index, tmp = guarded
    other = OnnxImageEmbedder.from_path(write_tiny_model(tmp / "other.onnx", seed=99))
    assert other.model_id != embedder.model_id
    out = _png(composite(character_art(HERO), 1))
    # an index built for the other model holds none of the stored vectors
    other_index = GuardIndex.from_store(store, other)
    assert other_index.index.embeddings.vectors.shape == (0, other.dim)
    v = check(other_index, out, embedder=other)
    assert v.verdict == "allow" and "embedding" not in v.checks_run
    assert any("no image registered with model" in r for r in v.reasons)
    # the first model's index, queried with the other model: never compared
    v = check(index, out, embedder=other)
    assert v.verdict == "allow" and "embedding" not in v.checks_run
    assert any("holds no vectors of model" in r for r in v.reasons)


def test_without_embedder_the_verdict_says_which_checks_ran(
    guarded: tuple[SqlStore, GuardIndex, Path],
) -> None:
    store, _, _ = guarded
    plain = GuardIndex.from_store(store)
    v = check(plain, _png(unrelated_image(1)))
    assert v.checks_run == ("pdq", "region") and NO_EMBEDDER in v.reasons
    assert NO_EMBEDDER in check_pdq(plain, bytes(32)).reasons
    assert v.to_dict()["reasons"][-1] == NO_EMBEDDER


def test_cli_uses_the_configured_embedder(
    tmp_path: Path,
    embedder: OnnxImageEmbedder,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reg = str(tmp_path / "cli.db")
    model = write_tiny_model(tmp_path / "model.onnx")
    monkeypatch.setenv("CLEARANCE_EMBEDDER", str(model))
    monkeypatch.setenv("CLEARANCE_EMBEDDER_THREADS", "1")
    assert main(["init", "--registry", reg]) == 0
    refs = tmp_path / "refs"
    refs.mkdir()
    character_art(HERO).save(refs / "hero.png")
    assert main(["characters", "add", "Captain Blob", "--images", str(refs), "--owner", "Studio",
                 "--deny", "output", "--registry", reg]) == 0  # fmt: skip
    out = tmp_path / "out.png"
    composite(character_art(HERO), 2).save(out)
    capsys.readouterr()
    assert main(["check", str(out), "--registry", reg, "--json"]) == 4
    (doc,) = json.loads(capsys.readouterr().out)
    assert doc["verdict"] == "block" and doc["matches"][0]["method"] == "embedding"
    assert doc["checks_run"] == ["pdq", "region", "embedding"]
    monkeypatch.setenv("CLEARANCE_EMBEDDER", str(tmp_path / "missing.onnx"))
    assert main(["check", str(out), "--registry", reg]) == 2


def test_live_guard_embeds_a_character_registered_after_it_started(
    tmp_path: Path, embedder: OnnxImageEmbedder
) -> None:
    from clearance.guard.live import Guard

    store = init_store(str(tmp_path / "live.db"))
    guard = Guard(store, embedder=embedder)
    out = _png(composite(character_art(HERO), 3))
    assert guard.check(out, label="out.png").verdict == "allow"
    refs = tmp_path / "late"
    refs.mkdir()
    character_art(HERO).save(refs / "hero.png")
    add_character(
        store,
        "Late Hero",
        owner="Studio",
        images=refs,
        terms=TermsChange({Usage.OUTPUT: Permission.DENY}),
        embedder=embedder,
    )
    verdict = guard.check(out, label="out.png")  # incremental refresh, no rebuild
    assert guard.rebuilds == 0
    assert verdict.verdict == "block" and verdict.matches[0].method == "embedding"
    store.close()

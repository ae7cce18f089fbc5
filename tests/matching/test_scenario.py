"""The scan and the guard must find the same works, with the same strength and permission.

A random registry (images, long and short texts, a song; random terms per
usage, prices, a licence agreement; a recoloured copy of a registered image
registered by another owner, hence a disputed work) and random edits of registered and
unregistered items: crops, pads, rotations, flips, re-encodes; texts retyped,
quoted in other text, shortened to a weak quote; short titles alone and
inside a sentence; a clip of the song. The folder is scanned, and every item
is checked by the guard, in both modes. Item by item: the same work ids, the
same strong/weak evidence per work, and the same resolved permission for
``output`` (the scan's ``perm_output`` column against the guard's per-work
decisions), on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from PIL import Image, ImageOps

from clearance.core import Mode, Permission, Price, Usage
from clearance.core.models import strictest
from clearance.guard import GuardIndex, check
from clearance.matching.conflicts import ContentChecker
from clearance.registry import RegistrationStatus, TermsChange, add_works, init_store
from clearance.registry.agreements import grant_agreement
from clearance.scan import scan
from tests.samples import textured_image, write_music

WORDS = [a + b for a in ("ka", "lo", "mi", "ne", "ru", "ta", "vo", "si") for b in "bdgklmnprst"]
TITLES = ["Ode on a Grecian Urn", "Stay gold pony boy", "The night is young", "Just do it"]
PERMS = [Permission.DENY, Permission.ALLOW, Permission.LICENSE, None]


def _text(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def _terms(rng: random.Random) -> TermsChange:
    chosen: dict[Usage, Permission] = {}
    for usage in (Usage.OUTPUT, Usage.TRAIN_AI):
        perm = rng.choice(PERMS)
        if perm is not None:
            chosen[usage] = perm
    price = Price.parse("0.05", "EUR") if Permission.LICENSE in chosen.values() else None
    return TermsChange(chosen, price=price)


def _edit(im: Image.Image, rng: random.Random) -> tuple[str, Image.Image]:
    w, h = im.size
    kind = rng.choice(["copy", "crop90", "crop-side", "pad", "rotate", "flip", "small"])
    if kind == "crop90":
        return kind, im.crop((int(0.05 * w), int(0.05 * h), int(0.95 * w), int(0.95 * h)))
    if kind == "crop-side":
        return kind, im.crop((int(0.1 * w), 0, w, h))
    if kind == "pad":
        return kind, ImageOps.expand(im, border=(w // 7, h // 7), fill=(255, 255, 255))
    if kind == "rotate":
        return kind, im.rotate(3, Image.Resampling.BICUBIC, expand=False)
    if kind == "flip":
        return kind, ImageOps.mirror(im)
    if kind == "small":
        return kind, im.resize((w * 3 // 5, h * 3 // 5))
    return kind, im


def _world(location: str, root: Path, seed: int) -> tuple[Path, dict[str, str]]:
    """Register a random world; return the folder of items and each item's story."""
    rng = random.Random(seed)
    reg, items = root / "registered", root / "items"
    reg.mkdir()
    items.mkdir()
    story: dict[str, str] = {}
    with init_store(location) as store:
        owners = ["Ann", "Ben", "Cleo"]
        for i in range(4):
            im = textured_image(seed * 100 + i, (480, 360))
            im.save(reg / f"img{i}.png")
            add_works(
                store, [str(reg / f"img{i}.png")], owner=rng.choice(owners), terms=_terms(rng)
            )
            kind, edited = _edit(im, rng)
            edited.convert("RGB").save(items / f"img{i}-{kind}.jpg", quality=90)
            story[f"img{i}-{kind}.jpg"] = f"registered image {i}, {kind}"
        for j in range(2):  # unregistered images
            textured_image(seed * 100 + 50 + j, (480, 360)).save(items / f"other{j}.jpg")
        for i in range(3):
            body = _text(rng, rng.randint(60, 120))
            (reg / f"text{i}.txt").write_text(body, encoding="utf-8")
            add_works(
                store, [str(reg / f"text{i}.txt")], owner=rng.choice(owners), terms=_terms(rng)
            )
            words = body.split()
            kind = rng.choice(["retyped", "quoted", "weak-quote"])
            if kind == "retyped":
                out = body.upper().replace(" ", ", ", 3) + "!"
            elif kind == "quoted":
                out = f"{_text(rng, 50)} {' '.join(words[5:45])} {_text(rng, 50)}"
            else:
                out = f"{_text(rng, 50)} {' '.join(words[5:21])} {_text(rng, 50)}"
            (items / f"text{i}-{kind}.txt").write_text(out, encoding="utf-8")
        for i, title in enumerate(rng.sample(TITLES, 2)):
            (reg / f"title{i}.txt").write_text(title, encoding="utf-8")
            add_works(store, [str(reg / f"title{i}.txt")], owner="Poet", terms=_terms(rng))
            (items / f"title{i}-alone.txt").write_text(f"{title.upper()}!", encoding="utf-8")
            (items / f"title{i}-inside.txt").write_text(
                f"{_text(rng, 12)} {title} {_text(rng, 12)}", encoding="utf-8"
            )
        song = write_music(reg / "song.wav", seed, seconds=30)
        add_works(store, [str(song)], owner="Label", terms=_terms(rng))
        write_music(items / "clip.wav", seed, seconds=12, start=9.0)
        write_music(items / "other.wav", seed + 7, seconds=12)
        (items / "unrelated.txt").write_text(_text(rng, 80), encoding="utf-8")
        owner = rng.choice(owners)
        grant_agreement(store, "GenCo", owner, usages=["output", "train-ai"])
        # Zed registers a recoloured copy of image 0 with terms of his own: not a new work,
        # a disputed claim on it, and every decision about it takes the strictest claim
        zed = random.Random(seed + 1)
        im = textured_image(seed * 100, (480, 360))
        ImageOps.colorize(im.convert("L"), "#402010", "#f0e0c0").save(reg / "zed.jpg")
        said = {usage: zed.choice(PERMS[:3]) for usage in (Usage.OUTPUT, Usage.TRAIN_AI)}
        priced = Permission.LICENSE in said.values()
        claim = TermsChange(said, price=Price.parse("0.07", "EUR") if priced else None)  # type: ignore[arg-type]
        added = add_works(
            store, [str(reg / "zed.jpg")], owner="Zed", terms=claim, similar=ContentChecker(store)
        )
        assert added.registrations[0].status is RegistrationStatus.DISPUTED
        story["disputed"] = str(added.registrations[0].work.id)
    return items, story


def _scan_rows(out: Path) -> dict[str, dict[str, Any]]:
    rows = pq.read_table(out / "decisions.parquet").to_pylist()
    return {Path(r["source"]).name: r for r in rows}


def _guard(index: GuardIndex, path: Path, mode: Mode) -> Any:
    if path.suffix == ".txt":
        body = path.read_text(encoding="utf-8")
        return check(index, text=body, label=path.name, licensee="GenCo", mode=mode)
    return check(index, path, label=path.name, licensee="GenCo", mode=mode)


@pytest.mark.parametrize("seed", [3, 8])
def test_scan_and_guard_name_the_same_works(
    registry_location: str, tmp_path: Path, seed: int
) -> None:
    items, story = _world(registry_location, tmp_path, seed)
    with init_store(registry_location) as store:
        index = GuardIndex.from_store(store)
    matched = disputed = 0
    for mode in Mode:
        out = tmp_path / f"scan-{mode.value}"
        scan(items, out, registry=registry_location, web="off", workers=1, mode=mode,
             licensee="GenCo")  # fmt: skip
        rows = _scan_rows(out)
        assert set(rows) == {p.name for p in items.iterdir()}
        for name, row in sorted(rows.items()):
            assert row["outcome"] != "error", (name, row["error"])
            verdict = _guard(index, items / name, mode)
            works = json.loads(row["evidence"])["works"]
            scan_strength = {w["id"]: w["strong"] for w in works}
            guard_strength: dict[int, bool] = {}
            for m in verdict.matches:
                guard_strength[m.work_id] = guard_strength.get(m.work_id, False) or m.strong
            what = f"{name} ({story.get(name, 'unregistered')}, {mode.value})"
            assert scan_strength == guard_strength, what
            # the guard's decisions for output, folded over the strongly matched works,
            # are the scan's perm_output (both resolve the same evidence, agreements too)
            folded = Permission.UNKNOWN
            for v in verdict.works:
                if v.matched.strong:
                    folded = strictest(folded, v.decision.permission)
            assert row["perm_output"] == folded.value, (what, verdict.reasons)
            blocked = any(v.matched.strong and not v.decision.allowed for v in verdict.works)
            assert (verdict.verdict == "block") == blocked, what
            if int(story["disputed"]) in guard_strength:  # both say so, in their reasons
                disputed += 1
                assert any(r.startswith("disputed:") for r in row["reasons"]), (what, row)
                assert any("disputed by Zed" in r for r in verdict.reasons), what
            if any(guard_strength.values()):
                matched += 1
            if not guard_strength:
                assert verdict.verdict == "allow", what
    assert matched >= 8  # the edits are found, not just the exact copies
    assert disputed >= 2  # the disputed work's edit, in both modes

"""The live guard: new works, removals, terms and aliases picked up without a restart."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clearance.core import Permission, Usage
from clearance.core.errors import UserError
from clearance.fingerprint.hamming_bruteforce import bruteforce_search
from clearance.guard.live import Guard
from clearance.matching.segments import HammingSegments
from clearance.registry import SqlStore, TermsChange, add_works
from clearance.registry.characters import add_character
from tests.samples import textured_image

DENY = TermsChange({Usage.OUTPUT: Permission.DENY})


def _image(tmp_path: Path, seed: int) -> Path:
    path = tmp_path / f"img{seed}.png"
    textured_image(seed, (256, 192)).save(path)
    return path


def test_new_work_is_matched_by_the_next_check(store: SqlStore, tmp_path: Path) -> None:
    first, later = _image(tmp_path, 1), _image(tmp_path, 2)
    add_works(store, [str(first)], owner="A", terms=DENY)
    guard = Guard(store)
    before = guard.index
    assert guard.check(later).verdict == "allow"
    add_works(store, [str(later)], owner="B", terms=DENY)
    verdict = guard.check(later)
    assert verdict.verdict == "block" and verdict.matches[0].owner == "B"
    assert guard.check(first).verdict == "block"  # the base segment still serves
    # read-copy-update: the snapshot a check held before is unchanged
    assert guard.index is not before and len(before.works) == 1
    assert guard.index.index.pdq.segment_count == 2


def test_removal_terms_and_alias_changes(store: SqlStore, tmp_path: Path) -> None:
    img = _image(tmp_path, 3)
    work = add_works(store, [str(img)], owner="A", terms=DENY).registrations[0].work
    add_character(store, "Captain Comet", owner="Studio", terms=DENY)
    guard = Guard(store)
    assert guard.check(prompt="draw Kaptain Kometo").verdict == "allow"
    add_character(store, "Captain Comet", owner="Studio", aliases=["Kaptain Kometo"])
    assert guard.check(prompt="draw Kaptain Kometo").verdict == "block"
    store.set_work_terms(work.id, TermsChange({Usage.OUTPUT: Permission.ALLOW}))
    assert guard.check(img).verdict == "allow"
    store.set_party_terms("A", TermsChange({Usage.OUTPUT: Permission.DENY}))
    store.set_work_terms(work.id, TermsChange(unset=frozenset({Usage.OUTPUT})))
    assert guard.check(img).verdict == "block"  # the owner's default now applies
    store.remove_work(work.id)
    verdict = guard.check(img)
    assert verdict.verdict == "allow" and not verdict.matches


def test_poll_mode_picks_up_a_registration_within_seconds(store: SqlStore, tmp_path: Path) -> None:
    img = _image(tmp_path, 4)
    with Guard(store, sync="poll", poll_seconds=0.1) as guard:
        assert guard.check(img).verdict == "allow"
        add_works(store, [str(img)], owner="A", terms=DENY)
        deadline = time.monotonic() + 5.0  # the bound, not a benchmark
        while guard.check(img).verdict != "block":
            assert time.monotonic() < deadline, "not picked up within 5 s"
            time.sleep(0.05)


def test_full_rebuild_when_small_segments_grow(store: SqlStore, tmp_path: Path) -> None:
    add_works(store, [str(_image(tmp_path, 5))], owner="A", terms=DENY)
    guard = Guard(store, rebuild_share=0.5, rebuild_min_codes=0)
    for seed in (6, 7, 8):
        add_works(store, [str(_image(tmp_path, seed))], owner="A", terms=DENY)
        guard.refresh()
    assert guard.rebuilds >= 1
    for seed in (5, 6, 7, 8):
        assert guard.check(tmp_path / f"img{seed}.png").verdict == "block"


def test_concurrent_registration_never_misses_or_tears(store: SqlStore, tmp_path: Path) -> None:
    seeds = list(range(20, 32))
    paths = {s: _image(tmp_path, s) for s in seeds}
    registered: set[int] = set()
    errors: list[BaseException] = []
    stop = threading.Event()

    def checker(rng_seed: int) -> None:
        rng = np.random.default_rng(rng_seed)
        try:
            while not stop.is_set():
                seed = int(rng.choice(seeds))
                was_registered = seed in registered  # read before the check begins
                verdict = guard.check(paths[seed])
                if was_registered:
                    assert verdict.verdict == "block", f"missed work {seed}"
        except BaseException as exc:
            errors.append(exc)

    guard = Guard(store)
    threads = [threading.Thread(target=checker, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    try:
        for seed in seeds:
            add_works(store, [str(paths[seed])], owner=f"O{seed % 3}", terms=DENY)
            registered.add(seed)  # after the commit
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors, errors[0]
    assert all(guard.check(paths[s]).verdict == "block" for s in seeds)


@settings(max_examples=40, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 30), min_size=1, max_size=12),
    radius=st.integers(0, 64),
    seed=st.integers(0, 2**16),
)
def test_segments_search_equals_bruteforce(sizes: list[int], radius: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    all_ids: list[np.ndarray] = []
    all_codes: list[np.ndarray] = []
    segs = HammingSegments()
    next_id = 0
    for i, n in enumerate(sizes):
        codes = rng.integers(0, 256, (n, 32), dtype=np.uint8)
        if n and i % 2:  # near-duplicates of earlier codes, and repeated ids
            codes[0] = all_codes[0][0] if all_codes and len(all_codes[0]) else codes[0]
        ids = np.arange(next_id, next_id + n, dtype=np.int64) % 17
        next_id += n
        segs = HammingSegments.build(ids, codes) if i == 0 else segs.with_codes(ids, codes)
        all_ids.append(ids)
        all_codes.append(codes)
    queries = rng.integers(0, 256, (4, 32), dtype=np.uint8)
    queries[0] = np.concatenate(all_codes)[0] if sum(sizes) else queries[0]
    ids = np.concatenate(all_ids)
    codes = np.concatenate(all_codes) if sum(sizes) else np.zeros((0, 32), np.uint8)
    expected = bruteforce_search(ids, codes, queries, radius)
    assert segs.search(queries, radius) == expected
    assert len(segs) == len(ids)


def test_bad_sync_mode(store: SqlStore) -> None:
    with pytest.raises(UserError):
        Guard(store, sync="sometimes")
    with pytest.raises(UserError):
        Guard(None)


def test_concurrent_checks_share_watermark_reads(store: SqlStore, tmp_path: Path) -> None:
    """Single flight: each caller gets a read that began after it did; a burst shares reads."""
    guard = Guard(store)
    reads = 0
    real = store.audit_watermark
    gate = threading.Event()

    def counted() -> int:
        nonlocal reads
        reads += 1
        gate.wait(5)  # hold the first read, so that the others arrive while it runs
        return real()

    store.audit_watermark = counted  # type: ignore[method-assign]
    try:
        first = threading.Thread(target=guard.fresh_watermark)
        first.start()
        while reads == 0:
            time.sleep(0.001)
        add_works(store, [str(_image(tmp_path, 40))], owner="A", terms=DENY)  # after read 1
        seen: list[int] = []
        others = [
            threading.Thread(target=lambda: seen.append(guard.fresh_watermark())) for _ in range(8)
        ]
        for t in others:
            t.start()
        deadline = time.monotonic() + 10
        while len(guard._reads._waiters) < 8:  # type: ignore[attr-defined]  # all 8 wait
            assert time.monotonic() < deadline
            time.sleep(0.001)
        gate.set()
        for t in [first, *others]:
            t.join()
    finally:
        store.audit_watermark = real  # type: ignore[method-assign]
    # the 8 began after read 1 did: they share read 2, which sees the registration
    assert reads == 2 and seen == [real()] * 8
    assert guard.check(tmp_path / "img40.png").verdict == "block"


def test_a_rebuild_in_the_background_keeps_checks_answering(
    store: SqlStore, tmp_path: Path
) -> None:
    add_works(store, [str(_image(tmp_path, 41))], owner="A", terms=DENY)
    guard = Guard(store, rebuild_share=0.5, rebuild_min_codes=0)
    for seed in (42, 43, 44):
        add_works(store, [str(_image(tmp_path, seed))], owner="A", terms=DENY)
        # each check applies the change at once, and starts a rebuild it does not wait for
        assert guard.check(tmp_path / f"img{seed}.png").verdict == "block"
    guard.wait_rebuilt(timeout=60)
    assert guard.rebuilds >= 1
    for seed in (41, 42, 43, 44):
        assert guard.check(tmp_path / f"img{seed}.png").verdict == "block"

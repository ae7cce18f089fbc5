"""HammingIndex against the brute-force reference, plus updates, files and input errors.

The conformance tests force several chunk layouts (including ones whose
thresholds leave chunks unprobed or give some chunks a larger budget than
others) so every probing path is held against ``bruteforce_search`` on random
and on clustered codes, at radii 0, 8, 31 and 40, and past what probing pays for.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from clearance.core import InputNotFound, UnsupportedInput, UserError
from clearance.fingerprint import hamming
from clearance.fingerprint.hamming import (
    FORMAT_VERSION,
    MAGIC,
    TABLE_BYTES_PER_CODE,
    ChunkLayout,
    HammingIndex,
    choose_layout,
)
from clearance.fingerprint.hamming_bruteforce import (
    bruteforce_search,
    code_words,
    popcount64,
    popcount64_swar,
    scan_hits,
)

RADII = (0, 8, 31, 40)
LAYOUTS = (
    None,  # chosen by size
    ChunkLayout(16, 16),  # PDQ's classic 16 x 16, one flip per chunk at radius 31
    ChunkLayout(11, 12),  # uneven budgets: some chunks 2 flips, some 3 at radius 31
    ChunkLayout(32, 8),  # radius 0 and 8 leave chunks unprobed
    ChunkLayout(3, 20),  # few wide chunks, large budgets
)


def flip(codes: NDArray[np.uint8], flips: NDArray[np.int64], rng: np.random.Generator) -> None:
    for round_ in range(int(flips.max(initial=0))):
        rows = np.flatnonzero(flips > round_)
        bit = rng.integers(0, codes.shape[1] * 8, rows.shape[0])
        codes[rows, bit >> 3] ^= (128 >> (bit & 7)).astype(np.uint8)


def random_codes(count: int, rng: np.random.Generator, nbytes: int = 32) -> NDArray[np.uint8]:
    return rng.integers(0, 256, (count, nbytes), dtype=np.uint8)


def clustered_codes(count: int, rng: np.random.Generator) -> NDArray[np.uint8]:
    """Families of near-duplicates: a random centre plus a few flipped bits each."""
    centres = random_codes(count // 5 + 1, rng)
    codes = centres[rng.integers(0, centres.shape[0], count)]
    flip(codes, rng.integers(0, 12, count), rng)
    return codes


def queries_for(codes: NDArray[np.uint8], rng: np.random.Generator) -> NDArray[np.uint8]:
    """Exact copies, near-duplicates at many distances, and random codes."""
    picked = codes[rng.integers(0, codes.shape[0], 150)]
    near = picked.copy()
    flip(near, rng.integers(0, 45, near.shape[0]), rng)
    return np.concatenate([picked[:20], near, random_codes(30, rng, codes.shape[1])])


@pytest.fixture(scope="module", params=["random", "clustered"])
def dataset(
    request: pytest.FixtureRequest,
) -> tuple[NDArray[np.int64], NDArray[np.uint8], NDArray[np.uint8]]:
    rng = np.random.default_rng(7 if request.param == "random" else 8)
    make = random_codes if request.param == "random" else clustered_codes
    codes = make(3000, rng)
    ids = rng.permutation(10_000)[:3000].astype(np.int64)
    return ids, codes, queries_for(codes, rng)


@pytest.mark.parametrize("layout", LAYOUTS, ids=str)
def test_index_matches_bruteforce(
    dataset: tuple[NDArray[np.int64], NDArray[np.uint8], NDArray[np.uint8]],
    layout: ChunkLayout | None,
) -> None:
    ids, codes, queries = dataset
    index = HammingIndex(256, layout=layout)
    index.add(ids, codes)
    index.compact()
    assert index.layout == (layout or choose_layout(3000, 256))
    for radius in RADII:
        expected = bruteforce_search(ids, codes, queries, radius)
        assert index.search(queries, radius) == expected, radius
    assert sum(map(len, expected)) >= len(queries) // 2  # the data really do match


def test_large_radius_falls_back_to_scan_and_stays_exact() -> None:
    rng = np.random.default_rng(3)
    codes = random_codes(500, rng)
    index = HammingIndex(layout=ChunkLayout(16, 16))
    index.add(np.arange(500), codes)
    queries = codes[:5]
    for radius in (100, 128, 256, 1000):
        assert index.search(queries, radius) == bruteforce_search(
            np.arange(500), codes, queries, radius
        )
    assert len(index.search(queries[:1], 256)[0]) == 500


@pytest.mark.parametrize("bits", [8, 64, 72, 512])
def test_other_code_lengths(bits: int) -> None:
    rng = np.random.default_rng(bits)
    codes = random_codes(2000, rng, bits // 8)
    codes[1000:] = codes[:1000]
    flip(codes[1000:], rng.integers(0, 4, 1000), rng)
    layout = ChunkLayout(max(1, bits // 16), min(16, bits)) if bits >= 16 else None
    index = HammingIndex(bits, layout=layout)
    index.add(np.arange(2000), codes)
    index.compact()
    queries = codes[::50]
    for radius in (0, 3, bits // 8):
        assert index.search(queries, radius) == bruteforce_search(
            np.arange(2000), codes, queries, radius
        )


def test_results_sorted_by_distance_then_id_and_ids_reported_once() -> None:
    code = np.zeros((1, 32), np.uint8)
    one_bit = code.copy()
    one_bit[0, 0] = 1
    index = HammingIndex(layout=ChunkLayout(16, 16))
    # id 5 holds two codes; ids 9 and 2 hold the same code; id 4 holds a code twice.
    index.add([5, 5, 9, 2, 4, 4], np.concatenate([one_bit, code, code, code, one_bit, one_bit]))
    index.compact()
    assert index.search(code, 31) == [[(2, 0), (5, 0), (9, 0), (4, 1)]]
    assert index.search(one_bit, 0) == [[(4, 0), (5, 0)]]
    assert len(index) == 6


def test_empty_index_and_empty_queries() -> None:
    index = HammingIndex()
    queries = np.zeros((3, 32), np.uint8)
    assert index.search(queries) == [[], [], []]
    assert len(index) == 0
    assert index.remove([1, 2]) == 0
    index.add(np.arange(10), random_codes(10, np.random.default_rng(0)))
    assert index.search(np.zeros((0, 32), np.uint8)) == []
    index.add([], np.zeros((0, 32), np.uint8))
    assert len(index) == 10


def test_additions_after_build_are_found_and_merged() -> None:
    rng = np.random.default_rng(11)
    codes = clustered_codes(4000, rng)
    ids = np.arange(4000)
    index = HammingIndex(layout=ChunkLayout(16, 16))
    index.add(ids[:3000], codes[:3000])
    queries = queries_for(codes, rng)
    assert index.search(queries) == bruteforce_search(ids[:3000], codes[:3000], queries, 31)
    index.add(ids[3000:3010], codes[3000:3010])  # small: stays in the buffer
    assert index.search(queries) == bruteforce_search(ids[:3010], codes[:3010], queries, 31)
    index.add(ids[3010:], codes[3010:])  # large: merged into the tables on the next search
    assert index.search(queries) == bruteforce_search(ids, codes, queries, 31)
    assert len(index) == 4000
    index.compact()
    assert index.search(queries) == bruteforce_search(ids, codes, queries, 31)


def test_remove_from_tables_and_buffer() -> None:
    rng = np.random.default_rng(12)
    codes = clustered_codes(3000, rng)
    ids = np.arange(3000) % 2500  # ids 0..499 hold two codes each
    index = HammingIndex(layout=ChunkLayout(11, 12))
    index.add(ids[:2900], codes[:2900])
    index.compact()
    index.add(ids[2900:], codes[2900:])
    queries = queries_for(codes, rng)

    gone = np.array([0, 1, 2, 700, 450, 123_456])  # 450: rows 450 (tables) and 2950 (buffer)
    assert index.remove(gone) == 2 + 2 + 2 + 1 + 2  # the unknown id is ignored
    assert index.remove(gone) == 0
    assert len(index) == 3000 - 9
    keep = ~np.isin(ids, gone)
    for radius in RADII:
        assert index.search(queries, radius) == bruteforce_search(
            ids[keep], codes[keep], queries, radius
        )

    many = np.arange(100, 1000)  # over 1/8 of the rows: compacted on the next search
    index.remove(many)
    keep &= ~np.isin(ids, many)
    assert index.search(queries) == bruteforce_search(ids[keep], codes[keep], queries, 31)
    assert len(index) == int(keep.sum())


def test_automatic_layout_follows_size() -> None:
    rng = np.random.default_rng(13)
    codes = random_codes(20_000, rng)
    index = HammingIndex()
    index.add(np.arange(100), codes[:100])
    index.compact()
    assert index.layout is None  # small: a scan is cheapest
    index.add(np.arange(100, 20_000), codes[100:])
    index.compact()
    assert index.layout == choose_layout(20_000, 256)
    assert index.layout is not None
    assert index.memory_bytes <= 128 * 20_000
    queries = codes[::400]
    assert index.search(queries) == bruteforce_search(np.arange(20_000), codes, queries, 31)


@pytest.mark.parametrize("count", [10**3, 10**4, 10**5, 10**6, 10**7, 10**8])
def test_choose_layout_fits_the_memory_budget(count: int) -> None:
    layout = choose_layout(count, 256)
    if layout is None:
        assert count <= 10**4
        return
    assert layout.chunks * layout.chunk_bits <= 256
    assert layout.table_bytes(count) <= TABLE_BYTES_PER_CODE * count
    assert layout.probes(31) < count


def test_large_indexes_get_wide_chunks() -> None:
    small, large = choose_layout(10**6, 256), choose_layout(10**7, 256)
    assert small is not None and large is not None
    assert large.chunk_bits > small.chunk_bits >= 16


@pytest.mark.parametrize("chunks", [1, 2, 5, 11, 16, 32])
@pytest.mark.parametrize("radius", [0, 1, 8, 15, 31, 40, 64])
def test_thresholds_satisfy_the_pigeonhole(chunks: int, radius: int) -> None:
    thresholds = ChunkLayout(chunks, 8).thresholds(radius)
    assert sum(t + 1 for t in thresholds) == radius + 1
    assert max(thresholds) - min(thresholds) <= 1
    assert max(thresholds) == radius // chunks  # the floor(r / m), or better


def test_save_load_round_trip_memory_maps(tmp_path: Path) -> None:
    rng = np.random.default_rng(14)
    codes = clustered_codes(3000, rng)
    ids = rng.permutation(3000).astype(np.int64) * 3
    index = HammingIndex(layout=ChunkLayout(16, 16))
    index.add(ids, codes)
    index.remove(ids[:10])  # saved compacted
    path = tmp_path / "pdq.hidx"
    index.save(path)
    assert path.read_bytes()[:8] == MAGIC

    loaded = HammingIndex.load(path)
    assert isinstance(loaded._ids.base, np.memmap)
    assert not loaded._rows.flags.writeable
    assert loaded.layout == ChunkLayout(16, 16) and len(loaded) == 2990
    queries = queries_for(codes, rng)
    for radius in RADII:
        assert loaded.search(queries, radius) == index.search(queries, radius)

    # A loaded index still takes updates, and can be saved over its own file.
    loaded.add([99_999], codes[:1])
    loaded.remove(ids[10:20])
    expected = loaded.search(queries)
    loaded.save(path)
    assert HammingIndex.load(path).search(queries) == expected


def test_save_load_empty_and_unbuilt(tmp_path: Path) -> None:
    HammingIndex(64).save(tmp_path / "empty.hidx")
    empty = HammingIndex.load(tmp_path / "empty.hidx")
    assert empty.bits == 64 and len(empty) == 0
    assert empty.search(np.zeros((2, 8), np.uint8)) == [[], []]

    fixed = HammingIndex(layout=ChunkLayout(8, 8))
    fixed.save(tmp_path / "fixed.hidx")
    reloaded = HammingIndex.load(tmp_path / "fixed.hidx")
    reloaded.add(np.arange(1500), random_codes(1500, np.random.default_rng(1)))
    reloaded.compact()
    assert reloaded.layout == ChunkLayout(8, 8)

    small = HammingIndex()
    small.add([1, 2], random_codes(2, np.random.default_rng(0)))
    small.save(tmp_path / "small.hidx")
    loaded = HammingIndex.load(tmp_path / "small.hidx")
    assert loaded.layout is None and len(loaded) == 2


def _header(path: Path) -> tuple[dict[str, object], int]:
    raw = path.read_bytes()
    length = int.from_bytes(raw[8:12], "little")
    return json.loads(raw[12 : 12 + length]), length


def _rewrite_header(path: Path, header: dict[str, object], length: int) -> None:
    raw = bytearray(path.read_bytes())
    text = json.dumps(header).encode()
    assert len(text) <= length
    raw[12 : 12 + length] = text + b" " * (length - len(text))
    path.write_bytes(bytes(raw))


def test_load_refuses_bad_files(tmp_path: Path) -> None:
    with pytest.raises(InputNotFound):
        HammingIndex.load(tmp_path / "missing.hidx")
    junk = tmp_path / "junk.hidx"
    junk.write_bytes(b"not an index at all")
    with pytest.raises(UnsupportedInput, match="not a Clearance Hamming index"):
        HammingIndex.load(junk)

    path = tmp_path / "ok.hidx"
    index = HammingIndex(layout=ChunkLayout(4, 8))
    index.add(np.arange(50), random_codes(50, np.random.default_rng(1)))
    index.save(path)
    header, length = _header(path)

    newer = tmp_path / "newer.hidx"
    newer.write_bytes(path.read_bytes())
    _rewrite_header(newer, {**header, "format_version": FORMAT_VERSION + 1}, length)
    with pytest.raises(UnsupportedInput, match="format_version"):
        HammingIndex.load(newer)

    truncated = tmp_path / "truncated.hidx"
    truncated.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(UnsupportedInput, match="corrupt"):
        HammingIndex.load(truncated)

    for change in ({"count": 49}, {"layout": [4, 80]}, {"fixed_layout": "yes"}, {"bits": -8}):
        wrong = tmp_path / "wrong.hidx"
        wrong.write_bytes(path.read_bytes())
        _rewrite_header(wrong, {**header, **change}, length)
        with pytest.raises(UnsupportedInput, match="corrupt"):
            HammingIndex.load(wrong)


@pytest.mark.parametrize(
    ("codes", "message"),
    [
        (np.zeros((2, 32), np.int64), "uint8"),
        (np.zeros((2, 31), np.uint8), "shape"),
        (np.zeros(32, np.uint8), "shape"),
        (np.zeros((2, 4, 8), np.uint8), "shape"),
    ],
)
def test_bad_codes_are_user_errors(codes: NDArray[np.generic], message: str) -> None:
    index = HammingIndex()
    with pytest.raises(UserError, match=message):
        index.add([1, 2], codes)  # type: ignore[arg-type]
    with pytest.raises(UserError, match=message):
        index.search(codes)  # type: ignore[arg-type]


def test_bad_arguments_are_user_errors() -> None:
    index = HammingIndex()
    codes = np.zeros((2, 32), np.uint8)
    with pytest.raises(UserError, match="integers"):
        index.add(np.array([1.0, 2.0]), codes)  # type: ignore[arg-type]
    with pytest.raises(UserError, match="one-dimensional"):
        index.add(np.zeros((2, 1), np.int64), codes)
    with pytest.raises(UserError, match="2 codes"):
        index.add([1], codes)
    with pytest.raises(UserError, match="64-bit"):
        index.add(np.array([2**64 - 1, 1], np.uint64), codes)
    for radius in (-1, 1.5, True):
        with pytest.raises(UserError, match="radius"):
            index.search(codes, radius)  # type: ignore[arg-type]
    with pytest.raises(UserError, match="bits"):
        HammingIndex(100)
    with pytest.raises(UserError, match="needs more than"):
        HammingIndex(layout=ChunkLayout(16, 17))
    with pytest.raises(UserError, match="chunk_bits"):
        HammingIndex(layout=ChunkLayout(2, 40))


def test_popcount_and_scan_helpers() -> None:
    rng = np.random.default_rng(15)
    words = rng.integers(0, 2**63, 1000, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    assert np.array_equal(popcount64_swar(words), popcount64(words))
    codes = random_codes(300, rng)
    qi, rows, dist = scan_hits(code_words(codes), code_words(codes[:7]), 0)
    assert qi.tolist() == rows.tolist() == list(range(7)) and not dist.any()


def test_huge_buckets_are_checked_in_slices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hamming, "_MAX_CANDIDATES", 97)
    rng = np.random.default_rng(16)
    codes = np.concatenate([np.repeat(random_codes(1, rng), 1500, axis=0), random_codes(1500, rng)])
    flip(codes, rng.integers(0, 3, 3000), rng)
    index = HammingIndex(layout=ChunkLayout(16, 16))
    index.add(np.arange(3000), codes)
    queries = codes[::100]
    assert index.search(queries) == bruteforce_search(np.arange(3000), codes, queries, 31)


def test_benchmark_runs_at_a_small_size() -> None:
    pytest.importorskip("faiss")
    from benchmarks.bench_hamming import run

    result = run(3000, queries=60, repeats=1)
    assert result.recall == result.precision == 1.0
    assert result.hits_per_query > 0


def test_queries_that_probe_only_empty_buckets() -> None:
    rng = np.random.default_rng(17)
    codes = random_codes(3000, rng)
    index = HammingIndex(layout=ChunkLayout(16, 16))
    index.add(np.arange(3000), codes)
    index.compact()
    assert index.search(random_codes(3, rng), 0) == [[], [], []]
    assert index.search(np.concatenate([random_codes(2, rng), codes[7:8]]), 0) == [[], [], [(7, 0)]]


CENTRES = [bytes([0, 0, 0, 0]), bytes([255, 0, 255, 0]), bytes([18, 52, 86, 120])]
CODES = st.builds(
    lambda centre, flips: bytes(
        b ^ sum(128 >> (f % 8) for f in set(flips) if f // 8 == i) for i, b in enumerate(centre)
    ),
    st.sampled_from(CENTRES),
    st.lists(st.integers(0, 31), max_size=8),
)
OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.lists(st.tuples(st.integers(0, 15), CODES), max_size=6)),
        st.tuples(st.just("remove"), st.lists(st.integers(0, 15), max_size=3)),
        st.tuples(st.just("search"), st.lists(CODES, min_size=1, max_size=3), st.integers(0, 40)),
        st.tuples(st.just("compact")),
    ),
    max_size=12,
)


@settings(max_examples=60, deadline=None)
@given(
    layout=st.sampled_from([None, ChunkLayout(4, 8), ChunkLayout(6, 5), ChunkLayout(2, 12)]),
    operations=OPERATIONS,
)
def test_any_sequence_of_updates_matches_a_model(
    layout: ChunkLayout | None, operations: list[tuple[object, ...]]
) -> None:
    """32-bit codes near a few centres, so ids, codes and distances collide often."""
    index = HammingIndex(32, layout=layout)
    model: list[tuple[int, bytes]] = []
    for op in operations:
        if op[0] == "add":
            pairs = op[1]
            assert isinstance(pairs, list)
            index.add([i for i, _ in pairs], _as_codes([c for _, c in pairs]))
            model += pairs
        elif op[0] == "remove":
            gone = op[1]
            assert isinstance(gone, list)
            removed = index.remove(gone)
            assert removed == sum(1 for i, _ in model if i in gone)
            model = [(i, c) for i, c in model if i not in gone]
        elif op[0] == "search":
            queries, radius = _as_codes(op[1]), op[2]  # type: ignore[arg-type]
            assert isinstance(radius, int)
            expected = bruteforce_search(
                [i for i, _ in model], _as_codes([c for _, c in model]), queries, radius
            )
            assert index.search(queries, radius) == expected
        else:
            index.compact()
        assert len(index) == len(model)


def _as_codes(codes: list[bytes]) -> NDArray[np.uint8]:
    return np.frombuffer(b"".join(codes), dtype=np.uint8).reshape(len(codes), 4)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), which=st.integers(1, len(LAYOUTS) - 1))
def test_one_query_chunk_keys_equal_the_batch_path(seed: int, which: int) -> None:
    """The single-query fast path (Python ints) gives the batch path's chunk values."""
    from clearance.fingerprint.hamming_layout import _chunk_keys

    layout = LAYOUTS[which]
    assert layout is not None
    codes = np.random.default_rng(seed).integers(0, 256, (3, 32), dtype=np.uint8)
    words = codes.view(">u8").astype(np.uint64)  # big-endian words, as search passes them
    batch = _chunk_keys(words, layout)
    for row in range(3):
        assert _chunk_keys(words[row : row + 1], layout).tolist() == [batch[row].tolist()]

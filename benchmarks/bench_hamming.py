"""HammingIndex against faiss ``IndexBinaryFlat`` (exact, single thread) on PDQ-like codes.

Both answer the same radius query (``range_search`` in faiss) on the same data
in the same process. The data imitate a real collection: families of
near-duplicates (a random centre plus a few flipped bits per member), queried by
near-duplicates of indexed codes plus some random codes that match nothing.
Recall and precision are measured against faiss, which is itself a brute-force
scan. Results go to ``docs/benchmarks.md``.

    python -m benchmarks.bench_hamming --size 1000000 --size 10000000
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import asdict, dataclass

import numpy as np
from numpy.typing import NDArray

from clearance.fingerprint.hamming import DEFAULT_RADIUS, HammingIndex

DEFAULT_SIZES = (1_000_000, 10_000_000)
CODE_BYTES = 32


def flip_bits(codes: NDArray[np.uint8], flips: NDArray[np.int64], rng: np.random.Generator) -> None:
    """Flip ``flips[i]`` random bits of row ``i`` in place (a bit may be drawn twice)."""
    for round_ in range(int(flips.max(initial=0))):
        rows = np.flatnonzero(flips > round_)
        bit = rng.integers(0, codes.shape[1] * 8, rows.shape[0])
        codes[rows, bit >> 3] ^= (128 >> (bit & 7)).astype(np.uint8)


def clustered_codes(
    count: int, rng: np.random.Generator, *, family_mean: float = 4.0, max_spread: int = 8
) -> NDArray[np.uint8]:
    """``count`` codes in families (geometric sizes) around random centres."""
    sizes = rng.geometric(1.0 / family_mean, size=count)
    families = int(np.searchsorted(np.cumsum(sizes), count)) + 1
    sizes = sizes[:families]
    sizes[-1] -= int(sizes.sum()) - count
    centres = rng.integers(0, 256, (families, CODE_BYTES), dtype=np.uint8)
    codes = np.repeat(centres, sizes, axis=0)
    flip_bits(codes, rng.integers(0, max_spread + 1, count), rng)
    return codes


def queries_for(
    codes: NDArray[np.uint8],
    count: int,
    rng: np.random.Generator,
    *,
    max_flips: int = 24,
    random_fraction: float = 0.2,
) -> NDArray[np.uint8]:
    """Near-duplicates of indexed codes, plus a share of random codes, shuffled."""
    queries = codes[rng.integers(0, codes.shape[0], count)].copy()
    flip_bits(queries, rng.integers(0, max_flips + 1, count), rng)
    randoms = int(count * random_fraction)
    queries[:randoms] = rng.integers(0, 256, (randoms, CODE_BYTES), dtype=np.uint8)
    return queries[rng.permutation(count)]


@dataclass(frozen=True)
class Result:
    size: int
    radius: int
    layout: str
    build_s: float
    bytes_per_code: float
    queries: int
    ours_qps: float
    faiss_queries: int
    faiss_qps: float
    ratio: float
    recall: float
    precision: float
    hits_per_query: float


def run(
    size: int,
    *,
    queries: int = 2000,
    faiss_queries: int | None = None,
    radius: int = DEFAULT_RADIUS,
    repeats: int = 3,
    seed: int = 0,
) -> Result:
    import faiss

    faiss.omp_set_num_threads(1)
    rng = np.random.default_rng(seed)
    codes = clustered_codes(size, rng)
    query_codes = queries_for(codes, queries, rng)
    ids = np.arange(size, dtype=np.int64)

    started = time.perf_counter()
    index = HammingIndex(256)
    index.add(ids, codes)
    index.compact()
    build_s = time.perf_counter() - started

    flat = faiss.IndexBinaryFlat(256)
    flat.add(codes)
    if faiss_queries is None:
        faiss_queries = max(20, min(queries, 400_000_000 // max(size, 1)))
    subset = np.ascontiguousarray(query_codes[:faiss_queries])
    # Alternate the two so that load from other jobs falls on both alike.
    ours_times, faiss_times = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        ours = index.search(query_codes, radius)
        ours_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        limits, distances, labels = flat.range_search(subset, radius + 1)  # faiss: d < radius
        faiss_times.append(time.perf_counter() - started)

    truth = {
        (q, int(labels[k]), int(distances[k]))
        for q in range(faiss_queries)
        for k in range(int(limits[q]), int(limits[q + 1]))
    }
    found = {(q, i, d) for q in range(faiss_queries) for i, d in ours[q]}
    agree = len(truth & found)
    layout = index.layout
    ours_qps = queries / statistics.median(ours_times)
    faiss_qps = faiss_queries / statistics.median(faiss_times)
    return Result(
        size=size,
        radius=radius,
        layout="scan" if layout is None else f"{layout.chunks}x{layout.chunk_bits}",
        build_s=build_s,
        bytes_per_code=index.memory_bytes / max(size, 1),
        queries=queries,
        ours_qps=ours_qps,
        faiss_queries=faiss_queries,
        faiss_qps=faiss_qps,
        ratio=ours_qps / faiss_qps,
        recall=agree / len(truth) if truth else 1.0,
        precision=agree / len(found) if found else 1.0,
        hits_per_query=sum(len(r) for r in ours) / queries,
    )


def main(argv: list[str] | None = None) -> list[Result]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_hamming")
    parser.add_argument("--size", type=int, action="append", help="codes to index (repeatable)")
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--faiss-queries", type=int, default=None)
    parser.add_argument("--radius", type=int, default=DEFAULT_RADIUS)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print one JSON object per size")
    args = parser.parse_args(argv)
    results = []
    for size in args.size or DEFAULT_SIZES:
        result = run(
            size,
            queries=args.queries,
            faiss_queries=args.faiss_queries,
            radius=args.radius,
            repeats=args.repeats,
            seed=args.seed,
        )
        results.append(result)
        if args.json:
            print(json.dumps(asdict(result)), flush=True)
        else:
            print(
                f"hamming size={result.size:,} radius={result.radius} layout={result.layout} "
                f"build={result.build_s:.1f}s ({result.build_s * 1e6 / max(size, 1):.1f} s/M) "
                f"mem={result.bytes_per_code:.0f} B/code | ours {result.ours_qps:,.0f} q/s "
                f"| faiss IndexBinaryFlat {result.faiss_qps:,.1f} q/s "
                f"| ratio {result.ratio:.1f}x | recall {result.recall:.4f} "
                f"precision {result.precision:.4f} | {result.hits_per_query:.1f} ids/query",
                flush=True,
            )
    return results


if __name__ == "__main__":
    main()

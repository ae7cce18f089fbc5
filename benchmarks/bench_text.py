"""Text containment index: query latency, indexing throughput and edited-passage recall.

Runs the one text index of the matching core (``clearance.matching.text``:
word 8-gram sets as the registry stores them, containment and runs) and its
baseline (datasketch MinHash, 128 permutations, default SHA-1 hashing of
word 5-gram shingles) on the same synthetic corpus in the same process, so
the ratios hold on whatever machine runs it.

The corpus: a vocabulary of pronounceable pseudo-words drawn with Zipf
frequencies (rank^-1.07, like English), 300-1000 words per document, with
commas, full stops and capitals sprinkled in so normalisation has work to do.
A positive query is 2,000 words of fresh text with a 300-word passage of a
registered document embedded, 10% of its words replaced by random words; a
negative query is 2,000 words of fresh text.

    python -m benchmarks.bench_text --docs 100000 --queries 1000
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from clearance.fingerprint.text import normalise_text, shingle_hashes
from clearance.matching.text import ShingleIndex, TextQuery

SYLLABLES = [c + v for c in "bcdfghjklmnprstvwz" for v in ("a", "e", "i", "o", "u", "ai", "ou")]
ZIPF_EXPONENT = 1.07
VOCABULARY = 50_000
PASSAGE_WORDS = 300
QUERY_WORDS = 2_000


@dataclass
class Corpus:
    """Token ids (word * 4 + variant) and the strings they stand for."""

    tokens: list[str]
    cdf: npt.NDArray[np.float64]
    rng: np.random.Generator

    def draw(self, n: int) -> npt.NDArray[np.int64]:
        words = np.searchsorted(self.cdf, self.rng.random(n))
        variant = np.searchsorted([0.85, 0.92, 0.97], self.rng.random(n))
        return words * 4 + variant

    def text(self, ids: npt.NDArray[np.int64]) -> str:
        return " ".join(map(self.tokens.__getitem__, ids.tolist()))


def make_corpus(seed: int) -> Corpus:
    rng = np.random.default_rng(seed)
    words: set[str] = set()
    while len(words) < VOCABULARY:
        n = int(rng.integers(1, 5))
        words.add("".join(SYLLABLES[i] for i in rng.integers(0, len(SYLLABLES), n)))
    ordered = sorted(words, key=lambda w: (len(w), w))  # short words are the frequent ones
    tokens = [v for w in ordered for v in (w, w + ",", w + ".", w.capitalize())]
    weights = 1.0 / np.arange(1, VOCABULARY + 1) ** ZIPF_EXPONENT
    return Corpus(tokens, np.cumsum(weights) / weights.sum(), rng)


def records(docs: list[str]) -> list[tuple[int, bytes]]:
    """What registration stores for each text: its sorted unique 8-gram hashes."""
    out = []
    for i, doc in enumerate(docs):
        grams = np.unique(shingle_hashes(normalise_text(doc).split()))
        out.append((i, grams.astype("<u8").tobytes()))
    return out


def index_bytes(index: ShingleIndex) -> int:
    return sum(s.hashes.nbytes + s.works.nbytes for s in index.segments)


def percentile_ms(samples: list[float], q: float) -> float:
    return float(np.percentile(samples, q) * 1000)


def datasketch_rate(texts: list[str], batch: bool) -> float:
    """Documents per second for datasketch MinHash on word 5-gram shingles."""
    from datasketch import MinHash

    start = time.perf_counter()
    for text in texts:
        words = text.lower().split()
        shingles = [" ".join(words[i : i + 5]).encode("utf-8") for i in range(len(words) - 4)]
        m = MinHash(num_perm=128)
        if batch:
            m.update_batch(shingles)
        else:
            for s in shingles:
                m.update(s)
    return len(texts) / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench_text", description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=20_000, help="registered documents")
    parser.add_argument("--queries", type=int, default=300, help="positive and negative each")
    parser.add_argument("--baseline-docs", type=int, default=1_000, help="throughput sample")
    parser.add_argument("--rounds", type=int, default=3, help="throughput: best of N")
    parser.add_argument("--edit-rate", type=float, default=0.10, help="share of words replaced")
    parser.add_argument("--seed", type=int, default=20260601)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)

    corpus = make_corpus(args.seed)
    rng = corpus.rng
    t0 = time.perf_counter()
    doc_ids = [corpus.draw(int(rng.integers(300, 1001))) for _ in range(args.docs)]
    docs = [corpus.text(ids) for ids in doc_ids]
    generate_s = time.perf_counter() - t0
    words = sum(len(ids) for ids in doc_ids)

    # Indexing throughput on the same sample: datasketch (two ways) and ours,
    # interleaved and best of ``--rounds``, so a noisy neighbour hurts both alike.
    sample = docs[: args.baseline_docs]
    ds_update = ds_batch = ours_sample = 0.0
    for _ in range(args.rounds):
        ds_update = max(ds_update, datasketch_rate(sample[: max(len(sample) // 4, 1)], False))
        ds_batch = max(ds_batch, datasketch_rate(sample, batch=True))
        start = time.perf_counter()
        ShingleIndex.build(records(sample))
        ours_sample = max(ours_sample, len(sample) / (time.perf_counter() - start))

    start = time.perf_counter()
    index = ShingleIndex.build(records(docs))
    build_s = time.perf_counter() - start
    index.search(TextQuery.of("warm up the lookup path " * 10))

    # Queries: positives embed an edited passage, negatives are fresh text.
    latencies: list[float] = []
    cpu: list[float] = []
    found = wrong = reported = 0
    for kind in ("positive", "negative"):
        for _ in range(args.queries):
            filler = corpus.draw(QUERY_WORDS)
            source = -1
            if kind == "positive":
                source = int(rng.integers(0, args.docs))
                ids = doc_ids[source]
                at = int(rng.integers(0, len(ids) - PASSAGE_WORDS + 1))
                passage = ids[at : at + PASSAGE_WORDS].copy()
                edits = rng.choice(
                    PASSAGE_WORDS, round(PASSAGE_WORDS * args.edit_rate), replace=False
                )
                passage[edits] = corpus.draw(len(edits))
                put = int(rng.integers(0, QUERY_WORDS - PASSAGE_WORDS + 1))
                filler = np.concatenate(
                    [filler[:put], passage, filler[put : QUERY_WORDS - PASSAGE_WORDS]]
                )
            text = corpus.text(filler)
            start, start_cpu = time.perf_counter(), time.thread_time()
            matches = index.search(TextQuery.of(text))
            latencies.append(time.perf_counter() - start)
            cpu.append(time.thread_time() - start_cpu)
            reported += len(matches)
            hit = sum(m.work_id == source for m in matches)
            found += hit
            wrong += len(matches) - hit
    recall = found / args.queries
    precision = (reported - wrong) / reported if reported else 1.0

    results = {
        "docs": args.docs,
        "words": words,
        "memory_mb": round(index_bytes(index) / 2**20),
        "generate_s": round(generate_s, 2),
        "build_s": round(build_s, 2),
        "build_docs_per_s": round(args.docs / build_s),
        "sample_docs": len(sample),
        "ours_docs_per_s": round(ours_sample),
        "datasketch_update_docs_per_s": round(ds_update),
        "datasketch_update_batch_docs_per_s": round(ds_batch),
        "speedup_vs_update": round(ours_sample / ds_update, 1),
        "speedup_vs_update_batch": round(ours_sample / ds_batch, 1),
        "queries": 2 * args.queries,
        "query_p50_ms": round(percentile_ms(latencies, 50), 2),
        "query_p99_ms": round(percentile_ms(latencies, 99), 2),
        "query_max_ms": round(max(latencies) * 1000, 2),
        "query_cpu_p50_ms": round(percentile_ms(cpu, 50), 2),
        "query_cpu_p99_ms": round(percentile_ms(cpu, 99), 2),
        "edit_rate": args.edit_rate,
        "recall": round(recall, 4),
        "precision": round(precision, 4),
        "false_matches": wrong,
    }
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"text index: {args.docs:,} docs, {words:,} words, {results['memory_mb']:,} MiB")
    print(
        f"  indexing (same {len(sample):,} docs, best of {args.rounds}): "
        f"ours {ours_sample:,.0f} docs/s; datasketch update {ds_update:,.0f} docs/s "
        f"({results['speedup_vs_update']}x), update_batch {ds_batch:,.0f} docs/s "
        f"({results['speedup_vs_update_batch']}x)"
    )
    print(f"  full build: {build_s:.1f} s ({results['build_docs_per_s']:,} docs/s)")
    print(
        f"  query ({2 * args.queries} x {QUERY_WORDS} words): p50 {results['query_p50_ms']} ms, "
        f"p99 {results['query_p99_ms']} ms, max {results['query_max_ms']} ms (wall); "
        f"p50 {results['query_cpu_p50_ms']} ms, p99 {results['query_cpu_p99_ms']} ms (CPU)"
    )
    print(
        f"  {PASSAGE_WORDS}-word passage, {args.edit_rate:.0%} words replaced: "
        f"recall {recall:.4f}, precision {precision:.4f} ({wrong} false matches)"
    )


if __name__ == "__main__":
    main()

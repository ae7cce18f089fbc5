"""Output guard latency: image and hash checks against 1M fingerprints, text against 100k texts.

* in process: ``check`` on a ~1 MP JPEG (decode included) and ``check_pdq`` on a
  client-side hash, p50/p99, against a ``RegistryView`` holding ``--codes`` PDQ
  codes (families of near-duplicates) and their region codes for a few works;
* over HTTP: the FastAPI app under uvicorn (one worker, in another process),
  hash-only ``POST /v1/check`` requests from ``wrk`` on loopback;
* text: ``check(text=...)`` of a 2,000-word output against ``--texts``
  registered texts' 8-gram sets.

The index is built in memory (not through SQLite) so the benchmark measures
the check, not a registry import.

    python -m benchmarks.bench_guard --codes 1000000 --texts 100000
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing as mp
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from typing import Any

import numpy as np

from clearance.core.models import Party, Terms, Work, WorkKind
from clearance.core.usage import Permission, Usage
from clearance.fingerprint.text import ngram_hashes, word_hashes
from clearance.guard import check, check_pdq
from clearance.matching import MatchIndex, RegistryView
from clearance.matching.image import RegionIndex
from clearance.matching.segments import HammingSegments
from clearance.matching.text import ShingleIndex


def _clustered_codes(n: int, rng: np.random.Generator) -> np.ndarray:
    centres = rng.integers(0, 256, size=(max(1, n // 4), 32), dtype=np.uint8)
    codes = centres[rng.integers(0, len(centres), size=n)]
    flips = (
        rng.integers(0, 256, size=(n, 32), dtype=np.uint8)
        & rng.integers(0, 256, size=(n, 32), dtype=np.uint8)
        & rng.integers(0, 256, size=(n, 32), dtype=np.uint8)
    )
    return np.bitwise_xor(codes, flips)


def denied_work(work_id: int) -> Work:
    """A registered work (denied outputs) for the few ids the queries are meant to hit."""
    return Work(
        work_id,
        WorkKind.IMAGE,
        Party(1, "Owner"),
        None,
        (),
        Terms({Usage.OUTPUT: Permission.DENY}),
        datetime(2026, 1, 1, tzinfo=UTC),
    )


def build_index(codes: int, texts: int, seed: int = 0) -> tuple[RegistryView, list[bytes], str]:
    from PIL import Image

    from clearance.fingerprint.regions import image_fingerprints

    rng = np.random.default_rng(seed)
    works: dict[int, Work] = {}
    pdq_ids = [np.arange(codes, dtype=np.int64) + 1_000_000]
    pdq_codes = [_clustered_codes(codes, rng)]
    region_records: list[tuple[int, bytes]] = []
    jpegs: list[bytes] = []
    for i in range(10):
        y, x = np.mgrid[0:960, 0:1080]
        img = np.stack(
            [
                127
                + 100
                * np.sin(x * rng.uniform(0.005, 0.03) + i)
                * np.cos(y * rng.uniform(0.005, 0.03))
                for _ in range(3)
            ],
            -1,
        )
        buf = io.BytesIO()
        Image.fromarray(img.clip(0, 255).astype(np.uint8)).save(buf, "JPEG", quality=90)
        jpegs.append(buf.getvalue())
        if i >= 5:
            continue  # jpegs[5:] are unregistered outputs (the common case: nothing matches)
        h, regions = image_fingerprints(buf.getvalue())
        pdq_ids.append(np.array([i], np.int64))
        pdq_codes.append(np.frombuffer(h.pdq, np.uint8).reshape(1, 32))
        region_records.append((i, regions.to_bytes()))
        works[i] = denied_work(i)
    vocab = [f"w{i}" for i in range(50_000)]
    probs = 1.0 / np.arange(1, len(vocab) + 1)
    probs /= probs.sum()
    text_records: list[tuple[int, bytes]] = []
    passage = ""
    for t in range(texts):
        words = [vocab[k] for k in rng.choice(len(vocab), size=300, p=probs)]
        grams = np.unique(ngram_hashes(word_hashes(words), 8))
        text_records.append((t + 10, grams.astype("<u8").tobytes()))
        works[t + 10] = denied_work(t + 10)
        if t == texts // 2:
            passage = " ".join(words)
    index = MatchIndex(
        pdq=HammingSegments.build(np.concatenate(pdq_ids), np.concatenate(pdq_codes)),
        regions=RegionIndex.build(region_records),
        text=ShingleIndex.build(text_records),
    )
    view = RegistryView(index, works)
    filler = " ".join(vocab[k] for k in rng.choice(len(vocab), size=1700, p=probs))
    return (
        view,
        jpegs,
        filler[: len(filler) // 2] + " " + passage + " " + filler[len(filler) // 2 :],
    )


def _percentiles(samples: list[float]) -> tuple[float, float]:
    arr = np.asarray(samples) * 1000
    return float(np.percentile(arr, 50)), float(np.percentile(arr, 99))


def _serve(codes: int, port: int) -> None:
    import uvicorn

    from clearance.api import create_app
    from clearance.config import Settings

    index, _, _ = build_index(codes, 10)
    app = create_app(Settings(registry=":memory:"), index=index)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_hash_only(codes: int, seconds: int) -> dict[str, Any]:
    if shutil.which("wrk") is None:
        return {"skipped": "wrk is not installed (apt-get install wrk)"}
    port = _free_port()
    server = mp.get_context("spawn").Process(target=_serve, args=(codes, port), daemon=True)
    server.start()
    deadline = time.time() + 600
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.5)
    body = json.dumps({"pdq": "ab" * 32})
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        lua.write(
            f'wrk.method = "POST"\nwrk.body = {json.dumps(body)}\n'
            'wrk.headers["Content-Type"] = "application/json"\n'
        )
    try:
        out = subprocess.run(
            [
                "wrk",
                "-t1",
                "-c32",
                f"-d{seconds}s",
                "-s",
                lua.name,
                f"http://127.0.0.1:{port}/v1/check",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        server.terminate()
        os.unlink(lua.name)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"requests_per_s": rps, "non_2xx": int(errors.group(1)) if errors else 0}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--codes", type=int, default=200_000)
    parser.add_argument("--texts", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--http-seconds", type=int, default=10)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    index, jpegs, output_text = build_index(args.codes, args.texts)
    print(
        f"index: {args.codes:,} PDQ codes, {args.texts:,} texts, "
        f"built in {time.perf_counter() - started:.1f} s; load {os.getloadavg()[0]:.1f}"
    )
    check(index, jpegs[0])  # warm-up (first search may merge pending adds)
    image_t, miss_t, hash_t, text_t = [], [], [], []
    registered, unregistered = jpegs[:5], jpegs[5:]
    for i in range(args.runs):
        t = time.perf_counter()
        v = check(index, registered[i % len(registered)])
        image_t.append(time.perf_counter() - t)
        assert v.matches, "a registered image must match"
        t = time.perf_counter()
        v = check(index, unregistered[i % len(unregistered)])
        miss_t.append(time.perf_counter() - t)
        assert not v.matches and "region" in v.checks_run, "an unregistered image must not match"
    pdqs = [bytes(np.random.default_rng(i).integers(0, 256, 32, dtype=np.uint8)) for i in range(50)]
    for i in range(args.runs * 20):
        t = time.perf_counter()
        check_pdq(index, pdqs[i % len(pdqs)])
        hash_t.append(time.perf_counter() - t)
    for _ in range(max(20, args.runs // 4)):
        t = time.perf_counter()
        v = check(index, text=output_text)
        text_t.append(time.perf_counter() - t)
    assert any(m.method == "text-containment" for m in v.matches), "the passage must be found"
    for name, samples, target in (
        ("image check, registered (1 MP JPEG, decode)", image_t, 30.0),
        ("image check, unregistered (+ 41 regions)", miss_t, 30.0),
        ("hash-only check", hash_t, 2.0),
        ("text check (2,000 words)", text_t, None),
    ):
        p50, p99 = _percentiles(samples)
        goal = f"  (target p99 <= {target:g} ms)" if target else ""
        print(f"{name:42} p50 {p50:7.2f} ms  p99 {p99:7.2f} ms{goal}")
    http = http_hash_only(args.codes, args.http_seconds)
    print(
        f"HTTP hash-only POST /v1/check (uvicorn, 1 worker; wrk -t1 -c32): {http}"
        "  (target >= 1,000 requests/s)"
    )


if __name__ == "__main__":
    main()

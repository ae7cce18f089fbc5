"""The dataset scan end to end: what deciding costs on top of hashing, and on top of the network.

Three measurements, each a ratio against a baseline run in the same process
on the same data:

(a) Images. A folder of synthetic photo-like JPEGs (>= 1 MP, deterministic)
    is scanned with ``--web off`` against a SQLite registry of ``--codes``
    random PDQ codes (1M by default; every 10th photo is registered too, by an
    owner who denies TDM, so PDQ matches happen), and hashed with the raw
    ``image_hashes`` on the same files with the same workers. Reported:
    end to end, and steady state (from the first shard of work to the last,
    i.e. without planning, the one-off index build and the final assembly).
(b) URL rows. A Parquet file of ``--rows`` URLs over ``--origins`` origins,
    all served by one asyncio HTTP server in another process (bound to
    0.0.0.0: Linux routes 127.0.0.0/8 to loopback, so each 127.10.X.Y:PORT
    is a distinct origin), scanned with ``--web origin``. The server counts
    every request. Baseline: a datadiligence-style check, one HEAD per URL
    reading ``X-Robots-Tag`` and ``tdm-reservation``, with httpx, 64 in
    flight per process and as many processes as the scan's workers, on the
    first ``--baseline-urls`` rows.
(c) Ray. The ``ray`` engine (a local Ray started by the scan) on the same
    image folder and on the first ``--ray-rows`` URL rows, against ``local``.

After (a) and (b), the evidence step the scan ends with (the Merkle tree over
its decision rows and the signed root statement, ``clearance.evidence``) is
timed again on that scan's own ``decisions.parquet`` and reported as a share
of the rest of the scan's wall time (target: at most 5%).

Registries and photos are cached under ``--cache-dir`` (keyed by size, seed
and schema revision), so reruns skip building them.

    python -m benchmarks.bench_scan                      # make bench: 100k rows, 1k origins
    python -m benchmarks.bench_scan --rows 1000000 --origins 10000 --skip-images --skip-ray
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from benchmarks.loopback import serve_forever

CACHE_VERSION = 2
"""2: registered photos also store their crop/pad region codes; random region sets."""


# --- data -----------------------------------------------------------------------------------


def photos(root: Path, count: int, megapixels: float, seed: int) -> list[Path]:
    """``count`` photo-like JPEGs (smooth colour fields, shapes, grain), made once and cached."""
    side = int((megapixels * 1e6 / 1.5) ** 0.5)
    w, h = int(side * 1.5), side
    folder = root / f"photos-v{CACHE_VERSION}-{count}-{w}x{h}-{seed}"
    files = [folder / f"photo{i:05d}.jpg" for i in range(count)]
    if (folder / ".done").exists():
        return files
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for path in files:
        cells = int(rng.integers(3, 12))
        field = rng.integers(0, 256, (cells, cells * 3 // 2 + 1, 3), dtype=np.uint8)
        im = Image.fromarray(field).resize((w, h), Image.Resampling.BICUBIC)
        draw = ImageDraw.Draw(im)
        for _ in range(int(rng.integers(3, 15))):
            x, y, r = (
                int(rng.integers(0, w)),
                int(rng.integers(0, h)),
                int(rng.integers(10, h // 3)),
            )
            fill = tuple(int(c) for c in rng.integers(0, 256, 3))
            (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(
                (x - r, y - r, x + r, y + r), fill=fill
            )
        im = im.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.5, 2.0))))
        grain = rng.normal(0, 6, (h, w, 1))
        arr = np.clip(np.asarray(im, dtype=np.float32) + grain, 0, 255).astype(np.uint8)
        Image.fromarray(arr).save(path, "JPEG", quality=int(rng.integers(80, 95)))
    (folder / ".done").touch()
    return files


def image_registry(
    root: Path, codes: int, registered: list[Path], seed: int, region_works: int = 0
) -> Path:
    """A SQLite registry with ``codes`` random PDQ codes (quality 100) plus ``registered`` photos.

    The registered photos store their crop/pad region codes (``pdq-regions``) as
    registration does; the first ``region_works`` random works get a random region
    set each (169 codes), so the region index has a realistic size to search.

    Written with SQLAlchemy Core ``executemany`` straight into the store's tables
    after ``init_store`` (a work, its active claim and its ``pdq`` fingerprint per
    code, as ``SqlStore.register`` writes them), plus one audit row so that the
    registry's state digest reflects the load. ``register`` would take hours for 1M.
    """
    from sqlalchemy import insert

    from clearance.fingerprint.regions import image_fingerprints
    from clearance.registry import ledger
    from clearance.registry import schema as s
    from clearance.registry.store import init_store

    path = (
        root / f"registry-v{CACHE_VERSION}-r{s.HEAD_REVISION}-{codes}-{len(registered)}-{seed}"
        f"-{region_works}.db"
    )
    if path.exists():
        return path
    tmp = path.with_suffix(".building")
    for stale in tmp.parent.glob(tmp.name + "*"):
        stale.unlink()
    now = datetime.now(UTC)
    store = init_store(str(tmp))
    try:
        with store.engine.begin() as conn:
            conn.execute(
                insert(s.parties),
                [
                    {"id": 1, "name": "Bench random owners", "created_at": now},
                    {"id": 2, "name": "Bench opt-out photographer", "created_at": now},
                ],
            )
            conn.execute(
                insert(s.terms).values(party_id=2, usage="tdm", permission="deny", updated_at=now)
            )
            rng = np.random.default_rng(seed)
            step = 100_000
            for start in range(0, codes, step):
                stop = min(codes, start + step)
                data = rng.integers(0, 256, (stop - start, 32), dtype=np.uint8)
                ids = range(start + 1, stop + 1)
                _bulk(conn, ids, [1] * len(ids), [row.tobytes() for row in data], [100] * len(ids))
            both = [image_fingerprints(p) for p in registered]
            hashes = [h for h, _ in both]
            ids = range(codes + 1, codes + 1 + len(hashes))
            _bulk(conn, ids, [2] * len(ids), [h.pdq for h in hashes], [h.quality for h in hashes])
            regions = [(i, r.to_bytes()) for i, (_, r) in zip(ids, both, strict=True)]
            full = np.packbits(np.ones(256, np.uint8)[:169].tolist() + [0] * 87).tobytes()
            for start in range(1, min(region_works, codes) + 1, 10_000):
                stop = min(min(region_works, codes) + 1, start + 10_000)
                blobs = rng.integers(0, 256, (stop - start, 169 * 32), dtype=np.uint8)
                pairs = zip(range(start, stop), blobs, strict=True)
                regions += [(i, full + b.tobytes()) for i, b in pairs]
                _regions(conn, regions)
                regions = []
            _regions(conn, regions)
            ledger.append(  # the audit log is hash-chained: rows go in through its writer
                conn,
                s.audit_log,
                [
                    {
                        "at": now,
                        "actor": "bench_scan",
                        "action": "bench.bulk-load",
                        "entity": "registry",
                        "entity_id": None,
                        "detail": json.dumps(
                            {"codes": codes, "registered": len(hashes), "seed": seed}
                        ),
                    }
                ],
            )
    finally:
        store.close()
    tmp.replace(path)
    return path


def _bulk(conn: Any, ids: range, owners: list[int], codes: list[bytes], quality: list[int]) -> None:
    from sqlalchemy import insert

    from clearance.registry import schema as s

    now = datetime.now(UTC)
    conn.execute(
        insert(s.works),
        [
            {"id": i, "kind": "image", "title": None, "owner_id": o, "created_at": now}
            for i, o in zip(ids, owners, strict=True)
        ],
    )
    conn.execute(
        insert(s.claims),
        [
            {"work_id": i, "party_id": o, "status": "active", "created_at": now}
            for i, o in zip(ids, owners, strict=True)
        ],
    )
    conn.execute(
        insert(s.fingerprints),
        [
            {"work_id": i, "algo": "pdq", "format_version": 1, "data": c, "quality": q,
             "created_at": now}
            for i, c, q in zip(ids, codes, quality, strict=True)
        ],
    )  # fmt: skip


def _regions(conn: Any, rows: list[tuple[int, bytes]]) -> None:
    from sqlalchemy import insert

    from clearance.registry import schema as s

    if not rows:
        return
    now = datetime.now(UTC)
    conn.execute(
        insert(s.fingerprints),
        [
            {"work_id": i, "algo": "pdq-regions", "format_version": 1, "data": blob,
             "quality": None, "created_at": now}
            for i, blob in rows
        ],
    )  # fmt: skip


def empty_registry(root: Path) -> Path:
    from clearance.registry.store import init_store

    path = root / "registry-empty.db"
    init_store(str(path)).close()
    return path


def origin_host(n: int) -> str:
    """Origin number ``n`` as a loopback address 127.10.X.Y (Y never 0 or 255)."""
    return f"127.10.{n // 250}.{n % 250 + 1}"


def host_number(host: str) -> int:
    parts = host.split(":")[0].split(".")
    try:
        return int(parts[2]) * 250 + int(parts[3]) - 1
    except (IndexError, ValueError):
        return 0


def url_table(root: Path, rows: int, origins: int, port: int, order: str) -> Path:
    """``rows`` URLs (half under /photos/, half under /img/) over ``origins`` origins: Parquet."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    i = np.arange(rows)
    n = i % origins if order == "shuffled" else i * origins // max(rows, 1)
    urls = [
        f"http://{origin_host(int(o))}:{port}/{'photos' if k % 2 else 'img'}/{k}.jpg"
        for k, o in zip(i.tolist(), n.tolist(), strict=True)
    ]
    path = root / f"urls-{rows}-{origins}-{order}.parquet"
    table = pa.table({"url": urls, "caption": [f"caption {k}" for k in range(rows)]})
    pq.write_table(table, path, row_group_size=100_000)
    return path


# --- the sites ------------------------------------------------------------------------------

RSL = (
    b'<rsl xmlns="https://rslstandard.org/rsl"><content url="/img/"><license>'
    b'<permits type="usage">ai-input,search</permits>'
    b'<payment type="use"><amount currency="USD">0.01</amount></payment>'
    b"</license></content></rsl>"
)


def site_answer(n: int, path: str, host: str) -> tuple[int, list[tuple[str, str]], bytes]:
    """What origin ``n`` serves: opt-outs vary by origin (and by path within some)."""
    text = [("Content-Type", "text/plain")]
    if path == "/robots.txt":
        if n % 13 == 12:
            return 404, [], b""
        body = "User-agent: *\nAllow: /\n"
        if n % 3 == 0:
            body = "User-agent: GPTBot\nDisallow: /\n\n" + body
        elif n % 4 == 1:
            body = "User-agent: CCBot\nUser-agent: Google-Extended\nDisallow: /photos/\n\n" + body
        if n % 11 == 0:
            body += f"License: http://{host}/license.xml\n"
        return 200, text, body.encode()
    if path == "/ai.txt" and n % 7 == 0:
        return 200, text, b"User-agent: *\nDisallow: *.jpg\n"
    if path == "/.well-known/tdmrep.json" and n % 5 == 0:
        return (
            200,
            [("Content-Type", "application/json")],
            (b'[{"location": "/photos/*", "tdm-reservation": 1}]'),
        )
    if path == "/license.xml" and n % 11 == 0:
        return 200, [("Content-Type", "application/rsl+xml")], RSL
    if path in ("/robots.txt", "/ai.txt", "/.well-known/tdmrep.json", "/license.xml"):
        return 404, [], b""
    headers = [("Content-Type", "image/jpeg")]
    if n % 7 == 0:
        headers.append(("X-Robots-Tag", "noai"))
    if n % 5 == 0 and path.startswith("/photos/"):
        headers.append(("tdm-reservation", "1"))
    return 200, headers, b""


def _answer(host: str, path: str) -> tuple[int, list[tuple[str, str]], bytes]:
    return site_answer(host_number(host), path, host)


# --- timing a scan ---------------------------------------------------------------------------


def timed_scan(input: Path, out: Path, **kwargs: Any) -> dict[str, Any]:
    """Run ``clearance.scan`` and split its wall time with the progress callback.

    ``setup``: from the call to the first progress call (planning, registry
    state, index build). ``steady``: items per second from the end of the
    first wave of shards (one per worker) to the end of the last, so pool or
    Ray start-up and the index load are excluded; it needs several shards per worker.
    ``finish``: from the last shard to the return (assembly, report, manifest).
    """
    from clearance.scan import scan

    ticks: list[tuple[float, float, int]] = []

    def progress(done: int, total: int) -> None:
        ticks.append((time.perf_counter(), time.process_time(), done))

    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    result = scan(input, out, progress=progress, **kwargs)
    end = time.perf_counter()
    items = ticks[-1][2]
    wave = min(int(kwargs.get("workers") or 1), len(ticks) - 1)  # the first shard per worker
    (t_start, _, _), (t_first, cpu_first, first), (t_last, cpu_last, _) = (
        ticks[0],
        ticks[wave],
        ticks[-1],
    )
    steady = (items - first) / (t_last - t_first) if t_last > t_first else float("nan")
    return {
        "items": items,
        "wall": end - t0,
        "rate": items / (end - t0),
        "setup": t_start - t0,
        "work": t_last - t_start,
        "finish": end - t_last,
        "steady": steady,
        # CPU seconds per item in this process after the first shard (workers=1 only).
        "cpu_per_item": (cpu_last - cpu_first) / max(1, items - first),
        "outcomes": result.report.get("outcomes", {}),
        "shards": result.shards,
        "out": out,
    }


def merkle_cost(res: dict[str, Any], repeat: int = 3) -> str:
    """The scan's evidence step, timed on its own output: the tree and a signed statement.

    The scan's wall time includes this step once, so the baseline is the scan
    without it: ``wall - tree``. Best of ``repeat`` runs.
    """
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from clearance.evidence import attest, merkle_section

    out: Path = res["out"]
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    key = Ed25519PrivateKey.generate()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        section = merkle_section(out / "decisions.parquet", manifest["shards"])
        attest({**manifest, "merkle": section}, key)
        times.append(time.perf_counter() - started)
    assert section["root"] == manifest["merkle"]["root"]
    tree = min(times)
    rest = res["wall"] - tree
    return (
        f"    evidence step (Merkle tree over {section['items']:,} decision rows + signed "
        f"statement): {tree:.3f} s = {tree / rest:.2%} of the scan without it "
        f"({rest:.2f} s; target <= 5%)"
    )


def _line(name: str, r: dict[str, Any]) -> str:
    return (
        f"    {name:34s} {r['items']:>8d} items {r['wall']:8.2f} s  {r['rate']:9.1f}/s"
        f"  steady {r['steady']:9.1f}/s  (setup {r['setup']:.2f} s, work {r['work']:.2f} s,"
        f" finish {r['finish']:.2f} s)"
    )


def _start_forkserver() -> None:
    """One fork server that has imported both the scan's and the hasher's code (fair start-up)."""
    from multiprocessing import forkserver

    forkserver.set_forkserver_preload(["clearance.scan.shard", "clearance.fingerprint.regions"])
    forkserver.ensure_running()


# --- (a) images ------------------------------------------------------------------------------


def bench_images(args: argparse.Namespace, work: Path) -> None:
    from clearance.core.errors import ClearanceError
    from clearance.fingerprint.parallel import image_hashes
    from clearance.matching import MatchIndex, MatchLevel
    from clearance.registry.store import open_store

    cache = Path(args.cache_dir)
    t0 = time.perf_counter()
    files = photos(cache, args.images, args.megapixels, args.seed)
    t1 = time.perf_counter()
    db = image_registry(cache, args.codes, files[::10], args.seed, args.region_works)
    t2 = time.perf_counter()
    with Image.open(files[0]) as im:
        size = im.size
    print(f"(a) {len(files)} JPEGs of {size[0]}x{size[1]} ({size[0] * size[1] / 1e6:.2f} MP),")
    print(f"    registry {db.name}: {args.codes:,} random PDQ codes + {len(files[::10])} photos,")
    print(f"    region codes of the photos and of {args.region_works:,} random works")
    print(f"    (photos ready in {t1 - t0:.1f} s, registry in {t2 - t1:.1f} s; cached)")
    with open_store(str(db)) as store, tempfile.TemporaryDirectory(dir=work) as idx:
        started = time.perf_counter()
        index = MatchIndex.from_store(store, level=MatchLevel.REGIONS)
        meta = index.save(Path(idx), registry_state=store.state_digest())
        built = time.perf_counter() - started
    print(
        f"    one-off index build ({meta['pdq_codes']:,} PDQ codes, "
        f"{meta['region_codes']:,} region codes): {built:.2f} s"
    )
    folder = files[0].parent
    raw: list[float] = []
    scans: list[dict[str, Any]] = []
    for r in range(args.rounds):  # interleaved, so both see the same machine load
        started = time.perf_counter()
        hashed = image_hashes(files, workers=args.workers)
        raw.append(time.perf_counter() - started)
        assert not any(isinstance(h, ClearanceError) for h in hashed)
        scans.append(
            timed_scan(
                folder, work / f"scan-images-{r}", registry=str(db), web="off",
                workers=args.workers, shard_size=args.image_shard_size,
                index_cache=work / "index-cache",  # round 0 builds and stores; later rounds reuse
            )
        )  # fmt: skip
    best_raw = len(files) / min(raw)
    best = max(scans, key=lambda s: s["rate"])
    print(f"    workers={args.workers}, shard size {args.image_shard_size}, {args.rounds} rounds;")
    print(f"    raw image_hashes, per round: {', '.join(f'{len(files) / t:.1f}' for t in raw)}/s")
    for r, s in enumerate(scans):
        cached = "index built" if r == 0 else "--index-cache warm"
        print(_line(f"scan --web off, round {r} ({cached})", s))
    print(f"    outcomes: {best['outcomes']}")
    print(merkle_cost(best))
    steady = max(s["steady"] for s in scans)
    print(f"    best raw {best_raw:.1f}/s; best scan end to end {best['rate']:.1f}/s = "
          f"{best['rate'] / best_raw:.1%} of raw; steady state {steady:.1f}/s = "
          f"{steady / best_raw:.1%} of raw (target >= 85%)")  # fmt: skip
    args.image_local = best
    # The same in this process (workers=1), in CPU seconds: robust to other jobs' load.
    started = time.process_time()
    image_hashes(files, workers=1)
    cpu_raw = (time.process_time() - started) / len(files)
    one = timed_scan(
        folder, work / "scan-images-cpu", registry=str(db), web="off", workers=1,
        shard_size=args.image_shard_size,
    )  # fmt: skip
    print(f"    CPU per image in one process (workers=1): raw image_hashes {cpu_raw * 1e3:.1f} ms,"
          f" scan {one['cpu_per_item'] * 1e3:.1f} ms after its first shard"
          f" -> scan keeps {cpu_raw / one['cpu_per_item']:.1%} of raw")  # fmt: skip
    fixed = best["setup"] + best["finish"]
    per = 1 / steady if steady > 0 else float("inf")  # nan/0: too few items for a steady rate
    need = 0.85 * fixed / (1 / best_raw - 0.85 * per) if 1 / best_raw > 0.85 * per else 0
    print(f"    fixed cost per run (setup + finish) {fixed:.1f} s: end to end reaches 85% of raw"
          f" from about {need:,.0f} images" if need else
          "    steady state is below 85% of raw: no folder size reaches it end to end")  # fmt: skip
    args.image_input = (folder, db)
    regions_cost(args, work, db)


def regions_cost(args: argparse.Namespace, work: Path, db: Path) -> None:
    """Per-image CPU of the cascade's stages on a folder where no image is registered.

    The worst case for the default ``--match regions``: every image falls through
    PDQ to the regions. In this process (workers=1, CPU seconds, so other jobs'
    load counts little), the same files, interleaved rounds, best of each:
    raw ``image_hashes`` (decode + PDQ with dihedrals) against the scan at
    ``--match pdq`` and at ``--match regions``, after each scan's first shard
    (the index is loaded from the cache; planning and assembly are excluded).
    """
    from clearance.fingerprint.parallel import image_hashes

    files = photos(Path(args.cache_dir), args.regions_images, args.megapixels, args.seed + 1)
    folder = files[0].parent
    cache = work / "index-cache-regions"
    best: dict[str, float] = {}
    for r in range(args.rounds):
        started = time.process_time()
        image_hashes(files, workers=1)
        raw = (time.process_time() - started) / len(files)
        best["raw"] = min(best.get("raw", raw), raw)
        for level in ("pdq", "regions"):
            one = timed_scan(
                folder, work / f"scan-regions-{level}-{r}", registry=str(db), web="off",
                workers=1, shard_size=args.image_shard_size, match=level, index_cache=cache,
            )  # fmt: skip
            assert one["outcomes"].get("include") == len(files), one["outcomes"]
            best[level] = min(best.get(level, one["cpu_per_item"]), one["cpu_per_item"])
    print(f"(a2) regions' cost: {len(files)} unregistered JPEGs, CPU per image in one process,")
    print(f"     best of {args.rounds} rounds (target: regions <= 1.5x raw image_hashes):")
    print(f"     raw image_hashes {best['raw'] * 1e3:.2f} ms;"
          f" scan --match pdq {best['pdq'] * 1e3:.2f} ms = {best['pdq'] / best['raw']:.2f}x;"
          f" scan --match regions {best['regions'] * 1e3:.2f} ms"
          f" = {best['regions'] / best['raw']:.2f}x")  # fmt: skip


# --- (b) URL rows ----------------------------------------------------------------------------


def _per_url_worker(urls: list[str], concurrency: int) -> tuple[float, float, int, int]:
    """One process of the baseline: HEAD every URL, read its X-Robots-Tag and TDMRep headers."""
    import httpx

    from clearance.signals.mapping import evidence_from_robots_directives, evidence_from_tdmrep
    from clearance.signals.tdmrep import tdmrep_from_headers
    from clearance.signals.xrobots import x_robots_tag_from_headers

    async def go() -> tuple[float, float, int, int]:
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        gate = asyncio.Semaphore(concurrency)
        opted_out = errors = 0
        kinds: dict[str, int] = {}
        async with httpx.AsyncClient(limits=limits, timeout=30, trust_env=False) as client:

            async def one(url: str) -> None:
                nonlocal opted_out, errors
                async with gate:
                    try:
                        r = await client.head(url)
                    except httpx.HTTPError as exc:
                        errors += 1
                        kinds[type(exc).__name__] = kinds.get(type(exc).__name__, 0) + 1
                        return
                headers = tuple((k.lower(), v) for k, v in r.headers.multi_items())
                ev = evidence_from_robots_directives(x_robots_tag_from_headers(headers), image=True)
                ev += evidence_from_tdmrep(tdmrep_from_headers(headers))
                opted_out += any(e.permission.value == "deny" for e in ev)

            started, cpu = time.perf_counter(), time.process_time()
            await asyncio.gather(*(one(u) for u in urls))
            if kinds:
                print(f"    per-URL check errors in one process: {kinds}", flush=True)
            return time.perf_counter() - started, time.process_time() - cpu, opted_out, errors

    return asyncio.run(go())


def per_url_baseline(urls: list[str], workers: int) -> dict[str, float]:
    """The datadiligence-style check on ``urls`` in ``workers`` processes, 64 in flight each.

    Timed inside each process (start-up excluded, which favours the baseline).
    """
    chunks = [urls[i::workers] for i in range(workers)]
    with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as pool:
        results = list(pool.map(_per_url_worker, chunks, [64] * workers))
    wall = max(r[0] for r in results)
    return {
        "urls": len(urls),
        "wall": wall,
        "rate": len(urls) / wall,
        "cpu_per_url": sum(r[1] for r in results) / max(1, len(urls)),
        "opted_out": sum(r[2] for r in results),
        "errors": sum(r[3] for r in results),
    }


def bench_urls(args: argparse.Namespace, work: Path, port: int, counter: Any) -> None:
    import pyarrow.parquet as pq

    table = url_table(work, args.rows, args.origins, port, args.order)
    db = empty_registry(work)
    args.url_table, args.url_registry = table, db
    print(f"(b) {args.rows:,} URL rows over {args.origins:,} origins ({args.order}), "
          f"--web origin, workers={args.workers}, shard size {args.url_shard_size}")  # fmt: skip
    before = counter.value
    res = timed_scan(
        table, work / "scan-urls", registry=str(db), web="origin", allow_private=True,
        workers=args.workers, shard_size=args.url_shard_size,
    )  # fmt: skip
    requests = counter.value - before
    print(_line("scan --web origin", res))
    print(f"    outcomes: {res['outcomes']}")
    print(merkle_cost(res))
    print(f"    HTTP requests the server saw: {requests:,} ({requests / args.origins:.2f} per"
          f" origin, {requests / args.rows:.4f} per row)")  # fmt: skip
    args.url_local = res
    sample = pq.read_table(table, columns=["url"]).column("url").to_pylist()[: args.baseline_urls]
    before = counter.value
    base = per_url_baseline(sample, args.workers)
    seen = counter.value - before
    print(f"    per-URL HEAD check (datadiligence-style) on {len(sample):,} rows:"
          f" {base['wall']:.2f} s, {base['rate']:.1f} rows/s, {seen:,} requests,"
          f" {int(base['opted_out']):,} opted out, {int(base['errors'])} errors")  # fmt: skip
    print(f"    client CPU per URL: {base['cpu_per_url'] * 1e3:.2f} ms (server excluded)")
    rows = min(args.cpu_rows, args.rows)
    small = work / f"urls-cpu-{rows}.parquet"
    pq.write_table(pq.read_table(table).slice(0, rows), small)
    one = timed_scan(
        small, work / "scan-urls-cpu", registry=str(db), web="origin", allow_private=True,
        workers=1, shard_size=args.url_shard_size,
    )  # fmt: skip
    print(_line(f"{rows:,} rows in one process", one))
    print(f"    scan CPU per row in one process (workers=1, after its first shard, cold site"
          f" files): {one['cpu_per_item'] * 1e3:.2f} ms -> per-URL check / scan CPU ="
          f" {base['cpu_per_url'] / one['cpu_per_item']:.1f}x")  # fmt: skip
    print(f"    at that rate {args.rows:,} rows would take {args.rows / base['rate']:.0f} s"
          f" and {args.rows:,} requests")  # fmt: skip
    print(f"    ratio: scan end to end {res['rate'] / base['rate']:.1f}x the per-URL check's "
          f"rows/s (steady state {res['steady'] / base['rate']:.1f}x)")  # fmt: skip


# --- (b2) columnar vs per-row -----------------------------------------------------------------


def bench_columnar(args: argparse.Namespace, work: Path, port: int, counter: Any) -> None:
    """The same URL table decided columnar and per row, one worker, site files cached.

    The site files of every origin are fetched first into a ``--site-cache``
    directory (a scan of one row per origin), so both timed runs read every
    policy from the cache (and this process's parsed copies) and make no
    requests: what is measured is the row work, the per-row path being the baseline.
    """
    table = getattr(args, "url_table", None) or url_table(
        work, args.rows, args.origins, port, args.order
    )
    db = getattr(args, "url_registry", None) or empty_registry(work)
    cache = work / "site-cache"
    print(f"(b2) columnar vs per-row: {args.rows:,} URL rows over {args.origins:,} origins "
          f"({args.order}), workers=1, shard size {args.url_shard_size}, "
          "site files cached")  # fmt: skip
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    urls = pq.read_table(table)
    hosts = pc.extract_regex(urls.column("url").combine_chunks(), r"^http://(?P<h>[^/]+)/")
    hosts = hosts.field("h")
    first = pc.index_in(pc.unique(hosts), hosts)  # the first row of each origin
    warm = work / "urls-warm.parquet"
    pq.write_table(urls.take(first), warm)
    common = {"registry": str(db), "web": "origin", "allow_private": True, "workers": 1,
              "shard_size": args.url_shard_size, "site_cache": str(cache)}  # fmt: skip
    timed_scan(warm, work / "scan-warm", **common)
    before = counter.value
    col = timed_scan(table, work / "scan-columnar", columnar=True, **common)
    row = timed_scan(table, work / "scan-per-row", columnar=False, **common)
    requests = counter.value - before
    print(_line("columnar", col))
    print(_line("per-row", row))
    same = pq.read_table(col["out"] / "decisions.parquet").equals(
        pq.read_table(row["out"] / "decisions.parquet")
    )
    print(f"    identical decisions.parquet: {same}; requests during both runs: {requests}")
    print(f"    columnar/per-row: end to end {col['rate'] / row['rate']:.1f}x, steady state "
          f"{col['steady'] / row['steady']:.1f}x; columnar {col['rate']:,.0f} rows/s per core "
          f"end to end ({col['steady']:,.0f} steady, CPU {col['cpu_per_item'] * 1e6:.1f} us/row"
          f" vs {row['cpu_per_item'] * 1e6:.1f})")  # fmt: skip


# --- (c) Ray ---------------------------------------------------------------------------------


def bench_ray(args: argparse.Namespace, work: Path, port: int) -> None:
    try:
        import ray  # noqa: F401
    except ImportError:
        print("(c) Ray: SKIPPED, Ray is not installed (pip install 'clearance[ray]')")
        return
    print(f"(c) Ray engine (a local Ray started by each scan, {args.workers} CPUs) vs local")
    if getattr(args, "image_local", None) is not None:
        folder, db = args.image_input
        res = timed_scan(
            folder, work / "scan-images-ray", registry=str(db), web="off", engine="ray",
            workers=args.workers, shard_size=args.image_shard_size,
        )  # fmt: skip
        loc = args.image_local
        print(_line("images, ray", res))
        print(_line("images, local (from (a))", loc))
        print(f"    ray/local: end to end {res['rate'] / loc['rate']:.2f}, "
              f"steady state {res['steady'] / loc['steady']:.2f}")  # fmt: skip
    if getattr(args, "url_table", None) is not None:
        import pyarrow.parquet as pq

        rows = min(args.ray_rows, args.rows)
        small = work / f"urls-ray-{rows}.parquet"
        pq.write_table(pq.read_table(args.url_table).slice(0, rows), small)
        results = {}
        for engine in ("local", "ray"):
            results[engine] = timed_scan(
                small, work / f"scan-urls-{engine}", registry=str(args.url_registry),
                web="origin", allow_private=True, engine=engine, workers=args.workers,
                shard_size=args.url_shard_size,
            )  # fmt: skip
            print(_line(f"{rows:,} URL rows, {engine}", results[engine]))
        r, lo = results["ray"], results["local"]
        print(f"    ray/local: end to end {r['rate'] / lo['rate']:.2f}, "
              f"steady state {r['steady'] / lo['steady']:.2f} (site files already in neither run's"
              f" cache: each run fetches them)")  # fmt: skip


# --- main ------------------------------------------------------------------------------------


def profile_urls(args: argparse.Namespace, work: Path) -> None:
    """cProfile of one in-process (workers=1) URL scan: where the per-row time goes."""
    import cProfile
    import pstats

    prof = cProfile.Profile()
    prof.enable()
    res = timed_scan(
        args.url_table, work / "scan-urls-profile", registry=str(args.url_registry),
        web="origin", allow_private=True, workers=1, shard_size=args.url_shard_size,
    )  # fmt: skip
    prof.disable()
    print(_line("profiled, workers=1", res))
    pstats.Stats(prof).sort_stats("cumulative").print_stats(args.profile)
    pstats.Stats(prof).sort_stats("tottime").print_stats(args.profile)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_scan", description=__doc__)
    parser.add_argument("--images", type=int, default=960, help="JPEGs in the folder")
    parser.add_argument("--megapixels", type=float, default=1.2, help="size of each JPEG")
    parser.add_argument("--codes", type=int, default=1_000_000, help="random PDQ codes registered")
    parser.add_argument("--rows", type=int, default=100_000, help="URL rows")
    parser.add_argument("--origins", type=int, default=1_000, help="distinct origins")
    parser.add_argument(
        "--order",
        choices=("shuffled", "grouped"),
        default="shuffled",
        help="rows cycle through the origins, or come sorted by origin",
    )
    parser.add_argument("--baseline-urls", type=int, default=20_000, help="per-URL check sample")
    parser.add_argument("--cpu-rows", type=int, default=10_000, help="rows of the CPU run")
    parser.add_argument("--ray-rows", type=int, default=20_000, help="URL rows for the Ray run")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--image-shard-size", type=int, default=20)
    parser.add_argument("--url-shard-size", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2, help="image rounds (raw and scan)")
    parser.add_argument(
        "--region-works", type=int, default=10_000, help="random works with region sets"
    )
    parser.add_argument(
        "--regions-images", type=int, default=200, help="unregistered JPEGs for (a2)"
    )
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--cache-dir", default=str(Path(tempfile.gettempdir()) / "clearance-bench"))
    parser.add_argument("--skip-images", action="store_true")
    parser.add_argument("--skip-urls", action="store_true")
    parser.add_argument("--skip-ray", action="store_true")
    parser.add_argument("--skip-columnar", action="store_true", help="skip (b2)")
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="N",
        help="also profile a workers=1 URL scan, printing the top N functions",
    )
    args = parser.parse_args(argv)
    args.image_local = args.url_table = None
    Path(args.cache_dir).mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()[0]
    print(f"machine: {os.cpu_count()} CPUs, 1-minute load average {load:.1f} at start")
    _start_forkserver()
    ctx = mp.get_context("spawn")
    port, counter = ctx.Value("i", 0), ctx.Value("q", 0, lock=False)
    server = None
    with tempfile.TemporaryDirectory(prefix="bench-scan-") as tmp:
        work = Path(tmp)
        try:
            if not args.skip_images:
                bench_images(args, work)
            if not (args.skip_urls and args.skip_ray and args.skip_columnar):
                server = ctx.Process(
                    target=serve_forever, args=(_answer, "0.0.0.0", port, counter), daemon=True
                )
                server.start()
                while port.value == 0:
                    time.sleep(0.05)
            if not args.skip_urls or not args.skip_ray:
                if args.skip_urls:  # Ray alone still needs the URL table
                    args.url_table = url_table(
                        work, args.rows, args.origins, port.value, args.order
                    )
                    args.url_registry = empty_registry(work)
                else:
                    bench_urls(args, work, port.value, counter)
            if not args.skip_columnar:
                bench_columnar(args, work, port.value, counter)
            if not args.skip_ray:
                bench_ray(args, work, port.value)
            if args.profile and args.url_table is not None:
                profile_urls(args, work)
        finally:
            if server is not None:
                server.terminate()
                server.join(5)
    print(f"1-minute load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()

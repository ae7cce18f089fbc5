"""The registry as a service under load: the bulk URL query and hash-only checks on loopback.

* bulk: ``POST /v1/query/urls`` with 10,000 URLs a request (10% registered
  URLs, 5% under registered prefixes, 5% on registered domains, the rest
  unregistered), against a registry of ``--works`` URL claims; throughput in
  URLs/s and request p50/p99 from ``wrk``. Baseline, same run: the per-item
  path a scan takes for a bare URL (``IdentifierIndex.search`` then
  ``decide_item``, in process, no HTTP);
* hash-only: ``POST /v1/check`` with a client-side PDQ hash against
  ``--works`` PDQ codes, requests/s, p50/p99 and errors at ``--connections``;
  baseline, same run: ``check_pdq`` in process, one at a time.

The server is the FastAPI app under uvicorn (``--workers`` processes sharing
the port through SO_REUSEPORT, each holding the index, as ``clearance serve``
workers do), and the load client is ``wrk`` (C, one thread), all on the same
machine. The index is built in memory, not through a registry import, so the
run measures serving. Bounded: ``--seconds`` per load phase.

    python -m benchmarks.bench_service --works 1000000 --seconds 15

Hash-only checks run twice: saturated (each of ``--connections`` sends its
next request as soon as the last is answered: the throughput, and a latency
that is just ``connections / throughput``), and paced at ``--rate`` requests/s
in all over the same connections (the latency a service offered that rate
gives: what "1,000 req/s with p99 <= 50 ms" asks).

The servers use the event loop ``clearance serve`` uses (``Settings.event_loop``,
asyncio by default); ``BENCH_LOOP=uvloop`` measures the other.

Registration (``--phases registration``; PostgreSQL at ``--pg``): eight
writer threads, two per owner, register ``--registration-contents`` URLs and
small text files through ``clearance serve --workers`` (overlapping: every
third content by all four owners), then the registry is checked: one work per
content, contested ones disputed by all four owners, nothing lost or doubled,
no 5xx.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing as mp
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from clearance.core.models import Identifier, IdentifierScheme, Party, Terms, Work, WorkKind
from clearance.core.policy import Mode
from clearance.core.usage import Permission, Usage
from clearance.guard import check_pdq
from clearance.matching import MatchIndex, RegistryView, decide_item, matched_works
from clearance.matching.exact import IdentifierIndex, IdentifierQuery
from clearance.matching.segments import HammingSegments

BATCH = 10_000
_DENY = Terms({Usage.TRAIN_AI: Permission.DENY, Usage.OUTPUT: Permission.DENY})
_AT = datetime(2026, 1, 1, tzinfo=UTC)


class _Works(Mapping[int, Work]):
    """Every work id of the synthetic registry, made on demand (a million ``Work`` objects
    would only measure the allocator; lookups happen for matched works only)."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __getitem__(self, work_id: int) -> Work:
        if not 1 <= work_id <= self.n:
            raise KeyError(work_id)
        return Work(
            work_id,
            WorkKind.IMAGE,
            Party(work_id % 1000, f"owner{work_id % 1000}"),
            None,
            (),
            _DENY,
            _AT,
        )

    def __iter__(self) -> Iterator[int]:
        return iter(range(1, self.n + 1))

    def __len__(self) -> int:
        return self.n


def _url(k: int) -> str:
    return f"https://site{k % 20_000}.example/img/{k}.jpg"


def build_view(works: int, seed: int = 0) -> RegistryView:
    """``works`` claims: 98% URLs, 1% URL prefixes, 1% domains; and ``works`` PDQ codes."""
    pairs: list[tuple[int, Identifier]] = []
    for w in range(1, works + 1):
        if w % 100 == 0:
            pairs.append(
                (w, Identifier(IdentifierScheme.URL_PREFIX, f"https://pre{w}.example/art/"))
            )
        elif w % 100 == 1:
            pairs.append((w, Identifier(IdentifierScheme.DOMAIN, f"dom{w}.example")))
        else:
            pairs.append((w, Identifier(IdentifierScheme.URL, _url(w))))
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 256, size=(works, 32), dtype=np.uint8)
    index = MatchIndex(
        identifiers=IdentifierIndex.build(pairs),
        pdq=HammingSegments.build(np.arange(1, works + 1, dtype=np.int64), codes),
    )
    return RegistryView(index, _Works(works))


def query_batch(works: int, seed: int = 1) -> list[str]:
    rng = np.random.default_rng(seed)
    out: list[str] = []
    for i in range(BATCH):
        w = int(rng.integers(1, works + 1))
        roll = i % 20
        if roll < 2:  # 10%: a registered URL
            w = w - w % 100 + 50 if w - w % 100 + 50 <= works else 50
            out.append(_url(w))
        elif roll == 2:  # 5%: under a registered prefix
            out.append(f"https://pre{max(100, w - w % 100)}.example/art/{i}.png")
        elif roll == 3:  # 5%: on a registered domain (a subdomain)
            out.append(f"https://cdn.dom{w - w % 100 + 1}.example/{i}.png")
        else:
            out.append(f"https://other{i % 3000}.example/p/{w}/{i}.jpg")
    return out


def per_item_baseline(view: RegistryView, urls: list[str]) -> dict[str, Any]:
    """The per-item path: one ``IdentifierIndex.search`` and one ``decide_item`` per URL."""
    started = time.perf_counter()
    opted = 0
    for url in urls:
        found = matched_works(view.index.identifiers.search(IdentifierQuery(url=url)), view.work)
        decided = decide_item(found, (), purpose=Usage.TRAIN_AI, mode=Mode.OPT_OUT, at=_AT)
        opted += not decided.decision.allowed
    seconds = time.perf_counter() - started
    return {"urls_per_s": round(len(urls) / seconds), "opted_out": opted}


def _serve(works: int, port: int) -> None:
    import uvicorn

    from clearance.api import create_app
    from clearance.config import Settings

    view = build_view(works)
    app = create_app(Settings(registry=":memory:"), index=view)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", port))
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        backlog=4096,
        loop=os.environ.get("BENCH_LOOP") or Settings().event_loop,  # as `clearance serve`
    )
    uvicorn.Server(config).run(sockets=[sock])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(port: int, seconds: float = 900) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.5)
    raise SystemExit("the server did not start")


def _ms(text: str) -> float:
    value, unit = float(re.match(r"([\d.]+)", text).group(1)), re.sub(r"[\d.]", "", text)  # type: ignore[union-attr]
    return value * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(
    url: str, body: str, ctype: str, seconds: int, connections: int, rate: float = 0
) -> dict[str, Any]:
    """``wrk`` at full speed, or with ``rate`` > 0 paced to about ``rate`` requests/s in all:
    each connection waits ``connections / rate`` seconds before each request (wrk's
    ``delay()``), so the latencies are those of a service offered ``rate``, not of one
    driven to saturation by a closed loop (where latency is connections / throughput)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        lua.write(
            f'wrk.method = "POST"\nwrk.body = {json.dumps(body)}\n'
            f'wrk.headers["Content-Type"] = "{ctype}"\n'
        )
        if rate > 0:
            lua.write(f"function delay()\n  return {1000 * connections / rate:.1f}\nend\n")
    try:
        out = subprocess.run(
            ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", lua.name, url],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(lua.name)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    return {
        "requests_per_s": rps,
        "p50_ms": _ms(p50.group(1)) if p50 else None,
        "p99_ms": _ms(p99.group(1)) if p99 else None,
        "non_2xx": int(errors.group(1)) if errors else 0,
        "socket_errors": sum(int(g) for g in sock.groups()) if sock else 0,
    }


REG_WRITERS = 8
REG_OWNERS = 4  # writer w registers as owner O{w % 4}: two writers per owner


def registration_plan(contents: int, writer: int) -> list[int]:
    """The contents writer ``writer`` registers, in its own order.

    Content ``i`` is a URL (even ``i``, ``POST /v1/works``) or a small text
    file (odd ``i``, ``POST /v1/works/upload``: its SHA-256 is its key). Every
    third content is *contested*: all eight writers (four owners) register it,
    so it must end as one work disputed by all four. The others belong to
    owner ``i % 4``, whose two writers both register it: one work, undisputed.
    """
    owner = writer % REG_OWNERS
    mine = [i for i in range(contents) if i % 3 == 0 or i % REG_OWNERS == owner]
    np.random.default_rng(writer).shuffle(mine)
    return mine


def _reg_url(i: int) -> str:
    return f"https://reg{i}.example/works/{i}.jpg"


def _reg_text(i: int) -> bytes:
    rng = np.random.default_rng(10_000 + i)
    return " ".join(f"w{int(x):x}" for x in rng.integers(0, 1 << 40, 80)).encode()


def _register_all(base: str, key: str, plan: list[int]) -> tuple[list[float], dict[int, int]]:
    import httpx

    latencies: list[float] = []
    statuses: dict[int, int] = {}
    auth = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=base, headers=auth, timeout=60) as client:
        for i in plan:
            started = time.perf_counter()
            if i % 2 == 0:
                r = client.post("/v1/works", json={"url": _reg_url(i), "terms": {"deny": ["tdm"]}})
            else:
                files = {"file": (f"text{i}.txt", _reg_text(i), "text/plain")}
                r = client.post("/v1/works/upload", files=files, data={"deny": "tdm"})
            latencies.append(time.perf_counter() - started)
            statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
    return latencies, statuses


def run_writers(base: str, keys: list[str], contents: int) -> dict[str, Any]:
    """Eight writer threads (``keys[w]`` is writer ``w``'s, owner ``O{w % 4}``) register
    their ``registration_plan`` at once against the service at ``base``."""
    import threading

    plans = [registration_plan(contents, w) for w in range(REG_WRITERS)]
    results: list[tuple[list[float], dict[int, int]]] = [([], {})] * REG_WRITERS

    def run(w: int) -> None:
        results[w] = _register_all(base, keys[w], plans[w])

    threads = [threading.Thread(target=run, args=(w,)) for w in range(REG_WRITERS)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - started
    latencies = sorted(x for lat, _ in results for x in lat)
    statuses: dict[str, int] = {}
    for _, st in results:
        for code, n in st.items():
            statuses[str(code)] = statuses.get(str(code), 0) + n
    n = len(latencies)
    return {
        "contents": contents,
        "writers": REG_WRITERS,
        "requests": n,
        "registrations_per_s": round(n / seconds, 1),
        "p50_ms": round(1000 * latencies[n // 2], 1) if n else None,
        "p99_ms": round(1000 * latencies[int(n * 0.99)], 1) if n else None,
        "statuses": statuses,
    }


def audit_registrations(works: list[Work], contents: int) -> dict[str, int]:
    """What the registry holds against what the writers meant: one work per content,
    claimed by the right owners, disputed exactly when contested."""
    by_key: dict[str, list[Work]] = {}
    for work in works:
        for ident in work.identifiers:
            if ident.scheme in (IdentifierScheme.URL, IdentifierScheme.SHA256):
                by_key.setdefault(ident.value, []).append(work)
    wrong = lost = doubled = 0
    for i in range(contents):
        key = _reg_url(i) if i % 2 == 0 else hashlib.sha256(_reg_text(i)).hexdigest()
        found = by_key.get(key, [])
        lost += not found
        doubled += len(found) > 1
        if len(found) == 1:
            claimants = sorted(c.party for c in found[0].claims)
            contested = i % 3 == 0
            expected = [f"O{o}" for o in range(REG_OWNERS)] if contested else [f"O{i % 4}"]
            wrong += claimants != expected or found[0].disputed != contested
    return {"works": len(works), "lost": lost, "doubled": doubled, "wrong": wrong}


def registration(contents: int, workers: int, admin_url: str) -> dict[str, Any]:
    """Eight concurrent writers register overlapping works through ``clearance serve
    --workers`` on a throwaway PostgreSQL database; then the registry is checked: one
    work per content (none lost, none doubled), contested ones disputed by all four owners."""
    import sys
    import uuid

    import httpx
    import psycopg

    import clearance
    from clearance.registry import create_key, init_store, open_store

    name = f"clearance_bench_{uuid.uuid4().hex[:10]}"
    registry = f"{admin_url.rpartition('/')[0]}/{name}"
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    src = str(Path(clearance.__file__).resolve().parents[1])  # the clearance measured here
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH", "")) if p),
        "CLEARANCE_API_KEY_RATE": "100000",  # eight writers, four keys' worth each
        "CLEARANCE_API_KEY_BURST": "100000",
    }
    port = _free_port()
    command = [sys.executable, "-m", "clearance", "serve", "--port", str(port)]
    command += ["--workers", str(workers), "--registry", registry]
    try:
        with init_store(registry) as store:
            keys = [create_key(store, f"O{w % REG_OWNERS}", "owner")[1] for w in range(8)]
        with (
            tempfile.TemporaryFile("w+") as log,
            subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=log) as proc,
        ):
            try:
                deadline = time.time() + 180
                while True:  # answering HTTP, not just bound: workers load after the bind
                    if proc.poll() is not None or time.time() > deadline:
                        log.seek(0)
                        raise SystemExit(f"clearance serve did not start: {log.read()[-2000:]}")
                    try:
                        if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).is_success:
                            break
                    except httpx.HTTPError:
                        time.sleep(0.3)
                time.sleep(2.0 if workers > 1 else 0.0)  # the other workers, too
                report = run_writers(f"http://127.0.0.1:{port}", keys, contents)
            finally:
                proc.terminate()
        with open_store(registry) as store:
            audit = audit_registrations(store.list_works(), contents)
        return {**report, "server_workers": workers, **audit}
    finally:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--works", type=int, default=200_000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--bulk-connections", type=int, default=4)
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument(
        "--rate", type=float, default=1000, help="hash-only checks/s offered in the paced run"
    )
    parser.add_argument("--phases", default="bulk,checks,registration")
    parser.add_argument("--registration-contents", type=int, default=3000)
    parser.add_argument(
        "--pg",
        default=os.environ.get("CLEARANCE_TEST_PG", "postgresql://root@127.0.0.1:5432/postgres"),
        help="a PostgreSQL admin URL: the registration phase creates and drops a database",
    )
    args = parser.parse_args(argv)
    phases = {p.strip() for p in args.phases.split(",") if p.strip()}
    report: dict[str, Any] = {"workers": args.workers, "cpus": os.cpu_count()}
    load_before = os.getloadavg()
    if phases & {"bulk", "checks"}:
        report.update(_serving(args, phases))
    if "registration" in phases:
        report["registration"] = registration(args.registration_contents, args.workers, args.pg)
    report["load_average_1m"] = [round(load_before[0], 2), round(os.getloadavg()[0], 2)]
    print(json.dumps(report, indent=2))


def _serving(args: argparse.Namespace, phases: set[str]) -> dict[str, Any]:
    """The bulk query and hash-only checks against ``--workers`` in-memory servers."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    started = time.perf_counter()
    view = build_view(args.works)
    built = time.perf_counter() - started
    urls = query_batch(args.works)
    baseline = per_item_baseline(view, urls)
    rng = np.random.default_rng(2)
    hashes = [rng.integers(0, 256, 32, dtype=np.uint8).tobytes() for _ in range(2000)]
    t = time.perf_counter()
    for h in hashes:
        check_pdq(view, h)
    in_process_checks = len(hashes) / (time.perf_counter() - t)
    port = _free_port()
    ctx = mp.get_context("spawn")
    servers = [
        ctx.Process(target=_serve, args=(args.works, port), daemon=True)
        for _ in range(args.workers)
    ]
    for s in servers:
        s.start()
    report: dict[str, Any] = {"works": args.works, "index_build_s": round(built, 1)}
    try:
        _wait(port)
        time.sleep(2.0 if args.workers > 1 else 0.0)  # every worker has bound the port
        base = f"http://127.0.0.1:{port}"
        if "bulk" in phases:
            bulk = wrk(
                f"{base}/v1/query/urls",
                "\n".join(urls),
                "text/plain",
                args.seconds,
                args.bulk_connections,
            )
            bulk_urls = bulk["requests_per_s"] * BATCH
            report["bulk_urls"] = {
                **bulk,
                "urls_per_s": round(bulk_urls),
                "connections": args.bulk_connections,
                "baseline": "per-item IdentifierIndex.search + decide_item, in process",
                "baseline_urls_per_s": baseline["urls_per_s"],
                "ratio_vs_baseline": round(bulk_urls / baseline["urls_per_s"], 2),
                "target_urls_per_s": 50_000,
            }
        if "checks" in phases:
            check_url, body = f"{base}/v1/check", json.dumps({"pdq": "ab" * 32})
            saturated = wrk(check_url, body, "application/json", args.seconds, args.connections)
            paced = wrk(
                check_url, body, "application/json", args.seconds, args.connections, args.rate
            )
            report["hash_only_checks"] = {
                **saturated,
                "connections": args.connections,
                "baseline": "check_pdq in process, one at a time",
                "baseline_per_s": round(in_process_checks),
                "ratio_vs_baseline": round(saturated["requests_per_s"] / in_process_checks, 2),
                "target_per_s": 1000,
            }
            report["hash_only_checks_paced"] = {
                **paced,
                "connections": args.connections,
                "offered_per_s": args.rate,
                "target": "p99 <= 50 ms, 0 errors",
            }
    finally:
        for s in servers:
            s.terminate()
    return report


if __name__ == "__main__":
    main()

"""A real multi-node Ray run: two nodes, the registry on PostgreSQL, data and outputs on S3.

The cluster (``benchmarks.raycluster``) is a head node and a second node started
with ``ray start --address``, one CPU and its own temporary directory each;
the input, ``DIR``, the site cache and the index cache are on a local S3
server (``benchmarks.s3local``), so no node relies on another's disk. The scan is
the CLI, ``--engine ray --ray-address``, as a user runs it.

* An uninterrupted run on both nodes decides exactly as the local engine.
* Losing a node: the second node's raylet is killed while its actor is
  deciding. The run either finishes on the head node or stops with a clear
  error and completes with ``--resume``; either way its decisions equal the
  uninterrupted run's, item for item (none lost, none doubled).

Each shard's URLs point at their own local site, whose robots.txt can be held
at a gate: the node is killed only once both nodes' actors are waiting there,
each inside a shard, so the lost node certainly takes a shard with it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from benchmarks.raycluster import Cluster, two_nodes, wait_for
from benchmarks.s3local import LocalS3

from clearance.core import Permission, Usage
from clearance.registry import add_works, init_store
from clearance.registry.records import TermsChange
from clearance.scan import scan
from tests.localsite import LocalSite, serve

SHARDS = 6
ROWS_PER_SHARD = 3
HOLD = 6.0
"""Longest a held robots.txt waits (well under the fetcher's 10 s timeout, so a held
answer is never a timeout that would change a decision)."""


@dataclass
class Gate:
    """Holds every site's robots.txt while closed; says which sites are held."""

    open: threading.Event = field(default_factory=threading.Event)
    held: set[int] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def route(self, n: int, body: bytes) -> Callable[[str], tuple[int, dict[str, str], bytes]]:
        def answer(_: str) -> tuple[int, dict[str, str], bytes]:
            with self.lock:
                self.held.add(n)
            self.open.wait(HOLD)
            with self.lock:
                self.held.discard(n)
            return 200, {}, body

        return answer


@pytest.fixture(scope="module")
def gate() -> Gate:
    g = Gate()
    g.open.set()
    return g


@pytest.fixture(scope="module")
def sites(gate: Gate) -> Iterator[list[LocalSite]]:
    with ExitStack() as stack:
        out = []
        for n in range(SHARDS):
            site = stack.enter_context(serve(LocalSite()))
            opt_out = b"User-agent: GPTBot\nDisallow: /\n" if n % 3 == 2 else b""
            site.routes["/robots.txt"] = gate.route(n, opt_out + b"User-agent: *\nAllow: /\n")
            out.append(site)
        yield out


@pytest.fixture(scope="module")
def cluster(s3: LocalS3) -> Iterator[Cluster]:
    with two_nodes(s3.env()) as c:
        yield c


@pytest.fixture(scope="module")
def data(s3: LocalS3, sites: list[LocalSite], tmp_path_factory: pytest.TempPathFactory) -> str:
    rows = []
    for n, site in enumerate(sites):
        for i in range(ROWS_PER_SHARD):
            rows.append({"url": site.url(f"/img/{i}.jpg"), "caption": f"shard {n} row {i}"})
    path = tmp_path_factory.mktemp("cluster") / "urls.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    return s3.upload(path, f"{s3.prefix('cluster-in')}/urls.parquet")


@pytest.fixture
def pg_registry(pg_database: str, sites: list[LocalSite]) -> str:
    store = init_store(pg_database)
    try:
        deny = TermsChange({Usage.TRAIN_AI: Permission.DENY})
        add_works(store, [f"{sites[1].origin}/img/*"], owner="Ann", terms=deny)
        add_works(store, [sites[4].url("/img/2.jpg")], owner="Ben", terms=deny)
    finally:
        store.close()
    return pg_database


def _cli(cluster: Cluster, data: str, out: str, registry: str, *extra: str) -> list[str]:
    code = "import sys; from clearance.cli import main; sys.exit(main(sys.argv[1:]))"
    args = [sys.executable, "-c", code, "scan", data, "--out", out, "--registry", registry]
    args += ["--purpose", "train-ai", "--allow-private", "--shard-size", str(ROWS_PER_SHARD)]
    args += ["--engine", "ray", "--ray-address", cluster.address, "--workers", "2", "--json"]
    return [*args, *extra]


def _rows(s3: LocalS3, out: str) -> list[dict[str, object]]:
    table = pq.read_table(pa.BufferReader(s3.read(f"{out}/decisions.parquet")))
    return sorted(table.to_pylist(), key=lambda r: str(r["item_id"]))


def _records(s3: LocalS3, out: str) -> int:
    try:
        return sum(k.startswith(".parts/shard-") and k.endswith(".json") for k in s3.keys(out))
    except FileNotFoundError:
        return 0


def test_two_nodes_equal_the_local_engine_and_survive_losing_one(
    s3: LocalS3, cluster: Cluster, data: str, pg_registry: str, gate: Gate, tmp_path: Path
) -> None:
    index = s3.prefix("cluster-index")
    # the local engine, the reference
    local = scan(data, tmp_path / "local", registry=pg_registry, purpose="train-ai",
                 allow_private=True, shard_size=ROWS_PER_SHARD, workers=1)  # fmt: skip
    expected = sorted(
        pq.read_table(tmp_path / "local" / "decisions.parquet").to_pylist(),
        key=lambda r: str(r["item_id"]),
    )
    outcomes = local.report["outcomes"]
    assert outcomes["include"] > 0 and outcomes["exclude"] > 0

    # an uninterrupted run on both nodes
    out = s3.prefix("cluster-out")
    args = _cli(cluster, data, out, pg_registry, "--site-cache", s3.prefix("sites"))
    done = subprocess.run([*args, "--index-cache", index], env=cluster.env,
                          capture_output=True, text=True, timeout=180)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert _rows(s3, out) == expected
    assert json.loads(done.stdout)["shards"] == SHARDS

    # losing the second node while its actor is inside a shard: both actors held at the gate
    out = s3.prefix("cluster-lost")
    args = _cli(cluster, data, out, pg_registry, "--site-cache", s3.prefix("sites"))
    gate.open.clear()
    proc = subprocess.Popen([*args, "--index-cache", index], env=cluster.env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        both = wait_for(lambda: len(gate.held) >= 2 or proc.poll() is not None, 120)
        assert both and proc.poll() is None, "both nodes' actors must be inside a shard"
        cluster.nodes[1].kill_raylet()
        # the held shard must die with its node: answer its robots.txt only once the node's
        # workers are gone (a worker still running could finish the shard and send its result
        # straight to the driver, and then nothing would be lost)
        assert wait_for(lambda: not cluster.nodes[1].workers_alive(), HOLD - 1), "workers live on"
    finally:
        gate.open.set()
    stdout, stderr = proc.communicate(timeout=180)
    if proc.returncode == 0:  # finished on the head node: the lost shard was redone there
        # (the engine logs "... goes back to the queue"; the line does not always reach the
        # driver's stderr through Ray's log handling, so the proof is the decisions below)
        print("the run finished on the remaining node")
    else:  # stopped: with a clear error, then resumed on the head node
        assert proc.returncode in (1, 3), stderr[-3000:]
        assert "--resume" in stderr, stderr[-3000:]
        again = subprocess.run([*args, "--resume"], env=cluster.env,
                               capture_output=True, text=True, timeout=180)  # fmt: skip
        assert again.returncode == 0, again.stderr[-3000:]
        stdout = again.stdout
    assert json.loads(stdout)["items"] == SHARDS * ROWS_PER_SHARD
    assert _rows(s3, out) == expected

"""A real two-node Ray cluster on this machine (tests/scan/test_cluster.py, bench_cluster).

``ray start --head`` and a second ``ray start --address``, each a node with its
own CPUs, resources and temporary directory, each in its own process group
(so the test can stop exactly the processes it started, and kill one node's
raylet to lose that node). The nodes read the environment they are started
with, as on a real cluster: object-store credentials and endpoint, and the
``PYTHONPATH`` that makes this checkout's ``clearance`` importable.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import clearance

RAY = str(Path(sys.executable).with_name("ray"))
_ENVIRON = dict(os.environ)
"""The environment when this module was imported (pytest imports it while collecting, before
any test has started Ray in its own process)."""

FAST_FAILURE = {
    # the head notices a lost node in about a second, not the default fifteen
    "RAY_health_check_initial_delay_ms": "0",
    "RAY_health_check_period_ms": "500",
    "RAY_health_check_timeout_ms": "500",
    "RAY_health_check_failure_threshold": "2",
    "RAY_USAGE_STATS_ENABLED": "0",
}


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """``count`` distinct free ports (all held open while chosen, so none repeats)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in sockets]
    finally:
        for s in sockets:
            s.close()


@dataclass
class Node:
    name: str
    temp_dir: Path
    group: int
    """The process group of everything the node runs (its raylet, its workers)."""

    def raylet_pid(self) -> int | None:
        """The node's raylet, found by its socket under this node's temporary directory."""
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                cmd = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if (
                cmd
                and cmd[0].endswith(b"/raylet")
                and str(self.temp_dir).encode() in b" ".join(cmd)
            ):
                return int(entry.name)
        return None

    def workers_alive(self) -> bool:
        """Whether any of the node's Ray worker processes still runs (after its raylet is
        killed they notice and exit; until then one could still finish its task)."""
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                cmd = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[-1].split()
            alive = len(fields) > 2 and fields[0] != "Z"
            if alive and int(fields[2]) == self.group and b"default_worker" in cmd:
                return True
        return False

    def kill_raylet(self) -> None:
        pid = self.raylet_pid()
        assert pid is not None, f"no raylet for {self.name}"
        os.kill(pid, signal.SIGKILL)

    def stop(self) -> None:
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(self.group, signal.SIGKILL)


@dataclass
class Cluster:
    address: str
    env: dict[str, str]
    nodes: list[Node] = field(default_factory=list)
    root: Path = Path()

    def stop(self) -> None:
        for node in reversed(self.nodes):
            node.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def _launch(args: list[str], env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    """``ray start ARGS`` in a new session: the node's daemons share its process group."""
    return subprocess.Popen(
        [RAY, "start", *args],
        env=dict(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _started(proc: subprocess.Popen[bytes]) -> int:
    """Wait for ``ray start`` to return; the node's process group."""
    out, _ = proc.communicate(timeout=120)
    if proc.returncode != 0:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        raise RuntimeError(f"ray start failed: {out.decode(errors='replace')[-2000:]}")
    return proc.pid


def _node_args(temp_dir: Path, name: str, object_store: int, cpus: int, agent: int) -> list[str]:
    """One node's flags. Ports Ray would pick at random stay random (workers' too: 0); the
    one with a fixed default (the dashboard agent's 52365) is given, so two nodes differ."""
    return [
        "--node-ip-address=127.0.0.1",
        f"--num-cpus={cpus}",
        f"--object-store-memory={object_store}",
        f"--temp-dir={temp_dir}",
        f'--resources={{"{name}": 1}}',
        "--disable-usage-stats",
        f"--dashboard-agent-listen-port={agent}",
        "--min-worker-port=0",
        "--max-worker-port=0",
    ]


@contextmanager
def two_nodes(
    env: Mapping[str, str], object_store: int = 80 * 1024 * 1024, cpus: int = 1
) -> Iterator[Cluster]:
    """A head node and a second node, ``cpus`` CPUs each (Ray's logical CPUs, which may be
    more than the machine's cores); stopped (process groups killed) after."""
    src = str(Path(clearance.__file__).resolve().parents[1])
    path = os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH", "")) if p)
    root = Path(tempfile.mkdtemp(prefix="cr-", dir="/tmp"))  # unix socket paths must be short
    # HOME of its own: no ~/.ray left by another Ray (an auth token) changes this cluster
    # and the environment as it was before any in-process ray.init changed it (that sets
    # RAY_AUTH_MODE=token when it finds a token, and more): a head started with it refuses
    # to run without one
    inherited = {k: v for k, v in _ENVIRON.items() if not k.startswith("RAY_AUTH_")}
    full = {**inherited, **FAST_FAILURE, **env, "PYTHONPATH": path, "HOME": str(root)}
    port, dashboard, head_agent, second_agent = free_ports(4)
    cluster = Cluster(f"127.0.0.1:{port}", full, root=root)
    try:
        head, second = root / "head", root / "second"
        args = ["--head", f"--port={port}", "--include-dashboard=false"]
        args += [f"--dashboard-port={dashboard}"]
        first = _launch([*args, *_node_args(head, "head", object_store, cpus, head_agent)], full)
        # started together: the second node waits for the head's GCS by itself
        other = _launch(
            [
                f"--address={cluster.address}",
                *_node_args(second, "second", object_store, cpus, second_agent),
            ],
            full,
        )
        cluster.nodes.append(Node("head", head, first.pid))
        cluster.nodes.append(Node("second", second, other.pid))
        _started(first)
        _started(other)
        _wait_for_nodes(cluster, 2)
        yield cluster
    finally:
        cluster.stop()


def _wait_for_nodes(cluster: Cluster, count: int) -> None:
    code = (
        "import ray, time, sys\n"
        f"ray.init(address={cluster.address!r}, logging_level='error', log_to_driver=False)\n"
        "deadline = time.time() + 60\n"
        f"while sum(n['Alive'] for n in ray.nodes()) < {count} and time.time() < deadline:\n"
        "    time.sleep(0.2)\n"
        f"sys.exit(0 if sum(n['Alive'] for n in ray.nodes()) >= {count} else 1)\n"
    )
    subprocess.run([sys.executable, "-c", code], env=cluster.env, check=True, timeout=90)


def wait_for(predicate: object, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False

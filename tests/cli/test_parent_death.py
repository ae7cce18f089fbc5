"""A SIGKILLed ``works add`` or ``scan`` leaves no process behind (issue #11: forkserver,
workers, tracker).

Before ``process_context()`` gave pools a lifeline, the forkserver, every pool
worker and the resource tracker of a killed run stayed alive (90-180 MB each)
until the machine rebooted.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from clearance.registry import init_store

pytestmark = pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc (Linux)")


def _children() -> dict[int, int]:
    """pid -> parent pid for every process, from /proc."""
    out: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        out[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    return out


def _descendants(root: int) -> set[int]:
    parents = _children()
    found: set[int] = set()
    frontier = {root}
    while frontier:
        frontier = {pid for pid, ppid in parents.items() if ppid in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    """Running, or stopped: not gone and not a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


@pytest.mark.parametrize("command", ["works add", "scan"])
def test_sigkilled_run_leaves_no_process(tmp_path: Path, command: str) -> None:
    rng = random.Random(5)
    words = ["".join(rng.choice("abcdefghij") for _ in range(6)) for _ in range(3000)]
    folder = tmp_path / "texts"
    folder.mkdir()
    for i in range(120):
        (folder / f"t{i:03}.txt").write_text(" ".join(rng.choice(words) for _ in range(1200)))
    registry = str(tmp_path / "r.db")
    init_store(registry).close()
    if command == "works add":
        args = ["works", "add", str(folder), "--owner", "Ann"]
    else:
        args = ["scan", str(folder), "--out", str(tmp_path / "out"), "--web", "off"]
        args += ["--shard-size", "4"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "clearance", *args, "--workers", "2", "-r", registry, "--json"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    seen: set[int] = set()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            seen |= _descendants(proc.pid)
            workers = [p for p in seen if _alive(p) and _children().get(p) not in (proc.pid,)]
            if len(workers) >= 2:  # the pool's workers run (children of the forkserver)
                break
            time.sleep(0.02)
        assert proc.poll() is None, f"{command} finished before its workers could be seen"
        seen |= _descendants(proc.pid)
        assert len(seen) >= 4, seen  # forkserver, resource tracker and two workers
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(_alive(p) for p in seen):
        time.sleep(0.1)
    survivors = {p: Path(f"/proc/{p}/cmdline").read_bytes()[:80] for p in seen if _alive(p)}
    for pid in survivors:  # clean up before failing, so one failure does not leak into others
        os.kill(pid, signal.SIGKILL)
    assert not survivors, survivors

"""Peak memory of ``clearance serve`` under eight concurrent heavy uploads (issue #11).

The issue's report: eight 78 KB PNGs that each declare 81 megapixels took a
server to 3.3 GB. This benchmark starts ``clearance serve`` (one worker) twice
in the same run, sends the same eight uploads at once to each, and reads the
server's peak resident memory (``VmHWM``) afterwards:

* **baseline**: the limits as they were before the hardening (no decode gate:
  eight slots for eight requests; the 89.5 MP image limit);
* **now**: the defaults (``api_decode_slots`` = CPUs, ``api_max_pixels`` 25 MP).

Two workloads: the 81 MP bombs (refused from the header now), and eight real
20 MP PNGs under the limit (decoded now too, but at most ``api_decode_slots``
at a time).
"""

from __future__ import annotations

import io
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

from clearance.registry import init_store

CONCURRENT = 8


def _bomb(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    idat = zlib.compress(b"\x00" * ((width + 1) * height), 9)  # every row, all black
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def _large_image(megapixels: float) -> bytes:
    side = int((megapixels * 1e6) ** 0.5)
    ramp = np.linspace(0, 255, side, dtype=np.uint8)
    rgb = np.dstack(
        [
            np.tile(ramp, (side, 1)),
            np.tile(ramp[:, None], (1, side)),
            np.full((side, side), 90, np.uint8),
        ]
    )
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "PNG")  # not JPEG: Pillow may decode a JPEG at 1/8 size
    return buf.getvalue()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _peak_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _run(
    registry: str, env_extra: dict[str, str], payload: bytes, name: str
) -> tuple[float, float, list[int]]:
    port = _free_port()
    env = {**os.environ, "CLEARANCE_REGISTRY": "", **env_extra}
    proc = subprocess.Popen(
        [sys.executable, "-m", "clearance", "serve", "--port", str(port), "-r", registry],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        idle = _peak_mib(proc.pid)

        def one(_: int) -> int:
            files = {"file": (name, payload, "application/octet-stream")}
            return httpx.post(f"{base}/v1/check", files=files, timeout=600).status_code

        with ThreadPoolExecutor(CONCURRENT) as pool:
            statuses = list(pool.map(one, range(CONCURRENT)))
        return idle, _peak_mib(proc.pid), statuses
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main(argv: list[str]) -> None:
    del argv
    before = {"CLEARANCE_API_DECODE_SLOTS": str(CONCURRENT), "CLEARANCE_API_MAX_PIXELS": "89478485"}
    with tempfile.TemporaryDirectory() as tmp:
        registry = str(Path(tmp) / "r.db")
        init_store(registry).close()
        workloads = [
            ("81 MP PNG bomb (78 KB)", _bomb(9000, 9000), "bomb.png"),
            ("20 MP PNG (real pixels)", _large_image(20), "large.png"),
        ]
        print(f"{CONCURRENT} concurrent uploads; peak RSS of the server (VmHWM), one worker")
        print("| workload | limits | statuses | idle MiB | peak MiB |")
        print("|---|---|---|---|---|")
        peaks: dict[str, list[float]] = {}
        for label, payload, name in workloads:
            for limits, env in (("before (8 slots, 89.5 MP)", before), ("now (defaults)", {})):
                idle, peak, statuses = _run(registry, env, payload, name)
                peaks.setdefault(label, []).append(peak)
                codes = ",".join(sorted({str(s) for s in statuses}))
                print(f"| {label} | {limits} | {codes} | {idle:.0f} | {peak:.0f} |", flush=True)
        for label, (old, new) in peaks.items():
            print(f"{label}: peak now / before = {new / old:.2f}")


if __name__ == "__main__":
    main(sys.argv[1:])

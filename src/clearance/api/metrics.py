"""``GET /metrics``: Prometheus text format, written by hand (no client library needed).

Why by hand: the exposition format is a few lines of text, and the counters
here are few: requests by route template, method and status (templates, not
paths, so a million work ids make one series), their total time, and the
index's size and audit watermark.

Several workers (``clearance serve --workers N``) share one port, so a scrape
reaches whichever worker the kernel hands the connection to. Per-worker
numbers would jump between scrapes, so the workers use a **multiprocess
mode** of their own, like prometheus_client's: ``serve`` makes a fresh
directory (``Settings.metrics_dir``) and every worker writes its counters and
gauges there as one small JSON file, ``<pid>.json`` (atomically, at most
every ``FLUSH_SECONDS`` while it is busy, and whenever it answers a scrape).
Whichever worker answers ``/metrics`` reads every file and sums:

* the request counters over all workers, those that have exited included (a
  counter never goes down);
* the index gauges per worker, labelled ``worker="<pid>"``, for the workers
  still alive: each holds its own index, and a worker lagging behind the
  registry is what an operator wants to see.

So one scrape is the whole service, at most ``FLUSH_SECONDS`` old for the
other workers. Without a directory (one process, tests) the numbers are the
process's own and the gauges carry no label.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from clearance.core.files import atomic_write_text
from clearance.core.processes import process_alive

from .limits import ASGIApp, Message, Receive, Scope, Send

FLUSH_SECONDS = 1.0
Gauges = dict[str, tuple[str, float]]
Key = tuple[str, str, int]


class Metrics:
    """Request counts and seconds by (route, method, status); one event loop writes them.

    ``gauges`` returns this worker's gauges (name: (help, value)); ``shared``
    is the directory the workers share, or None.
    """

    def __init__(
        self, gauges: Callable[[], Gauges] | None = None, shared: Path | None = None
    ) -> None:
        self.requests: defaultdict[Key, int] = defaultdict(int)
        self.seconds: defaultdict[Key, float] = defaultdict(float)
        self.gauges = gauges or dict
        self.shared = shared
        self._flushed = 0.0
        self._dirty = False
        self._flushing = threading.Lock()
        self._stop = threading.Event()
        if shared is not None:
            shared.mkdir(parents=True, exist_ok=True)
            self.flush()
            threading.Thread(target=self._flusher, name="metrics-flush", daemon=True).start()

    def count(self, key: Key, seconds: float) -> None:
        self.requests[key] += 1
        self.seconds[key] += seconds
        self._dirty = True

    def flush(self) -> None:
        """Write this worker's numbers to ``shared/<pid>.json`` (atomically)."""
        if self.shared is None:
            return
        with self._flushing:
            self._dirty = False
            doc = {
                "pid": os.getpid(),
                "requests": [[*k, n] for k, n in dict(self.requests).items()],
                "seconds": [[*k, v] for k, v in dict(self.seconds).items()],
                "gauges": self.gauges(),
            }
            atomic_write_text(self.shared / f"{os.getpid()}.json", json.dumps(doc))
            self._flushed = time.monotonic()

    def _flusher(self) -> None:
        while not self._stop.wait(FLUSH_SECONDS):
            if self._dirty:
                try:
                    self.flush()
                except (OSError, RuntimeError):
                    continue  # a full disk, a dict resized mid-copy: the next tick retries

    def close(self) -> None:
        self._stop.set()

    def render(self) -> str:
        """Every worker's numbers (the shared directory), or this process's own."""
        if self.shared is None:
            return render(self.requests, self.seconds, {"": self.gauges()})
        self.flush()
        requests: defaultdict[Key, int] = defaultdict(int)
        seconds: defaultdict[Key, float] = defaultdict(float)
        gauges: dict[str, Gauges] = {}
        for path in sorted(self.shared.glob("*.json")):
            try:
                doc = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue  # a file being replaced, or garbage: not ours to fail on
            for route, method, status, n in doc.get("requests", ()):
                requests[(route, method, int(status))] += int(n)
            for route, method, status, v in doc.get("seconds", ()):
                seconds[(route, method, int(status))] += float(v)
            pid = int(doc.get("pid", 0))
            if process_alive(pid):
                gauges[str(pid)] = {k: (h, float(v)) for k, (h, v) in doc["gauges"].items()}
        return render(requests, seconds, gauges)


def render(requests: dict[Key, int], seconds: dict[Key, float], gauges: dict[str, Gauges]) -> str:
    """The text format: the counters, then each gauge (per worker when keyed by a pid)."""
    lines = [
        "# HELP clearance_http_requests_total HTTP requests answered, by route and status.",
        "# TYPE clearance_http_requests_total counter",
    ]
    for (route, method, status), n in sorted(requests.items()):
        lines.append(
            f'clearance_http_requests_total{{route="{_esc(route)}",method="{method}",'
            f'status="{status}"}} {n}'
        )
    lines += [
        "# HELP clearance_http_request_seconds_total Seconds spent answering, by route.",
        "# TYPE clearance_http_request_seconds_total counter",
    ]
    for (route, method, status), sec in sorted(seconds.items()):
        lines.append(
            f'clearance_http_request_seconds_total{{route="{_esc(route)}",method="{method}",'
            f'status="{status}"}} {sec:.6f}'
        )
    names = sorted({name for worker in gauges.values() for name in worker})
    for name in names:
        first = next(w[name] for w in gauges.values() if name in w)
        lines += [f"# HELP {name} {first[0]}", f"# TYPE {name} gauge"]
        for worker, values in sorted(gauges.items()):
            if name in values:
                label = f'{{worker="{worker}"}}' if worker else ""
                lines.append(f"{name}{label} {values[name][1]:g}")
    return "\n".join(lines) + "\n"


def _esc(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class MetricsMiddleware:
    """ASGI middleware: counts each HTTP request under its route template."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route: Any = scope.get("route")
            template = getattr(route, "path", None) or "(unmatched)"
            key = (template, str(scope.get("method", "")), status)
            self.metrics.count(key, time.perf_counter() - started)

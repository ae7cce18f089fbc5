"""``GET /metrics``: Prometheus text format, written by hand (no client library needed).

Why by hand: the exposition format is a few lines of text, and the counters
here are few: requests by route template, method and status (templates, not
paths, so a million work ids make one series), their total time, and the
index's size and audit watermark. Per server worker: Prometheus scrapes each
worker's answers through the proxy as they come, and sums.
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

from .limits import ASGIApp, Message, Receive, Scope, Send


class Metrics:
    """Request counts and seconds by (route, method, status); one event loop writes them."""

    def __init__(self) -> None:
        self.requests: defaultdict[tuple[str, str, int], int] = defaultdict(int)
        self.seconds: defaultdict[tuple[str, str, int], float] = defaultdict(float)

    def render(self, gauges: dict[str, tuple[str, float]]) -> str:
        lines = [
            "# HELP clearance_http_requests_total HTTP requests answered, by route and status.",
            "# TYPE clearance_http_requests_total counter",
        ]
        for (route, method, status), n in sorted(self.requests.items()):
            lines.append(
                f'clearance_http_requests_total{{route="{_esc(route)}",method="{method}",'
                f'status="{status}"}} {n}'
            )
        lines += [
            "# HELP clearance_http_request_seconds_total Seconds spent answering, by route.",
            "# TYPE clearance_http_request_seconds_total counter",
        ]
        for (route, method, status), sec in sorted(self.seconds.items()):
            lines.append(
                f'clearance_http_request_seconds_total{{route="{_esc(route)}",method="{method}",'
                f'status="{status}"}} {sec:.6f}'
            )
        for name, (help_text, value) in sorted(gauges.items()):
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge", f"{name} {value:g}"]
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
            self.metrics.requests[key] += 1
            self.metrics.seconds[key] += time.perf_counter() - started

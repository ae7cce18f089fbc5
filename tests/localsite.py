"""A local HTTP site for network tests: routes, redirects, slow and silent servers, on 127.0.0.x.

Tests never touch the internet; every HTTP behaviour is exercised against this
server, started on a loopback address by the test itself.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Route = tuple[int, dict[str, str], bytes]


@dataclass
class LocalSite:
    """Routes map a path (without query) to (status, headers, body), or to a callable."""

    host: str = "127.0.0.1"
    routes: dict[str, Route | Callable[[str], Route]] = field(default_factory=dict)
    hang: set[str] = field(default_factory=set)
    requests: list[tuple[str, str, str]] = field(default_factory=list)
    port: int = 0
    _release: threading.Event = field(default_factory=threading.Event)

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, path: str) -> str:
        return self.origin + path

    def count(self, path: str) -> int:
        return sum(1 for _, p, _ in self.requests if p == path)


def _handler(site: LocalSite) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _serve(self, with_body: bool) -> None:
            path = self.path.split("?", 1)[0]
            site.requests.append((self.command, path, self.headers.get("User-Agent", "")))
            if path in site.hang:
                site._release.wait(30)
                return
            route = site.routes.get(path)
            if route is None:
                status, headers, body = 404, {"Content-Type": "text/plain"}, b"not found"
            elif callable(route):
                status, headers, body = route(self.path)
            else:
                status, headers, body = route
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if with_body:
                with suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(body)

        def do_GET(self) -> None:
            self._serve(True)

        def do_HEAD(self) -> None:
            self._serve(False)

    return Handler


@contextmanager
def serve(site: LocalSite) -> Iterator[LocalSite]:
    server = ThreadingHTTPServer((site.host, site.port), _handler(site))
    server.daemon_threads = True
    site.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        site._release.set()
        server.shutdown()
        server.server_close()

"""A minimal HTTP/1.1 server for benchmarks that need many sites on loopback.

Why not ``tests/localsite.py``: benchmarks send hundreds of thousands of
requests, so the server is one asyncio loop in its own process (it must not
share the measured process's GIL), answers from a plain function of
``(host, path)`` and counts requests in a shared integer. ``answer`` must be
a module-level function (it crosses a process boundary).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

Answer = Callable[[str, str], tuple[int, list[tuple[str, str]], bytes]]
"""``answer(host_header, path) -> (status, headers, body)``."""


async def _serve(answer: Answer, bind: str, port_out: Any, counter: Any) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                host = next((ln[5:].strip() for ln in lines[1:] if ln[:5].lower() == "host:"), "")
                status, headers, body = answer(host, target.split("?")[0])
                counter.value += 1  # one event loop in one process: no lock needed
                out = [f"HTTP/1.1 {status} X", f"Content-Length: {len(body)}"]
                out += [f"{k}: {v}" for k, v in headers]
                writer.write(("\r\n".join(out) + "\r\n\r\n").encode())
                if method != "HEAD":
                    writer.write(body)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, bind, 0, backlog=4096)
    port_out.value = server.sockets[0].getsockname()[1]
    async with server:
        await server.serve_forever()


def serve_forever(answer: Answer, bind: str, port_out: Any, counter: Any) -> None:
    """Process target: serve on ``bind`` (port chosen, written to ``port_out``) until killed."""
    asyncio.run(_serve(answer, bind, port_out, counter))

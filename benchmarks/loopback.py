"""A minimal HTTP/1.1 server for benchmarks that need many sites on loopback.

Why not ``tests/localsite.py``: benchmarks send hundreds of thousands of
requests, so the server is one asyncio loop in its own process (it must not
share the measured process's GIL), answers from a plain function of
``(host, path)`` and counts requests in a shared integer. ``answer`` must be
a module-level function (it crosses a process boundary).
"""

from __future__ import annotations

import asyncio
import ipaddress
import random
from collections.abc import Callable
from typing import Any

Answer = Callable[[str, str], tuple[int, list[tuple[str, str]], bytes]]
"""``answer(host_header, path) -> (status, headers, body)``."""


async def _serve(
    answer: Answer,
    bind: str,
    port_out: Any,
    counter: Any,
    latency: tuple[float, float] = (0.0, 0.0),
    limit: int = 0,
) -> None:
    rng = random.Random(1)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        if not peer or not ipaddress.ip_address(peer[0]).is_loopback:  # 127.0.0.0/8 only
            writer.close()
            return
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                if limit and counter.value >= limit:  # bounded: past it, connections close
                    break
                if latency[1] > 0:
                    await asyncio.sleep(rng.uniform(*latency))
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


def serve_forever(
    answer: Answer,
    bind: str,
    port_out: Any,
    counter: Any,
    latency: tuple[float, float] = (0.0, 0.0),
    limit: int = 0,
) -> None:
    """Process target: serve on ``bind`` (port chosen, written to ``port_out``) until killed;
    answer only loopback peers, each answer after a random ``latency`` (seconds, min-max),
    at most ``limit`` requests (0: no limit)."""
    asyncio.run(_serve(answer, bind, port_out, counter, latency, limit))

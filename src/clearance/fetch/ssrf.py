"""The SSRF guard: refuse to connect to private, loopback, link-local or reserved addresses.

A scanner fetches URLs that come from datasets, i.e. from strangers. Without a
guard, a row pointing at ``http://169.254.169.254/`` or ``http://localhost:6379/``
would make Clearance probe the operator's own network. The check runs inside
the connection layer, on the addresses DNS actually returned, and the
connection is then made to that vetted address, so a host that resolves
differently a second time (DNS rebinding) cannot slip through; it runs again
for every redirect hop because every hop opens its own connection.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

from clearance.core.errors import AddressBlocked

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """Which addresses may be connected to.

    ``allow_private`` turns the guard off (``--allow-private``). ``extra_allowed``
    lets tests treat specific loopback addresses as if they were public.
    """

    allow_private: bool = False
    extra_allowed: frozenset[str] = field(default_factory=frozenset)

    def permits(self, address: IPAddress) -> bool:
        if self.allow_private or str(address) in self.extra_allowed:
            return True
        if isinstance(address, ipaddress.IPv6Address):
            if address in _NAT64_LOCAL:
                return False  # RFC 8215 local-use NAT64: translates to anything, even private
            embedded = embedded_ipv4(address)
            if embedded is not None:
                # the packet goes to the IPv4 address inside: judge that one
                return embedded.is_global and not embedded.is_multicast
        return address.is_global and not address.is_multicast


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries to, if any.

    IPv4-mapped (``::ffff:a.b.c.d``), IPv4-compatible (``::a.b.c.d``, deprecated
    but still routed by some stacks), NAT64 well-known prefix
    (``64:ff9b::a.b.c.d``, RFC 6052) and 6to4 (``2002:AABB:CCDD::/48``, RFC
    3056). Teredo (``2001::/32``) needs no unwrapping: Python already counts
    ``2001::/23`` as not global.
    """
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64 or (address in _IPV4_COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


async def system_resolver(host: str, port: int) -> list[str]:
    """Resolve with the system resolver, as the connection would."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def check_addresses(host: str, addresses: Iterable[str], policy: AddressPolicy) -> str:
    """Return the first address if every one is permitted, else raise ``AddressBlocked``."""
    addrs = list(addresses)
    if not addrs:
        raise AddressBlocked(f"{host} did not resolve to any address")
    for text in addrs:
        address = ipaddress.ip_address(text.split("%", 1)[0])
        if not policy.permits(address):
            raise AddressBlocked(
                f"refusing to connect to {host} ({address}): not a public address",
                hint="pass --allow-private to allow private and loopback addresses",
            )
    return addrs[0]


def check_url(url: str, policy: AddressPolicy) -> None:
    """Raise ``AddressBlocked`` when ``url``'s host resolves to an address ``policy`` refuses.

    For a face that must answer "refused" as an error before fetching (the
    API's ``/v1/signals``); the fetch itself is still guarded hop by hop. A host
    that does not resolve passes: the fetch then reports it unreachable.
    """
    host = urlsplit(url.strip()).hostname
    if not host or policy.allow_private:
        return
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return
    check_addresses(host, list(dict.fromkeys(str(i[4][0]) for i in infos)), policy)


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """An httpcore network backend that vets resolved addresses before connecting."""

    def __init__(self, policy: AddressPolicy, resolver: Resolver = system_resolver) -> None:
        self._policy = policy
        self._resolver = resolver
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await asyncio.wait_for(self._resolver(host, port), timeout)
        except (OSError, TimeoutError) as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        address = check_addresses(host, addresses, self._policy)
        return await self._inner.connect_tcp(
            address,
            port,
            timeout=timeout,
            local_address=local_address,
            socket_options=socket_options,
        )

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise AddressBlocked("unix sockets are never fetched")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


@functools.lru_cache(maxsize=2)
def _ssl_context(verify: bool) -> ssl.SSLContext:
    """One TLS context per process: loading the CA bundle costs ~30 ms, and a scan makes a
    fetcher per shard (an ``SSLContext`` is safe to share between connections and loops)."""
    return httpx.create_ssl_context(verify=verify, trust_env=False)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport with its connection pool built on ``GuardedBackend``."""

    def __init__(
        self,
        policy: AddressPolicy,
        *,
        limits: httpx.Limits,
        resolver: Resolver = system_resolver,
        verify: bool = True,
    ) -> None:
        context = _ssl_context(verify)
        super().__init__(limits=limits, trust_env=False, verify=context)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(policy, resolver),
        )

"""Polite HTTP for opt-out signals: caching, limits, redirects, an SSRF guard, a declared agent.

Everything network-facing goes through ``Fetcher``; parsers in
``clearance.signals`` never touch the network.
"""

from clearance.fetch.client import (
    MAX_POLICY_BYTES,
    PRODUCT,
    FetchConfig,
    Fetcher,
    FetchResult,
    origin_of,
)
from clearance.fetch.ssrf import AddressPolicy, check_addresses

__all__ = [
    "MAX_POLICY_BYTES",
    "PRODUCT",
    "AddressPolicy",
    "FetchConfig",
    "FetchResult",
    "Fetcher",
    "check_addresses",
    "origin_of",
]

"""Settings: one frozen object built once by a face and passed down, never read from globals.

Precedence: defaults < ``CLEARANCE_*`` environment variables < command-line flags.
Each setting is declared once in ``SETTINGS`` with its default and help, so the
docs and the faces cannot drift from the code (a test holds docs/security.md's
table of limits to it).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from clearance.core.errors import UserError
from clearance.core.validation import clean_name
from clearance.fingerprint.image import DEFAULT_MAX_PIXELS
from clearance.registry.engine import DEFAULT_REGISTRY

API_MAX_BODY_BYTES = 20 * 1024 * 1024
API_MAX_PIXELS = 25_000_000
API_MAX_SECONDS = 600.0

SETTINGS: tuple[tuple[str, object, str], ...] = (
    ("registry", DEFAULT_REGISTRY, "Registry location: a SQLite file path or a postgresql:// URL."),
    ("actor", "clearance", "Name recorded in the audit log for changes."),
    ("max_pixels", DEFAULT_MAX_PIXELS, "Largest image, in pixels, that will be decoded."),
    (
        "mode",
        "opt-out",
        "How unknown is treated: 'opt-out' (what nobody reserved is allowed) or 'opt-in' "
        "(only an explicit allow, or a licence held, counts). The default of scans and checks.",
    ),
    (
        "min_verification",
        "self",
        "The lowest claimant verification level scans and checks act on (self, domain, key "
        "or admin): claims of parties verified below it are shown as ignored-for-verification.",
    ),
    (
        "embedder",
        "",
        "An ONNX image embedder (a .onnx file with its sidecar JSON): the guard's last "
        "matching stage, and a scan's with --match embedding.",
    ),
    (
        "guard_sync",
        "check",
        "How a serving guard sees registry changes: 'check' (a cheap query before each "
        "check; never misses a committed registration) or 'poll' (every second, in the "
        "background).",
    ),
    (
        "guard_poll_seconds",
        1.0,
        "Seconds between a polling guard's refreshes (guard_sync 'poll'): how long a change "
        "takes, at most, to reach every server worker (plus the refresh itself).",
    ),
    (
        "log_format",
        "clf",
        "The server's access log on stderr: 'clf' (the Common Log Format, one line a "
        "request) or 'json' (one JSON object a line: time, level, event, method, path, "
        "status, duration_ms, party, request_id, worker).",
    ),
    (
        "event_loop",
        "asyncio",
        "The server's event loop: 'asyncio' (fair when overloaded: every connection gets "
        "its turn) or 'uvloop' (less CPU a request, but measured to leave a few connections "
        "waiting for seconds when saturated: docs/benchmarks.md, 'Service').",
    ),
    (
        "metrics_dir",
        "",
        "A directory the server workers share their /metrics counters through (set by "
        "'clearance serve --workers N' to a fresh temporary directory); empty: per process.",
    ),
    ("api_max_body_bytes", API_MAX_BODY_BYTES, "Largest HTTP request body, in bytes (413 above)."),
    (
        "api_max_pixels",
        API_MAX_PIXELS,
        "Largest image one HTTP request may have decoded, in pixels (413 above); "
        "checked on the image's header, before decoding.",
    ),
    (
        "api_max_seconds",
        API_MAX_SECONDS,
        "Longest audio or video one HTTP request may have decoded, in seconds (413 above).",
    ),
    (
        "api_decode_slots",
        0,
        "Uploads decoded at once per server worker (0: one per CPU the worker may use); "
        "others wait their turn.",
    ),
    (
        "api_decode_queue",
        64,
        "Uploads that may wait for a decode slot per worker; more get 503 at once.",
    ),
    (
        "api_header_timeout",
        10.0,
        "Seconds a client has to send a request's headers (the connection is closed after).",
    ),
    ("api_body_timeout", 60.0, "Seconds a client has to send a request's body (408 after)."),
    (
        "api_max_connections",
        256,
        "Open connections per server worker; more are answered 503 (uvicorn's limit).",
    ),
    (
        "api_key_rate",
        50.0,
        "Requests per second one API key may make, per server worker, on average (429 above).",
    ),
    ("api_key_burst", 200, "Requests one API key may make at once before its rate applies."),
    (
        "cors_origins",
        "",
        "Origins browsers may call the API from (comma list, or '*'); empty: CORS off.",
    ),
    (
        "allow_private",
        False,
        "Let the service fetch private, loopback and link-local addresses "
        "(GET /v1/signals); off, such a URL is refused (403). For tests and intranets.",
    ),
    (
        "feed_key",
        "",
        "The Ed25519 private key (PEM, `clearance keys generate`) that signs the public "
        "registry feed (/v1/feed/...); empty: the service publishes no feed (404).",
    ),
    (
        "web_datasets",
        "",
        "The folder whose datasets the web app's developers may scan by path (relative "
        "paths inside it only); empty: scanning a server path from the web is off.",
    ),
    (
        "web_scans",
        "web-scans",
        "The folder where the web app writes the scans its developers submit.",
    ),
    (
        "web_secure_cookies",
        False,
        "Mark the web app's session cookies Secure (sent over HTTPS only): turn on behind TLS.",
    ),
)


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the service layer needs to build stores, hashers and fetchers."""

    registry: str = DEFAULT_REGISTRY
    actor: str = "clearance"
    max_pixels: int = DEFAULT_MAX_PIXELS
    embedder: str = ""
    embedder_threads: int = 0
    guard_sync: str = "check"
    guard_poll_seconds: float = 1.0
    log_format: str = "clf"
    event_loop: str = "asyncio"
    metrics_dir: str = ""
    mode: str = "opt-out"
    min_verification: str = "self"
    api_max_body_bytes: int = API_MAX_BODY_BYTES
    api_max_pixels: int = API_MAX_PIXELS
    api_max_seconds: float = API_MAX_SECONDS
    api_decode_slots: int = 0
    api_decode_queue: int = 64
    api_header_timeout: float = 10.0
    api_body_timeout: float = 60.0
    api_max_connections: int = 256
    api_key_rate: float = 50.0
    api_key_burst: int = 200
    cors_origins: str = ""
    allow_private: bool = False
    feed_key: str = ""
    web_datasets: str = ""
    web_scans: str = "web-scans"
    web_secure_cookies: bool = False

    def __post_init__(self) -> None:
        clean_name(self.actor, "actor (CLEARANCE_ACTOR)")
        if self.mode.strip().lower() not in ("opt-out", "opt-in"):
            raise UserError(f"CLEARANCE_MODE must be 'opt-out' or 'opt-in', not {self.mode!r}")
        if self.min_verification.strip().lower() not in ("self", "domain", "key", "admin"):
            raise UserError(
                "CLEARANCE_MIN_VERIFICATION must be self, domain, key or admin, "
                f"not {self.min_verification[:40]!r}"
            )
        if self.guard_sync not in ("check", "poll"):
            raise UserError(
                f"CLEARANCE_GUARD_SYNC must be 'check' or 'poll', not {self.guard_sync!r}"
            )
        if self.log_format not in ("clf", "json"):
            raise UserError(
                f"CLEARANCE_LOG_FORMAT must be 'clf' or 'json', not {self.log_format!r}"
            )
        if self.event_loop not in ("asyncio", "uvloop"):
            raise UserError(
                f"CLEARANCE_EVENT_LOOP must be 'asyncio' or 'uvloop', not {self.event_loop!r}"
            )
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type in ("int", "float") and (
                not math.isfinite(value) or value < (0 if f.name in _MAY_BE_ZERO else 1e-3)
            ):
                raise UserError(
                    f"CLEARANCE_{f.name.upper()} must be a positive number, not {value!r}"
                )

    @staticmethod
    def from_env(environ: Mapping[str, str], **overrides: Any) -> Settings:
        """Defaults, then ``CLEARANCE_<NAME>`` variables, then non-None ``overrides``.

        A variable that is not a number where a number is expected is a ``UserError``.
        """
        values: dict[str, Any] = {}
        for f in fields(Settings):
            name = f"CLEARANCE_{f.name.upper()}"
            raw = environ.get(name)
            if raw is None or raw == "":
                continue
            try:
                if f.type == "bool":
                    values[f.name] = _flag(raw, name)
                elif f.type == "int":
                    values[f.name] = int(raw)
                elif f.type == "float":
                    values[f.name] = float(raw)
                else:
                    values[f.name] = raw
            except ValueError:
                raise UserError(f"{name} must be a number, not {raw[:40]!r}") from None
        values.update({k: v for k, v in overrides.items() if v is not None})
        return replace(Settings(), **values)

    def environment(self) -> dict[str, str]:
        """These settings as ``CLEARANCE_*`` variables (how ``serve`` hands them to workers)."""
        return {f"CLEARANCE_{f.name.upper()}": str(getattr(self, f.name)) for f in fields(self)}


def _flag(raw: str, name: str) -> bool:
    """A yes/no variable: ``1``, ``true``, ``yes``, ``on`` or ``0``, ``false``, ``no``, ``off``."""
    text = raw.strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise UserError(f"{name} must be true or false, not {raw[:40]!r}")


_MAY_BE_ZERO = frozenset({"embedder_threads", "api_decode_slots", "api_decode_queue"})

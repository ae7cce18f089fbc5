"""Settings: one frozen object built once by a face and passed down, never read from globals.

Precedence: defaults < ``CLEARANCE_*`` environment variables < command-line flags.
Each setting is declared once in ``SETTINGS`` with its default and help, so the
docs and the faces cannot drift from the code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from clearance.fingerprint.image import DEFAULT_MAX_PIXELS
from clearance.registry.engine import DEFAULT_REGISTRY

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
    mode: str = "opt-out"

    @staticmethod
    def from_env(environ: Mapping[str, str], **overrides: Any) -> Settings:
        """Defaults, then ``CLEARANCE_<NAME>`` variables, then non-None ``overrides``."""
        values: dict[str, Any] = {}
        for f in fields(Settings):
            raw = environ.get(f"CLEARANCE_{f.name.upper()}")
            if raw is not None and raw != "":
                values[f.name] = int(raw) if f.type in ("int", int) else raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        return replace(Settings(), **values)

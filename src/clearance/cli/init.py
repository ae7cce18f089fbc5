"""``clearance init``: create or upgrade a registry."""

from __future__ import annotations

from clearance.cli.options import JsonOpt, RegistryOpt, settings
from clearance.cli.output import emit_json, safe, stdout
from clearance.registry import schema
from clearance.registry.engine import redact, registry_url, sqlite_path
from clearance.service import init_registry


def init_command(registry: RegistryOpt = None, json: JsonOpt = False) -> None:
    """Create the registry (or upgrade it to this version's schema). Safe to run twice."""
    cfg = settings(registry)
    url = registry_url(cfg.registry)
    path = sqlite_path(url)
    existed = path.exists() if path is not None else None
    store = init_registry(cfg)
    try:
        works = store.count_works()
    finally:
        store.close()
    doc = {
        "registry": str(path) if path is not None else redact(url),
        "backend": "sqlite" if path is not None else "postgresql",
        "revision": schema.HEAD_REVISION,
        "format_version": schema.FORMAT_VERSION,
        "created": (not existed) if existed is not None else None,
        "works": works,
    }
    if json:
        emit_json(doc)
    else:
        stdout().print(
            f"Registry ready at [bold]{safe(doc['registry'])}[/] ({doc['backend']}, "
            f"schema {doc['revision']}, {works} works)"
        )

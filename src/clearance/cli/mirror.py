"""``clearance mirror URL``: pull a Clearance server's public feed into a local registry.

A thin face over ``registry.mirror.mirror``: the first run downloads the
snapshot (creating the registry if it does not exist), every later run only
the changes since the stored cursor. Exit 0 when the mirror is current, 4
when a record or head does not verify against the pinned key, 2 for a
malformed answer or a registry that cannot be a mirror, 3 when the server
cannot be reached.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from clearance import __version__
from clearance.cli.options import JsonOpt, RegistryOpt, finite_seconds, settings
from clearance.cli.output import emit_json, safe, stdout
from clearance.service import init_registry


def mirror_command(
    url: Annotated[str, typer.Argument(metavar="URL", help="The Clearance server to mirror.")],
    registry: RegistryOpt = None,
    pubkey: Annotated[
        Path | None,
        typer.Option(
            "--pubkey",
            metavar="K",
            help="The feed's public key (PEM or base64 file) to pin; default: the server's "
            "/v1/feed/key, trusted on the first run.",
        ),
    ] = None,
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout",
            min=1,
            max=3600,
            callback=finite_seconds,
            help="Seconds to wait for each answer.",
        ),
    ] = 60.0,
    json: JsonOpt = False,
) -> None:
    """Mirror a server's registry feed here; later runs fetch only what changed."""
    import httpx

    from clearance.evidence import load_public_key
    from clearance.registry.mirror import mirror

    key = load_public_key(pubkey) if pubkey is not None else None
    config = settings(registry)
    headers = {"User-Agent": f"clearance-mirror/{__version__}"}
    with (
        init_registry(config) as store,
        httpx.Client(timeout=timeout, headers=headers, follow_redirects=False) as client,
    ):
        result = mirror(store, url, client=client, pubkey=key, actor=config.actor)
    doc = result.to_dict()
    if json:
        emit_json(doc)
        return
    how = "snapshot and changes" if result.snapshot else "changes"
    stdout().print(
        f"mirrored {safe(result.url)} ({how}, key {result.key_id}): cursor "
        f"{result.since if result.since is not None else '-'} -> {result.cursor}; "
        f"{doc['created']} added, {doc['updated']} updated, {doc['removed']} removed, "
        f"{doc['unchanged']} unchanged" + (" (not modified)" if result.not_modified else ""),
        highlight=False,
        soft_wrap=True,
    )

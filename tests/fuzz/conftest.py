"""The world the fuzzers attack: a registry with data, a pool of good and hostile files.

Built once per module (the fuzzers only add to it). Every path handed to a
command that writes lies under this module's temporary directory; paths
outside it (``/dev/zero``, ``/etc/passwd``) are only ever read.

``CLEARANCE_FUZZ_EXAMPLES`` sets how many examples each fuzz test tries:
a few in ``make test`` (derandomized, so the run is the same every time), many
in ``make fuzz`` (random, a new corner each run).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from clearance.core import Permission, Usage
from clearance.registry import TermsChange, add_works, grant_agreement, init_store
from clearance.registry.characters import add_character
from tests.samples import POEM, png_bomb_header, write_image

EXAMPLES = int(os.environ.get("CLEARANCE_FUZZ_EXAMPLES", "0") or 0)
"""0: the bounded run of ``make test``."""

LONG = EXAMPLES > 0


@dataclass(frozen=True)
class World:
    root: Path
    registry: str
    files: tuple[str, ...]
    folders: tuple[str, ...]
    bad_registries: tuple[str, ...]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("fuzz")
    registry = str(root / "r.db")
    art = write_image(root / "art.png", 21, "PNG")
    photo = write_image(root / "photo.jpg", 22)
    poem = root / "poem.txt"
    poem.write_text(POEM, encoding="utf-8")
    (root / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (root / "bomb.png").write_bytes(png_bomb_header(30_000, 30_000))
    (root / "empty.txt").write_bytes(b"")
    (root / "latin1.txt").write_bytes("caf\xe9 na\xefve".encode("latin-1"))
    # /dev/zero in a path column: the scan must refuse it (it once read it without bound)
    (root / "table.csv").write_text(
        f"path,text\n{art},hello\n,\n/dev/zero,zero\n", encoding="utf-8"
    )
    (root / "rows.jsonl").write_text('{"text": "a poem"}\n{"path": "/etc/passwd"}\n[[[[\n')
    os.mkfifo(root / "pipe.png")
    (root / "zero.png").symlink_to("/dev/zero")
    (root / "loop").symlink_to(root / "loop")
    folder = root / "images"
    folder.mkdir()
    write_image(folder / "a.png", 23, "PNG")
    write_image(folder / "b.jpg", 24)
    (folder / "\x1b[31mred.png").write_bytes(art.read_bytes())
    with init_store(registry) as store:
        add_works(
            store,
            [str(art), str(poem)],
            owner="Ann",
            terms=TermsChange({Usage.OUTPUT: Permission.DENY}),
        )
        add_character(store, "Pikachu", owner="Games Co", images=folder)
        grant_agreement(store, "GenCo", "Ann", reference="C-1")
    files = (
        *tuple(
            str(p)
            for p in (art, photo, poem, root / "broken.png", root / "bomb.png", root / "empty.txt")
        ),
        str(root / "latin1.txt"),
        str(root / "table.csv"),
        str(root / "rows.jsonl"),
        str(root / "pipe.png"),
        str(root / "zero.png"),
        str(root / "loop"),
        str(root / "missing.png"),
        "/dev/zero",
        "/dev/null",
        "/etc/passwd",
        "",
    )
    bad_registries = (
        str(root / "missing.db"),
        str(root),
        str(root / "poem.txt"),
        str(root / "pipe.png"),
        "/dev/zero",
        "/etc/passwd",
        "postgresql://nobody@127.0.0.1:1/none",
        "mysql://x/y",
        "",
    )
    yield World(root, registry, files, (str(folder), str(root)), bad_registries)

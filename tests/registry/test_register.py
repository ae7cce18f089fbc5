"""Registering files, folders and identifiers: fingerprints, skips, bombs, crashes."""

from __future__ import annotations

import io
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from clearance.core import IdentifierScheme, InputNotFound, Permission, Usage, UserError
from clearance.core.models import WorkKind
from clearance.fingerprint import text_fingerprint
from clearance.registry import RegistrationStatus, SqlStore, TermsChange, add_works, init_store
from tests.samples import POEM, png_bomb_header, write_image


def test_folder_registers_supported_files_and_reports_skips(
    store: SqlStore, tmp_path: Path
) -> None:
    folder = tmp_path / "portfolio"
    (folder / "sub").mkdir(parents=True)
    write_image(folder / "a.jpg", 1)
    write_image(folder / "sub" / "b.png", 2, "PNG")
    (folder / "poem.txt").write_text(POEM, encoding="utf-8")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (folder / "latin1.txt").write_bytes("caf\xe9 cr\xe8me".encode("latin-1"))
    (folder / "notes.xyz").write_text("unsupported")
    (folder / ".hidden.jpg").write_bytes(b"ignored")
    (folder / "bomb.png").write_bytes(png_bomb_header(40_000, 40_000))
    ticks: list[tuple[int, int]] = []
    summary = add_works(
        store,
        [str(folder)],
        owner="Ann",
        terms=TermsChange({Usage.TRAIN_AI: Permission.DENY}),
        progress=lambda d, t, _: ticks.append((d, t)),
    )
    titles = sorted(r.work.title or "" for r in summary.registrations)
    assert titles == ["a.jpg", "b.png", "poem.txt"]
    reasons = {Path(s.path).name: s.reason for s in summary.skipped}
    assert set(reasons) == {"broken.jpg", "latin1.txt", "notes.xyz", "bomb.png"}
    assert "image" in reasons["broken.jpg"]
    assert "UTF-8" in reasons["latin1.txt"]
    assert "unsupported" in reasons["notes.xyz"]
    assert "pixel limit" in reasons["bomb.png"]
    assert ticks[-1] == (6, 6)
    kinds = {r.work.title: r.work.kind for r in summary.registrations}
    assert kinds == {"a.jpg": WorkKind.IMAGE, "b.png": WorkKind.IMAGE, "poem.txt": WorkKind.TEXT}


def test_fingerprints_are_stored_per_kind(store: SqlStore, tmp_path: Path) -> None:
    write_image(tmp_path / "a.jpg", 3)
    (tmp_path / "poem.txt").write_text(POEM, encoding="utf-8")
    add_works(store, [str(tmp_path / "a.jpg"), str(tmp_path / "poem.txt")], owner="Ann")
    pdq = list(store.iter_fingerprints("pdq"))
    assert len(pdq) == 1 and len(pdq[0][1].data) == 32 and (pdq[0][1].quality or 0) >= 50
    shingles = list(store.iter_fingerprints("text-8grams"))
    expected = text_fingerprint(POEM)
    assert np.array_equal(np.frombuffer(shingles[0][1].data, dtype="<u8"), expected.shingles)
    minhash = list(store.iter_fingerprints("text-minhash"))
    assert len(minhash[0][1].data) == 128 * 8
    assert len(list(store.iter_fingerprints("sha256"))) == 2


def test_identifiers_only_registration(store: SqlStore) -> None:
    summary = add_works(
        store,
        [
            "https://Example.COM:443/art/*",
            "domain:example.org",
            "isbn:0-306-40615-2",
            "https://example.com/pic.jpg",
        ],
        owner="Ann",
    )
    idents = [r.work.identifiers[0] for r in summary.registrations]
    assert [(i.scheme, i.value) for i in idents] == [
        (IdentifierScheme.URL_PREFIX, "https://example.com/art/"),
        (IdentifierScheme.DOMAIN, "example.org"),
        (IdentifierScheme.ISBN, "9780306406157"),
        (IdentifierScheme.URL, "https://example.com/pic.jpg"),
    ]
    assert summary.registrations[3].work.kind is WorkKind.IMAGE


def test_missing_path_is_an_error_before_anything_is_written(
    store: SqlStore, tmp_path: Path
) -> None:
    write_image(tmp_path / "a.jpg", 4)
    with pytest.raises(InputNotFound):
        add_works(store, [str(tmp_path / "a.jpg"), str(tmp_path / "missing.jpg")], owner="Ann")
    assert store.count_works() == 0


@pytest.mark.parametrize(
    "value",
    [
        "isbn:123",
        "isbn:9780306406158",
        "isrc:XX",
        "iscc:abc",
        "domain:bad_host!",
        "ftp:thing",
        "https://",
        "sha256:zz",
    ],
)
def test_bad_identifiers_are_user_errors(store: SqlStore, value: str) -> None:
    with pytest.raises(UserError):
        add_works(store, [value], owner="Ann")


def test_same_bytes_same_owner_is_idempotent_other_owner_disputes(
    store: SqlStore, tmp_path: Path
) -> None:
    path = write_image(tmp_path / "a.jpg", 5)
    copy = tmp_path / "copy.jpg"
    copy.write_bytes(path.read_bytes())
    first = add_works(store, [str(path)], owner="Ann").registrations[0]
    again = add_works(store, [str(copy)], owner="Ann").registrations[0]
    other = add_works(store, [str(copy)], owner="Ben").registrations[0]
    assert (first.status, again.status, other.status) == (
        RegistrationStatus.CREATED,
        RegistrationStatus.EXISTING,
        RegistrationStatus.DISPUTED,
    )
    assert store.count_works() == 1 and store.get_work(first.work.id).disputed


@pytest.mark.parametrize("mode", ["1", "L", "P", "LA", "RGBA", "CMYK", "I;16", "I", "F", "PA"])
def test_every_pil_mode_hashes(mode: str, tmp_path: Path) -> None:
    from clearance.fingerprint import image_hash
    from tests.samples import textured_image

    img = textured_image(6).convert("RGBA" if mode in ("LA", "PA") else "RGB")
    if mode in ("I;16", "I", "F"):
        arr = np.asarray(img.convert("L"), dtype=np.uint16) * 200
        dtype = {"I;16": np.uint16, "I": np.int32, "F": np.float32}[mode]
        converted = Image.fromarray(arr.astype(dtype))
        assert converted.mode == mode
    else:
        converted = img.convert(mode)
    h = image_hash(converted)
    assert len(h.pdq) == 32 and len(h.dihedral) == 8


def test_exif_orientation_is_honoured() -> None:
    from clearance.fingerprint import image_hash
    from tests.samples import textured_image

    upright = textured_image(7, (400, 300))
    rotated = upright.transpose(Image.Transpose.ROTATE_90)  # stored sideways ...
    exif = Image.Exif()
    exif[0x0112] = 6  # ... and tagged "rotate 90 CW to display"
    buf = io.BytesIO()
    rotated.save(buf, "JPEG", quality=95, exif=exif)
    ref = io.BytesIO()
    upright.save(ref, "JPEG", quality=95)
    a, b = image_hash(ref.getvalue()), image_hash(buf.getvalue())
    distance = int(
        np.unpackbits(
            np.frombuffer(bytes(x ^ y for x, y in zip(a.pdq, b.pdq, strict=True)), dtype=np.uint8)
        ).sum()
    )
    assert distance <= 16


def test_kill_during_folder_registration_leaves_a_consistent_registry(tmp_path: Path) -> None:
    """SIGKILL the CLI mid-folder; every work that exists is whole, and a rerun completes."""
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(60):
        (folder / f"t{i:03}.txt").write_text(f"{POEM} number {i} " * 40, encoding="utf-8")
    db = tmp_path / "r.db"
    init_store(str(db)).close()
    script = textwrap.dedent(f"""
        import time
        from clearance.registry import add_works, open_store
        store = open_store({str(db)!r})
        add_works(store, [{str(folder)!r}], owner="Ann",
                  progress=lambda d, t, _: time.sleep(0.05))
    """)
    proc = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        time.sleep(0.2)
        with sqlite3.connect(db) as conn:
            if conn.execute("SELECT count(*) FROM works").fetchone()[0] >= 5:
                break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        n = conn.execute("SELECT count(*) FROM works").fetchone()[0]
        assert 5 <= n < 60
        for table, per_work in (("identifiers", 1), ("claims", 1), ("fingerprints", 3)):
            rows = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            assert rows == per_work * n, table
        assert (
            conn.execute("SELECT count(*) FROM audit_log WHERE action='work.create'").fetchone()[0]
            == n
        )
    with init_store(str(db)) as store:
        summary = add_works(store, [str(folder)], owner="Ann")
        statuses = [r.status for r in summary.registrations]
        assert statuses.count(RegistrationStatus.EXISTING) == n
        assert store.count_works() == 60


def test_audio_and_video_registration_stores_their_fingerprints(
    store: SqlStore, tmp_path: Path
) -> None:
    from tests.samples import write_music, write_video

    media = tmp_path / "media"
    media.mkdir()
    write_music(media / "song.wav", 3, seconds=6)
    write_video(media / "clip.mp4", 3, seconds=2)
    (media / "broken.mp3").write_bytes(b"ID3 not audio at all")
    summary = add_works(store, [str(media)], owner="Ann")
    kinds = sorted(r.work.kind.value for r in summary.registrations)
    assert kinds == ["audio", "video"]
    assert [Path(s.path).name for s in summary.skipped] == ["broken.mp3"]
    ((_, chroma),) = store.iter_fingerprints("chromaprint")
    assert len(chroma.data) % 4 == 0 and len(chroma.data) > 4 * 24
    ((_, frames),) = store.iter_fingerprints("video-pdq")
    assert len(frames.data) == 33 * 2


def test_parallel_fingerprinting_registers_the_same_works(tmp_path: Path) -> None:
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(12):
        write_image(folder / f"i{i:02}.jpg", 100 + i)
    (folder / "bad.jpg").write_bytes(b"nope")
    results = {}
    for workers in (1, 2):
        with init_store(str(tmp_path / f"r{workers}.db")) as store:
            summary = add_works(store, [str(folder)], owner="Ann", workers=workers)
            results[workers] = (
                [(r.work.title, r.work.sha256) for r in summary.registrations],
                [(Path(s.path).name, s.reason) for s in summary.skipped],
                sorted((fp.data, fp.quality) for _, fp in store.iter_fingerprints("pdq")),
                len(list(store.iter_fingerprints("pdq-regions"))),
            )
    assert results[1] == results[2]
    assert len(results[1][0]) == 12 and results[1][1][0][0] == "bad.jpg" and results[1][3] == 12

"""Audio and video items in a scan: matched by Chromaprint and frame PDQ, errors kept per item.

A small registry of its own (the shared one has no media, and other tests
count its works): Mia's song (deny tdm) and Vic's video (licence train-ai).
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from clearance.core import Permission, Price, Usage
from clearance.registry import add_works, init_store, open_store
from clearance.registry.records import TermsChange
from clearance.scan import scan
from tests.fingerprint.test_mediaindex import _encode, _scenes_video, _wav
from tests.samples import write_music
from tests.scan.conftest import decisions, read_json

SONG_SEED = 61
VIDEO_SCENES = list(range(500, 508))


@pytest.fixture(scope="module")
def media_registry(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, int, int]:
    root = tmp_path_factory.mktemp("media-registry")
    location = str(root / "r.db")
    store = init_store(location)
    try:
        song = write_music(root / "song.wav", SONG_SEED, seconds=20)
        film = _scenes_video(root / "film.mp4", VIDEO_SCENES)
        (mia,) = add_works(
            store, [str(song)], owner="Mia", terms=TermsChange({Usage.TDM: Permission.DENY})
        ).registrations
        (vic,) = add_works(
            store,
            [str(film)],
            owner="Vic",
            terms=TermsChange({Usage.TRAIN_AI: Permission.LICENSE}, price=Price.parse("1", "EUR")),
        ).registrations
    finally:
        store.close()
    return location, mia.work.id, vic.work.id


@pytest.fixture(scope="module")
def media_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import numpy as np

    data = tmp_path_factory.mktemp("media-data")
    clip = write_music(data / "clip-src.wav", SONG_SEED, seconds=12, start=5.0, noise=0.05)
    _encode(clip, data / "clip.mp3", "mp3")
    clip.unlink()
    t = np.arange(22050 * 6) / 22050
    _wav(data / "tone.wav", 12000 * np.sin(2 * np.pi * 440 * t))
    _scenes_video(data / "trimmed.mp4", VIDEO_SCENES[2:6], size=(128, 96), codec="h264")
    _scenes_video(data / "other.mp4", list(range(600, 605)))
    (data / "broken.mp3").write_bytes(b"ID3\x03\x00\x00\x00\x00\x00\x00 not audio at all")
    (data / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 garbage")
    return data


def _by_name(out: Path) -> dict[str, dict[str, Any]]:
    return {Path(src).name: row for src, row in decisions(out).items()}


def test_folder_of_audio_and_video(
    tmp_path: Path, media_registry: tuple[str, int, int], media_folder: Path
) -> None:
    registry, song_id, video_id = media_registry
    out = tmp_path / "out"
    scan(media_folder, out, registry=registry, web="off", workers=1)
    rows = _by_name(out)
    assert rows["clip.mp3"]["outcome"] == "exclude"
    assert rows["clip.mp3"]["work_ids"] == [song_id]
    assert rows["clip.mp3"]["reasons"] == ["registry:tdm=deny"]
    (work,) = json.loads(rows["clip.mp3"]["evidence"])["works"]
    assert work["owner"] == "Mia" and work["matched_by"][0].startswith("chromaprint:")
    assert rows["trimmed.mp4"]["outcome"] == "needs-license"
    assert rows["trimmed.mp4"]["work_ids"] == [video_id]
    (work,) = json.loads(rows["trimmed.mp4"]["evidence"])["works"]
    assert work["matched_by"] == ["frames:1.00"]
    for name in ("tone.wav", "other.mp4"):
        assert rows[name]["outcome"] == "include" and rows[name]["work_ids"] == []
    for name in ("broken.mp3", "broken.mp4"):
        assert rows[name]["outcome"] == "error" and rows[name]["error"]
    meta = read_json(out / "manifest.json")["index"]
    assert (meta["audio_recordings"], meta["video_recordings"]) == (1, 1)
    assert sorted(p.name for p in (out / "cleared").iterdir()) == ["other.mp4", "tone.wav"]
    licenses = read_json(out / "licenses.json")
    assert licenses["owners"][0]["owner"] == "Vic"

    pooled = tmp_path / "pooled"  # a process pool decides exactly as the in-process run
    scan(media_folder, pooled, registry=registry, web="off", workers=2, shard_size=3)
    assert _by_name(pooled) == rows


def test_audio_and_video_bytes_from_tables_and_tars(
    tmp_path: Path, media_registry: tuple[str, int, int], media_folder: Path
) -> None:
    """Items that are only bytes (a WebDataset member, a table's path) go through a temp file."""
    registry, song_id, video_id = media_registry
    table = tmp_path / "t.parquet"
    paths = [str(media_folder / n) for n in ("clip.mp3", "trimmed.mp4", "broken.mp4")]
    pq.write_table(pa.table({"path": paths}), table)
    # the files lie outside the table's folder: refused unless --base-dir lets them in
    scan(table, tmp_path / "refused", registry=registry, web="off", workers=1)
    refused = _by_name(tmp_path / "refused")
    assert all("outside" in r["error"] for r in refused.values())
    scan(
        table,
        tmp_path / "out-table",
        registry=registry,
        web="off",
        workers=1,
        base_dir=media_folder,
    )
    rows = _by_name(tmp_path / "out-table")
    assert rows["clip.mp3"]["work_ids"] == [song_id]
    assert rows["trimmed.mp4"]["work_ids"] == [video_id]
    assert rows["broken.mp4"]["outcome"] == "error"

    shards = tmp_path / "shards"
    shards.mkdir()
    with tarfile.open(shards / "00000.tar", "w") as tar:
        for key, name in (("a", "clip.mp3"), ("b", "trimmed.mp4"), ("c", "tone.wav")):
            for member, data in (
                (f"{key}.{name.rsplit('.', 1)[1]}", (media_folder / name).read_bytes()),
                (f"{key}.json", json.dumps({"url": f"https://m.example/{name}"}).encode()),
            ):
                info = tarfile.TarInfo(member)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    scan(shards / "00000.tar", tmp_path / "out-tar", registry=registry, web="off", workers=1)
    rows = decisions(tmp_path / "out-tar")
    assert rows["https://m.example/clip.mp3"]["work_ids"] == [song_id]
    assert rows["https://m.example/trimmed.mp4"]["work_ids"] == [video_id]
    assert rows["https://m.example/tone.wav"]["work_ids"] == []


def test_media_not_decoded_without_registered_media(
    tmp_path: Path, registry: str, media_folder: Path
) -> None:
    """With no registered audio or video, such files are only hashed (nothing to match)."""
    with open_store(registry) as store:
        assert not list(store.iter_fingerprints("chromaprint"))
    out = tmp_path / "out"
    scan(media_folder, out, registry=registry, web="off", workers=1)
    rows = _by_name(out)
    assert rows["broken.mp3"]["outcome"] == "include"
    assert read_json(out / "manifest.json")["index"]["audio_recordings"] == 0

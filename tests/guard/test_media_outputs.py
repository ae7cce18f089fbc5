"""Audio and video outputs: a generated track or clip that reuses a registered recording."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from clearance.core import Permission, Usage
from clearance.guard import GuardIndex, check
from clearance.guard.live import Guard
from clearance.registry import SqlStore, TermsChange, add_works, init_store
from tests.fingerprint.test_mediaindex import _pcm, _scenes_video, _wav
from tests.samples import write_music

DENY = TermsChange({Usage.OUTPUT: Permission.DENY})


@pytest.fixture
def media_store(tmp_path: Path) -> SqlStore:
    store = init_store(str(tmp_path / "r.db"))
    hook = write_music(tmp_path / "hook.wav", 21, seconds=8)
    add_works(store, [str(hook)], owner="Label", terms=DENY)
    film = _scenes_video(tmp_path / "film.mp4", list(range(200, 208)))
    add_works(store, [str(film)], owner="Studio", terms=DENY)
    return store


def test_song_reusing_a_registered_recording_is_blocked_with_its_span(
    media_store: SqlStore, tmp_path: Path
) -> None:
    index = GuardIndex.from_store(media_store)
    before = _pcm(write_music(tmp_path / "a.wav", 31, seconds=9))
    after = _pcm(write_music(tmp_path / "b.wav", 32, seconds=9))
    song = _wav(tmp_path / "gen.wav", np.concatenate([before, _pcm(tmp_path / "hook.wav"), after]))
    verdict = check(index, song)
    assert verdict.verdict == "block" and "chromaprint" in verdict.checks_run
    (match,) = verdict.matches
    assert (match.owner, match.kind, match.method) == ("Label", "audio", "chromaprint")
    assert match.span is not None and 8_000 < match.span[0] < 10_000
    assert match.span[1] - match.span[0] > 4_000  # milliseconds of the output
    # an unrelated track is allowed, and says what ran
    other = check(index, write_music(tmp_path / "other.wav", 44, seconds=12))
    assert other.verdict == "allow" and not other.matches and "chromaprint" in other.checks_run


def test_clip_reusing_a_registered_video_is_blocked(media_store: SqlStore, tmp_path: Path) -> None:
    index = GuardIndex.from_store(media_store)
    scenes = [300, 301, 302, 303, *range(200, 208), 304, 305]
    verdict = check(index, _scenes_video(tmp_path / "gen.mp4", scenes, codec="h264"))
    assert verdict.verdict == "block" and verdict.checks_run == ("frames",)
    (match,) = verdict.matches
    assert (match.owner, match.kind, match.method) == ("Studio", "video", "frames")
    assert match.span == (4_000, 12_000)
    unrelated = check(index, _scenes_video(tmp_path / "o.mp4", list(range(400, 406))))
    assert unrelated.verdict == "allow"


def test_uploaded_bytes_and_live_registration(media_store: SqlStore, tmp_path: Path) -> None:
    guard = Guard(media_store)
    late = write_music(tmp_path / "late.wav", 55, seconds=10)
    data = late.read_bytes()
    assert guard.check(data, label="track.wav").verdict == "allow"
    add_works(media_store, [str(late)], owner="Indie", terms=DENY)
    verdict = guard.check(data, label="track.wav")
    assert verdict.verdict == "block" and verdict.matches[0].owner == "Indie"


def test_corrupt_media_is_a_clear_error(media_store: SqlStore, tmp_path: Path) -> None:
    from clearance.core.errors import ClearanceError

    bad = tmp_path / "broken.mp3"
    bad.write_bytes(b"ID3" + b"\x00" * 200)
    with pytest.raises(ClearanceError) as err:
        check(GuardIndex.from_store(media_store), bad)
    assert err.value.exit_code == 2


def test_audio_upload_over_http(media_store: SqlStore, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from clearance.api import create_app
    from clearance.config import Settings

    client = TestClient(create_app(Settings(registry=media_store.url)))
    song = (tmp_path / "hook.wav").read_bytes()
    answer = client.post("/v1/check", files={"file": ("gen.wav", song, "audio/wav")})
    assert answer.status_code == 200
    body = answer.json()
    assert body["verdict"] == "block" and body["matches"][0]["method"] == "chromaprint"
    bad = client.post("/v1/check", files={"file": ("gen.mp4", b"\x00" * 64, "video/mp4")})
    assert bad.status_code == 415, bad.text


def test_an_exact_six_second_excerpt_is_blocked_with_its_true_span(tmp_path: Path) -> None:
    """docs/guard.md: a shared stretch of >= 5 s of audio is strong. A 6 s excerpt has 27
    Chromaprint words (word positions span 3.3 s); its span is the audio they describe."""
    store = init_store(str(tmp_path / "r.db"))
    song = write_music(tmp_path / "song.wav", 21, seconds=30)
    add_works(store, [str(song)], owner="Label", terms=DENY)
    excerpt = write_music(tmp_path / "excerpt.wav", 21, seconds=6, start=10.0)
    verdict = check(GuardIndex.from_store(store), excerpt)
    (match,) = verdict.matches
    assert verdict.verdict == "block" and match.strong
    assert match.span is not None and match.span[0] == 0 and 5_500 <= match.span[1] <= 6_000

"""Audio (Chromaprint) and video (1 fps PDQ) fingerprints on generated media."""

from __future__ import annotations

from pathlib import Path

import pytest

from clearance.core import UnsupportedInput
from clearance.fingerprint.audio import AudioFingerprint, audio_fingerprint, clip_offset
from clearance.fingerprint.video import VideoHashes, compare_videos, video_hashes
from tests.samples import write_music, write_video


def test_clip_is_found_inside_its_recording(tmp_path: Path) -> None:
    song = audio_fingerprint(write_music(tmp_path / "song.wav", 1, seconds=40))
    clip = audio_fingerprint(
        write_music(tmp_path / "clip.wav", 1, seconds=10, start=17.0, noise=0.05)
    )
    other = audio_fingerprint(write_music(tmp_path / "other.wav", 2, seconds=40))
    match = clip_offset(clip, song)
    assert match is not None and match.matched
    assert abs(match.seconds - 17.0) < 1.0
    miss = clip_offset(clip, other)
    assert miss is not None and not miss.matched and miss.bit_error_rate > 0.35
    again = AudioFingerprint.from_bytes(song.to_bytes())
    assert (again.words == song.words).all()


def test_non_audio_is_unsupported(tmp_path: Path) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF not really audio")
    with pytest.raises(UnsupportedInput):
        audio_fingerprint(bad)


def test_video_clip_matches_its_source_and_not_another(tmp_path: Path) -> None:
    source = video_hashes(write_video(tmp_path / "a.mp4", 1, seconds=8))
    assert len(source) == 8
    clip = video_hashes(
        write_video(tmp_path / "clip.mp4", 1, seconds=3, size=(240, 180), first_scene=3)
    )
    other = video_hashes(write_video(tmp_path / "b.mp4", 2, seconds=8))
    match = compare_videos(clip, source)
    assert match.matched and match.query_fraction == 1.0
    assert 0.3 <= match.reference_fraction <= 0.5
    assert not compare_videos(clip, other).matched
    restored = VideoHashes.from_bytes(source.to_bytes())
    assert (restored.codes == source.codes).all() and (restored.qualities == source.qualities).all()


def test_non_video_is_unsupported(tmp_path: Path) -> None:
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42 garbage")
    with pytest.raises(UnsupportedInput):
        video_hashes(bad)

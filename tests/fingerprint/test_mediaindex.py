"""AudioIndex and VideoIndex: clips, embeddings, unrelated media, the file format, garbage."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clearance.core import UnsupportedInput, UserError
from clearance.fingerprint.audio import AudioFingerprint, audio_fingerprint
from clearance.fingerprint.mediaindex import AudioIndex, VideoIndex
from clearance.fingerprint.video import VideoHashes, compare_videos, video_hashes
from tests.samples import textured_image, write_music

SONGS = (11, 12, 13)


def _pcm(path: Path) -> np.ndarray:
    with wave.open(str(path)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), "<i2")


def _wav(path: Path, pcm: np.ndarray, rate: int = 22050) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.astype("<i2").tobytes())
    return path


def _encode(src: Path, dst: Path, codec: str) -> Path:
    """Re-encode audio with PyAV (a lossy copy, as a dataset would hold it)."""
    import av

    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        stream = out.add_stream(codec, rate=22050)
        stream.bit_rate = 64_000
        for frame in inp.decode(audio=0):
            frame.pts = None
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return dst


@pytest.fixture(scope="module")
def songs(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    root = tmp_path_factory.mktemp("songs")
    return {s: write_music(root / f"song{s}.wav", s, seconds=24) for s in SONGS}


@pytest.fixture(scope="module")
def audio_index(songs: dict[int, Path]) -> AudioIndex:
    index = AudioIndex()
    for work_id, path in songs.items():
        index.add(work_id, audio_fingerprint(path))
    return index


@pytest.mark.parametrize(("start", "seconds", "noise"), [(6.0, 10.0, 0.05), (3.3, 15.0, 0.1)])
def test_clip_of_a_registered_song_is_found(
    tmp_path: Path, audio_index: AudioIndex, start: float, seconds: float, noise: float
) -> None:
    clip = write_music(tmp_path / "clip.wav", 12, seconds=seconds, start=start, noise=noise)
    (hit,) = audio_index.search(audio_fingerprint(clip))
    assert hit.work_id == 12
    assert abs(hit.offset - start) < 0.5
    assert hit.score > 0.6 and hit.bit_error_rate < 0.2
    assert hit.query_span[1] - hit.query_span[0] > seconds / 2
    assert hit.reference_span[0] == pytest.approx(hit.query_span[0] + hit.offset)


def test_lossy_copy_is_found(tmp_path: Path, audio_index: AudioIndex) -> None:
    clip = write_music(tmp_path / "clip.wav", 13, seconds=12, start=8.0)
    mp3 = _encode(clip, tmp_path / "clip.mp3", "mp3")
    (hit,) = audio_index.search(audio_fingerprint(mp3))
    assert hit.work_id == 13 and abs(hit.offset - 8.0) < 0.5


def test_registered_song_embedded_in_a_longer_query(tmp_path: Path) -> None:
    """The guard's case: a generated track reuses a registered 8 s recording in its middle."""
    short = write_music(tmp_path / "hook.wav", 21, seconds=8)
    index = AudioIndex()
    index.add(7, audio_fingerprint(short))
    before = _pcm(write_music(tmp_path / "a.wav", 31, seconds=9))
    after = _pcm(write_music(tmp_path / "b.wav", 32, seconds=9))
    query = _wav(tmp_path / "q.wav", np.concatenate([before, _pcm(short), after]))
    (hit,) = index.search(audio_fingerprint(query))
    assert hit.work_id == 7 and hit.score > 0.8
    assert abs(hit.offset + 9.0) < 0.5  # the recording starts 9 s into the query
    assert 8.0 < hit.query_span[0] < 10.0 and hit.query_span[1] - hit.query_span[0] > 4.0


def test_part_of_a_long_recording_inside_a_longer_query(
    tmp_path: Path, audio_index: AudioIndex
) -> None:
    before = _pcm(write_music(tmp_path / "a.wav", 41, seconds=8))
    middle = _pcm(write_music(tmp_path / "m.wav", 11, seconds=8, start=10.0))
    after = _pcm(write_music(tmp_path / "b.wav", 42, seconds=8))
    query = _wav(tmp_path / "q.wav", np.concatenate([before, middle, after]))
    (hit,) = audio_index.search(audio_fingerprint(query))
    assert hit.work_id == 11 and abs(hit.offset - 2.0) < 0.5


def test_unrelated_audio_finds_nothing(tmp_path: Path, audio_index: AudioIndex) -> None:
    other = write_music(tmp_path / "other.wav", 99, seconds=15)
    assert audio_index.search(audio_fingerprint(other)) == []
    assert audio_index.search(AudioFingerprint(np.empty(0, np.uint32), 0.0)) == []


def test_audio_index_round_trip_add_remove(
    tmp_path: Path, songs: dict[int, Path], audio_index: AudioIndex
) -> None:
    clip = audio_fingerprint(write_music(tmp_path / "c.wav", 11, seconds=10, start=4.0))
    want = audio_index.search(clip)
    path = tmp_path / "audio.cidx"
    audio_index.save(path)
    loaded = AudioIndex.load(path)
    assert len(loaded) == len(SONGS) and loaded.search(clip) == want
    assert AudioIndex.from_bytes(audio_index.to_bytes()).search(clip) == want
    loaded.add(50, clip)  # a loaded index takes additions (the guard's live updates)
    assert [h.work_id for h in loaded.search(clip)] == [50, 11]
    loaded.remove([11])
    assert [h.work_id for h in loaded.search(clip)] == [50]
    assert len(loaded) == len(SONGS)
    again = AudioIndex.from_bytes(loaded.to_bytes())
    assert [h.work_id for h in again.search(clip)] == [50] and len(again) == len(SONGS)
    with pytest.raises(UserError):
        loaded.add("x", clip)  # type: ignore[arg-type]
    loaded.remove([50])  # removed, then re-registered with other audio: the old one stays gone
    loaded.add(50, audio_fingerprint(songs[12]))
    assert [h.work_id for h in loaded.search(clip)] == []


def test_empty_audio_index(tmp_path: Path) -> None:
    empty = AudioIndex.from_bytes(AudioIndex().to_bytes())
    assert len(empty) == 0
    assert empty.search(AudioFingerprint(np.arange(100, dtype=np.uint32), 12.0)) == []


# ------------------------------------------------------------------- video


def _scenes_video(
    path: Path, scenes: list[int], *, size: tuple[int, int] = (160, 120), codec: str = "mpeg4"
) -> Path:
    """A video at 2 fps showing ``textured_image(scene)`` for one second each."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=2)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.bit_rate = 1_000_000
        for scene in scenes:
            frame = av.VideoFrame.from_image(textured_image(scene).resize(size))
            for _ in range(2):
                for packet in stream.encode(frame):
                    container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[int, VideoHashes]:
    root = tmp_path_factory.mktemp("videos")
    return {
        1: video_hashes(_scenes_video(root / "a.mp4", list(range(100, 108)))),
        2: video_hashes(_scenes_video(root / "b.mp4", list(range(200, 208)))),
    }


@pytest.fixture(scope="module")
def video_index(videos: dict[int, VideoHashes]) -> VideoIndex:
    index = VideoIndex()
    for work_id, hashes in videos.items():
        index.add(work_id, hashes)
    return index


def test_trimmed_reencoded_clip_is_found(
    tmp_path: Path, video_index: VideoIndex, videos: dict[int, VideoHashes]
) -> None:
    clip = video_hashes(
        _scenes_video(tmp_path / "c.mp4", [103, 104, 105], size=(128, 96), codec="h264")
    )
    (hit,) = video_index.search(clip)
    assert (hit.work_id, hit.offset, hit.matched_frames, hit.query_span) == (1, 3.0, 3, (0.0, 3.0))
    truth = compare_videos(clip, videos[1])  # the brute-force reference agrees
    assert (hit.query_fraction, hit.reference_fraction) == (
        truth.query_fraction,
        truth.reference_fraction,
    )
    assert hit.score == 1.0


def test_registered_video_embedded_in_a_longer_query(
    tmp_path: Path, video_index: VideoIndex
) -> None:
    scenes = [300, 301, 302, 303, *range(200, 208), 304, 305, 306, 307, 308, 309]
    (hit,) = video_index.search(video_hashes(_scenes_video(tmp_path / "q.mp4", scenes)))
    assert hit.work_id == 2 and hit.offset == -4.0 and hit.query_span == (4.0, 12.0)
    assert hit.reference_fraction == 1.0 and hit.query_fraction < 0.5


def test_unrelated_video_finds_nothing(tmp_path: Path, video_index: VideoIndex) -> None:
    other = video_hashes(_scenes_video(tmp_path / "o.mp4", list(range(400, 406))))
    assert video_index.search(other) == []


def test_video_index_round_trip_add_remove(
    tmp_path: Path, video_index: VideoIndex, videos: dict[int, VideoHashes]
) -> None:
    query = videos[2]
    want = video_index.search(query)
    path = tmp_path / "video.vidx"
    video_index.save(path)
    loaded = VideoIndex.load(path)
    assert len(loaded) == 2 and loaded.search(query) == want
    loaded.remove([2])
    assert loaded.search(query) == [] and len(loaded) == 1
    loaded.add(2, videos[1])  # re-registered with other frames: the old ones stay gone
    assert {h.work_id for h in loaded.search(query)} == set()
    assert {h.work_id for h in loaded.search(videos[1])} == {1, 2}
    loaded.remove([2])
    again = VideoIndex.from_bytes(loaded.to_bytes())
    assert len(again) == 1 and again.search(videos[1])[0].work_id == 1
    with pytest.raises(UserError):
        loaded.add(3, VideoHashes(np.zeros((2, 31), np.uint8), np.zeros(2), np.zeros(2)))


# ------------------------------------------------------------------- garbage


def test_missing_and_empty_files(tmp_path: Path) -> None:
    from clearance.core import InputNotFound

    with pytest.raises(InputNotFound):
        AudioIndex.load(tmp_path / "nope.cidx")
    (tmp_path / "empty.vidx").write_bytes(b"")
    with pytest.raises(UnsupportedInput):
        VideoIndex.load(tmp_path / "empty.vidx")
    with pytest.raises(UnsupportedInput, match="format_version"):
        AudioIndex.from_bytes(
            AudioIndex().to_bytes().replace(b'"format_version": 1', b'"format_version": 9')
        )
    with pytest.raises(UnsupportedInput, match="bad magic"):
        VideoIndex.from_bytes(AudioIndex().to_bytes())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_random_bytes_are_refused(data: bytes) -> None:
    with pytest.raises(UnsupportedInput):
        AudioIndex.from_bytes(data)
    with pytest.raises(UnsupportedInput):
        VideoIndex.from_bytes(data)
    with pytest.raises(UnsupportedInput):
        AudioIndex.from_bytes(b"CLRAUDIX" + data)


SMALL_WORDS = np.random.default_rng(5).integers(0, 2**32, (2, 60), dtype=np.uint32)


def _small_audio() -> bytes:
    index = AudioIndex()
    for work_id, words in zip((1, 2), SMALL_WORDS, strict=True):
        index.add(work_id, AudioFingerprint(words, 7.0))
    return index.to_bytes()


def _small_video() -> bytes:
    index = VideoIndex()
    rng = np.random.default_rng(6)
    codes = rng.integers(0, 256, (4, 32), dtype=np.uint8)
    index.add(1, VideoHashes(codes, np.full(4, 100), np.arange(4.0)))
    return index.to_bytes()


AUDIO_BYTES = _small_audio()
VIDEO_BYTES = _small_video()


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_damaged_files_load_cleanly_or_are_refused(data: st.DataObject) -> None:
    """Truncated or byte-flipped files either load (and search without crashing) or raise."""
    for blob, cls in ((AUDIO_BYTES, AudioIndex), (VIDEO_BYTES, VideoIndex)):
        damaged = bytearray(blob)
        if data.draw(st.booleans()):
            del damaged[data.draw(st.integers(0, len(damaged))) :]
        for _ in range(data.draw(st.integers(0, 4))):
            at = data.draw(st.integers(0, len(damaged) - 1)) if damaged else 0
            if damaged:
                damaged[at] = data.draw(st.integers(0, 255))
        try:
            index = cls.from_bytes(bytes(damaged))
        except UnsupportedInput:
            continue
        if isinstance(index, AudioIndex):
            index.search(AudioFingerprint(SMALL_WORDS[1], 7.0))
        else:
            rng = np.random.default_rng(1)
            codes = rng.integers(0, 256, (3, 32), dtype=np.uint8)
            index.search(VideoHashes(codes, np.full(3, 100), np.arange(3.0)))


def test_row_numbers_out_of_range_are_dropped_at_search() -> None:
    """Rows are not read on load (memory map); a damaged one must not crash a search."""
    import json

    length = int.from_bytes(AUDIO_BYTES[8:12], "little")
    spec = json.loads(AUDIO_BYTES[12 : 12 + length])["arrays"]["rows"]
    damaged = bytearray(AUDIO_BYTES)
    start = spec["offset"]
    damaged[start : start + 4 * spec["shape"][0]] = b"\xff" * (4 * spec["shape"][0])
    query = AudioFingerprint(SMALL_WORDS[1], 7.0)
    assert [h.work_id for h in AudioIndex.from_bytes(AUDIO_BYTES).search(query)] == [2]
    assert AudioIndex.from_bytes(bytes(damaged)).search(query) == []


def test_out_of_order_keys_do_not_crash_a_search() -> None:
    """Regression (found by the fuzz test above): a flipped byte in the key array loads,
    and a search must neither crash on the unsorted keys nor report garbage as an error."""
    damaged = bytearray(AUDIO_BYTES)
    damaged[446] = 0
    damaged[1399] = 8
    try:
        index = AudioIndex.from_bytes(bytes(damaged))
    except UnsupportedInput:
        return
    index.search(AudioFingerprint(SMALL_WORDS[1], 7.0))

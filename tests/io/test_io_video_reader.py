"""Streaming video decode, frame folders, rotation, truncated files."""

from __future__ import annotations

import inspect
import tracemalloc
import warnings
import weakref
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from io_media import encode_test_video, gradient_frames

from synergywarp.io import (
    VideoWriter,
    is_video_path,
    iter_video_frames,
    open_video,
    probe_video,
    read_video,
    write_frames,
    write_image,
)


def mean_abs_error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


@pytest.mark.parametrize(("rate", "expected_fps"), [(25, 25.0), (Fraction(30000, 1001), 30000 / 1001)])
def test_decode_matches_encoded_frames(tmp_path: Path, rate, expected_fps: float) -> None:
    frames = gradient_frames(12, 48, 80)
    path = encode_test_video(tmp_path / "clip.mov", frames, rate)
    info = probe_video(path)
    assert info.fps == pytest.approx(expected_fps, abs=1e-9)
    assert (info.num_frames, info.width, info.height, info.has_audio) == (12, 80, 48, False)
    decoded, fps = read_video(path)
    assert fps == info.fps
    assert decoded.shape == (12, 48, 80, 3) and decoded.dtype == np.uint8
    for original, got in zip(frames, decoded):
        assert mean_abs_error(original, got) < 2.5
    # frame order kept: the blue level rises by 3 per frame
    assert np.all(np.diff(decoded[:, :, :, 2].mean(axis=(1, 2))) > 1.5)


def test_probe_reports_audio(video_25) -> None:
    path, frames = video_25
    info = probe_video(path)
    assert info.has_audio and info.num_frames == len(frames) and info.fps == 25.0


def test_iteration_streams_without_materialising(tmp_path: Path) -> None:
    frames = gradient_frames(300, 96, 96)
    path = encode_test_video(tmp_path / "long.mp4", frames, 30)
    frame_bytes = frames[0].nbytes
    del frames
    tracemalloc.start()
    try:
        stream = iter_video_frames(path)
        assert inspect.isgenerator(stream)
        earlier_frames: list[weakref.ref] = []
        blue_levels = []
        for frame in stream:
            earlier_frames.append(weakref.ref(frame))
            blue_levels.append(int(frame[48, 48, 2]))
        del frame
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(blue_levels) == 300
    assert blue_levels[:3] == pytest.approx([40, 43, 46], abs=3)
    # all 300 frames would be 300 × frame_bytes; streaming holds a handful at a time
    assert peak < 20 * frame_bytes, f"peak {peak} bytes: frames are being accumulated"
    assert sum(ref() is not None for ref in earlier_frames) == 0  # nothing kept behind our back


def test_display_rotation_is_applied(tmp_path: Path) -> None:
    image = np.full((32, 48, 3), 90, np.uint8)
    image[:8, :8] = (250, 20, 20)
    frames = np.repeat(image[None], 3, axis=0)
    path = encode_test_video(tmp_path / "phone.mp4", frames, 25, rotation=90)
    info = probe_video(path)
    assert (info.width, info.height) == (32, 48)
    first = next(iter_video_frames(path))
    expected = np.rot90(image, k=1)  # 90° counter-clockwise, as ffmpeg's autorotate shows it
    assert first.shape == expected.shape
    assert mean_abs_error(first, expected) < 3


def test_truncated_file_yields_what_decodes_and_warns(tmp_path: Path) -> None:
    frames = gradient_frames(40)
    full = tmp_path / "full.mp4"
    with VideoWriter(full, 25, preset="ultrafast") as writer:  # faststart: index first, frames after
        writer.write(frames)
    data = full.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.7)])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        decoded = list(iter_video_frames(cut))
    assert 0 < len(decoded) < 40
    assert any("cut.mp4" in str(w.message) for w in caught)
    for original, got in zip(frames, decoded):
        assert mean_abs_error(original, got) < 3


def test_frame_folder_sorted_by_name(tmp_path: Path) -> None:
    frames = gradient_frames(12, 16, 24)
    folder = tmp_path / "frames"
    folder.mkdir()
    for index, frame in enumerate(frames):  # unpadded names: 0.png ... 11.png
        write_image(folder / f"{index}.png", frame)
    (folder / "notes.txt").write_text("ignored")
    assert is_video_path(folder)
    info, stream = open_video(folder, folder_fps=12.5)
    assert (info.fps, info.num_frames, info.width, info.height) == (12.5, 12, 24, 16)
    np.testing.assert_array_equal(np.stack(list(stream)), frames)


def test_write_frames_round_trip(tmp_path: Path) -> None:
    frames = gradient_frames(5, 10, 14)
    paths = write_frames(tmp_path / "out", frames)
    assert [p.name for p in paths] == [f"{i:06d}.png" for i in range(5)]
    decoded, fps = read_video(tmp_path / "out")
    np.testing.assert_array_equal(decoded, frames)
    assert fps == 25.0


def test_is_video_path() -> None:
    assert is_video_path("a/B.MP4") and is_video_path("x.webm") and is_video_path("y.mov")
    assert not is_video_path("face.png")

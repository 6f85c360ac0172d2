"""Every bad input gives one InputError line that names the file (issue 5 'Bad input')."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from io_media import encode_test_video, gradient_frames, write_audio_only, write_zero_frame_mp4

from synergywarp.errors import InputError
from synergywarp.io import VideoWriter, iter_video_frames, probe_video, read_image, read_video


def assert_one_line_naming(error: pytest.ExceptionInfo[InputError], path: Path) -> None:
    message = str(error.value)
    assert path.name in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("missing.png", None),
        ("empty.png", b""),
        ("notes.png", b"this is a text file, not a picture\n" * 20),
        ("half.png", None),  # a PNG cut short
    ],
)
def test_bad_images(tmp_path: Path, name: str, content: bytes | None) -> None:
    path = tmp_path / name
    if name == "half.png":
        good = tmp_path / "good.png"
        from PIL import Image

        Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(good)
        path.write_bytes(good.read_bytes()[:600])
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError) as error:
        read_image(path)
    assert_one_line_naming(error, path)


def test_folder_is_not_an_image(tmp_path: Path) -> None:
    with pytest.raises(InputError) as error:
        read_image(tmp_path)
    assert_one_line_naming(error, tmp_path)


def _truncated_early(path: Path) -> None:
    full = path.with_name("full.mp4")
    with VideoWriter(full, 25) as writer:  # faststart: the index is at the front, frames after it
        writer.write(gradient_frames(30))
    data = full.read_bytes()
    path.write_bytes(data[: int(len(data) * 0.25)])  # cut inside the first (key) frame


def _zeroed_payload(path: Path) -> None:
    encode_test_video(path, gradient_frames(10))
    data = bytearray(path.read_bytes())
    start = data.find(b"mdat") + 4
    data[start:] = bytes(len(data) - start)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(None, id="missing"),
        pytest.param(lambda p: p.write_bytes(b""), id="empty-file"),
        pytest.param(lambda p: p.write_text("not a video " * 50), id="text-renamed-mp4"),
        pytest.param(write_audio_only, id="audio-only"),
        pytest.param(write_zero_frame_mp4, id="zero-frames"),
        pytest.param(_truncated_early, id="truncated-before-first-frame"),
        pytest.param(_zeroed_payload, id="corrupt-payload"),
    ],
)
def test_bad_videos(tmp_path: Path, make) -> None:
    path = tmp_path / "driving.mp4"
    if make is not None:
        make(path)
    for reader in (probe_video, iter_video_frames, read_video):
        with pytest.raises(InputError) as error:
            reader(path)  # raised at the call, before any frame is requested
        assert_one_line_naming(error, path)


def test_image_given_as_video(tmp_path: Path) -> None:
    path = tmp_path / "face.png"
    from PIL import Image

    Image.new("RGB", (8, 8)).save(path)
    with pytest.raises(InputError) as error:
        probe_video(path)
    assert_one_line_naming(error, path)


def test_bad_frame_folders(tmp_path: Path) -> None:
    empty = tmp_path / "frames_empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("no frames here")
    with pytest.raises(InputError) as error:
        iter_video_frames(empty)
    assert_one_line_naming(error, empty)

    mixed = tmp_path / "frames_mixed"
    mixed.mkdir()
    from PIL import Image

    Image.new("RGB", (8, 8)).save(mixed / "0001.png")
    Image.new("RGB", (10, 8)).save(mixed / "0002.png")
    frames = iter_video_frames(mixed)
    next(frames)
    with pytest.raises(InputError) as error:
        next(frames)
    assert_one_line_naming(error, mixed / "0002.png")


def test_bad_audio_source_and_output_folder(tmp_path: Path) -> None:
    missing = tmp_path / "nope.mp4"
    with pytest.raises(InputError) as error:
        VideoWriter(tmp_path / "out.mp4", 25, audio_from=missing)
    assert_one_line_naming(error, missing)

    blocker = tmp_path / "afile"
    blocker.write_text("a file where a folder should be")
    with pytest.raises(InputError) as error:
        VideoWriter(blocker / "out.mp4", 25)
    assert "afile" in str(error.value)
    assert blocker.read_text() == "a file where a folder should be"

    folder = tmp_path / "out.mp4"
    folder.mkdir()
    with pytest.raises(InputError) as error:
        VideoWriter(folder, 25)
    assert_one_line_naming(error, folder)

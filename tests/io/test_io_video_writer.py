"""VideoWriter: H.264 round trip, frame rates, odd sizes, audio passthrough, atomic output."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from io_media import audio_stream_seconds, decoded_audio, encode_test_video, gradient_frames

from synergywarp.io import (
    VideoWriter,
    frame_rate_fraction,
    mux_audio,
    probe_video,
    read_video,
    write_frames,
)


def mean_abs_error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def decode_with_pyav(path: Path) -> tuple[np.ndarray, av.VideoStream, list[str]]:
    """Independent decode: frames T×H×W×3, the video stream, and the stream types in the file."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(stream)])
        return frames, stream, [s.type for s in container.streams]


def audio_packet_bytes(path: Path, count: int = 10) -> list[bytes]:
    """The first `count` compressed audio packets of a file."""
    with av.open(str(path)) as container:
        return [bytes(p) for p in container.demux(container.streams.audio[0]) if p.size][:count]


@pytest.mark.parametrize(
    ("fps", "expected_rate"),
    [(25, Fraction(25)), (Fraction(30000, 1001), Fraction(30000, 1001)), (29.97, Fraction(30000, 1001))],
)
def test_round_trip_keeps_frames_count_and_rate(tmp_path: Path, fps, expected_rate: Fraction) -> None:
    frames = gradient_frames(15, 48, 64)
    out = tmp_path / "out.mp4"
    with VideoWriter(out, fps) as writer:
        writer.write(frames[:5])  # a batch N×H×W×3 ...
        for frame in frames[5:]:  # ... then single frames
            writer.write(frame)
    decoded, stream, kinds = decode_with_pyav(out)
    assert kinds == ["video"]
    assert stream.codec_context.name == "h264" and stream.codec_context.pix_fmt == "yuv420p"
    assert stream.codec_context.colorspace == 6  # tagged BT.601 (SMPTE 170M), the matrix used
    assert stream.average_rate == expected_rate
    assert decoded.shape == frames.shape
    for original, got in zip(frames, decoded):
        assert mean_abs_error(original, got) < 2.5
    info = probe_video(out)
    assert info.fps == pytest.approx(float(expected_rate)) and info.num_frames == 15


def test_frame_rate_fraction() -> None:
    assert frame_rate_fraction(29.97) == Fraction(30000, 1001)
    assert frame_rate_fraction(23.976) == Fraction(24000, 1001)
    assert frame_rate_fraction(59.94005994) == Fraction(60000, 1001)
    assert frame_rate_fraction(30) == 30 and frame_rate_fraction(12.5) == Fraction(25, 2)
    for bad in (0, -5, float("nan"), float("inf")):
        with pytest.raises(ValueError):
            frame_rate_fraction(bad)


def test_odd_size_is_padded_by_edge_replication(tmp_path: Path) -> None:
    frames = gradient_frames(4, 47, 65)
    out = tmp_path / "odd.mp4"
    with VideoWriter(out, 25) as writer:
        writer.write(frames)
    decoded, _, _ = decode_with_pyav(out)
    assert decoded.shape == (4, 48, 66, 3)
    assert mean_abs_error(decoded[:, :47, :65], frames) < 2.5
    assert mean_abs_error(decoded[:, 47, :65], frames[:, 46]) < 4  # padded row repeats the last row
    assert mean_abs_error(decoded[:, :47, 65], frames[:, :, 64]) < 4


def test_writer_rejects_wrong_frames(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        with VideoWriter(tmp_path / "x.mp4", 25) as writer:
            writer.write(np.zeros((8, 8, 3), np.uint8))
            writer.write(np.zeros((8, 10, 3), np.uint8))  # size changes
    with pytest.raises(ValueError):
        with VideoWriter(tmp_path / "y.mp4", 25) as writer:
            writer.write(np.zeros((8, 8, 3), np.float32))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("codec", "suffix", "copied"),
    [("aac", ".mp4", True), ("libopus", ".mkv", True), ("pcm_s16le", ".mov", False)],
)
def test_audio_passthrough(tmp_path: Path, codec: str, suffix: str, copied: bool) -> None:
    frames = gradient_frames(25, 32, 32)
    rate = 48000 if codec == "libopus" else 44100
    driving = tmp_path / f"driving{suffix}"
    encode_test_video(driving, frames, 25, audio_codec=codec, sample_rate=rate)
    out = tmp_path / "animated.mp4"
    with VideoWriter(out, probe_video(driving).fps, audio_from=driving) as writer:
        assert writer.has_audio
        for frame in frames[:, ::-1]:  # "animated" frames differ from the driving ones
            writer.write(np.ascontiguousarray(frame))
    _, stream, kinds = decode_with_pyav(out)
    assert sorted(kinds) == ["audio", "video"]
    assert probe_video(out).has_audio
    assert audio_stream_seconds(out) == pytest.approx(1.0, abs=0.08)  # 25 frames at 25 fps
    with av.open(str(out)) as container:
        out_codec = container.streams.audio[0].codec_context.name
    assert out_codec == ("opus" if codec == "libopus" else "aac")
    packets_out, packets_driving = audio_packet_bytes(out), audio_packet_bytes(driving)
    if copied:  # remux: the compressed packets are the driving's own bytes
        assert packets_out == packets_driving
    else:
        assert packets_out != packets_driving
    samples, sample_rate = decoded_audio(out)
    spectrum = np.abs(np.fft.rfft(samples[sample_rate // 10 : sample_rate // 10 + 16384]))
    peak_hz = np.argmax(spectrum) * sample_rate / 16384
    assert peak_hz == pytest.approx(440, abs=10)  # still the driving's 440 Hz tone


@pytest.mark.parametrize(("codec", "suffix"), [("aac", ".mp4"), ("pcm_s16le", ".mov")])
def test_audio_is_cut_at_video_end(tmp_path: Path, codec: str, suffix: str) -> None:
    frames = gradient_frames(10, 32, 32)
    driving = tmp_path / f"long_audio{suffix}"
    encode_test_video(driving, frames, 25, audio_codec=codec, audio_seconds=3.0)
    out = tmp_path / "out.mp4"
    with VideoWriter(out, 25, audio_from=driving) as writer:
        writer.write(frames)
    assert audio_stream_seconds(driving) > 2.9
    assert audio_stream_seconds(out) == pytest.approx(0.4, abs=0.08)


def test_sources_without_audio_give_silent_video(tmp_path: Path) -> None:
    frames = gradient_frames(10, 32, 32)
    silent = encode_test_video(tmp_path / "silent.mp4", frames, 25)
    with VideoWriter(tmp_path / "quiet.mp4", 25, audio_from=silent) as writer:
        assert not writer.has_audio
        writer.write(frames)
    assert decode_with_pyav(tmp_path / "quiet.mp4")[2] == ["video"]

    write_frames(tmp_path / "frames", frames[:2])  # a frame-folder driving has no audio either
    with VideoWriter(tmp_path / "from_folder.mp4", 25, audio_from=tmp_path / "frames") as writer:
        assert not writer.has_audio
        writer.write(frames)
    assert decode_with_pyav(tmp_path / "from_folder.mp4")[2] == ["video"]


def test_mux_audio_adds_the_track_without_reencoding_video(tmp_path: Path, video_25) -> None:
    driving, frames = video_25
    silent = tmp_path / "silent.mp4"
    with VideoWriter(silent, 25) as writer:
        writer.write(frames)
    result = mux_audio(silent, driving, tmp_path / "with_audio.mp4")
    assert result == tmp_path / "with_audio.mp4"
    original, _, _ = decode_with_pyav(silent)
    muxed, _, kinds = decode_with_pyav(result)
    assert sorted(kinds) == ["audio", "video"]
    np.testing.assert_array_equal(muxed, original)  # video packets copied bit-exactly
    assert audio_stream_seconds(result) == pytest.approx(len(frames) / 25, abs=0.08)
    mux_audio(silent, driving, silent)  # in place is allowed (atomic replace)
    assert decode_with_pyav(silent)[2].count("audio") == 1


def test_exception_leaves_existing_output_untouched(tmp_path: Path, video_25) -> None:
    driving, frames = video_25
    out = tmp_path / "result.mp4"
    out.write_bytes(b"previous result")
    with pytest.raises(RuntimeError, match="model exploded"):
        with VideoWriter(out, 25, audio_from=driving) as writer:
            writer.write(frames[:10])
            raise RuntimeError("model exploded")
    assert out.read_bytes() == b"previous result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["driving.mp4", "result.mp4"]  # no temp file


def test_success_replaces_existing_output_and_no_frames_saves_nothing(tmp_path: Path) -> None:
    frames = gradient_frames(6, 32, 32)
    out = tmp_path / "result.mp4"
    out.write_bytes(b"old")
    with VideoWriter(out, 25) as writer:
        writer.write(frames)
        assert out.read_bytes() == b"old"  # nothing visible at the output path before close
    decoded, _ = read_video(out)
    assert decoded.shape == frames.shape

    empty_out = tmp_path / "nothing.mp4"
    with pytest.raises(ValueError, match="no frames"):
        with VideoWriter(empty_out, 25):
            pass
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.mp4"]

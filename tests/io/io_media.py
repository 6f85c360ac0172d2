"""Test media for the io tests, made with plain PyAV (independent of the writer under test)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np


def gradient_frames(count: int, height: int = 64, width: int = 64) -> np.ndarray:
    """count×H×W×3 uint8 smooth frames; frame i has blue level 40 + 3·i (distinct, H.264-friendly)."""
    y, x = np.mgrid[0:height, 0:width]
    frames = np.empty((count, height, width, 3), np.uint8)
    for index in range(count):
        frames[index, :, :, 0] = (x * 200 // max(width - 1, 1)) + 20
        frames[index, :, :, 1] = (y * 200 // max(height - 1, 1)) + 20
        frames[index, :, :, 2] = (40 + 3 * index) % 256
    return frames


def sine_wave(seconds: float, sample_rate: int, frequency: float = 440.0) -> np.ndarray:
    """1×S float32 mono sine at 0.3 amplitude."""
    samples = np.arange(round(seconds * sample_rate))
    return (0.3 * np.sin(2 * np.pi * frequency * samples / sample_rate)).astype(np.float32)[None]


def encode_test_video(
    path: Path,
    frames: np.ndarray,
    fps: Fraction | int = 25,
    *,
    audio_codec: str | None = None,
    audio_seconds: float | None = None,
    sample_rate: int = 44100,
    rotation: int = 0,
) -> Path:
    """Write `frames` (T×H×W×3) as H.264 to `path` (container from suffix), optionally with a sine track."""
    container = av.open(str(path), "w")
    video = container.add_stream("libx264", rate=fps)
    video.height, video.width = frames.shape[1:3]
    video.pix_fmt = "yuv420p"
    video.options = {"preset": "ultrafast", "crf": "18"}
    if rotation:
        video.set_display_rotation(rotation)
    audio = None
    if audio_codec is not None:
        audio = container.add_stream(audio_codec, rate=sample_rate)
        audio.layout = "mono"
    for index, rgb in enumerate(frames):
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        frame.pts = index
        container.mux(video.encode(frame))
    container.mux(video.encode(None))
    if audio is not None:
        seconds = audio_seconds if audio_seconds is not None else len(frames) / float(fps)
        wave = sine_wave(seconds, sample_rate)
        resampler = av.AudioResampler(format=audio.format.name, layout="mono", rate=sample_rate)
        for start in range(0, wave.shape[1], 1024):
            piece = wave[:, start : start + 1024]
            audio_frame = av.AudioFrame.from_ndarray(piece, format="fltp", layout="mono")
            audio_frame.sample_rate = sample_rate
            audio_frame.pts = start
            for converted in resampler.resample(audio_frame):
                container.mux(audio.encode(converted))
        container.mux(audio.encode(None))
    container.close()
    return path


def audio_stream_seconds(path: Path) -> float:
    """Duration of the first audio stream, summed from decoded samples."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        samples = sum(frame.samples for frame in container.decode(stream))
        return samples / stream.codec_context.sample_rate


def decoded_audio(path: Path) -> tuple[np.ndarray, int]:
    """All samples of the first (mono) audio stream as a float array, and its sample rate."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        chunks = [frame.to_ndarray().reshape(-1) for frame in container.decode(stream)]
        return np.concatenate(chunks).astype(np.float64), stream.codec_context.sample_rate



def write_audio_only(path: Path) -> Path:
    """An mp4 with 10 AAC frames of silence and no video stream."""
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=44100)
        stream.layout = "mono"
        for index in range(10):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 44100, index * 1024
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def write_zero_frame_mp4(path: Path) -> Path:
    """An H.264 mp4 with a header and no frame."""
    container = av.open(str(path), "w")
    stream = container.add_stream("libx264", rate=25)
    stream.width = stream.height = 64
    stream.pix_fmt = "yuv420p"
    container.start_encoding()  # header only, zero frames
    container.close()
    return path

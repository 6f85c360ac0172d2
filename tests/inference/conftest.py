"""Fixtures for the inference tests: tiny checkpoints, media made on the fly, the CLI entry point."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from synergywarp.io import read_image

PORTRAITS = Path(__file__).resolve().parents[2] / "src" / "synergywarp" / "assets" / "portraits"
GRACE = PORTRAITS / "grace_hopper.jpg"
ASTRONAUT = PORTRAITS / "astronaut.jpg"


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """Tiny convolutions are dominated by thread synchronisation on a shared 2-core machine."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def checkpoints(tmp_path_factory) -> dict[str, Path]:
    """tiny / tiny_tracked checkpoints: ``explicit`` only, and one with all stages trained."""
    import torch

    from synergywarp.models import create_model

    folder = tmp_path_factory.mktemp("ckpt")
    torch.manual_seed(0)
    tiny = create_model("tiny")
    paths = {"tiny": folder / "tiny.safetensors", "tiny_rac": folder / "tiny_rac.safetensors",
             "tiny_tracked": folder / "tiny_tracked.safetensors"}
    tiny.save_pretrained(paths["tiny"], trained_stages=["explicit"])
    tiny.save_pretrained(paths["tiny_rac"], trained_stages=["explicit", "rac", "cgf"])
    create_model("tiny_tracked").save_pretrained(paths["tiny_tracked"], trained_stages=["explicit", "rac", "cgf"])
    return paths


def write_video(path: Path, frames: np.ndarray, fps: int = 25, audio: bool = False) -> Path:
    """Encode T×H×W×3 uint8 frames as H.264 mp4, optionally with a 440 Hz AAC sine track."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        audio_stream = container.add_stream("aac", rate=44100) if audio else None
        if audio_stream is not None:
            audio_stream.layout = "mono"
        for i, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            frame.pts = i
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
        if audio_stream is not None:
            rate, seconds = 44100, len(frames) / fps
            samples = (0.3 * np.sin(2 * np.pi * 440 * np.arange(int(rate * seconds)) / rate)).astype(np.float32)
            step = 1024
            for start in range(0, len(samples), step):
                chunk = samples[start:start + step][None]
                aframe = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
                aframe.sample_rate = rate
                aframe.pts = start
                aframe.time_base = Fraction(1, rate)
                container.mux(audio_stream.encode(aframe))
            container.mux(audio_stream.encode(None))
    return path


@pytest.fixture(scope="session")
def grace() -> np.ndarray:
    return read_image(GRACE)


@pytest.fixture(scope="session")
def grace_crops(grace) -> np.ndarray:
    """12 frames of a 128² face crop of Grace Hopper drifting sideways (a driving clip with a face)."""
    from synergywarp.face import apply_crop, crop_from_params, detect_landmarks

    points = detect_landmarks(grace, name="grace").points
    center = points[:, :2].mean(axis=0)
    side = 1.9 * float(np.ptp(points[:, 0]))
    return np.stack([apply_crop(grace, crop_from_params(center + [2.0 * i, 0.5 * i], side, 0.0, 128))
                     for i in range(12)])


@pytest.fixture
def run_cli():
    """``synergywarp.cli.main`` on string-converted arguments; returns the exit status."""
    from synergywarp import cli

    return lambda *argv: cli.main([str(a) for a in argv])

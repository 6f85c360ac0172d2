"""Fixtures for the io tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from io_media import encode_test_video, gradient_frames


@pytest.fixture
def video_25(tmp_path: Path) -> tuple[Path, np.ndarray]:
    """A 20-frame 64×64 25 fps mp4 with a 0.8 s AAC sine track, and its frames."""
    frames = gradient_frames(20)
    return encode_test_video(tmp_path / "driving.mp4", frames, 25, audio_codec="aac"), frames

"""A variable-frame-rate driving video keeps each frame's time in the output, so its audio stays in sync."""

from __future__ import annotations

import av
import numpy as np
import pytest
from hostile_corpus import constant_frames, write_video

from synergywarp.io import write_image

FAST, SLOW = 12, 12  # 12 frames at 30 fps, then 12 at 6 fps: 2.4 s, 10 fps on average


def frame_times(path) -> list[float]:
    with av.open(str(path)) as container:
        return [float(frame.time) for frame in container.decode(video=0)]


def audio_end(path) -> float:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        end = 0.0
        for packet in container.demux(stream):
            if packet.pts is not None:
                end = max(end, float((packet.pts + (packet.duration or 0)) * packet.time_base))
        return end


@pytest.mark.slow
def test_vfr_driving_keeps_frame_times_and_audio_sync(corpus, cli, tmp_path):
    times = [i / 30 for i in range(FAST)] + [FAST / 30 + i / 6 for i in range(SLOW)]
    driving = write_video(tmp_path / "vfr.mp4", constant_frames(FAST + SLOW), fps=10, audio=True, times=times)
    source = tmp_path / "face.png"
    write_image(source, constant_frames(1)[0])
    out = tmp_path / "out.mp4"
    result = cli("animate", "--source", source, "--driving", driving, "--out", out, "--checkpoint",
                 corpus.checkpoint, "--device", "cpu", "--no-crop", "--smooth", "0")
    assert result.returncode == 0, result.stderr[-2000:]
    given, written = np.array(frame_times(driving)), np.array(frame_times(out))
    np.testing.assert_allclose(given, times, atol=1e-3)  # the test clip really is VFR
    assert len(written) == len(given)
    drift = np.abs(written - given).max()
    assert drift < 0.01, f"frames drift up to {drift:.3f} s from their driving frames' times"
    video_end = written[-1] + (given[-1] - given[-2])
    assert abs(audio_end(out) - video_end) < 0.05  # the audio is neither cut short nor left running on

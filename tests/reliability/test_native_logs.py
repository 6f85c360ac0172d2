"""mediapipe / TFLite / absl C++ log lines never reach stderr (they would bury a one-line error).

Run as a fresh ``python -m synergywarp`` so that the import-time logging is covered as well.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from hostile_corpus import GRACE

NATIVE = ("W0000", "I0000", "E0000", "inference_feedback_manager", "TfLite", "XNNPACK", "absl::")


def run(*args) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("GLOG_minloglevel", None)
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    return subprocess.run([sys.executable, "-m", "synergywarp", *map(str, args)], capture_output=True, text=True,
                          timeout=300, env=env)


@pytest.mark.slow
def test_no_native_log_lines_when_faces_are_tracked(corpus, tmp_path):
    result = run("animate", "--source", GRACE, "--driving", corpus.driving, "--out", tmp_path / "out.mp4",
                 "--checkpoint", corpus.checkpoint, "--device", "cpu", "--frames-dir", tmp_path / "frames")
    assert result.returncode == 0, result.stderr[-2000:]
    native = [line for line in result.stderr.splitlines() if any(token in line for token in NATIVE)]
    assert native == []


@pytest.mark.slow
def test_a_one_line_error_after_face_detection_stands_alone(corpus, tmp_path):
    result = run("animate", "--source", corpus.img_wall, "--driving", corpus.driving, "--out", tmp_path / "out.mp4",
                 "--checkpoint", corpus.checkpoint, "--device", "cpu")
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines[-1].startswith("error: no face found"), result.stderr
    assert [line for line in lines if not line.startswith(("using model", "error:"))] == []

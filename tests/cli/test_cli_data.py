"""`synergywarp synth`, `prepare` and `import-liveportrait` from the command line: outputs and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from synergywarp.cli import main

PORTRAITS = Path(__file__).parents[2] / "src" / "synergywarp" / "assets" / "portraits"
FIXTURE = Path(__file__).parents[1] / "data" / "liveportrait" / "liveportrait_small.safetensors"


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "synergywarp", *args], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def synth_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth")
    code = main(["synth", "--images", str(PORTRAITS / "astronaut.jpg"), "--out", str(out), "--clips", "1",
                 "--frames", "20", "--size", "96", "--seed", "3", "--no-progress"])
    assert code == 0
    return out


def test_synth_cli_writes_dataset(synth_dir):
    manifest = json.loads((synth_dir / "manifest.json").read_text())
    assert len(manifest["clips"]) == 1
    clip = manifest["clips"][0]
    arrays = np.load(synth_dir / clip["arrays"])
    assert arrays["landmarks"].shape == (20, 468, 3)
    assert (synth_dir / clip["video"]).stat().st_size > 0


def test_prepare_cli_on_a_rendered_clip(synth_dir, tmp_path):
    video = next((synth_dir / "train").glob("*.mp4"), None) or next((synth_dir / "test").glob("*.mp4"))
    out = tmp_path / "prepared"
    code = main(["prepare", str(video), "--out", str(out), "--size", "64", "--min-frames", "8", "--no-progress"])
    assert code == 0
    clips = json.loads((out / "manifest.json").read_text())["clips"]
    assert len(clips) == 1 and clips[0]["size"] == 64 and clips[0]["num_frames"] == 20


@pytest.mark.slow
def test_bad_inputs_fail_with_one_line(tmp_path):
    not_image = tmp_path / "face.jpg"
    not_image.write_text("this is not an image")
    result = run_cli("synth", "--images", str(not_image), "--out", str(tmp_path / "o"), "--clips", "1",
                     "--frames", "4", "--no-progress")
    assert result.returncode == 1
    # (mediapipe's native start-up lines may precede it; they come from C++ threads)
    assert result.stderr.strip().splitlines()[-1].startswith("error:") and "Traceback" not in result.stderr
    assert len([line for line in result.stderr.splitlines() if line.startswith("error:")]) == 1
    result = run_cli("prepare", str(tmp_path / "missing.mp4"), "--out", str(tmp_path / "p"))
    assert result.returncode == 1 and "missing.mp4" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_import_liveportrait_cli(tmp_path):
    """Real LivePortrait shapes cannot be made here; wrong shapes must be named, the output untouched."""
    tensors = load_file(str(FIXTURE))
    lp = tmp_path / "base_models"
    lp.mkdir()
    names = {"F": "appearance_feature_extractor", "M": "motion_extractor", "W": "warping_module",
             "G": "spade_generator"}
    for prefix, name in names.items():
        torch.save({k[2:]: v for k, v in tensors.items() if k.startswith(prefix + ".")}, lp / f"{name}.pth")
    out = tmp_path / "lp.safetensors"
    result = run_cli("import-liveportrait", str(tmp_path), "--out", str(out))
    assert result.returncode == 1
    assert "first.conv.weight" in result.stderr and "Traceback" not in result.stderr
    assert not out.exists()

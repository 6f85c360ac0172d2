"""A tiny synthetic dataset (two astronaut clips with clear head motion) and tiny checkpoints, made once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import skimage.data
import torch

from synergywarp.data.prepare import ClipRecord, update_manifest
from synergywarp.data.synth import PhotometricRanges, SynthConfig, Trajectory, prepare_portrait, render_clip
from synergywarp.data.synth.corpus import write_clip
from synergywarp.models import create_model

SIZE = 96
FRAMES = 8
NO_PHOTOMETRIC = PhotometricRanges(gain=0.0, brightness=0.0, contrast=0.0, saturation=0.0, gradient=0.0)


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """One intra-op thread per module: on a shared 2-core machine two threads contend and run ~5× slower."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def _trajectories() -> dict[str, Trajectory]:
    ramp = np.linspace(0.0, 1.0, FRAMES)
    turn = np.zeros((FRAMES, 3))
    turn[:, 1] = 25.0 * ramp  # yaw
    nod = np.zeros((FRAMES, 3))
    nod[:, 0] = -15.0 * ramp  # pitch
    nod[:, 2] = 10.0 * ramp  # roll
    return {"astro_turn": Trajectory.from_poses(turn, {"mouth_open": ramp}),
            "astro_nod": Trajectory.from_poses(nod, {"smile": ramp})}


@pytest.fixture(scope="session")
def eval_dataset(tmp_path_factory) -> Path:
    """DIR/test/{astro_nod,astro_turn}.mp4 + npz + manifest.json: 96², 8 frames, no photometric change."""
    root = tmp_path_factory.mktemp("eval_data")
    config = SynthConfig(size=SIZE, frames=FRAMES, photometric=NO_PHOTOMETRIC, flip_prob=0.0)
    prepared = prepare_portrait(skimage.data.astronaut(), config, identity="astronaut")
    records = []
    for seed, (name, trajectory) in enumerate(sorted(_trajectories().items())):
        clip = render_clip(prepared, config, seed=seed, trajectory=trajectory)
        write_clip(clip, root / "test", name)
        records.append(ClipRecord(name, "test", "astronaut", FRAMES, config.fps, SIZE, "synth"))
    update_manifest(root, records)
    return root


@pytest.fixture(scope="session")
def checkpoints(tmp_path_factory) -> dict[str, Path]:
    """Untrained tiny (learned motion) and tiny_tracked checkpoints."""
    folder = tmp_path_factory.mktemp("checkpoints")
    paths = {}
    for name in ("tiny", "tiny_tracked"):
        paths[name] = folder / f"{name}.safetensors"
        create_model(name).save_pretrained(paths[name], trained_stages=["explicit", "rac", "cgf"])
    return paths

"""Fixtures: a tiny clip dataset (see clip_fixtures.py) shared by this folder's tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from clip_fixtures import write_clip


@pytest.fixture(scope="session")
def dataset_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """train: clip_a (12 frames), clip_b (12, frame 5 without landmarks), clip_c (10); test: clip_t."""
    root = tmp_path_factory.mktemp("clips")
    write_clip(root, "clip_a")
    valid = np.ones(12, bool)
    valid[5] = False
    write_clip(root, "clip_b", valid=valid, colour=(255, 60, 0))
    write_clip(root, "clip_c", num_frames=10, colour=(40, 220, 40))
    write_clip(root, "clip_t", split="test", num_frames=10)
    return root


@pytest.fixture
def dataset_copy(dataset_root: Path, tmp_path: Path) -> Path:
    """A private copy of the dataset that a test may damage."""
    return Path(shutil.copytree(dataset_root, tmp_path / "copy"))

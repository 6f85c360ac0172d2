"""ClipDataset's ``prior_grid``: the mesh warp source → driving, consistent with the augmented images."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from synergywarp.data.augment import AugmentConfig
from synergywarp.data.dataset import ClipDataset
from synergywarp.errors import ConfigError


@pytest.mark.slow
def test_prior_grid_maps_the_driving_landmarks_back_to_the_source_ones(dataset_root: Path) -> None:
    augment = AugmentConfig(flip_probability=0.5, brightness=0.0, contrast=0.0, saturation=0.0, hue=0.0,
                            scale=0.05, translate=0.04)
    dataset = ClipDataset(dataset_root, "train", image_size=64, num_references=0, augment=augment,
                          prior_grid=True, repeats=8)
    motion = []
    for index in range(len(dataset)):
        item = dataset[index]
        grid = item["prior_grid"]
        assert grid.shape == (128, 128, 2) and grid.dtype == torch.float32  # finer than the 64² images
        # mesh vertices map exactly, after flips, zooms and shifts too: at the driving's nose tip
        # (tracked keypoint 14, never hidden) and eye corner (keypoint 6) the grid holds the source's
        at = item["driving_keypoints"][[14, 6], :2].view(1, 1, 2, 2)
        sampled = F.grid_sample(grid.permute(2, 0, 1)[None], at, align_corners=False)[0, :, 0].T
        torch.testing.assert_close(sampled, item["source_keypoints"][[14, 6], :2], atol=0.02, rtol=0)
        motion.append((item["driving_keypoints"][14, :2] - item["source_keypoints"][14, :2]).norm())
    assert max(motion) > 0.1  # the pairs do move (the check above is not an identity test)


def test_prior_grid_needs_keypoints(dataset_root: Path) -> None:
    with pytest.raises(ConfigError, match="prior_grid"):
        ClipDataset(dataset_root, "train", image_size=64, keypoints=False, prior_grid=True)

"""ClipDataset items: frame choice, shapes, padding, determinism, workers, decoding, resizing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from clip_fixtures import SIZE, frame_level, strip_level
from torch.utils.data import DataLoader

from synergywarp.data import AugmentConfig, ClipDataset, list_clips, load_clip, load_clip_arrays
from synergywarp.data.clips import decode_frames
from synergywarp.errors import InputError
from synergywarp.face.keypoints import tracked_keypoints
from synergywarp.io import read_video


def _frames(item: dict) -> list[int]:
    refs = item["reference_indices"][item["reference_mask"]].tolist()
    return [int(item["source_index"]), int(item["driving_index"]), *refs]


def test_items_have_distinct_valid_frames_and_the_right_shapes(dataset_root: Path) -> None:
    dataset = ClipDataset(dataset_root, image_size=SIZE, num_references=2, reference_choice="random", repeats=3)
    assert len(dataset) == 9
    arrays = {entry.name: load_clip_arrays(entry) for entry in dataset.clips}
    for index in range(len(dataset)):
        item = dataset[index]
        assert item["clip"] == ["clip_a", "clip_b", "clip_c"][index % 3]
        frames = _frames(item)
        assert len(frames) == 4 and len(set(frames)) == 4
        data = arrays[item["clip"]]
        assert all(data["valid"][f] for f in frames), "a frame without landmarks was used"
        assert item["source"].shape == item["driving"].shape == (3, SIZE, SIZE)
        assert item["references"].shape == (2, 3, SIZE, SIZE)
        assert item["source"].dtype == torch.float32 and 0 <= item["source"].min() and item["source"].max() <= 1
        assert item["source_keypoints"].shape == (32, 3) and item["reference_keypoints"].shape == (2, 32, 3)
        assert item["reference_mask"].dtype == torch.bool and item["reference_mask"].all()
        # the decoded pixels are those of the chosen frames (the strip encodes the frame index)
        images = [item["source"], item["driving"], *item["references"]]
        for image, frame in zip(images, frames):
            assert abs(strip_level(image) - frame_level(frame)) < 6
        # keypoints and pose are those of the chosen frames (no augmentation)
        expected = tracked_keypoints(data["landmarks"][frames])
        np.testing.assert_allclose(item["source_keypoints"].numpy(), expected[0], atol=1e-6)
        np.testing.assert_allclose(item["reference_keypoints"].numpy(), expected[2:], atol=1e-6)
        np.testing.assert_allclose(item["driving_pose"].numpy(), data["pose"][frames[1]], atol=1e-6)


def test_reference_range_pads_and_masks(dataset_root: Path) -> None:
    dataset = ClipDataset(dataset_root, image_size=SIZE, num_references=(0, 2), reference_choice="random", repeats=8)
    counts = set()
    for index in range(len(dataset)):
        item = dataset[index]
        mask = item["reference_mask"]
        assert mask.shape == (2,)
        count = int(mask.sum())
        counts.add(count)
        assert mask.tolist() == [True] * count + [False] * (2 - count)
        assert (item["reference_indices"][~mask] == -1).all() and (item["reference_indices"][mask] >= 0).all()
        assert (item["references"][~mask] == 0).all() and (item["reference_keypoints"][~mask] == 0).all()
        assert (item["references"][mask].flatten(1).amax(1) > 0).all()
    assert counts == {0, 1, 2}
    batch = next(iter(DataLoader(dataset, batch_size=5)))
    assert batch["references"].shape == (5, 2, 3, SIZE, SIZE) and batch["reference_mask"].shape == (5, 2)
    assert len(batch["clip"]) == 5


def test_zero_references_collate(dataset_root: Path) -> None:
    dataset = ClipDataset(dataset_root, image_size=SIZE, num_references=0)
    batch = next(iter(DataLoader(dataset, batch_size=3)))
    assert batch["references"].shape == (3, 0, 3, SIZE, SIZE)
    assert batch["reference_keypoints"].shape == (3, 0, 32, 3)
    assert not torch.equal(batch["source_index"], batch["driving_index"])


def _indices(dataset: ClipDataset) -> list[list[int]]:
    return [_frames(dataset[i]) for i in range(len(dataset))]


@pytest.mark.slow
def test_items_are_deterministic_per_seed_epoch_and_index(dataset_root: Path) -> None:
    kwargs = dict(image_size=SIZE, num_references=(1, 2), reference_choice="random", repeats=2,
                  augment=AugmentConfig(scale=0.1, translate=0.05))
    first, second = ClipDataset(dataset_root, **kwargs), ClipDataset(dataset_root, **kwargs)
    item_a, item_b = first[4], second[4]
    for key, value in item_a.items():
        if isinstance(value, torch.Tensor):
            assert torch.equal(value, item_b[key]), key
    epoch0 = _indices(first)
    assert epoch0 == _indices(second)
    first.set_epoch(1)
    epoch1 = _indices(first)
    assert epoch1 != epoch0 and sum(a != b for a, b in zip(epoch0, epoch1)) >= len(epoch0) // 2
    first.set_epoch(0)
    assert _indices(first) == epoch0
    assert _indices(ClipDataset(dataset_root, seed=7, **kwargs)) != epoch0
    # repeats of the same clip are different draws
    assert epoch0[0] != epoch0[3]


def test_dataloader_workers_give_the_same_batches(dataset_root: Path) -> None:
    dataset = ClipDataset(dataset_root, image_size=SIZE, num_references=(0, 2), repeats=2,
                          augment=AugmentConfig(scale=0.1, translate=0.05), cache_frames=True)
    dataset.set_epoch(3)
    serial = list(DataLoader(dataset, batch_size=2, num_workers=0))
    parallel = list(DataLoader(dataset, batch_size=2, num_workers=2))
    assert len(serial) == len(parallel) == 3
    for one, other in zip(serial, parallel):
        assert one["clip"] == other["clip"]
        for key, value in one.items():
            if isinstance(value, torch.Tensor):
                assert torch.equal(value, other[key]), key


def test_frame_cache_gives_the_same_items(dataset_root: Path) -> None:
    plain = ClipDataset(dataset_root, image_size=SIZE, repeats=2)
    cached = ClipDataset(dataset_root, image_size=SIZE, repeats=2, cache_frames=True, cache_clips=2)
    for index in range(len(plain)):
        assert torch.equal(plain[index]["references"], cached[index]["references"])
    assert len(cached._frame_cache) == 2  # LRU bound


def test_resize_keeps_keypoints_and_antialiases(dataset_root: Path) -> None:
    full = ClipDataset(dataset_root, image_size=SIZE)[1]
    small = ClipDataset(dataset_root, image_size=32)[1]
    assert small["source"].shape == (3, 32, 32)
    assert torch.equal(full["source_keypoints"], small["source_keypoints"])
    pooled = torch.nn.functional.avg_pool2d(full["source"][None], 2)[0]
    assert (small["source"] - pooled).abs().mean() < 0.02


def test_without_keypoints_items_hold_images_only(dataset_root: Path) -> None:
    item = ClipDataset(dataset_root, image_size=SIZE, keypoints=False)[0]
    assert "source_keypoints" not in item and "source_pose" not in item
    assert len(set(_frames(item))) == 4


def test_load_clip_for_evaluation(dataset_root: Path) -> None:
    frames, arrays = clip = load_clip(dataset_root, "clip_t")
    assert frames.shape == (10, SIZE, SIZE, 3) and frames.dtype == np.uint8
    assert arrays["landmarks"].shape == (10, 468, 3) and str(arrays["identity"]) == "clip_t"
    assert clip.keypoints.shape == (10, 32, 3)
    levels = [strip_level(torch.from_numpy(f).permute(2, 0, 1).float() / 255) for f in frames]
    np.testing.assert_allclose(levels, [frame_level(i) for i in range(10)], atol=6)
    assert [entry.name for entry in list_clips(dataset_root, "test")] == ["clip_t"]


def test_decode_frames_returns_exactly_the_requested_frames(dataset_root: Path) -> None:
    entry = list_clips(dataset_root)[0]
    everything, _ = read_video(entry.video)
    chosen = decode_frames(entry, [7, 2, 0])
    assert sorted(chosen) == [0, 2, 7]
    for index, frame in chosen.items():
        assert np.array_equal(frame, everything[index])
    assert len(decode_frames(entry)) == len(everything) == 12
    with pytest.raises(InputError, match=r"clip clip_a: .* has only 12 decodable frames, frame 40 was requested"):
        decode_frames(entry, [3, 40])


def test_items_with_and_without_references_batch_together_with_their_grids(dataset_root: Path) -> None:
    """0–2 references per item, reference grids on, a network smaller than 128²: every item's grids have
    the same (padded) shape, the one the prior uses too, so any batch collates."""
    dataset = ClipDataset(dataset_root, image_size=64, num_references=(0, 2), reference_choice="random",
                          reference_grids=True, repeats=6)
    counts = set()
    for batch in DataLoader(dataset, batch_size=4, num_workers=0):
        assert batch["reference_grids"].shape[1:] == (2, 128, 128, 2)
        counts.update(batch["reference_mask"].sum(dim=1).tolist())
    assert 0 in counts and max(counts) > 0  # items without references did meet items with them

"""Training items for references that matter: hidden-content items with identity-aware references,
high-resolution targets, reference grids, and mixed dataset folders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from clip_fixtures import SIZE, clip_landmarks, clip_pose, render_frame

from synergywarp.data import ClipDataset
from synergywarp.data.prepare import ClipRecord, save_clip_arrays, update_manifest
from synergywarp.face.prior import prior_grid_size
from synergywarp.face.regions import SHOWS_MORE, eye_openness, mouth_openness, openness_gain
from synergywarp.io import VideoWriter

FRAMES = 40
COLOURS = {"talk_a": (0, 160, 255), "talk_b": (255, 60, 0), "other": (40, 220, 40), "solo": (200, 200, 0)}
LOWER_INNER_LIP = [14, 87, 317, 178, 402]


def _mouth(name: str) -> np.ndarray:
    t = np.arange(FRAMES)
    phase = {"talk_a": 0.0, "talk_b": 1.3, "other": 2.0, "solo": 0.5}[name]
    return 0.15 * np.clip(np.sin(t / 3.0 + phase), 0.0, None)  # lower lip drop, crop units


def _write(root: Path, name: str, identity: str) -> None:
    landmarks, rotations, translations = clip_landmarks(clip_pose(FRAMES, yaw_span=10.0))
    landmarks[:, LOWER_INNER_LIP, 1] += _mouth(name)[:, None]
    folder = root / "train"
    folder.mkdir(parents=True, exist_ok=True)
    with VideoWriter(folder / f"{name}.mp4", 25.0, crf=12) as writer:
        for index in range(FRAMES):
            writer.write(render_frame(index % 12, landmarks[index], COLOURS[name]))
    save_clip_arrays(folder / f"{name}.npz", {
        "landmarks": landmarks, "valid": np.ones(FRAMES, bool), "rotation": rotations,
        "pose": clip_pose(FRAMES, yaw_span=10.0), "scale": np.full(FRAMES, 0.9, np.float32),
        "translation": translations, "fps": np.float64(25.0), "identity": np.str_(identity),
    })
    update_manifest(root, [ClipRecord(name, "train", identity, FRAMES, 25.0, SIZE, "test")])


@pytest.fixture(scope="module")
def talking(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("talking")
    _write(root, "talk_a", "anna")
    _write(root, "talk_b", "anna")
    _write(root, "other", "otto")
    return root


def _colour_of(image: torch.Tensor) -> str:
    """Which clip an image comes from, by its disk colour (the brightest non-strip pixels)."""
    pixels = (image[:, 10:, :] * 255).reshape(3, -1)
    bright = pixels[:, pixels.sum(0) > 200].mean(1).numpy()
    return min(COLOURS, key=lambda name: np.abs(np.asarray(COLOURS[name]) - bright).sum())


def test_hidden_items_show_in_driving_and_references_what_the_source_hides(talking):
    dataset = ClipDataset(talking, image_size=SIZE, num_references=2, hidden_fraction=1.0, seed=3,
                          repeats=4, reference_grids=True)
    names = ("talk_a", "talk_b", "other")
    landmarks = {name: np.load(talking / "train" / f"{name}.npz")["landmarks"] for name in names}
    from_other_take = hidden_items = 0
    for index in range(len(dataset)):
        item = dataset[index]
        clip = item["clip"]
        if not item["hidden"]:  # otto has one take: too few far-apart frames for two references
            assert clip == "other"
            continue
        hidden_items += 1
        lm = landmarks[clip]
        source = int(item["source_index"])
        mouth, eyes = mouth_openness(lm), eye_openness(lm)
        gain = openness_gain(mouth, eyes, mouth[source], eyes[source])
        assert gain[int(item["driving_index"])] >= SHOWS_MORE
        assert mouth[source] <= np.quantile(mouth, 0.5)  # among the most closed frames
        for k, frame in enumerate(item["reference_indices"].tolist()):
            origin = _colour_of(item["references"][k])
            assert origin in ("talk_a", "talk_b") if clip != "other" else origin == "other"  # same identity only
            other_mouth = mouth_openness(landmarks[origin][frame])
            assert (other_mouth - mouth[source]) / 0.05 >= SHOWS_MORE - 1e-6
            from_other_take += origin != clip
        grids = item["reference_grids"]
        grid_size = prior_grid_size(SIZE)  # never coarser than 128²
        assert grids.shape == (2, grid_size, grid_size, 2) and torch.isfinite(grids).all()
    assert hidden_items >= 8 and from_other_take > 0  # identity-aware: the other take of the same person is used


def test_high_resolution_targets_and_reference_grid_identity(talking):
    dataset = ClipDataset(talking, image_size=32, num_references=1, output_size=SIZE, reference_grids=True, seed=0)
    item = dataset[0]
    assert item["source"].shape == (3, 32, 32) and item["source_hr"].shape == (3, SIZE, SIZE)
    assert item["driving_hr"].shape == (3, SIZE, SIZE) and item["references_hr"].shape == (1, 3, SIZE, SIZE)
    small = torch.nn.functional.interpolate(item["driving_hr"][None], size=(32, 32), mode="bilinear",
                                            antialias=True, align_corners=False)[0]
    assert (small - item["driving"]).abs().mean() < 0.02
    # a reference whose landmarks equal the driving's gets the identity grid
    from synergywarp.face.prior import PriorWarp

    lm = np.load(talking / "train" / "talk_a.npz")["landmarks"][5]
    grid = PriorWarp("mesh", lm).grid(lm, 32)
    centres = (np.arange(32) + 0.5) * 2 / 32 - 1
    assert np.abs(grid[..., 0] - centres[None]).max() < 1e-4


def test_mixed_folders_train_together(talking, tmp_path):
    from synergywarp.train.config import config_from_dict
    from synergywarp.train.data import build_clip_dataset

    other = tmp_path / "other"
    _write(other, "solo", "sami")
    cfg = config_from_dict({"model": "tiny_tracked_head",
                            "dataset": {"repeats": 2, "mix": [{"root": str(other), "repeats": 3}],
                                        "output_size": 128, "hidden_fraction": 0.5}})
    dataset = build_clip_dataset(cfg, talking, "train", train=True)
    assert len(dataset) == 3 * 2 + 1 * 3
    dataset.set_epoch(1)
    assert all(part.epoch == 1 for part in dataset.datasets)
    assert dataset[len(dataset) - 1]["clip"] == "solo" and dataset[0]["source_hr"].shape[-1] == 128


def _to_uint8(image: torch.Tensor) -> np.ndarray:
    return (image.permute(1, 2, 0).numpy() * 255.0).round().astype(np.uint8)


def _segmentable(image: torch.Tensor, flipped: bool = False) -> np.ndarray:
    """A 3×S×S crop of the dataset at the person segmenter's input size, as the dataset segments it (resized
    before the augmentation's flip)."""
    import torch.nn.functional as F

    from synergywarp.face.segment import SEGMENT_SIZE

    image = image.flip(-1) if flipped else image
    large = F.interpolate(image[None], size=(SEGMENT_SIZE, SEGMENT_SIZE), mode="bilinear", align_corners=False,
                          antialias=True).clamp(0.0, 1.0)[0]
    return _to_uint8(large.flip(-1) if flipped else large)


def test_reference_grids_follow_the_configured_reference_warp(talking):
    """``reference_warp="head"``: each reference grid is the whole-head warp of that (flipped) reference, with
    the person mask of its flipped high-resolution crop, to the flipped driving landmarks; not the ring
    mesh; padded slots stay zero; bad kinds are refused."""
    from synergywarp.data.augment import AugmentConfig, augment_landmarks, sample_augment
    from synergywarp.errors import ConfigError
    from synergywarp.face.prior import PriorWarp

    flip = AugmentConfig(flip_probability=1.0, brightness=0.0, contrast=0.0, saturation=0.0, hue=0.0)
    common = dict(image_size=32, num_references=(1, 2), output_size=SIZE, reference_grids=True, seed=3,
                  augment=flip, repeats=3)
    mesh_set, head_set = (ClipDataset(talking, reference_warp=kind, **common) for kind in ("mesh", "head"))
    checked = padded = 0
    for index in range(len(head_set)):
        mesh, head = mesh_set[index], head_set[index]
        assert torch.equal(mesh["references_hr"], head["references_hr"])  # the same item either way
        count = int(head["reference_mask"].sum())
        raw = np.load(talking / "train" / f"{head['clip']}.npz")["landmarks"]  # references from the item's clip
        frames = [int(head["driving_index"]), *(int(f) for f in head["reference_indices"][:count])]
        params = sample_augment(flip, head_set.rng(index)[1])
        assert params.flip
        driving, *references = augment_landmarks(raw[frames], params)
        side = head["reference_grids"].shape[1]
        for k, landmarks in enumerate(references):
            mask_image = _segmentable(head["references_hr"][k], flipped=True)
            expected = PriorWarp("head", landmarks, mask_image).grid(driving, side)
            assert np.abs(head["reference_grids"][k].numpy() - expected).max() < 1e-5
            from_mesh = PriorWarp("mesh", landmarks).grid(driving, side)
            assert np.abs(from_mesh - mesh["reference_grids"][k].numpy()).max() < 1e-5
            checked += 1
        assert (mesh["reference_grids"][:count] - head["reference_grids"][:count]).abs().max() > 1e-3
        if count < 2:
            assert not head["reference_grids"][count:].any()
            padded += 1
    assert checked >= 6 and padded >= 1
    with pytest.raises(ConfigError, match="reference_warp must be one of mesh, head"):
        ClipDataset(talking, reference_warp="rings", image_size=32)


def test_the_head_prior_segments_the_high_resolution_source(talking):
    """With ``output_size`` the source's person mask for the head prior comes from its high-resolution
    crop (as the Animator and the evaluation segment ≥ 256² crops), not the network-size one."""
    from synergywarp.face.prior import PriorWarp, prior_grid_size

    dataset = ClipDataset(talking, image_size=32, num_references=1, output_size=SIZE, prior_grid=True,
                          prior_kind="head", seed=5)
    item = dataset[0]
    raw = np.load(talking / "train" / f"{item['clip']}.npz")["landmarks"]
    source, driving = raw[int(item["source_index"])], raw[int(item["driving_index"])]
    side = prior_grid_size(32)
    expected = PriorWarp("head", source, _segmentable(item["source_hr"])).grid(driving, side)
    assert np.abs(item["prior_grid"].numpy() - expected).max() < 1e-5
    # without high-resolution crops (or with ones smaller than the segmenter's input) the mask still comes
    # from a crop of SEGMENT_SIZE², never from the network's 32² one
    low = ClipDataset(talking, image_size=32, num_references=1, prior_grid=True, prior_kind="head", seed=5)[0]
    assert low["clip"] == item["clip"] and int(low["source_index"]) == int(item["source_index"])
    assert np.abs(low["prior_grid"].numpy() - expected).max() < 1e-5
    from_network_crop = PriorWarp("head", source, _to_uint8(low["source"])).grid(driving, side)
    assert np.abs(from_network_crop - expected).max() > 1e-3

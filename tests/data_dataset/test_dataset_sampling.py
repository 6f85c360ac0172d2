"""Reference choice (pose-diverse, even, random) and the evaluation plan."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from clip_fixtures import SIZE

from synergywarp.data import ClipDataset, load_clip_arrays, pose_diverse_references, self_reenactment_plan
from synergywarp.data.sampling import even_references, select_frames
from synergywarp.errors import ConfigError


def _pose(yaws: list[float], pitches: list[float] | None = None) -> np.ndarray:
    pose = np.zeros((len(yaws), 3), np.float32)
    pose[:, 1] = yaws
    if pitches is not None:
        pose[:, 0] = pitches
    return pose


def test_pose_diverse_picks_the_most_different_yaws() -> None:
    pose = _pose([0, 5, -3, 30, 2, -28, 1, 4])
    candidates = np.array([2, 3, 4, 5, 6, 7])
    assert pose_diverse_references(pose, 0, candidates, 2).tolist() == [3, 5]
    # the second pick is far from the source AND from the first pick
    pose = _pose([0, 0, 40, 35, -20, 10])
    assert pose_diverse_references(pose, 0, np.arange(1, 6), 2).tolist() == [2, 4]
    # pitch counts too
    pose = _pose([0, 10, 0, 0], pitches=[0, 0, -25, 5])
    assert pose_diverse_references(pose, 0, np.arange(1, 4), 1).tolist() == [2]


def test_dataset_pose_diverse_choice_is_greedy_farthest(dataset_root: Path) -> None:
    dataset = ClipDataset(dataset_root, image_size=SIZE, num_references=2, repeats=4)
    arrays = {entry.name: load_clip_arrays(entry) for entry in dataset.clips}
    for index in range(len(dataset)):
        item = dataset[index]
        data = arrays[item["clip"]]
        yaw_pitch = data["pose"][:, [1, 0]]
        source, driving = int(item["source_index"]), int(item["driving_index"])
        first, second = item["reference_indices"].tolist()
        candidates = [f for f in np.flatnonzero(data["valid"]) if f not in (source, driving)]
        distance = {f: np.linalg.norm(yaw_pitch[f] - yaw_pitch[source]) for f in candidates}
        assert distance[first] == pytest.approx(max(distance.values()))
        spread = {f: min(distance[f], np.linalg.norm(yaw_pitch[f] - yaw_pitch[first]))
                  for f in candidates if f != first}
        assert spread[second] == pytest.approx(max(spread.values()))


def test_random_and_even_choices() -> None:
    rng = np.random.default_rng(0)
    eligible = np.arange(20)
    seen = set()
    for _ in range(20):
        selection = select_frames(rng, eligible, 3, "random", None)
        frames = [selection.source, selection.driving, *selection.references.tolist()]
        assert len(set(frames)) == 5
        seen.update(selection.references.tolist())
    assert len(seen) > 10
    assert even_references(np.arange(10), 2).tolist() == [2, 7]
    # pose_diverse without pose falls back to a random draw
    assert len(select_frames(rng, eligible, 2, "pose_diverse", None).references) == 2


def test_self_reenactment_plan_even() -> None:
    plan = self_reenactment_plan(100, 4)
    assert plan.source == 0 and plan.references == (20, 40, 60, 80) and plan.driving == tuple(range(100))
    assert self_reenactment_plan(12, 2).references == (4, 8)
    assert self_reenactment_plan(12, 0).references == ()
    assert self_reenactment_plan(3, 2).references == (1, 2)
    valid = np.ones(12, bool)
    valid[[4, 8]] = False
    references = self_reenactment_plan(12, 2, valid=valid).references
    assert len(references) == 2 and all(valid[f] and f != 0 for f in references)
    assert self_reenactment_plan(12, 2) == self_reenactment_plan(12, 2)
    with pytest.raises(ValueError, match="possible reference frames"):
        self_reenactment_plan(3, 3)


def test_self_reenactment_plan_pose_diverse() -> None:
    pose = _pose([0, 5, 25, -30, 2, 1])
    assert self_reenactment_plan(6, 2, "pose_diverse", pose=pose).references == (3, 2)
    with pytest.raises(ConfigError, match="pose"):
        self_reenactment_plan(6, 2, "pose_diverse")
    with pytest.raises(ConfigError, match="rule"):
        self_reenactment_plan(6, 2, "middle")

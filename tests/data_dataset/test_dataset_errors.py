"""One-line errors for bad dataset folders, files and settings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from clip_fixtures import write_clip

from synergywarp.data import ClipDataset, load_clip
from synergywarp.errors import ConfigError, InputError


def test_missing_root(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"dataset folder not found: .*nowhere"):
        ClipDataset(tmp_path / "nowhere")


def test_empty_split(tmp_path: Path) -> None:
    expected = r"no clips in .*train; run `synergywarp prepare` or `synergywarp synth` first"
    with pytest.raises(InputError, match=expected):
        ClipDataset(tmp_path)
    write_clip(tmp_path, "only_test", split="test", num_frames=4)
    with pytest.raises(InputError, match=r"no clips in .*train"):
        ClipDataset(tmp_path, split="train")
    assert len(ClipDataset(tmp_path, split="test", num_references=1)) == 1
    with pytest.raises(ConfigError, match="split"):
        ClipDataset(tmp_path, split="validation")


def test_corrupt_clip_is_named(dataset_copy: Path) -> None:
    (dataset_copy / "train" / "clip_b.mp4").write_bytes(b"\x00not a video at all" * 50)
    dataset = ClipDataset(dataset_copy)
    dataset[0]  # clip_a is fine
    with pytest.raises(InputError, match=r"clip clip_b: .*clip_b\.mp4") as caught:
        dataset[1]
    assert "\n" not in str(caught.value)


def test_corrupt_arrays_are_named(dataset_copy: Path) -> None:
    (dataset_copy / "train" / "clip_c.npz").write_bytes(b"garbage")
    with pytest.raises(InputError, match=r"corrupt clip arrays .*clip_c\.npz"):
        ClipDataset(dataset_copy)[2]
    with pytest.raises(InputError, match=r"clip_c\.npz"):
        ClipDataset(dataset_copy).validate()


def test_short_clip_says_how_many_frames_are_needed(tmp_path: Path) -> None:
    write_clip(tmp_path, "tiny", num_frames=3)
    with pytest.raises(InputError, match=r"clip tiny .* has 3 frames; it needs at least 4 \(source, driving and 2"):
        ClipDataset(tmp_path, num_references=2)
    with pytest.raises(InputError, match=r"needs at least 4"):
        ClipDataset(tmp_path, num_references=(0, 2))
    assert len(ClipDataset(tmp_path, num_references=1)) == 1


@pytest.mark.parametrize("bad", ["abc", "nan", -1, 2.5, True, [4], {"n": 4}])
def test_manifest_frame_count_that_is_not_a_count_is_named(tmp_path: Path, bad) -> None:
    import json

    write_clip(tmp_path, "odd", num_frames=6)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    manifest["clips"][0]["num_frames"] = bad
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(InputError, match=r"clip odd in .*manifest\.json has num_frames .*, not a number of frames"):
        ClipDataset(tmp_path, num_references=1)


@pytest.mark.parametrize("count", [6, "6", 6.0])
def test_manifest_frame_count_as_written_by_hand_still_reads(tmp_path: Path, count) -> None:
    import json

    write_clip(tmp_path, "odd", num_frames=6)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    manifest["clips"][0]["num_frames"] = count
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    assert ClipDataset(tmp_path, num_references=1).clips[0].num_frames == 6


def test_short_clip_without_manifest(tmp_path: Path) -> None:
    write_clip(tmp_path, "tiny", num_frames=3)
    (tmp_path / "manifest.json").unlink()
    dataset = ClipDataset(tmp_path, num_references=2)  # found by scanning; length known once read
    assert [clip.name for clip in dataset.clips] == ["tiny"]
    with pytest.raises(InputError, match=r"clip tiny .* has 3 frames; it needs at least 4"):
        dataset[0]


def test_too_few_frames_with_landmarks(tmp_path: Path) -> None:
    valid = np.array([True, False, True, False, False, True])
    write_clip(tmp_path, "faceless", num_frames=6, valid=valid)
    dataset = ClipDataset(tmp_path, num_references=2)
    with pytest.raises(InputError, match=r"clip faceless .* has 3 frames with landmarks; it needs at least 4"):
        dataset[0]
    item = ClipDataset(tmp_path, num_references=1)[0]
    frames = [int(item["source_index"]), int(item["driving_index"]), *item["reference_indices"].tolist()]
    assert sorted(frames) == [0, 2, 5]


def test_missing_npz(dataset_copy: Path) -> None:
    (dataset_copy / "train" / "clip_a.npz").unlink()
    with pytest.raises(InputError, match=r"missing landmarks file .*clip_a\.npz for clip clip_a"):
        ClipDataset(dataset_copy)
    item = ClipDataset(dataset_copy, keypoints=False)[0]
    assert "source_keypoints" not in item
    with pytest.raises(InputError, match=r"clip_a\.npz"):
        load_clip(dataset_copy, "clip_a")
    frames, arrays = load_clip(dataset_copy, "clip_a", require_arrays=False)
    assert len(frames) == 12 and arrays == {}


def test_manifest_lists_a_missing_video(dataset_copy: Path) -> None:
    (dataset_copy / "train" / "clip_c.mp4").unlink()
    with pytest.raises(InputError, match=r"clip_c\.mp4 listed in .*manifest\.json is missing"):
        ClipDataset(dataset_copy)


def test_unknown_clip_name(dataset_root: Path) -> None:
    with pytest.raises(InputError, match=r"no clip named 'nope'"):
        load_clip(dataset_root, "nope")


@pytest.mark.parametrize("kwargs, match", [
    (dict(reference_choice="farthest"), "reference_choice"),
    (dict(num_references=(3, 1)), "num_references"),
    (dict(num_references=-1), "num_references"),
    (dict(num_references="2"), "num_references"),
    (dict(image_size=4), "image_size"),
    (dict(repeats=0), "repeats"),
])
def test_bad_settings(dataset_root: Path, kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        ClipDataset(dataset_root, **kwargs)

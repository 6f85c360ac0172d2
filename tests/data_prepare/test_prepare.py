"""prepare_dataset on small videos made from a still portrait (astronaut) and on bad inputs."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from synergywarp.data.prepare import PrepareOptions, assign_splits, discover_clips, prepare_dataset, read_identity_map
from synergywarp.errors import ConfigError, InputError
from synergywarp.face import detect_landmarks
from synergywarp.io import VideoWriter, read_video

FRAMES = 12


def _portrait_video(path: Path, shift: int = 3, frames: int = FRAMES, flip: bool = False) -> Path:
    from skimage import data

    portrait = cv2.resize(data.astronaut(), (256, 256), interpolation=cv2.INTER_AREA)
    if flip:
        portrait = np.ascontiguousarray(portrait[:, ::-1])
    with VideoWriter(path, 25.0) as writer:
        for t in range(frames):
            writer.write(np.roll(portrait, (t, shift * t), axis=(0, 1)))
    return path


def _blank_video(path: Path) -> Path:
    with VideoWriter(path, 25.0) as writer:
        for t in range(FRAMES):
            writer.write(np.full((96, 128, 3), 90 + t, np.uint8))
    return path


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("videos")
    _portrait_video(folder / "walk_a.mp4")
    _portrait_video(folder / "walk_b.mp4", shift=-2, flip=True)
    return folder


def test_layout_arrays_and_manifest(sources: Path, tmp_path: Path) -> None:
    out = tmp_path / "ds"
    report = prepare_dataset([sources / "walk_a.mp4"], out, size=128, test_fraction=0.0, min_frames=8)
    assert [r.name for r in report.prepared] == ["walk_a"] and not report.skipped
    video, fps = read_video(out / "train" / "walk_a.mp4")
    assert video.shape == (FRAMES, 128, 128, 3) and abs(fps - 25.0) < 1e-6
    data = np.load(out / "train" / "walk_a.npz")
    assert data["landmarks"].shape == (FRAMES, 468, 3) and data["landmarks"].dtype == np.float32
    assert data["valid"].all() and data["rotation"].shape == (FRAMES, 3, 3)
    assert data["pose"].shape == (FRAMES, 3) and data["scale"].shape == (FRAMES,)
    assert data["translation"].shape == (FRAMES, 3) and str(data["identity"]) == "walk_a"
    assert float(data["fps"]) == pytest.approx(25.0)
    assert np.abs(data["pose"]).max() < 15  # a frontal portrait
    # the stored crop-normalised landmarks match the face in the written crop video
    for t in (0, FRAMES - 1):
        found = detect_landmarks(video[t]).points
        stored_px = (data["landmarks"][t, :, :2] + 1) * 64
        assert np.median(np.linalg.norm(found[:, :2] - stored_px, axis=1)) < 2.5
    # the crop is fixed while the face moves right by 3 px per frame
    nose_x = data["landmarks"][:, 1, 0]
    assert np.all(np.diff(nose_x) > 0)
    manifest = json.loads((out / "manifest.json").read_text())
    (entry,) = manifest["clips"]
    assert entry["name"] == "walk_a" and entry["split"] == "train" and entry["num_frames"] == FRAMES
    assert entry["video"] == "train/walk_a.mp4" and entry["source"] == str(sources / "walk_a.mp4")


@pytest.mark.slow
def test_rerun_skips_finished_clips_and_redoes_partial_ones(sources: Path, tmp_path: Path) -> None:
    out = tmp_path / "ds"
    first = prepare_dataset([sources], out, size=96, test_fraction=0.0, min_frames=8)
    assert sorted(r.name for r in first.prepared) == ["walk_a", "walk_b"]
    finished = out / "train" / "walk_a.mp4"
    stamp = (finished.stat().st_mtime_ns, finished.stat().st_ino)
    # simulate an interruption while walk_b was written: its mp4 gone, a stale temporary left
    (out / "train" / "walk_b.mp4").unlink()
    (out / "train" / ".walk_b.mp4.dead.part").write_bytes(b"partial")
    second = prepare_dataset([sources], out, size=96, test_fraction=0.0, min_frames=8)
    assert [r.name for r in second.reused] == ["walk_a"]
    assert [r.name for r in second.prepared] == ["walk_b"]
    assert (finished.stat().st_mtime_ns, finished.stat().st_ino) == stamp
    assert (out / "train" / "walk_b.mp4").is_file()
    assert not list((out / "train").glob(".*.part"))
    names = [c["name"] for c in json.loads((out / "manifest.json").read_text())["clips"]]
    assert names == ["walk_a", "walk_b"]


@pytest.mark.slow
def test_bad_inputs_are_reported_with_reasons(sources: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "corrupt.mp4").write_bytes(np.random.default_rng(0).bytes(5000))
    _blank_video(bad / "blank.mp4")
    _portrait_video(bad / "short.mp4", frames=4)
    report = prepare_dataset([bad, sources / "walk_a.mp4"], tmp_path / "ds", size=64, min_frames=8,
                             test_fraction=0.0)
    reasons = {Path(source).name: reason for source, reason in report.skipped}
    assert set(reasons) == {"corrupt.mp4", "blank.mp4", "short.mp4"}
    assert "video" in reasons["corrupt.mp4"] and "corrupt.mp4" in reasons["corrupt.mp4"]
    assert "no face" in reasons["blank.mp4"]
    assert "too short" in reasons["short.mp4"]
    assert [r.name for r in report.prepared] == ["walk_a"]
    assert not (tmp_path / "ds" / "train" / "blank.mp4").exists()


def test_identity_map_splits_by_identity(sources: Path, tmp_path: Path) -> None:
    csv_path = tmp_path / "ids.csv"
    csv_path.write_text("clip,identity\nwalk_a,eileen\nwalk_b.mp4,grace\n")
    assert read_identity_map(csv_path) == {"walk_a": "eileen", "walk_b.mp4": "grace"}
    out = tmp_path / "ds"
    report = prepare_dataset([sources], out, size=64, identity_map=csv_path, test_fraction=0.5, min_frames=8)
    splits = {r.name: (r.split, r.identity) for r in report.prepared}
    assert {s for s, _ in splits.values()} == {"train", "test"}
    assert splits["walk_a"][1] == "eileen" and splits["walk_b"][1] == "grace"
    for name, (split, _) in splits.items():
        assert (out / split / f"{name}.npz").is_file()


def test_splits_and_discovery_rules(tmp_path: Path) -> None:
    groups = [f"id{i:03d}" for i in range(40)]
    test = assign_splits(groups, 0.25)
    assert len(test) == 10 and test == assign_splits(list(reversed(groups)), 0.25)
    assert len(assign_splits(["a", "b"], 0.1)) == 1 and not assign_splits(["a"], 0.1)
    nested = tmp_path / "vox" / "id1" / "yt1"
    nested.mkdir(parents=True)
    (nested / "00001.mp4").write_bytes(b"x")
    frames = tmp_path / "vox" / "id2" / "clipframes"
    frames.mkdir(parents=True)
    cv2.imwrite(str(frames / "0001.png"), np.zeros((8, 8, 3), np.uint8))
    names = [name for name, _ in discover_clips([tmp_path / "vox"])]
    assert names == ["id1_yt1_00001", "id2_clipframes"]


def test_user_errors_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="input not found: .*missing.mp4"):
        prepare_dataset([tmp_path / "missing.mp4"], tmp_path / "out")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no videos or frame folders found"):
        prepare_dataset([tmp_path / "empty"], tmp_path / "out")
    bad_map = tmp_path / "ids.csv"
    bad_map.write_text("only_one_column\n")
    with pytest.raises(InputError, match="ids.csv line 1"):
        read_identity_map(bad_map)
    with pytest.raises(ConfigError, match="crop_mode"):
        prepare_dataset([tmp_path], tmp_path / "out", options=PrepareOptions(crop_mode="wobbly"))


@pytest.mark.slow
def test_segments_explicit_test_identities_and_reference_pool(tmp_path: Path) -> None:
    from skimage import data

    videos = tmp_path / "videos"
    videos.mkdir()
    _portrait_video(videos / "long_a.mp4", frames=30)  # 1.2 s at 25 fps → 3 segments of 0.4 s
    _portrait_video(videos / "other_b.mp4", shift=-2, flip=True)
    identities = tmp_path / "ids.csv"
    identities.write_text("clip,identity\nlong_a,anna\nother_b,bert\n")
    stills = tmp_path / "stills" / "anna"
    stills.mkdir(parents=True)
    cv2.imwrite(str(stills / "photo1.jpg"), cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))
    (tmp_path / "stills" / "anna" / "notes.txt").write_text("not an image")
    out = tmp_path / "ds"
    options = PrepareOptions(size=96, min_frames=8, segment_seconds=0.4)
    report = prepare_dataset([videos], out, identity_map=identities, options=options, test_identities=["bert"],
                             stills=tmp_path / "stills")
    names = sorted(r.name for r in report.prepared)
    assert names == ["long_a_s00", "long_a_s01", "long_a_s02", "other_b"]
    manifest = json.loads((out / "manifest.json").read_text())
    splits = {c["name"]: c["split"] for c in manifest["clips"]}
    assert splits == {"long_a_s00": "train", "long_a_s01": "train", "long_a_s02": "train", "other_b": "test"}
    assert {c["name"]: c.get("segment_of") for c in manifest["clips"]}["long_a_s01"] == "long_a"
    frames = [np.load(out / "train" / f"long_a_s0{k}.npz")["source_frames"] for k in range(3)]
    assert np.array_equal(np.concatenate(frames), np.arange(30))  # the segments tile the video
    assert read_video(out / "train" / "long_a_s01.mp4")[0].shape[0] == len(frames[1])
    (photo,) = manifest["references"]
    assert photo["identity"] == "anna" and photo["split"] == "train" and photo["image"] == "refs/anna/photo1.png"
    from synergywarp.data.clips import list_reference_photos, load_clip

    (entry,) = list_reference_photos(out, "anna")
    still = load_clip(out, entry.name)
    assert still.frames.shape == (1, 96, 96, 3) and still.arrays["landmarks"].shape == (1, 468, 3)
    # the stored landmarks sit on the face of the written crop
    found = detect_landmarks(still.frames[0]).points
    assert np.median(np.linalg.norm(found[:, :2] - (still.arrays["landmarks"][0, :, :2] + 1) * 48, axis=1)) < 3
    # a rerun reuses every segment and the photo
    again = prepare_dataset([videos], out, identity_map=identities, options=options, test_identities=["bert"],
                            stills=tmp_path / "stills")
    assert not again.prepared and sorted(r.name for r in again.reused) == names and len(again.references) == 1
    with pytest.raises(InputError, match="carla"):
        prepare_dataset([videos], tmp_path / "ds2", identity_map=identities, options=options,
                        test_identities=["carla"])

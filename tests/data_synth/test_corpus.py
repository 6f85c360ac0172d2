"""build_corpus: dataset layout, identity split, byte-identical rebuilds, resuming, bad inputs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from synergywarp.data.synth import build_corpus
from synergywarp.data.synth.portraits import bundled_portrait_paths
from synergywarp.errors import InputError
from synergywarp.io import read_video


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus")
    manifest = build_corpus(bundled_portrait_paths(), out, clips_per_image=2, frames=4, seed=7,
                            size=64, test_identities=1)
    return out, manifest


def test_layout_and_manifest(corpus):
    out, manifest = corpus
    clips = manifest["clips"]
    assert len(clips) == 4
    assert {c["identity"] for c in clips} == {"astronaut", "grace_hopper"}
    splits = {c["identity"]: c["split"] for c in clips}
    assert sorted(splits.values()) == ["test", "train"]  # split by identity
    on_disk = json.loads((out / "manifest.json").read_text())
    assert {c["name"] for c in on_disk["clips"]} == {c["name"] for c in clips}
    for clip in clips:
        assert clip["source"] == "synth" and clip["num_frames"] == 4
        video, _ = read_video(out / clip["video"])
        assert video.shape == (4, 64, 64, 3)
        with np.load(out / clip["arrays"]) as arrays:
            assert arrays["landmarks"].shape == (4, 468, 3)
            assert str(arrays["identity"]) == clip["identity"]
            assert arrays["expression"].shape[1] == len(arrays["expression_names"])


def test_same_seed_gives_the_same_bytes(corpus, tmp_path):
    out, manifest = corpus
    build_corpus(bundled_portrait_paths()[:1], tmp_path, clips_per_image=2, frames=4, seed=7, size=64)
    for name in ("astronaut_000", "astronaut_001"):
        entry = next(c for c in manifest["clips"] if c["name"] == name)
        again = tmp_path / "train" / f"{name}.npz"
        assert (out / entry["arrays"]).read_bytes() == again.read_bytes()
        first, _ = read_video(out / entry["video"])
        second, _ = read_video(tmp_path / "train" / f"{name}.mp4")
        assert np.array_equal(first, second)
        assert (out / entry["video"]).read_bytes() == (tmp_path / "train" / f"{name}.mp4").read_bytes()
    a0 = np.load(tmp_path / "train" / "astronaut_000.npz")["pose"]
    a1 = np.load(tmp_path / "train" / "astronaut_001.npz")["pose"]
    assert not np.allclose(a0, a1)  # clips of one identity differ


def test_rerun_skips_finished_clips(corpus):
    out, manifest = corpus
    entry = manifest["clips"][0]
    before = (out / entry["arrays"]).stat().st_mtime_ns
    calls = []
    build_corpus(bundled_portrait_paths(), out, clips_per_image=2, frames=4, seed=7, size=64,
                 test_identities=1, progress=lambda done, total, name: calls.append((done, total)))
    assert (out / entry["arrays"]).stat().st_mtime_ns == before
    assert calls[-1] == (4, 4)


def test_no_usable_portrait_is_an_input_error(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"garbage")
    with pytest.warns(UserWarning, match="bad.png"):
        with pytest.raises(InputError, match="no usable face"):
            build_corpus([bad], tmp_path / "out", clips_per_image=1, frames=2, size=32)


def test_collect_images_expands_folders_and_rejects_missing(tmp_path):
    from synergywarp.data.synth.corpus import collect_images

    folder = bundled_portrait_paths()[0].parent
    assert [p.name for p in collect_images([folder])] == ["astronaut.jpg", "grace_hopper.jpg"]
    with pytest.raises(InputError, match="not found"):
        collect_images([tmp_path / "missing.jpg"])
    with pytest.raises(InputError, match="no image files"):
        collect_images([tmp_path])

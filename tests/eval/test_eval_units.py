"""Protocol parsing, the geometric warp, the low-rank Fréchet distance and partial cache reuse."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

from synergywarp.data import load_clip
from synergywarp.errors import ConfigError, InputError
from synergywarp.metrics import fid_from_features
from synergywarp.metrics.eval import (
    EvalOptions,
    driving_subset,
    parse_refs,
    read_pairs,
    run_eval,
    self_plan,
)
from synergywarp.metrics.eval.score import frechet_distance_from_features


def test_parse_refs_sorts_and_rejects_garbage():
    assert parse_refs("4, 0,2,2") == (0, 2, 4)
    for bad in ("", "1,,2", "x", "1.5", "-1"):
        with pytest.raises(ConfigError):
            parse_refs(bad)


def test_driving_subset_even_stride_keeps_ends():
    assert driving_subset(8, None) == tuple(range(8))
    assert driving_subset(8, 3) == (0, 4, 7)
    assert driving_subset(100, 5) == (0, 25, 50, 74, 99)
    assert driving_subset(3, 10) == (0, 1, 2)


def test_read_pairs(tmp_path):
    good = tmp_path / "pairs.csv"
    good.write_text("source_clip,source_frame,driving_clip\na,3,b\n\n# comment\nc,0,d\n")
    assert read_pairs(good) == [("a", 3, "b"), ("c", 0, "d")]
    bad = tmp_path / "bad.csv"
    bad.write_text("a,x,b\n")
    with pytest.raises(InputError, match="line 1"):
        read_pairs(bad)
    with pytest.raises(InputError, match="not found"):
        read_pairs(tmp_path / "missing.csv")


from synergywarp.face.mesh_warp import geometric_warp  # noqa: E402


def test_self_plan_references_follow_the_even_rule(eval_dataset):
    tasks = self_plan(eval_dataset, "test", (0, 1, 2, 4))
    assert [t.source_clip for t in tasks] == ["astro_nod", "astro_turn"]
    task = tasks[0]
    assert task.source_frame == 0 and task.driving_frames == tuple(range(8))
    # T = 8: R = 2 → frames nearest round(8/3)=3 and round(16/3)=5; R = 4 → 2, 3, 5, 6
    frames = {r: tuple(f for _, f in task.references_for(r)) for r in (0, 1, 2, 4)}
    assert frames[0] == () and frames[2] == (3, 5) and frames[4] == (2, 3, 5, 6)
    assert all(0 not in frames[r] for r in (1, 2, 4))
    assert {clip for r in (1, 2, 4) for clip, _ in task.references_for(r)} == {"astro_nod"}


def test_geometric_warp_is_identity_without_motion_and_follows_landmarks(eval_dataset):
    clip = load_clip(eval_dataset, "astro_turn")
    landmarks = clip.arrays["landmarks"]
    same = geometric_warp(clip.frames[0], landmarks[0], landmarks[0])
    assert np.abs(same.astype(int) - clip.frames[0].astype(int)).max() <= 1
    warped = geometric_warp(clip.frames[0], landmarks[0], landmarks[7])
    error_static = np.abs(clip.frames[0].astype(float) - clip.frames[7]).mean()
    error_warped = np.abs(warped.astype(float) - clip.frames[7]).mean()
    assert error_warped < 0.6 * error_static
    corner = (slice(0, 6), slice(0, 6))  # the background far from the face is (nearly) held still
    assert np.abs(warped[corner].astype(int) - clip.frames[0][corner].astype(int)).mean() < 1.0


@pytest.mark.parametrize("shape", [(5, 7, 20), (30, 40, 20), (9, 9, 64)])
def test_low_rank_frechet_distance_matches_the_covariance_formula(shape):
    rng = np.random.default_rng(1)
    n_real, n_generated, dim = shape
    real = rng.normal(size=(n_real, dim))
    generated = rng.normal(size=(n_generated, dim)) * 1.3 + 0.2
    expected = fid_from_features(real, generated, method="eigh").value
    assert frechet_distance_from_features(real, generated) == pytest.approx(expected, rel=1e-6, abs=1e-6)


@pytest.mark.slow
def test_cache_computes_only_new_frames(eval_dataset, tmp_path):
    data = shutil.copytree(eval_dataset, tmp_path / "data")
    options = dict(data=data, out=tmp_path / "out", methods=("static",), face_metrics=False, refs=(0,))
    first = run_eval(EvalOptions(max_frames=2, **options))
    assert first.stats.computed == 2 * 2 * 2  # (static + real) × 2 clips × frames {0, 7}
    second = run_eval(EvalOptions(max_frames=3, **options))
    assert second.stats.computed == 2 * 2 * 1  # only frame 4 is new
    assert second.stats.cached == 2 * 2 * 2 + 2  # + the source frames (frame 0, stored with the real frames)
    rows = {(r["driving_clip"], r["frame"]): r["L1"] for r in second.score("static").rows}
    again = {(r["driving_clip"], r["frame"]): r["L1"] for r in first.score("static").rows}
    assert all(rows[key] == value for key, value in again.items())
    npz = data / "test" / "astro_nod.npz"  # a re-written clip invalidates its cached features
    stat = npz.stat()
    os.utime(npz, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    third = run_eval(EvalOptions(max_frames=3, **options))
    assert third.stats.computed == 2 * 3  # astro_nod's static outputs and real frames, nothing of astro_turn



class _AnimateSpy:
    """Wraps ``model.animate`` and records the driving keypoints and source keypoints it receives."""

    def __init__(self, model):
        self.original, self.calls = model.animate, []
        model.animate = self

    def __call__(self, state, driving_keypoints, tokens=None, **kwargs):
        self.calls.append((state.keypoints.detach().clone(), driving_keypoints.detach().clone(), tokens, kwargs))
        return self.original(state, driving_keypoints, tokens, **kwargs)


def test_tracked_model_is_driven_by_the_frames_own_keypoints(eval_dataset, checkpoints):
    from synergywarp.face.keypoints import tracked_keypoints
    from synergywarp.metrics.eval import LoadedModel, ModelMethod, TaskInputs

    task = self_plan(eval_dataset, "test", (2,))[1]
    clip = load_clip(eval_dataset, task.source_clip)
    loaded = LoadedModel(checkpoints["tiny_tracked"])
    spy = _AnimateSpy(loaded.model)
    outputs = ModelMethod(loaded, 2).generate(TaskInputs(task, clip, clip), (3, 6))
    assert outputs.shape == (2, 64, 64, 3) and outputs.dtype == np.uint8
    source_kp, driving_kp, tokens, kwargs = spy.calls[0]
    expected = tracked_keypoints(clip.arrays["landmarks"][[3, 6]].astype(np.float32))
    np.testing.assert_allclose(driving_kp.numpy(), expected, atol=1e-6)
    np.testing.assert_allclose(source_kp[0].numpy(), tracked_keypoints(clip.arrays["landmarks"][0]), atol=1e-6)
    assert tokens is not None and kwargs["fusion_mode"] is None
    ModelMethod(loaded, None).generate(TaskInputs(task, clip, clip), (3,))
    assert spy.calls[1][3]["fusion_mode"] == "explicit" and spy.calls[1][2] is None


def test_learned_relative_motion_starts_from_the_source_pose(eval_dataset, checkpoints, tmp_path):
    from synergywarp.metrics.eval import LoadedModel, ModelMethod, TaskInputs, cross_plan

    task = cross_plan(eval_dataset, [("astro_nod", 5, "astro_turn")], (1,), max_frames=2)[0]
    assert task.motion_mode == "relative" and task.driving_frames == (0, 7)
    assert ("astro_nod", 5) not in task.references_for(1)
    loaded = LoadedModel(checkpoints["tiny"])
    spy = _AnimateSpy(loaded.model)
    inputs = TaskInputs(task, load_clip(eval_dataset, "astro_nod"), load_clip(eval_dataset, "astro_turn"))
    ModelMethod(loaded, 1).generate(inputs, task.driving_frames)
    source_kp, driving_kp, _, _ = spy.calls[0]
    # the driving's frame 0 is the reference of the relative transfer: it reproduces the source's keypoints
    np.testing.assert_allclose(driving_kp[0].numpy(), source_kp[0].numpy(), atol=1e-5)
    assert not np.allclose(driving_kp[1].numpy(), source_kp[0].numpy(), atol=1e-3)


def test_mesh_prior_model_gets_the_mesh_warp_of_the_target_landmarks(eval_dataset, tmp_path):
    from synergywarp.face.mesh_warp import mesh_warp_grid
    from synergywarp.metrics.eval import LoadedModel, ModelMethod, TaskInputs
    from synergywarp.models import create_model

    path = tmp_path / "mesh.safetensors"
    create_model("tiny_tracked_mesh").save_pretrained(path, trained_stages=["explicit"])
    task = self_plan(eval_dataset, "test", (0,))[1]
    clip = load_clip(eval_dataset, task.source_clip)
    loaded = LoadedModel(path)
    spy = _AnimateSpy(loaded.model)
    ModelMethod(loaded, None).generate(TaskInputs(task, clip, clip), (3, 6))
    prior = spy.calls[0][3]["prior_grid"]
    landmarks = clip.arrays["landmarks"].astype(np.float32)
    expected = np.stack([mesh_warp_grid(landmarks[0], landmarks[f], 128) for f in (3, 6)])
    assert prior.shape == (2, 128, 128, 2)  # the 64² network's grid at 128² (face.prior.prior_grid_size)
    np.testing.assert_allclose(prior.numpy(), expected, atol=1e-6)
    assert np.abs(expected[1] - mesh_warp_grid(landmarks[0], landmarks[0], 128)).max() > 0.02  # the head moved


def test_reports_name_inputs_without_machine_prefixes(tmp_path, monkeypatch):
    """The bundled model by its package path, paths under the working directory relative to it, others as given."""
    from synergywarp.assets import BUNDLED_MODEL
    from synergywarp.metrics.results import report_path

    monkeypatch.chdir(tmp_path)
    assert report_path(BUNDLED_MODEL) == "synergywarp/assets/models/demo.safetensors (bundled)"
    assert report_path(tmp_path / "data" / "synth128") == "data/synth128"
    assert report_path("data/synth128") == "data/synth128"
    assert report_path("/elsewhere/model.safetensors") == "/elsewhere/model.safetensors"
    assert report_path(None) is None


def test_model_outputs_are_cached_per_prior_warp(tmp_path, monkeypatch):
    """A model's eval outputs depend on the prior warp it is given: a new warp version is a new cache
    group (else a changed prior would be served stale outputs); models without a prior are unaffected."""
    from synergywarp.metrics.eval import baselines
    from synergywarp.models import create_model

    groups = {}
    for name in ("tiny_tracked", "tiny_tracked_mesh", "tiny_tracked_head"):
        path = tmp_path / f"{name}.safetensors"
        create_model(name).save_pretrained(path)
        method = baselines.ModelMethod(baselines.LoadedModel(path), num_references=0)
        groups[name] = method.cache_group
        monkeypatch.setattr(baselines, "WARP_VERSION", "head-warp-next")
        groups[name + "/next"] = method.cache_group
        monkeypatch.undo()
    assert groups["tiny_tracked_head"] != groups["tiny_tracked_head/next"]
    assert "head-warp-next" in groups["tiny_tracked_head/next"]
    assert groups["tiny_tracked_mesh"] == groups["tiny_tracked_mesh/next"]
    assert "prior=rings" in groups["tiny_tracked_mesh"]
    assert groups["tiny_tracked"] == groups["tiny_tracked/next"] and "prior=" not in groups["tiny_tracked"]


def test_model_outputs_are_cached_per_reference_warp(tmp_path, monkeypatch):
    """References moved by the whole-head warp (``cgf.reference_warp: head``) make the outputs depend on
    that warp's version too; the ring-mesh references do not name it."""
    from synergywarp.metrics.eval import baselines
    from synergywarp.models import create_model, get_config

    groups = {}
    for kind in ("mesh", "head"):
        config = get_config("tiny_tracked_head")
        assert config.cgf.pixel_references
        config.cgf.reference_warp = kind
        path = tmp_path / f"{kind}.safetensors"
        create_model(config).save_pretrained(path)
        loaded = baselines.LoadedModel(path)
        monkeypatch.setattr(baselines, "WARP_VERSION", "head-warp-next")
        groups[kind] = baselines.ModelMethod(loaded, num_references=2).cache_group
        groups[kind + "@0"] = baselines.ModelMethod(loaded, num_references=0).cache_group
        groups[kind + "/rac"] = baselines.ModelMethod(loaded, num_references=2, pixel_references=False).cache_group
        monkeypatch.undo()
    assert "references=head-warp-next" in groups["head"]
    assert "references=" not in groups["mesh"]
    # methods that fuse no reference pixels do not depend on the reference warp
    assert "references=" not in groups["head@0"] and "references=" not in groups["head/rac"]

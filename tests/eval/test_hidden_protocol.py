"""The hidden-content protocol: frame choice, identity-aware references, region metrics, end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest
import skimage.data
import torch

from synergywarp.data.prepare import ClipRecord, update_manifest
from synergywarp.data.synth import PhotometricRanges, SynthConfig, Trajectory, prepare_portrait, render_clip
from synergywarp.data.synth.corpus import write_clip
from synergywarp.face.regions import eye_openness, mouth_openness, region_boxes
from synergywarp.metrics.eval.hidden import MIN_GAIN, REFERENCE_GAP, FrameState, choose_hidden
from synergywarp.metrics.image import crop_boxes, region_metrics

NO_PHOTOMETRIC = PhotometricRanges(gain=0.0, brightness=0.0, contrast=0.0, saturation=0.0, gradient=0.0)


def _state(mouth, eyes=None) -> FrameState:
    mouth = np.asarray(mouth, float)
    eyes = np.full_like(mouth, 0.3) if eyes is None else np.asarray(eyes, float)
    return FrameState(mouth, eyes, np.ones(len(mouth), bool))


def test_source_is_the_most_closed_frame_and_scored_frames_show_more():
    t = np.arange(60)
    mouth = 0.04 + 0.04 * np.sin(t / 3.0)
    mouth[30] = 0.0  # the most closed frame
    eyes = np.full(60, 0.3)
    eyes[30] = 0.05  # ... with the eyes shut
    choice = choose_hidden("clip", _state(mouth, eyes), [], num_scored=8, max_references=0)
    assert choice is not None and choice.source_frame == 30
    assert len(choice.driving_frames) == 8 and list(choice.driving_frames) == sorted(choice.driving_frames)
    assert min(np.diff(choice.driving_frames)) >= 4 and 30 not in choice.driving_frames
    assert min(choice.gains) >= MIN_GAIN
    # they are the frames that open most: every left-out frame gains at most as much as the weakest chosen
    gain = _state(mouth, eyes).gain(mouth[30], eyes[30])
    assert gain[list(choice.driving_frames)].min() >= np.median(gain)


def test_a_clip_that_hides_nothing_is_left_out():
    assert choose_hidden("still", _state(np.full(50, 0.02)), [], 8, 2) is None


def test_references_come_from_other_takes_first_and_are_nested():
    t = np.arange(80)
    this = _state(0.03 + 0.03 * np.sin(t / 4.0))
    other_a = _state(np.full(40, 0.01))  # never opens: no reference from it
    other_b = _state(np.linspace(0.0, 0.12, 40))
    choice = choose_hidden("clip", this, [("a", other_a), ("b", other_b)], num_scored=6, max_references=3)
    refs = choice.references
    assert refs[0] == ("b", 39)  # the widest-open frame of the other take comes first
    assert all(name != "a" for name, _ in refs)
    same = [frame for name, frame in refs if name == "clip"]
    for frame in same:  # same-clip references keep their distance from the scored frames and the source
        assert all(abs(frame - f) >= REFERENCE_GAP for f in (*choice.driving_frames, choice.source_frame))
    fewer = choose_hidden("clip", this, [("a", other_a), ("b", other_b)], num_scored=6, max_references=2)
    assert fewer.references == refs[:2]


def test_openness_measures_follow_the_landmarks():
    from synergywarp.face.pose import CANONICAL_FACE

    face = np.asarray(CANONICAL_FACE, np.float64).copy()
    opened = face.copy()
    opened[[14, 87, 317, 178, 402], 1] += 0.2  # lower inner lip drops
    assert mouth_openness(opened) > mouth_openness(face) + 0.05
    closed = face.copy()
    closed[[159, 158, 160, 386, 385, 387], 1] = face[[145, 153, 144, 374, 380, 373], 1]  # lids meet
    assert eye_openness(closed) < 0.02 < eye_openness(face)
    boxes = region_boxes(face)
    mouth, eyes = boxes["mouth"], boxes["eyes"]
    assert mouth[1] > eyes[3]  # the mouth box lies below the eyes box (y grows downward)
    assert (mouth[3] - mouth[1]) >= 0.5 * (mouth[2] - mouth[0]) - 1e-9


def test_region_metrics_see_only_their_box():
    torch.manual_seed(0)
    target = torch.rand(2, 3, 256, 256)
    boxes = {"mouth": torch.tensor([[-0.3, 0.3, 0.3, 0.6]] * 2), "eyes": torch.tensor([[-0.5, -0.3, 0.5, -0.1]] * 2)}
    crop = crop_boxes(target, boxes["mouth"][:1], (64, 64))
    # the crop samples exactly the box: its mean equals the box's pixels' mean
    x0, y0, x1, y1 = ((np.array([-0.3, 0.3, 0.3, 0.6]) + 1) * 128).astype(int)
    assert crop.mean().item() == pytest.approx(target[0, :, y0:y1, x0:x1].mean().item(), abs=0.01)
    output = target.clone()
    output[:, :, y0:y1, x0:x1] = 0.0  # damage the mouth box only
    values = region_metrics(output, target, boxes)
    assert (values["L1-mouth"] > 0.3).all() and (values["LPIPS-mouth"] > 0.1).all()
    assert (values["L1-eyes"] < 1e-6).all() and (values["LPIPS-eyes"] < 1e-6).all()


@pytest.fixture(scope="module")
def hidden_dataset(tmp_path_factory):
    """Two 40-frame takes of one identity that open and close the mouth, and a second identity."""
    root = tmp_path_factory.mktemp("hidden_data")
    size, frames = 96, 40
    config = SynthConfig(size=size, frames=frames, photometric=NO_PHOTOMETRIC, flip_prob=0.0)
    prepared = prepare_portrait(skimage.data.astronaut(), config, identity="astronaut")
    t = np.arange(frames)
    records = []
    for seed, name in enumerate(("take_a", "take_b")):
        mouth = np.clip(np.sin(t / (4.0 + seed)), 0, None)
        poses = np.zeros((frames, 3))
        poses[:, 1] = 6.0 * np.sin(t / 7.0)
        clip = render_clip(prepared, config, seed=seed, trajectory=Trajectory.from_poses(poses, {"mouth_open": mouth}))
        write_clip(clip, root / "test", name)
        records.append(ClipRecord(name, "test", "astronaut", frames, config.fps, size, "synth"))
    update_manifest(root, records)
    return root


@pytest.mark.slow
def test_hidden_eval_end_to_end(hidden_dataset, checkpoints, tmp_path):
    from synergywarp.metrics.eval import EvalOptions, run_eval

    out = tmp_path / "eval"
    options = EvalOptions(data=hidden_dataset, checkpoint=checkpoints["tiny_tracked"], refs=(0, 1), protocol="hidden",
                          out=out, max_frames=5, methods=("static", "geometric", "full"), face_metrics=False,
                          device="cpu", figure=2)
    result = run_eval(options)
    assert {t.source_clip for t in result.tasks} == {"take_a", "take_b"}
    for task in result.tasks:
        assert task.protocol == "hidden" and 4 <= len(task.driving_frames) <= 5
        assert task.source_frame not in task.driving_frames
        (ref,) = task.references_for(1)
        assert ref[0] != task.source_clip  # identity-aware: the other take comes first
    table = (out / "metrics.md").read_text()
    for label in ("LPIPS-mouth", "L1-eyes", "hidden content", "| static | 96² |"):
        assert label in table
    static, geometric = result.score("static"), result.score("geometric")
    # the source hides an open mouth: copying it is worse inside the mouth box than the mesh warp
    assert geometric.metrics["L1-mouth"].value < static.metrics["L1-mouth"].value
    report = json.loads((out / "metrics.json").read_text())
    assert report["tasks"][0]["references"]["1"][0][0] in ("take_a", "take_b")
    assert {m["name"]: m["output_size"] for m in report["methods"]}["full@1"] == 64
    # the figure: 2 worst + 2 typical rows; columns source, 1 reference, driving, 4 methods
    from synergywarp.io import read_image

    figure = read_image(out / "figure.png")
    tile = 160 + 18
    assert figure.shape[0] == 4 * tile and figure.shape[1] == (1 + 1 + 1 + 4) * 160
    assert figure[tile:, :160].std() > 10  # tiles hold images, not blank space


@pytest.mark.slow
def test_the_figure_can_show_every_task_s_last_frame(hidden_dataset, checkpoints, tmp_path, monkeypatch):
    """``figure_frames="last"``: one row per task (at most 2·figure), its last driving frame (a stress clip's
    extreme) named by the clip, instead of the worst and typical frames; an unknown choice is a ConfigError."""
    from synergywarp.errors import ConfigError
    from synergywarp.metrics.eval import EvalOptions, figure, run_eval

    rows: list = []
    original = figure.render_figure

    def spy(picks, *args, **kwargs):
        rows.extend((task.driving_clip, frame, note) for task, frame, note in picks)
        return original(picks, *args, **kwargs)

    monkeypatch.setattr(figure, "render_figure", spy)
    options = EvalOptions(data=hidden_dataset, checkpoint=checkpoints["tiny_tracked"], refs=(0,), out=tmp_path / "e",
                          max_frames=3, methods=("static", "geometric"), face_metrics=False, device="cpu", figure=2,
                          figure_frames="last")
    result = run_eval(options)
    assert sorted(rows) == sorted((t.driving_clip, max(t.driving_frames), t.driving_clip) for t in result.tasks)
    assert len(rows) == len(result.tasks) == 2
    with pytest.raises(ConfigError, match="--figure-frames must be one of worst, last"):
        EvalOptions(data=hidden_dataset, figure=1, figure_frames="best").validate()


def test_rac_ablation_rows_exist_only_for_pixel_reference_models(checkpoints, tmp_path):
    from synergywarp.metrics.eval import LoadedModel, build_methods
    from synergywarp.models import create_model

    path = tmp_path / "head.safetensors"
    create_model("tiny_tracked_head").save_pretrained(path, trained_stages=["explicit", "rac", "cgf"])
    names = [m.name for m in build_methods(LoadedModel(path), (0, 1, 2), ("explicit", "rac", "full"))]
    assert names == ["explicit", "rac@1", "rac@2", "full@0", "full@1", "full@2"]
    plain = [m.name for m in build_methods(LoadedModel(checkpoints["tiny_tracked"]), (0, 1), ("rac", "full"))]
    assert plain == ["full@0", "full@1"]


def test_the_eval_moves_references_by_the_warp_the_checkpoint_names(eval_dataset, tmp_path, monkeypatch):
    """``full@R`` of a pixel-reference model builds each reference's warp with ``cgf.reference_warp`` (the
    head warp gets the reference images for its person masks); models keep their own kind."""
    from synergywarp.face.prior import PriorWarp
    from synergywarp.metrics.eval import EvalOptions, baselines, run_eval
    from synergywarp.models import create_model, get_config

    built: list[tuple[str, bool]] = []
    original = PriorWarp.for_references.__func__  # type: ignore[attr-defined]

    def spy(cls, kind, landmarks, images):
        built.append((kind, all(image is not None and image.shape[:2] == (96, 96) for image in images)))
        return original(cls, kind, landmarks, images)

    monkeypatch.setattr(baselines.PriorWarp, "for_references", classmethod(spy))
    from synergywarp.models import SynergyWarpNet

    handed: list[tuple[int, ...]] = []
    animate = SynergyWarpNet.animate

    def animate_spy(self, *args, **kwargs):
        grids = kwargs.get("reference_grids")
        handed.append(tuple(grids.shape) if grids is not None else ())
        return animate(self, *args, **kwargs)

    monkeypatch.setattr(SynergyWarpNet, "animate", animate_spy)
    for kind in ("head", "mesh"):
        config = get_config("tiny_tracked_head")
        config.cgf.reference_warp = kind
        path = tmp_path / f"{kind}.safetensors"
        torch.manual_seed(0)
        create_model(config).save_pretrained(path, trained_stages=["explicit", "rac", "cgf"])
        built.clear()
        handed.clear()
        run_eval(EvalOptions(data=eval_dataset, checkpoint=path, refs=(1,), protocol="self", out=tmp_path / kind,
                             max_frames=2, methods=("full",), face_metrics=False, device="cpu", figure=0))
        assert built and {k for k, _ in built} == {kind}
        assert all(has_images for _, has_images in built)  # the crops reach it (the mesh ignores them)
        assert handed and all(shape[1:3] == (1, 128) for shape in handed)  # N×R×S×S×2 reach the network

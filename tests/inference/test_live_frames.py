"""The Animator's per-frame (live) path: the same frames as the batch path where both see the same
crops, None before the first face, held motion where the face is lost, fixed and following crops."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from synergywarp.inference import AnimateOptions, Animator
from synergywarp.models import create_model

from .conftest import GRACE


@pytest.fixture(scope="module", params=["tiny", "tiny_tracked"])
def animator(request) -> Animator:
    torch.manual_seed(0)
    return Animator(create_model(request.param))


@pytest.mark.slow
@pytest.mark.parametrize("motion", ["relative", "absolute"])
def test_live_frames_equal_the_batch_path_frame_for_frame(animator, grace_crops, motion):
    # no-crop: both paths use the centre square, so they see identical crops; batch 1 = identical calls
    options = AnimateOptions(crop=False, batch=1, smooth=0.5, motion=motion, fps=25.0)
    prepared = animator.prepare(grace_crops[0], options=options)
    batch = list(animator.animate(prepared, grace_crops))
    with animator.start_live(prepared, fps=25.0) as live:
        frames = [animator.animate_frame(live, frame) for frame in grace_crops]
    assert [f.index for f in frames] == list(range(len(grace_crops)))
    for one, other in zip(frames, batch):
        np.testing.assert_allclose(one.keypoints, other.keypoints, atol=1e-6)
        np.testing.assert_array_equal(one.image, other.image)
    assert np.abs(frames[-1].image.astype(int) - frames[0].image.astype(int)).max() > 0  # it moves


@pytest.mark.slow
def test_no_output_before_the_first_face_and_held_motion_when_it_is_lost(animator, grace_crops):
    blank = np.full_like(grace_crops[0], 127)
    stream = [blank, blank, *grace_crops[:6], blank, *grace_crops[6:8]]
    prepared = animator.prepare(GRACE, options=AnimateOptions(smooth=0.0))
    with animator.start_live(prepared) as live:
        frames = [animator.animate_frame(live, frame) for frame in stream]
    assert frames[:2] == [None, None]
    animated = frames[2:]
    assert [f.index for f in animated] == list(range(2, len(stream)))
    assert [f.face_found for f in animated] == [True] * 6 + [False] + [True] * 2
    np.testing.assert_array_equal(animated[6].keypoints, animated[5].keypoints)  # held, unsmoothed
    assert animated[0].image.shape == prepared.source.image.shape  # pasted back into the full source
    assert live.frames_seen == len(stream) and live.frames_with_face == 8


@pytest.mark.slow
def test_fixed_crop_stays_and_smooth_crop_follows_the_face(animator, grace_crops):
    moving = grace_crops[::-1]  # the crop clip drifts, so the face moves inside the frame
    crops = {}
    for mode in ("fixed", "smooth"):
        prepared = animator.prepare(GRACE, options=AnimateOptions(driving_crop=mode))
        with animator.start_live(prepared) as live:
            centres = []
            for frame in moving:
                animator.animate_frame(live, frame)
                centres.append(live.crop.inverse[:, 2].copy())  # crop origin in the frame
        crops[mode] = np.stack(centres)
    assert np.abs(crops["fixed"] - crops["fixed"][0]).max() == 0
    assert np.abs(crops["smooth"][-1] - crops["smooth"][0]).max() > 2.0

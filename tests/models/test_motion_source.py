"""The motion strategy: one place decides how each ``config.motion`` kind obtains its keypoints."""

from __future__ import annotations

import copy

import pytest
import torch

from synergywarp.models import create_model, get_config, list_models
from synergywarp.models.keypoints import keypoints_from_motion
from synergywarp.models.motion_source import LearnedMotion, TrackedKeypoints, motion_source_type


@pytest.mark.parametrize("name", list_models())
def test_the_strategy_decides_what_the_network_builds(name):
    config = get_config(name)
    kind = motion_source_type(config)
    assert kind.kind == config.motion
    assert kind.uses_landmarks == (config.motion == "tracked") and kind.has_encoder == (config.motion == "learned")


def test_tracked_keypoints_are_given_for_every_role():
    model = create_model("tiny_tracked").eval()
    strategy = model.motion_source
    assert isinstance(strategy, TrackedKeypoints) and model.motion_encoder is None
    kp = torch.rand(1, 32, 3)
    with torch.no_grad():
        state = model.encode_source(torch.rand(1, 3, 64, 64), kp)
        assert state.keypoints is kp and state.canonical is None and state.motion is None
        for call, what in [(lambda: strategy.references(state, torch.rand(1, 2, 3, 64, 64), None), "reference"),
                           (lambda: strategy.driving(state, torch.rand(1, 3, 64, 64), None), "driving"),
                           (lambda: model.encode_source(torch.rand(1, 3, 64, 64)), "source")]:
            with pytest.raises(ValueError, match=f"motion: tracked needs {what} keypoints"):
                call()
        assert strategy.driving(state, torch.rand(1, 3, 64, 64), kp) == (kp, None)
    with pytest.raises(ValueError, match="tracked keypoints; it has no motion encoder"):
        model.learned_motion()  # noqa: B018


def test_learned_keypoints_are_the_source_canonical_ones_under_each_images_motion():
    model = create_model("tiny").eval()
    learned = model.learned_motion()
    assert isinstance(model.motion_source, LearnedMotion) and learned.encoder is model.motion_encoder
    g = torch.Generator().manual_seed(0)
    source, references = torch.rand(1, 3, 64, 64, generator=g), torch.rand(1, 2, 3, 64, 64, generator=g)
    driving = torch.rand(3, 3, 64, 64, generator=g)
    with torch.no_grad():
        state = model.encode_source(source)
        own = model.motion_encoder(source)
        torch.testing.assert_close(state.keypoints, keypoints_from_motion(own.kp, own))
        kp, motion = model.motion_source.driving(state, driving, None)
        assert motion is not None
        canonical = state.canonical.expand(3, -1, -1)
        torch.testing.assert_close(kp, keypoints_from_motion(canonical, model.motion_encoder(driving)))
        refs = model.motion_source.references(state, references, None)
        for r in range(2):
            torch.testing.assert_close(refs[:, r], learned.transferred(state, learned.image_motion(references[:, r])))
        first = learned.image_motion(driving[:1])
        relative = learned.transferred(state, learned.image_motion(driving), first, "relative")
    torch.testing.assert_close(relative[0], state.keypoints[0], atol=1e-5, rtol=0)  # reference frame → the source
    with pytest.raises(ValueError, match="reference frame"):
        learned.transferred(state, motion, None, "relative")


def test_a_copied_model_uses_its_own_motion_encoder():
    """EMA copies the generator: the copy's strategy must read the copy's encoder, not the original's."""
    model = create_model("tiny")
    twin = copy.deepcopy(model)
    assert twin.learned_motion().encoder is twin.motion_encoder is not model.motion_encoder

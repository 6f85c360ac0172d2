"""Device/precision resolution and the 5D grid_sample fallback."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from synergywarp import devices
from synergywarp.errors import ConfigError
from synergywarp.inference import runtime as rt


@pytest.mark.parametrize("name", ["tpu", "gpu", "cuda:x", "cpu:1", ""])
def test_unknown_device_is_a_config_error(name):
    with pytest.raises(ConfigError, match="device"):
        devices.resolve_device(name)


@pytest.mark.parametrize("name", ["fp64", "int8", "float"])
def test_unknown_dtype_is_a_config_error(name):
    with pytest.raises(ConfigError, match="dtype"):
        rt.resolve_dtype(name, torch.device("cpu"))


def test_auto_choices_on_this_machine():
    device = devices.resolve_device("auto")
    expected = "cuda" if torch.cuda.is_available() else ("mps" if devices.mps_available() else "cpu")
    assert device.type == expected
    assert rt.resolve_dtype("auto", torch.device("cpu")) == torch.float32
    assert rt.resolve_dtype("bf16", torch.device("cpu")) == torch.bfloat16
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="CUDA is not available"):
            devices.resolve_device("cuda")


def test_grid_sample_fallback_runs_5d_on_cpu_once_warned(monkeypatch):
    """Pretend the CPU lacks 5D grid_sample: the op is rerouted (same result), warned about once,
    4D calls are untouched and the function is restored afterwards."""
    monkeypatch.setattr(rt, "GRID_SAMPLE_5D_FALLBACK_DEVICES", {"cpu"})
    monkeypatch.setattr(rt, "_fallback_warned", False)
    original = F.grid_sample
    volume, grid = torch.rand(2, 3, 4, 5, 6), torch.rand(2, 4, 5, 6, 3) * 2 - 1
    image, grid2d = torch.rand(2, 3, 5, 6), torch.rand(2, 5, 6, 2) * 2 - 1
    expected = original(volume, grid, align_corners=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with rt.grid_sample_fallback():
            assert F.grid_sample is not original
            first = F.grid_sample(volume, grid, align_corners=False)
            F.grid_sample(volume, grid, align_corners=False)
            flat = F.grid_sample(image, grid2d, align_corners=False)
    assert F.grid_sample is original
    torch.testing.assert_close(first, expected)
    torch.testing.assert_close(flat, original(image, grid2d, align_corners=False))
    messages = [str(w.message) for w in caught if "grid_sample" in str(w.message)]
    assert len(messages) == 1 and "on the CPU" in messages[0]


def test_runtime_context_autocasts_to_the_chosen_dtype():
    runtime = rt.Runtime.create("cpu", "bf16")
    layer = torch.nn.Linear(4, 4)
    with runtime.context():
        assert layer(torch.rand(2, 4)).dtype == torch.bfloat16
    with rt.Runtime.create("cpu", "fp32").context():
        assert layer(torch.rand(2, 4)).dtype == torch.float32


def _animate_once(runtime, grace_crops):
    from synergywarp.inference import AnimateOptions, Animator
    from synergywarp.models import create_model

    torch.manual_seed(0)
    animator = Animator(create_model("tiny"), runtime)
    frames = animator.animate(grace_crops[0], grace_crops[3:5], options=AnimateOptions(crop=False, smooth=0.0))
    return np.stack([f.crop for f in frames]).astype(np.float32)


@pytest.mark.slow
def test_channels_last_and_bf16_autocast_match_fp32(grace_crops):
    reference = _animate_once(rt.Runtime.create("cpu", "fp32"), grace_crops)
    channels_last = _animate_once(rt.Runtime(torch.device("cpu"), torch.float32, channels_last=True), grace_crops)
    assert np.abs(channels_last - reference).max() <= 1.0
    bf16 = _animate_once(rt.Runtime.create("cpu", "bf16"), grace_crops)
    assert 0 < np.abs(bf16 - reference).mean() < 6.0  # uint8 levels: autocast is on, and close
    assert reference.std() > 1.0

"""benchmarks/cpu_ceiling.py: the per-frame convolutions it times are the network's, and in every precision
they compute the same convolution."""

from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from synergywarp.models import create_model


@pytest.fixture(scope="module")
def script(repo_script_module):
    return repo_script_module("benchmarks/cpu_ceiling.py")


@pytest.fixture(scope="module")
def tiny_calls(script):
    torch.manual_seed(0)
    model = create_model("tiny").eval()
    source, driving = torch.rand(1, 3, 64, 64), torch.rand(1, 3, 64, 64)
    calls = script.capture_convs(model, lambda: model(source, driving))
    counter = FlopCounterMode(display=False)
    with counter, torch.inference_mode():
        model(source, driving)
    conv_flops = sum(count for op, count in counter.get_flop_counts()["Global"].items() if "convolution" in str(op))
    return model, calls, conv_flops


def test_every_convolution_is_captured_with_its_flops(tiny_calls):
    model, calls, conv_flops = tiny_calls
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d | torch.nn.Conv3d)]
    assert {id(call.module) for call in calls} <= {id(m) for m in convs}
    assert len(calls) >= 10 and any(isinstance(call.module, torch.nn.Conv3d) for call in calls)
    assert sum(call.flops for call in calls) == pytest.approx(conv_flops, rel=1e-9)  # torch's own count


def test_each_precision_computes_the_same_convolution(script, tiny_calls):
    _, calls, _ = tiny_calls
    engine = torch.backends.quantized.engine
    if "onednn" in torch.backends.quantized.supported_engines:
        torch.backends.quantized.engine = "onednn"
    try:
        for call in [c for c in calls if c.module.in_channels >= 8][:6]:
            with torch.inference_mode():
                reference = script.conv_function(call, "fp32")()
                scale = reference.abs().max().item()
                for precision, tolerance in (("bf16", 0.03), ("int8", 0.08)):
                    out = script.conv_function(call, precision)().float()
                    assert out.shape == reference.shape
                    error = (out - reference).abs().max().item() / scale
                    assert error < tolerance, (call.name, precision, error)
    finally:
        torch.backends.quantized.engine = engine
    with pytest.raises(ValueError, match="unknown precision"):
        script.conv_function(calls[0], "fp8")


def test_ceiling_and_roofline_arithmetic(script):
    ceiling = script.ceiling_ms(20.0, 100.0, {"fp32": 70.0, "bf16": 40.0, "int8": 35.0})
    assert ceiling == {"fp32": 100.0 + 20.0, "bf16": 20.0 + 30.0 + 40.0, "int8": 20.0 + 30.0 + 35.0}
    # convolutions timed alone slower than the whole network: nothing else is left to it, not a negative time
    assert script.ceiling_ms(10.0, 50.0, {"fp32": 60.0, "int8": 30.0}) == {"fp32": 70.0, "int8": 40.0}
    roof = script.roofline_fps(25.0, 9.0, {"fp32": 150.0, "int8": 300.0})
    assert roof["fp32"] == pytest.approx(1000.0 / (25.0 + 60.0))
    assert roof["int8"] == pytest.approx(1000.0 / (25.0 + 30.0))

"""benchmarks/cpu_ceiling.py: the per-frame convolutions it times are the network's, and in every precision
they compute the same convolution in that precision."""

from __future__ import annotations

import math

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from synergywarp.models import create_model


@pytest.fixture(scope="module")
def script(repo_script_module):
    return repo_script_module("benchmarks/cpu_ceiling.py")


@pytest.fixture(scope="module")
def tiny_calls(script):
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = create_model("tiny").eval()
        source, driving = torch.rand(1, 3, 64, 64), torch.rand(1, 3, 64, 64)
    calls = script.capture_convs(model, lambda: model(source, driving))
    counter = FlopCounterMode(display=False)
    with counter, torch.inference_mode():
        model(source, driving)
    conv_flops = sum(count for op, count in counter.get_flop_counts()["Global"].items() if "convolution" in str(op))
    return model, calls, conv_flops, lambda: model(source, driving)


def test_every_convolution_is_captured_with_its_flops(script, tiny_calls):
    model, calls, conv_flops, call = tiny_calls
    assert len(calls) >= 10 and any(isinstance(c.module, torch.nn.Conv3d) for c in calls)
    assert sum(c.flops for c in calls) == pytest.approx(conv_flops, rel=1e-9)  # torch's own count
    # the benchmark's own cross-check sees the 3D convolutions the runtime sends to oneDNN too
    from synergywarp.inference.runtime import use_fast_conv3d

    assert use_fast_conv3d(model, True) > 0
    try:
        assert script.conv_flops_counted(model, call) == pytest.approx(conv_flops, rel=1e-9)
    finally:
        use_fast_conv3d(model, False)


@pytest.fixture
def onednn_engine():
    engine = torch.backends.quantized.engine
    if "onednn" in torch.backends.quantized.supported_engines:
        torch.backends.quantized.engine = "onednn"
    yield
    torch.backends.quantized.engine = engine


def _relative_rms(out: torch.Tensor, reference: torch.Tensor) -> float:
    return ((out.float() - reference).pow(2).mean().sqrt() / reference.pow(2).mean().sqrt()).item()


def test_each_precision_computes_the_same_convolution(script, tiny_calls, onednn_engine):
    _, calls, _, _ = tiny_calls
    chosen = [c for c in calls if c.module.in_channels >= 8][:4]
    chosen += [c for c in calls if hasattr(c.module, "weight_orig")][:2]  # spectral-normalised decoder convs
    assert len(chosen) == 6
    int8 = script.int8_supported()
    for call in chosen:
        with torch.inference_mode():
            reference = script.conv_function(call, "fp32")()
            bf16 = script.conv_function(call, "bf16")()
            assert bf16.dtype == torch.bfloat16 and bf16.shape == reference.shape
            assert 0.0 < _relative_rms(bf16, reference) < 0.01, call.name  # rounded, but the same convolution
            if int8:
                out = script.conv_function(call, "int8")()
                assert out.dtype == torch.float32 and out.shape == reference.shape
                assert 0.0 < _relative_rms(out, reference) < 0.06, call.name  # quantized, the same convolution
    with pytest.raises(ValueError, match="unknown precision"):
        script.conv_function(calls[0], "fp8")


def test_ceiling_roofline_and_required_share_arithmetic(script):
    ceiling = script.ceiling_ms(20.0, 100.0, {"fp32": 70.0, "bf16": 40.0, "int8": None})
    assert ceiling == {"fp32": 100.0 + 20.0, "bf16": 20.0 + 30.0 + 40.0, "int8": None}
    # convolutions timed alone slower than the whole network: nothing else is left to it, not a negative time
    assert script.ceiling_ms(10.0, 50.0, {"fp32": 60.0, "int8": 30.0}) == {"fp32": 70.0, "int8": 40.0}
    roof = script.roofline_fps(25.0, 9.0, {"fp32": 150.0, "int8": 300.0, "bf16": None})
    assert roof["fp32"] == pytest.approx(1000.0 / (25.0 + 60.0))
    assert roof["int8"] == pytest.approx(1000.0 / (25.0 + 30.0)) and roof["bf16"] is None
    # 20 fps = 50 ms; 20 ms go elsewhere, so 9 GFLOPs must take 30 ms: 300 GFLOP/s
    share = script.required_share(20.0, 20.0, 9.0, {"fp32": 150.0, "int8": 600.0, "bf16": None})
    assert share == {"fp32": pytest.approx(2.0), "int8": pytest.approx(0.5), "bf16": None}
    assert script.required_share(20.0, 60.0, 9.0, {"fp32": 150.0})["fp32"] == math.inf


def test_readme_table_is_the_committed_json(script):
    import json

    report = json.loads(script.DEFAULT_JSON.read_text())
    readme = (script.ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index(script.TABLE_BEGIN) + len(script.TABLE_BEGIN)
    assert readme[start:readme.index(script.TABLE_END)] == "\n" + script.readme_table(report)
    assert "| demo (`small_tracked_head`, 128²) | 9.21 |" in script.readme_table(report)


def test_table_only_rewrites_just_the_marked_table(script, tmp_path):
    import json

    report = json.loads(script.DEFAULT_JSON.read_text())
    readme = tmp_path / "README.md"
    readme.write_text(f"before\n{script.TABLE_BEGIN}\nstale\n{script.TABLE_END}\nafter\n", encoding="utf-8")
    assert script.main(["--table-only", "--out", str(script.DEFAULT_JSON), "--readme", str(readme)]) == 0
    text = readme.read_text(encoding="utf-8")
    assert text.startswith("before\n") and text.endswith(f"{script.TABLE_END}\nafter\n") and "stale" not in text
    assert script.readme_table(report) in text
    with pytest.raises(SystemExit):  # another JSON without a README to write into
        script.main(["--table-only", "--out", str(tmp_path / "other.json")])

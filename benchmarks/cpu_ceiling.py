"""How fast can a model's ``animate`` get on this CPU? Its measured stages next to the ceiling its
convolutions allow in each precision.

For each bundled model (``demo``: 128² network; ``demo-live``: its 64² twin), with the bundled portrait and
driving clip at 256² output, no references, one frame at a time:

- the :class:`~synergywarp.inference.Animator`'s stages per frame (eager fp32, ``animate``'s default
  backend; H.264 encoding included), and its frames per second;
- every convolution the network runs per frame, captured with the input it gets, timed alone in fp32 as
  the runtime runs it (3D ones through oneDNN), in bf16 (input cast included, as autocast would) and in
  int8 (oneDNN's quantized convolutions, per-channel weights; quantizing the input and dequantizing the
  output included);
- the ceiling in each precision: the frame rate if every other stage and the network's non-convolution
  work stayed as measured and the convolutions ran as fast as measured alone::

      ceiling ms = other stages + (network − Σ conv fp32) + Σ conv(precision)

  An upper bound: the casts between layers, calibration and the output's fidelity are not counted;
- the roofline: the frame rate if the convolutions ran at this CPU's GEMM peak in that precision (a large
  matrix product, measured) and the network did nothing else, every other stage as measured::

      roofline ms = other stages + conv GFLOPs / GEMM peak(precision)

  No implementation of this network in that precision can beat it here.

Writes JSON (with the CPU's name, its bf16/AMX instruction sets and the thread count)::

    python benchmarks/cpu_ceiling.py                                   # both bundled models
    python benchmarks/cpu_ceiling.py --models demo --frames 30 --out ceiling.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from animate_speed import _animate_prepared  # noqa: E402  (benchmarks/animate_speed.py)
from live_speed import _cpu_name  # noqa: E402

from synergywarp.assets import BUNDLED_NAMES  # noqa: E402
from synergywarp.atomic import write_text_atomic  # noqa: E402
from synergywarp.inference import AnimateOptions, Animator  # noqa: E402
from synergywarp.inference.runtime import Runtime  # noqa: E402
from synergywarp.models import SynergyWarpNet  # noqa: E402

PRECISIONS = ("fp32", "bf16", "int8")
OTHER_STAGES = ("tracking", "crop", "motion", "mesh_warp", "paste_back", "encoding")


class ConvCall(NamedTuple):
    """One convolution of the per-frame network, the input it was given and its output's size."""

    name: str
    module: nn.Conv2d | nn.Conv3d
    input: torch.Tensor
    output_numel: int

    @property
    def flops(self) -> float:
        """2 · MACs: output elements × input channels per group × kernel volume."""
        m = self.module
        return 2.0 * self.output_numel * (m.in_channels // m.groups) * float(np.prod(m.kernel_size))


def capture_convs(model: nn.Module, call: Callable[[], object]) -> list[ConvCall]:
    """Every :class:`~torch.nn.Conv2d`/:class:`~torch.nn.Conv3d` of ``model`` that ``call()`` runs, in
    order, with a copy of its input (one entry per call: a layer run twice is listed twice)."""
    calls: list[ConvCall] = []
    names = {module: name for name, module in model.named_modules()}

    def hook(module: nn.Module, args: tuple, output: torch.Tensor) -> None:
        calls.append(ConvCall(names[module], module, args[0].detach().clone(), output.numel()))  # type: ignore[arg-type]

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.Conv2d | nn.Conv3d)]
    try:
        with torch.inference_mode():
            call()
    finally:
        for handle in handles:
            handle.remove()
    return calls


def _quantized_conv(module: nn.Conv2d | nn.Conv3d, sample: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """``x ↦`` the same convolution in int8 (per-output-channel symmetric weights, the input quantized per
    tensor over ``sample``'s range, output dequantized to fp32)."""
    import torch.ao.nn.quantized as nnq

    weight = module.weight.detach().float()
    scales = weight.abs().flatten(1).amax(dim=1).clamp_min(1e-8) / 127.0
    qweight = torch.quantize_per_channel(weight, scales.double(), torch.zeros_like(scales, dtype=torch.long), 0,
                                         torch.qint8)
    cls = nnq.Conv3d if isinstance(module, nn.Conv3d) else nnq.Conv2d
    qconv = cls(module.in_channels, module.out_channels, module.kernel_size, stride=module.stride,
                padding=module.padding, dilation=module.dilation, groups=module.groups,
                bias=module.bias is not None)
    qconv.set_weight_bias(qweight, module.bias.detach().float() if module.bias is not None else None)
    low, high = min(float(sample.min()), 0.0), max(float(sample.max()), 0.0)
    in_scale = max(high - low, 1e-8) / 255.0
    in_zero = int(round(-low / in_scale))
    # the output's range from the fp32 result (calibration), so nothing saturates
    with torch.inference_mode():
        reference = F.conv3d if isinstance(module, nn.Conv3d) else F.conv2d
        out = reference(sample, weight, module.bias, module.stride, module.padding, module.dilation, module.groups)
    out_low, out_high = min(float(out.min()), 0.0), max(float(out.max()), 0.0)
    qconv.scale = max(out_high - out_low, 1e-8) / 255.0
    qconv.zero_point = int(round(-out_low / qconv.scale))

    def run(x: torch.Tensor) -> torch.Tensor:
        return qconv(torch.quantize_per_tensor(x, in_scale, in_zero, torch.quint8)).dequantize()

    return run


def conv_function(call: ConvCall, precision: str) -> Callable[[], torch.Tensor]:
    """A zero-argument function running ``call``'s convolution on its input in ``precision``."""
    m, x = call.module, call.input
    if precision == "fp32":
        return lambda: m(x)  # the runtime's forward (oneDNN for 3D on the CPU; spectral norm included)
    if precision == "bf16":
        weight = m.weight.detach().bfloat16()
        bias = m.bias.detach().bfloat16() if m.bias is not None else None
        conv = F.conv3d if isinstance(m, nn.Conv3d) else F.conv2d
        return lambda: conv(x.bfloat16(), weight, bias, m.stride, m.padding, m.dilation, m.groups)
    if precision == "int8":
        run = _quantized_conv(m, x)
        return lambda: run(x)
    raise ValueError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")


def median_ms(fn: Callable[[], object], repeats: int, budget_s: float = 2.0) -> float:
    """Median wall time of ``fn()`` in ms after one warm-up call (fewer repeats when a call is slow)."""
    with torch.inference_mode():
        start = time.perf_counter()
        fn()
        first = time.perf_counter() - start
        count = max(1, min(repeats, int(budget_s / max(first, 1e-6))))
        times = []
        for _ in range(count):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    return 1000.0 * statistics.median(times)


def ceiling_ms(other_ms: float, network_ms: float, conv_ms: dict[str, float]) -> dict[str, float]:
    """Per precision: ``other_ms + max(network_ms − conv_ms['fp32'], 0) + conv_ms[precision]``."""
    rest = max(network_ms - conv_ms["fp32"], 0.0)
    return {precision: other_ms + rest + ms for precision, ms in conv_ms.items()}


def roofline_fps(other_ms: float, conv_gflops: float, peaks: dict[str, float]) -> dict[str, float]:
    """Per precision: ``1000 / (other_ms + conv_gflops / peak · 1000)`` (peaks in GFLOP/s)."""
    return {precision: 1000.0 / (other_ms + 1000.0 * conv_gflops / peak) for precision, peak in peaks.items()}


def gemm_peaks(size: int = 2048) -> dict[str, float]:
    """GFLOP/s (GOP/s for int8) of one ``size``² matrix product per precision, best of a few."""
    import torch.ao.nn.quantized as nnq

    a, b = torch.randn(size, size), torch.randn(size, size)
    flops = 2.0 * size**3
    peaks = {"fp32": flops / median_ms(lambda: a @ b, 5) / 1e6}
    small = 512  # bf16 is emulated (≈ 1 GFLOP/s) on CPUs without AVX512-BF16/AMX: a small product suffices
    ab, bb = torch.randn(small, small).bfloat16(), torch.randn(small, small).bfloat16()
    peaks["bf16"] = 2.0 * small**3 / median_ms(lambda: ab @ bb, 5) / 1e6
    linear = nnq.Linear(size, size)
    linear.set_weight_bias(torch.quantize_per_tensor(torch.randn(size, size) * 0.05, 1e-3, 0, torch.qint8),
                           torch.zeros(size))
    x = torch.quantize_per_tensor(torch.rand(size, size), 0.01, 0, torch.quint8)
    peaks["int8"] = flops / median_ms(lambda: linear(x), 5) / 1e6
    return peaks


def measure_model(name: str, frames: int, size: int, repeats: int, peaks: dict[str, float]) -> dict:
    """One bundled model: stages, convolutions per precision, FLOPs and ceilings (see the module doc)."""
    from synergywarp.inference.demo import demo_inputs
    from synergywarp.io import read_video

    model = SynergyWarpNet.from_pretrained(BUNDLED_NAMES[name])
    animator = Animator(model, Runtime.create("cpu", "fp32"))
    source, _references, driving = demo_inputs()
    video, fps = read_video(driving)
    warm = 4
    video = video[: warm + frames]
    prepared = animator.prepare(source, [], AnimateOptions(check_identity=False, output_size=size))
    with tempfile.TemporaryDirectory() as folder:
        _animate_prepared(animator, prepared, video[:warm], fps, Path(folder) / "warm.mp4")
        animator.stage_seconds.clear()
        start = time.perf_counter()
        count = _animate_prepared(animator, prepared, video[warm:], fps, Path(folder) / "out.mp4")
        wall = time.perf_counter() - start
    stages = {stage: 1000.0 * seconds / count for stage, seconds in animator.stage_seconds.items()}
    network_ms = stages.get("model", 0.0)
    other_ms = sum(stages.get(stage, 0.0) for stage in OTHER_STAGES)

    one_frame = video[warm: warm + 1]

    def frame() -> None:
        for _ in animator.animate(prepared, one_frame):
            pass

    calls = capture_convs(animator.model, frame)
    conv_gflops = sum(call.flops for call in calls) / 1e9
    conv_ms = {precision: 0.0 for precision in PRECISIONS}
    for call in calls:
        for precision in PRECISIONS:
            conv_ms[precision] += median_ms(conv_function(call, precision), repeats)
    ceilings = ceiling_ms(other_ms, network_ms, conv_ms)
    return {
        "model": name,
        "config": model.config.name,
        "output_size": size,
        "frames": count,
        "fps": count / wall,
        "stages_ms": stages,
        "network_ms": network_ms,
        "other_stages_ms": other_ms,
        "conv_gflops_per_frame": conv_gflops,
        "convolutions": len(calls),
        "conv_ms": conv_ms,
        "ceiling_ms": ceilings,
        "ceiling_fps": {precision: 1000.0 / ms for precision, ms in ceilings.items()},
        "roofline_fps": roofline_fps(other_ms, conv_gflops, peaks),
    }


def table(rows: list[dict], peaks: dict[str, float]) -> str:
    """Markdown table: one row per model."""
    lines = [
        "| model | conv GFLOPs/frame | fps measured | network ms | of which conv fp32 | conv bf16 | conv int8 "
        "| other stages ms | ceiling fps fp32 | bf16 | int8 | roofline fps fp32 | bf16 | int8 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        c, f, roof = r["conv_ms"], r["ceiling_fps"], r["roofline_fps"]
        lines.append(
            f"| {r['model']} (`{r['config']}`) | {r['conv_gflops_per_frame']:.2f} "
            f"| {r['fps']:.1f} | {r['network_ms']:.1f} | {c['fp32']:.1f} | {c['bf16']:.1f} | {c['int8']:.1f} "
            f"| {r['other_stages_ms']:.1f} | {f['fp32']:.1f} | {f['bf16']:.1f} | {f['int8']:.1f} "
            f"| {roof['fp32']:.1f} | {roof['bf16']:.1f} | {roof['int8']:.1f} |")
    lines.append("")
    lines.append("GEMM peak (large matrices): " + ", ".join(f"{p} {v:.1f} G{'OP' if p == 'int8' else 'FLOP'}/s"
                                                          for p, v in peaks.items()))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["demo", "demo-live"], choices=sorted(BUNDLED_NAMES))
    parser.add_argument("--frames", type=int, default=40, help="driving frames timed end to end (after 4 warm-up)")
    parser.add_argument("--size", type=int, default=256, help="output size")
    parser.add_argument("--repeats", type=int, default=9, help="timed calls per convolution and precision")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "cpu_ceiling.json")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", message=".*quantize.*deprecated.*")
    if "onednn" in torch.backends.quantized.supported_engines:
        torch.backends.quantized.engine = "onednn"  # the fastest int8 convolutions measured on AVX2 and up
    peaks = gemm_peaks()
    rows = [measure_model(name, args.frames, args.size, args.repeats, peaks) for name in args.models]
    report = {
        "cpu": _cpu_name(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "quantized_engine": torch.backends.quantized.engine,
        "gemm_peak_gflops": peaks,
        "rows": rows,
    }
    write_text_atomic(args.out, json.dumps(report, indent=2) + "\n")
    print(f"{report['cpu']}, {report['threads']} threads, torch {report['torch']}")
    print(table(rows, peaks))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

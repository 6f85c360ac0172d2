"""How fast can a model's ``animate`` get on this CPU? Its measured stages next to the ceiling its
convolutions allow in each precision.

For each bundled model (``demo``: 128² network; ``demo-live``: its 64² twin), with the bundled portrait and
driving clip at 256² output, no references, one frame at a time:

- the :class:`~synergywarp.inference.Animator`'s stages per frame (eager fp32, ``animate``'s default
  backend, batch 1; H.264 encoding included; "other" also holds the wall time no stage claims), and its
  frames per second;
- every convolution the network runs per frame, captured with the input it gets (checked against torch's
  FLOP counter: none missed), timed alone in fp32 as the runtime runs it (3D ones through oneDNN,
  spectral norm included), in bf16 (input and weight casts included) and in int8 (oneDNN's quantized
  convolutions, per-channel weights; quantizing the input and dequantizing the output included; null
  where this torch has no quantized convolutions);
- the ceiling in each precision, an estimate: the frame rate if every other stage and the network's
  non-convolution work stayed as measured and the convolutions ran as fast as measured alone (fp32: the
  measured rate)::

      ceiling ms = other + (network − Σ conv fp32) + Σ conv(precision)

- the roofline, a bound for direct convolution: the frame rate if the convolutions ran at this CPU's
  GEMM rate in that precision (the fastest of a few large matrix products) and the network did nothing
  else, every other stage as measured::

      roofline ms = other + conv GFLOPs / GEMM rate(precision)

  It also gives the share of the GEMM rate a precision's convolutions would need for a target frame rate
  (``--target-fps``): above 100 % no implementation of these convolutions reaches it.

Writes JSON (with the CPU's name, its bf16/int8 instruction sets and the thread count) and, run into the
default JSON, regenerates the README's table from it::

    python benchmarks/cpu_ceiling.py                                   # both bundled models
    python benchmarks/cpu_ceiling.py --models demo --frames 30 --out ceiling.json
    python benchmarks/cpu_ceiling.py --table-only                      # README table from the JSON
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
import readme_tables  # noqa: E402  (benchmarks/readme_tables.py)
from animate_speed import _animate_prepared  # noqa: E402  (benchmarks/animate_speed.py)
from live_speed import _cpu_name  # noqa: E402

from synergywarp.assets import BUNDLED_NAMES  # noqa: E402
from synergywarp.atomic import write_text_atomic  # noqa: E402
from synergywarp.inference import AnimateOptions, Animator  # noqa: E402
from synergywarp.inference.runtime import Runtime  # noqa: E402
from synergywarp.models import SynergyWarpNet  # noqa: E402

ROOT = readme_tables.ROOT
DEFAULT_JSON = ROOT / "benchmarks" / "results" / "cpu_ceiling.json"
TABLE_NAME = "cpu_ceiling"
TABLE_BEGIN, TABLE_END = readme_tables.markers(TABLE_NAME)
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
    if precision == "bf16":  # as autocast runs it: input and weights cast on every call
        weight, bias = m.weight.detach(), m.bias.detach() if m.bias is not None else None
        conv = F.conv3d if isinstance(m, nn.Conv3d) else F.conv2d
        return lambda: conv(x.bfloat16(), weight.bfloat16(), bias.bfloat16() if bias is not None else None,
                            m.stride, m.padding, m.dilation, m.groups)
    if precision == "int8":
        run = _quantized_conv(m, x)
        return lambda: run(x)
    raise ValueError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")


def median_ms(fn: Callable[[], object], repeats: int, budget_s: float = 2.0, best: bool = False) -> float:
    """Median (``best``: fastest) wall time of ``fn()`` in ms after one warm-up call (fewer repeats when a
    call is slow)."""
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
    return 1000.0 * (min(times) if best else statistics.median(times))


def ceiling_ms(other_ms: float, network_ms: float, conv_ms: dict[str, float | None]) -> dict[str, float | None]:
    """Per precision: ``other_ms + max(network_ms − conv_ms['fp32'], 0) + conv_ms[precision]`` (None stays None)."""
    fp32 = conv_ms["fp32"]
    assert fp32 is not None  # fp32 convolutions always run
    rest = max(network_ms - fp32, 0.0)
    return {precision: None if ms is None else other_ms + rest + ms for precision, ms in conv_ms.items()}


def roofline_fps(other_ms: float, conv_gflops: float, peaks: dict[str, float | None]) -> dict[str, float | None]:
    """Per precision: ``1000 / (other_ms + conv_gflops / peak · 1000)`` (peaks in GFLOP/s; None stays None)."""
    return {precision: None if peak is None else 1000.0 / (other_ms + 1000.0 * conv_gflops / peak)
            for precision, peak in peaks.items()}


def required_share(target_fps: float, other_ms: float, conv_gflops: float,
                   peaks: dict[str, float | None]) -> dict[str, float | None]:
    """Per precision: the fraction of the GEMM rate the convolutions must run at for ``target_fps`` with
    every other stage as measured and the rest of the network free (inf when the other stages alone are too
    slow; above 1: out of reach)."""
    budget_ms = 1000.0 / target_fps - other_ms
    out: dict[str, float | None] = {}
    for precision, peak in peaks.items():
        if peak is None:
            out[precision] = None
        else:
            out[precision] = math.inf if budget_ms <= 0 else 1000.0 * conv_gflops / peak / budget_ms
    return out


def int8_supported() -> bool:
    """Whether this torch runs quantized 2D and 3D convolutions (the int8 columns are null otherwise)."""
    try:
        import torch.ao.nn.quantized as nnq

        x = torch.quantize_per_tensor(torch.rand(1, 4, 2, 4, 4), 0.01, 0, torch.quint8)
        nnq.Conv3d(4, 4, 3, padding=1)(x)
        nnq.Conv2d(4, 4, 3, padding=1)(x[:, :, 0])
    except (ImportError, RuntimeError, NotImplementedError, AttributeError):
        return False
    return True


def gemm_peaks(size: int = 2048, int8: bool = True) -> dict[str, float | None]:
    """GFLOP/s (GOP/s for int8) of one ``size``² matrix product per precision, the fastest of a few runs.
    bf16 is timed at 512² where it is emulated (no AVX512-BF16/AMX: ≈ 1 GFLOP/s), at ``size`` otherwise."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    flops = 2.0 * size**3
    peaks: dict[str, float | None] = {"fp32": flops / median_ms(lambda: a @ b, 5, best=True) / 1e6}
    native_bf16 = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    side = size if native_bf16 else 512
    ab, bb = torch.randn(side, side).bfloat16(), torch.randn(side, side).bfloat16()
    peaks["bf16"] = 2.0 * side**3 / median_ms(lambda: ab @ bb, 5, best=True) / 1e6
    peaks["int8"] = None
    if int8:
        import torch.ao.nn.quantized as nnq

        linear = nnq.Linear(size, size)
        linear.set_weight_bias(torch.quantize_per_tensor(torch.randn(size, size) * 0.05, 1e-3, 0, torch.qint8),
                               torch.zeros(size))
        x = torch.quantize_per_tensor(torch.rand(size, size), 0.01, 0, torch.quint8)
        peaks["int8"] = flops / median_ms(lambda: linear(x), 5, best=True) / 1e6
    return peaks


def conv_flops_counted(model: nn.Module, call: Callable[[], object]) -> float:
    """Convolution FLOPs of ``call()`` by torch's FLOP counter, with the runtime's oneDNN 3D forward (which
    the counter does not see) switched off for the count."""
    from torch.utils.flop_counter import FlopCounterMode

    from synergywarp.inference.runtime import use_fast_conv3d

    patched = use_fast_conv3d(model, False)
    counter = FlopCounterMode(display=False)
    try:
        with counter, torch.inference_mode():
            call()
    finally:
        if patched:
            use_fast_conv3d(model, True)
    return float(sum(count for op, count in counter.get_flop_counts()["Global"].items() if "convolution" in str(op)))


def _share(gflops: float, peak: float | None, ms: float | None) -> float | None:
    """The fraction of the GEMM rate ``peak`` (GFLOP/s) that ``gflops`` done in ``ms`` amounts to."""
    return None if peak is None or ms is None else 1000.0 * gflops / peak / ms


def measure_model(name: str, frames: int, size: int, repeats: int, peaks: dict[str, float | None],
                  target_fps: float = 20.0) -> dict[str, Any]:
    """One bundled model: stages, convolutions per precision, FLOPs and ceilings (see the module doc)."""
    from synergywarp.inference.demo import demo_inputs
    from synergywarp.io import read_video

    model = SynergyWarpNet.from_pretrained(BUNDLED_NAMES[name])
    animator = Animator(model, Runtime.create("cpu", "fp32"))
    source, _references, driving = demo_inputs()
    video, fps = read_video(driving)
    warm = 4
    video = video[: warm + frames]
    prepared = animator.prepare(source, [], AnimateOptions(check_identity=False, output_size=size, batch=1))
    with tempfile.TemporaryDirectory() as folder:
        _animate_prepared(animator, prepared, video[:warm], fps, Path(folder) / "warm.mp4")
        animator.stage_seconds.clear()
        start = time.perf_counter()
        count = _animate_prepared(animator, prepared, video[warm:], fps, Path(folder) / "out.mp4")
        wall = time.perf_counter() - start
    stages = {stage: 1000.0 * seconds / count for stage, seconds in animator.stage_seconds.items()}
    network_ms = stages.get("model", 0.0)
    unstaged_ms = max(1000.0 * wall / count - sum(stages.values()), 0.0)  # the writer, the generator, Python
    other_ms = sum(stages.get(stage, 0.0) for stage in OTHER_STAGES) + unstaged_ms

    one_frame = video[warm: warm + 1]

    def frame() -> None:
        for _ in animator.animate(prepared, one_frame):
            pass

    calls = capture_convs(animator.model, frame)
    conv_gflops = sum(call.flops for call in calls) / 1e9
    counted_gflops = conv_flops_counted(animator.model, frame) / 1e9
    if abs(counted_gflops - conv_gflops) > 1e-6 * max(counted_gflops, 1.0):
        raise RuntimeError(f"{name}: the captured convolutions hold {conv_gflops:.4f} GFLOPs, torch counts "
                           f"{counted_gflops:.4f}: a convolution ran outside an nn.Conv2d/Conv3d module")
    conv_ms: dict[str, float | None] = {precision: 0.0 for precision in PRECISIONS}
    for precision in PRECISIONS:
        if peaks.get(precision, 0.0) is None:  # not runnable on this torch (int8 without quantized kernels)
            conv_ms[precision] = None
            continue
        conv_ms[precision] = sum(median_ms(conv_function(call, precision), repeats) for call in calls)
    ceilings = ceiling_ms(other_ms, network_ms, conv_ms)
    return {
        "model": name,
        "config": model.config.name,
        "network_size": model.config.image_size,
        "output_size": size,
        "frames": count,
        "fps": count / wall,
        "stages_ms": stages,
        "network_ms": network_ms,
        "unstaged_ms": unstaged_ms,
        "other_stages_ms": other_ms,
        "conv_gflops_per_frame": conv_gflops,
        "convolutions": len(calls),
        "conv_ms": conv_ms,
        "ceiling_ms": ceilings,
        "ceiling_fps": {precision: None if ms is None else 1000.0 / ms for precision, ms in ceilings.items()},
        "roofline_fps": roofline_fps(other_ms, conv_gflops, peaks),
        "target_fps": target_fps,
        "required_share_of_gemm_rate": required_share(target_fps, other_ms, conv_gflops, peaks),
        "conv_share_of_gemm_rate": {precision: _share(conv_gflops, peaks.get(precision), ms)
                                    for precision, ms in conv_ms.items()},
    }


def _fmt(value: float | None, scale: float = 1.0, digits: int = 1, suffix: str = "") -> str:
    return "–" if value is None else f"{value * scale:.{digits}f}{suffix}"


def readme_table(report: dict[str, Any]) -> str:
    """The README's table (fp32 and int8; the JSON has bf16 too) and the GEMM rates it used."""
    peaks = report["gemm_peak_gflops"]
    lines = [
        f"Measured on {report['cpu']}, {report['threads']} threads, torch {report['torch']}; GEMM rate (fastest "
        f"2048² product): fp32 {_fmt(peaks['fp32'])} GFLOP/s, int8 {_fmt(peaks['int8'])} GOP/s, bf16 "
        f"{_fmt(peaks['bf16'])} GFLOP/s.",
        "",
        "| model | conv GFLOPs/frame | fps measured | network ms | conv ms alone, fp32 / int8 "
        "| ceiling fps fp32 / int8 | roofline fps fp32 / int8 | share of the GEMM rate run / needed for "
        f"{_fmt(report['rows'][0]['target_fps'], digits=0)} fps, fp32 · int8 | other ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in report["rows"]:
        c, f, roof = r["conv_ms"], r["ceiling_fps"], r["roofline_fps"]
        run, need = r["conv_share_of_gemm_rate"], r["required_share_of_gemm_rate"]
        lines.append(
            f"| {r['model']} (`{r['config']}`, {r['network_size']}²) "
            f"| {r['conv_gflops_per_frame']:.2f} | {r['fps']:.1f} | {r['network_ms']:.1f} "
            f"| {_fmt(c['fp32'])} / {_fmt(c['int8'])} | {_fmt(f['fp32'])} / {_fmt(f['int8'])} "
            f"| {_fmt(roof['fp32'])} / {_fmt(roof['int8'])} "
            f"| {_fmt(run['fp32'], 100, 0, ' %')} / {_fmt(need['fp32'], 100, 0, ' %')} · "
            f"{_fmt(run['int8'], 100, 0, ' %')} / {_fmt(need['int8'], 100, 0, ' %')} | {r['other_stages_ms']:.1f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["demo", "demo-live"], choices=sorted(BUNDLED_NAMES))
    parser.add_argument("--frames", type=int, default=40, help="driving frames timed end to end (after 4 warm-up)")
    parser.add_argument("--size", type=int, default=256, help="output size")
    parser.add_argument("--repeats", type=int, default=9, help="timed calls per convolution and precision")
    parser.add_argument("--target-fps", type=float, default=20.0, help="the frame rate the shares are computed for")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--out", type=Path, default=DEFAULT_JSON)
    readme_tables.add_arguments(parser, TABLE_NAME)
    args = parser.parse_args(argv)
    if readme_tables.resolve(parser, args, TABLE_NAME, DEFAULT_JSON, readme_table):
        return 0
    if args.threads:
        torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", message=".*quantize.*deprecated.*")
    if "onednn" in torch.backends.quantized.supported_engines:
        torch.backends.quantized.engine = "onednn"  # the fastest int8 convolutions measured on AVX2 and up
    peaks = gemm_peaks(int8=int8_supported())
    rows = [measure_model(name, args.frames, args.size, args.repeats, peaks, args.target_fps) for name in args.models]
    report = {
        "cpu": _cpu_name(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "quantized_engine": torch.backends.quantized.engine,
        "gemm_peak_gflops": peaks,
        "rows": rows,
    }
    write_text_atomic(args.out, json.dumps(report, indent=2) + "\n")
    if args.readme is not None:
        readme_tables.replace_table(args.readme, TABLE_NAME, readme_table(report))
    print(readme_table(report))  # bf16 (emulated on CPUs without AVX512-BF16/AMX) is in the JSON
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

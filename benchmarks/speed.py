"""Per-frame cost of SynergyWarpNet with source/reference work cached.

For each config, number of references R and path (explicit-only: RAC off, C ≡ 1; full: RAC + CGF),
reports parameters, GFLOPs per frame (torch's FLOP counter; fused attention counted analytically when
the counter misses it) and median milliseconds per frame in fp32 and bf16 autocast, run the way the
``Animator`` runs them (``inference.runtime.Runtime``: inference mode, autocast, channels-last 2D
convolutions on CUDA only), plus the bf16-vs-fp32 output PSNR. Prints a table and writes JSON.

    python benchmarks/speed.py                       # tiny, small, lp256
    python benchmarks/speed.py --configs small --repeats 5 --out benchmarks/results/speed.json
    python benchmarks/speed.py --device cuda --batch 8 --out benchmarks/results/speed_cuda.json

``--batch N`` animates N driving frames per call (ms are then per frame: call time / N). Models with
a prior candidate (``*_tracked_mesh``) get a random smooth prior grid.
"""

from __future__ import annotations

import argparse
import copy
import functools
import json
import math
import platform
import statistics
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from synergywarp.inference.runtime import Runtime
from synergywarp.models import create_model

RUNTIME_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}
SDPA_OPS = ("scaled_dot_product", "_flash_attention", "_efficient_attention")


def attention_flops(model, num_refs: int) -> float:
    """Analytic FLOPs of the RAC attention products per frame: 4·Nq·Nk·d per layer (QKᵀ and AV)."""
    rac = model.config.rac
    grid = min(rac.attention_grid, model.config.feature_size)
    nq = grid * grid
    nk = (num_refs + (1 if rac.source_as_key else 0)) * nq + 1
    return 4.0 * nq * nk * rac.dim * rac.layers


def make_inputs(model, num_refs: int, seed: int = 0, batch: int = 1, device: str = "cpu"):
    g = torch.Generator().manual_seed(seed)
    s, k = model.config.image_size, model.config.num_kp
    source = torch.rand(1, 3, s, s, generator=g)
    driving = torch.rand(batch, 3, s, s, generator=g)
    refs = torch.rand(1, num_refs, 3, s, s, generator=g)
    kp = None
    if model.config.motion == "tracked":
        kp = {
            "source": torch.rand(1, k, 3, generator=g) - 0.5,
            "driving": torch.rand(batch, k, 3, generator=g) - 0.5,
            "refs": torch.rand(1, num_refs, k, 3, generator=g) - 0.5,
        }
    if model.config.warp.dense_motion.prior_candidate:
        centres = (torch.arange(s, dtype=torch.float32) + 0.5) * 2 / s - 1
        ys, xs = torch.meshgrid(centres, centres, indexing="ij")
        wobble = 0.05 * torch.sin(3 * xs + torch.rand(batch, 1, 1, generator=g) * 6)
        kp = kp or {}
        kp["prior"] = torch.stack([xs + wobble, ys - wobble], -1)
    move = lambda t: t.to(device)  # noqa: E731
    kp = {key: move(v) for key, v in kp.items()} if kp else None
    return move(source), move(driving), move(refs), kp


def prepare(model, source, driving, refs, kp, path: str):
    """Cached source/reference state and the driving keypoints (per-frame motion is timed separately)."""
    state = model.encode_source(source, kp["source"] if kp else None)
    tokens = None
    if path == "full":
        tokens = model.encode_references(state, refs, kp["refs"] if kp else None)
    driving_kp, _ = model.motion_source.driving(state, driving, kp.get("driving") if kp else None)
    return state, tokens, driving_kp


def frame_step(model, state, tokens, driving, driving_kp, path: str, learned: bool, prior=None):
    """Everything done per driving frame: motion estimation (learned) + warp + RAC + CGF + decode."""
    if learned:
        driving_kp, _ = model.motion_source.driving(state, driving, None)
    mode = "explicit" if path == "explicit" else None
    return model.animate(state, driving_kp, tokens, fusion_mode=mode, prior_grid=prior).image


def count_flops(model, state, tokens, driving, driving_kp, path, learned, num_refs, prior=None) -> tuple[float, bool]:
    counter = FlopCounterMode(display=False)
    with counter:
        frame_step(model, state, tokens, driving, driving_kp, path, learned, prior)
    total = float(counter.get_total_flops())
    counted_ops = {str(op) for ops in counter.get_flop_counts().values() for op in ops}
    sdpa_counted = any(any(s in op for s in SDPA_OPS) for op in counted_ops)
    if path == "full" and not sdpa_counted:
        total += attention_flops(model, num_refs)
    return total, sdpa_counted


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def time_frames(fn, repeats: int, warmup: int = 2, device: str = "cpu") -> float:
    """Median milliseconds of ``fn()`` (device work included: CUDA is synchronised around each call)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000.0


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = (a.float() - b.float()).pow(2).mean().item()
    return float("inf") if mse == 0 else 10 * math.log10(1.0 / mse)


def calibrate_output(model, device: str = "cpu") -> None:
    """Scale the decoder's last conv so pre-sigmoid logits have std 2 on a random input.

    Random SPADE decoders produce logits with std ≈ 16 (a trained one: a few units), which saturates
    the sigmoid and makes any bf16 rounding flip pixels; the fidelity check would then measure the
    random init, not the arithmetic. Documented in the README next to the numbers.
    """
    conv_img = model.decoder.conv_img
    conv = conv_img[0] if isinstance(conv_img, torch.nn.Sequential) else conv_img
    logits = []
    handle = conv.register_forward_hook(lambda mod, inp, out: logits.append(out))
    _, _, _, kp = make_inputs(model, 0, seed=1, device=device)
    s = model.config.image_size
    with torch.no_grad():
        source_kp = kp["source"] if kp and "source" in kp else None
        state = model.encode_source(torch.rand(1, 3, s, s, device=device), source_kp)
        model.animate(state, state.keypoints, None, fusion_mode="explicit", prior_grid=kp.get("prior") if kp else None)
        handle.remove()
        scale = 2.0 / logits[0].std().item()
        conv.weight.mul_(scale)
        conv.bias.mul_(scale)


def bench_config(name: str, refs_list: list[int], repeats: int, dtypes: list[str], checkpoint: Path | None = None,
                 device: str = "cpu", batch: int = 1) -> list[dict]:
    rows = []
    torch.manual_seed(0)
    if checkpoint is not None:
        from synergywarp.models import SynergyWarpNet

        model = SynergyWarpNet.from_pretrained(checkpoint).eval().to(device)
    else:
        model = create_model(name).eval().to(device)
        calibrate_output(model, device)
        with torch.no_grad():
            model.rac.out.weight.normal_(0, 0.02)  # a non-trivial correction so both paths do real work
            model.fusion.head[-1].weight.normal_(0, 0.02)
    params = sum(p.numel() for p in model.parameters())
    learned = model.config.motion == "learned"
    for num_refs in refs_list:
        for path in ("explicit", "full"):
            if path == "explicit" and num_refs != refs_list[0]:
                continue  # the explicit path ignores references
            source, driving, refs, kp = make_inputs(model, num_refs, batch=batch, device=device)
            prior = kp.get("prior") if kp else None
            row = {"config": name, "refs": num_refs, "path": path, "params_M": params / 1e6, "batch": batch}
            reference_image = None
            for dtype in dtypes:
                # The Animator's execution path: Runtime.prepare_model (2D convs channels-last on CUDA),
                # Runtime.to_device (channels-last images on CUDA), Runtime.context (inference mode, autocast).
                runtime = Runtime(torch.device(device), RUNTIME_DTYPES[dtype])
                net = runtime.prepare_model(copy.deepcopy(model) if runtime.use_channels_last else model)
                src, drv = runtime.to_device(source), runtime.to_device(driving)
                with runtime.context():
                    state, tokens, driving_kp = prepare(net, src, drv, refs, kp, path)
                    if dtype == "fp32" or "gflops" not in row:
                        flops, sdpa_counted = count_flops(net, state, tokens, drv, driving_kp, path, learned, num_refs,
                                                          prior)
                        row["gflops"] = flops / 1e9 / batch
                        row["sdpa_in_flop_counter"] = sdpa_counted
                    image = frame_step(net, state, tokens, drv, driving_kp, path, learned, prior)
                    step = functools.partial(frame_step, net, state, tokens, drv, driving_kp, path, learned, prior)
                    ms = time_frames(step, repeats, device=device) / batch
                row[f"ms_{dtype}"] = ms
                if dtype == "fp32":
                    reference_image = image
                elif reference_image is not None:
                    row["psnr_bf16_vs_fp32"] = psnr(image, reference_image)
            rows.append(row)
    return rows


def summarise(rows: list[dict]) -> dict:
    """Targets: full R=2 vs explicit (FLOPs and time), growth in R, bf16 speed-up and fidelity."""
    out = {}
    for name in sorted({r["config"] for r in rows}):
        mine = [r for r in rows if r["config"] == name]
        explicit = next(r for r in mine if r["path"] == "explicit")
        full = {r["refs"]: r for r in mine if r["path"] == "full"}
        s = {}
        if 2 in full:
            s["flops_ratio_full_r2_vs_explicit"] = full[2]["gflops"] / explicit["gflops"]
            s["time_ratio_full_r2_vs_explicit_fp32"] = full[2]["ms_fp32"] / explicit["ms_fp32"]
        if "ms_bf16" in explicit:
            s["bf16_speedup_explicit"] = explicit["ms_fp32"] / explicit["ms_bf16"]
            s["min_psnr_bf16_vs_fp32"] = min(r.get("psnr_bf16_vs_fp32", float("inf")) for r in mine)
        refs = sorted(full)
        if len(refs) >= 2:
            per_ref = [(full[b]["gflops"] - full[a]["gflops"]) / (b - a) for a, b in zip(refs, refs[1:])]
            s["gflops_per_reference"] = per_ref
        out[name] = s
    return out


def print_table(rows: list[dict]) -> None:
    header = (f"{'config':<14}{'R':>3} {'path':<9}{'params(M)':>10}{'GFLOPs':>9}{'ms fp32':>10}{'ms bf16':>10}"
              f"{'PSNR bf16':>11}")
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r['config']:<14}{r['refs']:>3} {r['path']:<9}{r['params_M']:>10.2f}{r['gflops']:>9.2f}"
            f"{r.get('ms_fp32', float('nan')):>10.1f}{r.get('ms_bf16', float('nan')):>10.1f}"
            f"{r.get('psnr_bf16_vs_fp32', float('nan')):>11.1f}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--configs", nargs="+", default=["tiny", "small", "lp256"])
    parser.add_argument("--refs", nargs="+", type=int, default=[0, 1, 2, 4])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dtypes", nargs="+", default=["fp32", "bf16"], choices=["fp32", "bf16"])
    parser.add_argument("--checkpoint", nargs="*", default=[], metavar="NAME=PATH",
                        help="use trained weights for a config, e.g. small=path/demo.safetensors")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda[:N]")
    parser.add_argument("--batch", type=int, default=1, help="driving frames per call (ms are per frame)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/speed.json"))
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    checkpoints = dict(item.split("=", 1) for item in args.checkpoint)
    rows = []
    for name in args.configs:
        ckpt = Path(checkpoints[name]) if name in checkpoints else None
        rows.extend(bench_config(name, sorted(args.refs), args.repeats, args.dtypes, ckpt, args.device, args.batch))
    print_table(rows)
    summary = summarise(rows)
    print(json.dumps(summary, indent=1))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    machine = {"platform": platform.platform(), "processor": platform.processor(), "torch": torch.__version__,
               "threads": torch.get_num_threads(), "device": args.device, "batch": args.batch}
    if args.device.startswith("cuda"):
        machine["gpu"] = torch.cuda.get_device_name(torch.device(args.device))
    args.out.write_text(json.dumps({"machine": machine, "rows": rows, "summary": summary}, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

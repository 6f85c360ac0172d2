"""CPU backends of the per-frame network side by side, each next to its baseline in the same run.

Backends (fp32; the Animator's ``Runtime`` with these settings):

- ``eager-stock``: PyTorch eager as before this benchmark existed (3D convolutions on PyTorch's own CPU
  heuristic, which sends batch-1 dense motion to the unvectorised ``slow_conv3d``) — the baseline;
- ``eager``: PyTorch eager with the runtime's oneDNN 3D convolutions (the default ``--backend torch``);
- ``jit``: TorchScript (``--backend jit``; traced, frozen and optimised on the first call per shape);
- ``onnx``: ONNX Runtime (``--backend onnx``; export and check on the first call, timed separately);
- ``compile``: ``torch.compile`` (inductor; opt-in with ``--backends ... compile``: minutes to compile here).

Two sections, each configuration's backends interleaved repeat by repeat (medians), as the machine is shared:

- ``frame``: milliseconds per driving frame of ``animate`` alone (source and references prepared), at
  output sizes 128/256/512, R = 0 and 2 references, batch 1 and 8; max abs difference and PSNR of each
  backend's image against ``eager-stock``'s (random-noise inputs: a numerical check, not a quality one);
- ``e2e``: frames per second of the whole :class:`~synergywarp.inference.Animator` (driving face tracking,
  crops, motion, mesh warps, network, paste-back, H.264 encoding) on the bundled portrait, references and
  driving clip, and the PSNR of its animated crops against ``eager-stock``'s.

Models: registered names (the bundled weights where shapes allow, new modules random: timing and numerics
only) or the bundled models by name (``demo``, ``demo-live``).

Writes JSON (with the CPU, its bf16 flags and the load average before and after) and regenerates the
README's table from it:

    python benchmarks/backend_speed.py                                   # everything (long on 2 cores)
    python benchmarks/backend_speed.py --sections frame --sizes 256 --batches 1 --repeats 3
    python benchmarks/backend_speed.py --table-only                      # README table from the JSON
"""

from __future__ import annotations

import argparse
import copy
import functools
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import readme_tables  # noqa: E402  (benchmarks/readme_tables.py)
from animate_speed import _animate_prepared  # noqa: E402  (benchmarks/animate_speed.py)
from live_speed import _cpu_name  # noqa: E402

from synergywarp.assets import BUNDLED_MODEL, BUNDLED_NAMES  # noqa: E402
from synergywarp.atomic import write_text_atomic  # noqa: E402
from synergywarp.inference.runtime import Runtime  # noqa: E402
from synergywarp.models import SynergyWarpNet, create_model  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BACKENDS = ("eager-stock", "eager", "jit", "onnx", "compile")
BASELINE = "eager-stock"


def runtime(backend: str, threads: int) -> Runtime:
    """The Animator's runtime for one benchmark backend (CPU, fp32)."""
    cpu = torch.device("cpu")
    if backend == "eager-stock":
        return Runtime(cpu, torch.float32, fast_conv3d=False)
    if backend == "compile":
        return Runtime(cpu, torch.float32, compile=True)
    if backend == "jit":
        return Runtime(cpu, torch.float32, backend="jit")
    return Runtime(cpu, torch.float32, backend="torch" if backend == "eager" else "onnx", threads=threads)


def load_model(name: str) -> tuple[SynergyWarpNet, str]:
    """A bundled model by name (``demo``, ``demo-live``), the bundled demo model if its config is ``name``,
    or ``name`` started from its weights where shapes allow (random elsewhere)."""
    if name in BUNDLED_NAMES:
        model = SynergyWarpNet.from_pretrained(BUNDLED_NAMES[name])
        return model.eval(), f"{model.config.name} (bundled {name})"
    bundled = SynergyWarpNet.from_pretrained(BUNDLED_MODEL)
    if bundled.config.name == name:
        return bundled.eval(), f"{name} (bundled weights)"
    from synergywarp.train.trainer import extend_from_checkpoint

    torch.manual_seed(0)
    model = create_model(name)
    try:
        new = extend_from_checkpoint(model, str(BUNDLED_MODEL))
        label = f"{name} (bundled weights, {len(new)} new tensors random)"
    except Exception as error:  # another architecture: random weights
        label = f"{name} (random weights: {type(error).__name__})"
    return model.eval(), label


def psnr(image: torch.Tensor | np.ndarray, reference: torch.Tensor | np.ndarray, peak: float) -> float | None:
    """PSNR in dB (None when identical)."""
    diff = np.asarray(image, dtype=np.float64) - np.asarray(reference, dtype=np.float64)
    mse = float(np.mean(diff * diff))
    return None if mse == 0 else 10 * math.log10(peak * peak / mse)


def interleaved(calls: dict[str, Callable[[], object]], repeats: int) -> dict[str, list[float]]:
    """Seconds of each call, ``repeats`` rounds, the order rotated every round."""
    seconds: dict[str, list[float]] = {name: [] for name in calls}
    names = list(calls)
    for round_ in range(repeats):
        for name in names[round_ % len(names):] + names[:round_ % len(names)]:
            start = time.perf_counter()
            calls[name]()
            seconds[name].append(time.perf_counter() - start)
    return seconds


# ---------------------------------------------------------------------------------------------- frame
def frame_case(model: SynergyWarpNet, size: int, refs: int, batch: int, seed: int = 0):
    """Prepared source state, reference tokens and one call's arguments (random images, a smooth prior)."""
    g = torch.Generator().manual_seed(seed)
    s, k = model.config.image_size, model.config.num_kp
    keypoints = torch.rand(1, k, 3, generator=g) - 0.5
    centres = (torch.arange(s, dtype=torch.float32) + 0.5) * 2 / s - 1
    ys, xs = torch.meshgrid(centres, centres, indexing="ij")
    wobble = 0.05 * torch.sin(3 * xs + torch.rand(batch, 1, 1, generator=g) * 6)
    prior = torch.stack([xs + wobble, ys - wobble], -1)
    with torch.inference_mode():
        state = model.encode_source(torch.rand(1, 3, s, s, generator=g), keypoints,
                                    image_hr=torch.rand(1, 3, size, size, generator=g))
        tokens = model.encode_references(state, torch.rand(1, refs, 3, s, s, generator=g) if refs else None,
                                         keypoints + 0.02 * torch.randn(1, refs, k, 3, generator=g) if refs else None)
    kwargs = {"prior_grid": prior, "output_size": size}
    if refs and model.pixel_fusion is not None:
        kwargs.update(reference_images=torch.rand(1, refs, 3, size, size, generator=g),
                      reference_grids=prior[:, None].expand(batch, refs, s, s, 2) + 0.01)
    driving = keypoints + 0.03 * torch.randn(batch, k, 3, generator=g)
    return state, tokens, driving, kwargs


def frame_rows(model: SynergyWarpNet, label: str, backends: list[str], sizes: list[int], refs: list[int],
               batches: list[int], repeats: int, threads: int, report: Callable[[dict], None]) -> None:
    copies = {name: runtime(name, threads) for name in backends}
    functions = {}
    for name, rt in copies.items():
        prepared = rt.prepare_model(copy.deepcopy(model))
        functions[name] = rt.frame_function(prepared)
    for size in sizes:
        for count in refs:
            for batch in batches:
                state, tokens, driving, kwargs = frame_case(model, size, count, batch)
                images, first = {}, {}
                with torch.inference_mode():
                    for name, fn in functions.items():  # first call: export / compile, and the image
                        start = time.perf_counter()
                        images[name] = fn(state, driving, tokens, **kwargs).image.float()
                        first[name] = time.perf_counter() - start
                    calls = {name: functools.partial(fn, state, driving, tokens, **kwargs)
                             for name, fn in functions.items()}
                    seconds = interleaved(calls, repeats)
                reference = images.get(BASELINE, next(iter(images.values())))
                for name in functions:
                    report({"section": "frame", "model": label, "backend": name, "output_size": size, "refs": count,
                            "batch": batch, "ms_per_frame": 1000 * statistics.median(seconds[name]) / batch,
                            "ms_all": [1000 * s / batch for s in seconds[name]], "first_call_s": first[name],
                            "max_abs_vs_baseline": float((images[name] - reference).abs().max()),
                            "psnr_vs_baseline_db": psnr(images[name], reference, 1.0)})


# ---------------------------------------------------------------------------------------------- e2e
def e2e_rows(model: SynergyWarpNet, label: str, backends: list[str], sizes: list[int], refs: list[int],
             batches: list[int], frames: int, repeats: int, threads: int, report: Callable[[dict], None]) -> None:
    from synergywarp.inference import AnimateOptions, Animator
    from synergywarp.inference.demo import demo_inputs
    from synergywarp.io import read_video

    source, references, driving = demo_inputs()
    video, fps = read_video(driving)
    video = video[:frames]
    animators = {name: Animator(copy.deepcopy(model), runtime(name, threads)) for name in backends}
    for size in sizes:
        for count in refs:
            for batch in batches:
                options = AnimateOptions(check_identity=False, output_size=size, batch=batch)
                prepared = {name: a.prepare(source, references[:count], options) for name, a in animators.items()}
                crops, first = {}, {}
                with tempfile.TemporaryDirectory() as tmp:
                    for name, animator in animators.items():  # warm-up: export / compile; the crops
                        start = time.perf_counter()
                        crops[name] = np.stack([f.crop for f in animator.animate(prepared[name], video)])
                        first[name] = time.perf_counter() - start
                    for animator in animators.values():
                        animator.stage_seconds.clear()
                    calls = {name: functools.partial(_animate_prepared, a, prepared[name], video, fps,
                                                     Path(tmp) / f"{name}.mp4") for name, a in animators.items()}
                    seconds = interleaved(calls, repeats)
                reference = crops.get(BASELINE, next(iter(crops.values())))
                for name, animator in animators.items():
                    n = len(video) * repeats
                    stages = {f"ms_{stage}": 1000 * value / n
                              for stage, value in sorted(animator.stage_seconds.items())}
                    report({"section": "e2e", "model": label, "backend": name, "output_size": size, "refs": count,
                            "batch": batch, "frames": len(video), "fps": len(video) / statistics.median(seconds[name]),
                            "fps_all": [len(video) / s for s in seconds[name]], "first_run_s": first[name],
                            "psnr_vs_baseline_db": psnr(crops[name], reference, 255.0), **stages})


# ---------------------------------------------------------------------------------------------- table
def _cell(value: float | None, digits: int = 0) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def markdown_table(result: dict) -> str:
    """The README's table: per configuration, each backend's ms/frame (frame) or fps (e2e) and PSNR."""
    rows = result["rows"]
    backends = [b for b in BACKENDS if any(r["backend"] == b for r in rows)]
    machine = result["machine"]
    lines = [f"Measured {result['date']} on {machine['cpu']}, torch {machine['torch']}, onnxruntime "
             f"{machine.get('onnxruntime', '–')}, {machine['threads']} threads; load average "
             f"{machine['load_average_before'][0]:.1f} before, {machine['load_average_after'][0]:.1f} after"
             + (f" ({result['note']})" if result.get("note") else "") + ".", ""]
    for section, unit in (("frame", "ms per frame (network only)"), ("e2e", "frames/s end to end")):
        chosen = [r for r in rows if r["section"] == section]
        if not chosen:
            continue
        lines += [f"**{unit}**; PSNR vs {BASELINE} in brackets (dB; – = identical):", "",
                  "| model | output | R | batch | " + " | ".join(backends) + " |",
                  "|---|---:|---:|---:|" + "---:|" * len(backends)]
        keys = sorted({(r["model"], r["output_size"], r["refs"], r["batch"]) for r in chosen},
                      key=lambda k: (k[0], k[1], k[2], k[3]))
        for key in keys:
            cells = []
            for backend in backends:
                row = next((r for r in chosen if (r["model"], r["output_size"], r["refs"], r["batch"]) == key
                            and r["backend"] == backend), None)
                if row is None:
                    cells.append("")
                    continue
                value = row["ms_per_frame"] if section == "frame" else row["fps"]
                fidelity = "" if backend == BASELINE else f" ({_cell(row['psnr_vs_baseline_db'])})"
                cells.append(_cell(value, 0 if section == "frame" else 2) + fidelity)
            model = key[0].split(" ")[0]
            lines.append(f"| `{model}` | {key[1]}² | {key[2]} | {key[3]} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def write_readme_table(result: dict, readme: Path) -> None:
    """Replace the text between the README's backend_speed markers with :func:`markdown_table`."""
    readme_tables.replace_table(readme, "backend_speed", markdown_table(result))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=["small_tracked_mesh", "small_tracked_head"])
    parser.add_argument("--backends", nargs="+", default=["eager-stock", "eager", "onnx"], choices=BACKENDS)
    parser.add_argument("--sections", nargs="+", default=["frame", "e2e"], choices=["frame", "e2e"])
    parser.add_argument("--sizes", nargs="+", type=int, default=[128, 256, 512])
    parser.add_argument("--refs", nargs="+", type=int, default=[0, 2])
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    parser.add_argument("--frames", type=int, default=16, help="driving frames of each end-to-end run")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved rounds per configuration (median)")
    parser.add_argument("--threads", type=int, default=None, help="torch and ONNX Runtime threads (default: torch's)")
    parser.add_argument("--note", default="", help="recorded with the results (e.g. what else ran)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/backend_speed.json")
    readme_tables.add_arguments(parser, "backend_speed")
    args = parser.parse_args(argv)
    if readme_tables.resolve(parser, args, "backend_speed", ROOT / "benchmarks/results/backend_speed.json",
                             markdown_table):
        return 0
    if args.threads:
        torch.set_num_threads(args.threads)
    threads = torch.get_num_threads()
    warnings.simplefilter("ignore")  # the exporter's and tracker's notes
    try:
        import onnxruntime
        ort_version = onnxruntime.__version__
    except ImportError:
        ort_version, args.backends = None, [b for b in args.backends if b != "onnx"]
    load_before, start = os.getloadavg(), time.perf_counter()
    rows: list[dict] = []

    def result() -> dict:
        machine = {"platform": platform.platform(), "cpu": _cpu_name(), "cpus": os.cpu_count(), "threads": threads,
                   "torch": torch.__version__, "onnxruntime": ort_version, "load_average_before": load_before,
                   "load_average_after": os.getloadavg(), "wall_s": time.perf_counter() - start}
        return {"date": time.strftime("%Y-%m-%d"), "note": args.note, "machine": machine, "rows": rows}

    def report(row: dict) -> None:  # rewritten after every row: a long run keeps what it measured
        rows.append(row)
        value = f"{row['ms_per_frame']:8.1f} ms/frame" if row["section"] == "frame" else f"{row['fps']:8.2f} fps"
        print(f"{row['section']:<6}{row['model'].split(' ')[0]:<20}{row['backend']:<12}{row['output_size']:>5}"
              f"{row['refs']:>3}{row['batch']:>3} {value}  PSNR {_cell(row['psnr_vs_baseline_db'], 1)}", flush=True)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(args.out, json.dumps(result(), indent=1))

    for name in args.models:
        model, label = load_model(name)
        print(f"{label}: {sum(p.numel() for p in model.parameters()) / 1e6:.2f} M parameters", flush=True)
        if "frame" in args.sections:
            frame_rows(model, label, args.backends, args.sizes, args.refs, args.batches, args.repeats, threads, report)
        if "e2e" in args.sections:
            e2e_rows(model, label, args.backends, args.sizes, args.refs, args.batches, args.frames, args.repeats,
                     threads, report)
    write_text_atomic(args.out, json.dumps(result(), indent=1))
    if args.readme is not None:
        write_readme_table(result(), args.readme)
    print(f"wrote {args.out}" + (f" and the table in {args.readme}" if args.readme is not None else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

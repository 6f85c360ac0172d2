"""``synergywarp live --camera clip.mp4`` speed on this CPU: the bundled models, output sizes, frames
rendering at once (``--workers``) and references, next to the baseline in the same run.

With the bundled portrait, references and driving clip, for each model (``demo``: the demo model, 128²
network; ``demo-live``: its live twin, 64² network), backend (``torch``, ``jit``: TorchScript, ``onnx``),
output size, worker count and reference count:

- live, fast: every frame handed over as soon as the previous one is taken (the per-frame path's
  throughput, no drops; its latency includes the frames waiting for a free worker);
- live, real time (``--realtime``): the clip paced at its 25 fps like a camera (looped for
  ``--seconds``); fps shown, end-to-end latency (capture → view ready, overlay and compositing
  included) and frames dropped;
- offline ``animate`` (``--offline``): ``Animator.animate_to_file`` over the clip (tracking pass,
  batches of 8, paste-back, H.264 encoding), frames per second.

The baseline of every live row is the demo model on ``--backend torch`` with one worker at the same
size, references and mode (``speedup``). Prints a table and writes JSON (with the CPU's name and bf16
instruction sets, and the load average, as the machine is shared). On a CPU without native bf16 (no
AVX512-BF16/AMX) bf16 is emulated and far slower than fp32.

    python benchmarks/live_speed.py                       # fp32; both models, 256² and 512², 1 and 2 workers
    python benchmarks/live_speed.py --models demo-live --sizes 256 --workers 2 --realtime --seconds 8
    python benchmarks/live_speed.py --models demo demo-live runs/other.safetensors --backends torch jit \
        --sizes 256 --refs 0 --rounds 5     # interleaved rounds: this VM's speed drifts over minutes

With ``--rounds N`` the grid runs N times over, each configuration once per round, so a slow phase of a
shared machine hits all of them alike; the summary gives each configuration's median and range.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch

from synergywarp.app.live import VideoFileCamera, run_live
from synergywarp.assets import BUNDLED_NAMES
from synergywarp.inference import AnimateOptions, Animator
from synergywarp.inference.demo import demo_inputs


def live_row(animator: Animator, prepared, driving: Path, pace: str, seconds: float, workers: int) -> dict:
    camera = VideoFileCamera(driving, pace=pace, loop=pace == "realtime")
    stats = run_live(animator, prepared, camera, max_seconds=seconds if pace == "realtime" else None,
                     workers=workers)
    row = stats.as_dict()
    row.pop("latency_ms_mean")
    return {"mode": f"live {pace}", **row}


def offline_row(animator: Animator, source, references, driving: Path, size: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        result = animator.animate_to_file(source, driving, Path(tmp) / "out.mp4", references,
                                          AnimateOptions(check_identity=False, output_size=size))
    return {"mode": "offline animate", "frames": result.num_frames, "seconds": result.seconds,
            "fps": result.frames_per_second}


def run(args: argparse.Namespace, dtype: str, model: str, backend: str, driving: Path, report, round_index: int
        ) -> None:
    animator = Animator.from_pretrained(model, device="cpu", dtype=dtype, backend=backend)
    source, references, _ = demo_inputs()
    for refs in args.refs:
        chosen = list(references)[:refs]
        for size in args.sizes:
            prepared = animator.prepare(source, chosen, AnimateOptions(check_identity=False, output_size=size))
            label = model if model in BUNDLED_NAMES else Path(model).stem
            common = {"model": label, "backend": backend, "dtype": dtype, "size": size, "refs": refs,
                      "round": round_index}
            if args.offline:
                report({**offline_row(animator, source, chosen, driving, size), **common, "workers": 1})
            for workers in args.workers:
                for pace in ("fast", "realtime") if args.realtime else ("fast",):
                    report({**live_row(animator, prepared, driving, pace, args.seconds, workers), **common})


def first_frames(frames: int, folder: Path) -> Path:
    """The bundled driving clip, cut to its first ``frames`` frames (same fps)."""
    from synergywarp.io import VideoWriter, read_video

    video, fps = read_video(demo_inputs()[2])
    path = folder / "driving.mp4"
    with VideoWriter(path, fps) as writer:
        writer.write(video[:frames])
    return path


HEADER = (f"{'model':<11}{'backend':<8}{'mode':<17}{'dtype':<6}{'size':>5}{'refs':>5}{'workers':>8}"
          f"{'frames':>7}{'fps':>7}{'speedup':>8}{'p50 ms':>8}{'p95 ms':>8}{'captured':>9}{'dropped':>8}")


CONFIG_KEYS = ("model", "backend", "mode", "dtype", "size", "refs", "workers")


def summary(rows: list[dict]) -> str:
    """Each configuration's median fps (and range) and median speedup over the rounds."""
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault(tuple(row[k] for k in CONFIG_KEYS), []).append(row)
    lines = [f"\n{'model':<16}{'backend':<8}{'mode':<17}{'dtype':<6}{'size':>5}{'refs':>5}{'workers':>8}"
             f"{'rounds':>7}{'fps median':>11}{'range':>14}{'speedup':>9}"]
    for group in groups.values():
        fps = sorted(r["fps"] for r in group)
        speedups = [r["speedup"] for r in group if r.get("speedup")]
        first = group[0]
        median_speedup = f"{statistics.median(speedups):>8.2f}×" if speedups else f"{'':>9}"
        lines.append(f"{first['model']:<16}{first['backend']:<8}{first['mode']:<17}{first['dtype']:<6}"
                     f"{first['size']:>5}{first['refs']:>5}{first['workers']:>8}{len(group):>7}{statistics.median(fps):>11.2f}"
                     f"{f'{fps[0]:.1f}–{fps[-1]:.1f}':>14}" + median_speedup)
    return "\n".join(lines)


def add_speedup(row: dict, rows: list[dict]) -> None:
    """``speedup``: fps over the baseline row (demo model on torch, one worker, same mode/dtype/size/refs and
    round)."""
    key = ("mode", "dtype", "size", "refs", "round")
    base = next((r for r in rows if r["model"] == "demo" and r["backend"] == "torch" and r.get("workers") == 1
                 and all(r.get(k) == row.get(k) for k in key)), None)
    row["speedup"] = row["fps"] / base["fps"] if base and base["fps"] > 0 else None


def table_row(r: dict) -> str:
    p50, p95 = r.get("latency_ms_p50"), r.get("latency_ms_p95")
    cells = f"{p50:>8.0f}{p95:>8.0f}{r['captured']:>9}{r['dropped']:>8}" if p50 is not None else f"{'':>33}"
    speedup = f"{r['speedup']:>7.2f}×" if r.get("speedup") else f"{'':>8}"
    return (f"{r['model']:<11}{r['backend']:<8}{r['mode']:<17}{r['dtype']:<6}{r['size']:>5}{r['refs']:>5}"
            f"{r['workers']:>8}{r['frames']:>7}{r['fps']:>7.2f}{speedup}" + cells)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dtypes", nargs="+", default=["fp32"], choices=["fp32", "bf16"])
    parser.add_argument("--models", nargs="+", default=["demo", "demo-live"],
                        help="bundled model names or checkpoint paths (the baseline is 'demo')")
    parser.add_argument("--backends", nargs="+", default=["torch", "jit"], choices=["torch", "jit", "onnx"],
                        help="what runs the network per frame (the baseline is torch)")
    parser.add_argument("--sizes", nargs="+", type=int, default=[256, 512], help="output sizes")
    parser.add_argument("--workers", nargs="+", type=int, default=[1, 2], help="frames rendering at once")
    parser.add_argument("--refs", nargs="+", type=int, default=[0, 3], help="reference counts (≤ 3 bundled)")
    parser.add_argument("--realtime", action="store_true", help="also run each live case paced like a camera")
    parser.add_argument("--offline", action="store_true", help="also run offline animate (one worker)")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each real-time live run")
    parser.add_argument("--frames", type=int, default=60, help="driving frames for offline and fast runs")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--rounds", type=int, default=1, help="run the grid this many times, interleaved")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/live_speed.json"))
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if args.threads:
        torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    start = time.perf_counter()
    print(HEADER)
    print("-" * len(HEADER), flush=True)
    rows: list[dict] = []

    def report(row: dict) -> None:  # the JSON is rewritten after every row, so a long run keeps its rows
        add_speedup(row, rows + [row])
        rows.append(row)
        print(table_row(row), flush=True)
        machine = {"platform": platform.platform(), "cpu": _cpu_name(), "torch": torch.__version__,
                   "threads": torch.get_num_threads(), "cpus": os.cpu_count(), "load_average_before": load_before,
                   "load_average_now": os.getloadavg(), "wall_s": time.perf_counter() - start}
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"machine": machine, "driving_frames": args.frames, "rows": rows}, indent=1))

    with tempfile.TemporaryDirectory() as tmp:
        driving = first_frames(args.frames, Path(tmp))
        for round_index in range(args.rounds):
            for dtype in args.dtypes:
                for model in args.models:
                    for backend in args.backends:
                        if dtype == "fp32" or backend == "torch":  # jit and onnx compute in fp32
                            run(args, dtype, model, backend, driving, report, round_index)
    if args.rounds > 1:
        print(summary(rows))
    print(f"wrote {args.out}")
    return 0


def _cpu_name() -> str:
    """The CPU's model name and its bf16- and int8-relevant instruction sets (Linux), for reading the numbers."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor()
    name = next((line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("model name")), "")
    flags = set(next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), []))
    wanted = ("avx2", "avx_vnni", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8")
    present = [f for f in wanted if f in flags]
    return f"{name} ({', '.join(present) or '-'})"


if __name__ == "__main__":
    raise SystemExit(main())

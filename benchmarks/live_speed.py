"""``synergywarp live --camera clip.mp4`` speed next to offline ``animate`` throughput, on this CPU.

With the bundled model, portrait, references and driving clip, per dtype:

- live, real time: the clip paced at its 25 fps like a camera (looped for ``--seconds``); fps shown,
  end-to-end latency (capture → view ready, overlay and compositing included) and frames dropped;
- live, fast: every frame handed over as soon as the previous one is taken (the per-frame path's
  throughput, no drops; its latency is the per-frame processing time);
- offline ``animate``: ``Animator.animate_to_file`` over the clip (tracking pass, batches of 8,
  paste-back, H.264 encoding), frames per second.

Prints a table and writes JSON (with the CPU's name and bf16 instruction sets, and the load average,
as the machine is shared). On a CPU without native bf16 (no AVX512-BF16/AMX) bf16 is emulated and
slower than fp32.

    python benchmarks/live_speed.py                       # fp32 and bf16, the whole 60-frame clip
    python benchmarks/live_speed.py --dtypes fp32 --seconds 5 --frames 24
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import torch

from synergywarp.app.live import VideoFileCamera, run_live
from synergywarp.inference import AnimateOptions, Animator
from synergywarp.inference.demo import demo_inputs


def live_row(animator: Animator, prepared, driving: Path, pace: str, seconds: float) -> dict:
    camera = VideoFileCamera(driving, pace=pace, loop=pace == "realtime")
    stats = run_live(animator, prepared, camera, max_seconds=seconds if pace == "realtime" else None)
    row = stats.as_dict()
    row.pop("latency_ms_mean")
    return {"mode": f"live {pace}", **row}


def offline_row(animator: Animator, source, references, driving: Path) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        result = animator.animate_to_file(source, driving, Path(tmp) / "out.mp4", references,
                                          AnimateOptions(check_identity=False))
    return {"mode": "offline animate", "frames": result.num_frames, "seconds": result.seconds,
            "fps": result.frames_per_second}


def run(dtype: str, seconds: float, driving: Path, report) -> list[dict]:
    animator = Animator.from_pretrained(None, device="cpu", dtype=dtype)
    source, references, _ = demo_inputs()
    prepared = animator.prepare(source, references, AnimateOptions(check_identity=False))
    rows = []
    for measure in (lambda: offline_row(animator, source, references, driving),
                    lambda: live_row(animator, prepared, driving, "fast", seconds),
                    lambda: live_row(animator, prepared, driving, "realtime", seconds)):
        rows.append({**measure(), "dtype": dtype})
        report(rows[-1])
    return rows


def first_frames(frames: int, folder: Path) -> Path:
    """The bundled driving clip, cut to its first ``frames`` frames (same fps)."""
    from synergywarp.io import VideoWriter, read_video

    video, fps = read_video(demo_inputs()[2])
    path = folder / "driving.mp4"
    with VideoWriter(path, fps) as writer:
        writer.write(video[:frames])
    return path


HEADER = f"{'mode':<17}{'dtype':<6}{'frames':>7}{'fps':>7}{'p50 ms':>8}{'p95 ms':>8}{'captured':>9}{'dropped':>8}"


def table_row(r: dict) -> str:
    p50, p95 = r.get("latency_ms_p50"), r.get("latency_ms_p95")
    cells = f"{p50:>8.0f}{p95:>8.0f}{r['captured']:>9}{r['dropped']:>8}" if p50 is not None else f"{'':>33}"
    return f"{r['mode']:<17}{r['dtype']:<6}{r['frames']:>7}{r['fps']:>7.2f}" + cells


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dtypes", nargs="+", default=["fp32", "bf16"], choices=["fp32", "bf16"])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each real-time live run")
    parser.add_argument("--frames", type=int, default=60, help="driving frames for offline and fast runs")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/live_speed.json"))
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    start = time.perf_counter()
    print(HEADER)
    print("-" * len(HEADER), flush=True)
    rows: list[dict] = []

    def report(row: dict) -> None:  # the JSON is rewritten after every row, so a long run keeps its rows
        rows.append(row)
        print(table_row(row), flush=True)
        machine = {"platform": platform.platform(), "cpu": _cpu_name(), "torch": torch.__version__,
                   "threads": torch.get_num_threads(), "cpus": os.cpu_count(), "load_average_before": load_before,
                   "load_average_now": os.getloadavg(), "wall_s": time.perf_counter() - start}
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"machine": machine, "driving_frames": args.frames, "rows": rows}, indent=1))

    with tempfile.TemporaryDirectory() as tmp:
        driving = first_frames(args.frames, Path(tmp))
        for dtype in args.dtypes:
            run(dtype, args.seconds, driving, report)
    print(f"wrote {args.out}")
    return 0


def _cpu_name() -> str:
    """The CPU's model name and its bf16-relevant instruction sets (Linux), for reading the numbers."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor()
    name = next((line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("model name")), "")
    flags = set(next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), []))
    present = [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if f in flags]
    return f"{name} ({', '.join(present) or '-'})"


if __name__ == "__main__":
    raise SystemExit(main())

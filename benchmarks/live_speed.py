"""``synergywarp live --camera clip.mp4`` speed next to offline ``animate`` throughput, on this CPU.

With the bundled model, portrait, references and driving clip, per dtype:

- live, real time: the clip paced at its 25 fps like a camera (looped for ``--seconds``); fps shown,
  end-to-end latency (capture → view ready, overlay and compositing included) and frames dropped;
- live, fast: every frame handed over as soon as the previous one is taken (the per-frame path's
  throughput, no drops; its latency is the per-frame processing time);
- offline ``animate``: ``Animator.animate_to_file`` over the clip (tracking pass, batches of 8,
  paste-back, H.264 encoding), frames per second.

Prints a table and writes JSON (with the machine's load average, as the machine is shared).

    python benchmarks/live_speed.py                       # fp32 and bf16
    python benchmarks/live_speed.py --dtypes fp32 --seconds 5
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


def run(dtype: str, seconds: float) -> list[dict]:
    animator = Animator.from_pretrained(None, device="cpu", dtype=dtype)
    source, references, driving = demo_inputs()
    prepared = animator.prepare(source, references, AnimateOptions(check_identity=False))
    rows = [offline_row(animator, source, references, driving),
            live_row(animator, prepared, driving, "fast", seconds),
            live_row(animator, prepared, driving, "realtime", seconds)]
    for row in rows:
        row["dtype"] = dtype
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dtypes", nargs="+", default=["fp32", "bf16"], choices=["fp32", "bf16"])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each real-time live run")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/live_speed.json"))
    args = parser.parse_args(argv)
    load_before = os.getloadavg()
    start = time.perf_counter()
    rows = [row for dtype in args.dtypes for row in run(dtype, args.seconds)]
    header = f"{'mode':<17}{'dtype':<6}{'frames':>7}{'fps':>7}{'p50 ms':>8}{'p95 ms':>8}{'captured':>9}{'dropped':>8}"
    print(header)
    print("-" * len(header))
    for r in rows:
        p50, p95 = r.get("latency_ms_p50"), r.get("latency_ms_p95")
        cells = f"{p50:>8.0f}{p95:>8.0f}{r['captured']:>9}{r['dropped']:>8}" if p50 is not None else f"{'':>33}"
        print(f"{r['mode']:<17}{r['dtype']:<6}{r['frames']:>7}{r['fps']:>7.2f}" + cells)
    machine = {"platform": platform.platform(), "torch": torch.__version__, "threads": torch.get_num_threads(),
               "cpus": os.cpu_count(), "load_average_before": load_before, "load_average_after": os.getloadavg(),
               "wall_s": time.perf_counter() - start}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": machine, "rows": rows}, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""``lp256`` per-frame latency at batch 1 and batched throughput on a GPU (issue 17's GPU half).

Per driving frame (the motion encoder on the driving image, then ``animate`` with the source and the
reference tokens cached, as ``benchmarks/speed.py`` times it), for each path (``explicit``; ``full`` with
R = 2 references), dtype (fp32; bf16 autocast) and mode:

- ``eager``: the Animator's runtime as is (channels-last 2D convolutions on CUDA, autocast);
- ``graph``: the same calls captured once in a CUDA graph and replayed (inputs copied into static
  buffers; no kernel-launch overhead);
- ``compile``: ``torch.compile(mode="reduce-overhead")`` (inductor kernels in CUDA graphs; slow to compile).

Batch-1 rows give median/p90 milliseconds per frame; batched rows (``--batches``) frames per second; every
bf16 row its PSNR against fp32 of the same mode. A hard wall-clock stop (``--max-seconds``: checked
between measurements and by an alarm inside a long one) still writes the JSON, which is rewritten after
every row. Targets (issue 17): ≤ 8 ms per frame at batch 1 and ≥ 150 frames/s batched on an H200.

    python scripts/gpu/latency_lp256.py --out latency.json                     # on the GPU machine
    python scripts/gpu/latency_lp256.py --device cpu --tiny --out /tmp/t.json  # the CPU check (seconds)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import signal
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

from synergywarp.inference.runtime import Runtime  # noqa: E402
from synergywarp.models import create_model  # noqa: E402

MODES = ("eager", "graph", "compile")
TARGET_BATCH1_MS, TARGET_BATCHED_FPS = 8.0, 150.0


class WallClockLimit(Exception):
    """The run's ``--max-seconds`` ran out."""


class Budget:
    """A wall-clock deadline: :meth:`check` between measurements, and SIGALRM inside a long one (a compile)."""

    def __init__(self, seconds: float):
        self.deadline = time.monotonic() + seconds
        self.previous = None
        if hasattr(signal, "SIGALRM"):
            self.previous = signal.signal(signal.SIGALRM, self._alarm)
            signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.001))

    @staticmethod
    def _alarm(signum, frame):  # noqa: ANN001
        raise WallClockLimit()

    def check(self) -> None:
        if time.monotonic() >= self.deadline:
            raise WallClockLimit()

    def cancel(self) -> None:
        if hasattr(signal, "SIGALRM"):
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.previous or signal.SIG_DFL)


def synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@contextlib.contextmanager
def compute(runtime: Runtime, graph_safe: bool = False) -> Iterator[None]:
    """inference mode + autocast in the runtime's dtype (autocast's weight cache off for CUDA graphs)."""
    with torch.inference_mode():
        if runtime.autocast_enabled:
            with torch.autocast(runtime.device.type, dtype=runtime.dtype, cache_enabled=not graph_safe):
                yield
        else:
            yield


def build(config: str, path: str, batch: int, runtime: Runtime, seed: int = 0):
    """Model, cached source state and tokens, and a driving batch; ``step(driving)`` → image ``B×3×S×S``."""
    torch.manual_seed(seed)
    model = runtime.prepare_model(create_model(config))
    s = model.config.image_size
    g = torch.Generator().manual_seed(seed)
    source = runtime.to_device(torch.rand(1, 3, s, s, generator=g))
    driving = runtime.to_device(torch.rand(batch, 3, s, s, generator=g))
    refs = runtime.to_device(torch.rand(1, 2, 3, s, s, generator=g).flatten(0, 1)).unflatten(0, (1, 2))
    mode = "explicit" if path == "explicit" else None
    with compute(runtime):
        state = model.encode_source(source)
        tokens = model.encode_references(state, refs) if path == "full" else None

    def step(images: torch.Tensor) -> torch.Tensor:
        keypoints, _ = model.motion_source.driving(state, images, None)
        return model.animate(state, keypoints, tokens, fusion_mode=mode).image

    return step, driving


def make_runner(mode: str, step: Callable[[torch.Tensor], torch.Tensor], driving: torch.Tensor,
                runtime: Runtime) -> Callable[[], torch.Tensor]:
    """A no-argument call producing the image for ``driving`` in ``mode`` (captured/compiled here)."""
    if mode == "eager":
        def run() -> torch.Tensor:
            with compute(runtime):
                return step(driving)
        return run
    if mode == "compile":
        compiled = torch.compile(step, mode="reduce-overhead", dynamic=False)

        def run_compiled() -> torch.Tensor:
            with compute(runtime):
                return compiled(driving).clone()
        return run_compiled
    if runtime.device.type != "cuda":
        raise RuntimeError("CUDA graphs need a CUDA device")
    static = driving.clone()
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side), compute(runtime, graph_safe=True):
        for _ in range(3):  # warm-up outside the capture (allocations, lazy tokens)
            step(static)
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with compute(runtime, graph_safe=True), torch.cuda.graph(graph):
        output = step(static)

    def replay() -> torch.Tensor:
        static.copy_(driving)
        graph.replay()
        return output
    return replay


def measure(run: Callable[[], torch.Tensor], device: torch.device, iters: int, warmup: int,
            budget: Budget) -> list[float]:
    """Seconds of each of ``iters`` calls after ``warmup`` (device synchronised around each)."""
    for _ in range(warmup):
        run()
    synchronise(device)
    seconds = []
    for _ in range(iters):
        budget.check()
        start = time.perf_counter()
        run()
        synchronise(device)
        seconds.append(time.perf_counter() - start)
    return seconds


def psnr(image: torch.Tensor, reference: torch.Tensor) -> float | None:
    mse = float((image.float() - reference.float()).pow(2).mean())
    return None if mse == 0 else 10 * math.log10(1.0 / mse)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--tiny", action="store_true", help="the tiny config (a quick CPU check of the script)")
    parser.add_argument("--paths", nargs="+", default=["explicit", "full"], choices=["explicit", "full"])
    parser.add_argument("--dtypes", nargs="+", default=["fp32", "bf16"], choices=["fp32", "bf16"])
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    parser.add_argument("--batches", nargs="+", type=int, default=[8, 32], help="batched-throughput sizes")
    parser.add_argument("--iters", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--max-seconds", type=float, default=480.0, help="hard wall-clock stop (JSON kept)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    config = "tiny" if args.tiny else "lp256"
    start = time.perf_counter()
    rows: list[dict] = []
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor()
    info = {"config": config, "device": name,
            "torch": torch.__version__, "platform": platform.platform(), "cpus": os.cpu_count(),
            "targets": {"batch1_ms": TARGET_BATCH1_MS, "batched_fps": TARGET_BATCHED_FPS},
            "max_seconds": args.max_seconds, "stopped": None}

    def save() -> None:
        info["wall_s"] = time.perf_counter() - start
        args.out.parent.mkdir(parents=True, exist_ok=True)
        temporary = args.out.with_name(f".{args.out.name}.{os.getpid()}.part")
        temporary.write_text(json.dumps({**info, "rows": rows}, indent=1))
        os.replace(temporary, args.out)

    def report(row: dict) -> None:
        rows.append(row)
        shown = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in row.items() if k != "ms_all"}
        print(json.dumps(shown), flush=True)
        save()

    budget = Budget(args.max_seconds)
    references: dict[tuple, torch.Tensor] = {}
    try:
        plan = [(b, path, mode, dtype) for b in [1, *args.batches] for path in args.paths for mode in args.modes
                for dtype in args.dtypes]
        for batch, path, mode, dtype in plan:
            budget.check()
            runtime = Runtime.create(args.device, dtype)
            row = {"batch": batch, "path": path, "mode": mode, "dtype": dtype}
            try:
                step, driving = build(config, path, batch, runtime)
                setup = time.perf_counter()
                run = make_runner(mode, step, driving, runtime)
                image = run().float().clone()
                row["setup_s"] = time.perf_counter() - setup
                seconds = measure(run, device, args.iters, args.warmup, budget)
            except WallClockLimit:
                raise
            except Exception as error:  # a mode this device or build cannot run: recorded, the rest goes on
                report({**row, "skipped": f"{type(error).__name__}: {str(error).splitlines()[0][:200]}"})
                continue
            per_frame = [s / batch for s in seconds]
            row.update(ms_per_frame=1000 * statistics.median(per_frame),
                       ms_p90=1000 * sorted(per_frame)[int(0.9 * (len(per_frame) - 1))],
                       frames_per_s=batch / statistics.median(seconds))
            key = (batch, path, mode)
            if dtype == "fp32":
                references[key] = image
            elif key in references:
                row["psnr_vs_fp32_db"] = psnr(image, references[key])
            report(row)
    except WallClockLimit:
        info["stopped"] = f"wall-clock limit of {args.max_seconds:g} s reached"
        print(info["stopped"], flush=True)
    finally:
        budget.cancel()
        save()
    measured = [r for r in rows if "ms_per_frame" in r]
    best1 = min((r["ms_per_frame"] for r in measured if r["batch"] == 1), default=None)
    best_batched = max((r["frames_per_s"] for r in measured if r["batch"] > 1), default=None)
    print(f"best batch-1 ms/frame: {best1}; best batched frames/s: {best_batched}; wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""End-to-end ``synergywarp animate`` speed, split into stages.

Runs the real pipeline (``Animator.animate_to_file``: face tracking on the driving clip, crops, motion,
network, paste-back, H.264 encoding) on the bundled demo portrait, references and driving clip, and
reports frames per second plus milliseconds per frame for each stage. Prints a table, writes JSON.

    python benchmarks/animate_speed.py                                  # small (bundled model) + lp256
    python benchmarks/animate_speed.py --configs small --dtypes fp32 bf16 --frames 60
    python benchmarks/animate_speed.py --configs small --dtypes fp32 --sizes 256 512 --refs 0 3   # output size, R
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from synergywarp.assets import BUNDLED_MODEL
from synergywarp.inference import AnimateOptions, Animator
from synergywarp.inference.demo import demo_inputs
from synergywarp.inference.runtime import Runtime
from synergywarp.io import read_video
from synergywarp.models import SynergyWarpNet, create_model

STAGES = ("tracking", "crop", "motion", "mesh_warp", "model", "paste_back", "encoding")


def load(config: str, checkpoint: Path | None) -> tuple[SynergyWarpNet, str]:
    if checkpoint is not None and checkpoint.is_file():
        model = SynergyWarpNet.from_pretrained(checkpoint)
        return model, f"{model.config.name} from {checkpoint.name}"
    torch.manual_seed(0)
    return create_model(config).eval(), f"{config} (random weights: timing only)"


def run(config: str, dtype: str, frames: int, checkpoint: Path | None, size: int | None = None,
        num_references: int | None = None) -> dict:
    """One timed animation; ``size``: output crop side (None: the product default), ``num_references``:
    how many of the demo's reference photos to pass (None: all)."""
    model, label = load(config, checkpoint)
    animator = Animator(model, Runtime.create("cpu", dtype))
    source, references, driving = demo_inputs()
    references = list(references)[:num_references]
    video, fps = read_video(driving)
    video = video[:frames]
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        prepared = animator.prepare(source, references, AnimateOptions(check_identity=False, output_size=size))
        prepare_seconds = time.perf_counter() - start
        animator.stage_seconds.clear()
        start = time.perf_counter()
        _animate_prepared(animator, prepared, video, fps, Path(tmp) / "out.mp4")
        seconds = time.perf_counter() - start
    n = len(video)
    row = {"config": config, "model": label, "dtype": dtype, "frames": n, "frame_size": int(video.shape[1]),
           "output_size": size or "default", "references": len(references), "prepare_s": prepare_seconds,
           "fps": n / seconds}
    row.update({f"ms_{stage}": 1000 * animator.stage_seconds.get(stage, 0.0) / n for stage in STAGES})
    row["ms_other"] = 1000 * seconds / n - sum(row[f"ms_{s}"] for s in STAGES)
    return row


def _animate_prepared(animator: Animator, prepared, video: np.ndarray, fps: float, out: Path) -> int:
    """Stream frames from a prepared source into an H.264 writer, timing the encoder as a stage."""
    from synergywarp.io import VideoWriter

    count = 0
    with VideoWriter(out, fps) as writer:
        for frame in animator.animate(prepared, video):
            with animator.timed("encoding"):
                writer.write(frame.image)
            count += 1
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--configs", nargs="+", default=["small", "lp256"])
    parser.add_argument("--dtypes", nargs="+", default=["fp32", "bf16"], choices=["fp32", "bf16"])
    parser.add_argument("--frames", type=int, default=60, help="driving frames (lp256 uses at most 8)")
    parser.add_argument("--checkpoint", type=Path, default=BUNDLED_MODEL, help="weights for the small config")
    parser.add_argument("--sizes", nargs="+", type=int, default=[None],
                        help="output crop sides to time (default: the product default)")
    parser.add_argument("--refs", nargs="+", type=int, default=[None],
                        help="numbers of the demo's reference photos to pass (default: all 3)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/animate_speed.json"))
    args = parser.parse_args(argv)
    rows = []
    for config in args.configs:
        for dtype in args.dtypes:
            for size in args.sizes:
                for refs in args.refs:
                    frames = min(args.frames, 8) if config == "lp256" else args.frames
                    ckpt = args.checkpoint if config.startswith("small") else None
                    rows.append(run(config, dtype, frames, ckpt, size, refs))
    header = (f"{'config':<8}{'dtype':<6}{'size':>8}{'R':>3}{'frames':>7}{'fps':>7}{'prep s':>8}"
              + "".join(f"{s[:9]:>10}" for s in STAGES) + f"{'other':>8}   (ms per frame)")
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['config']:<8}{r['dtype']:<6}{r['output_size']!s:>8}{r['references']:>3}{r['frames']:>7}{r['fps']:>7.2f}{r['prepare_s']:>8.2f}"
              + "".join(f"{r['ms_' + s]:>10.1f}" for s in STAGES) + f"{r['ms_other']:>8.1f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    machine = {"platform": platform.platform(), "torch": torch.__version__, "threads": torch.get_num_threads()}
    args.out.write_text(json.dumps({"machine": machine, "rows": rows}, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

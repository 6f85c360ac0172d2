"""All benchmarks in one run: per-frame model cost (speed.py), end-to-end animate fps, eval throughput.

- speed: :func:`speed.bench_config` per config (parameters, GFLOPs/frame, ms/frame, explicit vs full@R);
- animate: frames/s of :class:`synergywarp.inference.Animator` over a synthetic 256² driving clip,
  everything included (driving face tracking, crops, motion, network, paste-back); skipped with a
  note when the inference package is absent;
- eval: frames/s of :func:`synergywarp.metrics.eval.run_eval` (all methods, all metrics; scored output
  frames per second) on a small synthetic dataset, cold (empty extraction cache) and warm (cached).

Prints one table and writes JSON.

    python benchmarks/run_all.py                                   # tiny model, quick
    python benchmarks/run_all.py --configs tiny small --checkpoint path/demo.safetensors --out results.json
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import speed  # noqa: E402  (benchmarks/speed.py)


def speed_rows(configs: list[str], refs: list[int], repeats: int, dtypes: list[str]) -> list[dict]:
    rows = []
    for name in configs:
        for row in speed.bench_config(name, sorted(refs), repeats, dtypes):
            label = f"{row['path']}" + ("" if row["path"] == "explicit" else f"@{row['refs']}")
            cost = f"{row['gflops']:.2f} GFLOPs/frame, {row['params_M']:.2f} M params"
            rows.append({"section": "speed", "item": f"{name} {label} fp32", "value": row["ms_fp32"],
                         "unit": "ms/frame", "note": cost})
            if "ms_bf16" in row:
                fidelity = row.get("psnr_bf16_vs_fp32", float("nan"))
                rows.append({"section": "speed", "item": f"{name} {label} bf16", "value": row["ms_bf16"],
                             "unit": "ms/frame", "note": f"PSNR vs fp32 {fidelity:.1f} dB"})
    return rows


def synthetic_dataset(folder: Path, frames: int, size: int, clips: int = 1) -> Path:
    """A small synthetic dataset (bundled portraits, all clips in the train split)."""
    from synergywarp.data.synth import build_corpus
    from synergywarp.data.synth.portraits import bundled_portrait_paths

    build_corpus(bundled_portrait_paths()[:1], folder, clips_per_image=clips, frames=frames, seed=0, size=size)
    return folder


def model_checkpoint(folder: Path, checkpoint: Path | None, config: str) -> Path:
    """``checkpoint`` or an untrained ``config`` model saved into ``folder`` (timings only)."""
    if checkpoint is not None:
        return checkpoint
    from synergywarp.models import create_model

    path = folder / f"{config}.safetensors"
    torch.manual_seed(0)
    create_model(config).save_pretrained(path, trained_stages=["explicit", "rac", "cgf"])
    return path


def animate_rows(checkpoint: Path, dataset: Path, refs: int) -> list[dict]:
    try:
        from synergywarp.inference import AnimateOptions, Animator
    except ImportError as error:
        return [{"section": "animate", "item": "end-to-end", "value": float("nan"), "unit": "frames/s",
                 "note": f"skipped: synergywarp.inference unavailable ({error})"}]
    from synergywarp.data import list_clips, load_clip
    from synergywarp.data.synth.portraits import bundled_portrait_paths
    from synergywarp.io import read_image

    clip = load_clip(dataset, list_clips(dataset, "train")[0].name)
    source = read_image(bundled_portrait_paths()[0])
    animator = Animator.from_pretrained(checkpoint, device="auto", dtype="fp32")
    references = [clip.frames[i] for i in range(1, refs + 1)]
    rows = []
    for label, refs_used in (("explicit", []), (f"full@{refs}", references)):
        options = AnimateOptions(fusion_mode="explicit" if label == "explicit" else None, check_identity=False)
        prepared = animator.prepare(source, refs_used, options)
        start = time.perf_counter()
        count = sum(1 for _ in animator.animate(prepared, clip.frames))
        seconds = time.perf_counter() - start
        note = f"{count} frames {clip.frames.shape[1]}² incl. tracking + paste-back; {animator.describe()}"
        rows.append({"section": "animate", "item": f"end-to-end {label}", "value": count / seconds,
                     "unit": "frames/s", "note": note})
    return rows


def eval_rows(checkpoint: Path, dataset: Path, out: Path, refs: tuple[int, ...]) -> list[dict]:
    from synergywarp.metrics.eval import EvalOptions, run_eval

    rows = []
    for label in ("cold", "warm"):
        result = run_eval(EvalOptions(data=dataset, checkpoint=checkpoint, split="train", refs=refs, out=out,
                                      device="auto"))
        frames = sum(len(score.rows) for score in result.scores)
        rows.append({"section": "eval", "item": f"synergywarp eval ({label} cache)", "value": result.frames_per_second,
                     "unit": "frames/s", "note": f"{frames} scored frames ({len(result.scores)} methods), "
                     f"{result.stats.computed} extracted, {result.seconds:.1f} s"})
    return rows


def print_table(rows: list[dict]) -> None:
    width = max(len(r["item"]) for r in rows) + 2
    header = f"{'section':<9}{'item':<{width}}{'value':>10}  {'unit':<10}note"
    print(header)
    print("-" * len(header))
    for r in rows:
        value = "–" if not np.isfinite(r["value"]) else f"{r['value']:.2f}"
        print(f"{r['section']:<9}{r['item']:<{width}}{value:>10}  {r['unit']:<10}{r['note']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--configs", nargs="+", default=["tiny"], help="model configs for the speed section")
    parser.add_argument("--refs", nargs="+", type=int, default=[0, 2])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dtypes", nargs="+", default=["fp32"], choices=["fp32", "bf16"])
    parser.add_argument("--checkpoint", type=Path, default=None,
                        help="checkpoint for the animate/eval sections (default: an untrained first --configs model)")
    parser.add_argument("--frames", type=int, default=16, help="frames of the synthetic clip (animate, eval)")
    parser.add_argument("--size", type=int, default=256, help="side of the synthetic clip")
    parser.add_argument("--skip", nargs="*", default=[], choices=["speed", "animate", "eval"])
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/run_all.json"))
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    rows: list[dict] = []
    if "speed" not in args.skip:
        rows += speed_rows(args.configs, args.refs, args.repeats, args.dtypes)
    with tempfile.TemporaryDirectory(prefix="synergywarp_bench_") as temporary:
        folder = Path(temporary)
        if {"animate", "eval"} - set(args.skip):
            dataset = synthetic_dataset(folder / "data", args.frames, args.size)
            checkpoint = model_checkpoint(folder, args.checkpoint, args.configs[0])
            for section, run in (("animate", lambda: animate_rows(checkpoint, dataset, max(args.refs))),
                                 ("eval", lambda: eval_rows(checkpoint, dataset, folder / "eval",
                                                            tuple(sorted(set(args.refs)))))):
                if section in args.skip:
                    continue
                try:
                    rows += run()
                except Exception as error:  # noqa: BLE001 - one failing section must not hide the others
                    traceback.print_exc()
                    rows.append({"section": section, "item": "failed", "value": float("nan"), "unit": "",
                                 "note": f"{type(error).__name__}: {error}"})
    print_table(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    machine = {"platform": platform.platform(), "processor": platform.processor(), "torch": torch.__version__,
               "threads": torch.get_num_threads(), "device": device,
               "gpu": torch.cuda.get_device_name(0) if device == "cuda" else None}
    clean = [{**r, "value": r["value"] if np.isfinite(r["value"]) else None} for r in rows]
    args.out.write_text(json.dumps({"machine": machine, "rows": clean}, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Training throughput: samples per second and peak memory of the full training step (G + D + EMA)
for each model at 1 and N processes (DDP on gloo for CPU, NCCL for CUDA), on in-memory synthetic data.

Samples/s counts the GLOBAL batch over the timed steps (after warm-up; checkpoints off). Peak memory is
the per-process peak RSS on CPU, or the peak CUDA allocation on GPU. Prints a table and writes JSON.

    python benchmarks/train_speed.py                                   # tiny and small, 1 and 2 processes
    python benchmarks/train_speed.py --models lp256 --procs 1 --device cuda --precision bf16 --batch 8
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import socket
import tempfile
import time
from pathlib import Path

import torch
import torch.multiprocessing as mp
import torch.nn.functional as F

from synergywarp.models import get_config
from synergywarp.train import distributed as D
from synergywarp.train.config import config_from_dict
from synergywarp.train.trainer import Trainer


class SyntheticClips(torch.utils.data.Dataset):
    """Smooth random images at the model's size; items as ClipDataset's (keypoints for tracked models)."""

    def __init__(self, size: int, items: int = 64, references: int = 2, num_kp: int = 32):
        g = torch.Generator().manual_seed(0)
        base = torch.rand(items, 2 + references, 3, size // 8, size // 8, generator=g)
        self.images = F.interpolate(base.flatten(0, 1), size=(size, size), mode="bilinear").view(
            items, 2 + references, 3, size, size)
        self.keypoints = torch.rand(items, 2 + references, num_kp, 3, generator=g) * 1.6 - 0.8
        self.references = references

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> dict:
        return {"source": self.images[i, 0], "driving": self.images[i, 1], "references": self.images[i, 2:],
                "reference_mask": torch.ones(self.references, dtype=torch.bool),
                "source_keypoints": self.keypoints[i, 0], "driving_keypoints": self.keypoints[i, 1],
                "reference_keypoints": self.keypoints[i, 2:]}


def _config(args, model: str, batch: int):
    return config_from_dict({
        "model": model,
        "dataset": {"num_references": 2},
        "train": {"batch_size": batch, "max_steps": args.warmup, "log_every": 10**6, "checkpoint_every": 10**6,
                  "sample_every": 0, "progress": False, "precision": args.precision,
                  "loss_weights": {} if args.perceptual else {"perceptual": 0.0}},
    })


def _measure(args, model: str, batch: int, ctx: D.DistContext, run_dir: str) -> dict:
    size = get_config(model).image_size
    cfg = _config(args, model, batch)
    trainer = Trainer(cfg, run_dir, SyntheticClips(size, items=max(64, 4 * batch)), ctx=ctx)
    trainer.save = lambda: None  # time the steps, not the checkpoint writes
    trainer.train()  # warm-up steps
    if ctx.device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    cfg.train.max_steps = args.warmup + args.steps
    D.barrier(ctx)
    start = time.perf_counter()
    trainer.train()
    if ctx.device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    peak = (torch.cuda.max_memory_allocated() if ctx.device.type == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    return {"seconds": seconds, "peak_bytes": peak}


def _worker(rank: int, world: int, port: int, args, model: str, batch: int, out: str) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    torch.set_num_threads(args.threads)
    ctx = D.init_distributed(args.device)
    try:
        with tempfile.TemporaryDirectory() as run_dir:
            result = _measure(args, model, batch, ctx, run_dir)
    finally:
        D.shutdown(ctx)
    Path(out, f"rank{rank}.json").write_text(json.dumps(result))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bench(args, model: str, procs: int) -> dict:
    batch = args.batch * procs if args.scale_batch else args.batch
    with tempfile.TemporaryDirectory() as out:
        mp.spawn(_worker, args=(procs, _free_port(), args, model, batch, out), nprocs=procs, join=True)
        ranks = [json.loads(Path(out, f"rank{r}.json").read_text()) for r in range(procs)]
    seconds = max(r["seconds"] for r in ranks)
    return {"model": model, "processes": procs, "global_batch": batch, "steps": args.steps,
            "samples_per_s": batch * args.steps / seconds, "seconds": seconds,
            "peak_memory_mib_per_process": max(r["peak_bytes"] for r in ranks) / 2**20,
            "precision": args.precision, "device": args.device, "threads_per_process": args.threads}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["tiny", "small"])
    parser.add_argument("--procs", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--batch", type=int, default=4, help="global batch (per process with --scale-batch)")
    parser.add_argument("--scale-batch", action="store_true", help="global batch = --batch × processes")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="torch threads per process")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "fp16"])
    parser.add_argument("--perceptual", action="store_true", help="include the VGG perceptual loss")
    parser.add_argument("--out", default="benchmarks/results/train_speed.json")
    args = parser.parse_args()
    rows = [bench(args, model, procs) for model in args.models for procs in args.procs]
    header = f"{'model':<8}{'procs':>6}{'batch':>7}{'samples/s':>11}{'peak MiB/proc':>15}"
    print(header)
    for r in rows:
        print(f"{r['model']:<8}{r['processes']:>6}{r['global_batch']:>7}{r['samples_per_s']:>11.2f}"
              f"{r['peak_memory_mib_per_process']:>15.0f}")
    meta = {"machine": platform.platform(), "cpu_count": os.cpu_count(), "torch": torch.__version__,
            "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"meta": meta, "results": rows}, indent=2))


if __name__ == "__main__":
    main()

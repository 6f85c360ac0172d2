"""``synergywarp train``: argument parsing and the one-line summary (the lead wires it into cli.py)."""

from __future__ import annotations

import argparse
import os

from synergywarp.cli_parsing import add_command, add_no_progress_flag


def add_train_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``train`` on an ``argparse`` subparsers object; the handler is ``args.func``."""
    parser = add_command(
        subparsers, "train", run_train_command,
        help="train a model from an experiment config (works under torchrun for DDP)",
        description="Train SynergyWarpNet. Single process: `synergywarp train --config configs/tiny.yaml "
        "--data DIR`; several GPUs or processes: `torchrun --nproc_per_node=N -m synergywarp train ...`.",
    )
    parser.add_argument("--config", required=True, help="experiment YAML (dataset / model / train / eval)")
    parser.add_argument("--data", help="dataset folder with train/ and test/ (overrides dataset.root)")
    parser.add_argument("--out", help="run folder for checkpoints, logs and samples (default runs/<config name>)")
    parser.add_argument("--resume", action="store_true", help="continue from the newest complete checkpoint in --out")
    parser.add_argument("--overwrite", action="store_true",
                        help="start over in an --out that holds a run (its checkpoints, model and logs are removed)")
    parser.add_argument("--max-steps", type=int, help="override train.max_steps")
    parser.add_argument("--device", default="auto", help="auto (default), cpu, cuda or cuda:N")
    add_no_progress_flag(parser)
    return parser


def run_train_command(args: argparse.Namespace) -> int:
    from synergywarp.train.run import train_from_config

    result = train_from_config(
        args.config, data=args.data, out=args.out, resume=args.resume, max_steps=args.max_steps,
        device=args.device, progress=False if args.no_progress else None, overwrite=args.overwrite,
    )
    if int(os.environ.get("RANK", "0")) == 0:
        loss = result.last_values.get("loss/total")
        loss_text = f", loss {loss:.4f}" if loss is not None else ""
        print(f"trained to step {result.step}{loss_text} ({result.samples_per_second:.1f} samples/s); "
              f"checkpoint {result.checkpoint}; EMA model {result.export}")
    return 0

"""Library entry point: train from an experiment config (what ``synergywarp train`` calls)."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from synergywarp.errors import ConfigError
from synergywarp.train import distributed as D
from synergywarp.train.config import ExperimentConfig, load_config
from synergywarp.train.data import build_clip_dataset
from synergywarp.train.run_folder import check_run_folder, clean_run_folder
from synergywarp.train.trainer import Trainer, TrainResult


def train_from_config(
    config: str | Path | ExperimentConfig,
    *,
    data: str | Path | None = None,
    out: str | Path | None = None,
    resume: bool = False,
    max_steps: int | None = None,
    device: str | None = None,
    progress: bool | None = None,
    dataset=None,
    eval_dataset=None,
    overwrite: bool = False,
) -> TrainResult:
    """Load the config, check the run folder (an existing run needs ``resume`` or ``overwrite``), join
    the process group when launched by torchrun, build the datasets (so that a bad folder fails before
    any work) and train. ``data``/``max_steps`` override the config; ``out`` defaults to
    ``runs/<config name>``; ``dataset`` replaces the clip dataset (tests, custom data). Without clips
    in the eval split, periodic evaluation is switched off with a warning."""
    if isinstance(config, ExperimentConfig):
        cfg, name = config, "experiment"
    else:
        cfg, name = load_config(config), Path(config).stem
    if max_steps is not None and max_steps < 1:
        raise ConfigError(f"--max-steps must be ≥ 1, got {max_steps}")
    run_dir = check_run_folder(Path(out) if out is not None else Path("runs") / name, resume=resume,
                               overwrite=overwrite)
    if max_steps is not None:
        cfg.train.max_steps = max_steps
    if progress is not None:
        cfg.train.progress = progress
    if data is not None:
        cfg.dataset.root = str(data)
    if dataset is None:
        dataset = build_clip_dataset(cfg, cfg.dataset.root, cfg.dataset.split, train=True)
        if cfg.eval.every and eval_dataset is None and _has_clips(cfg.dataset.root, cfg.eval.split):
            eval_dataset = build_clip_dataset(cfg, cfg.dataset.root, cfg.eval.split, train=False,
                                              num_references=cfg.eval.references)
        elif cfg.eval.every and eval_dataset is None and int(os.environ.get("RANK", "0")) == 0:
            warnings.warn(f"no {cfg.eval.split} split in {cfg.dataset.root}: periodic held-out evaluation (eval.every) "
                          "is off (`synth --test-identities N` or `prepare --test-fraction F` holds clips out)",
                          stacklevel=2)
    ctx = D.init_distributed(device)
    try:
        if ctx.is_main:
            clean_run_folder(run_dir, overwrite=overwrite and not resume)
        D.barrier(ctx)
        trainer = Trainer(cfg, run_dir, dataset, ctx=ctx, resume=resume, eval_dataset=eval_dataset)
        return trainer.train()
    finally:
        D.shutdown(ctx)


def _has_clips(root: str | Path | None, split: str) -> bool:
    """Whether ``root/split`` holds any clip video."""
    folder = Path(root) / split if root is not None else None
    return folder is not None and folder.is_dir() and any(folder.glob("*.mp4"))

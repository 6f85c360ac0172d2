"""Library entry point: train from an experiment config (what ``synergywarp train`` calls)."""

from __future__ import annotations

from pathlib import Path

from synergywarp.train import distributed as D
from synergywarp.train.config import ExperimentConfig, load_config
from synergywarp.train.data import build_clip_dataset
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
) -> TrainResult:
    """Load the config, join the process group when launched by torchrun, build the datasets (so that a
    bad folder fails before any work) and train. ``data``/``max_steps`` override the config; ``out``
    defaults to ``runs/<config name>``; ``dataset`` replaces the clip dataset (tests, custom data)."""
    if isinstance(config, ExperimentConfig):
        cfg, name = config, "experiment"
    else:
        cfg, name = load_config(config), Path(config).stem
    if max_steps is not None:
        cfg.train.max_steps = max_steps
    if progress is not None:
        cfg.train.progress = progress
    if data is not None:
        cfg.dataset.root = str(data)
    if dataset is None:
        dataset = build_clip_dataset(cfg, cfg.dataset.root, cfg.dataset.split, train=True)
        if cfg.eval.every and eval_dataset is None:
            eval_dataset = build_clip_dataset(cfg, cfg.dataset.root, cfg.eval.split, train=False,
                                              num_references=cfg.eval.references)
    run_dir = Path(out) if out is not None else Path("runs") / name
    ctx = D.init_distributed(device)
    try:
        trainer = Trainer(cfg, run_dir, dataset, ctx=ctx, resume=resume, eval_dataset=eval_dataset)
        return trainer.train()
    finally:
        D.shutdown(ctx)

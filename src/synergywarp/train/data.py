"""Data plumbing for the trainer: the clip dataset, a resumable distributed sampler, device transfer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch.utils.data import ConcatDataset, DataLoader, Dataset, DistributedSampler

from synergywarp.errors import ConfigError
from synergywarp.train.config import ExperimentConfig


class ResumableDistributedSampler(DistributedSampler):
    """:class:`DistributedSampler` (shuffled per epoch, incomplete tail dropped) that can start an
    epoch after ``batches_done`` batches — for exact resume mid-epoch.

    Global batch ``b`` of an epoch holds the same items whatever the number of processes, so a run
    can be resumed on a different world size with the same global batch size.
    """

    def __init__(self, dataset: Dataset, num_replicas: int, rank: int, seed: int, batch_per_rank: int):
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=True, seed=seed, drop_last=True)
        self.batch_per_rank = batch_per_rank
        self.skip = 0

    def set_position(self, epoch: int, batches_done: int) -> None:
        self.set_epoch(epoch)
        self.skip = batches_done * self.batch_per_rank

    def batches_per_epoch(self) -> int:
        return super().__len__() // self.batch_per_rank

    def __iter__(self):
        return iter(list(super().__iter__())[self.skip:])

    def __len__(self) -> int:
        return max(0, super().__len__() - self.skip)


def make_loader(dataset: Dataset, sampler: ResumableDistributedSampler, num_workers: int, seed: int, epoch: int,
                pin_memory: bool = False) -> DataLoader:
    """A DataLoader over ``sampler``; worker seeds come from a generator seeded by (seed, epoch), never
    from the global RNG, so that a resumed run draws the same random numbers as an uninterrupted one."""
    if hasattr(dataset, "set_epoch"):
        dataset.set_epoch(epoch)
    generator = torch.Generator().manual_seed(seed * 100003 + epoch)
    return DataLoader(
        dataset, batch_size=sampler.batch_per_rank, sampler=sampler, num_workers=num_workers, drop_last=True,
        generator=generator, pin_memory=pin_memory, persistent_workers=False,
    )


def build_clip_dataset(cfg: ExperimentConfig, root: str | Path | None, split: str, *, train: bool,
                       num_references: int | None = None) -> Dataset:
    """The project's :class:`synergywarp.data.dataset.ClipDataset` for ``root/split``.

    Raises ConfigError naming ``dataset.root`` when no folder is given or it does not exist."""
    if root is None:
        raise ConfigError("dataset.root: no data folder (set dataset.root in the config or pass --data DIR)")
    root = Path(root)
    if not root.is_dir():
        raise ConfigError(f"dataset.root: data folder {root} does not exist")
    if not (root / split).is_dir():
        raise ConfigError(f"dataset.root: {root} has no {split}/ folder (expected DIR/train and DIR/test)")
    from synergywarp.data.dataset import ClipDataset  # the data layer is optional for library users

    d = cfg.dataset
    refs = d.num_references if num_references is None else num_references
    kwargs: dict[str, Any] = dict(
        split=split,
        image_size=cfg.model.image_size,
        num_references=(0, refs) if (train and d.random_references) else refs,
        reference_choice=d.reference_choice,
        repeats=d.repeats if train else 1,
        augment=d.augment if train else None,
        seed=cfg.train.seed,
        cache_frames=d.cache_frames,
        keypoints=True,
        prior_grid=cfg.model.warp.dense_motion.prior_candidate,
        prior_kind=cfg.model.warp.dense_motion.prior_kind,
        output_size=d.output_size,
        reference_grids=cfg.model.cgf.pixel_references,
        reference_warp=cfg.model.cgf.reference_warp,
        hidden_fraction=d.hidden_fraction if train else 0.0,
    )
    dataset = ClipDataset(root, **kwargs)
    dataset.validate()  # bad clips fail now, with one line, rather than in a worker later
    if not train or not d.mix:
        return dataset
    parts = [dataset]
    for j, mixed in enumerate(d.mix):
        folder = Path(mixed.root)
        if not (folder / split).is_dir():
            raise ConfigError(f"dataset.mix[{j}].root: {folder} has no {split}/ folder")
        part = ClipDataset(folder, **{**kwargs, "repeats": mixed.repeats})
        part.validate()
        parts.append(part)
    return ConcatClipDatasets(parts)


class ConcatClipDatasets(ConcatDataset):
    """Several clip datasets trained on together; ``set_epoch`` reaches every one."""

    def set_epoch(self, epoch: int) -> None:
        for part in self.datasets:
            part.set_epoch(epoch)  # type: ignore[attr-defined]


def batch_to_device(batch: dict[str, Any], device: torch.device) -> dict[str, Any]:
    """Move every tensor of a collated batch to ``device`` (non-blocking); other values are kept."""
    non_blocking = device.type == "cuda"
    return {k: v.to(device, non_blocking=non_blocking) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}

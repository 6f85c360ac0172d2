"""The training loop (docs/DESIGN.md#training): generator + PatchGAN discriminator, phases, EMA, AMP, DDP, exact resume.

One step: G forward → generator loss (L1, perceptual, GAN, feature matching, flow; priors and
equivariance when the motion encoder is trained) → G update → discriminator hinge update on the real
driving frame vs the detached output → EMA update. Nothing syncs the device per step except DDP's
all-reduce; loss values are read on log steps only.
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
import time
import warnings
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from synergywarp.errors import ConfigError, SynergyWarpError
from synergywarp.losses import GeneratorLoss, hinge_discriminator_loss
from synergywarp.models import SynergyWarpNet, create_model
from synergywarp.models.checkpoint import load_state_dict_strict
from synergywarp.models.discriminator import MultiScaleDiscriminator
from synergywarp.models.keypoints import bins_to_degrees, keypoints_from_motion
from synergywarp.train import distributed as D
from synergywarp.train import state as S
from synergywarp.train.config import ExperimentConfig, PhaseSection
from synergywarp.train.data import ResumableDistributedSampler, batch_to_device, make_loader
from synergywarp.train.ema import ModelEMA
from synergywarp.train.logging import TrainLogger
from synergywarp.train.samples import write_sample_grid

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


class TrainingDivergedError(SynergyWarpError):
    """A loss became NaN/inf; the run stops and the last good checkpoint stays intact."""


@dataclasses.dataclass
class TrainResult:
    step: int
    checkpoint: Path | None
    export: Path | None
    seconds: float
    samples_per_second: float
    last_values: dict[str, float]


def _split_discriminator(outputs, batch: int):
    """Run on a concatenated batch ``[first; second]`` -> (features, logits) lists for each half."""
    first_feats, second_feats, first_logits, second_logits = [], [], [], []
    for feats, logits in outputs:
        first_feats += [f[:batch] for f in feats]
        second_feats += [f[batch:] for f in feats]
        first_logits.append(logits[:batch])
        second_logits.append(logits[batch:])
    return (first_feats, first_logits), (second_feats, second_logits)


class Trainer:
    """Build with a config, a run folder and a dataset (any map-style dataset of ClipDataset dicts);
    :meth:`train` runs to ``train.max_steps`` and returns a :class:`TrainResult`."""

    def __init__(self, cfg: ExperimentConfig, run_dir: str | Path, dataset, *, ctx: D.DistContext | None = None,
                 resume: bool = False, eval_dataset=None):
        self.cfg, self.run_dir, self.dataset, self.eval_dataset = cfg, Path(run_dir), dataset, eval_dataset
        self.ctx = ctx or D.DistContext()
        t, world = cfg.train, self.ctx.world_size
        if t.batch_size % world:
            raise ConfigError(f"train.batch_size: {t.batch_size} is not divisible by the {world} processes")
        self.batch_per_rank = t.batch_size // world
        if len(dataset) < t.batch_size:
            raise ConfigError(f"train.batch_size: {t.batch_size} is larger than the dataset ({len(dataset)} items)")
        self.device = self.ctx.device
        torch.manual_seed(t.seed)  # identical initial weights on every rank
        self.model = create_model(cfg.model).to(self.device)
        if t.init_from and t.init_extends:
            extend_from_checkpoint(self.model, t.init_from)
        elif t.init_from:
            initial = SynergyWarpNet.from_pretrained(t.init_from, config=cfg.model)
            load_state_dict_strict(self.model, initial.state_dict(), t.init_from)
        self.weights = cfg.loss_weights()
        self.use_gan = self.weights.gan > 0 or self.weights.feature_matching > 0
        self.disc = MultiScaleDiscriminator(cfg.model.discriminator).to(self.device) if self.use_gan else None
        self.ema = ModelEMA(self.model, t.ema_decay)
        self.loss = GeneratorLoss(self.weights, grid_align_quirk=cfg.model.grid_align_quirk,
                                  perceptual_scales=tuple(t.perceptual_scales)).to(self.device)
        betas = (t.betas[0], t.betas[1])  # validated: two values
        self.opt_g = torch.optim.Adam(parameter_groups(self.model, t.lr, t.lr_multipliers), lr=t.lr, betas=betas)
        self.sched_g = torch.optim.lr_scheduler.MultiStepLR(self.opt_g, t.lr_milestones, t.lr_gamma)
        self.opt_d = self.sched_d = None
        if self.disc is not None:
            self.opt_d = torch.optim.Adam(self.disc.parameters(), lr=t.lr_discriminator, betas=betas)
            self.sched_d = torch.optim.lr_scheduler.MultiStepLR(self.opt_d, t.lr_milestones, t.lr_gamma)
        self.autocast_dtype = DTYPES.get(t.precision)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=t.precision == "fp16")
        self.sampler = ResumableDistributedSampler(dataset, world, self.ctx.rank, t.seed, self.batch_per_rank)
        self.step = self.epoch = self.batch_in_epoch = 0
        self.stages: set[str] = set()
        self.checkpoint_dir = self.run_dir / "checkpoints"
        self.last_checkpoint: Path | None = None
        self.phase_index = -1
        self.g_forward: torch.nn.Module = self.model
        self.d_forward: torch.nn.Module | None = self.disc
        self._first_bad = torch.full((), -1, dtype=torch.long, device=self.device)
        # On CPU a check costs no device sync, and a NaN sampling grid can crash grid_sample's backward
        # there: check the generator loss before every backward. On GPUs it is checked on log steps.
        self.eager_nan_check = self.device.type == "cpu"
        rank_seed = t.seed + 1 + 1000 * self.ctx.rank
        random.seed(rank_seed)
        np.random.seed(rank_seed % 2**32)
        torch.manual_seed(rank_seed)
        if resume:
            self._resume()

    # ---------------------------------------------------------------- phases
    def phase_at(self, step: int) -> tuple[int, PhaseSection]:
        phases = self.cfg.train.phases or [PhaseSection()]
        for i, phase in enumerate(phases):
            if phase.until_step is None or step < phase.until_step:
                return i, phase
        return len(phases) - 1, phases[-1]

    def _fusion_mode(self, phase: PhaseSection) -> str:
        if not phase.rac or self.model.rac is None:
            return "explicit"
        return phase.fusion_mode or self.cfg.model.cgf.mode

    def _enter_phase(self, index: int, phase: PhaseSection) -> None:
        """Freeze what this phase does not train and (re)wrap the modules for DDP."""
        self.phase_index = index
        frozen = set(self.cfg.train.freeze) | set(phase.freeze)
        if self._fusion_mode(phase) == "explicit":
            frozen |= {"rac", "fusion", "pixel_fusion"}
        elif self._fusion_mode(phase) == "add":
            frozen.add("fusion")
        for name, module in self.model.named_children():
            module.requires_grad_(name not in frozen)
        if self.ctx.distributed:
            ids = [self.device.index] if self.device.type == "cuda" else None
            unused = self.cfg.train.find_unused_parameters
            self.g_forward = DistributedDataParallel(self.model, device_ids=ids, find_unused_parameters=unused)
            if self.disc is not None:
                self.d_forward = DistributedDataParallel(self.disc, device_ids=ids)

    # ---------------------------------------------------------------- one step
    def _model_inputs(self, batch: dict[str, Any], phase: PhaseSection) -> dict[str, Any]:
        mode = self._fusion_mode(phase)
        refs = self.cfg.dataset.num_references if phase.references is None else phase.references
        inputs: dict[str, Any] = {"source": batch["source"], "driving": batch["driving"], "fusion_mode": mode}
        given = self.model.motion_source.uses_landmarks  # the dataset's tracked keypoints, else the model's own
        if given:
            inputs["source_keypoints"] = batch["source_keypoints"]
            inputs["driving_keypoints"] = batch["driving_keypoints"]
        if self.cfg.model.warp.dense_motion.prior_candidate:
            if batch.get("prior_grid") is None:
                raise ConfigError(
                    "the model takes a prior grid but the dataset gives none (ClipDataset prior_grid=True)"
                )
            inputs["prior_grid"] = batch["prior_grid"]
        if batch.get("source_hr") is not None:
            inputs["source_hr"] = batch["source_hr"]
            inputs["output_size"] = int(batch["source_hr"].shape[-1])
        if mode != "explicit" and refs > 0 and batch.get("references") is not None and batch["references"].shape[1]:
            inputs["references"] = batch["references"][:, :refs]
            inputs["reference_mask"] = batch["reference_mask"][:, :refs]
            if given:
                inputs["reference_keypoints"] = batch["reference_keypoints"][:, :refs]
            if self.cfg.model.cgf.pixel_references and batch.get("reference_grids") is not None:
                inputs["reference_grids"] = batch["reference_grids"][:, :refs]
                if batch.get("references_hr") is not None:
                    inputs["references_hr"] = batch["references_hr"][:, :refs]
        return inputs

    def _autocast(self):
        if self.autocast_dtype is None:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)

    def _keypoints_of(self, image: torch.Tensor) -> torch.Tensor:
        """Keypoints ``B×K×3`` the motion encoder gives an image (its canonical ones under its own motion)."""
        return self.model.learned_motion().source(image).keypoints

    def _generator_loss(self, batch, out, target, disc_fake, disc_real):
        extra: dict[str, Any] = {}
        motion = out.driving_motion
        if motion is not None:
            extra["expression"] = motion.exp
            if self.weights.equivariance > 0:
                extra["keypoint_estimator"] = self._keypoints_of
                extra["estimated_keypoints"] = keypoints_from_motion(motion.kp, motion)
            if self.weights.pose > 0 and "driving_pose" in batch:
                extra["pose_predicted"] = torch.stack(
                    [bins_to_degrees(motion.pitch), bins_to_degrees(motion.yaw), bins_to_degrees(motion.roll)], -1)
                extra["pose_target"] = batch["driving_pose"]
        if disc_fake is not None:
            extra.update(disc_fake_logits=disc_fake[1], disc_fake_features=disc_fake[0],
                         disc_real_features=disc_real[0])
        return self.loss(out.image, target, source=batch["source"], flow=out.flow, occlusion=out.occlusion,
                         kp_source=out.kp_source, kp_driving=out.kp_driving, **extra)

    def _clip(self, params) -> torch.Tensor | None:
        if self.cfg.train.grad_clip <= 0:
            return None
        return torch.nn.utils.clip_grad_norm_(params, self.cfg.train.grad_clip, foreach=True)

    def train_step(self, batch: dict[str, Any], phase: PhaseSection, want_output: bool = False):
        """One G + D update on a batch already on the device -> (values dict of 0-dim tensors, output)."""
        inputs = self._model_inputs(batch, phase)
        self.opt_g.zero_grad(set_to_none=True)
        with self._autocast():
            out = self.g_forward(**inputs, return_explicit=want_output)
            fake = out.image
            target = batch["driving_hr"] if batch.get("driving_hr") is not None else batch["driving"]
            if target.shape[-1] != fake.shape[-1]:
                target = F.interpolate(target, size=fake.shape[-2:], mode="bicubic", align_corners=False).clamp(0, 1)
            disc_fake = disc_real = None
            if self.disc is not None:
                self.disc.requires_grad_(False)
                both = self.disc(torch.cat([fake, target]))
                disc_fake, disc_real = _split_discriminator(both, fake.shape[0])
            g_total, g_values = self._generator_loss(batch, out, target, disc_fake, disc_real)
        bad = ~torch.isfinite(g_total.detach())
        if self.eager_nan_check and bool(D.all_reduce_max(self.ctx, bad.to(torch.int32))):
            self._first_bad.fill_(self.step + 1)
            self.check_finite()  # raises before a backward pass through NaN sampling grids
        self.scaler.scale(g_total).backward()
        self.scaler.unscale_(self.opt_g)
        g_norm = self._clip([p for p in self.model.parameters() if p.grad is not None])
        self.scaler.step(self.opt_g)
        values = {"loss/total": g_total.detach()}
        if self.disc is not None:
            assert self.opt_d is not None and self.sched_d is not None and self.d_forward is not None  # built with it
            self.disc.requires_grad_(True)
            self.opt_d.zero_grad(set_to_none=True)
            with self._autocast():
                both = self.d_forward(torch.cat([target, fake.detach()]))
                real, fake_d = _split_discriminator(both, fake.shape[0])
                d_loss = hinge_discriminator_loss(real[1], fake_d[1])
            self.scaler.scale(d_loss).backward()
            self.scaler.unscale_(self.opt_d)
            self._clip(self.disc.parameters())
            self.scaler.step(self.opt_d)
            self.sched_d.step()
            values["loss/discriminator"] = d_loss.detach()
            bad = bad | ~torch.isfinite(d_loss.detach())
        self.scaler.update()
        self.sched_g.step()
        self.ema.update(self.model)
        self._first_bad = torch.where(bad & (self._first_bad < 0), self.step + 1, self._first_bad)
        if g_norm is not None:
            values["grad_norm/generator"] = g_norm.detach()
        values.update({f"loss/{k}": v for k, v in g_values.items() if k != "total"})
        return values, out

    # ---------------------------------------------------------------- checks, checkpoints
    def check_finite(self) -> None:
        """Stop (on every rank) with one line if any loss since the last check was NaN/inf."""
        first_bad = int(D.all_reduce_max(self.ctx, self._first_bad).item())
        if first_bad >= 0:
            good = self.last_checkpoint or S.latest_checkpoint(self.checkpoint_dir)
            where = f"the last good checkpoint {good} is intact" if good else "no checkpoint had been written yet"
            raise TrainingDivergedError(
                f"training stopped: non-finite loss (NaN/inf) at step {first_bad}; {where} "
                "(lower train.lr or use precision fp32/bf16, then resume with --resume)")

    def trained_stages(self) -> list[str]:
        return [s for s in ("explicit", "rac", "cgf") if s in self.stages]

    def save(self) -> Path | None:
        """Checkpoint the whole training state (rank 0 writes; every rank's RNG state is kept)."""
        rng = D.gather_objects(self.ctx, S.capture_rng_state())
        if not self.ctx.is_main:
            return None
        weights = {**S.prefixed(self.model.state_dict(), "model"), **S.prefixed(self.ema.state_dict(), "ema")}
        state: dict[str, Any] = {
            "optimizer_g": self.opt_g.state_dict(), "scheduler_g": self.sched_g.state_dict(),
            "scaler": self.scaler.state_dict(), "ema_updates": self.ema.updates, "epoch": self.epoch,
            "batch_in_epoch": self.batch_in_epoch, "rng": rng, "world_size": self.ctx.world_size,
            "stages": sorted(self.stages), "config": json.dumps(self.cfg.to_dict()),
        }
        if self.disc is not None:
            assert self.opt_d is not None and self.sched_d is not None  # built with the discriminator
            weights.update(S.prefixed(self.disc.state_dict(), "discriminator"))
            state.update(optimizer_d=self.opt_d.state_dict(), scheduler_d=self.sched_d.state_dict())
        self.last_checkpoint = S.save_checkpoint(self.checkpoint_dir, self.step, weights, state,
                                                 self.cfg.train.keep_last)
        self.export_ema()
        return self.last_checkpoint

    def export_ema(self) -> Path:
        path = self.run_dir / "model_ema.safetensors"
        self.ema.module.save_pretrained(path, trained_stages=self.trained_stages(), step=self.step)
        return path

    def _resume(self) -> None:
        path = S.latest_checkpoint(self.checkpoint_dir)
        if path is None:
            warnings.warn(f"--resume: no complete checkpoint in {self.checkpoint_dir}; starting from step 0",
                          stacklevel=2)
            return
        weights, state, step = S.load_checkpoint(path)
        load_state_dict_strict(self.model, S.split_prefixed(weights, "model"), str(path))
        self.ema.load_state_dict(S.split_prefixed(weights, "ema"), state["ema_updates"])
        self.opt_g.load_state_dict(state["optimizer_g"])
        self.sched_g.load_state_dict(state["scheduler_g"])
        if self.disc is not None:
            if "optimizer_d" not in state:
                raise ConfigError(f"train.discriminator: {path} was trained without a discriminator")
            load_state_dict_strict(self.disc, S.split_prefixed(weights, "discriminator"), str(path))
            assert self.opt_d is not None and self.sched_d is not None  # built with the discriminator
            self.opt_d.load_state_dict(state["optimizer_d"])
            self.sched_d.load_state_dict(state["scheduler_d"])
        if state["scaler"]:
            self.scaler.load_state_dict(state["scaler"])
        self.step, self.epoch, self.batch_in_epoch = step, state["epoch"], state["batch_in_epoch"]
        self.stages = set(state["stages"])
        self.last_checkpoint = path
        if state["world_size"] == self.ctx.world_size:
            S.restore_rng_state(state["rng"][self.ctx.rank])
        else:  # a different process count cannot continue the same random streams
            seed = self.cfg.train.seed + 1 + 1000 * self.ctx.rank + 7919 * step
            random.seed(seed)
            np.random.seed(seed % 2**32)
            torch.manual_seed(seed)

    # ---------------------------------------------------------------- side outputs
    @torch.no_grad()
    def write_samples(self, batch: dict[str, Any], phase: PhaseSection) -> Path:
        n = self.cfg.train.num_samples
        small = {k: v[:n] if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
        inputs = self._model_inputs(small, phase)
        with self._autocast():
            out = self.ema.module(**inputs, return_explicit=True)
        return write_sample_grid(self.run_dir / "samples" / f"step_{self.step:08d}.png", small, out, max_rows=n)

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        """Held-out L1 of the EMA generator and of the static-source baseline on ``eval_dataset``."""
        count = min(len(self.eval_dataset), self.cfg.eval.max_items)
        model_l1 = static_l1 = 0.0
        phase = dataclasses.replace(self.phase_at(self.step)[1], references=self.cfg.eval.references)
        for i in range(count):
            item = self.eval_dataset[i]
            batch = batch_to_device({k: v[None] if isinstance(v, torch.Tensor) else v for k, v in item.items()},
                                    self.device)
            image = self.ema.module(**self._model_inputs(batch, phase)).image.float()
            target = batch["driving"]
            if target.shape[-1] != image.shape[-1]:
                target = F.interpolate(target, size=image.shape[-2:], mode="bicubic", align_corners=False).clamp(0, 1)
            model_l1 += (image - target).abs().mean().item()
            target = batch["driving"]
            static_l1 += (batch["source"] - target).abs().mean().item()
        return {"eval/l1": model_l1 / max(count, 1), "eval/l1_static": static_l1 / max(count, 1)}

    # ---------------------------------------------------------------- the loop
    def _out_of_time(self, start_time: float) -> bool:
        """True once ``train.max_minutes`` of this invocation have passed (the same answer on every rank)."""
        limit = self.cfg.train.max_minutes
        if not limit:
            return False
        late = time.perf_counter() - start_time >= 60.0 * limit
        if not self.ctx.distributed:
            return late  # no device sync on the single-process hot path
        return bool(D.all_reduce_mean(self.ctx, torch.tensor([float(late)], device=self.device)).item() > 0)

    def train(self) -> TrainResult:
        """Run to ``train.max_steps`` (or ``train.max_minutes``): one pass of the loader per epoch."""
        t = self.cfg.train
        logger = self._open_run()
        start_step, start_time = self.step, time.perf_counter()
        last: dict[str, float] = {}
        stop = False
        try:
            while self.step < t.max_steps and not stop:
                for batch in self._epoch_loader():
                    batch, values, index, phase = self._run_step(batch)
                    stop = self._out_of_time(start_time)
                    last = self._after_step(batch, values, index, phase, logger, final=stop) or last
                    if self.step >= t.max_steps or stop:
                        break
                self._advance_epoch_if_complete()
        finally:
            logger.close()
        seconds = time.perf_counter() - start_time
        done = (self.step - start_step) * t.batch_size
        export = self.run_dir / "model_ema.safetensors" if self.ctx.is_main else None
        return TrainResult(self.step, self.last_checkpoint, export, seconds,
                           done / seconds if seconds > 0 else math.nan, last)

    def _open_run(self) -> TrainLogger:
        """The run's logger; rank 0 creates the run folder and writes ``config.yaml``."""
        t, main = self.cfg.train, self.ctx.is_main
        logger = TrainLogger(self.run_dir, main, resume_step=self.step if self.step else None,
                             total_steps=t.max_steps, progress=t.progress and main)
        if main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            (self.run_dir / "config.yaml").write_text(self.cfg.to_yaml())
        return logger

    def _epoch_loader(self) -> DataLoader:
        """The loader for the rest of the current epoch (from ``batch_in_epoch``)."""
        self.sampler.set_position(self.epoch, self.batch_in_epoch)
        return make_loader(self.dataset, self.sampler, self.cfg.dataset.num_workers, self.cfg.train.seed,
                           self.epoch, pin_memory=self.device.type == "cuda")

    def _advance_epoch_if_complete(self) -> None:
        """The one place the epoch advances: once every batch of the current one has been trained on."""
        if self.batch_in_epoch >= self.sampler.batches_per_epoch():
            self.epoch += 1
            self.batch_in_epoch = 0

    def _run_step(self, batch: dict[str, Any]) -> tuple[dict[str, Any], dict[str, torch.Tensor], int, PhaseSection]:
        """Enter the step's phase if it changed, train on ``batch`` and count the step; returns the batch on
        the device, the loss values, the phase index and the phase."""
        index, phase = self.phase_at(self.step)
        if index != self.phase_index:
            self._enter_phase(index, phase)
        batch = batch_to_device(batch, self.device)
        values, _ = self.train_step(batch, phase)
        self.step += 1
        self.batch_in_epoch += 1
        mode = self._fusion_mode(phase)
        self.stages |= {"explicit"} | ({"rac"} if mode != "explicit" else set())
        self.stages |= {"cgf"} if mode == "confidence" else set()
        every = self.cfg.train.check_replicas_every
        if every and self.step % every == 0:
            D.assert_replicas_equal(self.ctx, self.model, self.step)
        return batch, values, index, phase

    def _after_step(self, batch: dict[str, Any], values: dict[str, torch.Tensor], index: int, phase: PhaseSection,
                    logger: TrainLogger, *, final: bool) -> dict[str, float] | None:
        """Log, sample, evaluate and checkpoint as scheduled (``final``: the run stops after this step);
        returns the logged loss values when this step logged them."""
        t, main = self.cfg.train, self.ctx.is_main
        final = final or self.step == t.max_steps
        log_now = self.step % t.log_every == 0 or final
        ckpt_now = self.step % t.checkpoint_every == 0 or final
        if log_now or ckpt_now:
            self.check_finite()
        logged = self._reduced_values(values, index) if log_now else None
        row: dict[str, float] = dict(logged or {})
        if t.sample_every > 0 and self.step % t.sample_every == 0 and main:
            self.write_samples(batch, phase)
        if self.cfg.eval.every and self.step % self.cfg.eval.every == 0 and main and self.eval_dataset is not None:
            row.update(self.evaluate())
        if row:
            logger.log(self.step, row)
        if ckpt_now:
            self.save()
        logger.advance()
        return logged

    def _reduced_values(self, values: dict[str, torch.Tensor], phase_index: int) -> dict[str, float]:
        """Loss values averaged over the ranks (one device sync), plus the learning rate and the phase."""
        names = sorted(values)
        stacked = D.all_reduce_mean(self.ctx, torch.stack([values[k].float().to(self.device) for k in names]))
        reduced = dict(zip(names, stacked.tolist()))
        reduced["lr"] = self.sched_g.get_last_lr()[0]
        reduced["phase"] = float(phase_index)
        return reduced


def extend_from_checkpoint(model: torch.nn.Module, path: str) -> list[str]:
    """Start ``model`` from a checkpoint of a smaller architecture: every tensor of the checkpoint must
    exist in the model with the same shape (CheckpointError naming the first that does not); the
    model's other tensors (new modules) keep their initialisation. Returns the names of those."""
    from synergywarp.errors import CheckpointError
    from synergywarp.models.checkpoint import read_tensors

    state = read_tensors(path, "cpu")
    own = model.state_dict()
    for key, tensor in state.items():
        if key not in own:
            raise CheckpointError(f"{path}: key {key!r} has no place in the model (train.init_extends needs a "
                                  "checkpoint whose every tensor the model has)")
        if tuple(own[key].shape) != tuple(tensor.shape):
            raise CheckpointError(f"{path}: key {key!r} has shape {tuple(tensor.shape)}, the model expects "
                                  f"{tuple(own[key].shape)}")
    model.load_state_dict(state, strict=False)
    return sorted(set(own) - set(state))


def parameter_groups(model: torch.nn.Module, lr: float, multipliers: dict[str, float]) -> list[dict[str, Any]]:
    """Adam parameter groups: one per top-level module named in ``multipliers`` (learning rate
    ``lr × multiplier``, e.g. a new head that must move fast while the rest fine-tunes), one for the rest."""
    groups: list[dict[str, Any]] = []
    rest: list[torch.nn.Parameter] = []
    for name, module in model.named_children():
        params = list(module.parameters())
        if name in multipliers and params:
            groups.append({"params": params, "lr": lr * multipliers[name], "name": name})
        else:
            rest.extend(params)
    own = [p for name, p in model.named_parameters(recurse=False)]
    return [{"params": rest + own, "lr": lr, "name": "rest"}, *groups]

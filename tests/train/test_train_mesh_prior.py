"""Training a ``*_tracked_mesh`` model (prior candidate motion + image skip) and the wall-clock budget."""

from __future__ import annotations

import math

import pytest
import torch
from train_helpers import SIZE, BlobClips, tiny_config

from synergywarp.errors import ConfigError
from synergywarp.models import SynergyWarpNet
from synergywarp.train.trainer import Trainer


def _motion(clips: int, frames: int, clip: int, t: int) -> tuple[float, float, float]:
    """BlobClips' centre and scale of (clip, frame): pixel p shows canonical point (p − c) / s."""
    a = 2 * math.pi * t / frames + 2 * math.pi * clip / clips
    return 0.25 * math.sin(a), 0.2 * math.sin(2 * a + 1), 0.45 + 0.1 * math.cos(a)


class PriorBlobClips(BlobClips):
    """BlobClips whose items carry the exact backward grid driving → source (``exact=False``: identity)."""

    def __init__(self, exact: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.exact = exact
        pixel = (torch.arange(SIZE, dtype=torch.float32) * 2 + 1) / SIZE - 1
        gy, gx = torch.meshgrid(pixel, pixel, indexing="ij")
        self.pixels = torch.stack([gx, gy], -1)

    def prior(self, clip: int, source: int, driving: int) -> torch.Tensor:
        if not self.exact:
            return self.pixels.clone()
        sx, sy, ss = _motion(self.clips, self.frames, clip, source)
        dx, dy, ds = _motion(self.clips, self.frames, clip, driving)
        canonical = (self.pixels - torch.tensor([dx, dy])) / ds
        return canonical * ss + torch.tensor([sx, sy])

    def item(self, clip, source, driving, refs, mask):
        out = super().item(clip, source, driving, refs, mask)
        out["prior_grid"] = self.prior(clip, source, driving)
        out["clip_index"] = torch.tensor([clip, source, driving])
        return out


def _heldout_l1(model: SynergyWarpNet, data: PriorBlobClips) -> tuple[float, float]:
    items = data.heldout_pairs()
    batch = {k: torch.stack([item[k] for item in items]) for k in items[0]}
    with torch.no_grad():
        out = model.eval()(batch["source"], batch["driving"], source_keypoints=batch["source_keypoints"],
                           driving_keypoints=batch["driving_keypoints"], fusion_mode="explicit",
                           prior_grid=batch["prior_grid"])
    return ((out.image - batch["driving"]).abs().mean().item(),
            (batch["source"] - batch["driving"]).abs().mean().item())


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _train(tmp_path, name: str, data: PriorBlobClips, **train) -> SynergyWarpNet:
    options = dict(batch_size=4, max_steps=40, lr=1e-3, ema_decay=0.9, discriminator=False, log_every=10,
                   checkpoint_every=40, phases=[{"rac": False}])
    options.update(train)
    Trainer(tiny_config("tiny_tracked_mesh", **options), tmp_path / name, data).train()
    return SynergyWarpNet.from_pretrained(tmp_path / name / "model_ema.safetensors")


@pytest.mark.slow
def test_the_prior_motion_is_used_and_learned_from(tmp_path):
    exact, identity = PriorBlobClips(exact=True), PriorBlobClips(exact=False)
    with_prior = _train(tmp_path, "exact", exact)
    without = _train(tmp_path, "identity", identity)
    l1_prior, static = _heldout_l1(with_prior, exact)
    l1_without, _ = _heldout_l1(without, identity)
    assert l1_prior < 0.5 * static, f"{l1_prior:.4f} vs static {static:.4f}"
    assert l1_prior < 0.7 * l1_without, f"exact prior {l1_prior:.4f} vs identity prior {l1_without:.4f}"
    # the same weights fed an uninformative prior do worse: the network relies on it
    wrong, _ = _heldout_l1(with_prior, identity)
    assert wrong > 1.5 * l1_prior


def test_a_dataset_without_prior_grids_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="prior grid"):
        Trainer(tiny_config("tiny_tracked_mesh", max_steps=2), tmp_path / "run", BlobClips()).train()


def test_max_minutes_stops_early_with_a_checkpoint_and_an_export(tmp_path):
    cfg = tiny_config(max_steps=50, max_minutes=1e-6, checkpoint_every=50, loss_weights={"perceptual": 0.0})
    result = Trainer(cfg, tmp_path / "run", BlobClips()).train()
    assert result.step == 1
    assert result.checkpoint is not None and result.checkpoint.name == "step_00000001"
    assert (tmp_path / "run" / "model_ema.safetensors").is_file()


def test_negative_max_minutes_is_a_config_error():
    with pytest.raises(ConfigError, match="max_minutes"):
        tiny_config(max_minutes=-1.0)

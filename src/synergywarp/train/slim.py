"""Slimming a trained network before fine-tuning it: fewer channels where a CPU spends its time.

:func:`slim_dense_motion` narrows the dense motion hourglass's last convolution (``DenseMotionConfig.out_channels``),
the 3D convolution that, with the mask convolution after it, costs about a third of the live model's
per-frame time on a CPU. The channels kept are the ones that carry the most signal into the mask and
occlusion heads, judged from the batch-norm statistics the training recorded (no data needed); the mean
output of each dropped channel is folded into those heads' biases (exact away from the volume's border,
where the heads' zero padding reads fewer voxels), and a fine-tune recovers the rest. Given the
hourglass's outputs on real frames (``features``; recommended), the channels are chosen by their measured
signal instead and the two heads are refitted to the kept channels by least squares (ridge), so they
reproduce the original heads' logits as well as the kept channels allow (on the live model: 29 dB PSNR
of the whole output from the original's at the start, against 21 dB from batch-norm statistics alone).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from synergywarp.models import SynergyWarpNet


def _relu_moments(mean: torch.Tensor, std: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """E[relu(y)] and E[relu(y)²] for y ~ N(mean, std²) (elementwise)."""
    std = std.clamp_min(1e-8)
    z = mean / std
    pdf = torch.exp(-0.5 * z**2) / math.sqrt(2.0 * math.pi)
    cdf = 0.5 * (1.0 + torch.erf(z / math.sqrt(2.0)))
    first = mean * cdf + std * pdf
    second = (mean**2 + std**2) * cdf + mean * std * pdf
    return first.clamp_min(0.0), second.clamp_min(0.0)  # rounding can go below 0 far in the tail


def dense_motion_channel_scores(model: SynergyWarpNet, features: torch.Tensor | None = None
                                ) -> tuple[torch.Tensor, torch.Tensor]:
    """(score, mean output) per channel of the dense motion hourglass's last conv → BN → ReLU, each ``C``.

    After batch norm in eval mode a channel is ``γ·(x − μ)/σ + β``; over the training data it has mean β
    and standard deviation |γ|, so its ReLU output has the moments of a rectified N(β, γ²) (measured
    instead from ``features`` ``N×C×D×H×W``, the hourglass's outputs, when given). The score is that
    output's RMS times the share of the mask and occlusion heads' weights that read the channel."""
    dense = model.warping.dense_motion_network
    norm = dense.hourglass.decoder.norm
    if features is not None:
        values = features.detach().double().transpose(0, 1).reshape(features.shape[1], -1)
        mean_out, rms = values.mean(dim=1), values.pow(2).mean(dim=1).sqrt()
    else:
        mean_out, second = _relu_moments(norm.bias.detach().double(), norm.weight.detach().double().abs())
        rms = second.sqrt()
    mask_weight = dense.mask.weight.detach().double()  # K × C × k × k × k
    reads = mask_weight.pow(2).sum(dim=(0, 2, 3, 4)).sqrt() / mask_weight.norm()
    if dense.occlusion is not None:
        channels = norm.num_features
        occlusion = dense.occlusion.weight.detach().double()  # 1 × (C·D) × k × k
        per_channel = occlusion.reshape(occlusion.shape[0], channels, -1).pow(2).sum(dim=(0, 2)).sqrt()
        reads = reads + per_channel / occlusion.norm()
    return (rms * reads).float(), mean_out.float()


@torch.no_grad()
def slim_dense_motion(model: SynergyWarpNet, width: int, name: str | None = None, *,
                      features: torch.Tensor | None = None, ridge: float = 1e-3) -> SynergyWarpNet:
    """A copy of ``model`` whose dense motion hourglass ends in ``width`` channels (the highest-scoring of
    :func:`dense_motion_channel_scores`); every other tensor is copied unchanged except the mask and
    occlusion heads. ``name``: the new config's name (default: the old one + ``_slim{width}``).
    ``features`` ``N×C×D×H×W`` (the hourglass's outputs on real inputs, e.g. from :func:`hourglass_features`):
    choose channels by them and refit both heads to them (``ridge``: relative Tikhonov weight)."""
    dense = model.warping.dense_motion_network
    current = dense.hourglass.out_filters
    if not 0 < width < current:
        raise ValueError(f"width must be between 1 and {current - 1} (the hourglass ends in {current} channels), "
                         f"got {width}")
    if features is not None and (features.dim() != 5 or features.shape[1] != current):
        raise ValueError(f"features must be N×{current}×D×H×W hourglass outputs, got {tuple(features.shape)}")
    if any(k % 2 == 0 for k in (*dense.mask.kernel_size, *getattr(dense.occlusion, "kernel_size", ()))):
        raise ValueError("slimming needs odd mask and occlusion kernels (same-size zero padding)")
    config = model.config
    motion_cfg = dataclasses.replace(config.warp.dense_motion, out_channels=width)
    new_config = dataclasses.replace(config, name=name or f"{config.name}_slim{width}",
                                     warp=dataclasses.replace(config.warp, dense_motion=motion_cfg))
    slim = SynergyWarpNet(new_config).eval()
    scores, mean_out = dense_motion_channel_scores(model, features)
    keep = torch.sort(torch.topk(scores, width).indices).values
    drop = torch.ones(current, dtype=torch.bool)
    drop[keep] = False

    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    mean_out = mean_out.cpu()
    prefix = "warping.dense_motion_network."
    conv, norm = prefix + "hourglass.decoder.conv.", prefix + "hourglass.decoder.norm."
    for key in (conv + "weight", conv + "bias", norm + "weight", norm + "bias", norm + "running_mean",
                norm + "running_var"):
        state[key] = state[key][keep].clone()
    if features is not None:  # the heads refitted to the kept channels' measured outputs
        kept = features[:, keep].float()
        mask_head: torch.nn.Conv3d = dense.mask
        weight, bias = _refit(mask_head, features.float(), kept, ridge, volumetric=True)
        state[prefix + "mask.weight"], state[prefix + "mask.bias"] = weight, bias
        if dense.occlusion is not None:
            occlusion_head: torch.nn.Conv2d = dense.occlusion
            weight, bias = _refit(occlusion_head, _channels_by_depth(features.float()), _channels_by_depth(kept),
                                  ridge, volumetric=False)
            state[prefix + "occlusion.weight"], state[prefix + "occlusion.bias"] = weight, bias
    else:  # the heads read the kept channels; each dropped channel's mean output moves into their biases
        mask_weight = state[prefix + "mask.weight"]
        state[prefix + "mask.bias"] = state[prefix + "mask.bias"] + (
            mask_weight[:, drop].sum(dim=(2, 3, 4)) @ mean_out[drop])
        state[prefix + "mask.weight"] = mask_weight[:, keep].clone()
        if dense.occlusion is not None:
            occlusion = state[prefix + "occlusion.weight"]  # 1 × (C·D) × k × k, channel-major
            per_channel = occlusion.reshape(occlusion.shape[0], current, -1, *occlusion.shape[-2:])
            state[prefix + "occlusion.bias"] = state[prefix + "occlusion.bias"] + (
                per_channel[:, drop].sum(dim=(2, 3, 4)) @ mean_out[drop])
            state[prefix + "occlusion.weight"] = per_channel[:, keep].reshape(occlusion.shape[0], -1,
                                                                               *occlusion.shape[-2:]).clone()
    slim.load_state_dict(state, strict=True)
    return slim


#: the refit solves normal equations of (columns)² float64: 32768 columns = 8 GiB, past which it refuses
MAX_REFIT_COLUMNS = 32768


def _channels_by_depth(volume: torch.Tensor) -> torch.Tensor:
    """``B×C×D×H×W`` → ``B×(C·D)×H×W``, channel-major, as the network feeds the occlusion head."""
    return volume.flatten(1, 2)


def _patches(x: torch.Tensor, kernel: int, volumetric: bool) -> torch.Tensor:
    """Zero-padded ``kernel``-wide patches of one input ``C×(D×)H×W`` → ``positions × (C·kernel^k)``, ordered
    like a Conv3d / Conv2d weight's flattened input dimensions."""
    pad = kernel // 2
    if not volumetric:
        return F.unfold(x[None], kernel, padding=pad)[0].T
    c, d, h, w = x.shape
    padded = F.pad(x, (pad,) * 6)
    shifts = [padded[:, a:a + d, b:b + h, e:e + w] for a in range(kernel) for b in range(kernel) for e in range(kernel)]
    return torch.stack(shifts, dim=1).reshape(c * kernel**3, -1).T


def _refit(conv: torch.nn.Conv2d | torch.nn.Conv3d, full: torch.Tensor, kept: torch.Tensor, ridge: float, *,
           volumetric: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(weight, bias) of a conv reading ``kept`` (``N×C'×...``) that best reproduces ``conv`` on ``full``
    (``N×C×...``) in the least-squares sense."""
    kernel = int(conv.kernel_size[0])
    columns = kept.shape[1] * kernel ** (3 if volumetric else 2) + 1
    if columns > MAX_REFIT_COLUMNS:
        raise ValueError(f"refitting a head reading {columns - 1} inputs needs {columns**2 * 8 / 2**30:.0f} GiB; "
                         f"slim to fewer channels or without measured features (batch-norm statistics)")
    gram = torch.zeros(columns, columns, dtype=torch.float64)
    cross = torch.zeros(columns, conv.out_channels, dtype=torch.float64)
    for sample_full, sample_kept in zip(full, kept):
        target = conv(sample_full[None])[0].reshape(conv.out_channels, -1).T.double()
        rows = _patches(sample_kept, kernel, volumetric).double()
        rows = torch.cat([rows, torch.ones(rows.shape[0], 1, dtype=torch.float64)], dim=1)
        gram += rows.T @ rows
        cross += rows.T @ target
    damping = ridge * gram.diagonal()[:-1].mean()
    gram[:-1, :-1] += damping * torch.eye(columns - 1, dtype=torch.float64)
    solution = torch.linalg.solve(gram, cross).T.float()  # out × columns
    weight = solution[:, :-1].reshape(conv.out_channels, kept.shape[1], *conv.kernel_size)
    return weight.contiguous(), solution[:, -1].contiguous()


@torch.no_grad()
def hourglass_features(model: SynergyWarpNet, run: Callable[[], object]) -> torch.Tensor:
    """The dense motion hourglass's outputs ``N×C×D×H×W`` collected while ``run()`` drives ``model``."""
    collected: list[torch.Tensor] = []
    hook = model.warping.dense_motion_network.hourglass.register_forward_hook(
        lambda _module, _inputs, output: collected.append(output.detach().float().cpu()))
    try:
        run()
    finally:
        hook.remove()
    if not collected:
        raise ValueError("the model's dense motion network did not run")
    return torch.cat(collected)

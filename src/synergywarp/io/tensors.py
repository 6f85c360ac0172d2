"""uint8 RGB frames ↔ float image tensors: the one conversion between the arrays :mod:`synergywarp.io`
reads and writes and the tensors the networks take (imported on its own: ``synergywarp.io`` does not
load torch)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from einops import rearrange


def images_to_tensor(images: np.ndarray | Sequence[np.ndarray]) -> torch.Tensor:
    """``N×H×W×3`` uint8 (an array or a sequence of ``H×W×3``) → ``N×3×H×W`` float32 in [0, 1] (CPU)."""
    batch = np.ascontiguousarray(images if isinstance(images, np.ndarray) else np.stack(list(images)))
    return rearrange(torch.from_numpy(batch), "n h w c -> n c h w").float().div_(255.0)


def tensor_to_images(images: torch.Tensor) -> np.ndarray:
    """``N×3×H×W`` in [0, 1] (any device, any float dtype) → ``N×H×W×3`` uint8 (clamped, rounded)."""
    quantised = images.detach().float().clamp(0.0, 1.0).mul_(255.0).round_().to(torch.uint8)
    return rearrange(quantised, "n c h w -> n h w c").cpu().numpy()

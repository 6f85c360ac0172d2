"""Memory-format helpers: channels-last for 2D and 3D convolutions (faster on AMX CPUs and tensor cores)."""

from __future__ import annotations

import torch
from torch import nn


def to_channels_last(module: nn.Module) -> nn.Module:
    """Convert 4D parameters/buffers to ``channels_last`` and 5D ones to ``channels_last_3d`` (in place)."""
    for tensor in list(module.parameters()) + list(module.buffers()):
        if tensor.dim() == 4:
            tensor.data = tensor.data.contiguous(memory_format=torch.channels_last)
        elif tensor.dim() == 5:
            tensor.data = tensor.data.contiguous(memory_format=torch.channels_last_3d)
    return module


def image_to_channels_last(image: torch.Tensor) -> torch.Tensor:
    """``B×C×H×W`` → channels-last layout (same values)."""
    return image.contiguous(memory_format=torch.channels_last)

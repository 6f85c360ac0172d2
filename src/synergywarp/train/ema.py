"""Exponential moving average of the generator's weights (the model that is exported for inference)."""

from __future__ import annotations

import copy
from typing import Generic, TypeVar

import torch
from torch import nn

ModuleT = TypeVar("ModuleT", bound=nn.Module)


class ModelEMA(Generic[ModuleT]):
    """``θ_ema ← d·θ_ema + (1 − d)·θ`` after every optimiser step; buffers (BatchNorm statistics,
    spectral-norm vectors) are copied. The effective decay warms up as ``min(d, (1 + n)/(10 + n))``
    for the first updates so that the average is not dominated by the random initialisation.
    """

    def __init__(self, model: ModuleT, decay: float = 0.999):
        self.decay = decay
        self.updates = 0
        self.module = copy.deepcopy(model).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)

    def current_decay(self) -> float:
        return min(self.decay, (1 + self.updates) / (10 + self.updates))

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        decay = self.current_decay()
        self.updates += 1
        ema_params: list[torch.Tensor] = [p for p in self.module.parameters()]
        params = [p.detach() for p in model.parameters()]
        torch._foreach_lerp_(ema_params, params, 1.0 - decay)
        for ema_buffer, buffer in zip(self.module.buffers(), model.buffers()):
            ema_buffer.copy_(buffer)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.module.state_dict()

    def load_state_dict(self, state: dict[str, torch.Tensor], updates: int) -> None:
        self.module.load_state_dict(state, strict=True)
        self.updates = updates

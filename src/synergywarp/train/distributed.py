"""torchrun-aware process-group setup: gloo on CPU, NCCL on CUDA; rank-0-only helpers.

``torchrun --nproc_per_node=N -m synergywarp train ...`` sets RANK / WORLD_SIZE / LOCAL_RANK /
MASTER_ADDR / MASTER_PORT; without them training runs in one process with no process group.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist

from synergywarp.devices import resolve_device


@dataclass(frozen=True)
class DistContext:
    """Where this process sits: ``rank`` of ``world_size`` (``local_rank`` on its node) on ``device``."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def launched_by_torchrun() -> bool:
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def pick_device(requested: str | None, local_rank: int) -> torch.device:
    """``auto``/None: this process's CUDA device when available, else CPU; ``cpu``; ``cuda[:i]``."""
    if requested is None or requested.strip().lower() == "auto":
        return torch.device("cuda", local_rank) if torch.cuda.is_available() else torch.device("cpu")
    device = resolve_device(requested)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", local_rank)
    return device


def init_distributed(requested_device: str | None = None, timeout_s: float = 1800) -> DistContext:
    """Detect torchrun, pick the device and join the process group (idempotent)."""
    if not launched_by_torchrun() or int(os.environ["WORLD_SIZE"]) == 1:
        return DistContext(device=pick_device(requested_device, 0))
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = pick_device(requested_device, local_rank)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend, timeout=timedelta(seconds=timeout_s))
    return DistContext(rank=rank, world_size=world, local_rank=local_rank, device=device)


def shutdown(ctx: DistContext) -> None:
    if ctx.distributed and dist.is_initialized():
        dist.destroy_process_group()


def barrier(ctx: DistContext) -> None:
    if ctx.distributed:
        if ctx.device.type == "cuda":
            dist.barrier(device_ids=[ctx.device.index])
        else:
            dist.barrier()


def broadcast_object(ctx: DistContext, value: Any) -> Any:
    """Rank 0's ``value`` on every rank."""
    if not ctx.distributed:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather_objects(ctx: DistContext, value: Any) -> list[Any]:
    """Every rank's ``value``, in rank order, on every rank."""
    if not ctx.distributed:
        return [value]
    out: list[Any] = [None] * ctx.world_size
    dist.all_gather_object(out, value)
    return out


def all_reduce_mean(ctx: DistContext, tensor: torch.Tensor) -> torch.Tensor:
    """Mean over ranks (a copy; the input is untouched)."""
    out = tensor.detach().clone()
    if ctx.distributed:
        dist.all_reduce(out)
        out /= ctx.world_size
    return out


def all_reduce_max(ctx: DistContext, tensor: torch.Tensor) -> torch.Tensor:
    out = tensor.detach().clone()
    if ctx.distributed:
        dist.all_reduce(out, op=dist.ReduceOp.MAX)
    return out


def parameter_checksum(module: torch.nn.Module) -> torch.Tensor:
    """A float64 vector (sum, weighted sum) of all parameters, to compare replicas across ranks."""
    total = torch.zeros(2, dtype=torch.float64, device=next(module.parameters()).device)
    for i, p in enumerate(module.parameters()):
        flat = p.detach().double().flatten()
        total[0] += flat.sum()
        total[1] += (flat * (1 + (torch.arange(flat.numel(), device=flat.device) % 7))).sum() * (i + 1)
    return total


def assert_replicas_equal(ctx: DistContext, module: torch.nn.Module, step: int) -> None:
    """Raise RuntimeError when the parameters differ between ranks (exact comparison of checksums)."""
    if not ctx.distributed:
        return
    mine = parameter_checksum(module)
    others = [torch.zeros_like(mine) for _ in range(ctx.world_size)]
    dist.all_gather(others, mine)
    for rank, other in enumerate(others):
        if not torch.equal(other, others[0]):
            raise RuntimeError(f"DDP replicas diverged at step {step}: rank {rank} differs from rank 0")

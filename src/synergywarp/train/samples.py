"""Sample grids written during training: one row per item, columns
source | references 1…R | driving | explicit output | fused output | confidence map."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from einops import rearrange

from synergywarp.io.image import write_image
from synergywarp.models import AnimateOutput

_EMPTY = 0.5  # grey tile for an absent (masked) reference


def _tile(image: torch.Tensor, size: int) -> torch.Tensor:
    """``3×H×W`` or ``1×H×W`` in [0, 1] -> ``3×size×size``."""
    if image.shape[0] == 1:
        image = image.expand(3, -1, -1)
    if image.shape[-1] != size:
        mode = "nearest" if image.shape[-1] < size else "area"
        image = F.interpolate(image[None].float(), size=(size, size), mode=mode)[0]
    return image.float().clamp(0, 1)


def sample_grid(
    source: torch.Tensor,
    driving: torch.Tensor,
    fused: torch.Tensor,
    explicit: torch.Tensor | None = None,
    confidence: torch.Tensor | None = None,
    references: torch.Tensor | None = None,
    reference_mask: torch.Tensor | None = None,
    max_rows: int = 4,
) -> np.ndarray:
    """Build the grid as an ``H×W×3 uint8`` array.

    source, driving: ``B×3×S×S``; fused, explicit: ``B×3×S'×S'``; confidence ``B×g×h×w`` (averaged over
    groups; white = trust the explicit path); references ``B×R×3×S×S`` with mask ``B×R``.
    """
    size = fused.shape[-1]
    rows = []
    for i in range(min(max_rows, source.shape[0])):
        tiles = [_tile(source[i], size)]
        if references is not None:
            for r in range(references.shape[1]):
                real = reference_mask is None or bool(reference_mask[i, r])
                tiles.append(_tile(references[i, r], size) if real else torch.full((3, size, size), _EMPTY))
        tiles.append(_tile(driving[i], size))
        if explicit is not None:
            tiles.append(_tile(explicit[i], size))
        tiles.append(_tile(fused[i], size))
        if confidence is not None:
            tiles.append(_tile(confidence[i].float().mean(0, keepdim=True), size))
        rows.append(torch.stack([t.cpu() for t in tiles]))
    grid = rearrange(torch.stack(rows), "row col c h w -> (row h) (col w) c")
    return (grid.numpy() * 255 + 0.5).astype(np.uint8)


def write_sample_grid(path: str | Path, batch: dict[str, torch.Tensor], output: AnimateOutput,
                      max_rows: int = 4) -> Path:
    """Write :func:`sample_grid` of a training batch and the model output (with ``explicit_image``) as PNG."""
    grid = sample_grid(
        batch["source"].detach(),
        batch["driving"].detach(),
        output.image.detach(),
        explicit=output.explicit_image,
        confidence=output.confidence,
        references=batch.get("references"),
        reference_mask=batch.get("reference_mask"),
        max_rows=max_rows,
    )
    path = Path(path)
    write_image(path, grid)
    return path

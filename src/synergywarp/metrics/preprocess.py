"""Bring images to the evaluation resolution (256², antialiased bilinear) in torch or numpy."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from synergywarp.errors import InputError
from synergywarp.io.tensors import tensor_to_images

EVAL_SIZE = 256


def check_images(images: torch.Tensor, name: str = "images") -> None:
    """Raise InputError unless ``images`` is a B×3×H×W floating tensor."""
    if not isinstance(images, torch.Tensor) or images.ndim != 4 or images.shape[1] != 3:
        shape = tuple(images.shape) if hasattr(images, "shape") else type(images).__name__
        raise InputError(f"{name} must be a B×3×H×W float tensor in [0, 1], got {shape}")
    if not images.is_floating_point():
        raise InputError(f"{name} must be float in [0, 1], got dtype {images.dtype}")


def resize_to_eval(images: torch.Tensor, size: int = EVAL_SIZE) -> torch.Tensor:
    """B×3×H×W -> B×3×size×size with antialiased bilinear (align_corners=False); no-op at size²."""
    check_images(images)
    if images.shape[-2:] == (size, size):
        return images
    return F.interpolate(images, size=(size, size), mode="bilinear", antialias=True, align_corners=False)


def image_to_eval_uint8(image: np.ndarray, size: int = EVAL_SIZE) -> np.ndarray:
    """H×W×3 uint8 (or float in [0, 1]) RGB -> size×size×3 uint8 RGB, resized like :func:`resize_to_eval`."""
    if image.ndim != 3 or image.shape[2] != 3:
        raise InputError(f"expected an H×W×3 RGB image, got shape {image.shape}")
    if image.dtype == np.uint8 and image.shape[:2] == (size, size):
        return np.ascontiguousarray(image)
    as_float = image.astype(np.float32) / 255.0 if image.dtype == np.uint8 else image.astype(np.float32)
    tensor = torch.from_numpy(np.ascontiguousarray(as_float)).permute(2, 0, 1)[None]
    resized = resize_to_eval(tensor, size)[0].permute(1, 2, 0).numpy()
    return np.ascontiguousarray(np.clip(np.rint(resized * 255.0), 0, 255).astype(np.uint8))


def tensor_to_uint8_images(images: torch.Tensor, size: int = EVAL_SIZE) -> np.ndarray:
    """B×3×H×W float in [0, 1] -> B×size×size×3 uint8 RGB at the evaluation size."""
    return tensor_to_images(resize_to_eval(images.detach().float().cpu(), size))

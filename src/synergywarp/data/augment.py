"""Item augmentation (docs/DESIGN.md#training): one draw of parameters applied identically to every frame of an item.

Geometry acts on the crop cube (docs/CONTRACTS.md#crop-normalised-coordinates): a scale/translate jitter maps a point
``(x, y, z) → (s·x + tx, s·y + ty, s·z)`` (the image content zooms by ``s`` about the centre and
shifts by ``(tx, ty)`` in normalised units), then a horizontal flip maps ``x → −x``. Images follow
the same map (bilinear resampling with border replication; an exact mirror for the flip).

A flip also swaps the subject's left and right: landmark ``i`` of the flipped face is the mirror
of landmark ``mirror_landmark_pairs()[i]`` of the original (e.g. the right eye's outer corner 33
becomes the left eye's 263), and the head pose changes as ``R → M·R·M`` with ``M = diag(−1, 1, 1)``,
i.e. yaw → −yaw, roll → −roll, pitch unchanged.

Colour jitter (brightness, contrast, saturation, hue; in that order) scales RGB by a brightness
factor, blends each frame with its mean grey (contrast) and each pixel with its grey (saturation),
and rotates the chroma plane of YIQ by the hue angle; results are clipped to [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F

from synergywarp.errors import ConfigError

_GREY_WEIGHTS = (0.299, 0.587, 0.114)  # ITU-R BT.601 luma
_RGB_TO_YIQ = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])


@dataclass
class AugmentConfig:
    """Augmentation ranges; every field at 0 disables that part."""

    flip_probability: float = 0.5  # chance of a horizontal flip (images, landmarks and pose)
    brightness: float = 0.1  # factor drawn from [1 − b, 1 + b]
    contrast: float = 0.1  # factor drawn from [1 − c, 1 + c]
    saturation: float = 0.1  # factor drawn from [1 − s, 1 + s]
    hue: float = 0.02  # shift drawn from [−h, h] turns of the colour circle (≤ 0.5)
    scale: float = 0.0  # zoom factor drawn from [1 − scale, 1 + scale] (< 1)
    translate: float = 0.0  # shift drawn from [−t, t] of the image side, per axis (≤ 0.5)

    def validate(self) -> None:
        """ConfigError naming the first field out of range."""
        limits = {"flip_probability": 1.0, "brightness": 1.0, "contrast": 1.0, "saturation": 1.0,
                  "hue": 0.5, "scale": 0.99, "translate": 0.5}
        for name, upper in limits.items():
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0.0 <= value <= upper:
                raise ConfigError(f"augment {name} must be a number in [0, {upper}], got {value!r}")


@dataclass(frozen=True)
class AugmentParams:
    """One draw of augmentation parameters (shared by all frames of an item)."""

    flip: bool = False
    scale: float = 1.0
    shift: tuple[float, float] = (0.0, 0.0)  # (tx, ty) in normalised crop units
    brightness: float = 1.0
    contrast: float = 1.0
    saturation: float = 1.0
    hue: float = 0.0  # turns

    @property
    def has_affine(self) -> bool:
        return self.scale != 1.0 or self.shift != (0.0, 0.0)


def sample_augment(config: AugmentConfig | None, rng: np.random.Generator) -> AugmentParams:
    """Draw AugmentParams from ``config`` with ``rng`` (identity params when ``config`` is None)."""
    if config is None:
        return AugmentParams()
    draws = rng.uniform(-1.0, 1.0, size=7)  # a fixed number of draws whatever is enabled
    flip = bool(rng.random() < config.flip_probability)
    return AugmentParams(
        flip=flip,
        scale=float(1.0 + config.scale * draws[0]),
        shift=(float(2.0 * config.translate * draws[1]), float(2.0 * config.translate * draws[2])),
        brightness=float(1.0 + config.brightness * draws[3]),
        contrast=float(1.0 + config.contrast * draws[4]),
        saturation=float(1.0 + config.saturation * draws[5]),
        hue=float(config.hue * draws[6]),
    )


@lru_cache(maxsize=1)
def mirror_landmark_pairs() -> np.ndarray:
    """468 int64: index of each mediapipe landmark's left↔right counterpart (midline points map to
    themselves). Derived from ``CANONICAL_FACE`` by matching each vertex mirrored in x (x → −x) to
    the nearest vertex; the canonical mesh is exactly symmetric, so this is an involution."""
    from synergywarp.face.pose import CANONICAL_FACE

    canonical = np.asarray(CANONICAL_FACE, dtype=np.float64)
    mirrored = canonical * np.array([-1.0, 1.0, 1.0])
    distance = np.linalg.norm(mirrored[:, None, :] - canonical[None, :, :], axis=-1)
    pairs = distance.argmin(axis=1)
    pairs.setflags(write=False)
    return pairs


def augment_landmarks(landmarks: np.ndarray, params: AugmentParams) -> np.ndarray:
    """Apply the geometric part of ``params`` to crop-cube landmarks ...×468×3 (float32 copy)."""
    points = np.asarray(landmarks, dtype=np.float32).copy()
    if params.has_affine:
        points *= params.scale
        points[..., 0] += params.shift[0]
        points[..., 1] += params.shift[1]
    if params.flip:
        points = points[..., mirror_landmark_pairs(), :]
        points[..., 0] *= -1.0
    return points


def augment_pose(pose: np.ndarray, params: AugmentParams) -> np.ndarray:
    """(pitch, yaw, roll) degrees ...×3 after the flip of ``params`` (yaw and roll change sign)."""
    pose = np.asarray(pose, dtype=np.float32).copy()
    if params.flip:
        pose[..., 1:] *= -1.0
    return pose


def augment_images(images: torch.Tensor, params: AugmentParams) -> torch.Tensor:
    """Apply ``params`` to N×3×S×S float images in [0, 1] (all frames alike); returns a new tensor."""
    if params.has_affine:
        images = _affine(images, params.scale, params.shift)
    if params.flip:
        images = torch.flip(images, dims=[-1])
    return color_jitter(images, params.brightness, params.contrast, params.saturation, params.hue)


def _affine(images: torch.Tensor, scale: float, shift: tuple[float, float]) -> torch.Tensor:
    """Output point p samples the input at (p − t)/s (align_corners=False, border replication)."""
    theta = torch.tensor([[1.0 / scale, 0.0, -shift[0] / scale], [0.0, 1.0 / scale, -shift[1] / scale]],
                         dtype=images.dtype, device=images.device)
    grid = F.affine_grid(theta.expand(images.shape[0], 2, 3), list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)


def _grey(images: torch.Tensor) -> torch.Tensor:
    weights = torch.tensor(_GREY_WEIGHTS, dtype=images.dtype, device=images.device)
    return torch.einsum("nchw,c->nhw", images, weights).unsqueeze(1)  # N×1×H×W


def color_jitter(images: torch.Tensor, brightness: float = 1.0, contrast: float = 1.0,
                 saturation: float = 1.0, hue: float = 0.0) -> torch.Tensor:
    """Brightness, contrast, saturation factors and a hue shift (turns) on N×3×H×W in [0, 1]."""
    if (brightness, contrast, saturation, hue) == (1.0, 1.0, 1.0, 0.0):
        return images
    images = images * brightness
    if contrast != 1.0:
        mean = _grey(images).mean(dim=(-2, -1), keepdim=True)
        images = (images - mean) * contrast + mean
    if saturation != 1.0:
        grey = _grey(images)
        images = (images - grey) * saturation + grey
    if hue != 0.0:
        angle = 2.0 * np.pi * hue
        rotate = np.array([[1.0, 0.0, 0.0],
                           [0.0, np.cos(angle), -np.sin(angle)],
                           [0.0, np.sin(angle), np.cos(angle)]])
        matrix = np.linalg.inv(_RGB_TO_YIQ) @ rotate @ _RGB_TO_YIQ
        images = torch.einsum("dc,nchw->ndhw", torch.as_tensor(matrix, dtype=images.dtype), images)
    return images.clamp(0.0, 1.0)

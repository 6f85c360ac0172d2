"""Per-clip photometric variation: a lighting gradient and colour jitter, the same for every frame."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PhotometricRanges:
    """Largest deviations drawn per clip (0 everywhere = no variation)."""

    gain: float = 0.08  # per-channel multiplicative colour jitter
    brightness: float = 0.05  # additive, in [0, 1] units
    contrast: float = 0.1
    saturation: float = 0.15
    gradient: float = 0.2  # lighting gradient: ±this relative brightness across the crop


@dataclass(frozen=True)
class PhotometricParams:
    gains: np.ndarray  # 3
    brightness: float
    contrast: float
    saturation: float
    gradient: float
    gradient_angle: float  # radians

    @classmethod
    def draw(cls, rng: np.random.Generator, ranges: PhotometricRanges) -> PhotometricParams:
        def spread(limit: float) -> float:
            return float(rng.uniform(-limit, limit))

        return cls(
            gains=1.0 + rng.uniform(-ranges.gain, ranges.gain, 3),
            brightness=spread(ranges.brightness),
            contrast=1.0 + spread(ranges.contrast),
            saturation=1.0 + spread(ranges.saturation),
            gradient=float(rng.uniform(0.0, ranges.gradient)),
            gradient_angle=float(rng.uniform(0.0, 2 * np.pi)),
        )


def apply_photometric(frames: np.ndarray, params: PhotometricParams) -> np.ndarray:
    """T×S×S×3 float32 in [0, 1] → same shape, recoloured and relit identically for every frame."""
    size_y, size_x = frames.shape[1:3]
    ys = (np.arange(size_y, dtype=np.float32) + 0.5) / size_y * 2 - 1
    xs = (np.arange(size_x, dtype=np.float32) + 0.5) / size_x * 2 - 1
    ramp = np.cos(params.gradient_angle) * xs[None, :] + np.sin(params.gradient_angle) * ys[:, None]
    light = (1.0 + params.gradient * ramp)[None, :, :, None].astype(np.float32)
    out = frames * params.gains.astype(np.float32)
    grey = out.mean(axis=-1, keepdims=True)
    out = grey + (out - grey) * params.saturation
    out = (out - 0.5) * params.contrast + 0.5 + params.brightness
    return np.clip(out * light, 0.0, 1.0).astype(np.float32)

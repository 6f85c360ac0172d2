"""Plain data types of the face pipeline (full-image pixel coordinates, origin at the top-left edge)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FaceBox:
    """Axis-aligned face box in full-image pixels (x0, y0) – (x1, y1) with a detector score."""

    x0: float
    y0: float
    x1: float
    y1: float
    score: float = 1.0

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        return self.y1 - self.y0

    @property
    def area(self) -> float:
        return max(self.width, 0.0) * max(self.height, 0.0)

    @property
    def center(self) -> tuple[float, float]:
        return (0.5 * (self.x0 + self.x1), 0.5 * (self.y0 + self.y1))

    def scaled(self, factor: float) -> FaceBox:
        """The box with all coordinates multiplied by ``factor`` (image resizing)."""
        return FaceBox(self.x0 * factor, self.y0 * factor, self.x1 * factor, self.y1 * factor, self.score)


@dataclass
class FaceLandmarks:
    """468 mediapipe landmarks, ``points`` 468×3 float32: x, y in full-image pixels, z in pixels on
    the same scale as x, positive into the screen; ``box`` the face box they were found in."""

    points: np.ndarray
    box: FaceBox

    @property
    def points_2d(self) -> np.ndarray:
        """468×2 float32 (x, y) pixels."""
        return self.points[:, :2]

    def bounding_box(self) -> FaceBox:
        """Tight box around the 2D landmarks (score of ``box``)."""
        lo, hi = self.points[:, :2].min(axis=0), self.points[:, :2].max(axis=0)
        return FaceBox(float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1]), self.box.score)

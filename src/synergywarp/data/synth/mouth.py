"""The inside of an opening mouth: a dark cavity with a hint of upper (and fainter lower) teeth.

When the jaw opens, the triangles between the inner lip contours stretch and would smear the
closed lips; instead the inner-mouth polygon is painted with a shaded cavity whose colour is tied
to the face's brightness, and a band of teeth just under the upper lip, fading toward the corners.
"""

from __future__ import annotations

import cv2
import numpy as np

CAVITY_RGB = np.array([0.36, 0.14, 0.12], np.float32)
TEETH_RGB = np.array([0.88, 0.85, 0.80], np.float32)


def _inner_coordinates(xs: np.ndarray, ys: np.ndarray, upper: np.ndarray, lower: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For pixel centres (xs, ys): (s along the mouth 0–1, depth below the upper lip, lip gap) px."""
    start, end = upper[0], upper[-1]
    axis = end - start
    length = float(np.linalg.norm(axis)) or 1.0
    along = axis / length
    normal = np.array([-along[1], along[0]])

    def project(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rel = points - start
        return rel @ along / length, rel @ normal

    s_up, v_up = project(upper)
    s_lo, v_lo = project(lower)
    rel = np.stack([xs - start[0], ys - start[1]], axis=-1)
    s = rel @ along / length
    v = rel @ normal
    up_at = np.interp(s, s_up[np.argsort(s_up)], v_up[np.argsort(s_up)])
    lo_at = np.interp(s, s_lo[np.argsort(s_lo)], v_lo[np.argsort(s_lo)])
    return s, v - up_at, np.maximum(lo_at - up_at, 1e-3)


def paint_mouth_interior(image: np.ndarray, loop_xy: np.ndarray, upper_xy: np.ndarray,
                         lower_xy: np.ndarray, opacity: float, brightness: float) -> None:
    """Paint (in place) the cavity into H×W×3 float32 ``image`` inside the inner-mouth polygon.

    ``loop_xy`` L×2 closed inner-lip loop, ``upper_xy``/``lower_xy`` 11×2 inner lip lines corner to
    corner (OpenCV pixel centres); ``opacity`` 0–1; ``brightness`` ~ the face's mean luminance."""
    if opacity <= 0.0:
        return
    height, width = image.shape[:2]
    x0, y0 = np.floor(loop_xy.min(axis=0)).astype(int) - 2
    x1, y1 = np.ceil(loop_xy.max(axis=0)).astype(int) + 3
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return
    coverage = np.zeros((y1 - y0, x1 - x0), np.uint8)
    local = np.round((loop_xy - [x0, y0]) * 16).astype(np.int32)
    cv2.fillPoly(coverage, [local], 255, lineType=cv2.LINE_AA, shift=4)
    alpha = coverage.astype(np.float32) / 255.0 * float(opacity)
    if not alpha.any():
        return
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    s, depth, gap = _inner_coordinates(xs, ys, upper_xy, lower_xy)
    mouth_width = float(np.linalg.norm(upper_xy[-1] - upper_xy[0]))
    tooth_height = np.maximum(np.minimum(0.5 * gap, 0.17 * mouth_width), 1e-3)
    across = np.clip(1.0 - ((s - 0.5) / 0.42) ** 4, 0.0, 1.0)
    upper_teeth = np.clip((tooth_height - depth) / (0.3 * tooth_height), 0.0, 1.0) * across
    lower_band = 0.4 * tooth_height
    lower_teeth = 0.5 * np.clip((lower_band - (gap - depth)) / (0.4 * lower_band), 0.0, 1.0) * across
    teeth = np.clip(upper_teeth + lower_teeth, 0.0, 1.0)[..., None]
    level = float(np.clip(brightness * 1.4, 0.35, 1.0))
    shade = 1.0 - 0.5 * np.clip(depth / gap, 0.0, 1.0)[..., None]
    cavity = CAVITY_RGB * level * shade
    teeth_rgb = TEETH_RGB * level * (0.75 + 0.25 * across[..., None])
    fill = cavity * (1.0 - teeth) + teeth_rgb * teeth
    fill = cv2.GaussianBlur(fill.astype(np.float32), (0, 0), 0.6)
    region = image[y0:y1, x0:x1]
    region[:] = region * (1.0 - alpha[..., None]) + fill * alpha[..., None]

"""Z-ordered piecewise-affine warping of a triangle mesh by inverse mapping.

Pixel coordinates here follow OpenCV: pixel (row i, column j) has its centre at (x, y) = (j, i).
The target triangles are rasterised back to front (largest mean depth first) into a triangle-id
buffer, so a nearer triangle hides a farther one where the mesh folds (a nose turned sideways,
a cheek behind it). Each covered pixel's affine map back to the source triangle gives sampling
coordinates for one ``cv2.remap``. Inside the mesh the map is continuous; anti-aliasing of
silhouettes comes from rendering at a supersampled resolution and area-downsampling (engine).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from functools import lru_cache

import cv2
import numpy as np

SUBPIXEL_BITS = 4


@lru_cache(maxsize=8)
def _pixel_grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    return xs, ys


def triangle_affines(source_xy: np.ndarray, target_xy: np.ndarray, triangles: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Per triangle, the affine map target → source: (F×2×3 float32, F bool non-degenerate).

    ``source_xy``/``target_xy`` N×2 pixel positions of the mesh points, ``triangles`` F×3."""
    tgt = np.asarray(target_xy, np.float64)[triangles]  # F×3×2
    src = np.asarray(source_xy, np.float64)[triangles]
    # A·[t; 1] = s: the linear part maps the target's edge vectors onto the source's, A = F·E⁻¹ (2×2, closed form)
    e1, e2 = tgt[:, 1] - tgt[:, 0], tgt[:, 2] - tgt[:, 0]
    f1, f2 = src[:, 1] - src[:, 0], src[:, 2] - src[:, 0]
    det = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]  # = det of the homogeneous vertex matrix
    valid = np.abs(det) > 1e-6
    inv_det = np.where(valid, 1.0 / np.where(valid, det, 1.0), 0.0)
    linear = np.empty((len(tgt), 2, 2))
    for row in range(2):  # F·E⁻¹, E⁻¹ = [[e2y, −e2x], [−e1y, e1x]] / det
        linear[:, row, 0] = (f1[:, row] * e2[:, 1] - f2[:, row] * e1[:, 1]) * inv_det
        linear[:, row, 1] = (f2[:, row] * e1[:, 0] - f1[:, row] * e2[:, 0]) * inv_det
    shift = src[:, 0] - np.einsum("frc,fc->fr", linear, tgt[:, 0])
    affine = np.concatenate([linear, shift[:, :, None]], axis=2)
    affine[~valid] = src[~valid].transpose(0, 2, 1)  # unused (never rasterised), kept as before: the vertices
    return affine.astype(np.float32), valid


#: rasterisations kept for reuse: per driving frame the source's prior and every reference's whole-head warp
#: rasterise the same target face mesh (the target landmarks), so R references cost one rasterisation, not R + 1
RASTER_CACHE_SIZE = 8
_raster_cache: OrderedDict[tuple, np.ndarray] = OrderedDict()
_raster_lock = threading.Lock()


def rasterise_triangle_ids(target_xy: np.ndarray, depth: np.ndarray, triangles: np.ndarray,
                           valid: np.ndarray, height: int, width: int, *, cache: bool = True) -> np.ndarray:
    """H×W int32 buffer of the front-most triangle index at each pixel (−1 where none); read-only (the
    last :data:`RASTER_CACHE_SIZE` results are shared between callers with equal inputs; ``cache=False``
    rasterises anew, for callers whose every target differs, like the synthetic renderer).

    Triangles are drawn in order of decreasing mean vertex ``depth`` (N, larger = farther)."""
    if not cache:
        return _rasterise(target_xy, depth, triangles, valid, height, width)
    arrays = [np.ascontiguousarray(a) for a in (target_xy, depth, triangles, valid)]
    key = (int(height), int(width), *((a.dtype.str, a.shape, a.tobytes()) for a in arrays))
    with _raster_lock:
        cached = _raster_cache.get(key)
        if cached is not None:
            _raster_cache.move_to_end(key)
            return cached
    ids = _rasterise(target_xy, depth, triangles, valid, height, width)
    ids.flags.writeable = False
    with _raster_lock:
        _raster_cache[key] = ids
        while len(_raster_cache) > RASTER_CACHE_SIZE:
            _raster_cache.popitem(last=False)
    return ids


def _rasterise(target_xy: np.ndarray, depth: np.ndarray, triangles: np.ndarray, valid: np.ndarray,
               height: int, width: int) -> np.ndarray:
    ids = np.full((height, width), -1, np.int32)
    order = np.argsort(-depth[triangles].mean(axis=1), kind="stable")
    fixed = np.round(target_xy * (1 << SUBPIXEL_BITS)).astype(np.int32)[triangles]  # F×3×2
    lo = target_xy[triangles].min(axis=1)
    hi = target_xy[triangles].max(axis=1)
    on_canvas = valid & (hi[:, 0] >= -1) & (hi[:, 1] >= -1) & (lo[:, 0] <= width) & (lo[:, 1] <= height)
    drawn = order[on_canvas[order]]
    fill = cv2.fillConvexPoly
    for index, corners in zip(drawn.tolist(), fixed[drawn]):
        fill(ids, corners, index, lineType=cv2.LINE_8, shift=SUBPIXEL_BITS)
    return ids


def mesh_backward_maps(source_xy: np.ndarray, target_xy: np.ndarray, depth: np.ndarray, triangles: np.ndarray,
                       height: int, width: int, *, cache: bool = True
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per target pixel, the source pixel it samples: (H×W map_x, H×W map_y float32, H×W int32 ids; the
    ids read-only and shared with other warps to the same target, see :func:`rasterise_triangle_ids`).

    Pixels no triangle covers (id −1) map through triangle 0's affine; callers mask them with ``ids``."""
    affine, valid = triangle_affines(source_xy, target_xy, triangles)
    ids = rasterise_triangle_ids(target_xy, depth, triangles, valid, height, width, cache=cache)
    xs, ys = _pixel_grid(height, width)
    per_pixel = affine[np.maximum(ids, 0)]  # H×W×2×3
    map_x = per_pixel[..., 0, 0] * xs + per_pixel[..., 0, 1] * ys + per_pixel[..., 0, 2]
    map_y = per_pixel[..., 1, 0] * xs + per_pixel[..., 1, 1] * ys + per_pixel[..., 1, 2]
    return map_x, map_y, ids


def warp_mesh(source: np.ndarray, source_xy: np.ndarray, target_xy: np.ndarray, depth: np.ndarray,
              triangles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Warp H×W×C float32 ``source`` so mesh points move from ``source_xy`` to ``target_xy`` (N×2 px).

    Returns (H×W×C warped, H×W int32 triangle ids, −1 = not covered by the mesh). Never cached: it
    serves the synthetic renderer, whose every frame has its own target at a supersampled size."""
    height, width = source.shape[:2]
    map_x, map_y, ids = mesh_backward_maps(source_xy, target_xy, depth, triangles, height, width, cache=False)
    warped = cv2.remap(source, map_x, map_y, interpolation=cv2.INTER_LINEAR,
                       borderMode=cv2.BORDER_REPLICATE)
    if warped.ndim == 2:
        warped = warped[..., None]
    return warped, ids


def normalised_to_pixels(points: np.ndarray, size: int) -> np.ndarray:
    """Crop-normalised x, y (edge convention, ...×2+) → OpenCV pixel-centre coordinates (...×2)."""
    return (np.asarray(points)[..., :2] + 1.0) * (size / 2.0) - 0.5

"""The geometric (mesh) warp of a face crop: source landmarks → target landmarks, no learning.

The head mesh (468 FaceMesh landmarks + support rings, :mod:`synergywarp.face.head_mesh`) is warped
piecewise-affinely and z-ordered (:mod:`synergywarp.face.mesh_render`). Support ring k of 1–3 moves by
``RING_MOTION_SHARE[k−1]`` of its silhouette landmark's motion; the outer ring, and so the background,
stays still. It is the evaluation's ``geometric`` baseline and, as a backward sampling grid, the prior
candidate motion of models with ``warp.dense_motion.prior_candidate``.
"""

from __future__ import annotations

import cv2
import numpy as np

from synergywarp.face.head_mesh import HeadMesh, build_head_mesh
from synergywarp.face.mesh_render import _pixel_grid, mesh_backward_maps, normalised_to_pixels

RING_MOTION_SHARE = (0.6, 0.3, 0.1)  # support rings 1–3; the outer ring stays


def mesh_warp_maps(source_landmarks: np.ndarray, target_landmarks: np.ndarray, size: int,
                   mesh: HeadMesh | None = None) -> tuple[np.ndarray, np.ndarray]:
    """OpenCV remap maps (two S×S float32, pixel-centre coordinates) of the warp that moves the source's
    468×3 crop-normalised landmarks to ``target_landmarks``; pixels off the mesh map to themselves."""
    mesh = mesh if mesh is not None else build_head_mesh(np.asarray(source_landmarks, np.float32))
    motion = np.asarray(target_landmarks, np.float64) - mesh.points[:468]
    target = mesh.points.copy()
    target[:468] = target_landmarks
    for ring, share in enumerate(RING_MOTION_SHARE, start=1):
        indices = mesh.ring(ring)
        target[indices] += share * motion[mesh.parent[indices]]
    map_x, map_y, ids = mesh_backward_maps(normalised_to_pixels(mesh.points, size), normalised_to_pixels(target, size),
                                           target[:, 2], mesh.triangles, size, size)
    off = ids < 0
    xs, ys = _pixel_grid(size, size)
    return np.where(off, xs, map_x).astype(np.float32), np.where(off, ys, map_y).astype(np.float32)


def mesh_warp_grid(source_landmarks: np.ndarray, target_landmarks: np.ndarray, size: int,
                   mesh: HeadMesh | None = None) -> np.ndarray:
    """The same warp as an S×S×2 float32 backward grid for ``grid_sample`` (x, y in [−1, 1],
    ``align_corners=False``): output pixel (i, j) samples the source at ``grid[i, j]``."""
    map_x, map_y = mesh_warp_maps(source_landmarks, target_landmarks, size, mesh)
    scale = 2.0 / size
    return np.stack([(map_x + 0.5) * scale - 1.0, (map_y + 0.5) * scale - 1.0], axis=-1).astype(np.float32)


def mesh_warp_grids(source_landmarks: np.ndarray, targets: np.ndarray, size: int,
                    mesh: HeadMesh | None = None) -> np.ndarray:
    """:func:`mesh_warp_grid` for T target landmark sets ``T×468×3`` → ``T×S×S×2``; the source's head
    mesh is built once (or passed in, when the caller keeps it for a whole clip)."""
    mesh = mesh if mesh is not None else build_head_mesh(np.asarray(source_landmarks, np.float32))
    return np.stack([mesh_warp_grid(source_landmarks, target, size, mesh) for target in targets])


def geometric_warp(source: np.ndarray, source_landmarks: np.ndarray, target_landmarks: np.ndarray,
                   mesh: HeadMesh | None = None) -> np.ndarray:
    """S×S×3 uint8 ``source`` warped so its 468×3 landmarks move to ``target_landmarks`` (crop-normalised)."""
    map_x, map_y = mesh_warp_maps(source_landmarks, target_landmarks, source.shape[0], mesh)
    warped = cv2.remap(source.astype(np.float32), map_x, map_y, interpolation=cv2.INTER_LINEAR,
                       borderMode=cv2.BORDER_REPLICATE)
    return np.clip(np.rint(warped), 0, 255).astype(np.uint8)

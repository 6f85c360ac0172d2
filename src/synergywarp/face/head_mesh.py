"""The head mesh: 468 face landmarks plus support rings for hair, ears, neck and background.

All coordinates are crop-normalised (x, y in [−1, 1] edge to edge, z on x's scale, positive into
the screen). Around the face silhouette (``FACE_OVAL``, 36 points) three rings are pushed outward
along rays from the silhouette's centroid, and a fourth lies outside the canvas. Each point has a
``rigidity`` w: its target position is ``w · (head motion) + (1 − w) · (rest)``. The face and the
rings above and beside it move with the head (w = 1); below the jaw the rings stiffen into the
neck and shoulders (w falls toward 0); the outer ring never moves. Triangles are mediapipe's face
mesh (``FACE_TRIANGLES``) plus quad strips between consecutive rings.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synergywarp.face import FACE_TRIANGLES
from synergywarp.face import mesh_regions as rg

NUM_LANDMARKS = 468
RING_FACTORS = (0.22, 0.55, 1.0)  # distance beyond the silhouette, × the silhouette's radius
RING_BORDER_SHARE = (0.3, 0.6, 0.85)  # ... at most this share of the way to the outer ring
RIGIDITY_UP = (1.0, 1.0, 0.9)  # rings above / beside the face
RIGIDITY_DOWN = (0.6, 0.2, 0.0)  # rings below the jaw (neck, shoulders)
EXPRESSION_SHARE = (0.5, 0.15, 0.0)  # share of the nearest silhouette point's expression motion
OUTER_EXTENT = 1.15  # the outer ring lies on the square |x|, |y| = OUTER_EXTENT


@dataclass
class HeadMesh:
    """``points`` N×3 rest positions (first 468 = landmarks), ``rigidity`` N, ``triangles`` F×3,
    ``head_centre`` 3 (rotation centre), ``parent`` N (silhouette landmark a support point follows
    for expressions, −1 none), ``expression_share`` N, ``mouth_triangles`` F bool (inner mouth)."""

    points: np.ndarray
    rigidity: np.ndarray
    triangles: np.ndarray
    head_centre: np.ndarray
    parent: np.ndarray
    expression_share: np.ndarray
    mouth_triangles: np.ndarray

    @property
    def num_points(self) -> int:
        return len(self.points)

    def ring(self, k: int) -> np.ndarray:
        """36 point indices of support ring k (0 = the silhouette itself, 1–4 the rings)."""
        if k == 0:
            return np.array(rg.FACE_OVAL)
        start = NUM_LANDMARKS + (k - 1) * len(rg.FACE_OVAL)
        return np.arange(start, start + len(rg.FACE_OVAL))


def head_centre(landmarks: np.ndarray) -> np.ndarray:
    """3: a rotation centre at ear level, a little behind the face's side silhouette."""
    sides = landmarks[[234, 454]]
    width = float(np.linalg.norm(sides[1] - sides[0]))
    down = landmarks[152, :2] - landmarks[10, :2]
    centre = sides.mean(axis=0)
    centre[:2] += 0.2 * down
    centre[2] += 0.1 * width
    return centre


def _ray_exit(origin: np.ndarray, direction: np.ndarray, extent: float) -> np.ndarray:
    """Per ray, the factor t ≥ 0 where origin + t·direction leaves the square |x|,|y| ≤ extent."""
    with np.errstate(divide="ignore"):
        tx = np.where(direction[:, 0] > 0, (extent - origin[:, 0]) / direction[:, 0],
                      np.where(direction[:, 0] < 0, (-extent - origin[:, 0]) / direction[:, 0], np.inf))
        ty = np.where(direction[:, 1] > 0, (extent - origin[:, 1]) / direction[:, 1],
                      np.where(direction[:, 1] < 0, (-extent - origin[:, 1]) / direction[:, 1], np.inf))
    return np.maximum(np.minimum(tx, ty), 0.0)


def _strip(inner: np.ndarray, outer: np.ndarray) -> np.ndarray:
    """2·L×3 triangles joining two closed loops of equal length L."""
    nxt = np.roll(np.arange(len(inner)), -1)
    first = np.stack([inner, outer, outer[nxt]], axis=1)
    second = np.stack([inner, outer[nxt], inner[nxt]], axis=1)
    return np.concatenate([first, second])


def build_head_mesh(landmarks: np.ndarray) -> HeadMesh:
    """Head mesh around 468×3 crop-normalised landmarks."""
    landmarks = np.asarray(landmarks, np.float64)
    oval_idx = np.array(rg.FACE_OVAL)
    oval = landmarks[oval_idx]
    centre = head_centre(landmarks)
    centroid = oval[:, :2].mean(axis=0)
    offset = oval[:, :2] - centroid
    up = landmarks[10, :2] - landmarks[152, :2]
    up /= np.linalg.norm(up)
    downness = -(offset / np.linalg.norm(offset, axis=1, keepdims=True)) @ up
    lower = np.clip((downness + 0.1) / 0.7, 0.0, 1.0)
    lower = lower * lower * (3 - 2 * lower)
    exit_factor = _ray_exit(oval[:, :2], offset, OUTER_EXTENT)

    points, rigidity = [landmarks], [np.ones(NUM_LANDMARKS)]
    parent, share = [np.full(NUM_LANDMARKS, -1)], [np.zeros(NUM_LANDMARKS)]
    for k, factor in enumerate(RING_FACTORS):
        factor_k = np.minimum(factor, RING_BORDER_SHARE[k] * exit_factor)
        ring = np.empty((len(oval), 3))
        ring[:, :2] = oval[:, :2] + factor_k[:, None] * offset
        ring[:, 2] = oval[:, 2] + (0.4 if k == 0 else 1.0) * (centre[2] - oval[:, 2])
        points.append(ring)
        rigidity.append(RIGIDITY_UP[k] * (1 - lower) + RIGIDITY_DOWN[k] * lower)
        parent.append(oval_idx)
        share.append(np.full(len(oval), EXPRESSION_SHARE[k]))
    outer = np.empty((len(oval), 3))
    outer[:, :2] = oval[:, :2] + exit_factor[:, None] * offset
    outer[:, 2] = centre[2] + 1.0
    points.append(outer)
    rigidity.append(np.zeros(len(oval)))
    parent.append(np.full(len(oval), -1))
    share.append(np.zeros(len(oval)))

    ring_count = len(RING_FACTORS) + 1
    loops = [oval_idx] + [NUM_LANDMARKS + k * len(oval) + np.arange(len(oval)) for k in range(ring_count)]
    strips = [_strip(loops[k], loops[k + 1]) for k in range(ring_count)]
    triangles = np.concatenate([np.asarray(FACE_TRIANGLES, np.int64)] + strips).astype(np.int32)
    mouth_set = set(rg.inner_mouth_loop())
    mouth = np.array([all(int(v) in mouth_set for v in tri) for tri in triangles])
    return HeadMesh(
        points=np.concatenate(points),
        rigidity=np.concatenate(rigidity),
        triangles=triangles,
        head_centre=centre,
        parent=np.concatenate(parent),
        expression_share=np.concatenate(share),
        mouth_triangles=mouth,
    )


def pose_mesh(mesh: HeadMesh, landmarks: np.ndarray, rotation: np.ndarray, zoom: float,
              shift: np.ndarray) -> np.ndarray:
    """N×3 target positions: ``landmarks`` (468×3, the rest landmarks with expression applied)
    moved by the head motion p ↦ zoom·R·(p − c) + c + shift, blended by rigidity."""
    rest = mesh.points.copy()
    motion = landmarks - mesh.points[:NUM_LANDMARKS]
    support = mesh.parent >= 0
    rest[support] += mesh.expression_share[support, None] * motion[mesh.parent[support]]
    rest[:NUM_LANDMARKS] = landmarks
    centre = mesh.head_centre
    moved = zoom * (rest - centre) @ np.asarray(rotation, np.float64).T + centre
    moved[:, :2] += shift
    weight = mesh.rigidity[:, None]
    return weight * moved + (1.0 - weight) * rest

"""Head pose from 468 landmarks: a similarity fit to mediapipe's canonical face (docs/DESIGN.md#keypoint-sources).

Frames follow docs/CONTRACTS.md#head-pose-and-the-canonical-face: "right-down-in" (x right, y down, z into the
screen), and
``p_obs = s·R·p_can + t`` with ``R = Rz(roll)·Ry(yaw)·Rx(pitch)`` (column vectors, degrees in APIs).
With these axes a positive yaw turns the nose toward the image's left (−x), a positive pitch moves
the nose tip down in the image (+y, head bowed), and a positive roll turns the face clockwise on
screen (the subject's left eye, on the image's right, goes down).

``CANONICAL_FACE`` (468×3 float32) is mediapipe's canonical face mesh converted to that frame,
centred on its vertex centroid and scaled so x spans [−0.5, 0.5] (see
``scripts/extract_canonical_mesh.py`` and ``assets/NOTICE``). ``FACE_TRIANGLES`` (898×3 int32) are
its triangles; a front-facing triangle's normal ``cross(v1 − v0, v2 − v0)`` points toward the camera
(−z), i.e. triangles run counter-clockwise as the viewer sees them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

_MESH_PATH = Path(__file__).with_name("assets") / "canonical_face_mesh.npz"
with np.load(_MESH_PATH) as _mesh:
    CANONICAL_FACE: np.ndarray = _mesh["vertices"].astype(np.float32)
    FACE_TRIANGLES: np.ndarray = _mesh["triangles"].astype(np.int32)
    CANONICAL_UV: np.ndarray = _mesh["uv"].astype(np.float32)
CANONICAL_FACE.setflags(write=False)
FACE_TRIANGLES.setflags(write=False)
CANONICAL_UV.setflags(write=False)

# Landmarks that expressions barely move: forehead, nose bridge and tip, eye corners, cheekbones,
# temples. Lids, brows, lips and jaw are left out so that the residual carries the expression.
RIGID_LANDMARK_GROUPS: dict[str, tuple[int, ...]] = {
    "forehead": (10, 151, 9, 109, 338, 67, 297, 108, 337, 69, 299),
    "nose": (168, 6, 197, 195, 5, 4, 1),
    "eye_corners": (33, 133, 263, 362, 130, 359),
    "cheekbones": (116, 345, 117, 346, 118, 347, 123, 352, 50, 280),
    "temples": (127, 356, 162, 389, 234, 454),
}
RIGID_LANDMARK_INDICES: tuple[int, ...] = tuple(
    i for group in RIGID_LANDMARK_GROUPS.values() for i in group
)


@dataclass
class HeadPose:
    """Similarity transform canonical → observed, Euler angles and the expression residual.

    rotation 3×3, scale float, translation 3; pitch/yaw/roll in degrees;
    expression 468×3: observed points mapped back to the canonical frame minus ``CANONICAL_FACE``.
    """

    rotation: np.ndarray
    scale: float
    translation: np.ndarray
    pitch: float
    yaw: float
    roll: float
    expression: np.ndarray

    @property
    def angles(self) -> np.ndarray:
        """(pitch, yaw, roll) in degrees, float32 array of 3."""
        return np.array([self.pitch, self.yaw, self.roll], dtype=np.float32)


def rotation_from_euler(pitch: float, yaw: float, roll: float) -> np.ndarray:
    """``Rz(roll)·Ry(yaw)·Rx(pitch)`` (3×3 float64) from angles in degrees."""
    p, y, r = np.deg2rad([pitch, yaw, roll])
    rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    return rz @ ry @ rx


def euler_from_rotation(rotation: np.ndarray) -> tuple[float, float, float]:
    """(pitch, yaw, roll) in degrees with ``rotation = Rz(roll)·Ry(yaw)·Rx(pitch)``."""
    m = np.asarray(rotation, dtype=np.float64)
    yaw = np.arcsin(np.clip(-m[2, 0], -1.0, 1.0))
    pitch = np.arctan2(m[2, 1], m[2, 2])
    roll = np.arctan2(m[1, 0], m[0, 0])
    return tuple(float(a) for a in np.rad2deg([pitch, yaw, roll]))  # type: ignore[return-value]


def umeyama(source: np.ndarray, target: np.ndarray, weights: np.ndarray | None = None
            ) -> tuple[np.ndarray, float, np.ndarray]:
    """Least-squares similarity ``target ≈ s·R·source + t`` (Umeyama 1991), N×3 each.

    Returns (R 3×3 proper rotation, s, t 3). Optional non-negative weights N.
    """
    src = np.asarray(source, dtype=np.float64)
    dst = np.asarray(target, dtype=np.float64)
    w = np.ones(len(src)) if weights is None else np.asarray(weights, dtype=np.float64)
    w = w / w.sum()
    mu_src, mu_dst = w @ src, w @ dst
    src_c, dst_c = src - mu_src, dst - mu_dst
    covariance = (dst_c * w[:, None]).T @ src_c
    u, singular, vt = np.linalg.svd(covariance)
    sign = np.eye(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[2, 2] = -1.0
    rotation = u @ sign @ vt
    variance_src = float(w @ (src_c**2).sum(axis=1))
    scale = float(np.trace(np.diag(singular) @ sign) / variance_src)
    translation = mu_dst - scale * rotation @ mu_src
    return rotation, scale, translation


def fit_head_pose(points_norm: np.ndarray) -> HeadPose:
    """Fit ``CANONICAL_FACE`` to 468×3 landmarks (crop-normalised) on ``RIGID_LANDMARK_INDICES``."""
    points = np.asarray(points_norm, dtype=np.float64)
    if points.shape != (468, 3):
        raise ValueError(f"fit_head_pose expects 468×3 landmarks, got {points.shape}")
    idx = list(RIGID_LANDMARK_INDICES)
    rotation, scale, translation = umeyama(CANONICAL_FACE[idx], points[idx])
    canonical_obs = (points - translation) @ rotation / max(scale, 1e-12)  # R^T (p - t) / s, row-wise
    pitch, yaw, roll = euler_from_rotation(rotation)
    return HeadPose(
        rotation=rotation.astype(np.float32),
        scale=scale,
        translation=translation.astype(np.float32),
        pitch=pitch,
        yaw=yaw,
        roll=roll,
        expression=(canonical_obs - CANONICAL_FACE).astype(np.float32),
    )


def fit_head_poses(points_norm: np.ndarray) -> dict[str, np.ndarray]:
    """Per-frame fits for T×468×3 landmarks → arrays ``rotation`` T×3×3, ``pose`` T×3 (pitch, yaw,
    roll), ``scale`` T, ``translation`` T×3, ``expression`` T×468×3 (all float32)."""
    points = np.asarray(points_norm).reshape(-1, 468, 3)
    fits = [fit_head_pose(p) for p in points]
    count = len(fits)
    out = {
        "rotation": np.zeros((count, 3, 3), np.float32),
        "pose": np.zeros((count, 3), np.float32),
        "scale": np.zeros(count, np.float32),
        "translation": np.zeros((count, 3), np.float32),
        "expression": np.zeros((count, 468, 3), np.float32),
    }
    for i, fit in enumerate(fits):
        out["rotation"][i], out["pose"][i], out["scale"][i] = fit.rotation, fit.angles, fit.scale
        out["translation"][i], out["expression"][i] = fit.translation, fit.expression
    return out

"""Expression model: displacements of landmark groups in the head's canonical frame.

Everything here works on the source portrait's landmarks expressed in the canonical frame of
:func:`synergywarp.face.fit_head_pose` (x right, y down, z into the screen, face width ≈ 1), so a
displacement means the same on every face and every head pose. The basis is person-specific where
it must be: a blink moves each upper lid exactly onto that person's lower lid.

``expression_basis(local)`` returns E×468×3 (E = len(EXPRESSION_NAMES)); a face with expression
strengths ``a`` (E, each in [0, 1]) is ``local + Σ_e a_e · basis_e``.
"""

from __future__ import annotations

import numpy as np

from synergywarp.data.synth.trajectory import EXPRESSION_NAMES
from synergywarp.face import mesh_regions as rg

JAW_OPEN_RADIANS = 0.2  # jaw rotation at mouth_open = 1 (lower lip drops ≈ 0.1 face widths)
SMILE_CORNER_SHIFT = np.array([0.05, -0.045, 0.02])  # image-right corner; mirrored for the left
SMILE_RADIUS = 0.11
BLINK_CLOSURE = 0.97  # fraction of the lid gap the upper lid travels at blink = 1
EYE_WIDE_LIFT = 0.3  # fraction of the lid gap the upper lid rises at eye_wide = 1
BROW_LIFT = 0.06


def _smoothstep(t: np.ndarray) -> np.ndarray:
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _lid_curves(local: np.ndarray, upper: tuple[int, ...], lower: tuple[int, ...]
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x 9, upper-lid y 9, lid gap 9) along one eye, sorted by x."""
    xs = local[list(upper), 0]
    order = np.argsort(xs)
    upper_y = local[list(upper), 1][order]
    gap = np.maximum(local[list(lower), 1][order] - upper_y, 0.0)
    gap[[0, -1]] = 0.0  # corners are shared by both lids
    return xs[order], upper_y, gap


def _lid_motion(local: np.ndarray, upper: tuple[int, ...], lower: tuple[int, ...],
                upper_fraction: float, lower_fraction: float) -> np.ndarray:
    """468×3: upper lid (and the skin up to ≈ the brow) moves down by ``upper_fraction`` × gap,
    the lower lid (and skin just below) up by ``lower_fraction`` × gap (negative = opposite)."""
    xs, lid_y, gap = _lid_curves(local, upper, lower)
    x, y = local[:, 0], local[:, 1]
    inside = (x > xs[0]) & (x < xs[-1])
    lid_at_x = np.interp(x, xs, lid_y)
    gap_at_x = np.interp(x, xs, gap)
    above = y <= lid_at_x + 1e-6
    lid_reach = 0.09  # canonical units above the lid over which the motion fades out
    upper_weight = np.where(above, np.clip(1.0 - (lid_at_x - y) / lid_reach, 0.0, 1.0), 0.0)
    lower_lid_y = lid_at_x + gap_at_x
    below = y >= lower_lid_y - 1e-6
    lower_weight = np.where(below, np.clip(1.0 - (y - lower_lid_y) / 0.04, 0.0, 1.0), 0.0)
    motion = np.zeros_like(local)
    motion[:, 1] = inside * gap_at_x * (upper_fraction * upper_weight - lower_fraction * lower_weight)
    return motion


def _mouth_open(local: np.ndarray) -> np.ndarray:
    """Jaw rotation about an axis at ear level behind the face; lower lip and chin follow fully,
    upper lip lifts slightly, the corners half-way."""
    corner_y = float(local[list(rg.MOUTH_CORNERS), 1].mean())
    hinge = np.array([0.0, corner_y - 0.22, float(local[[234, 454], 2].max()) + 0.05])
    cos_t, sin_t = np.cos(JAW_OPEN_RADIANS), np.sin(JAW_OPEN_RADIANS)
    rel = local - hinge
    rotated = rel.copy()
    rotated[:, 1] = cos_t * rel[:, 1] - sin_t * rel[:, 2]
    rotated[:, 2] = sin_t * rel[:, 1] + cos_t * rel[:, 2]
    weight = _smoothstep((local[:, 1] - (corner_y - 0.10)) / 0.16)
    weight[list(rg.UPPER_LIP)] = 0.0
    weight[list(rg.LOWER_LIP)] = 1.0
    weight[list(rg.MOUTH_CORNERS + rg.INNER_MOUTH_CORNERS)] = 0.45
    motion = weight[:, None] * (rotated - rel)
    lift = float(np.abs(motion[rg.LOWER_LIP_CENTRE, 1])) * 0.08
    motion[list(rg.UPPER_LIP), 1] -= lift
    return motion


def _smile(local: np.ndarray) -> np.ndarray:
    """Mouth corners pulled out, up and back; cheeks and lower lids rise a little."""
    motion = np.zeros_like(local)
    for corner, side in ((61, -1.0), (291, 1.0)):
        shift = SMILE_CORNER_SHIFT * np.array([side, 1.0, 1.0])
        distance2 = ((local[:, :2] - local[corner, :2]) ** 2).sum(axis=1)
        motion += np.exp(-distance2 / (2 * SMILE_RADIUS**2))[:, None] * shift
        cheek = local[corner, :2] + np.array([0.1 * side, -0.17])
        distance2 = ((local[:, :2] - cheek) ** 2).sum(axis=1)
        motion += np.exp(-distance2 / (2 * 0.1**2))[:, None] * np.array([0.0, -0.02, -0.01])
    motion[list(rg.RIGHT_EYE_LOWER[1:-1] + rg.LEFT_EYE_LOWER[1:-1]), 1] -= 0.006
    return motion


def _brow_raise(local: np.ndarray) -> np.ndarray:
    """Brows and forehead move up; the skin between brow and upper lid follows part-way."""
    pairs = list(zip(rg.RIGHT_BROW[:5], rg.RIGHT_BROW[5:])) + list(zip(rg.LEFT_BROW[:5], rg.LEFT_BROW[5:]))
    brow = np.array([(local[a, :2] + local[b, :2]) / 2 for a, b in pairs])
    brow = brow[np.argsort(brow[:, 0])]
    lids = np.concatenate([_lid_curves(local, rg.RIGHT_EYE_UPPER, rg.RIGHT_EYE_LOWER)[:2],
                           _lid_curves(local, rg.LEFT_EYE_UPPER, rg.LEFT_EYE_LOWER)[:2]], axis=1)
    x, y = local[:, 0], local[:, 1]
    brow_y = np.interp(x, brow[:, 0], brow[:, 1])
    lid_y = np.interp(x, lids[0], lids[1])
    lid_y = np.maximum(lid_y, brow_y + 0.02)
    above = np.clip(1.0 - (brow_y - y) / 0.3, 0.25, 1.0)
    between = np.clip(1.0 - 0.85 * (y - brow_y) / (lid_y - brow_y), 0.0, 1.0)
    weight = np.where(y <= brow_y, above, np.where(y <= lid_y, between, 0.0))
    outside = np.maximum(brow[0, 0] - x, x - brow[-1, 0])
    weight *= np.clip(1.0 - outside / 0.08, 0.0, 1.0)
    motion = np.zeros_like(local)
    motion[:, 1] = -BROW_LIFT * weight
    return motion


def expression_basis(local: np.ndarray) -> np.ndarray:
    """E×468×3 float32 displacement per unit expression for 468×3 canonical-frame landmarks."""
    local = np.asarray(local, np.float64)
    eyes = ((rg.RIGHT_EYE_UPPER, rg.RIGHT_EYE_LOWER), (rg.LEFT_EYE_UPPER, rg.LEFT_EYE_LOWER))
    by_name = {
        "mouth_open": _mouth_open(local),
        "smile": _smile(local),
        "blink_right": _lid_motion(local, *eyes[0], BLINK_CLOSURE, 0.0),
        "blink_left": _lid_motion(local, *eyes[1], BLINK_CLOSURE, 0.0),
        "eye_wide": sum(_lid_motion(local, *eye, -EYE_WIDE_LIFT, -0.08) for eye in eyes),
        "brow_raise": _brow_raise(local),
    }
    return np.stack([by_name[name] for name in EXPRESSION_NAMES]).astype(np.float32)


def apply_expression(local: np.ndarray, basis: np.ndarray, strengths: np.ndarray) -> np.ndarray:
    """468×3 canonical-frame landmarks with E ``strengths`` applied (E×468×3 ``basis``)."""
    return local + np.tensordot(np.asarray(strengths, np.float64), basis, axes=1)

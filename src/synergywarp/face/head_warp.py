"""The whole-head geometric warp: the face by its mesh, hair, ears and neck rigidly with the head,
a still background, and no ghost of the head where it moved away.

Per source (once, :func:`prepare_head_warp`): the person mask (mediapipe selfie segmentation or a
caller's mask) times a falloff below the chin gives the **head weight** ``H`` (1 on the head, hair and
ears, falling to ``SHOULDER_SHARE`` over the neck, 0 on the background); for pixels of the head
core the position of the first clear background pixel outward along the ray from the head's centre
(the nearest one where that ray leaves the crop first) is kept (the **still map**); deep inside the head
(``DEEP_REVEAL``) that pixel lies beyond a ``CLEAR_MARGIN`` of background, past the stray hair the mask
misses (copied into a large revealed area, it would be stretched into streaks).

Per target (:func:`head_warp_maps`, backward: each output pixel x samples the source at ``b(x)``):

- inside the target's face mesh (468 landmarks, mediapipe's triangles, z-ordered): the
  piecewise-affine map of the face, as :mod:`synergywarp.face.mesh_warp` (expression included);
- elsewhere ``b(x) = h·(A⁻¹x + d(x)) + (1 − h)·still(x)``: ``A`` is the head's rigid 3D motion (both
  landmark sets fitted to the canonical face) acting on pixels lifted onto a bump around the head
  (:class:`HeadMotion`), ``d`` spreads the face silhouette's
  non-rigid motion (jaw, cheeks) outward with a Gaussian falloff so the face edge meets its
  surroundings, ``h = H(A⁻¹x + d)`` is the head weight carried along, and ``still(x)`` is x itself
  where the head stays, moving toward the still map's background pixel by the share of the
  source's head at x that the target no longer has (revealed background is filled from beside the
  head, never with a second head).

With the target equal to the source every map is the identity. All coordinates are crop-normalised
(x, y in [−1, 1], edge convention); maps are OpenCV pixel-centre coordinates or grid_sample grids.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import cv2
import numpy as np

from synergywarp.face import mesh_regions as rg
from synergywarp.face.mesh_render import _pixel_grid, mesh_backward_maps, normalised_to_pixels
from synergywarp.face.pose import FACE_TRIANGLES, HeadPose, fit_head_pose

HEAD_RADIUS = 0.6  # × the face width (landmarks 234 → 454, in 3D): how far the head bulges toward the camera
HEAD_BUMP_WIDTH = 0.7  # × that depth: σ of the Gaussian bump the head's pixels are lifted onto (its steepest
# slope, 0.87, keeps the backward map from folding over for turns up to ≈ 49°; a sphere folded a band
# of hair over itself at its rim for any turn)
SHOULDER_SHARE = 0.0  # head weight of the shoulders (the body stays where it is)
NECK_START, NECK_END = 0.1, 0.8  # × face height below the chin: the weight falls from 1 to SHOULDER_SHARE
SPREAD_SIGMA = 0.3  # × face height: reach of the silhouette's non-rigid motion beyond the face
MASK_BLUR = 0.02  # × crop side: softening of the person mask
BACKGROUND_WEIGHT = 0.15  # pixels below this head weight count as background for the still map
CLEAR_MARGIN = 0.04  # × crop side: the fill is taken this far beyond the head mask (stray hair lies nearer)
DEEP_REVEAL = (0.06, 0.12)  # × crop side: depth inside the head over which the fill turns from near to clear
STILL_SMOOTH = 0.04  # × crop side: smoothing of the still map's offsets (a stretched fill, not streaks)
SPREAD_GRID = 32  # the silhouette's motion is spread on this coarse grid and upsampled (it is smooth)
MIN_SCALE = 1e-6  # the smallest face scale a motion divides by (a collapsed face has 0)
WARP_VERSION = "head-warp-v4"  # v2: revealed background outward along rays; v3: deep reveals skip the fringe;
# v4: a Gaussian bump instead of a sphere (no fold at its rim), its size from the 3D face width


@dataclass
class HeadWarpSource:
    """Per-source state of the head warp at ``size``² pixels: ``landmarks`` 468×3 (crop-normalised),
    ``head_weight`` S×S float32 in [0, 1], ``still_x``/``still_y`` S×S float32 (pixel-centre coordinates
    of the background pixel that fills it when revealed; the pixel itself off the head)."""

    landmarks: np.ndarray
    head_weight: np.ndarray
    still_x: np.ndarray
    still_y: np.ndarray
    size: int

    @cached_property
    def pose(self) -> HeadPose:
        """The source's head pose, fitted once (every driving frame's :class:`HeadMotion` starts from it)."""
        return fit_head_pose(np.asarray(self.landmarks, np.float64))


def _face_frame(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """(chin xy, unit up vector, face height) in crop-normalised units."""
    top, chin = landmarks[10, :2], landmarks[152, :2]
    up = top - chin
    height = float(np.linalg.norm(up))
    return chin, up / max(height, 1e-9), height


def head_weight_map(person: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """S×S head weight from an S×S person mask (float in [0, 1]) and the 468×3 landmarks."""
    size = person.shape[0]
    chin, up, height = _face_frame(np.asarray(landmarks, np.float64))
    xs, ys = _pixel_grid(size, size)
    points = np.stack([(xs + 0.5) * (2.0 / size) - 1.0, (ys + 0.5) * (2.0 / size) - 1.0], axis=-1)
    below = -((points - chin) @ up) / max(height, 1e-9)  # face heights below the chin (negative above)
    ramp = np.clip((below - NECK_START) / (NECK_END - NECK_START), 0.0, 1.0)
    falloff = 1.0 - (1.0 - SHOULDER_SHARE) * ramp
    sigma = max(MASK_BLUR * size, 0.5)
    soft = cv2.GaussianBlur(np.clip(person, 0.0, 1.0).astype(np.float32), (0, 0), sigma)
    return (soft * falloff).astype(np.float32)


def prepare_head_warp(landmarks: np.ndarray, person: np.ndarray) -> HeadWarpSource:
    """Per-source state from the source's 468×3 crop-normalised landmarks and its S×S person mask.

    The still map sends each pixel of the head above the neck to the first clear background pixel
    outward along the ray from the head core's centroid (else the nearest one)
    (head weight < ``BACKGROUND_WEIGHT``), its offsets smoothed so a revealed area is a stretched copy
    of what lies beside the head; everything else maps to itself."""
    person = np.asarray(person, np.float32)
    size = person.shape[0]
    landmarks = np.asarray(landmarks, np.float32)
    weight = head_weight_map(person, landmarks)
    xs, ys = _pixel_grid(size, size)
    chin, up, height = _face_frame(landmarks.astype(np.float64))
    points = np.stack([(xs + 0.5) * (2.0 / size) - 1.0, (ys + 0.5) * (2.0 / size) - 1.0], axis=-1)
    above_neck = -((points - chin) @ up) / max(height, 1e-9) < NECK_START
    core = (weight >= BACKGROUND_WEIGHT) & above_neck
    background = weight < BACKGROUND_WEIGHT
    offset_x, offset_y = np.zeros_like(xs), np.zeros_like(ys)
    if core.any() and background.any():
        _, labels = cv2.distanceTransformWithLabels((~background).astype(np.uint8), cv2.DIST_L2, 5,
                                                    labelType=cv2.DIST_LABEL_PIXEL)
        lookup_x = np.zeros(labels.max() + 1, np.float32)
        lookup_y = np.zeros(labels.max() + 1, np.float32)
        lookup_x[labels[background]] = xs[background]
        lookup_y[labels[background]] = ys[background]
        nearest_x, nearest_y = lookup_x[labels], lookup_y[labels]
        # past a margin of background: the mask's fringe (stray hair it missed), stretched over a deep reveal,
        # would show as streaks
        clear = cv2.distanceTransform(background.astype(np.uint8), cv2.DIST_L2, 5) >= CLEAR_MARGIN * size
        clear[[0, -1], :] = clear[:, [0, -1]] = True  # a ray about to leave the crop takes the last pixel
        # outward along the ray from the head's centre: deep inside the head the nearest background pixels
        # lie on opposite sides, and their smoothed offsets would cancel (the fill would copy the head)
        (near_x, near_y, found), (far_x, far_y, far_found) = _outward_background(core, background,
                                                                                 background & clear)
        sigma = max(STILL_SMOOTH * size, 0.5)
        offset_x, offset_y = _smoothed_offsets(core, np.where(found, near_x, nearest_x) - xs,
                                               np.where(found, near_y, nearest_y) - ys, sigma)
        far_dx, far_dy = _smoothed_offsets(core, np.where(far_found, far_x - xs, offset_x),
                                           np.where(far_found, far_y - ys, offset_y), sigma)
        # near the head's edge the near fill (a small move reveals a band that continues the hair's soft
        # edge); deep inside it the clear one
        depth = cv2.distanceTransform(core.astype(np.uint8), cv2.DIST_L2, 5)
        near_end, clear_start = DEEP_REVEAL[0] * size, DEEP_REVEAL[1] * size
        deep = np.clip((depth - near_end) / (clear_start - near_end), 0.0, 1.0).astype(np.float32)
        offset_x = offset_x + deep * (far_dx - offset_x)
        offset_y = offset_y + deep * (far_dy - offset_y)
    return HeadWarpSource(landmarks, weight, (xs + offset_x).astype(np.float32), (ys + offset_y).astype(np.float32),
                          size)


def _smoothed_offsets(core: np.ndarray, offset_x: np.ndarray, offset_y: np.ndarray, sigma: float
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Offsets (S×S each) kept on ``core`` only and Gaussian-smoothed there (normalised by the core's mass)."""
    inside = core.astype(np.float32)
    mass = np.maximum(cv2.GaussianBlur(inside, (0, 0), sigma), 1e-6)
    smooth_x = inside * cv2.GaussianBlur((inside * offset_x).astype(np.float32), (0, 0), sigma) / mass
    smooth_y = inside * cv2.GaussianBlur((inside * offset_y).astype(np.float32), (0, 0), sigma) / mass
    return smooth_x, smooth_y


def _outward_background(core: np.ndarray, *backgrounds: np.ndarray, rays: int = 2048
                        ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """For every pixel of ``core`` (S×S bool) and each ``background`` mask (S×S bool), the first background
    pixel beyond it on the ray from the core's centroid through it: one (x, y, found) triple of S×S arrays
    per mask (found False where the ray leaves the crop first). The rays are cast once for all masks;
    each pixel reads the ray nearest its angle."""
    size = core.shape[0]
    ys_idx, xs_idx = np.nonzero(core)
    if xs_idx.size == 0:
        empty = np.zeros(core.shape, np.float32)
        return [(empty, empty.copy(), np.zeros(core.shape, bool)) for _ in backgrounds]
    centre = np.array([xs_idx.mean(), ys_idx.mean()], np.float32)
    length = 2 * size
    angles = np.arange(rays, dtype=np.float64) * (2.0 * np.pi / rays)
    radii = np.arange(length, dtype=np.float64)
    qx = np.rint(centre[0] + np.cos(angles)[:, None] * radii[None]).astype(np.int64)
    qy = np.rint(centre[1] + np.sin(angles)[:, None] * radii[None]).astype(np.int64)
    inside = (qx >= 0) & (qx < size) & (qy >= 0) & (qy < size)
    inside &= ~(np.cumsum(~inside, axis=1) > 0)  # a hit counts only before the ray first leaves the crop
    cx, cy = np.clip(qx, 0, size - 1), np.clip(qy, 0, size - 1)
    dx, dy = xs_idx - centre[0], ys_idx - centre[1]
    radius = np.hypot(dx, dy)
    angle = np.where(radius > 0.5, np.arctan2(dy, dx), -0.5 * np.pi)  # the centre itself: up
    ray = np.rint(np.mod(angle, 2.0 * np.pi) * (rays / (2.0 * np.pi))).astype(np.int64) % rays
    step = np.minimum(np.floor(radius).astype(np.int64) + 1, length - 1)
    results = []
    for background in backgrounds:
        hit = inside & background[cy, cx]
        # the first hit at or after each step: a running minimum from the far end
        steps = np.where(hit, np.arange(length), length)
        first = np.minimum.accumulate(steps[:, ::-1], axis=1)[:, ::-1][ray, step]
        has = first < length
        first = np.minimum(first, length - 1)
        out_x, out_y = np.zeros(core.shape, np.float32), np.zeros(core.shape, np.float32)
        found = np.zeros(core.shape, bool)
        out_x[ys_idx, xs_idx] = np.where(has, qx[ray, first], 0)
        out_y[ys_idx, xs_idx] = np.where(has, qy[ray, first], 0)
        found[ys_idx, xs_idx] = has
        results.append((out_x, out_y, found))
    return results


def similarity_2d(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """2×3 least-squares similarity (rotation, uniform scale, shift) with target ≈ A·[source; 1] (N×2 each)."""
    zs = source[:, 0] + 1j * source[:, 1]
    zt = target[:, 0] + 1j * target[:, 1]
    ms, mt = zs.mean(), zt.mean()
    a = np.vdot(zs - ms, zt - mt) / max(float(np.sum(np.abs(zs - ms) ** 2)), 1e-12)
    b = mt - a * ms
    return np.array([[a.real, -a.imag, b.real], [a.imag, a.real, b.imag]])


def _invert(affine: np.ndarray) -> np.ndarray:
    return cv2.invertAffineTransform(affine.astype(np.float64))


class HeadMotion:
    """The head's rigid 3D motion from the source's to the target's landmarks, as a backward map.

    Both landmark sets are fitted to the canonical face (:func:`synergywarp.face.fit_head_pose`), giving
    ``X_t = k·Q·(X_s − t_s) + t_t``. A target pixel at distance ρ from the target's head centre (ear
    level, behind the face) is lifted onto a Gaussian bump facing the camera,
    ``depth = c_z − D·exp(−ρ²/2σ²)`` (``D`` = :attr:`bulge` = ``HEAD_RADIUS`` × the source's face width in 3D ×
    the motion's scale, ``σ = HEAD_BUMP_WIDTH·D``),
    and moved back by the inverse motion. So a yaw turns the face while the head's outline stays, a roll
    turns everything in the image plane, and a nod moves the forehead but not the crown's outline. The
    bump's slope is bounded, so the map stays one-to-one for turns up to ≈ 49°: a sphere's rim is
    vertical, and under any turn the band of hair near it sampled the source's hidden side, folded over
    (seen as an arc of repeated hair beside the face)."""

    def __init__(self, source_landmarks: np.ndarray, target_landmarks: np.ndarray,
                 source_pose: HeadPose | None = None) -> None:
        from synergywarp.face.head_mesh import head_centre

        src = np.asarray(source_landmarks, np.float64)
        tgt = np.asarray(target_landmarks, np.float64)
        pose_s = fit_head_pose(src) if source_pose is None else source_pose  # per source, not per frame
        pose_t = fit_head_pose(tgt)
        self.rotation = np.asarray(pose_t.rotation, np.float64) @ np.asarray(pose_s.rotation, np.float64).T
        # a face collapsed to a point (a tracker glitch) has scale 0: kept tiny rather than dividing by it
        self.scale = max(pose_t.scale, MIN_SCALE) / max(pose_s.scale, MIN_SCALE)
        self.t_s = np.asarray(pose_s.translation, np.float64)
        self.t_t = np.asarray(pose_t.translation, np.float64)
        # how far the head bulges toward the camera, in the target; from the 3D face width: the projected one
        # shrinks as the source turns away (a smaller head)
        self.bulge = max(HEAD_RADIUS * float(np.linalg.norm(src[454] - src[234])) * self.scale, 1e-6)
        self.centre = self.scale * self.rotation @ (head_centre(src) - self.t_s) + self.t_t

    def backward(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Crop-normalised target positions (any shape) → the source positions they come from."""
        c = self.centre
        sigma = HEAD_BUMP_WIDTH * self.bulge
        depth = c[2] - self.bulge * np.exp(-((x - c[0]) ** 2 + (y - c[1]) ** 2) / (2.0 * sigma * sigma))
        points = np.stack([x, y, depth], axis=-1) - self.t_t
        back = (points @ self.rotation) / self.scale + self.t_s  # Qᵀ(X_t − t_t)/k + t_s, row-wise
        return back[..., 0], back[..., 1]

    def backward_pixels(self, x: np.ndarray, y: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
        """The same in OpenCV pixel-centre coordinates of a size² crop."""
        to_norm, to_px = 2.0 / size, size / 2.0
        bx, by = self.backward((x + 0.5) * to_norm - 1.0, (y + 0.5) * to_norm - 1.0)
        return (bx + 1.0) * to_px - 0.5, (by + 1.0) * to_px - 0.5


def head_warp_maps(source: HeadWarpSource, target_landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """OpenCV remap maps (two S×S float32, pixel-centre coordinates) moving the source's landmarks to
    ``target_landmarks`` (468×3 crop-normalised) with the whole head (see the module docstring)."""
    size = source.size
    src = np.asarray(source.landmarks, np.float64)
    tgt = np.asarray(target_landmarks, np.float64)
    src_px, tgt_px = normalised_to_pixels(src, size), normalised_to_pixels(tgt, size)
    xs, ys = _pixel_grid(size, size)
    motion = HeadMotion(src, tgt, source.pose)
    back_x, back_y = motion.backward_pixels(xs, ys, size)
    # the silhouette's non-rigid motion, spread outward (backward offsets at the target silhouette)
    oval = list(rg.FACE_OVAL)
    at = tgt_px[oval]
    residual = src_px[oval] - np.stack(motion.backward_pixels(at[:, 0], at[:, 1], size), axis=1)
    _, _, height = _face_frame(tgt)
    sigma = max(SPREAD_SIGMA * height * size / 2.0, 0.5)  # a collapsed target face: no spread, not NaN
    coarse = min(SPREAD_GRID, size)
    centres = (np.arange(coarse) + 0.5) * (size / coarse) - 0.5
    grid = np.stack(np.meshgrid(centres, centres, indexing="xy"), axis=-1).reshape(-1, 2)
    offset_x, offset_y = grid[:, None, 0] - at[None, :, 0], grid[:, None, 1] - at[None, :, 1]
    squared = offset_x * offset_x + offset_y * offset_y  # P×36
    nearest = squared.min(axis=1, keepdims=True)
    weights = np.exp(-(squared - nearest) / (2.0 * (0.5 * sigma) ** 2))
    spread = (weights @ residual) / weights.sum(axis=1, keepdims=True)
    spread = (spread * np.exp(-nearest / (2.0 * sigma**2))).reshape(coarse, coarse, 2).astype(np.float32)
    if coarse != size:
        spread = cv2.resize(spread, (size, size), interpolation=cv2.INTER_LINEAR)
    back_x = back_x + spread[..., 0]
    back_y = back_y + spread[..., 1]
    carried = cv2.remap(source.head_weight, back_x.astype(np.float32), back_y.astype(np.float32),
                        cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    # where the source showed more head than the target now does, fill from beside the head
    revealed = np.clip((source.head_weight - carried) / np.maximum(source.head_weight, 1e-6), 0.0, 1.0)
    still_x = xs + revealed * (source.still_x - xs)
    still_y = ys + revealed * (source.still_y - ys)
    map_x = carried * back_x + (1.0 - carried) * still_x
    map_y = carried * back_y + (1.0 - carried) * still_y
    # the face itself: the z-ordered piecewise-affine mesh warp
    triangles = np.asarray(FACE_TRIANGLES, np.int32)
    face_x, face_y, ids = mesh_backward_maps(src_px, tgt_px, tgt[:, 2], triangles, size, size)
    on_face = ids >= 0
    map_x = np.where(on_face, face_x, map_x)
    map_y = np.where(on_face, face_y, map_y)
    return map_x.astype(np.float32), map_y.astype(np.float32)


def maps_to_grid(map_x: np.ndarray, map_y: np.ndarray) -> np.ndarray:
    """OpenCV pixel-centre maps (S×S) → S×S×2 ``grid_sample`` grid (x, y in [−1, 1], align_corners=False)."""
    scale = 2.0 / map_x.shape[1], 2.0 / map_x.shape[0]
    return np.stack([(map_x + 0.5) * scale[0] - 1.0, (map_y + 0.5) * scale[1] - 1.0], axis=-1).astype(np.float32)


def head_warp_grid(source: HeadWarpSource, target_landmarks: np.ndarray) -> np.ndarray:
    """:func:`head_warp_maps` as an S×S×2 backward grid for ``grid_sample`` (align_corners=False)."""
    return maps_to_grid(*head_warp_maps(source, target_landmarks))


def head_warp_image(image: np.ndarray, source: HeadWarpSource, target_landmarks: np.ndarray) -> np.ndarray:
    """S×S×3 uint8 ``image`` (the source crop) warped to ``target_landmarks``."""
    map_x, map_y = head_warp_maps(source, target_landmarks)
    warped = cv2.remap(image.astype(np.float32), map_x, map_y, interpolation=cv2.INTER_LINEAR,
                       borderMode=cv2.BORDER_REPLICATE)
    return np.clip(np.rint(warped), 0, 255).astype(np.uint8)

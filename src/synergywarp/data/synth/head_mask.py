"""Soft head/hair/neck mask of a portrait crop and the static background behind the head.

The mask separates what moves with the head (face, hair, ears, the top of the neck) from what
stays (background, shoulders). Geometry gives the prior: the face silhouette is surely head; the
region out to the second support ring above and beside the face, plus a neck column under the
jaw, may be head; beyond the third ring is surely background. GrabCut (colour models, seeded
deterministically) decides the uncertain band, and a Gaussian feather softens the edge. The
background layer is the crop with the (dilated) head region filled by ``cv2.inpaint`` — what a
turning head uncovers.
"""

from __future__ import annotations

import cv2
import numpy as np

from synergywarp.face.head_mesh import HeadMesh
from synergywarp.face.mesh_render import normalised_to_pixels

GRABCUT_ITERATIONS = 3
GRABCUT_SEED = 12345
FEATHER = 0.012  # Gaussian sigma of the mask edge, × crop side
INPAINT_DILATION = 0.03  # the inpainted region extends this far (× crop side) beyond the mask
INPAINT_WORK_SIZE = 128  # inpaint at this resolution, then upsample (the fill is smooth anyway)


def _polygon_mask(points_xy: np.ndarray, size: int) -> np.ndarray:
    mask = np.zeros((size, size), np.uint8)
    cv2.fillPoly(mask, [np.round(points_xy * 16).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=4)
    return mask.astype(bool)


def _neck_polygon(mesh: HeadMesh, size: int) -> np.ndarray:
    """Pixels of a column under the jaw, ~75% of the jaw's width, down past the canvas bottom."""
    landmarks = normalised_to_pixels(mesh.points[:468], size)
    left, right = landmarks[172], landmarks[397]
    middle, half = (left + right) / 2, (right - left) / 2 * 0.75
    down = landmarks[152] - landmarks[10]
    down = down / np.linalg.norm(down) * size * 2
    quad = np.array([middle - half, middle + half, middle + half + down, middle - half + down])
    return _polygon_mask(quad, size)


def geometric_prior(mesh: HeadMesh, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(sure head, maybe head, maybe background) boolean size×size maps from the mesh alone."""
    def ring_polygon(k: int) -> np.ndarray:
        return _polygon_mask(normalised_to_pixels(mesh.points[mesh.ring(k)], size), size)

    face = ring_polygon(0)
    sure = cv2.erode(face.astype(np.uint8), np.ones((3, 3), np.uint8), iterations=max(1, size // 128)).astype(bool)
    neck = _neck_polygon(mesh, size)
    up_rigid = mesh.rigidity[mesh.ring(2)] > 0.9
    ring2 = normalised_to_pixels(mesh.points[mesh.ring(2)], size)
    ring1 = normalised_to_pixels(mesh.points[mesh.ring(1)], size)
    head_region = np.where(up_rigid[:, None], ring2, ring1)
    maybe_head = _polygon_mask(head_region, size) | (neck & ring_polygon(2)) | face
    maybe_background = ring_polygon(3) & ~maybe_head
    return sure, maybe_head & ~sure, maybe_background


def head_mask(image: np.ndarray, mesh: HeadMesh) -> np.ndarray:
    """S×S float32 soft mask in [0, 1] of the head, hair and upper neck of an S×S×3 uint8 crop."""
    size = image.shape[0]
    sure, maybe_head, maybe_background = geometric_prior(mesh, size)
    labels = np.full((size, size), cv2.GC_BGD, np.uint8)
    labels[maybe_background] = cv2.GC_PR_BGD
    labels[maybe_head] = cv2.GC_PR_FGD
    labels[sure] = cv2.GC_FGD
    hard = (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)
    if (labels == cv2.GC_BGD).any() or (labels == cv2.GC_PR_BGD).any():
        cv2.setRNGSeed(GRABCUT_SEED)
        bgd_model, fgd_model = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
        try:
            cv2.grabCut(np.ascontiguousarray(image), labels, (0, 0, 0, 0), bgd_model, fgd_model,  # rect: unused
                        GRABCUT_ITERATIONS, cv2.GC_INIT_WITH_MASK)
            hard = (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)
        except cv2.error:  # degenerate colour statistics: keep the geometric prior
            pass
    hard = _keep_component(hard, sure)
    close = max(3, size // 40) | 1
    hard = cv2.morphologyEx(hard.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((close, close), np.uint8)) > 0
    hard |= sure
    sigma = FEATHER * size
    soft = cv2.GaussianBlur(hard.astype(np.float32), (0, 0), sigma)
    return np.clip(np.maximum(soft, sure.astype(np.float32)), 0.0, 1.0)


def _keep_component(mask: np.ndarray, seed: np.ndarray) -> np.ndarray:
    """The connected components of ``mask`` that touch ``seed``."""
    count, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    keep = np.unique(labels[seed & mask])
    keep = keep[keep > 0]
    return np.isin(labels, keep) if count > 1 and len(keep) else mask


def inpaint_background(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """S×S×3 uint8 crop with the head region (soft ``mask`` > 0.05, dilated) filled by inpainting."""
    size = image.shape[0]
    grow = max(3, int(round(INPAINT_DILATION * size)) * 2 + 1)
    hole = cv2.dilate((mask > 0.05).astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (grow, grow)))
    work = min(size, INPAINT_WORK_SIZE)
    small = cv2.resize(image, (work, work), interpolation=cv2.INTER_AREA)
    small_hole = (cv2.resize(hole.astype(np.float32), (work, work), interpolation=cv2.INTER_AREA) > 0).astype(np.uint8)
    filled = cv2.inpaint(small, small_hole, 5, cv2.INPAINT_TELEA)
    filled = cv2.GaussianBlur(filled, (0, 0), 1.5)
    filled_full = cv2.resize(filled, (size, size), interpolation=cv2.INTER_CUBIC)
    return np.where(hole[..., None] > 0, filled_full, image)

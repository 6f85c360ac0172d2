"""Facial-state measures and region boxes from 468 FaceMesh landmarks (crop-normalised or pixels).

- :func:`mouth_openness`: mean gap between the inner lips over five vertical pairs, divided by the
  face height (forehead 10 → chin 152); ≈ 0 closed, ≈ 0.1 talking, ≥ 0.15 wide open.
- :func:`eye_openness`: mean lid gap over three pairs per eye divided by that eye's width, averaged
  over both eyes; ≈ 0.05 closed, ≈ 0.3 open.
- :func:`region_boxes`: the mouth box (outer lips) and the eyes box (both eyes and lids) padded by a
  share of their size, as (x0, y0, x1, y1) in the landmarks' own units; used for region metrics
  (scored inside the boxes of the ground truth's landmarks).

All functions take ``...×468×(2|3)`` arrays and broadcast over leading axes.
"""

from __future__ import annotations

import numpy as np

from synergywarp.face import mesh_regions as rg

INNER_LIP_PAIRS = ((13, 14), (82, 87), (312, 317), (81, 178), (311, 402))
RIGHT_EYE_PAIRS = ((159, 145), (158, 153), (160, 144))
LEFT_EYE_PAIRS = ((386, 374), (385, 380), (387, 373))
RIGHT_EYE_CORNERS = (33, 133)
LEFT_EYE_CORNERS = (263, 362)
FACE_TOP, CHIN = 10, 152
MOUTH_POINTS = tuple(sorted(set(rg.LIPS_UPPER_OUTER + rg.LIPS_LOWER_OUTER)))
EYE_POINTS = tuple(sorted(set(rg.RIGHT_EYE_UPPER + rg.RIGHT_EYE_LOWER + rg.LEFT_EYE_UPPER + rg.LEFT_EYE_LOWER)))
REGIONS = ("mouth", "eyes")
MOUTH_UNIT = 0.05  # face heights: a talking mouth opens ~0.03–0.08
EYE_UNIT = 0.1  # eye widths: open eyes ~0.3, closed ~0.05
SHOWS_MORE = 0.5  # a frame with gain ≥ this shows clearly more mouth interior / eye than another


def _gap(points: np.ndarray, pairs: tuple[tuple[int, int], ...]) -> np.ndarray:
    a = points[..., [p for p, _ in pairs], :2]
    b = points[..., [q for _, q in pairs], :2]
    return np.linalg.norm(a - b, axis=-1).mean(axis=-1)


def _distance(points: np.ndarray, i: int, j: int) -> np.ndarray:
    return np.linalg.norm(points[..., i, :2] - points[..., j, :2], axis=-1)


def mouth_openness(landmarks: np.ndarray) -> np.ndarray:
    """``...×468×C`` → ``...`` inner-lip gap / face height."""
    points = np.asarray(landmarks, np.float64)
    return _gap(points, INNER_LIP_PAIRS) / np.maximum(_distance(points, FACE_TOP, CHIN), 1e-9)


def eye_openness(landmarks: np.ndarray) -> np.ndarray:
    """``...×468×C`` → ``...`` mean over both eyes of lid gap / eye width."""
    points = np.asarray(landmarks, np.float64)
    right = _gap(points, RIGHT_EYE_PAIRS) / np.maximum(_distance(points, *RIGHT_EYE_CORNERS), 1e-9)
    left = _gap(points, LEFT_EYE_PAIRS) / np.maximum(_distance(points, *LEFT_EYE_CORNERS), 1e-9)
    return 0.5 * (right + left)


def _box(points: np.ndarray, pad: float, min_aspect: float) -> np.ndarray:
    lo, hi = points[..., :2].min(axis=-2), points[..., :2].max(axis=-2)
    centre, half = 0.5 * (lo + hi), 0.5 * (hi - lo) * (1.0 + 2.0 * pad)
    half[..., 1] = np.maximum(half[..., 1], half[..., 0] * min_aspect)  # at least this tall vs wide
    return np.concatenate([centre - half, centre + half], axis=-1)


def region_boxes(landmarks: np.ndarray, pad: float = 0.25) -> dict[str, np.ndarray]:
    """{"mouth": ``...×4``, "eyes": ``...×4``} boxes (x0, y0, x1, y1) around the outer lips and both
    eyes, each side padded by ``pad`` × the box size; the mouth box is at least ½ as tall as wide
    (a closed mouth still shows the teeth region), the eyes box at least ¼."""
    points = np.asarray(landmarks, np.float64)
    return {"mouth": _box(points[..., list(MOUTH_POINTS), :], pad, 0.5),
            "eyes": _box(points[..., list(EYE_POINTS), :], pad, 0.25)}


def closedness(mouth: np.ndarray, eyes: np.ndarray) -> np.ndarray:
    """How closed mouth and eyes are together: ``mouth / MOUTH_UNIT + eyes / EYE_UNIT`` (smaller = more closed)."""
    return np.asarray(mouth) / MOUTH_UNIT + np.asarray(eyes) / EYE_UNIT


def openness_gain(mouth: np.ndarray, eyes: np.ndarray, reference_mouth: float, reference_eyes: float) -> np.ndarray:
    """How much more of the mouth interior and the eyes each frame shows than a reference frame, in
    units of ``MOUTH_UNIT`` and ``EYE_UNIT`` (≥ ``SHOWS_MORE``: clearly more)."""
    return (np.asarray(mouth) - reference_mouth) / MOUTH_UNIT + (np.asarray(eyes) - reference_eyes) / EYE_UNIT

"""Named groups of mediapipe FaceMesh landmark indices used by the synthetic engine.

"Right"/"left" are the subject's (the subject's right eye is on the image's left). Lid and lip
contours run from the image-left corner to the image-right corner, so upper and lower lists pair up
column by column. ``FACE_OVAL`` is the closed silhouette loop (clockwise on screen from the
forehead top, landmark 10).
"""

from __future__ import annotations

import numpy as np

FACE_OVAL: tuple[int, ...] = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
    152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
)
LIPS_UPPER_OUTER = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291)
LIPS_LOWER_OUTER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291)
LIPS_UPPER_INNER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
LIPS_LOWER_INNER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308)
RIGHT_EYE_UPPER = (33, 246, 161, 160, 159, 158, 157, 173, 133)
RIGHT_EYE_LOWER = (33, 7, 163, 144, 145, 153, 154, 155, 133)
LEFT_EYE_UPPER = (362, 398, 384, 385, 386, 387, 388, 466, 263)
LEFT_EYE_LOWER = (362, 382, 381, 380, 374, 373, 390, 249, 263)
RIGHT_BROW = (70, 63, 105, 66, 107, 46, 53, 52, 65, 55)
LEFT_BROW = (336, 296, 334, 293, 300, 285, 295, 282, 283, 276)
MOUTH_CORNERS = (61, 291)
INNER_MOUTH_CORNERS = (78, 308)
UPPER_LIP_CENTRE, LOWER_LIP_CENTRE = 13, 14  # inner lip midpoints (lip gap)

UPPER_LIP = tuple(sorted(set(LIPS_UPPER_OUTER[1:-1] + LIPS_UPPER_INNER[1:-1])))
LOWER_LIP = tuple(sorted(set(LIPS_LOWER_OUTER[1:-1] + LIPS_LOWER_INNER[1:-1])))


def inner_mouth_loop() -> tuple[int, ...]:
    """Closed loop of the inner lip contour: upper lip left→right, then lower lip right→left."""
    return LIPS_UPPER_INNER + tuple(reversed(LIPS_LOWER_INNER[1:-1]))


def mirror_permutation(canonical: np.ndarray) -> np.ndarray:
    """468 int: index of each landmark's mirror image (x → −x) on the symmetric canonical face."""
    mirrored = canonical * np.array([-1.0, 1.0, 1.0])
    distance = ((mirrored[:, None, :] - canonical[None, :, :]) ** 2).sum(axis=-1)
    permutation = distance.argmin(axis=1)
    if not np.array_equal(permutation[permutation], np.arange(len(canonical))):
        raise ValueError("canonical face is not left-right symmetric")
    return permutation

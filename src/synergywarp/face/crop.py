"""LivePortrait-style square face crops, their affine maps, stable crops over a video, paste-back.

Pixel coordinates are continuous with the origin at the top-left EDGE of the image (pixel i's
centre at i + 0.5), both in the full image and in the crop; ``CropTransform.matrix`` maps full-image
pixels to crop pixels. The crop square is centred on the 2D landmarks' bounding box (in the
roll-aligned frame when ``align_roll``), its side is ``scale`` × the box's longer side and its
centre is moved down by ``vy`` × side (negative = up). With mediapipe's 468 landmarks (hairline to
chin) the defaults ``scale=1.9, vy=-0.06`` give VoxCeleb/FOMM-like framing: the whole head with
some hair above and the neck and top of the shoulders below, the face ~half the crop width.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from synergywarp.crop_framing import DEFAULT_SCALE, DEFAULT_VY
from synergywarp.errors import InputError

RIGHT_EYE = (33, 133)  # subject's right eye corners (image left)
LEFT_EYE = (263, 362)  # subject's left eye corners (image right)
_BORDERS = {"constant": cv2.BORDER_CONSTANT, "replicate": cv2.BORDER_REPLICATE,
            "reflect": cv2.BORDER_REFLECT_101}


@dataclass(frozen=True, eq=False)
class CropTransform:
    """A square crop: ``matrix`` 2×3 (full-image px → crop px) and the crop side ``size`` (px)."""

    matrix: np.ndarray
    size: int

    @property
    def inverse(self) -> np.ndarray:
        """2×3 crop px → full-image px."""
        return cv2.invertAffineTransform(np.asarray(self.matrix, dtype=np.float64))

    @property
    def zoom(self) -> float:
        """Crop pixels per full-image pixel."""
        return float(np.sqrt(abs(np.linalg.det(np.asarray(self.matrix, dtype=np.float64)[:, :2]))))


def eye_line_angle(points: np.ndarray) -> float:
    """Angle (degrees, clockwise on screen positive) of the line from the right to the left eye."""
    right = points[list(RIGHT_EYE), :2].mean(axis=0)
    left = points[list(LEFT_EYE), :2].mean(axis=0)
    return float(np.degrees(np.arctan2(left[1] - right[1], left[0] - right[0])))


def _rotation_2d(angle_deg: float) -> np.ndarray:
    a = np.radians(angle_deg)
    return np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])


def crop_from_params(center: np.ndarray, side: float, angle: float, size: int) -> CropTransform:
    """Crop of ``side`` full-image px around ``center`` (x, y), rotated by ``angle`` degrees, to
    ``size``×``size``: ``crop = size/side · Rot(−angle)(p − center) + size/2``."""
    linear = (size / side) * _rotation_2d(-angle)
    offset = np.full(2, size / 2.0) - linear @ np.asarray(center, dtype=np.float64)
    return CropTransform(np.concatenate([linear, offset[:, None]], axis=1), int(size))


def _upright_box(points: np.ndarray, angle: float, origin: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi) of the 2D points rotated by −angle about ``origin``."""
    upright = (points[:, :2] - origin) @ _rotation_2d(-angle).T
    return upright.min(axis=0), upright.max(axis=0)


def _square_from_box(lo: np.ndarray, hi: np.ndarray, scale: float, vy: float
                     ) -> tuple[np.ndarray, float]:
    side = scale * float(np.max(hi - lo))
    center = 0.5 * (lo + hi) + np.array([0.0, vy * side])
    return center, side


def crop_params(points: np.ndarray, scale: float = DEFAULT_SCALE, vy: float = DEFAULT_VY,
                align_roll: bool = False) -> tuple[np.ndarray, float, float]:
    """(centre 2 full px, side px, angle deg) of the crop for one face's 468×3 (or N×2+) points."""
    points = np.asarray(points, dtype=np.float64)
    angle = eye_line_angle(points) if align_roll else 0.0
    origin = points[:, :2].mean(axis=0)
    center_up, side = _square_from_box(*_upright_box(points, angle, origin), scale, vy)
    return origin + _rotation_2d(angle) @ center_up, side, angle


def crop_from_landmarks(points: np.ndarray, size: int, scale: float = DEFAULT_SCALE,
                        vy: float = DEFAULT_VY, align_roll: bool = False) -> CropTransform:
    """Square crop for 468×3 full-image landmarks (see the module docstring for the framing)."""
    center, side, angle = crop_params(points, scale, vy, align_roll)
    return crop_from_params(center, side, angle, size)


def warp_square(image: np.ndarray, crop: CropTransform, border: str = "constant") -> np.ndarray:
    """Resample H×W×C ``image`` into the crop (size×size×C); area-averaged when shrinking."""
    matrix = np.asarray(crop.matrix, dtype=np.float64).copy()
    height, width = image.shape[:2]
    corners = np.array([[0, 0], [crop.size, 0], [0, crop.size], [crop.size, crop.size]], float)
    footprint = corners @ crop.inverse[:, :2].T + crop.inverse[:, 2]
    x0, y0 = np.maximum(np.floor(footprint.min(axis=0)) - 2, 0).astype(int)
    x1 = int(min(np.ceil(footprint[:, 0].max()) + 2, width))
    y1 = int(min(np.ceil(footprint[:, 1].max()) + 2, height))
    if x1 <= x0 or y1 <= y0:  # crop entirely outside the image
        x0, y0, x1, y1 = 0, 0, width, height
    region = image[y0:y1, x0:x1]
    matrix[:, 2] += matrix[:, :2] @ np.array([x0, y0], float)
    zoom = crop.zoom
    if zoom < 0.999:  # shrink with INTER_AREA first, then the (near 1:1) warp stays sharp
        new_w = max(1, round(region.shape[1] * zoom))
        new_h = max(1, round(region.shape[0] * zoom))
        factors = np.array([new_w / region.shape[1], new_h / region.shape[0]])
        region = cv2.resize(region, (new_w, new_h), interpolation=cv2.INTER_AREA)
        matrix[:, :2] = matrix[:, :2] / factors[None, :]
    cv_matrix = matrix.copy()
    cv_matrix[:, 2] += matrix[:, :2] @ np.array([0.5, 0.5]) - 0.5  # edge → centre convention
    return cv2.warpAffine(region, cv_matrix, (crop.size, crop.size), flags=cv2.INTER_LINEAR,
                          borderMode=_BORDERS[border], borderValue=0)


def resize_crop(crop: CropTransform, size: int) -> CropTransform:
    """The same square of the full image sampled at ``size``² instead of ``crop.size``²."""
    return CropTransform(np.asarray(crop.matrix, np.float64) * (size / crop.size), int(size))


def apply_crop(image: np.ndarray, crop: CropTransform, border: str = "constant") -> np.ndarray:
    """H×W×3 uint8 image → size×size×3 crop (``border``: constant (black), replicate, reflect)."""
    return warp_square(np.asarray(image), crop, border)


def to_crop_coords(points: np.ndarray, crop: CropTransform) -> np.ndarray:
    """Full-image landmarks (...×N×3 px, z px on x's scale) → crop-normalised (x, y in [−1, 1] edge
    to edge, z ×2/size on the same scale). NaNs stay NaN."""
    points = np.asarray(points, dtype=np.float64)
    matrix = np.asarray(crop.matrix, dtype=np.float64)
    xy = points[..., :2] @ matrix[:, :2].T + matrix[:, 2]
    z = points[..., 2:3] * crop.zoom
    return (np.concatenate([xy, z], axis=-1) * (2.0 / crop.size) - np.array([1.0, 1.0, 0.0])
            ).astype(np.float32)


def from_crop_coords(points_norm: np.ndarray, crop: CropTransform) -> np.ndarray:
    """Inverse of :func:`to_crop_coords`: crop-normalised ...×N×3 → full-image px."""
    points_norm = np.asarray(points_norm, dtype=np.float64)
    crop_px = (points_norm + np.array([1.0, 1.0, 0.0])) * (crop.size / 2.0)
    inverse = crop.inverse
    xy = crop_px[..., :2] @ inverse[:, :2].T + inverse[:, 2]
    return np.concatenate([xy, crop_px[..., 2:3] / crop.zoom], axis=-1).astype(np.float32)


def feather_mask(size: int, feather: float) -> np.ndarray:
    """size×size float32 mask, 1 inside, ramping to 0 over ``feather``×size px at the borders."""
    ramp_px = max(feather * size, 1e-6)
    centres = np.arange(size) + 0.5
    edge = np.minimum(centres, size - centres)
    ramp = np.clip(edge / ramp_px, 0.0, 1.0)
    return np.minimum(ramp[:, None], ramp[None, :]).astype(np.float32)


PASTE_TILE_PIXELS = 1 << 17  # pixels blended per tile: bounds paste_back's float memory (~4 MB)


def paste_back(full: np.ndarray, crop_img: np.ndarray, crop: CropTransform, feather: float = 0.08
               ) -> np.ndarray:
    """Blend ``crop_img`` (any square size) back into a copy of the H×W×3 uint8 ``full`` image,
    with a border ramp of ``feather``×size so that seams do not show.

    Only the crop's footprint is touched, a strip of rows at a time, so the memory used besides the
    returned copy stays small whatever the image's size (no float copy of the whole frame)."""
    full = np.asarray(full)
    crop_img = np.asarray(crop_img)
    side = crop_img.shape[0]
    inverse = crop.inverse.copy()
    inverse[:, :2] *= crop.size / side  # crop_img px → crop px → full px
    cv_matrix = inverse.copy()
    cv_matrix[:, 2] += inverse[:, :2] @ np.array([0.5, 0.5]) - 0.5
    out = full.copy()
    height, width = full.shape[:2]
    reach = np.array([[-1, -1], [side + 1, -1], [-1, side + 1], [side + 1, side + 1]], float)  # + bilinear reach
    footprint = reach @ inverse[:, :2].T + inverse[:, 2]
    x0, y0 = np.maximum(np.floor(footprint.min(axis=0)) - 1, 0).astype(int)
    x1 = int(min(np.ceil(footprint[:, 0].max()) + 1, width))
    y1 = int(min(np.ceil(footprint[:, 1].max()) + 1, height))
    if x1 <= x0 or y1 <= y0:
        return out
    mask_image = feather_mask(side, feather)
    rows = max(1, PASTE_TILE_PIXELS // (x1 - x0))
    for top in range(y0, y1, rows):
        bottom = min(top + rows, y1)
        tile = cv_matrix.copy()
        tile[:, 2] -= (x0, top)  # output pixels relative to the strip's corner
        size = (x1 - x0, bottom - top)
        warped = cv2.warpAffine(crop_img, tile, size, flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
        mask = cv2.warpAffine(mask_image, tile, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                              borderValue=0)[..., None]
        region = out[top:bottom, x0:x1]
        base = region.astype(np.float32)
        warped -= base  # base·(1 − mask) + warped·mask, in place
        warped *= mask
        warped += base
        region[...] = np.clip(np.rint(warped, out=warped), 0, 255).astype(np.uint8)
    return out


def _interpolate_missing(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Fill rows where ``valid`` is False by linear interpolation over time (T×D)."""
    frames = np.arange(len(values))
    out = values.copy()
    for d in range(values.shape[1]):
        out[:, d] = np.interp(frames, frames[valid], values[valid, d])
    return out


def stable_video_crops(points_per_frame: np.ndarray, size: int,
                       mode: Literal["fixed", "smooth"] = "fixed", *, scale: float = DEFAULT_SCALE,
                       vy: float = DEFAULT_VY, align_roll: bool = False, smooth_sigma: float = 5.0
                       ) -> list[CropTransform]:
    """One crop per frame for T×468×3 full-image landmarks (frames without a face are NaN).

    ``fixed``: one square for the clip, enclosing every frame's own crop square (FOMM style; the
    roll is the median eye-line angle when ``align_roll``). ``smooth``: per-frame squares whose centre,
    side and angle are smoothed over time by a Gaussian of ``smooth_sigma`` frames (zero-phase).
    Frames without landmarks take interpolated values. InputError when no frame has a face.
    """
    points = np.asarray(points_per_frame, dtype=np.float64)
    valid = np.asarray(np.isfinite(points).all(axis=(1, 2)))  # T bools (asarray: a typed array, no copy)
    if not valid.any():
        raise InputError("no face found in any frame of the clip")
    if mode == "fixed":
        good = points[valid]
        angle = float(np.median([eye_line_angle(p) for p in good])) if align_roll else 0.0
        origin = good[..., :2].reshape(-1, 2).mean(axis=0)
        squares = [_square_from_box(*_upright_box(p, angle, origin), scale, vy) for p in good]
        lo = np.min([c - s / 2 for c, s in squares], axis=0)
        hi = np.max([c + s / 2 for c, s in squares], axis=0)
        center = origin + _rotation_2d(angle) @ (0.5 * (lo + hi))
        crop = crop_from_params(center, float(np.max(hi - lo)), angle, size)
        return [crop] * len(points)
    if mode != "smooth":
        raise ValueError(f"stable_video_crops: mode must be 'fixed' or 'smooth', got {mode!r}")
    params = np.zeros((len(points), 4))
    for t in np.flatnonzero(valid):
        center, side, angle = crop_params(points[t], scale, vy, align_roll)
        params[t] = (center[0], center[1], side, angle)
    params = _interpolate_missing(params, valid)
    if smooth_sigma > 0 and len(points) > 1:
        from scipy.ndimage import gaussian_filter1d

        params = gaussian_filter1d(params, smooth_sigma, axis=0, mode="nearest")
    return [crop_from_params(p[:2], p[2], p[3], size) for p in params]

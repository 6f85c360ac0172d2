"""Still portrait → synthetic talking-head clip with ground-truth pose, expression and landmarks.

``prepare_portrait`` does the per-portrait work once: face detection on the whole image, FaceMesh
on an upscaled crop (``synergywarp.face``), a square crop (rendered ``supersample``× larger), the
head mesh, the soft head mask and the inpainted static background. ``render_clip`` draws a smooth
random trajectory (or takes one), moves the head mesh in 3D, warps the head layer over the still
background, paints the mouth interior, area-downsamples, applies per-clip photometric variation
and an optional horizontal flip, and returns frames with per-frame ground truth in the
docs/CONTRACTS.md#dataset-layout npz fields (crop-normalised landmarks; pose fitted exactly like real clips).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from pathlib import Path

import cv2
import numpy as np

from synergywarp.data.synth.expression import apply_expression, expression_basis
from synergywarp.data.synth.head_mask import head_mask, inpaint_background
from synergywarp.data.synth.mouth import paint_mouth_interior
from synergywarp.data.synth.photometric import PhotometricParams, PhotometricRanges, apply_photometric
from synergywarp.data.synth.trajectory import (
    EXPRESSION_NAMES,
    ExpressionStrengths,
    PoseRanges,
    Trajectory,
    random_trajectory,
)
from synergywarp.errors import ConfigError, InputError
from synergywarp.face import CANONICAL_FACE, fit_head_pose, fit_head_poses, rotation_from_euler
from synergywarp.face import mesh_regions as rg
from synergywarp.face.crop import (
    DEFAULT_SCALE,
    DEFAULT_VY,
    CropTransform,
    apply_crop,
    crop_from_landmarks,
    to_crop_coords,
)
from synergywarp.face.head_mesh import HeadMesh, build_head_mesh, pose_mesh
from synergywarp.face.mesh_render import normalised_to_pixels, warp_mesh
from synergywarp.face.types import FaceLandmarks

MIRROR = rg.mirror_permutation(np.asarray(CANONICAL_FACE))
MOUTH_OPENING_FOR_FULL_CAVITY = 0.025  # canonical units (face width 1) of added lip gap


@dataclass
class SynthConfig:
    """Options of the synthetic engine (one clip)."""

    size: int = 256  # output crop side (px)
    frames: int = 64
    fps: float = 25.0
    pose: PoseRanges = field(default_factory=PoseRanges)
    expression: ExpressionStrengths = field(default_factory=ExpressionStrengths)
    photometric: PhotometricRanges = field(default_factory=PhotometricRanges)
    flip_prob: float = 0.5  # probability of a horizontally flipped clip
    supersample: int = 2  # render at size × supersample, then area-downsample (anti-aliasing)
    crop_scale: float = DEFAULT_SCALE  # crop side / landmark box side (synergywarp.face.crop)
    crop_vy: float = DEFAULT_VY

    def __post_init__(self) -> None:
        if self.size < 16 or self.size % 2:
            raise ConfigError(f"synth size must be an even number ≥ 16, got {self.size}")
        if self.frames < 1:
            raise ConfigError(f"synth frames must be ≥ 1, got {self.frames}")
        if not (math.isfinite(self.fps) and self.fps > 0):
            raise ConfigError(f"synth fps must be a finite number > 0, got {self.fps}")
        if not 0.0 <= self.flip_prob <= 1.0:
            raise ConfigError(f"synth flip_prob must be in [0, 1], got {self.flip_prob}")
        if self.supersample not in (1, 2, 3, 4):
            raise ConfigError(f"synth supersample must be 1–4, got {self.supersample}")


@dataclass
class PreparedPortrait:
    """Per-portrait state shared by all clips (work resolution W = size × supersample).

    ``layers`` W×W×4 float32 (RGB + soft head mask), ``background`` W×W×3 float32 (head inpainted),
    ``landmarks`` 468×3 and ``mesh`` in crop-normalised coordinates, ``local`` 468×3 the landmarks
    in the canonical frame with ``rotation``/``scale``/``translation`` mapping them back,
    ``basis`` E×468×3 expression displacements, ``crop`` the output-size crop of the portrait."""

    identity: str
    size: int
    supersample: int
    layers: np.ndarray
    background: np.ndarray
    landmarks: np.ndarray
    mesh: HeadMesh
    local: np.ndarray
    rotation: np.ndarray
    scale: float
    translation: np.ndarray
    basis: np.ndarray
    crop: CropTransform
    brightness: float

    @property
    def work_size(self) -> int:
        return self.size * self.supersample


@dataclass
class SynthClip:
    """A rendered clip: ``frames`` T×S×S×3 uint8 and per-frame ground truth (float32):
    ``landmarks`` T×468×3 crop-normalised, ``valid`` T bool, ``rotation`` T×3×3, ``pose`` T×3
    (pitch, yaw, roll deg, fitted as for real clips), ``scale`` T, ``translation`` T×3,
    ``expression`` T×E named by ``expression_names``, ``target_pose`` T×3 the requested rotation
    relative to the portrait (after the flip)."""

    frames: np.ndarray
    landmarks: np.ndarray
    valid: np.ndarray
    rotation: np.ndarray
    pose: np.ndarray
    scale: np.ndarray
    translation: np.ndarray
    expression: np.ndarray
    expression_names: tuple[str, ...]
    target_pose: np.ndarray
    fps: float
    identity: str
    flipped: bool
    seed: int

    def arrays(self) -> dict[str, np.ndarray]:
        """The npz fields of docs/CONTRACTS.md#dataset-layout (plus ``target_pose``, ``flipped``, ``seed``)."""
        out = {f.name: np.asarray(getattr(self, f.name)) for f in fields(self) if f.name != "frames"}
        out["fps"] = np.asarray(self.fps, np.float64)
        out["identity"] = np.asarray(self.identity)
        out["expression_names"] = np.asarray(self.expression_names)
        out["seed"] = np.asarray(self.seed, np.int64)
        return out


def load_portrait(portrait: np.ndarray | str | Path, name: str | None = None) -> np.ndarray:
    """H×W×3 uint8 RGB from an array or an image file; InputError for anything else."""
    if isinstance(portrait, (str, Path)):
        from synergywarp.io import read_image

        return read_image(portrait)
    array = np.asarray(portrait) if isinstance(portrait, np.ndarray) else None
    if array is None or array.ndim != 3 or array.shape[2] != 3 or array.dtype != np.uint8 or min(array.shape[:2]) < 8:
        what = f"{array.dtype} {array.shape}" if array is not None else type(portrait).__name__
        raise InputError(f"{name or 'portrait'}: expected an H×W×3 uint8 RGB image or an image file, got {what}")
    return np.ascontiguousarray(array)


def prepare_portrait(portrait: np.ndarray | str | Path, config: SynthConfig | None = None, *,
                     face: FaceLandmarks | None = None, identity: str | None = None) -> PreparedPortrait:
    """Detect the face (largest, or the given ``face``), crop, mesh, mask and inpaint once."""
    config = config or SynthConfig()
    name = identity or (Path(portrait).name if isinstance(portrait, (str, Path)) else "portrait")
    image = load_portrait(portrait, name)
    if face is None:
        from synergywarp.face.landmarks import detect_landmarks

        face = detect_landmarks(image, name=name)
    work = config.size * config.supersample
    work_crop = crop_from_landmarks(face.points, work, scale=config.crop_scale, vy=config.crop_vy)
    source = apply_crop(image, work_crop, border="reflect")
    landmarks = to_crop_coords(face.points, work_crop).astype(np.float64)
    fit = fit_head_pose(landmarks)
    rotation, scale, translation = fit.rotation.astype(np.float64), float(fit.scale), fit.translation.astype(np.float64)
    local = (landmarks - translation) @ rotation / scale
    mesh = build_head_mesh(landmarks)
    mask = head_mask(source, mesh)
    background = inpaint_background(source, mask)
    source_f = source.astype(np.float32) / 255.0
    oval = np.zeros((work, work), np.uint8)
    cv2.fillPoly(oval, [np.round(normalised_to_pixels(landmarks[list(rg.FACE_OVAL)], work)).astype(np.int32)], 1)
    brightness = float(source_f[oval > 0].mean()) if oval.any() else 0.5
    out_matrix = np.asarray(work_crop.matrix, np.float64) / config.supersample
    return PreparedPortrait(
        identity=name, size=config.size, supersample=config.supersample,
        layers=np.dstack([source_f, mask]).astype(np.float32),
        background=background.astype(np.float32) / 255.0,
        landmarks=landmarks, mesh=mesh, local=local, rotation=rotation, scale=scale,
        translation=translation, basis=expression_basis(local),
        crop=CropTransform(out_matrix, config.size), brightness=brightness,
    )


def render_frames(prepared: PreparedPortrait, trajectory: Trajectory) -> tuple[np.ndarray, np.ndarray]:
    """(T×S×S×3 float32 frames in [0, 1], T×468×3 float32 crop-normalised landmarks)."""
    work, size = prepared.work_size, prepared.size
    mesh = prepared.mesh
    source_xy = normalised_to_pixels(mesh.points, work)
    loop, upper, lower = list(rg.inner_mouth_loop()), list(rg.LIPS_UPPER_INNER), list(rg.LIPS_LOWER_INNER)
    mouth_column = trajectory.expression_names.index("mouth_open")
    basis_gap = float(np.linalg.norm(prepared.basis[mouth_column, rg.LOWER_LIP_CENTRE]
                                     - prepared.basis[mouth_column, rg.UPPER_LIP_CENTRE]))
    frames = np.empty((trajectory.num_frames, size, size, 3), np.float32)
    landmarks = np.empty((trajectory.num_frames, 468, 3), np.float32)
    for t in range(trajectory.num_frames):
        local = apply_expression(prepared.local, prepared.basis, trajectory.expression[t])
        expressed = prepared.scale * local @ prepared.rotation.T + prepared.translation
        rotation = rotation_from_euler(*trajectory.pose[t].tolist())
        target = pose_mesh(mesh, expressed, rotation, float(trajectory.zoom[t]), trajectory.shift[t])
        target_xy = normalised_to_pixels(target, work)
        warped, ids = warp_mesh(prepared.layers, source_xy, target_xy, target[:, 2], mesh.triangles)
        head = np.ascontiguousarray(warped[..., :3])
        alpha = (warped[..., 3] * (ids >= 0))[..., None]
        opening = trajectory.expression[t, mouth_column] * basis_gap
        opacity = float(np.clip(opening / MOUTH_OPENING_FOR_FULL_CAVITY, 0.0, 1.0))
        paint_mouth_interior(head, target_xy[loop], target_xy[upper], target_xy[lower], opacity,
                             prepared.brightness)
        frame = head * alpha + prepared.background * (1.0 - alpha)
        if prepared.supersample > 1:
            frame = cv2.resize(frame, (size, size), interpolation=cv2.INTER_AREA)
        frames[t] = frame
        landmarks[t] = target[:468]
    return np.clip(frames, 0.0, 1.0), landmarks


def flip_clip(frames: np.ndarray, landmarks: np.ndarray, expression: np.ndarray,
              names: tuple[str, ...], target_pose: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Mirror a clip left-right: frames, landmarks (indices swapped by symmetry, x → −x),
    right/left expression columns swapped, yaw and roll negated."""
    frames = np.ascontiguousarray(frames[:, :, ::-1])
    landmarks = landmarks[:, MIRROR] * np.array([-1.0, 1.0, 1.0], np.float32)
    swap = [names.index(n.replace("_right", "_left")) if n.endswith("_right")
            else names.index(n.replace("_left", "_right")) if n.endswith("_left") else i
            for i, n in enumerate(names)]
    return frames, landmarks, expression[:, swap], target_pose * np.array([1.0, -1.0, -1.0], np.float32)


def render_clip(portrait: np.ndarray | str | Path | PreparedPortrait, config: SynthConfig | None = None,
                seed: int = 0, *, trajectory: Trajectory | None = None, identity: str | None = None
                ) -> SynthClip:
    """Render one clip of ``config.frames`` frames (or ``trajectory``'s) from a portrait."""
    config = config or SynthConfig()
    prepared = portrait if isinstance(portrait, PreparedPortrait) else prepare_portrait(
        portrait, config, identity=identity)
    if (prepared.size, prepared.supersample) != (config.size, config.supersample):
        raise ConfigError(f"portrait was prepared for size {prepared.size}×{prepared.supersample}, "
                          f"config asks for {config.size}×{config.supersample}")
    traj_rng, photo_rng, flip_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3))
    if trajectory is None:
        trajectory = random_trajectory(traj_rng, config.frames, config.fps, config.pose, config.expression)
    frames, landmarks = render_frames(prepared, trajectory)
    frames = apply_photometric(frames, PhotometricParams.draw(photo_rng, config.photometric))
    expression, target_pose = trajectory.expression.copy(), trajectory.pose.copy()
    flipped = bool(flip_rng.uniform() < config.flip_prob)
    if flipped:
        frames, landmarks, expression, target_pose = flip_clip(
            frames, landmarks, expression, trajectory.expression_names, target_pose)
    fits = fit_head_poses(landmarks)
    return SynthClip(
        frames=np.round(frames * 255.0).astype(np.uint8),
        landmarks=landmarks.astype(np.float32),
        valid=np.ones(len(frames), bool),
        rotation=fits["rotation"], pose=fits["pose"], scale=fits["scale"],
        translation=fits["translation"],
        expression=expression.astype(np.float32),
        expression_names=tuple(trajectory.expression_names),
        target_pose=target_pose.astype(np.float32),
        fps=float(config.fps), identity=identity or prepared.identity, flipped=flipped, seed=int(seed),
    )


__all__ = [
    "EXPRESSION_NAMES", "ExpressionStrengths", "PhotometricRanges", "PoseRanges", "PreparedPortrait",
    "SynthClip", "SynthConfig", "Trajectory", "flip_clip", "load_portrait", "prepare_portrait",
    "render_clip", "render_frames",
]

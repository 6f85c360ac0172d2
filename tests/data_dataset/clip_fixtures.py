"""Builders of a tiny clip dataset in the layout of docs/CONTRACTS.md#dataset-layout, written with prepare.py's helpers.

Each frame: dark background, a coloured disk moving across, a red strip at the top whose level
encodes the frame index (20·t + 10), and a 4×4 white marker drawn at landmark 33 (tracked
keypoint 6). Landmarks are CANONICAL_FACE rotated by the frame's (pitch, yaw, roll) and shifted.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from synergywarp.data.prepare import ClipRecord, save_clip_arrays, update_manifest
from synergywarp.face.pose import CANONICAL_FACE, rotation_from_euler
from synergywarp.io import VideoWriter

SIZE = 64
STRIP_ROWS = 8
MARKER_LANDMARK = 33


def frame_level(index: int) -> int:
    """Red level of the top strip of frame ``index``."""
    return 20 * index + 10


def clip_pose(num_frames: int, yaw_span: float = 30.0) -> np.ndarray:
    """T×3 (pitch, yaw, roll) degrees: yaw sweeps ±yaw_span, small pitch and roll."""
    t = np.linspace(0.0, 1.0, num_frames)
    return np.stack([8.0 * np.sin(3 * t), yaw_span * (2 * t - 1), 5.0 * np.cos(2 * t)], -1).astype(np.float32)


def clip_landmarks(pose: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Landmarks T×468×3, rotations T×3×3, translations T×3 for the poses."""
    scale = 0.9
    rotations = np.stack([rotation_from_euler(*angles) for angles in pose]).astype(np.float32)
    translations = np.stack([[0.03 * np.sin(i), 0.02 * np.cos(i), 0.0] for i in range(len(pose))]).astype(np.float32)
    landmarks = scale * np.einsum("tij,nj->tni", rotations, CANONICAL_FACE) + translations[:, None, :]
    return landmarks.astype(np.float32), rotations, translations


def render_frame(index: int, landmarks: np.ndarray, colour: tuple[int, int, int]) -> np.ndarray:
    frame = np.full((SIZE, SIZE, 3), 30, np.uint8)
    yy, xx = np.mgrid[:SIZE, :SIZE]
    cx, cy = 12 + 3 * index, 40 + (index % 3)
    frame[(xx - cx) ** 2 + (yy - cy) ** 2 < 36] = colour
    frame[:STRIP_ROWS] = (frame_level(index), 0, 0)
    px = np.rint((landmarks[MARKER_LANDMARK, :2] + 1.0) * SIZE / 2.0).astype(int)
    frame[px[1] - 2: px[1] + 2, px[0] - 2: px[0] + 2] = 255
    return frame


def write_clip(root: Path, name: str, split: str = "train", num_frames: int = 12,
               valid: np.ndarray | None = None, pose: np.ndarray | None = None,
               colour: tuple[int, int, int] = (0, 160, 255)) -> ClipRecord:
    """Write ``root/split/name.{mp4,npz}`` and add it to the manifest."""
    pose = clip_pose(num_frames) if pose is None else pose.astype(np.float32)
    landmarks, rotations, translations = clip_landmarks(pose)
    valid = np.ones(num_frames, bool) if valid is None else valid
    folder = root / split
    folder.mkdir(parents=True, exist_ok=True)
    with VideoWriter(folder / f"{name}.mp4", 25.0, crf=12) as writer:
        for index in range(num_frames):
            writer.write(render_frame(index, landmarks[index], colour))
    save_clip_arrays(folder / f"{name}.npz", {
        "landmarks": landmarks, "valid": valid, "rotation": rotations, "pose": pose,
        "scale": np.full(num_frames, 0.9, np.float32), "translation": translations,
        "fps": np.float64(25.0), "identity": np.str_(name),
    })
    record = ClipRecord(name, split, name, num_frames, 25.0, SIZE, "test")
    update_manifest(root, [record])
    return record

def strip_level(image: torch.Tensor) -> float:
    """Mean red level (0–255) inside the top strip of a 3×S×S image."""
    rows = image.shape[-2] * STRIP_ROWS // 64
    return float(image[0, 1: rows - 2, 4:-4].mean()) * 255.0


def marker_position(image: torch.Tensor) -> np.ndarray:
    """Normalised (x, y) of the white marker's centroid in a 3×S×S image (pixel centres at i + 0.5)."""
    whiteness = image.min(dim=0).values.numpy()
    weights = np.clip(whiteness - 0.6, 0.0, None)
    assert weights.sum() > 0, "no marker found"
    yy, xx = np.mgrid[: image.shape[-2], : image.shape[-1]]
    size = image.shape[-1]
    x = (weights * (xx + 0.5)).sum() / weights.sum()
    y = (weights * (yy + 0.5)).sum() / weights.sum()
    return np.array([2 * x / size - 1, 2 * y / size - 1])

"""Synthetic clips for the trainer tests, a textured face-like blob translating and scaling smoothly,
with 32 tracked keypoints moving with it (in the crop cube). A module rather than conftest.py, so that
spawned DDP workers can import it. Everything is generated here."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from synergywarp.train.config import config_from_dict

SIZE = 64
NUM_KP = 32


def _canonical_texture(seed: int) -> torch.Tensor:
    """3×128×128 texture over canonical coordinates [-2, 2]²: a face-like blob (ellipse, eyes, mouth)."""
    g = torch.Generator().manual_seed(seed)
    n = 128
    axis = torch.linspace(-2, 2, n)
    y, x = torch.meshgrid(axis, axis, indexing="ij")
    noise = F.interpolate(torch.rand(1, 3, 16, 16, generator=g), size=(n, n), mode="bicubic", align_corners=False)[0]
    skin = torch.tensor([0.85, 0.6, 0.45]).view(3, 1, 1) + 0.25 * (noise - 0.5)
    background = torch.tensor([0.2, 0.35, 0.6]).view(3, 1, 1) + 0.1 * y.unsqueeze(0)
    face = ((x / 0.75) ** 2 + (y / 0.95) ** 2 < 1).float()
    eyes = (((x - 0.3) ** 2 + (y + 0.25) ** 2) < 0.012).float() + (((x + 0.3) ** 2 + (y + 0.25) ** 2) < 0.012).float()
    mouth = ((x / 0.3) ** 2 + ((y - 0.45) / 0.08) ** 2 < 1).float()
    image = face * skin + (1 - face) * background
    image = image * (1 - 0.8 * eyes) * (1 - 0.6 * mouth)
    return image.clamp(0, 1)


def _canonical_keypoints() -> torch.Tensor:
    """32×3 keypoints on the blob (a ring, the eyes, the mouth)."""
    angles = torch.arange(16) * (2 * math.pi / 16)
    ring = torch.stack([0.7 * angles.cos(), 0.9 * angles.sin(), 0.1 * angles.cos()], -1)
    inner = torch.tensor([[0.3, -0.25, 0], [-0.3, -0.25, 0], [0, 0.45, 0], [0.25, 0.45, 0], [-0.25, 0.45, 0],
                          [0, 0, -0.2], [0, 0.2, -0.1], [0.15, -0.5, 0.05], [-0.15, -0.5, 0.05],
                          [0.5, 0.1, 0.05], [-0.5, 0.1, 0.05], [0.4, -0.6, 0.1], [-0.4, -0.6, 0.1],
                          [0.0, -0.7, 0.1], [0.2, 0.7, 0.05], [-0.2, 0.7, 0.05]])
    return torch.cat([ring, inner])


class BlobClips(torch.utils.data.Dataset):
    """``clips`` clips of ``frames`` frames; item dict as ClipDataset's (tracked keypoints, R references).

    Training items use the even frames; ``heldout_pairs`` gives (source even frame, driving odd frame).
    Randomness depends only on (seed, epoch, index).
    """

    def __init__(self, clips: int = 4, frames: int = 24, references: int = 2, items_per_clip: int = 8, seed: int = 0):
        self.clips, self.frames, self.references, self.seed = clips, frames, references, seed
        self.items_per_clip = items_per_clip
        self.epoch = 0
        self.keypoints_canonical = _canonical_keypoints()
        self.images = torch.zeros(clips, frames, 3, SIZE, SIZE)
        self.keypoints = torch.zeros(clips, frames, NUM_KP, 3)
        pixel = (torch.arange(SIZE, dtype=torch.float32) * 2 + 1) / SIZE - 1
        gy, gx = torch.meshgrid(pixel, pixel, indexing="ij")
        for c in range(clips):
            texture = _canonical_texture(seed * 100 + c)
            phase = 2 * math.pi * c / clips
            for t in range(frames):
                a = 2 * math.pi * t / frames + phase
                cx, cy, s = 0.25 * math.sin(a), 0.2 * math.sin(2 * a + 1), 0.45 + 0.1 * math.cos(a)
                u, v = (gx - cx) / s, (gy - cy) / s  # canonical coordinates of each pixel
                grid = torch.stack([u / 2, v / 2], -1)[None]
                self.images[c, t] = F.grid_sample(texture[None], grid, mode="bilinear", padding_mode="border",
                                                  align_corners=False)[0]
                kp = self.keypoints_canonical * s
                kp[:, 0] += cx
                kp[:, 1] += cy
                self.keypoints[c, t] = kp

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.clips * self.items_per_clip

    def item(self, clip: int, source: int, driving: int, refs: list[int], mask: list[bool]) -> dict:
        return {
            "source": self.images[clip, source], "driving": self.images[clip, driving],
            "references": self.images[clip, refs], "reference_mask": torch.tensor(mask),
            "source_keypoints": self.keypoints[clip, source], "driving_keypoints": self.keypoints[clip, driving],
            "reference_keypoints": self.keypoints[clip, refs],
        }

    def __getitem__(self, index: int) -> dict:
        rng = np.random.default_rng([self.seed, self.epoch, index])
        clip = index % self.clips
        chosen = rng.choice(np.arange(0, self.frames, 2), size=2 + self.references, replace=False)
        count = int(rng.integers(0, self.references + 1))
        mask = [r < count for r in range(self.references)]
        return self.item(clip, int(chosen[0]), int(chosen[1]), [int(f) for f in chosen[2:]], mask)

    def heldout_pairs(self) -> list[dict]:
        items = []
        for clip in range(self.clips):
            for driving in range(1, self.frames, 4):
                source = (driving + self.frames // 2) % self.frames // 2 * 2
                items.append(self.item(clip, source, driving, [(driving + 5) % self.frames // 2 * 2] * self.references,
                                       [True] * self.references))
        return items


def tiny_config(model: str = "tiny_tracked", **train) -> ExperimentConfig:  # noqa: F821
    """tiny_tracked (or ``model``), fast settings: no perceptual loss, checkpoints every 2 steps, no progress bar."""
    options = dict(seed=0, batch_size=4, max_steps=4, log_every=1, checkpoint_every=2, keep_last=2,
                   sample_every=0, progress=False, loss_weights={"perceptual": 0.0})
    options.update(train)
    return config_from_dict({"model": model, "dataset": {"num_references": 2}, "train": options})


def write_blob_dataset(root, clips: int = 2, frames: int = 12) -> None:
    """Write BlobClips as ``root/{train,test}/<clip>.mp4`` + npz (docs/CONTRACTS.md#dataset-layout); the 468 landmarks
    are zero except the 32 tracked ones, which carry the blob's keypoints."""
    from synergywarp.io import VideoWriter
    from synergywarp.tracked_keypoints import TRACKED_KEYPOINT_INDICES

    data = BlobClips(clips=clips * 2, frames=frames, references=2)
    for c in range(clips * 2):
        split = "train" if c < clips else "test"
        folder = root / split
        folder.mkdir(parents=True, exist_ok=True)
        with VideoWriter(folder / f"blob{c}.mp4", 25.0, crf=12) as writer:
            for t in range(frames):
                writer.write((data.images[c, t].permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8))
        landmarks = np.zeros((frames, 468, 3), np.float32)
        landmarks[:, list(TRACKED_KEYPOINT_INDICES)] = data.keypoints[c].numpy()
        pose = np.stack([np.zeros(frames), np.linspace(-20, 20, frames), np.zeros(frames)], -1).astype(np.float32)
        np.savez(folder / f"blob{c}.npz", landmarks=landmarks, valid=np.ones(frames, bool),
                 rotation=np.tile(np.eye(3, dtype=np.float32), (frames, 1, 1)), pose=pose,
                 scale=np.ones(frames, np.float32), translation=np.zeros((frames, 3), np.float32),
                 fps=np.float64(25.0), identity=np.str_(f"blob{c}"))

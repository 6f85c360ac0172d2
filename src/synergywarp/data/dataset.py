"""The training dataset (docs/DESIGN.md#training): one clip per item, distinct source / driving / reference frames.

Item ``i`` uses clip ``i mod n`` (n clips, ``len = n · repeats``). Its random draws come from a
numpy Generator seeded with ``(seed, epoch, i)`` (no global RNG), so an item is the same in every
DataLoader worker and on every run, and ``set_epoch`` reshuffles frames and augmentation.
Call ``set_epoch`` before the epoch's iterator is created: DataLoader workers copy the dataset when
they start, so with ``persistent_workers=True`` they keep the epoch they started with.

Frames used by an item have landmarks (``valid`` True) when keypoints are returned. The number of
references R is fixed or drawn per item from an inclusive range; references are padded to the
range's maximum with zeros and ``reference_mask`` marks the real ones, so items always collate.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from synergywarp.data.augment import AugmentConfig, augment_images, augment_landmarks, augment_pose, sample_augment
from synergywarp.data.clips import ClipEntry, FrameCache, decode_frames, list_clips, load_clip_arrays
from synergywarp.data.sampling import REFERENCE_CHOICES, ReferenceChoice, parse_num_references, select_frames
from synergywarp.errors import ConfigError, InputError
from synergywarp.face.keypoints import tracked_keypoints
from synergywarp.face.prior import PriorWarp
from synergywarp.io.tensors import images_to_tensor

_ARRAY_CACHE_CLIPS = 256


class ClipDataset(Dataset):
    """Training items from ``root/split`` of the clip layout (docs/CONTRACTS.md#dataset-layout).

    Each item is a dict (S = ``image_size``, R = the maximum number of references, K = 32):
    ``source``, ``driving`` 3×S×S float in [0, 1]; ``references`` R×3×S×S (zeros where padded);
    ``reference_mask`` R bool; with ``keypoints`` (default): ``source_keypoints``,
    ``driving_keypoints`` K×3, ``reference_keypoints`` R×K×3 (crop cube, tracked subset of the npz
    landmarks), ``source_pose``, ``driving_pose`` 3 and ``reference_pose`` R×3 (pitch, yaw, roll
    degrees); ``clip`` (name), ``source_index``, ``driving_index`` (int64) and
    ``reference_indices`` R int64 (−1 where padded).

    With ``prior_grid`` also ``prior_grid`` S×S×2: the geometric prior warp (``prior_kind``, see
    :mod:`synergywarp.face.prior`) source → driving as a backward grid, from the augmented landmarks.
    ``keypoints=False`` reads no npz (pose-diverse choice then falls back to random) and returns
    images and indices only. ``cache_frames`` keeps up to ``cache_clips`` decoded clips in memory
    (per worker). InputError/ConfigError with one line on bad folders, files or settings.
    """

    def __init__(self, root: str | Path, split: str = "train", image_size: int = 128,
                 num_references: int | tuple[int, int] = 2, reference_choice: ReferenceChoice = "pose_diverse",
                 repeats: int = 1, augment: AugmentConfig | None = None, seed: int = 0,
                 cache_frames: bool = False, *, keypoints: bool = True, cache_clips: int = 64,
                 prior_grid: bool = False, prior_kind: str = "mesh") -> None:
        if not isinstance(image_size, int) or image_size < 8:
            raise ConfigError(f"dataset image_size must be an integer >= 8, got {image_size!r}")
        if reference_choice not in REFERENCE_CHOICES:
            raise ConfigError(f"dataset reference_choice must be one of {', '.join(REFERENCE_CHOICES)}, "
                              f"got {reference_choice!r}")
        if not isinstance(repeats, int) or repeats < 1:
            raise ConfigError(f"dataset repeats must be an integer >= 1, got {repeats!r}")
        if augment is not None:
            augment.validate()
        self.root = Path(root)
        self.split = split
        self.image_size = image_size
        self.min_references, self.max_references = parse_num_references(num_references)
        self.reference_choice = reference_choice
        self.repeats = repeats
        self.augment = augment
        self.seed = int(seed)
        self.epoch = 0
        self.keypoints = keypoints
        if prior_grid and not keypoints:
            raise ConfigError("dataset prior_grid needs keypoints=True (the mesh warp is built from landmarks)")
        self.prior_grid = prior_grid
        self.prior_kind = prior_kind
        self.clips: list[ClipEntry] = list_clips(self.root, split)
        self._check_clips()
        self._frame_cache = FrameCache(cache_clips) if cache_frames else None
        self._array_cache: OrderedDict[Path, dict[str, np.ndarray]] = OrderedDict()

    @property
    def frames_needed(self) -> int:
        """Frames (with landmarks, when keypoints are used) a clip needs: 2 + the maximum R."""
        return 2 + self.max_references

    def _check_clips(self) -> None:
        needed = self.frames_needed
        for entry in self.clips:
            if self.keypoints and not entry.arrays.is_file():
                raise InputError(f"missing landmarks file {entry.arrays} for clip {entry.name}; rerun "
                                 "`synergywarp prepare`/`synth` (or use the dataset with keypoints=False)")
            if entry.num_frames is not None and entry.num_frames < needed:
                raise InputError(self._short_message(entry, entry.num_frames, "frames"))

    def _short_message(self, entry: ClipEntry, count: int, what: str) -> str:
        return (f"clip {entry.name} ({entry.video}) has {count} {what}; it needs at least {self.frames_needed} "
                f"(source, driving and {self.max_references} references)")

    def validate(self) -> None:
        """Read every clip's npz (and frame count): InputError now rather than in a worker later."""
        for entry in self.clips:
            if self.keypoints:
                self._eligible(entry, self._arrays(entry))

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose draws ``__getitem__`` makes (see the module docstring)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.clips) * self.repeats

    def rng(self, index: int) -> tuple[np.random.Generator, np.random.Generator]:
        """Independent (frame choice, augmentation) generators of item ``index`` at this epoch."""
        sequence = np.random.SeedSequence([self.seed, self.epoch, int(index)])
        frames_seed, augment_seed = sequence.spawn(2)
        return np.random.default_rng(frames_seed), np.random.default_rng(augment_seed)

    def _arrays(self, entry: ClipEntry) -> dict[str, np.ndarray]:
        arrays = self._array_cache.get(entry.arrays)
        if arrays is None:
            arrays = load_clip_arrays(entry, ("landmarks", "valid", "pose"))
            self._array_cache[entry.arrays] = arrays
            while len(self._array_cache) > _ARRAY_CACHE_CLIPS:
                self._array_cache.popitem(last=False)
        return arrays

    def _eligible(self, entry: ClipEntry, arrays: dict[str, np.ndarray] | None) -> np.ndarray:
        if arrays is None:
            count = entry.num_frames
            if count is None:
                from synergywarp.io import probe_video

                count = probe_video(entry.video).num_frames
                if count is None:
                    count = len(decode_frames(entry))
            if count < self.frames_needed:
                raise InputError(self._short_message(entry, count, "frames"))
            return np.arange(count, dtype=np.int64)
        valid = np.asarray(arrays["valid"], dtype=bool)
        if len(valid) < self.frames_needed:
            raise InputError(self._short_message(entry, len(valid), "frames"))
        eligible = np.flatnonzero(valid)
        if len(eligible) < self.frames_needed:
            raise InputError(self._short_message(entry, len(eligible), "frames with landmarks"))
        return eligible

    def __getitem__(self, index: int) -> dict[str, object]:
        if not 0 <= index < len(self):
            raise IndexError(f"item {index} out of range for a dataset of {len(self)}")
        entry = self.clips[index % len(self.clips)]
        frame_rng, augment_rng = self.rng(index)
        arrays = self._arrays(entry) if self.keypoints else None
        eligible = self._eligible(entry, arrays)
        count = int(frame_rng.integers(self.min_references, self.max_references + 1))
        pose = arrays["pose"] if arrays is not None else None
        selection = select_frames(frame_rng, eligible, count, self.reference_choice, pose)
        params = sample_augment(self.augment, augment_rng)

        indices = [selection.source, selection.driving, *selection.references.tolist()]
        if self._frame_cache is not None:
            decoded = self._frame_cache.frames(entry, indices)
        else:
            decoded = decode_frames(entry, indices)
        images = self._to_tensor(np.stack([decoded[i] for i in indices]))
        images = augment_images(images, params)

        padding = self.max_references - count
        item: dict[str, object] = {
            "source": images[0],
            "driving": images[1],
            "references": _pad(images[2:], padding),
            "reference_mask": torch.arange(self.max_references) < count,
            "clip": entry.name,
            "source_index": torch.tensor(selection.source, dtype=torch.int64),
            "driving_index": torch.tensor(selection.driving, dtype=torch.int64),
            "reference_indices": torch.from_numpy(np.concatenate(
                [selection.references, np.full(padding, -1, dtype=np.int64)])),
        }
        if arrays is not None:
            landmarks = augment_landmarks(arrays["landmarks"][indices], params)
            keypoints = torch.from_numpy(tracked_keypoints(landmarks))  # (2+R)×K×3
            poses = torch.from_numpy(augment_pose(arrays["pose"][indices], params))  # (2+R)×3
            item.update({
                "source_keypoints": keypoints[0],
                "driving_keypoints": keypoints[1],
                "reference_keypoints": _pad(keypoints[2:], padding),
                "source_pose": poses[0],
                "driving_pose": poses[1],
                "reference_pose": _pad(poses[2:], padding),
            })
            if self.prior_grid:
                source_image = None
                if self.prior_kind == "head":  # the person mask of the (augmented) source image
                    source_image = (images[0].permute(1, 2, 0).numpy() * 255.0).round().astype(np.uint8)
                prior = PriorWarp(self.prior_kind, landmarks[0], source_image)  # type: ignore[arg-type]
                item["prior_grid"] = torch.from_numpy(prior.grid(landmarks[1], self.image_size))
        return item

    def _to_tensor(self, frames: np.ndarray) -> torch.Tensor:
        """N×H×W×3 uint8 → N×3×S×S float in [0, 1], resized with antialiasing when H or W ≠ S."""
        images = images_to_tensor(frames)
        if images.shape[-2:] != (self.image_size, self.image_size):
            images = F.interpolate(images, size=(self.image_size, self.image_size), mode="bilinear",
                                   align_corners=False, antialias=True).clamp(0.0, 1.0)
        return images.contiguous()


def _pad(values: torch.Tensor, padding: int) -> torch.Tensor:
    """Append ``padding`` zero entries along the first axis."""
    if padding == 0:
        return values
    return torch.cat([values, values.new_zeros((padding, *values.shape[1:]))], dim=0)

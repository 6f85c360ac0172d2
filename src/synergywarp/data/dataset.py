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
from synergywarp.data.clips import (
    ClipEntry,
    FrameCache,
    ReferencePhoto,
    decode_frames,
    list_clips,
    list_reference_photos,
    load_clip_arrays,
)
from synergywarp.data.sampling import REFERENCE_CHOICES, ReferenceChoice, parse_num_references, select_frames
from synergywarp.errors import ConfigError, InputError
from synergywarp.face.keypoints import tracked_keypoints
from synergywarp.face.prior import PRIOR_KINDS, PriorKind, PriorWarp, prior_grid_size
from synergywarp.face.regions import SHOWS_MORE, closedness, eye_openness, mouth_openness, openness_gain
from synergywarp.face.segment import SEGMENT_SIZE
from synergywarp.io.tensors import images_to_tensor

_ARRAY_CACHE_CLIPS = 256
HIDDEN_REFERENCE_GAP = 25  # frames between a same-clip reference and the driving frame (hidden-content items)


class ClipDataset(Dataset):
    """Training items from ``root/split`` of the clip layout (docs/CONTRACTS.md#dataset-layout).

    Each item is a dict (S = ``image_size``, R = the maximum number of references, K = 32):
    ``source``, ``driving`` 3×S×S float in [0, 1]; ``references`` R×3×S×S (zeros where padded);
    ``reference_mask`` R bool; with ``keypoints`` (default): ``source_keypoints``,
    ``driving_keypoints`` K×3, ``reference_keypoints`` R×K×3 (crop cube, tracked subset of the npz
    landmarks), ``source_pose``, ``driving_pose`` 3 and ``reference_pose`` R×3 (pitch, yaw, roll
    degrees); ``clip`` (name), ``source_index``, ``driving_index`` (int64) and
    ``reference_indices`` R int64 (−1 where padded).

    With ``reference_grids`` also ``reference_grids`` R×S×S×2: each reference warped to the driving
    landmarks by ``reference_warp`` (zeros where padded). With ``prior_grid`` also ``prior_grid``
    S×S×2: the geometric prior warp (``prior_kind``, see
    :mod:`synergywarp.face.prior`) source → driving as a backward grid, from the augmented landmarks.
    ``keypoints=False`` reads no npz (pose-diverse choice then falls back to random) and returns
    images and indices only. ``cache_frames`` keeps up to ``cache_clips`` decoded clips in memory
    (per worker). InputError/ConfigError with one line on bad folders, files or settings.
    """

    def __init__(self, root: str | Path, split: str = "train", image_size: int = 128,
                 num_references: int | tuple[int, int] = 2, reference_choice: ReferenceChoice = "pose_diverse",
                 repeats: int = 1, augment: AugmentConfig | None = None, seed: int = 0,
                 cache_frames: bool = False, *, keypoints: bool = True, cache_clips: int = 64,
                 prior_grid: bool = False, prior_kind: str = "mesh", output_size: int | None = None,
                 reference_grids: bool = False, reference_warp: PriorKind = "mesh",
                 hidden_fraction: float = 0.0) -> None:
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
        if output_size is not None and (not isinstance(output_size, int) or output_size < 8):
            raise ConfigError(f"dataset output_size must be an integer >= 8, got {output_size!r}")
        if (reference_grids or hidden_fraction > 0) and not keypoints:
            raise ConfigError("dataset reference_grids and hidden_fraction need keypoints=True (landmarks)")
        if not 0.0 <= hidden_fraction <= 1.0:
            raise ConfigError(f"dataset hidden_fraction must be in [0, 1], got {hidden_fraction!r}")
        self.output_size = output_size
        self.reference_grids = reference_grids
        if reference_warp not in PRIOR_KINDS:
            raise ConfigError(f"dataset reference_warp must be one of {', '.join(PRIOR_KINDS)}, got {reference_warp!r}")
        self.reference_warp = reference_warp
        self.hidden_fraction = float(hidden_fraction)
        self._identities: dict[str, str] | None = None
        self._photos: list = []
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
        hidden = self.hidden_fraction > 0 and arrays is not None and frame_rng.random() < self.hidden_fraction
        picks = self._hidden_frames(frame_rng, entry, eligible, count) if hidden else None
        hidden = picks is not None
        if picks is None:
            selection = select_frames(frame_rng, eligible, count, self.reference_choice, pose)
            picks = [(entry, selection.source), (entry, selection.driving),
                     *((entry, int(f)) for f in selection.references)]
        params = sample_augment(self.augment, augment_rng)
        frames = self._decode(picks)
        images = augment_images(self._to_tensor(frames), params)

        padding = self.max_references - count
        item: dict[str, object] = {
            "source": images[0],
            "driving": images[1],
            "references": _pad(images[2:], padding),
            "reference_mask": torch.arange(self.max_references) < count,
            "clip": entry.name,
            "source_index": torch.tensor(picks[0][1], dtype=torch.int64),
            "driving_index": torch.tensor(picks[1][1], dtype=torch.int64),
            "reference_indices": torch.tensor([f for _, f in picks[2:]] + [-1] * padding, dtype=torch.int64),
            "hidden": torch.tensor(hidden),  # a hidden-content item (see hidden_fraction)
        }
        if self.output_size is not None:
            large = augment_images(self._to_tensor(frames, self.output_size), params)
            item.update({"source_hr": large[0], "driving_hr": large[1], "references_hr": _pad(large[2:], padding)})
        if arrays is not None:
            raw = np.stack([self._arrays(e)["landmarks"][f] for e, f in picks])
            landmarks = augment_landmarks(raw, params)
            keypoints = torch.from_numpy(tracked_keypoints(landmarks))  # (2+R)×K×3
            raw_pose = np.stack([self._arrays(e)["pose"][f] for e, f in picks])
            poses = torch.from_numpy(augment_pose(raw_pose, params))  # (2+R)×3
            item.update({
                "source_keypoints": keypoints[0],
                "driving_keypoints": keypoints[1],
                "reference_keypoints": _pad(keypoints[2:], padding),
                "source_pose": poses[0],
                "driving_pose": poses[1],
                "reference_pose": _pad(poses[2:], padding),
            })
            # person masks are segmented from (augmented) crops of at least face.segment.SEGMENT_SIZE, as the
            # Animator and the evaluation do: the high-resolution ones when they are that large, else the
            # segmented frames (the source and/or the references) resized to it
            segment_side = max(SEGMENT_SIZE, self.output_size or 0)
            segmented = ([0] if self.prior_grid and self.prior_kind == "head" else []) + (
                list(range(2, 2 + count)) if self.reference_grids and self.reference_warp == "head" else [])
            segmentable: dict[int, np.ndarray] = {}
            if segmented:
                crops = large[segmented] if self.output_size == segment_side else augment_images(
                    self._to_tensor(frames[segmented], segment_side), params)
                segmentable = {index: _to_uint8(crop) for index, crop in zip(segmented, crops)}
            if self.prior_grid:
                source_image = segmentable.get(0)
                prior = PriorWarp(self.prior_kind, landmarks[0], source_image)  # type: ignore[arg-type]
                item["prior_grid"] = torch.from_numpy(prior.grid(landmarks[1], prior_grid_size(self.image_size)))
            if self.reference_grids:
                side = prior_grid_size(self.image_size)
                ref_images: list[np.ndarray | None] = [None] * count
                if self.reference_warp == "head":
                    ref_images = [segmentable[index] for index in range(2, 2 + count)]
                warps = PriorWarp.for_references(self.reference_warp, list(landmarks[2:2 + count]), ref_images)
                grids = [warp.grid(landmarks[1], side) for warp in warps]
                stacked = torch.from_numpy(np.stack(grids)) if grids else torch.zeros(0, side, side, 2)
                item["reference_grids"] = _pad(stacked, padding)
        return item

    def _decode(self, picks: list[tuple[ClipEntry, int]]) -> np.ndarray:
        """N×H×W×3 uint8 frames of (clip, frame) picks (clips decoded once each; photos read)."""
        by_entry: dict[Path, list[int]] = {}
        entries: dict[Path, ClipEntry] = {}
        for e, f in picks:
            by_entry.setdefault(e.video, []).append(f)
            entries[e.video] = e
        decoded: dict[Path, dict[int, np.ndarray]] = {}
        for video, wanted in by_entry.items():
            e = entries[video]
            if isinstance(e, ReferencePhoto):
                from synergywarp.io import read_image

                decoded[video] = {0: read_image(e.video)}
            elif self._frame_cache is not None:
                decoded[video] = self._frame_cache.frames(e, wanted)
            else:
                decoded[video] = decode_frames(e, wanted)
        frames = [decoded[e.video][f] for e, f in picks]
        size = frames[0].shape[:2]
        return np.stack([f if f.shape[:2] == size else _resize_uint8(f, size) for f in frames])

    # ---------------------------------------------------------------- hidden-content items
    def _identity_pool(self, entry: ClipEntry) -> list[ClipEntry]:
        """Other clips of ``entry``'s identity in this split, and its reference photos."""
        if self._identities is None:
            self._identities = {}
            for clip in self.clips:
                arrays = load_clip_arrays(clip, ("identity",)) if self.keypoints else {}
                self._identities[clip.name] = str(arrays.get("identity", clip.name))
            self._photos = [p for p in list_reference_photos(self.root) if p.split == self.split]
        identity = self._identities[entry.name]
        pool: list[ClipEntry] = [c for c in self.clips if c.name != entry.name and self._identities[c.name] == identity]
        return pool + [p for p in self._photos if p.identity == identity]

    def _openness(self, entry: ClipEntry) -> tuple[np.ndarray, np.ndarray]:
        arrays = self._arrays(entry)
        landmarks = np.asarray(arrays["landmarks"], np.float64)
        return mouth_openness(landmarks), eye_openness(landmarks)

    def _hidden_frames(self, rng: np.random.Generator, entry: ClipEntry, eligible: np.ndarray,
                       count: int) -> list[tuple[ClipEntry, int]] | None:
        """(clip, frame) for source, driving and ``count`` references where the source hides what the
        driving and the references show (mouth or eyes more open; see
        :func:`synergywarp.face.regions.openness_gain`); None when the clip has no such frames."""
        mouth, eyes = self._openness(entry)
        order = eligible[np.argsort(closedness(mouth, eyes)[eligible], kind="stable")]
        source = int(rng.choice(order[:max(1, len(order) // 4)]))
        gain = openness_gain(mouth, eyes, mouth[source], eyes[source])
        showing = eligible[(gain[eligible] >= SHOWS_MORE) & (np.abs(eligible - source) > 2)]
        if len(showing) == 0:
            return None
        driving = int(rng.choice(showing))
        candidates: list[tuple[ClipEntry, int]] = [(entry, int(f)) for f in showing
                                                   if abs(int(f) - driving) >= HIDDEN_REFERENCE_GAP]
        for other in self._identity_pool(entry):
            other_arrays = self._arrays(other)
            m, e = self._openness(other)
            other_gain = openness_gain(m, e, mouth[source], eyes[source])
            ok = np.flatnonzero(np.asarray(other_arrays["valid"], bool) & (other_gain >= SHOWS_MORE))
            candidates += [(other, int(f)) for f in ok]
        if len(candidates) < count:
            return None
        chosen = rng.choice(len(candidates), size=count, replace=False) if count else np.zeros(0, np.int64)
        return [(entry, source), (entry, driving), *(candidates[int(k)] for k in chosen)]

    def _to_tensor(self, frames: np.ndarray, size: int | None = None) -> torch.Tensor:
        """N×H×W×3 uint8 → N×3×S×S float in [0, 1] (S = ``size`` or ``image_size``), resized with
        antialiasing when H or W ≠ S."""
        size = size or self.image_size
        images = images_to_tensor(frames)
        if images.shape[-2:] != (size, size):
            images = F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False,
                                   antialias=True).clamp(0.0, 1.0)
        return images.contiguous()


def _resize_uint8(image: np.ndarray, size: tuple[int, ...]) -> np.ndarray:
    import cv2

    return cv2.resize(image, (size[1], size[0]), interpolation=cv2.INTER_AREA)


def _to_uint8(image: torch.Tensor) -> np.ndarray:
    """3×H×W float in [0, 1] → H×W×3 uint8 (for the person segmenter)."""
    return (image.permute(1, 2, 0).numpy() * 255.0).round().astype(np.uint8)


def _pad(values: torch.Tensor, padding: int) -> torch.Tensor:
    """Append ``padding`` zero entries along the first axis."""
    if padding == 0:
        return values
    return torch.cat([values, values.new_zeros((padding, *values.shape[1:]))], dim=0)

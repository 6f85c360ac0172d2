"""Per-frame extraction, cached on disk, separate from scoring.

For every (method, task, frame) the extractor stores what scoring needs: the per-frame image
metrics against the ground-truth frame (L1, PSNR, SSIM, LPIPS; nan without ground truth), the FID
feature vector, dlib's 68 landmarks and 128-D identity descriptor (face metrics on), and for
cross-reenactment the head pose / expression of the FaceMesh landmarks re-detected on the output.
Outputs are quantised to uint8 before anything is measured (as a saved video would be).

Cache layout: ``CACHE/<method>-<hash>/<task key>.npz``; the hash covers the method's cache group
(e.g. the checkpoint's sha256) and the extraction settings (feature networks, evaluation size,
device); each file records the task's fingerprint (reference frames, motion mode, sizes and times of
the clip files) and is only reused when it matches. A file holds the frames computed so far, so a
later run with more frames computes only the missing ones. Real frames are cached as method ``real``.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from synergywarp.face.regions import region_boxes
from synergywarp.io.tensors import images_to_tensor
from synergywarp.metrics import FaceAnalyzer, l1, lpips_distance, lpips_network_name, psnr, ssim
from synergywarp.metrics.fid import FIDFeatures
from synergywarp.metrics.image import region_metrics
from synergywarp.metrics.preprocess import EVAL_SIZE, image_to_eval_uint8

if TYPE_CHECKING:
    from synergywarp.face.landmarks import LandmarkDetector

#: PSNR of images whose every value differs by one 8-bit level; identical uint8 frames (the source
#: frame driving itself) would otherwise score +inf and make means infinite.
PSNR_CAP_DB = 20.0 * math.log10(255.0)
REGION_SCALARS = ("L1-mouth", "LPIPS-mouth", "L1-eyes", "LPIPS-eyes")
SCALARS = ("L1", "PSNR", "SSIM", "LPIPS", *REGION_SCALARS)
EXTRACTION_VERSION = "extract-v2"


@dataclass
class FrameFeatures:
    """Per-frame extraction of one (method, task) over N frames (nan where absent).

    frames N int64; scalars: L1/PSNR/SSIM/LPIPS and the mouth/eye-box L1/LPIPS N float64; fid N×D float32;
    landmarks N×68×2 and descriptors N×128 float64 (dlib, px at 256²); pose N×3 (pitch, yaw, roll deg) and expression
    N×468×3 float32 (FaceMesh on the output); has_face / has_pose: whether those were extracted.
    """

    frames: np.ndarray
    scalars: dict[str, np.ndarray]
    fid: np.ndarray
    landmarks: np.ndarray
    descriptors: np.ndarray
    pose: np.ndarray
    expression: np.ndarray
    has_face: bool = False
    has_pose: bool = False

    def select(self, frames: tuple[int, ...]) -> FrameFeatures:
        """The rows of ``frames`` in that order (all must be present)."""
        position = {int(f): i for i, f in enumerate(self.frames)}
        rows = np.array([position[int(f)] for f in frames], dtype=np.int64)
        return FrameFeatures(self.frames[rows], {k: v[rows] for k, v in self.scalars.items()}, self.fid[rows],
                             self.landmarks[rows], self.descriptors[rows], self.pose[rows],
                             self.expression[rows], self.has_face, self.has_pose)

    def merged(self, other: FrameFeatures) -> FrameFeatures:
        """Rows of both (``other`` wins on duplicates), sorted by frame."""
        keep = ~np.isin(self.frames, other.frames)
        frames = np.concatenate([self.frames[keep], other.frames])
        order = np.argsort(frames, kind="stable")

        def join(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            return np.concatenate([a[keep], b])[order]

        return FrameFeatures(frames[order], {k: join(self.scalars[k], other.scalars[k]) for k in SCALARS},
                             join(self.fid, other.fid), join(self.landmarks, other.landmarks),
                             join(self.descriptors, other.descriptors), join(self.pose, other.pose),
                             join(self.expression, other.expression),
                             self.has_face and other.has_face, self.has_pose and other.has_pose)

    def to_arrays(self) -> dict[str, np.ndarray]:
        arrays = {f.name: np.asarray(getattr(self, f.name)) for f in fields(self) if f.name != "scalars"}
        arrays.update({f"scalar_{k}": v for k, v in self.scalars.items()})
        return arrays

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> FrameFeatures:
        scalars = {k: arrays[f"scalar_{k}"] if f"scalar_{k}" in arrays else np.full(len(arrays["frames"]), np.nan)
                   for k in SCALARS}
        return cls(arrays["frames"], scalars, arrays["fid"],
                   arrays["landmarks"], arrays["descriptors"], arrays["pose"], arrays["expression"],
                   bool(arrays["has_face"]), bool(arrays["has_pose"]))


class FeatureExtractor:
    """Computes :class:`FrameFeatures` for output frames (and their ground truth, when there is one)."""

    def __init__(self, fid_space: FIDFeatures, face_metrics: bool = True, pose_metrics: bool = False,
                 device: str | torch.device = "cpu", lpips_net: str = "alex", batch_size: int = 8) -> None:
        self.fid_space = fid_space
        self.face_metrics = face_metrics
        self.pose_metrics = pose_metrics and face_metrics
        self.device = torch.device(device)
        self.lpips_net = lpips_net
        self.batch_size = batch_size
        self.face_analyzer = FaceAnalyzer() if face_metrics else None
        self._landmark_detector: LandmarkDetector | None = None

    @property
    def settings(self) -> str:
        """The extraction settings that cached values depend on."""
        return (f"{EXTRACTION_VERSION} device={self.device.type} size={EVAL_SIZE} psnr_cap={PSNR_CAP_DB:.4f} "
                f"lpips={lpips_network_name(self.lpips_net)} fid={self.fid_space.name}:{self.fid_space.network}")

    def extract(self, frames: tuple[int, ...], images: np.ndarray, targets: np.ndarray | None,
                target_landmarks: np.ndarray | None = None) -> FrameFeatures:
        """Features of N output ``images`` (N×H×W×3 uint8) against ``targets`` (same N, or None); with
        the targets' crop-normalised ``target_landmarks`` (N×468×3) also the mouth/eye-box metrics."""
        count = len(frames)
        scalars = {k: np.full(count, np.nan) for k in SCALARS}
        fid_chunks = []
        for start in range(0, count, self.batch_size):
            stop = min(start + self.batch_size, count)
            output = images_to_tensor(images[start:stop]).to(self.device)
            fid_chunks.append(np.asarray(self.fid_space(output), np.float32))
            if targets is not None:
                target = images_to_tensor(targets[start:stop]).to(self.device)
                scalars["L1"][start:stop] = l1(output, target).double().cpu().numpy()
                scalars["PSNR"][start:stop] = psnr(output, target).clamp(max=PSNR_CAP_DB).cpu().numpy()
                scalars["SSIM"][start:stop] = ssim(output, target).cpu().numpy()
                scalars["LPIPS"][start:stop] = lpips_distance(output, target, self.lpips_net).double().cpu().numpy()
                if target_landmarks is not None:
                    boxes = region_boxes(np.asarray(target_landmarks[start:stop], np.float64))
                    regions = region_metrics(output, target, {k: torch.from_numpy(v) for k, v in boxes.items()},
                                             self.lpips_net)
                    for label, values in regions.items():
                        scalars[label][start:stop] = values.cpu().numpy()
        landmarks = np.full((count, 68, 2), np.nan)
        descriptors = np.full((count, 128), np.nan)
        if self.face_analyzer is not None:
            for index, image in enumerate(images):
                observation = self.face_analyzer.analyze(image)
                if observation.found:
                    landmarks[index] = observation.landmarks
                    descriptors[index] = observation.descriptor
            self.face_analyzer.clear_cache()  # repeats within one call were served; the disk cache keeps the rest
        pose = np.full((count, 3), np.nan)
        expression = np.full((count, 468, 3), np.nan, dtype=np.float32)
        if self.pose_metrics:
            for index, image in enumerate(images):
                fit = self._head_pose(image)
                if fit is not None:
                    pose[index] = (fit.pitch, fit.yaw, fit.roll)
                    expression[index] = fit.expression
        fid = np.concatenate(fid_chunks) if fid_chunks else np.zeros((0, self.fid_space.dim), np.float32)
        return FrameFeatures(np.asarray(frames, np.int64), scalars, fid, landmarks, descriptors, pose, expression,
                             self.face_metrics, self.pose_metrics)

    def _head_pose(self, image: np.ndarray):
        """FaceMesh on the 256² image → :class:`HeadPose` of its crop-normalised landmarks (None: no face)."""
        from synergywarp.face import fit_head_pose
        from synergywarp.face.landmarks import LandmarkDetector

        if self._landmark_detector is None:
            self._landmark_detector = LandmarkDetector(static_image=True)
        pixels = image_to_eval_uint8(image)
        found = self._landmark_detector(pixels)
        if found is None:
            return None
        normalised = np.asarray(found.points, np.float64) * (2.0 / EVAL_SIZE)
        normalised[:, :2] -= 1.0
        return fit_head_pose(normalised)

    def close(self) -> None:
        if self._landmark_detector is not None:
            self._landmark_detector.close()
            self._landmark_detector = None


@dataclass
class ExtractionStats:
    """Frames extracted now vs served from the cache in one run."""

    computed: int = 0
    cached: int = 0
    by_method: dict[str, list[int]] = field(default_factory=dict)  # name → [computed, cached]

    def add(self, method: str, computed: int, cached: int) -> None:
        self.computed += computed
        self.cached += cached
        entry = self.by_method.setdefault(method, [0, 0])
        entry[0] += computed
        entry[1] += cached


#: frames → (outputs N×H×W×3, ground truth or None, ground-truth landmarks N×468×3 or None)
ImageSource = Callable[[tuple[int, ...]], tuple[np.ndarray, np.ndarray | None, np.ndarray | None]]


class Extraction:
    """Extraction through the on-disk cache (``cache_dir`` None: no cache)."""

    def __init__(self, extractor: FeatureExtractor, cache_dir: str | Path | None) -> None:
        self.extractor = extractor
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.stats = ExtractionStats()

    def cache_path(self, method: str, group: str, key: str) -> Path | None:
        if self.cache_dir is None:
            return None
        digest = hashlib.sha1(f"{group}\n{self.extractor.settings}".encode()).hexdigest()[:12]
        return self.cache_dir / f"{method.replace('@', '_R')}-{digest}" / f"{key}.npz"

    def features(self, method: str, group: str, fingerprint: str, key: str, frames: tuple[int, ...],
                 make_images: ImageSource) -> FrameFeatures:
        """Features of ``frames``, computing (via ``make_images(missing) -> (outputs, targets)``) only
        the frames the cache lacks, and saving the union back (with ``fingerprint``)."""
        path = self.cache_path(method, group, key)
        cached = _load(path, fingerprint) if path is not None else None
        extractor = self.extractor
        if cached is not None and ((extractor.face_metrics and not cached.has_face)
                                   or (extractor.pose_metrics and not cached.has_pose)):
            cached = None  # extracted without the face analysis now asked for: redo
        have = set(cached.frames.tolist()) if cached is not None else set()
        missing = tuple(f for f in frames if f not in have)
        if missing:
            images, targets, landmarks = make_images(missing)
            fresh = extractor.extract(missing, images, targets, landmarks)
            cached = fresh if cached is None else cached.merged(fresh)
            if path is not None:
                _save(path, cached, fingerprint)
        self.stats.add(method, len(missing), len(frames) - len(missing))
        assert cached is not None  # loaded or computed: a task scores at least one frame
        return cached.select(frames)


def _load(path: Path, fingerprint: str) -> FrameFeatures | None:
    """The cached features at ``path`` when they were made with ``fingerprint`` (else None)."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            if str(data["fingerprint"]) != fingerprint:
                return None
            return FrameFeatures.from_arrays({k: data[k] for k in data.files})
    except Exception:  # noqa: BLE001 - a damaged or foreign cache entry is recomputed
        return None


def _save(path: Path, features: FrameFeatures, fingerprint: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.stem}.tmp.npz")
    np.savez(temporary, allow_pickle=False, fingerprint=np.asarray(fingerprint), **features.to_arrays())
    temporary.replace(path)

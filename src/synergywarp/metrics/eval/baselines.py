"""Every evaluated method behind one small adapter, so all see identical crops and frames.

A :class:`Method` turns a task's inputs (:class:`TaskInputs`: the source and driving clips at their
crop size S) into output frames ``N×H×W×3 uint8`` for the requested driving frames:

- ``static``: the source frame copied (no motion at all);
- ``geometric``: no learning — the whole-head warp of the source to the target landmarks (source →
  driving, absolute or relatively transferred; :mod:`synergywarp.face.head_warp`): the face by its
  z-ordered mesh, hair/ears/neck rigid with the head, the background still;
- ``geometric-mesh`` (on request): the earlier ring-mesh warp — three support rings around the face
  silhouette carry 60/30/10 % of the nearest silhouette point's motion, the outer ring (and so the
  background and much of the hair) held still;
- ``explicit``: the network with ``fusion_mode="explicit"`` (RAC off, C ≡ 1);
- ``full@R``: the network with its own fusion and R reference frames.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Protocol as TypingProtocol

import numpy as np
import torch
import torch.nn.functional as F

from synergywarp.data import EvalClip
from synergywarp.face.head_warp import WARP_VERSION
from synergywarp.face.mesh_warp import RING_MOTION_SHARE
from synergywarp.face.prior import PriorWarp, prior_and_reference_grids, prior_grid_size
from synergywarp.io.files import file_sha256
from synergywarp.io.tensors import images_to_tensor, tensor_to_images
from synergywarp.metrics.eval.protocol import EvalTask


@dataclass
class TaskInputs:
    """The clips of one task; frames S×S×3 uint8, landmarks 468×3 crop-normalised."""

    task: EvalTask
    source_clip: EvalClip
    driving_clip: EvalClip
    clip: Callable[[str], EvalClip] | None = None  # any clip or reference photo of the dataset, by name
    _transferred: dict[int, np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def source(self) -> np.ndarray:
        return self.source_clip.frames[self.task.source_frame]

    @property
    def source_landmarks(self) -> np.ndarray:
        return np.asarray(self.source_clip.arrays["landmarks"][self.task.source_frame], np.float32)

    def driving(self, frames: tuple[int, ...]) -> np.ndarray:
        """N×S×S×3 uint8 driving frames."""
        return self.driving_clip.frames[list(frames)]

    def driving_landmarks(self, frames: tuple[int, ...]) -> np.ndarray:
        """N×468×3 landmarks of the driving frames as tracked (the ground truth's)."""
        return np.asarray(self.driving_clip.arrays["landmarks"], np.float32)[list(frames)]

    def references(self, num_references: int) -> tuple[np.ndarray, np.ndarray]:
        """The task's R references: (R×S×S×3 uint8 images, R×468×3 landmarks), from the source clip,
        the identity's other clips or its reference photos."""
        images, landmarks = [], []
        for name, frame in self.task.references_for(num_references):
            if name == self.task.source_clip:
                clip = self.source_clip
            elif self.clip is None:
                raise ValueError(f"task {self.task.key} references clip {name}: TaskInputs needs a clip loader")
            else:
                clip = self.clip(name)
            images.append(clip.frames[frame])
            landmarks.append(np.asarray(clip.arrays["landmarks"][frame], np.float32))
        size = self.source.shape[:2]
        images = [im if im.shape[:2] == size else _resize_uint8(im, size) for im in images]
        return np.stack(images), np.stack(landmarks)

    def target_landmarks(self, frames: tuple[int, ...]) -> np.ndarray:
        """N×468×3 landmarks the output should show: the driving's own (absolute) or the source's
        moved by the driving's change since its frame 0 (relative, tracked-motion transfer)."""
        landmarks = np.asarray(self.driving_clip.arrays["landmarks"], np.float32)
        if self.task.motion_mode == "absolute":
            return landmarks[list(frames)]
        from synergywarp.inference.motion import transfer_tracked_motion

        missing = [f for f in frames if f not in self._transferred]
        if missing:
            moved = transfer_tracked_motion(self.source_landmarks, landmarks[missing], landmarks[0], "relative")
            self._transferred.update(zip(missing, moved))
        return np.stack([self._transferred[f] for f in frames])


class Method(TypingProtocol):
    """An evaluated method: ``name`` (table row), ``network`` (what produced it, one line)."""

    name: str
    network: str

    @property
    def cache_group(self) -> str:
        """What all its outputs depend on (checkpoint, version): the cache folder."""
        ...

    def fingerprint(self, task: EvalTask) -> str:
        """Everything besides the frame that its outputs for ``task`` depend on (checked on reuse)."""
        ...

    def generate(self, inputs: TaskInputs, frames: tuple[int, ...]) -> np.ndarray:
        """N×H×W×3 uint8 outputs for the driving ``frames``."""
        ...

    def output_size(self, clip_size: int) -> int:
        """Side of the crops it produces for clips of side ``clip_size``."""
        ...


class StaticMethod:
    """The source frame copied for every driving frame."""

    name = "static"
    network = "none (the source frame copied)"
    cache_group = "static-v1"

    def fingerprint(self, task: EvalTask) -> str:
        return f"{self.cache_group} source={task.source_frame}"

    def generate(self, inputs: TaskInputs, frames: tuple[int, ...]) -> np.ndarray:
        return np.repeat(inputs.source[None], len(frames), axis=0)

    def output_size(self, clip_size: int) -> int:
        return clip_size


class GeometricMethod:
    """No learning: the whole-head warp (``head``, :mod:`synergywarp.face.head_warp`) or the ring mesh
    warp (``mesh``, :mod:`synergywarp.face.mesh_warp`) of the source to the target landmarks."""

    def __init__(self, kind: str = "head") -> None:
        self.kind = kind
        self.name = "geometric" if kind == "head" else "geometric-mesh"
        if kind == "head":
            self.network = ("none (whole-head warp: piecewise-affine face mesh of the 468 FaceMesh landmarks, "
                            "hair/ears/neck rigid with the head by mediapipe selfie segmentation, background "
                            "still, revealed background filled from beside the head)")
            self.cache_group = f"geometric-{WARP_VERSION}"
        else:
            self.network = ("none (piecewise-affine warp along the 468 FaceMesh landmarks of source → driving, "
                            "z-ordered, three support rings, background held still)")
            self.cache_group = f"geometric-v1 rings={RING_MOTION_SHARE}"

    def fingerprint(self, task: EvalTask) -> str:
        return f"{self.cache_group} motion={task.motion_mode} source={task.source_frame}"

    def generate(self, inputs: TaskInputs, frames: tuple[int, ...]) -> np.ndarray:
        prior = PriorWarp(self.kind, inputs.source_landmarks, inputs.source)  # type: ignore[arg-type]
        return np.stack([prior.warp_image(inputs.source, t) for t in inputs.target_landmarks(frames)])

    def output_size(self, clip_size: int) -> int:
        return clip_size


def _resize_uint8(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """H×W×3 uint8 → size×3 uint8 (area when shrinking, bilinear when enlarging)."""
    import cv2

    shrink = size[0] < image.shape[0]
    return cv2.resize(image, (size[1], size[0]), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


class LoadedModel:
    """A checkpoint loaded once and shared by the ``explicit`` and ``full@R`` methods."""

    def __init__(self, path: str | Path, device: str | torch.device = "cpu", batch_size: int = 8) -> None:
        from synergywarp.models import SynergyWarpNet

        self.path = Path(path)
        self.device = torch.device(device)
        self.model = SynergyWarpNet.from_pretrained(self.path, map_location="cpu").to(self.device).eval()
        self.batch_size = batch_size

    @cached_property
    def sha256(self) -> str:
        return file_sha256(self.path)

    @property
    def config(self):
        return self.model.config

    def describe(self, fusion: str) -> str:
        cfg = self.config
        return (f"SynergyWarpNet {cfg.name} ({cfg.motion} motion, {cfg.image_size}²→{cfg.output_size}², "
                f"fusion {fusion}) from {self.path.name} (sha256 {self.sha256[:12]})")

    def to_input(self, images: np.ndarray) -> torch.Tensor:
        """N×H×W×3 uint8 → N×3×S×S float in [0, 1] at the model's input size (antialiased bilinear)."""
        tensor = images_to_tensor(images)
        size = self.config.image_size
        if tensor.shape[-1] != size or tensor.shape[-2] != size:
            tensor = F.interpolate(tensor, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        return tensor.to(self.device)


def _keypoints(landmarks: np.ndarray, device: torch.device) -> torch.Tensor:
    from synergywarp.face.keypoints import tracked_keypoints

    keypoints = tracked_keypoints(np.asarray(landmarks, np.float32))
    return torch.from_numpy(np.ascontiguousarray(keypoints)).float().to(device)


class ModelMethod:
    """The network: ``explicit`` (fusion_mode explicit, no references), ``full@R``, or ``rac@R`` (an
    ablation of a model with per-pixel reference fusion: the references reach RAC and CGF in feature
    space only, not the pixels)."""

    def __init__(self, loaded: LoadedModel, num_references: int | None, pixel_references: bool = True) -> None:
        self.loaded = loaded
        self.num_references = num_references
        self.pixel_references = pixel_references
        self.fusion_mode = "explicit" if num_references is None else None
        kind = "full" if pixel_references else "rac"
        self.name = "explicit" if num_references is None else f"{kind}@{num_references}"
        fusion = "explicit (RAC off, C ≡ 1)" if num_references is None else loaded.config.cgf.mode
        if num_references is not None and not pixel_references:
            fusion += ", references not fused per pixel"
        self.network = loaded.describe(fusion)
        stages = loaded.model.trained_stages
        if num_references is not None and stages is not None and "rac" not in stages:
            warnings.warn(f"{self.name}: the checkpoint's RAC stage was never trained (trained_stages: "
                          f"{', '.join(stages)}); its numbers describe an untrained RAC", stacklevel=2)

    @property
    def cache_group(self) -> str:
        dense = self.loaded.config.warp.dense_motion
        prior = ""
        if dense.prior_candidate:  # the model's input includes the prior warp: a new warp is a new output
            prior = f" prior={WARP_VERSION}" if dense.prior_kind == "head" else f" prior=rings-{RING_MOTION_SHARE}"
        size = self.loaded.config.image_size
        if (dense.prior_candidate or self.loaded.model.pixel_fusion is not None) and prior_grid_size(size) != size:
            prior += f" grids={prior_grid_size(size)}"  # grids finer than the network (before: at its size)
        fuses_references = self.num_references and self.pixel_references and self.loaded.model.pixel_fusion
        if fuses_references and self.loaded.config.cgf.reference_warp == "head":
            prior += f" references={WARP_VERSION}"  # references moved by the whole-head warp
        return f"model-v1 {self.name} sha256={self.loaded.sha256}{prior}"

    def output_size(self, clip_size: int) -> int:
        return clip_size if self.loaded.config.decoder.image_skip else self.loaded.config.output_size

    def fingerprint(self, task: EvalTask) -> str:
        refs = "" if self.num_references is None else f" refs={task.references_for(self.num_references)}"
        return f"{self.cache_group} motion={task.motion_mode} source={task.source_frame}{refs}"

    @torch.no_grad()
    def generate(self, inputs: TaskInputs, frames: tuple[int, ...]) -> np.ndarray:
        loaded, model = self.loaded, self.loaded.model
        landmarks = model.motion_source.uses_landmarks  # else the motion encoder reads the images
        device = loaded.device
        clip_size = inputs.source.shape[0]
        output_size = clip_size if loaded.config.decoder.image_skip else None  # render at the clip's size
        source_hr = images_to_tensor(inputs.source[None]).to(device) if output_size else None
        state = model.encode_source(loaded.to_input(inputs.source[None]),
                                    _keypoints(inputs.source_landmarks[None], device) if landmarks else None,
                                    image_hr=source_hr)
        tokens = reference_images = None
        reference_warps: list[PriorWarp] = []
        if self.num_references:
            ref_images, ref_landmarks = inputs.references(self.num_references)
            images = loaded.to_input(ref_images)[None]
            ref_kp = _keypoints(ref_landmarks, device)[None] if landmarks else None
            tokens = model.encode_references(state, images, ref_kp)
            if model.pixel_fusion is not None and self.pixel_references:
                reference_images = images_to_tensor(ref_images)[None].to(device)
                reference_warps = PriorWarp.for_references(loaded.config.cgf.reference_warp, list(ref_landmarks),
                                                           list(ref_images))
        first_motion = None
        if not landmarks and inputs.task.motion_mode == "relative":
            first_motion = model.learned_motion().image_motion(loaded.to_input(inputs.driving_clip.frames[:1]))
        dense = loaded.config.warp.dense_motion
        prior_warp = PriorWarp(dense.prior_kind, inputs.source_landmarks, inputs.source) if dense.prior_candidate \
            else None
        grid_size = prior_grid_size(loaded.config.image_size)
        outputs = []
        for start in range(0, len(frames), loaded.batch_size):
            chunk = frames[start:start + loaded.batch_size]
            prior = reference_grids = None
            if landmarks:
                targets = inputs.target_landmarks(chunk)
                driving_kp = _keypoints(targets, device)
                priors, references = prior_and_reference_grids(prior_warp, reference_warps or None, targets,
                                                               grid_size)
                prior = torch.from_numpy(priors).to(device) if priors is not None else None
                reference_grids = torch.from_numpy(references).to(device) if references is not None else None
            else:
                learned = model.learned_motion()
                motion = learned.image_motion(loaded.to_input(inputs.driving(chunk)))
                driving_kp = learned.transferred(state, motion, first_motion, inputs.task.motion_mode)
            image = model.animate(state, driving_kp, tokens, fusion_mode=self.fusion_mode, prior_grid=prior,
                                  output_size=output_size, reference_images=reference_images,
                                  reference_grids=reference_grids).image
            outputs.append(tensor_to_images(image))
        return np.concatenate(outputs)


def build_methods(loaded: LoadedModel | None, refs: tuple[int, ...],
                  names: tuple[str, ...] = ("static", "geometric", "explicit", "full")) -> list[Method]:
    """The methods of one run in table order: static, geometric, explicit, full@R for each R."""
    methods: list[Method] = []
    if "static" in names:
        methods.append(StaticMethod())
    if "geometric-mesh" in names:
        methods.append(GeometricMethod("mesh"))
    if "geometric" in names:
        methods.append(GeometricMethod("head"))
    if loaded is not None and "explicit" in names:
        methods.append(ModelMethod(loaded, None))
    if loaded is not None and "rac" in names and loaded.model.pixel_fusion is not None:
        methods.extend(ModelMethod(loaded, count, pixel_references=False) for count in refs if count > 0)
    if loaded is not None and "full" in names:
        methods.extend(ModelMethod(loaded, count) for count in refs)
    return methods

"""Where keypoints come from (``config.motion``): one strategy per kind owns how the keypoints of the
source, the references and the driving frames are obtained, so the network, the Animator, the trainer and
the evaluation ask it instead of branching on the kind.

- ``tracked`` (:class:`TrackedKeypoints`): the caller gives every keypoint set (``…×32×3``, from the
  FaceMesh landmarks it searched; :func:`synergywarp.face.tracked_keypoints`); the driving motion is
  transferred on those landmarks before the network sees it.
- ``learned`` (:class:`LearnedMotion`): the motion encoder M predicts each image's canonical keypoints,
  pose and expression; the source's keypoints are its canonical ones under its own motion, a
  reference's or a driving frame's are the source's canonical keypoints under that image's motion
  (absolute) or under the driving's change since its first frame (relative, LivePortrait's transfer).

The network builds the motion encoder only for kinds with :attr:`MotionSource.has_encoder`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar, Literal

import torch
from einops import rearrange

from synergywarp.models.config import ModelConfig, MotionKind
from synergywarp.models.keypoints import keypoints_from_motion, relative_keypoints
from synergywarp.models.motion import MotionEncoder, MotionParams

MotionTransfer = Literal["relative", "absolute"]


@dataclass
class SourceKeypoints:
    """The source's keypoints x_s ``B×K×3``; with learned motion also its canonical keypoints x_c,s
    ``B×K×3`` and its :class:`MotionParams`."""

    keypoints: torch.Tensor
    canonical: torch.Tensor | None = None
    motion: MotionParams | None = None

    def learned_motion(self) -> tuple[torch.Tensor, MotionParams]:
        """(canonical keypoints x_c,s ``B×K×3``, the source's motion) of a ``motion: learned`` source."""
        if self.canonical is None or self.motion is None:
            raise ValueError("this source was encoded with tracked keypoints; it has no learned motion")
        return self.canonical, self.motion


class MotionSource(ABC):
    """How one ``config.motion`` kind obtains keypoints (see the module's docstring)."""

    kind: ClassVar[MotionKind]
    #: keypoints are made by the caller from FaceMesh landmarks, which it must search in the source, the
    #: references and the driving frames (and give to every call); else the model predicts them from images
    uses_landmarks: ClassVar[bool]
    #: the network has a motion encoder (trainable, freezable; its priors and equivariance losses apply)
    has_encoder: ClassVar[bool]

    @classmethod
    @abstractmethod
    def build(cls, encoder: MotionEncoder | None) -> MotionSource:
        """The strategy for a network whose motion encoder is ``encoder`` (None without one)."""

    @abstractmethod
    def source(self, image: torch.Tensor, keypoints: torch.Tensor | None) -> SourceKeypoints:
        """The source's keypoints from its image ``B×3×S×S`` or the given ``B×K×3``."""

    @abstractmethod
    def references(self, source: SourceKeypoints, images: torch.Tensor,
                   keypoints: torch.Tensor | None) -> torch.Tensor:
        """Keypoints ``B×R×K×3`` of references ``B×R×3×S×S`` (the given ones when not None)."""

    @abstractmethod
    def driving(self, source: SourceKeypoints, images: torch.Tensor,
                keypoints: torch.Tensor | None) -> tuple[torch.Tensor, MotionParams | None]:
        """(driving keypoints ``N×K×3``, the driving's predicted motion or None) for driving images
        ``N×3×S×S`` (absolute transfer; the given keypoints when not None)."""


class TrackedKeypoints(MotionSource):
    """``motion: tracked``: every keypoint set is given by the caller."""

    kind = "tracked"
    uses_landmarks = True
    has_encoder = False

    @classmethod
    def build(cls, encoder: MotionEncoder | None) -> TrackedKeypoints:
        return cls()

    def source(self, image: torch.Tensor, keypoints: torch.Tensor | None) -> SourceKeypoints:
        return SourceKeypoints(_given(keypoints, "source keypoints (B×K×3)"))

    def references(self, source: SourceKeypoints, images: torch.Tensor,
                   keypoints: torch.Tensor | None) -> torch.Tensor:
        return _given(keypoints, "reference keypoints (B×R×K×3)")

    def driving(self, source: SourceKeypoints, images: torch.Tensor,
                keypoints: torch.Tensor | None) -> tuple[torch.Tensor, MotionParams | None]:
        return _given(keypoints, "driving keypoints (B×K×3)"), None


class LearnedMotion(MotionSource):
    """``motion: learned``: keypoints from the motion encoder ``encoder``."""

    kind = "learned"
    uses_landmarks = False
    has_encoder = True

    def __init__(self, encoder: MotionEncoder):
        self.encoder = encoder

    @classmethod
    def build(cls, encoder: MotionEncoder | None) -> LearnedMotion:
        if encoder is None:
            raise ValueError("motion: learned needs the network's motion encoder")
        return cls(encoder)

    def image_motion(self, images: torch.Tensor) -> MotionParams:
        """M(images) for images ``N×3×S×S``."""
        return self.encoder(images)

    def source(self, image: torch.Tensor, keypoints: torch.Tensor | None = None) -> SourceKeypoints:
        """The image's canonical keypoints under its own motion (``keypoints`` are not used)."""
        motion = self.encoder(image)
        return SourceKeypoints(keypoints_from_motion(motion.kp, motion), canonical=motion.kp, motion=motion)

    def references(self, source: SourceKeypoints, images: torch.Tensor,
                   keypoints: torch.Tensor | None = None) -> torch.Tensor:
        if keypoints is not None:
            return keypoints
        r = images.shape[1]
        motion = self.encoder(rearrange(images, "b r c h w -> (b r) c h w"))
        canonical = source.learned_motion()[0].repeat_interleave(r, dim=0)
        return rearrange(keypoints_from_motion(canonical, motion), "(b r) k t -> b r k t", r=r)

    def driving(self, source: SourceKeypoints, images: torch.Tensor,
                keypoints: torch.Tensor | None = None) -> tuple[torch.Tensor, MotionParams | None]:
        if keypoints is not None:
            return keypoints, None
        motion = self.encoder(images)
        return self.transferred(source, motion), motion

    def transferred(self, source: SourceKeypoints, motion: MotionParams, first: MotionParams | None = None,
                    transfer: MotionTransfer = "absolute") -> torch.Tensor:
        """Driving keypoints ``N×K×3`` for a driving ``motion``: the source's canonical keypoints under it
        (``absolute``) or the driving's change since ``first`` (its reference frame's motion, batch 1)
        applied to the source (``relative``; the reference frame gives back the source's keypoints)."""
        canonical, source_motion = source.learned_motion()
        if transfer == "absolute":
            return keypoints_from_motion(canonical, motion)
        if first is None:
            raise ValueError("relative motion needs the driving reference frame's motion")
        return relative_keypoints(canonical, source_motion, motion, first)


def motion_source_type(config: ModelConfig) -> type[MotionSource]:
    """The strategy class of ``config.motion`` (its class attributes answer questions about a config)."""
    return _KINDS[config.motion]


def motion_source(config: ModelConfig, encoder: MotionEncoder | None) -> MotionSource:
    """The strategy of ``config.motion``; ``encoder``: the network's motion encoder (None without one)."""
    return motion_source_type(config).build(encoder)


def _given(keypoints: torch.Tensor | None, what: str) -> torch.Tensor:
    if keypoints is None:
        raise ValueError(f"motion: tracked needs {what}")
    return keypoints


_KINDS: dict[str, type[MotionSource]] = {"tracked": TrackedKeypoints, "learned": LearnedMotion}

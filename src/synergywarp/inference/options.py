"""User options of the animation pipeline (architecture hyper-parameters live in the model config)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from synergywarp.errors import ConfigError
from synergywarp.face.crop import DEFAULT_SCALE, DEFAULT_VY

#: Default cap on the written video's longest side (crop mode with paste-back): the source photo is
#: scaled down to it, so a phone's 48 MP picture gives a video every player decodes (1920² is H.264
#: level 5.0; 4K and larger frames need level 6+, which most hardware decoders lack). 0 keeps the full size.
DEFAULT_MAX_OUTPUT_SIZE = 1920
MAX_CROP_VY = 0.5  # a larger vertical shift moves the face out of its own crop

MotionMode = Literal["relative", "absolute"]
MIN_OUTPUT_SIZE, MAX_OUTPUT_SIZE = 64, 2048
SHARP_OUTPUT_SIZE = 512  # default output side of models that warp the source at any size (decoder.image_skip)
DrivingCropMode = Literal["fixed", "smooth"]


@dataclass
class AnimateOptions:
    """How to animate one source with one driving video (see ``synergywarp animate --help``)."""

    motion: MotionMode = "relative"  # relative: driving changes since its first frame applied to the source
    crop: bool = True  # False: inputs are face crops already, only resized to the model resolution
    paste_back: bool = True  # paste the animated crop into the full source frame (crop mode only)
    smooth: float = 0.5  # One-Euro smoothing strength of the driving keypoints; 0 = off
    batch: int = 8  # driving frames per network call
    driving_crop: DrivingCropMode = "fixed"  # one crop for the whole clip, or a smoothed per-frame track
    crop_scale: float = DEFAULT_SCALE  # crop side / landmark box side
    crop_vy: float = DEFAULT_VY  # vertical crop offset (fraction of the side; negative = up)
    feather: float = 0.08  # paste-back blend ramp, fraction of the crop side
    check_identity: bool = True  # warn when a reference looks like another person (dlib distance)
    fusion_mode: Literal["confidence", "add", "explicit"] | None = None  # None: the checkpoint's own
    fps: float = 25.0  # frame rate assumed for driving frames given as arrays (files carry their own)
    output_size: int | None = None  # side of the animated crop; None: 512 for image-skip models, else the model's
    max_output_size: int = DEFAULT_MAX_OUTPUT_SIZE  # longest side of the pasted-back frame (px); 0: full size

    def validate(self) -> AnimateOptions:
        """Raise :class:`ConfigError` naming the first bad field."""
        if self.motion not in ("relative", "absolute"):
            raise ConfigError(f"motion must be 'relative' or 'absolute', got {self.motion!r}")
        if self.driving_crop not in ("fixed", "smooth"):
            raise ConfigError(f"driving_crop must be 'fixed' or 'smooth', got {self.driving_crop!r}")
        if not (math.isfinite(self.smooth) and self.smooth >= 0):
            raise ConfigError(f"smooth must be a finite number ≥ 0, got {self.smooth}")
        if int(self.batch) != self.batch or self.batch < 1:
            raise ConfigError(f"batch must be a positive integer, got {self.batch}")
        if not (math.isfinite(self.crop_scale) and self.crop_scale > 0):
            raise ConfigError(f"crop_scale must be a finite number > 0, got {self.crop_scale}")
        if not abs(self.crop_vy) <= MAX_CROP_VY:
            raise ConfigError(f"crop_vy must be within ±{MAX_CROP_VY} (a fraction of the crop side), "
                              f"got {self.crop_vy}")
        if int(self.max_output_size) != self.max_output_size or not (self.max_output_size == 0
                                                                   or self.max_output_size >= 16):
            raise ConfigError("max_output_size (--max-output-size) must be 0 (keep the source's size) or at least "
                              f"16 px, got {self.max_output_size}")
        if not 0 <= self.feather <= 0.5:
            raise ConfigError(f"feather must be in [0, 0.5], got {self.feather}")
        if self.fusion_mode not in (None, "confidence", "add", "explicit"):
            raise ConfigError(f"fusion_mode must be confidence, add or explicit, got {self.fusion_mode!r}")
        if not (math.isfinite(self.fps) and self.fps > 0):
            raise ConfigError(f"fps must be a finite number > 0, got {self.fps}")
        if self.output_size is not None and (int(self.output_size) != self.output_size
                                             or not MIN_OUTPUT_SIZE <= self.output_size <= MAX_OUTPUT_SIZE):
            raise ConfigError(f"output size must be an integer in [{MIN_OUTPUT_SIZE}, {MAX_OUTPUT_SIZE}], "
                              f"got {self.output_size}")
        return self

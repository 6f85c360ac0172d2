"""User options of the animation pipeline (architecture hyper-parameters live in the model config).

Each :class:`AnimateOptions` field carries its default and the help line of its command-line flag
(``field(metadata=...)``, see :func:`option`): ``synergywarp animate`` and ``demo`` generate their flags
from the fields (:func:`synergywarp.inference.cli_commands.add_option_flags`), so every option is
reachable there and its default is defined here only. This module imports no torch, numpy or cv2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal, TypeVar

from synergywarp.crop_framing import DEFAULT_SCALE, DEFAULT_VY
from synergywarp.errors import ConfigError

#: Default cap on the written video's longest side (crop mode with paste-back): the source photo is
#: scaled down to it, so a phone's 48 MP picture gives a video every player decodes (1920² is H.264
#: level 5.0; 4K and larger frames need level 6+, which most hardware decoders lack). 0 keeps the full size.
DEFAULT_MAX_OUTPUT_SIZE = 1920
MAX_CROP_VY = 0.5  # a larger vertical shift moves the face out of its own crop

MotionMode = Literal["relative", "absolute"]
MIN_OUTPUT_SIZE, MAX_OUTPUT_SIZE = 64, 2048
SHARP_OUTPUT_SIZE = 512  # default output side of models that warp the source at any size (decoder.image_skip)
DrivingCropMode = Literal["fixed", "smooth"]

T = TypeVar("T")


def option(default: T, help: str, *, flag: str | None = None, metavar: str | None = None) -> T:
    """A dataclass field with ``default`` and what its command-line flag says: ``help`` (for a bool that
    defaults to True: what its ``--no-…`` flag does), ``flag`` when not ``--`` + the field's name with
    dashes, ``metavar`` for the value's placeholder."""
    return field(default=default, metadata={"help": help, "flag": flag, "metavar": metavar})


@dataclass
class AnimateOptions:
    """How to animate one source with one driving video (see ``synergywarp animate --help``)."""

    motion: MotionMode = option(
        "relative", "relative: the driving's changes since its first frame are applied to the source; "
        "absolute: the driving's own pose and expression")
    crop: bool = option(True, "inputs are face crops already: only resize them (output at model resolution)")
    paste_back: bool = option(True, "write the animated face crop instead of the full source frame")
    smooth: float = option(0.5, "temporal (One-Euro) smoothing of the driving motion, 0 = off", metavar="STRENGTH")
    batch: int = option(8, "driving frames per network call", metavar="N")
    driving_crop: DrivingCropMode = option(
        "fixed", "fixed: one driving crop for the whole clip; smooth: a smoothed per-frame crop that follows the face")
    crop_scale: float = option(DEFAULT_SCALE, "face crop side / the side of the face landmarks' box", metavar="X")
    crop_vy: float = option(DEFAULT_VY, "vertical shift of the face crop as a fraction of its side, negative = up",
                            metavar="FRACTION")
    feather: float = option(0.08, "paste-back blend ramp as a fraction of the crop side, from 0 to 0.5",
                            metavar="FRACTION")
    check_identity: bool = option(True, "do not warn when a reference photo looks like another person")
    fusion_mode: Literal["confidence", "add", "explicit"] | None = option(
        None, "how the explicit warp and the reference correction are fused (default: the checkpoint's own; "
        "explicit: the warp alone, references unused)")
    fps: float = option(25.0, "frame rate of driving frames that have none of their own (a folder of frames, an "
                        "image, arrays); video files carry theirs", metavar="FPS")
    output_size: int | None = option(
        None, "side of the animated face crop, e.g. 256 or 512 (default: 512 for models that warp the source at "
        "any size, such as the bundled one; else the model's own)", flag="--size", metavar="PX")
    max_output_size: int = option(
        DEFAULT_MAX_OUTPUT_SIZE, "scale the source photo (and so the video) down to this longest side, so that "
        "players can decode it (0 keeps the full size)", metavar="PX")

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

"""Synthetic talking-head engine: still portraits → clips with known head motion and expressions.

Modules: ``trajectory`` (smooth random pose/expression curves), ``expression`` (landmark-group
displacements), ``mesh`` (face mesh + support rings for hair, neck, background), ``render``
(z-ordered piecewise-affine warping), ``head_mask`` (soft head mask, inpainted background),
``mouth`` (mouth interior), ``photometric``, ``engine`` (portrait → clip), ``corpus`` (dataset).
"""

from synergywarp.data.synth.corpus import build_corpus, save_npz_deterministic
from synergywarp.data.synth.engine import (
    PreparedPortrait,
    SynthClip,
    SynthConfig,
    prepare_portrait,
    render_clip,
    render_frames,
)
from synergywarp.data.synth.photometric import PhotometricRanges
from synergywarp.data.synth.trajectory import (
    EXPRESSION_NAMES,
    ExpressionStrengths,
    PoseRanges,
    Trajectory,
    random_trajectory,
)

__all__ = [
    "EXPRESSION_NAMES",
    "ExpressionStrengths",
    "PhotometricRanges",
    "PoseRanges",
    "PreparedPortrait",
    "SynthClip",
    "SynthConfig",
    "Trajectory",
    "build_corpus",
    "prepare_portrait",
    "random_trajectory",
    "render_clip",
    "render_frames",
    "save_npz_deterministic",
]

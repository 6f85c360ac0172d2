"""``synergywarp eval``: the self/cross-reenactment and hidden-content harness with baselines in the same run
(docs/DESIGN.md#evaluation).

Modules: ``protocol`` (which frames each task uses), ``baselines`` (one adapter per method: static,
geometric, explicit, full@R), ``extract`` (per-frame features cached on disk), ``score`` (features →
metrics), ``report`` (per_frame.csv, metrics.json, metrics.md), ``run`` (:func:`run_eval`).
"""

from synergywarp.metrics.eval.baselines import (
    GeometricMethod,
    LoadedModel,
    ModelMethod,
    StaticMethod,
    TaskInputs,
    build_methods,
)
from synergywarp.metrics.eval.extract import PSNR_CAP_DB, Extraction, ExtractionStats, FeatureExtractor, FrameFeatures
from synergywarp.metrics.eval.protocol import (
    EvalTask,
    cross_plan,
    driving_subset,
    hidden_plan,
    parse_refs,
    read_pairs,
    self_plan,
)
from synergywarp.metrics.eval.run import METHOD_CHOICES, EvalOptions, EvalResult, run_eval
from synergywarp.metrics.eval.score import MethodScore, TaskFeatures, score_method

__all__ = [
    "METHOD_CHOICES", "PSNR_CAP_DB", "EvalOptions", "EvalResult", "EvalTask", "Extraction", "ExtractionStats",
    "FeatureExtractor", "FrameFeatures", "GeometricMethod", "LoadedModel", "MethodScore", "ModelMethod",
    "StaticMethod", "TaskFeatures", "TaskInputs", "build_methods", "cross_plan", "driving_subset",
    "hidden_plan", "parse_refs", "read_pairs", "run_eval", "score_method", "self_plan",
]

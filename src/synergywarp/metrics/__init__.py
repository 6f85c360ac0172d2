"""Evaluation metrics at 256²: L1, PSNR, SSIM, LPIPS, FID (or a named substitute), AKD, AED_id, CSIM, jitter.

Image metrics take B×3×H×W float tensors in [0, 1] and return B per-image values; face metrics are
scored from :class:`FaceAnalyzer` observations (extraction cached separately from scoring); set-level
and face metrics return :class:`MetricValue` (name, value, counts, definition, network). The names
below are imported on first use (the CLI parser imports this package without torch).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from synergywarp._lazy import lazy_exports

if TYPE_CHECKING:
    from synergywarp.metrics.definitions import METRIC_DEFINITIONS
    from synergywarp.metrics.face import FACE_NETWORK, FaceAnalyzer, FaceObservation
    from synergywarp.metrics.face_metrics import (
        AED_DEFINITION,
        AKD_DEFINITION,
        CSIM_DEFINITION,
        JITTER_DEFINITION,
        aed_id,
        akd,
        csim,
        landmark_jitter,
    )
    from synergywarp.metrics.face_metrics import METRIC_DEFINITIONS as FACE_METRIC_DEFINITIONS
    from synergywarp.metrics.fid import (
        FID_DEFINITION,
        INCEPTION_ENV,
        FIDFeatures,
        InceptionFeatures,
        MobileNetV2Features,
        compute_fid,
        feature_statistics,
        fid_features,
        fid_from_features,
        frechet_distance,
    )
    from synergywarp.metrics.image import (
        L1_DEFINITION,
        LPIPS_DEFINITION,
        PSNR_DEFINITION,
        SSIM_DEFINITION,
        l1,
        lpips_distance,
        lpips_network_name,
        psnr,
        ssim,
    )
    from synergywarp.metrics.preprocess import EVAL_SIZE, resize_to_eval
    from synergywarp.metrics.results import MetricValue

__getattr__, __all__ = lazy_exports(__name__, {
    ".definitions": ("METRIC_DEFINITIONS",),
    ".face": ("FACE_NETWORK", "FaceAnalyzer", "FaceObservation"),
    ".face_metrics": ("AED_DEFINITION", "AKD_DEFINITION", "CSIM_DEFINITION", "JITTER_DEFINITION", "aed_id", "akd",
                      "csim", "landmark_jitter", "METRIC_DEFINITIONS as FACE_METRIC_DEFINITIONS"),
    ".fid": ("FID_DEFINITION", "INCEPTION_ENV", "FIDFeatures", "InceptionFeatures", "MobileNetV2Features",
             "compute_fid", "feature_statistics", "fid_features", "fid_from_features", "frechet_distance"),
    ".image": ("L1_DEFINITION", "LPIPS_DEFINITION", "PSNR_DEFINITION", "SSIM_DEFINITION", "l1", "lpips_distance",
               "lpips_network_name", "psnr", "ssim"),
    ".preprocess": ("EVAL_SIZE", "resize_to_eval"),
    ".results": ("MetricValue",),
})

"""Evaluation metrics at 256²: L1, PSNR, SSIM, LPIPS, FID (or a named substitute), AKD, AED_id, CSIM, jitter.

Image metrics take B×3×H×W float tensors in [0, 1] and return B per-image values; face metrics are
scored from :class:`FaceAnalyzer` observations (extraction cached separately from scoring); set-level
and face metrics return :class:`MetricValue` (name, value, counts, definition, network).
"""

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
from synergywarp.metrics.face_metrics import (
    METRIC_DEFINITIONS as FACE_METRIC_DEFINITIONS,
)
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

#: One-line definition per metric label (FID's names the feature space; format with space=...).
METRIC_DEFINITIONS: dict[str, str] = {
    "L1": L1_DEFINITION,
    "PSNR": PSNR_DEFINITION,
    "SSIM": SSIM_DEFINITION,
    "LPIPS": LPIPS_DEFINITION.format(net="AlexNet"),
    "LPIPS-vgg": LPIPS_DEFINITION.format(net="VGG16"),
    "FID": FID_DEFINITION.format(space="Inception-v3 pool3"),
    "FID-MobileNetV2": FID_DEFINITION.format(space="MobileNetV2 pooled"),
    **FACE_METRIC_DEFINITIONS,
}

__all__ = [
    "AED_DEFINITION", "AKD_DEFINITION", "CSIM_DEFINITION", "EVAL_SIZE", "FACE_NETWORK", "FID_DEFINITION",
    "FIDFeatures", "FaceAnalyzer", "FaceObservation", "INCEPTION_ENV", "InceptionFeatures",
    "JITTER_DEFINITION", "L1_DEFINITION", "LPIPS_DEFINITION", "METRIC_DEFINITIONS", "MetricValue",
    "MobileNetV2Features", "PSNR_DEFINITION", "SSIM_DEFINITION", "aed_id", "akd", "compute_fid", "csim",
    "feature_statistics", "fid_features", "fid_from_features", "frechet_distance", "l1", "landmark_jitter",
    "lpips_distance", "lpips_network_name", "psnr", "resize_to_eval", "ssim",
]

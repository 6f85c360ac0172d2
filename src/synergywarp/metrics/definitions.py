"""One-line definition per metric label, as written into every evaluation report."""

from __future__ import annotations

from synergywarp.metrics.face_metrics import METRIC_DEFINITIONS as FACE_METRIC_DEFINITIONS
from synergywarp.metrics.fid import FID_DEFINITION
from synergywarp.metrics.image import L1_DEFINITION, LPIPS_DEFINITION, PSNR_DEFINITION, SSIM_DEFINITION

#: One-line definition per metric label (FID's names the feature space).
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

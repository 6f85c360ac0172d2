"""Fréchet distance between feature distributions: standard FID (Inception) or a named substitute.

Feature spaces (the :class:`FIDFeatures` protocol) take B×3×H×W images in [0, 1], bring them to 256²
(antialiased bilinear) and return B×D float64 features:

- :class:`InceptionFeatures` — standard **FID**: Inception-v3 pool3 (2048-D) from the TorchScript file
  ``inception-2015-12-05.pt`` used by StyleGAN2-ADA/3 and clean-fid. Nothing here ships it: pass its path
  as ``InceptionFeatures(path)`` / ``fid_features(inception_path=...)`` or set the environment variable
  ``SYNERGYWARP_INCEPTION=/path/to/inception-2015-12-05.pt``. Images are quantised to [0, 255] and the
  network resizes them to 299² itself (the StyleGAN protocol).
- :class:`MobileNetV2Features` — the substitute **FID-MobileNetV2** (ImageNet MobileNetV2 pooled
  1280-D): values are NOT comparable with published FID and are always labelled ``FID-MobileNetV2``.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

import numpy as np
import torch
import torch.nn.functional as F
from scipy import linalg

from synergywarp.errors import AssetError, InputError
from synergywarp.metrics.preprocess import resize_to_eval
from synergywarp.metrics.results import MetricValue
from synergywarp.models.normalise import imagenet_normalise

INCEPTION_ENV = "SYNERGYWARP_INCEPTION"
INCEPTION_FILE = "inception-2015-12-05.pt"
FID_DEFINITION = (
    "Fréchet distance ||μ1−μ2||² + Tr(Σ1 + Σ2 − 2(Σ1Σ2)^½) between Gaussians fitted (mean, unbiased "
    "covariance) to the {space} features of all real and all generated frames at 256²"
)


@runtime_checkable
class FIDFeatures(Protocol):
    """A feature space for Fréchet distances."""

    name: str  # the metric label: "FID" only for Inception, e.g. "FID-MobileNetV2" otherwise
    network: str  # one line naming the network and weights file
    dim: int

    def __call__(self, images: torch.Tensor) -> np.ndarray:
        """B×3×H×W float in [0, 1] -> B×dim float64."""
        ...


class InceptionFeatures:
    """Standard FID features: Inception-v3 pool3 (2048-D) from the TorchScript ``inception-2015-12-05.pt``."""

    name = "FID"
    dim = 2048

    def __init__(self, path: str | Path | None = None, device: str | torch.device = "cpu") -> None:
        path = path if path is not None else os.environ.get(INCEPTION_ENV)
        if not path:
            raise AssetError(f"no Inception weights: pass the path of {INCEPTION_FILE} or set {INCEPTION_ENV}")
        self.path = Path(path)
        if not self.path.is_file():
            raise AssetError(f"Inception weights {self.path} not found (expected the TorchScript {INCEPTION_FILE})")
        try:
            with warnings.catch_warnings():  # TorchScript is the format this file ships in
                warnings.simplefilter("ignore", DeprecationWarning)
                self.model = torch.jit.load(str(self.path), map_location=device).eval()
        except Exception as err:  # noqa: BLE001 - any failure is one user-facing error
            raise AssetError(f"cannot load {self.path} with torch.jit.load: {str(err)[:200]}") from err
        self.device = torch.device(device)
        self.network = f"Inception-v3 pool3 2048-D (TorchScript {self.path.name})"

    def __call__(self, images: torch.Tensor) -> np.ndarray:
        pixels = (resize_to_eval(images.float()).clamp(0, 1) * 255).round().to(self.device)
        with torch.no_grad():
            features = self.model(pixels, return_features=True)
        features = features.reshape(images.shape[0], -1)
        if features.shape[1] != self.dim:
            raise AssetError(f"{self.path} returned {features.shape[1]}-D features, expected {self.dim} (pool3)")
        return features.double().cpu().numpy()


class MobileNetV2Features:
    """Substitute space "FID-MobileNetV2": ImageNet MobileNetV2 pooled 1280-D features.

    Images at 256² are resized to 224² (antialiased bilinear) and ImageNet mean/std normalised.
    """

    name = "FID-MobileNetV2"
    dim = 1280
    network = "MobileNetV2 ImageNet (torchvision mobilenet_v2-b0353104.pth), pooled 1280-D, input 224²"

    def __init__(self, weights_path: str | Path | None = None, device: str | torch.device = "cpu") -> None:
        from synergywarp.metrics.mobilenet_v2 import load_mobilenet_v2

        self.device = torch.device(device)
        self.model = load_mobilenet_v2(weights_path).to(self.device)
        self.normalise = imagenet_normalise().to(self.device)

    def __call__(self, images: torch.Tensor) -> np.ndarray:
        x = resize_to_eval(images.float()).to(self.device)
        x = F.interpolate(x, size=(224, 224), mode="bilinear", antialias=True, align_corners=False)
        with torch.no_grad():
            features = self.model.pooled_features(self.normalise(x))
        return features.double().cpu().numpy()


def fid_features(inception_path: str | Path | None = None, device: str | torch.device = "cpu") -> FIDFeatures:
    """Inception when a path is given or ``$SYNERGYWARP_INCEPTION`` is set, else the MobileNetV2 substitute."""
    if inception_path is not None or os.environ.get(INCEPTION_ENV):
        return InceptionFeatures(inception_path, device)
    return MobileNetV2Features(device=device)


def feature_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """N×D features -> (mean D, unbiased covariance D×D), float64."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or features.shape[0] < 2:
        raise InputError(f"FID needs at least 2 feature vectors (N×D), got shape {features.shape}")
    return features.mean(axis=0), np.cov(features, rowvar=False)


def _trace_sqrt_product_eigh(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """Tr((Σ1Σ2)^½) = Σ √λ(Σ1^½ Σ2 Σ1^½): symmetric eigendecompositions only (fast, PSD-exact)."""
    eigenvalues, eigenvectors = np.linalg.eigh(sigma1)
    root1 = (eigenvectors * np.sqrt(np.clip(eigenvalues, 0, None))) @ eigenvectors.T
    inner = np.linalg.eigvalsh(root1 @ sigma2 @ root1)
    return float(np.sqrt(np.clip(inner, 0, None)).sum())


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray,
                     eps: float = 1e-6, method: Literal["sqrtm", "eigh"] = "sqrtm") -> float:
    """||μ1−μ2||² + Tr(Σ1 + Σ2 − 2·sqrtm(Σ1Σ2)) for D-vectors μ and D×D covariances Σ.

    method "sqrtm" (default, as pytorch-fid / StyleGAN): scipy.linalg.sqrtm of the product; a
    non-finite result is retried with ``eps``·I added to both covariances; numerical imaginary parts
    are dropped. "eigh": the same trace from symmetric eigendecompositions, ~5–10× faster at 2048-D
    and equal to rounding for PSD covariances.
    """
    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    sigma1, sigma2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape:
        raise InputError(f"statistics differ in shape: {mu1.shape} vs {mu2.shape}")
    if method == "eigh":
        trace_root = _trace_sqrt_product_eigh(sigma1, sigma2)
    elif method == "sqrtm":
        root = linalg.sqrtm(sigma1 @ sigma2)
        if not np.isfinite(root).all():
            offset = np.eye(sigma1.shape[0]) * eps
            root = linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
        trace_root = float(np.trace(root.real if np.iscomplexobj(root) else root))
    else:
        raise InputError(f"unknown Fréchet distance method {method!r}; choose 'sqrtm' or 'eigh'")
    difference = mu1 - mu2
    return float(difference @ difference + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_root)


def fid_from_features(real: np.ndarray, generated: np.ndarray, name: str = "FID", network: str = "",
                      method: Literal["sqrtm", "eigh"] = "sqrtm") -> MetricValue:
    """Fréchet distance between N×D ``real`` and M×D ``generated`` features, labelled ``name``."""
    mu_real, sigma_real = feature_statistics(real)
    mu_generated, sigma_generated = feature_statistics(generated)
    value = frechet_distance(mu_real, sigma_real, mu_generated, sigma_generated, method=method)
    return MetricValue(name, value, int(len(generated)), 0, FID_DEFINITION.format(space=name), network)


def compute_fid(real_batches: Iterable[torch.Tensor], generated_batches: Iterable[torch.Tensor],
                features: FIDFeatures, method: Literal["sqrtm", "eigh"] = "sqrtm") -> MetricValue:
    """FID (or its named substitute) between two streams of B×3×H×W images in [0, 1]."""
    real = np.concatenate([features(batch) for batch in real_batches])
    generated = np.concatenate([features(batch) for batch in generated_batches])
    return fid_from_features(real, generated, features.name, features.network, method)

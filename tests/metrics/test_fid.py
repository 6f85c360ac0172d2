"""Fréchet distance vs closed forms; the two feature spaces and their labels."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from skimage import data

from synergywarp.errors import AssetError
from synergywarp.metrics import (
    INCEPTION_ENV,
    FIDFeatures,
    InceptionFeatures,
    MobileNetV2Features,
    compute_fid,
    fid_features,
    fid_from_features,
    frechet_distance,
)


def test_frechet_distance_of_diagonal_gaussians_equals_closed_form():
    rng = np.random.default_rng(1)
    mu1, mu2 = rng.normal(size=5), rng.normal(size=5)
    var1, var2 = rng.uniform(0.5, 2, size=5), rng.uniform(0.5, 2, size=5)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(var1) - np.sqrt(var2)) ** 2)
    assert frechet_distance(mu1, np.diag(var1), mu2, np.diag(var2)) == pytest.approx(expected, rel=1e-9)


def test_frechet_distance_with_non_commuting_covariances():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(4, 4)), rng.normal(size=(4, 4))
    sigma1, sigma2 = a @ a.T + 0.1 * np.eye(4), b @ b.T + 0.1 * np.eye(4)
    # Tr((Σ1Σ2)^½) = Tr((Σ1^½ Σ2 Σ1^½)^½), computed here with symmetric eigendecompositions only
    w, v = np.linalg.eigh(sigma1)
    root1 = v @ np.diag(np.sqrt(w)) @ v.T
    inner = np.linalg.eigvalsh(root1 @ sigma2 @ root1)
    expected = np.trace(sigma1) + np.trace(sigma2) - 2 * np.sum(np.sqrt(inner))
    assert frechet_distance(np.zeros(4), sigma1, np.zeros(4), sigma2) == pytest.approx(expected, rel=1e-8)


def test_sqrtm_and_eigh_methods_agree_on_sample_covariances():
    rng = np.random.default_rng(4)
    first, second = rng.normal(size=(200, 64)), rng.normal(size=(150, 64)) @ rng.normal(size=(64, 64)) * 0.3
    by_sqrtm = fid_from_features(first, second).value
    by_eigh = fid_from_features(first, second, method="eigh").value
    assert by_sqrtm > 1.0 and by_eigh == pytest.approx(by_sqrtm, rel=1e-8)


def test_shifted_gaussian_samples_give_the_squared_shift():
    rng = np.random.default_rng(3)
    mixing = rng.normal(size=(16, 16))
    real = rng.normal(size=(400, 16)) @ mixing
    shift = rng.normal(size=16)
    result = fid_from_features(real, real + shift, name="FID-test")
    assert result.value == pytest.approx(float(shift @ shift), rel=1e-6)
    assert fid_from_features(real, real).value == pytest.approx(0.0, abs=1e-6)
    assert result.name == "FID-test" and "FID-test" in result.definition


def _imagenet_input(image: np.ndarray) -> torch.Tensor:
    x = torch.from_numpy(image).float().permute(2, 0, 1)[None] / 255
    x = F.interpolate(x, size=(224, 224), mode="bilinear", antialias=True, align_corners=False)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    return (x - mean) / std


@pytest.fixture(scope="module")
def mobilenet_space() -> MobileNetV2Features:
    return MobileNetV2Features()


def test_mobilenet_v2_weights_classify_imagenet_photos(mobilenet_space):
    """Independent check of layout + weights: a cat photo is a cat, a coffee photo an espresso."""
    with torch.no_grad():
        logits = mobilenet_space.model(torch.cat([_imagenet_input(data.chelsea()), _imagenet_input(data.coffee())]))
    top = logits.argmax(dim=1).tolist()
    assert top[0] in (281, 282, 285)  # tabby, tiger cat, Egyptian cat
    assert top[1] == 967  # espresso


@pytest.mark.slow
def test_substitute_fid_is_named_and_zero_for_identical_sets(mobilenet_space, astronaut_rgb, grace_hopper_rgb):
    assert isinstance(mobilenet_space, FIDFeatures)
    images = []
    for photo in (astronaut_rgb, grace_hopper_rgb, data.chelsea(), data.coffee()):
        x = torch.from_numpy(np.ascontiguousarray(photo[:300, :300])).float().permute(2, 0, 1) / 255
        images += [x, x.flip(-1)]
    batch = torch.stack(images)  # 8×3×300×300
    # 1280-D: the fast method keeps the test short (the methods agree, see above)
    same = compute_fid([batch[:4], batch[4:]], [batch], mobilenet_space, method="eigh")
    assert same.name == "FID-MobileNetV2" and same.name != "FID"
    assert abs(same.value) < 1e-2
    darker = compute_fid([batch[:4]], [batch[:4] * 0.3], mobilenet_space, method="eigh")
    assert darker.value > 1.0
    assert "MobileNetV2" in darker.network


class _FakeInception(torch.nn.Module):
    """Stands in for inception-2015-12-05.pt: 2048-D features recording what it was given."""

    def forward(self, img: torch.Tensor, return_features: bool = False) -> torch.Tensor:
        stats = torch.stack([img.amax(dim=(1, 2, 3)), img.amin(dim=(1, 2, 3)),
                             torch.full_like(img[:, 0, 0, 0], float(img.shape[-1]))], dim=1)
        features = torch.cat([stats, torch.zeros(img.shape[0], 2045, dtype=img.dtype)], dim=1)
        return features if return_features else features[:, :1008]


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
def test_inception_file_from_env_var_gives_plain_fid(tmp_path, monkeypatch):
    path = tmp_path / "inception-2015-12-05.pt"
    torch.jit.script(_FakeInception()).save(str(path))
    monkeypatch.setenv(INCEPTION_ENV, str(path))
    space = fid_features()
    assert isinstance(space, InceptionFeatures) and space.name == "FID" and space.dim == 2048
    features = space(torch.rand(3, 3, 300, 300))
    assert features.shape == (3, 2048)
    assert features[:, 0].max() <= 255 and features[:, 0].max() > 200  # [0, 255] pixel range
    assert np.all(features[:, 2] == 256)  # brought to the 256² protocol size first


def test_without_inception_the_substitute_is_used_and_a_bad_path_is_one_error(monkeypatch, tmp_path):
    monkeypatch.delenv(INCEPTION_ENV, raising=False)
    assert fid_features().name == "FID-MobileNetV2"
    with pytest.raises(AssetError, match=INCEPTION_ENV):
        InceptionFeatures()
    with pytest.raises(AssetError, match="not found"):
        InceptionFeatures(tmp_path / "missing.pt")

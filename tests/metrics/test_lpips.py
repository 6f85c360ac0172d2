"""LPIPS against the reference values in ASSETS.md (official lpips package on the same weights)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from skimage.data import astronaut

from synergywarp.metrics import lpips_distance
from synergywarp.models.lpips_nets import VGG16Features, load_lpips, load_vgg16_features

# (net, h-flip distance, 1-px roll distance) from ASSETS.md.
REFERENCE = [("alex", 0.63318, 0.02933), ("vgg", 0.6888, 0.04883)]


@pytest.fixture(scope="module")
def astronaut_signed() -> torch.Tensor:
    """1×3×256×256 in [−1, 1], the ASSETS.md preprocessing."""
    image = torch.from_numpy(astronaut()).float().permute(2, 0, 1)[None] / 127.5 - 1
    return F.interpolate(image, size=(256, 256), mode="bilinear", antialias=True, align_corners=False)


@pytest.mark.slow
@pytest.mark.parametrize("net,flip_ref,roll_ref", REFERENCE)
def test_lpips_reproduces_reference_values(astronaut_signed, net, flip_ref, roll_ref):
    model = load_lpips(net)
    x = astronaut_signed
    with torch.no_grad():
        pair = model(torch.cat([x, x]), torch.cat([x.flip(-1), x.roll(1, dims=-1)]))
    assert pair[0].item() == pytest.approx(flip_ref, abs=1e-4)
    assert pair[1].item() == pytest.approx(roll_ref, abs=1e-4)
    assert model(x, x).item() == 0.0


@pytest.mark.slow
def test_lpips_metric_takes_unit_range_images_and_resizes(astronaut_signed):
    unit = (astronaut_signed + 1) / 2
    big = F.interpolate(unit, size=(320, 320), mode="bilinear", align_corners=False)
    assert lpips_distance(unit, unit.flip(-1)).item() == pytest.approx(0.63318, abs=1e-4)
    # resized to 256² internally: the 320² copy is close, not identical, to the 256² original
    assert 0.0 < lpips_distance(big, unit).item() < 0.05
    assert lpips_distance(unit, unit, net="vgg").item() == 0.0


def test_models_are_frozen_and_vgg_taps_have_torchvision_shapes():
    model = load_lpips("alex")
    assert not model.training and not any(p.requires_grad for p in model.parameters())
    vgg = load_vgg16_features()
    assert isinstance(vgg, VGG16Features) and not any(p.requires_grad for p in vgg.parameters())
    with torch.no_grad():
        taps = vgg(torch.zeros(1, 3, 64, 64))
    assert [tuple(t.shape[1:]) for t in taps] == [(64, 64, 64), (128, 32, 32), (256, 16, 16), (512, 8, 8), (512, 4, 4)]
    names = set(vgg.state_dict())
    assert "features.0.weight" in names and "features.28.bias" in names

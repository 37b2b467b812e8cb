"""Augmentation on the device: batched torch versions of the augmentations that are tensor ops.

The CPU path (albumentations, OpenCV, ``imagenet_c.py``) stays the reference; these match its
strength (the same parameters, drawn per image from the same seeds, checked by
``tests/test_augment_torch.py`` to the same 25% tolerance as ImageNet-C's parity), not its bytes, and
are reproducible on a given device. Chosen with ``--clipshift-augment-device`` (``auto``: the
model's device when it is a GPU, else the CPU reference). Cases without a torch version, and every
geometric one, take the CPU path whatever the setting.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np


def _generators(seeds: list[int], device):
    import torch

    return [torch.Generator(device=device).manual_seed(int(s)) for s in seeds]


def _uniform(gen, low: float, high: float, device) -> float:
    import torch

    return float(low + (high - low) * torch.rand((), generator=gen, device=device))


def _normal_like(x, gen):
    import torch

    return torch.randn(x.shape, generator=gen, device=x.device, dtype=x.dtype)


def _gaussian_blur(x, sigma: float):
    """(C, H, W) float -> blurred, kernel radius 4 sigma, edges replicated (as skimage's 'nearest')."""
    import torch
    import torch.nn.functional as F

    if sigma <= 0:
        return x
    radius = max(1, int(4.0 * sigma + 0.5))
    grid = torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype)
    k = torch.exp(-(grid ** 2) / (2 * sigma ** 2))
    k = k / k.sum()
    c = x.shape[0]
    y = F.pad(x[None], (radius, radius, 0, 0), mode="replicate")
    y = F.conv2d(y, k.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    y = F.pad(y, (0, 0, radius, radius), mode="replicate")
    return F.conv2d(y, k.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)[0]


def _scale(x) -> float:
    return min(x.shape[-2:]) / 224.0


# each: (one image (3, H, W) float in [0, 255], parameters, generator) -> image, float in [0, 255]
def study_gaussian_noise(x, p, gen):
    std = _uniform(gen, *p["std"], x.device) * 255.0
    return x + _normal_like(x, gen) * std


def study_gaussian_blur(x, p, gen):
    return _gaussian_blur(x, _uniform(gen, *p["sigma"], x.device))


def study_brightness_contrast(x, p, gen):
    alpha = 1.0 + _uniform(gen, -p["limit"], p["limit"], x.device)
    beta = _uniform(gen, -p["limit"], p["limit"], x.device) * 255.0
    return x * alpha + beta


def c_gaussian_noise(x, p, gen):
    return (x / 255.0 + _normal_like(x, gen) * p["c"]).clamp(0, 1) * 255.0


def c_shot_noise(x, p, gen):
    import torch

    return (torch.poisson(x / 255.0 * p["c"], generator=gen) / p["c"]).clamp(0, 1) * 255.0


def c_impulse_noise(x, p, gen):
    import torch

    flip = torch.rand(x.shape, generator=gen, device=x.device) < p["c"]
    salt = torch.rand(x.shape, generator=gen, device=x.device) < 0.5
    return torch.where(flip, torch.where(salt, torch.full_like(x, 255.0), torch.zeros_like(x)), x)


def c_speckle_noise(x, p, gen):
    y = x / 255.0
    return (y + y * _normal_like(x, gen) * p["c"]).clamp(0, 1) * 255.0


def c_gaussian_blur(x, p, gen):
    return _gaussian_blur(x / 255.0, p["c"] * _scale(x)).clamp(0, 1) * 255.0


def c_contrast(x, p, gen):
    y = x / 255.0
    means = y.mean(dim=(1, 2), keepdim=True)
    return ((y - means) * p["c"] + means).clamp(0, 1) * 255.0


def c_zoom_blur(x, p, gen):
    import torch
    import torch.nn.functional as F

    y = x / 255.0
    h, w = y.shape[-2:]
    out = torch.zeros_like(y)
    factors = np.arange(p["start"], p["stop"], p["step"])
    for f in factors:
        ch, cw = int(math.ceil(h / f)), int(math.ceil(w / f))
        top, left = (h - ch) // 2, (w - cw) // 2
        crop = y[:, top: top + ch, left: left + cw]
        out += F.interpolate(crop[None], size=(h, w), mode="bilinear", align_corners=False)[0]
    return ((y + out) / (len(factors) + 1)).clamp(0, 1) * 255.0


def c_pixelate(x, p, gen):
    import torch.nn.functional as F

    h, w = x.shape[-2:]
    small = F.interpolate(x[None], size=(int(h * p["c"]), int(w * p["c"])), mode="area")
    return F.interpolate(small, size=(h, w), mode="nearest-exact")[0]  # pixel centres, as PIL's NEAREST


def c_defocus_blur(x, p, gen):
    import torch
    import torch.nn.functional as F

    from .imagenet_c import _disk

    kernel = torch.from_numpy(_disk(p["radius"] * _scale(x), p["alias_blur"])).to(x.device, x.dtype)
    k = kernel.shape[0] // 2
    y = F.pad((x / 255.0)[None], (k, k, k, k), mode="reflect")
    y = F.conv2d(y, kernel[None, None].repeat(3, 1, 1, 1), groups=3)[0]
    return y.clamp(0, 1) * 255.0


TORCH_AUGMENTATIONS: dict[str, Callable] = {
    "gaussian_noise": study_gaussian_noise, "gaussian_blur": study_gaussian_blur,
    "brightness_contrast": study_brightness_contrast,
    "imagenet_c.gaussian_noise": c_gaussian_noise, "imagenet_c.shot_noise": c_shot_noise,
    "imagenet_c.impulse_noise": c_impulse_noise, "imagenet_c.speckle_noise": c_speckle_noise,
    "imagenet_c.gaussian_blur": c_gaussian_blur, "imagenet_c.contrast": c_contrast,
    "imagenet_c.zoom_blur": c_zoom_blur, "imagenet_c.pixelate": c_pixelate, "imagenet_c.defocus_blur": c_defocus_blur,
}
"""The cases with a device version (their ``paper`` level excepted: it stays the study's own call)."""


def has_device_version(case) -> bool:
    return case.augmentation in TORCH_AUGMENTATIONS and case.severity != "paper" and case.strength is None


def apply_batch(case, canvases: np.ndarray, seeds: list[int], device) -> np.ndarray:
    """uint8 (B, H, W, 3) canvases -> augmented uint8 (B, H, W, 3), image i drawn from ``seeds[i]``."""
    import torch

    from .augmentations import augmentation_for

    aug, level = augmentation_for(case)
    params = aug.parameters(level)
    fn = TORCH_AUGMENTATIONS[case.augmentation]
    x = torch.from_numpy(np.require(canvases, requirements=["C", "W"])).to(device).permute(0, 3, 1, 2).float()
    with torch.inference_mode():
        out = torch.stack([fn(img, params, gen) for img, gen in zip(x, _generators(seeds, device))])
        out = out.clamp(0, 255).round().to(torch.uint8).permute(0, 2, 3, 1)
    return out.cpu().numpy()

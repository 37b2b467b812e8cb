"""Augmentation on the device: batched torch versions of the augmentations that are tensor ops.

The CPU path (albumentations, OpenCV, ``imagenet_c.py``) stays the reference; these match its
strength (the same parameters, drawn per image from the same seeds, checked by
``tests/test_augment_torch.py`` to the same 25% tolerance as ImageNet-C's parity), not its bytes, and
are reproducible on a given device. Chosen with ``--clipshift-augment-device`` (``auto``: the
model's device when it is a GPU, else the CPU reference). Cases without a torch version take the
CPU path whatever the setting.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from .tensor_ops import affine_sources, length_scale_of, normal_like, perspective_inverse, pixel_grid, remap, uniform


def _gaussian_blur(x, sigma: float):
    """(C, H, W) float -> blurred, kernel radius 4 sigma, edges replicated (as skimage's 'nearest')."""
    import torch
    import torch.nn.functional as F

    if sigma <= 0:
        return x
    radius = max(1, int(4.0 * sigma + 0.5))
    grid = torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype)
    k = torch.exp(-(grid**2) / (2 * sigma**2))
    k = k / k.sum()
    c = x.shape[0]
    y = F.pad(x[None], (radius, radius, 0, 0), mode="replicate")
    y = F.conv2d(y, k.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    y = F.pad(y, (0, 0, radius, radius), mode="replicate")
    return F.conv2d(y, k.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)[0]


# each: (one image (3, H, W) float in [0, 255], parameters, generator) -> image, float in [0, 255]
def study_gaussian_noise(x, p, gen):
    std = uniform(gen, *p["std"], x.device) * 255.0
    return x + normal_like(x, gen) * std


def study_gaussian_blur(x, p, gen):
    return _gaussian_blur(x, uniform(gen, *p["sigma"], x.device))


def study_brightness_contrast(x, p, gen):
    alpha = 1.0 + uniform(gen, -p["limit"], p["limit"], x.device)
    beta = uniform(gen, -p["limit"], p["limit"], x.device) * 255.0
    return x * alpha + beta


def c_gaussian_noise(x, p, gen):
    return (x / 255.0 + normal_like(x, gen) * p["c"]).clamp(0, 1) * 255.0


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
    return (y + y * normal_like(x, gen) * p["c"]).clamp(0, 1) * 255.0


def c_gaussian_blur(x, p, gen):
    return _gaussian_blur(x / 255.0, p["c"] * length_scale_of(x)).clamp(0, 1) * 255.0


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
        crop = y[:, top : top + ch, left : left + cw]
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

    from .imagenet_c import disk_kernel

    kernel = torch.from_numpy(disk_kernel(p["radius"] * length_scale_of(x), p["alias_blur"])).to(x.device, x.dtype)
    k = kernel.shape[0] // 2
    y = F.pad((x / 255.0)[None], (k, k, k, k), mode="reflect")
    y = F.conv2d(y, kernel[None, None].repeat(3, 1, 1, 1), groups=3)[0]
    return y.clamp(0, 1) * 255.0


def _rgb_to_hsv(y):
    """(3, H, W) RGB in [0, 1] -> H, S, V planes in [0, 1] (skimage's and colorsys' convention)."""
    import torch

    maxc, minc = y.max(dim=0).values, y.min(dim=0).values
    delta = maxc - minc
    safe = torch.where(delta > 0, delta, torch.ones_like(delta))
    r, g, b = ((maxc - c) / safe for c in y)
    hue = torch.where(y[0] == maxc, b - g, torch.where(y[1] == maxc, 2.0 + r - b, 4.0 + g - r))
    hue = torch.where(delta > 0, (hue / 6.0) % 1.0, torch.zeros_like(hue))
    saturation = torch.where(
        maxc > 0, delta / torch.where(maxc > 0, maxc, torch.ones_like(maxc)), torch.zeros_like(maxc)
    )
    return hue, saturation, maxc


def _hsv_to_rgb(hue, saturation, value):
    import torch

    sector = torch.floor(hue * 6.0)
    f = hue * 6.0 - sector
    p = value * (1 - saturation)
    q = value * (1 - saturation * f)
    t = value * (1 - saturation * (1 - f))
    index = (sector.long() % 6)[None]
    pick = lambda *planes: torch.stack(planes).gather(0, index)[0]
    return torch.stack([pick(value, q, p, p, t, value), pick(t, value, value, q, p, p), pick(p, p, t, value, value, q)])


def grey(x):
    return (0.299 * x[0] + 0.587 * x[1] + 0.114 * x[2])[None]


def study_color_jitter(x, p, gen):
    """Brightness, contrast, saturation and hue factors drawn as ColorJitter draws them, applied in
    a random order (as albumentations does)."""
    import torch

    factors = {
        "brightness": uniform(gen, max(0.0, 1 - p["b"]), 1 + p["b"], x.device),
        "contrast": uniform(gen, max(0.0, 1 - p["c"]), 1 + p["c"], x.device),
        "saturation": uniform(gen, max(0.0, 1 - p["s"]), 1 + p["s"], x.device),
        "hue": uniform(gen, -p["h"], p["h"], x.device),
    }
    order = torch.randperm(4, generator=gen, device=x.device).tolist()
    y = x / 255.0
    for name in [list(factors)[i] for i in order]:
        f = factors[name]
        if name == "brightness":
            y = y * f
        elif name == "contrast":
            y = y * f + grey(y).mean() * (1 - f)
        elif name == "saturation":
            y = y * f + grey(y) * (1 - f)
        else:
            hue, sat, val = _rgb_to_hsv(y)
            y = _hsv_to_rgb((hue + f) % 1.0, sat, val)
        y = y.clamp(0, 1)
    return y * 255.0


def study_coarse_dropout(x, p, gen):
    """``holes`` squares of side ``size`` x the canvas, anywhere inside it, filled with random pixels."""
    import torch

    h, w = x.shape[-2:]
    count = int(torch.randint(p["holes"][0], p["holes"][1] + 1, (), generator=gen, device=x.device))
    side_h, side_w = max(1, int(h * p["size"])), max(1, int(w * p["size"]))
    out = x.clone()
    for _ in range(count):
        top = int(torch.randint(0, h - side_h + 1, (), generator=gen, device=x.device))
        left = int(torch.randint(0, w - side_w + 1, (), generator=gen, device=x.device))
        fill = torch.randint(0, 256, (x.shape[0], side_h, side_w), generator=gen, device=x.device)
        out[:, top : top + side_h, left : left + side_w] = fill.to(x.dtype)
    return out


def c_brightness(x, p, gen):
    hue, sat, val = _rgb_to_hsv(x / 255.0)
    return _hsv_to_rgb(hue, sat, (val + p["c"]).clamp(0, 1)).clamp(0, 1) * 255.0


def c_saturate(x, p, gen):
    hue, sat, val = _rgb_to_hsv(x / 255.0)
    return _hsv_to_rgb(hue, (sat * p["factor"] + p["offset"]).clamp(0, 1), val).clamp(0, 1) * 255.0


def c_motion_blur(x, p, gen):
    """The reference's motion kernel (a Gaussian-weighted line at a random angle), as a correlation
    with replicated edges (OpenCV's filter2D), summed over its few non-zero taps: the kernel is a
    line, and a dense 63 x 63 convolution was about 12x slower on a CPU (40.9 against 3.5 ms per
    224-px image, benchmarks/bench_augment_device.py)."""
    import torch
    import torch.nn.functional as F

    from .imagenet_c import motion_kernel

    s = length_scale_of(x)
    angle = uniform(gen, -45, 45, x.device)
    kernel = motion_kernel(max(1, int(round(p["radius"] * s))), p["sigma"] * s, angle)
    k = kernel.shape[0] // 2
    h, w = x.shape[-2:]
    padded = F.pad(x[None], (k, k, k, k), mode="replicate")[0]
    out = torch.zeros_like(x)
    for row, col in zip(*np.nonzero(kernel)):
        out += float(kernel[row, col]) * padded[:, row : row + h, col : col + w]
    return out


# ---------------------------------------------------------------- geometric: (image, coords)
# Each returns the warped image and its coordinate grid (H, W, 3: source x, source y, valid), the
# same grid the CPU path warps along, so attention stays aligned on the device path too.


def _remap(x, sx, sy, reflect: bool):
    """``tensor_ops.remap`` on one (C, H, W) image."""
    out, coords = remap(x[None], sx[None], sy[None], reflect)
    return out[0], coords[0]


def study_horizontal_flip(x, p, gen):
    import torch

    xs, ys = pixel_grid(x)
    return x.flip(-1), torch.stack([x.shape[-1] - 1 - xs, ys, torch.ones_like(xs)], dim=-1)


def study_shift_scale_rotate(x, p, gen):
    """Affine about the centre, as albumentations' Affine draws it (shift and scale per axis,
    one angle), reflect border."""
    xs, ys = pixel_grid(x)
    return _remap(x, *affine_sources(gen, p, xs, ys, x.device), reflect=True)


def study_perspective(x, p, gen):
    """Corners pulled inward by |N(0, scale)| (mod 0.32) of the side, the quad stretched back to the
    canvas (albumentations' Perspective), black border."""
    import torch

    h, w = x.shape[-2:]
    inverse = torch.from_numpy(perspective_inverse(gen, p["scale"], h, w, x.device)).to(x.device, x.dtype)
    xs, ys = pixel_grid(x)
    src = inverse @ torch.stack([xs, ys, torch.ones_like(xs)]).reshape(3, -1)
    return _remap(x, (src[0] / src[2]).reshape(h, w), (src[1] / src[2]).reshape(h, w), reflect=False)


def study_elastic(x, p, gen):
    """Two Gaussian fields (max-abs normalised), smoothed by ``sigma`` and scaled by ``alpha`` px,
    displace every pixel (albumentations' ElasticTransform), reflect border."""
    import torch

    h, w = x.shape[-2:]
    fields = torch.randn((2, h, w), generator=gen, device=x.device, dtype=x.dtype)
    fields = _gaussian_blur(fields / fields.abs().max().clamp_min(1e-6), p["sigma"]) * p["alpha"]
    xs, ys = pixel_grid(x)
    return _remap(x, xs + fields[0], ys + fields[1], reflect=True)


TORCH_AUGMENTATIONS: dict[str, Callable] = {
    "gaussian_noise": study_gaussian_noise,
    "gaussian_blur": study_gaussian_blur,
    "brightness_contrast": study_brightness_contrast,
    "color_jitter": study_color_jitter,
    "coarse_dropout": study_coarse_dropout,
    "horizontal_flip": study_horizontal_flip,
    "shift_scale_rotate": study_shift_scale_rotate,
    "perspective": study_perspective,
    "elastic": study_elastic,
    "imagenet_c.gaussian_noise": c_gaussian_noise,
    "imagenet_c.shot_noise": c_shot_noise,
    "imagenet_c.impulse_noise": c_impulse_noise,
    "imagenet_c.speckle_noise": c_speckle_noise,
    "imagenet_c.gaussian_blur": c_gaussian_blur,
    "imagenet_c.contrast": c_contrast,
    "imagenet_c.zoom_blur": c_zoom_blur,
    "imagenet_c.pixelate": c_pixelate,
    "imagenet_c.defocus_blur": c_defocus_blur,
    "imagenet_c.brightness": c_brightness,
    "imagenet_c.saturate": c_saturate,
    "imagenet_c.motion_blur": c_motion_blur,
}
"""The cases with a device version (their ``paper`` level excepted: it stays the study's own call)."""


def has_device_version(case) -> bool:
    return case.augmentation in TORCH_AUGMENTATIONS and case.severity != "paper" and case.strength is None

"""The device augmentations applied to a whole batch in a few tensor ops.

Each image's parameters and noise still come from its own seeded generator, drawn in the order the
one-image versions (``augment_torch.py``) draw them, so the numbers are those of the per-image path
(equal within float tolerance, tested); what is batched is the work: noise stacked, per-image factors
as tensors, blur kernels of different radii zero-padded to one grouped convolution, every warp's
coordinates sampled by one ``grid_sample``.
"""

from __future__ import annotations

import numpy as np

from .tensor_ops import affine_sources, length_scale_of, perspective_inverse, pixel_grid, remap, uniform


def _column(values, x):
    import torch

    return torch.tensor(values, device=x.device, dtype=x.dtype).view(-1, 1, 1, 1)


def _noise(x, gens):
    import torch

    return torch.stack([torch.randn(x.shape[1:], generator=g, device=x.device, dtype=x.dtype) for g in gens])


def _blur(x, sigmas):
    """(B, C, H, W) blurred with image i's sigma, kernels zero-padded to the largest radius (a zero tap
    adds nothing), edges replicated, as ``augment_torch``'s one-image blur."""
    import torch
    import torch.nn.functional as F

    b, c = x.shape[:2]
    radii = [max(1, int(4.0 * s + 0.5)) if s > 0 else 0 for s in sigmas]
    r = max(radii)
    if r == 0:
        return x
    grid = torch.arange(-r, r + 1, device=x.device, dtype=x.dtype)
    kernels = torch.zeros((b, 2 * r + 1), device=x.device, dtype=x.dtype)
    for i, (s, ri) in enumerate(zip(sigmas, radii)):
        if s <= 0:
            kernels[i, r] = 1.0
            continue
        k = torch.exp(-(grid[r - ri : r + ri + 1] ** 2) / (2 * s**2))
        kernels[i, r - ri : r + ri + 1] = k / k.sum()
    weight = kernels.repeat_interleave(c, dim=0)  # (B * C, 2r + 1): image i's kernel for its channels
    y = F.pad(x.reshape(1, b * c, *x.shape[2:]), (r, r, 0, 0), mode="replicate")
    y = F.conv2d(y, weight.view(b * c, 1, 1, -1), groups=b * c)
    y = F.pad(y, (0, 0, r, r), mode="replicate")
    return F.conv2d(y, weight.view(b * c, 1, -1, 1), groups=b * c).reshape(x.shape)


def study_gaussian_noise(x, p, gens):
    # each generator draws its image's std, then its noise: the one-image version's order, per image
    stds = [uniform(g, *p["std"], x.device) * 255.0 for g in gens]
    return _noise(x, gens).mul_(_column(stds, x)).add_(x)


def study_gaussian_blur(x, p, gens):
    return _blur(x, [uniform(g, *p["sigma"], x.device) for g in gens])


def study_brightness_contrast(x, p, gens):
    draws = [
        (uniform(g, -p["limit"], p["limit"], x.device), uniform(g, -p["limit"], p["limit"], x.device)) for g in gens
    ]
    return x * _column([1.0 + a for a, _ in draws], x) + _column([b * 255.0 for _, b in draws], x)


def study_horizontal_flip(x, p, gens):
    import torch

    xs, ys = pixel_grid(x[0])
    grid = torch.stack([x.shape[-1] - 1 - xs, ys, torch.ones_like(xs)], dim=-1)
    return x.flip(-1), grid.expand(len(x), *grid.shape)


def study_shift_scale_rotate(x, p, gens):
    import torch

    xs, ys = pixel_grid(x[0])
    sources = [affine_sources(g, p, xs, ys, x.device) for g in gens]  # each image's draws, its own order
    return remap(x, torch.stack([s[0] for s in sources]), torch.stack([s[1] for s in sources]), reflect=True)


def study_perspective(x, p, gens):
    import torch

    h, w = x.shape[-2:]
    xs, ys = pixel_grid(x[0])
    points_h = torch.stack([xs, ys, torch.ones_like(xs)]).reshape(3, -1)
    inverses = [perspective_inverse(g, p["scale"], h, w, x.device) for g in gens]
    matrices = torch.from_numpy(np.stack(inverses)).to(x.device, x.dtype)  # (B, 3, 3)
    src = matrices @ points_h  # (B, 3, H * W): every image's homography in one product
    return remap(x, (src[:, 0] / src[:, 2]).reshape(-1, h, w), (src[:, 1] / src[:, 2]).reshape(-1, h, w), False)


def study_elastic(x, p, gens):
    import torch

    h, w = x.shape[-2:]
    fields = torch.stack([torch.randn((2, h, w), generator=g, device=x.device, dtype=x.dtype) for g in gens])
    peak = fields.abs().amax(dim=(1, 2, 3), keepdim=True).clamp_min(1e-6)
    fields = _blur(fields / peak, [p["sigma"]] * len(gens)) * p["alpha"]
    xs, ys = pixel_grid(x[0])
    return remap(x, xs + fields[:, 0], ys + fields[:, 1], reflect=True)


# in place where the one-image version's operations allow it, in its order (the same floats): on a
# CPU a batch's temporaries outgrow the cache, and each one costs a pass over memory
def c_gaussian_noise(x, p, gens):
    return _noise(x, gens).mul_(p["c"]).add_(x / 255.0).clamp_(0, 1).mul_(255.0)


def c_speckle_noise(x, p, gens):
    y = x / 255.0
    return _noise(x, gens).mul_(y).mul_(p["c"]).add_(y).clamp_(0, 1).mul_(255.0)


def c_gaussian_blur(x, p, gens):
    return _blur(x / 255.0, [p["c"] * length_scale_of(x)] * len(gens)).clamp(0, 1) * 255.0


def c_contrast(x, p, gens):
    y = x / 255.0
    means = y.mean(dim=(2, 3), keepdim=True)
    return y.sub_(means).mul_(p["c"]).add_(means).clamp_(0, 1).mul_(255.0)


BATCHED = {
    "gaussian_noise": study_gaussian_noise,
    "gaussian_blur": study_gaussian_blur,
    "brightness_contrast": study_brightness_contrast,
    "horizontal_flip": study_horizontal_flip,
    "shift_scale_rotate": study_shift_scale_rotate,
    "perspective": study_perspective,
    "elastic": study_elastic,
    "imagenet_c.gaussian_noise": c_gaussian_noise,
    "imagenet_c.speckle_noise": c_speckle_noise,
    "imagenet_c.gaussian_blur": c_gaussian_blur,
    "imagenet_c.contrast": c_contrast,
}
"""The device augmentations with a batched form; the others are applied image by image."""

"""The tensor pieces the device augmentations share: per-image seeded generators and draws, the
ImageNet-C length scale of a canvas, pixel grids and OpenCV's reflect-101 border."""

from __future__ import annotations


def generators(seeds: list[int], device):
    import torch

    return [torch.Generator(device=device).manual_seed(int(s)) for s in seeds]


def uniform(gen, low: float, high: float, device) -> float:
    import torch

    return float(low + (high - low) * torch.rand((), generator=gen, device=device))


def normal_like(x, gen):
    import torch

    return torch.randn(x.shape, generator=gen, device=x.device, dtype=x.dtype)


def length_scale_of(x) -> float:
    from .imagenet_c import length_scale

    return length_scale(*x.shape[-2:])


def pixel_grid(x):
    import torch

    h, w = x.shape[-2:]
    ys, xs = torch.meshgrid(
        torch.arange(h, device=x.device, dtype=x.dtype), torch.arange(w, device=x.device, dtype=x.dtype), indexing="ij"
    )
    return xs, ys


def reflect101(v, size: int):
    """OpenCV's BORDER_REFLECT_101 on continuous pixel coordinates (edge pixel not repeated)."""
    import torch

    if size == 1:
        return torch.zeros_like(v)
    period = 2.0 * (size - 1)
    v = torch.remainder(v, period)
    return torch.where(v > size - 1, period - v, v)

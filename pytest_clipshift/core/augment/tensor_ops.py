"""The tensor pieces the device augmentations share: per-image seeded generators and draws, the
ImageNet-C length scale of a canvas, pixel grids, OpenCV's reflect-101 border, the geometric warps'
draws and the bilinear remap. One image (``augment_torch``) and a batch (``augment_batched``) both
draw through here, so their draws cannot drift apart."""

from __future__ import annotations

import math

import numpy as np


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


def affine_sources(gen, p, xs, ys, device):
    """shift_scale_rotate's source coordinates for one image: drawn as albumentations' Affine draws
    them (one angle, scale per axis, shift per axis, in that order), about the centre."""
    h, w = xs.shape
    angle = math.radians(uniform(gen, -p["rotate"], p["rotate"], device))
    scale_x, scale_y = (uniform(gen, 1 - p["scale"], 1 + p["scale"], device) for _ in range(2))
    tx = uniform(gen, -p["shift"], p["shift"], device) * w
    ty = uniform(gen, -p["shift"], p["shift"], device) * h
    cx, cy = (w - 1) / 2, (h - 1) / 2
    u, v = xs - cx - tx, ys - cy - ty  # destination = R S (source - c) + c + t, inverted
    cos, sin = math.cos(angle), math.sin(angle)
    return (cos * u + sin * v) / scale_x + cx, (-sin * u + cos * v) / scale_y + cy


def perspective_inverse(gen, scale_range, h: int, w: int, device) -> np.ndarray:
    """Perspective's (3, 3) canvas-to-source homography for one image: corners pulled inward by
    |N(0, scale)| (mod 0.32) of the side, as albumentations' Perspective draws them."""
    import cv2
    import torch

    scale = uniform(gen, *scale_range, device)
    points = np.mod(np.abs(torch.randn((4, 2), generator=gen, device=device).cpu().numpy() * scale), 0.32)
    points[1, 0] = 1.0 - points[1, 0]
    points[2] = 1.0 - points[2]
    points[3, 1] = 1.0 - points[3, 1]
    points = (points * np.array([w, h])).astype(np.float32)
    target = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float32)
    return np.linalg.inv(cv2.getPerspectiveTransform(points, target))


def remap(x, sx, sy, reflect: bool):
    """(B, C, H, W) sampled bilinearly at per-image source coordinates (B, H, W): one grid_sample.
    Outside the canvas is black and invalid unless ``reflect``. Returns the images and their
    (B, H, W, 3) coordinate grids (source x, source y, valid)."""
    import torch
    import torch.nn.functional as F

    h, w = x.shape[-2:]
    if reflect:
        sx, sy = reflect101(sx, w), reflect101(sy, h)
    grid = torch.stack([2 * sx / max(w - 1, 1) - 1, 2 * sy / max(h - 1, 1) - 1], dim=-1)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
    if reflect:
        valid = torch.ones_like(sx)
    else:
        ones = torch.ones_like(x[:, :1])
        valid = F.grid_sample(ones, grid, mode="bilinear", padding_mode="zeros", align_corners=True)[:, 0]
    return out, torch.stack([sx, sy, valid], dim=-1)

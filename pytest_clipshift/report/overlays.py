"""Attention overlays of the images that moved most: clean and augmented side by side, each with its
last-layer attention map laid over it, as one small JPEG (base64) per (augmentation, severity)."""

from __future__ import annotations

import base64
import io

import numpy as np

from ..core.augmentations import apply_augmentation

THUMB = 112


def heat_colours(v: np.ndarray) -> np.ndarray:
    """A perceptually ordered dark-blue -> red -> yellow ramp for values in [0, 1] (no matplotlib)."""
    v = np.clip(v, 0, 1)[..., None]
    stops = np.array([[20, 20, 90], [120, 30, 150], [220, 60, 60], [250, 200, 40]], np.float32)
    pos = v * (len(stops) - 1)
    lo = np.clip(np.floor(pos).astype(int), 0, len(stops) - 2)
    frac = pos - lo
    return stops[lo[..., 0]] * (1 - frac) + stops[lo[..., 0] + 1] * frac


def overlay(image: np.ndarray, heat: np.ndarray | None, size: int = THUMB) -> np.ndarray:
    from PIL import Image

    thumb = np.asarray(Image.fromarray(image).resize((size, size), Image.Resampling.BILINEAR), np.float32)
    if heat is None:
        return thumb.astype(np.uint8)
    h = np.asarray(heat, np.float32)
    h = (h - h.min()) / max(float(h.max() - h.min()), 1e-12)
    big = np.asarray(Image.fromarray((h * 255).astype(np.uint8)).resize((size, size), Image.Resampling.BILINEAR),
                     np.float32) / 255.0
    return np.clip(thumb * 0.55 + heat_colours(big) * 0.45, 0, 255).astype(np.uint8)


def worst_overlays(encoder, images, result, seed: int, k: int = 2, metric: str = "cosine") -> dict | None:
    """The ``k`` images that moved most on ``metric``: a JPEG grid, one row per image, columns
    clean+attention and augmented+attention, with each value written under it."""
    from PIL import Image, ImageDraw

    if metric not in result.values or result.augmentation == "identity":
        return None
    worst = result.worst(metric, k)
    if not worst:
        return None
    idx = [images.names.index(name) for name, _ in worst]
    clean = [encoder.to_canvas(images.arrays[i]) for i in idx]
    augmented = [apply_augmentation(result.augmentation, c, result.severity, seed, images.hashes[i]).image
                 for c, i in zip(clean, idx)]
    try:
        enc = encoder.encode(np.stack(clean + augmented), attention=True)
        maps = enc.attention[:, -1] if enc.attention is not None else [None] * (2 * len(idx))
    except Exception:  # an encoder without attention maps still gets its images shown
        maps = [None] * (2 * len(idx))
    pad = 14
    grid = Image.new("RGB", (2 * THUMB + 6, len(idx) * (THUMB + pad)), (255, 255, 255))
    draw = ImageDraw.Draw(grid)
    for row, (name, value) in enumerate(worst):
        y = row * (THUMB + pad)
        grid.paste(Image.fromarray(overlay(clean[row], maps[row])), (0, y))
        grid.paste(Image.fromarray(overlay(augmented[row], maps[len(idx) + row])), (THUMB + 6, y))
        draw.text((2, y + THUMB), f"{name[:18]}  {metric} {value:.3f}", fill=(20, 20, 20))
    buf = io.BytesIO()
    grid.save(buf, format="JPEG", quality=80, optimize=True)
    return {"format": "jpeg", "b64": base64.b64encode(buf.getvalue()).decode("ascii"),
            "images": [n for n, _ in worst], "metric": metric}

"""Attention overlays of the images that moved most: clean and augmented side by side, each with its
last-layer attention map laid over it and a colour bar for the map's scale, as one JPEG (base64) per
(augmentation, severity)."""

from __future__ import annotations

import base64
import io

import numpy as np

THUMB = 176  # px per image: large enough to see where attention sits
BAR = 14  # colour bar width


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

    image = np.clip(np.rint(image), 0, 255).astype(np.uint8)  # an attacked canvas is float: shown as pixels
    thumb = np.asarray(Image.fromarray(image).resize((size, size), Image.Resampling.BILINEAR), np.float32)
    if heat is None:
        return thumb.astype(np.uint8)
    h = np.asarray(heat, np.float32)
    h = (h - h.min()) / max(float(h.max() - h.min()), 1e-12)
    big = (
        np.asarray(
            Image.fromarray((h * 255).astype(np.uint8)).resize((size, size), Image.Resampling.BILINEAR), np.float32
        )
        / 255.0
    )
    return np.clip(thumb * 0.55 + heat_colours(big) * 0.45, 0, 255).astype(np.uint8)


def render_overlay(views) -> dict:
    """One ``measure.views.WorstViews`` as a JPEG grid: one row per image, columns clean+attention and
    augmented+attention, each value written under it. Draws what was measured; runs nothing."""
    from PIL import Image, ImageDraw

    n = len(views.names)
    maps = list(views.clean_maps) + list(views.augmented_maps)
    pad, gap = 16, 6
    width = 2 * THUMB + gap + gap + BAR + 34
    grid = Image.new("RGB", (width, n * (THUMB + pad) + 12), (255, 255, 255))
    draw = ImageDraw.Draw(grid)
    draw.text((0, 0), "clean", fill=(60, 60, 60))
    draw.text((THUMB + gap, 0), "augmented", fill=(60, 60, 60))
    chars = (2 * THUMB + gap) // 6  # the default bitmap font is about 6 px a character
    for row, (name, value) in enumerate(zip(views.names, views.values)):
        y = 12 + row * (THUMB + pad)
        grid.paste(Image.fromarray(overlay(views.clean[row], views.clean_maps[row])), (0, y))
        grid.paste(Image.fromarray(overlay(views.augmented[row], views.augmented_maps[row])), (THUMB + gap, y))
        label = f"{views.metric} {value:.3f}  {name}"
        draw.text((2, y + THUMB + 2), label if len(label) <= chars else label[: chars - 3] + "...", fill=(20, 20, 20))
    if any(m is not None for m in maps):  # the colour bar: each map is min-max scaled, so low..high
        x0, top, height = 2 * THUMB + 2 * gap, 12, n * (THUMB + pad) - pad
        ramp = heat_colours(np.linspace(1, 0, height)[:, None].repeat(BAR, axis=1)).astype(np.uint8)
        grid.paste(Image.fromarray(ramp), (x0, top))
        draw.text((x0 + BAR + 3, top), "high", fill=(60, 60, 60))
        draw.text((x0 + BAR + 3, top + height - 10), "low", fill=(60, 60, 60))
    buf = io.BytesIO()
    grid.save(buf, format="JPEG", quality=72, optimize=True)
    return {
        "format": "jpeg",
        "b64": base64.b64encode(buf.getvalue()).decode("ascii"),
        "images": list(views.names),
        "values": [round(float(v), 6) for v in views.values],
        "metric": views.metric,
    }

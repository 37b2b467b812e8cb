"""An independent scene renderer: the demo model's accuracy is measured here, not on its training data.

It shares no code, no constants and no random stream with ``scenes.py``: OpenCV drawing (anti-aliased
polygons and ellipses) instead of supersampled PIL, its own shade of every colour, equilateral
triangles and its own cross proportions, free geometry (any position, 15% to 70% of the frame,
any rotation, stretched), backgrounds the training renderer never draws (value noise,
checkerboards, rings, two-colour gradients in HSV) or draws from other photographs (scikit-image
photos that training never crops), and elliptical occluders.
"""

from __future__ import annotations

import math

import numpy as np

# its own idea of each colour (hue in degrees, saturation, value)
PALETTE_HSV = {
    "red": (356, 0.82, 0.84),
    "green": (130, 0.70, 0.62),
    "blue": (226, 0.82, 0.82),
    "yellow": (50, 0.80, 0.92),
    "purple": (282, 0.70, 0.68),
}
FORMS = ("circle", "square", "triangle", "cross")
HELD_OUT_PHOTOS = ("immunohistochemistry", "retina", "hubble_deep_field", "coins", "page", "text", "cell", "clock")


def _hsv_to_rgb(h: float, s: float, v: float) -> np.ndarray:
    c = v * s
    x = c * (1 - abs((h / 60) % 2 - 1))
    m = v - c
    sector = int(h // 60) % 6
    r, g, b = [(c, x, 0), (x, c, 0), (0, c, x), (0, x, c), (x, 0, c), (c, 0, x)][sector]
    return np.array([r + m, g + m, b + m]) * 255


def _photo(name: str) -> np.ndarray:
    import skimage.data

    image = np.asarray(getattr(skimage.data, name)())
    return np.dstack([image] * 3) if image.ndim == 2 else image[..., :3]


def _backdrop(rng: np.random.Generator, size: int) -> np.ndarray:
    import cv2

    kind = rng.integers(0, 6)
    hue = rng.uniform(0, 360)
    a = _hsv_to_rgb(hue, rng.uniform(0, 0.3), rng.uniform(0.08, 0.95))
    b = _hsv_to_rgb((hue + rng.uniform(60, 300)) % 360, rng.uniform(0, 0.3), rng.uniform(0.08, 0.95))
    ys, xs = np.meshgrid(np.linspace(0, 1, size), np.linspace(0, 1, size), indexing="ij")
    if kind == 0:  # value noise: a coarse random lattice, smoothly upscaled
        cells = int(rng.integers(3, 9))
        lattice = rng.random((cells, cells)).astype(np.float32)
        t = cv2.resize(lattice, (size, size), interpolation=cv2.INTER_CUBIC).clip(0, 1)
    elif kind == 1:  # checkerboard
        n = int(rng.integers(3, 10))
        t = ((np.floor(xs * n) + np.floor(ys * n)) % 2).astype(np.float32)
    elif kind == 2:  # rings around a random centre
        cx, cy = rng.random(2)
        t = 0.5 + 0.5 * np.cos(np.hypot(xs - cx, ys - cy) * rng.uniform(15, 45))
    elif kind == 3:  # two-colour gradient
        theta = rng.uniform(0, 2 * math.pi)
        t = xs * math.cos(theta) + ys * math.sin(theta)
        t = (t - t.min()) / (t.max() - t.min())
    elif kind == 4:  # a held-out photograph, cropped and toned down
        photo = _photo(HELD_OUT_PHOTOS[int(rng.integers(0, len(HELD_OUT_PHOTOS)))]).astype(np.float32)
        side = int(min(photo.shape[:2]) * rng.uniform(0.3, 1.0))
        y0 = int(rng.integers(0, photo.shape[0] - side + 1))
        x0 = int(rng.integers(0, photo.shape[1] - side + 1))
        crop = cv2.resize(photo[y0 : y0 + side, x0 : x0 + side], (size, size), interpolation=cv2.INTER_AREA)
        mean = crop.mean(axis=(0, 1))
        return np.clip(mean + (crop - mean) * rng.uniform(0.4, 0.9), 0, 255).astype(np.uint8)
    else:  # flat
        t = np.zeros((size, size), np.float32)
    image = a + (b - a) * t[..., None]
    return np.clip(image, 0, 255).astype(np.uint8)


def _form_points(form: str, cx: float, cy: float, width: float, stretch: float, turn: float) -> np.ndarray:
    """Vertices in pixels, built in polar form around the centre."""
    if form == "square":
        unit = [(-0.5, -0.5), (0.5, -0.5), (0.5, 0.5), (-0.5, 0.5)]
    elif form == "triangle":  # equilateral, width = side
        r = 1 / math.sqrt(3)
        unit = [
            (r * math.cos(math.radians(-90 + 120 * k)), r * math.sin(math.radians(-90 + 120 * k))) for k in range(3)
        ]
    else:  # a plus sign whose arms are 36% of its width thick
        t = 0.18
        unit = [
            (-t, -0.5),
            (t, -0.5),
            (t, -t),
            (0.5, -t),
            (0.5, t),
            (t, t),
            (t, 0.5),
            (-t, 0.5),
            (-t, t),
            (-0.5, t),
            (-0.5, -t),
            (-t, -t),
        ]
    points = []
    for ux, uy in unit:
        ux, uy = ux * width * stretch, uy * width / stretch
        points.append((cx + ux * math.cos(turn) - uy * math.sin(turn), cy + ux * math.sin(turn) + uy * math.cos(turn)))
    return np.array(points)


def draw_scene(rng: np.random.Generator, size: int = 64) -> tuple[np.ndarray, str]:
    """One single-object scene as (uint8 HxWx3 image, label such as ``"red circle"``)."""
    import cv2

    colour = list(PALETTE_HSV)[int(rng.integers(0, len(PALETTE_HSV)))]
    form = FORMS[int(rng.integers(0, len(FORMS)))]
    image = _backdrop(rng, size)
    width = rng.uniform(0.15, 0.70) * size
    stretch = math.sqrt(math.exp(rng.uniform(-0.28, 0.28)))
    turn = rng.uniform(0, 2 * math.pi)
    reach = width * 0.6 * max(stretch, 1 / stretch)
    cx, cy = (rng.uniform(reach, size - reach) if reach < size / 2 else size / 2 for _ in range(2))
    h, s, v = PALETTE_HSV[colour]
    fill = _hsv_to_rgb(
        (h + rng.uniform(-6, 6)) % 360, min(1.0, s * rng.uniform(0.85, 1.15)), min(1.0, v * rng.uniform(0.85, 1.1))
    )
    fill = tuple(float(c) for c in fill)
    shift = 4  # OpenCV's fixed-point sub-pixel precision
    scale = 1 << shift
    if form == "circle":
        axes = (int(width / 2 * stretch * scale), int(width / 2 / stretch * scale))
        cv2.ellipse(
            image, (int(cx * scale), int(cy * scale)), axes, math.degrees(turn), 0, 360, fill, -1, cv2.LINE_AA, shift
        )
    else:
        points = np.rint(_form_points(form, cx, cy, width, stretch, turn) * scale).astype(np.int32)
        cv2.fillPoly(image, [points], fill, cv2.LINE_AA, shift)
    if rng.random() < 0.3:  # a neutral elliptical occluder over an edge of the object
        grey = float(rng.choice([15.0, 120.0, 240.0]))
        phi = rng.uniform(0, 2 * math.pi)
        ox, oy = cx + math.cos(phi) * width * 0.5, cy + math.sin(phi) * width * 0.5
        axes = (int(width * rng.uniform(0.12, 0.22) * scale), int(width * rng.uniform(0.12, 0.22) * scale))
        cv2.ellipse(image, (int(ox * scale), int(oy * scale)), axes, 0, 0, 360, (grey,) * 3, -1, cv2.LINE_AA, shift)
    return image, f"{colour} {form}"


def draw_scenes(count: int, seed: int, size: int = 64) -> tuple[np.ndarray, list[str]]:
    """``count`` independent single-object scenes (N x size x size x 3) and their labels."""
    rng = np.random.default_rng([seed, 777])
    pairs = [draw_scene(rng, size) for _ in range(count)]
    return np.stack([p[0] for p in pairs]), [p[1] for p in pairs]

"""Procedurally generated, captioned scenes: the demo model's whole world.

A scene holds one to three coloured shapes (circle, square, triangle, cross) anywhere in the frame,
each 15% to 70% of the frame across, rotated, stretched and re-shaded, over a flat, gradient,
noise, stripe or photo-crop background, sometimes partly covered by a neutral occluder. The first
object is the scene's label and the largest. Everything is drawn from an explicit
``numpy.random.Generator``, so a seed fixes every pixel and every caption.

This is the renderer the demo model is trained on (PIL polygons, supersampled). Its accuracy is
measured on ``independent.py``, a renderer that shares no code with this one.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, lru_cache

import numpy as np
from PIL import Image, ImageDraw

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (215, 40, 40),
    "green": (40, 165, 60),
    "blue": (45, 85, 220),
    "yellow": (235, 205, 35),
    "purple": (145, 55, 185),
}
SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "cross")
SIZE_WORDS: tuple[str, ...] = ("small", "large")
POSITION_WORDS: dict[str, tuple[float, float]] = {
    "center": (0.5, 0.5),
    "left": (0.2, 0.5),
    "right": (0.8, 0.5),
    "top": (0.5, 0.2),
    "bottom": (0.5, 0.8),
}
LABELS: tuple[tuple[str, str], ...] = tuple((c, s) for c in COLOURS for s in SHAPES)
"""Every (colour, shape) pair: the zero-shot label space of the demo model."""

PROMPT_TEMPLATE = "a photo of a {colour} {shape}"
MAIN_SIZE = (0.15, 0.70)  # the main object's extent as a fraction of the frame side
BACKGROUNDS = ("flat", "gradient", "noise", "stripes", "photo")
# scikit-image photographs the training renderer crops backgrounds from; the independent
# renderer uses a disjoint set, so its photo backgrounds are never seen in training
TRAINING_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "camera", "moon", "brick", "grass", "gravel")


def label_prompts() -> list[str]:
    """The zero-shot prompt for each entry of ``LABELS``, in the same order."""
    return [PROMPT_TEMPLATE.format(colour=c, shape=s) for c, s in LABELS]


@dataclass(frozen=True)
class SceneObject:
    colour: str
    shape: str
    x: float  # centre, fraction of the side
    y: float
    extent: float  # width of the unrotated, unstretched shape, fraction of the side
    angle: float  # degrees
    aspect: float  # width / height stretch
    shade: tuple[int, int, int]  # the drawn RGB (the named colour, jittered)

    @property
    def size(self) -> str:
        return "large" if self.extent >= 0.35 else "small"

    @property
    def position(self) -> str:
        return min(
            POSITION_WORDS, key=lambda p: (POSITION_WORDS[p][0] - self.x) ** 2 + (POSITION_WORDS[p][1] - self.y) ** 2
        )


@dataclass(frozen=True)
class Scene:
    objects: tuple[SceneObject, ...]
    background: str  # one of BACKGROUNDS
    colours: tuple[tuple[int, int, int], tuple[int, int, int]]  # the background's two colours
    texture_seed: int
    occluded: bool

    @property
    def label(self) -> str:
        """The zero-shot label of the scene's first (main) object, e.g. ``"red circle"``."""
        first = self.objects[0]
        return f"{first.colour} {first.shape}"


def caption_vocabulary() -> list[str]:
    """Every word a caption or prompt can contain."""
    words = {"a", "photo", "of", "and", "the", "on", "with", "picture", "an", "image"}
    words |= set(COLOURS) | set(SHAPES) | set(SIZE_WORDS) | set(POSITION_WORDS)
    return sorted(words)


def _muted_colour(rng: np.random.Generator) -> tuple[int, int, int]:
    """A background colour: any brightness, little saturation (so no shape colour vanishes)."""
    grey = rng.uniform(15, 240)
    tint = rng.uniform(-35, 35, size=3)
    return tuple(int(v) for v in np.clip(grey + tint, 0, 255))


def _object(rng: np.random.Generator, extent_range: tuple[float, float]) -> SceneObject:
    colour = str(rng.choice(list(COLOURS)))
    extent = float(rng.uniform(*extent_range))
    aspect = float(np.exp(rng.uniform(np.log(0.75), np.log(1.33))))
    half = extent / 2 * max(aspect, 1 / aspect) * 1.1  # room for any rotation
    x, y = (float(rng.uniform(half, 1 - half)) if half < 0.5 else 0.5 for _ in range(2))
    gain = rng.uniform(0.8, 1.12)
    shade = tuple(int(v) for v in np.clip(np.asarray(COLOURS[colour]) * gain + rng.uniform(-18, 18, size=3), 0, 255))
    return SceneObject(colour, str(rng.choice(SHAPES)), x, y, extent, float(rng.uniform(0, 360)), aspect, shade)


def sample_scene(rng: np.random.Generator, max_objects: int = 3) -> Scene:
    """Draw one scene description. Secondary objects are smaller than the main one."""
    n = 1 + int(rng.choice(max_objects, p=_object_count_probs(max_objects)))
    main = _object(rng, MAIN_SIZE)
    objects = [main]
    for _ in range(n - 1):
        for _attempt in range(8):  # keep secondary objects off the main one
            other = _object(rng, (0.12, max(0.13, min(0.3, main.extent * 0.7))))
            gap = np.hypot(other.x - main.x, other.y - main.y)
            if gap > (main.extent + other.extent) * 0.6:
                objects.append(other)
                break
    background = str(rng.choice(BACKGROUNDS))
    colours = (_muted_colour(rng), _muted_colour(rng))
    return Scene(tuple(objects), background, colours, int(rng.integers(0, 2**31 - 1)), bool(rng.random() < 0.3))


def _object_count_probs(max_objects: int) -> list[float]:
    base = [0.6, 0.3, 0.10][:max_objects]
    total = sum(base)
    return [b / total for b in base]


def caption(scene: Scene, rng: np.random.Generator) -> str:
    """A templated caption naming every object of the scene."""
    parts = []
    for i, obj in enumerate(scene.objects):
        template = int(rng.integers(0, 4))
        if template == 0:
            parts.append(f"a {obj.colour} {obj.shape}")
        elif template == 1:
            parts.append(f"a {obj.size} {obj.colour} {obj.shape}")
        elif template == 2:
            parts.append(f"a {obj.colour} {obj.shape} on the {obj.position}")
        else:
            parts.append(f"a {obj.colour} {obj.shape}" if i else f"a photo of a {obj.colour} {obj.shape}")
    return " and ".join(parts)


@lru_cache(maxsize=8)
def _unit_grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    return yy, xx


@cache
def _photo(name: str) -> np.ndarray:
    import skimage.data

    image = np.asarray(getattr(skimage.data, name)())
    return np.repeat(image[..., None], 3, axis=-1) if image.ndim == 2 else image[..., :3]


def _background(scene: Scene, size: int) -> np.ndarray:
    rng = np.random.default_rng(scene.texture_seed)
    c0, c1 = (np.asarray(c, dtype=np.float32) for c in scene.colours)
    yy, xx = _unit_grid(size)
    if scene.background == "flat":
        return np.broadcast_to(c0, (size, size, 3)).astype(np.uint8)
    if scene.background == "gradient":
        d = rng.uniform(-1, 1, size=2)
        t = d[0] * xx + d[1] * yy
        t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
        image = c0 + (c1 - c0) * t[..., None]
    elif scene.background == "noise":
        image = c0 + rng.standard_normal((size, size, 1), dtype=np.float32) * rng.uniform(5, 30)
    elif scene.background == "stripes":
        angle, freq = rng.uniform(0, np.pi), rng.uniform(3, 12)
        t = 0.5 + 0.5 * np.sin((np.cos(angle) * xx + np.sin(angle) * yy) * freq * 2 * np.pi)
        image = c0 + (c1 - c0) * t[..., None]
    else:  # a crop of a training photograph, scaled to the frame, dimmed towards its mean
        photo = _photo(str(rng.choice(TRAINING_PHOTOS)))
        h, w = photo.shape[:2]
        side = int(rng.uniform(0.25, 1.0) * min(h, w))
        top, left = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
        crop = Image.fromarray(photo[top : top + side, left : left + side]).resize(
            (size, size), Image.Resampling.BILINEAR
        )
        image = np.asarray(crop, dtype=np.float32)
        image = image.mean() + (image - image.mean()) * rng.uniform(0.5, 1.0)
    return np.clip(image, 0, 255).astype(np.uint8)


def _outline(shape: str) -> np.ndarray:
    """The shape's outline in unit coordinates (width 1, centred on the origin)."""
    if shape == "circle":
        t = np.linspace(0, 2 * np.pi, 48, endpoint=False)
        return np.stack([np.cos(t), np.sin(t)], axis=1) * 0.5
    if shape == "square":
        return np.array([(-1, -1), (1, -1), (1, 1), (-1, 1)], dtype=np.float64) * 0.5
    if shape == "triangle":
        return np.array([(0, -0.5), (0.5, 0.4), (-0.5, 0.4)], dtype=np.float64)
    if shape == "cross":
        w = 0.19
        return np.array(
            [
                (-w, -0.5),
                (w, -0.5),
                (w, -w),
                (0.5, -w),
                (0.5, w),
                (w, w),
                (w, 0.5),
                (-w, 0.5),
                (-w, w),
                (-0.5, w),
                (-0.5, -w),
                (-w, -w),
            ],
            dtype=np.float64,
        )
    raise ValueError(f"unknown shape {shape!r}; valid: {', '.join(SHAPES)}")


def _polygon(obj: SceneObject, side: float) -> list[tuple[float, float]]:
    points = _outline(obj.shape) * obj.extent * np.array([obj.aspect**0.5, obj.aspect**-0.5])
    a = np.deg2rad(obj.angle)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    points = points @ rot.T + np.array([obj.x, obj.y])
    return [(float(px * side), float(py * side)) for px, py in points]


def render_scene(scene: Scene, size: int = 64, supersample: int = 2) -> np.ndarray:
    """Draw ``scene`` as a uint8 HxWx3 array of side ``size`` (the training renderer)."""
    big = size * supersample
    # the texture is computed at the output size (the costly part) and only upscaled for drawing
    canvas = Image.fromarray(_background(scene, size)).resize((big, big), Image.Resampling.BILINEAR)
    draw = ImageDraw.Draw(canvas)
    for obj in reversed(scene.objects):  # the main object last: on top
        draw.polygon(_polygon(obj, big), fill=obj.shade)
    if scene.occluded:  # a neutral bar over part of the main object (at most about a quarter of it)
        rng = np.random.default_rng(scene.texture_seed + 1)
        main = scene.objects[0]
        grey = int(rng.choice([20, 128, 235]))
        a = rng.uniform(0, 2 * np.pi)
        cx, cy = main.x + np.cos(a) * main.extent * 0.45, main.y + np.sin(a) * main.extent * 0.45
        half_w, half_h = main.extent * rng.uniform(0.1, 0.2), main.extent * rng.uniform(0.2, 0.4)
        draw.rectangle(
            [(cx - half_w) * big, (cy - half_h) * big, (cx + half_w) * big, (cy + half_h) * big], fill=(grey,) * 3
        )
    if supersample > 1:
        canvas = canvas.resize((size, size), Image.Resampling.BICUBIC)
    return np.asarray(canvas, dtype=np.uint8).copy()


def describe_scenes(count: int, seed: int, max_objects: int = 3) -> list[tuple[str, Scene]]:
    """The names and descriptions ``generate_scenes`` renders, without rendering: each image can then
    be drawn when it is needed (``render_scene``) and never held all at once."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        scene = sample_scene(rng, max_objects=max_objects)
        out.append((f"scene_{i:04d}_{scene.label.replace(' ', '_')}.png", scene))
    return out


def generate_scenes(
    count: int, seed: int, size: int = 224, max_objects: int = 3
) -> list[tuple[str, np.ndarray, Scene]]:
    """``count`` named scenes (name, uint8 image, description) from ``seed``: the ``demo-scenes`` set."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        scene = sample_scene(rng, max_objects=max_objects)
        name = f"scene_{i:04d}_{scene.label.replace(' ', '_')}.png"
        out.append((name, render_scene(scene, size=size), scene))
    return out

"""Procedurally generated, captioned scenes: the demo model's whole world.

Scenes hold one to three coloured shapes (circle, square, triangle, cross) of two sizes at one of
five positions over a textured background. Everything is drawn from an explicit
``numpy.random.Generator``, so a seed fixes every pixel and every caption.

Two renderers exist. ``render_scene`` (PIL polygons, supersampled) is what the demo model is
trained on; ``render_scene_alt`` (numpy masks, hard edges, different textures) never appears in
training and measures how far the model generalises beyond the renderer it saw.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

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
SIZES: dict[str, float] = {"small": 0.12, "large": 0.26}  # half-extent as a fraction of the side
POSITIONS: dict[str, tuple[float, float]] = {
    "center": (0.5, 0.5),
    "left": (0.2, 0.5),
    "right": (0.8, 0.5),
    "top": (0.5, 0.2),
    "bottom": (0.5, 0.8),
}
LABELS: tuple[tuple[str, str], ...] = tuple((c, s) for c in COLOURS for s in SHAPES)
"""Every (colour, shape) pair: the zero-shot label space of the demo model."""

PROMPT_TEMPLATE = "a photo of a {colour} {shape}"


def label_prompts() -> list[str]:
    """The zero-shot prompt for each entry of ``LABELS``, in the same order."""
    return [PROMPT_TEMPLATE.format(colour=c, shape=s) for c, s in LABELS]


@dataclass(frozen=True)
class SceneObject:
    colour: str
    shape: str
    size: str
    position: str


@dataclass(frozen=True)
class Scene:
    objects: tuple[SceneObject, ...]
    background: tuple[int, int, int]
    texture: str
    texture_seed: int

    @property
    def label(self) -> str:
        """The zero-shot label of the scene's first (main) object, e.g. ``"red circle"``."""
        first = self.objects[0]
        return f"{first.colour} {first.shape}"


def caption_vocabulary() -> list[str]:
    """Every word a caption or prompt can contain."""
    words = {"a", "photo", "of", "and", "the", "on", "with", "picture", "an", "image"}
    words |= set(COLOURS) | set(SHAPES) | set(SIZES) | set(POSITIONS)
    return sorted(words)


def sample_scene(rng: np.random.Generator, max_objects: int = 3) -> Scene:
    """Draw one scene description. Objects never share a position."""
    n = 1 + int(rng.choice(max_objects, p=_object_count_probs(max_objects)))
    positions = rng.permutation(list(POSITIONS))[:n]
    objects = tuple(
        SceneObject(
            colour=str(rng.choice(list(COLOURS))),
            shape=str(rng.choice(SHAPES)),
            size=str(rng.choice(list(SIZES))) if n == 1 else "small",
            position=str(pos),
        )
        for pos in positions
    )
    grey = int(rng.integers(70, 200))
    tint = rng.integers(-18, 19, size=3)
    background = tuple(int(np.clip(grey + t, 0, 255)) for t in tint)
    texture = str(rng.choice(["noise", "stripes", "gradient"]))
    return Scene(objects, background, texture, int(rng.integers(0, 2**31 - 1)))


def _object_count_probs(max_objects: int) -> list[float]:
    base = [0.65, 0.25, 0.10][:max_objects]
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


def _background(scene: Scene, size: int, alternative: bool) -> np.ndarray:
    rng = np.random.default_rng(scene.texture_seed)
    base = np.asarray(scene.background, dtype=np.float32)
    yy, xx = _unit_grid(size)
    if alternative:  # checkerboard and rings: textures the training renderer never draws
        kind = scene.texture_seed % 2
        field = ((np.floor(xx * 8) + np.floor(yy * 8)) % 2) * 2 - 1 if kind else np.sin(
            ((xx - 0.5) ** 2 + (yy - 0.5) ** 2) * 120
        )
        field = field[..., None] * 12
    elif scene.texture == "noise":
        field = rng.standard_normal((size, size, 1), dtype=np.float32) * 10
    elif scene.texture == "stripes":
        angle = rng.uniform(0, np.pi)
        freq = rng.uniform(8, 20)
        field = np.sin((np.cos(angle) * xx + np.sin(angle) * yy) * freq * np.pi)[..., None] * 14
    else:
        direction = rng.uniform(-1, 1, size=2)
        field = ((direction[0] * xx + direction[1] * yy)[..., None] - 0.5) * 50
    return np.clip(base + field, 0, 255).astype(np.uint8)


def _shape_polygon(shape: str, cx: float, cy: float, r: float) -> list[tuple[float, float]]:
    if shape == "square":
        return [(cx - r, cy - r), (cx + r, cy - r), (cx + r, cy + r), (cx - r, cy + r)]
    if shape == "triangle":
        return [(cx, cy - r * 1.1), (cx + r * 1.1, cy + r * 0.9), (cx - r * 1.1, cy + r * 0.9)]
    if shape == "cross":
        w = r * 0.38
        return [
            (cx - w, cy - r), (cx + w, cy - r), (cx + w, cy - w), (cx + r, cy - w),
            (cx + r, cy + w), (cx + w, cy + w), (cx + w, cy + r), (cx - w, cy + r),
            (cx - w, cy + w), (cx - r, cy + w), (cx - r, cy - w), (cx - w, cy - w),
        ]
    raise ValueError(f"unknown shape {shape!r}; valid: {', '.join(SHAPES)}")


def render_scene(scene: Scene, size: int = 64, supersample: int = 2) -> np.ndarray:
    """Draw ``scene`` as a uint8 HxWx3 array of side ``size`` (the training renderer)."""
    big = size * supersample
    # the texture is computed at the output size (the costly part) and only upscaled for drawing
    canvas = Image.fromarray(_background(scene, size, alternative=False)).resize((big, big), Image.Resampling.BILINEAR)
    draw = ImageDraw.Draw(canvas)
    for obj in scene.objects:
        fx, fy = POSITIONS[obj.position]
        cx, cy, r = fx * big, fy * big, SIZES[obj.size] * big
        colour = COLOURS[obj.colour]
        if obj.shape == "circle":
            draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=colour)
        else:
            draw.polygon(_shape_polygon(obj.shape, cx, cy, r), fill=colour)
    if supersample > 1:
        canvas = canvas.resize((size, size), Image.Resampling.BICUBIC)
    return np.asarray(canvas, dtype=np.uint8).copy()


def render_scene_alt(scene: Scene, size: int = 64) -> np.ndarray:
    """A second, independent renderer: numpy masks, hard edges, unseen background textures."""
    image = _background(scene, size, alternative=True).astype(np.float32)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    for obj in scene.objects:
        fx, fy = POSITIONS[obj.position]
        cx, cy, r = fx * size, fy * size, SIZES[obj.size] * size
        dx, dy = xx - cx, yy - cy
        if obj.shape == "circle":
            mask = dx**2 + dy**2 <= r**2
        elif obj.shape == "square":
            mask = (np.abs(dx) <= r) & (np.abs(dy) <= r)
        elif obj.shape == "triangle":
            top, bottom, half = -1.1 * r, 0.9 * r, 1.1 * r
            frac = (dy - top) / (bottom - top)
            mask = (dy >= top) & (dy <= bottom) & (np.abs(dx) <= frac * half)
        else:
            w = r * 0.38
            mask = ((np.abs(dx) <= w) & (np.abs(dy) <= r)) | ((np.abs(dy) <= w) & (np.abs(dx) <= r))
        # slightly shifted shades: the model must generalise over exact RGB values too
        shade = np.clip(np.asarray(COLOURS[obj.colour], dtype=np.float32) * 0.92 + 12, 0, 255)
        image[mask] = shade
    return image.astype(np.uint8)


def generate_scenes(count: int, seed: int, size: int = 224, max_objects: int = 3) -> list[tuple[str, np.ndarray, Scene]]:
    """``count`` named scenes (name, uint8 image, description) from ``seed``: the ``demo-scenes`` set."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        scene = sample_scene(rng, max_objects=max_objects)
        name = f"scene_{i:04d}_{scene.label.replace(' ', '_')}.png"
        out.append((name, render_scene(scene, size=size), scene))
    return out

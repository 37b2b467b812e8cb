"""What pins an augmentation's output: a few numbers per (augmentation, severity, image) that move
when a pixel formula, a severity row, a length scale or a seed changes, recorded by
``scripts/pin_augmentations.py`` in ``augmentation_pins.json`` and checked by
``test_augmentation_pins.py``."""

from __future__ import annotations

import numpy as np

PINS_FILE = "augmentation_pins.json"
# the study's size, half of it (lengths scale), non-square, sides at a power of two and one past it
# (fog's and frost's height maps take the next power of two: a map rounded the wrong way moves the bytes),
# and the smallest side supported, where the blurs' scaled radii round down to 1
SIZES = ((224, 224), (112, 112), (96, 160), (128, 96), (129, 64), (32, 48))
SEED = 0


def pin_images() -> list[np.ndarray]:
    """scikit-image's photographs (shipped in its wheel), resized with PIL's bicubic."""
    from PIL import Image

    from pytest_clipshift.core.data.images import load_image_set

    arrays = load_image_set("samples", max_images=len(SIZES)).arrays
    return [np.asarray(Image.fromarray(a).resize((w, h), Image.BICUBIC)) for a, (h, w) in zip(arrays, SIZES)]


def block_means(x: np.ndarray, blocks: int = 3) -> list[float]:
    h, w = x.shape[:2]
    return [
        float(x[i * h // blocks : (i + 1) * h // blocks, j * w // blocks : (j + 1) * w // blocks].mean())
        for i in range(blocks)
        for j in range(blocks)
    ]


# the libraries that compute augmented pixels: with these versions the pinned bytes must be exact
PIXEL_LIBRARIES = ("numpy", "opencv-python-headless", "albumentations", "scipy", "scikit-image", "pillow")


def pixel_toolchain() -> dict[str, str]:
    import platform
    from importlib.metadata import PackageNotFoundError, version

    found = {"machine": platform.machine()}
    for lib in PIXEL_LIBRARIES:
        try:
            found[lib] = version(lib)
        except PackageNotFoundError:
            pass
    return found


def signature(name: str, severity: int, image: np.ndarray, key: str) -> dict:
    """Mean absolute change, per-channel output means, 3x3 block means of the change, for a
    geometric augmentation the means of the coordinate grid it returns, and a hash of the bytes."""
    import hashlib

    from pytest_clipshift.core.augment.augmentations import apply_augmentation

    out = apply_augmentation(name, image, severity, SEED, key)
    change = np.abs(out.image.astype(np.float64) - image).mean(axis=2)
    pin = {
        "change": round(float(change.mean()), 4),
        "channels": [round(float(out.image[..., c].mean()), 4) for c in range(3)],
        "blocks": [round(v, 4) for v in block_means(change)],
        "changed": bool(out.changed),
        "bytes": hashlib.sha256(np.ascontiguousarray(out.image).tobytes()).hexdigest()[:16],
    }
    if out.coords is not None:
        pin["coords"] = [round(float(out.coords[..., c].mean()), 4) for c in range(out.coords.shape[-1])]
        grid = np.ascontiguousarray(out.coords, dtype=np.float32)
        pin["coords_bytes"] = hashlib.sha256(grid.tobytes()).hexdigest()[:16]
    return pin

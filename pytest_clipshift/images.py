"""Loading and validating images, and the named built-in image sets.

Every image becomes an 8-bit RGB ``numpy`` array, whatever its mode: grey, grey+alpha, palette,
RGBA (composited over white), 16-bit and 32-bit integer grey (scaled, not clipped), float, CMYK.
"""

from __future__ import annotations

import glob as globmod
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import ConfigError, ImageError

MIN_SIDE = 8
MAX_PIXELS = 50_000_000
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
BUILTIN_SETS = ("samples", "demo-scenes")


@dataclass
class ImageSet:
    """Named uint8 RGB images, in a fixed order that every per-image result follows."""

    names: list[str]
    arrays: list[np.ndarray]
    source: str
    labels: list[str] | None = None  # zero-shot labels, where the set carries them
    hashes: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # files left out: not images by their extension

    def __post_init__(self) -> None:
        if len(self.names) != len(self.arrays):
            raise ValueError("names and arrays differ in length")
        if not self.hashes:
            self.hashes = [image_hash(a) for a in self.arrays]

    def __len__(self) -> int:
        return len(self.names)

    @property
    def digest(self) -> str:
        """One hash over every image's bytes and name, in order: identifies the set in results."""
        h = hashlib.sha256()
        for name, ih in zip(self.names, self.hashes):
            h.update(name.encode())
            h.update(ih.encode())
        return h.hexdigest()[:16]

    def subset(self, names: list[str] | None = None, max_images: int | None = None) -> "ImageSet":
        index = list(range(len(self)))
        if names is not None:
            missing = [n for n in names if n not in self.names]
            if missing:
                raise ConfigError(f"images {missing} are not in the image set {self.source!r}; it holds {self.names[:10]}")
            index = [self.names.index(n) for n in names]
        if max_images is not None:
            index = index[:max_images]
        return ImageSet(
            [self.names[i] for i in index], [self.arrays[i] for i in index], self.source,
            None if self.labels is None else [self.labels[i] for i in index], [self.hashes[i] for i in index],
            list(self.skipped),
        )


def image_hash(array: np.ndarray) -> str:
    h = hashlib.sha256()
    h.update(str(array.shape).encode())
    h.update(np.ascontiguousarray(array).tobytes())
    return h.hexdigest()[:24]


def to_rgb8(image, name: str = "<array>") -> np.ndarray:
    """Convert a PIL image or an array of any common mode to uint8 HxWx3, validating its size."""
    if isinstance(image, np.ndarray):
        array = _array_to_rgb8(image, name)
    else:
        array = _pil_to_rgb8(image, name)
    _check_size(array.shape[1], array.shape[0], name)
    return np.ascontiguousarray(array)


def _array_to_rgb8(a: np.ndarray, name: str) -> np.ndarray:
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3 or a.shape[2] not in (1, 3, 4):
        raise ImageError(name, f"array of shape {a.shape} is not HxW, HxWx1, HxWx3 or HxWx4")
    if a.size == 0:
        raise ImageError(name, "array is empty")
    if a.dtype == np.uint8:
        out = a
    elif a.dtype == np.uint16:
        out = (a.astype(np.uint32) * 255 + 32767) // 65535
    elif np.issubdtype(a.dtype, np.floating):
        if not np.isfinite(a).all():
            raise ImageError(name, "float array holds NaN or inf")
        if a.min() < 0 or a.max() > 1:
            raise ImageError(name, f"float array values span [{a.min():.3g}, {a.max():.3g}]; expected [0, 1]")
        out = np.rint(a * 255)
    else:
        raise ImageError(name, f"array dtype {a.dtype} is not uint8, uint16 or float in [0, 1]")
    out = out.astype(np.uint8)
    if out.shape[2] == 4:
        out = _composite_over_white(out[..., :3], out[..., 3])
    elif out.shape[2] == 1:
        out = np.repeat(out, 3, axis=2)
    return out


def _composite_over_white(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    a = alpha.astype(np.float32)[..., None] / 255.0
    return np.rint(rgb.astype(np.float32) * a + 255.0 * (1 - a)).astype(np.uint8)


def _pil_to_rgb8(img, name: str) -> np.ndarray:
    _check_size(img.width, img.height, name)
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        a = np.asarray(img)
        # 16-bit PNGs open as "I" or "I;16": scale by the type's range, never clip at 255
        top = 65535 if a.max() > 255 or mode.startswith("I;16") else 255
        grey = np.rint(np.clip(a.astype(np.float64), 0, top) * (255.0 / top)).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=2)
    if mode == "F":
        a = np.asarray(img, dtype=np.float64)
        top = 1.0 if a.max() <= 1.0 else 255.0
        grey = np.rint(np.clip(a, 0, top) * (255.0 / top)).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=2)
    if mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = np.asarray(img.convert("RGBA"))
        return _composite_over_white(rgba[..., :3], rgba[..., 3])
    return np.asarray(img.convert("RGB"), dtype=np.uint8)


def _check_size(width: int, height: int, name: str) -> None:
    if width == 0 or height == 0:
        raise ImageError(name, "image has no pixels")
    if min(width, height) < MIN_SIDE:
        raise ImageError(name, f"image is {width}x{height} px; each side must be at least {MIN_SIDE} px")
    if width * height > MAX_PIXELS:
        raise ImageError(
            name, f"image is {width}x{height} px ({width * height / 1e6:.0f} MP); the limit is {MAX_PIXELS // 1_000_000} MP: downscale it first"
        )


def load_image(path: str | os.PathLike) -> np.ndarray:
    """Read one image file as uint8 RGB; a corrupt, empty, tiny or huge file raises ``ImageError``."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    name = str(path)
    if not path.is_file():
        raise ImageError(name, "no such file")
    if path.stat().st_size == 0:
        raise ImageError(name, "file is empty (0 bytes)")
    Image.MAX_IMAGE_PIXELS = None  # our own limit below gives the clearer message
    try:
        with Image.open(path) as img:
            _check_size(img.width, img.height, name)
            img.load()
            # a phone photo stores its rotation in EXIF: honour it, as transformers' image loading does
            upright = ImageOps.exif_transpose(img)
            return to_rgb8(upright if upright is not None else img, name)
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError(name, "not an image file PIL can read (is it corrupt or another format?)") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(name, f"cannot be decoded ({exc}); the file may be truncated or corrupt") from None


def _unique_files(paths: list[Path]) -> list[Path]:
    """One path per real file: a recursive glob through a symlink (a loop, say) reaches one file by
    many names, and each would otherwise be measured as another image."""
    seen, unique = set(), []
    for path in paths:
        real = os.path.realpath(path)
        if real not in seen:
            seen.add(real)
            unique.append(path)
    return unique


def resolve_image_paths(spec: str, root: Path | None = None) -> list[Path]:
    """A directory (its image files, sorted) or a glob pattern, relative to ``root``."""
    return image_files(spec, root)[0]


def image_files(spec: str, root: Path | None = None) -> tuple[list[Path], list[Path]]:
    """The image files ``spec`` names, and the files it holds that are not images by extension (a
    README, notes, .DS_Store): those are left out, never loaded as broken images. A file named
    explicitly is always taken."""
    root = root or Path.cwd()
    candidate = Path(spec)
    if not candidate.is_absolute():
        candidate = root / candidate
    if candidate.is_dir():
        found = sorted(p for p in candidate.iterdir() if p.is_file())
        where = f"image directory {candidate}"
        if not found:
            raise ConfigError(f"{where} holds no files")
    elif any(ch in spec for ch in "*?["):
        pattern = spec if os.path.isabs(spec) else str(root / spec)
        found = _unique_files(sorted(Path(p) for p in globmod.glob(pattern, recursive=True) if Path(p).is_file()))
        where = f"image glob {spec!r}"
        if not found:
            raise ConfigError(f"{where} matched no files (searched from {root})")
    elif candidate.is_file():
        return [candidate], []
    else:
        raise ConfigError(
            f"images {spec!r}: not a directory, a glob or a file under {root}, nor a built-in set "
            f"({', '.join(BUILTIN_SETS)})"
        )
    images = [p for p in found if p.suffix.lower() in IMAGE_SUFFIXES]
    others = [p for p in found if p.suffix.lower() not in IMAGE_SUFFIXES]
    if not images:
        holds = f" (it holds only {', '.join(p.name for p in others[:5])})" if others else ""
        raise ConfigError(f"{where} holds no image files{holds}; image files end in {', '.join(IMAGE_SUFFIXES)}")
    return images, others


def load_image_set(spec: str, max_images: int | None = None, seed: int = 0, root: Path | None = None, count: int = 32) -> ImageSet:
    """Load a named built-in set (``samples``, ``demo-scenes``), a directory or a glob.

    ``count`` is how many ``demo-scenes`` to generate (``demo-scenes:N`` in ``spec`` overrides it).
    Every file of a directory or glob is loaded; one that fails raises ``ImageError`` naming it.
    """
    name, _, arg = spec.partition(":")
    if name == "samples":
        from .sample_images import load_samples

        names, arrays = load_samples()
        result = ImageSet(names, arrays, "samples")
    elif name == "demo-scenes":
        from .demo.scenes import generate_scenes

        n = int(arg) if arg else (max_images or count)
        scenes = generate_scenes(n, seed=seed)
        result = ImageSet([s[0] for s in scenes], [s[1] for s in scenes], f"demo-scenes:{n}@seed{seed}",
                          labels=[s[2].label for s in scenes])
    else:
        paths, others = image_files(spec, root)
        if max_images is not None:
            paths = paths[:max_images]
        base = Path(spec) if Path(spec).is_dir() else None
        names = [str(p.relative_to(base)) if base and p.is_relative_to(base) else p.name for p in paths]
        if len(set(names)) != len(names):
            names = [str(p) for p in paths]
        result = ImageSet(names, [load_image(p) for p in paths], spec, skipped=[p.name for p in others])
    return result.subset(max_images=max_images) if max_images is not None else result

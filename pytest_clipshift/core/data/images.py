"""Image sets: folders, globs and lists of files, and the named built-in sets, each image decoded
and checked by ``decode.py`` into an 8-bit RGB ``numpy`` array."""

from __future__ import annotations

import glob as globmod
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ConfigError, ImageError, ImageSetError
from .decode import IMAGE_SUFFIXES, MAX_PIXELS, MIN_SIDE, image_hash, load_image, to_rgb8  # noqa: F401  (part of this module's API)

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
    captions: list[str | None] | None = None  # one caption per image, where the set carries them
    label_set: list[str] | None = None  # every class the set defines (zero-shot prompts), when it says
    # arrays may be a labelled.LazyImages: each image decoded when read, so a large set is never held in memory

    def __post_init__(self) -> None:
        if len(self.names) != len(self.arrays):
            raise ValueError("names and arrays differ in length")
        if not self.hashes:
            self.hashes = self._hash_every_image()

    def _hash_every_image(self) -> list[str]:
        """Each image's hash, reading every image once: all those that cannot be read are named in one
        ``ImageSetError``, not one per run."""
        hashes, problems = [], []
        for i in range(len(self.names)):
            try:
                hashes.append(image_hash(self.arrays[i]))
            except ImageError as exc:
                problems.append(exc)
        if problems:
            raise ImageSetError(self.source, problems, len(self.names))
        return hashes

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

    def subset(self, names: list[str] | None = None, max_images: int | None = None) -> ImageSet:
        index = list(range(len(self)))
        if names is not None:
            missing = [n for n in names if n not in self.names]
            if missing:
                raise ConfigError(
                    f"images {missing} are not in the image set {self.source!r}; it holds {self.names[:10]}"
                )
            index = [self.names.index(n) for n in names]
        if max_images is not None:
            index = index[:max_images]
        arrays = self.arrays.select(index) if hasattr(self.arrays, "select") else [self.arrays[i] for i in index]
        return ImageSet(
            [self.names[i] for i in index],
            arrays,
            self.source,
            None if self.labels is None else [self.labels[i] for i in index],
            [self.hashes[i] for i in index],
            list(self.skipped),
            None if self.captions is None else [self.captions[i] for i in index],
            self.label_set,
        )


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


def _labelled_layout(spec: str, root: Path, columns: dict, split: str | None):
    """(names, loaders, labels, captions) when ``spec`` names a labelled or captioned set, else None."""
    from . import labelled

    path = Path(spec) if Path(spec).is_absolute() else root / spec
    if spec.startswith("hf:") or spec.endswith(".parquet"):
        return labelled.hf_dataset(spec, root, columns, split)
    if spec.endswith((".csv", ".jsonl")):
        if not path.is_file():
            raise ConfigError(f"manifest {path} does not exist")
        return labelled.manifest(path)
    if spec.endswith(".tar"):
        return labelled.tar_shards(spec, root)
    if path.is_dir():
        if (
            (path / "dataset_info.json").is_file()
            or (path / "dataset_dict.json").is_file()
            or (path / "state.json").is_file()
        ):
            return labelled.hf_dataset(str(path), root, columns, split)
        if labelled.is_class_folder_layout(path):
            return labelled.class_folders(path)
    return None


DEFAULT_COLUMNS = {"image": "image", "label": "label", "caption": "caption"}


def is_labelled_spec(spec: str, root: Path) -> bool:
    """Whether ``spec`` names a labelled or captioned set (checked without reading any image)."""
    from . import labelled

    path = Path(spec) if Path(spec).is_absolute() else root / spec
    if spec.startswith("hf:") or spec.endswith((".parquet", ".csv", ".jsonl", ".tar")):
        return True
    return path.is_dir() and (
        any((path / f).is_file() for f in ("dataset_info.json", "dataset_dict.json", "state.json"))
        or labelled.is_class_folder_layout(path)
    )


def load_image_set(
    spec: str,
    max_images: int | None = None,
    seed: int = 0,
    root: Path | None = None,
    count: int = 32,
    columns: dict | None = None,
    split: str | None = None,
) -> ImageSet:
    """Load a named built-in set (``samples``, ``demo-scenes``), a directory or a glob of images, or a
    labelled / captioned set (class folders, a .csv / .jsonl manifest, .tar shards, a Hugging Face
    dataset: see ``labelled.py``), whose images are decoded one at a time.

    ``count`` is how many ``demo-scenes`` to generate (``demo-scenes:N`` in ``spec`` overrides it).
    ``max_images`` takes the first N of a plain folder, and a seeded sample stratified by label of a
    labelled set. Every file is loaded; one that fails raises ``ImageError`` naming it.
    """
    root = root or Path.cwd()
    layout = _labelled_layout(spec, root, {**DEFAULT_COLUMNS, **(columns or {})}, split)
    if layout is not None:
        from .labelled import LazyImages
        from .sampling import stratified_sample

        names, loaders, labels, captions = layout
        index = list(range(len(names)))
        if max_images is not None:
            index = stratified_sample(labels or [None] * len(names), max_images, seed)
        return ImageSet(
            [names[i] for i in index],
            LazyImages([loaders[i] for i in index]),
            spec,
            labels=[labels[i] for i in index] if labels else None,
            captions=[captions[i] for i in index] if captions else None,
        )
    name, _, arg = spec.partition(":")
    if name == "samples":
        from .sample_images import load_samples

        names, arrays = load_samples()
        result = ImageSet(names, arrays, "samples")
    elif name == "demo-scenes":
        from ...demo.scenes import LABELS, describe_scenes, render_scene
        from .labelled import LazyImages

        n = int(arg) if arg else (max_images or count)
        scenes = describe_scenes(n, seed=seed)
        # drawn when read (once for the hash, then per chunk): a large generated set is never held whole
        result = ImageSet(
            [name for name, _ in scenes],
            LazyImages([lambda s=scene: render_scene(s, size=224) for _, scene in scenes]),
            f"demo-scenes:{n}@seed{seed}",
            labels=[scene.label for _, scene in scenes],
            label_set=[f"{colour} {shape}" for colour, shape in LABELS],
        )
    else:
        paths, others = image_files(spec, root)
        if max_images is not None:
            paths = paths[:max_images]
        base = Path(spec) if Path(spec).is_dir() else None
        names = [str(p.relative_to(base)) if base and p.is_relative_to(base) else p.name for p in paths]
        if len(set(names)) != len(names):
            names = [str(p) for p in paths]
        from .labelled import LazyImages

        # decoded when read (once here for the hash, then per chunk): a folder of large images is never held whole
        result = ImageSet(
            names, LazyImages([lambda p=p: load_image(p) for p in paths]), spec, skipped=[p.name for p in others]
        )
    return result.subset(max_images=max_images) if max_images is not None else result

"""Labelled and captioned image sets, decoded one image at a time (never all held in memory).

Layouts, each chosen from the spec:

* a **class-subfolder** directory (``root/golden_retriever/001.jpg``): the folder name is the label,
  ``_`` read as a space;
* a **manifest**, ``.csv`` or ``.jsonl``: a ``path`` (or ``image``, ``file``) column relative to the
  manifest's folder, and ``label`` and/or ``caption`` (or ``text``);
* **webdataset tar shards** (``shards/*.tar``): members grouped by key, an image plus ``.cls`` (the
  label) and/or ``.txt`` (the caption);
* **Hugging Face datasets** (the optional ``datasets`` extra, imported only here): a ``save_to_disk``
  folder, ``.parquet`` files, or ``hf:ORG/NAME`` from the local cache, with ``image``, ``label`` and
  ``caption`` columns (names configurable). A ``ClassLabel`` column gives its class names.

``max_images`` then draws a seeded sample stratified by label (each label keeps its share).
"""

from __future__ import annotations

import csv
import glob as globmod
import io
import json
import re
import tarfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ..errors import ConfigError, ImageError
from .decode import IMAGE_SUFFIXES, decode_bytes, load_image


class LazyImages(Sequence):
    """Images decoded when asked for, one at a time: ``images[i]`` reads and decodes image i."""

    def __init__(self, loaders: list[Callable[[], np.ndarray]]):
        self._loaders = loaders

    def __len__(self) -> int:
        return len(self._loaders)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return LazyImages(self._loaders[i])
        return self._loaders[i]()

    def select(self, index: list[int]) -> LazyImages:
        return LazyImages([self._loaders[i] for i in index])


def _label_text(value) -> str:
    return str(value).replace("_", " ").strip()


# ------------------------------------------------------------------ layouts
def class_folders(root: Path) -> tuple[list[str], list[Callable], list[str], list[str]]:
    names, loaders, labels = [], [], []
    folders = sorted(p for p in root.iterdir() if p.is_dir())
    seen: dict[str, str] = {}
    for folder in folders:  # two folders, one prompt: one folder's images would be scored against the other's label
        prompt = _label_text(folder.name).casefold()
        if prompt in seen:
            raise ConfigError(
                f"labelled folder {root}: class folders {seen[prompt]!r} and {folder.name!r} give the same "
                f"label prompt {_label_text(folder.name)!r} (case and _ do not count); merge or rename one"
            )
        seen[prompt] = folder.name
    for folder in folders:
        for path in sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES):
            names.append(f"{folder.name}/{path.name}")
            loaders.append(lambda p=path: load_image(p))
            labels.append(_label_text(folder.name))
    if not names:
        raise ConfigError(f"labelled folder {root} holds no class folders with images in them")
    return names, loaders, labels, []


def is_class_folder_layout(root: Path) -> bool:
    entries = list(root.iterdir())
    has_top_images = any(p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES for p in entries)
    subfolders = [p for p in entries if p.is_dir() and not p.name.startswith(".")]
    return not has_top_images and any(
        any(q.suffix.lower() in IMAGE_SUFFIXES for q in sub.iterdir() if q.is_file()) for sub in subfolders
    )


def manifest(path: Path):
    """A .csv or .jsonl manifest: path, label and/or caption per row."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"manifest {path}: cannot be read ({exc})") from None
    if path.suffix == ".jsonl":
        rows = []
        for k, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise ConfigError(f"manifest {path}: line {k} is not JSON ({exc})") from None
    else:
        rows = list(csv.DictReader(io.StringIO(text)))
    if not rows:
        raise ConfigError(f"manifest {path} has no rows")
    for k, row in enumerate(rows, start=1):
        if not isinstance(row, dict):
            raise ConfigError(
                f"manifest {path}: row {k} is a JSON {type(row).__name__}, not an object with a path "
                "and a label or caption"
            )
    columns = set(rows[0])
    path_key = next((c for c in ("path", "image", "file", "filepath") if c in columns), None)
    label_key = next((c for c in ("label", "class") if c in columns), None)
    caption_key = next((c for c in ("caption", "text") if c in columns), None)
    if path_key is None or (label_key is None and caption_key is None):
        raise ConfigError(
            f"manifest {path}: needs a path column (path, image, file) and a label (label, class) and/or "
            f"caption (caption, text) column; it has {', '.join(sorted(columns))}"
        )
    names, loaders, labels, captions = [], [], [], []
    first_row: dict[str, int] = {}
    for k, row in enumerate(rows, start=1):
        if row.get(path_key) in (None, ""):
            raise ConfigError(f"manifest {path}: row {k} has no {path_key!r}; every row names its image file")
        if str(row[path_key]) in first_row:
            raise ConfigError(
                f"manifest {path}: rows {first_row[str(row[path_key])]} and {k} both name "
                f"{row[path_key]!r}; one image measured twice would count twice in every statistic"
            )
        first_row[str(row[path_key])] = k
        file = path.parent / str(row[path_key])
        if not file.is_file():
            raise ConfigError(
                f"manifest {path}: row {k} names {row[path_key]!r}, which is not a file under {path.parent}"
            )
        names.append(str(row[path_key]))
        loaders.append(lambda f=file: load_image(f))
        labels.append(_label_text(row[label_key]) if label_key and row.get(label_key) not in (None, "") else None)
        captions.append(str(row[caption_key]) if caption_key and row.get(caption_key) not in (None, "") else None)
    return names, loaders, labels if label_key else [], captions if caption_key else []


def tar_shards(pattern: str, root: Path):
    """webdataset shards: each key's image member, with .cls (label) and/or .txt (caption)."""
    full = pattern if Path(pattern).is_absolute() else str(root / pattern)
    shards = sorted(globmod.glob(full)) if any(ch in pattern for ch in "*?[") else [full]
    shards = [s for s in shards if Path(s).is_file()]
    if not shards:
        raise ConfigError(f"tar shards {pattern!r} matched no files (searched from {root})")
    names, loaders, labels, captions = [], [], [], []
    for shard in shards:
        try:
            with tarfile.open(shard) as tar:
                members = [m for m in tar.getmembers() if m.isfile()]
                groups: dict[str, dict[str, tarfile.TarInfo]] = {}
                for m in members:  # webdataset's rule: the key is the path up to the first dot of the file name
                    match = WEBDATASET_KEY.match(m.name)
                    if match:
                        groups.setdefault(match.group(1), {})[match.group(2).lower()] = m
                for key in sorted(groups):
                    parts = groups[key]
                    image = next((parts[e] for e in ("jpg", "jpeg", "png", "webp", "bmp") if e in parts), None)
                    if image is None:
                        continue
                    names.append(f"{Path(shard).name}/{image.name}")
                    loaders.append(lambda s=shard, n=image.name: _tar_image(s, n))
                    labels.append(_label_text(_member_text(tar, shard, parts["cls"])) if "cls" in parts else None)
                    captions.append(_member_text(tar, shard, parts["txt"]).strip() if "txt" in parts else None)
        except tarfile.TarError as exc:
            raise ConfigError(f"tar shard {shard}: not a readable tar file ({exc})") from None
    if not names:
        raise ConfigError(f"tar shards {pattern!r} hold no image members (.jpg, .png, .webp, .bmp)")
    return (
        names,
        loaders,
        labels if any(lab is not None for lab in labels) else [],
        captions if any(c is not None for c in captions) else [],
    )


WEBDATASET_KEY = re.compile(r"^((?:.*/|)[^./]+)\.([^/]*)$")


def _member_text(tar, shard: str, member) -> str:
    try:
        return tar.extractfile(member).read().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"tar shard {shard}: member {member.name} is not UTF-8 text (byte {exc.start}); "
            "labels and captions must be UTF-8"
        ) from None


def _tar_image(shard: str, member: str) -> np.ndarray:
    with tarfile.open(shard) as tar:
        data = tar.extractfile(member).read()
    return decode_bytes(data, f"{Path(shard).name}/{member}")


def hf_dataset(spec: str, root: Path, columns: dict[str, str], split: str | None):
    """A Hugging Face dataset: save_to_disk folder, parquet files, or hf:ID from the local cache."""
    try:
        import datasets
    except ImportError:
        raise ConfigError(
            f"images {spec!r}: Hugging Face datasets need the optional extra: pip install 'pytest-clipshift[datasets]'"
        ) from None
    try:
        if spec.startswith("hf:"):
            data = datasets.load_dataset(spec[3:], split=split)
        elif spec.endswith(".parquet") or (Path(spec).suffix == "" and "*" in spec):
            files = spec if Path(spec).is_absolute() else str(root / spec)
            data = datasets.load_dataset("parquet", data_files=sorted(globmod.glob(files)) or files, split="train")
        else:
            path = Path(spec) if Path(spec).is_absolute() else root / spec
            data = datasets.load_from_disk(str(path))
            if isinstance(data, datasets.DatasetDict):
                data = data[split or next(iter(data))]
    except ConfigError:
        raise
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        raise ConfigError(f"images {spec!r}: the dataset cannot be loaded ({type(exc).__name__}: {first})") from None
    if isinstance(data, datasets.DatasetDict):
        data = data[split or next(iter(data))]
    image_col, label_col, caption_col = columns["image"], columns["label"], columns["caption"]
    if image_col not in data.column_names:
        raise ConfigError(
            f"dataset {spec!r} has no image column {image_col!r}; its columns: {', '.join(data.column_names)} "
            "(--clipshift-image-column picks another)"
        )
    names_of = None
    if label_col in data.column_names and isinstance(data.features[label_col], datasets.ClassLabel):
        names_of = data.features[label_col].names
    labels = (
        [(_label_text(names_of[v]) if names_of is not None else _label_text(v)) for v in data[label_col]]
        if label_col in data.column_names
        else []
    )
    captions = [str(v) for v in data[caption_col]] if caption_col in data.column_names else []
    plain = data.cast_column(image_col, datasets.Image(decode=False))

    def load(i: int) -> np.ndarray:
        cell = plain[i][image_col]
        raw = cell.get("bytes") if isinstance(cell, dict) else None
        if raw is None and isinstance(cell, dict) and cell.get("path"):
            return load_image(cell["path"])
        if raw is None:
            raise ImageError(f"{spec}[{i}]", "the image column holds neither bytes nor a path")
        return decode_bytes(raw, f"{spec}[{i}]")

    names = [f"{i:06d}" for i in range(len(data))]
    return names, [lambda i=i: load(i) for i in range(len(data))], labels, captions

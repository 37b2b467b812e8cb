"""pytest-clipshift: measure how far a CLIP-family model's image embeddings and attention move under
image augmentations, and gate model releases on it.

The public API is imported lazily, so ``import pytest_clipshift`` (and pytest loading the plugin)
never imports torch or transformers.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "load_encoder": "encoders", "Encoder": "encoders", "Encoded": "encoders", "TransformersEncoder": "encoders",
    "measure": "engine", "RunResult": "results", "ShiftResult": "results",
    "load_image_set": "images", "load_image": "images", "ImageSet": "images",
    "register_augmentation": "augmentations", "apply_augmentation": "augmentations", "get_augmentation": "augmentations",
    "STUDY_AUGMENTATIONS": "augmentations", "warp_map": "augmentations",
    "EmbeddingCache": "cache", "METRICS": "catalog", "DEFAULT_METRICS": "catalog",
    "assert_shift_within": "assertions", "assert_attention_similar": "assertions", "assert_budget": "assertions",
    "assert_not_worse_than": "assertions", "ShiftBudgetError": "assertions",
    "ClipShiftError": "errors", "ImageError": "errors", "ModelLoadError": "errors", "ConfigError": "errors",
    "NonFiniteEmbeddingError": "errors",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pytest_clipshift' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value

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
    "load_encoder": "core.models.encoders",
    "checkpoint_problem": "core.models.encoders",
    "Encoder": "core.models.encoders",
    "Encoded": "core.models.encoders",
    "TransformersEncoder": "core.models.encoders",
    "measure": "core.measure.engine",
    "RunResult": "core.runs.results",
    "ShiftResult": "core.runs.results",
    "load_image_set": "core.data.images",
    "load_image": "core.data.images",
    "ImageSet": "core.data.images",
    "register_augmentation": "core.augment.augmentations",
    "apply_augmentation": "core.augment.augmentations",
    "get_augmentation": "core.augment.augmentations",
    "STUDY_AUGMENTATIONS": "core.augment.augmentations",
    "warp_map": "core.augment.augmentations",
    "EmbeddingCache": "core.measure.cache",
    "METRICS": "core.metrics",
    "register_metric": "core.metrics",
    "Metric": "core.metrics",
    "Batch": "core.metrics",
    "DEFAULT_METRICS": "core.metrics",
    "assert_shift_within": "gate.assertions",
    "assert_attention_similar": "gate.assertions",
    "assert_budget": "gate.assertions",
    "assert_not_worse_than": "gate.assertions",
    "ShiftBudgetError": "gate.assertions",
    "ClipShiftError": "core.errors",
    "ImageError": "core.errors",
    "ImageSetError": "core.errors",
    "ModelLoadError": "core.errors",
    "ConfigError": "core.errors",
    "NonFiniteEmbeddingError": "core.errors",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pytest_clipshift' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value

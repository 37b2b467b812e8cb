"""The augmentation value types: ``Augmentation`` (a name, a factory, parameters per severity) and
``Augmented`` (an augmented image, with the coordinate grid a geometric augmentation warped)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..cases import PAPER, Severity
from ..errors import ConfigError


@dataclass(frozen=True)
class Augmentation:
    """A named augmentation. ``params`` maps each severity (1..5, "paper") to its parameters."""

    name: str
    factory: Callable[..., Any]  # params -> albumentations transform, or a callable (see register)
    params: dict[Severity, dict[str, Any]]
    geometric: bool = False
    description: str = ""
    kind: str = "albumentations"  # or "callable": fn(image uint8 HxWx3, rng, **params) -> image; or "adversarial"
    unquantised: bool = False  # its output stays float (a perturbation smaller than one grey level)

    def parameters(self, severity: Severity) -> dict[str, Any]:
        if severity not in self.params:
            valid = ", ".join(str(s) for s in self.params)
            raise ConfigError(f"augmentation {self.name!r} has no severity {severity!r}; valid: {valid}")
        return dict(self.params[severity])


@dataclass
class Augmented:
    image: np.ndarray  # uint8 HxWx3
    coords: np.ndarray | None = None  # float32 HxWx3: source x, source y, valid (geometric only)
    changed: bool = field(default=True)


def coordinate_grid(height: int, width: int) -> np.ndarray:
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    return np.stack([xx, yy, np.ones_like(xx)], axis=-1)


def levels(*rows: dict[str, Any], paper: dict[str, Any]) -> dict[Severity, dict[str, Any]]:
    """Severities 1-5 (mild to strong), then the ``paper`` preset."""
    assert len(rows) == 5
    table: dict[Severity, dict[str, Any]] = {i + 1: row for i, row in enumerate(rows)}
    table[PAPER] = paper
    return table
